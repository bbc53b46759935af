"""Coordinate reference systems: the store CRS, the metric CRS, and China's offset datums.

GridMap stores geometry in CGCS2000 geographic coordinates (EPSG:4490) and measures
in CGCS2000 / 3-degree Gauss-Kruger CM 111E (EPSG:4546), in metres. WGS84 and
CGCS2000 agree to a few centimetres, well below what grid work resolves, so WGS84
input is taken as CGCS2000 without a datum shift.

Phone maps and grid workers' terminals in China report GCJ-02 (AMap, Tencent) or
BD-09 (Baidu). PROJ does not implement those obfuscated datums, so the forward
transforms are written here from their published formulas and the inverses are
solved by fixed-point iteration until the forward transform of the answer is within
1e-9 degrees (about 0.1 mm) of the input.
"""

from __future__ import annotations

import numpy as np
import pyproj

__all__ = [
    "STORE_CRS",
    "METRIC_CRS",
    "OFFSET_DATUMS",
    "parse_crs",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "gcj02_to_bd09",
    "bd09_to_gcj02",
    "wgs84_to_bd09",
    "bd09_to_wgs84",
    "to_store_xy",
    "from_store_xy",
    "to_store",
    "to_metric",
]

STORE_CRS = "EPSG:4490"
METRIC_CRS = "EPSG:4546"
OFFSET_DATUMS = ("gcj02", "bd09")

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formulas.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0
_INVERSE_TOLERANCE_DEG = 1e-9
_INVERSE_MAX_ITER = 30

_CRS_ALIASES = {
    "wgs84": "EPSG:4326",
    "cgcs2000": STORE_CRS,
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "amap": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "baidu": "bd09",
}


def parse_crs(text) -> str:
    """Normalise a user's CRS argument to ``"gcj02"``, ``"bd09"`` or an authority string.

    Accepts the aliases ``wgs84``, ``cgcs2000``, ``gcj02``/``amap``, ``bd09``/``baidu``,
    a bare EPSG number, ``EPSG:n`` or anything :class:`pyproj.CRS` understands.

    Raises
    ------
    ValueError
        When pyproj does not know the CRS; the message names the argument.
    """
    key = str(text).strip()
    alias = _CRS_ALIASES.get(key.lower())
    if alias is not None:
        return alias
    if key.isdigit():
        key = f"EPSG:{key}"
    try:
        crs = pyproj.CRS.from_user_input(key)
    except pyproj.exceptions.CRSError as exc:
        raise ValueError(f"unknown CRS {text!r}") from exc
    authority = crs.to_authority()
    return ":".join(authority) if authority else crs.to_wkt()


def _outside_china(lon, lat):
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta_lat(x, y):
    out = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    out += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    out += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    out += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return out


def _delta_lon(x, y):
    out = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    out += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    out += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    out += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return out


def _as_arrays(lon, lat):
    return np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")


def wgs84_to_gcj02(lon, lat):
    """Offset WGS84/CGCS2000 longitude/latitude to GCJ-02 (points outside China unchanged)."""
    lon, lat = _as_arrays(lon, lat)
    dlat = _delta_lat(lon - 105.0, lat - 35.0)
    dlon = _delta_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = _outside_china(lon, lat)
    return np.where(outside, lon, lon + dlon), np.where(outside, lat, lat + dlat)


def gcj02_to_bd09(lon, lat):
    """Offset GCJ-02 longitude/latitude to Baidu's BD-09."""
    lon, lat = _as_arrays(lon, lat)
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def wgs84_to_bd09(lon, lat):
    """Offset WGS84/CGCS2000 longitude/latitude to BD-09."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def _invert(forward, lon, lat):
    # The offsets vary slowly (a few hundred metres over tens of kilometres), so the
    # fixed point x <- x - (f(x) - target) converges in a handful of steps.
    target_lon, target_lat = _as_arrays(lon, lat)
    x, y = target_lon.copy(), target_lat.copy()
    for _ in range(_INVERSE_MAX_ITER):
        fx, fy = forward(x, y)
        ex, ey = fx - target_lon, fy - target_lat
        x, y = x - ex, y - ey
        if np.all(np.abs(ex[np.isfinite(ex)]) < _INVERSE_TOLERANCE_DEG) and np.all(
            np.abs(ey[np.isfinite(ey)]) < _INVERSE_TOLERANCE_DEG
        ):
            break
    return x, y


def gcj02_to_wgs84(lon, lat):
    """Recover WGS84/CGCS2000 longitude/latitude from GCJ-02 (exact to ~0.1 mm)."""
    return _invert(wgs84_to_gcj02, lon, lat)


def bd09_to_gcj02(lon, lat):
    """Recover GCJ-02 longitude/latitude from BD-09 (exact to ~0.1 mm)."""
    return _invert(gcj02_to_bd09, lon, lat)


def bd09_to_wgs84(lon, lat):
    """Recover WGS84/CGCS2000 longitude/latitude from BD-09."""
    return _invert(wgs84_to_bd09, lon, lat)


def to_store_xy(x, y, crs):
    """Convert coordinate arrays in ``crs`` (see :func:`parse_crs`) to EPSG:4490 lon/lat."""
    crs = parse_crs(crs)
    if crs == "gcj02":
        return gcj02_to_wgs84(x, y)
    if crs == "bd09":
        return bd09_to_wgs84(x, y)
    x, y = _as_arrays(x, y)
    if crs in (STORE_CRS, "EPSG:4326"):
        return x, y
    transformer = pyproj.Transformer.from_crs(crs, STORE_CRS, always_xy=True)
    return transformer.transform(x, y)


def from_store_xy(lon, lat, crs):
    """Convert EPSG:4490 lon/lat arrays to ``crs`` (the inverse of :func:`to_store_xy`)."""
    crs = parse_crs(crs)
    if crs == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if crs == "bd09":
        return wgs84_to_bd09(lon, lat)
    lon, lat = _as_arrays(lon, lat)
    if crs in (STORE_CRS, "EPSG:4326"):
        return lon, lat
    transformer = pyproj.Transformer.from_crs(STORE_CRS, crs, always_xy=True)
    return transformer.transform(lon, lat)


def to_store(gdf, crs=None):
    """Return ``gdf`` in EPSG:4490; ``crs`` overrides (or supplies) the frame's CRS.

    ``crs`` may be ``"gcj02"`` or ``"bd09"``: every vertex is then moved by the
    iterative inverse, since no EPSG code describes those datums.
    """
    import shapely

    source = parse_crs(crs) if crs is not None else None
    if source in OFFSET_DATUMS:
        geoms = shapely.transform(
            gdf.geometry.values,
            lambda xy: np.column_stack(to_store_xy(xy[:, 0], xy[:, 1], source)),
        )
        return gdf.set_geometry(geoms, crs=STORE_CRS)
    if source is not None:
        gdf = gdf.set_crs(source, allow_override=True)
    if gdf.crs is None:
        raise ValueError("no CRS")
    if gdf.crs.equals(pyproj.CRS(STORE_CRS)):
        return gdf
    if gdf.crs.equals(pyproj.CRS("EPSG:4326")):
        return gdf.set_crs(STORE_CRS, allow_override=True)
    return gdf.to_crs(STORE_CRS)


def to_metric(gdf):
    """Return ``gdf`` in EPSG:4546 (metres), the CRS every length and area is measured in."""
    return gdf.to_crs(METRIC_CRS)
