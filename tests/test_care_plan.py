"""New-site recommendations on the demo: optimal against brute force, capacities, bad input."""

import itertools

import numpy as np
import pytest

from gridmap.care.plan import plan_sites, write_plan
from gridmap.cli import main
from gridmap.errors import GridMapError
from gridmap.project import Project


@pytest.fixture(scope="module")
def project(demo_project):
    return Project(demo_project)


def _cost_and_demand(result, project):
    """Rebuild the grid-to-site distances independently from the result's centres and the facility layer."""
    facilities = project.read("facilities").to_crs(4546)
    sites = facilities[facilities["kind"].isin(["day_care", "candidate"])]
    xy = np.column_stack([sites.geometry.x, sites.geometry.y])
    centres = result.grids[["centre_x", "centre_y"]].to_numpy()
    cost = np.hypot(centres[:, None, 0] - xy[None, :, 0], centres[:, None, 1] - xy[None, :, 1])
    return cost, result.grids["demand"].to_numpy(), sites


def test_pmedian_new_sites_are_the_brute_force_optimum(project):
    result = plan_sites(project, "day_care", new_sites=2, model="pmedian")
    cost, demand, sites = _cost_and_demand(result, project)
    existing = np.flatnonzero(sites["kind"].to_numpy() == "day_care")
    candidates = np.flatnonzero(sites["kind"].to_numpy() == "candidate")
    best = min(
        (demand * cost[:, np.r_[existing, list(pair)]].min(axis=1)).sum()
        for pair in itertools.combinations(candidates, 2)
    )
    assert result.summary["objective"] == pytest.approx(best, rel=1e-9)
    assert result.summary["status"] == "optimal"
    opened = set(result.sites["site_id"])
    assert set(sites["facility_id"].to_numpy()[existing]) <= opened  # existing stay open
    assert len(result.sites[result.sites["is_new"]]) == 2


def test_mclp_covers_the_most_demand(project):
    result = plan_sites(project, "day_care", new_sites=2, model="mclp", radius=800)
    cost, demand, sites = _cost_and_demand(result, project)
    existing = np.flatnonzero(sites["kind"].to_numpy() == "day_care")
    candidates = np.flatnonzero(sites["kind"].to_numpy() == "candidate")
    best = max(
        demand[(cost[:, np.r_[existing, list(pair)]] <= 800).any(axis=1)].sum()
        for pair in itertools.combinations(candidates, 2)
    )
    assert result.summary["covered_share_after"] * demand.sum() == pytest.approx(best, rel=1e-9)
    assert result.summary["covered_share_after"] >= result.summary["covered_share_before"]


def test_capacitated_loads_respect_capacities(project):
    result = plan_sites(project, "day_care", new_sites=3, model="cpmedian", time_limit=60)
    assert (result.sites["load"] <= result.sites["capacity"] + 1e-6).all()
    served = result.sites["demand_served"].sum() + result.grids["unmet_demand"].sum()
    assert served == pytest.approx(result.grids["demand"].sum(), rel=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"new_sites": 99}, "only 40 candidates"),
        ({"model": "nearest"}, "unknown model 'nearest'"),
        ({"new_sites": -1}, "at least 0"),
    ],
)
def test_bad_requests(project, kwargs, message):
    with pytest.raises(GridMapError, match=message):
        plan_sites(project, "day_care", **{"new_sites": 2, "model": "pmedian", **kwargs})


def test_no_candidates_is_a_clear_error(project_copy):
    target = Project(project_copy)
    facilities = target.read("facilities")
    target.write({"facilities": facilities[facilities["kind"] != "candidate"]})
    with pytest.raises(GridMapError, match="has no candidate sites"):
        plan_sites(target, "day_care", 2)


def test_allocate_command_saves_layers(project_copy, capsys):
    assert main(["care", "allocate", str(project_copy), "--kind", "day_care", "--new-sites", "3",
                 "--model", "pmedian"]) == 0
    assert "新址" in capsys.readouterr().out
    target = Project(project_copy)
    sites = target.read("care_sites")
    assert sites["is_new"].sum() == 3
    lines = target.read("care_allocation_lines")
    assert len(lines) == len(target.read("care_allocation"))
    assert target.meta()["care_plan"]["model"] == "pmedian"
