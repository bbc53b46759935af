"""Resident identity numbers (公民身份号码, GB 11643-1999): check digits, validation, masking."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["check_digit", "is_valid_id", "mask_id", "mask_name"]

_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_CHECK = np.array(list("10X98765432"))


def _digits(first17):
    arr = np.frombuffer("".join(first17).encode("ascii"), dtype=np.uint8).reshape(-1, 17)
    return arr - ord("0")


def check_digit(first17):
    """Return the GB 11643 check character(s) for 17-digit string(s).

    The check digit is ``"10X98765432"[sum(d_i * w_i) mod 11]`` with weights
    ``w_i = 2**(17 - i) mod 11``.

    Examples
    --------
    >>> check_digit("11010519491231002")
    'X'
    """
    scalar = isinstance(first17, str)
    values = np.asarray([first17] if scalar else list(first17), dtype=object)
    if len(values) == 0:
        return np.array([], dtype=object)
    out = _CHECK[(_digits(values) * _WEIGHTS).sum(axis=1) % 11]
    return str(out[0]) if scalar else out.astype(object)


def is_valid_id(ids):
    """Vectorised check of 18-character ID numbers: format, birth date and check digit.

    Returns a boolean Series aligned with ``ids`` (a Series or list of strings); None,
    NaN and malformed strings are False.
    """
    s = pd.Series(ids, dtype="object").fillna("").astype(str).str.strip().str.upper()
    shaped = s.str.fullmatch(r"\d{17}[\dX]")
    valid = pd.Series(False, index=s.index)
    if not shaped.any():
        return valid
    good = s[shaped]
    birth = pd.to_datetime(good.str[6:14], format="%Y%m%d", errors="coerce")
    ok_date = birth.notna() & (birth.dt.year >= 1880)
    expected = check_digit(good.str[:17].tolist())
    valid.loc[good.index] = ok_date.to_numpy() & (good.str[17].to_numpy() == expected)
    return valid


def mask_id(ids):
    """Mask ID numbers for export: keep the first 6 and last 4 characters (420502********123X)."""
    s = pd.Series(ids, dtype="object").fillna("").astype(str)
    long_enough = s.str.len() > 10
    return s.where(~long_enough, s.str[:6] + "*" * 8 + s.str[-4:]).where(long_enough, "*" * 4)


def mask_name(names):
    """Mask personal names for export: surname plus one star per remaining character (王*, 欧阳**)."""
    s = pd.Series(names, dtype="object").fillna("").astype(str)
    compound = s.str[:2].isin(("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "令狐", "慕容"))
    keep = np.where(compound, 2, 1)
    return pd.Series(
        [n[:k] + "*" * max(len(n) - k, 1) if n else "" for n, k in zip(s, keep)], index=s.index, dtype="object"
    )
