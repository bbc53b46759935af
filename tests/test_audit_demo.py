"""The audits on the small demo: planted cases found, decisions kept across runs, exports masked, CLI."""

import re
import shutil

import pandas as pd
import pytest
from openpyxl import load_workbook

from gridmap.audit.findings import apply_decisions, read_findings, set_status
from gridmap.audit.run import CHECKS, run_audit
from gridmap.cli import main
from gridmap.demo.departments import AUDIT_TRUTH_FILE, DEPARTMENT_FILES
from gridmap.errors import GridMapError
from gridmap.project import Project

ID_PATTERN = re.compile(r"\d{17}[\dXx]")


@pytest.fixture(scope="module")
def audited(demo_dir, tmp_path_factory):
    """A copy of the small demo project with all four checks run once, and their workbooks."""
    folder = tmp_path_factory.mktemp("audited")
    project = folder / "yichang.gpkg"
    shutil.copyfile(demo_dir / "yichang.gpkg", project)
    summaries = {check: run_audit(project, check, records_dir=demo_dir, out=folder / f"{check}.xlsx")
                 for check in CHECKS}
    return project, folder, summaries


def _truth(demo_dir, check):
    truth = pd.read_csv(demo_dir / AUDIT_TRUTH_FILE, dtype=str, keep_default_na=False)
    return truth[truth["check"] == check]


def _precision_recall(found, planted):
    found, planted = set(found), set(planted)
    return len(found & planted) / max(len(found), 1), len(found & planted) / max(len(planted), 1)


def test_demo_writes_every_department_file(demo_dir):
    for name in (*DEPARTMENT_FILES, AUDIT_TRUTH_FILE):
        assert (demo_dir / name).stat().st_size > 0, name
    truth = pd.read_csv(demo_dir / AUDIT_TRUTH_FILE, dtype=str)
    assert set(truth["check"]) == {"pension", "dibao", "duplicates", "jobs"}


def test_pension_finds_every_planted_case(audited, demo_dir):
    project, _, _ = audited
    findings = read_findings(project, "pension")
    precision, recall = _precision_recall(findings["record_id"], _truth(demo_dir, "pension")["record_id"])
    assert recall == 1.0
    assert precision >= 0.99
    assert (findings["amount"] > 0).all()
    assert findings["rank"].tolist() == sorted(findings["rank"])


def test_dibao_and_duplicates_reach_the_goals(audited, demo_dir):
    project, _, summaries = audited
    for check, column in (("dibao", "record_id"), ("duplicates", "person_id")):
        findings = read_findings(project, check)
        precision, recall = _precision_recall(findings[column], _truth(demo_dir, check)[column])
        assert precision >= 0.98 and recall >= 0.98, (check, precision, recall)
    rate = float(summaries["duplicates"]["重复参保率"].rstrip("%")) / 100
    assert 0.10 <= rate <= 0.15


def test_jobs_list_planted_vacancies_and_offer_training(audited, demo_dir):
    project, _, _ = audited
    matches = Project(project).read("audit_jobs_matches")
    findings = read_findings(project, "jobs")
    truth = _truth(demo_dir, "jobs")
    offered = set(zip(matches["person_id"], matches["vacancy_id"]))
    ideal = truth[truth["record_id"] != "TRAINING"]
    assert sum((p, v) in offered for p, v in zip(ideal["person_id"], ideal["record_id"])) >= 0.9 * len(ideal)
    trainees = truth.loc[truth["record_id"] == "TRAINING", "person_id"]
    offers = findings.set_index("person_id")["suggested_action"]
    assert offers.reindex(trainees).str.contains("培训").all()
    assert findings["summary"].str.len().max() <= 80
    assert not findings["summary"].str.contains("{worker}", regex=False).any()


def test_every_finding_has_a_grid_and_a_worker(audited):
    project, _, _ = audited
    for check in CHECKS:
        findings = read_findings(project, check)
        placed = findings["grid_code"] != ""
        assert placed.mean() > 0.95, check
        assert (findings.loc[placed, "worker_name"] != "").all(), check
        assert set(findings["status"]) <= {"new", "verified", "dismissed"}
        assert findings["finding_id"].is_unique


def test_no_unmasked_id_number_or_name_in_exports_or_findings(audited, demo_dir):
    project, folder, _ = audited
    residents = Project(project).read("residents", columns=["name", "id_number"])
    full_names = set(residents["name"][residents["name"].str.len() >= 3])
    for check in CHECKS:
        book = load_workbook(folder / f"{check}.xlsx", read_only=True)
        for sheet in book.worksheets:
            for row in sheet.iter_rows(values_only=True):
                for value in row:
                    text = "" if value is None else str(value)
                    assert not ID_PATTERN.search(text), (check, sheet.title, text)
                    assert text not in full_names, (check, sheet.title, text)
        stored = read_findings(project, check)
        for column in stored.columns:
            assert not stored[column].astype(str).str.contains(ID_PATTERN).any(), (check, column)


def test_decisions_survive_a_rerun(demo_dir, project_copy, tmp_path):
    run_audit(project_copy, "pension", records_dir=demo_dir)
    first = read_findings(project_copy, "pension")
    verified, dismissed = first["finding_id"].iloc[0], first["finding_id"].iloc[1]
    set_status(project_copy, "pension", [verified], "verified", note="入户核实，已停发")
    set_status(project_copy, "pension", [dismissed], "已排除", note="家属已退回")
    run_audit(project_copy, "pension", records_dir=demo_dir)
    again = read_findings(project_copy, "pension").set_index("finding_id")
    assert set(again.index) == set(first["finding_id"])
    assert again.loc[verified, "status"] == "verified"
    assert again.loc[verified, "status_note"] == "入户核实，已停发"
    assert again.loc[dismissed, "status"] == "dismissed"
    assert again.loc[verified, "decided_at"] != ""
    assert (again["status"] == "new").sum() == len(first) - 2
    # A decided finding that a run no longer finds is kept, inactive.
    records = tmp_path / "records"
    shutil.copytree(demo_dir, records, ignore=shutil.ignore_patterns("*.gpkg", "residents.csv"))
    roll = pd.read_csv(records / "pension_roll.csv", dtype=str, keep_default_na=False)
    account = again.loc[verified, "record_id"]
    roll.loc[roll["社保编号"] == account, "最近发放年月"] = "2000-01"
    roll.to_csv(records / "pension_roll.csv", index=False)
    run_audit(project_copy, "pension", records_dir=records)
    third = read_findings(project_copy, "pension").set_index("finding_id")
    assert not third.loc[verified, "active"]
    assert third.loc[verified, "status"] == "verified"
    assert third["active"].sum() == len(first) - 1


def test_workbook_round_trip_applies_decisions(demo_dir, project_copy, tmp_path):
    out = tmp_path / "dibao.xlsx"
    run_audit(project_copy, "dibao", records_dir=demo_dir, out=out)
    book = load_workbook(out)
    sheet = book["核查清单"]
    headers = [c.value for c in sheet[1]]
    status_col, note_col = headers.index("核查状态") + 1, headers.index("核查说明") + 1
    sheet.cell(row=2, column=status_col, value="已核实")
    sheet.cell(row=2, column=note_col, value="有小轿车，已办退出")
    finding = sheet.cell(row=2, column=headers.index("编号") + 1).value
    book.save(out)
    assert apply_decisions(project_copy, "dibao", out) == 1
    stored = read_findings(project_copy, "dibao").set_index("finding_id")
    assert stored.loc[finding, "status"] == "verified"
    assert stored.loc[finding, "status_note"] == "有小轿车，已办退出"


def test_set_status_refuses_unknown_values(demo_dir, project_copy):
    run_audit(project_copy, "dibao", records_dir=demo_dir)
    with pytest.raises(GridMapError, match="status must be one of"):
        set_status(project_copy, "dibao", [], "done")
    with pytest.raises(GridMapError, match="no finding"):
        set_status(project_copy, "dibao", ["DB-000000000000"], "verified")


def test_missing_roll_is_a_one_line_error(project_copy, tmp_path):
    with pytest.raises(GridMapError, match="pension_roll.csv"):
        run_audit(project_copy, "pension", records_dir=tmp_path)


def test_cli_audit_and_decide(demo_dir, project_copy, tmp_path, capsys):
    out = tmp_path / "dup.xlsx"
    assert main(["audit", "duplicates", str(project_copy), "--records", str(demo_dir), "--out", str(out),
                 "--quiet"]) == 0
    assert out.exists()
    assert "重复参保率" in capsys.readouterr().out
    finding = read_findings(project_copy, "duplicates")["finding_id"].iloc[0]
    assert main(["audit", "decide", "duplicates", str(project_copy), finding, "--status", "dismissed"]) == 0
    assert read_findings(project_copy, "duplicates").set_index("finding_id").loc[finding, "status"] == "dismissed"
    assert main(["audit", "decide", "duplicates", str(project_copy)]) == 2
