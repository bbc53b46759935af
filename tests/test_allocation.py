"""Facility allocation and location models (issue 5 §5).

Known optima come from brute-force enumeration inside the tests, never from the
solver under test; the OR-Library instance pmed1 checks the published optimum.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
from pathlib import Path

import numpy as np
import pytest

from gridmap.care.allocation import (
    InfeasibleAllocation,
    ModelSpecificationError,
    SolveCancelled,
    Transportation,
)
from gridmap.care.location import CapacitatedPMedian, MaxCoverage, PMedian
from gridmap.errors import GridMapError

REPO = Path(__file__).resolve().parents[1]


def pmed_folder() -> Path:
    shared = os.environ.get("GRIDMAP_SHARED")
    if shared:
        return Path(shared) / "benchmarks" / "pmed"
    return Path(__file__).resolve().parents[2] / "shared/benchmarks/pmed"


def load_benchmark_module():
    """The benchmark script holds the one OR-Library reader; import it by path."""
    spec = importlib.util.spec_from_file_location(
        "pmedian_orlib", REPO / "benchmarks" / "pmedian_orlib.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_instance(seed, *, metric=True, forbid=0.0):
    """A small p-median instance: (cost, weights, p, forced)."""
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(4, 14)), int(rng.integers(3, 9))
    if metric:
        clients, sites = rng.random((m, 2)), rng.random((n, 2))
        cost = np.round(100 * np.linalg.norm(clients[:, None] - sites[None], axis=2))
    else:
        cost = rng.random((m, n)) * 10
    weights = rng.integers(0, 6, m).astype(float)
    weights[0] = 1.0
    p = int(rng.integers(1, n + 1))
    n_forced = int(rng.integers(0, min(p, 2) + 1))
    forced = np.sort(rng.choice(n, n_forced, replace=False))
    if forbid:
        cost[rng.random((m, n)) < forbid] = np.inf
        # Site 0 and the forced sites reach everyone, so some choice is feasible.
        keep = np.union1d([0], forced).astype(int)
        cost[:, keep] = np.where(np.isinf(cost[:, keep]), 50.0, cost[:, keep])
    return cost, weights, p, forced


def brute_pmedian(cost, weights, p, forced=()):
    best = np.inf
    for sites in itertools.combinations(range(cost.shape[1]), p):
        if not set(forced) <= set(sites):
            continue
        d = cost[:, list(sites)].min(axis=1)
        keep = weights > 0
        best = min(best, float((weights[keep] * d[keep]).sum()))
    return best


# ---------------------------------------------------------------------------
# Transportation


def brute_transportation(cost, demand, capacity):
    """Cheapest integer allocation by enumerating how each client splits its demand."""
    m, n = cost.shape

    def splits(total):
        for cut in itertools.combinations(range(total + n - 1), n - 1):
            bounds = (-1, *cut, total + n - 1)
            yield np.diff(bounds) - 1

    best = np.inf
    for combo in itertools.product(*(list(splits(int(d))) for d in demand)):
        flows = np.array(combo)
        if (flows.sum(axis=0) <= capacity).all():
            best = min(best, float((flows * cost).sum()))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_transportation_matches_enumeration(seed):
    rng = np.random.default_rng(seed)
    cost = rng.integers(1, 20, (3, 3)).astype(float)
    demand = rng.integers(1, 5, 3)
    capacity = rng.integers(1, 6, 3)
    capacity[0] += max(0, demand.sum() - capacity.sum())
    model = Transportation.from_cost_matrix(cost, demand, capacity).solve()
    assert model.objective == pytest.approx(brute_transportation(cost, demand, capacity))
    assert model.status == "optimal"
    assert (model.site_load <= capacity + 1e-9).all()
    assert np.asarray(model.flows.sum(axis=1)).ravel() == pytest.approx(demand)


def test_transportation_capacity_binds_and_splits_a_client():
    # Both clients prefer site 0, which holds only 10 of the 15 units.
    model = Transportation.from_cost_matrix([[1, 4], [1, 2]], [10, 5], [10, 100]).solve()
    assert model.flows.toarray().tolist() == [[10, 0], [0, 5]]
    assert model.objective == 20
    assert model.mean_dist == pytest.approx(20 / 15)
    assert model.assignment.tolist() == [0, 1]
    assert model.split_clients.size == 0
    split = Transportation.from_cost_matrix([[1, 4], [1, 2]], [12, 5], [10, 100]).solve()
    assert split.flows.toarray().tolist() == [[10, 2], [0, 5]]  # moving client 1 is cheaper
    assert split.split_clients.tolist() == [0]


def test_transportation_shortfall_message():
    model = Transportation.from_cost_matrix([[1, 2], [2, 1]], [700, 750], [600, 600])
    message = r"^capacity 1,200 falls short of demand 1,450 by 250$"
    with pytest.raises(InfeasibleAllocation, match=message):
        model.solve()


def test_transportation_unmet_penalty_reports_each_client():
    model = Transportation.from_cost_matrix(
        [[1, 9], [9, 1], [1, np.inf]], [700, 750, 10], [600, 600], unmet_penalty=100
    ).solve()
    assert model.unmet.sum() == pytest.approx(260)
    assert model.unmet[2] == 0  # the cheap client keeps its place
    assert (model.site_load <= 600 + 1e-9).all()


def test_transportation_pairs_that_cannot_carry_the_demand():
    cost = [[1, np.inf], [1, np.inf]]
    with pytest.raises(InfeasibleAllocation, match="not through the allowed client-site pairs"):
        Transportation.from_cost_matrix(cost, [5, 5], [6, 100]).solve()


def test_transportation_nearest_k_is_reported():
    model = Transportation.from_cost_matrix(
        [[1, 2, 3], [3, 2, 1]], [1, 1], [5, 5, 5], max_candidates_per_client=1
    ).solve()
    assert model.reduced
    assert model.assignment.tolist() == [0, 2]


# ---------------------------------------------------------------------------
# p-median


@pytest.mark.parametrize("method", ["auto", "tree", "mip"])
@pytest.mark.parametrize("seed", range(12))
def test_pmedian_matches_enumeration(seed, method):
    cost, weights, p, forced = random_instance(seed, metric=seed % 2 == 0,
                                               forbid=0.2 if seed % 3 == 0 else 0.0)
    model = PMedian.from_cost_matrix(cost, weights, p=p, forced=forced).solve(method=method)
    assert model.objective == pytest.approx(brute_pmedian(cost, weights, p, forced))
    assert model.status == "optimal"
    assert model.gap <= 1e-9
    assert model.open_sites.size == p
    assert set(forced) <= set(model.open_sites)
    served = model.assignment
    assert np.isin(served, model.open_sites).all()
    assert model.mean_dist == pytest.approx(model.objective / weights.sum())


def test_pmedian_needs_branching_on_a_fractional_instance():
    # Random non-metric costs often leave a gap at the root Lagrangian bound; take
    # the first such instance so that both the tree and the reduced MIP must work.
    rng = np.random.default_rng(7)
    best_gap_case = None
    for _ in range(40):
        cost = rng.integers(0, 30, (25, 12)).astype(float)
        weights = rng.integers(1, 9, 25).astype(float)
        model = PMedian.from_cost_matrix(cost, weights, p=4).solve(method="tree")
        if model.diagnostics.get("tree_nodes", 0) > 1:
            best_gap_case = (cost, weights, model)
            break
    assert best_gap_case is not None, "no instance needed branching"
    cost, weights, model = best_gap_case
    assert model.objective == pytest.approx(brute_pmedian(cost, weights, 4))
    mip = PMedian.from_cost_matrix(cost, weights, p=4).solve(method="mip")
    assert mip.objective == pytest.approx(model.objective)
    assert mip.status == "optimal" and "mip_levels" in mip.diagnostics


def test_forced_sites_stay_open_even_when_poor():
    cost = np.array([[0, 4, 9], [4, 0, 5], [9, 5, 0], [8, 4, 1]], float)
    free = PMedian.from_cost_matrix(cost, [2, 1, 1, 2], p=2).solve()
    assert free.open_sites.tolist() == [0, 2]
    forced = PMedian.from_cost_matrix(cost, [2, 1, 1, 2], p=2, forced=[1]).solve()
    assert 1 in forced.open_sites
    assert forced.objective == pytest.approx(brute_pmedian(cost, np.array([2, 1, 1, 2.0]), 2, [1]))
    mask = PMedian.from_cost_matrix(cost, p=3, forced=[True, True, True]).solve()
    assert mask.open_sites.tolist() == [0, 1, 2]


def test_pmedian_nearest_k_reduction_is_reported():
    cost, weights, p, _ = random_instance(3)
    model = PMedian.from_cost_matrix(cost, weights, p=p, max_candidates_per_client=2).solve()
    assert model.reduced
    assert "2 nearest candidate sites" in model.reduction
    assert "reduced" in model.summary()
    full = PMedian.from_cost_matrix(cost, weights, p=p).solve()
    assert not full.reduced and full.reduction is None
    assert model.objective >= full.objective - 1e-9


def test_pmedian_reduction_that_strands_a_client():
    cost = [[1, 2, 3], [1, 2, 3], [3, 2, 1]]
    model = PMedian.from_cost_matrix(cost, p=1, max_candidates_per_client=1)
    with pytest.raises(InfeasibleAllocation, match="no choice of p sites"):
        model.solve()


def test_pmed1_reaches_the_published_optimum():
    folder = pmed_folder()
    if not (folder / "pmed1.txt").exists():
        pytest.skip(f"OR-Library pmed1 not found in {folder} (set GRIDMAP_SHARED)")
    cost, p = load_benchmark_module().read_instance(folder / "pmed1.txt")
    model = PMedian.from_cost_matrix(cost, p=p).solve()
    assert (cost.shape, p) == ((100, 100), 5)
    assert model.objective == 5819
    assert model.lower_bound == 5819
    assert model.status == "optimal"


def test_progress_and_cancel():
    cost, weights, p, _ = random_instance(4)
    seen = []
    PMedian.from_cost_matrix(cost, weights, p=p).solve(progress=lambda f, msg: seen.append(f))
    assert seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen)
    with pytest.raises(SolveCancelled, match="cancelled"):
        PMedian.from_cost_matrix(cost, weights, p=p).solve(cancelled=lambda: True)


# ---------------------------------------------------------------------------
# Maximal covering


def brute_mclp(cost, weights, p, radius, forced=()):
    best = -np.inf
    cover = cost <= radius
    for sites in itertools.combinations(range(cost.shape[1]), p):
        if set(forced) <= set(sites):
            best = max(best, float(weights[cover[:, list(sites)].any(axis=1)].sum()))
    return best


@pytest.mark.parametrize("seed", range(10))
def test_mclp_matches_enumeration(seed):
    cost, weights, p, forced = random_instance(seed)
    radius = float(np.median(cost))
    model = MaxCoverage.from_cost_matrix(cost, weights, p=p, radius=radius, forced=forced).solve()
    assert model.objective == pytest.approx(brute_mclp(cost, weights, p, radius, forced))
    assert model.status == "optimal"
    assert model.open_sites.size == p and set(forced) <= set(model.open_sites)
    assert model.covered.tolist() == (cost[:, model.open_sites] <= radius).any(axis=1).tolist()
    assert model.coverage == pytest.approx(model.objective / weights.sum())


def test_mclp_when_the_forced_site_covers_everyone():
    model = MaxCoverage.from_cost_matrix([[1, 5], [1, 5]], p=2, radius=2, forced=[0]).solve()
    assert model.objective == 2 and model.open_sites.tolist() == [0, 1]


# ---------------------------------------------------------------------------
# Capacitated p-median


def brute_capacitated(cost, weights, capacities, p, forced=(), single_source=False):
    best = np.inf
    m, n = cost.shape
    for sites in itertools.combinations(range(n), p):
        if not set(forced) <= set(sites):
            continue
        sites = list(sites)
        if single_source:
            for assign in itertools.product(sites, repeat=m):
                load = np.bincount(assign, weights=weights, minlength=n)
                if (load <= capacities + 1e-9).all():
                    best = min(best, float((weights * cost[np.arange(m), assign]).sum()))
        else:
            caps = np.where(np.isin(np.arange(n), sites), capacities, 0.0)
            if caps.sum() < weights.sum():
                continue
            lp = Transportation.from_cost_matrix(cost, weights, caps).solve()
            best = min(best, lp.objective)
    return best


@pytest.mark.parametrize("single_source", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_capacitated_pmedian_matches_enumeration(seed, single_source):
    rng = np.random.default_rng(100 + seed)
    m, n = 6, 4
    cost = rng.integers(1, 30, (m, n)).astype(float)
    weights = rng.integers(1, 5, m).astype(float)
    capacities = rng.integers(4, 12, n).astype(float)
    p = int(rng.integers(2, 4))
    forced = [int(rng.integers(n))] if seed % 2 else []
    expected = brute_capacitated(cost, weights, capacities, p, forced, single_source)
    model = CapacitatedPMedian.from_cost_matrix(
        cost, weights, capacities, p=p, forced=forced, single_source=single_source
    )
    if not np.isfinite(expected):
        with pytest.raises(InfeasibleAllocation):
            model.solve()
        return
    model.solve()
    assert model.objective == pytest.approx(expected)
    assert model.status == "optimal"
    assert (model.site_load <= capacities + 1e-6).all()
    assert set(forced) <= set(model.open_sites) and model.open_sites.size == p
    assert np.asarray(model.flows.sum(axis=1)).ravel() == pytest.approx(weights)
    if single_source:
        assert (np.diff(model.flows.indptr) == 1).all()


def test_capacitated_shortfall_message():
    model = CapacitatedPMedian.from_cost_matrix(
        [[1, 2, 3]] * 3, [500, 500, 450], [600, 300, 250], p=2
    )
    message = r"^capacity 900 \(the 2 largest sites\) falls short of demand 1,450 by 550$"
    with pytest.raises(InfeasibleAllocation, match=message):
        model.solve()


def test_capacitated_unmet_penalty():
    model = CapacitatedPMedian.from_cost_matrix(
        [[1, 2], [2, 1]], [10, 10], [8, 8], p=1, unmet_penalty=50
    ).solve()
    assert model.unmet.sum() == pytest.approx(12)
    assert model.site_load.max() == pytest.approx(8)
    assert model.objective == pytest.approx(model.travel_cost + 50 * 12)


# ---------------------------------------------------------------------------
# Mis-specified models


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: PMedian.from_cost_matrix(np.zeros((3, 0)), p=1),
         r"^no candidate sites: the cost matrix has no site columns$"),
        (lambda: PMedian.from_cost_matrix(np.ones((3, 2)), p=3),
         r"^p=3 exceeds the 2 candidate sites$"),
        (lambda: PMedian.from_cost_matrix(np.ones((3, 4)), p=1, forced=[0, 2]),
         r"^p=1 is smaller than the 2 forced sites$"),
        (lambda: PMedian.from_cost_matrix(np.zeros((0, 4)), p=1),
         r"^empty demand: the cost matrix has no client rows$"),
        (lambda: PMedian.from_cost_matrix(np.ones((2, 2)), [0, 0], p=1),
         r"^empty demand: all client weights are zero$"),
        (lambda: PMedian.from_cost_matrix([[1, np.nan], [2, 3]], p=1),
         r"^cost matrix has 1 NaN cost\(s\), first at client 0, site 1; use inf"),
        (lambda: MaxCoverage.from_cost_matrix(np.ones((3, 2)), p=5, radius=1),
         r"^p=5 exceeds the 2 candidate sites$"),
        (lambda: CapacitatedPMedian.from_cost_matrix(np.ones((2, 2)), [1, 1], [1, 1], p=0),
         r"^p must be a positive integer, got 0$"),
        (lambda: PMedian.from_cost_matrix(np.ones((2, 2)), [1, 2, 3], p=1),
         r"^weights has 3 values but the cost matrix has 2 client rows$"),
        (lambda: PMedian.from_cost_matrix(np.ones((2, 2)), p=1, forced=[5]),
         r"^forced site 5 is not a column of the cost matrix \(0..1\)$"),
        (lambda: Transportation.from_cost_matrix([[-1.0]], [1], [1]),
         r"^cost matrix has negative cost -1 at client 0, site 0$"),
    ],
)
def test_errors_are_one_line_gridmap_errors(build, message):
    with pytest.raises(ModelSpecificationError, match=message) as info:
        build()
    assert isinstance(info.value, GridMapError)
    assert "\n" not in str(info.value)


def test_unreachable_client_is_named():
    with pytest.raises(InfeasibleAllocation, match="first client 1"):
        PMedian.from_cost_matrix([[1, 2], [np.inf, np.inf]], p=1).solve()


def test_capacitated_time_limit_keeps_a_feasible_solution():
    rng = np.random.default_rng(5)
    clients, sites = rng.random((60, 2)), rng.random((12, 2))
    cost = np.linalg.norm(clients[:, None] - sites[None], axis=2)
    weights = rng.integers(1, 9, 60).astype(float)
    capacities = np.full(12, weights.sum() / 3)
    # A tiny budget: HiGHS may stop before any solution; the heuristic one is kept.
    model = CapacitatedPMedian.from_cost_matrix(cost, weights, capacities, p=4, forced=[2])
    model.solve(time_limit=1e-3)
    assert model.status in ("time_limit", "optimal")
    assert model.open_sites.size == 4 and 2 in model.open_sites
    assert (model.site_load <= capacities + 1e-6).all()
    assert np.asarray(model.flows.sum(axis=1)).ravel() == pytest.approx(weights)
    assert 0 <= model.lower_bound <= model.objective
    exact = CapacitatedPMedian.from_cost_matrix(
        cost, weights, capacities, p=4, forced=[2]
    ).solve()
    assert exact.status == "optimal"
    assert exact.objective <= model.objective + 1e-6
