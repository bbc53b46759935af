"""``gridmap report``: build the PDF atlas, the offline HTML map and the Excel workbook.

:func:`build_report` is the one call behind both the command and the app's export
button: it gathers the content once and writes whichever outputs were asked for.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from gridmap.errors import GridMapError
from gridmap.report.content import ATLAS_LEVELS, gather_content

__all__ = ["ReportResult", "add_report_commands", "build_report", "default_outputs"]

_PAPERS = ("a4", "a3")


@dataclass
class ReportResult:
    """What :func:`build_report` wrote and how long each part took.

    Attributes
    ----------
    pdf, html, xlsx : Path or None
    pdf_pages : int
        Pages of the PDF (0 when none was written).
    sheets : dict
        Workbook sheet -> data rows.
    computed : list of str
        Analyses computed for the report because the project did not hold them.
    notes : dict
        Section -> sentences on what is missing or was computed.
    seconds : dict
        ``gather``, ``pdf``, ``html``, ``xlsx`` and ``total``.
    """

    pdf: Path | None = None
    html: Path | None = None
    xlsx: Path | None = None
    pdf_pages: int = 0
    sheets: dict = field(default_factory=dict)
    computed: list = field(default_factory=list)
    notes: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)


def default_outputs(project_path) -> dict:
    """``{"pdf": …, "html": …, "xlsx": …}`` beside the project: ``<stem>.report.pdf`` etc."""
    path = Path(project_path)
    return {kind: path.with_name(f"{path.stem}.report.{kind}") for kind in ("pdf", "html", "xlsx")}


def build_report(project, *, pdf=None, html=None, xlsx=None, district=None, atlas_by="district", title=None,
                 paper="a4", compute=True, plan_defaults=None, progress=None, cancelled=None) -> ReportResult:
    """Gather the report content of ``project`` once and write the requested outputs.

    Parameters
    ----------
    project : Project or path
    pdf, html, xlsx : path, optional
        Where to write each output; at least one is required.
    district : str, optional
        Restrict the report to one district.
    atlas_by : {"district", "subdistrict", "community"}
    title : str, optional
    paper : {"a4", "a3"}
    compute : bool
        Compute missing analyses in memory (see :func:`gridmap.report.content.gather_content`).
    plan_defaults : dict or False, optional
        Arguments for the on-the-fly site recommendation, or False to leave it out.
    progress : callable(fraction, message), optional
    cancelled : callable() -> bool, optional

    Returns
    -------
    ReportResult

    Raises
    ------
    GridMapError
        No output asked for, an unknown paper size or atlas level, an unknown
        district; :class:`~gridmap.report.content.ReportCancelled` on cancel.
    """
    from gridmap.report.html import write_html
    from gridmap.report.pdf import write_pdf
    from gridmap.report.workbook import write_workbook

    if pdf is None and html is None and xlsx is None:
        raise GridMapError("report: nothing to write; give at least one of pdf, html, xlsx")
    if paper not in _PAPERS:
        raise GridMapError(f"paper: expected one of {', '.join(_PAPERS)}, got {paper!r}")
    wanted = [kind for kind, path in (("pdf", pdf), ("html", html), ("xlsx", xlsx)) if path is not None]
    # Share of the progress bar for each part, roughly by their running time.
    weights = {"gather": 4.0, "pdf": 5.0, "html": 1.0, "xlsx": 1.5}
    total = weights["gather"] + sum(weights[k] for k in wanted)
    done = 0.0

    def stage(name):
        nonlocal done
        start = done
        done += weights[name]
        if progress is None:
            return None
        return lambda fraction, message: progress((start + fraction * weights[name]) / total, message)

    started = time.perf_counter()
    seconds = {}
    t = time.perf_counter()
    content = gather_content(project, district=district, atlas_by=atlas_by, title=title, compute=compute,
                             plan_defaults=plan_defaults, progress=stage("gather"), cancelled=cancelled)
    seconds["gather"] = time.perf_counter() - t
    result = ReportResult(computed=list(content.computed), notes=dict(content.notes))
    if pdf is not None:
        t = time.perf_counter()
        written = write_pdf(content, pdf, paper=paper, progress=stage("pdf"), cancelled=cancelled)
        result.pdf, result.pdf_pages = written.path, written.page_count
        seconds["pdf"] = time.perf_counter() - t
    for kind, path, writer in (("html", html, write_html), ("xlsx", xlsx, write_workbook)):
        if path is None:
            continue
        if cancelled is not None and cancelled():
            from gridmap.report.content import ReportCancelled

            raise ReportCancelled("报告生成已取消")
        report = stage(kind)
        if report is not None:
            report(0.0, "写出 HTML 地图" if kind == "html" else "写出 Excel 工作簿")
        t = time.perf_counter()
        out = writer(content, path)
        if kind == "html":
            result.html = Path(out)
        else:
            result.xlsx, result.sheets = Path(path), out
        seconds[kind] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - started
    result.seconds = {k: round(v, 3) for k, v in seconds.items()}
    if progress is not None:
        progress(1.0, "报告完成")
    return result


def _cmd_report(args):
    outputs = {"pdf": args.pdf, "html": args.html, "xlsx": args.xlsx}
    if not any(outputs.values()):
        outputs = default_outputs(args.project)

    def report(fraction, message):
        if not args.quiet:
            print(f"[{fraction:4.0%}] {message}", file=sys.stderr)

    result = build_report(args.project, district=args.district, atlas_by=args.atlas_by, title=args.title,
                          paper=args.paper, compute=not args.no_compute, progress=report, **outputs)
    if result.pdf:
        print(f"PDF：{result.pdf}（{result.pdf_pages} 页）")
    if result.html:
        print(f"HTML：{result.html}")
    if result.xlsx:
        print(f"Excel：{result.xlsx}（{len(result.sheets)} 个工作表）")
    if result.computed:
        print("即时计算：" + "、".join(result.computed))
    missing = [text for texts in result.notes.values() for text in texts if "不可用" in text or "暂无" in text]
    for text in missing:
        print(f"说明：{text}")
    print(f"用时 {result.seconds['total']:.1f} 秒")
    return 0


def add_report_commands(sub):
    """Add ``gridmap report`` to the ``gridmap`` command's sub-parsers."""
    p = sub.add_parser("report", help="PDF atlas, offline HTML map and Excel workbook for leadership")
    p.add_argument("project", help="project (.gpkg)")
    p.add_argument("--pdf", metavar="FILE", help="write the PDF report here")
    p.add_argument("--html", metavar="FILE", help="write the offline interactive map here")
    p.add_argument("--xlsx", metavar="FILE", help="write the Excel workbook here")
    p.add_argument("--district", help="restrict the report to one district, e.g. 西陵区")
    p.add_argument("--atlas-by", choices=ATLAS_LEVELS, default="district",
                   help="one atlas page per district (default), sub-district or community")
    p.add_argument("--title", help="cover title")
    p.add_argument("--paper", choices=_PAPERS, default="a4", help="landscape paper size (default a4)")
    p.add_argument("--no-compute", action="store_true",
                   help="do not compute missing analyses; their sections say they are not available")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=_cmd_report)
    return p
