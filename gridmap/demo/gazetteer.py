"""The demo's standard address gazetteer (标准地址库): roads, door numbers, compounds, buildings.

Roads follow the city's grain: avenues parallel to the Yangtze and streets across it,
gently curved, named after real Yichang roads where the name exists. Buildings are
placed with the population density inside each grid, grouped into residential
compounds (小区), and addressed by the nearest road with door numbers that rise along
the road (odd on one side, even on the other), as Chinese door plates do.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import METRIC_CRS
from gridmap.demo.density import density

__all__ = ["AVENUE_NAMES", "STREET_NAMES", "make_roads", "make_buildings"]

AVENUE_NAMES = (
    "沿江大道 解放路 夷陵大道 东山大道 城东大道 发展大道 港窑路 桔城路 西陵二路 东湖路 "
    "黄河路 长江路 花溪路 果园路 峡州路 江城大道 金岸路 汉宜路 伍临路 紫阳路 江南大道 虎牙路 古老背路 云池大道 "
    "滨江路 夷兴大道 宜兴路 长城路 西坝路 樵湖路 杨岔大道 合益大道 峡江路 龙盘湖大道 江汉路 桃花岭路"
).split()
STREET_NAMES = (
    "胜利一路 胜利二路 胜利三路 胜利四路 西陵一路 云集路 珍珠路 体育场路 隆中路 西湖路 夷陵路 葛洲坝路 "
    "环城北路 环城南路 学院街 二马路 一马路 四方堰路 白龙岗路 北山坡路 铁路坝路 樵湖一路 樵湖二路 大公桥路 "
    "万寿桥路 宝塔河路 中南路 柏临路 常刘路 合益路 长湖路 东苑路 南苑路 北苑路 白沙路 杨岔路 共联路 "
    "紫云路 万达路 运河路 峡口路 滨湖路 三峡路 清溪路 银杏路 桂花路 松林路 荷花路 梨园路 竹园路 "
    "柳林路 映山路 鹤林路 晴川路 望江路 观江路 平湖路 坝洲路 三江路 船闸路 枢纽路 电厂路 镇川路 "
    "望洲路 前坪路 联营路 福山路 二江路 长岭路 枫林路 清江路 锦绣路 春晖路 朝阳路 星湖路 曙光路 "
    "新城路 北湖路 上河路 下河路 杉树路 樟树路 石板路 铁坝路 建设路 建华路 沙河路 临江路 桥边路 "
    "五龙路 石门路 文化路 王家路 张家湾路 兴隆路 友谊路 红旗路 光明路 前进路 振兴路 港口路 翠屏路 凤凰路"
).split()
COMPOUND_STEMS_A = "金 银 翠 锦 华 丽 东 西 南 北 江 滨 湖 山 桃 李 梅 兰 竹 菊 松 柏 阳 明 安 康 福 瑞 祥 和 泰 嘉 鸿 盛 宏 兴 隆 新 秀 清".split()
COMPOUND_STEMS_B = "苑 庭 湾 园 城 岸 景 都 港 峰 林 泉 府 邸 轩 阁 居 坊 里 庄 洲 汀 廷 郡 台 堤 坡 塘 桥 湖".split()
COMPOUND_SUFFIXES = ("小区", "花园", "家园", "公寓", "新村", "佳苑", "大院", "雅居")
AVENUE_SPACING = 560.0
STREET_SPACING = 430.0
RIVER_BEARING = np.deg2rad(-50.0)  # the Yangtze runs north-west to south-east through town
DOOR_SPACING = 12.0  # metres of frontage per door number


def _frame(area):
    """Unit vectors along and across the river, and the area's extent in those coordinates."""
    along = np.array([np.cos(RIVER_BEARING), np.sin(RIVER_BEARING)])
    across = np.array([-along[1], along[0]])
    xy = shapely.get_coordinates(area)
    u, v = xy @ along, xy @ across
    return along, across, (u.min(), u.max()), (v.min(), v.max())


def make_roads(area, rng):
    """Named, gently curved roads over the built-up ``area`` (metres), clipped to it.

    Returns a GeoDataFrame with ``road_id``, ``road`` (name), ``kind`` and the
    unclipped ``line`` used to measure door numbers; geometry is the clipped road.
    """
    along, across, (u0, u1), (v0, v1) = _frame(area)
    rows = []
    for kind, spacing, lo, hi, span, direction, offset_dir in (
        ("avenue", AVENUE_SPACING, v0, v1, (u0, u1), along, across),
        ("street", STREET_SPACING, u0, u1, (v0, v1), across, along),
    ):
        for offset in np.arange(lo + spacing / 2, hi, spacing):
            t = np.linspace(span[0] - 200, span[1] + 200, 120)
            wobble = 60.0 * np.sin(t / 1700.0 + rng.uniform(0, 2 * np.pi)) + rng.normal(0, 25.0)
            pts = np.outer(t, direction) + np.outer(offset + wobble, offset_dir)
            line = shapely.LineString(pts)
            clipped = shapely.intersection(line, area)
            if clipped.length < 150.0:
                continue
            rows.append({"kind": kind, "line": line, "geometry": clipped})
    roads = gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)
    # Longest roads get the best-known names; the rest get the remaining names in order.
    roads = roads.assign(length=roads.length).sort_values(["kind", "length"], ascending=[True, False])
    names = {"avenue": iter(AVENUE_NAMES), "street": iter(STREET_NAMES)}
    fallback = iter("新" + name for name in STREET_NAMES)
    roads["road"] = [next(names[k], None) or next(fallback) for k in roads["kind"]]
    roads = roads.reset_index(drop=True)
    roads.insert(0, "road_id", [f"R{i:04d}" for i in range(1, len(roads) + 1)])
    return roads.drop(columns="length")


def _compound_names(n, rng):
    combos = [a + b + s for s in COMPOUND_SUFFIXES for a in COMPOUND_STEMS_A for b in COMPOUND_STEMS_B]
    if n > len(combos):
        raise ValueError(f"only {len(combos)} compound names for {n} compounds")
    order = rng.permutation(len(combos))[:n]
    return [combos[i] for i in order]


def _sample_in_polygons(polygons, counts, rng):
    """Density-weighted random points: ``counts[i]`` of them inside ``polygons[i]`` (metres)."""
    xs, ys, owner = [], [], []
    for i, (poly, n) in enumerate(zip(polygons, counts)):
        if n == 0:
            continue
        minx, miny, maxx, maxy = poly.bounds
        got_x, got_y, got = [], [], 0
        shapely.prepare(poly)
        while got < n:
            m = max(8 * (n - got), 64)
            x = rng.uniform(minx, maxx, m)
            y = rng.uniform(miny, maxy, m)
            d = density(x, y)
            keep = (rng.uniform(0, d.max(), m) < d) & shapely.contains_xy(poly, x, y)
            got_x.append(x[keep])
            got_y.append(y[keep])
            got += int(keep.sum())
        xs.append(np.concatenate(got_x)[:n])
        ys.append(np.concatenate(got_y)[:n])
        owner.append(np.full(n, i))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(owner)


def make_buildings(grids_metric, households, roads, rng):
    """Buildings for each grid, grouped into compounds and addressed on the nearest road.

    Parameters
    ----------
    grids_metric : GeoDataFrame
        Grids in EPSG:4546 with ``grid_code`` and ``district``.
    households : array of int
        Households to house in each grid (same order as ``grids_metric``).
    roads : GeoDataFrame
        From :func:`make_roads`.

    Returns
    -------
    GeoDataFrame
        One row per building (EPSG:4546): ``building_id``, ``grid_code``, ``district``,
        ``road``, ``door``, ``compound`` ("" for a stand-alone building), ``building``
        (number within its compound, "" when stand-alone), ``capacity`` (households it
        can hold) and ``standard_address``.
    """
    households = np.asarray(households)
    # Dense grids have high-rise compounds; the edges have small walk-ups.
    per_building = np.clip(households / 6.0, 8, 60)
    n_buildings = np.maximum(1, np.ceil(households / per_building * rng.uniform(1.1, 1.4, len(households)))).astype(int)
    x, y, owner = _sample_in_polygons(grids_metric.geometry.values, n_buildings, rng)
    b = pd.DataFrame({"x": x, "y": y, "grid": owner})

    # Compounds: consecutive buildings of a grid, 3-15 each; about one building in eight stands alone.
    standalone = rng.random(len(b)) < 0.12
    compound_id = np.full(len(b), -1)
    next_id = 0
    for grid, idx in b.groupby("grid").indices.items():
        idx = idx[~standalone[idx]]
        if len(idx) == 0:
            continue
        order = idx[np.lexsort((b["y"].values[idx], b["x"].values[idx]))]
        sizes = []
        left = len(order)
        while left > 0:
            s = min(left, int(rng.integers(3, 16)))
            sizes.append(s)
            left -= s
        for s, chunk in zip(sizes, np.split(order, np.cumsum(sizes)[:-1])):
            compound_id[chunk] = next_id
            next_id += 1
    b["compound_id"] = compound_id
    names = np.array(_compound_names(next_id, rng), dtype=object)

    # An address point per compound (its centroid) or stand-alone building.
    b["site"] = np.where(compound_id >= 0, compound_id, next_id + np.arange(len(b)))
    sites = b.groupby("site", sort=True).agg(x=("x", "mean"), y=("y", "mean"))
    site_pts = shapely.points(sites["x"].values, sites["y"].values)
    tree = shapely.STRtree(roads.geometry.values)
    nearest = tree.query_nearest(site_pts, all_matches=False)[1]
    lines = roads["line"].values[nearest]
    pos = shapely.line_locate_point(lines, site_pts)
    here = shapely.line_interpolate_point(lines, pos)
    ahead = shapely.line_interpolate_point(lines, pos + 1.0)
    heading = shapely.get_coordinates(ahead) - shapely.get_coordinates(here)
    offset = sites[["x", "y"]].to_numpy() - shapely.get_coordinates(here)
    side = heading[:, 0] * offset[:, 1] - heading[:, 1] * offset[:, 0]
    door = 2 * np.floor(pos / (2 * DOOR_SPACING)).astype(int) + np.where(side >= 0, 1, 2)
    sites["road"] = roads["road"].values[nearest]
    sites["door"] = _unique_doors(sites["road"].values, door)
    b = b.join(sites[["road", "door"]], on="site")

    b["compound"] = np.where(compound_id >= 0, names[np.maximum(compound_id, 0)], "")
    b["building"] = ""
    in_compound = compound_id >= 0
    b.loc[in_compound, "building"] = (b[in_compound].groupby("compound_id").cumcount() + 1).astype(str)
    b["capacity"] = np.maximum(1, np.round(per_building[b["grid"].values])).astype(int)
    grid_codes = grids_metric["grid_code"].to_numpy()
    districts = grids_metric["district"].to_numpy()
    b["grid_code"] = grid_codes[b["grid"].values]
    b["district"] = districts[b["grid"].values]
    b["door"] = b["door"].astype(str)
    base = "湖北省宜昌市" + b["district"] + b["road"] + b["door"] + "号"
    b["standard_address"] = np.where(in_compound, base + b["compound"] + b["building"] + "栋", base)
    b.insert(0, "building_id", [f"B{i:06d}" for i in range(1, len(b) + 1)])
    geometry = shapely.points(b["x"].values, b["y"].values)
    cols = ["building_id", "grid_code", "district", "road", "door", "compound", "building", "capacity", "standard_address"]
    return gpd.GeoDataFrame(b[cols], geometry=geometry, crs=METRIC_CRS)


def _unique_doors(roads, doors):
    """Make (road, door) unique by moving a clash to the next free number on the same side."""
    taken = set()
    out = np.empty(len(doors), dtype=int)
    for i, (road, door) in enumerate(zip(roads, doors)):
        while (road, door) in taken:
            door += 2
        taken.add((road, door))
        out[i] = door
    return out
