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
    "identify": ("网格 {code}  {name}  人口 {pop}", "Grid {code}  {name}  population {pop}"),
}


class Translator:
    """Look up UI strings in the current language (``"zh"`` or ``"en"``)."""

    def __init__(self, language="zh"):
        self.language = language

    def __call__(self, key, **values):
        zh, en = _CATALOGUE.get(key, (key, key))
        text = zh if self.language == "zh" else en
        return text.format(**values) if values else text
