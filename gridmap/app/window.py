"""The main window: map canvas, layers panel, project summary, status bar."""

from __future__ import annotations

from pathlib import Path

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QColor, QPen
from PyQt5.QtWidgets import (
    QAction,
    QDockWidget,
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from gridmap.app.canvas import MapCanvas
from gridmap.app.i18n import Translator
from gridmap.errors import GridMapError
from gridmap.project import Project

__all__ = ["MainWindow"]

# layer -> (z order, outline colour, outline width in pixels)
_LAYER_STYLE = {
    "grids": (1, "#6b6b6b", 0.6),
    "communities": (2, "#2b2b2b", 1.2),
    "districts": (3, "#b2182b", 2.4),
}


class MainWindow(QMainWindow):
    """GridMap's main window on one project."""

    def __init__(self, project_path=None, language="zh"):
        super().__init__()
        self.tr_ = Translator(language)
        self.project = None
        self.canvas = MapCanvas(self.tr_)
        self.setCentralWidget(self.canvas)
        self.resize(1400, 900)
        self._build_docks()
        self._build_menus()
        self.coords = QLabel(self.tr_("no_project"))
        self.statusBar().addPermanentWidget(self.coords)
        self.canvas.cursor_moved.connect(self._show_cursor)
        self.setWindowTitle(self.tr_("app_title"))
        if project_path is not None:
            self.open_project(project_path)

    # -- building ---------------------------------------------------------------------------
    def _build_docks(self):
        self.layer_list = QListWidget()
        self.layer_list.itemChanged.connect(
            lambda item: self.canvas.set_layer_visible(item.data(Qt.UserRole), item.checkState() == Qt.Checked)
        )
        dock = QDockWidget(self.tr_("layers"), self)
        dock.setObjectName("layers")
        dock.setWidget(self.layer_list)
        self.addDockWidget(Qt.LeftDockWidgetArea, dock)

        panel = QWidget()
        layout = QVBoxLayout(panel)
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.RichText)
        self.summary.setAlignment(Qt.AlignTop)
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.RichText)
        layout.addWidget(self.summary)
        layout.addWidget(self.legend)
        layout.addStretch(1)
        dock = QDockWidget(self.tr_("summary"), self)
        dock.setObjectName("summary")
        dock.setWidget(panel)
        self.addDockWidget(Qt.RightDockWidgetArea, dock)

    def _build_menus(self):
        file_menu = self.menuBar().addMenu(self.tr_("file"))
        open_action = QAction(self.tr_("open"), self, shortcut="Ctrl+O", triggered=self._choose_project)
        quit_action = QAction(self.tr_("quit"), self, shortcut="Ctrl+Q", triggered=self.close)
        file_menu.addActions([open_action, quit_action])
        view_menu = self.menuBar().addMenu(self.tr_("view"))
        full = QAction(self.tr_("zoom_full"), self, shortcut="Ctrl+0", triggered=self.canvas.zoom_full)
        view_menu.addAction(full)
        toolbar = self.addToolBar(self.tr_("view"))
        toolbar.setObjectName("view")
        toolbar.addAction(open_action)
        toolbar.addAction(full)
        toolbar.addAction(QAction(self.tr_("zoom_in"), self, triggered=lambda: self.canvas.zoom(1.25)))
        toolbar.addAction(QAction(self.tr_("zoom_out"), self, triggered=lambda: self.canvas.zoom(0.8)))

    # -- project ------------------------------------------------------------------------------
    def _choose_project(self):
        path, _ = QFileDialog.getOpenFileName(self, self.tr_("open"), "", "GeoPackage (*.gpkg)")
        if path:
            self.open_project(path)

    def open_project(self, path):
        """Load ``path`` and draw its layers; a bad file shows its one-line error."""
        try:
            project = Project(path)
            frames = {name: project.read(name) for name in _LAYER_STYLE if project.has_layer(name)}
            info = project.info()
        except GridMapError as exc:
            QMessageBox.warning(self, self.tr_("open"), str(exc))
            return False
        self.project = project
        self.canvas.scene().clear()
        self.canvas.layers.clear()
        self.layer_list.clear()
        categories = {}
        for name, (z, colour, width) in _LAYER_STYLE.items():
            if name not in frames:
                continue
            pen = QPen(QColor(colour), width)
            pen.setCosmetic(True)
            if name == "grids":
                categories = self.canvas.add_polygons(name, frames[name], fill_by="district", pen=pen, z=z)
            else:
                self.canvas.add_polygons(name, frames[name], pen=pen, z=z)
        for name in reversed(list(_LAYER_STYLE)):
            if name in frames:
                item = QListWidgetItem(f"{self.tr_(name)}  ({len(frames[name]):,})")
                item.setData(Qt.UserRole, name)
                item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                item.setCheckState(Qt.Checked)
                self.layer_list.addItem(item)
        self._show_summary(info, categories)
        title = f"{self.tr_('app_title')} — {Path(path).name}"
        if info.get("synthetic"):
            title += f"（{self.tr_('synthetic')}）"
        self.setWindowTitle(title)
        self.coords.setText(str(path))
        self.canvas.zoom_full()
        return True

    def _show_summary(self, info, categories):
        totals = info.get("totals", {})
        zones = info.get("grids_by_zone", {})
        rows = [(self.tr_("grid_count"), sum(zones.values()))]
        rows += [(self.tr_(f"zone_{zone}"), count) for zone, count in zones.items()]
        rows += [(self.tr_(key), totals[key]) for key in ("population", "households", "elderly_60", "elderly_80") if key in totals]
        html = "<table cellspacing=4>" + "".join(f"<tr><td>{k}</td><td align=right><b>{v:,}</b></td></tr>" for k, v in rows)
        html += "</table>"
        if info.get("synthetic"):
            html += f"<p style='color:#b2182b'>{self.tr_('synthetic')}</p>"
        self.summary.setText(html)
        swatches = "".join(
            f"<tr><td bgcolor='{colour.name()}' width=18>&nbsp;</td><td>{name}</td></tr>" for name, colour in categories.items()
        )
        self.legend.setText(f"<b>{self.tr_('legend')}</b><table cellspacing=3>{swatches}</table>")

    def _show_cursor(self, lon, lat):
        self.coords.setText(self.tr_("coords", lon=lon, lat=lat))
