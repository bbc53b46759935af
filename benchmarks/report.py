"""Time the full demo report: PDF with the district atlas, offline HTML map and Excel workbook.

Two runs on the full-scale demo (1421 grids, ~700,000 residents):

1. ``as built``: the project holds no analysis results, so the report computes demand,
   need types, heatmap, coverage and five new day-care sites in memory first;
2. ``stored``: on a copy where those analyses were saved (``write=True``), the report
   only reads them.

Usage: python benchmarks/report.py [--demo DIR] [--out DIR]
Builds the full demo into DIR (default ``demo``) when DIR/yichang.gpkg is absent; the
demo project itself is only read. Goal: each full report under 30 s. The last line of
output is one JSON object.
"""

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from gridmap.demo.build import build_demo
from gridmap.project import Project
from gridmap.report.commands import build_report


def _store_analyses(project):
    """Run and save every analysis the report shows, as an officer would before reporting."""
    from gridmap.care import clusters, coverage, demand, heatmap, plan

    elderly = demand.load_elderly(project)
    demand.analyse_demand(project, elderly=elderly, write=True)
    clusters.analyse_clusters(project, elderly=elderly, write=True)
    heatmap.save_heatmap(project, heatmap.demand_heatmap(project, elderly=elderly))
    coverage.analyse_coverage(project, elderly=elderly, write=True)
    plan.write_plan(project, plan.plan_sites(project, "day_care", 5, "pmedian", elderly=elderly))


def _run(project_path, out, label):
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result = build_report(project_path, pdf=out / "report.pdf", html=out / "report.html", xlsx=out / "report.xlsx")
    total = time.perf_counter() - start
    sizes = {kind: round(getattr(result, kind).stat().st_size / 1e6, 2) for kind in ("pdf", "html", "xlsx")}
    print(f"{label}: total {total:.1f} s = gather {result.seconds['gather']:.1f} s + PDF {result.seconds['pdf']:.1f} s "
          f"({result.pdf_pages} pages) + HTML {result.seconds['html']:.1f} s + Excel {result.seconds['xlsx']:.1f} s; "
          f"sizes MB {sizes}; computed on the fly: {'、'.join(result.computed) or 'nothing'}")
    return {"seconds": round(total, 2), **{k: v for k, v in result.seconds.items() if k != "total"},
            "pdf_pages": result.pdf_pages, "size_mb": sizes, "computed": len(result.computed)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", default="demo", help="folder of the full demo (built when absent)")
    parser.add_argument("--out", help="where to keep the reports (default: a temporary folder)")
    args = parser.parse_args()
    project_path = Path(args.demo) / "yichang.gpkg"
    if not project_path.exists():
        print(f"building the full demo into {args.demo} ...")
        build_demo(args.demo)
    results = {"grids": Project(project_path).count("grids"),
               "residents": Project(project_path).count("residents")}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else Path(tmp)
        results["as_built"] = _run(project_path, out / "as_built", "as built (analyses computed in memory)")
        copy = Path(tmp) / "stored" / "yichang.gpkg"
        copy.parent.mkdir(parents=True)
        shutil.copyfile(project_path, copy)
        start = time.perf_counter()
        _store_analyses(Project(copy))
        print(f"(saving the analyses into a copy took {time.perf_counter() - start:.1f} s, not counted)")
        results["stored"] = _run(copy, out / "stored", "stored analyses")
    results["goal_s"] = 30
    results["goal_met"] = max(results["as_built"]["seconds"], results["stored"]["seconds"]) < 30
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
