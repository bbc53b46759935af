"""The import wizard (grids, resident registry, facility list) and the geocoding review queue."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gridmap.crs import to_store_xy
from gridmap.errors import GridMapError
from gridmap.idnumber import mask_name
from gridmap.schema import RECORD_KINDS

__all__ = ["ImportDialog", "ReviewQueue"]

KINDS = ("residents", "facilities", "grids")
CRS_CHOICES = ("gcj02", "bd09", "wgs84", "EPSG:4490", "EPSG:4546")
ENCODINGS = ("", "utf-8", "utf-8-sig", "gbk", "gb18030")
_PREVIEW_ROWS = 20


class ImportDialog(QDialog):
    """Choose a file, what it holds, its columns, encoding and CRS; preview before importing.

    The coordinate preview shows the first rows converted to CGCS2000, so a wrong CRS
    (GCJ-02 vs BD-09, swapped axes) is visible before anything is written.
    """

    def __init__(self, translate, parent=None):
        super().__init__(parent)
        self.tr_ = translate
        self.setWindowTitle(translate("import_title"))
        self.resize(900, 560)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.kind = QComboBox()
        for kind in KINDS:
            self.kind.addItem(translate(f"import_{kind}"), kind)
        self.path = QLineEdit()
        browse = QPushButton("…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path)
        row.addWidget(browse)
        box = QWidget()
        box.setLayout(row)
        self.encoding = QComboBox()
        for encoding in ENCODINGS:
            self.encoding.addItem(encoding or translate("auto"), encoding)
        self.crs = QComboBox(editable=True)
        self.crs.addItems(CRS_CHOICES)
        self.address_col = QComboBox()
        self.x_col = QComboBox()
        self.y_col = QComboBox()
        form.addRow(translate("import_kind"), self.kind)
        form.addRow(translate("import_file"), box)
        form.addRow(translate("import_encoding"), self.encoding)
        form.addRow(translate("import_crs"), self.crs)
        form.addRow(translate("import_address_col"), self.address_col)
        form.addRow(translate("import_x_col"), self.x_col)
        form.addRow(translate("import_y_col"), self.y_col)
        layout.addLayout(form)
        self.message = QLabel()
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.preview = QTableWidget()
        layout.addWidget(self.preview, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.path.editingFinished.connect(self.refresh_preview)
        for widget in (self.encoding, self.crs, self.x_col, self.y_col, self.kind):
            widget.currentIndexChanged.connect(lambda *_: self.refresh_preview())
        self.table = None

    def _browse(self):
        path, _ = QFileDialog.getOpenFileName(self, self.tr_("import_file"), "",
                                              "Tables and layers (*.csv *.xlsx *.shp *.gpkg *.geojson)")
        if path:
            self.path.setText(path)
            self.refresh_preview()

    def _fill_columns(self, columns):
        for combo, wanted in ((self.address_col, ("居住地址", "地址", "address")), (self.x_col, ("经度", "lon", "x")),
                              (self.y_col, ("纬度", "lat", "y"))):
            combo.blockSignals(True)
            current = combo.currentText()
            combo.clear()
            combo.addItem("", "")
            for column in columns:
                combo.addItem(column, column)
            choice = current if current in columns else next((w for w in wanted if w in columns), "")
            combo.setCurrentIndex(max(combo.findData(choice), 0))
            combo.blockSignals(False)

    def refresh_preview(self):
        """Read the file's first rows (or say why it cannot be read) and show them with CGCS2000 coordinates."""
        from gridmap.geocode.tables import read_table

        path = self.path.text().strip()
        self.preview.clear()
        self.table = None
        if not path:
            return
        if self.kind.currentData() == "grids":
            self.message.setText(self.tr_("import_grids_note"))
            return
        try:
            table = read_table(path, encoding=self.encoding.currentData() or None)
        except GridMapError as exc:
            self.message.setText(str(exc))
            return
        self.table = table
        self._fill_columns(list(table.columns))
        head = table.head(_PREVIEW_ROWS).copy()
        x_col, y_col = self.x_col.currentData(), self.y_col.currentData()
        if x_col and y_col:
            x = pd.to_numeric(head[x_col], errors="coerce").to_numpy(dtype=float)
            y = pd.to_numeric(head[y_col], errors="coerce").to_numpy(dtype=float)
            try:
                lon, lat = to_store_xy(x, y, self.crs.currentText())
                head["CGCS2000 经度"] = np.round(lon, 6)
                head["CGCS2000 纬度"] = np.round(lat, 6)
            except ValueError as exc:
                self.message.setText(str(exc))
        self.message.setText(self.tr_("import_rows", n=len(table)))
        self.preview.setColumnCount(len(head.columns))
        self.preview.setRowCount(len(head))
        self.preview.setHorizontalHeaderLabels([str(c) for c in head.columns])
        for r, row in enumerate(head.itertuples(index=False)):
            for c, value in enumerate(row):
                self.preview.setItem(r, c, QTableWidgetItem("" if pd.isna(value) else str(value)))
        self.preview.resizeColumnsToContents()

    def options(self):
        """What to import, for :meth:`gridmap.app.window.MainWindow.run_import`."""
        kind = self.kind.currentData()
        crs = self.crs.currentText().strip()
        if kind == "grids":
            return {"kind": kind, "path": self.path.text().strip(), "crs": crs if crs not in ("", "gcj02") else None,
                    "encoding": self.encoding.currentData() or None}
        return {
            "kind": kind,
            "path": self.path.text().strip(),
            "encoding": self.encoding.currentData() or None,
            "crs": crs,
            "address_col": self.address_col.currentData() or None,
            "x_col": self.x_col.currentData() or None,
            "y_col": self.y_col.currentData() or None,
        }


class ReviewQueue(QWidget):
    """The rows geocoding could not place (or placed with low confidence), to correct by hand.

    The officer types a corrected address, or presses "pick on map" and clicks the
    location; "apply" places the corrected rows through
    :func:`gridmap.geocode.importing.apply_corrections`.
    """

    COLUMNS = ("source", "record_id", "name", "address", "match_level", "review_reason", "corrected_address",
               "corrected_lon", "corrected_lat")

    def __init__(self, window):
        super().__init__()
        self.window = window
        tr = window.tr_
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        row = QHBoxLayout()
        self.count = QLabel()
        self.pick_button = QPushButton(tr("pick_on_map"))
        self.pick_button.clicked.connect(self.start_pick)
        self.apply_button = QPushButton(tr("apply_corrections"))
        self.apply_button.clicked.connect(self.apply)
        row.addWidget(self.count, 1)
        row.addWidget(self.pick_button)
        row.addWidget(self.apply_button)
        layout.addLayout(row)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels([tr(f"review_{c}") for c in self.COLUMNS])
        self.table.verticalHeader().hide()
        layout.addWidget(self.table)
        self._picking = None

    def load(self):
        """Fill the queue from the project's review table (names masked)."""
        project = self.window.project
        self.table.setRowCount(0)
        if project is None or not project.has_layer("review"):
            self.count.setText(self.window.tr_("review_count", n=0))
            return
        review = pd.DataFrame(project.read("review"))
        unplaced = review[review.get("placed", pd.Series("False", index=review.index)).astype(str) != "True"]
        shown = unplaced.head(2000)
        self.count.setText(self.window.tr_("review_count", n=len(unplaced)))
        self.table.setRowCount(len(shown))
        names = mask_name(shown.get("name", pd.Series("", index=shown.index)))
        for r, (idx, rec) in enumerate(shown.iterrows()):
            values = [rec.get("source", ""), rec.get("record_id", ""), names.loc[idx], rec.get("address", ""),
                      rec.get("match_level", ""), rec.get("review_reason", ""), "", "", ""]
            for c, value in enumerate(values):
                item = QTableWidgetItem("" if pd.isna(value) else str(value))
                if c < 6:
                    item.setFlags(item.flags() & ~Qt.ItemIsEditable)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()

    def start_pick(self):
        """The next click on the map sets the corrected location of the current row."""
        row = self.table.currentRow()
        if row < 0:
            return
        self._picking = row
        self.window.canvas.set_tool("point")
        self.window.statusBar().showMessage(self.window.tr_("pick_hint"), 8000)

    def point_picked(self, lon, lat):
        if self._picking is None:
            return
        self.table.item(self._picking, 7).setText(f"{lon:.6f}")
        self.table.item(self._picking, 8).setText(f"{lat:.6f}")
        self._picking = None
        self.window.canvas.set_tool("pan")

    def corrections(self):
        rows = []
        for r in range(self.table.rowCount()):
            values = {c: (self.table.item(r, i).text() if self.table.item(r, i) else "") for i, c in enumerate(self.COLUMNS)}
            if values["corrected_address"] or values["corrected_lon"]:
                rows.append(values)
        return pd.DataFrame(rows, columns=list(self.COLUMNS))

    def apply(self):
        from gridmap.geocode.importing import apply_corrections

        fixes = self.corrections()
        if fixes.empty:
            return None
        unknown = set(fixes["source"]) - set(RECORD_KINDS)
        if unknown:
            raise GridMapError(f"unknown source {sorted(unknown)[0]}")

        def done(summary):
            self.window.statusBar().showMessage(self.window.tr_("corrections_done", **summary), 8000)
            self.window.reload_grids()
            self.load()

        return self.window.run_task(apply_corrections, self.window.project.path, fixes, on_done=done)


class FindingsList(QWidget):
    """The cross-department findings as grid workers' tasks: pick a check, see masked cases,
    jump to the grid, and record a decision (verified / dismissed) that survives re-runs."""

    SHOWN = ("finding_id", "status", "name_masked", "grid_name", "worker_name", "amount", "summary")

    def __init__(self, window):
        super().__init__()
        from gridmap.audit.findings import STATUS_LABELS

        self.window = window
        tr = window.tr_
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        row = QHBoxLayout()
        self.check = QComboBox()
        for check in ("pension", "dibao", "duplicates", "jobs"):
            self.check.addItem(tr(f"check_{check}"), check)
        self.check.currentIndexChanged.connect(lambda *_: self.load())
        self.count = QLabel()
        self.status = QComboBox()
        for status, label in STATUS_LABELS.items():
            self.status.addItem(label if window.language == "zh" else status, status)
        decide = QPushButton(tr("record_decision"))
        decide.clicked.connect(self.decide)
        for widget in (self.check, self.count):
            row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self.status)
        row.addWidget(decide)
        layout.addLayout(row)
        self.table = QTableWidget(0, len(self.SHOWN))
        self.table.setHorizontalHeaderLabels([tr(f"finding_{c}") for c in self.SHOWN])
        self.table.verticalHeader().hide()
        self.table.cellClicked.connect(self._select_grid)
        layout.addWidget(self.table)
        self.frame = pd.DataFrame()

    def load(self):
        """Show the active findings of the chosen check (already masked in the project)."""
        from gridmap.audit.findings import STATUS_LABELS, read_findings

        project = self.window.project
        self.table.setRowCount(0)
        if project is None:
            return
        frame = read_findings(project, self.check.currentData())
        frame = frame[frame["active"]].reset_index(drop=True) if len(frame) else frame
        self.frame = frame.head(2000)
        self.count.setText(self.window.tr_("findings_count", n=len(frame)))
        self.table.setRowCount(len(self.frame))
        for r, record in enumerate(self.frame.itertuples(index=False)):
            for c, column in enumerate(self.SHOWN):
                value = getattr(record, column)
                if column == "status":
                    value = STATUS_LABELS.get(value, value) if self.window.language == "zh" else value
                item = QTableWidgetItem("" if pd.isna(value) else (f"{value:,.0f}" if column == "amount" else str(value)))
                item.setFlags(item.flags() & ~Qt.ItemIsEditable)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()

    def _select_grid(self, row, _column):
        grids = self.window.frames.get("grids")
        if grids is None or row >= len(self.frame):
            return
        rows = np.flatnonzero(grids["grid_code"].to_numpy() == self.frame["grid_code"].iloc[row]).tolist()
        if rows:
            self.window.set_selection(rows)
            self.window.zoom_to_selection()

    def decide(self):
        """Record the chosen status for the selected findings."""
        from gridmap.audit.findings import set_status

        rows = sorted({index.row() for index in self.table.selectedIndexes()})
        if not rows:
            return 0
        ids = self.frame["finding_id"].iloc[rows].tolist()
        changed = set_status(self.window.project, self.check.currentData(), ids, self.status.currentData())
        self.load()
        return changed
