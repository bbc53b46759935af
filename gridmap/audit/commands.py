"""``gridmap audit``: the social-security cross-checks on the command line.

``gridmap audit pension|dibao|duplicates|jobs PROJECT [--records DIR] [--out FILE.xlsx]``
runs a check and stores its findings in the project; ``gridmap audit decide`` records
officers' decisions (one finding, or a whole workbook filled in by grid workers).
"""

from __future__ import annotations

import json
import sys

from gridmap.audit.run import CHECKS

__all__ = ["add_audit_commands"]

_HELP = {
    "pension": "pensions paid after death (人社 vs 民政/公安/卫健 death records)",
    "dibao": "低保 means test against vehicles, property, housing fund, business and tax records",
    "duplicates": "persons enrolled in more than one medical insurance scheme at once",
    "jobs": "rank vacancies for registered job seekers; SMS texts and training offers per grid worker",
}


def _cmd_audit(args):
    from gridmap.audit.run import run_audit

    def report(fraction, message):
        if not args.quiet:
            print(f"[{fraction:4.0%}] {message}", file=sys.stderr)

    summary = run_audit(args.project, args.check, records_dir=args.records, out=args.out, progress=report)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print(f"{args.check}: {summary['findings']:,} 条（待核查 {summary['new']:,}，已核实 {summary['verified']:,}，"
          f"已排除 {summary['dismissed']:,}），用时 {summary['seconds']} 秒")
    for key, value in summary.items():
        if key not in ("check", "findings", "new", "verified", "dismissed", "seconds"):
            print(f"  {key}: {value:,}" if isinstance(value, (int, float)) else f"  {key}: {value}")
    if args.out:
        print(args.out)
    return 0


def _cmd_decide(args):
    from gridmap.audit.findings import apply_decisions, set_status
    from gridmap.errors import GridMapError

    if args.workbook:
        changed = apply_decisions(args.project, args.check, args.workbook)
    elif args.finding and args.status:
        changed = set_status(args.project, args.check, args.finding, args.status, note=args.note or "")
    else:
        raise GridMapError("audit decide needs --workbook FILE.xlsx, or FINDING_ID... with --status")
    print(f"已更新 {changed} 条核查结论")
    return 0


def add_audit_commands(sub):
    """Add ``gridmap audit ...`` to the top-level subparsers ``sub``."""
    audit = sub.add_parser("audit", help="social-security cross-checks (pension, 低保, duplicate insurance, jobs)")
    checks = audit.add_subparsers(dest="check", required=True)
    for check in CHECKS:
        p = checks.add_parser(check, help=_HELP[check])
        p.add_argument("project")
        p.add_argument("--records", metavar="DIR", help="folder of the bureaus' files (default: the project's folder)")
        p.add_argument("--out", metavar="FILE.xlsx", help="export the findings (personal data masked)")
        p.add_argument("--json", action="store_true", help="print the summary as JSON")
        p.add_argument("--quiet", action="store_true")
        p.set_defaults(func=_cmd_audit)
    p = checks.add_parser("decide", help="record verification decisions (verified/dismissed)")
    p.add_argument("check", choices=CHECKS)
    p.add_argument("project")
    p.add_argument("finding", nargs="*", help="finding id(s)")
    p.add_argument("--status", help="new, verified or dismissed (待核查/已核实/已排除)")
    p.add_argument("--note", help="the officer's note")
    p.add_argument("--workbook", metavar="FILE.xlsx", help="read 核查状态/核查说明 from an exported workbook")
    p.set_defaults(func=_cmd_decide)
