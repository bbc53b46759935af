"""Parse free-text Chinese addresses from Yichang registries into components (issue 3 §1).

Residents' registries, care rosters and complaint logs hold addresses as people type
them: with or without province, city and district, with full-width digits, spaces and
punctuation, Chinese numerals (``三号楼``, ``十二栋``), several building markers
(``号楼``/``栋``/``幢``/``座``/``#``), trailing landmarks (``旁``, ``对面``) and
homophone typos (``单远`` for ``单元``). This module turns such text into the fixed
set of components in :data:`ADDRESS_FIELDS` and back into one canonical string::

    湖北省宜昌市西陵区夷陵大道57号桃花岭小区3栋2单元501室

Parsing is deliberately syntactic: it does not look names up in a gazetteer, so road
and compound names come back as written (after normalisation); the geocoder matches
them against the gazetteer with rapidfuzz later. Only the administrative levels are
recognised by name: Hubei, its prefecture-level cities, and the districts and
counties of 宜昌市 (GB/T 2260), the latter with their six-digit code.

The whole address is read by one compiled regular expression whose named groups
follow the usual order of a Chinese address (province, city, district, subdistrict,
community, village group, road, door, compound, building, unit, floor, room). Text
that does not fit that order (``桃花岭小区(夷陵大道57号)``) is read again from where
the first reading stopped, up to three readings in all, filling only the levels still
empty; whatever remains goes to ``note``.

Module-level tables are read-only (:class:`types.MappingProxyType`); nothing here
keeps state between calls.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import pandas as pd

from gridmap.errors import GridMapError

__all__ = [
    "ADDRESS_FIELDS",
    "TYPO_FIXES",
    "YICHANG_DISTRICTS",
    "ParseCancelled",
    "chinese_to_int",
    "normalize_text",
    "parse_address",
    "parse_addresses",
    "standard_address",
    "standard_addresses",
]

ADDRESS_FIELDS = (
    "province",
    "city",
    "district",
    "district_code",
    "subdistrict",
    "community",
    "group",
    "road",
    "door",
    "compound",
    "building",
    "unit",
    "floor",
    "room",
    "note",
)
"""Keys of :func:`parse_address` and columns of :func:`parse_addresses`, in order."""

# GB/T 2260 codes of the county-level divisions of 宜昌市 (4205), with the short forms
# people write. Bare short forms are only taken as a district when they do not start a
# longer name (西陵一路, 夷陵大道, 西陵街道, 夷陵广场); see _NOT_A_NAME below.
YICHANG_DISTRICTS = MappingProxyType({
    "420502": ("西陵区", ("西陵",)),
    "420503": ("伍家岗区", ("伍家岗",)),
    "420504": ("点军区", ("点军",)),
    "420505": ("猇亭区", ("猇亭",)),
    "420506": ("夷陵区", ("夷陵",)),
    "420525": ("远安县", ("远安",)),
    "420526": ("兴山县", ("兴山",)),
    "420527": ("秭归县", ("秭归",)),
    "420528": ("长阳土家族自治县", ("长阳县", "长阳")),
    "420529": ("五峰土家族自治县", ("五峰县", "五峰")),
    "420581": ("宜都市", ("宜都",)),
    "420582": ("当阳市", ("当阳",)),
    "420583": ("枝江市", ("枝江",)),
})
"""District code -> (full name, short forms) for 宜昌市's districts and counties."""

_HUBEI = "湖北省"
_YICHANG = "宜昌市"
# Prefecture-level divisions of Hubei (GB/T 2260 42xx00), so that an address in another
# city keeps its city instead of being read as a Yichang road.
_HUBEI_CITIES = (
    "武汉市", "黄石市", "十堰市", "宜昌市", "襄阳市", "鄂州市", "荆门市", "孝感市",
    "荆州市", "黄冈市", "咸宁市", "随州市", "恩施土家族苗族自治州", "仙桃市", "潜江市",
    "天门市", "神农架林区",
)

TYPO_FIXES = MappingProxyType({
    # Homophones typed with a pinyin IME in Yichang registries.
    "大到": "大道",  # 东山大到
    "街到": "街道",
    "好楼": "号楼",
    "号搂": "号楼",
    "单远": "单元",
    "单园": "单元",
    "单圆": "单元",
    "单无": "单元",  # 元/无 look alike in handwriting transcribed by clerks
    "小曲": "小区",
    "小去": "小区",
    "社曲": "社区",
    "舍区": "社区",
    "五家岗": "伍家岗",
    # Variant wordings of the same level, unified so that one pattern reads them.
    "社区居委会": "社区",
    "社区居民委员会": "社区",
    "居委会": "社区",
    "村民委员会": "村",
    "村委会": "村",
    "村民小组": "组",
    "小组": "组",
})
"""Multi-character typos and variant wordings replaced everywhere in an address."""

_DIGIT_TYPOS = MappingProxyType({
    # Only after a digit or a Chinese numeral, where no name can follow.
    "好": "号",
    "冻": "栋",
    "洞": "栋",
    "撞": "幢",
    "搂": "楼",
    # 3号栋, 3号幢 and 3号座 carry two building markers; keep the specific one.
    "号栋": "栋",
    "号幢": "幢",
    "号座": "座",
})

_NUMERAL_DIGITS = MappingProxyType({
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
})
_NUMERAL_UNITS = MappingProxyType({"十": 10, "百": 100, "千": 1000, "万": 10000})
# 万 is left out of the address numerals: it starts names (万达广场, 万寿桥).
_ADDRESS_NUMERALS = "零一二两三四五六七八九十百千"

# Markers after which a number is a component number (三号楼, 十二栋, 第二网格).
_NUMBER_MARKERS = ("号楼", "号", "栋", "幢", "座", "单元", "楼", "层", "室", "组",
                   "期", "网格", "巷", "F")

_COMPOUND_SUFFIXES = (
    "宿舍区", "家属区", "家属院", "生活区", "小区", "花园", "家园", "嘉园", "佳园",
    "公寓", "广场", "新村", "新城", "大厦", "大楼", "山庄", "公馆", "华庭", "华府",
    "名都", "国际", "中心", "宿舍", "大院", "大学", "中学", "小学", "公司", "市场",
    "苑", "院", "城", "府", "庭", "居", "阁", "园", "湾", "厂", "局",
)
_ROAD_SUFFIXES = ("大道", "大街", "路", "街", "巷", "道")
_SUBDISTRICT_SUFFIXES = ("街道办事处", "街道办", "街道", "办事处", "镇", "乡")
_NOTE_WORDS = (
    "斜对面", "对面", "对门", "旁边", "旁", "附近", "周边", "一带", "门口", "后面",
    "后边", "背后", "前面", "隔壁", "楼下", "里面", "东侧", "西侧", "南侧", "北侧", "内",
)
_ADDRESS_LABELS = ("现住址", "家庭住址", "居住地址", "户籍地址", "联系地址", "住址", "地址")

# Rows still holding unread text after the first reading are read this many times in all.
_MAX_PASSES = 3
_CHUNK = 100_000


class ParseCancelled(GridMapError):
    """The caller's ``cancelled()`` callable asked :func:`parse_addresses` to stop."""


def _alternation(words) -> str:
    """Return a regex alternation of ``words``, longest first so the longest wins."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def _han_class(exclude: str) -> str:
    """Return a character class of CJK Unified Ideographs except the ``exclude`` chars.

    Excluding a level's own suffix characters from its name keeps a lazy name from
    running across into the next level (小区 cannot be part of a road name).
    """
    ranges, start = [], 0x4E00
    for cp in sorted({ord(c) for c in exclude}):
        if cp > start:
            ranges.append((start, cp - 1))
        start = cp + 1
    ranges.append((start, 0x9FFF))
    body = "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges)
    return f"[{body}]"


def _translation_table() -> dict[int, int | str | None]:
    """Build the one-character mapping applied first by :func:`normalize_text`."""
    table: dict[int, int | str | None] = {}
    for cp in range(0xFF01, 0xFF5F):  # full-width ASCII block
        table[cp] = chr(cp - 0xFEE0).upper()
    for c in "abcdefghijklmnopqrstuvwxyz":
        table[ord(c)] = c.upper()
    for c in " \t\r\n\f\v\u3000\xa0\u200b" + "!\"$%&'()*+,./:;<=>?@[\\]^_`{|}~" + \
            "、。，；：？！“”‘’（）【】《》〈〉「」『』〔〕…·・":
        table[ord(c)] = None
    for c in "－—–―‐‑−～~":
        table[ord(c)] = "-"
    table[ord("＃")] = "#"
    table[ord("〇")] = "零"
    # Traditional forms that reach the registries through copied documents.
    for trad, simp in zip("號棟樓單區層門東車陽龍園場廣莊縣鎮鄉組",
                          "号栋楼单区层门东车阳龙园场广庄县镇乡组", strict=True):
        table[ord(trad)] = simp
    return table


_TRANSLATE = MappingProxyType(_translation_table())
_NUM = f"[{_ADDRESS_NUMERALS}]"
_MARKER_ALT = _alternation(_NUMBER_MARKERS)


class _Step(NamedTuple):
    """One substitution of the normaliser, run only where its cheap ``trigger`` fires.

    Most addresses need few of the steps, and a substring test costs a fraction of a
    regex substitution; this is what keeps 700,000 rows within seconds. ``trigger``
    is a substring (``in``), a tuple of prefixes (``startswith``), a compiled pattern
    (``search``) or None (always run). The scalar and the vectorised path run the
    same steps with the same triggers, so they cannot disagree.
    """

    trigger: str | tuple[str, ...] | re.Pattern | None
    pattern: re.Pattern
    repl: str | Callable[[re.Match], str]


def _fires(trigger, text: str) -> bool:
    if trigger is None:
        return True
    if isinstance(trigger, str):
        return trigger in text
    if isinstance(trigger, tuple):
        return text.startswith(trigger)
    return trigger.search(text) is not None


def _fires_series(trigger, series: pd.Series) -> np.ndarray:
    if trigger is None:
        return np.ones(len(series), dtype=bool)
    if isinstance(trigger, str):
        hit = series.str.contains(trigger, regex=False)
    elif isinstance(trigger, tuple):
        hit = series.str.startswith(trigger)
    else:
        hit = series.str.contains(trigger)
    return hit.to_numpy(dtype=bool)


def _run_steps(text: str, steps: tuple[_Step, ...]) -> str:
    for step in steps:
        if _fires(step.trigger, text):
            text = step.pattern.sub(step.repl, text)
    return text


def _run_steps_series(series: pd.Series, steps: tuple[_Step, ...]) -> pd.Series:
    # Masks and assignments on the object array: Series boolean __setitem__ costs more
    # than the substitutions it would save.
    values = series.to_numpy(dtype=object, copy=True)
    for step in steps:
        hit = _fires_series(step.trigger, pd.Series(values, dtype=object, copy=False))
        if hit.any():
            done = pd.Series(values[hit], dtype=object).str.replace(
                step.pattern, step.repl, regex=True
            )
            values[hit] = done.to_numpy(dtype=object)
    return pd.Series(values, index=series.index, dtype=object)


def _translate_run(match: re.Match) -> str:
    return match.group().translate(_TRANSLATE)


def _hash(match: re.Match) -> str:
    # 12#楼 is 12号楼 and 3# is 3号; a # before the number (＃１２栋) is dropped.
    return match.group(1) + "号" if match.group(1) else ""


def _fix_typo(match: re.Match) -> str:
    text = match.group()
    return TYPO_FIXES.get(text) or _DIGIT_TYPOS[text]


def _numeral_to_digits(match: re.Match) -> str:
    numeral = match.group(1)
    if not numeral:
        return ""
    return _SMALL_NUMERALS.get(numeral) or str(chinese_to_int(numeral))


# A character of every key of TYPO_FIXES and _DIGIT_TYPOS, chosen to be rare in
# correct addresses (test_typo_trigger_covers_every_fix checks the coverage).
_TYPO_TRIGGER = re.compile("[到好搂远圆无曲去舍五委组冻洞撞]|单园|号[栋幢座]")

_NORMALIZE_STEPS = (
    _Step(None, re.compile(f"[{re.escape(''.join(map(chr, _TRANSLATE)))}]+"), _translate_run),
    _Step("#", re.compile(r"([0-9A-Z])?#"), _hash),
    _Step(
        ("中", *_ADDRESS_LABELS),
        re.compile(
            rf"^(?:中华人民共和国|中国)?(?:{_alternation(_ADDRESS_LABELS)})?"
            r"(?:中华人民共和国|中国)?"
        ),
        "",
    ),
    _Step(
        _TYPO_TRIGGER,
        re.compile(
            rf"{_alternation(TYPO_FIXES)}"
            rf"|(?<=[0-9{_ADDRESS_NUMERALS}])(?:{_alternation(_DIGIT_TYPOS)})"
        ),
        _fix_typo,
    ),
    _Step(
        re.compile(f"[第{_ADDRESS_NUMERALS}]"),
        re.compile(rf"第?({_NUM}+)(?={_MARKER_ALT})|第(?=[0-9]+(?:{_MARKER_ALT}))"),
        _numeral_to_digits,
    ),
    _Step("-", re.compile(r"-(?![0-9])|(?<![0-9])-"), ""),
)

# --- The address pattern -------------------------------------------------------------

_NOT_A_NAME = (
    rf"(?![{_ADDRESS_NUMERALS}0-9]*(?:{_alternation(_ROAD_SUFFIXES)})"
    rf"|{_alternation((*_SUBDISTRICT_SUFFIXES, '社区', '村', *_COMPOUND_SUFFIXES))}"
    r"|峡|港|站|桥|山|湖|江|公园|医院)"
)


def _admin_group(name: str, full_to_short: Mapping[str, tuple[str, ...]], extra: str = "") -> str:
    """Return an optional named group for one administrative level.

    It matches the full names, the short forms where they do not start a longer
    name, and the ``extra`` alternatives if given.
    """
    options = [_alternation(full_to_short)]
    shorts = {s for v in full_to_short.values() for s in v}
    if shorts:
        options.append(rf"(?:{_alternation(shorts)}){_NOT_A_NAME}")
    if extra:
        options.append(extra)
    return rf"(?P<{name}>{'|'.join(options)})?"


def _city_short_forms(city: str) -> tuple[str, ...]:
    if city == "恩施土家族苗族自治州":
        return ("恩施州", "恩施")
    if city == "神农架林区":
        return ("神农架",)
    return (city[:-1],)


_PROVINCE_FORMS = MappingProxyType({_HUBEI: ("湖北",)})
_CITY_FORMS = MappingProxyType({c: _city_short_forms(c) for c in _HUBEI_CITIES})
_DISTRICT_FORMS = MappingProxyType(dict(YICHANG_DISTRICTS.values()))

# 小 and 社 are excluded so that 小区 and 社区 never end a district name.
_DISTRICT_NAME = _han_class("省市区县镇乡村社路街道巷号栋幢座室组楼小")
_SUB_NAME = _han_class("省市区县镇乡村社路街道巷号栋幢座室组楼")
_COM_NAME = _han_class("省市区县镇乡村社号栋幢座室组楼")
# Road names may hold level characters (镇川路, 新村路, 县前街, 鼓楼路); the levels
# before the road are read first, and 小区 and the like are kept out by _ROAD_CHAR.
_ROAD_NAME = _han_class("号栋幢座室组")
_COMPOUND_NAME = _han_class("号栋幢座室组")[:-1] + "A-Z]"
_BUILDING = "[A-Z]?[0-9]+[A-Z]?|[A-Z]{1,2}"
_BUILDING_MARKERS = "号楼|栋|幢|座"
# After a subdistrict or community: not just one more character and a road suffix
# before the door, which makes the level's name the start of a road (新镇川路1号, 南村路5号).
_NOT_A_ROAD_START = (
    rf"(?!{_han_class('')}?(?:{_alternation(_ROAD_SUFFIXES)})(?:[0-9]|$))"
)
_STRONG_COMPOUND = _alternation(("小区", "花园", "家园", "公寓", "广场", "大厦"))
# One character of a road name: not the start of a compound word, unless that word
# is itself followed by a road suffix (花园路, 广场路).
_ROAD_CHAR = (
    rf"(?!(?:{_STRONG_COMPOUND}|社区)(?!{_alternation(_ROAD_SUFFIXES)})){_ROAD_NAME}"
)

_ADDRESS = re.compile(
    "^"
    + _admin_group("province", _PROVINCE_FORMS)
    + _admin_group("city", _CITY_FORMS)
    # Any other 区/县 (高新区, 洪山区) or county-level 市, but only right after a city.
    + _admin_group(
        "district",
        _DISTRICT_FORMS,
        rf"(?(city){_DISTRICT_NAME}{{1,6}}?(?:区|县)|(?!))"
        rf"|(?(city){_DISTRICT_NAME}{{2,6}}?市|(?!))",
    )
    + rf"(?P<subdistrict>{_SUB_NAME}{{1,8}}?(?:{_alternation(_SUBDISTRICT_SUFFIXES)})"
    rf"(?!{_STRONG_COMPOUND}){_NOT_A_ROAD_START})?"
    # XX新村 is a residential compound, not a village.
    + rf"(?P<community>{_COM_NAME}{{1,10}}?(?:社区|(?<!新)村)(?!{_STRONG_COMPOUND}|宿舍)"
    rf"{_NOT_A_ROAD_START})?"
    + r"(?:(?P<group>[0-9]+)组)?"
    # Greedy: a road name ends at its last suffix before the door (铁路坝路, not 铁路).
    + rf"(?P<road>(?:{_ROAD_CHAR}){{1,12}}"
    rf"(?:{_alternation(_ROAD_SUFFIXES)})(?:[0-9]+巷)?(?!小区|社区|宿舍|新村))?"
    # A door is N号 (not N号楼), or a short bare number ending the address (夷陵大道57;
    # a phone number is not a door).
    + r"(?:(?P<door>[0-9]+(?:-[0-9]+)*(?=号(?!楼))|[0-9]{1,4}(?:-[0-9]+)*$)号?)?"
    # Greedy, so that 紫阳城市花园 ends at its last suffix rather than at 城. A name
    # without a suffix (江南一品) is a compound when a building or unit number follows.
    + rf"(?P<compound>{_COMPOUND_NAME}{{1,15}}(?:{_alternation(_COMPOUND_SUFFIXES)})"
    rf"(?:[0-9]+期)?"
    rf"|{_COMPOUND_NAME}{{2,15}}(?=(?:{_BUILDING})(?:{_BUILDING_MARKERS})|[0-9]+单元))?"
    + rf"(?:(?P<building>{_BUILDING})(?:{_BUILDING_MARKERS}|号|楼(?=[0-9]+单元)))?"
    + r"(?:(?P<unit>[0-9]+)单元)?"
    + r"(?:(?P<floor>[0-9]+)(?:楼|层|F))?"
    + r"(?:(?P<room>[0-9]+(?=室|房|号)|[0-9]{3,4}$)(?:室|房|号)?)?"
    + r"(?P<rest>.*)$"
)

_NOTE = re.compile(rf"^(?P<body>.*?)(?P<note>(?:{_alternation(_NOTE_WORDS)})*)$")
# 3-2-501 and 3栋2-501: building-unit-room written with dashes. Not after a road,
# where 57-2 is a door range.
_DASH_BUR = re.compile(r"(?<![0-9\-路街道巷])([A-Z]?[0-9]+)-([0-9]+)-([0-9]{3,4})$")
_DASH_UR = re.compile(r"(?<=[栋幢座楼])([0-9]+)-([0-9]{3,4})$")
_STRUCTURE_STEPS = (
    # Numbers lose their leading zeros (05栋 is building 5); done once on the whole
    # text rather than on each number column.
    _Step("0", re.compile(r"(?<![0-9])0+(?=[0-9])"), ""),
    _Step("-", _DASH_BUR, r"\1栋\2单元\3室"),
    _Step("-", _DASH_UR, r"\1单元\2室"),
)

def _full_names(forms: Mapping[str, tuple[str, ...]]) -> MappingProxyType:
    """Map every full and short form to the full name."""
    return MappingProxyType({s: full for full, shorts in forms.items() for s in (full, *shorts)})


_PROVINCE_FULL = _full_names(_PROVINCE_FORMS)
_CITY_FULL = _full_names(_CITY_FORMS)
_DISTRICT_FULL = _full_names(_DISTRICT_FORMS)
_DISTRICT_CODE = MappingProxyType({full: code for code, (full, _) in YICHANG_DISTRICTS.items()})
_STANDARD_SUFFIX = MappingProxyType({
    "group": "组", "door": "号", "building": "栋", "unit": "单元", "floor": "层", "room": "室",
})
_STANDARD_FIELDS = (
    "province", "city", "district", "subdistrict", "community", "group", "road", "door",
    "compound", "building", "unit", "floor", "room",
)


# --- Scalar API ----------------------------------------------------------------------


def _is_missing(text) -> bool:
    return text is None or (pd.api.types.is_scalar(text) and bool(pd.isna(text)))


def normalize_text(text) -> str:
    """Normalise an address string to the form the parser reads.

    Full-width digits, letters and punctuation become half-width; latin letters are
    upper-cased; spaces and punctuation other than ``-`` between digits are removed;
    ``〇`` becomes ``零`` and a few traditional characters their simplified form;
    ``#`` after a number becomes ``号`` (``12#楼`` is ``12号楼``); labels such as
    ``住址:`` and a leading ``中国`` are dropped; the typos and variant wordings of
    :data:`TYPO_FIXES` are corrected; and Chinese numerals before a component marker
    become ASCII digits (``三号楼`` -> ``3号楼``, ``第二网格`` -> ``2网格``).

    Parameters
    ----------
    text : str or None
        The address as typed. ``None`` and NaN give ``""``.

    Returns
    -------
    str

    Examples
    --------
    >>> normalize_text("西陵区 夷陵大道，５７号 三号楼二单远")
    '西陵区夷陵大道57号3号楼2单元'
    >>> normalize_text(None)
    ''
    """
    if _is_missing(text):
        return ""
    return _run_steps(str(text), _NORMALIZE_STEPS)


def chinese_to_int(text) -> int:
    """Convert a numeral as written in an address to an int.

    Reads positional Chinese numerals (``十二``, ``二十一``, ``一百零五``, ``两``, the
    colloquial ``一百一`` for 110), digit-by-digit ones (``一零五``, ``二〇一``) and
    ASCII or full-width digits. A leading ``第`` is ignored.

    Parameters
    ----------
    text : str or int

    Returns
    -------
    int

    Raises
    ------
    ValueError
        When ``text`` is empty or not a numeral; the message quotes it.

    Examples
    --------
    >>> chinese_to_int("十二"), chinese_to_int("一百零五"), chinese_to_int("二〇一")
    (12, 105, 201)
    >>> chinese_to_int("第三")
    3
    """
    if isinstance(text, (int, np.integer)) and not isinstance(text, bool):
        return int(text)
    s = str(text).strip().translate(_TRANSLATE).removeprefix("第")
    if s.isascii() and s.isdigit():
        return int(s)
    if not s or any(c not in _NUMERAL_DIGITS and c not in _NUMERAL_UNITS for c in s):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    if not any(c in _NUMERAL_UNITS for c in s):
        return int("".join(str(_NUMERAL_DIGITS[c]) for c in s))
    total, section, digit, last_unit, after_zero = 0, 0, None, None, False
    for c in s:
        if c in _NUMERAL_DIGITS:
            value = _NUMERAL_DIGITS[c]
            if value == 0:
                after_zero = True
                continue
            if digit is not None:
                raise ValueError(f"not a Chinese numeral: {text!r}")
            digit = value
        else:
            unit = _NUMERAL_UNITS[c]
            if unit == 10000:
                total += (section + (digit or 0)) * unit
                section, digit, last_unit, after_zero = 0, None, None, False
                continue
            if last_unit is not None and unit >= last_unit:
                raise ValueError(f"not a Chinese numeral: {text!r}")
            section += (1 if digit is None else digit) * unit
            digit, last_unit, after_zero = None, unit, False
    if digit is not None:
        # 一百一 is 110 and 三千五 is 3500; 一百零一 is 101.
        if last_unit is not None and last_unit >= 100 and not after_zero:
            digit *= last_unit // 10
        section += digit
    return total + section


def _small_numerals() -> MappingProxyType:
    """Map 一 ... 九十九 to their digits; most numbers in addresses are among them."""
    digits = "一二三四五六七八九"
    forms = list(digits) + ["十" + d for d in ("", *digits)]
    forms += [t + "十" + d for t in digits[1:] for d in ("", *digits)]
    return MappingProxyType({form: str(chinese_to_int(form)) for form in forms})


_SMALL_NUMERALS = _small_numerals()


def _split_note(text: str) -> tuple[str, str]:
    if not text.endswith(_NOTE_WORDS):
        return text, ""
    m = _NOTE.match(text)
    return m.group("body"), m.group("note")


def _split_note_series(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    body = series.to_numpy(dtype=object, copy=True)
    note = np.full(len(body), "", dtype=object)
    hit = series.str.endswith(_NOTE_WORDS).to_numpy(dtype=bool)
    if hit.any():
        split = pd.Series(body[hit], dtype=object).str.extract(_NOTE, expand=True)
        body[hit] = split["body"].to_numpy(dtype=object)
        note[hit] = split["note"].to_numpy(dtype=object)
    return (pd.Series(body, index=series.index, dtype=object),
            pd.Series(note, index=series.index, dtype=object))


def _extract(text: str) -> dict[str, str]:
    m = _ADDRESS.search(text)
    return {k: v or "" for k, v in m.groupdict().items()}


def _finish(parts: dict[str, str], fill_parents: bool) -> dict[str, str]:
    """Map names to full forms, strip leading zeros and fill parent levels."""
    parts["province"] = _PROVINCE_FULL.get(parts["province"], parts["province"])
    parts["city"] = _CITY_FULL.get(parts["city"], parts["city"])
    parts["district"] = _DISTRICT_FULL.get(parts["district"], parts["district"])
    code = _DISTRICT_CODE.get(parts["district"], "")
    if fill_parents:
        if code and not parts["city"]:
            parts["city"] = _YICHANG
        if parts["city"] in _HUBEI_CITIES and not parts["province"]:
            parts["province"] = _HUBEI
    parts["district_code"] = code
    return {field: parts[field] for field in ADDRESS_FIELDS}


def parse_address(text, *, fill_parents: bool = True) -> dict[str, str]:
    """Split one address into its components.

    Parameters
    ----------
    text : str or None
        The address as typed. ``None``, NaN and ``""`` give all components ``""``.
    fill_parents : bool, default True
        Fill the city and province implied by a recognised district or city
        (``西陵区...`` gets ``宜昌市`` and ``湖北省``), as cpca does, so that the same
        place written with and without its parents gets the same
        :func:`standard_address`. Levels are never invented without such evidence.

    Returns
    -------
    dict of str to str
        The keys of :data:`ADDRESS_FIELDS`; a level not in the text is ``""``.

        - ``province``, ``city``, ``district``: full names (``西陵`` -> ``西陵区``);
          ``district_code`` is the GB/T 2260 code of a 宜昌市 district or ``""``.
        - ``subdistrict`` (街道/镇/乡), ``community`` (社区/村), ``road``
          (路/街/大道/巷), ``compound`` (小区/花园/家园/广场/城 ...): names as written
          after :func:`normalize_text`.
        - ``group`` (village 组), ``door`` (号, ranges kept: ``"95-3"``),
          ``building`` (栋/幢/号楼/座: ``"3"``, ``"A"``), ``unit`` (单元),
          ``floor`` (楼/层), ``room`` (室, or 3-4 trailing digits): ASCII digits
          without leading zeros.
        - ``note``: text not placed in a component, including trailing landmark
          words (旁, 对面, 附近, 门口 ...).

    Examples
    --------
    >>> parts = parse_address("西陵区 夷陵大道，57号桃花岭小区三号楼2单元501 旁")
    >>> parts["district"], parts["district_code"], parts["building"], parts["note"]
    ('西陵区', '420502', '3', '旁')
    >>> parse_address(None)["road"]
    ''
    """
    norm = normalize_text(text)
    body, note = _split_note(norm)
    body = _run_steps(body, _STRUCTURE_STEPS)
    parts = _extract(body)
    rest = parts.pop("rest")
    for _ in range(_MAX_PASSES - 1):
        if not rest:
            break
        more = _extract(rest)
        more_rest = more.pop("rest")
        # A level read twice means the text is not one address; keep it as a note.
        if more_rest == rest or any(parts[k] and more[k] for k in more):
            break
        for k, v in more.items():
            if not parts[k]:
                parts[k] = v
        rest = more_rest
    parts["note"] = rest + note
    return _finish(parts, fill_parents)


def standard_address(components: Mapping[str, str]) -> str:
    """Format address components as one canonical string.

    Levels are written in the order province, city, district, subdistrict,
    community, group, road, door, compound, building, unit, floor, room with the
    markers 组/号/栋/单元/层/室; empty or missing levels are left out, and
    ``district_code`` and ``note`` are not written.

    Parameters
    ----------
    components : mapping
        As returned by :func:`parse_address`; other keys are ignored.

    Returns
    -------
    str

    Examples
    --------
    >>> standard_address(parse_address("西陵区夷陵大道57号桃花岭小区3号楼2单元501"))
    '湖北省宜昌市西陵区夷陵大道57号桃花岭小区3栋2单元501室'
    >>> standard_address({})
    ''
    """
    out = []
    for field in _STANDARD_FIELDS:
        value = components.get(field) or ""
        if value:
            out.append(value + _STANDARD_SUFFIX.get(field, ""))
    return "".join(out)


# --- Vectorised API ------------------------------------------------------------------


def _extract_frame(series: pd.Series) -> pd.DataFrame:
    return series.str.extract(_ADDRESS, expand=True).fillna("")


def _lookup(series: pd.Series, mapping: Mapping[str, str], default=None) -> pd.Series:
    """Map values through ``mapping`` (unknown values kept, or ``default``), as object."""
    values = [mapping.get(v, v if default is None else default) for v in series]
    return pd.Series(values, index=series.index, dtype=object)


def _parse_unique(texts: pd.Series, fill_parents: bool) -> pd.DataFrame:
    """Parse a Series of distinct, non-missing strings; the vectorised parse_address."""
    norm = _run_steps_series(texts, _NORMALIZE_STEPS)
    body, note = _split_note_series(norm)
    body = _run_steps_series(body, _STRUCTURE_STEPS)
    parts = _extract_frame(body)
    rest = parts.pop("rest")
    active = rest != ""
    for _ in range(_MAX_PASSES - 1):
        rows = active.index[active.to_numpy()]
        if len(rows) == 0:
            break
        before = rest.loc[rows]
        more = _extract_frame(before)
        more_rest = more.pop("rest")
        current = parts.loc[rows, list(more.columns)]
        stop = ((current != "") & (more != "")).any(axis=1) | (more_rest == before)
        go = rows[~stop.to_numpy()]
        parts.loc[go, more.columns] = current.loc[go].where(current.loc[go] != "", more.loc[go])
        rest.loc[go] = more_rest.loc[go]
        active = pd.Series(False, index=rest.index)
        active.loc[go] = rest.loc[go] != ""
    parts["note"] = rest + note

    for field, full in (("province", _PROVINCE_FULL), ("city", _CITY_FULL),
                        ("district", _DISTRICT_FULL)):
        parts[field] = _lookup(parts[field], full)
    code = _lookup(parts["district"], _DISTRICT_CODE, default="")
    if fill_parents:
        parts["city"] = parts["city"].mask((code != "") & (parts["city"] == ""), _YICHANG)
        in_hubei = parts["city"].isin(_HUBEI_CITIES) & (parts["province"] == "")
        parts["province"] = parts["province"].mask(in_hubei, _HUBEI)
    parts["district_code"] = code
    return parts[list(ADDRESS_FIELDS)]


def parse_addresses(
    series: pd.Series,
    *,
    fill_parents: bool = True,
    progress: Callable[[float, str], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> pd.DataFrame:
    """Split a Series of addresses into components; the vectorised :func:`parse_address`.

    Each distinct address is parsed once with pandas string methods over the same
    compiled patterns that :func:`parse_address` uses, so the two agree row for row;
    registries repeat addresses (one building, many residents), which makes this
    much faster than one call per row.

    Parameters
    ----------
    series : pandas.Series
        Addresses as typed; missing values give all components ``""``.
    fill_parents : bool, default True
        As in :func:`parse_address`.
    progress : callable(fraction, message), optional
        Called after each block of distinct addresses.
    cancelled : callable() -> bool, optional
        Checked before each block; when it returns True, :class:`ParseCancelled` is
        raised.

    Returns
    -------
    pandas.DataFrame
        One row per input row, same index, columns :data:`ADDRESS_FIELDS`, all
        strings.

    Raises
    ------
    TypeError
        When ``series`` is not a pandas Series.
    ParseCancelled
        When ``cancelled()`` returns True.

    Examples
    --------
    >>> df = parse_addresses(pd.Series(["伍家岗区沿江大道95-3号", None], index=[7, 9]))
    >>> df.loc[7, "door"], df.loc[9, "door"], list(df.index)
    ('95-3', '', [7, 9])
    """
    if not isinstance(series, pd.Series):
        raise TypeError(f"series must be a pandas Series, got {type(series).__name__}")
    # Object dtype inside, so that Python's re reads every pattern (pyarrow's RE2 has no
    # lookaround) and no intermediate column is converted to the str dtype and back.
    codes, uniques = pd.factorize(series.to_numpy(dtype=object), use_na_sentinel=True)
    uniques = pd.Series([str(u) for u in uniques], dtype=object)
    blocks = []
    for start in range(0, max(len(uniques), 1), _CHUNK):
        if cancelled is not None and cancelled():
            raise ParseCancelled(
                f"address parsing cancelled after {start} of {len(uniques)} distinct addresses"
            )
        blocks.append(_parse_unique(uniques.iloc[start:start + _CHUNK], fill_parents))
        if progress is not None:
            done = min(start + _CHUNK, len(uniques))
            progress(done / max(len(uniques), 1), f"parsed {done} of {len(uniques)} addresses")
    # Missing values (code -1) take an all-empty row appended after the distinct ones.
    parsed = pd.concat([*blocks, pd.DataFrame([[""] * len(ADDRESS_FIELDS)],
                                              columns=list(ADDRESS_FIELDS), dtype=object)])
    out = parsed.astype("str").take(codes)
    out.index = series.index
    return out


def standard_addresses(frame: pd.DataFrame) -> pd.Series:
    """Format each row of a component frame as one canonical string.

    The vectorised :func:`standard_address`.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns as returned by :func:`parse_addresses`; missing columns count as empty.

    Returns
    -------
    pandas.Series of str
        Same index as ``frame``.

    Raises
    ------
    TypeError
        When ``frame`` is not a pandas DataFrame.

    Examples
    --------
    >>> standard_addresses(parse_addresses(pd.Series(["点军区土城乡车溪村三组", ""]))).tolist()
    ['湖北省宜昌市点军区土城乡车溪村3组', '']
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    out = pd.Series("", index=frame.index, dtype="str")
    for field in _STANDARD_FIELDS:
        if field not in frame:
            continue
        value = frame[field].astype(object)
        value = value.where(value.notna(), "").map(str).astype("str")
        suffix = _STANDARD_SUFFIX.get(field, "")
        out = out + (value + suffix).where(value != "", "")
    return out
