"""The four checks on small hand-made rolls with known answers."""

import numpy as np
import pandas as pd
import pytest
from test_audit_linkage import make_base

from gridmap.audit import dibao, duplicates, jobs, pension
from gridmap.audit.rolls import ROLLS


@pytest.fixture(scope="module")
def base():
    people = make_base()
    people["grid_code"] = "420502001001001"
    people["relation"] = np.where(people["household_id"].duplicated(), "家庭成员", "户主")
    return people


def roll(name, rows):
    frame = pd.DataFrame(rows)
    return frame.reindex(columns=ROLLS[name].fields, fill_value="").astype(str)


def person(base, i):
    return base.iloc[i]


def transposed(id_number):
    return id_number[:8] + id_number[9] + id_number[8] + id_number[10:]


def test_pension_finds_payments_after_death_only(base):
    dead, on_time, alive, boundary = (person(base, i) for i in (5, 6, 7, 8))
    pension_roll = roll("pension", [
        {"record_id": f"SB{i}", "name": p["name"], "id_number": p["id_number"], "birth_date": p["birth_date"],
         "monthly_amount": amount, "last_paid_month": last, "status": "正常发放"}
        for i, (p, amount, last) in enumerate([(dead, 3000, "2025-12"), (on_time, 2500, "2024-05"),
                                               (alive, 2000, "2025-12"), (boundary, 1000, "2025-03")])])
    deaths = {
        # The only record of this death has the ID's digits transposed: it must still count.
        "death_civil": roll("death_civil", [{"record_id": "MZ1", "name": dead["name"],
                                             "id_number": transposed(dead["id_number"]), "death_date": "2025-02-14",
                                             "address": dead["address"]}]),
        "death_police": roll("death_police", [
            {"record_id": "GA1", "name": on_time["name"], "id_number": on_time["id_number"],
             "birth_date": on_time["birth_date"], "death_date": "2024-05-20"},
            # A namesake of a living pensioner, born another day, not in the base.
            {"record_id": "GA2", "name": alive["name"], "id_number": "", "birth_date": "1931-01-01",
             "death_date": "2024-01-01", "address": "湖北省荆州市沙市区"},
            # Reported a day early by one bureau (last day of February), paid through March.
            {"record_id": "GA3", "name": boundary["name"], "id_number": boundary["id_number"],
             "death_date": "2025-02-28"}]),
        "death_health": roll("death_health", [
            {"record_id": "WJ1", "name": boundary["name"], "id_number": boundary["id_number"],
             "death_date": "2025-03-01"}]),
    }
    result = pension.run(base, {"pension": pension_roll, **deaths})
    found = result.findings.set_index("record_id")
    assert list(found.index) == ["SB0"]
    assert found.loc["SB0", "amount"] == 10 * 3000  # March..December 2025
    assert found.loc["SB0", "person_id"] == dead["person_id"]
    assert "概率匹配" in found.loc["SB0", "evidence"]
    assert found.loc["SB0", "confidence"] > 0.99
    assert not found["id_masked"].str.contains(r"\d{17}[\dX]").any()


@pytest.mark.parametrize("months, expected", [(["2025-03-31", "2025-03"], 0), (["2025-03-01", "2025-12"], 9),
                                               ([None, "2025-12"], 0), (["2025-03-01", ""], 0)])
def test_overpaid_months(months, expected):
    assert pension.overpaid_months([months[0]], [months[1]])[0] == expected


def _household(base, i):
    hh = base["household_id"].iloc[i]
    return base[base["household_id"] == hh]


def test_dibao_flags_households_with_disqualifying_assets(base):
    sizes = base.groupby("household_id").size()
    two = [h for h in sizes.index if sizes[h] == 2][:4]
    households = [base[base["household_id"] == h] for h in two]
    dibao_roll = roll("dibao", [{"record_id": f"DB{i}", "name": hh.iloc[0]["name"], "id_number": hh.iloc[0]["id_number"],
                                 "members": 2, "declared_income": 600, "benefit": 1000}
                                for i, hh in enumerate(households)])
    members = roll("dibao_members", [{"record_id": f"DM{i}{j}", "dibao_id": f"DB{i}", "name": p["name"],
                                      "id_number": p["id_number"], "birth_date": p["birth_date"],
                                      "relation": "户主" if j == 0 else "家庭成员"}
                                     for i, hh in enumerate(households) for j, (_, p) in enumerate(hh.iterrows())])
    rich, poor, closed, _earner = (hh.iloc[0] for hh in households)
    spouse = households[3].iloc[1]
    assets = {
        "vehicle": roll("vehicle", [
            {"record_id": "鄂E1", "name": rich["name"], "id_number": transposed(rich["id_number"]), "value": 180000,
             "vehicle_type": "小型轿车"},
            {"record_id": "鄂E2", "name": poor["name"], "id_number": poor["id_number"], "value": 6000,
             "vehicle_type": "二轮摩托车"}]),
        "property": roll("property", [{"record_id": "FC1", "name": poor["name"], "id_number": poor["id_number"],
                                       "area": 60}]),
        "business": roll("business", [{"record_id": "Q1", "name": closed["name"], "id_number": closed["id_number"],
                                       "status": "注销", "business_name": "宜昌某商贸有限公司"}]),
        "housing_fund": roll("housing_fund", [{"record_id": "G1", "name": spouse["name"],
                                               "id_number": spouse["id_number"], "wage_base": 2400,
                                               "status": "正常缴存"}]),
        "income_tax": roll("income_tax", [{"record_id": "N1", "name": "无关", "id_number": "", "annual_income": 1}]),
    }
    result = dibao.run(base, {"dibao": dibao_roll, "dibao_members": members, **assets})
    found = result.findings.set_index("record_id")
    assert sorted(found.index) == ["DB0", "DB3"]
    assert "有机动车" in found.loc["DB0", "summary"]
    assert "购置价 180,000 元" in found.loc["DB0", "evidence"]
    assert "收入超过低保标准" in found.loc["DB3", "summary"]  # 2,400 / 2 = 1,200 > 800
    assert found.loc["DB0", "amount"] == 12 * 1000
    # A stricter local line flags the cheap moped too.
    strict = dibao.run(base, {"dibao": dibao_roll, "dibao_members": members, **assets},
                       dibao.Options(vehicle_value=5000))
    assert "DB1" in set(strict.findings["record_id"])


def test_household_flags_thresholds():
    ev = pd.DataFrame({"members": [3, 1], "declared_income": [600, 900], "wage_income": [1900, 0],
                       "tax_income": [0, 0], "max_vehicle_value": [8000, 0], "properties": [1, 2],
                       "businesses": [0, 0]})
    flags = dibao.household_flags(ev)
    assert flags["income"].tolist() == [False, True]
    assert flags["second_property"].tolist() == [False, True]
    assert flags["income_per_member"].round(1).tolist() == [633.3, 900.0]


def test_duplicates_overlapping_enrolments_and_wasted_subsidy(base):
    a, b, c, d = (person(base, i) for i in (20, 21, 22, 23))

    def enrol(rid, p, start, end="", city="宜昌市", id_number=None):
        return {"record_id": rid, "name": p["name"], "id_number": id_number or p["id_number"],
                "birth_date": p["birth_date"], "insured_city": city, "start": start, "end": end}

    rolls = {
        "med_employee": roll("med_employee", [enrol("ZG1", a, "2015-01-01"), enrol("ZG2", d, "2018-01-01")]),
        "med_resident": roll("med_resident", [enrol("JM1", a, "2020-01-01"), enrol("JM2", b, "2016-01-01"),
                                              enrol("JM3", c, "2012-01-01", "2016-12-31"),
                                              enrol("JM4", d, "2019-01-01")]),
        # b's second enrolment has a mistyped ID: the duplicate must still be found.
        "med_rural": roll("med_rural", [enrol("NH1", b, "2021-01-01", id_number=transposed(b["id_number"])),
                                        enrol("NH2", c, "2017-01-01"), enrol("NH3", d, "2020-01-01")]),
        "med_other": roll("med_other", [enrol("YD1", d, "2022-01-01", city="荆州市")]),
    }
    result = duplicates.run(base, rolls, duplicates.Options(subsidy=700))
    found = result.findings.set_index("person_id")
    assert sorted(found.index) == sorted([a["person_id"], b["person_id"], d["person_id"]])
    assert found.loc[a["person_id"], "amount"] == 700  # employee + resident: the resident subsidy
    assert found.loc[b["person_id"], "amount"] == 700  # two resident schemes: one is due
    assert found.loc[d["person_id"], "amount"] == 3 * 700  # employee + three subsidised
    assert result.summary["重复参保人数"] == 3


def test_overlapping_handles_empty_and_open_ends():
    assert duplicates.overlapping([], pd.to_datetime([]), pd.to_datetime([])).tolist() == []
    keys = ["a", "a", "a"]
    starts = pd.to_datetime(["2010-01-01", "2012-01-01", "2020-01-01"])
    ends = pd.to_datetime(["2011-12-31", None, "2021-01-01"])
    assert duplicates.overlapping(keys, starts, ends).tolist() == [False, True, True]


def test_rank_vacancies_orders_by_fit_and_distance():
    seekers = pd.DataFrame({"x": [0.0, 0.0], "y": [0.0, 0.0], "age": [30, 58], "education": ["高中", "初中"],
                            "skills": ["电工", "育婴"], "expected_pay": [4000, 3000]})
    vacancies = pd.DataFrame({
        "x": [1000.0, 5000.0, 500.0, 100.0, 200.0, 40000.0],
        "y": [0.0] * 6,
        "skill": ["电工", "电工", "", "焊工", "电工", "电工"],
        "min_education": ["初中", "初中", "初中", "初中", "本科", "初中"],
        "min_age": [18] * 6, "max_age": [50, 50, 45, 50, 50, 50], "pay": [4500, 6000, 4000, 9000, 9000, 9000]})
    ranked = jobs.rank_vacancies(seekers, vacancies, jobs.Options(top=5))
    first = ranked[ranked["seeker"] == 0]
    assert first["vacancy"].tolist() == [0, 1, 2]  # welding, a degree and 40 km are out
    assert first["rank"].tolist() == [1, 2, 3]
    assert first["distance_km"].tolist() == [1.0, 5.0, 0.5]
    assert not (ranked["seeker"] == 1).any()  # 58 and only 育婴: nothing fits


def test_sms_fits_one_message():
    text = jobs.sms_text(["欧"], ["女"], ["宜昌长江三峡物流有限公司"], ["物流岗位"], [12000], [14.93])[0]
    assert text.startswith("【宜昌人社】欧女士您好")
    assert len(text.replace("{worker}", "王敏13800000000")) <= 80
