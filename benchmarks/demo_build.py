"""Time building the full demo, then opening the project and loading all grids.

Loading is shown side by side with the obvious alternative, plain
``geopandas.read_file`` (pyogrio without Arrow), on the same file in the same run.

Usage: python benchmarks/demo_build.py [--out DIR] [--scale 1.0] [--reuse]
The last line of output is one JSON object with the figures.
"""

import argparse
import json
import time
from pathlib import Path

import geopandas as gpd

from gridmap.demo.build import build_demo
from gridmap.project import Project


def best_of(fn, repeat=5):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="demo")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--reuse", action="store_true", help="skip the build when the project exists")
    args = parser.parse_args()
    path = Path(args.out) / "yichang.gpkg"
    build_s = None
    if not (args.reuse and path.exists()):
        start = time.perf_counter()
        build_demo(args.out, scale=args.scale)
        build_s = time.perf_counter() - start
        print(f"build demo (scale {args.scale}): {build_s:.1f} s")
    open_s, grids = best_of(lambda: Project(path).read("grids"))
    plain_s, plain = best_of(lambda: gpd.read_file(path, layer="grids", use_arrow=False))
    assert len(grids) == len(plain) == 1421
    residents_s, residents = best_of(lambda: Project(path).read("residents", columns=["grid_code"]), repeat=1)
    print(f"open project + load 1421 grids: {open_s * 1000:.0f} ms (plain geopandas.read_file: {plain_s * 1000:.0f} ms)")
    print(f"load {len(residents):,} residents (grid_code only): {residents_s:.2f} s")
    print(json.dumps({"build_s": None if build_s is None else round(build_s, 2), "open_grids_ms": round(open_s * 1000, 1),
                      "plain_read_file_ms": round(plain_s * 1000, 1), "residents": len(residents),
                      "load_residents_s": round(residents_s, 2)}))


if __name__ == "__main__":
    main()
