"""``gridmap grid …``: the command-line face of the grid editing engine (thin wrappers).

Every subcommand opens a :class:`~gridmap.grids.edit.GridEditor`, runs one operation
and prints its one-line summary (or JSON); a refused edit raises
:class:`~gridmap.errors.GridMapError`, which ``gridmap`` prints on one line before
exiting with status 2, the project unchanged.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from gridmap.errors import GridMapError

__all__ = ["add_grid_commands", "parse_target"]


def parse_target(text):
    """Read a household range ``LOW-HIGH`` (e.g. ``300-500``) into a pair of floats."""
    parts = str(text).replace("–", "-").split("-")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise GridMapError(f"--target must look like 300-500, got {text!r}") from None
    if lo > hi:
        raise GridMapError(f"--target must be LOW-HIGH with LOW <= HIGH, got {text!r}")
    return lo, hi


def _geometry_text(value):
    """A WKT/GeoJSON argument, or the contents of the file named after ``@``."""
    if value.startswith("@"):
        path = Path(value[1:])
        if not path.exists():
            raise GridMapError(f"{path}: file not found")
        return path.read_text(encoding="utf-8")
    return value


def _editor(args):
    from gridmap.grids.edit import GridEditor

    return GridEditor(args.project, user=args.user, min_area_m2=args.min_area, snap_m=args.snap)


def _print_result(args, result):
    if args.json:
        print(json.dumps(dataclasses.asdict(result), ensure_ascii=False))
    else:
        print(result.summary)
    return 0


def _cmd_split(args):
    editor = _editor(args)
    if (args.line is None) == (args.parts is None):
        raise GridMapError("split needs exactly one of --line or --parts")
    if args.parts is not None:
        return _print_result(args, editor.split_parts(args.grid_code, args.parts))
    return _print_result(args, editor.split(args.grid_code, _geometry_text(args.line), crs=args.crs))


def _cmd_merge(args):
    return _print_result(args, _editor(args).merge(args.codes))


def _cmd_reshape(args):
    return _print_result(args, _editor(args).reshape(_geometry_text(args.line), crs=args.crs))


def _cmd_draw(args):
    return _print_result(args, _editor(args).draw(_geometry_text(args.polygon), args.community, crs=args.crs))


def _cmd_move(args):
    return _print_result(args, _editor(args).move(args.grid_code, args.community_code))


def _cmd_renumber(args):
    return _print_result(args, _editor(args).renumber(args.community_code))


def _cmd_balance(args):
    editor = _editor(args)
    proposal = editor.propose_balance(args.community, k=args.grids, target=parse_target(args.target),
                                      locked=args.lock or (), random_state=args.seed, time_limit=args.time_limit)
    result = editor.apply_balance(proposal) if args.apply else None
    if args.json:
        out = proposal.to_dict()
        out["applied"] = result is not None
        if result is not None:
            out["edit"] = dataclasses.asdict(result)
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(proposal.report())
    print(result.summary if result is not None else "proposal only: add --apply to accept it")
    return 0


def _cmd_undo(args):
    return _print_result(args, _editor(args).undo())


def _cmd_redo(args):
    return _print_result(args, _editor(args).redo())


def _cmd_history(args):
    from gridmap.grids.editlog import history, history_geometries

    frame = history(args.project)
    if args.export:
        from gridmap.grids.io import write_vector

        print(write_vector(history_geometries(args.project), args.export))
        return 0
    if args.json:
        print(frame.to_json(orient="records", force_ascii=False))
        return 0
    if frame.empty:
        print("no edits")
        return 0
    for row in frame.itertuples():
        print(f"{row.id:>4}  {str(row.time)[:19]}  {row.user!s:<10} {row.state:<9} {row.summary}")
    return 0


def _cmd_lock(args):
    editor = _editor(args)
    (editor.unlock if args.unlock else editor.lock)(args.codes)
    print("locked: " + (", ".join(editor.locked()) or "none"))
    return 0


def add_grid_commands(sub):
    """Add ``grid`` and its subcommands to the ``gridmap`` parser's subparsers ``sub``."""
    from gridmap.grids.edit import DEFAULT_MIN_AREA_M2, DEFAULT_SNAP_M

    grid = sub.add_parser("grid", help="edit grids: split, merge, reshape, balance, undo/redo, history")
    commands = grid.add_subparsers(dest="grid_command", required=True)

    def add(name, func, help_text, geometry=False):
        p = commands.add_parser(name, help=help_text)
        p.add_argument("project")
        p.add_argument("--user", help="name recorded in the edit log (default: login name)")
        p.add_argument("--min-area", type=float, default=DEFAULT_MIN_AREA_M2,
                       help=f"smallest grid an edit may leave, m² (default {DEFAULT_MIN_AREA_M2:g})")
        p.add_argument("--snap", type=float, default=DEFAULT_SNAP_M,
                       help=f"snapping tolerance in metres (default {DEFAULT_SNAP_M:g})")
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        if geometry:
            p.add_argument("--crs", default="4490", help="CRS of the coordinates: 4490 (lon/lat, default) or 4546 (m)")
        p.set_defaults(func=func)
        return p

    p = add("split", _cmd_split, "split a grid by a line, or into N parts balanced by households", geometry=True)
    p.add_argument("grid_code")
    p.add_argument("--line", help="WKT or GeoJSON line (or @FILE)")
    p.add_argument("--parts", type=int, help="number of parts with households as equal as buildings allow")

    p = add("merge", _cmd_merge, "merge adjacent grids of one community")
    p.add_argument("codes", nargs="+", metavar="CODE")

    p = add("reshape", _cmd_reshape, "move the boundary shared by two grids onto a line", geometry=True)
    p.add_argument("--line", required=True, help="WKT or GeoJSON line from the shared boundary to it (or @FILE)")

    p = add("draw", _cmd_draw, "draw a new grid inside a community", geometry=True)
    p.add_argument("--polygon", required=True, help="WKT or GeoJSON polygon (or @FILE)")
    p.add_argument("--community", help="community code (default: the one the polygon overlaps most)")

    p = add("move", _cmd_move, "move a grid to a neighbouring community")
    p.add_argument("grid_code")
    p.add_argument("community_code")

    p = add("renumber", _cmd_renumber, "renumber a community's grids in reading order")
    p.add_argument("community_code")

    p = add("balance", _cmd_balance, "propose (and with --apply, make) a balanced division of a community")
    p.add_argument("community")
    p.add_argument("--target", default="300-500", help="households per grid, LOW-HIGH (default 300-500)")
    p.add_argument("--grids", type=int, help="number of grids (default: chosen from the target)")
    p.add_argument("--lock", nargs="+", metavar="CODE", help="grids to leave as they are")
    p.add_argument("--apply", action="store_true", help="accept the proposal and write it")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--time-limit", type=float, default=4.0, help="seconds for the search (default 4)")

    add("undo", _cmd_undo, "undo the last edit")
    add("redo", _cmd_redo, "redo the last undone edit")

    p = add("history", _cmd_history, "list the edit log (or export its geometries)")
    p.add_argument("--export", metavar="FILE", help="write before/after geometries to .gpkg, .geojson or .shp")

    p = add("lock", _cmd_lock, "lock grids against edits (or --unlock them)")
    p.add_argument("codes", nargs="+", metavar="CODE")
    p.add_argument("--unlock", action="store_true")
    return grid
