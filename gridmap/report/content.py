"""Gather what a report shows from a project: layers, analyses and KPI tables (issue 7).

:func:`gather_content` reads the project once and returns a :class:`ReportContent`
that the PDF, HTML and Excel writers only format. Analyses the project does not hold
yet (demand, need types, heatmap, coverage, recommended sites) are computed in memory
with the :mod:`gridmap.care` functions, and the project file is never written. What
cannot be computed is recorded in :attr:`ReportContent.notes` so every writer can say
"not available" instead of failing or leaving a page empty.

Personal data never leaves this module unmasked: the geocoding review list and the
audit lists are passed through :func:`mask_personal`, and the PDF and HTML receive
only per-area counts.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

# The care kinds and service packages are the analysis modules' own (re-exported here).
from gridmap.care.clusters import SERVICE_LABELS, SERVICES
from gridmap.care.coverage import CARE_KINDS
from gridmap.crs import METRIC_CRS
from gridmap.errors import GridMapError
from gridmap.idnumber import mask_id, mask_name
from gridmap.schema import FACILITY_KIND_LABELS

__all__ = [
    "ATLAS_LEVELS",
    "AUDIT_LABELS",
    "CARE_KINDS",
    "LABELS",
    "LEVEL_LABELS",
    "SERVICE_LABELS",
    "ReportCancelled",
    "ReportContent",
    "area_kpis",
    "audit_by_district",
    "audit_label",
    "community_service_mix",
    "coverage_by_area",
    "gather_content",
    "mask_personal",
    "scrub_id_numbers",
    "underserved_by_kind",
]

#: Levels an atlas can page by, coarse to fine.
ATLAS_LEVELS = ("district", "subdistrict", "community")
LEVEL_LABELS = {"district": "区", "subdistrict": "街道", "community": "社区", "grid": "网格"}
_LEVEL_LAYERS = {"district": "districts", "subdistrict": "subdistricts", "community": "communities"}


#: Chinese headers of every column a report shows (PDF tables, Excel, HTML popups).
LABELS = {
    "grid_code": "网格编码",
    "grid_name": "网格名称",
    "community_code": "社区编码",
    "community": "社区",
    "subdistrict_code": "街道编码",
    "subdistrict": "街道",
    "district_code": "区编码",
    "district": "区",
    "code": "编码",
    "name": "名称",
    "grids": "网格数",
    "communities": "社区数",
    "households": "户数",
    "population": "常住人口",
    "elderly_60": "60岁以上",
    "elderly_80": "80岁以上",
    "ageing_rate": "老龄化率",
    "demand_index": "需求指数",
    "living_alone": "独居",
    "semi_disabled": "半失能",
    "disabled": "失能",
    "low_income": "低收入",
    "chronic_illness": "慢性病",
    "care_facilities": "养老设施",
    "coverage_rate": "平均覆盖率",
    "gaps": "步行圈内缺少的养老服务类数",
    "unmet_demand": "未满足需求",
    "primary_service": "主导服务",
    "driving_types": "主要需求类型",
    "site_id": "站点编号",
    "site_name": "分配站点",
    "site_distance_m": "到站点距离(米)",
    "facility_id": "设施编号",
    "kind": "类型代码",
    "kind_label": "设施类型",
    "capacity": "容量",
    "grids_served": "服务网格数",
    "elderly_served": "服务老人数",
    "demand_served": "服务需求",
    "load": "负荷",
    "utilisation": "负荷率",
    "over_capacity": "超负荷",
    "is_new": "新增",
    "demand_gained": "新增服务需求",
    "served_grids": "服务网格",
    "served_communities": "服务社区",
    "elderly": "老年人数",
    "demand": "需求指数",
    "share": "占比",
    "mean_age": "平均年龄",
    "demand_per_person": "人均需求",
    "dominant": "突出需求",
    "distance_m": "距离(米)",
    "radius_m": "步行半径(米)",
    "covered": "15分钟圈内",
    "reason": "原因",
    "count": "数量",
    **{f"mix_{s}": label for s, label in SERVICE_LABELS.items()},
    **{f"demand_{s}": f"{label}需求" for s, label in SERVICE_LABELS.items()},
}

#: Headers of the per-district audit summaries (:func:`audit_by_district`) and lists.
AUDIT_LABELS = {
    "count": "发现数",
    "status_new": "待核实",
    "status_verified": "已核实",
    "status_dismissed": "已排除",
    "overpaid_months": "多发月数",
    "overpaid_amount": "多发金额(元)",
    "monthly_amount": "月发放金额(元)",
    "wasted_subsidy": "多支出补贴(元)",
    "subsidy": "补贴(元)",
    "amount": "金额(元)",
    "benefit": "保障金(元)",
    "status": "核实状态",
    "evidence": "核查依据",
    "finding_id": "核查编号",
    "check": "核查项",
    "subject": "核查对象",
    "person_id": "人员编号",
    "name_masked": "姓名（脱敏）",
    "id_masked": "身份证号（脱敏）",
    "worker_id": "网格员编号",
    "worker_name": "网格员",
    "worker_phone": "网格员电话",
    "rank": "排序",
    "confidence": "置信度",
    "summary": "摘要",
    "suggested_action": "建议处置",
    "status_note": "核实备注",
    "decided_at": "核实时间",
    "first_seen": "首次发现",
    "last_seen": "最近发现",
    "active": "本次仍发现",
    "death_date": "死亡日期",
    "match_probability": "匹配概率",
    "grid_worker": "网格员",
}

# Personal columns that exports mask (names) or mask (ID numbers), and columns that
# are dropped from every export because they identify a person on their own.
_NAME_COLUMNS = ("name", "person_name", "resident_name", "head_name", "holder_name", "seeker_name",
                 "姓名", "户主姓名")
_ID_COLUMNS = ("id_number", "head_id_number", "person_id_number", "身份证号", "公民身份号码", "户主身份证号")
_DROP_COLUMNS = ("birth_date", "phone", "mobile", "lon", "lat", "household_id", "relation", "x", "y",
                 "出生日期", "电话", "手机")
# An 18-character resident ID (GB 11643) standing alone in a text.
_ID_PATTERN = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")

_REVIEW_COLUMNS = ("source", "record_id", "name", "id_number", "address", "matched_address", "match_level",
                   "confidence", "grid_code", "placed", "review_reason")

_AUDIT_LABELS = {
    "pension": "养老金领取与死亡记录比对",
    "dibao": "低保家庭经济状况核查",
    "duplicates": "医保重复参保",
    "duplicate": "医保重复参保",
    "jobs": "就业岗位匹配",
    "job": "就业岗位匹配",
}
_AMOUNT_HINTS = ("amount", "yuan", "overpaid", "subsidy", "benefit", "wasted", "金额")


class ReportCancelled(GridMapError):
    """The user cancelled the report while it was being built."""


@dataclass
class Plan:
    """Recommended sites: the open sites, each grid's assignment and the model's summary."""

    sites: gpd.GeoDataFrame
    grids: pd.DataFrame
    summary: dict
    computed: bool = False


@dataclass
class ReportContent:
    """Everything a report shows, already gathered and masked.

    Geometry is in EPSG:4546 (metres), so maps get scale bars and distances directly.

    Attributes
    ----------
    title, city, data_date, generated : str
        Cover texts; ``generated`` is the date the report was made.
    synthetic : bool
        The project says its data are synthetic (the demo): the cover says so.
    note, source : str
        The project's data note and the source line printed under every map.
    district : str or None
        The district the report is restricted to (``None``: the whole city).
    atlas_by : str
        One of :data:`ATLAS_LEVELS`.
    grids : GeoDataFrame
        One row per grid in scope: names and codes of its community, sub-district and
        district, the registry counts, and when available ``demand_index`` and the need
        counts, ``gaps`` (care kinds not within walking distance), ``unmet_demand``,
        ``mix_<service>`` shares, ``primary_service``, ``driving_types`` and the
        assigned recommended site.
    areas : dict
        Level -> GeoDataFrame of the district, sub-district and community outlines in
        scope (dissolved from the grids when the project has no such layer).
    city_outline : GeoDataFrame
        The districts of the whole city, for locator maps.
    roads, facilities : GeoDataFrame
        Context layers; ``facilities`` holds every facility (for maps beyond the
        scope's edge), with ``in_scope``.
    heatmap : Heatmap or None
    need_types, hotspots, coverage, facility_load : DataFrame or None
    plan : Plan or None
    audit : dict
        Audit table name -> (label, per-district summary DataFrame).
    audit_lists : dict
        Audit table name -> masked DataFrame (for the workbook).
    review : DataFrame or None
        The masked geocoding review list.
    notes : dict
        Section key -> list of Chinese sentences (what was computed or is missing).
    computed : list of str
        Analyses computed for this report because the project did not hold them.
    """

    title: str
    city: str
    data_date: str
    generated: str
    synthetic: bool
    note: str
    source: str
    district: str | None
    atlas_by: str
    grids: gpd.GeoDataFrame
    areas: dict
    city_outline: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame | None
    facilities: gpd.GeoDataFrame | None
    heatmap: object = None
    need_types: pd.DataFrame | None = None
    hotspots: gpd.GeoDataFrame | None = None
    coverage: pd.DataFrame | None = None
    coverage_method: str = ""
    facility_load: pd.DataFrame | None = None
    plan: Plan | None = None
    audit: dict = field(default_factory=dict)
    audit_lists: dict = field(default_factory=dict)
    review: pd.DataFrame | None = None
    notes: dict = field(default_factory=dict)
    computed: list = field(default_factory=list)

    @property
    def scope_label(self) -> str:
        """``"宜昌市"`` or ``"宜昌市西陵区"``."""
        return f"{self.city}{self.district or ''}"

    @property
    def care_kinds(self) -> list:
        """The care kinds with coverage results, in :data:`CARE_KINDS` order."""
        if self.coverage is None:
            return []
        present = set(self.coverage["kind"])
        return [k for k in CARE_KINDS if k in present]

    def atlas_units(self) -> gpd.GeoDataFrame:
        """The areas an atlas pages through: ``code name geometry`` sorted by code."""
        return self.areas[self.atlas_by]

    def add_note(self, section, text) -> None:
        self.notes.setdefault(section, []).append(text)


# --------------------------------------------------------------------------- masking


def scrub_id_numbers(frame):
    """Mask every 18-character ID number found in any text column of ``frame``.

    A second line of defence behind :func:`mask_personal`: an ID pasted into an
    evidence or remark column is masked too (first 6 and last 4 characters kept).
    """
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if series.dtype == object or pd.api.types.is_string_dtype(series):
            text = series.astype("object")
            has = text.map(lambda v: isinstance(v, str) and _ID_PATTERN.search(v) is not None)
            if has.any():
                out[column] = text.where(~has, text[has].map(
                    lambda v: _ID_PATTERN.sub(lambda m: m.group(1) + "*" * 8 + m.group(2), v)))
    return out


def mask_personal(frame):
    """Return ``frame`` fit for export: names and ID numbers masked, identifying extras dropped.

    Names keep the surname (王*), ID numbers their first 6 and last 4 characters
    (:func:`gridmap.idnumber.mask_id`); birth dates, phone numbers, household ids and
    exact coordinates are dropped. Geometry is dropped too (exports are tables).

    Examples
    --------
    >>> mask_personal(pd.DataFrame({"name": ["王小明"], "id_number": ["42050219800101123X"]}))
      name           id_number
    0  王**  420502********123X
    """
    out = pd.DataFrame(frame).copy()
    if "geometry" in out:
        out = out.drop(columns="geometry")
    out = out.drop(columns=[c for c in out.columns if c in _DROP_COLUMNS])
    for column in out.columns:
        if column in _ID_COLUMNS:
            out[column] = mask_id(out[column]).to_numpy()
        elif column in _NAME_COLUMNS:
            out[column] = mask_name(out[column]).to_numpy()
    return scrub_id_numbers(out)


# --------------------------------------------------------------------------- gathering


class _Elderly:
    """Load the elderly residents once, only if some analysis has to be computed."""

    def __init__(self, project):
        self.project = project
        self._frame = None

    def __call__(self):
        if self._frame is None:
            from gridmap.care.demand import load_elderly

            self._frame = load_elderly(self.project)
        return self._frame


def _text_codes(series):
    return series.astype("string").astype(object)


def _read_optional(project, name, columns=None):
    return project.read(name, columns=columns) if project.has_layer(name) else None


def gather_content(project, *, district=None, atlas_by="district", title=None, compute=True,
                   plan_defaults=None, progress=None, cancelled=None) -> ReportContent:
    """Read ``project`` and compute what its report needs; write nothing.

    Parameters
    ----------
    project : Project or path
    district : str, optional
        Restrict the report to this district (e.g. ``"西陵区"``); analyses still run on
        the whole city so that facilities across the boundary count.
    atlas_by : {"district", "subdistrict", "community"}
        The areas of the atlas pages.
    title : str, optional
        Cover title; default from the project's meta ``name``.
    compute : bool, default True
        Compute analyses the project does not hold; with False their sections say
        they are not available.
    plan_defaults : dict or None or False
        Arguments of :func:`gridmap.care.plan.plan_sites` used when the project holds
        no recommended sites (default: 5 new day-care sites by p-median); False
        leaves the recommendations out instead.
    progress : callable(fraction, message), optional
    cancelled : callable() -> bool, optional
        Checked between steps; a cancel raises :class:`ReportCancelled`.

    Returns
    -------
    ReportContent

    Raises
    ------
    GridMapError
        The project has no grids, ``atlas_by`` is unknown or ``district`` is not one of
        the project's districts (the message lists them).
    """
    from gridmap.project import Project

    if not isinstance(project, Project):
        project = Project(project)
    if atlas_by not in ATLAS_LEVELS:
        raise GridMapError(f"atlas_by: expected one of {', '.join(ATLAS_LEVELS)}, got {atlas_by!r}")
    if not project.has_layer("grids"):
        raise GridMapError(f"{project.path}: has no grids layer; import grids first")

    def step(fraction, message):
        if cancelled is not None and cancelled():
            raise ReportCancelled("报告生成已取消")
        if progress is not None:
            progress(fraction, message)

    step(0.0, "读取网格")
    meta = project.meta()
    grids = _read_grids(project)
    districts = sorted(grids["district"].dropna().unique())
    if district is not None and district not in districts:
        raise GridMapError(f"district: {district!r} is not in the project (has {', '.join(districts)})")
    content = _cover(project, meta, grids, district=district, atlas_by=atlas_by, title=title)
    elderly = _Elderly(project)
    has_residents = project.has_layer("residents")
    can_compute = compute and has_residents
    if compute and not has_residents:
        content.add_note("demand", "项目中没有人口数据（residents），无法计算养老需求。")

    step(0.1, "养老需求")
    grids = _add_demand(project, content, grids, elderly, can_compute)
    step(0.25, "需求类型与集中区")
    grids = _add_clusters(project, content, grids, elderly, can_compute)
    step(0.45, "需求热力图")
    _add_heatmap(project, content, elderly, can_compute)
    step(0.55, "设施覆盖")
    facilities = _read_facilities(project)
    grids = _add_coverage(project, content, grids, elderly, can_compute and facilities is not None)
    step(0.7, "新增站点建议")
    grids = _add_plan(project, content, grids, elderly, can_compute and facilities is not None,
                      plan_defaults)
    step(0.8, "审计结果与核查名单")
    _add_audit(project, content, grids)
    review = _read_optional(project, "review")
    if review is not None:
        # What a reviewer needs to correct a location; health, income and family
        # attributes of the person stay in the project.
        review = review[[c for c in _REVIEW_COLUMNS if c in review]]
        content.review = mask_personal(review)

    step(0.9, "整理图层")
    _scope(content, project, grids, facilities, district)
    step(1.0, "完成")
    return content


def _read_grids(project):
    grids = project.read("grids")
    for column in ("community", "subdistrict", "district"):
        if column not in grids:
            grids[column] = "（未分区）"
    for column in ("community_code", "subdistrict_code", "district_code"):
        if column not in grids:
            grids[column] = grids[column.replace("_code", "")]
    for column in ("grid_code", "community_code", "subdistrict_code", "district_code"):
        grids[column] = _text_codes(grids[column])
    if "grid_name" not in grids:
        grids["grid_name"] = grids["grid_code"]
    return grids.to_crs(METRIC_CRS)


def _cover(project, meta, grids, *, district, atlas_by, title):
    city = str(meta.get("city") or "宜昌市")
    data_date = str(meta.get("data_date") or "未注明")
    synthetic = bool(meta.get("synthetic", False))
    source = f"数据来源：{project.path.name}"
    if meta.get("name"):
        source += f"（{meta['name']}）"
    source += f"；数据日期：{data_date}；坐标系 CGCS2000 / 3° 高斯-克吕格 111°E（EPSG:4546）"
    if synthetic:
        source += "；合成演示数据"
    # The outline of the whole city: the districts layer, or the grids dissolved.
    if project.has_layer("districts"):
        outline = project.read("districts").to_crs(METRIC_CRS)
        if "district" not in outline:
            outline["district"] = "（全市）"
    else:
        outline = grids.dissolve(by="district", as_index=False)[["district", "geometry"]]
    default_title = "网格化社会治理与养老服务规划报告"
    return ReportContent(
        title=title or default_title,
        city=city,
        data_date=data_date,
        generated=_dt.date.today().isoformat(),
        synthetic=synthetic,
        note=str(meta.get("note") or ""),
        source=source,
        district=district,
        atlas_by=atlas_by,
        grids=grids,
        areas={},
        city_outline=outline[["district", "geometry"]],
        roads=None,
        facilities=None,
    )


def _merge(grids, table, columns):
    columns = [c for c in columns if c in table and c != "grid_code"]
    table = table[["grid_code", *columns]].copy()
    table["grid_code"] = _text_codes(table["grid_code"])
    table = table.drop_duplicates("grid_code")
    grids = grids.drop(columns=[c for c in columns if c in grids])
    merged = grids.merge(table, on="grid_code", how="left")
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=grids.crs)


_NEED_COLUMNS = ("living_alone", "semi_disabled", "disabled", "low_income", "chronic_illness")


def _add_demand(project, content, grids, elderly, can_compute):
    table = _read_optional(project, "care_demand")
    if table is None and can_compute:
        from gridmap.care.demand import analyse_demand

        table = analyse_demand(project, elderly=elderly()).table
        content.computed.append("养老需求指数")
        content.add_note("demand", "项目中尚无养老需求结果，本报告按项目设置的权重即时计算。")
    if table is None:
        content.add_note("demand", "养老需求指数不可用（运行 gridmap care demand 后重新生成报告）。")
        return grids
    return _merge(grids, table, ["demand_index", *_NEED_COLUMNS])


def _add_clusters(project, content, grids, elderly, can_compute):
    types = _read_optional(project, "care_need_types")
    mix = _read_optional(project, "care_service_mix")
    hotspots = None
    if types is not None and mix is not None:
        hotspots = _read_optional(project, "care_hotspots")
        if hotspots is None:
            hotspots = gpd.GeoDataFrame({"name": []}, geometry=[], crs=METRIC_CRS)
    elif can_compute:
        from gridmap.care.clusters import analyse_clusters

        try:
            result = analyse_clusters(project, elderly=elderly())
        except GridMapError as exc:
            content.add_note("clusters", f"需求类型无法计算：{exc}")
            return grids
        types, mix, hotspots = result.types.types, result.types.grids, result.hotspots
        content.computed.append("需求类型与需求集中区")
        content.add_note("clusters", "项目中尚无需求类型结果，本报告即时计算（k-means，轮廓系数选类数）。")
    if types is None:
        content.add_note("clusters", "需求类型与服务组合不可用（运行 gridmap care clusters 后重新生成报告）。")
        return grids
    content.need_types = pd.DataFrame(types).drop(columns="geometry", errors="ignore")
    if hotspots is not None and len(hotspots):
        content.hotspots = hotspots.to_crs(METRIC_CRS) if hotspots.crs is not None else hotspots
    else:
        content.hotspots = None
    columns = [f"mix_{s}" for s in SERVICES] + [f"demand_{s}" for s in SERVICES]
    return _merge(grids, mix, [*columns, "primary_service", "driving_types"])


def _add_heatmap(project, content, elderly, can_compute):
    from gridmap.care.heatmap import read_geotiff

    stored = project.meta().get("care_heatmap") or {}
    tif = project.path.parent / str(stored.get("tif", "")) if stored.get("tif") else None
    if tif is not None and tif.exists():
        content.heatmap = read_geotiff(tif)
        return
    if not can_compute:
        content.add_note("heatmap", "需求热力图不可用（运行 gridmap care heatmap 后重新生成报告）。")
        return
    from gridmap.care.heatmap import demand_heatmap

    try:
        content.heatmap = demand_heatmap(project, elderly=elderly())
    except GridMapError as exc:
        content.add_note("heatmap", f"需求热力图无法计算：{exc}")
        return
    content.computed.append("需求热力图")
    content.add_note("heatmap", "热力图为报告生成时即时计算（四次核函数，带宽 800 米）。")


def _read_facilities(project):
    if not project.has_layer("facilities"):
        return None
    keep = ["facility_id", "name", "kind", "kind_label", "capacity", "grid_code"]
    facilities = project.read("facilities")
    facilities = facilities[[c for c in keep if c in facilities] + ["geometry"]]
    if "kind_label" not in facilities:
        facilities["kind_label"] = facilities["kind"].map(FACILITY_KIND_LABELS).fillna(facilities["kind"])
    if "grid_code" in facilities:
        facilities["grid_code"] = _text_codes(facilities["grid_code"])
    facilities = facilities[facilities.geometry.notna() & ~facilities.geometry.is_empty]
    return facilities.to_crs(METRIC_CRS)


def _add_coverage(project, content, grids, elderly, can_compute):
    table = _read_optional(project, "care_coverage")
    load = _read_optional(project, "care_facility_load")
    if table is None and can_compute:
        from gridmap.care.coverage import analyse_coverage

        try:
            result = analyse_coverage(project, elderly=elderly())
        except GridMapError as exc:
            content.add_note("coverage", f"设施覆盖无法计算：{exc}")
            return grids
        table, load = result.grids, result.facilities
        content.computed.append("设施覆盖与负荷")
        content.add_note("coverage", "项目中尚无覆盖分析结果，本报告即时计算"
                                 f"（{'沿道路网' if result.method == 'network' else '直线'}距离，步行半径 1000 米）。")
    if table is None:
        content.add_note("coverage", "设施覆盖分析不可用（运行 gridmap care coverage 后重新生成报告）。")
        return grids
    table = pd.DataFrame(table).copy()
    table["grid_code"] = _text_codes(table["grid_code"])
    content.coverage = table
    content.coverage_method = str(table["method"].iloc[0]) if "method" in table and len(table) else ""
    if load is not None:
        load = pd.DataFrame(load).drop(columns="geometry", errors="ignore").copy()
        if "grid_code" in load:
            load["grid_code"] = _text_codes(load["grid_code"])
        content.facility_load = load
    care = table[table["kind"].isin(CARE_KINDS)]
    # A gap is a care kind with no facility within walking distance; demand left over
    # by full facilities is counted in unmet_demand, not as a gap.
    per_grid = care.assign(gap=(~care["covered"].astype(bool)).astype(int)).groupby("grid_code").agg(
        gaps=("gap", "sum"), unmet_demand=("unmet_demand", "sum"))
    return _merge(grids, per_grid.reset_index(), ["gaps", "unmet_demand"])


def _add_plan(project, content, grids, elderly, can_compute, plan_defaults):
    sites = _read_optional(project, "care_sites")
    allocation = _read_optional(project, "care_allocation")
    summary = project.meta().get("care_plan") or {}
    computed = False
    if (sites is None or allocation is None) and can_compute and plan_defaults is not False:
        arguments = {"kind": "day_care", "new_sites": 5, "model": "pmedian", "time_limit": 30.0,
                     **(plan_defaults or {})}
        try:
            from gridmap.care.plan import plan_sites

            result = plan_sites(project, elderly=elderly(), **arguments)
        except ImportError:
            content.add_note("plan", "本版本没有选址模块，新增站点建议不可用。")
        except Exception as exc:  # noqa: BLE001 - an optional section must not sink the report
            content.add_note("plan", f"新增站点建议无法计算：{exc}")
        else:
            sites, allocation, summary, computed = result.sites, result.grids, result.summary, True
            kind = FACILITY_KIND_LABELS.get(arguments["kind"], arguments["kind"])
            content.computed.append("新增站点建议")
            content.add_note("plan", f"项目中尚无选址结果，本报告按默认参数即时计算：{kind}新增 "
                                 f"{arguments['new_sites']} 处，模型 {arguments['model']}。")
    if sites is None or allocation is None:
        if "plan" not in content.notes:
            content.add_note("plan", "新增站点建议不可用（运行 gridmap care allocate 后重新生成报告）。")
        return grids
    sites = sites.to_crs(METRIC_CRS)
    allocation = pd.DataFrame(allocation).copy()
    allocation["grid_code"] = _text_codes(allocation["grid_code"])
    content.plan = Plan(sites=sites, grids=allocation, summary=dict(summary), computed=computed)
    renamed = allocation.rename(columns={"distance_m": "site_distance_m"})
    return _merge(grids, renamed, ["site_id", "site_name", "site_distance_m"])


def audit_label(name):
    """Chinese name of audit table ``name`` (``audit_pension`` -> 养老金领取与死亡记录比对)."""
    key = name.removeprefix("audit_")
    if key.endswith("_matches"):
        return audit_label(f"audit_{key.removesuffix('_matches')}") + "明细"
    for hint, label in _AUDIT_LABELS.items():
        if key.startswith(hint):
            return label
    return key


def _add_audit(project, content, grids):
    names = [n for n in project.layer_names() if n.startswith("audit_") and n != "audit_truth"]
    if not names:
        content.add_note("audit", "项目中暂无社保核查结果（运行 gridmap audit 后重新生成报告）。")
        return
    lookup = grids[["grid_code", "district"]].drop_duplicates("grid_code")
    for name in names:
        table = pd.DataFrame(project.read(name)).drop(columns="geometry", errors="ignore")
        content.audit_lists[name] = mask_personal(table)
        # Findings tables (gridmap.audit.findings) carry a status per finding; other
        # audit tables, such as job-match lists, go to the workbook only.
        if "status" in table or "finding_id" in table:
            if "active" in table:  # findings no longer found are kept for their decisions only
                table = table[table["active"].astype(str).str.lower().isin(["true", "1"])]
            content.audit[name] = (audit_label(name), audit_by_district(table, lookup))


# --------------------------------------------------------------------------- scope


def _scope(content, project, grids, facilities, district):
    if district is not None:
        grids = grids[grids["district"] == district]
    content.grids = grids.reset_index(drop=True)
    codes = set(content.grids["grid_code"])
    for level in ATLAS_LEVELS:
        content.areas[level] = _areas(project, content.grids, level)
    if facilities is not None:
        facilities = facilities.copy()
        facilities["in_scope"] = facilities["grid_code"].isin(codes) if "grid_code" in facilities else True
    content.facilities = facilities
    roads = _read_optional(project, "roads")
    content.roads = roads.to_crs(METRIC_CRS) if roads is not None else None
    if content.coverage is not None:
        content.coverage = content.coverage[content.coverage["grid_code"].isin(codes)].reset_index(drop=True)
    if content.facility_load is not None and "grid_code" in content.facility_load:
        content.facility_load = content.facility_load[
            content.facility_load["grid_code"].isin(codes)].reset_index(drop=True)
    if content.plan is not None:
        plan = content.plan
        plan.grids = plan.grids[plan.grids["grid_code"].isin(codes)].reset_index(drop=True)
        used = set(plan.grids["site_id"])
        plan.sites = plan.sites[plan.sites["site_id"].isin(used)].reset_index(drop=True)
    if content.hotspots is not None and district is not None:
        outline = content.areas["district"].union_all()
        content.hotspots = content.hotspots[content.hotspots.intersects(outline)].reset_index(drop=True)
    if district is not None and content.audit:
        content.audit = {name: (label, table[table["district"].isin([district, "合计"])])
                         for name, (label, table) in content.audit.items()}


def _areas(project, grids, level):
    """Outlines of ``level`` areas that hold grids in scope: ``code name geometry``."""
    code, name = f"{level}_code", level
    wanted = grids[[code, name]].drop_duplicates(code)
    layer = _LEVEL_LAYERS[level]
    frame = None
    if project.has_layer(layer):
        frame = project.read(layer).to_crs(METRIC_CRS)
        if code in frame:
            frame[code] = _text_codes(frame[code])
            frame = frame[frame[code].isin(set(wanted[code]))]
            if len(frame) != len(wanted):
                frame = None
        else:
            frame = None
    if frame is None:
        frame = grids.dissolve(by=code, as_index=False)[[code, "geometry"]].merge(wanted, on=code)
    frame = frame.rename(columns={code: "code", name: "name"})[["code", "name", "geometry"]]
    return gpd.GeoDataFrame(frame.sort_values("code").reset_index(drop=True), geometry="geometry",
                            crs=METRIC_CRS)


# --------------------------------------------------------------------------- tables


def _share(numerator, denominator):
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.asarray(numerator, dtype=float) / np.asarray(denominator, dtype=float)
    return np.where(np.isfinite(out), out, np.nan)


def coverage_by_area(content, level="district") -> pd.DataFrame:
    """Share of elderly-care demand within walking distance, per area and care kind.

    Returns one row per area (``name`` plus one column per care kind label, fractions
    0-1, demand-weighted), or an empty frame when coverage is not available.
    """
    if content.coverage is None or not content.care_kinds:
        return pd.DataFrame()
    key = f"{level}_code"
    cov = content.coverage[content.coverage["kind"].isin(content.care_kinds)]
    cov = cov.merge(content.grids[["grid_code", key, level]], on="grid_code")
    cov = cov.assign(covered_demand=np.where(cov["covered"].astype(bool), cov["demand"], 0.0))
    sums = cov.groupby([key, level, "kind"], sort=True)[["covered_demand", "demand"]].sum()
    rate = pd.Series(_share(sums["covered_demand"], sums["demand"]), index=sums.index)
    table = rate.unstack("kind").reindex(columns=content.care_kinds)
    table.columns = [FACILITY_KIND_LABELS.get(k, k) for k in table.columns]
    table = table.reset_index().drop(columns=key).rename(columns={level: "name"})
    total = cov.groupby("kind")[["covered_demand", "demand"]].sum().reindex(content.care_kinds)
    total_row = {"name": "合计", **{FACILITY_KIND_LABELS.get(k, k): v for k, v in
                                     zip(total.index, _share(total["covered_demand"], total["demand"]))}}
    return pd.concat([table, pd.DataFrame([total_row])], ignore_index=True)


def area_kpis(content, level="district", within=None) -> pd.DataFrame:
    """Key figures per area of ``level`` (optionally only grids where ``within`` is True).

    Columns: ``code name grids communities households population elderly_60
    elderly_80 ageing_rate demand_index care_facilities coverage_rate`` (the last
    three when the analyses are available), then a ``合计`` row.
    """
    grids = content.grids if within is None else content.grids[within]
    key = "grid_code" if level == "grid" else f"{level}_code"
    name = "grid_name" if level == "grid" else level
    frame = pd.DataFrame(grids.drop(columns="geometry"))
    frame["grids"] = 1
    fac_columns = [f"fac_{k}" for k in CARE_KINDS if f"fac_{k}" in frame]
    if fac_columns:
        frame["care_facilities"] = frame[fac_columns].sum(axis=1)
    sums = {c: "sum" for c in ("grids", "households", "population", "elderly_60", "elderly_80",
                               "demand_index", "care_facilities") if c in frame}
    agg = {column: (column, how) for column, how in sums.items()}
    if level in ("district", "subdistrict"):
        agg["communities"] = ("community_code", "nunique")
    table = frame.groupby([key, name], sort=True).agg(**agg).reset_index()
    table = table.rename(columns={key: "code", name: "name"})
    total = {"code": "", "name": "合计", **{c: frame[c].sum() for c in sums}}
    if "communities" in table:
        total["communities"] = frame["community_code"].nunique()
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    if {"population", "elderly_60"} <= set(table):
        table["ageing_rate"] = _share(table["elderly_60"], table["population"])
    if content.coverage is not None and content.care_kinds:
        cov = content.coverage[content.coverage["kind"].isin(content.care_kinds)]
        cov = cov[cov["grid_code"].isin(set(frame["grid_code"]))].merge(
            frame[["grid_code", key]], on="grid_code")
        cov = cov.assign(covered_demand=np.where(cov["covered"].astype(bool), cov["demand"], 0.0))
        by = cov.groupby([key, "kind"])[["covered_demand", "demand"]].sum()
        rate = pd.Series(_share(by["covered_demand"], by["demand"]), index=by.index)
        mean_rate = rate.groupby(level=0).mean()
        whole = cov.groupby("kind")[["covered_demand", "demand"]].sum()
        overall = float(np.nanmean(_share(whole["covered_demand"], whole["demand"]))) if len(whole) else math.nan
        table["coverage_rate"] = table["code"].map(mean_rate).astype(float)
        table.loc[table["name"] == "合计", "coverage_rate"] = overall
    order = ["code", "name", "grids", "communities", "households", "population", "elderly_60",
             "ageing_rate", "elderly_80", "demand_index", "care_facilities", "coverage_rate"]
    return table[[c for c in order if c in table]]


def underserved_by_kind(content) -> pd.DataFrame:
    """Per care kind: grids with unmet demand, their demand, and the worst grids."""
    if content.coverage is None:
        return pd.DataFrame()
    rows = []
    for kind in content.care_kinds:
        part = content.coverage[content.coverage["kind"] == kind]
        under = part[part["unmet_demand"] > 0].sort_values("unmet_demand", ascending=False)
        far = under["distance_m"].isna() | (under["distance_m"] > under.get("radius_m", math.inf))
        radius = float(part["radius_m"].iloc[0]) if "radius_m" in part and len(part) else math.nan
        rows.append({
            "kind_label": FACILITY_KIND_LABELS.get(kind, kind),
            "radius_m": radius,
            "grids": len(part),
            "underserved": len(under),
            "beyond_radius": int(far.sum()),
            "over_capacity": int((~far).sum()),
            "unmet_demand": float(under["unmet_demand"].sum()),
            "unmet_share": float(_share(under["unmet_demand"].sum(), part["demand"].sum())),
            "worst": "、".join(under["grid_name"].head(3).astype(str)) if "grid_name" in under else "",
        })
    return pd.DataFrame(rows)


def community_service_mix(content) -> pd.DataFrame:
    """Recommended service mix per community: shares of its demand by service package."""
    demand_columns = [f"demand_{s}" for s in SERVICES]
    if not set(demand_columns) <= set(content.grids.columns):
        return pd.DataFrame()
    frame = pd.DataFrame(content.grids.drop(columns="geometry"))
    agg = {c: "sum" for c in demand_columns}
    agg["elderly_60"] = "sum"
    by = frame.groupby(["community_code", "community", "subdistrict"], sort=True).agg(agg).reset_index()
    total = by[demand_columns].sum(axis=1)
    for service in SERVICES:
        by[f"mix_{service}"] = _share(by[f"demand_{service}"], total)
    by["demand_index"] = total
    labels = np.array([SERVICE_LABELS[s] for s in SERVICES], dtype=object)
    shares = by[[f"mix_{s}" for s in SERVICES]].to_numpy(dtype=float)
    best = np.nanargmax(np.where(np.isfinite(shares), shares, -1.0), axis=1)
    by["primary_service"] = np.where(total > 0, labels[best], "")
    return by[["community_code", "community", "subdistrict", "elderly_60", "demand_index",
               *[f"mix_{s}" for s in SERVICES], "primary_service"]]


def audit_by_district(table, grids_lookup) -> pd.DataFrame:
    """Count audit findings and add up their amounts per district; no personal data.

    Parameters
    ----------
    table : DataFrame
        An audit result table; its district comes from a ``district`` column or from
        ``grid_code`` through ``grids_lookup``.
    grids_lookup : DataFrame
        ``grid_code district``.

    Returns
    -------
    DataFrame
        ``district count`` plus one column per amount-like numeric column
        (``amount``, ``overpaid``, ``subsidy``...) and per ``status`` value, then a
        ``合计`` row.
    """
    frame = pd.DataFrame(table).copy()
    if "district" not in frame:
        if "grid_code" in frame:
            lookup = grids_lookup.assign(grid_code=_text_codes(grids_lookup["grid_code"]))
            frame = frame.assign(grid_code=_text_codes(frame["grid_code"])).merge(
                lookup, on="grid_code", how="left")
        else:
            frame["district"] = None
    frame["district"] = frame["district"].fillna("（未入格）")
    amounts = [c for c in frame.columns if any(h in c.lower() for h in _AMOUNT_HINTS)
               and pd.api.types.is_numeric_dtype(frame[c])]
    out = frame.groupby("district").size().rename("count").to_frame()
    for column in amounts:
        out[column] = frame.groupby("district")[column].sum()
    if "status" in frame:
        status = frame.pivot_table(index="district", columns="status", aggfunc="size", fill_value=0)
        status.columns = [f"status_{c}" for c in status.columns]
        out = out.join(status)
    out = out.reset_index()
    total = {"district": "合计", **{c: out[c].sum() for c in out.columns if c != "district"}}
    return pd.concat([out, pd.DataFrame([total])], ignore_index=True)
