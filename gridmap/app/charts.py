"""A small horizontal bar chart widget for the leadership dashboard (painted with QPainter)."""

from __future__ import annotations

from PyQt5.QtCore import QRectF, Qt
from PyQt5.QtGui import QColor, QFont, QPainter
from PyQt5.QtWidgets import QSizePolicy, QWidget

__all__ = ["BarChart"]


class BarChart(QWidget):
    """Labelled horizontal bars, one per category, with the value written at the end."""

    def __init__(self, colour="#3182bd", parent=None):
        super().__init__(parent)
        self.colour = QColor(colour)
        self.title = ""
        self.labels, self.values, self.texts = [], [], []
        self.setMinimumHeight(150)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)

    def set_data(self, title, labels, values, fmt="{:,.0f}"):
        self.title = title
        self.labels = [str(label) for label in labels]
        self.values = [float(v) for v in values]
        self.texts = [fmt.format(v) for v in self.values]
        self.setMinimumHeight(40 + 24 * len(self.labels))
        self.update()

    def paintEvent(self, event):
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.fillRect(self.rect(), QColor("#ffffff"))
        painter.setFont(QFont(self.font().family(), 9, QFont.Bold))
        painter.drawText(QRectF(6, 4, self.width() - 12, 18), Qt.AlignLeft | Qt.AlignVCenter, self.title)
        painter.setFont(QFont(self.font().family(), 9))
        if not self.values:
            return
        label_w, text_w, top, row_h = 70.0, 70.0, 28.0, 24.0
        span = max(max(self.values), 1e-12)
        bar_w = max(self.width() - label_w - text_w - 16, 10)
        for i, (label, value, text) in enumerate(zip(self.labels, self.values, self.texts)):
            y = top + i * row_h
            painter.setPen(QColor("#333333"))
            painter.drawText(QRectF(4, y, label_w - 6, row_h - 4), Qt.AlignRight | Qt.AlignVCenter, label)
            painter.fillRect(QRectF(label_w + 4, y + 3, bar_w * value / span, row_h - 10), self.colour)
            painter.drawText(QRectF(label_w + 8 + bar_w * value / span, y, text_w, row_h - 4),
                             Qt.AlignLeft | Qt.AlignVCenter, text)
