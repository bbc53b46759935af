"""The synthetic population density of the demo city (residents per square metre).

Yichang's old town lies on the north bank of the Yangtze below the Gezhouba dam;
newer centres grew in Wujiagang, on the Dianjun bank and around Xiaoting. Density is
a sum of exponential bumps around those centres over a low suburban floor, so grids
come out small in the old town and large at the edges. The numbers are synthetic.
"""

from __future__ import annotations

import numpy as np
import pyproj

from gridmap.crs import METRIC_CRS, STORE_CRS

__all__ = ["CENTRES", "density", "sample_points"]

# (lon, lat in CGCS2000, peak residents per m2, e-folding distance in m)
CENTRES = (
    (111.2890, 30.6960, 0.030, 1600.0),  # old town: Jiefang Road, Erma Road
    (111.2930, 30.7240, 0.018, 1100.0),  # Gezhouba dam and Xiba
    (111.3150, 30.7080, 0.016, 1500.0),  # Yunji, Xueyuan
    (111.3500, 30.6600, 0.016, 1700.0),  # Wujiagang centre
    (111.3200, 30.6800, 0.012, 1300.0),  # Baotahe, Wanshouqiao
    (111.2780, 30.6880, 0.008, 900.0),   # Dianjun bank
    (111.4300, 30.5400, 0.010, 1800.0),  # Xiaoting, Gulaobei
)
FLOOR = 0.0008


def _metric_centres():
    to_metric = pyproj.Transformer.from_crs(STORE_CRS, METRIC_CRS, always_xy=True)
    lon, lat, peak, scale = np.asarray(CENTRES).T
    x, y = to_metric.transform(lon, lat)
    return np.column_stack([x, y]), peak, scale


def density(x, y):
    """Residents per m2 at metric points ``(x, y)`` (EPSG:4546)."""
    centres, peak, scale = _metric_centres()
    x = np.asarray(x, dtype="float64")[..., None]
    y = np.asarray(y, dtype="float64")[..., None]
    dist = np.hypot(x - centres[:, 0], y - centres[:, 1])
    return FLOOR + (peak * np.exp(-dist / scale)).sum(-1)


def sample_points(area, n, rng):
    """Draw ``n`` points inside the shapely ``area`` (metres) with probability ∝ density.

    Rejection sampling against the bounding box; deterministic for a given ``rng``.
    """
    import shapely

    minx, miny, maxx, maxy = area.bounds
    top = FLOOR + max(p for *_, p, _ in CENTRES) * 2.5
    shapely.prepare(area)
    out = []
    have = 0
    while have < n:
        m = max(4 * (n - have), 1000)
        x = rng.uniform(minx, maxx, m)
        y = rng.uniform(miny, maxy, m)
        keep = rng.uniform(0, top, m) < density(x, y)
        x, y = x[keep], y[keep]
        inside = shapely.contains_xy(area, x, y)
        out.append(np.column_stack([x[inside], y[inside]]))
        have += int(inside.sum())
    return np.concatenate(out)[:n]
