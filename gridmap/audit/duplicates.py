"""Duplicate medical-insurance enrolment: persons in more than one scheme at once.

Nationally 10-15% of people were enrolled twice (城镇职工, 城镇居民, 新农合, or the
same scheme in two cities), and the resident schemes' fiscal subsidy was paid for
each enrolment. Every enrolment of the three local rolls and of the provincial
platform's roll of enrolments elsewhere is linked to the population base; people
outside the base are grouped by a hash of their (valid) ID number. Two enrolments
of one person whose periods overlap are a duplicate. A person who left one scheme
before joining another (the end date is before the new start) is not.

Wasted subsidy per duplicated person and year: ``subsidy`` times the number of
subsidised (resident-scheme) enrolments among the overlapping ones, less one if the
person has no employee-scheme enrolment (one subsidised enrolment is due).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridmap.audit.findings import finding_ids, person_key
from gridmap.audit.linkage import link_rolls
from gridmap.idnumber import mask_id, mask_name

__all__ = ["ROLLS", "Options", "overlapping", "run"]

ROLLS = ("med_employee", "med_resident", "med_rural", "med_other")
EMPLOYEE_ROLLS = ("med_employee",)
OPEN_END = pd.Timestamp("2262-01-01")


@dataclass(frozen=True)
class Options:
    """Settings of the duplicate-enrolment check.

    Attributes
    ----------
    subsidy : float
        Fiscal subsidy per resident-scheme enrolment and year, yuan (default 700,
        the 2025 national minimum for 城乡居民医保).
    threshold : float
        Least match probability for a probabilistic link.
    """

    subsidy: float = 700.0
    threshold: float = 0.9


def overlapping(keys, starts, ends):
    """Mark enrolments that overlap another enrolment of the same key.

    Parameters
    ----------
    keys : array-like of str
    starts, ends : array-like of datetime64 (NaT end = still enrolled)

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> k = ["a", "a", "b", "b"]
    >>> s = pd.to_datetime(["2010-01-01", "2015-01-01", "2010-01-01", "2015-01-01"])
    >>> e = pd.to_datetime([None, None, "2014-12-31", None])
    >>> overlapping(k, s, e).tolist()
    [True, True, False, False]
    """
    frame = pd.DataFrame({"key": np.asarray(keys, dtype=object), "start": pd.to_datetime(starts),
                          "end": pd.to_datetime(ends)})
    frame["end"] = frame["end"].fillna(OPEN_END)
    frame["pos"] = np.arange(len(frame))
    frame = frame.sort_values(["key", "start", "pos"])
    # An enrolment overlaps an earlier one if it starts before the latest earlier end;
    # the earlier one it overlaps is then marked through the reverse pass.
    frame["latest_end"] = frame.groupby("key")["end"].cummax()
    prev_end = frame.groupby("key")["latest_end"].shift()
    starts_inside = (frame["start"] <= prev_end).to_numpy()
    rev = frame.iloc[::-1].copy()
    rev["earliest_start"] = rev.groupby("key")["start"].cummin()
    next_start = rev.groupby("key")["earliest_start"].shift()
    ends_inside = (rev["end"] >= next_start).to_numpy()[::-1]
    out = np.zeros(len(frame), dtype=bool)
    out[frame["pos"].to_numpy()] = starts_inside | ends_inside
    return out


def run(base, rolls, options=Options(), progress=None):
    """Find persons enrolled in more than one scheme at once; see the module docstring."""
    from gridmap.audit.rolls import ROLLS as SPECS
    from gridmap.audit.run import CheckResult, links_table

    linked = link_rolls(rolls, base, threshold=options.threshold, progress=progress)
    parts = []
    for name, frame in linked.items():
        parts.append(pd.DataFrame({
            "roll": name, "record_id": frame["record_id"].astype(str).to_numpy(),
            "key": person_key(frame["person_id"], frame["id_number"], frame["id_valid"]),
            "person_id": frame["person_id"].to_numpy(), "name": frame["name"].to_numpy(),
            "id_number": frame["id_number"].to_numpy(),
            "scheme": frame["scheme"].where(frame["scheme"].astype(str) != "", SPECS[name].label).to_numpy(),
            "city": frame["insured_city"].to_numpy(),
            "start": pd.to_datetime(frame["start"], errors="coerce").to_numpy(),
            "end": pd.to_datetime(frame["end"], errors="coerce").to_numpy(),
            "p": np.where(frame["link_method"] == "probabilistic", frame["match_probability"], 1.0)}))
    enrol = pd.concat(parts, ignore_index=True)
    enrol = enrol[(enrol["key"] != "") & enrol["start"].notna()].reset_index(drop=True)
    enrol["overlap"] = overlapping(enrol["key"], enrol["start"], enrol["end"])
    dup = enrol[enrol["overlap"]].copy()
    dup["employee"] = dup["roll"].isin(EMPLOYEE_ROLLS)
    dup["line"] = (dup["scheme"] + "（" + dup["city"].where(dup["city"] != "", "宜昌市") + "，"
                   + dup["start"].dt.strftime("%Y-%m-%d") + " 起" + np.where(dup["end"].notna(),
                   "至 " + dup["end"].dt.strftime("%Y-%m-%d"), "") + "，" + dup["record_id"]
                   + np.where(dup["p"] < 1.0, "，概率匹配 " + dup["p"].map("{:.4f}".format), "") + "）")
    g = dup.sort_values(["key", "start", "record_id"]).groupby("key", sort=True)
    per = pd.DataFrame({
        "enrolments": g.size(),
        "subsidised": g["employee"].size() - g["employee"].sum(),
        "has_employee": g["employee"].any(),
        "confidence": g["p"].min(),
        "first_record": g["record_id"].first(),
        "lines": g["line"].agg("；".join),
        "schemes": dup.drop_duplicates(["key", "scheme"]).groupby("key")["scheme"].agg("、".join),
        "person_id": g["person_id"].first(),
        "name": g["name"].first(),
        "id_number": g["id_number"].first(),
    })
    wasted = options.subsidy * np.maximum(per["subsidised"] - np.where(per["has_employee"], 0, 1), 0)
    per["amount"] = wasted.astype(float)
    per = per.sort_values(["amount", "enrolments", "confidence"], ascending=[False, False, False], kind="stable")
    people = base.set_index("person_id")
    pid = per["person_id"].where((people.index.get_indexer(per["person_id"]) >= 0), "")
    in_base = (pid != "").to_numpy()
    name = np.where(in_base, people["name"].reindex(pid).fillna("").to_numpy(), per["name"].to_numpy())
    ids = np.where(in_base, people["id_number"].reindex(pid).fillna("").to_numpy(), per["id_number"].to_numpy())
    findings = pd.DataFrame({
        "finding_id": finding_ids("duplicates", per.index).to_numpy(),
        "check": "duplicates", "subject": "person",
        "person_id": pid.to_numpy(),
        "household_id": people["household_id"].reindex(pid).fillna("").to_numpy(),
        "record_id": per["first_record"].to_numpy(),
        "name_masked": mask_name(pd.Series(name)).to_numpy(),
        "id_masked": mask_id(pd.Series(ids)).to_numpy(),
        "grid_code": people["grid_code"].reindex(pid).fillna("").to_numpy(),
        "rank": np.arange(1, len(per) + 1),
        "amount": per["amount"].to_numpy(),
        "confidence": per["confidence"].round(6).to_numpy(),
        "summary": ("同时参加 " + per["enrolments"].astype(str) + " 项医保：" + per["schemes"] + "；每年多享财政补助 "
                    + per["amount"].map("{:,.0f}".format) + " 元").to_numpy(),
        "evidence": per["lines"].to_numpy(),
        "suggested_action": np.where(per["has_employee"], "保留职工医保，停止居民医保参保并清退补助",
                                     "保留一处参保，其余停保并清退重复补助"),
    })
    enrolled = enrol["key"].nunique()
    summary = {"参保记录": int(sum(len(f) for f in linked.values())), "参保人数": int(enrolled),
               "重复参保人数": len(findings),
               "重复参保率": f"{len(findings) / enrolled:.1%}" if enrolled else "0.0%",
               "每人每年财政补助（元）": options.subsidy,
               "重复补助合计（元/年）": round(float(findings["amount"].sum()), 2)}
    return CheckResult(findings, links_table(linked), summary)
