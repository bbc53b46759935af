"""Record linkage: find each bureau record's person in the population base.

Two stages, as Yichang's shared population base was used:

1. **Exact** on valid ID numbers (GB 11643 format, birth date and check digit). A
   valid number that the base holds is taken as the link, with probability 1.
2. **Probabilistic** for the rest (mistyped or missing ID, or an ID the base does not
   hold), with `Splink <https://moj-analytical-services.github.io/splink/>`_ on DuckDB:
   a Fellegi-Sunter model comparing ID number, name, birth date and address.

The model is the textbook one. With comparison levels :math:`\\gamma_k` and
:math:`m_k = P(\\gamma_k \\mid \\text{match})`, :math:`u_k = P(\\gamma_k \\mid \\text{non-match})`,
the match weight of a pair is :math:`\\log_2 \\frac{\\lambda}{1-\\lambda} + \\sum_k \\log_2 \\frac{m_k}{u_k}`
and its probability :math:`2^w / (1 + 2^w)`. Here

* ``u`` is estimated by Splink from random pairs (seeded, so runs repeat);
* ``m`` is estimated from the exact links of stage 1, which are true matches that
  carry the homophone names, day-off dates and address variants real records have;
  the ID comparison's levels are fixed priors (a clerk's single transposition is
  rare but far rarer between two different people), since exact links cannot teach
  how often IDs are mistyped;
* :math:`\\lambda` is ``prior_match_share / len(base)``: each record has at most one
  person in the base.

Candidate pairs come from blocking (same birth date; same name; same name sound and
birth year; same first 12 or last 8 ID characters), so a 700,000-person base is
compared only with the few people who could be the one. Each record keeps its best
candidate if its probability reaches ``threshold`` and no second candidate comes
within a factor of 8 in weight (an ambiguous record stays unlinked, with the reason).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pypinyin import lazy_pinyin

from gridmap.errors import GridMapError
from gridmap.idnumber import is_valid_id

__all__ = [
    "EVIDENCE_LABELS",
    "LINK_COLUMNS",
    "link_records",
    "link_rolls",
    "name_sound",
    "normalise_address",
    "normalise_id",
    "prepare_people",
]

LINK_COLUMNS = ["person_id", "link_method", "match_probability", "match_weight", "link_evidence"]
_FULL_WIDTH = str.maketrans("０１２３４５６７８９ｘＸ－", "0123456789XX-")
_DISTRICTS = "(?:西陵|伍家岗|点军|猇亭|夷陵)区?"
_ADDRESS_RULES = (
    (r"[\s，,。、]", ""),
    (r"^(?:湖北省)?(?:宜昌市)?", ""),
    (f"^{_DISTRICTS}", ""),
    (r"(?:幢|号楼|座)", "栋"),
    (r"(\d+)-(\d+)", r"\1单元\2"),
    (r"室$", ""),
)
_U_PAIRS = 2.5e5  # random pairs for u; each costs the four comparisons, ~10 microseconds
_AMBIGUITY_BITS = 3.0  # a runner-up within 2**3 of the best leaves the record unlinked

# Level labels (Splink ``label_for_charts``) -> the evidence wording officers read.
EVIDENCE_LABELS = {
    "id_exact": "身份证号一致", "id_one_typo": "身份证号差一位或相邻两位颠倒", "id_two_typos": "身份证号差两位",
    "id_other": "身份证号不同",
    "name_exact": "姓名一致", "name_sound": "姓名同音", "name_one_char": "姓名差一字", "name_other": "姓名不同",
    "birth_exact": "出生日期一致", "birth_one_day": "出生日期差一天", "birth_typo": "出生日期数字颠倒",
    "birth_other": "出生日期不同",
    "addr_exact": "地址一致", "addr_close": "地址相近", "addr_similar": "地址相似", "addr_other": "地址不同",
}


def normalise_id(ids):
    """Strip, upper-case and turn full-width characters half-width; None/NaN -> ``""``."""
    s = pd.Series(ids, dtype="str").fillna("")
    s = s.str.replace(r"\s+", "", regex=True).str.upper()
    wide = s.str.contains("[０-９ｘＸ－]", regex=True)
    if wide.any():
        s[wide] = s[wide].str.translate(_FULL_WIDTH)
    return s


def normalise_address(addresses):
    """Reduce address spellings to one form for comparison (not for display).

    Drops province, city and district, writes digits half-width, 幢/号楼/座 as 栋,
    ``3-101`` as ``3单元101`` and removes 室, spaces and punctuation.

    Examples
    --------
    >>> normalise_address(["湖北省宜昌市西陵区 沿江大道３号１幢2-101室", None]).tolist()
    ['沿江大道3号1栋2单元101', '']
    """
    s = pd.Series(addresses, dtype="str").fillna("")
    wide = s.str.contains("[０-９ｘＸ－]", regex=True)
    if wide.any():
        s[wide] = s[wide].str.translate(_FULL_WIDTH)
    # pyarrow's RE2 kernels run these in C (pandas falls back to Python for backreferences).
    arr = pa.array(s.to_numpy(dtype=object), type=pa.string())
    for pattern, replacement in _ADDRESS_RULES:
        arr = pc.replace_substring_regex(arr, pattern=pattern, replacement=replacement)
    return pd.Series(arr.to_pandas(), index=s.index, dtype="str")


def name_sound(names):
    """Toneless pinyin of each name (王伟 and 王玮 both ``wangwei``); empty for empty.

    Characters are looked up one by one (a name has no context to disambiguate), so a
    polyphonic character always reads the same way on both sides of a comparison.
    """
    s = pd.Series(names, dtype="str").fillna("")
    chars = sorted(set("".join(s.unique())))
    table = str.maketrans({c: lazy_pinyin(c)[0] for c in chars})
    return s.str.translate(table)


def _sorted_digits(ids):
    return np.array(["".join(sorted(v)) for v in pd.Series(ids, dtype="str").fillna("")], dtype=object)


def prepare_people(frame, key):
    """The comparison columns of ``frame``: one row per record, keyed by column ``key``.

    ``frame`` needs ``name`` and ``id_number``; ``birth_date`` (``YYYY-MM-DD``),
    ``sex`` and ``address`` are used when present. A birth date is taken from the ID
    only when the ID is valid: digits of a mistyped ID are no evidence.
    """
    n = len(frame)
    empty = pd.Series("", index=frame.index, dtype="object")
    ids = normalise_id(frame["id_number"]) if "id_number" in frame else empty
    valid = is_valid_id(ids)
    birth = pd.to_datetime(frame.get("birth_date", empty), errors="coerce", format="mixed")
    from_id = pd.to_datetime(ids.str[6:14].where(valid, ""), format="%Y%m%d", errors="coerce")
    birth = birth.fillna(from_id)
    name = frame["name"].fillna("").astype(str).str.replace(r"\s+", "", regex=True)
    address = normalise_address(frame["address"]) if "address" in frame else empty
    out = pd.DataFrame({
        "unique_id": frame[key].astype(str).to_numpy(),
        "name": name.to_numpy(),
        "name_py": name_sound(name).to_numpy(),
        "surname": name.str[:1].to_numpy(),
        "id_number": ids.to_numpy(),
        "id_head": ids.str[:12].to_numpy(),
        "id_tail": ids.str[10:18].to_numpy(),
        "id_digits": _sorted_digits(ids),
        "birth_date": birth.dt.strftime("%Y-%m-%d").to_numpy(),
        "birth_year": birth.dt.year.astype("Int64").astype(str).to_numpy(),
        "address": address.to_numpy(),
    }, index=range(n))
    # Splink treats NULL as "no information", which is what an empty field is.
    out = out.astype(object).where(out.ne("") & out.ne("<NA>") & out.ne("NaT") & out.notna(), None)
    out["id_valid"] = valid.to_numpy()
    return out


def _level(sql, label, **fixed):
    level = {"sql_condition": sql, "label_for_charts": label}
    level.update(fixed)
    return level


def _null(column):
    return {"sql_condition": f"{column}_l IS NULL OR {column}_r IS NULL", "label_for_charts": f"{column} missing",
            "is_null_level": True}


def _comparisons():
    """The four comparisons; the ID levels' m and u are fixed priors (see module docstring)."""
    dl = "damerau_levenshtein(id_number_l, id_number_r)"
    jw = "jaro_winkler_similarity(address_l, address_r)"
    day_gap = "abs(date_diff('day', try_cast(birth_date_l AS DATE), try_cast(birth_date_r AS DATE)))"
    fixed = {"fix_m_probability": True, "fix_u_probability": True}
    return [
        {"output_column_name": "id_number", "comparison_levels": [
            _null("id_number"),
            _level("id_number_l = id_number_r", "id_exact", m_probability=0.95, u_probability=1e-9, **fixed),
            _level(f"{dl} <= 1", "id_one_typo", m_probability=0.04, u_probability=1e-8, **fixed),
            _level(f"{dl} <= 2", "id_two_typos", m_probability=0.005, u_probability=1e-5, **fixed),
            _level("ELSE", "id_other", m_probability=0.005, u_probability=1.0, **fixed)]},
        {"output_column_name": "name", "comparison_levels": [
            _null("name"),
            _level("name_l = name_r", "name_exact"),
            _level("name_py_l = name_py_r", "name_sound"),
            _level("levenshtein(name_l, name_r) <= 1 AND length(name_l) > 1", "name_one_char"),
            _level("ELSE", "name_other")]},
        {"output_column_name": "birth_date", "comparison_levels": [
            _null("birth_date"),
            _level("birth_date_l = birth_date_r", "birth_exact"),
            _level(f"{day_gap} <= 1", "birth_one_day"),
            _level("damerau_levenshtein(birth_date_l, birth_date_r) <= 1", "birth_typo"),
            _level("ELSE", "birth_other")]},
        {"output_column_name": "address", "comparison_levels": [
            _null("address"),
            _level("address_l = address_r", "addr_exact"),
            _level(f"{jw} >= 0.92", "addr_close"),
            _level(f"{jw} >= 0.8", "addr_similar"),
            _level("ELSE", "addr_other")]},
    ]


# Candidate pairs: same birth date; same name sound and birth year; same first 12 ID
# characters and surname; same last 8 ID characters; same ID digits in any order and
# surname (a transposition keeps the digits, wherever it falls); same name and address.
_BLOCKS = (("birth_date",), ("name_py", "birth_year"), ("id_head", "surname"), ("id_tail",),
           ("id_digits", "surname"), ("name", "address"))


def _smoothed(model, floor=1e-4):
    """Floor trained m and u at ``floor`` and renormalise: a level never seen in training is rare, not impossible."""
    for comparison in model["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        for key, fix in (("m_probability", "fix_m_probability"), ("u_probability", "fix_u_probability")):
            if any(lv.get(fix) for lv in levels):
                continue
            values = np.array([lv.get(key) if lv.get(key) is not None else 0.0 for lv in levels], dtype=float)
            values = np.maximum(values, floor)
            values /= values.sum()
            for lv, v in zip(levels, values):
                lv[key] = float(v)
    return model


def _evidence(pred):
    """One line of evidence per predicted pair: each comparison's level and its Bayes factor."""
    parts = []
    for column in ("id_number", "name", "birth_date", "address"):
        text = pred[f"label_{column}"].map(EVIDENCE_LABELS).fillna("")
        factor = np.exp2(pred[f"mw_{column}"].astype(float)).map("{:.3g}".format)
        parts.append(np.where(text != "", text + "(×" + factor + ")", ""))
    return pd.Series(["；".join(p for p in row if p) for row in zip(*parts)], index=pred.index, dtype=object)


def _candidate_base(base, base_ids, rec_p, taught, rng, background=20_000):
    """The base persons the records could be: those sharing a blocking key, plus a random background.

    Only these are prepared and handed to Splink; the background keeps the random
    pairs that estimate ``u`` representative of the whole base.
    """
    birth = pd.Series(base["birth_date"], dtype="str").fillna("").str[:10]
    from_id = base_ids.str[6:10] + "-" + base_ids.str[10:12] + "-" + base_ids.str[12:14]
    birth = birth.where(birth != "", from_id)
    name = pd.Series(base["name"], dtype="str").fillna("").str.replace(r"\s+", "", regex=True)
    keep = birth.isin(pd.Index(rec_p["birth_date"].dropna().unique())).to_numpy().copy()
    keep |= name.isin(pd.Index(rec_p["name"].dropna().unique())).to_numpy()
    keep |= base_ids.str[10:18].isin(pd.Index(rec_p["id_tail"].dropna().unique())).to_numpy()
    keep |= (base_ids.str[:12] + name.str[:1]).isin(
        pd.Index((rec_p["id_head"] + rec_p["surname"]).dropna().unique())).to_numpy()
    digits = pd.Series(_sorted_digits(base_ids), index=base.index) + name.str[:1]
    keep |= digits.isin(pd.Index((rec_p["id_digits"] + rec_p["surname"]).dropna().unique())).to_numpy()
    sound = name_sound(name) + birth.str[:4]
    keep |= sound.isin(pd.Index((rec_p["name_py"] + rec_p["birth_year"]).dropna().unique())).to_numpy()
    keep |= base["person_id"].isin(pd.Index(taught)).to_numpy()
    keep[rng.choice(len(base), min(background, len(base)), replace=False)] = True
    return base[keep]


def _probabilistic(records, base, threshold, prior, labels, seed):
    import duckdb
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    con = duckdb.connect(":memory:")
    con.execute("SET threads TO 2")
    db = DuckDBAPI(connection=con)
    left = base.drop(columns="id_valid").assign(label=base["unique_id"])
    right = records.drop(columns="id_valid").assign(label=labels)
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=_comparisons(),
        blocking_rules_to_generate_predictions=[block_on(*cols) for cols in _BLOCKS],
        probability_two_random_records_match=min(0.5, prior),
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
    )
    inputs = [db.register(left, dataset_display_name="base"), db.register(right, dataset_display_name="records")]
    linker = Linker(inputs, settings, log_level=None)
    linker.training.estimate_u_using_random_sampling(max_pairs=_U_PAIRS, seed=seed, num_chunks=1)
    if right["label"].notna().any():
        linker.training.estimate_m_from_label_column("label")
    model = _smoothed(linker.misc.save_model_to_json(), floor=1.0 / _U_PAIRS)
    model["retain_intermediate_calculation_columns"] = True
    db2 = DuckDBAPI(connection=con)
    inputs = [db2.register(left, dataset_display_name="base2"), db2.register(right, dataset_display_name="records2")]
    linker = Linker(inputs, model, log_level=None)
    pred = linker.inference.predict(threshold_match_weight=-10, warning_mode="never").as_pandas_dataframe()
    con.close()
    if pred.empty:
        return pd.DataFrame(columns=["unique_id", "person_id", "match_probability", "match_weight", "link_evidence",
                                     "runner_up_weight"])
    # Orient pairs as (record, person) whichever side Splink put them on.
    on_left = pred["source_dataset_l"].astype(str).str.startswith("base")
    pred["record"] = np.where(on_left, pred["unique_id_r"], pred["unique_id_l"])
    pred["person"] = np.where(on_left, pred["unique_id_l"], pred["unique_id_r"])
    for c in model["comparisons"]:
        # Splink reports each comparison's weight log2(m/u); the level is the one with that weight.
        levels = [lv for lv in c["comparison_levels"] if not lv.get("is_null_level")]
        weights = np.array([np.log2(lv["m_probability"] / lv["u_probability"]) for lv in levels])
        labels_ = np.array([lv["label_for_charts"] for lv in levels], dtype=object)
        mw = pred[f"mw_{c['output_column_name']}"].to_numpy(dtype=float)
        nearest = np.abs(mw[:, None] - weights[None, :]).argmin(axis=1)
        pred[f"label_{c['output_column_name']}"] = np.where(mw == 0.0, None, labels_[nearest])
    pred["link_evidence"] = _evidence(pred)
    pred = pred.sort_values(["record", "match_weight", "person"], ascending=[True, False, True])
    runner_up = pred.groupby("record")["match_weight"].nth(1)
    best = pred.groupby("record").head(1).set_index("record")
    best["runner_up_weight"] = runner_up.groupby(pred.loc[runner_up.index, "record"]).first().reindex(best.index)
    best = best.rename(columns={"person": "person_id"}).reset_index(names="unique_id")
    return best[["unique_id", "person_id", "match_probability", "match_weight", "link_evidence", "runner_up_weight"]]


def link_records(records, base, *, key="record_id", threshold=0.9, prior_match_share=0.5, label_sample=5000,
                 seed=8, progress=None):
    """Link each record to a person of the base: exact on valid IDs, then probabilistic.

    Parameters
    ----------
    records : DataFrame
        Column ``key`` (unique), ``name``, ``id_number``; optional ``birth_date``,
        ``address``.
    base : DataFrame
        The population base: ``person_id``, ``name``, ``id_number``, ``birth_date``,
        ``address``.
    key : str
        The records' id column.
    threshold : float
        Least match probability for a probabilistic link.
    prior_match_share : float
        Share of the records left after the exact stage expected to be in the base.
    label_sample : int
        How many exact links to learn the ``m`` probabilities from.
    seed : int
        Seed of the random pairs that estimate ``u``.
    progress : callable(fraction, message), optional

    Returns
    -------
    DataFrame
        Indexed like ``records``: ``person_id`` ("" when unlinked), ``link_method``
        (``id``, ``probabilistic``, ``ambiguous`` or ``none``), ``match_probability``,
        ``match_weight`` and ``link_evidence`` (the levels and Bayes factors).

    Examples
    --------
    A transposed ID still finds its person; a namesake born on another day does not:

    >>> base = pd.DataFrame({"person_id": ["P1", "P2"], "name": ["王伟", "李娜"],
    ...     "id_number": ["420502195003020017", "420502196101010023"],
    ...     "birth_date": ["1950-03-02", "1961-01-01"], "address": ["", ""]})
    """
    if key not in records:
        raise GridMapError(f"records: no column {key!r}")
    if records[key].duplicated().any():
        raise GridMapError(f"records: {key!r} is not unique")
    out = pd.DataFrame({"person_id": "", "link_method": "none", "match_probability": 0.0, "match_weight": np.nan,
                        "link_evidence": ""}, index=records.index)
    if len(records) == 0 or len(base) == 0:
        return out
    if progress:
        progress(0.0, "身份证号精确匹配")
    base_ids = normalise_id(base["id_number"])
    rec_ids = normalise_id(records["id_number"])
    valid = is_valid_id(rec_ids).to_numpy()
    known = pd.Index(base_ids[base_ids != ""].to_numpy())
    first = ~known.duplicated()
    known_pid = base["person_id"].to_numpy()[np.flatnonzero(base_ids != "")][first]
    known = known[first]
    pos = known.get_indexer(rec_ids.to_numpy())
    hit = valid & (pos >= 0)
    out.loc[hit, "person_id"] = known_pid[pos[hit]]
    out.loc[hit, "link_method"] = "id"
    out.loc[hit, "match_probability"] = 1.0
    out.loc[hit, "link_evidence"] = EVIDENCE_LABELS["id_exact"]
    rest = ~hit & records["name"].fillna("").astype(str).str.strip().ne("").to_numpy()
    if not rest.any():
        return out
    if progress:
        progress(0.3, f"概率匹配 {int(rest.sum()):,} 条")
    # Exact links teach the model what true matches look like (the m probabilities).
    linked = np.flatnonzero(hit)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(linked, min(label_sample, len(linked)), replace=False)) if len(linked) else linked
    rec_p = prepare_people(records.iloc[np.concatenate([np.flatnonzero(rest), sample])], key)
    n_rest = int(rest.sum())
    rec_p.loc[n_rest:, "unique_id"] = "teach:" + rec_p.loc[n_rest:, "unique_id"].astype(str)
    labels = np.concatenate([np.full(n_rest, None, dtype=object), out["person_id"].to_numpy()[sample].astype(object)])
    base_p = prepare_people(_candidate_base(base, base_ids, rec_p, out["person_id"].to_numpy()[sample], rng),
                            "person_id")
    best = _probabilistic(rec_p, base_p, threshold, prior_match_share / len(base), labels, seed)
    best = best[~best["unique_id"].astype(str).str.startswith("teach:")].set_index("unique_id")
    rec_p = rec_p.iloc[:n_rest]
    rec_p.index = records.index[rest]
    rest_keys = rec_p["unique_id"]
    found = best.reindex(rest_keys.to_numpy())
    found.index = rest_keys.index
    ok = found["match_probability"].ge(threshold).fillna(False).to_numpy()
    clear = (found["match_weight"] - found["runner_up_weight"].fillna(-np.inf)).ge(_AMBIGUITY_BITS).to_numpy()
    idx = rest_keys.index
    out.loc[idx, "match_probability"] = found["match_probability"].fillna(0.0).to_numpy()
    out.loc[idx, "match_weight"] = found["match_weight"].to_numpy()
    out.loc[idx, "link_evidence"] = found["link_evidence"].fillna("").to_numpy()
    linked_now = idx[ok & clear]
    out.loc[linked_now, "person_id"] = found.loc[linked_now, "person_id"].to_numpy()
    out.loc[linked_now, "link_method"] = "probabilistic"
    out.loc[idx[ok & ~clear], "link_method"] = "ambiguous"
    if progress:
        progress(1.0, "匹配完成")
    return out


def link_rolls(rolls, base, *, threshold=0.9, seed=8, progress=None):
    """Link several bureaus' rolls to the base in one model; return each roll with its links.

    Parameters
    ----------
    rolls : dict
        Roll name -> DataFrame with ``record_id``, ``name``, ``id_number`` (and
        optionally ``birth_date``, ``address``).
    base : DataFrame
        See :func:`link_records`.

    Returns
    -------
    dict
        Roll name -> the roll plus :data:`LINK_COLUMNS` and ``id_valid`` (the record's
        own ID number is valid).
    """
    frames = []
    for name, frame in rolls.items():
        part = frame.reset_index(drop=True).copy()
        part["_key"] = name + ":" + part["record_id"].astype(str)
        part["_roll"] = name
        frames.append(part)
    columns = ["_key", "_roll", "name", "id_number", "birth_date", "address"]
    joined = pd.concat([f.reindex(columns=columns, fill_value="") for f in frames], ignore_index=True)
    links = link_records(joined, base, key="_key", threshold=threshold, seed=seed, progress=progress)
    links["id_valid"] = is_valid_id(normalise_id(joined["id_number"])).to_numpy()
    out = {}
    start = 0
    for name, part in zip(rolls, frames):
        stop = start + len(part)
        chunk = links.iloc[start:stop].reset_index(drop=True)
        out[name] = pd.concat([part.drop(columns=["_key", "_roll"]), chunk], axis=1)
        start = stop
    return out
