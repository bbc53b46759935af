"""Shared fixtures: a small-scale demo city built once per test session."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SMALL_SCALE = 0.02


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    """A demo built at 2% of the population (all 1421 grids), shared read-only by tests."""
    from gridmap.demo.build import build_demo

    out = tmp_path_factory.mktemp("demo")
    build_demo(out, scale=SMALL_SCALE)
    return out


@pytest.fixture(scope="session")
def demo_project(demo_dir):
    return demo_dir / "yichang.gpkg"


@pytest.fixture
def project_copy(demo_project, tmp_path):
    """A private copy of the small demo project that a test may change."""
    target = tmp_path / "project.gpkg"
    target.write_bytes(Path(demo_project).read_bytes())
    return target
