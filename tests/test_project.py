"""The GeoPackage project store: round trips, metadata, atomic saves."""

import hashlib
import subprocess
import sys
import textwrap
import time

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import Polygon

from gridmap.errors import GridMapError
from gridmap.project import Project


@pytest.fixture
def grids():
    squares = [Polygon([(111.3 + i * 0.01, 30.7), (111.31 + i * 0.01, 30.7), (111.31 + i * 0.01, 30.71), (111.3 + i * 0.01, 30.71)])
               for i in range(3)]
    return gpd.GeoDataFrame(
        {"grid_code": ["420502001001001", "420502001001002", "420502001001003"], "grid_name": ["第1网格", "第2网格", "第3网格"],
         "zone": ["urban", "urban", "gezhouba"], "community_code": ["420502001001"] * 3, "households": [300, 410, 0]},
        geometry=squares, crs="EPSG:4490",
    )


def test_round_trip_keeps_frames_and_opens_with_ogr(tmp_path, grids):
    path = tmp_path / "p.gpkg"
    table = pd.DataFrame({"key": ["a", "b"], "value": [1, 2]})
    project = Project.create(path, {"grids": grids, "notes": table}, {"name": "测试"})
    assert_geodataframe_equal(project.read("grids"), grids, check_like=True)
    pd.testing.assert_frame_equal(project.read("notes"), table)
    assert project.meta()["name"] == "测试"
    # An independent reader sees the same layers and CRS.
    names = dict(pyogrio.list_layers(path))
    assert names["grids"] == "Polygon" and "notes" in names
    assert pyogrio.read_info(path, layer="grids")["crs"] == "EPSG:4490"


def test_write_replaces_and_drops_layers(tmp_path, grids):
    project = Project.create(tmp_path / "p.gpkg", {"grids": grids, "old": pd.DataFrame({"x": [1]})})
    project.write({"grids": grids.iloc[:1]}, drop=["old"])
    assert project.count("grids") == 1
    assert "old" not in project.layer_names()
    project.set_meta(owner="规划科")
    assert project.meta()["owner"] == "规划科"


def test_info_counts_layers_and_zones(tmp_path, grids):
    info = Project.create(tmp_path / "p.gpkg", {"grids": grids}).info()
    assert info["crs"] == "EPSG:4490"
    assert info["layers"]["grids"] == 3
    assert info["grids_by_zone"] == {"gezhouba": 1, "urban": 2}
    assert info["communities_by_zone"] == {"gezhouba": 1, "urban": 1}


def test_missing_layer_and_missing_file_are_one_line_errors(tmp_path, grids):
    project = Project.create(tmp_path / "p.gpkg", {"grids": grids})
    with pytest.raises(GridMapError, match="no layer 'residents'"):
        project.read("residents")
    with pytest.raises(GridMapError, match="project not found"):
        Project(tmp_path / "missing.gpkg")


def test_failed_write_leaves_project_untouched(tmp_path, grids):
    path = tmp_path / "p.gpkg"
    project = Project.create(path, {"grids": grids})
    before = path.read_bytes()
    with pytest.raises(Exception):
        project.write({"grids": grids, "broken": object()})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["p.gpkg"]  # no temporary left behind


def test_save_killed_half_way_leaves_old_file_readable(tmp_path, grids):
    path = tmp_path / "p.gpkg"
    Project.create(path, {"grids": grids})
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    script = textwrap.dedent(
        f"""
        import numpy as np, geopandas as gpd
        from gridmap.project import Project
        n = 400_000
        big = gpd.GeoDataFrame({{"v": np.arange(n)}}, geometry=gpd.points_from_xy(
            np.random.uniform(111, 112, n), np.random.uniform(30, 31, n)), crs="EPSG:4490")
        print("writing", flush=True)
        Project({str(path)!r}).write({{"big": big, "grids": big.iloc[:0]}})
        print("done", flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    deadline = time.time() + 30
    while not list(tmp_path.glob(".p.*.tmp.gpkg")) and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # let it write part of the layer
    proc.kill()
    proc.wait()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert_geodataframe_equal(Project(path).read("grids"), grids, check_like=True)
