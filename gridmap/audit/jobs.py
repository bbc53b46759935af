"""Job matching: rank vacancies for each registered job seeker, for the grid worker to pass on.

Yichang pushed vacancies and training to the right job seekers through the grid
workers' terminals. Each seeker of the 人社 register is linked to the population base
(for home and grid); each vacancy has a place. A vacancy *fits* a seeker when its
skill is one of the seeker's (or it asks for none), the seeker's education is at
least the minimum, the seeker's age is in range, and it lies within ``max_km`` of
home. Fitting vacancies are ranked by

.. math:: s = w_\\text{skill} f + w_\\text{dist} e^{-d/d_0} + w_\\text{pay} \\min(p / p_e, 1.5) / 1.5

with :math:`f = 1` for the named skill and ``general_fit`` for a post that asks for
none, :math:`d` the straight-line distance in km, :math:`p` the pay and :math:`p_e`
the seeker's expected pay. The best ``top`` become the worker's list and a short SMS
(at most 70 characters, one message); a seeker with no fitting vacancy is offered the
training most in demand near home.

Seekers are scored in blocks against every vacancy with array operations, so 50,000
seekers and 4,000 vacancies take a few seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridmap.audit.findings import finding_ids
from gridmap.audit.linkage import link_rolls
from gridmap.crs import METRIC_CRS, from_store_xy
from gridmap.idnumber import mask_id, mask_name

__all__ = ["EDUCATION_ORDER", "NEEDS_LOCATIONS", "ROLLS", "Options", "rank_vacancies", "run", "sms_text"]

ROLLS = ("seekers", "vacancies")
NEEDS_LOCATIONS = True
EDUCATION_ORDER = ["小学", "初中", "高中", "中专", "大专", "本科", "研究生"]
_SPLIT = re.compile(r"[,，、;；/\s]+")
_BLOCK = 2048


@dataclass(frozen=True)
class Options:
    """Settings of job matching.

    Attributes
    ----------
    top : int
        Vacancies listed per seeker.
    max_km : float
        Farthest vacancy offered, km from home.
    distance_scale_km : float
        :math:`d_0` in the score.
    weights : tuple of float
        :math:`(w_\\text{skill}, w_\\text{dist}, w_\\text{pay})`.
    general_fit : float
        Skill fit of a post that asks for no skill.
    threshold : float
        Least match probability for a probabilistic link.
    sms_sign : str
        Signature at the head of each SMS.
    """

    top: int = 3
    max_km: float = 15.0
    distance_scale_km: float = 3.0
    weights: tuple = (0.5, 0.3, 0.2)
    general_fit: float = 0.5
    threshold: float = 0.9
    sms_sign: str = "【宜昌人社】"


def _skill_masks(texts, vocabulary):
    index = {s: i for i, s in enumerate(vocabulary)}
    masks = np.zeros(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        for skill in _SPLIT.split(str(text)):
            if skill in index:
                masks[i] |= 1 << index[skill]
    return masks


def _education(texts):
    rank = {e: i for i, e in enumerate(EDUCATION_ORDER)}
    return pd.Series(texts, dtype=object).map(rank).fillna(-1).astype(int).to_numpy()


def rank_vacancies(seekers, vacancies, options=Options()):
    """Rank fitting vacancies for each seeker.

    Parameters
    ----------
    seekers : DataFrame
        ``x``, ``y`` (metres, EPSG:4546), ``age``, ``education``, ``skills``, ``expected_pay``.
    vacancies : DataFrame
        ``x``, ``y``, ``skill``, ``min_education``, ``min_age``, ``max_age``, ``pay``.

    Returns
    -------
    DataFrame
        ``seeker`` and ``vacancy`` (positions in the inputs), ``rank`` (1 = best),
        ``distance_km`` and ``score``; seekers without a fitting vacancy have no row.
    """
    vocabulary = sorted({s for t in pd.concat([seekers["skills"], vacancies["skill"]]).astype(str)
                         for s in _SPLIT.split(t) if s})
    if len(vocabulary) > 62:
        raise ValueError(f"at most 62 distinct skills, got {len(vocabulary)}")
    s_mask = _skill_masks(seekers["skills"].to_numpy(), vocabulary)
    v_mask = _skill_masks(vacancies["skill"].to_numpy(), vocabulary)
    s_edu, v_edu = _education(seekers["education"]), _education(vacancies["min_education"])
    s_age = pd.to_numeric(seekers["age"], errors="coerce").fillna(-1).to_numpy()
    v_min = pd.to_numeric(vacancies["min_age"], errors="coerce").fillna(0).to_numpy()
    v_max = pd.to_numeric(vacancies["max_age"], errors="coerce").fillna(200).to_numpy()
    pay = pd.to_numeric(vacancies["pay"], errors="coerce").fillna(0).to_numpy()
    expected = pd.to_numeric(seekers["expected_pay"], errors="coerce").fillna(0).to_numpy()
    sx, sy = seekers["x"].to_numpy(dtype=float), seekers["y"].to_numpy(dtype=float)
    vx, vy = vacancies["x"].to_numpy(dtype=float), vacancies["y"].to_numpy(dtype=float)
    w_skill, w_dist, w_pay = options.weights

    def best_of(seeker_idx, vacancy_idx, fit_value):
        # Dense scores of some seekers against some vacancies, block by block; keep each seeker's top.
        if len(seeker_idx) == 0 or len(vacancy_idx) == 0:
            return
        k = min(options.top, len(vacancy_idx))
        for lo in range(0, len(seeker_idx), _BLOCK):
            si = seeker_idx[lo:lo + _BLOCK]
            d = np.hypot(sx[si, None] - vx[None, vacancy_idx], sy[si, None] - vy[None, vacancy_idx]) / 1000.0
            fit = ((s_edu[si, None] >= v_edu[None, vacancy_idx]) & (s_age[si, None] >= v_min[None, vacancy_idx])
                   & (s_age[si, None] <= v_max[None, vacancy_idx]) & (d <= options.max_km))
            ratio = np.where(expected[si, None] > 0, pay[None, vacancy_idx] / np.maximum(expected[si, None], 1), 1.0)
            score = w_skill * fit_value + w_dist * np.exp(-d / options.distance_scale_km) \
                + w_pay * np.minimum(ratio, 1.5) / 1.5
            score = np.where(fit, score, -np.inf)
            best = np.argpartition(-score, k - 1, axis=1)[:, :k]
            best_score = np.take_along_axis(score, best, axis=1).ravel()
            keep = np.isfinite(best_score)
            rows.append(pd.DataFrame({
                "seeker": np.repeat(si, k)[keep], "vacancy": vacancy_idx[best.ravel()[keep]],
                "distance_km": np.take_along_axis(d, best, axis=1).ravel()[keep].round(2),
                "score": best_score[keep].round(4)}))

    rows = []
    # A seeker is scored only against vacancies for one of their skills, and general posts.
    all_seekers = np.arange(len(seekers))
    for bit in range(len(vocabulary)):
        flag = np.int64(1) << bit
        best_of(all_seekers[(s_mask & flag) != 0], np.flatnonzero((v_mask & flag) != 0), 1.0)
    best_of(all_seekers, np.flatnonzero(v_mask == 0), options.general_fit)
    if not rows:
        return pd.DataFrame(columns=["seeker", "vacancy", "rank", "distance_km", "score"])
    out = pd.concat(rows, ignore_index=True).drop_duplicates(["seeker", "vacancy"])
    out = out.sort_values(["seeker", "score", "vacancy"], ascending=[True, False, True])
    out = out.groupby("seeker").head(options.top).reset_index(drop=True)
    out["rank"] = out.groupby("seeker").cumcount() + 1
    return out[["seeker", "vacancy", "rank", "distance_km", "score"]]


def sms_text(surname, sex, employer, title, pay, distance_km, sign="【宜昌人社】"):
    """The short message a grid worker sends (no full name, no ID; one SMS of 70 characters at most).

    Examples
    --------
    >>> sms_text(["王"], ["男"], ["宜昌鑫达物流有限公司"], ["物流岗位"], [5500], [1.24])[0]
    '【宜昌人社】王先生您好：宜昌鑫达物流有限公司招物流岗位，月薪5500元，距您家1.2公里。详询网格员{worker}'
    """
    title_ = np.where(pd.Series(sex).astype(str).to_numpy() == "女", "女士", "先生")
    text = (sign + pd.Series(surname).astype(str) + title_ + "您好：" + pd.Series(employer).astype(str) + "招"
            + pd.Series(title).astype(str) + "，月薪" + pd.Series(pay).astype(str) + "元，距您家"
            + pd.Series(distance_km).map("{:.1f}".format) + "公里。详询网格员{worker}")
    return text.to_numpy()


def run(base, rolls, options=Options(), progress=None):
    """Match registered job seekers with vacancies; see the module docstring."""
    from gridmap.audit.run import CheckResult, links_table

    progress = progress or (lambda f, m: None)
    linked = link_rolls({"seekers": rolls["seekers"]}, base, threshold=options.threshold, progress=progress)
    seekers = linked["seekers"]
    people = base.set_index("person_id")
    seekers = seekers[people.index.get_indexer(seekers["person_id"]) >= 0].reset_index(drop=True)
    person = people.reindex(seekers["person_id"])
    seekers["x"], seekers["y"] = person["x"].to_numpy(), person["y"].to_numpy()
    seekers["age"] = person["age"].to_numpy()
    seekers = seekers[np.isfinite(seekers["x"].astype(float))].reset_index(drop=True)
    person = people.reindex(seekers["person_id"])
    vac = rolls["vacancies"].copy().reset_index(drop=True)
    lon = pd.to_numeric(vac["lon"], errors="coerce").to_numpy()
    lat = pd.to_numeric(vac["lat"], errors="coerce").to_numpy()
    vac["x"], vac["y"] = from_store_xy(lon, lat, METRIC_CRS)
    vac = vac[np.isfinite(vac["x"])].reset_index(drop=True)
    progress(0.7, f"为 {len(seekers):,} 名求职者排序 {len(vac):,} 个岗位")
    ranked = rank_vacancies(seekers, vac, options)
    sex = person["sex"].to_numpy()
    surname = person["name"].str[:1].to_numpy()
    ranked = ranked.join(vac[["record_id", "employer", "title", "skill", "pay", "address"]], on="vacancy")
    first = ranked[ranked["rank"] == 1].set_index("seeker")
    ranked["line"] = (ranked["rank"].astype(str) + ". " + ranked["record_id"] + " " + ranked["employer"] + " "
                      + ranked["title"] + " 月薪" + ranked["pay"].astype(str) + "元 距家"
                      + ranked["distance_km"].map("{:.1f}".format) + "公里")
    lists = ranked.groupby("seeker")["line"].agg("；".join)

    # Training for those with no fitting vacancy: the skill most asked for within reach.
    none = np.setdiff1d(np.arange(len(seekers)), first.index.to_numpy())
    offers = pd.Series("推荐参加就业技能培训", index=none, dtype=object)
    if len(none) and len(vac):
        d = np.hypot(seekers["x"].to_numpy()[none, None] - vac["x"].to_numpy()[None, :],
                     seekers["y"].to_numpy()[none, None] - vac["y"].to_numpy()[None, :]) / 1000.0
        near = d <= options.max_km
        openings = pd.to_numeric(vac["openings"], errors="coerce").fillna(1).to_numpy()
        skills = vac["skill"].astype(str).to_numpy()
        demand = {}
        for skill in sorted(set(skills) - {""}):
            demand[skill] = (near & (skills == skill)[None, :]) @ openings
        if demand:
            names = np.array(list(demand), dtype=object)
            table = np.column_stack(list(demand.values()))
            own = seekers["skills"].astype(str).to_numpy()[none]
            for col, skill in enumerate(names):
                has = np.array([skill in _SPLIT.split(o) for o in own])
                table[has, col] = -1
            best = table.argmax(axis=1)
            count = table[np.arange(len(none)), best]
            offers = pd.Series(np.where(count > 0, "推荐参加" + names[best] + "技能培训（附近" + count.astype(int).astype(str)
                                        + "个岗位需要）", "推荐参加就业技能培训"), index=none, dtype=object)

    idx = np.arange(len(seekers))
    has = np.isin(idx, first.index)
    top = first.reindex(idx)
    sms = np.where(has, sms_text(surname, sex, top["employer"].fillna(""), top["title"].fillna(""),
                                 top["pay"].fillna(""), top["distance_km"].fillna(0.0), options.sms_sign),
                   options.sms_sign + pd.Series(surname).astype(str) + np.where(sex == "女", "女士", "先生")
                   + "您好：" + offers.reindex(idx).fillna("").str.replace("推荐参加", "欢迎参加免费", n=1) + "。详询网格员{worker}")
    findings = pd.DataFrame({
        "finding_id": finding_ids("jobs", seekers["record_id"]).to_numpy(),
        "check": "jobs", "subject": "person",
        "person_id": seekers["person_id"].to_numpy(),
        "household_id": person["household_id"].to_numpy(),
        "record_id": seekers["record_id"].to_numpy(),
        "name_masked": mask_name(person["name"]).to_numpy(),
        "id_masked": mask_id(person["id_number"]).to_numpy(),
        "grid_code": person["grid_code"].to_numpy(),
        "rank": 0,
        "amount": pd.to_numeric(top["pay"], errors="coerce").fillna(0.0).to_numpy(dtype=float),
        "confidence": np.where(seekers["link_method"] == "probabilistic", seekers["match_probability"], 1.0),
        "summary": sms,
        "evidence": np.where(has, lists.reindex(idx).fillna("").to_numpy(), offers.reindex(idx).fillna("").to_numpy()),
        "suggested_action": np.where(has, "向求职者发送岗位短信并跟进", offers.reindex(idx).fillna("").to_numpy()),
    })
    findings = findings.sort_values(["grid_code", "record_id"]).reset_index(drop=True)
    findings["rank"] = np.arange(1, len(findings) + 1)
    matches = ranked.assign(seeker_record=seekers["record_id"].to_numpy()[ranked["seeker"].to_numpy()],
                            person_id=seekers["person_id"].to_numpy()[ranked["seeker"].to_numpy()])
    matches = matches[["seeker_record", "person_id", "rank", "record_id", "employer", "title", "pay", "distance_km",
                       "score"]].rename(columns={"record_id": "vacancy_id"})
    sheet = matches.assign(姓名=mask_name(person["name"]).to_numpy()[ranked["seeker"].to_numpy()],
                           网格编码=person["grid_code"].to_numpy()[ranked["seeker"].to_numpy()]) \
        .drop(columns="person_id").rename(columns={
            "seeker_record": "求职登记号", "rank": "推荐顺序", "vacancy_id": "岗位编号", "employer": "单位", "title": "岗位",
            "pay": "月薪", "distance_km": "距离(公里)", "score": "匹配分"})
    summary = {"登记求职者": len(rolls["seekers"]), "已匹配人口库": len(seekers), "岗位": len(vac),
               "有合适岗位": int(has.sum()), "推荐培训": int((~has).sum())}
    return CheckResult(findings, links_table(linked), summary, sheets={"岗位推荐": sheet},
                       tables={"audit_jobs_matches": matches})
