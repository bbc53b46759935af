"""Grid editing speed and balance quality on the full-scale demo, with spopt's Max-p alongside.

Usage::

    python benchmarks/grid_edit.py --demo demo_full [--edits 25] [--seed 0]

Builds the demo at scale 1.0 into ``--demo`` unless ``yichang.gpkg`` is already there,
and works on a scratch copy, so the demo is never changed.

1. Latency of ``split`` (a line through a random grid), ``merge`` (the pieces back)
   and ``undo`` — each including the recount from residents and facilities, the
   validity checks and the write to the project file — as medians over ``--edits``
   random grids.
2. A 30-grid community: the demo's communities hold 3-11 grids, so the largest one
   is grown to 30 by moving bordering grids of its sub-district into it (engine
   moves, not timed). It is then balanced to the 300-500 household standard
   (proposal + accept, timed), and the same community is regionalised by
   ``spopt.region.MaxPHeuristic`` with the 300-household floor, on the same Voronoi
   cells of building and filler points that GridMap's model labels; both labellings
   are drawn by the same routine and counted from the residents, so they are
   compared like with like on household spread and Polsby-Popper compactness.

The last line of output is one JSON object with all figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

from gridmap.errors import GridMapError
from gridmap.grids.balance import _cells, balance_quality, buildings_from_residents, draw_labelled
from gridmap.grids.edit import GridEditor
from gridmap.grids.validate import validate_grids
from gridmap.project import Project

TARGET = (300, 500)


def ensure_demo(folder):
    path = Path(folder) / "yichang.gpkg"
    if not path.exists():
        from gridmap.demo.build import build_demo

        print(f"building the full-scale demo into {folder} (about a minute)", file=sys.stderr)
        build_demo(folder, scale=1.0)
    return path


def time_edits(editor, grids, n, rng):
    """Median split, merge and undo latency (ms) over ``n`` random grids."""
    times = {"split": [], "merge": [], "undo": []}
    for i in rng.permutation(len(grids)):
        if len(times["split"]) == n:
            break
        row = grids.iloc[int(i)]
        c = shapely.point_on_surface(row.geometry)
        _, miny, _, maxy = row.geometry.bounds
        line = shapely.LineString([(c.x, miny - 1e-4), (c.x, maxy + 1e-4)])
        start = time.perf_counter()
        try:
            result = editor.split(row.grid_code, line)
        except GridMapError:
            continue  # e.g. a piece below the minimum area
        times["split"].append(time.perf_counter() - start)
        start = time.perf_counter()
        editor.merge([row.grid_code, *result.added])
        times["merge"].append(time.perf_counter() - start)
        for _ in range(2):
            start = time.perf_counter()
            editor.undo()
            times["undo"].append(time.perf_counter() - start)
    return {k: 1000 * np.asarray(v) for k, v in times.items()}


def grow_community(editor, project, size):
    """Move bordering grids of the same sub-district into the largest community until it has ``size``."""
    grids = project.read("grids")
    code = grids["community_code"].value_counts().index[0]
    tried = set()
    while (grids["community_code"] == code).sum() < size:
        members = grids[grids["community_code"] == code]
        union = shapely.coverage_union_all(members.geometry.values)
        centre = shapely.centroid(union)
        others = grids[(grids["community_code"] != code) & grids["grid_code"].str.startswith(code[:9])
                       & ~grids["grid_code"].isin(tried) & grids.geometry.intersects(union)]
        others = others.assign(d=shapely.distance(others.geometry.values, centre)).sort_values("d")
        for row in others.itertuples():
            tried.add(row.grid_code)
            if shapely.length(shapely.intersection(row.geometry.boundary, union.boundary)) == 0:
                continue
            try:
                editor.move(row.grid_code, code)
                break
            except GridMapError:
                continue
        else:
            raise SystemExit(f"could not grow community {code} past {(grids['community_code'] == code).sum()} grids")
        grids = project.read("grids")
    return code


def spopt_maxp(editor, project, community, floor):
    """Max-p regions (household floor) on the Voronoi cells of the community's buildings."""
    import geopandas as gpd
    from libpysal.weights import Rook
    from spopt.region import MaxPHeuristic

    grids = project.read("grids")
    members = grids[grids["community_code"] == community]
    region = shapely.coverage_union_all(members.geometry.values)
    residents = project.read("residents", columns=["household_id", "grid_code", "building_id"],
                             where=f"grid_code LIKE '{community}%'")
    residents = residents.assign(x=residents.geometry.x, y=residents.geometry.y)
    buildings = buildings_from_residents(residents)
    points = np.column_stack(editor.metric_xy(buildings["x"], buildings["y"]))
    region_m = editor.metric([region])[0]
    k = max(1, round(buildings["households"].sum() / np.mean(TARGET)))
    cells, weights, seeds = _cells(region_m, points, buildings["households"].to_numpy(float), k)
    frame = gpd.GeoDataFrame({"households": weights, "x": seeds[:, 0], "y": seeds[:, 1]}, geometry=list(cells),
                             crs="EPSG:4546")
    start = time.perf_counter()
    w = Rook.from_dataframe(frame, use_index=False, silence_warnings=True)
    model = MaxPHeuristic(frame, w, ["x", "y"], "households", floor, top_n=2)
    np.random.seed(0)
    model.solve()
    seconds = time.perf_counter() - start
    labels = np.unique(np.asarray(model.labels_), return_inverse=True)[1]
    # Drawn exactly as GridMap draws its own parts, then counted from the residents.
    parts = draw_labelled(editor, region, cells, labels, buildings, points)
    placed = shapely.STRtree(editor.metric(parts)).query(
        shapely.points(np.column_stack(editor.metric_xy(residents["x"], residents["y"]))), predicate="within")
    households = residents.iloc[placed[0]].assign(part=placed[1]).drop_duplicates("household_id")
    households = households.groupby("part").size().reindex(range(len(parts)), fill_value=0).to_numpy()
    quality = balance_quality(households, editor.metric(parts), TARGET)
    quality["seconds"] = round(seconds, 2)
    quality["cells"] = len(cells)
    return quality


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", required=True, help="folder with (or for) the full-scale demo")
    parser.add_argument("--edits", type=int, default=25, help="random grids to split, merge and undo")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    demo = ensure_demo(args.demo)
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work.gpkg"
        shutil.copy(demo, work)
        project = Project(work)
        editor = GridEditor(work, user="benchmark")
        grids = project.read("grids")
        residents = project.count("residents")
        print(f"demo: {len(grids)} grids, {residents:,} residents; {args.edits} random grids")
        times = time_edits(editor, grids, args.edits, rng)
        for name, values in times.items():
            print(f"  {name:<6} median {np.median(values):6.1f} ms   p90 {np.percentile(values, 90):6.1f} ms"
                  f"   ({len(values)} runs)")
        restored = project.read("grids")
        assert (shapely.to_wkb(restored.geometry.values) == shapely.to_wkb(grids.geometry.values)).all()

        community = grow_community(editor, project, 30)
        members = project.read("grids", where=f"community_code = '{community}'")
        total = int(members["households"].sum())
        print(f"community {community}: grown to {len(members)} grids, {total:,} households")
        start = time.perf_counter()
        proposal = editor.propose_balance(community, target=TARGET)
        propose_s = time.perf_counter() - start
        result = editor.apply_balance(proposal)
        balance_s = time.perf_counter() - start
        report = validate_grids(project.read("grids"), project.read("communities"))
        print(proposal.report())
        print(f"  proposal {propose_s:.2f} s, accepted in {balance_s:.2f} s total; edit {result.edit_id}; "
              f"coverage {'valid' if report.ok else 'INVALID'}")
        print(f"spopt MaxPHeuristic (floor {TARGET[0]} households) on the same community:")
        spopt_quality = spopt_maxp(editor, project, community, TARGET[0])
        print("  " + ", ".join(f"{k} {v}" for k, v in spopt_quality.items()))

    figures = {
        "split_ms": round(float(np.median(times["split"])), 1),
        "merge_ms": round(float(np.median(times["merge"])), 1),
        "undo_ms": round(float(np.median(times["undo"])), 1),
        "balance_s": round(balance_s, 2),
        "balance_grids_before": len(members),
        "balance_households": total,
        "gridmap": {**proposal.quality_after, "seconds": round(balance_s, 2)},
        "spopt_maxp": spopt_quality,
        "coverage_valid": bool(report.ok),
    }
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
