"""Pensions paid after death: the pension roll against three bureaus' death records.

In 2013 Yichang matched funeral records with the pension roll and found 130+ deceased
people still drawing pensions. Here every pension account and every death record
(民政 funeral, 公安 registration cancellation, 卫健 death certificate) is linked to the
population base; a person with a death record whose pension was paid for a month
after the month of death is a finding.

The date of death is the *latest* one the bureaus report, so a date a day off never
turns a pension stopped on time into an overpayment. The payment for the month of
death itself is due. Overpaid months are ``last_paid_month - death_month``; the amount
is that times the monthly amount. Confidence combines the links: the pension record's
probability times the probability that at least one death record is this person,
``p_pension * (1 - prod(1 - p_death))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridmap.audit.findings import finding_ids, person_key
from gridmap.audit.linkage import link_rolls
from gridmap.audit.rolls import ROLLS as ROLL_SPECS
from gridmap.idnumber import mask_id, mask_name

__all__ = ["ROLLS", "Options", "overpaid_months", "run"]

ROLLS = ("pension", "death_civil", "death_police", "death_health")
DEATH_ROLLS = ROLLS[1:]


@dataclass(frozen=True)
class Options:
    """Settings of the pension check.

    Attributes
    ----------
    threshold : float
        Least match probability for a probabilistic link.
    confident : float
        Findings below this confidence ask for identity to be checked before stopping.
    """

    threshold: float = 0.9
    confident: float = 0.99


def _month_index(text):
    d = pd.to_datetime(pd.Series(text, dtype=object).fillna("").astype(str).str[:7], format="%Y-%m", errors="coerce")
    return (d.dt.year * 12 + d.dt.month - 1).to_numpy(dtype=float)


def overpaid_months(death_dates, last_paid_months):
    """Months paid after the month of death (0 when none); NaN-safe.

    Examples
    --------
    >>> overpaid_months(["2025-03-31", "2025-03-01", None], ["2025-03", "2025-12", "2025-12"]).tolist()
    [0, 9, 0]
    """
    death = pd.to_datetime(pd.Series(death_dates, dtype=object), errors="coerce")
    death_month = (death.dt.year * 12 + death.dt.month - 1).to_numpy(dtype=float)
    months = _month_index(last_paid_months) - death_month
    return np.where(np.isfinite(months), np.maximum(months, 0), 0).astype(int)


def run(base, rolls, options=Options(), progress=None):
    """Find pensions paid after death; see the module docstring."""
    from gridmap.audit.run import CheckResult, links_table

    linked = link_rolls(rolls, base, threshold=options.threshold, progress=progress)
    deaths = []
    for name in DEATH_ROLLS:
        d = linked[name]
        deaths.append(pd.DataFrame({
            "key": person_key(d["person_id"], d["id_number"], d["id_valid"]),
            "roll": name, "death_date": pd.to_datetime(d["death_date"], errors="coerce").to_numpy(),
            "p": d["match_probability"].where(d["link_method"] == "probabilistic",
                                              np.where(d["id_valid"], 1.0, 0.0)).to_numpy(dtype=float),
            "method": d["link_method"].to_numpy(), "evidence": d["link_evidence"].to_numpy()}))
    deaths = pd.concat(deaths, ignore_index=True)
    deaths = deaths[(deaths["key"] != "") & deaths["death_date"].notna()]
    deaths["label"] = deaths["roll"].map({k: ROLL_SPECS[k].label for k in DEATH_ROLLS})
    grouped = deaths.groupby("key")
    per_person = pd.DataFrame({
        "death_date": grouped["death_date"].max(),
        "first_reported": grouped["death_date"].min(),
        "p_death": 1.0 - grouped["p"].agg(lambda p: float(np.prod(1.0 - p.to_numpy()))),
        "sources": grouped["label"].agg(lambda s: "、".join(sorted(set(s)))),
    })
    deaths["line"] = deaths["label"] + " " + deaths["death_date"].dt.strftime("%Y-%m-%d") + np.where(
        deaths["method"] == "probabilistic", "（概率匹配 " + deaths["p"].map("{:.4f}".format) + "：" + deaths["evidence"]
        + "）", "")
    per_person["death_evidence"] = deaths.groupby("key")["line"].agg("；".join)

    pension = linked["pension"].copy()
    pension["key"] = person_key(pension["person_id"], pension["id_number"], pension["id_valid"])
    pension = pension[pension["key"] != ""].join(per_person, on="key", how="inner")
    pension["months"] = overpaid_months(pension["death_date"], pension["last_paid_month"])
    pension = pension[pension["months"] > 0].copy()
    amount = pd.to_numeric(pension["monthly_amount"], errors="coerce").fillna(0.0)
    pension["amount"] = pension["months"] * amount
    p_pension = np.where(pension["link_method"] == "probabilistic", pension["match_probability"], 1.0)
    pension["confidence"] = np.round(p_pension * pension["p_death"].to_numpy(), 6)
    pension = pension.sort_values(["amount", "confidence", "record_id"], ascending=[False, False, True])
    people = base.set_index("person_id")
    in_base = people.index.get_indexer(pension["person_id"]) >= 0
    pid = pension["person_id"].where(in_base, "")
    name = np.where(in_base, people["name"].reindex(pid).fillna("").to_numpy(), pension["name"].to_numpy())
    ids = np.where(in_base, people["id_number"].reindex(pid).fillna("").to_numpy(), pension["id_number"].to_numpy())
    pension_evidence = np.where(pension["link_method"] == "probabilistic",
                                "养老金账户：概率匹配 " + pension["match_probability"].map("{:.4f}".format) + "（"
                                + pension["link_evidence"] + "）", "养老金账户：身份证号一致")
    findings = pd.DataFrame({
        "finding_id": finding_ids("pension", pension["record_id"]).to_numpy(),
        "check": "pension", "subject": "person",
        "person_id": pid.to_numpy(),
        "household_id": people["household_id"].reindex(pid).fillna("").to_numpy(),
        "record_id": pension["record_id"].to_numpy(),
        "name_masked": mask_name(pd.Series(name)).to_numpy(),
        "id_masked": mask_id(pd.Series(ids)).to_numpy(),
        "grid_code": people["grid_code"].reindex(pid).fillna("").to_numpy(),
        "rank": np.arange(1, len(pension) + 1),
        "amount": pension["amount"].to_numpy(dtype=float),
        "confidence": pension["confidence"].to_numpy(),
        "summary": (pension["death_date"].dt.strftime("%Y-%m-%d") + " 死亡（" + pension["sources"] + "），养老金发放至 "
                    + pension["last_paid_month"].str[:7] + "，多发 " + pension["months"].astype(str) + " 个月，每月 "
                    + amount.map("{:,.0f}".format) + " 元，共 " + pension["amount"].map("{:,.0f}".format) + " 元"
                    ).to_numpy(),
        "evidence": (pension_evidence + "；死亡记录：" + pension["death_evidence"]).to_numpy(),
        "suggested_action": np.where(pension["confidence"] >= options.confident, "停发并追回多发养老金",
                                     "先核实身份，确认后停发并追回"),
        "months": pension["months"].to_numpy(),
    })
    summary = {"养老金账户": len(linked["pension"]), "死亡记录": int(sum(len(linked[r]) for r in DEATH_ROLLS)),
               "死亡后仍发放（人）": len(findings), "多发月数合计": int(findings["months"].sum()),
               "多发金额合计（元）": round(float(findings["amount"].sum()), 2)}
    return CheckResult(findings.drop(columns="months"), links_table(linked), summary)
