"""Point-in-grid assignment with one spatial index and a documented boundary rule."""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["GridIndex"]


class GridIndex:
    """An STRtree over a grid layer, built once and queried with arrays of points.

    Boundary rule: a point that lies on the shared boundary of two or more grids (or
    on a shared vertex) belongs to the grid with the smallest ``grid_code``, so every
    point inside the coverage gets exactly one grid whatever the query order.

    Parameters
    ----------
    grids : GeoDataFrame
        Grids with a ``grid_code`` column, in the same CRS as the points queried.
    """

    def __init__(self, grids):
        order = np.argsort(grids["grid_code"].to_numpy(dtype=str), kind="stable")
        self.codes = grids["grid_code"].to_numpy(dtype=object)[order]
        self.tree = shapely.STRtree(grids.geometry.values[order])

    def assign(self, x, y):
        """Grid code for each point ``(x[i], y[i])``; None outside every grid or for NaN input."""
        x = np.asarray(x, dtype="float64")
        y = np.asarray(y, dtype="float64")
        out = np.full(len(x), None, dtype=object)
        finite = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
        if len(finite) == 0:
            return out
        points = shapely.points(x[finite], y[finite])
        point_idx, grid_idx = self.tree.query(points, predicate="intersects")
        # Pairs come sorted by point; the smallest grid index is the smallest code.
        order = np.lexsort((grid_idx, point_idx))
        point_idx, grid_idx = point_idx[order], grid_idx[order]
        first = np.unique(point_idx, return_index=True)[1]
        out[finite[point_idx[first]]] = self.codes[grid_idx[first]]
        return out
