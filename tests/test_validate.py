"""Topology checks on hand-made coverages whose problems are known."""

import geopandas as gpd
import pytest
from shapely.geometry import MultiPolygon, Polygon, box

from gridmap.cli import main
from gridmap.grids.validate import validate_grids

# ~100 m squares near Yichang (0.001 degree)
D = 0.001
X0, Y0 = 111.30, 30.70


def cell(i, j, w=1, h=1):
    return box(X0 + i * D, Y0 + j * D, X0 + (i + w) * D, Y0 + (j + h) * D)


def frame(geoms, codes=None, community="C1"):
    codes = codes or [f"G{i}" for i in range(len(geoms))]
    return gpd.GeoDataFrame({"grid_code": codes, "community_code": community}, geometry=geoms, crs="EPSG:4490")


COMMUNITY = frame([cell(0, 0, 2, 1)], codes=["C1"]).rename(columns={"grid_code": "name"})


def checks(report):
    return sorted((p["check"], p["feature"]) for p in report.problems)


def test_clean_coverage_passes():
    assert validate_grids(frame([cell(0, 0), cell(1, 0)]), COMMUNITY).ok


def test_overlap_gap_outside_multipart_duplicate_invalid_are_reported():
    overlap = validate_grids(frame([cell(0, 0, 1.2, 1), cell(1, 0)]), COMMUNITY)
    assert checks(overlap) == [("overlap", "G0/G1")]
    gap = validate_grids(frame([cell(0, 0), cell(1, 0, 0.5, 1)]), COMMUNITY)
    assert checks(gap) == [("gap", "C1")]
    outside = validate_grids(frame([cell(0, 0), cell(1, 0, 1.5, 1)]), COMMUNITY)
    assert checks(outside) == [("outside", "G1")]
    multi = validate_grids(frame([MultiPolygon([cell(0, 0, 0.5, 1), cell(1.5, 0, 0.5, 1)]), cell(0.5, 0, 1, 1)]), COMMUNITY)
    assert checks(multi) == [("multipart", "G0")]
    dup = validate_grids(frame([cell(0, 0), cell(1, 0)], codes=["G1", "G1"]), COMMUNITY)
    assert checks(dup) == [("duplicate_code", "G1")]
    bowtie = Polygon([(X0, Y0), (X0 + D, Y0 + D), (X0 + D, Y0), (X0, Y0 + D)])
    assert ("invalid", "G0") in checks(validate_grids(frame([bowtie, cell(1, 0)]), COMMUNITY))


def test_sub_square_metre_noise_is_tolerated():
    nudge = 1e-9  # ~0.1 mm
    assert validate_grids(frame([cell(0, 0, 1 + nudge, 1), cell(1, 0)]), COMMUNITY).ok


def test_demo_validates_clean_from_the_command_line(demo_project, capsys):
    assert main(["validate", str(demo_project), "--json"]) == 0
    assert '"ok": true' in capsys.readouterr().out


def test_validate_exits_1_with_problems(tmp_path, capsys):
    from gridmap.project import Project

    grids = frame([cell(0, 0, 1.2, 1), cell(1, 0)])
    Project.create(tmp_path / "p.gpkg", {"grids": grids, "communities": COMMUNITY})
    assert main(["validate", str(tmp_path / "p.gpkg")]) == 1
    assert "overlap" in capsys.readouterr().out
