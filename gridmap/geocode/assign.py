"""Point-in-grid assignment with indexes built once and a documented boundary rule."""

from __future__ import annotations

import numpy as np
import shapely
from scipy import ndimage

__all__ = ["GridIndex"]

_RASTER_MIN_POINTS = 20_000  # below this the lookup raster does not pay for itself
_RASTER_CELLS = 2_000_000


class GridIndex:
    """Assign points to grids: an STRtree for exact tests, plus a lookup raster for bulk input.

    Boundary rule: a point that lies on the shared boundary of two or more grids (or
    on a shared vertex) belongs to the grid with the smallest ``grid_code``, so every
    point inside the coverage gets exactly one grid whatever the query order.

    For large inputs a raster over the grids' extent answers most points by array
    lookup: cells that no grid boundary touches form connected regions, each wholly
    inside one grid (or outside all), so one exact test labels a whole region. Points
    in cells a boundary touches take the exact path, which keeps the boundary rule.

    Parameters
    ----------
    grids : GeoDataFrame
        Grids with a ``grid_code`` column, in the same CRS as the points queried.
    """

    def __init__(self, grids):
        order = np.argsort(grids["grid_code"].to_numpy(dtype=str), kind="stable")
        self.codes = grids["grid_code"].to_numpy(dtype=object)[order]
        self.geoms = grids.geometry.values[order]
        self.tree = shapely.STRtree(self.geoms)
        self._raster = None

    def assign(self, x, y):
        """Grid code for each point ``(x[i], y[i])``; None outside every grid or for NaN input."""
        x = np.asarray(x, dtype="float64")
        y = np.asarray(y, dtype="float64")
        out = np.full(len(x), None, dtype=object)
        todo = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
        if len(todo) >= _RASTER_MIN_POINTS:
            found = self._raster_lookup(x[todo], y[todo])
            known = found >= 0
            out[todo[known]] = self.codes[found[known]]
            todo = todo[found == -1]
        if len(todo):
            exact = self._exact(x[todo], y[todo])
            out[todo] = np.where(exact >= 0, self.codes[np.maximum(exact, 0)], None)
        return out

    def _exact(self, x, y):
        """Index of the smallest-code grid containing or touching each point, -1 if none."""
        point_idx, grid_idx = self.tree.query(shapely.points(x, y), predicate="intersects")
        order = np.lexsort((grid_idx, point_idx))
        point_idx, grid_idx = point_idx[order], grid_idx[order]
        first = np.unique(point_idx, return_index=True)[1]
        result = np.full(len(x), -1)
        result[point_idx[first]] = grid_idx[first]
        return result

    def _raster_lookup(self, x, y):
        """Grid index per point from the raster: >=0 a grid, -2 outside all, -1 ask exactly."""
        if self._raster is None:
            self._raster = self._build_raster()
        lut, x0, y0, cell = self._raster
        col = np.floor((x - x0) / cell).astype(np.int64)
        row = np.floor((y - y0) / cell).astype(np.int64)
        inside = (col >= 0) & (row >= 0) & (col < lut.shape[1]) & (row < lut.shape[0])
        found = np.full(len(x), -2)
        found[inside] = lut[row[inside], col[inside]]
        return found

    def _build_raster(self):
        minx, miny, maxx, maxy = shapely.total_bounds(self.geoms)
        cell = np.sqrt((maxx - minx) * (maxy - miny) / _RASTER_CELLS)
        x0, y0 = minx - cell, miny - cell
        shape = (int(np.ceil((maxy - y0) / cell)) + 2, int(np.ceil((maxx - x0) / cell)) + 2)
        # Every cell a boundary passes through holds a vertex of the boundary densified
        # to half a cell, or neighbours one: mark those and their neighbours.
        vertices = shapely.get_coordinates(shapely.segmentize(shapely.boundary(self.geoms), cell / 2))
        touched = np.zeros(shape, dtype=bool)
        touched[((vertices[:, 1] - y0) // cell).astype(int), ((vertices[:, 0] - x0) // cell).astype(int)] = True
        touched = ndimage.binary_dilation(touched, structure=np.ones((3, 3), dtype=bool))
        regions, _ = ndimage.label(~touched)  # 4-connected: cannot step across a boundary
        # One member cell per region (its first in raster order) is tested exactly.
        flat = regions.ravel()
        labels, first = np.unique(flat, return_index=True)
        first = first[labels > 0]
        rows, cols = np.divmod(first, shape[1])
        label_grid = self._exact(x0 + (cols + 0.5) * cell, y0 + (rows + 0.5) * cell)
        lut = np.full(shape, -1, dtype=np.int64)
        free = regions > 0
        region_grid = np.where(label_grid >= 0, label_grid, -2)
        lut[free] = region_grid[regions[free] - 1]
        return lut, x0, y0, cell
