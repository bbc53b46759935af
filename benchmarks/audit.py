"""Benchmark the social-security cross-checks on the demo against its planted cases.

    python benchmarks/audit.py [--demo DIR] [--scale 1.0]

Builds the demo into DIR if it is not there (about a minute at full scale), runs
``pension``, ``dibao``, ``duplicates`` and ``jobs`` on a copy of its project, and
scores each against ``audit_truth.csv``:

* pension, dibao, duplicates: precision and recall of the active findings (by pension
  account, 低保 household, person);
* jobs: a planted "ideal" vacancy counts as found when it is among the seeker's
  listed vacancies, a planted "no fitting vacancy" seeker when a training offer is
  made; precision is over what was offered to those seekers.

Goals (issue 8): pension recall 100% with precision >= 99%; >= 98% precision and
recall on 低保 and duplicates; all four checks under 2 minutes on 2 cores. The last
line printed is one JSON object: ``{check: {precision, recall, seconds}}``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gridmap.audit.findings import read_findings
from gridmap.audit.run import CHECKS, run_audit
from gridmap.project import Project


def _score(found, truth):
    found, truth = set(found), set(truth)
    hit = len(found & truth)
    precision = hit / len(found) if found else (1.0 if not truth else 0.0)
    recall = hit / len(truth) if truth else 1.0
    return round(precision, 4), round(recall, 4), len(found), len(truth)


def evaluate(project, check, truth):
    """Precision, recall, number found and number planted for ``check``."""
    findings = read_findings(project, check)
    findings = findings[findings["active"].astype(bool)]
    planted = truth[truth["check"] == check]
    if check == "pension":
        return _score(findings["record_id"], planted["record_id"])
    if check == "dibao":
        return _score(findings["record_id"], planted["record_id"])
    if check == "duplicates":
        return _score(findings["person_id"], planted["person_id"])
    matches = Project(project).read("audit_jobs_matches")
    offered = set(zip(matches["person_id"], matches["vacancy_id"]))
    training = set(findings.loc[~findings["person_id"].isin(matches["person_id"]), "person_id"])
    pairs = set(zip(planted["person_id"], planted["record_id"]))
    got = {(p, v) for p, v in pairs if (v == "TRAINING" and p in training) or (p, v) in offered}
    people = set(planted["person_id"])
    made = {(p, "TRAINING") for p in training & people} | {(p, v) for p, v in offered if p in people}
    # Precision: of the seekers in the truth, how many got what was planted for them
    # (each planted seeker counts once, whatever else was listed).
    precision = len({p for p, _ in got}) / len({p for p, _ in made}) if made else 1.0
    return round(precision, 4), round(len(got) / len(pairs), 4) if pairs else 1.0, len(made), len(pairs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", default="demo", help="demo folder (built here if absent)")
    parser.add_argument("--scale", type=float, default=1.0, help="scale when building the demo")
    args = parser.parse_args(argv)
    demo = Path(args.demo)
    if not (demo / "yichang.gpkg").exists() or not (demo / "audit_truth.csv").exists():
        from gridmap.demo.build import build_demo

        started = time.perf_counter()
        build_demo(demo, scale=args.scale)
        print(f"built the demo in {demo} in {time.perf_counter() - started:.0f} s")
    truth = pd.read_csv(demo / "audit_truth.csv", dtype=str, keep_default_na=False)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "yichang.gpkg"
        shutil.copyfile(demo / "yichang.gpkg", project)
        total = 0.0
        for check in CHECKS:
            started = time.perf_counter()
            summary = run_audit(project, check, records_dir=demo)
            seconds = time.perf_counter() - started
            total += seconds
            precision, recall, found, planted = evaluate(project, check, truth)
            results[check] = {"precision": precision, "recall": recall, "seconds": round(seconds, 1)}
            extra = {k: v for k, v in summary.items() if k not in ("check", "new", "verified", "dismissed", "seconds")}
            print(f"{check:<11} precision {precision:7.2%}  recall {recall:7.2%}  found {found:>7,}  planted "
                  f"{planted:>7,}  {seconds:6.1f} s  {json.dumps(extra, ensure_ascii=False)}")
    print(f"all four checks: {total:.1f} s")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
