"""The UI text catalogue: Simplified Chinese first, English on request."""

from __future__ import annotations

__all__ = ["Translator"]

_CATALOGUE = {
    "app_title": ("GridMap 网格化社会治理规划", "GridMap grid governance planner"),
    "layers": ("图层", "Layers"),
    "districts": ("区县", "Districts"),
    "subdistricts": ("街道", "Sub-districts"),
    "communities": ("社区", "Communities"),
    "grids": ("网格", "Grids"),
    "roads": ("道路", "Roads"),
    "facilities": ("服务设施", "Facilities"),
    "project": ("项目", "Project"),
    "synthetic": ("合成演示数据", "synthetic demo data"),
    "zoom_full": ("全图", "Zoom to all"),
    "zoom_in": ("放大", "Zoom in"),
    "zoom_out": ("缩小", "Zoom out"),
    "open": ("打开项目…", "Open project…"),
    "file": ("文件", "File"),
    "view": ("视图", "View"),
    "quit": ("退出", "Quit"),
    "language": ("English", "中文"),
    "summary": ("项目概况", "Project summary"),
    "grid_count": ("网格数", "Grids"),
    "population": ("人口", "Population"),
    "households": ("户数", "Households"),
    "elderly_60": ("60岁以上", "Aged 60+"),
    "elderly_80": ("80岁以上", "Aged 80+"),
    "zone_urban": ("城区网格", "Urban grids"),
    "zone_gezhouba": ("葛洲坝网格", "Gezhouba grids"),
    "legend": ("图例", "Legend"),
    "north": ("北", "N"),
    "coords": ("经度 {lon:.6f}  纬度 {lat:.6f}  (CGCS2000)", "Lon {lon:.6f}  Lat {lat:.6f}  (CGCS2000)"),
    "no_project": ("未打开项目", "No project open"),
    "identify": ("要素信息", "Identify"),
    "attributes": ("属性表", "Attribute table"),
    "filter_table": ("筛选…（任意列包含）", "Filter… (any column contains)"),
    "search": ("搜索网格编码、名称、社区或地址…", "Search grid code, name, community or address…"),
    "not_found": ("未找到：{text}", "Not found: {text}"),
    "found_address": ("地址匹配：{address}（{level}，置信度 {conf:.2f}）", "Address match: {address} ({level}, confidence {conf:.2f})"),
    "workspace": ("工作台", "Workspace"),
    "ws_planner": ("规划", "Planner"),
    "ws_care": ("养老", "Elderly care"),
    "ws_leader": ("领导", "Leadership"),
    "tool_pan": ("平移", "Pan"),
    "tool_select": ("选择", "Select"),
    "tool_line": ("画线分割", "Split by line"),
    "zoom_selection": ("缩放到选中", "Zoom to selection"),
    "export_png": ("导出地图 PNG…", "Export map PNG…"),
    "save_as": ("项目另存为…", "Save project as…"),
    "show_gcj02": ("坐标显示 GCJ-02", "Show GCJ-02 coordinates"),
    "style": ("样式", "Style"),
    "style_single": ("单一颜色", "Single colour"),
    "style_categorized": ("分类", "Categorized"),
    "style_graduated": ("分级", "Graduated"),
    "scheme_natural_breaks": ("自然断点", "Natural breaks"),
    "scheme_quantiles": ("分位数", "Quantiles"),
    "classes": ("分级数", "Classes"),
    "opacity": ("不透明度", "Opacity"),
    "field": ("字段", "Field"),
    "query": ("属性查询，如 population > 600", "Attribute query, e.g. population > 600"),
    "query_error": ("查询有误：{error}", "Query error: {error}"),
    "selected": ("已选 {n} 个", "{n} selected"),
    "cancel": ("取消", "Cancel"),
    "task_failed": ("任务失败", "Task failed"),
    "cancelled": ("已取消，项目未改变", "Cancelled; the project is unchanged"),
    "kpi": ("指标", "Indicator"),
    "district": ("区县", "District"),
    "facility_count": ("养老服务设施", "Care facilities"),
    "share_60": ("老龄化率", "Share 60+"),
    "dashboard": ("全市与各区指标", "City and district indicators"),
    "city_total": ("全市", "City"),
    "planner_help": ("选择网格后可分割、合并；Ctrl+Z 撤销，Ctrl+Shift+Z 重做。", "Select grids to split or merge; Ctrl+Z undo, Ctrl+Shift+Z redo."),
    "care_help": ("按网格查看老年人口需求、服务设施覆盖与布局建议。", "Elderly demand, facility coverage and site recommendations by grid."),
    "demand_map": ("老年人口分布（60岁以上）", "Elderly population (60+)"),
    "facilities_layer": ("服务设施", "Facilities"),
    "export_done": ("已导出：{path}", "Exported: {path}"),
}


class Translator:
    """Look up UI strings in the current language (``"zh"`` or ``"en"``)."""

    def __init__(self, language="zh"):
        self.language = language

    def __call__(self, key, **values):
        zh, en = _CATALOGUE.get(key, (key, key))
        text = zh if self.language == "zh" else en
        return text.format(**values) if values else text
