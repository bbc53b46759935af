"""The main window: map canvas, layers and style, legend, identify, attribute table, workspaces.

Views and controllers only: every number shown comes from the library (project,
geocoder, analyses); the window never computes an analysis itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtWidgets import (
    QAction,
    QActionGroup,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gridmap.app.canvas import MapCanvas
from gridmap.app.charts import BarChart
from gridmap.app.importer import FindingsList, ImportDialog, ReviewQueue
from gridmap.app.i18n import Translator
from gridmap.app.layers import LayerStyle, style_colours
from gridmap.app.table import AttributeTable
from gridmap.app.worker import Task
from gridmap.app.workspaces import CarePanel, PlannerPanel
from gridmap.care.coverage import CARE_KINDS
from gridmap.crs import METRIC_CRS
from gridmap.errors import GridMapError
from gridmap.project import Project
from gridmap.schema import FACILITY_KIND_LABELS

__all__ = ["MainWindow", "GRID_HEADERS", "WORKSPACES"]

WORKSPACES = ("planner", "care", "leader")
GRID_HEADERS = {
    "grid_code": "网格编码", "grid_name": "网格名称", "community": "社区", "subdistrict": "街道", "district": "区县",
    "zone": "片区", "households": "户数", "population": "人口", "elderly_60": "60岁以上", "elderly_80": "80岁以上",
    "community_code": "社区编码", "subdistrict_code": "街道编码", "district_code": "区县编码",
    "care_demand": "养老需求指数", "care_primary_service": "主要服务", "care_unmet": "未满足需求",
}
# layer -> (z order, default style)
_LAYERS = {
    "grids": (1, LayerStyle(kind="categorized", field="district", labels="grid_name")),
    "communities": (2, LayerStyle(kind="single", colour="none", outline="#2b2b2b", outline_width=1.2)),
    "districts": (3, LayerStyle(kind="single", colour="none", outline="#b2182b", outline_width=2.4)),
    "roads": (4, LayerStyle(kind="single", colour="none", outline="#9e9e9e", outline_width=1.0)),
}
_FACILITY_COLOURS = {"elderly_home": "#e41a1c", "day_care": "#ff7f00", "care_station": "#984ea3", "meal_point": "#4daf4a",
                     "health_centre": "#377eb8", "clinic": "#a6cee3", "supermarket": "#999999", "barber": "#bbbbbb",
                     "restaurant": "#cccccc", "candidate": "#000000"}


class MainWindow(QMainWindow):
    """GridMap's main window on one project.

    Parameters
    ----------
    project_path : path, optional
    language : {"zh", "en"}
    workspace : {"planner", "care", "leader"}
    """

    def __init__(self, project_path=None, language="zh", workspace="planner"):
        super().__init__()
        self.tr_ = Translator(language)
        self.language = language
        self.project = None
        self.frames = {}
        self.styles = {name: LayerStyle(**vars(style)) for name, (_, style) in _LAYERS.items()}
        self.selection = []
        self.tasks = []
        self.canvas = MapCanvas(self.tr_)
        self.setCentralWidget(self.canvas)
        self.resize(1440, 900)
        self._build_actions()
        self._build_docks()
        self._build_status()
        self.canvas.cursor_moved.connect(self._show_cursor)
        self.canvas.features_picked.connect(self._on_picked)
        self.canvas.line_drawn.connect(lambda coords: self.workspace_panels["planner"].split_line(coords))
        self.setWindowTitle(self.tr_("app_title"))
        if project_path is not None:
            self.open_project(project_path)
        self.set_workspace(workspace)

    # -- construction ------------------------------------------------------------------------------
    def _action(self, key, slot, shortcut=None, checkable=False):
        action = QAction(self.tr_(key), self, checkable=checkable)
        action.setObjectName(key)
        if shortcut:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        return action

    def _build_actions(self):
        self.actions = {
            "open": self._action("open", self._choose_project, "Ctrl+O"),
            "import": self._action("import", self._choose_import, "Ctrl+I"),
            "save_as": self._action("save_as", self._save_as, "Ctrl+Shift+S"),
            "export_png": self._action("export_png", self._choose_png, "Ctrl+E"),
            "quit": self._action("quit", self.close, "Ctrl+Q"),
            "zoom_full": self._action("zoom_full", lambda: self.canvas.zoom_full(), "Ctrl+0"),
            "zoom_selection": self._action("zoom_selection", self.zoom_to_selection, "Ctrl+J"),
            "show_gcj02": self._action("show_gcj02", self._toggle_gcj02, checkable=True),
            "language": self._action("language", self.switch_language, "Ctrl+L"),
            "undo": self._action("undo", lambda: self.workspace_panels["planner"].undo(), "Ctrl+Z"),
            "redo": self._action("redo", lambda: self.workspace_panels["planner"].redo(), "Ctrl+Shift+Z"),
        }
        self.tool_actions = QActionGroup(self)
        for tool, key, shortcut in (("pan", "tool_pan", "P"), ("select", "tool_select", "S"), ("line", "tool_line", "L")):
            action = self._action(key, lambda _=False, t=tool: self.canvas.set_tool(t), shortcut, checkable=True)
            self.tool_actions.addAction(action)
            self.actions[key] = action
        self.actions["tool_pan"].setChecked(True)
        menu = self.menuBar().addMenu(self.tr_("file"))
        menu.addActions([self.actions[k] for k in ("open", "import", "save_as", "export_png")])
        self.recent_menu = menu.addMenu(self.tr_("recent"))
        menu.addAction(self.actions["quit"])
        menu = self.menuBar().addMenu(self.tr_("view"))
        menu.addActions([self.actions[k] for k in ("zoom_full", "zoom_selection", "show_gcj02", "language")])
        self.addActions([self.actions["undo"], self.actions["redo"]])
        toolbar = self.addToolBar(self.tr_("view"))
        toolbar.setObjectName("main_toolbar")
        toolbar.addAction(self.actions["open"])
        toolbar.addAction(self.actions["import"])
        toolbar.addSeparator()
        for key in ("tool_pan", "tool_select", "tool_line", "zoom_full", "zoom_selection"):
            toolbar.addAction(self.actions[key])
        toolbar.addSeparator()
        toolbar.addWidget(QLabel(f" {self.tr_('workspace')} "))
        self.workspace_box = QComboBox()
        for ws in WORKSPACES:
            self.workspace_box.addItem(self.tr_(f"ws_{ws}"), ws)
        self.workspace_box.currentIndexChanged.connect(lambda i: self.set_workspace(WORKSPACES[i]))
        toolbar.addWidget(self.workspace_box)
        toolbar.addSeparator()
        self.search_box = QLineEdit(placeholderText=self.tr_("search"))
        self.search_box.setMinimumWidth(280)
        self.search_box.returnPressed.connect(lambda: self.search(self.search_box.text()))
        toolbar.addWidget(self.search_box)
        toolbar.addAction(self.actions["language"])

    def _dock(self, key, widget, area):
        dock = QDockWidget(self.tr_(key), self)
        dock.setObjectName(key)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self):
        # Layers, style and legend on the left.
        left = QWidget()
        layout = QVBoxLayout(left)
        self.layer_list = QListWidget()
        self.layer_list.itemChanged.connect(self._layer_toggled)
        self.layer_list.currentItemChanged.connect(lambda *_: self._show_style_controls())
        self.layer_list.setMinimumHeight(130)
        layout.addWidget(self.layer_list, 2)
        form = QFormLayout()
        self.style_kind = QComboBox()
        for kind in ("single", "categorized", "graduated"):
            self.style_kind.addItem(self.tr_(f"style_{kind}"), kind)
        self.style_field = QComboBox()
        self.style_scheme = QComboBox()
        for scheme in ("natural_breaks", "quantiles"):
            self.style_scheme.addItem(self.tr_(f"scheme_{scheme}"), scheme)
        self.style_classes = QSpinBox(minimum=2, maximum=7, value=5)
        self.style_opacity = QSlider(Qt.Horizontal, minimum=10, maximum=100, value=85)
        form.addRow(self.tr_("style"), self.style_kind)
        form.addRow(self.tr_("field"), self.style_field)
        form.addRow(self.tr_("scheme_natural_breaks") + "/" + self.tr_("scheme_quantiles"), self.style_scheme)
        form.addRow(self.tr_("classes"), self.style_classes)
        form.addRow(self.tr_("opacity"), self.style_opacity)
        for widget in (self.style_kind, self.style_field, self.style_scheme):
            widget.currentIndexChanged.connect(lambda *_: self._apply_style_controls())
        self.style_classes.valueChanged.connect(lambda *_: self._apply_style_controls())
        self.style_opacity.valueChanged.connect(lambda *_: self._apply_style_controls())
        layout.addLayout(form)
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.RichText)
        self.legend.setAlignment(Qt.AlignTop)
        layout.addWidget(self.legend, 1)
        self._dock("layers", left, Qt.LeftDockWidgetArea)

        # Identify and the workspace panel on the right.
        self.identify = QTableWidget(0, 2)
        self.identify.horizontalHeader().setStretchLastSection(True)
        self.identify.verticalHeader().hide()
        self.identify.setHorizontalHeaderLabels([self.tr_("field"), ""])
        self._dock("identify", self.identify, Qt.RightDockWidgetArea)
        self.workspace_stack = QStackedWidget()
        self.workspace_panels = {ws: self._workspace_panel(ws) for ws in WORKSPACES}
        for ws in WORKSPACES:
            self.workspace_stack.addWidget(self.workspace_panels[ws])
        self._dock("workspace", self.workspace_stack, Qt.RightDockWidgetArea).setMinimumWidth(430)

        # Attribute table at the bottom, with an attribute query.
        bottom = QWidget()
        layout = QVBoxLayout(bottom)
        layout.setContentsMargins(2, 2, 2, 2)
        self.query_box = QLineEdit(placeholderText=self.tr_("query"))
        self.query_box.returnPressed.connect(lambda: self.select_by_query(self.query_box.text()))
        layout.addWidget(self.query_box)
        self.table = AttributeTable(self.tr_, headers=GRID_HEADERS if self.language == "zh" else None)
        self.table.selection_changed.connect(lambda rows: self.set_selection(rows, from_table=True))
        layout.addWidget(self.table)
        attributes = self._dock("attributes", bottom, Qt.BottomDockWidgetArea)
        self.review_queue = ReviewQueue(self)
        self.canvas.point_picked.connect(self.review_queue.point_picked)
        review = self._dock("review_queue", self.review_queue, Qt.BottomDockWidgetArea)
        self.tabifyDockWidget(attributes, review)
        self.findings = FindingsList(self)
        findings = self._dock("findings", self.findings, Qt.BottomDockWidgetArea)
        self.tabifyDockWidget(review, findings)
        attributes.raise_()

    def _workspace_panel(self, workspace):
        if workspace == "planner":
            return PlannerPanel(self)
        if workspace == "care":
            return CarePanel(self)
        panel = QWidget()
        layout = QVBoxLayout(panel)
        help_key = {"planner": "planner_help", "care": "care_help", "leader": "dashboard"}[workspace]
        title = QLabel(self.tr_(help_key))
        title.setWordWrap(True)
        layout.addWidget(title)
        self.kpi_table = QTableWidget()
        self.kpi_table.verticalHeader().hide()
        self.kpi_table.setMinimumHeight(300)
        layout.addWidget(self.kpi_table)
        self.chart_elderly = BarChart("#e6550d")
        self.chart_share = BarChart("#3182bd")
        layout.addWidget(self.chart_elderly)
        layout.addWidget(self.chart_share)
        for key, slot in (("export_report", self._choose_report), ("export_png", self._choose_png)):
            button = QPushButton(self.tr_(key))
            button.clicked.connect(slot)
            layout.addWidget(button)
        layout.addStretch(1)
        return panel

    def _build_status(self):
        self.coords = QLabel(self.tr_("no_project"))
        self.progress = QProgressBar(maximumWidth=200)
        self.progress.hide()
        self.cancel_button = QPushButton(self.tr_("cancel"))
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel_tasks)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)
        self.statusBar().addPermanentWidget(self.coords)

    # -- project -------------------------------------------------------------------------------------
    def _choose_project(self):
        path, _ = QFileDialog.getOpenFileName(self, self.tr_("open"), "", "GeoPackage (*.gpkg)")
        if path:
            self.open_project(path)

    def open_project(self, path):
        """Load ``path`` and draw its layers; a bad file shows its one-line error and changes nothing."""
        try:
            project = Project(path)
            frames = {name: project.read(name) for name in (*_LAYERS, "facilities") if project.has_layer(name)}
            info = project.info()
        except GridMapError as exc:
            QMessageBox.warning(self, self.tr_("open"), str(exc))
            return False
        self.project, self.frames, self.info = project, frames, info
        self.metric = {name: frame.to_crs(METRIC_CRS).geometry.values for name, frame in frames.items()}
        self._draw_layers()
        self.table.set_frame(frames.get("grids", pd.DataFrame()))
        self._fill_layer_list()
        self._fill_summaries()
        title = f"{self.tr_('app_title')} — {Path(path).name}"
        if info.get("synthetic"):
            title += f"（{self.tr_('synthetic')}）"
        self.setWindowTitle(title)
        self.coords.setText(str(path))
        self.canvas.zoom_full()
        self.review_queue.load()
        self.findings.load()
        self._remember(path)
        return True

    def _draw_layers(self):
        self.canvas.clear()
        self.selection = []
        for name, (z, _) in _LAYERS.items():
            if name not in self.frames:
                continue
            style = self.styles[name]
            colours = None if style.colour == "none" else style_colours(self.frames[name], style)[0]
            self.canvas.add_polygons(name, self.metric[name], colours, outline=style.outline,
                                     width=style.outline_width, z=z, opacity=style.opacity)
            if style.labels and style.labels in self.frames[name]:
                self.canvas.set_labels(name, self.frames[name][style.labels])
        if "facilities" in self.frames:
            facilities = self.frames["facilities"]
            care = facilities[facilities["kind"].isin(CARE_KINDS)]
            xy = np.column_stack([self.metric["facilities"].x, self.metric["facilities"].y])[care.index]
            colours = care["kind"].map(_FACILITY_COLOURS).to_numpy()
            self.canvas.add_points("facilities", xy, colours)
        self._update_legend()

    def reload_grids(self, select=()):
        """Re-read the grids after an edit or analysis and redraw them; select the given codes."""
        self.frames["grids"] = self.project.read("grids")
        if self.project.has_layer("communities"):
            self.frames["communities"] = self.project.read("communities")
        self.metric["grids"] = self.frames["grids"].to_crs(METRIC_CRS).geometry.values
        self.info = self.project.info()
        z, _ = _LAYERS["grids"]
        style = self.styles["grids"]
        if style.field is not None and style.field not in self.frames["grids"]:
            style = LayerStyle(**vars(_LAYERS["grids"][1]))
            self.styles["grids"] = style
        visible = self.canvas.layers["grids"].group.isVisible() if "grids" in self.canvas.layers else True
        self.canvas.remove_layer("grids")
        self.canvas.add_polygons("grids", self.metric["grids"], style_colours(self.frames["grids"], style)[0],
                                 outline=style.outline, width=style.outline_width, z=z, opacity=style.opacity)
        self.canvas.set_labels("grids", self.frames["grids"][style.labels or "grid_name"])
        self.canvas.set_layer_visible("grids", visible)
        self.table.set_frame(self.frames["grids"])
        codes = self.frames["grids"]["grid_code"].to_numpy()
        self.set_selection(np.flatnonzero(np.isin(codes, list(select))).tolist())
        self._fill_summaries()
        self._update_legend()

    def _fill_layer_list(self):
        self.layer_list.blockSignals(True)
        self.layer_list.clear()
        for name in ["facilities", *reversed(list(_LAYERS))]:
            if name in self.canvas.layers:
                count = len(self.canvas.layers[name].items) or len(self.frames.get(name, []))
                item = QListWidgetItem(f"{self.tr_(name)}  ({count:,})")
                item.setData(Qt.UserRole, name)
                item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                item.setCheckState(Qt.Checked if name != "roads" else Qt.Unchecked)
                self.layer_list.addItem(item)
                if name == "roads":
                    self.canvas.set_layer_visible("roads", False)
        self.layer_list.blockSignals(False)
        grids_rows = [i for i in range(self.layer_list.count()) if self.layer_list.item(i).data(Qt.UserRole) == "grids"]
        if grids_rows:
            self.layer_list.setCurrentRow(grids_rows[0])

    def _layer_toggled(self, item):
        self.canvas.set_layer_visible(item.data(Qt.UserRole), item.checkState() == Qt.Checked)

    # -- styling ---------------------------------------------------------------------------------------
    def _current_layer(self):
        item = self.layer_list.currentItem()
        return item.data(Qt.UserRole) if item is not None else None

    def _show_style_controls(self):
        name = self._current_layer()
        frame = self.frames.get(name)
        if frame is None or name not in self.styles:
            return
        style = self.styles[name]
        for widget in (self.style_kind, self.style_field, self.style_scheme, self.style_classes, self.style_opacity):
            widget.blockSignals(True)
        self.style_field.clear()
        for column in frame.columns:
            if column != "geometry":
                self.style_field.addItem(GRID_HEADERS.get(column, column) if self.language == "zh" else column, column)
        self.style_kind.setCurrentIndex(max(self.style_kind.findData(style.kind), 0))
        self.style_field.setCurrentIndex(max(self.style_field.findData(style.field), 0))
        self.style_scheme.setCurrentIndex(max(self.style_scheme.findData(style.scheme), 0))
        self.style_classes.setValue(style.classes)
        self.style_opacity.setValue(int(style.opacity * 100))
        for widget in (self.style_kind, self.style_field, self.style_scheme, self.style_classes, self.style_opacity):
            widget.blockSignals(False)

    def _apply_style_controls(self):
        name = self._current_layer()
        if name not in self.styles or name not in self.canvas.layers:
            return
        style = self.styles[name]
        style.kind = self.style_kind.currentData()
        style.field = self.style_field.currentData()
        style.scheme = self.style_scheme.currentData()
        style.classes = self.style_classes.value()
        style.opacity = self.style_opacity.value() / 100
        self.apply_style(name, style)

    def apply_style(self, name, style):
        """Restyle layer ``name`` (colours, opacity) and refresh the legend."""
        self.styles[name] = style
        if style.colour != "none" or style.kind != "single":
            self.canvas.set_colours(name, style_colours(self.frames[name], style)[0])
        self.canvas.set_layer_opacity(name, style.opacity)
        self._update_legend()

    def _update_legend(self):
        rows = []
        style = self.styles.get("grids")
        if "grids" in self.frames and style is not None:
            title = GRID_HEADERS.get(style.field, style.field or "") if self.language == "zh" else (style.field or "")
            rows.append(f"<tr><td colspan=2><b>{self.tr_('grids')} · {title}</b></td></tr>")
            for label, colour in style_colours(self.frames["grids"], style)[1]:
                rows.append(f"<tr><td bgcolor='{colour}' width=18>&nbsp;</td><td>{label}</td></tr>")
        if "facilities" in self.frames:
            rows.append(f"<tr><td colspan=2><b>{self.tr_('facilities_layer')}</b></td></tr>")
            for kind in CARE_KINDS:
                label = FACILITY_KIND_LABELS[kind] if self.language == "zh" else kind.replace("_", " ")
                rows.append(f"<tr><td><font color='{_FACILITY_COLOURS[kind]}'>●</font></td><td>{label}</td></tr>")
        if "recommended_sites" in self.canvas.layers:
            rows.append(f"<tr><td colspan=2><b>{self.tr_('run_allocation')}</b></td></tr>")
            rows.append(f"<tr><td><font color='#de2d26' size=5>●</font></td><td>{self.tr_('new_site')}</td></tr>")
            rows.append(f"<tr><td><font color='#3182bd' size=4>●</font></td><td>{self.tr_('existing_site')}</td></tr>")
        self.legend.setText(f"<b>{self.tr_('legend')}</b><table cellspacing=2>{''.join(rows)}</table>")

    # -- selection, identify, search ------------------------------------------------------------------
    def _on_picked(self, layer, indices, add):
        if layer != "grids":
            return
        rows = sorted(set(self.selection) | set(indices)) if add else list(indices)
        self.set_selection(rows)

    def set_selection(self, rows, from_table=False):
        """Select grid rows everywhere: map highlight, table rows, identify panel."""
        self.selection = list(rows)
        self.canvas.set_selection("grids", self.selection)
        if not from_table:
            self.table.select_rows(self.selection)
        self._identify(self.selection[0] if len(self.selection) == 1 else None)
        if getattr(self, "workspace", None) == "care":
            code = self.frames["grids"]["grid_code"].iloc[self.selection[0]] if len(self.selection) == 1 else None
            self.workspace_panels["care"].show_elderly(code)
        self.statusBar().showMessage(self.tr_("selected", n=len(self.selection)), 4000)

    def _identify(self, row):
        self.identify.setRowCount(0)
        if row is None or "grids" not in self.frames:
            return
        record = self.frames["grids"].drop(columns="geometry").iloc[row]
        self.identify.setRowCount(len(record))
        for i, (column, value) in enumerate(record.items()):
            name = GRID_HEADERS.get(column, column) if self.language == "zh" else column
            self.identify.setItem(i, 0, QTableWidgetItem(name))
            self.identify.setItem(i, 1, QTableWidgetItem("" if pd.isna(value) else str(value)))

    def select_by_query(self, text):
        try:
            rows = self.frames["grids"].drop(columns="geometry").reset_index(drop=True).query(text).index.tolist()
        except Exception as exc:  # noqa: BLE001 - a typo in a query is shown, not raised
            self.statusBar().showMessage(self.tr_("query_error", error=exc), 6000)
            return []
        self.set_selection(rows)
        return rows

    def zoom_to_selection(self):
        if self.selection:
            self.canvas.zoom_to(self.metric["grids"][self.selection])

    def search(self, text):
        """Find a grid by code or name, a community, or an address (through the geocoder)."""
        text = text.strip()
        grids = self.frames.get("grids")
        if not text or grids is None:
            return []
        hit = grids.index[(grids["grid_code"] == text) | (grids["grid_name"] == text)].tolist()
        if not hit:
            hit = grids.index[grids["community"] == text].tolist()
        if not hit:
            hit = grids.index[grids["grid_name"].str.contains(text, regex=False)].tolist()
        if not hit:
            hit = self._search_address(text)
        if hit:
            rows = [int(np.flatnonzero(grids.index == h)[0]) for h in hit]
            self.set_selection(rows)
            self.zoom_to_selection()
            return rows
        self.statusBar().showMessage(self.tr_("not_found", text=text), 5000)
        return []

    def _search_address(self, text):
        from gridmap.geocode.address import parse_addresses
        from gridmap.geocode.match import Gazetteer

        if not self.project.has_layer("addresses"):
            return []
        if getattr(self, "_gazetteer", None) is None:
            communities = self.project.read("communities") if self.project.has_layer("communities") else None
            self._gazetteer = Gazetteer(self.project.read("addresses"), communities)
        query = pd.Series([text])
        result = self._gazetteer.match(parse_addresses(query), query).iloc[0]
        if result["grid_code"] is None:
            return []
        self.statusBar().showMessage(self.tr_("found_address", address=result["matched_address"],
                                              level=result["match_level"], conf=result["confidence"]), 8000)
        grids = self.frames["grids"]
        return grids.index[grids["grid_code"] == result["grid_code"]].tolist()

    # -- workspaces ---------------------------------------------------------------------------------------
    def set_workspace(self, workspace):
        """Switch between the planner, care and leadership workspaces."""
        self.workspace = workspace
        self.workspace_stack.setCurrentWidget(self.workspace_panels[workspace])
        self.workspace_box.blockSignals(True)
        self.workspace_box.setCurrentIndex(WORKSPACES.index(workspace))
        self.workspace_box.blockSignals(False)
        self.actions["tool_line"].setVisible(workspace == "planner")
        if "grids" not in self.frames:
            return
        if workspace == "care":
            field = "care_demand" if "care_demand" in self.frames["grids"] else "elderly_60"
            self.apply_style("grids", LayerStyle(kind="graduated", field=field, ramp="OrRd", labels="grid_name"))
            self.workspace_panels["care"].show_stored()
        elif workspace == "leader":
            self.apply_style("grids", LayerStyle(kind="graduated", field="population", ramp="Blues", labels="grid_name"))
        else:
            self.apply_style("grids", LayerStyle(**vars(_LAYERS["grids"][1])))
        self._show_style_controls()

    def _fill_summaries(self):
        totals = self.info.get("totals", {})
        zones = self.info.get("grids_by_zone", {})
        rows = [(self.tr_("grid_count"), sum(zones.values()))]
        rows += [(self.tr_(f"zone_{zone}"), count) for zone, count in zones.items()]
        rows += [(self.tr_(k), totals[k]) for k in ("population", "households", "elderly_60", "elderly_80") if k in totals]
        html = "<table cellspacing=4>" + "".join(f"<tr><td>{k}</td><td align=right><b>{v:,}</b></td></tr>" for k, v in rows)
        html += "</table>"
        if self.info.get("synthetic"):
            html += f"<p style='color:#b2182b'>{self.tr_('synthetic')}</p>"
        for ws in ("planner", "care"):
            self.workspace_panels[ws].summary.setText(html)
        self._fill_dashboard()
        # The topology check takes a few hundred milliseconds: run it once the window is up.
        QTimer.singleShot(0, self.workspace_panels["planner"].refresh)

    def _fill_dashboard(self):
        grids = self.frames.get("grids")
        if grids is None:
            return
        care_cols = [f"fac_{k}" for k in CARE_KINDS if f"fac_{k}" in grids]
        by = grids.assign(facilities=grids[care_cols].sum(axis=1) if care_cols else 0).groupby("district")
        table = by.agg(grids=("grid_code", "size"), population=("population", "sum"), elderly_60=("elderly_60", "sum"),
                       elderly_80=("elderly_80", "sum"), facilities=("facilities", "sum"))
        table.loc[self.tr_("city_total")] = table.sum()
        table["share_60"] = table["elderly_60"] / table["population"].where(table["population"] > 0)
        extra = self._dashboard_extras(grids)
        for column, values in extra.items():
            table[column] = values.reindex(table.index)
            table.loc[self.tr_("city_total"), column] = values.sum() if column != "covered" else np.nan
        if "covered" in extra:
            table.loc[self.tr_("city_total"), "covered"] = self._city_coverage
        headers = [self.tr_("district"), self.tr_("grid_count"), self.tr_("population"), self.tr_("elderly_60"),
                   self.tr_("elderly_80"), self.tr_("facility_count"), self.tr_("share_60"),
                   *[self.tr_(f"kpi_{c}") for c in extra]]
        # Indicators down, districts across: fits the narrow side panel.
        self.kpi_table.setColumnCount(len(table) + 1)
        self.kpi_table.setHorizontalHeaderLabels([self.tr_("kpi"), *map(str, table.index)])
        self.kpi_table.setRowCount(len(headers) - 1)
        columns = ["grids", "population", "elderly_60", "elderly_80", "facilities", "share_60", *extra]
        percent = {"share_60", "covered"}
        for r, (label, column) in enumerate(zip(headers[1:], columns)):
            self.kpi_table.setItem(r, 0, QTableWidgetItem(label))
            for c, value in enumerate(table[column], start=1):
                text = "" if pd.isna(value) else (f"{value:.1%}" if column in percent else f"{value:,.0f}")
                item = QTableWidgetItem(text)
                item.setTextAlignment(int(Qt.AlignRight | Qt.AlignVCenter))
                self.kpi_table.setItem(r, c, item)
        self.kpi_table.resizeColumnsToContents()
        self.kpi = table
        districts = table.drop(index=self.tr_("city_total"))
        self.chart_elderly.set_data(self.tr_("elderly_60") + " · " + self.tr_("district"), districts.index,
                                    districts["elderly_60"])
        self.chart_share.set_data(self.tr_("share_60"), districts.index, districts["share_60"].fillna(0), "{:.1%}")

    def _dashboard_extras(self, grids):
        """Per-district coverage rate, unmet demand and audit findings, when the project has them."""
        extras = {}
        district_of = grids.set_index("grid_code")["district"]
        if self.project.has_layer("care_coverage"):
            cover = pd.DataFrame(self.project.read("care_coverage", columns=["grid_code", "kind", "demand", "covered"]))
            cover = cover[cover["kind"] == "day_care"]
            cover["district"] = district_of.reindex(cover["grid_code"]).to_numpy()
            cover["served"] = cover["demand"] * cover["covered"].astype(bool)
            by = cover.groupby("district")[["served", "demand"]].sum()
            extras["covered"] = by["served"] / by["demand"].where(by["demand"] > 0)
            self._city_coverage = by["served"].sum() / max(by["demand"].sum(), 1e-12)
        if "care_unmet" in grids:
            extras["unmet"] = grids.groupby("district")["care_unmet"].sum()
        findings = [n for n in self.project.layer_names() if n.startswith("audit_") and n.count("_") == 1]
        for name in findings:
            table = pd.DataFrame(self.project.read(name))
            if "grid_code" not in table:
                continue
            if "active" in table:
                table = table[table["active"].astype(bool)]
            counts = district_of.reindex(table["grid_code"]).value_counts()
            extras.setdefault("findings", pd.Series(0.0, index=grids["district"].unique()))
            extras["findings"] = extras["findings"].add(counts, fill_value=0)
        return extras

    # -- tasks ------------------------------------------------------------------------------------------------
    def run_task(self, fn, *args, on_done=None, **kwargs):
        """Run ``fn`` on a worker thread with the status-bar progress bar and cancel button."""
        task = Task(fn, *args, **kwargs)
        self.tasks.append(task)
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        task.progress.connect(lambda f, m: (self.progress.setValue(int(f * 100)), self.statusBar().showMessage(m)))

        def finish():
            self.tasks.remove(task)
            if not self.tasks:
                self.progress.hide()
                self.cancel_button.hide()

        def done(result):
            finish()
            if on_done is not None:
                on_done(result)

        def failed(message):
            finish()
            if message == "cancelled":
                self.statusBar().showMessage(self.tr_("cancelled"), 6000)
            else:
                QMessageBox.warning(self, self.tr_("task_failed"), message)

        task.finished.connect(done)
        task.failed.connect(failed)
        return task.start()

    def cancel_tasks(self):
        for task in list(self.tasks):
            task.cancel()

    # -- files, language ------------------------------------------------------------------------------------------
    # -- import, recent projects ------------------------------------------------------------------
    def _choose_import(self):
        dialog = ImportDialog(self.tr_, self)
        if dialog.exec_() == ImportDialog.Accepted:
            self.run_import(**dialog.options())

    def run_import(self, kind, path, **options):
        """Import grids, or geocode a registry/facility list, on a worker thread; then redraw."""
        from gridmap.geocode.importing import geocode_file
        from gridmap.grids.importing import import_grids

        target = self.project.path

        def done(summary):
            self.open_project(target)
            if kind != "grids":
                self.statusBar().showMessage(self.tr_("import_done", placed=summary["placed"],
                                                      review=summary["review"]), 10000)

        if kind == "grids":
            return self.run_task(import_grids, target, path, crs=options.get("crs"),
                                 encoding=options.get("encoding"), on_done=done)
        return self.run_task(geocode_file, target, path, kind, on_done=done, **options)

    def _remember(self, path):
        from PyQt5.QtCore import QSettings

        settings = QSettings("GridMap", "GridMap")
        recent = [p for p in (settings.value("recent", []) or []) if p != str(path)]
        recent = [str(path), *recent][:8]
        settings.setValue("recent", recent)
        self.recent_menu.clear()
        for item in recent:
            self.recent_menu.addAction(item, lambda p=item: self.open_project(p))

    def _choose_report(self):
        path, _ = QFileDialog.getSaveFileName(self, self.tr_("export_report"), "report.pdf",
                                              "PDF (*.pdf);;HTML (*.html);;Excel (*.xlsx)")
        if path:
            self.export_report(path)

    def export_report(self, path):
        """Write a PDF, HTML or Excel report of the project (by suffix) on a worker thread."""
        from gridmap.report.commands import build_report

        suffix = Path(path).suffix.lower().lstrip(".")
        if suffix not in ("pdf", "html", "xlsx"):
            raise GridMapError(f"{path}: choose a .pdf, .html or .xlsx file name")
        return self.run_task(build_report, self.project, **{suffix: path},
                             on_done=lambda _: self.statusBar().showMessage(self.tr_("export_done", path=path), 8000))

    def _choose_png(self):
        path, _ = QFileDialog.getSaveFileName(self, self.tr_("export_png"), "map.png", "PNG (*.png)")
        if path:
            self.export_png(path)

    def export_png(self, path):
        """Save the current map view (with scale bar and north arrow) as PNG."""
        image = self.canvas.grab()
        if not image.save(str(path), "PNG"):
            raise GridMapError(f"{path}: cannot write the image")
        self.statusBar().showMessage(self.tr_("export_done", path=path), 6000)
        return Path(path)

    def _save_as(self):
        if self.project is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, self.tr_("save_as"), str(self.project.path), "GeoPackage (*.gpkg)")
        if path:
            shutil.copyfile(self.project.path, path)
            self.open_project(path)

    def _toggle_gcj02(self, checked):
        self.canvas.show_gcj02 = bool(checked)

    def _show_cursor(self, lon, lat):
        datum = "GCJ-02" if self.canvas.show_gcj02 else "CGCS2000"
        self.coords.setText(self.tr_("coords", lon=lon, lat=lat).replace("CGCS2000", datum))

    def switch_language(self):
        """Reopen the window in the other language on the same project, view and workspace."""
        other = "en" if self.language == "zh" else "zh"
        window = MainWindow(self.project.path if self.project else None, language=other, workspace=self.workspace)
        window.setGeometry(self.geometry())
        window.canvas.setTransform(self.canvas.transform())
        window.canvas.centerOn(self.canvas.mapToScene(self.canvas.viewport().rect().center()))
        window.show()
        self.successor = window
        self.close()
        return window
