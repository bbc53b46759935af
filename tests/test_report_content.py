"""Report content: masking, KPI tables recomputed from the project, stored vs computed analyses."""

import numpy as np
import pandas as pd
import pytest

from gridmap.errors import GridMapError
from gridmap.project import Project
from gridmap.report.content import (
    area_kpis,
    audit_by_district,
    coverage_by_area,
    gather_content,
    mask_personal,
    scrub_id_numbers,
)


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("name", "王小明", "王**"),
        ("name", "欧阳娜娜", "欧阳**"),
        ("name", "李", "李*"),
        ("name", None, ""),
        ("name", "", ""),
        ("id_number", "42050219800101123X", "420502********123X"),
        ("id_number", "420502198001011234", "420502********1234"),
        ("id_number", "123", "****"),
        ("id_number", None, "****"),
    ],
)
def test_mask_personal_columns(column, value, expected):
    out = mask_personal(pd.DataFrame({column: [value]}))
    assert out[column].iloc[0] == expected


def test_mask_personal_drops_identifying_extras_and_scrubs_free_text():
    frame = pd.DataFrame({
        "name": ["张三"],
        "birth_date": ["1980-01-01"],
        "lon": [111.3],
        "evidence": ["户主 42050219800101123X 名下车辆"],
        "grid_code": ["420502001001001"],  # 15 digits: a code, not an ID
    })
    out = mask_personal(frame)
    assert list(out.columns) == ["name", "evidence", "grid_code"]
    assert out["evidence"].iloc[0] == "户主 420502********123X 名下车辆"
    assert out["grid_code"].iloc[0] == "420502001001001"


def test_scrub_leaves_frames_without_ids_alone():
    frame = pd.DataFrame({"a": ["x", None, "42050219800101"], "b": [1, 2, 3]})
    pd.testing.assert_frame_equal(scrub_id_numbers(frame), frame)
    empty = pd.DataFrame({"a": pd.Series([], dtype=object)})
    assert scrub_id_numbers(empty).empty


def test_audit_by_district_counts_and_sums_amounts():
    lookup = pd.DataFrame({"grid_code": ["g1", "g2", "g3"], "district": ["西陵区", "西陵区", "点军区"]})
    table = pd.DataFrame({
        "grid_code": ["g1", "g2", "g3", "g9"],
        "name": ["甲", "乙", "丙", "丁"],
        "overpaid_amount": [100.0, 50.5, 20.0, 1.0],
        "status": ["new", "verified", "new", "new"],
    })
    out = audit_by_district(table, lookup).set_index("district")
    assert out.loc["西陵区", "count"] == 2 and out.loc["点军区", "count"] == 1
    assert out.loc["（未入格）", "count"] == 1
    assert out.loc["西陵区", "overpaid_amount"] == pytest.approx(150.5)
    assert out.loc["合计", "count"] == 4 and out.loc["合计", "overpaid_amount"] == pytest.approx(171.5)
    assert out.loc["合计", "status_new"] == 3
    assert "name" not in out.columns


@pytest.fixture(scope="module")
def bare(demo_project):
    """The demo's content without computing anything the project does not hold."""
    return gather_content(demo_project, compute=False)


def test_kpis_add_up_to_the_project(bare, demo_project):
    grids = Project(demo_project).read("grids")
    table = area_kpis(bare, "district").set_index("name")
    assert table.loc["合计", "grids"] == len(grids) == 1421
    assert table.loc["合计", "population"] == grids["population"].sum()
    assert table.loc["合计", "communities"] == grids["community_code"].nunique()
    for district, rows in grids.groupby("district"):
        assert table.loc[district, "elderly_60"] == rows["elderly_60"].sum()
        assert table.loc[district, "ageing_rate"] == pytest.approx(rows["elderly_60"].sum() / rows["population"].sum())
    community = area_kpis(bare, "community")
    assert "communities" not in community  # a community has no sub-communities
    assert community["grids"].iloc[:-1].sum() == 1421


def test_missing_analyses_are_reported_not_computed(bare):
    assert bare.computed == []
    for section in ("demand", "clusters", "heatmap", "coverage", "plan", "audit"):
        assert bare.notes[section], section
    assert "demand_index" not in bare.grids
    assert bare.heatmap is None and bare.coverage is None and bare.plan is None
    assert coverage_by_area(bare).empty


def test_bad_district_and_atlas_level(demo_project):
    with pytest.raises(GridMapError, match=r"district: '江汉区' is not in the project \(has .*西陵区"):
        gather_content(demo_project, district="江汉区", compute=False)
    with pytest.raises(GridMapError, match="atlas_by: expected one of district, subdistrict, community"):
        gather_content(demo_project, atlas_by="street", compute=False)


def test_district_scope_keeps_its_grids_and_areas(demo_project):
    content = gather_content(demo_project, district="点军区", atlas_by="community", compute=False)
    grids = Project(demo_project).read("grids", columns=["district", "community_code"])
    mine = grids[grids["district"] == "点军区"]
    assert len(content.grids) == len(mine)
    assert set(content.areas["community"]["code"]) == set(mine["community_code"].astype(str))
    assert list(content.areas["district"]["name"]) == ["点军区"]
    assert len(content.city_outline) == 4  # the locator map still shows the whole city


def test_stored_results_are_used_and_computed_ones_match_them(project_copy):
    from gridmap.care.demand import analyse_demand

    project = Project(project_copy)
    computed = gather_content(project, compute=True, plan_defaults=False)
    assert "养老需求指数" in computed.computed
    stored = analyse_demand(project, write=True).table.set_index("grid_code")["demand_index"]
    again = gather_content(project, compute=False)
    assert "养老需求指数" not in again.computed
    ours = again.grids.set_index("grid_code")["demand_index"]
    np.testing.assert_allclose(ours.reindex(stored.index.astype(str)).to_numpy(), stored.to_numpy())
    np.testing.assert_allclose(computed.grids.set_index("grid_code")["demand_index"].reindex(ours.index),
                               ours.to_numpy())
    assert "plan" in computed.notes and computed.plan is None  # plan_defaults=False leaves it out
