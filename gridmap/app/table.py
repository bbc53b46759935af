"""The attribute table: a sortable, filterable view of a DataFrame, synced with the map selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PyQt5.QtCore import QAbstractTableModel, QItemSelection, QItemSelectionModel, QModelIndex, QSortFilterProxyModel, Qt, pyqtSignal
from PyQt5.QtWidgets import QAbstractItemView, QHeaderView, QLineEdit, QTableView, QVBoxLayout, QWidget

__all__ = ["DataFrameModel", "AttributeTable"]


class DataFrameModel(QAbstractTableModel):
    """A read-only Qt model over a DataFrame; sorts numbers as numbers (Qt.UserRole)."""

    def __init__(self, frame=None, headers=None, parent=None):
        super().__init__(parent)
        self._frame = pd.DataFrame()
        self._shape = (0, 0)
        self._headers = headers or {}
        if frame is not None:
            self.set_frame(frame)

    def set_frame(self, frame):
        self.beginResetModel()
        self._frame = pd.DataFrame(frame).drop(columns="geometry", errors="ignore").reset_index(drop=True)
        self._text = self._frame.astype(str).replace({"nan": "", "None": "", "<NA>": ""}).to_numpy()
        self._values = self._frame.to_numpy(dtype=object)
        self._numeric = [pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)
                         for t in self._frame.dtypes]
        self._shape = self._text.shape if len(self._frame.columns) else (0, 0)
        self.endResetModel()

    @property
    def frame(self):
        return self._frame

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else self._shape[0]

    def columnCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else self._shape[1]

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        if role == Qt.DisplayRole:
            return self._text[index.row(), index.column()]
        if role == Qt.UserRole:
            value = self._values[index.row(), index.column()]
            return value.item() if isinstance(value, np.generic) else value
        if role == Qt.TextAlignmentRole and self._numeric[index.column()]:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        return None

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if role != Qt.DisplayRole:
            return None
        if orientation == Qt.Horizontal:
            column = str(self._frame.columns[section])
            return self._headers.get(column, column)
        return str(section + 1)


class _Proxy(QSortFilterProxyModel):
    def lessThan(self, left, right):
        a, b = left.data(Qt.UserRole), right.data(Qt.UserRole)
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)


class AttributeTable(QWidget):
    """Filter box + table. ``selection_changed(rows)`` gives source row positions."""

    selection_changed = pyqtSignal(list)

    def __init__(self, translate, headers=None, parent=None):
        super().__init__(parent)
        self.model = DataFrameModel(headers=headers)
        self.proxy = _Proxy(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.filter = QLineEdit(placeholderText=translate("filter_table"))
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        self.view.horizontalHeader().setResizeContentsPrecision(60)  # fit widths to a sample of rows
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.selectionModel().selectionChanged.connect(self._emit_selection)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filter)
        layout.addWidget(self.view)
        self._syncing = False

    def set_frame(self, frame):
        self.model.set_frame(frame)
        self.view.sortByColumn(0, Qt.AscendingOrder)
        self.view.resizeColumnsToContents()

    def _emit_selection(self, *_):
        if self._syncing:
            return
        rows = sorted({self.proxy.mapToSource(i).row() for i in self.view.selectionModel().selectedRows()})
        self.selection_changed.emit(rows)

    def select_rows(self, rows):
        """Select source ``rows`` without emitting ``selection_changed`` (map -> table sync)."""
        self._syncing = True
        try:
            selection = QItemSelection()
            last = self.model.columnCount() - 1
            for row in rows:
                top = self.proxy.mapFromSource(self.model.index(row, 0))
                if top.isValid():
                    selection.select(top, self.proxy.index(top.row(), last))
            model = self.view.selectionModel()
            model.select(selection, QItemSelectionModel.ClearAndSelect | QItemSelectionModel.Rows)
            if rows:
                first = self.proxy.mapFromSource(self.model.index(rows[0], 0))
                if first.isValid():
                    self.view.scrollTo(first, QAbstractItemView.PositionAtCenter)
        finally:
            self._syncing = False
