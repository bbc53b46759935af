"""The ``gridmap`` command: thin wrappers over the library.

Any :class:`gridmap.errors.GridMapError` becomes one line on stderr and exit status 2;
``validate`` exits 1 when it finds problems.
"""

from __future__ import annotations

import argparse
import json
import sys

from gridmap.errors import GridMapError

__all__ = ["main", "build_parser"]


def _cmd_demo(args):
    from gridmap.demo.build import build_demo

    def report(fraction, message):
        if not args.quiet:
            print(f"[{fraction:4.0%}] {message}", file=sys.stderr)

    path = build_demo(args.out, scale=args.scale, seed=args.seed, progress=report)
    print(path)
    return 0


def _cmd_info(args):
    from gridmap.project import Project

    info = Project(args.project).info()
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
        return 0
    print(f"{info['path']}  ({info['crs']}{', 合成演示数据' if info['synthetic'] else ''})")
    for name, count in info["layers"].items():
        print(f"  {name:<14} {count:>9,}")
    for key in ("grids_by_zone", "communities_by_zone", "totals"):
        if key in info:
            print(f"  {key}: " + ", ".join(f"{k}={v:,}" for k, v in info[key].items()))
    return 0


def _cmd_import_grids(args):
    from gridmap.grids.importing import import_grids

    summary = import_grids(args.project, args.file, crs=args.crs, encoding=args.encoding)
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def _cmd_export_grids(args):
    from gridmap.grids.io import write_vector
    from gridmap.project import Project

    grids = Project(args.project).read("grids")
    print(write_vector(grids, args.file))
    return 0


def _cmd_geocode(args):
    from gridmap.geocode.importing import apply_review, geocode_file

    if args.apply_review:
        summary = apply_review(args.project, args.apply_review)
        print(f"已更正 {summary['corrected_rows']} 行：入格 {summary['placed']}，仍待核 {summary['still_in_review']}")
        return 0
    if not args.input or not args.kind:
        raise GridMapError("geocode needs INPUT and --kind (or --apply-review FILE)")
    summary = geocode_file(args.project, args.input, args.kind, address_col=args.address_col, x_col=args.x_col,
                           y_col=args.y_col, crs=args.crs, encoding=args.encoding, review_out=args.review_out)
    levels = "  ".join(f"{level} {count:,}" for level, count in summary["by_level"].items() if count)
    print(f"{summary['input_rows']:,} 行：入格 {summary['placed']:,}，待核 {summary['review']:,}"
          f"（未入格 {summary['not_placed']:,}），用时 {summary['seconds']} 秒")
    print(f"匹配级别：{levels}")
    return 0


def _cmd_validate(args):
    from gridmap.grids.validate import validate_project

    report = validate_project(args.project)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(report.summary())
    return 0 if report.ok else 1


def _cmd_app(args):
    try:
        from gridmap.app.main import run_app
    except ImportError as exc:  # PyQt5 missing or no display libraries
        raise GridMapError(f"cannot start the desktop app: {exc}") from None
    return run_app(args.project, offscreen=args.offscreen, screenshot=args.screenshot, language=args.lang,
                   workspace=args.workspace)


def build_parser():
    from gridmap.grids.commands import add_grid_commands

    parser = argparse.ArgumentParser(prog="gridmap", description="GridMap 网格化社会治理规划工具")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="build the synthetic Yichang demo city and project")
    p.add_argument("--out", default="demo", help="output folder (default: demo)")
    p.add_argument("--scale", type=float, default=1.0, help="share of the 700,000 residents (default 1.0)")
    p.add_argument("--seed", type=int, default=2013)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("info", help="summarise a project")
    p.add_argument("project")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("import-grids", help="import a grid layer (shapefile, GeoPackage, GeoJSON)")
    p.add_argument("project")
    p.add_argument("file")
    p.add_argument("--crs", help="CRS of the file: EPSG code, gcj02 or bd09 (overrides the file's)")
    p.add_argument("--encoding", help="text encoding of a shapefile without .cpg (detected otherwise)")
    p.set_defaults(func=_cmd_import_grids)

    p = sub.add_parser("export-grids", help="export the grid layer (.shp, .gpkg or .geojson)")
    p.add_argument("project")
    p.add_argument("file")
    p.set_defaults(func=_cmd_export_grids)

    p = sub.add_parser("geocode", help="place residents or facilities into grids from addresses or coordinates")
    p.add_argument("project")
    p.add_argument("input", nargs="?", help="CSV (UTF-8/BOM/GBK) or .xlsx")
    p.add_argument("--kind", choices=["residents", "facilities"])
    p.add_argument("--address-col", help="address column when not 地址/居住地址/address")
    p.add_argument("--x-col", help="longitude/x column (default 经度/lon)")
    p.add_argument("--y-col", help="latitude/y column (default 纬度/lat)")
    p.add_argument("--crs", default="gcj02", help="CRS of the coordinates: gcj02 (default), bd09, wgs84 or EPSG:n")
    p.add_argument("--encoding", help="text encoding of a CSV (detected otherwise)")
    p.add_argument("--review-out", metavar="FILE.xlsx", help="also write the review list (personal data masked)")
    p.add_argument("--apply-review", metavar="FILE.xlsx", help="place the rows corrected in a review workbook")
    p.set_defaults(func=_cmd_geocode)

    p = sub.add_parser("validate", help="check the grid coverage's topology")
    p.add_argument("project")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("app", help="open the desktop app")
    p.add_argument("project", nargs="?", help="project (.gpkg); default: the demo if built")
    p.add_argument("--offscreen", action="store_true", help="render without a display")
    p.add_argument("--screenshot", metavar="FILE", help="save a PNG of the window and exit")
    p.add_argument("--lang", choices=["zh", "en"], default="zh")
    p.add_argument("--workspace", choices=["planner", "care", "leader"], default="planner")
    p.set_defaults(func=_cmd_app)
    add_grid_commands(sub)
    from gridmap.care.commands import add_care_commands

    add_care_commands(sub)
    from gridmap.report.commands import add_report_commands; add_report_commands(sub)
    from gridmap.audit.commands import add_audit_commands; add_audit_commands(sub)  # noqa: E702
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except GridMapError as exc:
        print(f"gridmap: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
