import pandas as pd
import pytest

from gridmap.idnumber import check_digit, is_valid_id, mask_id, mask_name


@pytest.mark.parametrize(
    "first17, expected",
    [
        ("11010519491231002", "X"),  # the worked example of GB 11643-1999
        ("44052418800101001", None),
        ("42050219800101001", None),
    ],
)
def test_check_digit(first17, expected):
    digits = [int(c) for c in first17]
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    independent = "10X98765432"[sum(d * w for d, w in zip(digits, weights)) % 11]
    assert check_digit(first17) == independent
    if expected is not None:
        assert independent == expected


@pytest.mark.parametrize(
    "value, valid",
    [
        ("11010519491231002X", True),
        ("11010519491231002x", True),
        ("110105194912310021", False),  # wrong check digit
        ("11010519491331002X", False),  # month 13
        ("1101051949123100", False),  # too short
        ("", False),
        (None, False),
    ],
)
def test_is_valid_id(value, valid):
    assert bool(is_valid_id([value]).iloc[0]) is valid


def test_masks_keep_first_six_and_last_four():
    assert mask_id(["11010519491231002X"]).tolist() == ["110105********002X"]
    assert mask_name(["王小明", "欧阳娜娜", ""]).tolist() == ["王**", "欧阳**", ""]


def test_demo_ids_are_valid_unique_and_consistent(demo_dir):
    residents = pd.read_csv(demo_dir / "residents.csv", dtype=str)
    ids = residents["公民身份号码"]
    assert is_valid_id(ids).all()
    assert ids.is_unique
    # Birth date and sex are encoded in the number (digits 7-14, and the parity of digit 17).
    assert (ids.str[6:14] == residents["出生日期"].str.replace("-", "")).all()
    male = ids.str[16].astype(int) % 2 == 1
    assert (male == (residents["性别"] == "男")).all()
