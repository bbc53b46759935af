"""Need types of elderly residents and spatial concentrations of demand (issue 5 §2).

**Need types.** Every elderly resident's need profile is the six 0/1 indicators
of :mod:`gridmap.care.demand` beyond age 60 (80+, living alone, semi-disabled,
disabled, low income, chronic illness), each multiplied by the square root of its
demand weight, so that the squared distance between two profiles is the demand
weight of the needs in which they differ. Profiles repeat (there are at most 48
distinct ones), so k-means (scikit-learn, seeded) runs on the distinct profiles
weighted by their counts, which takes milliseconds for any number of residents.

The number of types ``k`` is chosen among ``k_range`` (default 3-8) by the
**silhouette** over all residents, computed exactly on the distinct profiles
weighted by their counts (:func:`profile_silhouette`), restricted to the ``k`` for
which every type holds at least ``min_share`` (default 5%) of the elderly: on
discrete profiles the silhouette keeps rising as tiny types split off, and a type
of a few hundred people is not a planning category.

Each type is described by its prevalence of each need and named in Chinese from
the needs held by a majority of its members (:func:`type_name`, e.g. 独居高龄,
失能家庭照护, 低收入慢病, 自理活跃). Its **service package mix** is the
demand-weighted sum of :data:`SERVICE_AFFINITY` rows over its needs, normalised:
what each need calls for among 社区养老 (community care at home), 集中膳食 (meals),
健康医疗 (health care), 老年日托 (day care) and 老人互助 (mutual aid). A grid's
**recommended service mix** is the demand of its residents of each type spread by
the type's mix, with the types that drive it listed.

**Spatial concentrations.** Getis-Ord :math:`G_i^*` on the grids' demand density
(demand index per km²) with a binary distance band between grid centres; grids
with :math:`G_i^* > z` (default 1.96, the upper tail of a two-sided test at 5%)
that touch are dissolved into one polygon, named by the communities it covers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from gridmap.care.demand import INDICATOR_LABELS, check_weights
from gridmap.crs import METRIC_CRS
from gridmap.errors import GridMapError

__all__ = [
    "NEED_FEATURES",
    "SERVICES",
    "SERVICE_AFFINITY",
    "SERVICE_LABELS",
    "NeedTypes",
    "analyse_clusters",
    "gi_star",
    "hotspots",
    "need_types",
    "profile_silhouette",
    "service_mix",
    "type_name",
    "write_clusters",
]

#: The need indicators that make up a profile (elderly_60 is true for everyone).
NEED_FEATURES = (
    "elderly_80",
    "living_alone",
    "semi_disabled",
    "disabled",
    "low_income",
    "chronic_illness",
)

SERVICES = ("community_care", "meals", "health", "day_care", "mutual_aid")
SERVICE_LABELS = {
    "community_care": "社区养老",
    "meals": "集中膳食",
    "health": "健康医疗",
    "day_care": "老年日托",
    "mutual_aid": "老人互助",
}

#: What one unit of demand from each need calls for, as shares of the five
#: service packages (each row sums to 1). ``elderly_60`` is the base every
#: resident carries: an independent older person mainly joins mutual-aid groups.
SERVICE_AFFINITY = {
    #                    care  meals health day  mutual
    "elderly_60": (0.3, 0.1, 0.2, 0.0, 0.4),
    "elderly_80": (0.3, 0.3, 0.2, 0.2, 0.0),
    "living_alone": (0.3, 0.3, 0.0, 0.0, 0.4),
    "semi_disabled": (0.3, 0.1, 0.2, 0.4, 0.0),
    "disabled": (0.6, 0.0, 0.3, 0.1, 0.0),
    "low_income": (0.3, 0.5, 0.2, 0.0, 0.0),
    "chronic_illness": (0.0, 0.1, 0.8, 0.1, 0.0),
}

FEATURE_SHORT = {
    "elderly_80": "高龄",
    "living_alone": "独居",
    "semi_disabled": "半失能",
    "disabled": "失能",
    "low_income": "低收入",
    "chronic_illness": "慢病",
}

# (needs held by a majority, name): the first rule whose needs are all dominant wins.
_NAME_RULES = (
    (("disabled", "living_alone"), "独居失能"),
    (("disabled",), "失能家庭照护"),
    (("semi_disabled", "living_alone"), "独居半失能"),
    (("semi_disabled",), "半失能照护"),
    (("living_alone", "elderly_80"), "独居高龄"),
    (("living_alone",), "独居老人"),
    (("low_income", "chronic_illness"), "低收入慢病"),
    (("elderly_80", "chronic_illness"), "高龄慢病"),
    (("elderly_80",), "高龄老人"),
    (("low_income",), "低收入老人"),
    (("chronic_illness",), "慢病管理"),
    ((), "自理活跃"),
)

DEFAULT_K_RANGE = (3, 8)
DEFAULT_SEED = 2013


@dataclass
class NeedTypes:
    """Need types of elderly residents and the service mix of every grid.

    Attributes
    ----------
    types : DataFrame
        One row per type: ``type_id name elderly share mean_age demand_per_person``,
        ``p_<need>`` (prevalence of each need), ``dominant`` (text),
        ``mix_<service>`` (package shares) and ``primary_service``.
    labels : ndarray of int
        The type of each input resident (row order of the input).
    grids : DataFrame
        One row per grid: ``grid_code elderly demand``, ``n_type_<id>``,
        ``mix_<service>`` (shares of the grid's demand, sum 1; NaN without
        demand), ``demand_<service>`` (demand units), ``primary_service`` and
        ``driving_types`` (the types behind the mix, largest share of demand first).
    k_scores : dict
        Silhouette of each ``k`` tried (NaN when a type fell below ``min_share``).
    criterion : str
        How ``k`` was chosen, for the report.
    """

    types: pd.DataFrame
    labels: np.ndarray
    grids: pd.DataFrame
    k_scores: dict
    criterion: str
    messages: list = field(default_factory=list)

    @property
    def k(self) -> int:
        return len(self.types)

    def summary(self) -> str:
        lines = [f"{self.k} need types ({self.criterion}):"]
        for row in self.types.itertuples():
            lines.append(
                f"  {row.type_id} {row.name}: {row.elderly:,} ({row.share:.0%}); {row.dominant}; "
                f"→ {row.primary_service}"
            )
        return "\n".join(lines)


def type_name(prevalence, *, majority=0.5) -> str:
    """Name a type in Chinese from the needs held by at least ``majority`` of its members.

    Examples
    --------
    >>> type_name({"living_alone": 0.9, "elderly_80": 0.7, "chronic_illness": 0.4})
    '独居高龄'
    >>> type_name({})
    '自理活跃'
    """
    dominant = {k for k, v in prevalence.items() if v >= majority}
    for needs, name in _NAME_RULES:
        if set(needs) <= dominant:
            return name
    return "自理活跃"  # unreachable: the last rule needs nothing


def _profiles(elderly, weights):
    missing = [f for f in NEED_FEATURES if f not in elderly]
    if missing:
        raise GridMapError(
            f"elderly: missing need columns {', '.join(missing)} "
            "(use gridmap.care.demand.load_elderly)"
        )
    flags = elderly[list(NEED_FEATURES)].to_numpy(dtype="float64")
    scale = np.sqrt([max(weights[f], 1e-9) for f in NEED_FEATURES])
    return flags, flags * scale


def _unique_names(types, prevalence):
    names = list(types)
    for name in set(names):
        same = [i for i, n in enumerate(names) if n == name]
        if len(same) < 2:
            continue
        # Tell twins apart by the need in which each most exceeds the others.
        for i in same:
            others = np.mean([prevalence[j] for j in same if j != i], axis=0)
            extra = int(np.argmax(prevalence[i] - others))
            names[i] = f"{name}（{FEATURE_SHORT[NEED_FEATURES[extra]]}）"
    seen = {}
    for i, name in enumerate(names):
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            names[i] = f"{name}{seen[name]}"
    return names


def _type_mix(prevalence, weights):
    """Package shares of each type: the demand-weighted sum of affinity rows."""
    affinity = np.array([SERVICE_AFFINITY[f] for f in ("elderly_60", *NEED_FEATURES)])
    amounts = np.column_stack([np.ones(len(prevalence)), prevalence]) * np.array(
        [weights[f] for f in ("elderly_60", *NEED_FEATURES)]
    )
    mix = amounts @ affinity
    return mix / mix.sum(axis=1, keepdims=True)


def need_types(
    elderly,
    grids=None,
    *,
    weights=None,
    k=None,
    k_range=DEFAULT_K_RANGE,
    min_share=0.05,
    seed=DEFAULT_SEED,
    progress=None,
    cancelled=None,
) -> NeedTypes:
    """Cluster elderly residents' need profiles into types and derive each grid's service mix.

    Parameters
    ----------
    elderly : DataFrame
        :func:`gridmap.care.demand.load_elderly` output (need flags, ``age``,
        ``demand``, ``grid_code``).
    grids : DataFrame, optional
        With ``grid_code``: the grids to report (every grid, also those without
        elderly residents); default the grid codes found in ``elderly``.
    weights : dict, optional
        Demand weights (scale the profile features and the service mix).
    k : int, optional
        Fix the number of types instead of choosing it.
    k_range : (int, int)
        Smallest and largest ``k`` tried.
    min_share : float
        Smallest share of the elderly a type may hold for its ``k`` to be chosen.
    seed : int
        Seed of k-means' initialisation (the result is deterministic).
    progress : callable(fraction, message), optional
    cancelled : callable() -> bool, optional
        Checked before each ``k``; a cancel raises :class:`GridMapError`.

    Returns
    -------
    NeedTypes
    """
    from sklearn.cluster import KMeans

    weights = check_weights(weights)
    n = len(elderly)
    flags, features = _profiles(elderly, weights)
    distinct, inverse, counts = np.unique(features, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    if len(distinct) < 2:
        raise GridMapError(
            f"need types: {n:,} elderly residents with {len(distinct)} distinct need "
            "profile(s); nothing to cluster"
        )
    lo, hi = (k, k) if k is not None else k_range
    if k is not None and not (isinstance(k, (int, np.integer)) and k >= 2):
        raise GridMapError(f"need types: k must be an integer >= 2, got {k!r}")
    hi = min(hi, len(distinct))
    lo = min(lo, hi)
    fits, scores = {}, {}
    for kk in range(lo, hi + 1):
        if cancelled is not None and cancelled():
            raise GridMapError("need types cancelled")
        if progress is not None:
            progress((kk - lo) / (hi - lo + 1), f"need types: k = {kk}")
        model = KMeans(n_clusters=kk, n_init=10, random_state=seed).fit(
            distinct, sample_weight=counts
        )
        share = np.bincount(model.labels_, weights=counts, minlength=kk) / n
        fits[kk] = model
        score = profile_silhouette(distinct, counts, model.labels_)
        scores[kk] = score if (share.min() >= min_share or k is not None) else math.nan
    valid = {kk: s for kk, s in scores.items() if not math.isnan(s)}
    messages = []
    if k is not None:
        chosen, criterion = k, f"k = {k} fixed by the user"
    elif valid:
        chosen = max(valid, key=lambda kk: (valid[kk], -kk))
        criterion = (
            f"k = {chosen}: highest silhouette ({valid[chosen]:.3f}, all {n:,} residents) "
            f"among k = {lo}..{hi} with every type at least {min_share:.0%} of the elderly"
        )
    else:
        chosen = lo
        criterion = (
            f"k = {lo}: no k in {lo}..{hi} keeps every type above {min_share:.0%}; "
            "the smallest was used"
        )
        messages.append(criterion)
    person = fits[chosen].labels_[inverse]

    # Order types by size so type 1 is the largest, and describe them.
    order = np.argsort(-np.bincount(person, minlength=chosen), kind="stable")
    relabel = np.empty(chosen, dtype=np.int64)
    relabel[order] = np.arange(chosen)
    person = relabel[person]
    size = np.bincount(person, minlength=chosen)
    prevalence = np.vstack(
        [
            np.bincount(person, weights=flags[:, j], minlength=chosen) / size
            for j in range(len(NEED_FEATURES))
        ]
    ).T
    names = _unique_names([type_name(dict(zip(NEED_FEATURES, p))) for p in prevalence], prevalence)
    mix = _type_mix(prevalence, weights)
    demand = elderly["demand"].to_numpy(dtype="float64") if "demand" in elderly else np.ones(n)
    age = (
        pd.to_numeric(elderly["age"], errors="coerce").to_numpy(dtype="float64")
        if "age" in elderly
        else np.full(n, np.nan)
    )
    types = pd.DataFrame(
        {
            "type_id": np.arange(1, chosen + 1),
            "name": names,
            "elderly": size.astype("int64"),
            "share": size / n,
            "mean_age": np.bincount(person, weights=np.nan_to_num(age), minlength=chosen) / size,
            "demand_per_person": np.bincount(person, weights=demand, minlength=chosen) / size,
        }
    )
    overall = flags.mean(axis=0)
    for j, f in enumerate(NEED_FEATURES):
        types[f"p_{f}"] = prevalence[:, j]
    types["dominant"] = [_dominant_text(p, overall) for p in prevalence]
    for s, service in enumerate(SERVICES):
        types[f"mix_{service}"] = mix[:, s]
    types["primary_service"] = [SERVICE_LABELS[SERVICES[i]] for i in mix.argmax(axis=1)]
    grid_table = service_mix(elderly, person + 1, types, grids)
    return NeedTypes(
        types=types,
        labels=person + 1,
        grids=grid_table,
        k_scores=scores,
        criterion=criterion,
        messages=messages,
    )


def profile_silhouette(profiles, counts, labels) -> float:
    """Silhouette of a clustering of points that repeat: exact, from distinct profiles.

    Equal to :func:`sklearn.metrics.silhouette_score` on the data with each row of
    ``profiles`` repeated ``counts`` times, at the cost of a distinct-by-distinct
    distance matrix instead of a resident-by-resident one.

    Parameters
    ----------
    profiles : ndarray, shape (m, features)
        Distinct points.
    counts : array of int
        How many times each occurs.
    labels : array of int
        Cluster of each distinct point.

    Returns
    -------
    float
        NaN when there are fewer than two clusters.
    """
    profiles = np.asarray(profiles, dtype="float64")
    counts = np.asarray(counts, dtype="float64")
    labels = np.unique(np.asarray(labels), return_inverse=True)[1].ravel()
    k = labels.max() + 1 if labels.size else 0
    if k < 2:
        return math.nan
    dist = np.sqrt(((profiles[:, None, :] - profiles[None, :, :]) ** 2).sum(axis=-1))
    member = np.zeros((len(labels), k))
    member[np.arange(len(labels)), labels] = counts
    size = member.sum(axis=0)
    sums = dist @ member  # distance from each profile to all members of each cluster
    own = size[labels] - 1  # the point itself does not count (its distance is 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = sums[np.arange(len(labels)), labels] / own
        other = sums / size
    other[np.arange(len(labels)), labels] = np.inf
    b = other.min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(own > 0, (b - a) / np.maximum(a, b), 0.0)
    s = np.nan_to_num(s, nan=0.0)  # a == b == 0: identical points split across clusters
    return float((s * counts).sum() / counts.sum())


def _dominant_text(prevalence, overall, *, majority=0.5, lift=1.5, at_most=3):
    """The needs that mark a type: held by a majority, or far above the city's rate."""
    marked = [
        (p, f)
        for p, base, f in zip(prevalence, overall, NEED_FEATURES)
        if p >= majority or (p >= 0.2 and base > 0 and p / base >= lift)
    ]
    marked.sort(reverse=True)
    if not marked:
        return "无突出需求（自理为主）"
    return "、".join(f"{INDICATOR_LABELS[f]} {p:.0%}" for p, f in marked[:at_most])


def service_mix(elderly, labels, types, grids=None, *, top=3) -> pd.DataFrame:
    """Recommended service mix of every grid from its residents' types.

    Parameters
    ----------
    elderly : DataFrame
        With ``grid_code`` and ``demand``.
    labels : array of int
        Type id (``types.type_id``) of each elderly row.
    types : DataFrame
        :attr:`NeedTypes.types`.
    grids : DataFrame, optional
        With ``grid_code``; default the codes present in ``elderly``.
    top : int
        How many driving types to list.
    """
    codes = (
        grids["grid_code"] if grids is not None else elderly["grid_code"].dropna().drop_duplicates()
    )
    codes = pd.Index(codes.astype("string").to_numpy())
    index = codes.get_indexer(elderly["grid_code"].astype("string"))
    ok = index >= 0
    n_grids, n_types = len(codes), len(types)
    type_pos = pd.Index(types["type_id"]).get_indexer(np.asarray(labels))
    demand = elderly["demand"].to_numpy(dtype="float64")
    cell = index[ok] * n_types + type_pos[ok]
    by_type = np.bincount(cell, weights=demand[ok], minlength=n_grids * n_types).reshape(
        n_grids, n_types
    )
    people = np.bincount(cell, minlength=n_grids * n_types).reshape(n_grids, n_types)
    mix = types[[f"mix_{s}" for s in SERVICES]].to_numpy()
    service_demand = by_type @ mix
    total = by_type.sum(axis=1)
    table = pd.DataFrame(
        {"grid_code": codes.to_numpy(), "elderly": people.sum(axis=1), "demand": total}
    )
    for t in range(n_types):
        table[f"n_type_{types['type_id'].iloc[t]}"] = people[:, t]
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = service_demand / total[:, None]
    for s, service in enumerate(SERVICES):
        table[f"mix_{service}"] = shares[:, s]
    for s, service in enumerate(SERVICES):
        table[f"demand_{service}"] = service_demand[:, s]
    has = total > 0
    primary = np.array(
        [SERVICE_LABELS[SERVICES[i]] for i in service_demand.argmax(axis=1)], dtype=object
    )
    table["primary_service"] = np.where(has, primary, None)
    names = types["name"].to_numpy()
    rank = np.argsort(-by_type, axis=1, kind="stable")[:, :top]
    with np.errstate(invalid="ignore", divide="ignore"):
        type_share = by_type / total[:, None]
    table["driving_types"] = [
        "、".join(f"{names[t]} {type_share[g, t]:.0%}" for t in rank[g] if by_type[g, t] > 0)
        if has[g]
        else ""
        for g in range(n_grids)
    ]
    return table


def hotspots(
    grids, demand, *, measure="demand", distance=500.0, z=1.96, min_grids=2
) -> gpd.GeoDataFrame:
    """Find where demand concentrates: Getis-Ord Gi* hot spots dissolved into named polygons.

    Parameters
    ----------
    grids : GeoDataFrame
        With ``grid_code`` and ``community`` (for the names); any CRS.
    demand : array_like
        Demand index of each grid (row order of ``grids``).
    measure : {"demand", "density"}
        Test the grids' demand index (default: grids are drawn to hold similar
        numbers of households, so this compares like with like and finds the
        neighbourhoods where need is high for their size) or their demand per km²
        (which mostly recovers the dense urban core).
    distance : float, default 500
        Distance band in metres between grid centroids (each grid is its own
        neighbour, as Gi* requires).
    z : float, default 1.96
        Grids with a Gi* z-score above this are hot.
    min_grids : int, default 2
        Smallest number of touching hot grids that makes a concentration.

    Returns
    -------
    GeoDataFrame
        In EPSG:4490, one row per concentration, largest demand first:
        ``cluster_id name communities grids demand area_km2 density max_z
        grid_codes`` and the dissolved polygon. Empty when nothing is hot.
    """
    if not isinstance(grids, gpd.GeoDataFrame) or grids.crs is None:
        raise GridMapError("hotspots: grids must be a GeoDataFrame with a CRS")
    values = np.asarray(demand, dtype="float64")
    if values.shape != (len(grids),):
        raise GridMapError(f"hotspots: {values.size} demand values for {len(grids)} grids")
    columns = [
        "cluster_id",
        "name",
        "communities",
        "grids",
        "demand",
        "area_km2",
        "density",
        "max_z",
        "grid_codes",
    ]
    metric = grids.to_crs(METRIC_CRS).reset_index(drop=True)
    area = metric.area.to_numpy() / 1e6
    density = np.where(area > 0, np.nan_to_num(values) / np.where(area > 0, area, 1.0), 0.0)
    n = len(metric)
    if measure not in ("demand", "density"):
        raise GridMapError(f"hotspots: measure must be 'demand' or 'density', got {measure!r}")
    tested = np.nan_to_num(values) if measure == "demand" else density
    gi = gi_star(shapely.get_coordinates(metric.geometry.centroid.values), tested, distance)
    hot = np.flatnonzero(gi > z)
    empty = gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=grids.crs)
    if hot.size == 0 or n < 3:
        return empty
    geoms = metric.geometry.values[hot]
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    adjacency = sp.coo_matrix((np.ones(left.size), (left, right)), shape=(hot.size, hot.size))
    _, label = connected_components(adjacency, directed=False)
    community = (
        metric["community"].astype("string").fillna("").to_numpy()
        if "community" in metric
        else np.full(n, "", dtype=object)
    )
    rows = []
    for lab in np.unique(label):
        members = hot[label == lab]
        if members.size < min_grids:
            continue
        by_comm = pd.Series(np.nan_to_num(values[members])).groupby(community[members]).sum()
        by_comm = by_comm.sort_values(ascending=False, kind="stable")
        comms = [c for c in by_comm.index if c]
        name = (
            "、".join(comms[:2]) + (f"等{len(comms)}个社区" if len(comms) > 2 else "")
            if comms
            else f"需求集中区{lab + 1}"
        )
        rows.append(
            {
                "name": name,
                "communities": "、".join(comms),
                "grids": int(members.size),
                "demand": float(np.nan_to_num(values[members]).sum()),
                "area_km2": float(area[members].sum()),
                "max_z": float(gi[members].max()),
                "grid_codes": ",".join(metric["grid_code"].astype(str).to_numpy()[members]),
                "geometry": shapely.union_all(metric.geometry.values[members]),
            }
        )
    if not rows:
        return empty
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)
    out["density"] = out["demand"] / out["area_km2"]
    out = out.sort_values("demand", ascending=False, ignore_index=True)
    out.insert(0, "cluster_id", np.arange(1, len(out) + 1))
    return out[columns + ["geometry"]].to_crs(grids.crs)


def gi_star(xy, values, distance):
    """Getis-Ord Gi* z-scores with binary distance-band weights (self included).

    .. math:: G_i^* = \\frac{\\sum_j w_{ij} x_j - \\bar x W_i}
              {S \\sqrt{(n \\sum_j w_{ij}^2 - W_i^2) / (n - 1)}}

    with :math:`W_i = \\sum_j w_{ij}` and :math:`S` the population standard
    deviation of ``values``. Returns 0 where the statistic is undefined (all values
    equal, or a unit whose band holds every unit).
    """
    xy = np.asarray(xy, dtype="float64")
    x = np.asarray(values, dtype="float64")
    n = x.size
    if n < 2:
        return np.zeros(n)
    pairs = cKDTree(xy).query_pairs(distance, output_type="ndarray")
    i = np.concatenate([pairs[:, 0], pairs[:, 1], np.arange(n)])
    j = np.concatenate([pairs[:, 1], pairs[:, 0], np.arange(n)])
    w = sp.csr_matrix((np.ones(i.size), (i, j)), shape=(n, n))
    wsum = np.asarray(w.sum(axis=1)).ravel()
    lag = w @ x
    mean, std = x.mean(), x.std()
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (lag - mean * wsum) / (std * np.sqrt((n * wsum - wsum**2) / (n - 1)))
    return np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)


@dataclass
class ClusterResult:
    """Need types and demand concentrations of a project (see :func:`analyse_clusters`)."""

    types: NeedTypes
    hotspots: gpd.GeoDataFrame
    messages: list = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            self.types.summary(),
            f"{len(self.hotspots)} demand concentrations (Gi* hot spots):",
        ]
        for row in self.hotspots.head(10).itertuples():
            lines.append(
                f"  {row.cluster_id} {row.name}: {row.grids} grids, demand {row.demand:,.0f}, "
                f"{row.density:,.0f} per km²"
            )
        return "\n".join(lines)


def analyse_clusters(
    project,
    *,
    weights=None,
    elderly=None,
    k=None,
    k_range=DEFAULT_K_RANGE,
    min_share=0.05,
    seed=DEFAULT_SEED,
    measure="demand",
    distance=500.0,
    z=1.96,
    min_grids=2,
    write=False,
    progress=None,
    cancelled=None,
) -> ClusterResult:
    """Need types, service mix per grid and demand concentrations of ``project``.

    Parameters are those of :func:`need_types` and :func:`hotspots`; ``elderly`` is
    already-loaded :func:`gridmap.care.demand.load_elderly` output. ``write`` saves
    with :func:`write_clusters`.
    """
    from gridmap.care.demand import elderly_demand

    if not project.has_layer("grids"):
        raise GridMapError(f"{project.path}: has no grids layer; import grids first")
    weights, elderly = elderly_demand(project, weights, elderly)
    if len(elderly) == 0:
        raise GridMapError(f"{project.path}: no residents aged 60 or over; nothing to cluster")
    grids = project.read("grids", columns=["grid_code", "grid_name", "community"])
    types = need_types(
        elderly,
        grids,
        weights=weights,
        k=k,
        k_range=k_range,
        min_share=min_share,
        seed=seed,
        progress=progress,
        cancelled=cancelled,
    )
    spots = hotspots(
        grids,
        types.grids["demand"].to_numpy(),
        measure=measure,
        distance=distance,
        z=z,
        min_grids=min_grids,
    )
    messages = list(types.messages)
    unplaced = len(elderly) - int(types.grids["elderly"].sum())
    if unplaced:
        messages.append(
            f"{unplaced:,} elderly residents are in no grid: typed, "
            "but not in any grid's service mix"
        )
    empty = int((types.grids["elderly"] == 0).sum())
    if empty:
        messages.append(f"{empty} grids have no elderly residents: no service mix")
    result = ClusterResult(types=types, hotspots=spots, messages=messages)
    if write:
        write_clusters(project, result)
    return result


def write_clusters(project, result: ClusterResult) -> None:
    """Save ``care_need_types``, ``care_service_mix`` and the ``care_hotspots`` layer.

    The grids layer gets ``care_primary_service`` and ``care_driving_types``.
    """
    grids = project.read("grids")
    grids = grids.drop(
        columns=[c for c in ("care_primary_service", "care_driving_types") if c in grids]
    )
    mix = result.types.grids.set_index("grid_code").reindex(
        grids["grid_code"].astype("string").to_numpy()
    )
    grids["care_primary_service"] = mix["primary_service"].to_numpy()
    grids["care_driving_types"] = mix["driving_types"].fillna("").to_numpy()
    ordered = [c for c in grids.columns if c != "geometry"] + ["geometry"]
    layers = {
        "grids": grids[ordered],
        "care_need_types": result.types.types,
        "care_service_mix": result.types.grids,
    }
    drop = ()
    if len(result.hotspots):
        layers["care_hotspots"] = result.hotspots
    elif project.has_layer("care_hotspots"):
        drop = ("care_hotspots",)
    project.write(layers, drop=drop)
