import numpy as np
import pyproj
import pytest

from gridmap import crs


def _metres(lon_a, lat_a, lon_b, lat_b):
    geod = pyproj.Geod(ellps="GRS80")
    return geod.inv(lon_a, lat_a, lon_b, lat_b)[2]


@pytest.fixture
def yichang_points():
    lon, lat = np.meshgrid(np.linspace(111.0, 111.7, 40), np.linspace(30.3, 31.0, 40))
    return lon.ravel(), lat.ravel()


@pytest.mark.parametrize(
    "forward, inverse",
    [(crs.wgs84_to_gcj02, crs.gcj02_to_wgs84), (crs.wgs84_to_bd09, crs.bd09_to_wgs84), (crs.gcj02_to_bd09, crs.bd09_to_gcj02)],
)
def test_offset_datum_round_trip_under_half_a_metre(forward, inverse, yichang_points):
    lon, lat = yichang_points
    back = inverse(*forward(lon, lat))
    assert np.max(_metres(lon, lat, *back)) < 0.5


def test_gcj02_offset_is_hundreds_of_metres_in_yichang(yichang_points):
    lon, lat = yichang_points
    shift = _metres(lon, lat, *crs.wgs84_to_gcj02(lon, lat))
    assert 100 < shift.min() and shift.max() < 1000


def test_outside_china_is_not_offset():
    lon, lat = crs.wgs84_to_gcj02(np.array([2.35]), np.array([48.85]))
    assert (lon[0], lat[0]) == (2.35, 48.85)


@pytest.mark.parametrize(
    "text, expected",
    [("4490", "EPSG:4490"), ("EPSG:4546", "EPSG:4546"), ("wgs84", "EPSG:4326"), ("GCJ02", "gcj02"), ("baidu", "bd09")],
)
def test_parse_crs(text, expected):
    assert crs.parse_crs(text) == expected


def test_parse_crs_rejects_unknown():
    with pytest.raises(ValueError, match="unknown CRS 'nonsense'"):
        crs.parse_crs("nonsense")


def test_to_store_xy_from_metric_matches_pyproj():
    x, y = np.array([527000.0]), np.array([3400000.0])
    lon, lat = crs.to_store_xy(x, y, "EPSG:4546")
    ref = pyproj.Transformer.from_crs(4546, 4490, always_xy=True).transform(x, y)
    assert np.allclose([lon, lat], ref)
