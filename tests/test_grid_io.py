"""Importing and exporting grid layers, and every bad-input refusal."""

import json

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import Polygon

from gridmap.cli import main
from gridmap.crs import wgs84_to_gcj02
from gridmap.grids.io import read_grids, write_vector
from gridmap.project import Project


def _square(x, y, size=0.005):
    return Polygon([(x, y), (x + size, y), (x + size, y + size), (x, y + size)])


@pytest.fixture
def small_grids():
    return gpd.GeoDataFrame(
        {
            "grid_code": ["420502001001001", "420502001001002", "420502001002001"],
            "grid_name": ["桃花岭社区第1网格", "桃花岭社区第2网格", "猇亭区云池社区第1网格"],
            "community": ["桃花岭社区", "桃花岭社区", "云池社区"],
        },
        geometry=[_square(111.30, 30.70), _square(111.305, 30.70), _square(111.31, 30.70)],
        crs="EPSG:4490",
    )


def run_cli(*args, capsys=None):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_gbk_shapefile_without_cpg_reads_chinese_names(tmp_path, small_grids):
    path = tmp_path / "gbk.shp"
    pyogrio.write_dataframe(small_grids, path, encoding="GBK")
    (tmp_path / "gbk.cpg").unlink(missing_ok=True)
    assert b"\xcc\xd2" in (tmp_path / "gbk.dbf").read_bytes()  # 桃 in GBK, so really GBK on disk
    back = read_grids(path)
    assert back["grid_name"].tolist() == small_grids["grid_name"].tolist()


@pytest.mark.parametrize("suffix", [".shp", ".gpkg", ".geojson"])
def test_export_import_round_trip(tmp_path, small_grids, suffix, capsys):
    project = tmp_path / "p.gpkg"
    source = write_vector(small_grids, tmp_path / "in.gpkg")
    assert run_cli("import-grids", project, source, capsys=capsys)[0] == 0
    out = tmp_path / f"out{suffix}"
    assert run_cli("export-grids", project, out, capsys=capsys)[0] == 0
    back = read_grids(out)
    assert_geodataframe_equal(
        back[["grid_code", "grid_name", "geometry"]], small_grids[["grid_code", "grid_name", "geometry"]],
        check_less_precise=True, normalize=True,
    )
    if suffix == ".shp":
        assert (tmp_path / "out.cpg").read_text().strip().upper() in ("UTF-8", "UTF8")


def test_import_derives_hierarchy_from_codes(tmp_path, small_grids, capsys):
    project = tmp_path / "p.gpkg"
    source = write_vector(small_grids.drop(columns="community"), tmp_path / "in.geojson")
    code, out, _ = run_cli("import-grids", project, source, capsys=capsys)
    assert code == 0
    assert json.loads(out)["communities"] == 2
    grids = Project(project).read("grids")
    assert grids["community_code"].tolist() == ["420502001001", "420502001001", "420502001002"]


def _bad_inputs(tmp_path, small_grids):
    """Yield (name, file, extra args, expected message fragment)."""
    shp = write_vector(small_grids, tmp_path / "noshx" / "g.shp")
    (shp.with_suffix(".shx")).unlink()
    yield "missing .shx", shp, [], "missing .shx"
    shp = write_vector(small_grids, tmp_path / "nodbf" / "g.shp")
    (shp.with_suffix(".dbf")).unlink()
    yield "missing .dbf", shp, [], "missing .dbf"
    shp = write_vector(small_grids, tmp_path / "noprj" / "g.shp")
    (shp.with_suffix(".prj")).unlink()
    yield "no CRS", shp, [], "has no CRS"
    shp = write_vector(small_grids.assign(grid_name=["QQQQ", "ok", "ok"]), tmp_path / "garbled" / "g.shp")
    dbf = shp.with_suffix(".dbf")
    dbf.write_bytes(dbf.read_bytes().replace(b"QQQQ", b"\xff\xfe\x80\xff"))  # neither UTF-8 nor GB18030
    shp.with_suffix(".cpg").unlink()
    yield "encoding", shp, [], "neither UTF-8 nor GBK"
    empty = tmp_path / "empty.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}')
    yield "empty", empty, [], "contains no features"
    nogeom = tmp_path / "nogeom.geojson"
    nogeom.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": null, "properties": {"grid_code": "1"}}]}')
    yield "non-spatial", nogeom, [], "has no geometries"
    table = tmp_path / "table.csv"
    table.write_text("grid_code\n1\n")
    yield "not a vector file", table, [], "not a shapefile, GeoPackage or GeoJSON"
    swapped = small_grids.copy()
    swapped["geometry"] = swapped.geometry.map(lambda g: Polygon([(y, x) for x, y in g.exterior.coords]))
    yield "swapped", write_vector(swapped, tmp_path / "swapped.gpkg"), [], "swapped latitude/longitude"
    bowtie = small_grids.copy()
    bowtie.loc[1, "geometry"] = Polygon([(111.305, 30.70), (111.31, 30.705), (111.31, 30.70), (111.305, 30.705)])
    yield "invalid", write_vector(bowtie, tmp_path / "bowtie.gpkg"), [], "feature 420502001001002 has an invalid geometry: Self-intersection"
    dup = small_grids.assign(grid_code=["A1", "A2", "A1"])
    yield "duplicate", write_vector(dup, tmp_path / "dup.gpkg"), [], "duplicate grid_code A1 (features 0, 2)"
    yield "missing file", tmp_path / "nothing.shp", [], "file not found"
    yield "no code", write_vector(small_grids.drop(columns="grid_code"), tmp_path / "nocode.gpkg"), [], "no grid_code column"


def test_each_bad_input_is_refused_with_one_line_and_project_unchanged(tmp_path, small_grids, capsys):
    project = tmp_path / "p.gpkg"
    assert run_cli("import-grids", project, write_vector(small_grids, tmp_path / "ok.gpkg"), capsys=capsys)[0] == 0
    before = project.read_bytes()
    cases = list(_bad_inputs(tmp_path, small_grids))
    assert len(cases) == 12
    for name, path, extra, message in cases:
        code, out, err = run_cli("import-grids", project, path, *extra, capsys=capsys)
        assert code == 2, name
        assert err.count("\n") == 1 and "Traceback" not in err, name
        assert str(path.name) in err and message in err, (name, err)
        assert project.read_bytes() == before, name


def test_crs_override_for_gcj02_input(tmp_path, small_grids):
    shifted = small_grids.copy()
    shifted["geometry"] = shapely.transform(
        small_grids.geometry.values, lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
    )
    back = read_grids(write_vector(shifted, tmp_path / "gcj.geojson"), crs="gcj02")
    moved = back.to_crs(4546).geometry.centroid.distance(small_grids.to_crs(4546).geometry.centroid)
    assert moved.max() < 0.01  # metres
