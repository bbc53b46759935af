"""The demo's department records: what 民政, 公安, 卫健, 人社, 房管, 公积金, 工商, 税务 and 医保 hand over.

Every roll is drawn from the demo's population registry with its own seeded
generator (``seed + 8``), so adding these files leaves every earlier random stream and
output of the demo unchanged. The records carry the errors real ones have: adjacent
digits transposed in ID numbers, homophone characters in names, dates a day off,
missing ID numbers in hospital records. Planted cases (pensions paid to the dead,
ineligible 低保 households, duplicate medical enrolment, ideal job matches) are listed
in ``audit_truth.csv``, which only tests and benchmarks read.

The deceased stay in the population registry: the grid's base was not told, which is
the information gap the cross-checks close.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gridmap.audit.rolls import write_roll
from gridmap.demo.population import EDUCATION, OTHER_AREA_CODES, REFERENCE_DATE, SKILLS, _names
from gridmap.idnumber import check_digit

__all__ = [
    "AUDIT_TRUTH_FILE",
    "DEPARTMENT_FILES",
    "homophone_names",
    "transpose_id_digits",
    "write_department_records",
]

AUDIT_TRUTH_FILE = "audit_truth.csv"
DEPARTMENT_FILES = (
    "deaths_civil_affairs.csv", "deaths_police.csv", "deaths_health.csv", "pension_roll.csv", "dibao_roll.csv",
    "dibao_members.csv", "assets_property.csv", "assets_vehicles.csv", "assets_housing_fund.csv",
    "assets_business.csv", "assets_income_tax.csv", "medical_employee.csv", "medical_resident.csv",
    "medical_rural.csv", "medical_other_cities.csv", "job_vacancies.csv", "job_seekers.csv", "grid_workers.csv",
)
# Yichang reported 130+ deceased people still drawing pensions in 2013.
PLANTED_PENSION_CASES = 132
DEATH_WINDOW = (pd.Timestamp("2023-01-01"), pd.Timestamp("2025-12-20"))
ANNUAL_DEATH_RATE = 0.007
DIBAO_HOUSEHOLD_SHARE = 0.015
DIBAO_PLANTED_SHARE = 0.10
DUPLICATE_SHARE = 0.12  # "10-15% enrolled twice" nationally
# A character written for another that sounds the same (伟/玮): the clerk typed by ear.
_HOMOPHONE = dict(zip(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红玲芬燕彬斌宇浩凯健俊帆旭宁龙林欣佳怡雪梅琳晨瑶婷倩"
    "颖露瑞博文轩子涵梓睿思诗雨萱嘉鑫鹏飞志国建新春波辉德福荣金珍凤云莲翠兵",
    "玮方纳修鹰民靖莉蔷蕾君阳永燕洁鹃韬鸣潮蓝侠萍钢贵桦宇平宏铃纷艳斌彬雨皓恺建峻凡序凝隆琳新嘉宜学美林辰遥庭茜"
    "莹璐锐波雯宣紫寒紫瑞丝师宇轩佳新朋菲智帼健欣椿博晖得富蓉锦真峰芸连萃冰"))
_OTHER_CITIES = ["武汉市", "荆州市", "襄阳市", "恩施州", "重庆市", "长沙市", "南阳市", "成都市"]
_HOSPITALS = ["宜昌市中心人民医院", "三峡大学第一临床医学院", "宜昌市第二人民医院", "葛洲坝中心医院", "宜昌市中医医院"]
_COMPANY_WORDS = list("鑫达华盛宏远兴隆恒通瑞丰三峡长江夷陵伍家西陵点军猇亭金源安康")
_COMPANY_KINDS = ["物流", "建设", "商贸", "餐饮", "家政服务", "物业", "机电", "化工", "食品", "电子"]
_WORKER_SURNAMES = list("王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗")
_WORKER_GIVEN = list("敏静丽娟燕芳霞红玲婷琳慧颖洁丹倩杰军勇涛")


def homophone_names(names, rng):
    """Write one given-name character as a same-sounding one (王伟 -> 王玮), as clerks mistype."""
    out = []
    for name in names:
        chars = list(name)
        spots = [i for i in range(len(chars) - 1, 0, -1) if chars[i] in _HOMOPHONE]
        if spots:
            i = spots[0] if len(spots) == 1 else spots[int(rng.integers(0, len(spots)))]
            chars[i] = _HOMOPHONE[chars[i]]
        out.append("".join(chars))
    return np.array(out, dtype=object)


def transpose_id_digits(ids, rng):
    """Swap two adjacent differing digits among characters 7-17 of each ID (the GB 11643 check then fails)."""
    out = []
    for value in ids:
        chars = list(value)
        spots = [i for i in range(6, 16) if chars[i] != chars[i + 1]]
        i = spots[int(rng.integers(0, len(spots)))]
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
        out.append("".join(chars))
    return np.array(out, dtype=object)


def _vary_address(addresses, rng):
    """The same home as another clerk writes it: province dropped, 栋 for 幢 or 号楼."""
    a = pd.Series(addresses).astype(str).reset_index(drop=True)
    r = rng.random((2, len(a)))
    drop = r[0] < 0.3
    a[drop] = a[drop].str.replace("湖北省", "", n=1, regex=False)
    unify = r[1] < 0.2
    a[unify] = a[unify].str.replace("幢", "栋", regex=False).str.replace("号楼", "栋", regex=False)
    return a.to_numpy()


def _messy(frame, rng, id_rate, name_rate, id_missing=0.0):
    """Apply the clerks' errors in place to ``name`` / ``id_number``; return the error flags."""
    n = len(frame)
    r = rng.random((3, n))
    bad_id = r[0] < id_rate
    bad_name = r[1] < name_rate
    missing = r[2] < id_missing
    if bad_id.any():
        frame.loc[bad_id, "id_number"] = transpose_id_digits(frame.loc[bad_id, "id_number"], rng)
    if bad_name.any():
        frame.loc[bad_name, "name"] = homophone_names(frame.loc[bad_name, "name"], rng)
    if missing.any():
        frame.loc[missing, "id_number"] = ""
    return bad_id, bad_name


def _outsiders(n, taken, rng):
    """``n`` people who are not in the registry: names, valid ID numbers (not in ``taken``), sexes, births."""
    names = _names(n, rng)
    age = rng.integers(18, 90, n)
    birth = REFERENCE_DATE - pd.to_timedelta(age * 365.25 + rng.integers(0, 365, n), unit="D")
    male = rng.random(n) < 0.5
    area = np.array(OTHER_AREA_CODES, dtype=object)[rng.integers(0, len(OTHER_AREA_CODES), n)]
    ids = np.empty(n, dtype=object)
    todo = np.arange(n)
    while len(todo):
        seq = rng.integers(0, 500, len(todo)) * 2 + male[todo]
        first17 = pd.Series(area[todo]) + pd.Series(birth.strftime("%Y%m%d").to_numpy()[todo]) + \
            pd.Series(seq).map("{:03d}".format)
        full = (first17 + check_digit(first17.tolist())).to_numpy()
        fresh = np.array([value not in taken for value in full], dtype=bool) & ~pd.Series(full).duplicated().to_numpy()
        ids[todo[fresh]] = full[fresh]
        taken = taken | set(full[fresh])
        todo = todo[~fresh]
    return pd.DataFrame({"name": names, "id_number": ids, "sex": np.where(male, "男", "女"),
                         "birth_date": birth.strftime("%Y-%m-%d"), "age": age})


def _months(dates):
    return dates.dt.year * 12 + dates.dt.month - 1


def _month_text(month_index):
    month_index = np.asarray(month_index)
    return pd.Series(month_index // 12).astype(str).to_numpy() + "-" + pd.Series(month_index % 12 + 1).map(
        "{:02d}".format).to_numpy()


def _day_off(dates, rate, rng):
    shift = np.where(rng.random(len(dates)) < rate, rng.choice([-1, 1], len(dates)), 0)
    return dates + pd.to_timedelta(shift, unit="D")


def _ids(prefix, n, start=1):
    return np.char.add(prefix, np.char.zfill(np.arange(start, start + n).astype(str), 7)).astype(object)


def _deaths(res, rng):
    """Choose who died in the window and write the three bureaus' records of it."""
    n = len(res)
    n_dead = max(12, round(n * ANNUAL_DEATH_RATE * 3))
    hazard = np.exp(0.085 * res["age"].to_numpy())
    dead = np.sort(rng.choice(n, n_dead, replace=False, p=hazard / hazard.sum()))
    span = (DEATH_WINDOW[1] - DEATH_WINDOW[0]).days
    death = DEATH_WINDOW[0] + pd.to_timedelta(rng.integers(0, span + 1, n_dead), unit="D")
    people = res.iloc[dead][["person_id", "name", "id_number", "sex", "birth_date", "address"]].reset_index(drop=True)
    people["death_date"] = death
    # Each death reaches some of the bureaus; every one reaches at least one.
    r = rng.random((3, n_dead))
    in_civil, in_police, in_health = r[0] < 0.9, r[1] < 0.85, r[2] < 0.55
    none = ~(in_civil | in_police | in_health)
    in_police |= none
    records = {}
    for key, mask, id_missing in (("death_civil", in_civil, 0.0), ("death_police", in_police, 0.0),
                                  ("death_health", in_health, 0.12)):
        frame = people[mask].copy()
        _messy(frame, rng, id_rate=0.03, name_rate=0.03, id_missing=id_missing)
        frame["address"] = _vary_address(frame["address"], rng)
        frame["death_date"] = _day_off(frame["death_date"], 0.04, rng)
        records[key] = frame
    civil = records["death_civil"]
    civil["cremation_date"] = (civil["death_date"] + pd.to_timedelta(rng.integers(1, 6, len(civil)), unit="D"))
    police = records["death_police"]
    police["cancel_date"] = police["death_date"] + pd.to_timedelta(rng.integers(3, 60, len(police)), unit="D")
    police["reason"] = "死亡"
    health = records["death_health"]
    health["birth_date"] = _day_off(pd.to_datetime(health["birth_date"]), 0.02, rng).dt.strftime("%Y-%m-%d")
    health["hospital"] = np.array(_HOSPITALS, dtype=object)[rng.integers(0, len(_HOSPITALS), len(health))]
    prefix = {"death_civil": "MZ", "death_police": "GA", "death_health": "WJ"}
    for key, frame in records.items():
        frame["record_id"] = _ids(prefix[key], len(frame))
        for column in ("death_date", "cremation_date", "cancel_date"):
            if column in frame:
                frame[column] = frame[column].dt.strftime("%Y-%m-%d")
    return people, records


def _namesake_deaths(res, pensioners, n, rng, taken):
    """Deaths of non-residents who share a name with a living pensioner but not the birth date."""
    pick = pensioners.iloc[rng.choice(len(pensioners), n, replace=False)]
    other = _outsiders(n, taken, rng)
    other["name"] = pick["name"].to_numpy()
    other["death_date"] = (DEATH_WINDOW[0] + pd.to_timedelta(rng.integers(0, 900, n), unit="D")).strftime("%Y-%m-%d")
    other["address"] = "湖北省" + np.array(_OTHER_CITIES, dtype=object)[rng.integers(0, len(_OTHER_CITIES), n)]
    return other


def _pension_roll(res, people, rng, n_planted):
    """The 人社 roll of retirees; ``n_planted`` of the deceased are still being paid."""
    retired = res.loc[(res["employment"] == "退休").to_numpy(), ["person_id", "name", "id_number", "birth_date",
                                                                 "hukou_type", "address"]].copy()
    n = len(retired)
    urban = retired["hukou_type"].to_numpy() != "本地农业"
    kind = np.where(urban, np.where(rng.random(n) < 0.2, "机关事业", "企业职工"), "城乡居民")
    amount = np.select([kind == "机关事业", kind == "企业职工"],
                       [rng.integers(4000, 7500, n), rng.integers(1900, 4600, n)], rng.integers(150, 420, n))
    birth = pd.to_datetime(retired["birth_date"])
    first = np.maximum(_months(birth) + 60 * 12, 2005 * 12)
    retired["record_id"] = _ids("SB", n)
    retired["pension_type"] = kind
    retired["monthly_amount"] = amount
    retired["first_month"] = _month_text(first)
    last = np.full(n, _months(pd.Series([REFERENCE_DATE])).iloc[0])
    status = np.full(n, "正常发放", dtype=object)
    # The deceased: stopped in the month of death or the one before, unless planted.
    death = people.set_index("person_id")["death_date"]
    died = retired["person_id"].isin(death.index).to_numpy()
    death_month = _months(death.reindex(retired["person_id"]).reset_index(drop=True)).fillna(-1).astype(int)
    eligible = np.flatnonzero(died & (death_month.to_numpy() <= last[0] - 2))
    planted = np.sort(rng.choice(eligible, min(n_planted, len(eligible)), replace=False))
    stopped = died.copy()
    stopped[planted] = False
    last[stopped] = death_month.to_numpy()[stopped] - (rng.random(stopped.sum()) < 0.3)
    status[stopped] = "停发（死亡）"
    retired["last_paid_month"] = _month_text(last)
    retired["status"] = status
    retired["address"] = _vary_address(retired["address"], rng)
    roll = retired.reset_index(drop=True)
    _messy(roll, rng, id_rate=0.005, name_rate=0.005)
    truth = roll.iloc[planted][["person_id", "record_id"]].copy()
    truth["detail"] = (last[planted] - death_month.to_numpy()[planted]).astype(str) + " months"
    return roll, truth


def _dibao(res, households, rng):
    """The 低保 roll, its members, and the asset records with planted ineligible households."""
    hh = households
    n_dibao = max(10, round(len(hh) * DIBAO_HOUSEHOLD_SHARE))
    low = res["income_band"].eq("低收入").groupby(res["household_id"]).mean()
    weight = 0.05 + low.reindex(hh.index).to_numpy()
    chosen = np.sort(rng.choice(len(hh), n_dibao, replace=False, p=weight / weight.sum()))
    dibao_hh = hh.index.to_numpy()[chosen]
    members = res.loc[res["household_id"].isin(dibao_hh).to_numpy(), ["person_id", "household_id", "name", "id_number",
                                                                      "birth_date", "relation", "address"]].copy()
    heads = members.groupby("household_id").head(1).set_index("household_id").reindex(dibao_hh)
    size = members.groupby("household_id").size().reindex(dibao_hh).to_numpy()
    dibao_id = pd.Series(_ids("DB", n_dibao), index=dibao_hh)
    line = 800
    declared = (rng.uniform(0.0, 0.85, n_dibao) * line * size).round(-1).astype(int)
    roll = pd.DataFrame({
        "record_id": dibao_id.to_numpy(), "name": heads["name"].to_numpy(), "id_number": heads["id_number"].to_numpy(),
        "members": size, "declared_income": declared, "benefit": (line * size - declared).clip(min=0),
        "address": _vary_address(heads["address"].to_numpy(), rng)})
    member_roll = members[["name", "id_number", "birth_date", "relation"]].copy()
    member_roll.insert(0, "dibao_id", dibao_id.reindex(members["household_id"]).to_numpy())
    member_roll.insert(0, "record_id", _ids("DM", len(member_roll)))
    member_roll = member_roll.reset_index(drop=True)
    _messy(member_roll, rng, id_rate=0.01, name_rate=0.01)

    # Planted: households that no longer qualify, each with one or two reasons.
    n_planted = max(4, round(n_dibao * DIBAO_PLANTED_SHARE))
    planted = rng.choice(n_dibao, n_planted, replace=False)
    reasons = np.array(["vehicle", "second_property", "business", "income_tax", "housing_fund"], dtype=object)
    first = reasons[rng.integers(0, len(reasons), n_planted)]
    second = np.where(rng.random(n_planted) < 0.25, reasons[rng.integers(0, len(reasons), n_planted)], "")
    member_of = members.groupby("household_id")["person_id"].first()
    by_hh = members.set_index("household_id")
    planted_hh = dibao_hh[planted]
    evidence = []
    for hh_id, size_i, r1, r2 in zip(planted_hh, size[planted], first, second):
        person = by_hh.loc[[hh_id]].iloc[int(rng.integers(0, size_i))]
        for reason in {r1, r2} - {""}:
            evidence.append((reason, person["person_id"], hh_id, size_i))
    planted_rows = pd.DataFrame(evidence, columns=["reason", "person_id", "household_id", "size"])
    truth = pd.DataFrame({"person_id": member_of.reindex(planted_hh).to_numpy(), "record_id": dibao_id[planted_hh].to_numpy()})
    truth["detail"] = planted_rows.groupby("household_id")["reason"].agg(lambda s: "+".join(sorted(s))) \
        .reindex(planted_hh).to_numpy()
    truth["household_id"] = planted_hh
    # Benign records of eligible 低保 households: their one home, a cheap vehicle, a low wage.
    benign = np.setdiff1d(np.arange(n_dibao), planted)
    return roll, member_roll, truth, planted_rows, dibao_hh[benign], size[benign]


def _assets(res, households, planted_rows, benign_hh, benign_size, rng):
    """Asset records for the whole city, with the planted and benign 低保 cases mixed in."""
    people = res.set_index("person_id")[["name", "id_number", "address"]]
    # The registry lists each household's head (户主) first.
    heads = res.loc[res["relation"].eq("户主").to_numpy(), ["household_id", "name", "id_number", "address"]]
    n_h = len(heads)
    r = rng.random((4, n_h))
    # 房管: most households own their home; some a second one.
    owners = heads[r[0] < 0.6]
    second = owners[rng.random(len(owners)) < 0.12]
    benign_heads = heads.set_index("household_id").reindex(benign_hh)
    benign_home = benign_heads[rng.random(len(benign_heads)) < 0.35].reset_index()
    planted_prop = people.loc[planted_rows.loc[planted_rows["reason"] == "second_property", "person_id"]].reset_index()
    is_low = heads["household_id"].isin(benign_hh).to_numpy() | heads["household_id"].isin(
        planted_rows["household_id"]).to_numpy()
    owners = owners[~is_low[r[0] < 0.6]]
    second = second[~second["household_id"].isin(benign_hh) & ~second["household_id"].isin(planted_rows["household_id"])]
    prop = pd.concat([owners, second, benign_home, planted_prop, planted_prop], ignore_index=True)
    prop = prop[["name", "id_number"]].copy()
    prop["property_address"] = "宜昌市" + np.array(["西陵区", "伍家岗区", "点军区", "猇亭区", "夷陵区"], dtype=object)[
        rng.integers(0, 5, len(prop))] + "某小区" + pd.Series(rng.integers(1, 40, len(prop))).astype(str).to_numpy() + "栋"
    prop["area"] = rng.integers(45, 160, len(prop))
    prop["registered"] = (pd.Timestamp("2000-01-01") + pd.to_timedelta(rng.integers(0, 9000, len(prop)), unit="D")) \
        .strftime("%Y-%m-%d")
    prop = prop.sample(frac=1.0, random_state=np.random.RandomState(rng.integers(0, 2**31))).reset_index(drop=True)
    prop.insert(0, "record_id", _ids("FC", len(prop)))
    # 公安 vehicles: a quarter of households; cheap ones for some 低保 homes, dear ones for the planted.
    cars = heads[(r[1] < 0.25) & ~is_low]
    cars = cars[["name", "id_number", "address"]].assign(value=rng.integers(40, 400, len(cars)) * 1000, vehicle_type="小型轿车")
    cheap = benign_heads[rng.random(len(benign_heads)) < 0.12].reset_index()[["name", "id_number", "address"]]
    cheap = cheap.assign(value=rng.integers(3, 30, len(cheap)) * 1000, vehicle_type="二轮摩托车")
    dear = people.loc[planted_rows.loc[planted_rows["reason"] == "vehicle", "person_id"]][["name", "id_number", "address"]]
    dear = dear.assign(value=rng.integers(80, 320, len(dear)) * 1000, vehicle_type="小型轿车")
    vehicles = pd.concat([cars, cheap, dear], ignore_index=True)
    vehicles["address"] = _vary_address(vehicles["address"], rng)
    vehicles["registered"] = (pd.Timestamp("2010-01-01") + pd.to_timedelta(rng.integers(0, 5600, len(vehicles)),
                                                                          unit="D")).strftime("%Y-%m-%d")
    vehicles = vehicles.sample(frac=1.0, random_state=np.random.RandomState(rng.integers(0, 2**31))).reset_index(drop=True)
    vehicles.insert(0, "record_id", "鄂E" + pd.Series(rng.permutation(100000)[: len(vehicles)]).map("{:05d}".format).to_numpy())
    # 公积金: half of employees; a low wage in some benign 低保 homes; a good one for the planted.
    low_ids = set(planted_rows["household_id"]) | set(benign_hh)
    workers = res.loc[((res["employment"] == "在职") & ~res["household_id"].isin(low_ids)).to_numpy(),
                      ["name", "id_number"]]
    workers = workers[rng.random(len(workers)) < 0.5]
    workers = workers.assign(wage_base=rng.integers(25, 150, len(workers)) * 100)
    big = benign_size >= 3
    low_wage = benign_heads[big & (rng.random(len(benign_heads)) < 0.25)].reset_index()[["name", "id_number"]]
    low_wage = low_wage.assign(wage_base=1900)
    good = people.loc[planted_rows.loc[planted_rows["reason"] == "housing_fund", "person_id"]][["name", "id_number"]]
    good_size = planted_rows.loc[planted_rows["reason"] == "housing_fund", "size"].to_numpy()
    good = good.assign(wage_base=(good_size * 800 * rng.uniform(1.3, 2.5, len(good))).round(-2).astype(int))
    fund = pd.concat([workers, low_wage, good], ignore_index=True)
    fund["monthly_contribution"] = (fund["wage_base"] * 0.24).round().astype(int)
    fund["employer"] = "宜昌" + np.array(_COMPANY_KINDS, dtype=object)[rng.integers(0, len(_COMPANY_KINDS), len(fund))] + "公司"
    fund["status"] = "正常缴存"
    fund = fund.sample(frac=1.0, random_state=np.random.RandomState(rng.integers(0, 2**31))).reset_index(drop=True)
    fund.insert(0, "record_id", _ids("GJJ", len(fund)))
    # 工商: a few percent run a business; some 低保 heads' old ones are cancelled (注销), which is no bar.
    adults = res.loc[((res["age"] >= 22) & (res["age"] < 70) & ~res["household_id"].isin(low_ids)).to_numpy(),
                     ["name", "id_number"]]
    bosses = adults[rng.random(len(adults)) < 0.03].assign(status="存续")
    closed = benign_heads[rng.random(len(benign_heads)) < 0.05].reset_index()[["name", "id_number"]].assign(status="注销")
    owner = people.loc[planted_rows.loc[planted_rows["reason"] == "business", "person_id"]][["name", "id_number"]]
    business = pd.concat([bosses, closed, owner.assign(status="存续")], ignore_index=True)
    business["capital"] = rng.integers(3, 300, len(business))
    business["business_name"] = "宜昌" + pd.Series(rng.integers(0, len(_COMPANY_WORDS), len(business))).map(
        dict(enumerate(_COMPANY_WORDS))).to_numpy() + np.array(_COMPANY_KINDS, dtype=object)[
        rng.integers(0, len(_COMPANY_KINDS), len(business))] + "有限公司"
    business = business.sample(frac=1.0, random_state=np.random.RandomState(rng.integers(0, 2**31))).reset_index(drop=True)
    business.insert(0, "record_id", "91420500" + pd.Series(rng.permutation(10**6)[: len(business)]).map(
        "{:06d}MA4".format).to_numpy() + "X")
    # 税务: the better-paid employees; the planted earn well above 12 x the line per member.
    earners = res.loc[(res["employment"].eq("在职") & res["income_band"].isin(["中等收入", "中高收入", "高收入"])
                       & ~res["household_id"].isin(low_ids)).to_numpy(), ["name", "id_number"]]
    earners = earners[rng.random(len(earners)) < 0.6]
    earners = earners.assign(annual_income=rng.integers(60, 400, len(earners)) * 1000)
    taxed = people.loc[planted_rows.loc[planted_rows["reason"] == "income_tax", "person_id"]][["name", "id_number"]]
    taxed_size = planted_rows.loc[planted_rows["reason"] == "income_tax", "size"].to_numpy()
    taxed = taxed.assign(annual_income=(taxed_size * 800 * 12 * rng.uniform(1.3, 3.0, len(taxed))).round(-3).astype(int))
    tax = pd.concat([earners, taxed], ignore_index=True)
    tax["year"] = "2024"
    tax["tax_paid"] = ((tax["annual_income"] - 60000).clip(lower=0) * 0.1).round().astype(int)
    tax = tax.sample(frac=1.0, random_state=np.random.RandomState(rng.integers(0, 2**31))).reset_index(drop=True)
    tax.insert(0, "record_id", _ids("NS", len(tax)))
    out = {"property": prop, "vehicle": vehicles, "housing_fund": fund, "business": business, "income_tax": tax}
    for frame in out.values():
        _messy(frame, rng, id_rate=0.02, name_rate=0.02)
    return out


def _medical(res, rng, taken):
    """Three local schemes plus enrolments elsewhere, ~12% of people in two at once."""
    n = len(res)
    employment = res["employment"].to_numpy()
    hukou = res["hukou_type"].to_numpy()
    working = np.isin(employment, ["在职", "退休"]) & (rng.random(n) < 0.9)
    base_scheme = np.where(working, "med_employee", np.where(hukou == "本地农业", "med_rural", "med_resident"))
    # Non-working people registered elsewhere are insured in their home town.
    away = (hukou == "外地") & ~working
    base_scheme = np.where(away, "med_other", base_scheme)
    enrolled = rng.random(n) < 0.96
    start_year = rng.integers(2008, 2024, n)
    first = pd.DataFrame({"idx": np.flatnonzero(enrolled), "scheme": base_scheme[enrolled],
                          "start": start_year[enrolled], "end": 0})
    idx = np.flatnonzero(enrolled)
    m = len(idx)
    r = rng.random((2, m))
    dup = r[0] < DUPLICATE_SHARE
    switch = ~dup & (r[1] < 0.03)
    options = np.array(["med_employee", "med_resident", "med_rural", "med_other"], dtype=object)
    alt = options[rng.integers(0, 4, m)]
    clash = alt == first["scheme"].to_numpy()
    alt = np.where(clash & (alt != "med_other"), "med_other", np.where(clash, "med_resident", alt))
    second = pd.DataFrame({"idx": idx[dup], "scheme": alt[dup], "start": rng.integers(2015, 2025, dup.sum()), "end": 0})
    # Switchers left an old scheme the year before they joined the current one: not a duplicate.
    old = pd.DataFrame({"idx": idx[switch], "scheme": alt[switch],
                        "start": first["start"].to_numpy()[switch] - rng.integers(2, 6, switch.sum()),
                        "end": first["start"].to_numpy()[switch] - 1})
    enrol = pd.concat([first, second, old], ignore_index=True)
    frame = res[["name", "id_number", "sex", "birth_date", "address"]].iloc[enrol["idx"].to_numpy()] \
        .reset_index(drop=True)
    frame["scheme_key"] = enrol["scheme"].to_numpy()
    frame["start"] = pd.Series(enrol["start"].to_numpy()).astype(str).to_numpy() + "-01-01"
    frame["end"] = np.where(enrol["end"].to_numpy() > 0, pd.Series(enrol["end"]).astype(str).to_numpy() + "-12-31", "")
    # People insured here who are not in the registry (students, commuters).
    outsiders = _outsiders(max(5, round(0.03 * n)), taken, rng)
    outsiders["address"] = ""
    outsiders["scheme_key"] = np.where(rng.random(len(outsiders)) < 0.6, "med_employee", "med_resident")
    outsiders["start"] = pd.Series(rng.integers(2010, 2025, len(outsiders))).astype(str).to_numpy() + "-01-01"
    outsiders["end"] = ""
    frame = pd.concat([frame, outsiders.drop(columns="age")], ignore_index=True)
    frame["address"] = _vary_address(frame["address"], rng)
    _messy(frame, rng, id_rate=0.01, name_rate=0.01)
    labels = {"med_employee": "城镇职工基本医疗保险", "med_resident": "城镇居民基本医疗保险", "med_rural": "新型农村合作医疗",
              "med_other": "城乡居民基本医疗保险"}
    frame["scheme"] = frame["scheme_key"].map(labels)
    other = frame["scheme_key"] == "med_other"
    frame["insured_city"] = np.where(other, np.array(_OTHER_CITIES, dtype=object)[rng.integers(0, 8, len(frame))],
                                     "宜昌市")
    frame.loc[other, "address"] = ""
    rolls = {}
    # One stable sort by scheme, then each roll is a slice (no copy per roll).
    frame = frame.iloc[np.argsort(frame["scheme_key"].to_numpy(), kind="stable")].reset_index(drop=True)
    bounds = np.searchsorted(frame["scheme_key"].to_numpy(), ["med_employee", "med_other", "med_resident", "med_rural"])
    ends = dict(zip(["med_employee", "med_other", "med_resident", "med_rural"], [*bounds[1:], len(frame)]))
    for key, prefix in (("med_employee", "ZG"), ("med_resident", "JM"), ("med_rural", "NH"), ("med_other", "YD")):
        lo = bounds[["med_employee", "med_other", "med_resident", "med_rural"].index(key)]
        part = frame.iloc[lo:ends[key]].reset_index(drop=True)
        part["record_id"] = _ids(prefix, len(part))
        rolls[key] = part
    dup_people = res["person_id"].to_numpy()[idx[dup]]
    truth = pd.DataFrame({"person_id": dup_people, "record_id": "", "detail": alt[dup]})
    return rolls, truth


def _jobs(res, homes, buildings, rng):
    """Vacancies across the city, the registered seekers, and planted ideal matches."""
    seekers_all = res[res["employment"].isin(["失业", "灵活就业"]) & (res["skills"] != "")]
    seekers = seekers_all[rng.random(len(seekers_all)) < 0.8].copy()
    edu_rank = {e: i for i, e in enumerate(EDUCATION)}
    seekers["expected_pay"] = (rng.integers(25, 70, len(seekers)) * 100)
    n_vac = max(20, round(len(seekers) / 18))
    b = buildings.iloc[rng.integers(0, len(buildings), n_vac)]
    demanded = [s for s in SKILLS if s != "育婴"]  # nobody advertises for 育婴: those seekers need training
    skill = np.where(rng.random(n_vac) < 0.15, "", np.array(demanded, dtype=object)[rng.integers(0, len(demanded), n_vac)])
    vac = pd.DataFrame({
        "employer": "宜昌" + pd.Series(rng.integers(0, len(_COMPANY_WORDS), n_vac)).map(dict(enumerate(_COMPANY_WORDS)))
        .to_numpy() + pd.Series(rng.integers(0, len(_COMPANY_WORDS), n_vac)).map(dict(enumerate(_COMPANY_WORDS))).to_numpy()
        + np.array(_COMPANY_KINDS, dtype=object)[rng.integers(0, len(_COMPANY_KINDS), n_vac)] + "有限公司",
        "skill": skill,
        "min_education": np.array(EDUCATION, dtype=object)[rng.integers(0, 5, n_vac)],
        "min_age": 18,
        "max_age": np.where(skill == "", 45, rng.choice([45, 50, 55], n_vac)),
        "pay": rng.integers(28, 90, n_vac) * 100,
        "openings": rng.integers(1, 8, n_vac),
        "address": b["standard_address"].to_numpy(), "lon": b["lon"].to_numpy(), "lat": b["lat"].to_numpy()})
    # Planted: a shop in the seeker's own building wants exactly their first skill.
    fit = seekers[(seekers["age"] < 55) & ~seekers["skills"].str.startswith("育婴")]
    planted = fit.iloc[np.sort(rng.choice(len(fit), max(3, round(0.02 * len(fit))), replace=False))]
    home = homes.reindex(planted["person_id"])
    ideal = pd.DataFrame({
        "employer": "宜昌" + planted["name"].str[0].to_numpy() + "记" + np.array(_COMPANY_KINDS, dtype=object)[
            rng.integers(0, len(_COMPANY_KINDS), len(planted))] + "店",
        "skill": planted["skills"].str.split(",").str[0].to_numpy(),
        "min_education": np.array(EDUCATION, dtype=object)[np.minimum(planted["education"].map(edu_rank).fillna(0)
                                                                     .astype(int).to_numpy(), 2)],
        "min_age": 18, "max_age": 60, "pay": planted["expected_pay"].to_numpy() + 500, "openings": 1,
        "address": home["standard_address"].to_numpy(), "lon": home["lon"].to_numpy(), "lat": home["lat"].to_numpy()})
    vac = pd.concat([vac, ideal], ignore_index=True)
    order = rng.permutation(len(vac))
    vac = vac.iloc[order].reset_index(drop=True)
    vac.insert(0, "record_id", _ids("GW", len(vac)))
    vac["title"] = np.where(vac["skill"] == "", "普工", vac["skill"].astype(str) + "岗位")
    position = np.argsort(order)[n_vac:]
    truth = pd.DataFrame({"person_id": planted["person_id"].to_numpy(), "record_id": vac["record_id"].to_numpy()[position],
                          "detail": "ideal vacancy"})
    # Seekers with only 育婴, aged past every general post, get a training offer.
    trainees = seekers[(seekers["skills"] == "育婴") & (seekers["age"] > 45)]
    truth = pd.concat([truth, pd.DataFrame({"person_id": trainees["person_id"].to_numpy(), "record_id": "TRAINING",
                                            "detail": "no fitting vacancy"})], ignore_index=True)
    seekers = seekers.reset_index(drop=True)
    seekers["record_id"] = _ids("QZ", len(seekers))
    seekers["registered"] = (pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 360, len(seekers)), unit="D")) \
        .strftime("%Y-%m-%d")
    seekers["address"] = _vary_address(seekers["address"], rng)
    _messy(seekers, rng, id_rate=0.01, name_rate=0.01)
    return vac, seekers, truth


def _grid_workers(grid_codes, rng):
    n = len(grid_codes)
    surname = np.array(_WORKER_SURNAMES, dtype=object)[rng.integers(0, len(_WORKER_SURNAMES), n)]
    given = np.array(_WORKER_GIVEN, dtype=object)[rng.integers(0, len(_WORKER_GIVEN), n)]
    phone = "13" + pd.Series(rng.integers(0, 10**9, n)).map("{:09d}".format).to_numpy()
    return pd.DataFrame({"grid_code": grid_codes, "worker_id": "W" + pd.Series(grid_codes).str[-9:].to_numpy(),
                         "worker_name": surname + given, "worker_phone": phone})


def write_department_records(out_dir, project_path=None, scale=1.0, seed=2013):
    """Write the department rolls and ``audit_truth.csv`` into the demo folder ``out_dir``.

    Reads the demo's ``residents.csv``, ``ground_truth.csv`` and ``addresses.csv``
    (so it runs after :func:`gridmap.demo.build.build_demo` has written them) and
    draws from ``np.random.default_rng(seed + 8)`` only.

    Parameters
    ----------
    out_dir : str or Path
        The demo folder.
    project_path : str or Path, optional
        Unused; the rolls are raw files, as bureaus hand them over.
    scale : float
        The demo's population share; planted counts scale with it (at least a few each).
    seed : int
        The demo's seed.

    Returns
    -------
    DataFrame
        The audit truth: ``check``, ``person_id``, ``household_id``, ``record_id``, ``detail``.
    """
    out = Path(out_dir)
    rng = np.random.default_rng(seed + 8)
    headers = {"人员编号": "person_id", "姓名": "name", "公民身份号码": "id_number", "性别": "sex",
               "出生日期": "birth_date", "户编号": "household_id", "与户主关系": "relation", "户籍类型": "hukou_type",
               "收入水平": "income_band", "就业状态": "employment", "文化程度": "education", "技能特长": "skills",
               "居住地址": "address"}
    res = pd.read_csv(out / "residents.csv", dtype=str, keep_default_na=False, engine="pyarrow",
                      usecols=list(headers)).rename(columns=headers)
    birth = pd.to_datetime(res["birth_date"], format="%Y-%m-%d")
    res["age"] = (REFERENCE_DATE.year - birth.dt.year - ((birth.dt.month * 100 + birth.dt.day) > 1231)).to_numpy()
    truth_grid = pd.read_csv(out / "ground_truth.csv", dtype=str, engine="pyarrow")
    buildings = pd.read_csv(out / "addresses.csv", dtype=str, keep_default_na=False)
    buildings[["lon", "lat"]] = buildings[["lon", "lat"]].astype(float)
    homes = truth_grid.merge(buildings[["building_id", "standard_address", "lon", "lat"]], on="building_id") \
        .set_index("person_id")
    taken = set(res["id_number"])

    people, deaths = _deaths(res, rng)
    n_planted = max(3, round(PLANTED_PENSION_CASES * scale))
    pension, pension_truth = _pension_roll(res, people, rng, n_planted)
    living_pensioners = pension[~pension["person_id"].isin(people["person_id"])]
    namesakes = _namesake_deaths(res, living_pensioners, max(3, round(60 * scale)), rng, taken)
    namesakes["record_id"] = _ids("GA", len(namesakes), start=len(deaths["death_police"]) + 1)
    namesakes["cancel_date"] = namesakes["death_date"]
    namesakes["reason"] = "死亡"
    deaths["death_police"] = pd.concat([deaths["death_police"], namesakes], ignore_index=True)

    households = res.groupby("household_id").size().to_frame("size")
    dibao, members, dibao_truth, planted_rows, benign_hh, benign_size = _dibao(res, households, rng)
    assets = _assets(res, households, planted_rows, benign_hh, benign_size, rng)
    medical, medical_truth = _medical(res, rng, taken)
    vacancies, seekers, jobs_truth = _jobs(res, homes, buildings, rng)
    workers = _grid_workers(np.sort(buildings["grid_code"].unique()), rng)

    for key, frame in deaths.items():
        write_roll(frame, out, key)
    write_roll(pension, out, "pension")
    write_roll(dibao, out, "dibao")
    write_roll(members, out, "dibao_members")
    for key, frame in {**assets, **medical}.items():
        write_roll(frame, out, key)
    write_roll(vacancies, out, "vacancies")
    write_roll(seekers, out, "seekers")
    write_roll(workers, out, "grid_workers")

    truth = pd.concat([
        pension_truth.assign(check="pension", household_id=""),
        dibao_truth.assign(check="dibao"),
        medical_truth.assign(check="duplicates", household_id=""),
        jobs_truth.assign(check="jobs", household_id=""),
    ], ignore_index=True)[["check", "person_id", "household_id", "record_id", "detail"]]
    truth.to_csv(out / AUDIT_TRUTH_FILE, index=False)
    return truth
