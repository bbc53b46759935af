"""Divide the demo city's built-up area into sub-districts, communities and grids.

The hierarchy is district -> sub-district (街道) -> community (社区) -> grid (网格),
coded as 6-digit GB/T 2260 district + 3-digit sub-district + 3-digit community +
3-digit grid. Each level is a density-weighted partition of its parent
(:func:`gridmap.grids.partition.partition_polygon`), so children tile their parent,
grids are small where people are dense, and nothing is a regular lattice. Only the
one-off script ``scripts/make_demo_boundaries.py`` runs this; the result is committed.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import METRIC_CRS
from gridmap.grids.partition import partition_polygon

__all__ = ["SUBDISTRICTS", "URBAN_GRIDS", "GEZHOUBA_GRIDS", "GEZHOUBA_COMMUNITIES", "divide_city"]

URBAN_GRIDS = 1203
GEZHOUBA_GRIDS = 218
GEZHOUBA_COMMUNITIES = 28
GRIDS_PER_COMMUNITY = 7.5

# Sub-districts (街道) per district; the Gezhouba ones are listed separately.
SUBDISTRICTS = {
    "420502": ["西陵街道", "学院街道", "云集街道", "夜明珠街道", "窑湾街道", "东苑街道", "南苑街道", "北苑街道"],
    "420503": ["大公桥街道", "万寿桥街道", "宝塔河街道", "伍家岗街道"],
    "420504": ["点军街道"],
    "420505": ["古老背街道", "云池街道", "虎牙街道"],
}
GEZHOUBA_SUBDISTRICTS = ("西坝街道", "葛洲坝街道")  # south to north, both in 西陵区

_COMMUNITY_STEMS = (
    "桃花岭 滨江 福寿 铁路坝 白龙岗 夜明珠 南湖 东山 绿萝 锁堂 云集 学院 紫阳 松林 土门 万寿 宝塔 伍临 共联 紫云 "
    "杨岔 花艳 长江 西湖 港窑 北山 隆康 樵湖 金缔 常刘 柏临 中南 大公 桔城 胜利 天然塔 珍珠 青岛 环城 四方 "
    "建设 建华 沙河 虎牙 云池 古老背 猇亭 临江 桥边 江南 朱家坪 五龙 石门 牛扎坪 磨基山 文化 体育 王家 张家湾 "
    "黄河 长城 南苑 北苑 东苑 窑湾 晓溪 白沙 金岸 银杏 阳光 幸福 和平 兴隆 友谊 红旗 光明 前进 振兴 港口 江城 "
    "秀水 清溪 翠屏 观江 夷山 凤凰 麒麟 卧龙 青龙 笔架 白鹤 鸿运 望江 东湖 城东 桃子冲 李家湖 三峡 柏树 五一 "
    "解放 新华 中山 天宝 西陵 得胜 二马路 一马路 大南门 小南门 镇江阁 九码头 十三码头 夷陵 西山 东岳 杨林 万达 "
    "丽景 运河 泰山 华山 峨眉 黄龙 鸦鹊岭 梅子垭 龙盘湖 合益 长湖 双峰 花溪 汉宜 宜昌 南津 北门 东门 西门 金桥 "
    "银河 玉泉 荷花 梨园 竹园 柳林 桂花 兰亭 梅园 松岗 明珠 映山 红星 三游洞 下牢溪 龙泉 鹤林 江景 世纪 东辰 "
    "香山 碧波 绿洲 晴川 锦绣 春晖 朝阳 月亮湾 星湖 曙光 新城 汽车站 火车站 北湖 上河 下河 杉树 樟树 石板 铁坝"
).split()
_GEZHOUBA_STEMS = (
    "坝洲 三江 水电 船闸 大坝 枢纽 电厂 西坝 葛洲坝 新坝 船厂 平湖 镇川 望洲 前坪 江峡 建筑 机电 "
    "电力 工程 联营 福山 三闸 二江 长岭 樵湖岭 金家坝 坝河 黄柏河 枫林 清江 葛洲"
).split()


def _apportion(total, mass, minimum=1):
    """Split ``total`` into integers ∝ ``mass`` with at least ``minimum`` each (largest remainder)."""
    mass = np.asarray(mass, dtype="float64")
    base = np.full(len(mass), minimum)
    rest = total - base.sum()
    if rest < 0:
        raise ValueError(f"cannot give {len(mass)} parts at least {minimum} out of {total}")
    share = rest * mass / mass.sum()
    out = base + np.floor(share).astype(int)
    remainder = total - out.sum()
    out[np.argsort(-(share - np.floor(share)), kind="stable")[:remainder]] += 1
    return out


def _reading_order(polygons):
    """Indices ordering polygons north to south, then west to east (in 500 m bands)."""
    centres = shapely.centroid(np.asarray(polygons, dtype=object))
    x, y = shapely.get_x(centres), shapely.get_y(centres)
    return np.lexsort((x, -np.floor(y / 500.0)))


def _inside(area, points):
    return points[shapely.contains_xy(area, points[:, 0], points[:, 1])]


def divide_city(districts, gezhouba_area, sample, seed=2013):
    """Divide the built-up area into the coded hierarchy.

    Parameters
    ----------
    districts : dict
        ``{code: (name, polygon)}`` of built-up district areas in metres that tile the
        city without overlaps.
    gezhouba_area : shapely geometry
        The part of 西陵区 (420502) that forms the Gezhouba zone.
    sample : (n, 2) array
        Density-weighted points spread over the whole built-up area.
    seed : int
        Seed of every k-means initialisation.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per grid, in EPSG:4546, with codes and names of every level and
        ``zone`` (``urban`` or ``gezhouba``); node it (in the CRS it is stored in)
        with :func:`gridmap.grids.partition.node_coverage` before use.
    """
    plan = []  # (district code, district name, sub-district name, zone, polygon, points)
    for code, (dname, area) in districts.items():
        names = SUBDISTRICTS[code]
        if code == "420502":
            gz = shapely.intersection(area, gezhouba_area)
            rest = shapely.difference(area, gz)
            gz_parts = partition_polygon(gz, _inside(gz, sample), 2, random_state=seed)
            south_first = np.argsort(shapely.get_y(shapely.centroid(np.asarray(gz_parts, dtype=object))))
            for name, idx in zip(GEZHOUBA_SUBDISTRICTS, south_first):
                plan.append((code, dname, name, "gezhouba", gz_parts[idx]))
            area = rest
        parts = partition_polygon(area, _inside(area, sample), len(names), random_state=seed)
        for name, idx in zip(names, _reading_order(parts)):
            plan.append((code, dname, name, "urban", parts[idx]))

    mass = np.array([len(_inside(p[4], sample)) for p in plan], dtype=float)
    zones = np.array([p[3] for p in plan])
    grids_per_sub = np.zeros(len(plan), dtype=int)
    comms_per_sub = np.zeros(len(plan), dtype=int)
    for zone, total in (("urban", URBAN_GRIDS), ("gezhouba", GEZHOUBA_GRIDS)):
        sel = np.flatnonzero(zones == zone)
        grids_per_sub[sel] = _apportion(total, mass[sel], minimum=3)
        if zone == "gezhouba":
            comms_per_sub[sel] = _apportion(GEZHOUBA_COMMUNITIES, np.ones(len(sel)))
        else:
            comms_per_sub[sel] = np.maximum(1, np.round(grids_per_sub[sel] / GRIDS_PER_COMMUNITY))

    stems = {"urban": iter(_COMMUNITY_STEMS), "gezhouba": iter(_GEZHOUBA_STEMS)}
    rows = []
    sub_counter = {}
    for (code, dname, sname, zone, sub_poly), n_grids, n_comms in zip(plan, grids_per_sub, comms_per_sub):
        sub_counter[code] = sub_counter.get(code, 0) + 1
        sub_code = f"{code}{sub_counter[code]:03d}"
        sub_points = _inside(sub_poly, sample)
        comms = partition_polygon(sub_poly, sub_points, int(n_comms), random_state=seed)
        comms = [comms[i] for i in _reading_order(comms)]
        comm_points = [_inside(c, sub_points) for c in comms]
        grids_per_comm = _apportion(int(n_grids), [len(p) for p in comm_points], minimum=2)
        for c_idx, (comm, pts, k) in enumerate(zip(comms, comm_points, grids_per_comm), start=1):
            comm_code = f"{sub_code}{c_idx:03d}"
            comm_name = next(stems[zone]) + "社区"
            grids = partition_polygon(comm, pts, int(k), random_state=seed)
            for g_idx, order in enumerate(_reading_order(grids), start=1):
                rows.append(
                    {
                        "grid_code": f"{comm_code}{g_idx:03d}",
                        "grid_name": f"{comm_name}第{g_idx}网格",
                        "community_code": comm_code,
                        "community": comm_name,
                        "subdistrict_code": sub_code,
                        "subdistrict": sname,
                        "district_code": code,
                        "district": dname,
                        "zone": zone,
                        "geometry": grids[order],
                    }
                )
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=METRIC_CRS)
