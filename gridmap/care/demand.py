"""Elderly-care demand per grid: need counts and a weighted demand index (issue 5 §1).

Every count is taken over the residents aged 60 and over (the ``elderly_age``
argument) who were placed in a grid by geocoding; residents without a grid are
counted in :attr:`DemandResult.unplaced` and named in its messages, never dropped
silently.

The **demand index** of a grid is a weighted sum of its counts,

.. math:: D_g = \\sum_k w_k \\, n_{g,k},

so each elderly person carries a personal demand weight
:math:`d_i = \\sum_k w_k x_{i,k}` (``x`` the 0/1 indicators below) and
:math:`D_g = \\sum_{i \\in g} d_i`. The heatmap and the coverage analysis use the
same personal weights, so their totals agree with the grids' demand index.

Default weights (:data:`DEFAULT_DEMAND_WEIGHTS`), in "independent 60+ person"
units; the extra terms add to the base of 1 that every elderly person carries:

==================  ======  =====================================================
indicator           weight  reason
==================  ======  =====================================================
``elderly_60``      1.0     every resident aged 60+ (the unit of the index)
``elderly_80``      1.0     80+: frailty and care need roughly double
``living_alone``    1.0     no one at home to shop, cook or call for help
``semi_disabled``   2.0     半失能: needs help with some daily activities
``disabled``        4.0     失能: needs help with most daily activities
``low_income``      1.0     低收入: relies on subsidised services
``chronic_illness`` 0.5     regular health-care contact
==================  ======  =====================================================

A project overrides any of them with the meta key ``care_demand_weights``
(e.g. ``project.set_meta(care_demand_weights={"disabled": 5})``); keys left out
keep their defaults.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyproj

from gridmap.crs import METRIC_CRS, STORE_CRS
from gridmap.errors import GridMapError

__all__ = [
    "DEFAULT_DEMAND_WEIGHTS",
    "INDICATORS",
    "INDICATOR_LABELS",
    "LOW_INCOME_BANDS",
    "META_KEY",
    "DemandResult",
    "analyse_demand",
    "elderly_demand",
    "check_weights",
    "grid_demand",
    "load_elderly",
    "need_indicators",
    "personal_demand",
    "project_weights",
    "write_demand",
]

META_KEY = "care_demand_weights"

#: The 0/1 indicators counted per elderly resident, in the order of the index.
INDICATORS = (
    "elderly_60",
    "elderly_80",
    "living_alone",
    "semi_disabled",
    "disabled",
    "low_income",
    "chronic_illness",
)

DEFAULT_DEMAND_WEIGHTS = {
    "elderly_60": 1.0,
    "elderly_80": 1.0,
    "living_alone": 1.0,
    "semi_disabled": 2.0,
    "disabled": 4.0,
    "low_income": 1.0,
    "chronic_illness": 0.5,
}

INDICATOR_LABELS = {
    "elderly_60": "60岁以上",
    "elderly_80": "80岁以上",
    "living_alone": "独居",
    "semi_disabled": "半失能",
    "disabled": "失能",
    "low_income": "低收入",
    "chronic_illness": "慢性病",
}

#: Income bands that count as low income (the registry's 收入水平 values).
LOW_INCOME_BANDS = ("低收入",)

SEMI_DISABLED = "半失能"
DISABLED = "失能"

# Columns of the residents layer the care analysis reads.
RESIDENT_COLUMNS = [
    "age",
    "self_care",
    "living_alone",
    "chronic_illness",
    "income_band",
    "grid_code",
]

_TO_METRIC = pyproj.Transformer.from_crs(STORE_CRS, METRIC_CRS, always_xy=True)


@dataclass
class DemandResult:
    """Per-grid demand and what was left out.

    Attributes
    ----------
    table : DataFrame
        One row per grid: ``grid_code``, ``grid_name``, ``community``, the counts
        ``elderly_60 elderly_80 living_alone semi_disabled disabled low_income
        chronic_illness``, ``demand_index`` (the weighted sum) and
        ``demand_per_elderly`` (NaN where a grid has no elderly residents).
    weights : dict
        The weights used (defaults merged with the project's setting).
    unplaced : int
        Elderly residents without a grid (not geocoded to a grid); not in ``table``.
    messages : list of str
        Warnings for the user, e.g. grids without elderly residents.
    """

    table: pd.DataFrame
    weights: dict
    unplaced: int = 0
    messages: list = field(default_factory=list)

    def summary(self) -> str:
        t = self.table
        return (
            f"{len(t)} grids, {int(t['elderly_60'].sum()):,} residents aged 60+, "
            f"demand index {t['demand_index'].sum():,.1f}"
        )


def check_weights(weights=None, *, source="weights") -> dict:
    """Return the default weights updated with ``weights``, checked.

    Parameters
    ----------
    weights : dict, optional
        Indicator name -> weight; missing indicators keep their defaults.
    source : str
        Where the weights came from, for the error message.

    Raises
    ------
    GridMapError
        For an unknown indicator or a weight that is not a finite number >= 0.

    Examples
    --------
    >>> check_weights({"disabled": 5})["disabled"]
    5.0
    >>> check_weights({"blind": 1})
    Traceback (most recent call last):
    ...
    gridmap.errors.GridMapError: weights: unknown indicator 'blind' (known: elderly_60, ...
    """
    merged = dict(DEFAULT_DEMAND_WEIGHTS)
    if weights is None:
        return merged
    if not isinstance(weights, dict):
        raise GridMapError(
            f"{source}: expected a mapping of indicator -> weight, got {type(weights).__name__}"
        )
    for key, value in weights.items():
        if key not in DEFAULT_DEMAND_WEIGHTS:
            raise GridMapError(
                f"{source}: unknown indicator {key!r} (known: {', '.join(INDICATORS)})"
            )
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number) or number < 0:
            raise GridMapError(f"{source}: weight of {key!r} must be a number >= 0, got {value!r}")
        merged[key] = number
    return merged


def project_weights(project, weights=None) -> dict:
    """The demand weights of ``project`` (meta ``care_demand_weights``), then ``weights`` on top."""
    stored = check_weights(project.meta().get(META_KEY), source=f"{project.path}: meta {META_KEY}")
    return check_weights({**stored, **(weights or {})})


def _flag(values) -> np.ndarray:
    """Booleans from a bool, 0/1 or text column (missing -> False)."""
    series = pd.Series(values)
    if series.dtype == bool:
        return series.to_numpy()
    text = series.astype("string").str.strip().str.lower()
    return text.isin(["true", "1", "1.0", "是", "y", "yes"]).fillna(False).to_numpy(dtype=bool)


def need_indicators(residents, weights=None, *, elderly_age=60) -> pd.DataFrame:
    """Return the 0/1 need indicators and the personal demand weight of each elderly resident.

    Parameters
    ----------
    residents : DataFrame
        With ``age``, ``self_care``, ``living_alone``, ``chronic_illness`` and
        ``income_band``; other columns (``grid_code``, ``x``, ``y``) are kept.
        Missing need columns count as "no" for every resident.
    weights : dict, optional
        Demand weights (see :func:`check_weights`).
    elderly_age : int, default 60

    Returns
    -------
    DataFrame
        The rows with ``age >= elderly_age``: the kept columns, one bool column per
        :data:`INDICATORS` entry and ``demand`` (float, the personal weight).

    Examples
    --------
    >>> frame = pd.DataFrame({"age": [85, 30], "self_care": ["失能", "自理"]})
    >>> need_indicators(frame)["demand"].tolist()
    [6.0]
    """
    weights = check_weights(weights)
    if "age" not in residents:
        raise GridMapError("residents: no age column; import residents with birth dates or ages")
    age = pd.to_numeric(residents["age"], errors="coerce").to_numpy(dtype="float64")
    old = age >= elderly_age
    frame = residents.loc[old].copy()
    n = len(frame)

    def column(name):
        return frame[name].to_numpy() if name in frame else np.full(n, None, dtype=object)

    age = age[old]
    self_care = pd.Series(column("self_care"), dtype="string").str.strip()
    income = pd.Series(column("income_band"), dtype="string").str.strip()
    indicators = {
        "elderly_60": np.ones(n, dtype=bool),
        "elderly_80": age >= 80,
        "living_alone": _flag(column("living_alone")),
        "semi_disabled": (self_care == SEMI_DISABLED).fillna(False).to_numpy(dtype=bool),
        "disabled": (self_care == DISABLED).fillna(False).to_numpy(dtype=bool),
        "low_income": income.isin(LOW_INCOME_BANDS).fillna(False).to_numpy(dtype=bool),
        "chronic_illness": _flag(column("chronic_illness")),
    }
    for name, values in indicators.items():
        frame[name] = np.asarray(values, dtype=bool)
    frame["demand"] = personal_demand(frame, weights)
    return frame


def personal_demand(indicators, weights=None) -> np.ndarray:
    """The demand weight of each row of ``indicators`` (the :data:`INDICATORS` columns)."""
    weights = check_weights(weights)
    matrix = np.column_stack([indicators[k].to_numpy(dtype="float64") for k in INDICATORS])
    return matrix @ np.array([weights[k] for k in INDICATORS])


def load_elderly(project, weights=None, *, elderly_age=60) -> pd.DataFrame:
    """Read the elderly residents of ``project`` with need indicators and metric coordinates.

    Only the rows with ``age >= elderly_age`` are read (an OGR filter), so a city of
    700,000 residents loads its 175,000 elderly in well under a second.

    Returns
    -------
    DataFrame
        :func:`need_indicators` columns plus ``x``, ``y`` in EPSG:4546 metres (NaN for
        residents without a location) and ``grid_code`` (None when unplaced).
    """
    if not project.has_layer("residents"):
        raise GridMapError(
            f"{project.path}: has no residents layer; import residents first (gridmap geocode)"
        )
    weights = project_weights(project, weights)
    available = set(_layer_fields(project, "residents"))
    if "age" not in available:
        raise GridMapError(f"{project.path}: the residents layer has no age column")
    columns = [c for c in RESIDENT_COLUMNS if c in available]
    frame = project.read("residents", columns=columns, where=f"age >= {int(elderly_age)}")
    geometry = frame.geometry.values if hasattr(frame, "geometry") else None
    frame = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    if geometry is not None and len(frame):
        import shapely

        lon, lat = shapely.get_x(geometry), shapely.get_y(geometry)
        x, y = _TO_METRIC.transform(lon, lat)
    else:
        x = y = np.full(len(frame), np.nan)
    frame["x"] = np.asarray(x, dtype="float64")
    frame["y"] = np.asarray(y, dtype="float64")
    if "grid_code" not in frame:
        frame["grid_code"] = None
    return need_indicators(frame, weights, elderly_age=elderly_age).reset_index(drop=True)


def elderly_demand(project, weights=None, elderly=None):
    """Resolve the demand weights and return ``(weights, elderly)`` with a ``demand`` column.

    Every analysis starts here: ``elderly`` already loaded by :func:`load_elderly`
    (to read the residents once for several analyses) is re-weighted with the
    resolved weights; otherwise it is read from the project.
    """
    weights = project_weights(project, weights)
    if elderly is None:
        return weights, load_elderly(project, weights)
    return weights, elderly.assign(demand=personal_demand(elderly, weights))


def _layer_fields(project, name):
    import pyogrio

    return list(pyogrio.read_info(project.path, layer=name)["fields"])


def grid_demand(elderly, grids, weights=None) -> DemandResult:
    """Count the need indicators and the demand index of every grid.

    Parameters
    ----------
    elderly : DataFrame
        Output of :func:`need_indicators` or :func:`load_elderly` (one row per
        elderly resident, with ``grid_code``).
    grids : DataFrame
        With ``grid_code``; ``grid_name`` and ``community`` are copied when present.
    weights : dict, optional
        The weights behind ``elderly["demand"]``, recorded in the result.

    Returns
    -------
    DemandResult
        Every grid appears once, with zero counts where it has no elderly residents.
    """
    if "grid_code" not in grids:
        raise GridMapError("grids: no grid_code column")
    weights = check_weights(weights)
    codes = grids["grid_code"].astype("string").to_numpy()
    if pd.Series(codes).duplicated().any():
        dup = pd.Series(codes)[pd.Series(codes).duplicated()].iloc[0]
        raise GridMapError(f"grids: grid_code {dup!r} appears more than once")
    lookup = pd.Index(codes)
    index = lookup.get_indexer(elderly["grid_code"].astype("string"))
    placed = index >= 0
    n = len(codes)
    table = pd.DataFrame({"grid_code": codes})
    for column in ("grid_name", "community"):
        if column in grids:
            table[column] = grids[column].to_numpy()
    for name in INDICATORS:
        values = elderly[name].to_numpy(dtype="float64")[placed]
        table[name] = np.bincount(index[placed], weights=values, minlength=n).astype("int64")
    table["demand_index"] = np.bincount(
        index[placed], weights=elderly["demand"].to_numpy()[placed], minlength=n
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        table["demand_per_elderly"] = np.where(
            table["elderly_60"] > 0, table["demand_index"] / table["elderly_60"], np.nan
        )
    messages = []
    unplaced = int((~placed).sum())
    if unplaced:
        missing = elderly["grid_code"].isna().to_numpy()[~placed].sum()
        messages.append(
            f"{unplaced:,} elderly residents are not in any grid of the project "
            f"({int(missing):,} without a grid code, "
            f"{unplaced - int(missing):,} with an unknown one); "
            "they are left out of the per-grid counts"
        )
    empty = int((table["elderly_60"] == 0).sum())
    if empty:
        messages.append(f"{empty} grids have no elderly residents: their counts and demand are 0")
    return DemandResult(table=table, weights=weights, unplaced=unplaced, messages=messages)


def analyse_demand(project, weights=None, *, elderly=None, write=False) -> DemandResult:
    """Compute the demand of every grid of ``project`` and optionally save it.

    Parameters
    ----------
    project : Project
    weights : dict, optional
        Overrides on top of the project's ``care_demand_weights``.
    elderly : DataFrame, optional
        Already-loaded :func:`load_elderly` output (saves re-reading the residents).
    write : bool, default False
        Save with :func:`write_demand`.
    """
    if not project.has_layer("grids"):
        raise GridMapError(f"{project.path}: has no grids layer; import grids first")
    weights, elderly = elderly_demand(project, weights, elderly)
    grids = project.read("grids", columns=["grid_code", "grid_name", "community"])
    result = grid_demand(elderly, grids, weights)
    if write:
        write_demand(project, result)
    return result


#: The demand columns written onto the grids layer (prefixed to keep clear of the
#: grids' own ``elderly_60``/``elderly_80`` registry counts).
GRID_COLUMNS = {
    "living_alone": "care_alone",
    "semi_disabled": "care_semi_disabled",
    "disabled": "care_disabled",
    "low_income": "care_low_income",
    "chronic_illness": "care_chronic",
    "demand_index": "care_demand",
}


def write_demand(project, result: DemandResult) -> None:
    """Save ``result`` as the ``care_demand`` table and ``care_*`` columns on the grids layer.

    The grids layer keeps every other column; a previous run's ``care_*`` columns are
    replaced. The weights used go to meta ``care_demand_weights_used``.
    """
    grids = project.read("grids")
    grids = grids.drop(columns=[c for c in GRID_COLUMNS.values() if c in grids])
    values = result.table.set_index("grid_code")
    for source, target in GRID_COLUMNS.items():
        column = values[source].reindex(grids["grid_code"].astype("string").to_numpy())
        grids[target] = column.fillna(0).to_numpy()
    geometry_last = [c for c in grids.columns if c != "geometry"] + ["geometry"]
    project.write({"grids": grids[geometry_last], "care_demand": result.table},
                  meta={"care_demand_weights_used": result.weights})
