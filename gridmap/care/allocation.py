"""Allocate demand to given facilities: the capacitated transportation model.

Issue 5 §5. Care facilities (day-care centres, canteens for the elderly, service
stations) have capacities; demand points (grid cells, communities, households) have
demand. :class:`Transportation` sends every demand point's demand to the facilities
at least total weighted distance without exceeding any capacity, solved exactly as a
sparse linear programme by HiGHS (:func:`scipy.optimize.linprog`).

This module also holds what the location models of :mod:`gridmap.care.location`
share: the errors, and the checks of a cost matrix, weights and options. Costs are
any non-negative travel cost (metres, minutes); ``inf`` marks a client-site pair that
is not allowed (unreachable, across a river, another district).
"""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from gridmap.errors import GridMapError

__all__ = [
    "ModelSpecificationError",
    "InfeasibleAllocation",
    "SolveCancelled",
    "Transportation",
]


class ModelSpecificationError(GridMapError):
    """The model is mis-specified: empty or malformed input, or an impossible ``p``."""


class InfeasibleAllocation(GridMapError):
    """No allocation serves all demand: capacity falls short or clients are unreachable."""


class SolveCancelled(GridMapError):
    """The caller's ``cancelled()`` callable asked the solve to stop."""


# ---------------------------------------------------------------------------
# Shared checks (used by gridmap.care.location too)


def format_amount(value) -> str:
    """Format a demand or capacity for a message: ``1,450`` or ``1,450.25``."""
    value = float(value)
    if math.isfinite(value) and value == round(value) and abs(value) < 1e15:
        return f"{int(round(value)):,}"
    return f"{value:,.2f}"


def check_cost_matrix(cost_matrix, *, what="cost matrix") -> np.ndarray:
    """Return ``cost_matrix`` as a float array of shape (clients, sites), checked.

    Raises :class:`ModelSpecificationError` for a matrix that is not 2-D, has no
    client rows or no site columns, or holds NaN or negative costs; ``inf`` is kept
    and means "pair not allowed".
    """
    if hasattr(cost_matrix, "to_numpy"):
        cost_matrix = cost_matrix.to_numpy()
    try:
        cost = np.array(cost_matrix, dtype="float64")
    except (TypeError, ValueError) as exc:
        raise ModelSpecificationError(f"{what} is not numeric: {exc}") from exc
    if cost.ndim != 2:
        raise ModelSpecificationError(
            f"{what} must be 2-D (clients x sites), got shape {cost.shape}"
        )
    n_clients, n_sites = cost.shape
    if n_clients == 0:
        raise ModelSpecificationError(f"empty demand: the {what} has no client rows")
    if n_sites == 0:
        raise ModelSpecificationError(f"no candidate sites: the {what} has no site columns")
    nan = np.isnan(cost)
    if nan.any():
        i, j = np.argwhere(nan)[0]
        raise ModelSpecificationError(
            f"{what} has {int(nan.sum())} NaN cost(s), first at client {i}, site {j}; "
            "use inf for a pair that is not allowed"
        )
    if (cost < 0).any():
        i, j = np.argwhere(cost < 0)[0]
        raise ModelSpecificationError(
            f"{what} has negative cost {cost[i, j]:g} at client {i}, site {j}"
        )
    return cost


def check_weights(weights, n_clients) -> np.ndarray:
    """Return client weights (demand) as a float array; ones when ``weights`` is None.

    Raises :class:`ModelSpecificationError` for a wrong length, NaN, inf or negative
    weights, or zero total demand.
    """
    if weights is None:
        return np.ones(n_clients)
    if hasattr(weights, "to_numpy"):
        weights = weights.to_numpy()
    w = np.array(weights, dtype="float64").ravel()
    if w.size != n_clients:
        raise ModelSpecificationError(
            f"weights has {w.size} values but the cost matrix has {n_clients} client rows"
        )
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ModelSpecificationError(
            f"weights must be finite and non-negative; client {i} has {w[i]}"
        )
    if w.sum() <= 0:
        raise ModelSpecificationError("empty demand: all client weights are zero")
    return w


def check_capacities(capacities, n_sites) -> np.ndarray:
    """Return site capacities as a float array of length ``n_sites``, checked."""
    if hasattr(capacities, "to_numpy"):
        capacities = capacities.to_numpy()
    q = np.array(capacities, dtype="float64").ravel()
    if q.size != n_sites:
        raise ModelSpecificationError(
            f"capacities has {q.size} values but the cost matrix has {n_sites} site columns"
        )
    bad = np.isnan(q) | (q < 0)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ModelSpecificationError(
            f"capacities must be non-negative numbers; site {j} has {q[j]}"
        )
    return q


def check_positive_int(value, name, *, allow_none=False):
    """Return ``value`` as an int >= 1 (or None when allowed), else raise."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ModelSpecificationError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def nearest_k_mask(cost, k, keep=None) -> np.ndarray:
    """Return a boolean (clients, sites) mask of each client's ``k`` nearest sites.

    Columns in ``keep`` (e.g. forced sites) are always allowed; pairs with infinite
    cost never are. Ties at the k-th distance are broken by column order.
    """
    n_sites = cost.shape[1]
    allowed = np.isfinite(cost)
    if k is not None and k < n_sites:
        idx = np.argpartition(cost, k - 1, axis=1)[:, :k]
        mask = np.zeros_like(allowed)
        np.put_along_axis(mask, idx, True, axis=1)
        if keep is not None and len(keep):
            mask[:, keep] = True
        allowed &= mask
    return allowed


def unreachable_clients_error(cost_allowed, w, *, reduced):
    """Raise :class:`InfeasibleAllocation` if a client with demand has no allowed site."""
    lost = ~cost_allowed.any(axis=1) & (w > 0)
    if lost.any():
        i = int(np.flatnonzero(lost)[0])
        hint = " within its nearest candidates" if reduced else " (all its costs are inf)"
        raise InfeasibleAllocation(
            f"{int(lost.sum())} client(s) with demand cannot reach any site{hint}, "
            f"first client {i}"
        )


def largest_share(flows, weights, cost, allowed, sites=None) -> np.ndarray:
    """Site serving the largest share of each client's demand, from sparse flows.

    Clients with zero demand get their nearest allowed site among ``sites`` (all
    sites when None); clients with nothing served get -1.
    """
    n_clients = flows.shape[0]
    best = np.full(n_clients, -1)
    served = np.diff(flows.indptr) > 0
    if served.any():
        best[served] = np.asarray(flows[served].argmax(axis=1)).ravel()
    cols = np.arange(cost.shape[1]) if sites is None else np.asarray(sites)
    zero = (weights == 0) & allowed[:, cols].any(axis=1) if cols.size else weights < 0
    if zero.any():
        masked = np.where(allowed[np.ix_(zero, cols)], cost[np.ix_(zero, cols)], np.inf)
        best[zero] = cols[masked.argmin(axis=1)]
    return best


class Progress:
    """Forward progress to the caller's callables and enforce the time limit."""

    def __init__(self, progress=None, cancelled=None, time_limit=None):
        self._progress = progress
        self._cancelled = cancelled
        self.start = time.perf_counter()
        self.time_limit = None if time_limit is None else float(time_limit)
        self.fraction = 0.0

    def __call__(self, fraction, message):
        """Report ``fraction`` done (None keeps the last one) and honour a cancel."""
        if fraction is not None:
            self.fraction = float(fraction)
        if self._cancelled is not None and self._cancelled():
            raise SolveCancelled(f"solve cancelled during: {message}")
        if self._progress is not None:
            self._progress(self.fraction, message)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def remaining(self) -> float | None:
        if self.time_limit is None:
            return None
        return max(self.time_limit - self.elapsed(), 0.0)


# ---------------------------------------------------------------------------
# Transportation


class Transportation:
    r"""Capacitated assignment of demand to facilities (the transportation problem).

    Each client :math:`i` has demand :math:`w_i`, each site :math:`j` capacity
    :math:`Q_j`, and :math:`c_{ij}` is the cost of one unit of demand travelling from
    :math:`i` to :math:`j`. With flows :math:`f_{ij} \ge 0` over the allowed pairs
    :math:`A` (finite cost, and with ``max_candidates_per_client=k`` only the
    :math:`k` nearest sites of each client):

    .. math::

        \min \sum_{(i,j)\in A} c_{ij} f_{ij} + \pi \sum_i u_i
        \quad\text{s.t.}\quad
        \sum_{j:(i,j)\in A} f_{ij} + u_i = w_i \;\forall i, \qquad
        \sum_{i:(i,j)\in A} f_{ij} \le Q_j \;\forall j, \qquad u_i \ge 0,

    where the unmet demand :math:`u_i` exists only when ``unmet_penalty``
    (:math:`\pi`) is given. The model is a linear programme, solved to optimality by
    HiGHS; with integer demands and capacities the optimal flows are integers (the
    constraint matrix is totally unimodular and the simplex answer is a vertex).
    A client may be split between sites; :attr:`split_clients` lists those.

    Build it with :meth:`from_cost_matrix`, then call :meth:`solve`.

    Attributes
    ----------
    flows : scipy.sparse.csr_array, shape (clients, sites)
        Demand sent from each client to each site.
    assignment : ndarray of int, shape (clients,)
        The site receiving the largest share of each client's demand; for a client
        with zero demand its nearest allowed site; -1 where nothing is served.
    unmet : ndarray, shape (clients,)
        Demand left unserved (all zero without ``unmet_penalty``).
    site_load : ndarray, shape (sites,)
        Demand served by each site.
    open_sites : ndarray of int
        Sites with positive capacity (the facilities of the model).
    objective : float
        Total weighted cost :math:`\sum c_{ij} f_{ij}` (penalty excluded).
    mean_dist : float
        ``objective`` divided by the served demand.
    gap : float
        0.0 (a linear programme is solved to optimality).
    status : str
        ``"optimal"`` or ``"time_limit"``.
    solve_seconds : float
        Wall time of :meth:`solve`.

    Examples
    --------
    Capacity that falls short is reported before solving:

    >>> model = Transportation.from_cost_matrix([[1, 2], [2, 1]], [700, 750], [600, 600])
    >>> try:
    ...     model.solve()
    ... except InfeasibleAllocation as err:
    ...     print(err)
    capacity 1,200 falls short of demand 1,450 by 250
    """

    def __init__(self, cost, weights, capacities, allowed, *, unmet_penalty, k):
        self.cost = cost
        self.weights = weights
        self.capacities = capacities
        self.allowed = allowed
        self.unmet_penalty = unmet_penalty
        self.max_candidates_per_client = k
        self.reduced = k is not None and k < cost.shape[1]
        self.flows = None
        self.assignment = None
        self.unmet = None
        self.site_load = None
        self.open_sites = np.flatnonzero(capacities > 0)
        self.objective = None
        self.mean_dist = None
        self.gap = None
        self.status = "unsolved"
        self.solve_seconds = None

    @classmethod
    def from_cost_matrix(
        cls,
        cost_matrix,
        weights,
        capacities,
        *,
        max_candidates_per_client=None,
        unmet_penalty=None,
    ):
        """Create a transportation model from a client x site cost matrix.

        Parameters
        ----------
        cost_matrix : array-like, shape (clients, sites)
            Cost per unit of demand; ``inf`` forbids a pair; NaN is an error.
        weights : array-like, shape (clients,)
            Demand of each client (non-negative).
        capacities : array-like, shape (sites,)
            Capacity of each site, in the units of ``weights``.
        max_candidates_per_client : int, optional
            Reduction: allow each client only its ``k`` nearest sites. This shrinks
            the linear programme but may make it costlier or infeasible; the model
            records it in :attr:`reduced`.
        unmet_penalty : float, optional
            Allow unserved demand at this cost per unit; the per-client unmet demand
            is reported in :attr:`unmet`. Without it a shortfall raises
            :class:`InfeasibleAllocation`.

        Returns
        -------
        Transportation
        """
        cost = check_cost_matrix(cost_matrix)
        w = check_weights(weights, cost.shape[0])
        q = check_capacities(capacities, cost.shape[1])
        k = check_positive_int(
            max_candidates_per_client, "max_candidates_per_client", allow_none=True
        )
        if unmet_penalty is not None:
            unmet_penalty = float(unmet_penalty)
            if not math.isfinite(unmet_penalty) or unmet_penalty < 0:
                raise ModelSpecificationError(
                    f"unmet_penalty must be a finite non-negative number, got {unmet_penalty}"
                )
        allowed = nearest_k_mask(cost, k)
        return cls(cost, w, q, allowed, unmet_penalty=unmet_penalty, k=k)

    def solve(self, time_limit=None, *, progress=None, cancelled=None):
        """Solve the linear programme with HiGHS and fill the result attributes.

        Parameters
        ----------
        time_limit : float, optional
            Seconds HiGHS may spend. If it stops with a feasible but unproven
            allocation, ``status`` is ``"time_limit"``; without one a
            :class:`GridMapError` is raised.
        progress : callable(fraction, message), optional
        cancelled : callable() -> bool, optional

        Returns
        -------
        Transportation
            ``self``.

        Raises
        ------
        InfeasibleAllocation
            Total capacity is below total demand, or the allowed pairs cannot carry
            the demand, and no ``unmet_penalty`` was given.
        """
        clock = Progress(progress, cancelled, time_limit)
        clock(0.0, "checking capacity")
        w, q = self.weights, self.capacities
        n_clients, n_sites = self.cost.shape
        penalty = self.unmet_penalty
        if penalty is None:
            if q.sum() < w.sum():
                raise InfeasibleAllocation(
                    f"capacity {format_amount(q.sum())} falls short of demand "
                    f"{format_amount(w.sum())} by {format_amount(w.sum() - q.sum())}"
                )
            unreachable_clients_error(self.allowed, w, reduced=self.reduced)

        rows, cols = np.nonzero(self.allowed)
        n_pairs = rows.size
        n_unmet = n_clients if penalty is not None else 0
        c = np.concatenate([self.cost[rows, cols], np.full(n_unmet, penalty or 0.0)])
        var = np.arange(n_pairs)
        a_eq = sp.csr_array(
            (
                np.ones(n_pairs + n_unmet),
                (np.concatenate([rows, np.arange(n_unmet)]),
                 np.concatenate([var, n_pairs + np.arange(n_unmet)])),
            ),
            shape=(n_clients, n_pairs + n_unmet),
        )
        a_ub = sp.csr_array(
            (np.ones(n_pairs), (cols, var)), shape=(n_sites, n_pairs + n_unmet)
        )
        options = {"presolve": True}
        if clock.remaining() is not None:
            options["time_limit"] = clock.remaining()
        clock(0.1, f"solving a transportation LP with {n_pairs:,} client-site pairs")
        res = linprog(
            c, A_ub=a_ub, b_ub=q, A_eq=a_eq, b_eq=w, bounds=(0, None),
            method="highs", options=options,
        )
        if res.status == 2:
            raise InfeasibleAllocation(
                f"capacity {format_amount(q.sum())} covers demand {format_amount(w.sum())} "
                "in total but not through the allowed client-site pairs; pass unmet_penalty "
                "to see which clients go unserved"
            )
        if res.x is None:
            raise GridMapError(f"transportation LP not solved: {res.message}")
        self.status = "optimal" if res.status == 0 else "time_limit"
        x = np.where(res.x[:n_pairs] > 1e-9, res.x[:n_pairs], 0.0)
        self.flows = sp.csr_array((x, (rows, cols)), shape=(n_clients, n_sites))
        self.flows.eliminate_zeros()
        self.flows.sort_indices()
        self.unmet = res.x[n_pairs:] if n_unmet else np.zeros(n_clients)
        self.unmet = np.where(self.unmet > 1e-9, self.unmet, 0.0)
        self.site_load = np.asarray(self.flows.sum(axis=0)).ravel()
        self.assignment = largest_share(self.flows, w, self.cost, self.allowed)
        self.objective = float(c[:n_pairs] @ x)
        served_demand = w.sum() - self.unmet.sum()
        self.mean_dist = self.objective / served_demand if served_demand > 0 else float("nan")
        self.gap = 0.0 if self.status == "optimal" else float("nan")
        self.solve_seconds = clock.elapsed()
        clock(1.0, "done")
        return self

    @property
    def split_clients(self) -> np.ndarray:
        """Indices of clients whose demand is split between two or more sites."""
        return np.flatnonzero(np.diff(self.flows.indptr) > 1)
