"""Coverage of existing services: nearest facility, walking radius, load vs capacity (issue 5 §4).

For every grid and every facility kind:

1. **Centre.** The grid's elderly residents' mean location (each person counts
   once); a grid without located elderly residents falls back to a point on its
   polygon (``centre_source = "polygon"``) and has zero demand.
2. **Nearest facility and distance.** Straight-line by :class:`scipy.spatial.cKDTree`
   (one tree per kind, built once). When the project has a ``roads`` layer the
   distance is measured **along the road network** instead: the lines are noded at
   their crossings, densified to vertices every ``spacing`` metres, and every
   centre and facility is joined to its nearest vertex by a straight access leg;
   one multi-source Dijkstra per kind (:func:`scipy.sparse.csgraph.dijkstra` with
   ``min_only=True``) gives every vertex its nearest facility. A centre that
   cannot reach any facility of the kind along the roads (a road fragment, the far
   bank of a river) keeps its straight-line distance, and the messages say so.
3. **Covered** when that distance is within the kind's walking radius (default
   1,000 m, the 15-minute walking circle; a dict sets it per kind).
4. **Load vs capacity.** Every grid's demand (the demand index of
   :mod:`gridmap.care.demand`) goes to its nearest facility of the kind. A
   facility's ``load`` is that demand times the kind's **uptake** (places used per
   unit of demand, :data:`DEFAULT_UPTAKE`, overridable in the project's meta
   ``care_uptake``), compared with its ``capacity`` (beds, day-care places, meals a
   day). Shops and clinics have no capacity: their load is reported, not compared.
5. **Unmet demand** of a grid and kind: all of its demand when no facility is
   within the radius; otherwise the share its facility cannot serve,
   ``demand * (1 - capacity / load)`` when the facility is over capacity
   (proportional rationing); else zero. :attr:`CoverageResult.underserved` lists
   the grids with unmet demand and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from gridmap.crs import METRIC_CRS
from gridmap.errors import GridMapError
from gridmap.schema import FACILITY_KIND_LABELS

__all__ = [
    "CARE_KINDS",
    "DEFAULT_RADIUS",
    "DEFAULT_UPTAKE",
    "CoverageResult",
    "RoadNetwork",
    "analyse_coverage",
    "coverage",
    "grid_centres",
    "write_coverage",
]

DEFAULT_RADIUS = 1000.0

#: The care facility kinds analysed by default, with every other kind present.
CARE_KINDS = ("elderly_home", "day_care", "care_station", "meal_point", "health_centre")

#: Places used per unit of demand index (planning assumptions; meta ``care_uptake``).
#: One unit is one independent person aged 60+, and the city's elderly average about
#: two units, so 0.015 beds per unit is about 3 beds per 100 elderly residents.
DEFAULT_UPTAKE = {
    "elderly_home": 0.015,  # beds
    "day_care": 0.01,  # day-care places
    "care_station": 0.01,  # service-station places
    "meal_point": 0.04,  # meals a day
}

UPTAKE_META_KEY = "care_uptake"
_EXCLUDED_KINDS = ("candidate",)
_LIST_AT_MOST = 5


@dataclass
class CoverageResult:
    """Coverage of every grid by every facility kind.

    Attributes
    ----------
    grids : DataFrame
        One row per grid and kind: ``grid_code grid_name community kind kind_label
        elderly demand centre_x centre_y centre_source facility_id facility_name
        distance_m straight_m method radius_m covered utilisation unmet_demand
        reason``. ``distance_m`` is along the roads when ``method == "network"``,
        ``straight_m`` the straight-line distance to the same facility; both are
        NaN and ``covered`` False when the project has no facility of the kind.
    facilities : DataFrame
        One row per facility of an analysed kind: ``facility_id name kind
        kind_label grid_code in_grid capacity grids_served elderly_served
        demand_served load utilisation over_capacity``.
    method : str
        ``"network"`` or ``"straight-line"``.
    messages : list of str
        What was left out or approximated, for the user.
    """

    grids: pd.DataFrame
    facilities: pd.DataFrame
    method: str
    radius: dict
    uptake: dict
    messages: list = field(default_factory=list)

    @property
    def underserved(self) -> pd.DataFrame:
        """Grid-kind rows with unmet demand, largest first."""
        rows = self.grids[self.grids["unmet_demand"] > 0]
        columns = [
            "grid_code",
            "grid_name",
            "community",
            "kind",
            "kind_label",
            "elderly",
            "demand",
            "unmet_demand",
            "facility_id",
            "distance_m",
            "reason",
        ]
        return rows[[c for c in columns if c in rows]].sort_values(
            ["unmet_demand", "grid_code"], ascending=[False, True], ignore_index=True
        )

    def wide(self, value="distance_m") -> pd.DataFrame:
        """One row per grid, one column per kind, holding ``value`` (e.g. ``covered``)."""
        return self.grids.pivot(index="grid_code", columns="kind", values=value)

    def summary(self) -> str:
        lines = [f"coverage by {self.method} distance:"]
        for kind, rows in self.grids.groupby("kind", sort=False):
            share = rows.loc[rows["covered"], "demand"].sum() / max(rows["demand"].sum(), 1e-12)
            lines.append(
                f"  {kind} ({FACILITY_KIND_LABELS.get(kind, kind)}): "
                f"{int(rows['covered'].sum())}/{len(rows)} grids within {self.radius[kind]:g} m, "
                f"{share:.0%} of demand; unmet {rows['unmet_demand'].sum():,.0f}"
            )
        return "\n".join(lines)


class RoadNetwork:
    """A walking graph from road lines, for shortest distances along the streets.

    Parameters
    ----------
    lines : array_like of shapely geometries
        Road (Multi)LineStrings in metres (EPSG:4546).
    spacing : float, default 50
        Densify the lines to a vertex at least every ``spacing`` metres, so that the
        nearest vertex to a point is within ``spacing / 2`` (along the road) of the
        foot of its perpendicular.
    min_share : float, default 0.01
        Ignore connected pieces with fewer than this share of the vertices (short
        fragments that would trap the points snapped to them).
    """

    def __init__(self, lines, *, spacing=50.0, min_share=0.01):
        parts = shapely.get_parts(np.asarray(lines, dtype=object))
        parts = parts[~shapely.is_empty(parts) & (shapely.get_type_id(parts) == 1)]
        if parts.size == 0:
            raise GridMapError("roads: no line geometries to build a network from")
        # Node at every crossing so that crossing streets connect.
        noded = shapely.get_parts(shapely.node(shapely.multilinestrings(parts)))
        noded = shapely.segmentize(noded, spacing)
        xy, part = shapely.get_coordinates(noded, return_index=True)
        nodes, inverse = np.unique(np.round(xy, 2), axis=0, return_inverse=True)
        inverse = inverse.ravel()
        same = part[1:] == part[:-1]
        a, b = inverse[:-1][same], inverse[1:][same]
        length = np.hypot(*(xy[1:] - xy[:-1])[same].T)
        keep = (a != b) & (length > 0)
        # One edge per vertex pair, the shortest (overlapping roads repeat segments;
        # a sparse matrix would add their lengths).
        lo, hi, length = np.minimum(a, b)[keep], np.maximum(a, b)[keep], length[keep]
        order = np.lexsort((length, hi, lo))
        lo, hi, length = lo[order], hi[order], length[order]
        first = np.r_[True, (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])]
        n = len(nodes)
        graph = sp.csr_matrix((length[first], (lo[first], hi[first])), shape=(n, n))
        _, labels = connected_components(graph, directed=False)
        sizes = np.bincount(labels)
        self.usable = sizes[labels] >= max(2, min_share * n)
        self.nodes = nodes
        self.graph = graph
        self.components = int((sizes >= max(2, min_share * n)).sum())
        self.length_km = float(length[first].sum() / 1000.0)
        self._tree = cKDTree(nodes[self.usable])
        self._usable_index = np.flatnonzero(self.usable)

    @classmethod
    def from_project(cls, project, **kwargs):
        """The network of the project's ``roads`` layer."""
        roads = project.read("roads")
        return cls(roads.to_crs(METRIC_CRS).geometry.values, **kwargs)

    def snap(self, x, y):
        """Nearest usable vertex of every point: ``(vertex index, access leg in metres)``."""
        leg, i = self._tree.query(np.column_stack([x, y]))
        return self._usable_index[i], leg

    def nearest(self, source_x, source_y, target_x, target_y):
        """For every target, the nearest source along the roads and the distance.

        Returns
        -------
        source : ndarray of int
            Index into the sources; -1 where no source is reachable.
        distance : ndarray of float
            Access leg + path + access leg, metres; inf where unreachable.
        """
        s_node, s_leg = self.snap(source_x, source_y)
        t_node, t_leg = self.snap(target_x, target_y)
        n, m = self.graph.shape[0], len(s_node)
        # One virtual vertex per source, joined to its snapped vertex by its access
        # leg, turns "nearest source with its own leg" into a plain multi-source
        # shortest path (csgraph reads an explicit 0 as "no edge", hence the floor).
        legs = sp.coo_matrix(
            (np.maximum(s_leg, 1e-6), (np.arange(m) + n, s_node)), shape=(n + m, n + m)
        )
        graph = sp.block_diag([self.graph, sp.csr_matrix((m, m))], format="csr") + legs.tocsr()
        dist, _, origin = dijkstra(
            graph,
            directed=False,
            indices=np.arange(n, n + m),
            min_only=True,
            return_predecessors=True,
        )
        reach = np.isfinite(dist[t_node])
        source = np.where(reach, origin[t_node] - n, -1)
        return source, np.where(reach, dist[t_node] + t_leg, np.inf)


def _check_grids(grids):
    if not isinstance(grids, gpd.GeoDataFrame):
        raise GridMapError(f"grids: expected a GeoDataFrame, got {type(grids).__name__}")
    if "grid_code" not in grids:
        raise GridMapError("grids: no grid_code column")
    if grids.crs is None:
        raise GridMapError("grids: no CRS")
    return grids.to_crs(METRIC_CRS)


def grid_centres(grids, elderly):
    """The centre of every grid: its located elderly residents' mean position.

    Parameters
    ----------
    grids : GeoDataFrame
        With ``grid_code``; any CRS.
    elderly : DataFrame
        With ``grid_code``, ``x``, ``y`` (EPSG:4546) and ``demand``.

    Returns
    -------
    DataFrame
        ``grid_code``, ``elderly`` (located residents), ``demand``, ``centre_x``,
        ``centre_y`` (EPSG:4546), ``centre_source`` (``"elderly"`` or ``"polygon"``).
    """
    metric = _check_grids(grids)
    codes = metric["grid_code"].astype("string").to_numpy()
    index = pd.Index(codes).get_indexer(elderly["grid_code"].astype("string"))
    x, y = elderly["x"].to_numpy(dtype="float64"), elderly["y"].to_numpy(dtype="float64")
    ok = (index >= 0) & np.isfinite(x) & np.isfinite(y)
    n = len(codes)
    count = np.bincount(index[ok], minlength=n)
    demand = np.bincount(
        index[ok], weights=elderly["demand"].to_numpy(dtype="float64")[ok], minlength=n
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = np.bincount(index[ok], weights=x[ok], minlength=n) / count
        cy = np.bincount(index[ok], weights=y[ok], minlength=n) / count
    empty = count == 0
    if empty.any():
        inner = shapely.point_on_surface(metric.geometry.values[empty])
        cx[empty], cy[empty] = shapely.get_x(inner), shapely.get_y(inner)
    return pd.DataFrame(
        {
            "grid_code": codes,
            "elderly": count.astype("int64"),
            "demand": demand,
            "centre_x": cx,
            "centre_y": cy,
            "centre_source": np.where(empty, "polygon", "elderly"),
        }
    )


def _names(frame, mask):
    rows = frame.loc[mask]
    shown = [
        f"{i} {n}"
        for i, n in zip(rows["facility_id"].head(_LIST_AT_MOST), rows["name"].head(_LIST_AT_MOST))
    ]
    more = f" and {len(rows) - _LIST_AT_MOST} more" if len(rows) > _LIST_AT_MOST else ""
    return ", ".join(shown) + more


def _prepare_facilities(facilities, grids_metric, kinds, messages):
    if not isinstance(facilities, gpd.GeoDataFrame) or facilities.crs is None:
        raise GridMapError("facilities: expected a GeoDataFrame with a CRS")
    if "kind" not in facilities:
        raise GridMapError("facilities: no kind column (elderly_home, day_care, ...)")
    fac = facilities.to_crs(METRIC_CRS).reset_index(drop=True)
    if "facility_id" not in fac:
        fac["facility_id"] = [f"row {i}" for i in range(len(fac))]
    if "name" not in fac:
        fac["name"] = ""
    if "capacity" not in fac:
        fac["capacity"] = np.nan
    fac["capacity"] = pd.to_numeric(fac["capacity"], errors="coerce")
    fac = fac[fac["kind"].isin(kinds)].reset_index(drop=True)
    geom = fac.geometry.values
    missing = shapely.is_missing(geom) | shapely.is_empty(geom)
    if missing.any():
        messages.append(
            f"{int(missing.sum())} facilities have no location and are left out: "
            f"{_names(fac, missing)}"
        )
        fac = fac[~missing].reset_index(drop=True)
    if len(fac):
        points = shapely.point_on_surface(
            fac.geometry.values
        )  # a polygon facility counts at its inside point
        fac["x"], fac["y"] = shapely.get_x(points), shapely.get_y(points)
        tree = shapely.STRtree(grids_metric.geometry.values)
        hit, _ = tree.query(points, predicate="intersects")
        fac["in_grid"] = np.isin(np.arange(len(fac)), hit)
        outside = ~fac["in_grid"].to_numpy()
        if outside.any():
            messages.append(
                f"{int(outside.sum())} facilities lie outside all grids: {_names(fac, outside)}; "
                "they still serve the grids nearest to them"
            )
    else:
        fac["x"] = fac["y"] = np.array([], dtype="float64")
        fac["in_grid"] = np.array([], dtype=bool)
    return fac


def _resolve(option, kinds, default, name):
    if option is None:
        return {
            k: default.get(k, math.nan) if isinstance(default, dict) else default for k in kinds
        }
    if isinstance(option, dict):
        unknown = set(option) - set(kinds)
        if unknown:
            raise GridMapError(
                f"{name}: no analysed kind {min(unknown)!r} (kinds: {', '.join(kinds)})"
            )
        base = _resolve(None, kinds, default, name)
        return {**base, **{k: float(v) for k, v in option.items()}}
    return {k: float(option) for k in kinds}


def coverage(
    grids,
    elderly,
    facilities,
    *,
    kinds=None,
    radius=DEFAULT_RADIUS,
    uptake=None,
    network=None,
    progress=None,
    cancelled=None,
) -> CoverageResult:
    """Measure how well the existing facilities cover every grid.

    Parameters
    ----------
    grids : GeoDataFrame
        With ``grid_code`` (``grid_name`` and ``community`` are copied when present).
    elderly : DataFrame
        :func:`gridmap.care.demand.load_elderly` output: ``grid_code``, ``x``, ``y``,
        ``demand``.
    facilities : GeoDataFrame
        With ``kind`` and ideally ``facility_id``, ``name``, ``capacity``.
    kinds : list of str, optional
        Kinds to analyse; default :data:`CARE_KINDS` plus every other kind present
        except ``candidate``.
    radius : float or dict, default 1000
        Walking radius in metres, one number or kind -> metres (others default).
    uptake : dict, optional
        Kind -> places per unit of demand (merged over :data:`DEFAULT_UPTAKE`).
    network : RoadNetwork, optional
        Measure along these roads; straight-line when None.
    progress : callable(fraction, message), optional
    cancelled : callable() -> bool, optional
        Checked between kinds; a cancel raises :class:`GridMapError`.

    Returns
    -------
    CoverageResult
    """
    messages = []
    metric = _check_grids(grids)
    if not len(metric):
        raise GridMapError("grids: the layer is empty")
    known = set(FACILITY_KIND_LABELS) | set(
        facilities.get("kind", pd.Series(dtype=object)).dropna()
    )
    if kinds is None:
        present = (
            [k for k in pd.unique(facilities["kind"].dropna()) if k not in _EXCLUDED_KINDS]
            if "kind" in facilities
            else []
        )
        kinds = list(CARE_KINDS) + [k for k in present if k not in CARE_KINDS]
    else:
        kinds = list(dict.fromkeys(kinds))
        bad = [k for k in kinds if k not in known]
        if bad:
            raise GridMapError(
                f"unknown facility kind {bad[0]!r} (known: {', '.join(sorted(known))})"
            )
    radius = _resolve(radius, kinds, DEFAULT_RADIUS, "radius")
    for kind, value in radius.items():
        if not (math.isfinite(value) and value > 0):
            raise GridMapError(
                f"radius of {kind!r} must be a positive number of metres, got {value!r}"
            )
    uptake = _resolve(uptake, kinds, DEFAULT_UPTAKE, "uptake")

    centres = grid_centres(metric, elderly)
    empty = centres["centre_source"] == "polygon"
    if empty.any():
        messages.append(
            f"{int(empty.sum())} grids have no located elderly residents: their centre is a point "
            "inside the polygon and their demand is 0"
        )
    for column in ("grid_name", "community"):
        centres[column] = metric[column].to_numpy() if column in metric else ""
    fac = _prepare_facilities(facilities, metric, kinds, messages)
    method = "network" if network is not None else "straight-line"
    gx, gy = centres["centre_x"].to_numpy(), centres["centre_y"].to_numpy()
    demand = centres["demand"].to_numpy()
    n = len(centres)

    grid_rows, fac_rows = [], []
    for step, kind in enumerate(kinds):
        if cancelled is not None and cancelled():
            raise GridMapError("coverage cancelled")
        if progress is not None:
            progress(step / len(kinds), f"coverage: {kind}")
        label = FACILITY_KIND_LABELS.get(kind, kind)
        mine = fac[fac["kind"] == kind].reset_index(drop=True)
        rows = centres.assign(kind=kind, kind_label=label, radius_m=radius[kind], method=method)
        if mine.empty:
            messages.append(
                f"no {label} ({kind}) facilities in the project: every grid counts as uncovered"
            )
            rows = rows.assign(
                facility_id=None,
                facility_name=None,
                distance_m=np.nan,
                straight_m=np.nan,
                covered=False,
                utilisation=np.nan,
                unmet_demand=demand,
                reason=f"no {label} in the project",
            )
            grid_rows.append(rows)
            continue
        fx, fy = mine["x"].to_numpy(), mine["y"].to_numpy()
        straight, nearest = cKDTree(np.column_stack([fx, fy])).query(np.column_stack([gx, gy]))
        distance = straight.copy()
        used = np.full(n, "straight-line", dtype=object)
        if network is not None:
            along_nearest, along = network.nearest(fx, fy, gx, gy)
            reach = along_nearest >= 0
            nearest = np.where(reach, along_nearest, nearest)
            distance = np.where(reach, along, straight)
            used[reach] = "network"
            straight = np.hypot(fx[nearest] - gx, fy[nearest] - gy)
            if not reach.all():
                messages.append(
                    f"{int((~reach).sum())} grids cannot reach any {label} along the roads; "
                    "their straight-line distance is used"
                )
        covered = distance <= radius[kind]

        served = np.bincount(nearest, weights=demand, minlength=len(mine))
        load = served * uptake[kind]
        capacity = mine["capacity"].to_numpy(dtype="float64")
        with np.errstate(invalid="ignore", divide="ignore"):
            utilisation = load / capacity
        if math.isfinite(uptake[kind]):
            no_capacity = ~np.isfinite(capacity) | (capacity <= 0)
            if no_capacity.any():
                messages.append(
                    f"{int(no_capacity.sum())} {label} facilities have no capacity: "
                    f"their load is not compared ({_names(mine, no_capacity)})"
                )
        fac_rows.append(
            pd.DataFrame(
                {
                    "facility_id": mine["facility_id"].to_numpy(),
                    "name": mine["name"].to_numpy(),
                    "kind": kind,
                    "kind_label": label,
                    "grid_code": mine["grid_code"].to_numpy() if "grid_code" in mine else None,
                    "in_grid": mine["in_grid"].to_numpy(),
                    "capacity": capacity,
                    "grids_served": np.bincount(nearest, minlength=len(mine)),
                    "elderly_served": np.bincount(
                        nearest, weights=centres["elderly"].to_numpy(), minlength=len(mine)
                    ).astype("int64"),
                    "demand_served": served,
                    "load": load,
                    "utilisation": utilisation,
                    "over_capacity": np.nan_to_num(utilisation, nan=0.0) > 1.0,
                }
            )
        )

        grid_util = utilisation[nearest]
        over = covered & (np.nan_to_num(grid_util, nan=0.0) > 1.0)
        unmet = np.where(~covered, demand, 0.0)
        unmet = np.where(over, demand * (1.0 - 1.0 / np.where(over, grid_util, 1.0)), unmet)
        names = mine["name"].to_numpy()
        ids = mine["facility_id"].to_numpy()
        reason = np.where(
            ~covered,
            [f"no {label} within {radius[kind]:g} m (nearest {d:,.0f} m)" for d in distance],
            np.where(
                over,
                [
                    f"nearest {label} {i} is at {u:.0%} of capacity"
                    for i, u in zip(ids[nearest], np.nan_to_num(grid_util))
                ],
                "",
            ),
        )
        grid_rows.append(
            rows.assign(
                facility_id=ids[nearest],
                facility_name=names[nearest],
                distance_m=distance,
                straight_m=straight,
                method=used,
                covered=covered,
                utilisation=grid_util,
                unmet_demand=unmet,
                reason=reason,
            )
        )
    if progress is not None:
        progress(1.0, "coverage: done")

    columns = [
        "grid_code",
        "grid_name",
        "community",
        "kind",
        "kind_label",
        "elderly",
        "demand",
        "centre_x",
        "centre_y",
        "centre_source",
        "facility_id",
        "facility_name",
        "distance_m",
        "straight_m",
        "method",
        "radius_m",
        "covered",
        "utilisation",
        "unmet_demand",
        "reason",
    ]
    table = pd.concat(grid_rows, ignore_index=True)[columns]
    table["covered"] = table["covered"].astype(bool)
    fac_columns = [
        "facility_id",
        "name",
        "kind",
        "kind_label",
        "grid_code",
        "in_grid",
        "capacity",
        "grids_served",
        "elderly_served",
        "demand_served",
        "load",
        "utilisation",
        "over_capacity",
    ]
    fac_table = (
        pd.concat(fac_rows, ignore_index=True) if fac_rows else pd.DataFrame(columns=fac_columns)
    )
    return CoverageResult(
        grids=table,
        facilities=fac_table[fac_columns],
        method=method,
        radius=radius,
        uptake=uptake,
        messages=messages,
    )


def analyse_coverage(
    project,
    *,
    kinds=None,
    radius=DEFAULT_RADIUS,
    uptake=None,
    roads="auto",
    weights=None,
    elderly=None,
    write=False,
    progress=None,
    cancelled=None,
) -> CoverageResult:
    """Run :func:`coverage` on ``project`` and optionally save it.

    Parameters
    ----------
    roads : {"auto", True, False} or RoadNetwork
        ``"auto"`` measures along the ``roads`` layer when the project has one;
        ``False`` forces straight-line distances.
    uptake : dict, optional
        On top of the project's meta ``care_uptake`` and :data:`DEFAULT_UPTAKE`.
    weights : dict, optional
        Demand weight overrides (see :mod:`gridmap.care.demand`).
    elderly : DataFrame, optional
        Already-loaded :func:`gridmap.care.demand.load_elderly` output.
    write : bool
        Save with :func:`write_coverage`.
    """
    from gridmap.care.demand import elderly_demand

    for layer in ("grids", "facilities"):
        if not project.has_layer(layer):
            raise GridMapError(f"{project.path}: has no {layer} layer")
    weights, elderly = elderly_demand(project, weights, elderly)
    stored = project.meta().get(UPTAKE_META_KEY) or {}
    if not isinstance(stored, dict):
        raise GridMapError(
            f"{project.path}: meta {UPTAKE_META_KEY} must map facility kind -> "
            "places per demand unit"
        )
    merged_uptake = {**DEFAULT_UPTAKE, **stored, **(uptake or {})}
    network = None
    if isinstance(roads, RoadNetwork):
        network = roads
    elif roads is True or (roads == "auto" and project.has_layer("roads")):
        if not project.has_layer("roads"):
            raise GridMapError(f"{project.path}: has no roads layer for network distances")
        network = RoadNetwork.from_project(project)
    grids = project.read("grids", columns=["grid_code", "grid_name", "community"])
    facilities = project.read("facilities")
    kinds_present = set(facilities["kind"].dropna()) if "kind" in facilities else set()
    analysed = kinds or list(CARE_KINDS) + sorted(
        kinds_present - set(CARE_KINDS) - set(_EXCLUDED_KINDS)
    )
    result = coverage(
        grids,
        elderly,
        facilities,
        kinds=analysed,
        radius=radius,
        uptake={k: v for k, v in merged_uptake.items() if k in analysed},
        network=network,
        progress=progress,
        cancelled=cancelled,
    )
    if write:
        write_coverage(project, result)
    return result


def write_coverage(project, result: CoverageResult) -> None:
    """Save the ``care_coverage`` and ``care_facility_load`` tables and grid columns.

    The grids layer gets ``dist_<kind>`` (distance to the nearest facility of each
    kind, metres) and ``care_unmet`` (unmet demand summed over the kinds).
    """
    grids = project.read("grids")
    grids = grids.drop(
        columns=[c for c in grids.columns if c.startswith("dist_") or c == "care_unmet"]
    )
    codes = grids["grid_code"].astype("string").to_numpy()
    distance = result.wide("distance_m").reindex(codes)
    for kind in distance.columns:
        grids[f"dist_{kind}"] = distance[kind].to_numpy()
    unmet = result.grids.groupby("grid_code")["unmet_demand"].sum().reindex(codes)
    grids["care_unmet"] = unmet.fillna(0).to_numpy()
    ordered = [c for c in grids.columns if c != "geometry"] + ["geometry"]
    project.write(
        {
            "grids": grids[ordered],
            "care_coverage": result.grids,
            "care_facility_load": result.facilities,
        }
    )
