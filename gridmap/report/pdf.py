"""The PDF report: cover, contents, thematic maps, tables and an atlas (issue 7).

Every page is a matplotlib figure of the paper's size (A4 or A3 landscape) written
through :class:`~matplotlib.backends.backend_pdf.PdfPages`. The page list is planned
first (:func:`plan_pages`), so the table of contents knows each section's page
number before anything is drawn. Polygons and lines are vector paths; only the
heatmap is an image. Chinese text is set in the bundled font and embedded as a
subset (see :func:`gridmap.report.maps.rc_params`).

A section whose analysis is not available is listed in the contents with the reason
and gets no page, so no page is ever empty.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import shapely
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Rectangle
from matplotlib.ticker import FuncFormatter

from gridmap.app.layers import CATEGORY_COLOURS
from gridmap.errors import GridMapError
from gridmap.report import maps
from gridmap.report.content import (
    AUDIT_LABELS,
    CARE_KINDS,
    LEVEL_LABELS,
    SERVICE_LABELS,
    ReportCancelled,
    area_kpis,
    community_service_mix,
    coverage_by_area,
    underserved_by_kind,
)
from gridmap.schema import FACILITY_KIND_LABELS

__all__ = ["PAPERS", "PdfReport", "plan_pages", "write_pdf"]

#: Landscape paper sizes in inches (ISO 216).
PAPERS = {"a4": (11.69, 8.27), "a3": (16.54, 11.69)}

SECTION_TITLES = {
    "overview": "一、城市概况",
    "kpi": "二、分区指标",
    "demand": "三、养老需求",
    "coverage": "四、服务覆盖",
    "plan": "五、规划建议",
    "audit": "六、社保核查",
    "atlas": "七、分区图集",
}

_KIND_STYLE = {  # marker, colour of each care kind on maps
    "elderly_home": ("s", "#6a3d9a"),
    "day_care": ("o", "#1f78b4"),
    "care_station": ("^", "#33a02c"),
    "meal_point": ("D", "#ff7f00"),
    "health_centre": ("P", "#e31a1c"),
}
_GAP_COLOURS = ["#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027"]
_GREY = "#f0f0f0"
_INK = "#222222"
_MUTED = "#666666"
_ACCENT = "#1f4e79"


@dataclass
class Page:
    """One planned page: its section key, heading and drawing function ``draw(fig, ctx)``."""

    section: str
    heading: str
    draw: object
    toc_label: str | None = None


@dataclass
class PdfReport:
    """What :func:`write_pdf` wrote.

    Attributes
    ----------
    path : Path
    pages : list of (section title, heading)
        In page order; page ``i + 1`` is ``pages[i]``.
    sections : list of (section title, first page or None, note)
        The table of contents; a section without pages carries the reason.
    seconds : float
    """

    path: Path
    pages: list
    sections: list
    seconds: float = 0.0

    @property
    def page_count(self) -> int:
        return len(self.pages)


@dataclass
class _Ctx:
    """Per-report drawing state: the content, paper scale and shared geometry."""

    content: object
    size: tuple
    scale: float
    pages: list = field(default_factory=list)
    toc: list = field(default_factory=list)
    cache: dict = field(default_factory=dict)

    def fs(self, points):
        return points * self.scale

    def grid_paths(self):
        if "grid_paths" not in self.cache:
            self.cache["grid_paths"] = maps.polygon_paths(self.content.grids.geometry.values)
        return self.cache["grid_paths"]

    def demand_style(self):
        if "demand" not in self.cache:
            self.cache["demand"] = maps.choropleth(self.content.grids, "demand_index", classes=5, ramp="OrRd")
        return self.cache["demand"]


# --------------------------------------------------------------------------- formatting


def _fmt(value, kind):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—" if kind != "text" else ""
    try:
        if pd.isna(value):
            return "—" if kind != "text" else ""
    except (TypeError, ValueError):
        pass
    if kind == "int":
        return f"{float(value):,.0f}"
    if kind == "f1":
        return f"{float(value):,.1f}"
    if kind == "f2":
        return f"{float(value):,.2f}"
    if kind == "pct":
        return f"{float(value):.1%}"
    if kind == "bool":
        return "是" if bool(value) else "否"
    return str(value)


def _width(text):
    return sum(1.0 if ord(ch) > 0x2E80 else 0.56 for ch in str(text))


def _clip(text, width):
    text = str(text)
    if _width(text) <= width:
        return text
    out = ""
    for ch in text:
        if _width(out + ch) > width - 1:
            return out + "…"
        out += ch
    return out


def _draw_table(fig, ctx, rect, frame, columns, *, fontsize=7.5, total_last=False, header_colour="#dde6f0",
                row_height=None, title=None):
    """Draw ``frame`` as a ruled table in figure rectangle ``rect`` (left, bottom, width, height).

    ``columns`` is a list of ``(column, header, kind)`` with ``kind`` one of int, f1, f2,
    pct, bool, text. Rows are laid out from the top; numbers are right-aligned.
    """
    _, _, width, height = rect
    ax = fig.add_axes(rect)
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    fs = ctx.fs(fontsize)
    fig_w, fig_h = fig.get_size_inches()
    line = fs / 72 * 1.75 / (height * fig_h)  # one row in axes units
    if row_height is not None:
        line = row_height
    top = 1.0
    if title:
        ax.text(0, top, title, ha="left", va="top", fontsize=fs * 1.15, color=_ACCENT)
        top -= line * 1.35
    cells = [[_fmt(v, kind) for v in frame[col]] if col in frame else [""] * len(frame)
             for col, _, kind in columns]
    em = fs / 72 / (width * fig_w)  # one em in axes units
    widths = []
    for (col, header, kind), values in zip(columns, cells):
        longest = max([_width(header)] + [_width(v) for v in values[:400]]) if values else _width(header)
        widths.append(min(longest, 22 if kind == "text" else 14) + 1.2)
    total = sum(widths)
    scale = 1.0 / (total * em) if total * em > 1 else 1.0
    xs = np.concatenate([[0], np.cumsum(widths)]) * em * scale
    if xs[-1] < 1:  # spread spare width evenly
        xs = xs / xs[-1]
    ax.add_patch(Rectangle((0, top - line), 1, line, facecolor=header_colour, edgecolor="none"))
    for i, (col, header, kind) in enumerate(columns):
        align_right = kind not in ("text", "bool")
        x = xs[i + 1] - 0.35 * em if align_right else xs[i] + 0.35 * em
        ax.text(x, top - line / 2, _clip(header, (xs[i + 1] - xs[i]) / (em * scale)), ha="right" if align_right
                else "left", va="center", fontsize=fs, color=_INK)
    n = len(frame)
    for r in range(n):
        y = top - line * (r + 2)
        is_total = total_last and r == n - 1
        if is_total:
            ax.add_patch(Rectangle((0, y), 1, line, facecolor="#eef2f7", edgecolor="none"))
        elif r % 2 == 1:
            ax.add_patch(Rectangle((0, y), 1, line, facecolor="#f7f7f7", edgecolor="none"))
        for i, (col, header, kind) in enumerate(columns):
            align_right = kind not in ("text", "bool")
            x = xs[i + 1] - 0.35 * em if align_right else xs[i] + 0.35 * em
            text = _clip(cells[i][r], (xs[i + 1] - xs[i]) / em - 0.5)
            ax.text(x, y + line / 2, text, ha="right" if align_right else "left", va="center",
                    fontsize=fs, color=_ACCENT if is_total else _INK)
    ax.plot([0, 1], [top, top], color="#555555", linewidth=0.8 * ctx.scale)
    ax.plot([0, 1], [top - line, top - line], color="#555555", linewidth=0.5 * ctx.scale)
    end = top - line * (n + 1)
    ax.plot([0, 1], [end, end], color="#555555", linewidth=0.8 * ctx.scale)
    return rect[1] + end * height


def _rows_fitting(ctx, height, fontsize=7.5, title=False):
    fig_h = ctx.size[1]
    line = ctx.fs(fontsize) / 72 * 1.75
    return max(1, int(height * fig_h / line) - 1 - (2 if title else 0))


def _text_block(fig, ctx, x, y, lines, *, fontsize=8.5, spacing=1.6, colour=_INK, width=None):
    """Write ``lines`` downwards from figure position (x, y), wrapped to ``width`` (a figure
    fraction); return the y below them."""
    step = ctx.fs(fontsize) / 72 * spacing / ctx.size[1]
    chars = None if width is None else width * ctx.size[0] * 72 / ctx.fs(fontsize) - 1.5
    for line in lines:
        if chars is not None:
            for part in _wrap(line, chars):
                fig.text(x, y, part, fontsize=ctx.fs(fontsize), color=colour, va="top")
                y -= step
        else:
            fig.text(x, y, line, fontsize=ctx.fs(fontsize), color=colour, va="top")
            y -= step
    return y


def _wrap(text, width):
    out, current = [], ""
    for ch in str(text):
        if _width(current + ch) > width:
            out.append(current)
            current = ""
        current += ch
    if current:
        out.append(current)
    return out or [""]


def _note_box(fig, ctx, rect, title, lines):
    left, bottom, width, height = rect
    fig.patches.append(FancyBboxPatch((left, bottom), width, height, boxstyle="round,pad=0.004,rounding_size=0.006",
                                      transform=fig.transFigure, facecolor="#fff8e6", edgecolor="#e0b84c",
                                      linewidth=0.8))
    y = bottom + height - 0.015
    fig.text(left + 0.012, y, title, fontsize=ctx.fs(9.5), color="#8a5a00", va="top")
    _text_block(fig, ctx, left + 0.012, y - 0.035, lines, fontsize=8.5, width=width - 0.024)


# --------------------------------------------------------------------------- page furniture


def _frame(fig, ctx, number, page):
    c = ctx.content
    fig.text(0.03, 0.955, page.heading, fontsize=ctx.fs(15), color=_ACCENT, va="center")
    fig.text(0.97, 0.962, f"{c.title}", fontsize=ctx.fs(8), color=_MUTED, ha="right", va="center")
    fig.text(0.97, 0.942, f"{c.scope_label} · 数据日期 {c.data_date}", fontsize=ctx.fs(7.5), color=_MUTED,
             ha="right", va="center")
    fig.add_artist(Line2D([0.03, 0.97], [0.925, 0.925], color=_ACCENT, linewidth=1.0 * ctx.scale))
    fig.add_artist(Line2D([0.03, 0.97], [0.045, 0.045], color="#bbbbbb", linewidth=0.5 * ctx.scale))
    fig.text(0.03, 0.028, c.source, fontsize=ctx.fs(6.5), color=_MUTED, va="center")
    fig.text(0.97, 0.028, f"第 {number} 页 / 共 {len(ctx.pages)} 页", fontsize=ctx.fs(7.5), color=_MUTED,
             ha="right", va="center")


def _map_axes(fig, rect=(0.03, 0.065, 0.60, 0.845)):
    ax = fig.add_axes(rect)
    ax.set_facecolor("white")
    for spine in ax.spines.values():
        spine.set_edgecolor("#999999")
    return ax


def _finish_map(ax, ctx, bounds, *, pad=0.04, north=(0.95, 0.9)):
    maps.fit_extent(ax, bounds, pad=pad)
    maps.add_scale_bar(ax, fontsize=ctx.fs(7))
    maps.add_north_arrow(ax, x=north[0], y=north[1], fontsize=ctx.fs(9))


def _base(ax, ctx, *, grid_fill=None, grid_edge="#ffffff", grid_width=0.15, roads=True, level_lines=True):
    """Grids (optionally filled), roads, sub-district and district outlines."""
    c = ctx.content
    if grid_fill is not None:
        maps.draw_polygons(ax, None, paths=ctx.grid_paths(), facecolor=grid_fill, edgecolor=grid_edge,
                           linewidth=grid_width * ctx.scale, zorder=1)
    if roads and c.roads is not None and len(c.roads):
        maps.draw_lines(ax, c.roads.geometry.values, color="#8c8c8c", linewidth=0.4 * ctx.scale, zorder=2,
                        alpha=0.55)
    if level_lines:
        maps.draw_lines(ax, c.areas["subdistrict"].geometry.values, color="#7a7a7a",
                        linewidth=0.5 * ctx.scale, zorder=3)
        maps.draw_lines(ax, c.areas["district"].geometry.values, color="#333333",
                        linewidth=1.1 * ctx.scale, zorder=4)


def _bounds(frame):
    return tuple(frame.total_bounds)


def _key_figures(fig, ctx, rect, items):
    """Big-number tiles: ``items`` is a list of (label, value text)."""
    left, bottom, width, height = rect
    cols = 2
    rows = math.ceil(len(items) / cols)
    w, h = width / cols, height / rows
    for i, (label, value) in enumerate(items):
        x = left + (i % cols) * w
        y = bottom + height - (i // cols + 1) * h
        fig.patches.append(Rectangle((x + 0.004, y + 0.006), w - 0.008, h - 0.012, transform=fig.transFigure,
                                     facecolor="#f3f6fa", edgecolor="none"))
        fig.text(x + 0.014, y + h * 0.62, value, fontsize=ctx.fs(16), color=_ACCENT, va="center")
        fig.text(x + 0.014, y + h * 0.25, label, fontsize=ctx.fs(8), color=_MUTED, va="center")


# --------------------------------------------------------------------------- pages


def _area_colours(c, level):
    """A colour per area name, in code order (so the legend lists districts as the codes do)."""
    names = [str(n) for n in c.areas[level]["name"]]
    return {n: CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)] for i, n in enumerate(names)}


def _cover(fig, ctx, number, page):
    c = ctx.content
    fig.patches.append(Rectangle((0, 0.86), 1, 0.14, transform=fig.transFigure, facecolor=_ACCENT,
                                 edgecolor="none"))
    fig.text(0.05, 0.93, f"{c.city} · 网格化社会治理", fontsize=ctx.fs(13), color="white", va="center")
    y = 0.76
    for part in _wrap(c.title, 18):
        fig.text(0.05, y, part, fontsize=ctx.fs(26), color=_INK, va="center")
        y -= 0.075
    fig.text(0.05, y - 0.005, f"{c.scope_label}  ·  附分{LEVEL_LABELS[c.atlas_by]}图集", fontsize=ctx.fs(14),
             color=_ACCENT, va="center")
    g = c.grids
    lines = [
        f"数据日期：{c.data_date}",
        f"生成日期：{c.generated}",
        (f"范围：{c.scope_label}，{len(g):,} 个网格、{g['community_code'].nunique():,} 个社区、"
         f"{g['subdistrict_code'].nunique():,} 个街道"),
        f"常住人口 {g['population'].sum():,.0f} 人，60岁以上 {g['elderly_60'].sum():,.0f} 人"
        if {"population", "elderly_60"} <= set(g.columns) else "",
    ]
    _text_block(fig, ctx, 0.05, y - 0.07, [line for line in lines if line], fontsize=11, spacing=1.8)
    if c.synthetic:
        fig.patches.append(FancyBboxPatch((0.05, 0.12), 0.45, 0.1, boxstyle="round,pad=0.006,rounding_size=0.01",
                                          transform=fig.transFigure, facecolor="#fdecea", edgecolor="#c0392b",
                                          linewidth=1.0))
        fig.text(0.065, 0.195, "合成演示数据", fontsize=ctx.fs(13), color="#c0392b", va="center")
        fig.text(0.065, 0.15, c.note or "本报告所用数据为合成演示数据，不含真实个人信息。",
                 fontsize=ctx.fs(8.5), color="#7b241c", va="center")
    fig.text(0.05, 0.05, "GridMap 网格化规划工具 · 本报告不含个人身份信息", fontsize=ctx.fs(8), color=_MUTED)
    ax = fig.add_axes((0.55, 0.08, 0.42, 0.74))
    ax.set_axis_off()
    level = "district" if c.district is None else "subdistrict"
    lookup = _area_colours(c, level)
    fill = c.grids[level].astype(str).map(lookup).to_numpy(dtype=object)
    maps.draw_polygons(ax, None, paths=ctx.grid_paths(), facecolor=fill, edgecolor="white",
                       linewidth=0.1 * ctx.scale)
    maps.draw_lines(ax, c.areas[level].geometry.values, color="#333333", linewidth=0.8 * ctx.scale, zorder=4)
    maps.fit_extent(ax, _bounds(c.grids), pad=0.02)
    maps.label_areas(ax, c.areas[level], fontsize=ctx.fs(10))


def _contents(fig, ctx, number, page):
    c = ctx.content
    y = 0.86
    step = ctx.fs(10.5) / 72 * 1.75 / ctx.size[1]
    for title, first, note, children in ctx.toc:
        fig.text(0.06, y, title, fontsize=ctx.fs(11.5), color=_INK if first else _MUTED, va="center")
        if first:
            fig.text(0.56, y, str(first), fontsize=ctx.fs(11.5), color=_INK, ha="right", va="center")
            fig.add_artist(Line2D([0.06 + _width(title) * ctx.fs(11.5) / 72 / ctx.size[0] + 0.01, 0.54],
                                      [y, y], color="#bbbbbb", linewidth=0.6, linestyle=(0, (1, 2))))
        else:
            fig.text(0.56, y, note, fontsize=ctx.fs(8.5), color=_MUTED, ha="right", va="center")
        y -= step
        per_line = 4 if len(children) > 8 else 1
        for start in range(0, len(children), per_line):
            chunk = children[start:start + per_line]
            text = "    ".join(f"{label} {p}" for label, p in chunk)
            fig.text(0.08, y, text, fontsize=ctx.fs(8.5), color=_MUTED, va="center")
            y -= step * 0.85
        y -= step * 0.25
    lines = []
    if c.computed:
        lines.append("报告生成时即时计算（项目中尚未保存）：" + "、".join(c.computed) + "。")
    for key in ("demand", "clusters", "heatmap", "coverage", "plan", "audit"):
        lines.extend(c.notes.get(key, []))
    lines.append("地图为 CGCS2000 高斯-克吕格投影，面积与距离按米计；报告仅含汇总数，不含个人信息。")
    _note_box(fig, ctx, (0.62, 0.1, 0.35, 0.76), "数据与方法说明", lines)


def _overview(fig, ctx, number, page):
    c = ctx.content
    level = "district" if c.district is None else "subdistrict"
    ax = _map_axes(fig)
    lookup = _area_colours(c, level)
    names = list(lookup)
    _base(ax, ctx, grid_fill=c.grids[level].astype(str).map(lookup).to_numpy(dtype=object), grid_width=0.12)
    _finish_map(ax, ctx, _bounds(c.grids))
    counts = c.grids.groupby(level).size()
    areas = c.areas[level]
    maps.label_areas(ax, areas, fontsize=ctx.fs(9),
                     extra=[f"{counts.get(n, 0)} 个网格" for n in areas["name"]])
    entries = [(f"{n}（{counts.get(n, 0)}）", lookup[n]) for n in names]
    entries += [("区界", {"kind": "line", "color": "#333333", "width": 1.4}),
                ("街道界", {"kind": "line", "color": "#7a7a7a", "width": 0.7}),
                ("主要道路", {"kind": "line", "color": "#b0b0b0", "width": 0.7})]
    maps.add_legend(ax, entries, title=f"网格所属{LEVEL_LABELS[level]}（网格数）", fontsize=ctx.fs(7.5),
                    loc="upper left")
    g = c.grids
    items = [("网格", f"{len(g):,}"), ("社区", f"{g['community_code'].nunique():,}"),
             ("街道", f"{g['subdistrict_code'].nunique():,}"), ("区", f"{g['district_code'].nunique():,}")]
    if {"population", "elderly_60", "households"} <= set(g.columns):
        items += [("户数", f"{g['households'].sum():,.0f}"), ("常住人口", f"{g['population'].sum():,.0f}"),
                  ("60岁以上", f"{g['elderly_60'].sum():,.0f}"),
                  ("老龄化率", f"{g['elderly_60'].sum() / max(g['population'].sum(), 1):.1%}")]
    _key_figures(fig, ctx, (0.655, 0.47, 0.315, 0.43), items)
    per_grid = g["population"].describe() if "population" in g else None
    lines = [(f"全{('市' if c.district is None else '区')}共划分 {len(g):,} 个网格，分属 "
              f"{g['community_code'].nunique()} 个社区。")]
    if per_grid is not None:
        lines.append(f"每个网格平均 {per_grid['mean']:,.0f} 人（{per_grid['min']:,.0f}–{per_grid['max']:,.0f}）。")
    lines.append("图中颜色为网格所属" + LEVEL_LABELS[level] + "，粗线为区界，细线为街道界。")
    _text_block(fig, ctx, 0.66, 0.44, lines, fontsize=8.5, width=0.31)


_KPI_COLUMNS = [
    ("name", "名称", "text"), ("grids", "网格", "int"), ("communities", "社区", "int"),
    ("households", "户数", "int"), ("population", "常住人口", "int"), ("elderly_60", "60岁以上", "int"),
    ("ageing_rate", "老龄化率", "pct"), ("elderly_80", "80岁以上", "int"), ("demand_index", "需求指数", "int"),
    ("care_facilities", "养老设施", "int"), ("coverage_rate", "平均覆盖率", "pct"),
]


def _kpi_district(fig, ctx, number, page):
    c = ctx.content
    level = "district" if c.district is None else "subdistrict"
    table = area_kpis(c, level)
    columns = [col for col in _KPI_COLUMNS if col[0] in table]
    _draw_table(fig, ctx, (0.03, 0.5, 0.94, 0.4), table, columns, fontsize=8.5, total_last=True,
                      title=f"各{LEVEL_LABELS[level]}主要指标")
    body = table[table["name"] != "合计"]
    ax = fig.add_axes((0.06, 0.1, 0.4, 0.3))
    x = np.arange(len(body))
    if {"population", "elderly_60"} <= set(body.columns):
        ax.bar(x - 0.2, body["population"] / 1e4, width=0.4, color="#9ecae1", label="常住人口（万人）")
        ax.bar(x + 0.2, body["elderly_60"] / 1e4, width=0.4, color="#fd8d3c", label="60岁以上（万人）")
        ax.set_title("人口与老年人口", fontsize=ctx.fs(9.5))
        ax.legend(fontsize=ctx.fs(7.5), frameon=False)
    else:  # a project without resident counts yet
        ax.bar(x, body["grids"], width=0.6, color="#9ecae1")
        ax.set_title("网格数（项目中尚无人口统计）", fontsize=ctx.fs(9.5))
    ax.set_xticks(x, body["name"], fontsize=ctx.fs(8))
    ax.spines[["top", "right"]].set_visible(False)
    if "coverage_rate" in body:
        ax2 = fig.add_axes((0.56, 0.1, 0.4, 0.3))
        rates = coverage_by_area(c, level)
        rates = rates[rates["name"] != "合计"]
        kinds = [k for k in rates.columns if k != "name"]
        width = 0.8 / max(len(kinds), 1)
        for i, kind in enumerate(kinds):
            code = next((k for k, v in FACILITY_KIND_LABELS.items() if v == kind), kind)
            ax2.bar(np.arange(len(rates)) + (i - (len(kinds) - 1) / 2) * width, rates[kind] * 100, width=width,
                    color=_KIND_STYLE.get(code, ("o", "#999999"))[1], label=kind)
        ax2.set_xticks(np.arange(len(rates)), rates["name"], fontsize=ctx.fs(8))
        ax2.set_ylim(0, 100)
        ax2.set_ylabel("15分钟步行圈覆盖的需求（%）")
        ax2.set_title("养老设施覆盖率", fontsize=ctx.fs(9.5))
        ax2.legend(fontsize=ctx.fs(6.5), frameon=False, ncol=3, loc="upper right")
        ax2.spines[["top", "right"]].set_visible(False)


def _kpi_table_page(level, rows):
    def draw(fig, ctx, number, page):
        c = ctx.content
        table = area_kpis(c, level)
        if level == "subdistrict" and c.district is None:
            parents = c.grids.drop_duplicates("subdistrict_code").set_index("subdistrict_code")["district"]
            table.insert(2, "parent", table["code"].map(parents).fillna(""))
        chunk = table.iloc[rows]
        columns = [col for col in _KPI_COLUMNS if col[0] in chunk]
        if "parent" in chunk:
            columns.insert(1, ("parent", "所属区", "text"))
        _draw_table(fig, ctx, (0.03, 0.07, 0.94, 0.83), chunk, columns, fontsize=8.5,
                    total_last=chunk["name"].iloc[-1] == "合计", title=f"各{LEVEL_LABELS[level]}主要指标")
    return draw


def _demand_map(fig, ctx, number, page):
    c = ctx.content
    colours, legend = ctx.demand_style()
    ax = _map_axes(fig)
    _base(ax, ctx, grid_fill=colours, grid_edge="#ffffff", grid_width=0.12, roads=False)
    _finish_map(ax, ctx, _bounds(c.grids))
    maps.label_areas(ax, c.areas["district" if c.district is None else "subdistrict"], fontsize=ctx.fs(8.5))
    maps.add_legend(ax, legend, title="需求指数（自然断点）", fontsize=ctx.fs(7.5))
    g = c.grids
    top = g.sort_values("demand_index", ascending=False).head(12)
    below = _draw_table(fig, ctx, (0.655, 0.44, 0.315, 0.46), top,
                [("grid_name", "需求最高的网格", "text"), ("subdistrict", "街道", "text"),
                 ("elderly_60", "60岁+", "int"), ("demand_index", "需求指数", "int")], fontsize=7.5)
    needs = [(k, label) for k, label in (("elderly_80", "80岁以上"), ("living_alone", "独居"),
                                         ("semi_disabled", "半失能"), ("disabled", "失能"),
                                         ("low_income", "低收入"), ("chronic_illness", "慢性病")) if k in g]
    lines = [(f"需求指数合计 {g['demand_index'].sum():,.0f}，即 {g['elderly_60'].sum():,.0f} 名老年人按需求加权"
              "（每名60岁以上老人计 1，高龄、独居、失能等按权重加计）。"),
             "；".join(f"{label} {g[k].sum():,.0f} 人" for k, label in needs) + "。"]
    _text_block(fig, ctx, 0.66, below - 0.03, lines, fontsize=8.5, width=0.31)


def _heatmap_page(fig, ctx, number, page):
    c = ctx.content
    ax = _map_axes(fig)
    _base(ax, ctx, grid_fill="#fafafa", grid_edge="#d9d9d9", grid_width=0.1, roads=False)
    image = maps.draw_heatmap(ax, c.heatmap)
    if c.hotspots is not None and len(c.hotspots):
        maps.draw_lines(ax, c.hotspots.geometry.values, color="#08306b", linewidth=1.0 * ctx.scale, zorder=6,
                        linestyle=(0, (3, 1.5)))
        spots = c.hotspots.assign(label=c.hotspots["cluster_id"].astype(str) if "cluster_id" in c.hotspots
                                  else [str(i + 1) for i in range(len(c.hotspots))])
        _finish_map(ax, ctx, _bounds(c.grids))
        maps.label_areas(ax, spots, "label", fontsize=ctx.fs(8), color="#08306b")
    else:
        _finish_map(ax, ctx, _bounds(c.grids))
    bar = fig.add_axes((0.665, 0.2, 0.29, 0.014))
    cb = fig.colorbar(image, cax=bar, orientation="horizontal")
    cb.ax.tick_params(labelsize=ctx.fs(6.5))
    cb.set_label("需求密度（需求指数 / 平方公里）", fontsize=ctx.fs(7.5))
    maps.add_legend(ax, [("需求集中区（Gi* 热点）", {"kind": "line", "color": "#08306b", "style": "--"})],
                    fontsize=ctx.fs(7.5), loc="upper left")
    h = c.heatmap
    lines = [(f"核密度：{h.kernel} 核，带宽 {h.bandwidth:,.0f} 米，像元 {h.cell_size:,.0f} 米；"
              f"总需求 {h.total_weight:,.0f}。")]
    if c.hotspots is not None and len(c.hotspots):
        table = c.hotspots.sort_values("demand", ascending=False).head(14)
        _draw_table(fig, ctx, (0.655, 0.32, 0.315, 0.58), table,
                    [("cluster_id", "编号", "int"), ("name", "需求集中区", "text"), ("grids", "网格", "int"),
                     ("demand", "需求", "int"), ("density", "密度/km²", "int")], fontsize=7.5)
        lines.append("需求集中区为需求密度 Getis-Ord Gi* 显著偏高（z > 1.96）且相邻的网格，按所含社区命名。")
    else:
        lines.append("未发现显著的需求集中区。")
    _text_block(fig, ctx, 0.66, 0.15, lines, fontsize=8.5, width=0.31)


def _need_types(fig, ctx, number, page):
    c = ctx.content
    types = c.need_types.sort_values("share", ascending=False)
    _draw_table(fig, ctx, (0.03, 0.52, 0.94, 0.38), types,
                [("name", "需求类型", "text"), ("elderly", "老年人数", "int"), ("share", "占比", "pct"),
                 ("mean_age", "平均年龄", "f1"), ("demand_per_person", "人均需求", "f2"),
                 ("dominant", "突出需求", "text"), ("primary_service", "首要服务", "text")],
                fontsize=8.5, title="老年人需求类型（按需求特征聚类）")
    ax = fig.add_axes((0.1, 0.15, 0.5, 0.3))
    mix_cols = [f"mix_{s}" for s in SERVICE_LABELS if f"mix_{s}" in types]
    left = np.zeros(len(types))
    y = np.arange(len(types))[::-1]
    palette = ["#8dd3c7", "#fdb462", "#fb8072", "#80b1d3", "#b3de69"]
    for i, col in enumerate(mix_cols):
        values = types[col].to_numpy(dtype=float) * 100
        ax.barh(y, values, left=left, color=palette[i % len(palette)], label=SERVICE_LABELS[col[4:]],
                edgecolor="white", linewidth=0.4)
        left += values
    ax.set_yticks(y, types["name"], fontsize=ctx.fs(8))
    ax.set_xlim(0, 100)
    ax.set_xlabel("服务包构成（%）")
    ax.set_title("各类型的推荐服务组合", fontsize=ctx.fs(9.5))
    ax.legend(fontsize=ctx.fs(7), frameon=False, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    ax.spines[["top", "right"]].set_visible(False)
    lines = [("每名60岁以上老人按高龄、独居、半失能、失能、低收入、慢性病六项特征（按需求权重缩放）聚类，"
              "类型数由轮廓系数在各类不少于 5% 的前提下选定。"),
             "每类需求对应五类服务包的比例，网格的推荐服务组合为其老人需求按类型加权之和。"]
    _text_block(fig, ctx, 0.66, 0.43, lines, fontsize=8.5, width=0.31)


def _coverage_map(fig, ctx, number, page):
    c = ctx.content
    ax = _map_axes(fig)
    gaps = c.grids["gaps"].fillna(0).astype(int).clip(0, len(_GAP_COLOURS) - 1)
    fill = np.asarray(_GAP_COLOURS, dtype=object)[gaps.to_numpy()]
    _base(ax, ctx, grid_fill=fill, grid_edge="#ffffff", grid_width=0.12, roads=False)
    entries = [(f"缺 {i} 类" if i else "五类齐全", _GAP_COLOURS[i]) for i in range(len(c.care_kinds) + 1)]
    facilities = c.facilities
    if facilities is not None:
        for kind in c.care_kinds:
            marker, colour = _KIND_STYLE.get(kind, ("o", "#555555"))
            part = facilities[facilities["kind"] == kind]
            maps.draw_points(ax, part.geometry.values, marker=marker, size=9 * ctx.scale ** 2, color=colour,
                             edgecolor="white", linewidth=0.3)
            entries.append((FACILITY_KIND_LABELS.get(kind, kind), {"kind": "marker", "marker": marker,
                                                                   "color": colour, "size": 5}))
    _finish_map(ax, ctx, _bounds(c.grids))
    maps.add_legend(ax, entries, title="15分钟步行圈内缺少的养老服务", fontsize=ctx.fs(7), ncol=2)
    table = underserved_by_kind(c)
    below = _draw_table(fig, ctx, (0.655, 0.5, 0.315, 0.4), table,
                [("kind_label", "设施类型", "text"), ("underserved", "缺口网格", "int"),
                 ("beyond_radius", "圈外", "int"), ("over_capacity", "超负荷", "int"),
                 ("unmet_share", "未满足", "pct")], fontsize=7.5, title="各类设施的服务缺口")
    method = "沿道路网" if c.coverage_method == "network" else "直线"
    radius = table["radius_m"].iloc[0] if len(table) else 1000
    lines = [f"网格以老年人居住重心为中心，{method}距离 {radius:,.0f} 米内有该类设施即为覆盖。",
             ("缺口网格：圈外（步行范围内没有该类设施）或所分配设施超负荷（按比例分摊）的网格；"
              "未满足：未满足需求占该类总需求的比例。")]
    worst = table.sort_values("unmet_share", ascending=False).head(2)
    for row in worst.itertuples():
        lines.append(f"{row.kind_label}缺口最大的网格：{row.worst}。")
    _text_block(fig, ctx, 0.66, below - 0.03, lines, fontsize=8.5, width=0.31)


def _coverage_rates(fig, ctx, number, page):
    c = ctx.content
    level = "district" if c.district is None else "subdistrict"
    rates = coverage_by_area(c, level)
    kinds = [k for k in rates.columns if k != "name"]
    _draw_table(fig, ctx, (0.03, 0.55, 0.94, 0.35), rates, [("name", LEVEL_LABELS[level], "text")]
                + [(k, k, "pct") for k in kinds], fontsize=8.5, total_last=True,
                title=f"各{LEVEL_LABELS[level]}15分钟步行圈需求覆盖率")
    body = rates[rates["name"] != "合计"]
    ax = fig.add_axes((0.08, 0.1, 0.86, 0.36))
    width = 0.8 / max(len(body), 1)
    for i, row in enumerate(body.itertuples(index=False)):
        values = [getattr(row, k) * 100 if isinstance(getattr(row, k), float) else 0 for k in kinds]
        ax.bar(np.arange(len(kinds)) + (i - (len(body) - 1) / 2) * width, values, width=width,
               color=CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)], label=row.name, edgecolor="white")
    ax.set_xticks(np.arange(len(kinds)), kinds, fontsize=ctx.fs(8.5))
    ax.set_ylim(0, 100)
    ax.set_ylabel("覆盖的需求（%）")
    ax.legend(fontsize=ctx.fs(7.5), frameon=False, ncol=min(len(body), 6))
    ax.spines[["top", "right"]].set_visible(False)


def _site_rows(c):
    plan = c.plan
    new = plan.sites[plan.sites["is_new"].astype(bool)].copy()
    served = plan.grids.merge(c.grids[["grid_code", "grid_name", "community"]], on="grid_code", how="left")
    lists = served.sort_values("demand", ascending=False).groupby("site_id")
    new["served_communities"] = new["site_id"].map(
        lists["community"].agg(lambda s: "、".join(dict.fromkeys(s.dropna().astype(str))))).fillna("")
    new["served_grids"] = new["site_id"].map(lists["grid_name"].agg(lambda s: "、".join(s.astype(str).head(3))))
    new["utilisation"] = np.where(new["capacity"] > 0, new["load"] / new["capacity"], np.nan)
    return new.sort_values("demand_gained", ascending=False)


def _plan_sites(fig, ctx, number, page):
    c = ctx.content
    plan = c.plan
    kind = str(plan.summary.get("kind") or (plan.sites["kind"].iloc[0] if len(plan.sites) else ""))
    label = FACILITY_KIND_LABELS.get(kind, kind)
    ax = _map_axes(fig)
    new_ids = set(plan.sites.loc[plan.sites["is_new"].astype(bool), "site_id"])
    to_new = c.grids["site_id"].isin(new_ids) if "site_id" in c.grids else np.zeros(len(c.grids), bool)
    fill = np.where(to_new, "#fcbba1", _GREY).astype(object)
    _base(ax, ctx, grid_fill=fill, grid_edge="#ffffff", grid_width=0.12, roads=False)
    grids = plan.grids[plan.grids["site_id"].isin(new_ids)]
    sites = plan.sites.set_index("site_id")
    if len(grids):
        ends = sites.geometry.reindex(grids["site_id"].to_numpy())
        segments = np.stack([grids[["centre_x", "centre_y"]].to_numpy(dtype=float),
                             np.column_stack([ends.x.to_numpy(), ends.y.to_numpy()])], axis=1)
        maps.draw_lines(ax, shapely.linestrings(segments), color="#cb181d", linewidth=0.35 * ctx.scale,
                        zorder=5, alpha=0.7)
    existing = plan.sites[~plan.sites["is_new"].astype(bool)]
    maps.draw_points(ax, existing.geometry.values, marker="o", size=14 * ctx.scale ** 2, color="#1f78b4")
    new = _site_rows(c)
    maps.draw_points(ax, new.geometry.values, marker="*", size=110 * ctx.scale ** 2, color="#cb181d",
                     edgecolor="white", linewidth=0.6, zorder=7)
    _finish_map(ax, ctx, _bounds(c.grids))
    maps.label_points(ax, new.geometry.values, [f"新{i + 1}" for i in range(len(new))], fontsize=ctx.fs(8),
                      color="#99000d")
    maps.add_legend(ax, [(f"现有{label}", {"kind": "marker", "marker": "o", "color": "#1f78b4", "size": 5}),
                         (f"推荐新增{label}", {"kind": "marker", "marker": "*", "color": "#cb181d", "size": 10}),
                         ("由新站点服务的网格", "#fcbba1"),
                         ("服务关系（网格中心→站点）", {"kind": "line", "color": "#cb181d", "width": 0.8})],
                    fontsize=ctx.fs(7.5), title=f"{label}选址建议")
    table = new.assign(no=[f"新{i + 1}" for i in range(len(new))])
    below = _draw_table(fig, ctx, (0.655, 0.52, 0.315, 0.38), table,
                [("no", "编号", "text"), ("name", "推荐站点", "text"), ("grids_served", "服务网格", "int"),
                 ("demand_gained", "新增服务需求", "int"), ("load", "所需容量", "f1")], fontsize=7.5)
    s = plan.summary
    lines = []
    if s:
        lines.append(f"模型：{s.get('model', '')}（{s.get('status', '')}），新增 {s.get('new_sites', len(new))} 处，"
                     f"步行半径 {float(s.get('radius_m', 1000)):,.0f} 米。")
        if s.get("covered_share_before") is not None:
            lines.append(f"15分钟步行圈覆盖的需求：{s['covered_share_before']:.1%} → {s['covered_share_after']:.1%}。")
        if s.get("mean_distance_before_m") is not None:
            lines.append(f"需求加权平均距离：{s['mean_distance_before_m']:,.0f} 米 → "
                         f"{s['mean_distance_after_m']:,.0f} 米。")
    for row in table.head(5).itertuples():
        communities = str(row.served_communities).split("、") if row.served_communities else []
        listed = "、".join(communities[:3]) + (f"等 {len(communities)} 个社区" if len(communities) > 3 else "")
        lines.append(f"{row.no} {row.name}：服务 {row.grids_served} 个网格，涉及 {listed or '—'}。")
    if plan.computed:
        lines.append("选址结果为报告生成时按默认参数即时计算，正式决策请用 gridmap care allocate 设定参数。")
    _text_block(fig, ctx, 0.66, below - 0.03, lines, fontsize=8, width=0.31)


def _facility_load(fig, ctx, number, page):
    c = ctx.content
    load = c.facility_load
    load = load[load["kind"].isin(CARE_KINDS) & (pd.to_numeric(load["capacity"], errors="coerce") > 0)].copy()
    load["utilisation"] = load["load"] / load["capacity"]
    by_kind = load.groupby("kind").agg(facilities=("facility_id", "size"), capacity=("capacity", "sum"),
                                       load=("load", "sum"), over=("over_capacity", "sum"),
                                       mean_use=("utilisation", "mean")).reset_index()
    by_kind["kind_label"] = by_kind["kind"].map(FACILITY_KIND_LABELS).fillna(by_kind["kind"])
    by_kind["rate"] = by_kind["load"] / by_kind["capacity"]
    _draw_table(fig, ctx, (0.03, 0.62, 0.58, 0.28), by_kind,
                [("kind_label", "设施类型", "text"), ("facilities", "设施数", "int"), ("capacity", "总容量", "int"),
                 ("load", "测算负荷", "int"), ("rate", "总负荷率", "pct"), ("over", "超负荷设施", "int")],
                fontsize=8.5, title="设施负荷与容量")
    lines = ["负荷 = 分配到该设施的网格需求 × 使用率（每单位需求所需床位、托位或餐数）；负荷率超过 100% 即超负荷。"]
    _text_block(fig, ctx, 0.03, 0.58, lines, fontsize=8.5, width=0.5)
    top = load.sort_values("utilisation", ascending=False).head(25).iloc[::-1]
    ax = fig.add_axes((0.76, 0.08, 0.21, 0.8))
    colours = np.where(top["utilisation"] > 1, "#cb181d", "#6baed6")
    ax.barh(np.arange(len(top)), top["utilisation"] * 100, color=colours)
    ax.axvline(100, color="#333333", linewidth=0.8, linestyle="--")
    ax.set_yticks(np.arange(len(top)), [_clip(n, 11) for n in top["name"]], fontsize=ctx.fs(7))
    ax.set_xlabel("负荷率（%）")
    ax.set_title("负荷率最高的 25 处设施", fontsize=ctx.fs(9.5))
    ax.spines[["top", "right"]].set_visible(False)
    over = load[load["over_capacity"].astype(bool)].sort_values("utilisation", ascending=False).head(14)
    if len(over):
        over = over.assign(kind_label=over["kind"].map(FACILITY_KIND_LABELS).fillna(over["kind"]))
        _draw_table(fig, ctx, (0.03, 0.07, 0.58, 0.44), over,
                    [("name", "超负荷设施", "text"), ("kind_label", "类型", "text"), ("capacity", "容量", "int"),
                     ("load", "负荷", "f1"), ("utilisation", "负荷率", "pct"), ("grids_served", "服务网格", "int")],
                    fontsize=7.5)


def _mix_map(fig, ctx, number, page):
    c = ctx.content
    mix = community_service_mix(c)
    services = list(SERVICE_LABELS)
    shares = mix[[f"mix_{s}" for s in services]].to_numpy(dtype=float)
    city = np.nansum(mix[[f"demand_{s}" for s in services]].to_numpy(dtype=float), axis=0) if \
        f"demand_{services[0]}" in mix else np.nanmean(shares, axis=0) * 1.0
    city = city / city.sum() if city.sum() > 0 else np.full(len(services), 1 / len(services))
    lift = shares / city
    emphasis = np.array([SERVICE_LABELS[services[i]] for i in np.nanargmax(np.nan_to_num(lift, nan=-1), axis=1)],
                        dtype=object)
    areas = c.areas["community"].merge(mix[["community_code"]].assign(emphasis=emphasis),
                                       left_on="code", right_on="community_code", how="left")
    palette = {label: colour for label, colour in zip(SERVICE_LABELS.values(),
                                                      ["#8dd3c7", "#fdb462", "#fb8072", "#80b1d3", "#b3de69"])}
    ax = _map_axes(fig)
    maps.draw_polygons(ax, areas.geometry.values, facecolor=areas["emphasis"].map(palette).fillna(_GREY)
                       .to_numpy(dtype=object), edgecolor="white", linewidth=0.3 * ctx.scale, zorder=1)
    _base(ax, ctx, roads=False)
    _finish_map(ax, ctx, _bounds(c.grids))
    counts = pd.Series(emphasis).value_counts()
    maps.add_legend(ax, [(f"{k}（{counts.get(k, 0)} 个社区）", v) for k, v in palette.items()],
                    title="需求比例高于全市平均最多的服务", fontsize=ctx.fs(7.5))
    city_table = pd.DataFrame({"service": list(SERVICE_LABELS.values()), "share": city})
    below = _draw_table(fig, ctx, (0.655, 0.66, 0.315, 0.24), city_table,
                [("service", "服务包", "text"), ("share", f"{'全市' if c.district is None else c.district}需求占比",
                                                         "pct")], fontsize=8, title="推荐服务组合（合计）")
    primary = mix["primary_service"].value_counts()
    lines = ["社区的推荐服务组合 = 社区内各网格老人需求按需求类型分配到五类服务包后的占比（见下页起的表）。",
             "首要服务（占比最大）：" + "、".join(f"{k} {v} 个社区" for k, v in primary.items()) + "。",
             ("地图显示各社区相对全市平均比例最突出的服务，用于差异化配置：同为“社区养老”为主的社区，"
              "有的更需要日托，有的更需要助餐或健康服务。")]
    _text_block(fig, ctx, 0.66, below - 0.03, lines, fontsize=8.5, width=0.31)


def _mix_table_page(rows):
    def draw(fig, ctx, number, page):
        mix = community_service_mix(ctx.content).iloc[rows]
        columns = [("community", "社区", "text"), ("subdistrict", "街道", "text"), ("elderly_60", "60岁+", "int")] + \
                  [(f"mix_{s}", label, "pct") for s, label in SERVICE_LABELS.items()] + \
                  [("primary_service", "首要服务", "text")]
        half = math.ceil(len(mix) / 2)
        _draw_table(fig, ctx, (0.03, 0.07, 0.455, 0.83), mix.iloc[:half], columns, fontsize=7)
        if len(mix) > half:
            _draw_table(fig, ctx, (0.515, 0.07, 0.455, 0.83), mix.iloc[half:], columns, fontsize=7)
    return draw


def _audit_page(name):
    def draw(fig, ctx, number, page):
        label, table = ctx.content.audit[name]
        numeric = [c for c in table.columns if c != "district"]
        columns = [("district", "区", "text")]
        for column in numeric[:11]:
            whole = column == "count" or column.startswith("status_") or column.endswith("months")
            columns.append((column, AUDIT_LABELS.get(column, column.removeprefix("status_")),
                            "int" if whole else "f1"))
        below = _draw_table(fig, ctx, (0.03, 0.5, 0.94, 0.4), table, columns, fontsize=8.5, total_last=True,
                            title=f"{label}：各区发现数与金额")
        lines = ["核查结果仅列各区的数量与金额，个人明细（已脱敏）见 Excel 工作簿的审计名单。",
                 "核查结果需网格员逐条核实后方可作为处理依据。"]
        _text_block(fig, ctx, 0.03, below - 0.03, lines, fontsize=9, width=0.9)
        body = table[table["district"] != "合计"]
        amounts = [c for c in numeric if c != "count" and not c.startswith("status_") and not c.endswith("months")]
        charts = [("count", "发现数")] + [(amounts[0], AUDIT_LABELS.get(amounts[0], amounts[0]))] if amounts else \
            [("count", "发现数")]
        for i, (column, title) in enumerate(charts):
            ax = fig.add_axes((0.07 + i * 0.48, 0.1, 0.4, min(below - 0.22, 0.3)))
            ax.bar(np.arange(len(body)), body[column].to_numpy(dtype=float), color="#6baed6" if i == 0 else "#fd8d3c")
            ax.set_xticks(np.arange(len(body)), body["district"], fontsize=ctx.fs(8))
            ax.set_title(title, fontsize=ctx.fs(9.5))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
            ax.spines[["top", "right"]].set_visible(False)
    return draw


_CHILD = {"district": "subdistrict", "subdistrict": "community", "community": "grid"}


def _atlas_page(unit_index):
    def draw(fig, ctx, number, page):
        c = ctx.content
        units = c.atlas_units()
        unit = units.iloc[unit_index]
        level = c.atlas_by
        inside = (c.grids[f"{level}_code"] == unit["code"]).to_numpy()
        if "demand_index" in c.grids:
            colours, legend, title = *ctx.demand_style(), "需求指数 / 设施"
        else:
            colours, legend, title = "#c6dbef", [("网格", "#c6dbef")], "网格 / 设施"
        fill = np.where(inside, colours, "#f4f4f4").astype(object)
        edge = np.where(inside, "#ffffff", "#e0e0e0").astype(object)
        ax = _map_axes(fig, (0.03, 0.065, 0.56, 0.845))
        maps.draw_polygons(ax, None, paths=ctx.grid_paths(), facecolor=fill, edgecolor=edge,
                           linewidth=0.2 * ctx.scale, zorder=1)
        _base(ax, ctx, roads=True, level_lines=False)
        child = _CHILD[level]
        if child != "grid":
            maps.draw_lines(ax, c.areas[child].geometry.values, color="#7a7a7a", linewidth=0.55 * ctx.scale,
                            zorder=3)
        maps.draw_lines(ax, [unit.geometry], color="#08306b", linewidth=1.8 * ctx.scale, zorder=4)
        bounds = shapely.bounds(unit.geometry)
        if c.facilities is not None:
            for kind in c.care_kinds:
                marker, colour = _KIND_STYLE.get(kind, ("o", "#555555"))
                part = c.facilities[c.facilities["kind"] == kind]
                maps.draw_points(ax, part.geometry.values, marker=marker, size=16 * ctx.scale ** 2, color=colour,
                                 edgecolor="white", linewidth=0.4)
        if c.plan is not None:
            new = c.plan.sites[c.plan.sites["is_new"].astype(bool)]
            maps.draw_points(ax, new.geometry.values, marker="*", size=120 * ctx.scale ** 2, color="#cb181d",
                             edgecolor="white", linewidth=0.6, zorder=7)
        _finish_map(ax, ctx, bounds, pad=0.05, north=(0.95, 0.1))
        if child != "grid":
            maps.label_areas(ax, c.areas[child], fontsize=ctx.fs(8))
        entries = list(legend)
        if c.facilities is not None:
            entries += [(FACILITY_KIND_LABELS.get(k, k), {"kind": "marker", "marker": _KIND_STYLE[k][0],
                                                          "color": _KIND_STYLE[k][1], "size": 5})
                        for k in c.care_kinds if k in _KIND_STYLE]
        if c.plan is not None:
            entries.append(("推荐新增站点", {"kind": "marker", "marker": "*", "color": "#cb181d", "size": 9}))
        maps.add_legend(ax, entries, title=title, fontsize=ctx.fs(7), loc="upper left")
        _locator(fig, ctx, unit.geometry)
        table = area_kpis(c, child, within=inside)
        columns = [("name", LEVEL_LABELS[child], "text"), ("grids", "网格", "int"),
                   ("population", "人口", "int"), ("elderly_60", "60岁+", "int"), ("ageing_rate", "老龄化", "pct"),
                   ("demand_index", "需求", "int"), ("coverage_rate", "覆盖率", "pct")]
        if child == "grid":
            columns.pop(1)
        columns = [col for col in columns if col[0] in table]
        fits = _rows_fitting(ctx, 0.56, fontsize=7.5, title=True) - 1
        body, total = table.iloc[:-1], table.iloc[[-1]]
        note = ""
        if len(body) > fits:
            note = f"另有 {len(body) - fits + 1} 个{LEVEL_LABELS[child]}未列出（按需求排序），完整数据见 Excel。"
            body = body.sort_values("demand_index", ascending=False).head(fits - 1)
        below = _draw_table(fig, ctx, (0.61, 0.3, 0.36, 0.6), pd.concat([body, total], ignore_index=True), columns,
                    fontsize=7.5, total_last=True, title=f"{unit['name']} 分{LEVEL_LABELS[child]}指标")
        g = c.grids[inside]
        lines = [(f"{unit['name']}：{len(g):,} 个网格，常住人口 {g['population'].sum():,.0f} 人，"
                  f"60岁以上 {g['elderly_60'].sum():,.0f} 人。")] if "population" in g else []
        if "gaps" in g and len(g):
            worst = g.sort_values(["gaps", "demand_index"], ascending=False).head(3)
            lines.append("服务缺口较大的网格：" + "、".join(worst["grid_name"].astype(str)) + "。")
        if note:
            lines.append(note)
        y = _text_block(fig, ctx, 0.61, below - 0.025, lines, fontsize=8, width=0.36)
        _unit_coverage(fig, ctx, inside, (0.7, 0.1, 0.26, min(y - 0.17, 0.28)))
    return draw


def _unit_coverage(fig, ctx, inside, rect):
    """Bars of the share of demand within walking distance, this area against the whole scope."""
    c = ctx.content
    if c.coverage is None or not c.care_kinds or rect[3] < 0.1:
        return
    cov = c.coverage[c.coverage["kind"].isin(c.care_kinds)]
    codes = set(c.grids.loc[inside, "grid_code"])
    covered = cov.assign(hit=np.where(cov["covered"].astype(bool), cov["demand"], 0.0))
    mine = covered[covered["grid_code"].isin(codes)].groupby("kind")[["hit", "demand"]].sum()
    whole = covered.groupby("kind")[["hit", "demand"]].sum()
    kinds = [k for k in c.care_kinds if k in mine.index]
    if not kinds:
        return
    share = (mine["hit"] / mine["demand"].where(mine["demand"] > 0)).reindex(kinds).fillna(0) * 100
    city = (whole["hit"] / whole["demand"].where(whole["demand"] > 0)).reindex(kinds).fillna(0) * 100
    ax = fig.add_axes(rect)
    y = np.arange(len(kinds))[::-1]
    ax.barh(y, share, color=[_KIND_STYLE.get(k, ("o", "#999999"))[1] for k in kinds], height=0.6)
    ax.scatter(city, y, marker="|", s=160 * ctx.scale ** 2, color="#222222", zorder=3,
               label="全市" if c.district is None else c.district)
    ax.set_yticks(y, [FACILITY_KIND_LABELS.get(k, k) for k in kinds], fontsize=ctx.fs(7.5))
    ax.set_xlim(0, 100)
    ax.set_title("15分钟步行圈覆盖的需求（%）", fontsize=ctx.fs(8.5), loc="left")
    ax.tick_params(axis="x", labelsize=ctx.fs(7))
    ax.legend(fontsize=ctx.fs(7), frameon=False, loc="lower right", handletextpad=0.2,
              bbox_to_anchor=(1.0, 1.0), borderaxespad=0.1)
    ax.spines[["top", "right"]].set_visible(False)


def _locator(fig, ctx, geometry):
    c = ctx.content
    ax = fig.add_axes((0.47, 0.68, 0.115, 0.22))
    ax.set_facecolor("white")
    maps.draw_polygons(ax, c.city_outline.geometry.values, facecolor="#e8e8e8", edgecolor="#999999",
                       linewidth=0.3)
    maps.draw_polygons(ax, [geometry], facecolor="#08306b", edgecolor="#08306b", linewidth=0.3, zorder=2)
    maps.fit_extent(ax, tuple(c.city_outline.total_bounds), pad=0.03)
    for spine in ax.spines.values():
        spine.set_edgecolor("#999999")
        spine.set_linewidth(0.5)


# --------------------------------------------------------------------------- planning


def _chunks(n, size):
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def plan_pages(content, *, paper="a4") -> tuple:
    """Decide the pages and the table of contents of ``content``'s report.

    Returns
    -------
    pages : list of Page
    toc : list of (section title, first page or None, note, [(label, page)])
    """
    size = PAPERS[paper]
    ctx = _Ctx(content=content, size=size, scale=size[0] / PAPERS["a4"][0])
    pages = [Page("cover", "封面", _cover), Page("contents", "目录", _contents)]
    sections = []

    def section(key, entries, note=""):
        title = SECTION_TITLES[key]
        first = len(pages) + 1 if entries else None
        children = []
        for heading, draw, label in entries:
            if label is not None:
                children.append((label, len(pages) + 1))
            pages.append(Page(key, f"{title} · {heading}" if heading else title, draw, label))
        sections.append((title, first, note, children))

    c = content
    section("overview", [("网格分布", _overview, None)])
    level = "district" if c.district is None else "subdistrict"
    kpi = [(f"各{LEVEL_LABELS[level]}指标", _kpi_district, None)]
    if c.district is None:
        n = len(area_kpis(c, "subdistrict"))
        fits = _rows_fitting(ctx, 0.83, fontsize=8.5, title=True)
        kpi += [("各街道指标", _kpi_table_page("subdistrict", rows), None) for rows in _chunks(n, fits)]
    section("kpi", kpi)
    demand = []
    if "demand_index" in c.grids and c.grids["demand_index"].notna().any():
        demand.append(("需求指数", _demand_map, None))
    if c.heatmap is not None:
        demand.append(("需求热力图与集中区", _heatmap_page, None))
    if c.need_types is not None and len(c.need_types):
        demand.append(("需求类型", _need_types, None))
    section("demand", demand, "不可用（见数据与方法说明）" if not demand else "")
    coverage = []
    if c.coverage is not None and c.care_kinds:
        coverage = [("服务缺口", _coverage_map, None), ("分区覆盖率", _coverage_rates, None)]
    section("coverage", coverage, "不可用（见数据与方法说明）" if not coverage else "")
    plan = []
    if c.plan is not None and len(c.plan.sites):
        plan.append(("新增站点", _plan_sites, None))
    if c.facility_load is not None and len(c.facility_load):
        plan.append(("设施负荷", _facility_load, None))
    mix = community_service_mix(c)
    if len(mix):
        plan.append(("社区服务组合", _mix_map, None))
        fits = _rows_fitting(ctx, 0.83, fontsize=7) * 2
        plan += [("社区服务组合（续）", _mix_table_page(rows), None) for rows in _chunks(len(mix), fits)]
    section("plan", plan, "不可用（见数据与方法说明）" if not plan else "")
    audit = [(label, _audit_page(name), label) for name, (label, _) in c.audit.items()]
    section("audit", audit, "暂无核查结果（未运行 gridmap audit）" if not audit else "")
    units = c.atlas_units()
    section("atlas", [(str(name), _atlas_page(i), str(name)) for i, name in enumerate(units["name"])])
    return pages, sections


def write_pdf(content, path, *, paper="a4", progress=None, cancelled=None) -> PdfReport:
    """Write the PDF report of ``content`` (from :func:`gridmap.report.content.gather_content`).

    Parameters
    ----------
    content : ReportContent
    path : str or Path
    paper : {"a4", "a3"}
        Landscape paper size; A3 scales every text and symbol by √2.
    progress : callable(fraction, message), optional
    cancelled : callable() -> bool, optional
        Checked before each page; a cancel removes the partial file and raises
        :class:`~gridmap.report.content.ReportCancelled`.

    Returns
    -------
    PdfReport
    """
    if paper not in PAPERS:
        raise GridMapError(f"paper: expected one of {', '.join(PAPERS)}, got {paper!r}")
    start = time.perf_counter()
    path = Path(path)
    size = PAPERS[paper]
    ctx = _Ctx(content=content, size=size, scale=size[0] / PAPERS["a4"][0])
    ctx.pages, ctx.toc = plan_pages(content, paper=paper)
    metadata = {"Title": content.title, "Subject": f"{content.scope_label}网格化社会治理报告",
                "Creator": "GridMap", "Author": "GridMap", "CreationDate": None}
    tmp = path.with_name(f".{path.name}.part")
    try:
        with matplotlib.rc_context(maps.rc_params(ctx.scale)), PdfPages(tmp, metadata=metadata) as pdf:
            for number, page in enumerate(ctx.pages, start=1):
                if cancelled is not None and cancelled():
                    raise ReportCancelled("报告生成已取消")
                if progress is not None:
                    progress((number - 1) / len(ctx.pages), f"PDF 第 {number} 页：{page.heading}")
                # A bare Figure, not pyplot: no global figure registry, no backend switch
                # inside the desktop app.
                fig = Figure(figsize=size)
                page.draw(fig, ctx, number, page)
                if page.section != "cover":
                    _frame(fig, ctx, number, page)
                pdf.savefig(fig)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if progress is not None:
        progress(1.0, "PDF 完成")
    return PdfReport(path=path, pages=[(SECTION_TITLES.get(p.section, p.heading), p.heading) for p in ctx.pages],
                     sections=ctx.toc, seconds=time.perf_counter() - start)
