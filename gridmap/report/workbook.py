"""The Excel workbook of a report: per-grid table, area summaries, facility loads, lists (issue 7).

One sheet per table, Chinese headers, the header row frozen and filtered, column
widths fitted to the text (CJK counted double, as :mod:`gridmap.report.excel` does),
and number formats by column (thousands separators, one decimal for demand,
percentages for shares and rates). Every sheet exists even when its analysis is not
available; it then holds one line saying so, so a reader never wonders whether a
sheet went missing.

Personal data: the review and audit lists arrive masked from
:func:`gridmap.report.content.gather_content`, and every sheet passes through
:func:`gridmap.report.content.scrub_id_numbers` once more before it is written.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from gridmap.report.content import (
    AUDIT_LABELS,
    CARE_KINDS,
    LABELS,
    SERVICE_LABELS,
    area_kpis,
    audit_label,
    community_service_mix,
    coverage_by_area,
    scrub_id_numbers,
)
from gridmap.report.excel import _display_width, finish_workbook, pin_properties
from gridmap.schema import FACILITY_KIND_LABELS

__all__ = ["SHEETS", "number_format", "workbook_sheets", "write_workbook"]

#: The sheets every report workbook has, in order (audit lists are added after them).
SHEETS = (
    "说明",
    "网格明细",
    "社区汇总",
    "街道汇总",
    "区汇总",
    "分区覆盖率",
    "服务缺口",
    "设施负荷",
    "新增站点",
    "需求类型",
    "社区服务组合",
    "地址核查",
    "审计汇总",
)

_INT = "#,##0"
_DEC1 = "#,##0.0"
_DEC2 = "#,##0.00"
_PCT = "0.0%"

_INT_COLUMNS = {"grids", "communities", "households", "population", "elderly_60", "elderly_80", "living_alone",
                "semi_disabled", "disabled", "low_income", "chronic_illness", "care_facilities", "gaps", "elderly",
                "grids_served", "elderly_served", "count", "distance_m", "site_distance_m", "radius_m"}
_DEC1_COLUMNS = {"demand_index", "demand", "unmet_demand", "demand_served", "demand_gained", "load", "capacity",
                 "mean_age"}
_PCT_HINTS = ("mix_", "rate", "share", "utilisation", "覆盖", "占比")


def number_format(column, values=None) -> str | None:
    """Excel number format for a report column (English name or Chinese header), or None.

    Examples
    --------
    >>> number_format("population"), number_format("mix_meals"), number_format("grid_code")
    ('#,##0', '0.0%', None)
    """
    name = str(column)
    if name.startswith("dist_"):
        return _INT
    if name in _INT_COLUMNS or name.startswith("status_"):
        return _INT
    if name in _DEC1_COLUMNS or name.startswith("demand_"):
        return _DEC1
    if any(hint in name for hint in _PCT_HINTS):
        return _PCT
    if values is not None and pd.api.types.is_float_dtype(values):
        return _DEC2
    if values is not None and pd.api.types.is_integer_dtype(values):
        return _INT
    return None


def _note(text):
    return pd.DataFrame({"说明": [text]})


def _grid_sheet(content):
    g = pd.DataFrame(content.grids.drop(columns="geometry"))
    if {"elderly_60", "population"} <= set(g.columns):
        with np.errstate(invalid="ignore", divide="ignore"):
            g["ageing_rate"] = g["elderly_60"] / g["population"].replace(0, np.nan)
    if content.coverage is not None:
        distance = content.coverage.pivot_table(index="grid_code", columns="kind", values="distance_m",
                                                aggfunc="first")
        for kind in CARE_KINDS:
            if kind in distance:
                g[f"dist_{kind}"] = g["grid_code"].map(distance[kind])
    columns = ["grid_code", "grid_name", "community", "subdistrict", "district", "households", "population",
               "elderly_60", "elderly_80", "ageing_rate", "demand_index", "living_alone", "semi_disabled",
               "disabled", "low_income", "chronic_illness", "gaps", "unmet_demand",
               *[f"dist_{k}" for k in CARE_KINDS], *[f"mix_{s}" for s in SERVICE_LABELS], "primary_service",
               "driving_types", "site_name", "site_distance_m"]
    return g[[c for c in columns if c in g]]


def _kpi_sheet(content, level):
    table = area_kpis(content, level)
    if level != "district":
        parents = ["district"] if level == "subdistrict" else ["subdistrict", "district"]
        lookup = content.grids.drop_duplicates(f"{level}_code").set_index(f"{level}_code")[parents]
        for i, parent in enumerate(parents):
            table.insert(2 + i, parent, table["code"].map(lookup[parent]).fillna(""))
    return table


def _load_sheet(content):
    if content.facility_load is None:
        return _note("设施负荷不可用：项目中没有设施覆盖分析结果，且无法即时计算。")
    load = content.facility_load.copy()
    load["kind_label"] = load["kind"].map(FACILITY_KIND_LABELS).fillna(load.get("kind_label", load["kind"]))
    columns = ["facility_id", "name", "kind_label", "grid_code", "capacity", "grids_served", "elderly_served",
               "demand_served", "load", "utilisation", "over_capacity"]
    load = load[[c for c in columns if c in load]]
    return load.sort_values(["kind_label", "facility_id"], ignore_index=True)


def _sites_sheet(content):
    if content.plan is None:
        return _note("；".join(content.notes.get("plan", ["新增站点建议不可用。"])))
    plan = content.plan
    sites = pd.DataFrame(plan.sites.drop(columns="geometry")).copy()
    served = plan.grids.merge(content.grids[["grid_code", "grid_name", "community"]], on="grid_code", how="left")
    by_site = served.sort_values("demand", ascending=False).groupby("site_id")
    sites["served_grids"] = sites["site_id"].map(by_site["grid_name"].agg(lambda s: "、".join(s.astype(str))))
    sites["served_communities"] = sites["site_id"].map(
        by_site["community"].agg(lambda s: "、".join(dict.fromkeys(s.dropna().astype(str)))))
    sites["kind_label"] = sites["kind"].map(FACILITY_KIND_LABELS).fillna(sites["kind"])
    sites["is_new"] = np.where(sites["is_new"].astype(bool), "新增", "现有")
    with np.errstate(invalid="ignore", divide="ignore"):
        sites["utilisation"] = sites["load"] / sites["capacity"].replace(0, np.nan)
    columns = ["site_id", "name", "kind_label", "is_new", "capacity", "load", "utilisation", "demand_served",
               "demand_gained", "grids_served", "served_communities", "served_grids"]
    sites = sites[[c for c in columns if c in sites]]
    return sites.sort_values(["is_new", "demand_gained"], ascending=[False, False], ignore_index=True)


def _underserved_sheet(content):
    if content.coverage is None:
        return _note("服务缺口不可用：项目中没有设施覆盖分析结果。")
    cov = content.coverage
    rows = cov[cov["unmet_demand"] > 0].copy()
    rows["kind_label"] = rows["kind"].map(FACILITY_KIND_LABELS).fillna(rows["kind"])
    within = rows["covered"].astype(bool)
    rows["reason"] = np.where(within, "所分配设施超负荷", "步行范围内没有该类设施")
    rows = rows.merge(content.grids[["grid_code", "subdistrict", "district"]], on="grid_code", how="left")
    columns = ["grid_code", "grid_name", "community", "subdistrict", "district", "kind_label", "elderly", "demand",
               "unmet_demand", "facility_name", "distance_m", "reason"]
    rows = rows.rename(columns={"facility_name": "site_name"})
    columns = [("site_name" if c == "facility_name" else c) for c in columns]
    return rows[[c for c in columns if c in rows]].sort_values(["kind_label", "unmet_demand"],
                                                               ascending=[True, False], ignore_index=True)


def _about_sheet(content, sheets):
    lines = [
        ("标题", content.title),
        ("范围", content.scope_label),
        ("数据日期", content.data_date),
        ("生成日期", content.generated),
        ("数据说明", content.note or ""),
        ("合成数据", "是（演示数据，不含真实个人信息）" if content.synthetic else "否"),
        ("个人信息", "姓名仅保留姓氏（王*），身份证号仅保留前 6 位和后 4 位；出生日期、电话、精确坐标不导出。"),
        ("即时计算", "、".join(content.computed) if content.computed else "无（全部使用项目中保存的分析结果）"),
    ]
    for key in ("demand", "clusters", "heatmap", "coverage", "plan", "audit"):
        for text in content.notes.get(key, []):
            lines.append(("说明", text))
    lines += [("工作表", f"{name}：{len(frame):,} 行") for name, frame in sheets.items()]
    return pd.DataFrame(lines, columns=["项目", "内容"])


def workbook_sheets(content) -> dict:
    """The workbook's sheets as DataFrames with English column names (sheet name -> frame)."""
    sheets = {"网格明细": _grid_sheet(content)}
    sheets["社区汇总"] = _kpi_sheet(content, "community")
    sheets["街道汇总"] = _kpi_sheet(content, "subdistrict")
    sheets["区汇总"] = _kpi_sheet(content, "district")
    rates = coverage_by_area(content, "district")
    sheets["分区覆盖率"] = rates if len(rates) else _note("覆盖率不可用：项目中没有设施覆盖分析结果。")
    sheets["服务缺口"] = _underserved_sheet(content)
    sheets["设施负荷"] = _load_sheet(content)
    sheets["新增站点"] = _sites_sheet(content)
    if content.need_types is not None:
        types = content.need_types.drop(columns=[c for c in content.need_types if c.startswith("p_")])
        sheets["需求类型"] = types
    else:
        sheets["需求类型"] = _note("需求类型不可用：项目中没有需求聚类结果。")
    mix = community_service_mix(content)
    sheets["社区服务组合"] = mix if len(mix) else _note("社区服务组合不可用：项目中没有需求类型结果。")
    sheets["地址核查"] = content.review if content.review is not None else _note("项目中没有地址核查名单。")
    if content.audit:
        summary = [table.assign(check=label)[["check", *table.columns]]
                   for label, table in content.audit.values()]
        sheets["审计汇总"] = pd.concat(summary, ignore_index=True)
    else:
        sheets["审计汇总"] = _note("；".join(content.notes.get("audit", ["项目中暂无核查结果。"])))
    for name, frame in content.audit_lists.items():
        sheets[_sheet_name(f"审计_{audit_label(name)}", sheets)] = frame
    return {"说明": _about_sheet(content, sheets), **sheets}


def _sheet_name(name, existing):
    name = "".join(ch for ch in name if ch not in "[]:*?/\\")[:31]
    base, i = name, 2
    while name in existing:
        name = f"{base[:28]}_{i}"
        i += 1
    return name


_EXTRA_LABELS = {
    "check": "核查项",
    "served_grids": "服务网格",
    "parent": "所属区",
    "source": "来源",
    "record_id": "记录编号",
    "address": "地址",
    "matched_address": "匹配地址",
    "match_level": "匹配级别",
    "confidence": "置信度",
    "placed": "已入格",
    "review_reason": "核查原因",
    "id_number": "身份证号（脱敏）",
    **AUDIT_LABELS,
    **{f"dist_{k}": f"到{label}距离(米)" for k, label in FACILITY_KIND_LABELS.items()},
}


def _header(column, sheet):
    if column == "name" and (sheet == "地址核查" or sheet.startswith("审计_")):
        return "姓名（脱敏）"
    return _EXTRA_LABELS.get(column) or LABELS.get(column) or str(column)


def write_workbook(content, path, *, pinned_time=None) -> dict:
    """Write the report workbook of ``content`` to ``path``.

    Parameters
    ----------
    content : ReportContent
    path : str or Path
    pinned_time : datetime, optional
        Fix the document and zip timestamps (byte-reproducible output).

    Returns
    -------
    dict
        Sheet name -> number of data rows.
    """
    sheets = workbook_sheets(content)
    buffer = io.BytesIO()
    header_font = Font(bold=True, color="1F4E79")
    header_fill = PatternFill("solid", fgColor="DDE6F0")
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame = scrub_id_numbers(frame.reset_index(drop=True))
            formats = [number_format(c, frame[c]) for c in frame.columns]
            if name == "分区覆盖率":  # one column per facility kind, all rates
                formats = [_PCT if pd.api.types.is_float_dtype(frame[c]) else f for c, f in
                           zip(frame.columns, formats)]
            headers = [_header(c, name) for c in frame.columns]
            frame.columns = _unique(headers)
            frame.to_excel(writer, sheet_name=name, index=False)
            sheet = writer.sheets[name]
            sheet.freeze_panes = "C2" if name == "网格明细" else "A2"
            if len(frame):
                sheet.auto_filter.ref = sheet.dimensions
            for i, (column, fmt) in enumerate(zip(frame.columns, formats), start=1):
                letter = get_column_letter(i)
                head = sheet.cell(row=1, column=i)
                head.font = header_font
                head.fill = header_fill
                head.alignment = Alignment(vertical="center", wrap_text=True)
                sample = frame[column].head(200)
                shown = sample.map(lambda v: f"{v:,.1f}" if isinstance(v, float) else v)
                width = max([_display_width(column), *map(_display_width, shown.tolist())]) + 2
                sheet.column_dimensions[letter].width = min(max(width, 6), 60 if name == "说明" else 40)
                if fmt is not None:
                    for (cell,) in sheet.iter_rows(min_row=2, max_row=len(frame) + 1, min_col=i, max_col=i):
                        cell.number_format = fmt
        pin_properties(writer.book, pinned_time)
    finish_workbook(buffer, path, pinned_time)
    return {name: len(frame) for name, frame in sheets.items()}


def _unique(headers):
    seen, out = {}, []
    for h in headers:
        seen[h] = seen.get(h, 0) + 1
        out.append(h if seen[h] == 1 else f"{h}_{seen[h]}")
    return out
