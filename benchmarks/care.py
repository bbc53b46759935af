"""The whole elderly-care analysis on the full demo, step by step (issue 5's benchmark).

Demand, need clusters, heatmap, coverage of all 1421 grids, and the allocation of 5
new day-care sites by p-median; the allocation is shown side by side with
``spopt.locate.PMedian`` (PuLP + CBC) on the same cost matrix in the same run, when
spopt is installed (``pip install -e '.[bench]'``).

Usage: python benchmarks/care.py [--demo DIR]   (builds the full demo into DIR if absent)
Goals: total under 30 s, heatmap under 1 s. The last line is one JSON object.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from gridmap.care import clusters, coverage, demand, heatmap, plan
from gridmap.demo.build import build_demo
from gridmap.project import Project


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def spopt_pmedian(result, project, p, limit):
    """Solve the same p-median with spopt/CBC; (objective, seconds) or (None, None) without spopt."""
    try:
        import pulp
        from spopt.locate import PMedian
    except ImportError:
        return None, None
    facilities = project.read("facilities").to_crs(4546)
    sites = facilities[facilities["kind"].isin(["day_care", "candidate"])]
    xy = np.column_stack([sites.geometry.x, sites.geometry.y])
    centres = result.grids[["centre_x", "centre_y"]].to_numpy()
    cost = np.hypot(centres[:, None, 0] - xy[None, :, 0], centres[:, None, 1] - xy[None, :, 1])
    weights = result.grids["demand"].to_numpy()
    forced = np.flatnonzero(sites["kind"].to_numpy() == "day_care")
    start = time.perf_counter()
    model = PMedian.from_cost_matrix(cost, weights, p_facilities=p, predefined_facilities_arr=forced)
    model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=limit))
    seconds = time.perf_counter() - start
    open_sites = [j for j in range(cost.shape[1]) if model.fac_vars[j].value() > 0.5]
    return float((weights * cost[:, open_sites].min(axis=1)).sum()), seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--demo", default="demo")
    parser.add_argument("--spopt-limit", type=float, default=300.0)
    args = parser.parse_args()
    path = Path(args.demo) / "yichang.gpkg"
    if not path.exists():
        build_demo(args.demo)
    project = Project(path)
    steps = {}
    steps["load_elderly_s"], elderly = timed(lambda: demand.load_elderly(project))
    steps["demand_s"], dem = timed(lambda: demand.analyse_demand(project, elderly=elderly))
    steps["clusters_s"], clu = timed(lambda: clusters.analyse_clusters(project, elderly=elderly))
    steps["heatmap_s"], heat = timed(lambda: heatmap.demand_heatmap(project, elderly=elderly))
    steps["coverage_s"], cov = timed(lambda: coverage.analyse_coverage(project, elderly=elderly))
    steps["allocation_s"], result = timed(
        lambda: plan.plan_sites(project, "day_care", 5, "pmedian", elderly=elderly))
    steps["total_s"] = sum(steps.values())
    print(f"{len(elderly):,} elderly residents in {len(dem.table)} grids")
    print(f"demand: {dem.summary()}")
    print(f"clusters: {clu.types.k} need types, {len(clu.hotspots)} demand concentrations")
    print(f"heatmap: {heat.array.shape[1]} x {heat.array.shape[0]} cells of {heat.cell_size:g} m")
    print(f"coverage: {cov.summary().splitlines()[0]}")
    s = result.summary
    print(f"allocation: p-median, 5 new day-care sites: {s['status']}, objective {s['objective']:,.0f}, "
          f"solver {s['seconds']:.2f} s; demand within {s['radius_m']:.0f} m "
          f"{s['covered_share_before']:.1%} -> {s['covered_share_after']:.1%}")
    p = int(len(result.sites))
    spopt_value, spopt_s = spopt_pmedian(result, project, p, args.spopt_limit)
    if spopt_value is None:
        print("spopt: not installed (pip install -e '.[bench]')")
    else:
        print(f"spopt PMedian (CBC) on the same matrix: objective {spopt_value:,.0f} in {spopt_s:.2f} s "
              f"(ours {s['seconds']:.2f} s)")
    for key, value in steps.items():
        print(f"  {key}: {value:.2f}")
    figures = {k: round(v, 3) for k, v in steps.items()}
    figures.update({"pmedian_objective": s["objective"], "pmedian_solver_s": s["seconds"],
                    "spopt_objective": spopt_value, "spopt_s": None if spopt_s is None else round(spopt_s, 2)})
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
