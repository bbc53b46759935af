"""The synthetic Yichang demo: hierarchy, tiling, population and determinism."""

import hashlib

import numpy as np
import pandas as pd
import shapely

from gridmap.demo.build import DATA_DIR, build_demo
from gridmap.demo.departments import AUDIT_TRUTH_FILE, DEPARTMENT_FILES
from gridmap.grids.io import read_grids, read_vector
from gridmap.grids.validate import validate_grids
from gridmap.project import Project


def test_committed_grids_have_the_yichang_counts():
    grids = read_grids(DATA_DIR / "grids.shp")
    assert grids["zone"].value_counts().to_dict() == {"urban": 1203, "gezhouba": 218}
    gezhouba = grids[grids["zone"] == "gezhouba"]
    assert gezhouba["community_code"].nunique() == 28
    assert set(gezhouba["district"]) == {"西陵区"}
    assert grids["grid_code"].str.fullmatch(r"\d{15}").all()
    # Codes nest: district (6) + sub-district (3) + community (3) + grid (3).
    assert (grids["grid_code"].str[:12] == grids["community_code"]).all()
    assert (grids["community_code"].str[:9] == grids["subdistrict_code"]).all()
    assert (grids["subdistrict_code"].str[:6] == grids["district_code"]).all()


def test_grids_tile_communities_without_gaps_or_overlaps():
    grids = read_grids(DATA_DIR / "grids.shp")
    communities = read_vector(DATA_DIR / "communities.shp")
    # GEOS' coverage validator: interiors disjoint and shared edges identical.
    assert shapely.coverage_is_valid(grids.geometry.values)
    assert validate_grids(grids, communities).ok
    metric = grids.to_crs(4546)
    community_area = communities.to_crs(4546).set_index("community_code").area
    grid_area = metric.groupby("community_code").apply(lambda g: g.area.sum())
    assert np.allclose(grid_area.sort_index(), community_area.sort_index(), rtol=1e-9)


def test_grid_sizes_vary_with_density():
    areas = read_grids(DATA_DIR / "grids.shp").to_crs(4546).area
    assert areas.max() / areas.min() > 10  # not a regular lattice


def test_every_resident_is_placed_or_in_review(demo_dir, demo_project):
    project = Project(demo_project)
    truth = pd.read_csv(demo_dir / "ground_truth.csv", dtype=str)
    placed = project.read("residents", columns=["person_id", "grid_code"])
    review = project.read("review")
    reviewed = review[review["source"] == "residents"]
    unplaced = reviewed.loc[~reviewed["placed"].astype(bool), "person_id"]
    assert len(placed) + len(unplaced) == len(truth)
    assert set(placed["person_id"]) | set(unplaced) == set(truth["person_id"])
    assert (review["review_reason"] != "").all()
    # The exact matcher already puts nearly everyone in their true grid.
    merged = placed.merge(truth, on="person_id", suffixes=("", "_true"))
    assert (merged["grid_code"] == merged["grid_code_true"]).mean() > 0.97


def test_population_looks_like_yichang(demo_project):
    project = Project(demo_project)
    residents = project.read("residents", columns=["age", "household_id", "self_care", "living_alone"])
    share_60 = (residents["age"] >= 60).mean()
    assert 0.2 < share_60 < 0.3
    assert 0.02 < (residents["age"] >= 80).mean() < 0.07
    assert 2.3 < residents.groupby("household_id").size().mean() < 3.1
    assert set(residents["self_care"]) == {"自理", "半失能", "失能"}


def test_grid_counts_equal_a_direct_recount(demo_project):
    project = Project(demo_project)
    grids = project.read("grids").set_index("grid_code")
    residents = project.read("residents", columns=["grid_code", "household_id", "age"])
    recount = residents.groupby("grid_code").agg(population=("age", "size"), households=("household_id", "nunique"))
    recount["elderly_80"] = residents[residents["age"] >= 80].groupby("grid_code").size()
    recount = recount.reindex(grids.index).fillna(0).astype(int)
    pd.testing.assert_series_equal(grids["population"], recount["population"], check_names=False)
    pd.testing.assert_series_equal(grids["households"], recount["households"], check_names=False)
    pd.testing.assert_series_equal(grids["elderly_80"], recount["elderly_80"], check_names=False)


def test_demo_is_labelled_synthetic(demo_project):
    meta = Project(demo_project).meta()
    assert meta["synthetic"] is True
    assert "synthetic" in meta["note"]


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_generator_is_deterministic_byte_for_byte(tmp_path):
    first = build_demo(tmp_path / "a", scale=0.005).parent
    second = build_demo(tmp_path / "b", scale=0.005).parent
    digests = _digests(first)
    assert set(digests) == {"yichang.gpkg", "residents.csv", "facilities.xlsx", "addresses.csv",
                            "ground_truth.csv", "facilities_truth.csv", AUDIT_TRUTH_FILE, *DEPARTMENT_FILES}
    assert digests == _digests(second)
