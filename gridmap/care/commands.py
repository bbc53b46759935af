"""``gridmap care …``: thin command wrappers over the elderly-care library."""

from __future__ import annotations

__all__ = ["add_care_commands"]


def _project(path):
    from gridmap.project import Project

    return Project(path)


def _report(result):
    print(result.summary())
    for message in result.messages:
        print(f"  注意: {message}")


def _demand(args):
    from gridmap.care.demand import analyse_demand

    _report(analyse_demand(_project(args.project), write=True))
    return 0


def _clusters(args):
    from gridmap.care.clusters import analyse_clusters

    result = analyse_clusters(_project(args.project), k=args.k, write=True)
    _report(result)
    for row in result.types.types.itertuples():
        print(f"  {row.name}: {row.share:.0%}，{row.dominant}；主要服务 {row.primary_service}")
    return 0


def _heatmap(args):
    from gridmap.care.heatmap import demand_heatmap, save_heatmap

    project = _project(args.project)
    heatmap = demand_heatmap(project, bandwidth=args.bandwidth, cell_size=args.cell_size, kernel=args.kernel)
    paths = save_heatmap(project, heatmap)
    print(heatmap.describe())
    print(f"  {paths['tif']}\n  {paths['png']}")
    return 0


def _parse_radius(values):
    radius, per_kind = 1000.0, {}
    for value in values or []:
        if "=" in value:
            kind, metres = value.split("=", 1)
            per_kind[kind.strip()] = float(metres)
        else:
            radius = float(value)
    return {**{"default": radius}, **per_kind} if per_kind else radius


def _coverage(args):
    from gridmap.care.coverage import CARE_KINDS, analyse_coverage

    radius = _parse_radius(args.radius)
    if isinstance(radius, dict):
        default = radius.pop("default")
        radius = {kind: radius.get(kind, default) for kind in CARE_KINDS}
    result = analyse_coverage(_project(args.project), radius=radius, roads=False if args.straight else "auto",
                              write=True)
    _report(result)
    return 0


def _allocate(args):
    from gridmap.care.plan import plan_sites, write_plan

    project = _project(args.project)
    result = plan_sites(project, args.kind, args.new_sites, args.model, args.radius, time_limit=args.time_limit)
    write_plan(project, result)
    s = result.summary
    print(f"{s['model']} · {s['kind']} · 新增 {s['new_sites']} 处：{s['status']}，gap {s['gap']:.2%}，{s['seconds']} 秒")
    print(f"  {s['radius_m']:.0f} 米内覆盖需求：{s['covered_share_before']:.1%} → {s['covered_share_after']:.1%}")
    for row in result.sites[result.sites["is_new"]].itertuples():
        print(f"  新址 {row.site_id} {row.name}：服务 {row.grids_served} 个网格，需求 {row.demand_gained:,.0f}")
    for message in result.messages:
        print(f"  注意: {message}")
    return 0


def add_care_commands(subparsers):
    """Register ``gridmap care demand|clusters|heatmap|coverage|allocate``."""
    care = subparsers.add_parser("care", help="elderly-care demand, clusters, heatmap, coverage and new sites")
    sub = care.add_subparsers(dest="care_command", required=True)
    p = sub.add_parser("demand", help="weighted demand index per grid")
    p.add_argument("project")
    p.set_defaults(func=_demand)
    p = sub.add_parser("clusters", help="need types, service mix and demand concentrations")
    p.add_argument("project")
    p.add_argument("--k", type=int, help="number of need types (chosen by silhouette when omitted)")
    p.set_defaults(func=_clusters)
    p = sub.add_parser("heatmap", help="kernel density of demand (GeoTIFF + PNG beside the project)")
    p.add_argument("project")
    p.add_argument("--bandwidth", type=float, default=800.0, help="metres (default 800)")
    p.add_argument("--cell-size", type=float, default=25.0, help="metres (default 25)")
    p.add_argument("--kernel", default="quartic", choices=["quartic", "epanechnikov", "gaussian"])
    p.set_defaults(func=_heatmap)
    p = sub.add_parser("coverage", help="nearest facility per grid and kind, load vs capacity")
    p.add_argument("project")
    p.add_argument("--radius", nargs="*", help="metres, or KIND=metres (default 1000)")
    p.add_argument("--straight", action="store_true", help="straight-line distances even with a road layer")
    p.set_defaults(func=_coverage)
    p = sub.add_parser("allocate", help="choose new facility sites (p-median, MCLP, capacitated p-median)")
    p.add_argument("project")
    p.add_argument("--kind", default="day_care")
    p.add_argument("--new-sites", type=int, default=5)
    p.add_argument("--model", default="pmedian", choices=["mclp", "pmedian", "cpmedian"])
    p.add_argument("--radius", type=float, default=1000.0)
    p.add_argument("--time-limit", type=float, default=120.0)
    p.set_defaults(func=_allocate)
    return care
