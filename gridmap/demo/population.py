"""The demo's synthetic population registry (人口信息库), shaped like a real export.

Every value is drawn from a seeded generator; the marginals are set to look like
Yichang (a quarter of residents 60+, about 4% 80+, households of 2.7 on average)
but no row describes a real person.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridmap.crs import wgs84_to_gcj02
from gridmap.idnumber import check_digit

__all__ = ["REFERENCE_DATE", "make_households", "make_residents", "messy_addresses", "terminal_coordinates"]

REFERENCE_DATE = pd.Timestamp("2025-12-31")  # the registry's "data as of" date

SURNAMES = list("王李张刘陈杨黄赵周吴徐孙马胡朱郭何罗高林郑梁谢宋唐许邓冯韩曹曾彭萧蔡潘田董袁于余叶蒋杜苏魏程吕丁沈任姚卢傅钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹熊孟秦白江阎薛尹段雷黎史龙陶贺顾毛郝龚邵万覃")
SURNAME_WEIGHTS = np.linspace(3.0, 0.3, len(SURNAMES))
GIVEN_CHARS = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华玉萍红娥玲芬燕彬斌宇浩凯健俊帆帅旭宁龙林欣"
    "佳怡雪梅琳晨瑶婷倩颖露瑞博文轩子涵梓睿思诗雨萱嘉鑫鹏飞志国建新春海波辉德福荣金桂珍凤云莲翠兵"
)
HOUSEHOLD_SIZES = np.array([1, 2, 3, 4, 5, 6])
HOUSEHOLD_SIZE_P = np.array([0.17, 0.33, 0.27, 0.14, 0.07, 0.02])
# Share of residents per 5-year age band 0-4 ... 95-99 (60+ ~ 25%, 80+ ~ 4%).
AGE_BAND_WEIGHTS = np.array([4.0, 4.4, 4.6, 4.3, 4.8, 6.0, 6.8, 7.2, 7.4, 7.6, 8.0, 8.2, 6.0, 5.4, 3.9, 2.7, 1.5, 0.85, 0.4, 0.12])
LOCAL_AREA_CODES = ["420502", "420503", "420504", "420505", "420506", "420581", "420582", "420583", "420525", "420527"]
OTHER_AREA_CODES = ["420106", "421002", "420802", "422801", "500101", "430602", "411302", "510107"]
SKILLS = ["电工", "焊工", "厨师", "保洁", "驾驶", "护理", "家政", "会计", "计算机", "销售", "物流", "保安", "维修", "育婴"]
EDUCATION = ["小学", "初中", "高中", "中专", "大专", "本科", "研究生"]
INCOME_BANDS = ["低收入", "中低收入", "中等收入", "中高收入", "高收入"]


def make_households(buildings, households_per_grid, rng):
    """Place ``households_per_grid`` households into each grid's buildings.

    Returns a DataFrame with ``household_id``, ``building_id``, ``unit``, ``floor``,
    ``room`` and ``size``.
    """
    grid_of_building = buildings["grid_code"].to_numpy()
    codes, first = np.unique(grid_of_building, return_index=True)
    counts = dict(zip(buildings["grid_code"].unique(), households_per_grid))
    picks = []
    for code in codes:
        members = np.flatnonzero(grid_of_building == code)
        n = int(counts[code])
        weight = buildings["capacity"].to_numpy()[members].astype(float)
        picks.append(members[rng.choice(len(members), size=n, p=weight / weight.sum())])
    building_idx = np.sort(np.concatenate(picks))
    n = len(building_idx)
    seq = pd.Series(building_idx).groupby(building_idx).cumcount().to_numpy()
    units = 1 + seq % 4
    floors = 1 + (seq // 4) % 18
    rooms = floors * 100 + 1 + (seq // 72) % 4
    return pd.DataFrame(
        {
            "household_id": [f"H{i:07d}" for i in range(1, n + 1)],
            "building_id": buildings["building_id"].to_numpy()[building_idx],
            "unit": units,
            "floor": floors,
            "room": rooms,
            "size": rng.choice(HOUSEHOLD_SIZES, size=n, p=HOUSEHOLD_SIZE_P),
        }
    )


def _names(n, rng):
    surnames = np.array(SURNAMES, dtype=object)[rng.choice(len(SURNAMES), n, p=SURNAME_WEIGHTS / SURNAME_WEIGHTS.sum())]
    chars = np.array(GIVEN_CHARS, dtype=object)
    first = chars[rng.integers(0, len(chars), n)]
    second = np.where(rng.random(n) < 0.7, chars[rng.integers(0, len(chars), n)], "")
    return surnames + first + second


def _id_numbers(area, birth, male, rng):
    n = len(area)
    ids = np.empty(n, dtype=object)
    todo = np.arange(n)
    taken = set()
    while len(todo):
        seq = rng.integers(0, 500, len(todo)) * 2 + np.where(male[todo], 1, 0)
        first17 = pd.Series(area[todo]) + pd.Series(birth[todo]) + pd.Series(seq).map("{:03d}".format)
        full = (first17 + check_digit(first17.tolist())).to_numpy()
        clash = np.zeros(len(todo), dtype=bool)
        for i, value in enumerate(full):
            if value in taken:
                clash[i] = True
            else:
                taken.add(value)
        ids[todo[~clash]] = full[~clash]
        todo = todo[clash]
    return ids


def make_residents(households, rng):
    """One row per resident with identity, household, demographic and need fields."""
    size = households["size"].to_numpy()
    hh_idx = np.repeat(np.arange(len(households)), size)
    n = len(hh_idx)
    band = rng.choice(len(AGE_BAND_WEIGHTS), n, p=AGE_BAND_WEIGHTS / AGE_BAND_WEIGHTS.sum())
    age = band * 5 + rng.integers(0, 5, n)
    # A one-person household is far more often an older person living alone.
    alone = size[hh_idx] == 1
    lift = alone & (rng.random(n) < 0.35)
    age = np.where(lift, rng.integers(60, 95, n), np.maximum(age, np.where(alone, 18, 0)))
    male = rng.random(n) < np.where(age >= 75, 0.44, 0.505)
    birth_dates = REFERENCE_DATE - pd.to_timedelta(age * 365.25 + rng.integers(0, 365, n), unit="D")
    birth_str = birth_dates.strftime("%Y%m%d").to_numpy()
    local = rng.random(n) < 0.82
    area = np.where(
        local,
        np.array(LOCAL_AREA_CODES, dtype=object)[rng.integers(0, len(LOCAL_AREA_CODES), n)],
        np.array(OTHER_AREA_CODES, dtype=object)[rng.integers(0, len(OTHER_AREA_CODES), n)],
    )
    old = age >= 60
    frail = rng.random(n)
    disability_risk = np.clip((age - 60) / 35.0, 0, 1) ** 2
    self_care = np.where(frail < 0.02 + 0.30 * disability_risk, "失能",
                         np.where(frail < 0.06 + 0.55 * disability_risk, "半失能", "自理"))
    self_care = np.where((age < 60) & (frail > 0.004), "自理", self_care)
    working_age = (age >= 16) & (age < 60)
    employment = np.select(
        [age < 6, age < 16, (age < 23) & (rng.random(n) < 0.6), working_age & (rng.random(n) < 0.06),
         working_age & (rng.random(n) < 0.12), working_age, age >= 60],
        ["学龄前", "在校", "在校", "失业", "灵活就业", "在职", "退休"],
        default="无业",
    )
    edu_idx = np.clip(rng.normal(3.2 - (age > 55) * 1.4, 1.3, n).round().astype(int), 0, len(EDUCATION) - 1)
    education = np.where(age < 16, "", np.array(EDUCATION, dtype=object)[edu_idx])
    seeker = np.isin(employment, ["失业", "灵活就业"])
    skills_a = np.array(SKILLS, dtype=object)[rng.integers(0, len(SKILLS), n)]
    skills_b = np.array(SKILLS, dtype=object)[rng.integers(0, len(SKILLS), n)]
    skills = np.where(seeker, np.where(rng.random(n) < 0.4, skills_a + "," + skills_b, skills_a), "")
    income_idx = np.clip(rng.normal(2.1 - old * 0.5, 1.0, n).round().astype(int), 0, len(INCOME_BANDS) - 1)
    hukou = np.where(local, np.where(rng.random(n) < 0.78, "本地城镇", "本地农业"), "外地")
    frame = pd.DataFrame(
        {
            "person_id": [f"P{i:07d}" for i in range(1, n + 1)],
            "name": _names(n, rng),
            "id_number": _id_numbers(area, birth_str, male, rng),
            "sex": np.where(male, "男", "女"),
            "birth_date": birth_dates.strftime("%Y-%m-%d"),
            "age": age,
            "household_id": households["household_id"].to_numpy()[hh_idx],
            "relation": np.where(pd.Series(hh_idx).duplicated().to_numpy(), "家庭成员", "户主"),
            "hukou_type": hukou,
            "self_care": self_care,
            "living_alone": alone & old,
            "chronic_illness": rng.random(n) < np.clip(0.05 + (age - 40) * 0.012, 0.02, 0.7),
            "income_band": np.array(INCOME_BANDS, dtype=object)[income_idx],
            "employment": employment,
            "education": education,
            "skills": skills,
        }
    )
    return frame, hh_idx


_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_HOMOPHONES = dict(zip("苑园庭湾景都城港峰林泉府居洲岸台阁", "园苑亭弯井督成岗锋琳全符局州按抬格"))
_CN_DIGITS = dict(enumerate("零一二三四五六七八九"))


def _chinese_number(n):
    if n < 10:
        return _CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + ("" if ones == 0 else _CN_DIGITS[ones])


def messy_addresses(parts, rng):
    """Write each address the many ways registries hold them.

    ``parts`` has ``district``, ``road``, ``door``, ``compound``, ``building``, ``unit``
    and ``room``. Returns a Series of address strings: with or without province, city
    and district, 栋/幢/号楼, Chinese numerals, full-width digits, stray spaces and
    punctuation, a compound without its road, and the odd one-character typo.
    """
    n = len(parts)
    r = rng.random((11, n))
    has_compound = parts["compound"].to_numpy() != ""
    building = parts["building"].astype(str).to_numpy()
    compound = parts["compound"].to_numpy().astype(object)
    # A homophone in the compound name (锦苑 written 锦园), as clerks mistype.
    misspelt = has_compound & (r[8] < 0.01)
    compound[misspelt] = [c[0] + _HOMOPHONES.get(c[1], c[1]) + c[2:] for c in compound[misspelt]]
    door = parts["door"].astype(int).to_numpy()
    # A door number a few plates off, which the gazetteer does not know.
    door = np.where(~has_compound & (r[9] < 0.01), door + 2 * rng.integers(1, 4, n), door)
    marker = np.select([r[0] < 0.55, r[0] < 0.75, r[0] < 0.92], ["栋", "号楼", "幢"], default="座")
    cn_building = np.array([_chinese_number(int(b)) if b.isdigit() and int(b) <= 99 else b for b in building], dtype=object)
    building_text = np.where(r[1] < 0.06, cn_building, building) + marker
    unit = parts["unit"].astype(str).to_numpy()
    room = parts["room"].astype(str).to_numpy()
    unit_text = np.where(r[2] < 0.5, unit + "单元" + room + "室", np.where(r[2] < 0.8, unit + "-" + room, unit + "单元" + room))
    road_part = parts["road"].to_numpy() + door.astype(str) + "号"
    # Some write the compound and unit but not the building.
    building_text = np.where(has_compound & (r[10] < 0.005), "", building_text)
    compound_part = np.where(has_compound, compound + building_text, "")
    # One compound address in six leaves out the road, as residents often do.
    drop_road = has_compound & (r[3] < 0.17)
    body = np.where(drop_road, compound_part, road_part + compound_part) + unit_text
    district = parts["district"].to_numpy()
    prefix = np.select(
        [r[4] < 0.30, r[4] < 0.50, r[4] < 0.80, r[4] < 0.86],
        ["湖北省宜昌市" + district, "宜昌市" + district, district, np.array([d[:-1] for d in district], dtype=object)],
        default="",
    )
    out = pd.Series(prefix + body)
    spaced = r[5] < 0.05
    out[spaced] = out[spaced].str.replace("号", "号 ", n=1, regex=False).str.replace("市", "市，", n=1, regex=False)
    wide = r[6] < 0.05
    out[wide] = out[wide].str.translate(_FULL_WIDTH)
    typo = r[7] < 0.015
    out[typo] = out[typo].str.replace("单元", "单远", n=1, regex=False).str.replace("大道", "大到", n=1, regex=False)
    return out


def terminal_coordinates(x, y, share, rng):
    """GCJ-02 lon/lat for a ``share`` of points, as grid workers' terminals report them.

    ``x, y`` are CGCS2000 lon/lat; the rest are NaN. Readings scatter by a few metres.
    """
    n = len(x)
    has = rng.random(n) < share
    jitter = rng.normal(0, 6.0 / 111_000, (2, n))
    lon, lat = wgs84_to_gcj02(np.asarray(x) + jitter[0], np.asarray(y) + jitter[1])
    return np.where(has, np.round(lon, 6), np.nan), np.where(has, np.round(lat, 6), np.nan)
