"""Time the elderly-care analysis (issue 5 §1-4) on the full-scale demo.

Steps: load the elderly residents, demand per grid, need types + demand
concentrations, the demand heatmap on a 1000 x 1000 raster (side by side with the
obvious alternative, scikit-learn's ``KernelDensity``, evaluated point by point on
a sample of the same cells and scaled to the whole raster, and the largest
difference between the two surfaces), and coverage of every grid by every facility
kind, straight-line and along the roads.

Usage: python benchmarks/care_analysis.py [--demo DIR] [--bandwidth 800]
Builds the full demo into DIR (default ``demo``) when DIR/yichang.gpkg is absent.
The project is only read. The last line of output is one JSON object.
"""

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from gridmap.care import clusters, coverage, demand, heatmap
from gridmap.demo.build import build_demo
from gridmap.project import Project


def timed(fn, repeat=1):
    best, result = math.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def square_bounds(x, y, pad, cells):
    """A square raster of ``cells`` x ``cells`` around the points, padded by ``pad`` metres."""
    side = max(x.max() - x.min(), y.max() - y.min()) + 2 * pad
    cx, cy = (x.max() + x.min()) / 2, (y.max() + y.min()) / 2
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2), side / cells


def naive_kde(x, y, w, result, sample, seed=0):
    """Run scikit-learn's KernelDensity at ``sample`` random cells; time scaled to all cells."""
    from sklearn.neighbors import KernelDensity

    rng = np.random.default_rng(seed)
    rows, cols = result.shape
    flat = rng.choice(rows * cols, size=sample, replace=False)
    cx, cy = result.cell_centres()
    cells = np.column_stack([cx[flat % cols], cy[flat // cols]])
    start = time.perf_counter()
    model = KernelDensity(bandwidth=result.bandwidth, kernel="epanechnikov").fit(
        np.column_stack([x, y]), sample_weight=w
    )
    density = np.exp(model.score_samples(cells))  # per m², integrates to 1
    seconds = time.perf_counter() - start
    theirs = density * w.sum() * 1e6  # weight per km², as ours
    ours = result.array.ravel()[flat]
    worst = float(np.abs(ours - theirs).max() / result.array.max())
    return seconds * (rows * cols) / sample, seconds, worst


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--demo", default="demo", help="folder of the demo (built at full scale if absent)"
    )
    parser.add_argument("--bandwidth", type=float, default=800.0)
    parser.add_argument("--cells", type=int, default=1000, help="raster side in cells")
    parser.add_argument(
        "--naive-sample", type=int, default=2000, help="cells evaluated by the naive KDE"
    )
    args = parser.parse_args()
    path = Path(args.demo) / "yichang.gpkg"
    figures = {}
    if not path.exists():
        figures["build_s"], _ = timed(lambda: build_demo(args.demo, scale=1.0))
        print(f"built the full demo in {args.demo}: {figures['build_s']:.1f} s")
    project = Project(path)

    figures["load_elderly_s"], elderly = timed(lambda: demand.load_elderly(project))
    print(f"load {len(elderly):,} elderly residents: {figures['load_elderly_s']:.2f} s")

    figures["demand_s"], dem = timed(
        lambda: demand.analyse_demand(project, elderly=elderly), repeat=3
    )
    print(f"demand: {dem.summary()}: {figures['demand_s']:.2f} s")

    figures["clusters_s"], clu = timed(lambda: clusters.analyse_clusters(project, elderly=elderly))
    print(
        f"clusters: {clu.types.k} need types, {len(clu.hotspots)} demand concentrations: "
        f"{figures['clusters_s']:.2f} s"
    )
    print(clu.summary())

    x, y, w = elderly["x"].to_numpy(), elderly["y"].to_numpy(), elderly["demand"].to_numpy()
    bounds, cell = square_bounds(x, y, args.bandwidth + 100.0, args.cells)
    figures["heatmap_s"], heat = timed(
        lambda: heatmap.kernel_density(
            x, y, w, bandwidth=args.bandwidth, cell_size=cell, bounds=bounds
        ),
        repeat=5,
    )
    print(
        f"heatmap: {len(x):,} points onto {heat.shape[0]} x {heat.shape[1]} cells of {cell:.1f} m, "
        f"quartic {args.bandwidth:g} m: {figures['heatmap_s']:.3f} s; mass {heat.mass:,.1f} "
        f"of {heat.total_weight:,.1f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        figures["heatmap_save_s"], _ = timed(
            lambda: (heat.to_geotiff(Path(tmp) / "h.tif"), heat.to_png(Path(tmp) / "h.png"))
        )
    print(f"heatmap GeoTIFF + PNG: {figures['heatmap_save_s']:.2f} s")
    epan = heatmap.kernel_density(
        x, y, w, bandwidth=args.bandwidth, cell_size=cell, kernel="epanechnikov", bounds=bounds
    )
    scaled, naive_s, worst = naive_kde(x, y, w, epan, args.naive_sample)
    figures["heatmap_naive_s"] = scaled
    figures["heatmap_naive_max_diff"] = worst
    print(
        f"  naive: sklearn KernelDensity (epanechnikov, ball tree) {args.naive_sample:,} cells in "
        f"{naive_s:.2f} s -> {scaled:,.0f} s for all {heat.array.size:,} cells "
        f"({scaled / figures['heatmap_s']:,.0f}x slower); "
        f"largest difference {worst:.2%} of the peak"
    )

    figures["coverage_straight_s"], straight = timed(
        lambda: coverage.analyse_coverage(project, elderly=elderly, roads=False)
    )
    print(
        f"coverage, straight-line, {straight.grids['kind'].nunique()} kinds: "
        f"{figures['coverage_straight_s']:.2f} s"
    )
    figures["coverage_network_s"], net = timed(
        lambda: coverage.analyse_coverage(project, elderly=elderly)
    )
    print(f"coverage along the roads: {figures['coverage_network_s']:.2f} s")
    print(net.summary())
    for message in net.messages:
        print(f"  note: {message}")

    figures["total_s"] = sum(
        figures[k]
        for k in ("load_elderly_s", "demand_s", "clusters_s", "heatmap_s", "coverage_network_s")
    )
    figures["elderly"] = len(elderly)
    figures["raster"] = list(heat.shape)
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
