"""Tests for gridmap.geocode.address: the Chinese address parser (issue 3 §1)."""

import pandas as pd
import pytest

from gridmap.demo.gazetteer import AVENUE_NAMES, STREET_NAMES
from gridmap.geocode.address import (
    ADDRESS_FIELDS,
    TYPO_FIXES,
    YICHANG_DISTRICTS,
    ParseCancelled,
    chinese_to_int,
    normalize_text,
    parse_address,
    parse_addresses,
    standard_address,
    standard_addresses,
)

# GB/T 2260 codes written out here rather than imported, so a wrong table fails a test.
_CODES = {
    "西陵区": "420502", "伍家岗区": "420503", "点军区": "420504", "猇亭区": "420505",
    "夷陵区": "420506", "远安县": "420525", "兴山县": "420526", "秭归县": "420527",
    "长阳土家族自治县": "420528", "五峰土家族自治县": "420529", "宜都市": "420581",
    "当阳市": "420582", "枝江市": "420583",
}


def yc(district):
    """Expected administrative levels of an address in a district of 宜昌市."""
    return {"province": "湖北省", "city": "宜昌市", "district": district,
            "district_code": _CODES[district]}


# (address as typed, expected components); components not listed are expected "".
ADDRESSES = [
    # Full canonical form and the same place with levels left out.
    ("湖北省宜昌市西陵区夷陵大道57号桃花岭小区3栋2单元501室",
     {**yc("西陵区"), "road": "夷陵大道", "door": "57", "compound": "桃花岭小区",
      "building": "3", "unit": "2", "room": "501"}),
    ("宜昌市西陵区夷陵大道57号桃花岭小区3栋2单元501",
     {**yc("西陵区"), "road": "夷陵大道", "door": "57", "compound": "桃花岭小区",
      "building": "3", "unit": "2", "room": "501"}),
    ("夷陵大道57号桃花岭小区3号楼2单元501室",
     {"road": "夷陵大道", "door": "57", "compound": "桃花岭小区", "building": "3",
      "unit": "2", "room": "501"}),
    ("西陵区 夷陵大道，57号", {**yc("西陵区"), "road": "夷陵大道", "door": "57"}),
    ("西陵夷陵大道57号", {**yc("西陵区"), "road": "夷陵大道", "door": "57"}),
    ("宜昌西陵东山大道12号", {**yc("西陵区"), "road": "东山大道", "door": "12"}),
    ("湖北宜昌伍家岗区沿江大道95-3号", {**yc("伍家岗区"), "road": "沿江大道", "door": "95-3"}),
    ("伍家岗沿江大道95-3号滨江花园B座1802",
     {**yc("伍家岗区"), "road": "沿江大道", "door": "95-3", "compound": "滨江花园",
      "building": "B", "room": "1802"}),
    ("伍家岗区沿江大道95-97号", {**yc("伍家岗区"), "road": "沿江大道", "door": "95-97"}),
    ("中国湖北省宜昌市西陵区", yc("西陵区")),
    ("宜昌市", {"province": "湖北省", "city": "宜昌市"}),
    ("地址：西陵区夷陵大道57号", {**yc("西陵区"), "road": "夷陵大道", "door": "57"}),
    # Every district and county of 宜昌市, by full and short name.
    ("猇亭区古老背街道猇亭大道18号",
     {**yc("猇亭区"), "subdistrict": "古老背街道", "road": "猇亭大道", "door": "18"}),
    ("猇亭古老背街道", {**yc("猇亭区"), "subdistrict": "古老背街道"}),
    ("夷陵区小溪塔街道东湖路12号",
     {**yc("夷陵区"), "subdistrict": "小溪塔街道", "road": "东湖路", "door": "12"}),
    ("夷陵小溪塔街道", {**yc("夷陵区"), "subdistrict": "小溪塔街道"}),
    ("夷陵区龙泉镇龙泉村五组",
     {**yc("夷陵区"), "subdistrict": "龙泉镇", "community": "龙泉村", "group": "5"}),
    ("宜都市陆城街道长江大道6号",
     {**yc("宜都市"), "subdistrict": "陆城街道", "road": "长江大道", "door": "6"}),
    ("当阳市玉阳街道长坂路88号",
     {**yc("当阳市"), "subdistrict": "玉阳街道", "road": "长坂路", "door": "88"}),
    ("枝江市马家店街道民主大道3号",
     {**yc("枝江市"), "subdistrict": "马家店街道", "road": "民主大道", "door": "3"}),
    ("长阳县龙舟坪镇龙舟大道1号",
     {**yc("长阳土家族自治县"), "subdistrict": "龙舟坪镇", "road": "龙舟大道", "door": "1"}),
    ("长阳龙舟坪镇", {**yc("长阳土家族自治县"), "subdistrict": "龙舟坪镇"}),
    ("五峰县渔洋关镇", {**yc("五峰土家族自治县"), "subdistrict": "渔洋关镇"}),
    ("秭归县茅坪镇", {**yc("秭归县"), "subdistrict": "茅坪镇"}),
    ("兴山县古夫镇昭君路10号",
     {**yc("兴山县"), "subdistrict": "古夫镇", "road": "昭君路", "door": "10"}),
    ("远安县鸣凤镇凤山社区", {**yc("远安县"), "subdistrict": "鸣凤镇", "community": "凤山社区"}),
    # Short district names that start road, subdistrict and landmark names.
    ("西陵二路18号", {"road": "西陵二路", "door": "18"}),
    ("西陵区西陵街道西陵一路5号",
     {**yc("西陵区"), "subdistrict": "西陵街道", "road": "西陵一路", "door": "5"}),
    ("点军街道", {"subdistrict": "点军街道"}),
    ("点军区点军街道", {**yc("点军区"), "subdistrict": "点军街道"}),
    ("夷陵路3号", {"road": "夷陵路", "door": "3"}),
    ("夷陵大道57号", {"road": "夷陵大道", "door": "57"}),
    ("夷陵广场", {"compound": "夷陵广场"}),
    # Villages: 乡/镇, 村, 组, and a door number inside the group.
    ("点军区土城乡车溪村三组",
     {**yc("点军区"), "subdistrict": "土城乡", "community": "车溪村", "group": "3"}),
    ("点军区土城乡车溪村3组15号",
     {**yc("点军区"), "subdistrict": "土城乡", "community": "车溪村", "group": "3",
      "door": "15"}),
    ("伍家岗区伍家乡共联村2组",
     {**yc("伍家岗区"), "subdistrict": "伍家乡", "community": "共联村", "group": "2"}),
    ("兴山县古夫镇丹阳村一组8号",
     {**yc("兴山县"), "subdistrict": "古夫镇", "community": "丹阳村", "group": "1",
      "door": "8"}),
    ("车溪村委会", {"community": "车溪村"}),
    ("车溪村第四村民小组", {"community": "车溪村", "group": "4"}),
    # Communities named after roads, and roads named after a compound.
    ("西陵区云集街道云集路社区云集路12号",
     {**yc("西陵区"), "subdistrict": "云集街道", "community": "云集路社区", "road": "云集路",
      "door": "12"}),
    ("西陵区珍珠路社区珍珠路28号",
     {**yc("西陵区"), "community": "珍珠路社区", "road": "珍珠路", "door": "28"}),
    ("云集路社区居委会", {"community": "云集路社区"}),
    ("西陵区学院街道东山大道社区东山大道95号",
     {**yc("西陵区"), "subdistrict": "学院街道", "community": "东山大道社区",
      "road": "东山大道", "door": "95"}),
    ("港窑路5号", {"road": "港窑路", "door": "5"}),
    ("伍家岗区港窑路小区5栋", {**yc("伍家岗区"), "compound": "港窑路小区", "building": "5"}),
    ("西陵区电力新村3栋", {**yc("西陵区"), "compound": "电力新村", "building": "3"}),
    # Roads.
    ("城东大道88号", {"road": "城东大道", "door": "88"}),
    ("伍家岗区发展大道59号", {**yc("伍家岗区"), "road": "发展大道", "door": "59"}),
    ("西陵区解放路42号", {**yc("西陵区"), "road": "解放路", "door": "42"}),
    ("西湖路6号", {"road": "西湖路", "door": "6"}),
    ("葛洲坝路12号", {"road": "葛洲坝路", "door": "12"}),
    ("桔城路3号紫阳城2栋", {"road": "桔城路", "door": "3", "compound": "紫阳城", "building": "2"}),
    ("夷陵大道57", {"road": "夷陵大道", "door": "57"}),
    # Road names holding a road suffix or a level character, and roads named after a
    # compound word.
    ("铁路坝路12号桃花岭小区3栋",
     {"road": "铁路坝路", "door": "12", "compound": "桃花岭小区", "building": "3"}),
    ("镇川路5号", {"road": "镇川路", "door": "5"}),
    ("新镇川路3号", {"road": "新镇川路", "door": "3"}),
    ("新村路5号", {"road": "新村路", "door": "5"}),
    ("县前街3号", {"road": "县前街", "door": "3"}),
    ("花园路12号", {"road": "花园路", "door": "12"}),
    ("广场路3号东湖花园2栋",
     {"road": "广场路", "door": "3", "compound": "东湖花园", "building": "2"}),
    ("东山大道桃花街小区5栋", {"road": "东山大道", "compound": "桃花街小区", "building": "5"}),
    ("夷陵大道桃花岭小区3栋", {"road": "夷陵大道", "compound": "桃花岭小区", "building": "3"}),
    ("夷陵大道０５７号", {"road": "夷陵大道", "door": "57"}),
    ("西陵区夷陵大道五十七号", {**yc("西陵区"), "road": "夷陵大道", "door": "57"}),
    # Compounds, buildings (号楼/栋/幢/座/#), units, floors and rooms.
    ("西陵区胜利四路8号东湖花园B栋3楼",
     {**yc("西陵区"), "road": "胜利四路", "door": "8", "compound": "东湖花园",
      "building": "B", "floor": "3"}),
    ("万达广场A座1205室", {"compound": "万达广场", "building": "A", "room": "1205"}),
    ("万达广场a座1205", {"compound": "万达广场", "building": "A", "room": "1205"}),
    ("桃花岭小区三号楼二单元", {"compound": "桃花岭小区", "building": "3", "unit": "2"}),
    ("桃花岭小区十二栋", {"compound": "桃花岭小区", "building": "12"}),
    ("西陵区葛洲坝水电家园二十一栋一单元",
     {**yc("西陵区"), "compound": "葛洲坝水电家园", "building": "21", "unit": "1"}),
    ("滨江花园＃１２栋２单元", {"compound": "滨江花园", "building": "12", "unit": "2"}),
    ("滨江花园１２＃楼５０１", {"compound": "滨江花园", "building": "12", "room": "501"}),
    ("紫阳城3-2-501", {"compound": "紫阳城", "building": "3", "unit": "2", "room": "501"}),
    ("东湖花园5栋2-302", {"compound": "东湖花园", "building": "5", "unit": "2", "room": "302"}),
    ("桃花岭小区3幢1单元6层",
     {"compound": "桃花岭小区", "building": "3", "unit": "1", "floor": "6"}),
    ("桃花岭小区3栋三楼", {"compound": "桃花岭小区", "building": "3", "floor": "3"}),
    ("桃花岭小区03栋02单元0501室",
     {"compound": "桃花岭小区", "building": "3", "unit": "2", "room": "501"}),
    ("夷陵大道57号桃花岭小区B座",
     {"road": "夷陵大道", "door": "57", "compound": "桃花岭小区", "building": "B"}),
    ("沿江大道123号滨江花园二期3栋",
     {"road": "沿江大道", "door": "123", "compound": "滨江花园2期", "building": "3"}),
    ("紫阳城市花园3栋501", {"compound": "紫阳城市花园", "building": "3", "room": "501"}),
    ("江南一品3栋2单元", {"compound": "江南一品", "building": "3", "unit": "2"}),
    # Full-width characters, spaces and punctuation.
    ("西陵区夷陵大道５７号　桃花岭小区Ａ座",
     {**yc("西陵区"), "road": "夷陵大道", "door": "57", "compound": "桃花岭小区",
      "building": "A"}),
    ("西陵区 东山大道 ９５号 ２栋",
     {**yc("西陵区"), "road": "东山大道", "door": "95", "building": "2"}),
    ("西陵区、夷陵大道57号（桃花岭小区）3栋-2单元-501室。",
     {**yc("西陵区"), "road": "夷陵大道", "door": "57", "compound": "桃花岭小区",
      "building": "3", "unit": "2", "room": "501"}),
    # Trailing landmark notes.
    ("体育场路9号附近", {"road": "体育场路", "door": "9", "note": "附近"}),
    ("隆中路12号对面", {"road": "隆中路", "door": "12", "note": "对面"}),
    ("沿江大道万达广场旁", {"road": "沿江大道", "compound": "万达广场", "note": "旁"}),
    ("西陵区夷陵大道57号桃花岭小区3栋2单元501室门口",
     {**yc("西陵区"), "road": "夷陵大道", "door": "57", "compound": "桃花岭小区",
      "building": "3", "unit": "2", "room": "501", "note": "门口"}),
    ("西陵一路3号 旁边", {"road": "西陵一路", "door": "3", "note": "旁边"}),
    # Typos from TYPO_FIXES.
    ("东山大到葛洲坝水电家园十二栋二单远",
     {"road": "东山大道", "compound": "葛洲坝水电家园", "building": "12", "unit": "2"}),
    ("桃花岭小区3好楼2单远501",
     {"compound": "桃花岭小区", "building": "3", "unit": "2", "room": "501"}),
    ("五家岗区沿江大道8号", {**yc("伍家岗区"), "road": "沿江大道", "door": "8"}),
    ("东湖花园5冻", {"compound": "东湖花园", "building": "5"}),
    # Out of order: read again from where the first reading stopped.
    ("桃花岭小区(夷陵大道57号)3栋",
     {"road": "夷陵大道", "door": "57", "compound": "桃花岭小区", "building": "3"}),
    # Other cities and non-GB/T 2260 districts: named, without a code.
    ("武汉市洪山区珞喻路1037号",
     {"province": "湖北省", "city": "武汉市", "district": "洪山区", "road": "珞喻路",
      "door": "1037"}),
    ("宜昌市高新区发展大道59号",
     {"province": "湖北省", "city": "宜昌市", "district": "高新区", "road": "发展大道",
      "door": "59"}),
    # Text that is not an address is kept as a note; missing input gives all "".
    ("不详", {"note": "不详"}),
    ("13800001111", {"note": "13800001111"}),
    ("", {}),
    ("   ", {}),
    (None, {}),
    (float("nan"), {}),
]


def _expected(partial):
    return {field: partial.get(field, "") for field in ADDRESS_FIELDS}


def _label(case):
    return repr(case) if not isinstance(case, str) or not case.strip() else case


@pytest.mark.parametrize("text, expected", ADDRESSES, ids=[_label(a) for a, _ in ADDRESSES])
def test_parse_address(text, expected):
    assert parse_address(text) == _expected(expected)


def test_table_is_large_enough():
    assert len(ADDRESSES) >= 60


def test_parse_addresses_equals_parse_address_row_by_row():
    texts = pd.Series([a for a, _ in ADDRESSES], index=range(100, 100 + len(ADDRESSES)))
    frame = parse_addresses(texts)
    assert list(frame.columns) == list(ADDRESS_FIELDS)
    assert frame.index.equals(texts.index)
    rows = [parse_address(t) for t in texts]
    expected = pd.DataFrame(rows, index=texts.index, columns=list(ADDRESS_FIELDS))
    pd.testing.assert_frame_equal(frame.astype(object), expected.astype(object))


def test_parse_addresses_repeats_and_missing():
    texts = pd.Series(["西陵区夷陵大道57号", None, "西陵区夷陵大道57号", pd.NA], dtype=object)
    frame = parse_addresses(texts)
    assert frame["door"].tolist() == ["57", "", "57", ""]
    assert (frame.drop(columns="door").iloc[[1, 3]] == "").all().all()


def test_parse_addresses_empty_series():
    frame = parse_addresses(pd.Series([], dtype=object))
    assert frame.empty
    assert list(frame.columns) == list(ADDRESS_FIELDS)


def test_parse_addresses_rejects_a_list():
    with pytest.raises(TypeError, match="series must be a pandas Series, got list"):
        parse_addresses(["西陵区"])


def test_parse_addresses_progress_and_cancel():
    calls = []
    parse_addresses(pd.Series(["西陵区", "伍家岗区"]), progress=lambda f, m: calls.append(f))
    assert calls == [1.0]
    with pytest.raises(ParseCancelled, match="cancelled after 0 of 2 distinct addresses"):
        parse_addresses(pd.Series(["西陵区", "伍家岗区"]), cancelled=lambda: True)


def test_fill_parents_off_keeps_only_what_was_written():
    parts = parse_address("西陵区夷陵大道57号", fill_parents=False)
    assert (parts["province"], parts["city"], parts["district"]) == ("", "", "西陵区")
    assert parts["district_code"] == "420502"
    frame = parse_addresses(pd.Series(["西陵区夷陵大道57号"]), fill_parents=False)
    assert frame.iloc[0].to_dict() == parts


@pytest.mark.parametrize("text, expected", ADDRESSES, ids=[_label(a) for a, _ in ADDRESSES])
def test_standard_address_round_trip(text, expected):
    parts = parse_address(text)
    again = parse_address(standard_address(parts))
    assert again == {**parts, "note": ""}


def test_standard_address_canonical_form():
    parts = parse_address("西陵 夷陵大道57号 桃花岭小区三号楼二单元５０１")
    assert standard_address(parts) == "湖北省宜昌市西陵区夷陵大道57号桃花岭小区3栋2单元501室"
    assert standard_address(parse_address("点军区土城乡车溪村三组15号")) == (
        "湖北省宜昌市点军区土城乡车溪村3组15号"
    )
    assert standard_address({}) == ""
    assert standard_address(parse_address(None)) == ""


def test_standard_addresses_matches_scalar():
    texts = pd.Series([a for a, _ in ADDRESSES], index=range(len(ADDRESSES), 0, -1))
    frame = parse_addresses(texts)
    result = standard_addresses(frame)
    assert result.index.equals(frame.index)
    assert result.tolist() == [standard_address(parse_address(t)) for t in texts]


def test_standard_addresses_missing_columns_and_type():
    frame = pd.DataFrame({"road": ["夷陵大道", None], "door": ["57", ""]})
    assert standard_addresses(frame).tolist() == ["夷陵大道57号", ""]
    with pytest.raises(TypeError, match="frame must be a pandas DataFrame, got dict"):
        standard_addresses({"road": "夷陵大道"})


@pytest.mark.parametrize(
    "text, expected",
    [
        ("三", 3), ("十", 10), ("十二", 12), ("二十", 20), ("二十一", 21), ("两", 2),
        ("一百零五", 105), ("一百一", 110), ("一百一十", 110), ("三千零五十", 3050),
        ("两千", 2000), ("一零五", 105), ("二〇一", 201), ("零", 0), ("第二", 2),
        ("12", 12), ("１２", 12), (7, 7), ("一万零一", 10001),
    ],
)
def test_chinese_to_int(text, expected):
    assert chinese_to_int(text) == expected


@pytest.mark.parametrize("text", ["", "十三四", "十百", "三号", "abc", None])
def test_chinese_to_int_rejects(text):
    with pytest.raises(ValueError, match="not a Chinese numeral"):
        chinese_to_int(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("西陵区 夷陵大道，５７号", "西陵区夷陵大道57号"),
        ("ａｂ　Ｃ１２３", "ABC123"),
        ("二〇一室", "201室"),
        ("三号楼二单远", "3号楼2单元"),
        ("＃１２栋", "12栋"),
        ("12#楼", "12号楼"),
        ("3号栋", "3栋"),
        ("95－3号", "95-3号"),
        ("3栋-2单元", "3栋2单元"),
        ("第二网格", "2网格"),
        ("胜利四路", "胜利四路"),
        ("住址:中国湖北省", "湖北省"),
        ("東山大道", "东山大道"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize_text(text, expected):
    assert normalize_text(text) == expected


@pytest.mark.parametrize("typo", sorted(TYPO_FIXES))
def test_typo_trigger_covers_every_fix(typo):
    assert normalize_text(typo) == TYPO_FIXES[typo]


@pytest.mark.parametrize(
    "text, expected",
    [("3好", "3号"), ("5冻", "5栋"), ("5洞", "5栋"), ("5撞", "5幢"), ("5搂", "5楼"),
     ("3号栋", "3栋"), ("3号幢", "3幢"), ("三号座", "3座")],
)
def test_typos_after_a_number(text, expected):
    assert normalize_text(text) == expected


def test_typo_characters_elsewhere_are_kept():
    assert normalize_text("好邻居超市") == "好邻居超市"


def test_district_table_matches_gb_t_2260():
    assert {full: code for code, (full, _) in YICHANG_DISTRICTS.items()} == _CODES


def test_demo_gazetteer_addresses_parse_exactly():
    # The geocoder parses the gazetteer's standard addresses with this parser and keys
    # exact matches on road, door, compound and building.
    roads = [*AVENUE_NAMES, *STREET_NAMES, *("新" + name for name in STREET_NAMES)]
    districts = list(_CODES)
    rows = pd.DataFrame({
        "district": [districts[i % len(districts)] for i in range(len(roads))],
        "road": roads,
        "door": [str(2 * i + 1) for i in range(len(roads))],
        "compound": "金苑小区",
        "building": [str(i % 9 + 1) for i in range(len(roads))],
    })
    text = ("湖北省宜昌市" + rows["district"] + rows["road"] + rows["door"] + "号"
            + rows["compound"] + rows["building"] + "栋")
    parsed = parse_addresses(text)
    for column in rows:
        assert parsed[column].tolist() == rows[column].tolist()
    assert (parsed["note"] == "").all()
