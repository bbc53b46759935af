"""The map canvas: a QGraphicsView drawing project layers in metres (EPSG:4546).

Layers are built once into QGraphicsItems (QPainterPath per feature); Qt's scene
index then makes pan and zoom cheap. The scale bar and north arrow are painted in
view coordinates on top.
"""

from __future__ import annotations

import math

import pyproj
import shapely
from PyQt5.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt5.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen, QPolygonF
from PyQt5.QtWidgets import QGraphicsItemGroup, QGraphicsPathItem, QGraphicsScene, QGraphicsView

from gridmap.crs import METRIC_CRS, STORE_CRS

__all__ = ["DISTRICT_COLOURS", "MapCanvas", "polygon_path"]

DISTRICT_COLOURS = ["#8dd3c7", "#fdb462", "#bebada", "#fb8072", "#80b1d3", "#b3de69", "#fccde5"]
_TO_METRIC = pyproj.Transformer.from_crs(STORE_CRS, METRIC_CRS, always_xy=True)
_TO_STORE = pyproj.Transformer.from_crs(METRIC_CRS, STORE_CRS, always_xy=True)


def _ring(coords):
    return QPolygonF([QPointF(x, -y) for x, y in coords])


def polygon_path(geom):
    """A QPainterPath (scene coordinates: x east, y south) for a metric polygon or multipolygon."""
    path = QPainterPath()
    path.setFillRule(Qt.OddEvenFill)
    for part in shapely.get_parts(geom):
        if part.geom_type == "Polygon":
            path.addPolygon(_ring(part.exterior.coords))
            for interior in part.interiors:
                path.addPolygon(_ring(interior.coords))
        elif part.geom_type == "LineString":
            poly = _ring(part.coords)
            path.moveTo(poly[0])
            for point in list(poly)[1:]:
                path.lineTo(point)
    return path


class MapCanvas(QGraphicsView):
    """Pan (drag, arrow keys) and zoom (wheel, +/-) over the project's layers.

    Signals
    -------
    cursor_moved(lon, lat)
        CGCS2000 position under the mouse.
    """

    cursor_moved = pyqtSignal(float, float)

    def __init__(self, translate, parent=None):
        super().__init__(parent)
        self.tr_ = translate
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setDragMode(QGraphicsView.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        self.setBackgroundBrush(QColor("#f4f6f8"))
        self.setMouseTracking(True)
        self.layers = {}

    # -- layers -------------------------------------------------------------------------
    def add_polygons(self, name, frame, *, fill=None, fill_by=None, pen=QPen(QColor("#555555"), 0), z=0):
        """Add a polygon layer; ``fill_by`` names a column whose categories pick fill colours."""
        metric = frame.to_crs(METRIC_CRS) if frame.crs is not None else frame
        group = QGraphicsItemGroup()
        categories = {}
        if fill_by is not None:
            for i, value in enumerate(sorted(map(str, metric[fill_by].unique()))):
                categories[value] = QColor(DISTRICT_COLOURS[i % len(DISTRICT_COLOURS)])
        for geom, value in zip(metric.geometry.values, metric[fill_by] if fill_by else [None] * len(metric)):
            item = QGraphicsPathItem(polygon_path(geom))
            item.setPen(pen)
            colour = categories.get(str(value)) if fill_by else fill
            item.setBrush(QBrush(colour) if colour is not None else QBrush(Qt.NoBrush))
            group.addToGroup(item)
        group.setZValue(z)
        self.scene().addItem(group)
        self.layers[name] = group
        return categories

    def set_layer_visible(self, name, visible):
        if name in self.layers:
            self.layers[name].setVisible(visible)

    def zoom_full(self):
        rect = self.scene().itemsBoundingRect()
        if not rect.isEmpty():
            self.fitInView(rect.adjusted(-300, -300, 300, 300), Qt.KeepAspectRatio)

    def zoom(self, factor):
        self.scale(factor, factor)

    # -- interaction ----------------------------------------------------------------------
    def wheelEvent(self, event):
        self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)

    def keyPressEvent(self, event):
        step = 80
        moves = {Qt.Key_Left: (-step, 0), Qt.Key_Right: (step, 0), Qt.Key_Up: (0, -step), Qt.Key_Down: (0, step)}
        if event.key() in moves:
            dx, dy = moves[event.key()]
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + dx)
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() + dy)
        elif event.key() in (Qt.Key_Plus, Qt.Key_Equal):
            self.zoom(1.25)
        elif event.key() == Qt.Key_Minus:
            self.zoom(0.8)
        else:
            super().keyPressEvent(event)

    def mouseMoveEvent(self, event):
        point = self.mapToScene(event.pos())
        lon, lat = _TO_STORE.transform(point.x(), -point.y())
        self.cursor_moved.emit(lon, lat)
        super().mouseMoveEvent(event)

    # -- overlays ---------------------------------------------------------------------------
    def metres_per_pixel(self):
        return 1.0 / max(abs(self.transform().m11()), 1e-12)

    def drawForeground(self, painter, rect):
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.Antialiasing)
        self._draw_scale_bar(painter)
        self._draw_north_arrow(painter)
        painter.restore()

    def _draw_scale_bar(self, painter):
        mpp = self.metres_per_pixel()
        target = mpp * 120
        magnitude = 10 ** math.floor(math.log10(target))
        length_m = max(m * magnitude for m in (1, 2, 5) if m * magnitude <= target)
        length_px = length_m / mpp
        x0, y0 = 20, self.viewport().height() - 28
        painter.setPen(QPen(QColor("#222222"), 2))
        painter.fillRect(QRectF(x0 - 6, y0 - 20, length_px + 70, 36), QColor(255, 255, 255, 200))
        painter.drawLine(QPointF(x0, y0), QPointF(x0 + length_px, y0))
        for x in (x0, x0 + length_px / 2, x0 + length_px):
            painter.drawLine(QPointF(x, y0 - 5), QPointF(x, y0))
        painter.setFont(QFont(painter.font().family(), 9))
        label = f"{length_m / 1000:g} km" if length_m >= 1000 else f"{length_m:g} m"
        painter.drawText(QPointF(x0 + length_px + 8, y0 + 4), label)

    def _draw_north_arrow(self, painter):
        x, y = self.viewport().width() - 40, 24
        arrow = QPolygonF([QPointF(x, y), QPointF(x - 10, y + 30), QPointF(x, y + 22), QPointF(x + 10, y + 30)])
        painter.setPen(QPen(QColor("#222222"), 1.5))
        painter.setBrush(QColor("#222222"))
        painter.drawPolygon(arrow)
        painter.setFont(QFont(painter.font().family(), 10, QFont.Bold))
        painter.drawText(QRectF(x - 15, y + 30, 30, 18), Qt.AlignCenter, self.tr_("north"))
