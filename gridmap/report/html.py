"""The interactive HTML map of a report (folium / Leaflet), working fully offline (issue 7).

The file is self-contained: Leaflet's script and style sheet are inlined from
``gridmap/resources/web/`` (vendored from the npm package, see the README there),
the heatmap is a ``data:`` PNG, and folium's default CDN links (Leaflet, jQuery,
Bootstrap, Font Awesome) are removed before rendering — none of them is needed by
the layers used here. The default basemap is the project's own vector layers
(districts, sub-districts, roads); an OpenStreetMap tile layer is offered as a
second, unselected base layer for users who are online.

Layers: grids with popups (counts, demand, service mix, assigned site), the demand
choropleth, the demand heatmap, demand concentrations, facilities by kind, 15-minute
walking circles, recommended new sites with the grids they serve; a layer switcher,
a scale and a legend.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import folium
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.template import Template
from folium.utilities import JsCode

from gridmap.crs import METRIC_CRS, STORE_CRS
from gridmap.errors import GridMapError
from gridmap.report import maps
from gridmap.report.content import SERVICE_LABELS
from gridmap.schema import FACILITY_KIND_LABELS

__all__ = ["WEB_ASSETS", "build_map", "offline_problems", "write_html"]

WEB_ASSETS = Path(__file__).resolve().parent.parent / "resources" / "web"

_KIND_COLOURS = {
    "elderly_home": "#6a3d9a",
    "day_care": "#1f78b4",
    "care_station": "#33a02c",
    "meal_point": "#ff7f00",
    "health_centre": "#e31a1c",
}
_OTHER_COLOUR = "#737373"
_NEW_SITE = "#cb181d"
_SIMPLIFY_M = 2.0  # metres: invisible at street zoom, halves the file
_DIGITS = 6  # ~0.1 m in latitude


def _lonlat(frame):
    """Simplify in metres, then convert to EPSG:4490 lon/lat (≈ WGS84, what Leaflet expects)."""
    frame = frame.copy()
    if frame.crs is not None and str(frame.crs) == METRIC_CRS:
        frame["geometry"] = shapely.simplify(frame.geometry.values, _SIMPLIFY_M, preserve_topology=True)
    frame = frame.to_crs(STORE_CRS)
    frame["geometry"] = shapely.set_precision(frame.geometry.values, 10.0 ** -_DIGITS)
    return frame


def _geojson(frame, properties):
    """A GeoJSON dict of ``frame`` with only ``properties`` (JSON-safe values)."""
    features = []
    props = frame[properties].astype(object).where(frame[properties].notna(), None) if properties else None
    for i, geom in enumerate(frame.geometry.values):
        if geom is None or geom.is_empty:
            continue
        record = {k: _json_value(v) for k, v in props.iloc[i].items()} if props is not None else {}
        features.append({"type": "Feature", "properties": record,
                         "geometry": json.loads(shapely.to_geojson(geom))})
    return {"type": "FeatureCollection", "features": features}


def _with_geometry(properties, frame):
    import geopandas as gpd

    return gpd.GeoDataFrame(properties.reset_index(drop=True), geometry=frame.geometry.values, crs=frame.crs)


def _json_value(value):
    if isinstance(value, list):
        return value
    if value is None:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else round(float(value), 4)
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    return str(value)


def _num(value, digits=0):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(number):
        return "—"
    return f"{number:,.{digits}f}"


_GRID_FIELDS = {  # short property names keep the file small; _POPUP_JS expands them
    "grid_code": "code", "grid_name": "n", "district": "d", "subdistrict": "s", "community": "c",
    "households": "hh", "population": "pop", "elderly_60": "e60", "elderly_80": "e80", "demand_index": "dem",
    "gaps": "gaps", "driving_types": "dt", "site_name": "site", "site_distance_m": "sd",
}

# The popup of one grid, built in the browser from its properties: names, counts,
# demand, walking-distance gaps, the service mix as bars and the assigned site.
_POPUP_JS = """
function gmEsc(v) { return String(v).replace(/[&<>"']/g, function (c) {
  return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]; }); }
function gmNum(v, d) { return (v === null || v === undefined) ? "—" :
  Number(v).toLocaleString("zh-CN", {minimumFractionDigits: d || 0, maximumFractionDigits: d || 0}); }
var GM_SERVICES = %(services)s;
function gmPopup(p) {
  var h = "<div class='gm-pop'><b>" + gmEsc(p.n) + "</b><div class='gm-sub'>" + gmEsc(p.d) + " · " +
    gmEsc(p.s) + " · " + gmEsc(p.c) + "<br>网格编码 " + gmEsc(p.code) + "</div><table>";
  var rows = [["户数", p.hh, 0], ["常住人口", p.pop, 0], ["60岁以上", p.e60, 0], ["80岁以上", p.e80, 0],
              ["需求指数", p.dem, 1], ["步行圈内缺少养老服务", p.gaps, 0]];
  rows.forEach(function (r) { if (r[1] !== undefined) {
    h += "<tr><td>" + r[0] + "</td><td>" + gmNum(r[1], r[2]) + (r[0].indexOf("缺少") >= 0 ? " 类" : "") +
         "</td></tr>"; } });
  h += "</table>";
  if (p.mix) {
    h += "<div class='gm-h'>推荐服务组合</div>";
    p.mix.forEach(function (v, i) { var pct = Math.round((v || 0) * 100);
      h += "<div class='gm-bar'><span>" + GM_SERVICES[i] + "</span><i style='width:" + pct +
           "%%'></i><em>" + pct + "%%</em></div>"; });
    if (p.dt) { h += "<div class='gm-sub'>主要需求类型：" + gmEsc(p.dt) + "</div>"; }
  }
  if (p.site) { h += "<div class='gm-sub'>分配站点：" + gmEsc(p.site) + "（" + gmNum(p.sd) + " 米）</div>"; }
  return h + "</div>";
}
"""


def _grid_properties(grids):
    """Per-grid popup properties under short names, with the service mix as one list."""
    present = [c for c in _GRID_FIELDS if c in grids]
    frame = grids[present].rename(columns=_GRID_FIELDS)
    mix_columns = [f"mix_{s}" for s in SERVICE_LABELS if f"mix_{s}" in grids]
    if mix_columns:
        shares = grids[mix_columns].to_numpy(dtype=float).round(3)
        frame["mix"] = [None if not np.isfinite(row).any() else [float(v) if np.isfinite(v) else 0.0 for v in row]
                        for row in shares]
    return frame


_LEGEND = Template("""
{% macro html(this, kwargs) %}
<div class="gm-legend">
  <div class="gm-title">{{ this.title }}</div>
  <div class="gm-sub">{{ this.subtitle }}</div>
  {% if this.synthetic %}<div class="gm-warn">{{ this.synthetic }}</div>{% endif %}
  {% if this.demand %}<div class="gm-h">需求指数（网格）</div>
  {% for label, colour in this.demand %}<div><i style="background:{{ colour }}"></i>{{ label }}</div>{% endfor %}
  {% endif %}
  {% if this.kinds %}<div class="gm-h">养老服务设施</div>
  {% for label, colour in this.kinds %}<div><b style="background:{{ colour }}"></b>{{ label }}</div>{% endfor %}
  {% endif %}
  {% if this.sites %}<div><b style="background:#cb181d;width:14px;height:14px"></b>推荐新增站点</div>{% endif %}
  {% if this.heat %}<div><i style="background:linear-gradient(90deg,#ffffb2,#fd8d3c,#bd0026)"></i>需求热力图</div>{% endif %}
  <div class="gm-sub">{{ this.source }}</div>
</div>
{% endmacro %}
""")

_CSS = """
.leaflet-container { background: #eef2f5; }
body, .leaflet-container { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei",
  "PingFang SC", "WenQuanYi Micro Hei", sans-serif; }
.gm-legend { position: absolute; z-index: 1000; left: 10px; bottom: 48px; background: rgba(255,255,255,.93);
  padding: 8px 10px; border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.3); font-size: 12px;
  line-height: 18px; max-width: 260px; }
.gm-legend i { display: inline-block; width: 18px; height: 12px; margin-right: 6px; vertical-align: middle;
  border: 1px solid #999; }
.gm-legend b { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin: 0 10px 0 4px;
  vertical-align: middle; border: 1px solid #fff; box-shadow: 0 0 0 1px #777; }
.gm-title { font-size: 14px; font-weight: bold; color: #1f4e79; }
.gm-h { margin-top: 6px; font-weight: bold; color: #333; }
.gm-sub { color: #666; font-size: 11px; }
.gm-warn { color: #c0392b; font-size: 11px; }
.gm-pop table { border-collapse: collapse; margin: 4px 0; }
.gm-pop td { padding: 1px 8px 1px 0; }
.gm-pop td + td { text-align: right; }
.gm-bar { display: flex; align-items: center; font-size: 11px; }
.gm-bar span { width: 56px; }
.gm-bar i { display: inline-block; height: 8px; background: #4a90c2; margin-right: 4px; }
.gm-bar em { font-style: normal; color: #555; }
"""


class _Legend(MacroElement):
    """A fixed legend box (plain HTML, no external assets)."""

    _template = _LEGEND

    def __init__(self, **values):
        super().__init__()
        self._name = "GridMapLegend"
        for key, value in values.items():
            setattr(self, key, value)


def _heatmap_rgba(heatmap, max_pixels=1000):
    array = np.asarray(heatmap.array, dtype=float)
    factor = max(1, math.ceil(max(array.shape) / max_pixels))
    if factor > 1:
        rows, cols = (array.shape[0] // factor) * factor, (array.shape[1] // factor) * factor
        array = array[:rows, :cols].reshape(rows // factor, factor, cols // factor, factor).mean(axis=(1, 3))
    peak = float(array.max()) if array.size else 0.0
    from matplotlib import colormaps

    rgba = colormaps["YlOrRd"](array / peak if peak > 0 else array, bytes=True)
    rgba[..., 3] = np.where(array > peak * 0.02, 200, 0).astype("uint8")
    return rgba


def build_map(content, *, tiles=True) -> folium.Map:
    """Build the folium map of ``content`` (no external assets; see :func:`write_html`)."""
    grids = _lonlat(content.grids)
    xmin, ymin, xmax, ymax = grids.total_bounds
    m = folium.Map(location=[(ymin + ymax) / 2, (xmin + xmax) / 2], zoom_start=12, tiles=None,
                   control_scale=True, prefer_canvas=False)
    m.fit_bounds([[ymin, xmin], [ymax, xmax]])

    base = folium.FeatureGroup(name="项目矢量底图（离线）", overlay=False, show=True)
    districts = _lonlat(content.areas["district"])
    folium.GeoJson(_geojson(districts, ["name"]), name="区",
                   style_function=lambda f: {"color": "#4d4d4d", "weight": 2, "fillColor": "#fbfbf8",
                                             "fillOpacity": 1.0, "interactive": False}).add_to(base)
    if content.roads is not None and len(content.roads):
        roads = _lonlat(content.roads)
        folium.GeoJson(_geojson(roads, [c for c in ("road",) if c in roads]), name="道路",
                       style_function=lambda f: {"color": "#c8c8c8", "weight": 2, "interactive": False}
                       ).add_to(base)
    subdistricts = _lonlat(content.areas["subdistrict"])
    folium.GeoJson(_geojson(subdistricts, ["name"]), name="街道",
                   style_function=lambda f: {"color": "#8a8a8a", "weight": 1.2, "dashArray": "4 3",
                                             "fill": False, "interactive": False}).add_to(base)
    base.add_to(m)
    if tiles:
        folium.TileLayer("OpenStreetMap", name="在线地图 OpenStreetMap（需联网）", overlay=False, show=False,
                         control=True).add_to(m)

    props = _grid_properties(grids)
    layer = folium.FeatureGroup(name="网格（点击查看详情）", overlay=True, show=True)
    folium.GeoJson(_geojson(_with_geometry(props, grids), list(props.columns)),
                   style_function=lambda f: {"color": "#6b6b6b", "weight": 0.6, "fillColor": "#ffffff",
                                             "fillOpacity": 0.05},
                   highlight_function=lambda f: {"weight": 2.5, "color": "#1f4e79"},
                   tooltip=folium.GeoJsonTooltip(fields=["n"], labels=False),
                   on_each_feature=JsCode("function(feature, layer) {"
                                          " layer.bindPopup(function () { return gmPopup(feature.properties); },"
                                          " {maxWidth: 300}); }"),
                   ).add_to(layer)
    layer.add_to(m)

    demand_legend = []
    if "demand_index" in grids and grids["demand_index"].notna().any():
        colours, demand_legend = maps.choropleth(content.grids, "demand_index", classes=5, ramp="OrRd")
        grids["colour"] = colours
        choropleth = folium.FeatureGroup(name="养老需求指数", overlay=True, show=True)
        # Drawn above the grid layer but not interactive, so clicks reach the grid popups.
        folium.GeoJson(_geojson(grids, ["colour"]),
                       style_function=lambda f: {"color": "#ffffff", "weight": 0.3,
                                                 "fillColor": f["properties"]["colour"], "fillOpacity": 0.75,
                                                 "interactive": False}).add_to(choropleth)
        choropleth.add_to(m)

    if content.heatmap is not None:
        lon_min, lat_min, lon_max, lat_max = content.heatmap.bounds_lonlat
        folium.raster_layers.ImageOverlay(_heatmap_rgba(content.heatmap), bounds=[[lat_min, lon_min],
                                                                                  [lat_max, lon_max]],
                                          name="需求热力图", opacity=0.75, show=False, overlay=True,
                                          interactive=False, mercator_project=False).add_to(m)
    if content.hotspots is not None and len(content.hotspots):
        spots = _lonlat(content.hotspots)
        fields = [c for c in ("name", "grids", "demand") if c in spots]
        folium.GeoJson(_geojson(spots, fields), name="需求集中区（Gi* 热点）", show=False,
                       style_function=lambda f: {"color": "#08306b", "weight": 2.5, "dashArray": "6 4",
                                                 "fill": False},
                       popup=folium.GeoJsonPopup(fields=fields, aliases=[{"name": "需求集中区", "grids": "网格数",
                                                                         "demand": "需求指数"}[c] for c in fields]),
                       ).add_to(m)

    kinds = []
    if content.facilities is not None and len(content.facilities):
        kinds = _facility_layers(m, content)
    sites = False
    if content.plan is not None and len(content.plan.sites):
        sites = _plan_layer(m, content)

    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    subtitle = f"{content.scope_label} · 数据日期 {content.data_date}"
    _Legend(title=html.escape(content.title), subtitle=html.escape(subtitle),
            synthetic=html.escape(content.note or "合成演示数据") if content.synthetic else "",
            demand=[(html.escape(label), colour) for label, colour in demand_legend],
            kinds=[(html.escape(label), colour) for label, colour in kinds], sites=sites,
            heat=content.heatmap is not None, source="底图为项目矢量图层；在线地图为可选项").add_to(m)
    return m


def _facility_layers(m, content):
    facilities = _lonlat(content.facilities)
    radius = {}
    if content.coverage is not None and "radius_m" in content.coverage:
        radius = content.coverage.groupby("kind")["radius_m"].first().to_dict()
    load = content.facility_load.set_index("facility_id") if content.facility_load is not None else None
    if load is not None and "facility_id" in facilities:
        for column in ("load", "utilisation", "grids_served"):
            if column in load:
                facilities[column] = facilities["facility_id"].map(load[column])
    legend = []
    care = [k for k in _KIND_COLOURS if (facilities["kind"] == k).any()]
    metres = sorted({float(radius.get(k, 1000.0)) for k in care})
    circles = folium.FeatureGroup(name=f"15分钟步行圈（{'、'.join(f'{r:,.0f}' for r in metres)} 米，按设施类型着色）",
                                  overlay=True, show=False)
    for kind in care:
        colour = _KIND_COLOURS[kind]
        label = FACILITY_KIND_LABELS.get(kind, kind)
        part = facilities[facilities["kind"] == kind].copy()
        part["use"] = [f"{u:.0%}" if isinstance(u, float) and math.isfinite(u) else "—"
                       for u in part.get("utilisation", pd.Series([None] * len(part), index=part.index))]
        fields = [c for c in ("name", "kind_label", "capacity", "load", "use", "grids_served") if c in part]
        aliases = {"name": "名称", "kind_label": "类型", "capacity": "容量", "load": "测算负荷",
                   "use": "负荷率", "grids_served": "服务网格"}
        folium.GeoJson(_geojson(part, fields), name=f"设施：{label}", show=True,
                       marker=folium.CircleMarker(radius=4, weight=1, color="#ffffff", fill=True,
                                                  fill_color=colour, fill_opacity=0.95),
                       style_function=lambda f, c=colour: {"fillColor": c, "color": "#ffffff"},
                       popup=folium.GeoJsonPopup(fields=fields, aliases=[aliases[f] for f in fields])).add_to(m)
        legend.append((label, colour))
        metres = float(radius.get(kind, 1000.0))
        folium.GeoJson(_geojson(part, ["name"]),
                       marker=folium.Circle(radius=metres, weight=1, color=colour, fill=True, fill_color=colour,
                                            fill_opacity=0.06),
                       style_function=lambda f, c=colour: {"color": c, "fillColor": c, "fillOpacity": 0.06,
                                                           "weight": 1, "interactive": False}).add_to(circles)
    if care:
        circles.add_to(m)
    others = facilities[~facilities["kind"].isin(list(_KIND_COLOURS) + ["candidate"])]
    if len(others):
        fields = [c for c in ("name", "kind_label") if c in others]
        folium.GeoJson(_geojson(others, fields), name="其他生活服务设施（诊所、超市等）", show=False,
                       marker=folium.CircleMarker(radius=3, weight=0.5, color="#ffffff", fill=True,
                                                  fill_color=_OTHER_COLOUR, fill_opacity=0.8),
                       popup=folium.GeoJsonPopup(fields=fields, aliases=["名称", "类型"][:len(fields)])).add_to(m)
    return legend


def _plan_layer(m, content):
    plan = content.plan
    new = plan.sites[plan.sites["is_new"].astype(bool)]
    if not len(new):
        return False
    group = folium.FeatureGroup(name="推荐新增站点及服务网格", overlay=True, show=True)
    served = plan.grids[plan.grids["site_id"].isin(set(new["site_id"]))]
    if len(served) and {"centre_x", "centre_y"} <= set(served.columns):
        ends = new.set_index("site_id").geometry.reindex(served["site_id"].to_numpy())
        lines = shapely.linestrings(np.stack([served[["centre_x", "centre_y"]].to_numpy(dtype=float),
                                              np.column_stack([ends.x.to_numpy(), ends.y.to_numpy()])], axis=1))
        import geopandas as gpd

        frame = _lonlat(gpd.GeoDataFrame({"site_id": served["site_id"].to_numpy()}, geometry=lines,
                                         crs=METRIC_CRS))
        folium.GeoJson(_geojson(frame, []), style_function=lambda f: {"color": _NEW_SITE, "weight": 1,
                                                                      "opacity": 0.6, "interactive": False}
                       ).add_to(group)
    sites = _lonlat(new)
    sites["gained"] = [_num(v) for v in sites["demand_gained"]]
    fields = [c for c in ("name", "grids_served", "gained", "load", "capacity") if c in sites]
    aliases = {"name": "推荐站点", "grids_served": "服务网格数", "gained": "新增服务需求", "load": "所需容量",
               "capacity": "设计容量"}
    folium.GeoJson(_geojson(sites, fields),
                   marker=folium.CircleMarker(radius=9, weight=2.5, color="#ffffff", fill=True, fill_color=_NEW_SITE,
                                              fill_opacity=1.0),
                   popup=folium.GeoJsonPopup(fields=fields, aliases=[aliases[f] for f in fields])).add_to(group)
    group.add_to(m)
    return True


def _strip_cdn(element):
    """Drop the CDN links folium and its plugins would add to the page header."""
    if hasattr(element, "default_js"):
        element.default_js = []
    if hasattr(element, "default_css"):
        element.default_css = []
    for child in element._children.values():
        _strip_cdn(child)


def offline_problems(text) -> list:
    """Scripts, style sheets and images in ``text`` that a browser would fetch from a network.

    Links for the user to follow (``<a href>``) and the optional tile layer's URL
    template, which loads only when the user selects it, do not count.
    """
    import re

    pattern = re.compile(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*[\"']?\s*(https?:)?//", re.IGNORECASE)
    found = [match.group(0) for match in pattern.finditer(text)]
    found += re.findall(r"@import\s+url\(\s*[\"']?(?:https?:)?//[^)]*\)", text)
    return found


def write_html(content, path, *, tiles=True) -> Path:
    """Write the offline interactive map of ``content`` to ``path`` (one self-contained file).

    Parameters
    ----------
    content : ReportContent
    path : str or Path
    tiles : bool, default True
        Offer an OpenStreetMap base layer (unselected; fetched only if the user picks it).

    Raises
    ------
    GridMapError
        If the rendered page would still fetch a script or style sheet over the
        network (a folium upgrade adding a CDN asset would be caught here).
    """
    path = Path(path)
    m = build_map(content, tiles=tiles)
    _strip_cdn(m)
    root = m.get_root()
    _strip_cdn(root)
    css = (WEB_ASSETS / "leaflet.css").read_text(encoding="utf-8")
    js = (WEB_ASSETS / "leaflet.js").read_text(encoding="utf-8")
    root.header.add_child(Element(f"<style>{css}</style>"), name="leaflet_css_inline", index=0)
    root.header.add_child(Element(f"<style>{_CSS}</style>"), name="gridmap_css")
    root.header.add_child(Element(f"<script>{js}</script>"), name="leaflet_js_inline", index=1)
    root.header.add_child(Element(f"<title>{html.escape(content.title)}</title>"), name="title")
    services = json.dumps(list(SERVICE_LABELS.values()), ensure_ascii=False)
    root.header.add_child(Element(f"<script>{_POPUP_JS % {'services': services}}</script>"), name="gm_popup")
    text = root.render()
    problems = offline_problems(text)
    if problems:
        raise GridMapError(f"the HTML map would load assets from the network: {problems[:3]}")
    path.write_text(text, encoding="utf-8")
    return path
