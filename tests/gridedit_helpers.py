"""Hand-made grid projects for the editing tests: square grids in metres with known residents.

Grids are ``size``-metre squares laid out in EPSG:4546 near Yichang (x 500 000 is the
111°E central meridian) and stored in EPSG:4490 like every project; shared corners
transform identically, so the coverage is noded. Communities sit side by side, west
to east; grids are numbered in reading order (north to south, west to east).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import METRIC_CRS, STORE_CRS
from gridmap.geocode.assign import GridIndex
from gridmap.grids.counts import recount
from gridmap.grids.levels import dissolve_level
from gridmap.project import Project

X0, Y0 = 500_000.0, 3_398_000.0
SUBDISTRICT = "420502001"


def community_code(c):
    return f"{SUBDISTRICT}{c + 1:03d}"


def square(c, col, row, n, size):
    """Grid (col, row) of community c; row 0 is the northernmost."""
    x = X0 + (c * n + col) * size
    y = Y0 + (n - 1 - row) * size
    return shapely.box(x, y, x + size, y + size)


def build_project(path, *, communities=2, n=2, size=200.0, residents=(), facilities=(), random_buildings=0,
                  households_per_building=(1, 4), seed=0):
    """Write a project of ``communities`` x (``n`` x ``n``) square grids and return its path.

    Parameters
    ----------
    residents : iterable of (x, y, household_id, age[, building_id])
        Explicit residents at metric offsets from the south-west corner of the layout.
    facilities : iterable of (x, y, kind)
    random_buildings : int
        Buildings to add at random per grid, each with a random number of households
        (``households_per_building``) of one to four people.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(communities):
        for row in range(n):
            for col in range(n):
                number = row * n + col + 1
                code = f"{community_code(c)}{number:03d}"
                rows.append({
                    "grid_code": code, "grid_name": f"测试{c + 1}社区第{number}网格",
                    "community_code": community_code(c), "community": f"测试{c + 1}社区",
                    "subdistrict_code": SUBDISTRICT, "subdistrict": "测试街道", "district_code": "420502",
                    "district": "西陵区", "zone": "urban", "geometry": square(c, col, row, n, size),
                })
    grids = gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)

    people = [tuple(r) + ((None,) if len(r) == 4 else ()) for r in residents]
    household = 0
    if random_buildings:
        for g, geom in enumerate(grids.geometry):
            minx, miny, maxx, maxy = geom.bounds
            for b in range(random_buildings):
                bx, by = rng.uniform(minx + 5, maxx - 5), rng.uniform(miny + 5, maxy - 5)
                building = f"B{g:03d}{b:03d}"
                for _ in range(rng.integers(households_per_building[0], households_per_building[1] + 1)):
                    household += 1
                    for _ in range(rng.integers(1, 5)):
                        people.append((bx - X0, by - Y0, f"R{household:06d}", int(rng.integers(0, 95)), building))
    people_frame = pd.DataFrame(people, columns=["x", "y", "household_id", "age", "building_id"])
    res = gpd.GeoDataFrame(
        {"person_id": [f"P{i:07d}" for i in range(len(people_frame))],
         "household_id": people_frame["household_id"].astype(str), "age": people_frame["age"].astype("int64"),
         "building_id": people_frame["building_id"]},
        geometry=gpd.points_from_xy(people_frame["x"] + X0, people_frame["y"] + Y0), crs=METRIC_CRS,
    ).to_crs(STORE_CRS)
    fac = gpd.GeoDataFrame(
        {"facility_id": [f"F{i:04d}" for i in range(len(facilities))], "kind": [f[2] for f in facilities]},
        geometry=gpd.points_from_xy([f[0] + X0 for f in facilities], [f[1] + Y0 for f in facilities]),
        crs=METRIC_CRS,
    ).to_crs(STORE_CRS)

    grids = grids.to_crs(STORE_CRS)
    index = GridIndex(grids)
    res["grid_code"] = index.assign(res.geometry.x, res.geometry.y)
    fac["grid_code"] = index.assign(fac.geometry.x, fac.geometry.y)
    counted = recount(grids, res, fac[fac["kind"] != "candidate"] if len(fac) else None)
    for kind in ("clinic", "elderly_home"):
        if f"fac_{kind}" not in counted:
            counted[f"fac_{kind}"] = 0
    layers = {"grids": counted, "residents": res, "facilities": fac}
    for level in ("communities", "subdistricts", "districts"):
        layers[level] = dissolve_level(counted, level)
    Project.create(path, layers, {"name": "grid edit test"})
    return path


def metric_line(*points):
    """WKT of a line through metric offsets from the layout's south-west corner (EPSG:4546)."""
    return shapely.to_wkt(shapely.LineString([(X0 + x, Y0 + y) for x, y in points]))


def metric_polygon(*points):
    return shapely.to_wkt(shapely.Polygon([(X0 + x, Y0 + y) for x, y in points]))


def areas_m2(frame):
    return dict(zip(frame["grid_code"], frame.to_crs(METRIC_CRS).area.round(1)))


def grid_layer_bytes(project):
    """The grid layer as comparable values: attributes and geometry WKB, in file order."""
    grids = Project(project).read("grids")
    return grids.drop(columns="geometry"), shapely.to_wkb(grids.geometry.values)
