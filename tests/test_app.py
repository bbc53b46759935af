"""The desktop window driven offscreen with pytest-qt: real clicks, keys and widgets."""

import subprocess
import sys
import time

import numpy as np
import pytest
import shapely
from PyQt5.QtCore import QPoint, Qt
from PyQt5.QtGui import QImage

from gridmap.app.main import make_application
from gridmap.app.window import MainWindow
from gridmap.project import Project

pytestmark = pytest.mark.gui


def _open_window(qtbot, path):
    make_application()
    win = MainWindow(path)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


@pytest.fixture
def window(qtbot, demo_project):
    """The window on the shared read-only demo."""
    return _open_window(qtbot, demo_project)


def _screen_point(win, row):
    """Viewport position of a point inside grid ``row``."""
    geom = win.metric["grids"][row]
    inside = shapely.point_on_surface(geom)
    return win.canvas.mapFromScene(inside.x, -inside.y)


def test_window_draws_every_grid_and_lists_layers(window):
    assert len(window.canvas.layers["grids"].items) == 1421
    labels = [window.layer_list.item(i).text() for i in range(window.layer_list.count())]
    assert any(label.startswith("网格") and "1,421" in label for label in labels)
    assert "合成演示数据" in window.windowTitle()


def test_unticking_a_layer_hides_it(window, qtbot):
    item = next(window.layer_list.item(i) for i in range(window.layer_list.count())
                if window.layer_list.item(i).data(Qt.UserRole) == "grids")
    rect = window.layer_list.visualItemRect(item)
    qtbot.mouseClick(window.layer_list.viewport(), Qt.LeftButton, pos=QPoint(rect.left() + 10, rect.center().y()))
    assert item.checkState() == Qt.Unchecked
    assert not window.canvas.layers["grids"].group.isVisible()


def test_click_selects_a_grid_and_syncs_table_and_identify(window, qtbot):
    window.canvas.zoom_to(window.metric["grids"][[100]], margin=2.0)
    qtbot.keyClick(window.canvas, Qt.Key_S)  # select tool shortcut goes through the action
    window.actions["tool_select"].trigger()
    qtbot.mouseClick(window.canvas.viewport(), Qt.LeftButton, pos=_screen_point(window, 100))
    assert window.selection == [100]
    code = window.frames["grids"]["grid_code"].iloc[100]
    selected = window.table.view.selectionModel().selectedRows()
    assert len(selected) == 1
    assert window.table.proxy.mapToSource(selected[0]).row() == 100
    values = [window.identify.item(r, 1).text() for r in range(window.identify.rowCount())]
    assert code in values


def test_table_selection_highlights_the_map(window, qtbot):
    window.table.filter.setText(window.frames["grids"]["grid_code"].iloc[7])
    proxy_index = window.table.proxy.index(0, 0)
    rect = window.table.view.visualRect(proxy_index)
    qtbot.mouseClick(window.table.view.viewport(), Qt.LeftButton, pos=rect.center())
    assert window.selection == [7]
    assert window.canvas.layers["grids"].selected[7]


def test_box_select_and_attribute_query(window, qtbot):
    window.actions["tool_select"].trigger()
    view = window.canvas.viewport()
    qtbot.mousePress(view, Qt.LeftButton, pos=QPoint(300, 250))
    qtbot.mouseMove(view, QPoint(420, 360))
    qtbot.mouseRelease(view, Qt.LeftButton, pos=QPoint(420, 360))
    assert len(window.selection) > 1
    window.query_box.setText("population > 20")
    qtbot.keyClick(window.query_box, Qt.Key_Return)
    expected = np.flatnonzero(window.frames["grids"]["population"].to_numpy() > 20).tolist()
    assert window.selection == expected


def test_search_by_code_and_by_address(window, qtbot, demo_project):
    grids = window.frames["grids"]
    qtbot.keyClicks(window.search_box, grids["grid_code"].iloc[42])
    qtbot.keyClick(window.search_box, Qt.Key_Return)
    assert window.selection == [42]
    address = Project(demo_project).read("addresses").iloc[10]
    assert window.search(address["standard_address"]) == grids.index[grids["grid_code"] == address["grid_code"]].tolist()


def test_graduated_style_changes_colours_and_legend(window):
    window.layer_list.setCurrentRow(next(i for i in range(window.layer_list.count())
                                         if window.layer_list.item(i).data(Qt.UserRole) == "grids"))
    window.style_kind.setCurrentIndex(window.style_kind.findData("graduated"))
    window.style_field.setCurrentIndex(window.style_field.findData("population"))
    brushes = {item.brush().color().name() for item in window.canvas.layers["grids"].items}
    assert 2 < len(brushes) <= 6
    assert "人口" in window.legend.text()


def test_workspaces_and_dashboard(window):
    window.set_workspace("leader")
    assert window.workspace_box.currentText() == "领导"
    total = window.kpi.loc["全市", "population"]
    assert total == window.frames["grids"]["population"].sum()
    window.set_workspace("care")
    assert window.styles["grids"].field == "elderly_60"


def test_switch_language_keeps_project_and_workspace(window, qtbot):
    window.set_workspace("care")
    english = window.switch_language()
    qtbot.addWidget(english)
    assert english.language == "en"
    assert english.workspace == "care"
    assert english.actions["open"].text() == "Open project…"
    assert len(english.canvas.layers["grids"].items) == 1421


def test_mouse_move_reports_coordinates(window, qtbot):
    qtbot.mouseMove(window.canvas.viewport(), QPoint(400, 300))
    assert "CGCS2000" in window.coords.text()
    lon = float(window.coords.text().split()[1])
    assert 111.0 < lon < 111.7
    window.actions["show_gcj02"].trigger()
    qtbot.mouseMove(window.canvas.viewport(), QPoint(401, 300))
    assert "GCJ-02" in window.coords.text()
    assert float(window.coords.text().split()[1]) != pytest.approx(lon, abs=1e-4)


def test_long_task_runs_off_the_gui_thread_and_can_be_cancelled(window, qtbot):
    def slow(progress=None, cancelled=None):
        for i in range(200):
            progress(i / 200, "working")
            time.sleep(0.01)
        return "done"

    results = []
    task = window.run_task(slow, on_done=results.append)
    assert window.progress.isVisible()
    qtbot.waitUntil(lambda: window.progress.value() > 0, timeout=5000)
    qtbot.mouseClick(window.cancel_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not window.tasks, timeout=5000)
    assert results == [] and not task.is_running()
    task = window.run_task(lambda: 41 + 1, on_done=results.append)
    qtbot.waitUntil(lambda: results == [42], timeout=5000)


def test_export_png(window, tmp_path):
    out = window.export_png(tmp_path / "map.png")
    assert QImage(str(out)).width() > 300


def test_label_thinning_never_overlaps(window):
    window.canvas.zoom_to(window.metric["grids"][:30], margin=0.1)
    window.canvas._place_labels()
    shown = [label for label in window.canvas.layers["grids"].labels if label.isVisible()]
    assert shown
    boxes = [label.sceneBoundingRect() for label in shown]
    mapped = [window.canvas.mapFromScene(b).boundingRect() for b in boxes]
    assert not any(a.intersects(b) for i, a in enumerate(mapped) for b in mapped[i + 1:])


@pytest.mark.parametrize("workspace", ["planner", "care", "leader"])
def test_screenshot_command_writes_a_drawn_png(demo_project, tmp_path, workspace):
    out = tmp_path / f"{workspace}.png"
    result = subprocess.run([sys.executable, "-m", "gridmap.cli", "app", str(demo_project), "--offscreen",
                             "--screenshot", str(out), "--workspace", workspace],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    image = QImage(str(out)).convertToFormat(QImage.Format_RGB32)
    ptr = image.constBits()
    ptr.setsize(image.height() * image.width() * 4)
    pixels = np.frombuffer(ptr, np.uint8).reshape(-1, 4)[:, :3]
    assert len(np.unique(pixels, axis=0)) > 50


@pytest.fixture
def editable(qtbot, project_copy):
    """The window on a private copy that edits may change."""
    return _open_window(qtbot, project_copy)


def _largest_grid(win):
    return int(np.argmax(shapely.area(win.metric["grids"])))


def _no_dialogs(monkeypatch, sink):
    from PyQt5.QtWidgets import QMessageBox

    monkeypatch.setattr(QMessageBox, "warning", lambda *args: sink.append(args[-1]))


def test_split_by_drawing_a_line_then_undo(editable, qtbot, monkeypatch, project_copy):
    messages = []
    _no_dialogs(monkeypatch, messages)
    win = editable
    row = _largest_grid(win)
    code = win.frames["grids"]["grid_code"].iloc[row]
    population = int(win.frames["grids"]["population"].iloc[row])
    geom = win.metric["grids"][row]
    win.canvas.zoom_to([geom], margin=0.3)
    win.actions["tool_select"].trigger()
    qtbot.mouseClick(win.canvas.viewport(), Qt.LeftButton, pos=_screen_point(win, row))
    assert win.selection == [row]
    # Draw a line across the grid through its centre, with real clicks, and finish with a double click.
    minx, miny, maxx, maxy = geom.bounds
    cy = shapely.point_on_surface(geom).y
    start = win.canvas.mapFromScene(minx - 50, -cy)
    end = win.canvas.mapFromScene(maxx + 50, -cy)
    win.actions["tool_line"].trigger()
    qtbot.mouseClick(win.canvas.viewport(), Qt.LeftButton, pos=start)
    qtbot.mouseDClick(win.canvas.viewport(), Qt.LeftButton, pos=end)
    assert not messages, messages
    grids = win.frames["grids"]
    assert code in set(grids["grid_code"])  # the first piece keeps the code
    assert len(grids) == 1422
    selected = grids.iloc[win.selection]
    assert len(selected) == 2 and selected["population"].sum() == population
    # The attribute table shows the new grids with counts recomputed from the residents.
    residents = Project(project_copy).read("residents", columns=["grid_code"])
    for new_code, pop in zip(selected["grid_code"], selected["population"]):
        assert (residents["grid_code"] == new_code).sum() == pop
    assert win.table.model.rowCount() == 1422
    history = win.workspace_panels["planner"].history
    qtbot.waitUntil(lambda: history.count() == 1)  # the history and topology refresh right after the edit
    assert "split" in history.item(0).text()
    qtbot.keyClick(win, Qt.Key_Z, Qt.ControlModifier)
    assert len(win.frames["grids"]) == 1421
    assert int(win.frames["grids"].set_index("grid_code").loc[code, "population"]) == population
    qtbot.waitUntil(lambda: "通过" in win.workspace_panels["planner"].topology.text())


def test_merge_two_neighbours_and_refusal(editable, qtbot, monkeypatch):
    messages = []
    _no_dialogs(monkeypatch, messages)
    win = editable
    grids = win.frames["grids"]
    first = grids.iloc[0]
    neighbour = grids[(grids["community_code"] == first["community_code"]) &
                      grids.geometry.touches(first.geometry)].index[0]
    rows = [0, int(np.flatnonzero(grids.index == neighbour)[0])]
    total = int(grids["population"].iloc[rows].sum())
    win.set_selection(rows)
    win.workspace_panels["planner"].merge_button.click()
    assert not messages
    assert len(win.frames["grids"]) == 1420
    assert int(win.frames["grids"]["population"].iloc[win.selection].sum()) == total
    # Two grids far apart are refused with a one-line reason, and nothing changes.
    far = [0, len(win.frames["grids"]) - 1]
    win.set_selection(far)
    win.workspace_panels["planner"].merge_button.click()
    assert messages and "different communities" in str(messages[-1])
    assert len(win.frames["grids"]) == 1420


def test_care_allocation_shows_sites_and_lines(editable, qtbot):
    win = editable
    win.set_workspace("care")
    panel = win.workspace_panels["care"]
    panel.new_sites.setValue(2)
    qtbot.mouseClick(panel.allocate_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.plan_result is not None, timeout=60_000)
    assert "recommended_sites" in win.canvas.layers and "allocation_lines" in win.canvas.layers
    sites = panel.plan_result.sites
    assert sites["is_new"].sum() == 2
    assert len(win.canvas.layers["recommended_sites"].items) == len(sites)
    assert "→" in panel.plan_text.text()


def test_care_heatmap_toggle_and_masked_elderly_list(editable, qtbot):
    win = editable
    win.set_workspace("care")
    panel = win.workspace_panels["care"]
    panel.heatmap_box.setChecked(True)
    qtbot.waitUntil(lambda: "heatmap" in win.canvas.layers, timeout=60_000)
    grids = win.frames["grids"]
    row = int(np.argmax(grids["elderly_60"].to_numpy()))
    win.set_selection([row])
    assert panel.elderly.rowCount() == int(grids["elderly_60"].iloc[row])
    ids = [panel.elderly.item(r, 1).text() for r in range(panel.elderly.rowCount())]
    assert all(len(i) == 18 and i[6:14] == "********" for i in ids)


def test_import_wizard_preview_and_review_queue(editable, qtbot, demo_dir, tmp_path):
    import pandas as pd

    from gridmap.app.importer import ImportDialog

    win = editable
    registry = pd.read_csv(demo_dir / "residents.csv", dtype=str).head(30)
    registry.loc[0:2, "居住地址"] = ["不知道在哪里", "随便写写", "某某地方"]
    registry.loc[0:2, ["经度", "纬度"]] = ""
    registry["人员编号"] = "N" + registry["人员编号"]  # new people, not already in the project
    csv = tmp_path / "new.csv"
    registry.to_csv(csv, index=False, encoding="gbk")
    dialog = ImportDialog(win.tr_, win)
    qtbot.addWidget(dialog)
    dialog.path.setText(str(csv))
    dialog.refresh_preview()
    headers = [dialog.preview.horizontalHeaderItem(c).text() for c in range(dialog.preview.columnCount())]
    assert "CGCS2000 经度" in headers and dialog.address_col.currentText() == "居住地址"
    options = dialog.options()
    assert options["kind"] == "residents" and options["crs"] == "gcj02"
    population = int(win.frames["grids"]["population"].sum())
    win.run_import(**options)
    qtbot.waitUntil(lambda: not win.tasks, timeout=60_000)
    queue = win.review_queue
    records = [queue.table.item(r, 1).text() for r in range(queue.table.rowCount())]
    new_unplaced = [r for r in records if r.startswith("N")]
    assert set(registry.loc[0:2, "人员编号"]) <= set(new_unplaced)
    assert int(win.frames["grids"]["population"].sum()) == population + 30 - len(new_unplaced)
    population = int(win.frames["grids"]["population"].sum())
    row = records.index(registry.loc[0, "人员编号"])
    assert queue.table.item(row, 2).text().endswith("*")  # masked name
    # Place it by clicking the map, then apply.
    queue.table.setCurrentCell(row, 0)
    queue.pick_button.click()
    target = _screen_point(win, 5)
    qtbot.mouseClick(win.canvas.viewport(), Qt.LeftButton, pos=target)
    assert queue.table.item(row, 7).text() != ""
    queue.apply_button.click()
    qtbot.waitUntil(lambda: not win.tasks, timeout=60_000)
    assert int(win.frames["grids"]["population"].sum()) == population + 1
    assert int(win.frames["grids"]["population"].iloc[5]) >= 1


@pytest.fixture(autouse=True)
def _dialogs_do_not_block(monkeypatch):
    """A modal message box would wait for a click forever offscreen: record it instead."""
    from PyQt5.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: shown.append(args[-1]))
    return shown


def test_leader_exports_a_report(editable, qtbot, tmp_path):
    win = editable
    win.set_workspace("leader")
    out = tmp_path / "report.xlsx"
    win.export_report(out)
    qtbot.waitUntil(lambda: not win.tasks, timeout=120_000)
    assert out.exists() and out.stat().st_size > 10_000


def test_reshape_a_shared_boundary_with_snapped_clicks(editable, qtbot, _dialogs_do_not_block):
    """Draw a new course for a shared boundary: clicks snap onto the boundary's ends."""
    win = editable
    grids = win.frames["grids"]
    metric = win.metric["grids"]
    # Two neighbours in one community and the line they share.
    a = 0
    b = next(i for i in range(1, len(grids)) if grids["community_code"].iloc[i] == grids["community_code"].iloc[0]
             and shapely.length(shapely.intersection(metric[a].boundary, metric[i].boundary)) > 100)
    shared = shapely.line_merge(shapely.intersection(metric[a].boundary, metric[b].boundary))
    shared = max(shapely.get_parts(shared), key=shapely.length)
    start, end = shared.coords[0], shared.coords[-1]
    middle = shared.interpolate(0.5, normalized=True)
    towards_b = shapely.point_on_surface(metric[b])
    bend = (middle.x + 0.3 * (towards_b.x - middle.x), middle.y + 0.3 * (towards_b.y - middle.y))
    win.canvas.zoom_to([metric[a], metric[b]], margin=0.2)
    panel = win.workspace_panels["planner"]
    panel.line_use.setCurrentIndex(panel.line_use.findData("reshape"))
    win.actions["tool_line"].trigger()
    view = win.canvas.viewport()
    nudge = QPoint(3, -2)  # a few pixels off: snapping puts the ends on the boundary
    qtbot.mouseClick(view, Qt.LeftButton, pos=win.canvas.mapFromScene(start[0], -start[1]) + nudge)
    qtbot.mouseClick(view, Qt.LeftButton, pos=win.canvas.mapFromScene(*bend[:1], -bend[1]))
    end_pos = win.canvas.mapFromScene(end[0], -end[1]) + nudge
    qtbot.mouseClick(view, Qt.LeftButton, pos=end_pos)
    qtbot.mouseDClick(view, Qt.LeftButton, pos=end_pos)
    assert not _dialogs_do_not_block, _dialogs_do_not_block
    after = win.metric["grids"]
    codes = win.frames["grids"]["grid_code"]
    new_a = after[int(np.flatnonzero(codes == grids["grid_code"].iloc[a])[0])]
    assert shapely.area(new_a) > shapely.area(metric[a])  # a gained the area between old and new boundary


def test_findings_tab_lists_masked_cases_and_records_decisions(editable, qtbot, demo_dir, project_copy):
    from gridmap.audit.findings import read_findings
    from gridmap.cli import main

    assert main(["audit", "pension", str(project_copy), "--records", str(demo_dir)]) == 0
    win = editable
    win.findings.load()
    table = win.findings.table
    assert table.rowCount() == len(read_findings(project_copy, "pension").query("active"))
    assert table.rowCount() > 0
    names = [table.item(r, 2).text() for r in range(table.rowCount())]
    assert all("*" in name for name in names)
    table.selectRow(0)
    qtbot.mouseClick(table.viewport(), Qt.LeftButton, pos=table.visualItemRect(table.item(0, 0)).center())
    assert len(win.selection) == 1
    win.findings.status.setCurrentIndex(win.findings.status.findData("verified"))
    assert win.findings.decide() == 1
    stored = read_findings(project_copy, "pension").set_index("finding_id")
    assert stored.loc[win.findings.frame["finding_id"].iloc[0], "status"] == "verified"


def test_keys_zoom_and_pan_the_map(window, qtbot):
    canvas = window.canvas
    canvas.setFocus()
    before = canvas.metres_per_pixel()
    qtbot.keyClick(canvas, Qt.Key_Plus)
    assert canvas.metres_per_pixel() == pytest.approx(before / 1.25)
    qtbot.keyClick(canvas, Qt.Key_Minus)
    assert canvas.metres_per_pixel() == pytest.approx(before)
    qtbot.keyClick(canvas, Qt.Key_Plus)
    centre = canvas.mapToScene(canvas.viewport().rect().center())
    qtbot.keyClick(canvas, Qt.Key_Right)
    assert canvas.mapToScene(canvas.viewport().rect().center()).x() > centre.x()
