"""Geocode a table of records (residents, facilities) into grids, keeping every row.

Each row is placed by its address (the gazetteer chain in :mod:`gridmap.geocode.match`)
or, when the address is weaker than a door, by its terminal coordinates. Rows that
cannot be placed, carry a bad identity, or are placed with low confidence get a
review reason. Nothing is dropped: every input row is placed, reviewed, or both.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import METRIC_CRS, STORE_CRS, to_store_xy
from gridmap.geocode.address import parse_addresses
from gridmap.idnumber import is_valid_id

__all__ = ["RESULT_COLUMNS", "CONSISTENCY_METRES", "LOW_CONFIDENCE", "geocode_records", "split_review"]

RESULT_COLUMNS = ["grid_code", "building_id", "match_level", "confidence", "matched_address", "placed", "review_reason"]
CONSISTENCY_METRES = 300.0  # address and terminal point further apart than this are flagged
LOW_CONFIDENCE = 0.6  # placed rows below this are also listed for review
BOUNDARY_MARGIN_M = 15.0  # a terminal point this close to a grid edge may be in the neighbour
FAR_OUTSIDE_KM = 20.0
_M_PER_DEG_LAT = 111_320.0
_PRECISE_LEVELS = ("楼栋", "门牌")
_ADDRESS_LEVELS = ("楼栋", "门牌", "道路", "小区")


def _metres_between(x1, y1, x2, y2):
    """Approximate ground distance (m) between lon/lat points; good to 0.5% over a city."""
    lat = np.deg2rad((y1 + y2) / 2)
    return np.hypot((x1 - x2) * _M_PER_DEG_LAT * np.cos(lat), (y1 - y2) * _M_PER_DEG_LAT)


def _append(reason, mask, text):
    reason[mask] = np.where(reason[mask] == "", text, reason[mask] + "；" + text)


def _read_coordinates(table, x_col, y_col, crs, reason):
    """Return store lon/lat arrays (NaN where missing) and a mask of swapped rows."""
    n = len(table)
    if not (x_col and y_col and x_col in table and y_col in table):
        return np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, dtype=bool)
    x = pd.to_numeric(table[x_col], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(table[y_col], errors="coerce").to_numpy(dtype=float)
    geographic = crs in ("gcj02", "bd09", "EPSG:4326", "EPSG:4490")
    swapped = np.zeros(n, dtype=bool)
    if geographic:
        # Latitude in the x column and longitude in the y column: China's ranges do not overlap.
        swapped = (x > 3) & (x < 54) & (y > 73) & (y < 136)
        x, y = np.where(swapped, y, x), np.where(swapped, x, y)
        _append(reason, swapped, "经纬度颠倒（已交换）")
    ok = np.isfinite(x) & np.isfinite(y)
    lon, lat = np.full(n, np.nan), np.full(n, np.nan)
    if ok.any():
        lon[ok], lat[ok] = to_store_xy(x[ok], y[ok], crs)
    return lon, lat, swapped


def geocode_records(table, gazetteer, grids, grid_index, *, address_col="address", x_col=None, y_col=None,
                    crs="gcj02", id_col=None, id_number_col=None, consistency_m=CONSISTENCY_METRES):
    """Place each row of ``table`` in a grid.

    Parameters
    ----------
    table : DataFrame
        The input records.
    gazetteer : gridmap.geocode.match.Gazetteer
    grids : GeoDataFrame
        The project's grids (EPSG:4490), for boundary distances and the project area.
    grid_index : gridmap.geocode.assign.GridIndex
        Built once on ``grids``.
    address_col, x_col, y_col : str
        Column names of the address text and of the optional coordinates.
    crs : str
        CRS of the coordinates as :func:`gridmap.crs.parse_crs` normalises it.
    id_col, id_number_col : str, optional
        A record id that must be unique, and an identity-number column that must pass
        the GB 11643 check; offending rows are not placed and go to review.
    consistency_m : float
        Flag rows whose address and coordinates are further apart than this.

    Returns
    -------
    GeoDataFrame
        ``table`` plus ``RESULT_COLUMNS`` and point geometry (None when unplaced), in
        EPSG:4490, same index.
    """
    n = len(table)
    texts = table[address_col].astype(object).where(table[address_col].notna(), "").astype(str) \
        if address_col in table else pd.Series("", index=table.index, dtype=object)
    result = gazetteer.match(parse_addresses(texts), texts)
    level = result["match_level"].to_numpy(dtype=object, copy=True)
    confidence = result["confidence"].to_numpy(dtype=float).copy()
    grid = result["grid_code"].to_numpy(dtype=object).copy()
    lon, lat = result["x"].to_numpy(copy=True), result["y"].to_numpy(copy=True)
    reason = np.full(n, "", dtype=object)

    plon, plat, swapped = _read_coordinates(table, x_col, y_col, crs, reason)
    has_point = np.isfinite(plon)
    point_grid = grid_index.assign(plon, plat)
    inside = point_grid != None  # noqa: E711 - elementwise on an object array
    # Address and terminal disagree: keep the address, lower the confidence, flag it.
    by_address = np.isin(level, _ADDRESS_LEVELS)
    apart = np.full(n, np.nan)
    both = by_address & has_point
    apart[both] = _metres_between(lon[both], lat[both], plon[both], plat[both])
    far = both & (apart > consistency_m)
    confidence[far] = np.minimum(confidence[far], 0.5)
    for i in np.flatnonzero(far):
        reason[i] = (reason[i] + "；" if reason[i] else "") + f"地址与坐标相距 {apart[i]:.0f} 米"
    # Coordinates decide when the address gives less than a door.
    use_point = ~np.isin(level, _PRECISE_LEVELS) & inside & ~far
    if use_point.any():
        edges = grids.set_index("grid_code").geometry.boundary.to_crs(METRIC_CRS)
        rows = np.flatnonzero(use_point)
        pts = gpd.GeoSeries.from_xy(plon[rows], plat[rows], crs=STORE_CRS).to_crs(METRIC_CRS).values
        margin = shapely.distance(pts, edges.reindex(point_grid[rows]).values)
        level[rows] = "坐标"
        confidence[rows] = np.where(margin >= BOUNDARY_MARGIN_M, 0.9, 0.7) * np.where(swapped[rows], 0.9, 1.0)
        grid[rows], lon[rows], lat[rows] = point_grid[rows], plon[rows], plat[rows]
    outside = has_point & ~inside & ~by_address
    if outside.any():
        centre = grids.geometry.union_all().representative_point()
        km = _metres_between(plon, plat, centre.x, centre.y) / 1000.0
        _append(reason, outside & (km > FAR_OUTSIDE_KM), "坐标远离项目范围")
        _append(reason, outside & (km <= FAR_OUTSIDE_KM), "坐标不在任何网格内")

    placed = pd.notna(grid) & (grid != None)  # noqa: E711
    no_grid = ~placed
    _append(reason, no_grid & (level == "社区"), "仅匹配到社区，无法确定网格")
    _append(reason, no_grid & (level == "区县"), "仅匹配到区县")
    empty = texts.str.strip().to_numpy() == ""
    _append(reason, no_grid & (level == "未匹配") & empty & ~has_point, "地址为空且无坐标")
    _append(reason, no_grid & (level == "未匹配") & ~empty & ~has_point, "地址未匹配且无坐标")
    _append(reason, no_grid & (level == "道路"), "道路无门牌")
    low = placed & (confidence < LOW_CONFIDENCE)
    for i in np.flatnonzero(low & (reason == "")):
        reason[i] = f"低置信度 {confidence[i]:.2f}（{level[i]}）"
    if id_number_col and id_number_col in table:
        bad_id = ~is_valid_id(table[id_number_col]).to_numpy()
        _append(reason, bad_id, "身份证号无效")
        placed &= ~bad_id
    if id_col and id_col in table:
        ids = table[id_col].astype(str).str.strip()
        duplicate = ids.duplicated(keep="first").to_numpy()
        _append(reason, duplicate, "编号重复")
        _append(reason, (ids == "").to_numpy() | table[id_col].isna().to_numpy(), "编号为空")
        placed &= ~duplicate

    out = table.copy()
    out["grid_code"] = np.where(placed, grid, None)
    out["building_id"] = result["building_id"].to_numpy()
    out["match_level"] = level
    out["confidence"] = np.round(confidence, 3)
    out["matched_address"] = result["matched_address"].to_numpy()
    out["placed"] = placed
    out["review_reason"] = reason
    geometry = gpd.points_from_xy(lon, lat, crs=STORE_CRS)
    geometry[~(placed & np.isfinite(lon))] = None
    return gpd.GeoDataFrame(out, geometry=geometry, crs=STORE_CRS)


def split_review(geocoded):
    """Split a :func:`geocode_records` result into ``(placed, review)``.

    ``placed`` holds the rows with a grid; ``review`` every row with a reason (those
    not placed, and placed rows flagged for a check), as a plain table.
    """
    placed = geocoded[geocoded["placed"]].drop(columns=["placed"])
    review = pd.DataFrame(geocoded[geocoded["review_reason"] != ""].drop(columns="geometry"))
    return placed, review
