"""The PDF, HTML and Excel reports of the small demo, checked with independent tools.

poppler (pdftotext, pdftoppm, pdffonts, pdfinfo) reads the PDF, headless Chromium with
networking disabled opens the HTML, openpyxl opens the workbook; each test skips with
the reason when its tool is missing (``.ci/run`` installs them).
"""

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from gridmap.cli import main
from gridmap.project import Project
from gridmap.report.commands import build_report
from gridmap.report.content import gather_content
from gridmap.report.html import offline_problems
from gridmap.report.pdf import SECTION_TITLES, write_pdf
from gridmap.report.workbook import SHEETS

ID_TOKEN = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def _need(tool):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (apt-get install poppler-utils chromium)")


def _run(*args):
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=120).stdout


@pytest.fixture(scope="module")
def project(demo_project, tmp_path_factory):
    """A copy of the small demo with a planted audit table holding real names and ID numbers."""
    folder = tmp_path_factory.mktemp("report")
    path = folder / "yichang.gpkg"
    path.write_bytes(Path(demo_project).read_bytes())
    project = Project(path)
    residents = project.read("residents", columns=["name", "id_number", "grid_code"]).head(40)
    audit = pd.DataFrame({
        "name": residents["name"].to_numpy(),
        "id_number": residents["id_number"].to_numpy(),
        "grid_code": residents["grid_code"].to_numpy(),
        "overpaid_amount": np.arange(40, dtype=float) * 100.0,
        "status": ["new"] * 30 + ["verified"] * 10,
        "evidence": [f"死亡记录 {i}" for i in residents["id_number"]],
    })
    project.write({"audit_pension": audit})
    return project


@pytest.fixture(scope="module")
def real_ids(project):
    ids = set(project.read("residents", columns=["id_number"])["id_number"].dropna().astype(str))
    review = project.read("review", columns=["id_number"]) if project.has_layer("review") else None
    if review is not None:
        ids |= set(review["id_number"].dropna().astype(str))
    return {i for i in ids if len(i) == 18}


@pytest.fixture(scope="module")
def report(project):
    folder = project.path.parent
    result = build_report(project, pdf=folder / "r.pdf", html=folder / "r.html", xlsx=folder / "r.xlsx")
    return result


def _assert_no_real_ids(text, real_ids, where):
    leaked = set(ID_TOKEN.findall(text)) & real_ids
    assert not leaked, f"{where}: unmasked ID numbers {sorted(leaked)[:3]}"


# --------------------------------------------------------------------------- PDF


def test_pdf_sections_and_page_count(report, project):
    _need("pdfinfo")
    info = _run("pdfinfo", str(report.pdf))
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages == report.pdf_pages
    assert re.search(r"Page size:\s+841\.\d+ x 595\.\d+ pts \(A4\)", info)  # landscape
    text = _run("pdftotext", "-layout", str(report.pdf), "-")
    pages_text = text.split("\f")
    contents = pages_text[1]
    for title in SECTION_TITLES.values():
        assert title in contents, title
    # One atlas page per district, in the contents and in the page headings, in code order.
    districts = project.read("districts").sort_values("district_code")["district"].tolist()
    atlas = [i for i, page in enumerate(pages_text) if "七、分区图集 ·" in page]
    assert len(atlas) == len(districts) == 4
    for index, district in zip(atlas, districts):
        assert f"七、分区图集 · {district}" in pages_text[index]
    assert atlas[-1] == pages - 1  # the atlas closes the report
    assert re.search(r"六、社保核查\s+\d+", contents)  # the planted audit has a page number


def test_pdf_text_has_the_right_figures(report, project):
    _need("pdftotext")
    grids = project.read("grids")
    text = _run("pdftotext", "-layout", str(report.pdf), "-")
    overview = text.split("\f")[2]
    assert "一、城市概况 · 网格分布" in overview
    assert f"{len(grids):,}" in overview and len(grids) == 1421
    assert f"{grids['population'].sum():,}" in overview
    assert f"{grids['community_code'].nunique():,}" in overview
    kpi = text.split("\f")[3]
    for district, rows in grids.groupby("district"):
        line = next(line for line in kpi.splitlines() if line.strip().startswith(district))
        assert f"{len(rows):,}" in line and f"{rows['elderly_60'].sum():,}" in line, line
    for heading in ("需求指数", "需求热力图与集中区", "需求类型", "服务缺口", "分区覆盖率", "新增站点", "设施负荷",
                    "社区服务组合", "养老金领取与死亡记录比对"):
        assert heading in text, heading
    assert "合成演示数据" in text.split("\f")[0]


def test_pdf_pages_are_not_blank_and_fonts_embedded(report, tmp_path):
    _need("pdftoppm")
    _run("pdftoppm", "-r", "40", "-f", "1", "-l", "4", "-png", str(report.pdf), str(tmp_path / "page"))
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == 4
    for image in images:
        pixels = np.asarray(Image.open(image).convert("L"), dtype=float)
        assert (pixels < 230).mean() > 0.02, f"{image.name} is (nearly) blank"
        assert pixels.std() > 15
    fonts = _run("pdffonts", str(report.pdf)).splitlines()[2:]
    assert fonts and any("GridMapSansSC" in line for line in fonts)
    for line in fonts:
        assert line.split()[-5] == "yes", f"font not embedded: {line}"


def test_pdf_has_no_personal_data(report, real_ids):
    _need("pdftotext")
    text = _run("pdftotext", str(report.pdf), "-")
    _assert_no_real_ids(text, real_ids, "PDF")
    assert not ID_TOKEN.search(text)


def test_district_report_without_analyses_says_what_is_missing(project, tmp_path):
    _need("pdftotext")
    content = gather_content(project, district="西陵区", atlas_by="subdistrict", compute=False)
    written = write_pdf(content, tmp_path / "xiling.pdf", paper="a3")
    grids = project.read("grids", columns=["district", "subdistrict_code"])
    subdistricts = grids.loc[grids["district"] == "西陵区", "subdistrict_code"].nunique()
    assert sum(1 for section, _ in written.pages if section == SECTION_TITLES["atlas"]) == subdistricts
    assert written.page_count == len(written.pages)
    missing = {title: note for title, first, note, _ in written.sections if first is None}
    assert set(missing) == {SECTION_TITLES[k] for k in ("demand", "coverage", "plan")}
    info = _run("pdfinfo", str(written.path))
    assert re.search(r"Page size:\s+1190\.\d+ x 841\.\d+ pts \(A3\)", info)
    text = _run("pdftotext", "-layout", str(written.path), "-")
    assert "不可用" in text.split("\f")[1]
    for page in text.split("\f")[:-1]:
        assert len(page.strip()) > 40  # every page has content


# --------------------------------------------------------------------------- HTML


_CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


def _chromium():
    for name in _CHROMIUM:
        if shutil.which(name):
            return name
    pytest.skip("no headless Chromium (apt-get install chromium)")


def _browse(html_path, tmp_path, *extra):
    """Run headless Chromium with networking disabled (proxy to a closed port, no DNS)."""
    args = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
            f"--user-data-dir={tmp_path / 'profile'}", "--proxy-server=http://127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=8000", *extra,
            Path(html_path).resolve().as_uri()]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def test_html_is_self_contained(report, real_ids):
    text = report.html.read_text(encoding="utf-8")
    assert offline_problems(text) == []
    assert not re.search(r"<(script|link)[^>]+(src|href)=", text)  # nothing external at all
    assert 't.version="1.9.4"' in text  # Leaflet inlined
    assert "L.tileLayer" in text  # the online basemap is offered ...
    assert not re.search(r"tile_layer_\w+\.addTo\(", text)  # ... but not switched on
    _assert_no_real_ids(text, real_ids, "HTML")


def test_html_map_draws_offline_with_popups(report, project, tmp_path):
    probe = tmp_path / "probe.html"
    # Open the popup of the first grid once the page has loaded, to check it is built.
    script = """<script>window.addEventListener('load', function () {
      for (var key in window) { if (key.indexOf('geo_json_') === 0 && window[key] && window[key].eachLayer) {
        var done = false; window[key].eachLayer(function (layer) {
          if (!done && layer.feature && layer.feature.properties.n !== undefined) { layer.openPopup(); done = true; }
        }); if (done) break; } } });</script></body>"""
    probe.write_text(report.html.read_text(encoding="utf-8").replace("</body>", script), encoding="utf-8")
    run = _browse(probe, tmp_path, "--dump-dom")
    dom = run.stdout
    assert "leaflet-map-pane" in dom and "leaflet-overlay-pane" in dom, run.stderr[-2000:]
    assert dom.count("<path") >= 2 * 1421  # grids and the demand choropleth as SVG paths
    assert "leaflet-control-layers" in dom and "gm-legend" in dom
    popup = dom[dom.index('<div class="leaflet-popup-content"'):][:3000]
    first = project.read("grids").iloc[0]
    assert first["grid_name"] in popup and "推荐服务组合" in popup and "常住人口" in popup
    assert f"{int(first['population']):,}" in popup


def test_html_screenshot_is_not_blank(report, tmp_path):
    shot = tmp_path / "map.png"
    run = _browse(report.html, tmp_path, f"--screenshot={shot}", "--window-size=1200,800")
    assert shot.exists(), run.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=int)
    colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
    background = np.all(np.abs(pixels - np.array([238, 242, 245])) < 6, axis=-1)  # .leaflet-container
    assert colours > 200 and (~background).mean() > 0.1


# --------------------------------------------------------------------------- Excel


def test_workbook_sheets_headers_and_formats(report, project):
    from openpyxl import load_workbook

    book = load_workbook(report.xlsx, read_only=False)
    names = book.sheetnames
    assert names[: len(SHEETS)] == list(SHEETS)
    assert any(name.startswith("审计_") for name in names[len(SHEETS):])
    grid = book["网格明细"]
    assert grid.freeze_panes == "C2"
    assert grid.max_row - 1 == project.count("grids") == 1421
    headers = [cell.value for cell in grid[1]]
    assert headers[:5] == ["网格编码", "网格名称", "社区", "街道", "区"]
    assert grid.cell(row=2, column=headers.index("常住人口") + 1).number_format == "#,##0"
    assert grid.cell(row=2, column=headers.index("老龄化率") + 1).number_format == "0.0%"
    district = book["区汇总"]
    values = {row[1]: row for row in district.iter_rows(min_row=2, values_only=True)}
    assert values["合计"][2] == 1421
    for sheet in book.worksheets:
        assert sheet.freeze_panes in ("A2", "C2"), sheet.title
        assert sheet.max_row >= 2, f"{sheet.title} is empty"


def test_workbook_masks_names_and_ids(report, project, real_ids):
    from openpyxl import load_workbook

    book = load_workbook(report.xlsx, read_only=True)
    real_names = set(project.read("residents", columns=["name"])["name"].dropna().astype(str))
    for sheet in book.worksheets:
        text = "\n".join(str(v) for row in sheet.iter_rows(values_only=True) for v in row if v is not None)
        _assert_no_real_ids(text, real_ids, sheet.title)
    audit = next(book[n] for n in book.sheetnames if n.startswith("审计_"))
    rows = list(audit.iter_rows(values_only=True))
    header = rows[0]
    names = [r[header.index("姓名（脱敏）")] for r in rows[1:]]
    ids = [r[header.index("身份证号（脱敏）")] for r in rows[1:]]
    assert len(names) == 40 and all(re.fullmatch(r"\S{1,2}\*+", n) for n in names)
    assert all(re.fullmatch(r"\d{6}\*{8}[\dX]{4}", i) for i in ids)
    assert not (set(names) & {n for n in real_names if len(n) > 1 and "*" not in n})
    evidence = [r[header.index("核查依据")] for r in rows[1:]]
    assert all("********" in e for e in evidence)
    review = book["地址核查"]
    rows = list(review.iter_rows(values_only=True))
    if len(rows) > 1 and "身份证号（脱敏）" in rows[0]:
        column = rows[0].index("身份证号（脱敏）")
        assert all("*" in str(r[column]) for r in rows[1:] if r[column])


# --------------------------------------------------------------------------- command


def test_report_command_writes_the_workbook(project, tmp_path, capsys):
    out = tmp_path / "only.xlsx"
    assert main(["report", str(project.path), "--xlsx", str(out), "--no-compute", "--quiet",
                 "--district", "点军区"]) == 0
    printed = capsys.readouterr().out
    assert "Excel" in printed and "不可用" in printed
    from openpyxl import load_workbook

    book = load_workbook(out, read_only=True)
    assert book.sheetnames[: len(SHEETS)] == list(SHEETS)
    assert main(["report", str(project.path), "--district", "江汉区", "--xlsx", str(out), "--quiet"]) == 2
    assert "江汉区" in capsys.readouterr().err


def test_grids_only_project_still_gets_every_output(demo_project, tmp_path):
    """A project with nothing but grids (no counts, residents or facilities): no crash, no empty page."""
    columns = ["grid_code", "grid_name", "community_code", "community", "subdistrict_code", "subdistrict",
               "district_code", "district"]
    grids = Project(demo_project).read("grids", columns=columns)
    project = Project.create(tmp_path / "bare.gpkg", {"grids": grids}, meta={"name": "bare"})
    result = build_report(project, pdf=tmp_path / "b.pdf", html=tmp_path / "b.html", xlsx=tmp_path / "b.xlsx")
    assert result.computed == []
    assert set(result.notes) == {"demand", "clusters", "heatmap", "coverage", "plan", "audit"}
    assert result.pdf_pages == 2 + 1 + 2 + 4  # cover, contents, overview, KPI (districts, sub-districts), atlas
    assert result.sheets["网格明细"] == 1421 and result.sheets["设施负荷"] == 1  # a one-line note
    if shutil.which("pdftotext"):
        pages = _run("pdftotext", "-layout", str(result.pdf), "-").split("\f")[:-1]
        assert all(len(page.strip()) > 40 for page in pages)
        assert pages[1].count("不可用（见数据与方法说明）") == 3  # demand, coverage, plan in the contents
