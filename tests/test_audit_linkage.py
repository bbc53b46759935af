"""Record linkage on hand-made cases with known answers, and the helpers behind it."""

import numpy as np
import pandas as pd
import pytest

from gridmap.audit.linkage import link_records, name_sound, normalise_address, normalise_id
from gridmap.demo.departments import homophone_names, transpose_id_digits
from gridmap.demo.population import make_residents
from gridmap.idnumber import check_digit, is_valid_id


def make_base(n_households=900, seed=5):
    """A small population base: names, valid IDs, birth dates, addresses (deterministic)."""
    rng = np.random.default_rng(seed)
    households = pd.DataFrame({"household_id": [f"H{i:05d}" for i in range(n_households)],
                               "size": rng.choice([1, 2, 3, 4], n_households)})
    residents, hh_idx = make_residents(households, rng)
    door = 1 + hh_idx % 300
    residents["address"] = [f"湖北省宜昌市西陵区沿江大道{d}号{1 + d % 7}栋{1 + h % 4}单元{101 + h % 5}"
                            for d, h in zip(door, hh_idx)]
    return residents


def valid_id(first17):
    return first17 + check_digit(first17)


@pytest.fixture(scope="module")
def base():
    people = make_base()
    wang = pd.DataFrame({"person_id": ["PX1"], "name": ["王伟"], "id_number": [valid_id("42050219500302001")],
                         "sex": ["男"], "birth_date": ["1950-03-02"], "household_id": ["HX1"],
                         "address": ["湖北省宜昌市西陵区夷陵大道88号2栋1单元301"]})
    return pd.concat([people, wang], ignore_index=True)


def test_a_mistyped_id_still_links_and_a_namesake_born_another_day_does_not(base):
    wang = base[base["person_id"] == "PX1"].iloc[0]
    mistyped = wang["id_number"][:8] + wang["id_number"][9] + wang["id_number"][8] + wang["id_number"][10:]
    assert not is_valid_id([mistyped]).iloc[0]
    namesake_id = valid_id("42050219520711003")
    records = pd.DataFrame({
        "record_id": ["typo", "namesake", "homophone", "no-id"],
        "name": ["王伟", "王伟", "王玮", "王玮"],
        "id_number": [mistyped, namesake_id, wang["id_number"], ""],
        "birth_date": ["1950-03-02", "1952-07-11", "", "1950-03-02"],
        "address": ["西陵区夷陵大道88号2幢1-301", "伍家岗区城东大道5号", "", "宜昌市西陵区夷陵大道88号2栋1单元301室"],
    })
    links = link_records(records, base).set_index(records["record_id"])
    assert links.loc["typo", "person_id"] == "PX1"
    assert links.loc["typo", "link_method"] == "probabilistic"
    assert links.loc["typo", "match_probability"] > 0.99
    assert "相邻两位颠倒" in links.loc["typo", "link_evidence"]
    assert links.loc["namesake", "person_id"] == ""
    assert links.loc["namesake", "link_method"] == "none"
    assert links.loc["namesake", "match_probability"] < 0.5
    # A valid ID links exactly whatever the name; a missing ID links on name sound, birth date, address.
    assert links.loc["homophone", "link_method"] == "id"
    assert links.loc["no-id", "person_id"] == "PX1"
    assert "姓名同音" in links.loc["no-id", "link_evidence"]


def test_planted_errors_from_the_demo_generator_still_link(base):
    rng = np.random.default_rng(1)
    sample = base.iloc[rng.choice(len(base) - 1, 60, replace=False)].reset_index(drop=True)
    records = sample[["person_id", "name", "id_number", "birth_date", "address"]].copy()
    records["record_id"] = [f"R{i}" for i in range(len(records))]
    records.loc[:29, "id_number"] = transpose_id_digits(records.loc[:29, "id_number"], rng)
    records.loc[30:, "name"] = homophone_names(records.loc[30:, "name"], rng)
    links = link_records(records.drop(columns="person_id"), base)
    assert (links["person_id"].to_numpy() == records["person_id"].to_numpy()).mean() >= 0.98


def test_a_transposed_birth_month_links_on_name_alone(base):
    # No birth date, no address: only the ID's digits (in another order) and the name.
    person = base.iloc[40]
    digits = person["id_number"]
    swapped = next(digits[:i] + digits[i + 1] + digits[i] + digits[i + 2:] for i in (10, 11, 9, 12)
                   if digits[i] != digits[i + 1])
    records = pd.DataFrame({"record_id": ["p"], "name": [person["name"]], "id_number": [swapped]})
    links = link_records(records, base)
    assert links["person_id"].tolist() == [person["person_id"]]


def test_exact_links_need_a_valid_id(base):
    person = base.iloc[10]
    records = pd.DataFrame({"record_id": ["ok", "wide"], "name": [person["name"]] * 2,
                            "id_number": [person["id_number"], person["id_number"].translate(
                                str.maketrans("0123456789", "０１２３４５６７８９"))],
                            "birth_date": ["", ""]})
    links = link_records(records, base)
    assert links["link_method"].tolist() == ["id", "id"]
    assert links["person_id"].tolist() == [person["person_id"]] * 2


def test_empty_records_give_empty_links(base):
    records = pd.DataFrame({"record_id": pd.Series([], dtype=str), "name": pd.Series([], dtype=str),
                            "id_number": pd.Series([], dtype=str)})
    assert link_records(records, base).empty


@pytest.mark.parametrize("raw, expected", [
    ("湖北省宜昌市西陵区 沿江大道３号１幢2-101室", "沿江大道3号1栋2单元101"),
    ("西陵沿江大道3号1号楼2单元101", "沿江大道3号1栋2单元101"),
    ("", ""),
    (None, ""),
])
def test_normalise_address(raw, expected):
    assert normalise_address([raw]).iloc[0] == expected


@pytest.mark.parametrize("raw, expected", [(" 42050219500302001x ", "42050219500302001X"),
                                           ("４２０５", "4205"), (None, ""), ("", "")])
def test_normalise_id(raw, expected):
    assert normalise_id([raw]).iloc[0] == expected


def test_name_sound_hears_homophones():
    assert name_sound(["王伟", "王玮", "李娜", ""]).tolist() == ["wangwei", "wangwei", "lina", ""]


def test_transposed_ids_fail_the_check_digit():
    rng = np.random.default_rng(0)
    ids = make_base(200)["id_number"]
    assert not is_valid_id(transpose_id_digits(ids, rng)).any()
