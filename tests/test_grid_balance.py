"""Re-balancing grids (issue 4): the model on known graphs, proposals, locks, the demo and the CLI."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import shapely
from gridedit_helpers import build_project, grid_layer_bytes

from gridmap.cli import main
from gridmap.errors import GridMapError
from gridmap.grids.balance import (
    BalanceModel,
    InfeasibleBalance,
    buildings_from_residents,
    choose_k,
    polsby_popper,
)
from gridmap.grids.counts import recount
from gridmap.grids.edit import GridEditor
from gridmap.grids.validate import validate_grids
from gridmap.project import Project

C1 = "420502001001"
CODES = [f"{C1}{n:03d}" for n in range(1, 10)]


@pytest.fixture
def dense(tmp_path):
    """One community of 3 x 3 grids (200 m) with 54 buildings of 20-40 households: about 1600."""
    return build_project(tmp_path / "dense.gpkg", communities=1, n=3, size=200, random_buildings=6,
                         households_per_building=(20, 40), seed=5)


def lattice(n):
    """Unit squares of an n x n lattice: cell areas, perimeters, rook pairs, shared lengths, centroids."""
    cells = [(i, j) for j in range(n) for i in range(n)]
    index = {c: k for k, c in enumerate(cells)}
    pairs = [(index[(i, j)], index[(i + 1, j)]) for (i, j) in cells if i + 1 < n]
    pairs += [(index[(i, j)], index[(i, j + 1)]) for (i, j) in cells if j + 1 < n]
    centroids = np.array([(i + 0.5, j + 0.5) for i, j in cells])
    return np.ones(len(cells)), np.full(len(cells), 4.0), np.array(pairs), np.ones(len(pairs)), centroids


def connected(labels, pairs, part):
    members = set(np.flatnonzero(labels == part))
    start = members.pop()
    seen, stack = {start}, [start]
    while stack:
        i = stack.pop()
        for a, b in pairs:
            for x, y in ((a, b), (b, a)):
                if x == i and y in members and y not in seen:
                    seen.add(y)
                    stack.append(y)
    return len(seen) == len(members) + 1


# ------------------------------------------------------------------ measures
@pytest.mark.parametrize(
    "geom, expected",
    [
        (shapely.box(0, 0, 1, 1), math.pi / 4),
        (shapely.box(0, 0, 3, 1), 4 * math.pi * 3 / 64),
        (shapely.Point(0, 0).buffer(1, quad_segs=256), 1.0),
        (shapely.Polygon(), np.nan),
        (None, np.nan),
    ],
)
def test_polsby_popper(geom, expected):
    assert polsby_popper([geom])[0] == pytest.approx(expected, abs=1e-4, nan_ok=True)


@pytest.mark.parametrize(
    "households, target, expected",
    [(1600, (300, 500), 4), (1000, (300, 500), 2), (1200, (300, 500), 3), (100, (300, 500), 1), (0, (300, 500), 1),
     (650, (300, 500), 2), (30, (5, 15), 3)],
)
def test_choose_k(households, target, expected):
    assert choose_k(households, target) == expected


def test_buildings_count_each_household_once_at_its_first_location():
    residents = pd.DataFrame({"x": [0, 0, 1, 1, 2], "y": [0, 0, 0, 0, 0],
                              "household_id": ["a", "b", "a", "c", "a"]})
    buildings = buildings_from_residents(residents)
    assert buildings["households"].tolist() == [2, 1, 0]
    assert buildings["households"].sum() == residents["household_id"].nunique()
    assert buildings_from_residents(residents.iloc[:0])["households"].sum() == 0


# ------------------------------------------------------------------ the model
def test_model_finds_the_four_squares_of_a_lattice():
    weights, perimeters, pairs, shared, centroids = lattice(4)
    model = BalanceModel(weights, np.ones(16), perimeters, pairs, shared, centroids, 4, (4, 4), gamma=0.5,
                         time_limit=2.0).solve()
    assert sorted(model.households_.tolist()) == [4, 4, 4, 4]
    assert model.cost_ == pytest.approx(4 * 0.5 * (1 - math.pi / 4) ** 2)
    np.testing.assert_allclose(model.compactness_, math.pi / 4)


def test_model_splits_a_chain_into_equal_halves():
    weights = np.array([5, 1, 1, 1, 1, 5.0])
    pairs = np.array([(i, i + 1) for i in range(5)])
    centroids = np.column_stack([np.arange(6) + 0.5, np.full(6, 0.5)])
    model = BalanceModel(weights, np.ones(6), np.full(6, 4.0), pairs, np.ones(5), centroids, 2, (7, 7),
                         time_limit=2.0).solve()
    assert model.households_.tolist() in ([7, 7],)
    assert len(set(model.labels_[:3])) == 1 and len(set(model.labels_[3:])) == 1
    assert model.cost_ == pytest.approx(2 * 2.0 * (1 - 4 * math.pi * 3 / 64) ** 2)


def test_model_parts_are_connected_and_within_range():
    rng = np.random.default_rng(4)
    weights, perimeters, pairs, shared, centroids = lattice(8)
    weights = rng.integers(0, 10, 64).astype(float)
    total = weights.sum()
    model = BalanceModel(weights, np.ones(64), perimeters, pairs, shared, centroids, 5,
                         (0.85 * total / 5, 1.15 * total / 5), time_limit=2.0).solve()
    for part in range(5):
        assert connected(model.labels_, pairs, part)
    assert ((model.households_ >= 0.85 * total / 5) & (model.households_ <= 1.15 * total / 5)).all()


def test_model_refuses_more_parts_than_cells():
    weights, perimeters, pairs, shared, centroids = lattice(2)
    with pytest.raises(GridMapError, match="cannot make 5 parts from 4 cells"):
        BalanceModel(weights, np.ones(4), perimeters, pairs, shared, centroids, 5, (1, 1))


# ------------------------------------------------------------------ proposals on a project
def test_balance_proposal_meets_the_target_and_applies_cleanly(dense):
    editor = GridEditor(dense)
    total = int(Project(dense).read("grids")["households"].sum())
    proposal = editor.propose_balance(C1, target=(300, 500))
    assert proposal.k == choose_k(total, (300, 500)) == 4
    assert proposal.feasible and sum(proposal.households) == total
    assert all(300 <= h <= 500 for h in proposal.households)
    assert proposal.quality_after["buildings_cut"] == 0
    assert proposal.quality_before["grids"] == 9 and proposal.quality_before["within_target"] == 0
    assert all(g.geom_type == "Polygon" for g in proposal.geometries)
    assert proposal.quality_after["compactness_min"] > 0.4
    json.dumps(proposal.to_dict())
    assert "households per grid after" in proposal.report()
    before = grid_layer_bytes(dense)
    result = editor.apply_balance(proposal)
    project = Project(dense)
    grids = project.read("grids")
    assert len(grids) == 4 and sorted(grids["households"]) == sorted(proposal.households)
    assert sorted(grids["grid_code"]) == sorted(result.changed)
    assert validate_grids(grids, project.read("communities")).ok
    assert shapely.coverage_is_valid(grids.geometry.values)
    fresh = recount(grids, project.read("residents", columns=["grid_code", "household_id", "age"]))
    assert fresh["households"].tolist() == grids["households"].tolist()
    editor.undo()
    after_undo = grid_layer_bytes(dense)
    pd.testing.assert_frame_equal(after_undo[0], before[0])
    assert (after_undo[1] == before[1]).all()


def test_locked_grids_are_untouched_by_balance(dense):
    editor = GridEditor(dense)
    editor.lock([CODES[8]])  # a project lock, plus one given to the balance
    before = Project(dense).read("grids").set_index("grid_code")
    proposal = editor.propose_balance(C1, k=3, target=(300, 500), locked=[CODES[0]])
    assert proposal.locked == [CODES[0], CODES[8]]
    editor.apply_balance(proposal)
    after = Project(dense).read("grids").set_index("grid_code")
    for code in (CODES[0], CODES[8]):
        assert shapely.to_wkb(after.geometry[code]) == shapely.to_wkb(before.geometry[code])
        pd.testing.assert_series_equal(after.drop(columns="geometry").loc[code],
                                       before.drop(columns="geometry").loc[code])
    assert len(after) == 5
    project = Project(dense)
    assert validate_grids(project.read("grids"), project.read("communities")).ok


def test_infeasible_counts_say_how_many_households_are_short_or_over(dense):
    editor = GridEditor(dense)
    total = int(Project(dense).read("grids")["households"].sum())
    with pytest.raises(InfeasibleBalance, match=rf"need at least 3000; community {C1} has {total} \({3000 - total} short\)"):
        editor.propose_balance(C1, k=10, target=(300, 500))
    with pytest.raises(InfeasibleBalance, match=rf"hold at most 500; .* \({total - 500} over\)"):
        editor.propose_balance(C1, k=1, target=(300, 500))
    with pytest.raises(GridMapError, match="every grid of community"):
        editor.propose_balance(C1, locked=CODES)
    with pytest.raises(GridMapError, match="is not in community"):
        editor.propose_balance(C1, locked=["420502001002001"])


def test_a_stale_proposal_is_refused(dense):
    editor = GridEditor(dense)
    proposal = editor.propose_balance(C1, target=(300, 500))
    editor.merge([CODES[0], CODES[1]])
    with pytest.raises(GridMapError, match="changed since the proposal"):
        editor.apply_balance(proposal)


def test_balance_on_a_demo_community_is_within_a_range_relative_to_its_households(project_copy):
    grids = Project(project_copy).read("grids")
    totals = grids.groupby("community_code")["households"].sum()
    community = totals.idxmax()
    k = 3
    mean = totals[community] / k
    target = (0.7 * mean, 1.3 * mean)
    editor = GridEditor(project_copy)
    proposal = editor.propose_balance(community, k=k, target=target)
    assert proposal.feasible, proposal.report()
    assert all(target[0] <= h <= target[1] for h in proposal.households)
    assert proposal.quality_after["spread"] < proposal.quality_before["spread"] + mean
    editor.apply_balance(proposal)
    project = Project(project_copy)
    assert validate_grids(project.read("grids"), project.read("communities")).ok
    members = project.read("grids", where=f"community_code = '{community}'")
    assert len(members) == k and members["households"].sum() == totals[community]


def test_cli_balance_prints_the_comparison_and_applies_with_locks(dense, capsys):
    assert main(["grid", "balance", str(dense), C1, "--target", "300-500", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["applied"] is False and out["feasible"] is True and out["k"] == 4
    assert len(Project(dense).read("grids")) == 9
    assert main(["grid", "balance", str(dense), C1, "--grids", "3", "--lock", CODES[4], "--apply"]) == 0
    text = capsys.readouterr().out
    assert "compactness mean (Polsby-Popper)" in text and "balance " in text
    assert CODES[4] in set(Project(dense).read("grids")["grid_code"])
    assert main(["grid", "balance", str(dense), C1, "--target", "500-300"]) == 2
    assert "LOW <= HIGH" in capsys.readouterr().err


def test_balance_reports_progress_and_can_be_cancelled(dense):
    editor = GridEditor(dense)
    steps = []
    editor.propose_balance(C1, progress=lambda fraction, message: steps.append(fraction))
    assert steps and steps[-1] == 1.0 and steps == sorted(steps)
    with pytest.raises(GridMapError, match="balance cancelled"):
        editor.propose_balance(C1, cancelled=lambda: True)
