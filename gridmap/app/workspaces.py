"""The three workspaces' side panels: planner (grid edits), care officer, leadership.

Each panel holds widgets and forwards to library calls; the window redraws from the
project afterwards. Edits go through :class:`gridmap.grids.edit.GridEditor`, analyses
through :mod:`gridmap.care`, reports through :mod:`gridmap.report` when present.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QBrush, QColor, QPen
from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGraphicsEllipseItem,
    QGraphicsItemGroup,
    QGraphicsPathItem,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gridmap.care.coverage import CARE_KINDS
from gridmap.crs import METRIC_CRS
from gridmap.errors import GridMapError
from gridmap.idnumber import mask_id, mask_name
from gridmap.schema import FACILITY_KIND_LABELS

__all__ = ["CarePanel", "PlannerPanel"]

# Day care first: the kind most often planned.
_CARE_KINDS = ("day_care", *(kind for kind in CARE_KINDS if kind != "day_care"))


def _warn(window, error):
    QMessageBox.warning(window, window.tr_("task_failed"), str(error))


class _Panel(QWidget):
    """A workspace panel: a line of help, the project summary, then the panel's own tools."""

    help_key = ""

    def __init__(self, window):
        super().__init__()
        self.window = window
        self.layout_ = QVBoxLayout(self)
        help_text = QLabel(window.tr_(self.help_key))
        help_text.setWordWrap(True)
        self.layout_.addWidget(help_text)
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.RichText)
        self.layout_.addWidget(self.summary)


class PlannerPanel(_Panel):
    """Split, merge, balance, undo/redo and the edit history, through the grid editing engine."""

    help_key = "planner_help"

    def __init__(self, window):
        super().__init__(window)
        tr = window.tr_
        layout = self.layout_
        row = QHBoxLayout()
        self.merge_button = QPushButton(tr("merge"))
        self.merge_button.clicked.connect(self.merge)
        row.addWidget(self.merge_button)
        self.parts = QSpinBox(minimum=2, maximum=12, value=2)
        self.split_button = QPushButton(tr("split_parts"))
        self.split_button.clicked.connect(self.split_parts)
        row.addWidget(self.parts)
        row.addWidget(self.split_button)
        layout.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel(tr("line_use")))
        self.line_use = QComboBox()
        for use in ("split", "reshape", "draw"):
            self.line_use.addItem(tr(f"line_{use}"), use)
        row.addWidget(self.line_use, 1)
        layout.addLayout(row)
        row = QHBoxLayout()
        self.undo_button = QPushButton(tr("undo"))
        self.undo_button.clicked.connect(self.undo)
        self.redo_button = QPushButton(tr("redo"))
        self.redo_button.clicked.connect(self.redo)
        row.addWidget(self.undo_button)
        row.addWidget(self.redo_button)
        layout.addLayout(row)
        form = QFormLayout()
        self.balance_k = QSpinBox(minimum=0, maximum=40, value=0, specialValueText=tr("auto"))
        self.target_low = QSpinBox(minimum=1, maximum=5000, value=300)
        self.target_high = QSpinBox(minimum=1, maximum=5000, value=500)
        form.addRow(tr("balance_k"), self.balance_k)
        form.addRow(tr("target_range"), self._pair(self.target_low, self.target_high))
        layout.addLayout(form)
        row = QHBoxLayout()
        self.balance_button = QPushButton(tr("balance"))
        self.balance_button.clicked.connect(self.propose_balance)
        self.accept_button = QPushButton(tr("accept"))
        self.accept_button.clicked.connect(self.accept_balance)
        self.reject_button = QPushButton(tr("reject"))
        self.reject_button.clicked.connect(self.reject_balance)
        for button in (self.balance_button, self.accept_button, self.reject_button):
            row.addWidget(button)
        self.accept_button.setEnabled(False)
        self.reject_button.setEnabled(False)
        layout.addLayout(row)
        self.balance_report = QLabel()
        self.balance_report.setWordWrap(True)
        self.balance_report.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout.addWidget(self.balance_report)
        self.topology = QLabel()
        layout.addWidget(self.topology)
        layout.addWidget(QLabel(f"<b>{tr('history')}</b>"))
        self.history = QListWidget()
        layout.addWidget(self.history, 1)
        self.proposal = None
        self._preview = None

    @staticmethod
    def _pair(a, b):
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(a)
        row.addWidget(QLabel("–"))
        row.addWidget(b)
        return box

    @property
    def editor(self):
        from gridmap.grids.edit import GridEditor

        return GridEditor(self.window.project.path, user="GridMap")

    def _selected_codes(self):
        grids = self.window.frames["grids"]
        return grids["grid_code"].iloc[self.window.selection].tolist()

    def _run(self, operation):
        """Run one edit; a refusal is shown and nothing changes."""
        before = set(self._selected_codes())
        try:
            result = operation()
        except GridMapError as exc:
            _warn(self.window, exc)
            return None
        # Keep the edited grids selected: the new ones and those that kept their code.
        self.window.reload_grids(select=set(result.added) | (set(result.changed) & before))
        self.window.statusBar().showMessage(result.summary, 8000)
        return result

    def merge(self):
        codes = self._selected_codes()
        if len(codes) < 2:
            return _warn(self.window, self.window.tr_("select_two"))
        return self._run(lambda: self.editor.merge(codes))

    def split_parts(self):
        codes = self._selected_codes()
        if len(codes) != 1:
            return _warn(self.window, self.window.tr_("select_one"))
        return self._run(lambda: self.editor.split_parts(codes[0], self.parts.value()))

    def split_line(self, coords):
        """Use a line drawn on the map (metric coordinates) as the line tool is set to:
        split the selected grid, move a shared boundary (reshape), or draw a new grid
        (the line's vertices, closed, as its outline)."""
        import shapely

        use = self.line_use.currentData()
        if use == "reshape":
            return self._run(lambda: self.editor.reshape(shapely.LineString(coords), crs=METRIC_CRS))
        if use == "draw":
            if len(coords) < 3:
                return _warn(self.window, self.window.tr_("draw_needs_three"))
            return self._run(lambda: self.editor.draw(shapely.Polygon(coords), crs=METRIC_CRS))
        codes = self._selected_codes()
        if len(codes) != 1:
            return _warn(self.window, self.window.tr_("select_one"))
        return self._run(lambda: self.editor.split(codes[0], shapely.LineString(coords), crs=METRIC_CRS))

    def undo(self):
        return self._run(lambda: self.editor.undo())

    def redo(self):
        return self._run(lambda: self.editor.redo())

    def propose_balance(self):
        codes = self._selected_codes()
        if not codes:
            return _warn(self.window, self.window.tr_("select_one"))
        community = self.window.frames["grids"].set_index("grid_code").loc[codes[0], "community_code"]
        k = self.balance_k.value() or None
        target = (self.target_low.value(), self.target_high.value())
        editor = self.editor
        self.window.run_task(editor.propose_balance, community, k=k, target=target, on_done=self._show_proposal)

    def _show_proposal(self, proposal):
        self.proposal = proposal
        self.balance_report.setText("\n".join(proposal.report()))
        self._clear_preview()
        canvas = self.window.canvas
        group = QGraphicsItemGroup()
        pen = QPen(QColor("#d7301f"), 2.5, Qt.DashLine)
        pen.setCosmetic(True)
        from gridmap.app.canvas import polygon_path

        metric = self.editor.metric(proposal.geometries)
        for geom in metric:
            item = QGraphicsPathItem(polygon_path(geom))
            item.setPen(pen)
            item.setBrush(QBrush(QColor(215, 48, 31, 30)))
            group.addToGroup(item)
        group.setZValue(60)
        canvas.scene().addItem(group)
        self._preview = group
        canvas.zoom_to(metric)
        self.accept_button.setEnabled(True)
        self.reject_button.setEnabled(True)

    def _clear_preview(self):
        if self._preview is not None and self._preview.scene() is not None:
            self._preview.scene().removeItem(self._preview)
        self._preview = None

    def accept_balance(self):
        if self.proposal is None:
            return None
        proposal, self.proposal = self.proposal, None
        self._clear_preview()
        self.accept_button.setEnabled(False)
        self.reject_button.setEnabled(False)
        return self._run(lambda: self.editor.apply_balance(proposal))

    def reject_balance(self):
        self.proposal = None
        self._clear_preview()
        self.balance_report.setText(self.window.tr_("rejected"))
        self.accept_button.setEnabled(False)
        self.reject_button.setEnabled(False)

    def refresh(self):
        """Reload the history list and the live topology status."""
        from gridmap.grids.editlog import history

        self.history.clear()
        log = history(self.window.project.path)
        for row in log.itertuples():
            mark = "" if row.state == "applied" else "↶ "
            self.history.addItem(f"{mark}#{row.id} {row.time[:19]} {row.summary}")
        self.history.scrollToBottom()
        from gridmap.grids.validate import validate_grids

        grids = self.window.frames["grids"]
        communities = self.window.frames.get("communities")
        report = validate_grids(grids, communities)
        self.topology.setText(self.window.tr_("topology_ok") if report.ok else
                              self.window.tr_("topology_problems", n=len(report.problems)))


class CarePanel(_Panel):
    """Demand, heatmap, need types, coverage circles, under-served grids, allocation, elderly lists."""

    help_key = "care_help"

    def __init__(self, window):
        super().__init__(window)
        tr = window.tr_
        layout = self.layout_
        row = QHBoxLayout()
        self.heatmap_box = QCheckBox(tr("heatmap"))
        self.heatmap_box.toggled.connect(self.toggle_heatmap)
        self.bandwidth = QSlider(Qt.Horizontal, minimum=200, maximum=2000, value=800, singleStep=100)
        self.bandwidth.sliderReleased.connect(lambda: self.toggle_heatmap(True, recompute=True))
        self.bandwidth_label = QLabel("800 m")
        self.bandwidth.valueChanged.connect(lambda v: self.bandwidth_label.setText(f"{v} m"))
        row.addWidget(self.heatmap_box)
        row.addWidget(self.bandwidth)
        row.addWidget(self.bandwidth_label)
        layout.addLayout(row)
        row = QHBoxLayout()
        self.types_button = QPushButton(tr("need_types"))
        self.types_button.clicked.connect(self.show_need_types)
        row.addWidget(self.types_button)
        self.coverage_kind = QComboBox()
        for kind in _CARE_KINDS:
            self.coverage_kind.addItem(FACILITY_KIND_LABELS[kind] if window.language == "zh" else kind, kind)
        self.circles_box = QCheckBox(tr("coverage_circles"))
        self.circles_box.toggled.connect(self.toggle_circles)
        self.coverage_kind.currentIndexChanged.connect(lambda *_: self.toggle_circles(self.circles_box.isChecked()))
        row.addWidget(self.coverage_kind)
        row.addWidget(self.circles_box)
        layout.addLayout(row)
        self.coverage_button = QPushButton(tr("run_coverage"))
        self.coverage_button.clicked.connect(self.run_coverage)
        layout.addWidget(self.coverage_button)
        self.underserved = QListWidget()
        self.underserved.itemClicked.connect(self._select_listed)
        layout.addWidget(self.underserved, 1)
        form = QFormLayout()
        self.kind = QComboBox()
        for kind in _CARE_KINDS[:4]:
            self.kind.addItem(FACILITY_KIND_LABELS[kind] if window.language == "zh" else kind, kind)
        self.model = QComboBox()
        for model, label in (("pmedian", "p-median"), ("mclp", "MCLP"), ("cpmedian", tr("cpmedian"))):
            self.model.addItem(label, model)
        self.new_sites = QSpinBox(minimum=1, maximum=40, value=5)
        self.radius = QDoubleSpinBox(minimum=100, maximum=5000, value=1000, singleStep=100, suffix=" m")
        form.addRow(tr("facility_kind"), self.kind)
        form.addRow(tr("model"), self.model)
        form.addRow(tr("new_sites"), self.new_sites)
        form.addRow(tr("radius"), self.radius)
        layout.addLayout(form)
        self.allocate_button = QPushButton(tr("run_allocation"))
        self.allocate_button.clicked.connect(self.run_allocation)
        layout.addWidget(self.allocate_button)
        self.plan_text = QLabel()
        self.plan_text.setWordWrap(True)
        layout.addWidget(self.plan_text)
        layout.addWidget(QLabel(f"<b>{tr('elderly_list')}</b>"))
        self.elderly = QTableWidget(0, 5)
        self.elderly.verticalHeader().hide()
        self.elderly.setHorizontalHeaderLabels([tr("name"), tr("id_number"), tr("age"), tr("self_care"), tr("living_alone")])
        layout.addWidget(self.elderly, 1)
        self.coverage_result = None
        self.plan_result = None

    # -- heatmap ------------------------------------------------------------------------------
    def toggle_heatmap(self, on, recompute=False):
        canvas = self.window.canvas
        canvas.remove_layer("heatmap")
        if not on:
            return None
        project = self.window.project
        stored = project.meta().get("care_heatmap")
        if stored and not recompute and abs(stored.get("bandwidth", 0) - self.bandwidth.value()) < 1e-6:
            return self._show_heatmap_png(project.path.parent / stored["png"], stored["bounds"])
        from gridmap.care.heatmap import demand_heatmap, save_heatmap

        def compute():
            heat = demand_heatmap(project, bandwidth=float(self.bandwidth.value()))
            paths = save_heatmap(project, heat)
            return paths["png"], list(heat.bounds)

        return self.window.run_task(compute, on_done=lambda result: self._show_heatmap_png(*result))

    def _show_heatmap_png(self, png, bounds):
        from PIL import Image

        rgba = np.asarray(Image.open(png).convert("RGBA"))
        self.window.canvas.remove_layer("heatmap")
        self.window.canvas.add_raster("heatmap", rgba, bounds, z=1.5, opacity=0.8)

    # -- need types, coverage ---------------------------------------------------------------------
    def show_need_types(self):
        from gridmap.app.layers import LayerStyle
        from gridmap.care.clusters import analyse_clusters

        def done(_):
            self.window.reload_grids()
            self.window.apply_style("grids", LayerStyle(kind="categorized", field="care_primary_service",
                                                        labels="grid_name"))

        self.window.run_task(analyse_clusters, self.window.project, write=True, on_done=done)

    def toggle_circles(self, on):
        canvas = self.window.canvas
        canvas.remove_layer("coverage_circles")
        if not on or "facilities" not in self.window.frames:
            return
        kind = self.coverage_kind.currentData()
        facilities = self.window.frames["facilities"]
        metric = self.window.metric["facilities"][(facilities["kind"] == kind).to_numpy()]
        radius = self.radius.value()
        group = QGraphicsItemGroup()
        pen = QPen(QColor("#2171b5"), 1.2)
        pen.setCosmetic(True)
        for point in metric:
            item = QGraphicsEllipseItem(point.x - radius, -point.y - radius, 2 * radius, 2 * radius)
            item.setPen(pen)
            item.setBrush(QColor(33, 113, 181, 35))
            group.addToGroup(item)
        group.setZValue(8)
        canvas.scene().addItem(group)
        from gridmap.app.canvas import _Layer

        canvas.layers["coverage_circles"] = _Layer("coverage_circles", group, [], None)

    def run_coverage(self):
        from gridmap.care.coverage import analyse_coverage

        self.window.run_task(analyse_coverage, self.window.project, write=True, on_done=self._show_coverage)

    def _show_coverage(self, result):
        self.coverage_result = result
        self.underserved.clear()
        top = result.underserved.head(200)
        for row in top.itertuples():
            label = row.kind_label if self.window.language == "zh" else row.kind
            item = QListWidgetItem(f"{row.grid_name} · {label} · {row.distance_m:,.0f} m · {row.unmet_demand:,.1f}")
            item.setData(Qt.UserRole, row.grid_code)
            self.underserved.addItem(item)
        self.window.reload_grids()

    def _select_listed(self, item):
        grids = self.window.frames["grids"]
        rows = np.flatnonzero(grids["grid_code"].to_numpy() == item.data(Qt.UserRole)).tolist()
        self.window.set_selection(rows)
        self.window.zoom_to_selection()

    # -- allocation -------------------------------------------------------------------------------
    def run_allocation(self):
        from gridmap.care.plan import plan_sites, write_plan

        project = self.window.project
        args = (self.kind.currentData(), self.new_sites.value(), self.model.currentData(), self.radius.value())

        def solve(progress=None, cancelled=None):
            result = plan_sites(project, *args, progress=progress, cancelled=cancelled)
            write_plan(project, result)
            return result

        return self.window.run_task(solve, on_done=self.show_plan)

    def show_plan(self, result):
        """Draw assignment lines, existing and recommended sites, and summarise the plan."""
        self.plan_result = result
        canvas = self.window.canvas
        for name in ("allocation_lines", "recommended_sites"):
            canvas.remove_layer(name)
        lines = self.window.project.read("care_allocation_lines").to_crs(METRIC_CRS)
        canvas.add_polygons("allocation_lines", lines.geometry.values, None, outline="#636363", width=0.8, z=7)
        sites = result.sites.to_crs(METRIC_CRS)
        xy = np.column_stack([sites.geometry.x, sites.geometry.y])
        colours = np.where(sites["is_new"], "#de2d26", "#3182bd")
        layer = canvas.add_points("recommended_sites", xy, colours, size_px=11, z=12)
        for item, new in zip(layer.items, sites["is_new"]):
            if new:  # recommended sites: larger, outlined in black
                item.setRect(-8, -8, 16, 16)
                item.setPen(QPen(QColor("#000000"), 1.5))
        self.window._update_legend()
        s = result.summary
        tr = self.window.tr_
        new = result.sites[result.sites["is_new"]]
        listing = "；".join(f"{r.name}（{r.grids_served}）" for r in new.itertuples())
        self.plan_text.setText(tr("plan_summary", model=s["model"], status=s["status"], before=s["covered_share_before"],
                                  after=s["covered_share_after"], radius=s["radius_m"]) + "\n" + listing)

    def show_stored(self):
        """Show the heatmap and the last allocation saved in the project, if any."""
        project = self.window.project
        if project is None:
            return
        if project.meta().get("care_heatmap") and not self.heatmap_box.isChecked():
            self.heatmap_box.setChecked(True)
        if self.plan_result is None and project.has_layer("care_sites") and "care_plan" in project.meta():
            from gridmap.care.plan import PlanResult

            self.show_plan(PlanResult(grids=project.read("care_allocation"), sites=project.read("care_sites"),
                                      summary=project.meta()["care_plan"]))

    # -- elderly list -----------------------------------------------------------------------------
    def show_elderly(self, grid_code):
        """List the selected grid's residents aged 60+, with names and ID numbers masked."""
        self.elderly.setRowCount(0)
        if grid_code is None or not self.window.project.has_layer("residents"):
            return
        columns = ["name", "id_number", "age", "self_care", "living_alone"]
        people = self.window.project.read("residents", columns=columns,
                                          where=f"grid_code = '{grid_code}' AND age >= 60")
        people = pd.DataFrame(people).sort_values("age", ascending=False)
        people["name"] = mask_name(people["name"]).to_numpy()
        people["id_number"] = mask_id(people["id_number"]).to_numpy()
        self.elderly.setRowCount(len(people))
        for r, row in enumerate(people[columns].itertuples(index=False)):
            for c, value in enumerate(row):
                text = ("是" if value else "否") if isinstance(value, (bool, np.bool_)) else str(value)
                self.elderly.setItem(r, c, QTableWidgetItem(text))
        self.elderly.resizeColumnsToContents()
