"""The gridmap command on the small demo."""

import json
import subprocess
import sys

import pytest

from gridmap.cli import main


def test_info_json_reports_grids_communities_and_residents(demo_project, demo_dir, capsys):
    assert main(["info", str(demo_project), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["crs"] == "EPSG:4490"
    assert info["grids_by_zone"] == {"gezhouba": 218, "urban": 1203}
    assert info["communities_by_zone"]["gezhouba"] == 28
    truth_rows = sum(1 for _ in open(demo_dir / "ground_truth.csv")) - 1
    assert info["layers"]["residents"] + info["layers"]["review"] >= truth_rows
    assert info["layers"]["grids"] == 1421


def test_errors_are_one_line_without_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gridmap.cli", "info", str(tmp_path / "none.gpkg")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "project not found" in result.stderr


def test_demo_rejects_bad_scale(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--scale", "0"]) == 2
    assert "--scale must be in (0, 1]" in capsys.readouterr().err


@pytest.mark.slow
def test_full_demo_has_700k_residents_and_validates(tmp_path_factory, capsys):
    out = tmp_path_factory.mktemp("full")
    assert main(["demo", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["info", str(out / "yichang.gpkg"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["grids_by_zone"] == {"gezhouba": 218, "urban": 1203}
    assert info["communities_by_zone"]["gezhouba"] == 28
    people = info["layers"]["residents"]
    assert 680_000 < people + info["layers"]["review"] < 720_000
    assert main(["validate", str(out / "yichang.gpkg")]) == 0
