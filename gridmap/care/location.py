"""Choose where to open facilities: p-median, maximal covering and capacitated p-median.

Issue 5 §5. Each model is a class in the manner of spopt: build it with
``from_cost_matrix(...)``, call ``solve()`` (which returns the model), read the
results from attributes (``open_sites``, ``assignment``, ``objective``,
``mean_dist``, ``gap``, ``status``, ``solve_seconds``).

Every model is solved to proven optimality with HiGHS (:func:`scipy.optimize.milp`)
unless a time limit stops it first; then ``status`` is ``"time_limit"`` and ``gap``
is the relative distance between the best solution and the best proven bound.

The p-median solver does not hand the textbook :math:`n^2` formulation to the MIP
solver. It works in stages, each of which may already prove optimality:

1. a greedy start improved by best-improvement vertex substitution (Teitz and Bart
   1968), evaluated for all swaps at once in the manner of Resende and Werneck
   (2007), gives an incumbent;
2. the Lagrangian relaxation of the assignment constraints (Beasley 1993), optimised
   by subgradient steps, gives lower bounds; reduced-cost tests fix sites open or
   closed, and cap each client's cost, whenever the opposite would push the bound
   past the incumbent; the bound's own site set, polished by swaps, often improves
   the incumbent;
3. what gap remains is closed by a depth-first branch and bound over the sites
   left free, with the same Lagrangian bound and fixing at every node;
4. should the tree grow past a node limit, the free sites go into the compact
   formulation of Elloumi (2010) over each client's sorted distinct costs, written
   as a chain so that it has :math:`O(\text{pairs})` non-zeros, and HiGHS solves
   that reduced MIP exactly.

Optimality is proven, not matched to a known value: the reported ``lower_bound``
comes from the Lagrangian bound, the exhausted tree or the MIP's dual bound. With
integer weighted costs the proof is exact (no solution better by one unit exists);
otherwise to a relative 1e-9.

Costs are any non-negative travel cost; ``inf`` marks a pair that is not allowed.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from gridmap.care.allocation import (
    InfeasibleAllocation,
    ModelSpecificationError,
    Progress,
    Transportation,
    check_capacities,
    check_cost_matrix,
    check_positive_int,
    check_weights,
    format_amount,
    largest_share,
    nearest_k_mask,
    unreachable_clients_error,
)
from gridmap.errors import GridMapError

__all__ = ["PMedian", "MaxCoverage", "CapacitatedPMedian"]

# Relative optimality tolerance for data that are not integers; with integer weighted
# costs the solvers prove exact optimality (no solution better by one unit).
_REL_TOL = 1e-9
# Nodes the p-median branch and bound may use before handing over to the HiGHS MIP
# (method="auto"); the OR-Library instances pmed1-20 need fewer than 100.
_TREE_NODE_LIMIT = 3000


# ---------------------------------------------------------------------------
# Checks shared by the three models


def _check_forced(forced, n_sites) -> np.ndarray:
    """Return forced site indices (sorted, unique) from indices or a boolean mask."""
    if forced is None:
        return np.zeros(0, dtype=int)
    if hasattr(forced, "to_numpy"):
        forced = forced.to_numpy()
    arr = np.asarray(forced)
    if arr.dtype == bool:
        if arr.size != n_sites:
            raise ModelSpecificationError(
                f"forced mask has {arr.size} values but there are {n_sites} candidate sites"
            )
        return np.flatnonzero(arr)
    arr = arr.ravel()
    if arr.size == 0:
        return np.zeros(0, dtype=int)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ModelSpecificationError(
            f"forced must be site indices (integers) or a boolean mask, got dtype {arr.dtype}"
        )
    bad = (arr < 0) | (arr >= n_sites)
    if bad.any():
        raise ModelSpecificationError(
            f"forced site {int(arr[bad][0])} is not a column of the cost matrix "
            f"(0..{n_sites - 1})"
        )
    return np.unique(arr).astype(int)


def _check_p(p, n_sites, n_forced) -> int:
    p = check_positive_int(p, "p")
    if p > n_sites:
        raise ModelSpecificationError(f"p={p} exceeds the {n_sites} candidate sites")
    if p < n_forced:
        raise ModelSpecificationError(f"p={p} is smaller than the {n_forced} forced sites")
    return p


def _is_integral(values) -> bool:
    """True when every finite value is an integer small enough to add up exactly."""
    finite = values[np.isfinite(values)]
    return bool(
        finite.size == 0
        or (np.all(finite == np.round(finite)) and finite.sum() < 2.0**52)
    )


def _milp_outcome(res):
    """Return (status, x, objective, dual_bound) from a scipy milp result."""
    if res.status == 2:
        return "infeasible", None, None, None
    if res.x is None:
        if res.status == 1:
            bound = getattr(res, "mip_dual_bound", None)
            bound = float(bound) if bound is not None and np.isfinite(bound) else None
            return "time_limit", None, None, bound
        raise GridMapError(f"HiGHS failed: {res.message}")
    status = "optimal" if res.status == 0 else "time_limit"
    bound = getattr(res, "mip_dual_bound", None)
    if bound is None or not np.isfinite(bound):
        bound = res.fun if status == "optimal" else -np.inf
    return status, res.x, float(res.fun), float(bound)


def _milp_options(clock, rel_gap):
    options = {"disp": False, "mip_rel_gap": rel_gap}
    if clock.remaining() is not None:
        options["time_limit"] = max(clock.remaining(), 1e-3)
    return options


class _LocationModel:
    """Attributes and summary shared by the location models."""

    kind = "location"

    def __init__(self, cost, weights, p, forced, allowed, k):
        self.cost = cost
        self.weights = weights
        self.p = p
        self.forced = forced
        self.allowed = allowed
        self.max_candidates_per_client = k
        self.reduced = k is not None and k < cost.shape[1]
        self.open_sites = None
        self.assignment = None
        self.objective = None
        self.lower_bound = None
        self.mean_dist = None
        self.gap = None
        self.status = "unsolved"
        self.solve_seconds = None
        self.diagnostics = {}

    @property
    def reduction(self) -> str | None:
        """A sentence describing the nearest-k reduction, or None when none was used."""
        if not self.reduced:
            return None
        return (
            f"each client restricted to its {self.max_candidates_per_client} nearest "
            "candidate sites (forced sites always allowed); the optimum is that of the "
            "reduced model"
        )

    def _assign_nearest(self, open_sites):
        """Assign every client to its nearest open allowed site (-1 if none)."""
        sub = np.where(self.allowed[:, open_sites], self.cost[:, open_sites], np.inf)
        best = sub.argmin(axis=1)
        assignment = open_sites[best]
        dist = sub[np.arange(sub.shape[0]), best]
        assignment[~np.isfinite(dist)] = -1
        return assignment, dist

    def _finish_gap(self):
        if self.objective is None or self.lower_bound is None:
            self.gap = float("nan")
        elif self.objective == 0:
            self.gap = 0.0
        else:
            self.gap = max(0.0, abs(self.objective - self.lower_bound) / abs(self.objective))

    def summary(self) -> str:
        """One line: model, status, objective, gap, time and any reduction."""
        text = (
            f"{self.kind}: p={self.p}, {self.status}, objective {self.objective:,.6g}, "
            f"gap {self.gap:.2%}, {self.solve_seconds:.2f} s"
        )
        if self.reduced:
            text += f"; {self.reduction}"
        return text


# ---------------------------------------------------------------------------
# p-median machinery on weighted costs (clients x sites, inf = forbidden)


def _nearest_two(wcm, open_idx):
    """Nearest and second-nearest open cost per client, and the nearest's position."""
    sub = wcm[:, open_idx]
    two = np.argpartition(sub, 1, axis=1)[:, :2]
    rows = np.arange(sub.shape[0])
    a, b = sub[rows, two[:, 0]], sub[rows, two[:, 1]]
    first = np.where(a <= b, two[:, 0], two[:, 1])
    return np.minimum(a, b), first, np.maximum(a, b)


def _greedy(wcm, r, open_fixed, candidates, start_cost):
    """Add ``r`` sites from ``candidates`` one by one, each the largest saving."""
    d = start_cost.copy() if open_fixed.size == 0 else np.minimum(
        start_cost, wcm[:, open_fixed].min(axis=1)
    )
    chosen = []
    pool = candidates.copy()
    for _ in range(r):
        saving = np.maximum(d[:, None] - wcm[:, pool], 0.0).sum(axis=0)
        k = int(saving.argmax())
        chosen.append(pool[k])
        d = np.minimum(d, wcm[:, pool[k]])
        pool = np.delete(pool, k)
    return np.array(chosen, dtype=int)


def _interchange(wcm, open_idx, movable, candidates, clock):
    """Best-improvement vertex substitution; returns the local optimum's open sites.

    ``movable`` marks which positions of ``open_idx`` may be swapped out;
    ``candidates`` are the sites that may be swapped in. For a swap of ``j`` in and
    ``r`` out the change in cost is ``-gain[j] + loss[r] - extra[r, j]`` with the
    client sums of Resende and Werneck (2007), all evaluated at once per pass.
    """
    open_idx = open_idx.copy()
    n_open = open_idx.size
    if n_open < 2 or not movable.any():
        return open_idx
    tol = 1e-12 * max(1.0, float(np.abs(wcm).max()))
    while True:
        clock(None, "improving the incumbent by site swaps")
        d1, owner, d2 = _nearest_two(wcm, open_idx)
        closed = np.setdiff1d(candidates, open_idx)
        if closed.size == 0:
            return open_idx
        sub = wcm[:, closed]
        s1 = np.maximum(d1[:, None] - sub, 0.0)
        gain = s1.sum(axis=0)
        extra_rows = np.maximum(d2[:, None] - sub, 0.0) - s1
        order = np.argsort(owner, kind="stable")
        counts = np.bincount(owner, minlength=n_open)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        extra = np.zeros((n_open, closed.size))
        has = counts > 0
        if has.any():
            extra[has] = np.add.reduceat(extra_rows[order], starts[has], axis=0)
        loss = np.bincount(owner, weights=d2 - d1, minlength=n_open)
        delta = loss[:, None] - gain[None, :] - extra
        delta[~movable] = np.inf
        r, j = np.unravel_index(int(delta.argmin()), delta.shape)
        if not delta[r, j] < -tol:
            return open_idx
        open_idx[r] = closed[j]


def _cost_of(wcm, open_idx):
    return float(wcm[:, open_idx].min(axis=1).sum())


class _DualResult:
    """What one run of :func:`_lagrangian_dual` found (see there)."""

    __slots__ = ("lb", "lam", "y", "ybar", "fixed0", "fixed1", "ceiling", "ub",
                 "incumbent", "pruned", "iterations")

    def __init__(self, **kwargs):
        for key, value in kwargs.items():
            setattr(self, key, value)


def _lagrangian_dual(w, p, lam, fixed0, fixed1, ub, incumbent, target_of, *, max_iter, f,
                     stall_limit, f_min, clock=None, ceilings=False):
    """Subgradient optimisation of the p-median Lagrangian dual, with fixing.

    Relaxing :math:`\\sum_j x_{ij} = 1` with multipliers :math:`\\lambda_i` gives
    :math:`L(\\lambda) = \\sum_i \\lambda_i + \\min_{|S|=p} \\sum_{j\\in S} \\rho_j`,
    :math:`\\rho_j = \\sum_i \\min(0, w_{ij} - \\lambda_i)`, so the subproblem opens the
    ``p`` smallest :math:`\\rho_j` among the free sites besides those fixed open.
    Opening a site outside that set raises the bound by :math:`\\rho_j - \\rho_{(r)}`,
    closing one inside by :math:`\\rho_{(r+1)} - \\rho_j`, and serving client
    :math:`i` at cost :math:`c` by at least :math:`\\max(0, c - \\lambda_i)`. Whatever
    would push the bound past ``target_of(ub)`` is excluded from every improving
    solution: sites are fixed, and with ``ceilings`` each client gets a cost ceiling.
    Steps follow Held, Wolfe and Crowder: :math:`t = f (UB - L) / \\lVert g \\rVert^2`,
    with ``f`` halved after ``stall_limit`` iterations without a better bound.

    ``pruned`` is True when no improving solution exists under the given fixings
    (bound past the target, or the fixings leave no choice of ``p`` sites), or when
    the subproblem's solution is itself optimal for them.
    """
    m, n = w.shape
    fixed0, fixed1 = fixed0.copy(), fixed1.copy()
    ceiling = np.full(m, np.inf) if ceilings else None
    ybar = np.zeros(n)
    best_lb, best_lam, best_y = -np.inf, lam, None
    stall, pruned, it = 0, False, -1
    for it in range(max_iter):
        if clock is not None and it % 20 == 0:
            clock(0.1 + 0.5 * min(it / 600, 1.0), "bounding (Lagrangian relaxation)")
            if clock.remaining() == 0:
                break
        free = ~fixed0 & ~fixed1
        r = p - int(fixed1.sum())
        free_idx = np.flatnonzero(free)
        if r < 0 or r > free_idx.size:
            pruned = True
            break
        rho = np.minimum(w - lam[:, None], 0.0).sum(axis=0)
        if r == 0:
            chosen = np.zeros(0, dtype=int)
        elif r == free_idx.size:
            chosen = free_idx
        else:
            chosen = free_idx[np.argpartition(rho[free_idx], r - 1)[:r]]
        lb = lam.sum() + rho[fixed1].sum() + rho[chosen].sum()
        target = target_of(ub)
        if 0 < r < free_idx.size:
            in_chosen = np.zeros(n, bool)
            in_chosen[chosen] = True
            rest = free & ~in_chosen
            fixed0 |= rest & (lb + rho - rho[chosen].max() > target)
            fixed1 |= in_chosen & (lb - rho + rho[rest].min() > target)
        if ceilings and lb <= target:
            np.minimum(ceiling, lam + (target - lb), out=ceiling)
        y = np.concatenate([np.flatnonzero(fixed1 & ~np.isin(np.arange(n), chosen)), chosen])
        y.sort()
        ybar *= 0.9
        ybar[y] += 0.1
        if lb > best_lb + 1e-12 * abs(lb):
            best_lb, best_lam, best_y, stall = lb, lam, y, 0
        else:
            stall += 1
            if stall >= stall_limit:
                f, stall = f / 2.0, 0
        if best_lb > target:
            pruned = True
            break
        cost_y = float(w[:, y].min(axis=1).sum())
        if cost_y < ub - 1e-12 * abs(ub):
            ub, incumbent = cost_y, y
        if f < f_min:
            break
        g = 1.0 - (w[:, y] < lam[:, None]).sum(axis=1)
        norm = float(g @ g)
        if norm == 0:
            # The subproblem's sites serve every client exactly once: optimal here.
            pruned = True
            break
        lam = lam + f * (ub - lb) / norm * g
    return _DualResult(
        lb=best_lb, lam=best_lam, y=best_y, ybar=ybar, fixed0=fixed0, fixed1=fixed1,
        ceiling=ceiling, ub=ub, incumbent=incumbent, pruned=pruned, iterations=it + 1,
    )


class _PMedianSolver:
    """Exact p-median on weighted costs ``wc`` (clients x sites, inf = forbidden)."""

    def __init__(self, wc, p, forced, clock, rel_gap, method="auto"):
        self.method = method
        self.wc = wc
        self.m, self.n = wc.shape
        self.p = p
        self.forced = forced
        self.clock = clock
        self.integral = _is_integral(wc)
        self.rel_gap = max(rel_gap, _REL_TOL)
        finite = np.isfinite(wc)
        rowmax = np.where(finite, wc, 0.0).max(axis=1)
        # A forbidden pair costs more than any feasible solution, so the penalised
        # problem has the same optima as the true one whenever one is feasible.
        self.big = float(rowmax.sum()) + 1.0
        self.wcm = np.where(finite, wc, self.big)
        self.info = {}

    # ---- tolerances
    def _step(self, ub):
        """Smallest improvement worth searching for below the incumbent ``ub``."""
        return 1.0 if self.integral else self.rel_gap * max(abs(ub), 1.0)

    def _margin(self, ub):
        return 1e-7 + 1e-12 * abs(ub)

    def proven_bound(self, bound, ub):
        """Turn a valid lower bound into the one to report (rounded up for integers)."""
        if self.integral:
            return float(math.ceil(bound - self._margin(ub)))
        return float(bound)

    # ---- stages
    def solve(self):
        clock, forced = self.clock, self.forced
        free = np.setdiff1d(np.arange(self.n), forced)
        r = self.p - forced.size
        clock(0.0, "building a starting solution")
        if r == 0:
            return self._result(forced, status="optimal", lb=None)
        if r == free.size:
            return self._result(np.arange(self.n), status="optimal", lb=None)
        start = np.full(self.m, 2.0 * self.big)
        base = start if forced.size == 0 else np.minimum(start, self.wcm[:, forced].min(1))
        if r == 1:
            # Exact by enumeration: one site to add.
            totals = np.minimum(base[:, None], self.wcm[:, free]).sum(axis=0)
            best = free[int(totals.argmin())]
            return self._result(np.append(forced, best), status="optimal", lb=None)

        chosen = _greedy(self.wcm, r, forced, free, start)
        open_idx = np.concatenate([forced, chosen])
        movable = np.r_[np.zeros(forced.size, bool), np.ones(r, bool)]
        clock(0.05, "improving the incumbent by site swaps")
        open_idx = _interchange(self.wcm, open_idx, movable, free, clock)
        ub = _cost_of(self.wcm, open_idx)
        self.info["heuristic_objective"] = ub

        root, ub, open_idx = self._lagrangian(open_idx, ub)
        lb = root.lb
        self.info["lagrangian_bound"] = lb
        self.info["fixed_closed"] = int(root.fixed0.sum())
        self.info["fixed_open"] = int(root.fixed1.sum())
        if lb > self._target(ub):
            return self._result(open_idx, status="optimal", lb=lb)
        if self.method in ("auto", "tree"):
            clock(0.65, "branch and bound")
            limit = _TREE_NODE_LIMIT if self.method == "auto" else None
            open_idx, ub, bound, done, nodes = self._tree_search(root, ub, open_idx, limit)
            self.info["tree_nodes"] = nodes
            if done:
                return self._result(open_idx, status="optimal", lb=self._excluded_below(ub))
            if self.method == "tree" or clock.remaining() == 0:
                return self._result(open_idx, status="time_limit", lb=max(lb, bound))
        return self._reduced_mip(open_idx, ub, lb, root.fixed0, root.fixed1, root.ceiling)

    def _lagrangian(self, open_idx, ub):
        """Bound at the root, fix sites, derive client ceilings, polish the incumbent."""
        n = self.n
        fixed0 = np.zeros(n, bool)
        fixed1 = np.zeros(n, bool)
        fixed1[self.forced] = True
        _, _, d2 = _nearest_two(self.wcm, open_idx)
        # Start from the second-nearest open cost: then each incumbent site's rho is
        # minus its clients' regret and the first bound is already close.
        out = _lagrangian_dual(
            self.wcm, self.p, d2, fixed0, fixed1, ub, open_idx, self._target,
            max_iter=3000, f=2.0, stall_limit=25, f_min=1e-3, clock=self.clock,
            ceilings=True,
        )
        self.info["lagrangian_iterations"] = out.iterations
        fixed0, fixed1, ub, open_idx = out.fixed0, out.fixed1, out.ub, out.incumbent
        # Polish the incumbent and the best bound's site set by swaps among the sites
        # that any improving solution may still use.
        candidates = np.flatnonzero(~fixed0)
        for start in (open_idx, out.y):
            if start is None or start.size != self.p:
                continue
            self.clock(0.6, "improving the incumbent by site swaps")
            improved = _interchange(self.wcm, start, ~fixed1[start], candidates, self.clock)
            value = _cost_of(self.wcm, improved)
            if value < ub:
                ub, open_idx = value, improved
        return out, ub, open_idx

    def _excluded_below(self, ub):
        """Bound proven once every solution better than ``ub`` by a step is excluded."""
        return ub if self.integral else ub - self._step(ub)

    def _target(self, ub):
        """Cost that an improving solution must not exceed (plus a rounding margin)."""
        return ub - self._step(ub) + self._margin(ub)

    def _tree_search(self, root, ub, open_idx, node_limit):
        """Depth-first branch and bound on free sites with Lagrangian bounds.

        Columns fixed closed at the root are dropped. Each node re-optimises the
        multipliers of its parent, fixes sites by reduced cost, and branches on the
        free site whose average use in the subproblem solutions (an estimate of its
        LP value) is closest to one half. Returns the incumbent, its cost, the best
        proven bound and whether the tree was exhausted.
        """
        cols = np.flatnonzero(~root.fixed0)
        w = self.wcm[:, cols]
        # The incumbent may use a site closed at the root (closed only for improving
        # solutions); the tree then starts without a local incumbent.
        inc_local = np.searchsorted(cols, open_idx) if np.isin(open_idx, cols).all() else None
        stack = [(root.fixed1[cols].copy(), np.zeros(cols.size, bool), root.lam, root.lb)]
        nodes = 0
        while stack:
            if (node_limit is not None and nodes >= node_limit) or (
                self.clock.remaining() is not None and self.clock.remaining() <= 0
            ):
                bound = min(item[3] for item in stack)
                return open_idx, ub, bound, False, nodes
            fixed1, fixed0, lam, parent_lb = stack.pop()
            if parent_lb > self._target(ub):
                continue
            nodes += 1
            if nodes % 10 == 0:
                self.clock(None, f"branch and bound: {nodes} nodes")
            out = _lagrangian_dual(
                w, self.p, lam, fixed0, fixed1, ub,
                inc_local if inc_local is not None else np.zeros(0, int), self._target,
                max_iter=250, f=0.5, stall_limit=8, f_min=5e-3, clock=None,
            )
            if out.ub < ub:
                ub, inc_local = out.ub, out.incumbent
                open_idx = cols[inc_local]
            if out.pruned:
                continue
            free = ~out.fixed0 & ~out.fixed1
            score = np.where(free, np.abs(out.ybar - 0.5), np.inf)
            j = int(score.argmin())
            if not np.isfinite(score[j]):
                continue
            f0, f1 = out.fixed0.copy(), out.fixed1.copy()
            f0[j] = True
            f1b = out.fixed1.copy()
            f1b[j] = True
            # Push the likelier branch last so that it is explored first.
            children = [(f1, f0, out.lam, out.lb), (f1b, out.fixed0.copy(), out.lam, out.lb)]
            if out.ybar[j] >= 0.5:
                children.reverse()
            stack.extend(children)
        return open_idx, ub, None, True, nodes

    def _reduced_mip(self, open_idx, ub, lb, fixed0, fixed1, ceiling):
        """Solve the chain form of Elloumi's formulation over the sites left free.

        For client :math:`i`, let :math:`D_i^1 < \\dots < D_i^{K_i}` be the distinct
        costs to free sites below :math:`D_i^{K_i+1}`, its cost to the nearest site
        fixed open (infinite if none). With :math:`z_i^k = 1` when the client pays at
        least :math:`D_i^{k+1}`:

        .. math::

            \\min \\sum_i \\Big(D_i^1 + \\sum_k (D_i^{k+1}-D_i^k)\\, z_i^k\\Big)
            \\;\\text{s.t.}\\;
            z_i^{k-1} - z_i^{k} \\le \\sum_{j: c_{ij}=D_i^k} y_j,\\;
            z_i^0 = 1,\\; \\sum_j y_j = p - |O|,

        which has the LP bound of the classical formulation; when no site is fixed
        open the last :math:`z_i^{K_i}` is 0 (the client must be served).
        """
        clock = self.clock
        clock(0.65, "solving the reduced MIP")
        wc = self.wc
        free = np.flatnonzero(~fixed0 & ~fixed1)
        opened = np.flatnonzero(fixed1)
        r = self.p - opened.size
        if r <= 0 or free.size < r:
            # The fixings leave at most one choice: the sites fixed open.
            if r == 0 and _cost_of(self.wcm, opened) < ub:
                ub, open_idx = _cost_of(self.wcm, opened), opened
            return self._result(open_idx, status="optimal", lb=self._excluded_below(ub))
        if opened.size:
            cap = wc[:, opened].min(axis=1)
        else:
            cap = np.full(self.m, np.inf)
        # A client whose ceiling lies below its fixed-open cost must be served by a
        # free site within the ceiling in any improving solution.
        cap = np.where(cap <= ceiling, cap, np.inf)
        sub = wc[:, free]
        mask = (sub < cap[:, None]) & (sub <= ceiling[:, None])
        ii, jj = np.nonzero(mask)
        vv = sub[ii, jj]
        order = np.lexsort((vv, ii))
        ii, jj, vv = ii[order], jj[order], vv[order]
        new_client = np.r_[True, ii[1:] != ii[:-1]] if ii.size else np.zeros(0, bool)
        new_level = new_client | np.r_[True, vv[1:] != vv[:-1]] if ii.size else new_client
        level = np.cumsum(new_level) - 1
        n_levels = int(level[-1] + 1) if ii.size else 0
        lev_client = ii[new_level]
        lev_value = vv[new_level]
        lev_first = new_client[new_level]
        lev_last = np.r_[lev_first[1:], True] if n_levels else lev_first
        nxt = np.r_[lev_value[1:], 0.0] if n_levels else lev_value
        nxt = np.where(lev_last, cap[lev_client], nxt)
        coef = np.where(np.isfinite(nxt), nxt - lev_value, 0.0)
        z_ub = np.where(np.isfinite(nxt), 1.0, 0.0)
        has_levels = np.zeros(self.m, bool)
        has_levels[lev_client] = True
        if np.any(~has_levels & ~np.isfinite(cap)):
            # Some client can be served within its ceiling by no site: nothing
            # improves on the incumbent.
            return self._result(open_idx, status="optimal", lb=ub)
        constant = float(lev_value[lev_first].sum() + cap[~has_levels].sum())
        n_y = free.size
        # Rows: one per level. y_j (free position) enters the row of its level.
        rows_y = level
        cols_y = jj
        rows_z = np.arange(n_levels)
        cols_z = n_y + np.arange(n_levels)
        prev = ~lev_first
        rows_zp = np.flatnonzero(prev)
        cols_zp = n_y + rows_zp - 1
        a = sp.csr_array(
            (
                np.concatenate([np.ones(rows_y.size), np.ones(n_levels), -np.ones(rows_zp.size)]),
                (np.concatenate([rows_y, rows_z, rows_zp]),
                 np.concatenate([cols_y, cols_z, cols_zp])),
            ),
            shape=(n_levels, n_y + n_levels),
        )
        lower = lev_first.astype(float)
        card = sp.csr_array(
            (np.ones(n_y), (np.zeros(n_y, int), np.arange(n_y))), shape=(1, n_y + n_levels)
        )
        c = np.concatenate([np.zeros(n_y), coef])
        integrality = np.concatenate([np.ones(n_y), np.zeros(n_levels)])
        bounds = Bounds(np.zeros(n_y + n_levels), np.concatenate([np.ones(n_y), z_ub]))
        self.info["mip_sites"] = int(n_y)
        self.info["mip_levels"] = int(n_levels)
        res = milp(
            c,
            integrality=integrality,
            bounds=bounds,
            constraints=[LinearConstraint(a, lower, np.inf), LinearConstraint(card, r, r)],
            options=_milp_options(clock, 0.0 if self.integral else self.rel_gap),
        )
        status, x, fun, bound = _milp_outcome(res)
        if status == "infeasible":
            if ub < self.big:
                # Nothing better than the incumbent exists in the reduced region.
                return self._result(open_idx, status="optimal", lb=ub)
            raise InfeasibleAllocation(
                "no choice of p sites lets every client reach an allowed site"
            )
        if x is not None:
            value = fun + constant
            if value < ub - self._margin(ub):
                ub = value
                open_idx = np.concatenate([opened, free[x[:n_y] > 0.5]])
        region_bound = bound + constant if bound is not None and np.isfinite(bound) else lb
        # The region holds every solution better than the incumbent by a full step,
        # so outside it nothing beats ub - step (or ub itself for integer data).
        outside = self._excluded_below(ub)
        global_lb = max(lb, min(region_bound, outside))
        return self._result(open_idx, status=status, lb=global_lb)

    def _result(self, open_idx, *, status, lb):
        open_idx = np.unique(open_idx)
        ub = _cost_of(self.wcm, open_idx)
        if ub >= self.big:
            raise InfeasibleAllocation(
                "no choice of p sites lets every client reach an allowed site"
            )
        if lb is None:
            lb = ub
        lb = min(self.proven_bound(lb, ub), ub)
        return open_idx, ub, lb, status


class PMedian(_LocationModel):
    r"""p-median: open ``p`` sites to minimise the total weighted cost to the nearest.

    With client weights :math:`w_i`, costs :math:`c_{ij}`, site variables
    :math:`y_j \in \{0,1\}` and assignments :math:`x_{ij} \in [0,1]`:

    .. math::

        \min \sum_i \sum_j w_i c_{ij} x_{ij}
        \quad\text{s.t.}\quad \sum_j x_{ij} = 1 \;\forall i,\quad
        x_{ij} \le y_j,\quad \sum_j y_j = p,\quad y_j = 1 \;\forall j \in F,

    with :math:`F` the forced (existing) sites and :math:`x_{ij} = 0` on pairs that
    are not allowed (infinite cost, or outside a client's nearest ``k`` sites when
    ``max_candidates_per_client=k``). The solver (see the module docstring) proves
    optimality by a Lagrangian bound with reduced-cost fixing, then a Lagrangian
    branch and bound or an exact MIP on the sites left free. It works on the dense
    clients x sites matrix: thousands of clients and sites are fine, far more call
    for a time limit or the nearest-k reduction.

    Attributes
    ----------
    open_sites : ndarray of int
        Column indices of the open sites, sorted (forced sites included).
    assignment : ndarray of int, shape (clients,)
        The nearest open site of each client.
    distance : ndarray, shape (clients,)
        Each client's cost to its assigned site (unweighted).
    objective : float
        :math:`\sum_i w_i \min_{j \text{ open}} c_{ij}`.
    lower_bound : float
        Best proven lower bound; equals ``objective`` when ``status == "optimal"``.
    gap : float
        ``(objective - lower_bound) / objective``.
    mean_dist : float
        ``objective / sum(weights)``.
    status : str
        ``"optimal"`` or ``"time_limit"``.
    reduced : bool
        Whether the nearest-k reduction was in force; :attr:`reduction` says how.
    solve_seconds : float
    diagnostics : dict
        Heuristic objective, Lagrangian bound, sites fixed, size of the reduced MIP.

    Examples
    --------
    >>> cost = [[0, 4, 9], [4, 0, 5], [9, 5, 0], [8, 4, 1]]
    >>> model = PMedian.from_cost_matrix(cost, [2, 1, 1, 2], p=2).solve()
    >>> model.open_sites.tolist(), model.objective, model.status
    ([0, 2], 6.0, 'optimal')

    Forced sites stay open even when they are a poor choice:

    >>> PMedian.from_cost_matrix(cost, p=2, forced=[1]).solve().open_sites.tolist()
    [1, 2]
    """

    kind = "p-median"

    @classmethod
    def from_cost_matrix(
        cls, cost_matrix, weights=None, *, p, forced=None, max_candidates_per_client=None
    ):
        """Create a p-median model from a client x site cost matrix.

        Parameters
        ----------
        cost_matrix : array-like, shape (clients, sites)
            Travel cost; ``inf`` forbids a pair; NaN is an error.
        weights : array-like, shape (clients,), optional
            Demand of each client; ones when omitted.
        p : int
            Number of sites to open, forced sites included.
        forced : array-like of int or bool mask, optional
            Existing facilities that must stay open.
        max_candidates_per_client : int, optional
            Reduction: each client may use only its ``k`` nearest sites (plus forced
            sites). Smaller and faster, but the optimum is that of the reduced model;
            the model reports it in :attr:`reduced` and :attr:`reduction`.

        Returns
        -------
        PMedian

        Raises
        ------
        ModelSpecificationError
            No sites, no demand, NaN costs, or ``p`` outside ``[len(forced), sites]``.
        """
        cost = check_cost_matrix(cost_matrix)
        w = check_weights(weights, cost.shape[0])
        forced_idx = _check_forced(forced, cost.shape[1])
        p = _check_p(p, cost.shape[1], forced_idx.size)
        k = check_positive_int(
            max_candidates_per_client, "max_candidates_per_client", allow_none=True
        )
        allowed = nearest_k_mask(cost, k, keep=forced_idx)
        return cls(cost, w, p, forced_idx, allowed, k)

    def solve(
        self, time_limit=None, *, method="auto", mip_rel_gap=0.0, progress=None, cancelled=None
    ):
        """Solve to proven optimality (or until ``time_limit`` seconds).

        Parameters
        ----------
        time_limit : float, optional
            Wall-clock budget; the best solution and bound found are kept.
        method : {"auto", "tree", "mip"}
            How to close a gap left by the root Lagrangian bound: ``"tree"`` runs the
            Lagrangian branch and bound, ``"mip"`` hands the reduced compact model to
            HiGHS, ``"auto"`` runs the tree and hands over to HiGHS after
            3000 nodes.
        mip_rel_gap : float
            Relative gap at which to stop when the weighted costs are not integers
            (0 means 1e-9). Integer weighted costs are always proven exactly.
        progress : callable(fraction, message), optional
        cancelled : callable() -> bool, optional
            Polled between steps; when it returns True, :class:`SolveCancelled` is
            raised.

        Returns
        -------
        PMedian
            ``self``.

        Raises
        ------
        InfeasibleAllocation
            Some client cannot reach any allowed site, or no choice of ``p`` sites
            reaches them all.
        """
        if method not in ("auto", "tree", "mip"):
            raise ModelSpecificationError(
                f"method must be 'auto', 'tree' or 'mip', got {method!r}"
            )
        clock = Progress(progress, cancelled, time_limit)
        w = self.weights
        unreachable_clients_error(self.allowed, w, reduced=self.reduced)
        active = w > 0
        wc = np.where(self.allowed[active], self.cost[active] * w[active, None], np.inf)
        solver = _PMedianSolver(wc, self.p, self.forced, clock, mip_rel_gap, method)
        open_idx, ub, lb, status = solver.solve()
        self.open_sites = open_idx
        self.assignment, self.distance = self._assign_nearest(open_idx)
        self.objective = ub
        self.lower_bound = lb
        self.status = status
        self.mean_dist = ub / w.sum()
        self._finish_gap()
        self.diagnostics = solver.info
        self.solve_seconds = clock.elapsed()
        clock(1.0, "done")
        return self


# ---------------------------------------------------------------------------
# Maximal covering


class MaxCoverage(_LocationModel):
    r"""Maximal covering location (MCLP): open ``p`` sites to cover the most demand.

    Client :math:`i` is covered when an open site lies within ``radius``:
    :math:`N_i = \{j : c_{ij} \le R\}` (over allowed pairs). With site variables
    :math:`y_j \in \{0,1\}` and coverage :math:`z_i \in [0,1]`:

    .. math::

        \max \sum_i w_i z_i
        \quad\text{s.t.}\quad z_i \le \sum_{j\in N_i} y_j \;\forall i,\quad
        \sum_j y_j = p,\quad y_j = 1 \;\forall j \in F.

    Before HiGHS sees it the model is shrunk without changing its optimum: clients
    covered by a forced site count as covered, clients no site covers are dropped,
    and clients with the same set :math:`N_i` are merged with summed weights.
    Among equally good site sets HiGHS returns any one; distance plays no part.

    Attributes
    ----------
    open_sites : ndarray of int
    covered : ndarray of bool, shape (clients,)
        Whether each client has an open site within ``radius``.
    objective : float
        Covered demand :math:`\sum_i w_i z_i`.
    upper_bound : float
        Best proven bound on the covered demand (equals ``objective`` when optimal).
    coverage : float
        ``objective / sum(weights)``.
    gap : float
        ``(upper_bound - objective) / upper_bound``.
    assignment : ndarray of int
        Nearest open allowed site of each client, covered or not (-1 if none).
    distance : ndarray
        Cost from each client to that site.
    mean_dist : float
        Weighted mean of ``distance`` over clients with an assignment.
    status, solve_seconds, reduced
        As for :class:`PMedian`.

    Examples
    --------
    >>> cost = [[1, 9, 9], [2, 9, 9], [9, 1, 9], [9, 9, 1]]
    >>> model = MaxCoverage.from_cost_matrix(cost, [1, 1, 3, 2], p=2, radius=2).solve()
    >>> model.open_sites.tolist(), model.objective, model.covered.tolist()
    ([1, 2], 5.0, [False, False, True, True])
    """

    kind = "maximal covering"

    def __init__(self, cost, weights, p, forced, allowed, k, radius):
        super().__init__(cost, weights, p, forced, allowed, k)
        self.radius = radius
        self.covered = None
        self.coverage = None
        self.upper_bound = None

    @classmethod
    def from_cost_matrix(
        cls, cost_matrix, weights=None, *, p, radius, forced=None, max_candidates_per_client=None
    ):
        """Create a maximal covering model from a client x site cost matrix.

        Parameters
        ----------
        cost_matrix : array-like, shape (clients, sites)
            Travel cost; ``inf`` forbids a pair; NaN is an error.
        weights : array-like, shape (clients,), optional
            Demand of each client; ones when omitted.
        p : int
            Number of sites to open, forced sites included.
        radius : float
            A client is covered by a site at cost ``<= radius``.
        forced : array-like of int or bool mask, optional
            Existing facilities that must stay open.
        max_candidates_per_client : int, optional
            Reduction: a client can be covered only by its ``k`` nearest sites (plus
            forced sites); reported in :attr:`reduced`.

        Returns
        -------
        MaxCoverage
        """
        cost = check_cost_matrix(cost_matrix)
        w = check_weights(weights, cost.shape[0])
        forced_idx = _check_forced(forced, cost.shape[1])
        p = _check_p(p, cost.shape[1], forced_idx.size)
        k = check_positive_int(
            max_candidates_per_client, "max_candidates_per_client", allow_none=True
        )
        radius = float(radius)
        if not radius >= 0:
            raise ModelSpecificationError(f"radius must be a non-negative number, got {radius}")
        allowed = nearest_k_mask(cost, k, keep=forced_idx)
        return cls(cost, w, p, forced_idx, allowed, k, radius)

    def solve(self, time_limit=None, *, mip_rel_gap=0.0, progress=None, cancelled=None):
        """Solve with HiGHS to proven optimality (or until ``time_limit`` seconds).

        Returns
        -------
        MaxCoverage
            ``self``.
        """
        clock = Progress(progress, cancelled, time_limit)
        clock(0.0, "building the covering model")
        w = self.weights
        n_sites = self.cost.shape[1]
        cover = self.allowed & (self.cost <= self.radius)
        by_forced = cover[:, self.forced].any(axis=1) if self.forced.size else np.zeros(
            len(w), bool
        )
        free = np.setdiff1d(np.arange(n_sites), self.forced)
        r = self.p - self.forced.size
        base = float(w[by_forced].sum())
        open_sites = self.forced
        upper = None
        status = "optimal"
        rows = ~by_forced & (w > 0) & cover[:, free].any(axis=1)
        if r > 0 and rows.any():
            # Merge clients with identical coverage sets; their weights add up.
            patterns, inverse = np.unique(cover[np.ix_(rows, free)], axis=0, return_inverse=True)
            merged = np.bincount(inverse.ravel(), weights=w[rows])
            n_z, n_y = len(merged), free.size
            ii, jj = np.nonzero(patterns)
            rows_a = np.concatenate([np.arange(n_z), ii])
            cols_a = np.concatenate([n_y + np.arange(n_z), jj])
            values = np.concatenate([np.ones(n_z), -np.ones(ii.size)])
            a = sp.csr_array((values, (rows_a, cols_a)), shape=(n_z, n_y + n_z))
            card = sp.csr_array(
                (np.ones(n_y), (np.zeros(n_y, int), np.arange(n_y))), shape=(1, n_y + n_z)
            )
            self.diagnostics = {"mip_sites": int(n_y), "merged_clients": int(n_z)}
            clock(0.2, f"solving a covering MIP with {n_y} sites and {n_z} client groups")
            res = milp(
                np.concatenate([np.zeros(n_y), -merged]),
                integrality=np.concatenate([np.ones(n_y), np.zeros(n_z)]),
                bounds=Bounds(0, 1),
                constraints=[LinearConstraint(a, -np.inf, 0), LinearConstraint(card, r, r)],
                options=_milp_options(clock, max(mip_rel_gap, _REL_TOL)),
            )
            status, x, fun, bound = _milp_outcome(res)
            if x is None:
                raise GridMapError("time limit reached before HiGHS found a covering solution")
            open_sites = np.concatenate([self.forced, free[x[:n_y] > 0.5]])
            upper = base - bound if np.isfinite(bound) else float(w.sum())
        if open_sites.size < self.p:
            # Sites that cover nothing new still count towards p; add the first free.
            rest = np.setdiff1d(free, open_sites)
            open_sites = np.concatenate([open_sites, rest[: self.p - open_sites.size]])
        self.open_sites = np.sort(open_sites)
        self.covered = cover[:, self.open_sites].any(axis=1)
        self.objective = float(w[self.covered].sum())
        self.upper_bound = self.objective if upper is None else max(upper, self.objective)
        self.lower_bound = self.objective
        self.coverage = self.objective / float(w.sum())
        self.assignment, self.distance = self._assign_nearest(self.open_sites)
        has = self.assignment >= 0
        self.mean_dist = (
            float((w[has] * self.distance[has]).sum() / w[has].sum()) if w[has].sum() > 0
            else float("nan")
        )
        self.gap = (
            0.0 if self.upper_bound <= 0
            else max(0.0, (self.upper_bound - self.objective) / self.upper_bound)
        )
        self.status = status
        self.solve_seconds = clock.elapsed()
        clock(1.0, "done")
        return self


# ---------------------------------------------------------------------------
# Capacitated p-median


class CapacitatedPMedian(_LocationModel):
    r"""Capacitated p-median: open ``p`` sites and serve all demand within capacities.

    With demand :math:`w_i`, capacity :math:`Q_j`, the share :math:`x_{ij}` of
    client :math:`i`'s demand served by site :math:`j` (over allowed pairs) and
    :math:`y_j \in \{0,1\}`:

    .. math::

        \min \sum_{ij} w_i c_{ij} x_{ij} + \pi \sum_i w_i u_i
        \quad\text{s.t.}\quad
        \sum_j x_{ij} + u_i = 1, \quad
        \sum_i w_i x_{ij} \le Q_j y_j, \quad
        x_{ij} \le y_j, \quad
        \sum_j y_j = p, \quad y_j = 1 \;(j \in F),

    with :math:`x_{ij} \in [0,1]` (a client may be split) or :math:`x_{ij} \in
    \{0,1\}` with ``single_source=True``, and unmet demand :math:`u_i \ge 0` only when
    ``unmet_penalty`` (:math:`\pi`) is given. Without it the valid inequality
    :math:`\sum_j Q_j y_j \ge \sum_i w_i` is added to tighten the relaxation. The
    linking rows :math:`x_{ij} \le y_j` make the relaxation strong but number one per
    allowed pair; ``max_candidates_per_client`` keeps large models in reach.

    Attributes
    ----------
    open_sites : ndarray of int
    flows : scipy.sparse.csr_array, shape (clients, sites)
        Demand sent from each client to each site.
    assignment : ndarray of int
        Site serving the largest share of each client (-1 if unserved).
    site_load : ndarray
        Demand served by each site.
    unmet : ndarray
        Unserved demand per client (zero without ``unmet_penalty``).
    travel_cost : float
        :math:`\sum w_i c_{ij} x_{ij}`.
    objective : float
        ``travel_cost`` plus the penalty for unmet demand.
    lower_bound, gap, status, solve_seconds, reduced
        As for :class:`PMedian` (HiGHS's bound and gap).
    mean_dist : float
        ``travel_cost`` divided by the served demand.

    Examples
    --------
    Site 0 is nearest to everyone but can take only 2 of the 3 units:

    >>> cost = [[0, 5], [1, 4], [2, 3]]
    >>> m = CapacitatedPMedian.from_cost_matrix(cost, [1, 1, 1], [2, 5], p=2).solve()
    >>> m.assignment.tolist(), m.objective
    ([0, 0, 1], 4.0)
    """

    kind = "capacitated p-median"

    def __init__(self, cost, weights, capacities, p, forced, allowed, k, *, single_source,
                 unmet_penalty):
        super().__init__(cost, weights, p, forced, allowed, k)
        self.capacities = capacities
        self.single_source = single_source
        self.unmet_penalty = unmet_penalty
        self.flows = None
        self.site_load = None
        self.unmet = None
        self.travel_cost = None

    @classmethod
    def from_cost_matrix(
        cls, cost_matrix, weights, capacities, *, p, forced=None,
        max_candidates_per_client=None, single_source=False, unmet_penalty=None,
    ):
        """Create a capacitated p-median model from a client x site cost matrix.

        Parameters
        ----------
        cost_matrix : array-like, shape (clients, sites)
            Cost per unit of demand; ``inf`` forbids a pair; NaN is an error.
        weights : array-like, shape (clients,)
            Demand of each client.
        capacities : array-like, shape (sites,)
            Capacity of each candidate site, in the units of ``weights``.
        p : int
            Number of sites to open, forced sites included.
        forced : array-like of int or bool mask, optional
            Existing facilities that must stay open.
        max_candidates_per_client : int, optional
            Reduction: each client may use only its ``k`` nearest sites (plus forced
            sites); the optimum is that of the reduced model (:attr:`reduced`).
        single_source : bool
            Serve each client from exactly one site.
        unmet_penalty : float, optional
            Allow unserved demand at this cost per unit (reported in :attr:`unmet`).

        Returns
        -------
        CapacitatedPMedian
        """
        cost = check_cost_matrix(cost_matrix)
        w = check_weights(weights, cost.shape[0])
        q = check_capacities(capacities, cost.shape[1])
        forced_idx = _check_forced(forced, cost.shape[1])
        p = _check_p(p, cost.shape[1], forced_idx.size)
        k = check_positive_int(
            max_candidates_per_client, "max_candidates_per_client", allow_none=True
        )
        if unmet_penalty is not None:
            unmet_penalty = float(unmet_penalty)
            if not math.isfinite(unmet_penalty) or unmet_penalty < 0:
                raise ModelSpecificationError(
                    f"unmet_penalty must be a finite non-negative number, got {unmet_penalty}"
                )
        allowed = nearest_k_mask(cost, k, keep=forced_idx)
        return cls(cost, w, q, p, forced_idx, allowed, k, single_source=bool(single_source),
                   unmet_penalty=unmet_penalty)

    def _check_capacity(self):
        """Raise when even the largest ``p`` sites (forced included) lack capacity."""
        q, w = self.capacities, self.weights
        free = np.setdiff1d(np.arange(q.size), self.forced)
        r = self.p - self.forced.size
        best = q[self.forced].sum() + np.sort(q[free])[::-1][:r].sum()
        if best < w.sum():
            which = (
                f"the {self.p} largest sites" if self.forced.size == 0
                else f"the best {self.p} sites with the {self.forced.size} forced"
            )
            raise InfeasibleAllocation(
                f"capacity {format_amount(best)} ({which}) falls short of demand "
                f"{format_amount(w.sum())} by {format_amount(w.sum() - best)}"
            )

    def _heuristic(self, seconds):
        """Return (open sites, solved Transportation) of a feasible split solution.

        The p-median sites are repaired for capacity and served by the
        transportation LP; None when the allowed pairs cannot carry the demand.
        """
        w, q = self.weights, self.capacities
        try:
            sites = PMedian.from_cost_matrix(
                np.where(self.allowed, self.cost, np.inf), w, p=self.p, forced=self.forced
            ).solve(time_limit=seconds).open_sites
        except GridMapError:
            sites = np.concatenate([
                self.forced,
                np.setdiff1d(np.argsort(-q, kind="stable"), self.forced)[
                    : self.p - self.forced.size
                ],
            ])
        is_open = np.zeros(q.size, bool)
        is_open[sites] = True
        movable = is_open.copy()
        movable[self.forced] = False
        # Swap the smallest open site for the largest closed one until capacity holds.
        while self.unmet_penalty is None and q[is_open].sum() < w.sum():
            out = np.flatnonzero(movable)[np.argmin(q[movable])]
            closed = np.flatnonzero(~is_open)
            into = closed[np.argmax(q[closed])]
            is_open[out], movable[out] = False, False
            is_open[into] = True
        try:
            transport = Transportation.from_cost_matrix(
                np.where(self.allowed, self.cost, np.inf), w, np.where(is_open, q, 0.0),
                unmet_penalty=self.unmet_penalty,
            ).solve()
        except InfeasibleAllocation:
            return None
        return np.flatnonzero(is_open), transport

    def solve(self, time_limit=None, *, mip_rel_gap=0.0, progress=None, cancelled=None):
        """Solve with HiGHS to proven optimality (or until ``time_limit`` seconds).

        With a time limit and split demand, a heuristic solution (p-median sites,
        repaired for capacity, with optimal flows) is built first and kept when
        HiGHS finds nothing better in time; :attr:`diagnostics` then says so.

        Returns
        -------
        CapacitatedPMedian
            ``self``.

        Raises
        ------
        InfeasibleAllocation
            Capacity of the best ``p`` sites falls short of demand, a client cannot
            reach any site, or no site set serves everyone through the allowed pairs;
            not raised with ``unmet_penalty``.
        """
        clock = Progress(progress, cancelled, time_limit)
        clock(0.0, "building the capacitated model")
        w, q, penalty = self.weights, self.capacities, self.unmet_penalty
        m, n = self.cost.shape
        if penalty is None:
            self._check_capacity()
            unreachable_clients_error(self.allowed, w, reduced=self.reduced)
        active = np.flatnonzero(w > 0)
        pair_ok = self.allowed[active]
        ii, jj = np.nonzero(pair_ok)
        ci = active[ii]
        n_x, n_u = ii.size, (active.size if penalty is not None else 0)
        n_var = n + n_x + n_u
        x0, u0 = n, n + n_x
        wx = w[ci]
        c = np.concatenate([np.zeros(n), wx * self.cost[ci, jj], np.full(n_u, penalty or 0.0)
                            * w[active] if n_u else np.zeros(0)])
        x_idx = x0 + np.arange(n_x)
        # Assignment: sum_j x_ij (+ u_i) = 1.
        assign = sp.csr_array(
            (np.ones(n_x + n_u),
             (np.concatenate([ii, np.arange(n_u)]), np.concatenate([x_idx, u0 + np.arange(n_u)]))),
            shape=(active.size, n_var),
        )
        # Capacity: sum_i w_i x_ij - Q_j y_j <= 0.
        capacity = sp.csr_array(
            (np.concatenate([wx, -q]), (np.concatenate([jj, np.arange(n)]),
                                        np.concatenate([x_idx, np.arange(n)]))),
            shape=(n, n_var),
        )
        # Linking: x_ij - y_j <= 0.
        link = sp.csr_array(
            (np.concatenate([np.ones(n_x), -np.ones(n_x)]),
             (np.concatenate([np.arange(n_x)] * 2), np.concatenate([x_idx, jj]))),
            shape=(n_x, n_var),
        )
        card = sp.csr_array((np.ones(n), (np.zeros(n, int), np.arange(n))), shape=(1, n_var))
        constraints = [
            LinearConstraint(assign, 1, 1),
            LinearConstraint(capacity, -np.inf, 0),
            LinearConstraint(link, -np.inf, 0),
            LinearConstraint(card, self.p, self.p),
        ]
        if penalty is None:
            cover = sp.csr_array((q, (np.zeros(n, int), np.arange(n))), shape=(1, n_var))
            constraints.append(LinearConstraint(cover, w.sum(), np.inf))
        lower = np.zeros(n_var)
        lower[self.forced] = 1.0
        upper = np.concatenate([np.ones(n + n_x), np.full(n_u, np.inf)])
        integrality = np.zeros(n_var)
        integrality[:n] = 1
        if self.single_source:
            integrality[x0:u0] = 1
        self.diagnostics = {"pairs": int(n_x), "sites": int(n)}
        fallback = None
        if clock.time_limit is not None and not self.single_source:
            # With a time limit HiGHS may stop before finding any solution, so a
            # heuristic one is made first: p-median sites, repaired for capacity.
            clock(0.05, "building a heuristic solution")
            fallback = self._heuristic(min(0.2 * clock.time_limit, 30.0))
        clock(0.1, f"solving a capacitated MIP with {n} sites and {n_x:,} client-site pairs")
        res = milp(
            c, integrality=integrality, bounds=Bounds(lower, upper), constraints=constraints,
            options=_milp_options(clock, max(mip_rel_gap, _REL_TOL)),
        )
        status, x, fun, bound = _milp_outcome(res)
        if status == "infeasible":
            raise InfeasibleAllocation(
                f"no choice of p={self.p} sites serves all demand within capacities through "
                "the allowed client-site pairs; pass unmet_penalty to see which clients go "
                "unserved"
            )
        if fallback is not None:
            fallback_sites, fallback = fallback
            fallback_value = fallback.objective + (penalty or 0.0) * fallback.unmet.sum()
        if x is not None and (fallback is None or fun <= fallback_value + 1e-9):
            self.open_sites = np.flatnonzero(x[:n] > 0.5)
            share = np.where(x[x0:u0] > 1e-9, x[x0:u0], 0.0)
            self.flows = sp.csr_array((share * wx, (ci, jj)), shape=(m, n))
            self.unmet = np.zeros(m)
            if n_u:
                self.unmet[active] = np.where(x[u0:] > 1e-9, x[u0:], 0.0) * w[active]
            self.travel_cost = float(c[x0:u0] @ share)
            self.objective = float(fun)
        elif fallback is not None:
            self.diagnostics["heuristic_solution"] = True
            self.open_sites = fallback_sites
            self.flows = fallback.flows
            self.unmet = fallback.unmet
            self.travel_cost = fallback.objective
            self.objective = fallback_value
        else:
            hint = (
                f"; with only {self.max_candidates_per_client} candidates per client there "
                "may be none" if self.reduced else ""
            )
            raise GridMapError(
                f"time limit reached before HiGHS found a capacitated solution{hint}"
            )
        self.flows.eliminate_zeros()
        self.flows.sort_indices()
        self.site_load = np.asarray(self.flows.sum(axis=0)).ravel()
        self.assignment = largest_share(self.flows, w, self.cost, self.allowed, self.open_sites)
        # Costs and penalties are non-negative, so 0 bounds any objective.
        self.lower_bound = min(max(bound if bound is not None else 0.0, 0.0), self.objective)
        served = w.sum() - self.unmet.sum()
        self.mean_dist = self.travel_cost / served if served > 0 else float("nan")
        self._finish_gap()
        self.status = status
        self.solve_seconds = clock.elapsed()
        clock(1.0, "done")
        return self
