"""Run one audit on a project: read the base and the rolls, check, keep decisions, store, export.

This is the library behind ``gridmap audit CHECK PROJECT``; the app calls it on a
worker thread with ``progress`` and ``cancelled`` callables.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from gridmap.audit.findings import (
    attach_places,
    export_findings,
    merge_decisions,
    read_findings,
    store_findings,
)
from gridmap.audit.rolls import read_roll
from gridmap.errors import GridMapError
from gridmap.project import Project

__all__ = ["CHECKS", "CheckResult", "load_base", "read_workers", "run_audit"]

CHECKS = ("pension", "dibao", "duplicates", "jobs")
BASE_COLUMNS = ["person_id", "name", "id_number", "sex", "birth_date", "household_id", "relation", "address",
                "grid_code", "age", "employment", "education", "skills"]


@dataclass
class CheckResult:
    """What a check returns: findings (before places and decisions), links, summary, extra sheets and tables."""

    findings: pd.DataFrame
    links: pd.DataFrame
    summary: dict = field(default_factory=dict)
    sheets: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)


def load_base(project, locations=False):
    """The population base: every resident of the project, placed in a grid or still in review.

    Parameters
    ----------
    project : Project or path
    locations : bool
        Add ``x``/``y`` in the metric CRS (NaN for residents not yet placed).
    """
    from gridmap.crs import METRIC_CRS

    project = project if isinstance(project, Project) else Project(project)
    if not project.has_layer("residents"):
        raise GridMapError(f"{project.path}: no residents layer (geocode the population registry first)")
    placed = project.read("residents", columns=BASE_COLUMNS)
    frame = pd.DataFrame(placed.drop(columns="geometry"))
    if locations:
        metric = placed.geometry.to_crs(METRIC_CRS)
        frame["x"], frame["y"] = metric.x.to_numpy(), metric.y.to_numpy()
    if project.has_layer("review"):
        review = project.read("review")
        if "placed" in review and "source" in review:
            waiting = review[(review["source"] == "residents") & ~review["placed"].astype(bool)]
            waiting = pd.DataFrame(waiting.reindex(columns=BASE_COLUMNS)).assign(grid_code="")
            frame = pd.concat([frame, waiting], ignore_index=True)
    text = [c for c in BASE_COLUMNS if c != "age"]
    frame[text] = frame[text].fillna("").astype(str)
    frame["age"] = pd.to_numeric(frame["age"], errors="coerce").fillna(-1).astype(int)
    return frame


def read_workers(project, records_dir):
    """The grid-worker roster: the project's ``grid_workers`` table, else ``grid_workers.csv``."""
    if project.has_layer("grid_workers"):
        return pd.DataFrame(project.read("grid_workers")).astype(str)
    return read_roll(records_dir, "grid_workers", required=False)


def _module(check):
    if check not in CHECKS:
        raise GridMapError(f"unknown check {check!r} (one of {', '.join(CHECKS)})")
    from importlib import import_module

    return import_module(f"gridmap.audit.{check}")


def run_audit(project, check, *, records_dir=None, out=None, options=None, progress=None, cancelled=None,
              run_time=None, pinned_time=None):
    """Run ``check`` on ``project`` and store its findings; optionally export a workbook.

    Parameters
    ----------
    project : str, Path or Project
    check : {"pension", "dibao", "duplicates", "jobs"}
    records_dir : str or Path, optional
        Folder of the bureaus' files (default: the project's folder).
    out : str or Path, optional
        Write the masked workbook here.
    options : the check's options dataclass, optional
    progress : callable(fraction, message), optional
    cancelled : callable() -> bool, optional
    run_time : datetime, optional
        Stamp for ``first_seen``/``last_seen`` (default: now).
    pinned_time : datetime, optional
        Pin the workbook's timestamps (reproducible bytes).

    Returns
    -------
    dict
        Counts (findings, new, verified, dismissed), seconds, and the check's summary.
    """
    started = time.perf_counter()
    module = _module(check)
    project = project if isinstance(project, Project) else Project(project)
    records_dir = Path(records_dir) if records_dir is not None else project.path.parent
    options = options if options is not None else module.Options()

    def step(fraction, message):
        if cancelled is not None and cancelled():
            raise GridMapError(f"audit {check}: cancelled")
        if progress is not None:
            progress(fraction, message)

    step(0.0, "读取人口基础库")
    base = load_base(project, locations=getattr(module, "NEEDS_LOCATIONS", False))
    step(0.1, "读取部门数据")
    rolls = {name: read_roll(records_dir, name) for name in module.ROLLS}
    result = module.run(base, rolls, options, progress=lambda f, m: step(0.15 + 0.7 * f, m))
    step(0.9, "保存核查结果")
    grids = pd.DataFrame(project.read("grids", columns=["grid_code", "grid_name", "community", "subdistrict"]))
    findings = attach_places(result.findings, grids, read_workers(project, records_dir))
    merged = merge_decisions(findings, read_findings(project, check), run_time or datetime.now())
    store_findings(project, check, merged, extra={f"audit_{check}_links": result.links, **result.tables})
    if out is not None:
        export_findings(merged, out, summary=result.summary, extra_sheets=result.sheets, pinned_time=pinned_time)
    step(1.0, "完成")
    active = merged[merged["active"].astype(bool)]
    counts = active["status"].value_counts()
    return {"check": check, "findings": len(active), "new": int(counts.get("new", 0)),
            "verified": int(counts.get("verified", 0)), "dismissed": int(counts.get("dismissed", 0)),
            "seconds": round(time.perf_counter() - started, 1), **result.summary}


def links_table(linked):
    """The non-exact links of ``linked`` rolls (name -> frame), for officers to review; no ID numbers."""
    parts = []
    for name, frame in linked.items():
        keep = frame[frame["link_method"].isin(["probabilistic", "ambiguous"])]
        parts.append(pd.DataFrame({"roll": name, "record_id": keep["record_id"].astype(str),
                                   "person_id": keep["person_id"].astype(str), "link_method": keep["link_method"],
                                   "match_probability": keep["match_probability"].astype(float),
                                   "link_evidence": keep["link_evidence"].astype(str)}))
    if not parts:
        return pd.DataFrame(columns=["roll", "record_id", "person_id", "link_method", "match_probability",
                                     "link_evidence"])
    out = pd.concat(parts, ignore_index=True)
    out["match_probability"] = out["match_probability"].astype(float).round(6)
    return out if len(out) else out.astype({"match_probability": np.float64})
