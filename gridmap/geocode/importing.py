"""Geocode a registry file into a project: the library behind ``gridmap geocode``.

The input is read and checked completely before the project is touched; the layer,
the review table and the grid counts are then written in one atomic save. Re-running
on the same input replaces the same records, so the result is the same.
"""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.crs import STORE_CRS, parse_crs
from gridmap.errors import GridMapError
from gridmap.geocode.assign import GridIndex
from gridmap.geocode.match import MATCH_LEVELS, Gazetteer
from gridmap.geocode.records import geocode_records, split_review
from gridmap.geocode.tables import read_table, rename_headers
from gridmap.grids.counts import recount
from gridmap.idnumber import mask_id, mask_name
from gridmap.project import Project
from gridmap.report.excel import write_xlsx
from gridmap.schema import FACILITY_KIND_LABELS, RECORD_KINDS

__all__ = ["REVIEW_HEADERS", "CORRECTION_HEADERS", "geocode_file", "apply_review", "apply_corrections", "review_sheet"]

# The review workbook an officer corrects: result columns, then the columns to fill in.
REVIEW_HEADERS = {
    "source": "数据来源",
    "record_id": "记录编号",
    "name": "姓名/名称",
    "id_number": "身份证号",
    "address": "原始地址",
    "match_level": "匹配级别",
    "confidence": "置信度",
    "matched_address": "匹配到的标准地址",
    "grid_code": "网格编码",
    "review_reason": "待核原因",
}
CORRECTION_HEADERS = {
    "corrected_address": "更正地址",
    "corrected_lon": "更正经度(CGCS2000)",
    "corrected_lat": "更正纬度(CGCS2000)",
    "corrected_grid_code": "更正网格编码",
}


_TRUE_TEXT = {"true", "1", "是", "y", "yes"}


def _age_from(records, data_date):
    birth = pd.to_datetime(records.get("birth_date", pd.Series("", index=records.index)), errors="coerce")
    from_id = pd.to_datetime(records["id_number"].str[6:14], format="%Y%m%d", errors="coerce") \
        if "id_number" in records else pd.Series(pd.NaT, index=records.index)
    birth = birth.fillna(from_id)
    before_birthday = (birth.dt.month > data_date.month) | (
        (birth.dt.month == data_date.month) & (birth.dt.day > data_date.day))
    return (data_date.year - birth.dt.year - before_birthday.astype(int)).fillna(-1).astype(int)


def _prepare(frame, kind, spec, address_col, x_col, y_col, source, data_date):
    frame = rename_headers(frame, spec["headers"])
    if address_col and address_col != "address":
        if address_col not in frame:
            raise GridMapError(f"{source}: no column {address_col!r} (columns: {', '.join(frame.columns)})")
        frame = frame.rename(columns={address_col: "address"})
    for column in (x_col, y_col):
        if column and column not in frame:
            raise GridMapError(f"{source}: no column {column!r} (columns: {', '.join(frame.columns)})")
    if "address" not in frame and not (x_col or "lon" in frame):
        raise GridMapError(f"{source}: missing required column 地址/address (or give --x-col/--y-col)")
    if spec["id"] not in frame:
        headers = [h for h, f in spec["headers"].items() if f == spec["id"]]
        raise GridMapError(f"{source}: missing required column {'/'.join(headers + [spec['id']])}")
    if kind == "residents":
        frame["age"] = _age_from(frame, data_date)
        for flag in ("living_alone", "chronic_illness"):
            if flag in frame:
                frame[flag] = frame[flag].astype(str).str.strip().str.lower().isin(_TRUE_TEXT)
    else:
        if "capacity" in frame:
            frame["capacity"] = pd.to_numeric(frame["capacity"], errors="coerce")
        label_to_kind = {label: k for k, label in FACILITY_KIND_LABELS.items()}
        labels = frame.get("kind_label", pd.Series("", index=frame.index))
        frame["kind"] = labels.map(label_to_kind).fillna(frame.get("kind", "other"))
    return frame


def _load_context(project):
    for layer in ("grids", "addresses"):
        if not project.has_layer(layer):
            raise GridMapError(f"{project.path}: has no {layer} layer; import grids and the address gazetteer first")
    grids = project.read("grids")
    communities = project.read("communities") if project.has_layer("communities") else None
    return grids, Gazetteer(project.read("addresses"), communities), GridIndex(grids)


def _merge_layers(project, layer, id_col, placed, review, source_name):
    """Replace the input's records in ``layer`` and ``review``; keep everything else."""
    ids = set(placed[id_col]) | set(review[id_col])
    if project.has_layer(layer):
        old = project.read(layer)
        old = old[~old[id_col].isin(ids)]
        placed = pd.concat([old, placed], ignore_index=True) if len(old) else placed
    placed = gpd.GeoDataFrame(placed, geometry="geometry", crs=STORE_CRS)
    review = review.assign(source=source_name, record_id=review[id_col])
    if project.has_layer("review"):
        old_review = project.read("review")
        if "record_id" not in old_review:  # a review table written before record ids existed
            old_review["record_id"] = old_review.get(id_col, pd.Series("", index=old_review.index))
        keep = ~((old_review["source"] == source_name) & old_review["record_id"].isin(ids))
        review = pd.concat([old_review[keep], review], ignore_index=True)
    review = review.astype({c: str for c in review.columns if review[c].dtype == object})
    return placed, review


def _recounted(project, grids, layer, placed):
    residents = placed if layer == "residents" else (
        project.read("residents", columns=["grid_code", "household_id", "age"]) if project.has_layer("residents") else None)
    facilities = placed if layer == "facilities" else (
        project.read("facilities", columns=["grid_code", "kind"]) if project.has_layer("facilities") else None)
    if residents is None:
        return grids
    if facilities is not None:
        facilities = facilities[facilities["kind"] != "candidate"]
    return recount(grids, residents, facilities)


def review_sheet(review):
    """The review table as officers see it: Chinese headers, personal data masked, blank corrections."""
    out = pd.DataFrame({
        header: review.get(field, pd.Series("", index=review.index)) for field, header in REVIEW_HEADERS.items()
    })
    out[REVIEW_HEADERS["name"]] = mask_name(out[REVIEW_HEADERS["name"]]).to_numpy()
    id_numbers = out[REVIEW_HEADERS["id_number"]].astype(str)
    out[REVIEW_HEADERS["id_number"]] = np.where(id_numbers.str.len() > 0, mask_id(id_numbers), "")
    for header in CORRECTION_HEADERS.values():
        out[header] = ""
    return out


def geocode_file(project_path, input_path, kind, *, address_col=None, x_col=None, y_col=None, crs="gcj02",
                 encoding=None, review_out=None):
    """Geocode ``input_path`` into the project's ``kind`` layer; return a summary dict.

    Parameters
    ----------
    project_path : path
        A project with ``grids`` and ``addresses`` layers.
    input_path : path
        CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) or .xlsx, with Chinese or field headers.
    kind : {"residents", "facilities"}
    address_col, x_col, y_col : str, optional
        Column names when they differ from the known headers (地址/经度/纬度).
    crs : str
        CRS of the coordinates: ``gcj02`` (default, phone and terminal maps), ``bd09``,
        ``wgs84`` or an EPSG code.
    review_out : path, optional
        Also write the review list as .xlsx (personal data masked).
    """
    start = time.perf_counter()
    if kind not in RECORD_KINDS:
        raise GridMapError(f"unknown --kind {kind!r}; use residents or facilities")
    spec = RECORD_KINDS[kind]
    try:
        crs = parse_crs(crs)
    except ValueError as exc:
        raise GridMapError(f"--crs: {exc}") from None
    project = Project(project_path)
    data_date = pd.Timestamp(project.meta().get("data_date", pd.Timestamp.today().date()))
    # Columns may be named by their Chinese header; the table's headers are renamed to fields.
    address_col, x_col, y_col = (spec["headers"].get(c, c) if c else None for c in (address_col, x_col, y_col))
    frame = _prepare(read_table(input_path, encoding=encoding), kind, spec, address_col, x_col, y_col,
                     input_path, data_date)
    grids, gazetteer, index = _load_context(project)
    geocoded = geocode_records(
        frame, gazetteer, grids, index, address_col="address", x_col=x_col or "lon", y_col=y_col or "lat", crs=crs,
        id_col=spec["id"], id_number_col=spec["id_number"],
    )
    placed, review = split_review(geocoded)
    layer, review_table = _merge_layers(project, spec["layer"], spec["id"], placed, review, kind)
    grids = _recounted(project, grids, spec["layer"], layer)
    project.write({spec["layer"]: layer, "review": review_table, "grids": grids})
    if review_out is not None:
        write_xlsx({"待核清单": review_sheet(review_table[review_table["source"] == kind])}, review_out)
    levels = geocoded["match_level"].value_counts()
    return {
        "input_rows": int(len(frame)),
        "placed": int(len(placed)),
        "review": int(len(review)),
        "not_placed": int(len(frame) - len(placed)),
        "by_level": {level: int(levels.get(level, 0)) for level in MATCH_LEVELS},
        "seconds": round(time.perf_counter() - start, 2),
    }


def apply_review(project_path, review_file):
    """Place the review rows an officer corrected (address, coordinates or grid code).

    Corrected rows are geocoded again from the corrected address or coordinates, or
    put straight into the given grid; those placed leave the review table. Rows
    without a correction are left as they were. Returns a summary dict.
    """
    sheet = read_table(review_file)
    header_to_field = {h: f for f, h in {**REVIEW_HEADERS, **CORRECTION_HEADERS}.items()}
    return apply_corrections(project_path, sheet.rename(columns=header_to_field), source_name=review_file)


def apply_corrections(project_path, sheet, source_name="corrections"):
    """Place review rows from a table of corrections (the app's review queue uses this directly).

    ``sheet`` has ``source``, ``record_id`` and any of ``corrected_address``,
    ``corrected_lon``, ``corrected_lat`` (CGCS2000) and ``corrected_grid_code``.
    """
    project = Project(project_path)
    review_file = source_name
    sheet = sheet.fillna("").astype(str)
    for needed in ("source", "record_id"):
        if needed not in sheet:
            raise GridMapError(f"{review_file}: missing required column {REVIEW_HEADERS[needed]}")
    for column in CORRECTION_HEADERS:
        if column not in sheet:
            sheet[column] = ""
    corrected = sheet[(sheet[list(CORRECTION_HEADERS)].astype(str).apply(lambda c: c.str.strip()) != "").any(axis=1)]
    if not project.has_layer("review"):
        raise GridMapError(f"{project.path}: has no review table to apply corrections to")
    review = project.read("review")
    grids, gazetteer, index = _load_context(project)
    summary = {"corrected_rows": int(len(corrected)), "placed": 0, "still_in_review": 0}
    writes = {}
    for source, rows in corrected.groupby("source"):
        if source not in RECORD_KINDS:
            raise GridMapError(f"{review_file}: unknown 数据来源 {source!r}")
        spec = RECORD_KINDS[source]
        originals = review[(review["source"] == source) & review["record_id"].isin(rows["record_id"])]
        fix = rows.set_index("record_id").reindex(originals["record_id"])
        records = originals.drop(columns=["source", "record_id", "grid_code", "building_id", "match_level",
                                          "confidence", "matched_address", "placed", "review_reason"],
                                 errors="ignore").reset_index(drop=True)
        new_address = fix["corrected_address"].astype(str).str.strip().to_numpy()
        records["address"] = np.where(new_address != "", new_address, records["address"])
        lon = pd.to_numeric(fix["corrected_lon"], errors="coerce").to_numpy(dtype=float, copy=True)
        lat = pd.to_numeric(fix["corrected_lat"], errors="coerce").to_numpy(dtype=float, copy=True)
        grid_fix = fix["corrected_grid_code"].astype(str).str.strip().to_numpy()
        known_grids = set(grids["grid_code"])
        unknown = [g for g in grid_fix if g and g not in known_grids]
        if unknown:
            raise GridMapError(f"{review_file}: 更正网格编码 {unknown[0]} is not a grid of the project")
        centres = grids.set_index("grid_code").geometry.representative_point()
        by_grid = grid_fix != ""
        lon[by_grid] = centres.reindex(grid_fix[by_grid]).x.to_numpy()
        lat[by_grid] = centres.reindex(grid_fix[by_grid]).y.to_numpy()
        records["corrected_lon"], records["corrected_lat"] = lon, lat
        # Only a corrected point should decide, never a stale terminal reading.
        records = records.drop(columns=["lon", "lat"], errors="ignore")
        geocoded = geocode_records(records, gazetteer, grids, index, address_col="address", x_col="corrected_lon",
                                   y_col="corrected_lat", crs=STORE_CRS, id_col=spec["id"],
                                   id_number_col=spec["id_number"], consistency_m=float("inf"))
        geocoded.loc[by_grid, "grid_code"] = grid_fix[by_grid]
        geocoded.loc[by_grid, "match_level"] = "人工"
        geocoded.loc[by_grid, "confidence"] = 1.0
        geocoded.loc[by_grid, "placed"] = True
        manual = geocoded["placed"] & ((new_address != "") | np.isfinite(lon))
        geocoded.loc[manual, "review_reason"] = ""
        geocoded = geocoded.drop(columns=["corrected_lon", "corrected_lat"])
        placed, still = split_review(geocoded)
        layer, review = _merge_layers(project, spec["layer"], spec["id"], placed, still, source)
        writes[spec["layer"]] = layer
        summary["placed"] += int(len(placed))
        summary["still_in_review"] += int(len(still))
    if writes:
        for layer_name, layer in writes.items():
            grids = _recounted(project, grids, layer_name, layer)
        project.write({**writes, "review": review, "grids": grids})
    return summary
