"""Derive the upper levels of the hierarchy (community, sub-district, district) from grids."""

from __future__ import annotations

import geopandas as gpd
import shapely

__all__ = ["LEVELS", "dissolve_level"]

# level name -> (code column, name column, attribute columns carried up)
LEVELS = {
    "communities": ("community_code", "community", ["subdistrict_code", "subdistrict", "district_code", "district", "zone"]),
    "subdistricts": ("subdistrict_code", "subdistrict", ["district_code", "district"]),
    "districts": ("district_code", "district", []),
}


def dissolve_level(grids, level):
    """Dissolve grid polygons into one polygon per unit of ``level``.

    Grids of a noded coverage are merged with :func:`shapely.coverage_union_all`,
    which is exact and fast because shared edges cancel without an overlay.

    Parameters
    ----------
    grids : geopandas.GeoDataFrame
        Grids carrying the code and name columns of ``level`` (see ``LEVELS``).
    level : {"communities", "subdistricts", "districts"}

    Returns
    -------
    geopandas.GeoDataFrame
        One row per unit, ordered by code, with ``grid_count`` and the unit's
        attributes, in the CRS of ``grids``.
    """
    code_col, name_col, extra = LEVELS[level]
    rows = []
    for code, group in grids.groupby(code_col, sort=True):
        first = group.iloc[0]
        row = {code_col: code, name_col: first[name_col], **{c: first[c] for c in extra if c in group}}
        row["grid_count"] = len(group)
        row["geometry"] = shapely.coverage_union_all(group.geometry.values)
        rows.append(row)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=grids.crs)
