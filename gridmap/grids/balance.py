"""Re-balance grids: divide an area into k contiguous, compact grids within a household range.

The urban standard is 300-500 households per grid (issue 4). Households live in
buildings, and a building must not be cut between grids, so the unit of assignment is
the *building point* (residents' placed locations), never the household. The area is
tessellated into Voronoi cells of the building points plus a lattice of empty filler
points (so empty land is shaped too), and :class:`BalanceModel` labels the cells.
The part boundaries are then the cell edges between different labels; where they meet
the area's outline they are moved to the nearest existing vertex, so grids outside the
area (and locked grids) are untouched byte for byte.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
import shapely.ops
from scipy.spatial import cKDTree
from sklearn.cluster import KMeans

from gridmap.errors import GridMapError
from gridmap.grids.editstore import resident_points, transaction
from gridmap.grids.partition import absorb_fragments
from gridmap.grids.topology import ON_EDGE_DEG, faces_of, insert_vertices

__all__ = [
    "DEFAULT_TARGET",
    "BalanceModel",
    "BalanceProposal",
    "InfeasibleBalance",
    "balance_quality",
    "buildings_from_residents",
    "choose_k",
    "draw_labelled",
    "partition_area",
    "polsby_popper",
    "propose_balance",
]

DEFAULT_TARGET = (300, 500)
_FILLERS_PER_PART = 20
_MAX_FILLERS = 1200
_ON_OUTLINE_DEG = 1e-7  # ~1 cm: a separator end this close to the outline ends on it


class InfeasibleBalance(GridMapError):
    """The requested number of grids cannot all fall in the household range; the message says by how much."""


def polsby_popper(geoms):
    """Polsby-Popper compactness 4πA/P² of polygons in metres (1 for a disc; NaN for empty input).

    Examples
    --------
    >>> round(float(polsby_popper([shapely.box(0, 0, 1, 1)])[0]), 3)
    0.785
    >>> polsby_popper([None])
    array([nan])
    """
    geoms = np.asarray(geoms, dtype=object)
    area = shapely.area(geoms)
    perimeter = shapely.length(geoms)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(perimeter > 0, 4 * np.pi * area / perimeter**2, np.nan)


def balance_quality(households, geoms_m, target, buildings_cut=0):
    """Figures that describe a division: household range, spread and compactness.

    Parameters
    ----------
    households : array of int
        Households of each grid.
    geoms_m : array of polygons
        The grids in metres.
    target : (low, high)
        The household range.
    buildings_cut : int
        Buildings whose residents fall in more than one grid.
    """
    h = np.asarray(households, dtype=float)
    pp = polsby_popper(geoms_m)
    lo, hi = target
    if len(h) == 0:
        return {"grids": 0}
    return {
        "grids": len(h),
        "households_min": int(h.min()),
        "households_max": int(h.max()),
        "households_mean": round(float(h.mean()), 1),
        "spread": int(h.max() - h.min()),
        "cv": round(float(h.std() / h.mean()), 3) if h.mean() > 0 else None,
        "within_target": int(((h >= lo) & (h <= hi)).sum()),
        "compactness_mean": round(float(np.nanmean(pp)), 3),
        "compactness_min": round(float(np.nanmin(pp)), 3),
        "buildings_cut": int(buildings_cut),
    }


def buildings_from_residents(residents):
    """Building points and their households from placed residents.

    Residents at one location form a building; each household counts once, at the
    location of its first member, so the households of all buildings add up to the
    number of distinct households.

    Parameters
    ----------
    residents : DataFrame
        ``x``, ``y`` and ``household_id`` (``building_id`` optional).

    Returns
    -------
    DataFrame
        ``x``, ``y``, ``households``, sorted by x then y.
    """
    if len(residents) == 0:
        return pd.DataFrame({"x": np.empty(0), "y": np.empty(0), "households": np.empty(0, dtype=int)})
    first = residents.drop_duplicates("household_id")
    households = first.groupby(["x", "y"]).size()
    locations = residents.groupby(["x", "y"]).size().index
    out = pd.Series(0, index=locations).add(households, fill_value=0).astype(int)
    return pd.DataFrame({"x": out.index.get_level_values(0).to_numpy(float),
                         "y": out.index.get_level_values(1).to_numpy(float),
                         "households": out.to_numpy()})


def choose_k(households, target):
    """Number of grids for ``households`` nearest the middle of ``target`` that keeps every grid in range.

    When no number of grids fits (e.g. fewer households than the lower bound) the
    nearest one to the middle is returned anyway, at least 1.
    """
    lo, hi = target
    middle = max((lo + hi) / 2.0, 1e-9)
    k = max(1, round(households / middle))
    k_min = max(1, math.ceil(households / hi)) if hi > 0 else 1
    k_max = math.floor(households / lo) if lo > 0 else k
    if k_min <= k_max:
        k = min(max(k, k_min), k_max)
    return int(k)


class BalanceModel:
    """Label the cells of an area with k contiguous parts of balanced households and compact shape.

    Formulation
    -----------
    Cells :math:`i` carry households :math:`w_i`, area :math:`a_i` and perimeter
    :math:`l_i`; adjacent cells share boundary length :math:`s_{ij}`. A labelling
    with every part connected minimises

    .. math::

        \\sum_p \\alpha \\frac{d_p}{m} + \\beta \\Big(\\frac{W_p - m}{m}\\Big)^2
        + \\gamma (1 - PP_p)^2

    with :math:`W_p = \\sum_{i \\in p} w_i`, :math:`m = \\sum w / k`,
    :math:`d_p = \\max(0, lo - W_p, W_p - hi)`, Polsby-Popper
    :math:`PP_p = 4\\pi A_p / P_p^2`, :math:`A_p = \\sum a_i` and
    :math:`P_p = \\sum l_i - 2 \\sum_{i,j \\in p} s_{ij}`.

    Solved heuristically: weighted k-means starts (and the current grids, if given),
    contiguity repair, then single-cell moves to a neighbouring part that lower the
    cost and keep the donor connected (a local search of the AZP family), iterated
    with random perturbations of the best labelling until they stop paying off or
    the time limit is reached.

    Parameters
    ----------
    weights, areas, perimeters : (n,) arrays
    pairs : (m, 2) int array
        Adjacent cells.
    shared : (m,) array
        Shared boundary length of each pair.
    centroids : (n, 2) array
    k : int
    target : (low, high)
    alpha, beta, gamma : float
        Weights of range violation (large: the range comes first), spread, and
        compactness (squared, so one badly shaped grid costs more than several
        slightly rounder ones gain).
    initial : (n,) int array, optional
        A labelling to start from as well (e.g. the current grids).
    random_state : int
    time_limit : float
        Seconds for all starts together.
    starts : int
        Number of k-means starts.
    patience : int
        Perturbations in a row without improvement before the search stops.
    cancelled : callable, optional
        Returns True to stop the search early (the best labelling so far is kept).

    Attributes
    ----------
    labels_ : (n,) int array
    households_ : (k,) array
    compactness_ : (k,) array
    cost_ : float
    """

    def __init__(self, weights, areas, perimeters, pairs, shared, centroids, k, target, *, alpha=100.0, beta=4.0,
                 gamma=2.0, initial=None, random_state=0, time_limit=3.0, starts=4, patience=40, cancelled=None):
        self.weights = np.asarray(weights, dtype=float)
        self.areas = np.asarray(areas, dtype=float)
        self.perimeters = np.asarray(perimeters, dtype=float)
        self.pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        self.shared = np.asarray(shared, dtype=float)
        self.centroids = np.asarray(centroids, dtype=float)
        n = len(self.weights)
        if not 1 <= k <= n:
            raise GridMapError(f"cannot make {k} parts from {n} cells")
        self.k = int(k)
        self.target = (float(target[0]), float(target[1]))
        self.alpha, self.beta, self.gamma = float(alpha), float(beta), float(gamma)
        self.initial = None if initial is None else np.asarray(initial, dtype=np.int64)
        self.random_state = random_state
        self.time_limit = float(time_limit)
        self.starts = int(starts)
        self.patience = int(patience)
        self.cancelled = cancelled
        self.neighbours = [[] for _ in range(n)]
        for (i, j), s in zip(self.pairs.tolist(), self.shared.tolist()):
            self.neighbours[i].append((j, s))
            self.neighbours[j].append((i, s))
        total = self.weights.sum()
        self.mean = total / self.k if total > 0 else 1.0

    # cost of one part
    def _part_cost(self, w, a, p):
        lo, hi = self.target
        dev = max(0.0, lo - w, w - hi) / self.mean
        spread = (w - self.mean) / self.mean
        pp = 4 * math.pi * a / (p * p) if p > 0 else 0.0
        return self.alpha * dev + self.beta * spread * spread + self.gamma * (1.0 - pp) ** 2

    def cost(self, labels):
        """The objective of a labelling."""
        w = np.bincount(labels, self.weights, self.k)
        a = np.bincount(labels, self.areas, self.k)
        p = np.bincount(labels, self.perimeters, self.k)
        same = labels[self.pairs[:, 0]] == labels[self.pairs[:, 1]]
        p -= 2 * np.bincount(labels[self.pairs[same, 0]], self.shared[same], self.k)
        return float(sum(self._part_cost(w[q], a[q], p[q]) for q in range(self.k)))

    def _components(self, labels, members):
        """Connected pieces of the cells ``members`` (all with one label)."""
        members = set(members)
        pieces = []
        while members:
            start = members.pop()
            piece, stack = [start], [start]
            while stack:
                i = stack.pop()
                for j, _ in self.neighbours[i]:
                    if j in members:
                        members.remove(j)
                        piece.append(j)
                        stack.append(j)
            pieces.append(piece)
        return pieces

    def _repair(self, labels):
        """Keep the largest connected piece of each part; hand stray pieces to a neighbouring part."""
        labels = labels.copy()
        free = np.zeros(len(labels), dtype=bool)
        for q in range(self.k):
            members = np.flatnonzero(labels == q)
            if len(members) == 0:
                continue
            pieces = self._components(labels, members.tolist())
            if len(pieces) > 1:
                size = [self.weights[p].sum() + 1e-9 * self.areas[p].sum() for p in pieces]
                keep = int(np.argmax(size))
                for n, piece in enumerate(pieces):
                    if n != keep:
                        free[piece] = True
        labels[free] = -1
        while free.any():
            progress = False
            for i in np.flatnonzero(free):
                shared = {}
                for j, s in self.neighbours[i]:
                    if labels[j] >= 0:
                        shared[labels[j]] = shared.get(labels[j], 0.0) + s
                if shared:
                    labels[i] = max(shared, key=shared.get)
                    free[i] = False
                    progress = True
            if not progress:  # an island of cells with no labelled neighbour: its own nearest part
                i = np.flatnonzero(free)[0]
                labels[i] = 0
                free[i] = False
        # A part emptied by the repair takes a boundary cell of the largest part.
        for q in range(self.k):
            if not (labels == q).any():
                big = int(np.argmax(np.bincount(labels, minlength=self.k)))
                members = np.flatnonzero(labels == big)
                labels[members[-1]] = q
                labels = self._repair(labels) if len(self._components(labels, np.flatnonzero(labels == big).tolist())) > 1 else labels
        return labels

    def _stays_connected(self, labels, cell, part):
        targets = {j for j, _ in self.neighbours[cell] if labels[j] == part}
        if len(targets) <= 1:
            return True
        start = targets.pop()
        seen, stack = {start, cell}, [start]
        while stack and targets:
            i = stack.pop()
            for j, _ in self.neighbours[i]:
                if j not in seen and labels[j] == part:
                    seen.add(j)
                    targets.discard(j)
                    stack.append(j)
        return not targets

    def _running(self, deadline):
        return time.perf_counter() < deadline and not (self.cancelled is not None and self.cancelled())

    def _search(self, labels, deadline, rng):
        labels = labels.copy()
        k = self.k
        w, a, l = self.weights.tolist(), self.areas.tolist(), self.perimeters.tolist()
        W, A, P = [0.0] * k, [0.0] * k, [0.0] * k
        size = [0] * k
        lab = labels.tolist()
        for i, q in enumerate(lab):
            W[q] += w[i]
            A[q] += a[i]
            P[q] += l[i]
            size[q] += 1
        for (i, j), s in zip(self.pairs.tolist(), self.shared.tolist()):
            if lab[i] == lab[j]:
                P[lab[i]] -= 2 * s
        cost = self._part_cost
        improved = True
        while improved and self._running(deadline):
            improved = False
            for i in rng.permutation(len(lab)).tolist():
                p = lab[i]
                if size[p] == 1:
                    continue
                shared = {}
                for j, s in self.neighbours[i]:
                    shared[lab[j]] = shared.get(lab[j], 0.0) + s
                if len(shared) == 1 and p in shared:
                    continue
                s_p = shared.get(p, 0.0)
                w_p, a_p, p_p = W[p] - w[i], A[p] - a[i], P[p] - l[i] + 2 * s_p
                base_p = cost(W[p], A[p], P[p])
                new_p = cost(w_p, a_p, p_p)
                best, best_q = -1e-12, -1
                for q, s_q in shared.items():
                    if q == p:
                        continue
                    delta = new_p - base_p + cost(W[q] + w[i], A[q] + a[i], P[q] + l[i] - 2 * s_q) - cost(W[q], A[q], P[q])
                    if delta < best:
                        best, best_q = delta, q
                if best_q < 0 or not self._stays_connected(lab, i, p):
                    continue
                q = best_q
                W[p], A[p], P[p] = w_p, a_p, p_p
                W[q], A[q], P[q] = W[q] + w[i], A[q] + a[i], P[q] + l[i] - 2 * shared[q]
                size[p] -= 1
                size[q] += 1
                lab[i] = q
                improved = True
        return np.asarray(lab, dtype=np.int64)

    def _kmeans_start(self, seed):
        total_w = self.weights.sum() or 1.0
        total_a = self.areas.sum() or 1.0
        sample = self.weights / total_w + 0.3 * self.areas / total_a
        model = KMeans(n_clusters=self.k, n_init=1, random_state=seed).fit(self.centroids, sample_weight=sample)
        return model.labels_.astype(np.int64)

    def _perturb(self, labels, rng, moves):
        """Move ``moves`` random boundary cells to a neighbouring part (keeping parts connected)."""
        labels = labels.copy()
        sizes = np.bincount(labels, minlength=self.k)
        for i in rng.permutation(len(labels)).tolist():
            if moves == 0:
                break
            p = labels[i]
            options = sorted({labels[j] for j, _ in self.neighbours[i]} - {p})
            if not options or sizes[p] == 1 or not self._stays_connected(labels, i, p):
                continue
            q = options[int(rng.integers(len(options)))]
            labels[i] = q
            sizes[p] -= 1
            sizes[q] += 1
            moves -= 1
        return labels

    def solve(self):
        """Search for the best labelling; return ``self`` with ``labels_`` and the part figures.

        Each start is improved by local search; the best is then perturbed (a few
        random boundary moves) and searched again while that keeps paying off
        (iterated local search), until ``patience`` perturbations in a row fail or
        the time limit is reached.
        """
        start = time.perf_counter()
        deadline = start + self.time_limit
        rng = np.random.default_rng(self.random_state)
        starts = []
        if self.initial is not None and len(np.unique(self.initial)) == self.k:
            starts.append(self.initial)
        seeds = [self.random_state + s for s in range(self.starts)]
        best, best_cost = None, np.inf
        for n, seed in enumerate([None] * len(starts) + seeds):
            if n > 0 and not self._running(deadline):
                break
            labels = starts[n] if seed is None else (
                self._kmeans_start(seed) if self.k > 1 else np.zeros(len(self.weights), dtype=np.int64))
            labels = self._repair(labels)
            labels = self._search(labels, deadline, rng)
            c = self.cost(labels)
            if c < best_cost:
                best, best_cost = labels, c
        stall = 0
        moves = max(2, len(self.weights) // 40)
        while self.k > 1 and stall < self.patience and self._running(deadline):
            labels = self._search(self._perturb(best, rng, moves), deadline, rng)
            c = self.cost(labels)
            if c < best_cost - 1e-12:
                best, best_cost, stall = labels, c, 0
            else:
                stall += 1
        self.labels_ = best
        self.cost_ = best_cost
        self.households_ = np.bincount(best, self.weights, self.k)
        a = np.bincount(best, self.areas, self.k)
        p = np.bincount(best, self.perimeters, self.k)
        same = best[self.pairs[:, 0]] == best[self.pairs[:, 1]]
        p -= 2 * np.bincount(best[self.pairs[same, 0]], self.shared[same], self.k)
        self.compactness_ = 4 * np.pi * a / np.where(p > 0, p * p, np.nan)
        self.seconds_ = time.perf_counter() - start
        return self


def _cells(region_m, points, weights, k):
    """Voronoi cells of building points plus filler points, clipped to the region.

    Returns cells, their weights and their seed points; a cell cut in pieces by a
    concave outline keeps the piece with its seed, and the other pieces become cells
    of their own without households.
    """
    area = shapely.area(region_m)
    n_fill = int(np.clip(_FILLERS_PER_PART * k, 60, _MAX_FILLERS))
    spacing = math.sqrt(area / n_fill)
    minx, miny, maxx, maxy = shapely.bounds(region_m)
    seeds = np.empty((0, 2))
    for _ in range(6):
        gx, gy = np.meshgrid(np.arange(minx + spacing / 2, maxx, spacing), np.arange(miny + spacing / 2, maxy, spacing))
        fill = np.column_stack([gx.ravel(), gy.ravel()])
        fill = fill[shapely.contains_xy(region_m, fill[:, 0], fill[:, 1])]
        if len(points):
            distance, _ = cKDTree(points).query(fill)
            fill = fill[distance > spacing / 2]
        seeds = np.vstack([points, fill])
        if len(seeds) >= max(k, 3):
            break
        spacing /= 2
    seed_weights = np.concatenate([weights, np.zeros(len(seeds) - len(points))])
    voronoi = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=region_m, ordered=True)
    clipped = shapely.intersection(np.asarray(shapely.get_parts(voronoi), dtype=object), region_m)
    cells, cell_weights, cell_seeds = [], [], []
    for geom, weight, seed in zip(clipped, seed_weights, seeds):
        pieces = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 0]
        if not pieces:
            continue
        holder = int(np.argmax([shapely.contains_xy(p, *seed) * 1e18 + p.area for p in pieces]))
        for n, piece in enumerate(pieces):
            cells.append(piece)
            cell_weights.append(weight if n == holder else 0.0)
            cell_seeds.append(seed if n == holder else shapely.get_coordinates(shapely.point_on_surface(piece))[0])
    return np.asarray(cells, dtype=object), np.asarray(cell_weights), np.asarray(cell_seeds)


def _adjacency(cells):
    tree = shapely.STRtree(cells)
    left, right = tree.query(cells, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    boundaries = shapely.boundary(cells)
    lines = shapely.intersection(boundaries[left], boundaries[right])
    shared = shapely.length(lines)
    ok = shared > 1e-3
    return np.column_stack([left[ok], right[ok]]), shared[ok], lines[ok]


def _attach_ends(lines, region_deg, fixed):
    """Put the ends of separating lines exactly on the region's outline.

    An end on the outline shared with a ``fixed`` (locked) grid moves to the nearest
    existing vertex, so that grid keeps its exact shape and bytes; any other end is
    projected onto the outline and becomes a new outline vertex (the editor adds it to
    the neighbour across, as for any cut). Returns the lines and the new vertices.
    """
    outline = shapely.boundary(region_deg)
    vertices = shapely.get_coordinates(outline)
    tree = shapely.STRtree(shapely.points(vertices))
    out, created = [], []
    for line in shapely.get_parts(lines):
        coords = shapely.get_coordinates(line)
        if len(coords) < 2:
            continue
        for end in (0, -1):
            point = shapely.points(coords[end])
            if shapely.distance(point, outline) > _ON_OUTLINE_DEG:
                continue
            nearest_vertex = vertices[int(tree.query_nearest(point)[0])]
            if fixed is not None and shapely.distance(point, fixed) <= _ON_OUTLINE_DEG:
                coords[end] = nearest_vertex
                continue
            on = shapely.get_coordinates(shapely.ops.nearest_points(outline, point)[0])[0]
            if np.hypot(*(on - nearest_vertex)) <= ON_EDGE_DEG:
                on = nearest_vertex
            else:
                created.append(on)
            coords[end] = on
        keep = np.ones(len(coords), dtype=bool)
        keep[1:] = np.any(coords[1:] != coords[:-1], axis=1)
        if keep.sum() >= 2:
            out.append(shapely.linestrings(coords[keep]))
    return out, np.asarray(created).reshape(-1, 2)


def _draw_parts(editor, region_deg, cells, labels, k, simplify_m, fixed=None):
    """Polygons (EPSG:4490) of the labelled cells, bounded by the region's outline."""
    pairs, _, lines = _adjacency(cells)
    differ = labels[pairs[:, 0]] != labels[pairs[:, 1]]
    parts_m = [shapely.union_all(cells[labels == q]) for q in range(k)]
    if not differ.any():
        return [region_deg]
    separators = shapely.line_merge(shapely.union_all(lines[differ]))
    if simplify_m > 0:
        separators = shapely.simplify(separators, simplify_m, preserve_topology=True)
    separators_deg = editor.store([separators])[0]
    attached, created = _attach_ends(separators_deg, region_deg, fixed)
    region = insert_vertices(region_deg, created) if len(created) else region_deg
    faces = faces_of([shapely.boundary(region), *attached])
    faces = faces[shapely.within(shapely.point_on_surface(faces), region)]
    faces_m = editor.metric(faces)
    f_idx, p_idx = shapely.STRtree(np.asarray(parts_m, dtype=object)).query(faces_m, predicate="intersects")
    overlap = shapely.area(shapely.intersection(faces_m[f_idx], np.asarray(parts_m, dtype=object)[p_idx]))
    owner = np.full(len(faces), -1)
    best = np.full(len(faces), -1.0)
    for f, p, a in zip(f_idx, p_idx, overlap):
        if a > best[f]:
            best[f], owner[f] = a, p
    polys = []
    for q in range(k):
        mine = faces[owner == q]
        if len(mine):
            polys.append(shapely.coverage_union_all(mine))
    anchors = [max(shapely.get_parts(p), key=shapely.area) for p in polys]
    polys = absorb_fragments(polys, shapely.point_on_surface(np.asarray(anchors, dtype=object)))
    return [p for p in polys if not shapely.is_empty(p)]


def partition_area(editor, region_deg, residents, k, target, *, fixed=None, random_state=0, time_limit=3.0,
                   simplify=True, cancelled=None):
    """Divide one polygon into ``k`` grids of balanced households without cutting buildings.

    Parameters
    ----------
    editor : GridEditor
        Supplies the EPSG:4490 <-> EPSG:4546 transforms.
    region_deg : shapely.Polygon
        The area, in EPSG:4490.
    residents : DataFrame
        Placed residents inside it: ``x``, ``y`` (EPSG:4490), ``household_id``.
    k : int
    target : (low, high)
        Household range; ``(m, m)`` asks for parts as equal as possible.
    fixed : shapely geometry, optional
        Boundaries of locked grids: part boundaries meet them only at existing vertices.
    cancelled : callable, optional
        Returns True to cut the search short.

    Returns
    -------
    list of shapely.Polygon
        The parts in EPSG:4490 (at most ``k``); their union is the region.
    """
    if k <= 1:
        return [region_deg]
    region_m = editor.metric([region_deg])[0]
    buildings = buildings_from_residents(residents)
    points = np.column_stack(editor.metric_xy(buildings["x"].to_numpy(), buildings["y"].to_numpy())) if len(
        buildings) else np.empty((0, 2))
    cells, weights, seeds = _cells(region_m, points, buildings["households"].to_numpy(float), k)
    if len(cells) < k:
        raise GridMapError(f"the area is too small to make {k} grids")
    pairs, shared, _ = _adjacency(cells)
    model = BalanceModel(weights, shapely.area(cells), shapely.length(cells), pairs, shared, seeds, k, target,
                         random_state=random_state, time_limit=time_limit, cancelled=cancelled).solve()
    return draw_labelled(editor, region_deg, cells, model.labels_, buildings, points, fixed=fixed, simplify=simplify)


def draw_labelled(editor, region_deg, cells, labels, buildings, points, *, fixed=None, simplify=True):
    """Draw the grids of labelled cells: boundaries between labels, smoothed where no building changes side.

    The separating lines are simplified (Douglas-Peucker, half the cell spacing)
    unless that would put a building with households in another grid than its cell's
    label; then they are drawn as the cell edges. Any labelling can be drawn this way
    (the benchmark draws spopt's regions with it too), so compactness compares like
    with like.
    """
    k = int(labels.max()) + 1
    region_m = editor.metric([region_deg])[0]
    spacing = math.sqrt(shapely.area(region_m) / max(len(cells), 1))
    attempts = [0.5 * spacing, 0.0] if simplify else [0.0]
    for tolerance in attempts:
        parts = _draw_parts(editor, region_deg, cells, labels, k, tolerance, fixed)
        complete = len(parts) == k and all(p.geom_type == "Polygon" for p in parts)
        if complete and (tolerance == 0 or _same_sides(editor, parts, buildings, points, cells, labels)):
            return parts
    return parts


def _same_sides(editor, parts, buildings, points, cells, labels):
    """True when every building with households lies in the part its cell was given."""
    if len(points) == 0:
        return True
    cell_idx = _assign(points, cells)
    wanted = np.where(cell_idx >= 0, labels[cell_idx], -1)
    placed = _assign(points, editor.metric(parts))
    # Parts come back in label order (none was lost), so the indices are comparable.
    return bool(np.all((placed == wanted) | (buildings["households"].to_numpy() == 0)))


@dataclass
class BalanceProposal:
    """A proposed re-division of a community, with before/after figures; nothing is written yet.

    Accept it with :meth:`gridmap.grids.edit.GridEditor.apply_balance`.
    """

    community_code: str
    k: int
    target: tuple
    locked: list
    fids: list
    blobs: dict
    geometries: list
    households: list
    before: pd.DataFrame
    after: pd.DataFrame
    quality_before: dict
    quality_after: dict
    seconds: float
    notes: list = field(default_factory=list)

    @property
    def feasible(self):
        """True when every proposed grid is within the household range."""
        return self.quality_after.get("within_target", 0) == len(self.geometries)

    def to_dict(self):
        return {
            "community_code": self.community_code,
            "k": self.k,
            "target": list(self.target),
            "locked": list(self.locked),
            "feasible": self.feasible,
            "seconds": round(self.seconds, 3),
            "before": self.quality_before,
            "after": self.quality_after,
            "households_before": self.before["households"].tolist(),
            "households_after": [int(h) for h in self.households],
            "notes": list(self.notes),
        }

    def report(self):
        """The before/after comparison as text lines for the command line."""
        lo, hi = self.target
        rows = [("grids", "grids"), ("households min", "households_min"), ("households max", "households_max"),
                ("households mean", "households_mean"), ("spread (max-min)", "spread"), ("CV", "cv"),
                (f"within {lo:g}-{hi:g}", "within_target"), ("compactness mean (Polsby-Popper)", "compactness_mean"),
                ("compactness min", "compactness_min"), ("buildings cut", "buildings_cut")]
        lines = [(f"balance community {self.community_code}: {self.k} grids of {lo:g}-{hi:g} households "
                  f"({len(self.locked)} locked, {self.seconds:.2f} s)"),
                 f"  {'':34} {'before':>10} {'after':>10}"]
        for label, key in rows:
            lines.append(f"  {label:34} {self.quality_before.get(key, ''):>10} {self.quality_after.get(key, ''):>10}")
        lines.append("  households per grid after: " + ", ".join(str(int(h)) for h in self.households))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _assign(points_xy, geoms):
    """Index of the polygon holding each point (smallest index on a shared boundary; -1 outside)."""
    out = np.full(len(points_xy), -1)
    if len(points_xy) == 0 or len(geoms) == 0:
        return out
    p_idx, g_idx = shapely.STRtree(np.asarray(geoms, dtype=object)).query(
        shapely.points(points_xy), predicate="intersects")
    order = np.lexsort((g_idx, p_idx))
    p_idx, g_idx = p_idx[order], g_idx[order]
    first = np.unique(p_idx, return_index=True)[1]
    out[p_idx[first]] = g_idx[first]
    return out


def _households_and_cuts(residents, labels, n):
    frame = residents.assign(part=labels)
    frame = frame[frame["part"] >= 0]
    households = frame.drop_duplicates("household_id").groupby("part").size().reindex(range(n), fill_value=0)
    cut = 0
    if "building_id" in frame and frame["building_id"].notna().any():
        cut = int((frame.dropna(subset=["building_id"]).groupby("building_id")["part"].nunique() > 1).sum())
    return households.to_numpy(), cut


def _bounds(geoms):
    b = shapely.bounds(np.asarray(geoms, dtype=object))
    return b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()


def _allocate(k, weights):
    """Split ``k`` grids among areas in proportion to ``weights``, each area at least one."""
    weights = np.asarray(weights, dtype=float)
    n = len(weights)
    if k < n:
        raise GridMapError(f"{k} grids cannot cover {n} separate pieces of the area (locked grids split it)")
    share = 1 + (k - n) * weights / weights.sum() if weights.sum() > 0 else np.full(n, k / n)
    counts = np.floor(share).astype(int)
    counts[np.argsort(-(share - counts), kind="stable")[: k - counts.sum()]] += 1
    return counts


def propose_balance(editor, community_code, k=None, target=DEFAULT_TARGET, locked=(), random_state=0,
                    time_limit=4.0, progress=None, cancelled=None):
    """Propose a re-division of a community's unlocked grids into ``k`` balanced grids.

    Parameters
    ----------
    editor : GridEditor
    community_code : str
    k : int, optional
        Number of grids; by default the number nearest the middle of ``target`` that
        keeps every grid in range (:func:`choose_k`).
    target : (low, high)
        Households per grid (default 300-500).
    locked : iterable of str
        Grids to keep as they are (in addition to the project's locked grids).
    random_state : int
    time_limit : float
        Seconds for the search.
    progress : callable(fraction, message), optional
    cancelled : callable() -> bool, optional
        Polled during the search; when it returns True the proposal is abandoned.

    Returns
    -------
    BalanceProposal

    Raises
    ------
    InfeasibleBalance
        When ``k`` grids of ``target`` households cannot hold the community's
        households; the message says how many are short or over.
    GridMapError
        ``balance cancelled`` when ``cancelled()`` turned True.
    """
    lo, hi = (float(v) for v in target)
    if lo > hi or hi <= 0:
        raise GridMapError(f"--target must be LOW-HIGH with LOW <= HIGH, got {lo:g}-{hi:g}")
    start = time.perf_counter()
    with transaction(editor.path) as tx:
        members = tx.community(community_code)
        if not members:
            raise GridMapError(f"no community {community_code}")
        codes = {g.code for g in members}
        asked = {str(c) for c in locked}
        stray = sorted(asked - codes)
        if stray:
            raise GridMapError(f"locked grid {stray[0]} is not in community {community_code}")
        lockset = (asked | tx.locked()) & codes
        free = sorted((g for g in members if g.code not in lockset), key=lambda g: g.code)
        if not free:
            raise GridMapError(f"every grid of community {community_code} is locked")
        residents = resident_points(tx, free)
        all_locked = lockset | tx.locked()
        box = _bounds([g.geom for g in free])
        fixed_grids = [g.geom for g in tx.in_bbox(box) if g.code in all_locked]
        geom_col = tx.grids.geom_col
        fids = [g.fid for g in free]
        blobs = {g.fid: g.row[geom_col] for g in free}
    total = int(residents["household_id"].nunique())
    if k is None:
        k = choose_k(total, (lo, hi))
    else:
        k = int(k)
        if k < 1:
            raise GridMapError(f"the number of grids must be at least 1, got {k}")
        if total < k * lo:
            raise InfeasibleBalance(f"{k} grids of {lo:g}-{hi:g} households need at least {k * lo:g}; community "
                                    f"{community_code} has {total} ({k * lo - total:g} short)")
        if total > k * hi:
            raise InfeasibleBalance(f"{k} grids of {lo:g}-{hi:g} households hold at most {k * hi:g}; community "
                                    f"{community_code} has {total} ({total - k * hi:g} over)")
    geoms = [g.geom for g in free]
    region = shapely.coverage_union_all(geoms)
    if not region.is_valid:
        region = shapely.union_all(geoms)
    pieces = list(shapely.get_parts(region))
    fixed = shapely.union_all(shapely.boundary(np.asarray(fixed_grids, dtype=object))) if fixed_grids else None
    xy = residents[["x", "y"]].to_numpy(float)
    where = _assign(xy, pieces)
    piece_households = [residents.loc[where == n, "household_id"].nunique() for n in range(len(pieces))]
    allocation = _allocate(k, np.asarray(piece_households) + 1e-6 * np.asarray(shapely.area(pieces)))
    parts = []
    for n, (piece, kc) in enumerate(zip(pieces, allocation)):
        if progress is not None:
            progress(0.1 + 0.8 * n / len(pieces), f"dividing into {k} grids")
        parts += partition_area(editor, piece, residents[where == n], int(kc), (lo, hi), fixed=fixed,
                                random_state=random_state, time_limit=time_limit * kc / k, cancelled=cancelled)
        if cancelled is not None and cancelled():
            raise GridMapError("balance cancelled")
    notes = []
    if len(parts) < k:
        notes.append(f"only {len(parts)} parts could be drawn")
    before_labels = _assign(xy, geoms)
    before_households, before_cut = _households_and_cuts(residents, before_labels, len(geoms))
    after_labels = _assign(xy, parts)
    after_households, after_cut = _households_and_cuts(residents, after_labels, len(parts))
    before_m, after_m = editor.metric(geoms), editor.metric(parts)
    before = pd.DataFrame({"grid_code": [g.code for g in free], "households": before_households,
                           "area_m2": np.round(shapely.area(before_m), 1),
                           "compactness": np.round(polsby_popper(before_m), 3)})
    after = pd.DataFrame({"part": range(1, len(parts) + 1), "households": after_households,
                          "area_m2": np.round(shapely.area(after_m), 1),
                          "compactness": np.round(polsby_popper(after_m), 3)})
    proposal = BalanceProposal(
        community_code=community_code, k=len(parts), target=(lo, hi), locked=sorted(lockset), fids=fids, blobs=blobs,
        geometries=parts, households=[int(h) for h in after_households], before=before, after=after,
        quality_before=balance_quality(before_households, before_m, (lo, hi), before_cut),
        quality_after=balance_quality(after_households, after_m, (lo, hi), after_cut),
        seconds=time.perf_counter() - start, notes=notes,
    )
    if progress is not None:
        progress(1.0, "proposal ready")
    if not proposal.feasible:
        proposal.notes.append(f"{len(parts) - proposal.quality_after['within_target']} grid(s) outside "
                              f"{lo:g}-{hi:g} households: buildings are too large or too few to fit the range")
    return proposal
