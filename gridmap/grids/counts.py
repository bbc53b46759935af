"""Per-grid counts recomputed from the residents and facilities layers (never apportioned by area)."""

from __future__ import annotations

import pandas as pd

from gridmap.project import GRID_COUNT_COLUMNS

__all__ = ["recount"]


def recount(grids, residents, facilities=None):
    """Return ``grids`` with households, population, elderly_60, elderly_80 and ``fac_<kind>`` counts.

    Parameters
    ----------
    grids : GeoDataFrame
        With ``grid_code``.
    residents : DataFrame
        With ``grid_code``, ``household_id`` and ``age``.
    facilities : DataFrame, optional
        With ``grid_code`` and ``kind``; adds one ``fac_<kind>`` column per kind.
    """
    by_grid = residents.groupby("grid_code")
    counts = pd.DataFrame(
        {
            "households": by_grid["household_id"].nunique(),
            "population": by_grid.size(),
            "elderly_60": by_grid["age"].apply(lambda a: int((a >= 60).sum())),
            "elderly_80": by_grid["age"].apply(lambda a: int((a >= 80).sum())),
        }
    )
    out = grids.drop(columns=[c for c in grids.columns if c in GRID_COUNT_COLUMNS or c.startswith("fac_")])
    out = out.join(counts, on="grid_code")
    if facilities is not None and len(facilities):
        kinds = pd.crosstab(facilities["grid_code"], facilities["kind"]).add_prefix("fac_")
        out = out.join(kinds, on="grid_code")
    count_cols = [c for c in out.columns if c in GRID_COUNT_COLUMNS or c.startswith("fac_")]
    out[count_cols] = out[count_cols].fillna(0).astype("int64")
    return out
