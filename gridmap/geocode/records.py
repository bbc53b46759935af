"""Geocode a table of records (residents, facilities) into grids, keeping every row.

Each row is placed by its address (exact gazetteer match) or, failing that, by its
terminal coordinates; a row that cannot be placed, or that carries a bad identity,
gets a review reason instead. Nothing is dropped: ``placed`` + ``review`` = input.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.crs import STORE_CRS, to_store_xy
from gridmap.geocode.address import parse_addresses
from gridmap.geocode.match import MATCH_LEVELS
from gridmap.idnumber import is_valid_id

__all__ = ["RESULT_COLUMNS", "geocode_records", "split_review"]

RESULT_COLUMNS = ["grid_code", "building_id", "match_level", "confidence", "matched_address", "review_reason"]


def geocode_records(table, gazetteer, grid_index, *, address_col="address", x_col=None, y_col=None,
                    crs="gcj02", id_col=None, id_number_col=None):
    """Place each row of ``table`` in a grid.

    Parameters
    ----------
    table : DataFrame
        The input records.
    gazetteer : gridmap.geocode.match.Gazetteer
    grid_index : gridmap.geocode.assign.GridIndex
        Built on the project's grids (EPSG:4490).
    address_col, x_col, y_col : str
        Column names of the address text and of the optional coordinates.
    crs : str
        CRS of the coordinates (``gcj02``, ``bd09``, ``wgs84`` or an EPSG code).
    id_col, id_number_col : str, optional
        A record id that must be unique, and an identity-number column that must
        pass the GB 11643 check; offending rows go to review.

    Returns
    -------
    GeoDataFrame
        ``table`` plus ``RESULT_COLUMNS`` and point geometry (None when unplaced),
        in EPSG:4490, same index.
    """
    parsed = parse_addresses(table[address_col]) if address_col in table else None
    result = gazetteer.match(parsed) if parsed is not None else None
    n = len(table)
    lon = result["x"].to_numpy(copy=True) if result is not None else np.full(n, np.nan)
    lat = result["y"].to_numpy(copy=True) if result is not None else np.full(n, np.nan)
    level = result["match_level"].to_numpy(copy=True) if result is not None else np.full(n, "未匹配", dtype=object)
    grid = result["grid_code"].to_numpy(copy=True) if result is not None else np.full(n, None, dtype=object)
    reason = np.full(n, "", dtype=object)

    if x_col and y_col and x_col in table and y_col in table:
        x = pd.to_numeric(table[x_col], errors="coerce").to_numpy()
        y = pd.to_numeric(table[y_col], errors="coerce").to_numpy()
        use = (level == "未匹配") & np.isfinite(x) & np.isfinite(y)
        if use.any():
            sx, sy = to_store_xy(x[use], y[use], crs)
            codes = grid_index.assign(sx, sy)
            rows = np.flatnonzero(use)
            inside = codes != None  # noqa: E711 - elementwise test on an object array
            lon[rows[inside]], lat[rows[inside]] = sx[inside], sy[inside]
            grid[rows[inside]] = codes[inside]
            level[rows[inside]] = "坐标"
            reason[rows[~inside]] = "坐标不在任何网格内"
    address = table[address_col].fillna("").astype(str).str.strip() if address_col in table else pd.Series("", index=table.index)
    unplaced = (level == "未匹配") & (reason == "")
    reason[unplaced & (address.to_numpy() == "")] = "地址为空且无坐标"
    reason[unplaced & (address.to_numpy() != "")] = "地址未匹配且无坐标"
    if id_number_col and id_number_col in table:
        bad = ~is_valid_id(table[id_number_col]).to_numpy()
        reason[bad] = np.where(reason[bad] == "", "身份证号无效", reason[bad] + "；身份证号无效")
    if id_col and id_col in table:
        dup = table[id_col].duplicated(keep="first").to_numpy()
        reason[dup] = np.where(reason[dup] == "", "编号重复", reason[dup] + "；编号重复")

    out = table.copy()
    out["grid_code"] = grid
    out["building_id"] = result["building_id"].to_numpy() if result is not None else None
    out["match_level"] = level
    out["confidence"] = pd.Series(level).map(MATCH_LEVELS).to_numpy(dtype=float)
    out["matched_address"] = result["matched_address"].to_numpy() if result is not None else ""
    out["review_reason"] = reason
    geometry = gpd.points_from_xy(lon, lat, crs=STORE_CRS)
    geometry[~np.isfinite(lon)] = None
    return gpd.GeoDataFrame(out, geometry=geometry, crs=STORE_CRS)


def split_review(geocoded):
    """Split a :func:`geocode_records` result into ``(placed, review)``.

    ``placed`` keeps rows with a grid and no review reason; ``review`` keeps every other
    row, with its reason, as a plain table (input columns plus the result columns).
    """
    ok = (geocoded["review_reason"] == "") & geocoded["grid_code"].notna()
    placed = geocoded[ok].drop(columns="review_reason")
    review = pd.DataFrame(geocoded[~ok].drop(columns="geometry"))
    return placed, review
