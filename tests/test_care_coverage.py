"""Coverage of grids by existing facilities (issue 5 §4)."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.sparse.csgraph import dijkstra

from gridmap.care import coverage, demand
from gridmap.care.coverage import RoadNetwork
from gridmap.crs import METRIC_CRS
from gridmap.errors import GridMapError
from gridmap.project import Project

X0, Y0 = 520000.0, 3390000.0


@pytest.fixture(scope="module")
def demo(demo_project):
    project = Project(demo_project)
    elderly = demand.load_elderly(project)
    grids = project.read("grids", columns=["grid_code", "grid_name", "community"])
    facilities = project.read("facilities")
    return project, elderly, grids, facilities


@pytest.fixture(scope="module")
def straight(demo):
    _, elderly, grids, facilities = demo
    return coverage.coverage(grids, elderly, facilities)


def test_centres_are_the_mean_of_the_elderly(demo, straight):
    _, elderly, _, _ = demo
    mean = elderly.groupby("grid_code")[["x", "y"]].mean()
    rows = straight.grids[straight.grids["kind"] == "day_care"].set_index("grid_code")
    located = rows["centre_source"] == "elderly"
    np.testing.assert_allclose(
        rows.loc[located, ["centre_x", "centre_y"]].to_numpy(),
        mean.reindex(rows.index[located]).to_numpy(),
    )
    assert (
        rows.loc[located, "elderly"]
        == elderly.groupby("grid_code").size().reindex(rows.index[located])
    ).all()


def test_straight_line_distances_match_brute_force(demo, straight):
    _, _, _, facilities = demo
    fac = facilities.to_crs(METRIC_CRS)
    for kind, rows in straight.grids.groupby("kind"):
        mine = fac[fac["kind"] == kind]
        fx, fy = mine.geometry.x.to_numpy(), mine.geometry.y.to_numpy()
        d = np.hypot(
            rows["centre_x"].to_numpy()[:, None] - fx, rows["centre_y"].to_numpy()[:, None] - fy
        )
        np.testing.assert_allclose(rows["distance_m"], d.min(axis=1), rtol=1e-12)
        np.testing.assert_array_equal(
            rows["facility_id"], mine["facility_id"].to_numpy()[d.argmin(axis=1)]
        )
        assert (rows["covered"] == (d.min(axis=1) <= 1000)).all()
    assert straight.method == "straight-line"
    assert set(coverage.CARE_KINDS) <= set(straight.grids["kind"])
    assert "candidate" not in set(straight.grids["kind"])


def test_load_and_unmet_demand(straight):
    for kind, fac in straight.facilities.groupby("kind"):
        rows = straight.grids[straight.grids["kind"] == kind]
        assert fac["demand_served"].sum() == pytest.approx(rows["demand"].sum())
        assert fac["grids_served"].sum() == len(rows)
    caps = straight.facilities[straight.facilities["kind"] == "day_care"]
    np.testing.assert_allclose(
        caps["load"], caps["demand_served"] * coverage.DEFAULT_UPTAKE["day_care"]
    )
    np.testing.assert_allclose(caps["utilisation"], caps["load"] / caps["capacity"])
    rows = straight.grids[straight.grids["kind"] == "day_care"]
    util = rows["utilisation"].to_numpy()
    expected = np.where(
        ~rows["covered"], rows["demand"], np.where(util > 1, rows["demand"] * (1 - 1 / util), 0.0)
    )
    np.testing.assert_allclose(rows["unmet_demand"], expected)
    shops = straight.facilities[straight.facilities["kind"] == "supermarket"]
    assert shops["utilisation"].isna().all() and not shops["over_capacity"].any()
    under = straight.underserved
    assert (under["unmet_demand"] > 0).all() and under["unmet_demand"].is_monotonic_decreasing
    assert under["reason"].str.len().min() > 0


# ---------------------------------------------------------------------------
# Small hand-made cases


def lattice(n=3, size=500.0):
    boxes = [
        shapely.box(X0 + j * size, Y0 + i * size, X0 + (j + 1) * size, Y0 + (i + 1) * size)
        for i in range(n)
        for j in range(n)
    ]
    return gpd.GeoDataFrame(
        {"grid_code": [f"G{k}" for k in range(n * n)], "community": "甲社区"},
        geometry=boxes,
        crs=METRIC_CRS,
    )


def residents(points):
    frame = pd.DataFrame(points, columns=["grid_code", "x", "y", "age"])
    return demand.need_indicators(frame)


def facilities(rows, crs=METRIC_CRS):
    frame = pd.DataFrame(rows, columns=["facility_id", "name", "kind", "capacity", "x", "y"])
    geometry = [
        None if np.isnan(x) else shapely.Point(x, y) for x, y in zip(frame["x"], frame["y"])
    ]
    return gpd.GeoDataFrame(frame.drop(columns=["x", "y"]), geometry=geometry, crs=crs)


@pytest.fixture
def small():
    grids = lattice()
    # Grid G4 (the middle) has no elderly residents.
    people = [
        (f"G{k}", X0 + 250 + 500 * (k % 3), Y0 + 250 + 500 * (k // 3), 70)
        for k in range(9)
        if k != 4
    ]
    people.append(("G0", X0 + 150, Y0 + 350, 85))
    fac = facilities(
        [
            ("D1", "甲日间照料中心", "day_care", 2.0, X0 + 250, Y0 + 250),
            ("D2", "乙日间照料中心", "day_care", 100.0, X0 + 1200, Y0 + 1200),
            ("D3", "界外日间照料中心", "day_care", 5.0, X0 + 4000, Y0 + 250),
            ("D4", "无址日间照料中心", "day_care", 5.0, np.nan, np.nan),
            ("S1", "超市", "supermarket", np.nan, X0 + 750, Y0 + 750),
        ]
    )
    return grids, residents(people), fac


def test_small_case_by_hand(small):
    grids, people, fac = small
    result = coverage.coverage(
        grids, people, fac, kinds=["day_care", "meal_point"], uptake={"day_care": 1.0}
    )
    day = result.grids[result.grids["kind"] == "day_care"].set_index("grid_code")
    # G0's centre is the mean of its two residents.
    assert day.loc["G0", ["centre_x", "centre_y"]].tolist() == pytest.approx([X0 + 200, Y0 + 300])
    assert day.loc["G0", "facility_id"] == "D1"
    assert day.loc["G0", "distance_m"] == pytest.approx(np.hypot(50, 50))
    assert day.loc["G8", "facility_id"] == "D2" and day.loc["G8", "distance_m"] == pytest.approx(
        np.hypot(50, 50)
    )
    # G4 has no elderly: its centre is inside its polygon and it has no demand.
    assert day.loc["G4", "centre_source"] == "polygon" and day.loc["G4", "demand"] == 0
    # D1 serves G0, G1, G3 (nearest): demand 1 + 2 (85-year-old) + 1 + 1 = 5 places for 2.
    d1 = result.facilities.set_index("facility_id").loc["D1"]
    assert (
        d1["demand_served"] == 5 and d1["utilisation"] == pytest.approx(2.5) and d1["over_capacity"]
    )
    assert day.loc["G0", "unmet_demand"] == pytest.approx(3 * (1 - 1 / 2.5))
    assert not result.facilities.set_index("facility_id").loc["D3", "in_grid"]
    assert "D4" not in set(result.facilities["facility_id"])
    # No meal points at all: every grid uncovered, all demand unmet.
    meals = result.grids[result.grids["kind"] == "meal_point"]
    assert not meals["covered"].any() and meals["distance_m"].isna().all()
    np.testing.assert_allclose(meals["unmet_demand"], meals["demand"])
    text = "\n".join(result.messages)
    assert "1 grids have no located elderly residents" in text
    assert "no 老年食堂 (meal_point) facilities in the project" in text
    assert "1 facilities lie outside all grids: D3 界外日间照料中心" in text
    assert "1 facilities have no location and are left out: D4 无址日间照料中心" in text


def test_radius_per_kind(small):
    grids, people, fac = small
    wide = coverage.coverage(grids, people, fac, kinds=["day_care", "supermarket"])
    narrow = coverage.coverage(
        grids, people, fac, kinds=["day_care", "supermarket"], radius={"day_care": 100}
    )
    assert narrow.radius == {"day_care": 100.0, "supermarket": 1000.0}
    day = narrow.grids[narrow.grids["kind"] == "day_care"]
    assert set(day.loc[day["covered"], "grid_code"]) == {"G0", "G8"}
    assert wide.grids[wide.grids["kind"] == "day_care"]["covered"].all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kinds": ["spa"]}, "unknown facility kind 'spa'"),
        ({"radius": -5}, "radius of 'day_care' must be a positive number"),
        ({"radius": {"meal_point": 500}}, "radius: no analysed kind 'meal_point'"),
    ],
)
def test_bad_options(small, kwargs, match):
    grids, people, fac = small
    with pytest.raises(GridMapError, match=match):
        coverage.coverage(grids, people, fac, **{"kinds": ["day_care"], **kwargs})


def test_bad_frames(small):
    grids, people, fac = small
    with pytest.raises(GridMapError, match="grids: expected a GeoDataFrame"):
        coverage.coverage(pd.DataFrame(grids), people, fac)
    with pytest.raises(GridMapError, match="facilities: no kind column"):
        coverage.coverage(grids, people, fac.drop(columns="kind"), kinds=["day_care"])
    with pytest.raises(GridMapError, match="grids: the layer is empty"):
        coverage.coverage(grids.iloc[:0], people, fac)


def test_cancel(small):
    grids, people, fac = small
    seen = []
    with pytest.raises(GridMapError, match="cancelled"):
        coverage.coverage(
            grids,
            people,
            fac,
            kinds=["day_care", "supermarket"],
            progress=lambda f, m: seen.append(f),
            cancelled=lambda: len(seen) >= 1,
        )
    assert seen == [0.0]


# ---------------------------------------------------------------------------
# Along the roads


def test_network_distance_by_hand(small):
    grids, people, fac = small
    # An L-shaped street: west-east along the bottom, then north along x = X0 + 1500.
    road = shapely.LineString([(X0, Y0 - 10), (X0 + 1500, Y0 - 10), (X0 + 1500, Y0 + 1500)])
    fragment = shapely.LineString([(X0 + 700, Y0 + 700), (X0 + 720, Y0 + 700)])
    network = RoadNetwork([road, fragment], spacing=10)
    assert network.components == 1  # the 20 m fragment is ignored
    source, dist = network.nearest(
        np.array([X0]), np.array([Y0]), np.array([X0 + 1490.0]), np.array([Y0 + 1500.0])
    )
    assert source.tolist() == [0]
    assert dist[0] == pytest.approx(10 + 1500 + 1510 + 10)
    result = coverage.coverage(
        grids, people, fac[fac["facility_id"] == "D1"], kinds=["day_care"], network=network
    )
    g8 = result.grids.set_index("grid_code").loc["G8"]
    assert g8["method"] == "network" and result.method == "network"
    # D1 (X0+250, Y0+250) -> road at (X0+250, Y0-10): 260 m; along to the corner 1250 m;
    # north 1260 m; off the road to G8's centre (X0+1250, Y0+1250): 250 m.
    assert g8["distance_m"] == pytest.approx(260 + 1250 + 1260 + 250)
    assert g8["straight_m"] == pytest.approx(np.hypot(1000, 1000))
    assert not g8["covered"]


def test_unreachable_along_roads_falls_back_to_straight_line(small):
    grids, people, fac = small
    west = shapely.LineString([(X0, Y0), (X0, Y0 + 1500)])
    east = shapely.LineString([(X0 + 1500, Y0), (X0 + 1500, Y0 + 1500)])
    network = RoadNetwork([west, east], spacing=25)
    result = coverage.coverage(
        grids, people, fac[fac["facility_id"] == "D1"], kinds=["day_care"], network=network
    )
    rows = result.grids.set_index("grid_code")
    assert (
        rows.loc["G2", "method"] == "straight-line"
    )  # snaps to the east street, D1 to the west one
    assert rows.loc["G2", "distance_m"] == pytest.approx(rows.loc["G2", "straight_m"])
    assert any("cannot reach any 日间照料中心 along the roads" in m for m in result.messages)


def test_network_nearest_matches_one_dijkstra_per_facility(demo):
    project, elderly, grids, facilities = demo
    network = RoadNetwork.from_project(project)
    fac = facilities[facilities["kind"] == "day_care"].to_crs(METRIC_CRS)
    fx, fy = fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy()
    centres = coverage.grid_centres(grids, elderly)
    gx, gy = centres["centre_x"].to_numpy(), centres["centre_y"].to_numpy()
    source, dist = network.nearest(fx, fy, gx, gy)
    f_node, f_leg = network.snap(fx, fy)
    g_node, g_leg = network.snap(gx, gy)
    paths = dijkstra(network.graph, directed=False, indices=f_node)[:, g_node]
    total = paths + f_leg[:, None] + g_leg[None, :]
    np.testing.assert_allclose(dist, total.min(axis=0), rtol=1e-9)
    reach = np.isfinite(dist)
    np.testing.assert_allclose(total[source[reach], np.flatnonzero(reach)], dist[reach], rtol=1e-9)
    straight = np.hypot(gx[:, None] - fx, gy[:, None] - fy).min(axis=1)
    assert (dist[reach] >= straight[reach] - 1e-6).all()


def test_empty_roads_is_a_clear_error():
    with pytest.raises(GridMapError, match="no line geometries"):
        RoadNetwork([shapely.Point(0, 0)])


# ---------------------------------------------------------------------------
# Project level


def test_analyse_and_write_coverage(project_copy):
    project = Project(project_copy)
    result = coverage.analyse_coverage(project, kinds=["day_care", "meal_point"], write=True)
    assert result.method == "network"
    saved = project.read("care_coverage")
    assert len(saved) == 2 * 1421
    pd.testing.assert_series_equal(
        saved["unmet_demand"], result.grids["unmet_demand"], check_dtype=False
    )
    assert len(project.read("care_facility_load")) == len(result.facilities)
    grids = project.read("grids")
    assert {"dist_day_care", "dist_meal_point", "care_unmet"} <= set(grids.columns)
    assert "coverage by network distance" in result.summary()
    straight = coverage.analyse_coverage(project, kinds=["day_care"], roads=False)
    assert straight.method == "straight-line"


def test_project_uptake_setting(project_copy):
    project = Project(project_copy)
    project.set_meta(care_uptake={"day_care": 0.5})
    result = coverage.analyse_coverage(project, kinds=["day_care"], roads=False)
    assert result.uptake["day_care"] == 0.5
    fac = result.facilities
    np.testing.assert_allclose(fac["load"], fac["demand_served"] * 0.5)
    project.set_meta(care_uptake=[1, 2])
    with pytest.raises(GridMapError, match="meta care_uptake must map"):
        coverage.analyse_coverage(project, kinds=["day_care"], roads=False)
