"""Findings: verification tasks for grid workers that keep the officers' decisions across runs.

Every finding is tied to a person or household, a grid and the grid's worker, and has
a status: ``new`` when first found, then ``verified`` or ``dismissed`` by an officer.
A finding's id is a hash of the check and what it is about (the pension account, the
低保 household, the person), so the same case found again gets the same id and keeps
its status, note and decision date. A decided finding that a later run no longer
finds is kept, marked ``active = False``, so no decision is ever lost.

Findings are stored in the project as tables ``audit_<check>``. They hold no ID
number at all and names only masked; exports add nothing unmasked.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from gridmap.errors import GridMapError
from gridmap.project import Project
from gridmap.report.excel import write_xlsx

__all__ = [
    "EXPORT_HEADERS",
    "FINDING_COLUMNS",
    "STATUSES",
    "STATUS_LABELS",
    "apply_decisions",
    "attach_places",
    "export_findings",
    "finding_ids",
    "findings_table",
    "merge_decisions",
    "person_key",
    "read_findings",
    "set_status",
    "store_findings",
]

STATUSES = ("new", "verified", "dismissed")
STATUS_LABELS = {"new": "待核查", "verified": "已核实", "dismissed": "已排除"}
_STATUS_FROM_LABEL = {**{v: k for k, v in STATUS_LABELS.items()}, **{k: k for k in STATUSES}}
_PREFIX = {"pension": "YL", "dibao": "DB", "duplicates": "CB", "jobs": "JY"}

FINDING_COLUMNS = [
    "finding_id", "check", "subject", "person_id", "household_id", "record_id", "name_masked", "id_masked",
    "grid_code", "grid_name", "community", "subdistrict", "worker_id", "worker_name", "worker_phone",
    "rank", "amount", "confidence", "summary", "evidence", "suggested_action",
    "status", "status_note", "decided_at", "first_seen", "last_seen", "active",
]
_DECISION_COLUMNS = ["status", "status_note", "decided_at", "first_seen"]

# Field -> the header officers read in an exported workbook.
EXPORT_HEADERS = {
    "finding_id": "编号", "rank": "排序", "status": "核查状态", "status_note": "核查说明", "summary": "情况",
    "suggested_action": "建议处理", "amount": "涉及金额(元)", "confidence": "置信度", "name_masked": "姓名",
    "id_masked": "身份证号", "record_id": "业务编号", "household_id": "户编号", "grid_code": "网格编码",
    "grid_name": "网格", "community": "社区", "subdistrict": "街道", "worker_name": "网格员",
    "worker_phone": "网格员电话", "evidence": "证据", "first_seen": "首次发现", "last_seen": "最近发现",
    "active": "本次仍发现",
}


def finding_ids(check, keys):
    """Stable ids for findings: ``YL-`` plus 12 hex digits of SHA-1 over ``check|key``.

    Examples
    --------
    >>> finding_ids("pension", ["SB0000001"]).tolist() == finding_ids("pension", ["SB0000001"]).tolist()
    True
    """
    prefix = _PREFIX.get(check, check[:2].upper())
    return pd.Series([f"{prefix}-" + hashlib.sha1(f"{check}|{k}".encode()).hexdigest()[:12] for k in keys],
                     dtype=object)


def person_key(person_id, id_numbers, id_valid):
    """Who a record is about: the base's person id, else a hash of a valid ID number, else ``""``.

    The hash lets records of someone outside the base be grouped without storing
    the number itself.
    """
    pid = pd.Series(person_id, dtype=object).fillna("").astype(str).reset_index(drop=True)
    ids = pd.Series(id_numbers, dtype=object).fillna("").astype(str).reset_index(drop=True)
    valid = pd.Series(id_valid).fillna(False).astype(bool).reset_index(drop=True)
    out = pid.to_numpy(dtype=object)
    todo = np.flatnonzero((pid == "").to_numpy() & valid.to_numpy())
    out[todo] = ["ID:" + hashlib.sha1(v.encode()).hexdigest()[:16] for v in ids.to_numpy()[todo]]
    return out


def attach_places(findings, grids, workers):
    """Add the grid's name, community, sub-district and its worker to each finding (by ``grid_code``)."""
    g = grids.set_index("grid_code")
    f = findings.copy()
    code = f["grid_code"].fillna("").astype(str)
    for column in ("grid_name", "community", "subdistrict"):
        f[column] = g[column].reindex(code).fillna("").to_numpy() if column in g else ""
    if workers is not None and len(workers):
        w = workers.drop_duplicates("grid_code").set_index("grid_code")
        for column in ("worker_id", "worker_name", "worker_phone"):
            f[column] = w[column].reindex(code).fillna("").astype(str).to_numpy()
    else:
        f["worker_id"] = ""
        f["worker_name"] = np.where(f["grid_name"] != "", f["grid_name"] + "网格员", "")
        f["worker_phone"] = ""
    # A record nobody could place goes to the community (or district) desk instead.
    f.loc[code == "", "worker_name"] = "未入格（社区核查）"
    # Messages name the worker who will follow up: "{worker}" is filled in here.
    contact = f["worker_name"] + np.where(f["worker_phone"] != "", f["worker_phone"], "")
    f["summary"] = [s.replace("{worker}", c) for s, c in zip(f["summary"].astype(str), contact)]
    return f


def merge_decisions(current, previous, run_time):
    """Carry officers' decisions from ``previous`` findings onto ``current`` by finding id.

    Current findings keep the earlier ``status``, ``status_note``, ``decided_at`` and
    ``first_seen``; new ones start ``new``. Decided findings missing from ``current``
    are kept with ``active = False``; undecided ones that vanished are dropped.
    """
    stamp = run_time.isoformat(timespec="seconds")
    cur = current.copy()
    cur["status"], cur["status_note"], cur["decided_at"] = "new", "", ""
    cur["first_seen"], cur["last_seen"], cur["active"] = stamp, stamp, True
    if previous is None or len(previous) == 0:
        return cur[FINDING_COLUMNS]
    prev = previous.drop_duplicates("finding_id").set_index("finding_id")
    seen = cur["finding_id"].isin(prev.index).to_numpy()
    for column in _DECISION_COLUMNS:
        if column in prev:
            cur.loc[seen, column] = prev[column].reindex(cur.loc[seen, "finding_id"]).fillna("").astype(str).to_numpy()
    gone = prev[~prev.index.isin(cur["finding_id"]) & prev["status"].isin(["verified", "dismissed"])]
    gone = gone.reset_index().assign(active=False)
    out = pd.concat([cur, gone.reindex(columns=FINDING_COLUMNS)], ignore_index=True)
    return out[FINDING_COLUMNS]


def findings_table(check):
    return f"audit_{check}"


def read_findings(project, check):
    """The stored findings of ``check`` (empty frame if the check never ran)."""
    project = project if isinstance(project, Project) else Project(project)
    name = findings_table(check)
    if not project.has_layer(name):
        return pd.DataFrame(columns=FINDING_COLUMNS)
    frame = project.read(name)
    frame["active"] = frame["active"].astype(str).isin(["True", "true", "1"])
    for column in ("status", "status_note", "decided_at", "first_seen", "last_seen"):
        frame[column] = frame[column].fillna("").astype(str)
    return frame


def store_findings(project, check, findings, extra=None):
    """Write ``findings`` (and ``extra`` tables, name -> frame) into the project in one save."""
    project = project if isinstance(project, Project) else Project(project)
    frame = findings[FINDING_COLUMNS].copy()
    frame["active"] = frame["active"].astype(bool)
    for column in ("amount", "confidence"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["rank"] = pd.to_numeric(frame["rank"], errors="coerce").fillna(0).astype(int)
    text = [c for c in FINDING_COLUMNS if c not in ("amount", "confidence", "rank", "active")]
    frame[text] = frame[text].fillna("").astype(str)
    project.write({findings_table(check): frame, **(extra or {})})


def set_status(project, check, ids, status, note="", when=None):
    """Record an officer's decision on findings ``ids`` of ``check``; return how many changed.

    Raises
    ------
    GridMapError
        For an unknown status or finding id.
    """
    if status not in _STATUS_FROM_LABEL:
        raise GridMapError(f"status must be one of {', '.join(STATUSES)} (or 待核查/已核实/已排除), got {status!r}")
    status = _STATUS_FROM_LABEL[status]
    project = project if isinstance(project, Project) else Project(project)
    findings = read_findings(project, check)
    ids = list(ids)
    unknown = sorted(set(ids) - set(findings["finding_id"]))
    if unknown:
        raise GridMapError(f"{check}: no finding {', '.join(unknown[:5])}")
    hit = findings["finding_id"].isin(ids)
    findings.loc[hit, "status"] = status
    findings.loc[hit, "status_note"] = note
    findings.loc[hit, "decided_at"] = (when or datetime.now()).isoformat(timespec="seconds") if status != "new" else ""
    store_findings(project, check, findings)
    return int(hit.sum())


def apply_decisions(project, check, workbook):
    """Read the 核查状态 / 核查说明 columns of an exported workbook back into the findings.

    Returns the number of findings whose status or note changed.
    """
    path = Path(workbook)
    if not path.exists():
        raise GridMapError(f"{path}: file not found")
    sheet = pd.read_excel(path, sheet_name="核查清单", dtype=str).fillna("")
    missing = [h for h in ("编号", "核查状态") if h not in sheet]
    if missing:
        raise GridMapError(f"{path}: sheet 核查清单 has no column {', '.join(missing)}")
    bad = sorted(set(sheet["核查状态"]) - set(_STATUS_FROM_LABEL))
    if bad:
        raise GridMapError(f"{path}: unknown 核查状态 {', '.join(bad)} (use 待核查/已核实/已排除)")
    project = project if isinstance(project, Project) else Project(project)
    findings = read_findings(project, check).set_index("finding_id")
    decided = sheet.set_index("编号")
    decided = decided[decided.index.isin(findings.index)]
    status = decided["核查状态"].map(_STATUS_FROM_LABEL)
    note = decided["核查说明"] if "核查说明" in decided else pd.Series("", index=decided.index)
    changed = (findings.loc[decided.index, "status"] != status) | (findings.loc[decided.index, "status_note"] != note)
    ids = changed[changed].index
    if len(ids) == 0:
        return 0
    now = datetime.now().isoformat(timespec="seconds")
    findings.loc[ids, "status"] = status[ids]
    findings.loc[ids, "status_note"] = note[ids]
    findings.loc[ids, "decided_at"] = np.where(status[ids] == "new", "", now)
    store_findings(project, check, findings.reset_index())
    return len(ids)


def export_findings(findings, path, summary=None, extra_sheets=None, pinned_time=None):
    """Write findings to an Excel workbook for grid workers, with personal data masked.

    Sheets: 汇总 (``summary``: label -> value), 核查清单 (every finding, its status
    columns ready to fill in and read back with :func:`apply_decisions`), 按网格员 (counts
    and amounts per worker), and any ``extra_sheets``. Findings carry only masked
    names and ID numbers, and nothing else personal is added.
    """
    f = findings.sort_values(["active", "rank"], ascending=[False, True]) if len(findings) else findings
    sheet = f[[c for c in EXPORT_HEADERS if c in f]].copy()
    sheet["status"] = sheet["status"].map(STATUS_LABELS).fillna(sheet["status"])
    sheet["active"] = np.where(sheet["active"].astype(bool), "是", "否")
    sheet = sheet.rename(columns=EXPORT_HEADERS)
    by_worker = (f[f["active"].astype(bool)].groupby(["subdistrict", "community", "grid_code", "grid_name",
                                                      "worker_name", "worker_phone"], dropna=False)
                 .agg(件数=("finding_id", "size"), 涉及金额=("amount", "sum")).reset_index()
                 .rename(columns={"subdistrict": "街道", "community": "社区", "grid_code": "网格编码",
                                  "grid_name": "网格", "worker_name": "网格员", "worker_phone": "网格员电话"}))
    sheets = {}
    if summary:
        sheets["汇总"] = pd.DataFrame({"项目": list(summary), "数值": [str(v) for v in summary.values()]})
    sheets["核查清单"] = sheet
    sheets["按网格员"] = by_worker
    sheets.update(extra_sheets or {})
    return write_xlsx(sheets, path, pinned_time=pinned_time)
