"""Care demand per grid (issue 5 §1) and need types / demand concentrations (§2)."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from sklearn.metrics import silhouette_score

from gridmap.care import clusters, demand
from gridmap.care.demand import DEFAULT_DEMAND_WEIGHTS, INDICATORS
from gridmap.crs import METRIC_CRS
from gridmap.errors import GridMapError
from gridmap.project import Project


@pytest.fixture(scope="module")
def elderly(demo_project):
    return demand.load_elderly(Project(demo_project))


@pytest.fixture(scope="module")
def result(demo_project, elderly):
    return demand.analyse_demand(Project(demo_project), elderly=elderly)


# ---------------------------------------------------------------------------
# Demand


def test_counts_match_a_direct_recount(demo_project, result):
    residents = Project(demo_project).read("residents")
    old = residents[residents["age"] >= 60]
    recount = pd.DataFrame(
        {
            "elderly_60": old.groupby("grid_code").size(),
            "elderly_80": (old["age"] >= 80).groupby(old["grid_code"]).sum(),
            "living_alone": old["living_alone"].groupby(old["grid_code"]).sum(),
            "semi_disabled": (old["self_care"] == "半失能").groupby(old["grid_code"]).sum(),
            "disabled": (old["self_care"] == "失能").groupby(old["grid_code"]).sum(),
            "low_income": (old["income_band"] == "低收入").groupby(old["grid_code"]).sum(),
            "chronic_illness": old["chronic_illness"].groupby(old["grid_code"]).sum(),
        }
    )
    table = result.table.set_index("grid_code")
    expected = recount.reindex(table.index).fillna(0).astype("int64")
    pd.testing.assert_frame_equal(table[list(INDICATORS)], expected, check_names=False)
    assert len(table) == 1421
    # The grids layer's own registry count agrees too.
    grids = (
        Project(demo_project)
        .read("grids", columns=["grid_code", "elderly_60"])
        .set_index("grid_code")
    )
    assert (grids["elderly_60"].reindex(table.index) == table["elderly_60"]).all()


def test_demand_index_is_the_weighted_sum_of_counts(result, elderly):
    table = result.table
    w = np.array([DEFAULT_DEMAND_WEIGHTS[k] for k in INDICATORS])
    np.testing.assert_allclose(table["demand_index"], table[list(INDICATORS)].to_numpy() @ w)
    placed = elderly["grid_code"].isin(table["grid_code"])
    assert table["demand_index"].sum() == pytest.approx(elderly.loc[placed, "demand"].sum())


def test_project_setting_overrides_weights(project_copy, elderly):
    project = Project(project_copy)
    before = demand.analyse_demand(project, elderly=elderly).table
    project.set_meta(care_demand_weights={"disabled": 10})
    after = demand.analyse_demand(project, elderly=elderly)
    assert after.weights["disabled"] == 10 and after.weights["elderly_60"] == 1.0
    np.testing.assert_allclose(
        after.table["demand_index"] - before["demand_index"], 6 * before["disabled"]
    )


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ({"blind": 1}, "unknown indicator 'blind'"),
        ({"disabled": -1}, "weight of 'disabled' must be a number >= 0"),
        ({"disabled": "many"}, "weight of 'disabled' must be a number >= 0"),
        ({"disabled": float("nan")}, "weight of 'disabled'"),
        ([1, 2], "expected a mapping"),
    ],
)
def test_bad_weights(weights, match):
    with pytest.raises(GridMapError, match=match):
        demand.check_weights(weights)


def test_bad_project_setting_names_the_meta_key(project_copy):
    project = Project(project_copy)
    project.set_meta(care_demand_weights={"disabled": -2})
    with pytest.raises(GridMapError, match="meta care_demand_weights: weight of 'disabled'"):
        demand.project_weights(project)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"age": 59, "self_care": "失能"}, None),  # not elderly: not counted
        ({"age": 60, "self_care": "自理"}, 1.0),
        ({"age": 85, "self_care": "失能"}, 6.0),
        ({"age": 70, "self_care": "半失能", "living_alone": True}, 4.0),
        ({"age": 70, "self_care": None, "income_band": "低收入", "chronic_illness": True}, 2.5),
        ({"age": 70, "self_care": None, "living_alone": "是", "income_band": None}, 2.0),
        ({"age": None, "self_care": "失能"}, None),  # unknown age: not counted
    ],
)
def test_personal_demand_table(row, expected):
    frame = pd.DataFrame([row])
    out = demand.need_indicators(frame)
    assert out["demand"].tolist() == ([] if expected is None else [expected])


def test_empty_residents_give_empty_indicators():
    out = demand.need_indicators(pd.DataFrame({"age": pd.Series([], dtype="int64")}))
    assert len(out) == 0 and set(INDICATORS) <= set(out.columns)


def test_grid_without_elderly_and_unplaced_residents():
    grids = pd.DataFrame({"grid_code": ["G1", "G2"], "grid_name": ["一", "二"]})
    residents = pd.DataFrame(
        {
            "age": [70, 82, 65, 90],
            "grid_code": ["G1", "G1", None, "G9"],
            "self_care": ["自理", "失能", "自理", "自理"],
        }
    )
    result = demand.grid_demand(demand.need_indicators(residents), grids)
    table = result.table.set_index("grid_code")
    assert table.loc["G2", "elderly_60"] == 0 and table.loc["G2", "demand_index"] == 0
    assert np.isnan(table.loc["G2", "demand_per_elderly"])
    assert table.loc["G1", "demand_index"] == 1 + 6
    assert result.unplaced == 2
    assert any("1 grids have no elderly residents" in m for m in result.messages)
    assert any(
        "2 elderly residents are not in any grid" in m and "1 without a grid code" in m
        for m in result.messages
    )


def test_no_age_column_is_a_clear_error():
    with pytest.raises(GridMapError, match="no age column"):
        demand.need_indicators(pd.DataFrame({"self_care": ["失能"]}))


def test_write_demand_round_trip(project_copy, elderly):
    project = Project(project_copy)
    result = demand.analyse_demand(project, elderly=elderly, write=True)
    saved = project.read("care_demand")
    pd.testing.assert_frame_equal(saved, result.table, check_dtype=False)
    grids = project.read("grids")
    assert {"care_demand", "care_disabled", "elderly_60", "fac_day_care"} <= set(grids.columns)
    by_code = result.table.set_index("grid_code")["demand_index"]
    np.testing.assert_allclose(grids["care_demand"], by_code.reindex(grids["grid_code"]).to_numpy())
    assert project.meta()["care_demand_weights_used"] == result.weights
    # A second run replaces the columns instead of adding suffixed copies.
    demand.analyse_demand(project, elderly=elderly, write=True)
    assert list(project.read("grids").columns).count("care_demand") == 1


# ---------------------------------------------------------------------------
# Need types


def test_profile_silhouette_equals_sklearn_on_repeated_points():
    rng = np.random.default_rng(5)
    profiles = np.unique(rng.integers(0, 2, (30, 5)).astype(float), axis=0)
    counts = rng.integers(1, 7, len(profiles))
    labels = rng.integers(0, 4, len(profiles))
    expanded = np.repeat(profiles, counts, axis=0)
    expected = silhouette_score(expanded, np.repeat(labels, counts))
    assert clusters.profile_silhouette(profiles, counts, labels) == pytest.approx(
        expected, rel=1e-12
    )
    assert np.isnan(clusters.profile_silhouette(profiles, counts, np.zeros(len(profiles))))


@pytest.mark.parametrize(
    ("prevalence", "name"),
    [
        ({}, "自理活跃"),
        ({"living_alone": 0.9, "elderly_80": 0.7}, "独居高龄"),
        ({"disabled": 1.0, "chronic_illness": 0.5}, "失能家庭照护"),
        ({"low_income": 0.8, "chronic_illness": 0.6}, "低收入慢病"),
        ({"low_income": 0.8, "chronic_illness": 0.4}, "低收入老人"),
        ({"semi_disabled": 0.49}, "自理活跃"),
    ],
)
def test_type_names(prevalence, name):
    assert clusters.type_name(prevalence) == name


@pytest.fixture(scope="module")
def types(elderly, demo_project):
    grids = Project(demo_project).read("grids", columns=["grid_code", "community"])
    return clusters.need_types(elderly, grids)


def test_need_types_are_chosen_by_the_stated_rule(types, elderly):
    table = types.types
    valid = {k: s for k, s in types.k_scores.items() if not np.isnan(s)}
    assert types.k == max(valid, key=valid.get)
    assert 3 <= types.k <= 8 and "silhouette" in types.criterion
    assert table["share"].min() >= 0.05
    assert table["elderly"].sum() == len(elderly) == len(types.labels)
    assert table["name"].is_unique and table["name"].str.len().min() >= 2
    assert "自理活跃" in set(table["name"])
    # Deterministic: the same input gives the same labels.
    again = clusters.need_types(elderly, k=types.k)
    np.testing.assert_array_equal(again.labels, types.labels)


def test_type_prevalence_and_mix(types, elderly):
    table = types.types
    for row in table.itertuples():
        members = elderly[types.labels == row.type_id]
        assert row.p_disabled == pytest.approx(members["disabled"].mean())
    mix = table[[f"mix_{s}" for s in clusters.SERVICES]].to_numpy()
    np.testing.assert_allclose(mix.sum(axis=1), 1.0)
    assert set(table["primary_service"]) <= set(clusters.SERVICE_LABELS.values())


def test_grid_service_mix(types, result):
    grids = types.grids.set_index("grid_code")
    has = grids["demand"] > 0
    shares = grids.loc[has, [f"mix_{s}" for s in clusters.SERVICES]].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0)
    amounts = grids[[f"demand_{s}" for s in clusters.SERVICES]].sum(axis=1)
    np.testing.assert_allclose(amounts, grids["demand"])
    np.testing.assert_allclose(
        grids["demand"], result.table.set_index("grid_code")["demand_index"].reindex(grids.index)
    )
    assert grids.loc[has, "driving_types"].str.contains("%").all()
    assert grids.loc[~has, "primary_service"].isna().all()


def test_need_types_progress_and_cancel(elderly):
    seen = []
    clusters.need_types(elderly, k_range=(3, 4), progress=lambda f, m: seen.append((f, m)))
    assert seen == [(0.0, "need types: k = 3"), (0.5, "need types: k = 4")]
    with pytest.raises(GridMapError, match="need types cancelled"):
        clusters.need_types(elderly, cancelled=lambda: True)


def test_need_types_with_a_single_profile_is_a_clear_error():
    frame = demand.need_indicators(pd.DataFrame({"age": [65] * 5, "self_care": ["自理"] * 5}))
    with pytest.raises(GridMapError, match="1 distinct need profile"):
        clusters.need_types(frame)


# ---------------------------------------------------------------------------
# Demand concentrations


def lattice(n=6, size=500.0):
    """An n x n lattice of square grids in EPSG:4546, one community per column."""
    boxes, codes, comms = [], [], []
    for i in range(n):
        for j in range(n):
            boxes.append(
                shapely.box(
                    500000 + j * size,
                    3400000 + i * size,
                    500000 + (j + 1) * size,
                    3400000 + (i + 1) * size,
                )
            )
            codes.append(f"G{i}{j}")
            comms.append(f"第{j}社区")
    return gpd.GeoDataFrame(
        {"grid_code": codes, "community": comms}, geometry=boxes, crs=METRIC_CRS
    )


def test_gi_star_matches_its_formula():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 2000, (40, 2))
    x = rng.uniform(0, 10, 40)
    got = clusters.gi_star(xy, x, 600)
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    w = (d <= 600).astype(float)
    n, mean, s = len(x), x.mean(), x.std()
    wi = w.sum(axis=1)
    expected = (w @ x - mean * wi) / (s * np.sqrt((n * (w**2).sum(axis=1) - wi**2) / (n - 1)))
    np.testing.assert_allclose(got, expected)


def test_hot_block_becomes_one_named_polygon():
    grids = lattice()
    values = np.ones(len(grids))
    block = grids["grid_code"].isin(["G00", "G01", "G10", "G11"]).to_numpy()
    values[block] = 20.0
    spots = clusters.hotspots(grids.to_crs("EPSG:4490"), values, distance=600)
    assert len(spots) == 1
    spot = spots.iloc[0]
    assert spot["name"] == "第0社区、第1社区" and spot["grids"] == 4
    assert spot["demand"] == 80.0
    assert spots.crs.to_epsg() == 4490
    area = spots.to_crs(METRIC_CRS).area.iloc[0]
    assert area == pytest.approx(4 * 500.0**2, rel=1e-6)


def test_nothing_hot_gives_an_empty_layer():
    grids = lattice()
    spots = clusters.hotspots(grids, np.ones(len(grids)))
    assert len(spots) == 0 and "name" in spots.columns


def test_hotspots_bad_input():
    grids = lattice()
    with pytest.raises(GridMapError, match="36 grids"):
        clusters.hotspots(grids, np.ones(3))
    with pytest.raises(GridMapError, match="measure must be"):
        clusters.hotspots(grids, np.ones(len(grids)), measure="people")


def test_analyse_and_write_clusters(project_copy, elderly):
    project = Project(project_copy)
    result = clusters.analyse_clusters(project, elderly=elderly, write=True)
    assert "need types" in result.summary()
    saved = project.read("care_need_types")
    assert list(saved["name"]) == list(result.types.types["name"])
    grids = project.read("grids")
    assert grids["care_primary_service"].notna().sum() == (result.types.grids["demand"] > 0).sum()
    if len(result.hotspots):
        assert project.read("care_hotspots")["name"].tolist() == result.hotspots["name"].tolist()
