"""Kernel density heatmap of care demand (issue 5 §3)."""

import json
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from gridmap.care import demand, heatmap
from gridmap.care.heatmap import KERNELS, kernel_density, kernel_values
from gridmap.errors import GridMapError
from gridmap.project import Project

RNG = np.random.default_rng(11)
X0, Y0 = 520000.0, 3390000.0


def brute_force(result, x, y, w):
    """The kernel sum at every cell centre, point by point."""
    cx, cy = result.cell_centres()
    gx, gy = np.meshgrid(cx, cy)
    d = np.hypot(gx[..., None] - x, gy[..., None] - y)
    return (
        (kernel_values(d, result.bandwidth, result.kernel) * w).sum(axis=-1)
        * 1e6
        * result.kernel_scale
    )


@pytest.mark.parametrize("kernel", KERNELS)
def test_mass_equals_total_weight(kernel):
    x = X0 + RNG.uniform(0, 3000, 500)
    y = Y0 + RNG.uniform(0, 2000, 500)
    w = RNG.uniform(0.5, 6.0, 500)
    result = kernel_density(x, y, w, bandwidth=300, cell_size=20, kernel=kernel)
    assert result.mass == pytest.approx(w.sum(), rel=1e-12)
    assert result.total_weight == pytest.approx(w.sum())
    assert (result.array >= 0).all()
    # The sampled kernel is the analytic one up to a factor near 1.
    assert result.kernel_scale == pytest.approx(1.0, abs=2e-3)


@pytest.mark.parametrize("kernel", KERNELS)
def test_exact_kernel_sum_for_points_on_cell_centres(kernel):
    cell = 10.0
    cols = RNG.integers(0, 60, 25)
    rows = RNG.integers(0, 40, 25)
    x = X0 + (cols + 0.5) * cell
    y = Y0 + 400.0 - (rows + 0.5) * cell
    w = RNG.uniform(1.0, 3.0, 25)
    result = kernel_density(x, y, w, bandwidth=80, cell_size=cell, kernel=kernel)
    expected = brute_force(result, x, y, w)
    np.testing.assert_allclose(result.array, expected, rtol=1e-9, atol=1e-12 * expected.max())


def test_linear_binning_is_close_for_scattered_points():
    x = X0 + RNG.uniform(0, 1000, 40)
    y = Y0 + RNG.uniform(0, 700, 40)
    w = RNG.uniform(0.5, 3.0, 40)
    result = kernel_density(x, y, w, bandwidth=200, cell_size=10)
    expected = brute_force(result, x, y, w)
    assert np.abs(result.array - expected).max() < 0.01 * expected.max()


def test_bounds_crop_the_same_surface():
    x = X0 + RNG.uniform(0, 2000, 300)
    y = Y0 + RNG.uniform(0, 2000, 300)
    full = kernel_density(x, y, bandwidth=250, cell_size=25)
    xmin, _, _, ymax = full.bounds
    window = (xmin + 40 * 25, ymax - 60 * 25, xmin + 70 * 25, ymax - 20 * 25)
    part = kernel_density(x, y, bandwidth=250, cell_size=25, bounds=window)
    assert part.shape == (40, 30)
    np.testing.assert_allclose(
        part.array, full.array[20:60, 40:70], rtol=1e-9, atol=1e-9 * full.array.max()
    )
    assert part.mass < part.total_weight == full.total_weight


def test_one_point_and_a_bandwidth_smaller_than_a_cell():
    result = kernel_density([X0 + 12.5], [Y0 + 12.5], [3.0], bandwidth=5, cell_size=25)
    assert result.mass == pytest.approx(3.0)
    assert np.count_nonzero(result.array) == 1


def test_nan_coordinates_and_zero_weights_are_skipped():
    result = kernel_density(
        [X0, np.nan, X0 + 500], [Y0, Y0, Y0], [1.0, 5.0, 0.0], bandwidth=100, cell_size=10
    )
    assert result.total_weight == 1.0 and result.mass == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"x": [], "y": []}, "no points with a location and positive weight"),
        ({"weights": [1.0, -1.0]}, "weights must be finite and non-negative"),
        ({"weights": [1.0, np.nan]}, "weights must be finite and non-negative"),
        ({"weights": [1.0]}, "1 weights for 2 points"),
        ({"y": [Y0]}, "x has 2 values but y has 1"),
        ({"kernel": "triangle"}, "unknown kernel 'triangle'"),
        ({"bandwidth": 0}, "bandwidth must be a positive number"),
        ({"cell_size": -5}, "cell_size must be a positive number"),
        ({"cell_size": 0.01}, "exceeds the limit"),
        ({"bounds": (1, 2, 0, 3)}, "empty bounds"),
        ({"bounds": "city"}, "bounds must be"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"x": [X0, X0 + 100], "y": [Y0, Y0 + 100], "bandwidth": 100, "cell_size": 10, **kwargs}
    with pytest.raises(GridMapError, match=match):
        kernel_density(args.pop("x"), args.pop("y"), **args)


def test_geotiff_round_trip(tmp_path):
    x = X0 + RNG.uniform(0, 1000, 50)
    y = Y0 + RNG.uniform(0, 800, 50)
    result = kernel_density(x, y, bandwidth=150, cell_size=20)
    path = result.to_geotiff(tmp_path / "heat.tif")
    back = heatmap.read_geotiff(path)
    np.testing.assert_allclose(back.array, result.array, rtol=1e-6)
    assert back.bounds == pytest.approx(result.bounds)
    assert (back.cell_size, back.bandwidth, back.kernel) == (20.0, 150.0, "quartic")
    if shutil.which("gdalinfo"):  # an independent reader: GDAL sees the CRS and the grid
        info = json.loads(
            subprocess.run(
                ["gdalinfo", "-json", str(path)], capture_output=True, text=True, check=True
            ).stdout
        )
        assert info["size"] == [result.shape[1], result.shape[0]]
        assert info["geoTransform"] == pytest.approx(
            [result.bounds[0], 20.0, 0.0, result.bounds[3], 0.0, -20.0]
        )
        assert 'ID["EPSG",4546]' in info["coordinateSystem"]["wkt"]


def test_read_geotiff_rejects_other_files(tmp_path):
    path = tmp_path / "plain.tif"
    Image.fromarray(np.zeros((3, 3), dtype="float32")).save(path)
    with pytest.raises(GridMapError, match="not a GridMap heatmap"):
        heatmap.read_geotiff(path)
    (tmp_path / "junk.tif").write_text("no")
    with pytest.raises(GridMapError, match="not a GridMap heatmap"):
        heatmap.read_geotiff(tmp_path / "junk.tif")


def test_png_has_transparent_zeros_and_bounds(tmp_path):
    result = kernel_density([X0, X0 + 2000], [Y0, Y0 + 1500], bandwidth=200, cell_size=25)
    path = result.to_png(tmp_path / "heat.png")
    with Image.open(path) as image:
        rgba = np.asarray(image)
        meta = json.loads(image.text["gridmap_heatmap"])
    assert rgba.shape == (*result.shape, 4)
    np.testing.assert_array_equal(rgba[..., 3] == 0, result.array == 0)
    assert meta["bounds"] == pytest.approx(list(result.bounds))
    lon_min, lat_min, lon_max, lat_max = meta["bounds_lonlat"]
    assert 111.0 < lon_min < lon_max < 111.5 and 30.0 < lat_min < lat_max < 31.0


def test_demand_heatmap_holds_all_demand(demo_project):
    project = Project(demo_project)
    elderly = demand.load_elderly(project)
    result = heatmap.demand_heatmap(project, bandwidth=800, cell_size=50, elderly=elderly)
    assert result.mass == pytest.approx(elderly["demand"].sum(), rel=1e-9)
    grids_total = demand.analyse_demand(project, elderly=elderly).table["demand_index"].sum()
    assert result.mass == pytest.approx(grids_total, rel=1e-9)


def test_save_heatmap_beside_the_project(project_copy):
    project = Project(project_copy)
    result = heatmap.demand_heatmap(project, bandwidth=600, cell_size=100)
    paths = heatmap.save_heatmap(project, result)
    assert paths["tif"].parent == project_copy.parent and paths["png"].exists()
    meta = project.meta()["care_heatmap"]
    assert meta["png"] == paths["png"].name and meta["bandwidth"] == 600
    assert meta["mass"] == pytest.approx(result.total_weight)
    assert heatmap.read_geotiff(paths["tif"]).shape == result.shape


def test_no_located_elderly_is_a_clear_error(project_copy):
    project = Project(project_copy)
    elderly = demand.load_elderly(project).assign(x=np.nan, y=np.nan)
    with pytest.raises(GridMapError, match="no elderly resident has a location"):
        heatmap.demand_heatmap(project, elderly=elderly)
