"""低保 means test: each household's declared income against what other bureaus know.

Yichang checked 低保 households against vehicles (公安), property (房管), housing-fund
contributions (公积金), business registrations (工商) and income tax (税务). Here the
低保 members are linked to the population base, and each asset record is linked to
the base too (only those that could belong to a 低保 member are scored, which keeps a
city's asset rolls cheap). Per household the evidence is summed and compared with
local thresholds (:class:`Options`); a household with any flag is suggested for exit
under dynamic management (动态管理), with the evidence listed.

Flags (all thresholds configurable):

* ``income``: evidenced monthly income per member (housing-fund wage base, or
  taxable income / 12, the larger per person) above the 低保 line;
* ``vehicle``: a motor vehicle worth at least ``vehicle_value``;
* ``second_property``: ``properties`` or more registered homes;
* ``business``: an active business registration (存续/在业/开业) with the member as
  legal representative;
* ``taxable_income``: annual taxable income per member above ``taxable_income``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridmap.audit.findings import finding_ids
from gridmap.audit.linkage import link_rolls, name_sound, normalise_id
from gridmap.idnumber import mask_id, mask_name

__all__ = ["ASSET_ROLLS", "ROLLS", "Options", "household_flags", "run"]

ASSET_ROLLS = ("property", "vehicle", "housing_fund", "business", "income_tax")
ROLLS = ("dibao", "dibao_members", *ASSET_ROLLS)
ACTIVE_BUSINESS = ("存续", "在业", "开业", "在营")
FLAG_LABELS = {"income": "收入超过低保标准", "vehicle": "有机动车", "second_property": "有第二套房产",
               "business": "有在营企业", "taxable_income": "纳税收入超标"}


@dataclass(frozen=True)
class Options:
    """Local thresholds of the 低保 means test.

    Attributes
    ----------
    line : float
        低保 line, yuan per person per month (default 800, about Yichang's urban
        standard in 2025).
    vehicle_value : float
        A vehicle bought for at least this many yuan bars 低保.
    properties : int
        This many registered properties or more bar 低保.
    taxable_income : float or None
        Annual taxable income per member that bars 低保 (default 12 x ``line``).
    threshold : float
        Least match probability for a probabilistic link.
    """

    line: float = 800.0
    vehicle_value: float = 50_000.0
    properties: int = 2
    taxable_income: float | None = None
    threshold: float = 0.9


def _numeric(series):
    return pd.to_numeric(series, errors="coerce").fillna(0.0)


def household_flags(evidence, options=Options()):
    """Flags per household from summed evidence.

    Parameters
    ----------
    evidence : DataFrame
        Per household: ``members``, ``declared_income`` (monthly), ``wage_income``
        (monthly), ``tax_income`` (annual), ``max_vehicle_value``, ``properties``,
        ``businesses``.

    Returns
    -------
    DataFrame
        One boolean column per flag and ``income_per_member`` (monthly).

    Examples
    --------
    >>> ev = pd.DataFrame({"members": [3], "declared_income": [600], "wage_income": [1900],
    ...                    "tax_income": [0], "max_vehicle_value": [8000], "properties": [1], "businesses": [0]})
    >>> household_flags(ev).iloc[0][["income", "vehicle", "second_property"]].astype(bool).tolist()
    [False, False, False]
    """
    members = evidence["members"].clip(lower=1)
    evidenced = np.maximum(evidence["wage_income"], evidence["tax_income"] / 12.0)
    per_member = np.maximum(evidence["declared_income"], evidenced) / members
    taxable = options.taxable_income if options.taxable_income is not None else 12 * options.line
    return pd.DataFrame({
        "income_per_member": per_member,
        "income": per_member > options.line,
        "vehicle": evidence["max_vehicle_value"] >= options.vehicle_value,
        "second_property": evidence["properties"] >= options.properties,
        "business": evidence["businesses"] > 0,
        "taxable_income": evidence["tax_income"] / members > taxable,
    }, index=evidence.index)


def _candidates(frame, members):
    """Asset records that could belong to a 低保 member: same ID, name or name sound."""
    ids = normalise_id(frame["id_number"])
    return (ids.isin(members["ids"]) | frame["name"].isin(members["names"])
            | name_sound(frame["name"]).isin(members["sounds"])).to_numpy()


def run(base, rolls, options=Options(), progress=None):
    """Run the 低保 means test; see the module docstring."""
    from gridmap.audit.run import CheckResult, links_table

    progress = progress or (lambda f, m: None)
    roll = rolls["dibao"].copy()
    members = rolls["dibao_members"].copy()
    progress(0.0, "低保家庭成员与人口库匹配")
    people_linked = link_rolls({"dibao_members": members}, base, threshold=options.threshold)["dibao_members"]
    member_people = people_linked[people_linked["person_id"] != ""]
    person_household = member_people.drop_duplicates("person_id").set_index("person_id")["dibao_id"]
    persons = base[base["person_id"].isin(person_household.index)]
    keys = {"ids": set(normalise_id(pd.concat([persons["id_number"], members["id_number"]]))) - {""},
            "names": set(persons["name"]) | set(members["name"]),
            "sounds": set(name_sound(pd.concat([persons["name"], members["name"]])))}
    progress(0.3, "资产记录与人口库匹配")
    assets = {name: rolls[name][_candidates(rolls[name], keys)] for name in ASSET_ROLLS}
    linked = link_rolls(assets, base, threshold=options.threshold)
    progress(0.8, "逐户比对")
    parts = []
    for name, frame in linked.items():
        hh = person_household.reindex(frame["person_id"]).to_numpy()
        parts.append(frame.assign(dibao_id=hh, roll=name)[lambda f: f["dibao_id"].notna()])
    evidence_rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["dibao_id", "roll"])
    ev = evidence_rows

    def per_household(mask, column, how):
        sub = ev[mask]
        return sub.groupby("dibao_id")[column].agg(how) if len(sub) else pd.Series(dtype=float)

    def col(name):
        return ev[name].fillna("").astype(str) if name in ev else pd.Series("", index=ev.index, dtype=object)

    car = ev["roll"].eq("vehicle")
    prop = ev["roll"].eq("property")
    fund = ev["roll"].eq("housing_fund") & col("status").ne("封存")
    shop = ev["roll"].eq("business") & col("status").isin(ACTIVE_BUSINESS)
    tax = ev["roll"].eq("income_tax")
    ev = ev.assign(value_n=_numeric(col("value")), wage_n=_numeric(col("wage_base")),
                   income_n=_numeric(col("annual_income")))
    roll = roll.set_index("record_id")
    evidence = pd.DataFrame(index=roll.index)
    evidence["members"] = _numeric(roll["members"]).clip(lower=1)
    evidence["declared_income"] = _numeric(roll["declared_income"])
    evidence["wage_income"] = per_household(fund, "wage_n", "sum").reindex(roll.index).fillna(0.0)
    evidence["tax_income"] = per_household(tax, "income_n", "sum").reindex(roll.index).fillna(0.0)
    evidence["max_vehicle_value"] = per_household(car, "value_n", "max").reindex(roll.index).fillna(0.0)
    evidence["properties"] = per_household(prop, "record_id", "size").reindex(roll.index).fillna(0).astype(int)
    evidence["businesses"] = per_household(shop, "record_id", "size").reindex(roll.index).fillna(0).astype(int)
    flags = household_flags(evidence, options)
    flagged = flags[list(FLAG_LABELS)].any(axis=1)

    # Evidence lines per household, naming the bureau and the figure, never an ID number.
    ev["line"] = np.select(
        [car, prop, fund, shop, tax],
        ["公安车辆：" + col("vehicle_type") + " 购置价 " + ev["value_n"].map("{:,.0f}".format) + " 元",
         "房管：" + col("property_address") + " " + col("area") + "㎡",
         "公积金：缴存基数 " + ev["wage_n"].map("{:,.0f}".format) + " 元/月",
         "工商：" + col("business_name") + "（" + col("status") + "）",
         "税务：" + col("year") + " 年收入 " + ev["income_n"].map("{:,.0f}".format) + " 元"],
        default="")
    ev.loc[ev["link_method"] == "probabilistic", "line"] += "（概率匹配 " + ev["match_probability"].map("{:.4f}".format) \
        + "）"
    lines = ev[ev["line"] != ""].groupby("dibao_id")["line"].agg("；".join)

    hit = flags[flagged]
    heads = people_linked[people_linked["relation"].eq("户主")].drop_duplicates("dibao_id").set_index("dibao_id")
    head_pid = heads["person_id"].reindex(hit.index).fillna("")
    people = base.set_index("person_id")
    in_base = (people.index.get_indexer(head_pid) >= 0)
    name = np.where(in_base, people["name"].reindex(head_pid).fillna("").to_numpy(), roll.loc[hit.index, "name"])
    ids = np.where(in_base, people["id_number"].reindex(head_pid).fillna("").to_numpy(),
                   roll.loc[hit.index, "id_number"])
    reasons = hit[list(FLAG_LABELS)].apply(lambda r: "、".join(FLAG_LABELS[k] for k, v in r.items() if v), axis=1) \
        if len(hit) else pd.Series(dtype=object)
    benefit = _numeric(roll.loc[hit.index, "benefit"])
    findings = pd.DataFrame({
        "finding_id": finding_ids("dibao", hit.index).to_numpy(),
        "check": "dibao", "subject": "household",
        "person_id": head_pid.to_numpy(),
        "household_id": people["household_id"].reindex(head_pid).fillna("").to_numpy(),
        "record_id": hit.index.to_numpy(),
        "name_masked": mask_name(pd.Series(name)).to_numpy(),
        "id_masked": mask_id(pd.Series(ids)).to_numpy(),
        "grid_code": people["grid_code"].reindex(head_pid).fillna("").to_numpy(),
        "amount": (benefit * 12).to_numpy(dtype=float),
        "confidence": 1.0,
        "summary": ("家庭 " + evidence.loc[hit.index, "members"].astype(int).astype(str) + " 人，申报月收入 "
                    + evidence.loc[hit.index, "declared_income"].map("{:,.0f}".format) + " 元，核得人均月收入 "
                    + hit["income_per_member"].map("{:,.0f}".format) + " 元；" + reasons).to_numpy(),
        "evidence": lines.reindex(hit.index).fillna("").to_numpy(),
        "suggested_action": "建议退出低保（动态管理），入户核实后办理",
    })
    if len(findings):
        # Confidence of a household finding: the weakest link among its evidence records.
        p = ev["match_probability"].where(ev["link_method"] == "probabilistic", 1.0)
        weakest = p[ev["line"] != ""].groupby(ev["dibao_id"]).min()
        findings["confidence"] = weakest.reindex(hit.index).fillna(1.0).round(6).to_numpy()
        findings["n_flags"] = hit[list(FLAG_LABELS)].sum(axis=1).to_numpy()
        findings = findings.sort_values(["n_flags", "amount", "record_id"], ascending=[False, False, True])
        findings = findings.drop(columns="n_flags")
    findings["rank"] = np.arange(1, len(findings) + 1)
    summary = {"低保家庭": len(roll), "低保人数": len(members), "建议退出家庭": len(findings),
               **{f"{label}（户）": int(flags[k].sum()) for k, label in FLAG_LABELS.items()},
               "涉及年保障金（元）": round(float(findings["amount"].sum()), 2)}
    return CheckResult(findings, links_table({"dibao_members": people_linked, **linked}), summary)
