"""The map canvas: a QGraphicsView drawing project layers in metres (EPSG:4546).

Features are built once into QGraphicsItems; restyling only changes brushes. Picking
and box selection use a shapely STRtree per layer, not Qt's item search, so they are
exact and fast. Scale bar and north arrow are painted in view coordinates on top,
and labels are thinned so they never overlap.
"""

from __future__ import annotations

import math

import numpy as np
import pyproj
import shapely
from PyQt5.QtCore import QPointF, QRectF, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPainterPath, QPen, QPixmap, QPolygonF
from PyQt5.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsItemGroup,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
)

from gridmap.crs import METRIC_CRS, STORE_CRS, wgs84_to_gcj02

__all__ = ["MapCanvas", "polygon_path", "TOOLS"]

TOOLS = ("pan", "select", "line", "point")
_TO_STORE = pyproj.Transformer.from_crs(METRIC_CRS, STORE_CRS, always_xy=True)
_SELECTED_PEN = QPen(QColor("#ffd92f"), 3.0)
_SELECTED_PEN.setCosmetic(True)
_LABEL_MAX_MPP = 6.0  # metres per pixel above which grid labels are hidden


def _ring(coords):
    return QPolygonF([QPointF(x, -y) for x, y in coords])


def polygon_path(geom):
    """A QPainterPath (scene coordinates: x east, y south) for a metric (multi)polygon or line."""
    path = QPainterPath()
    path.setFillRule(Qt.OddEvenFill)
    for part in shapely.get_parts(geom):
        if part.geom_type == "Polygon":
            path.addPolygon(_ring(part.exterior.coords))
            for interior in part.interiors:
                path.addPolygon(_ring(interior.coords))
        elif part.geom_type == "LineString":
            coords = list(part.coords)
            path.moveTo(coords[0][0], -coords[0][1])
            for x, y in coords[1:]:
                path.lineTo(x, -y)
    return path


class _Layer:
    """What the canvas keeps per layer: its item group, feature items and a pick index."""

    def __init__(self, name, group, items, geoms):
        self.name = name
        self.group = group
        self.items = items
        self.geoms = geoms
        self.tree = shapely.STRtree(geoms) if geoms is not None and len(geoms) else None
        self.pens = [item.pen() for item in items] if items and hasattr(items[0], "pen") else []
        self.selected = np.zeros(len(items), dtype=bool)
        self.labels = []
        self.label_xy = np.empty((0, 2))


class MapCanvas(QGraphicsView):
    """Pan (drag, arrow keys), zoom (wheel, +/-, box), pick, box-select and draw lines.

    Signals
    -------
    cursor_moved(lon, lat)
        CGCS2000 position under the mouse.
    features_picked(layer, indices, add)
        A click or a box selected these feature indices of ``layer``; ``add`` when Shift
        was held.
    line_drawn(coords)
        A line drawn with the line tool, as a list of metric (x, y) pairs.
    point_picked(lon, lat)
        A click with the point tool, in CGCS2000.
    view_changed()
        After pan or zoom (debounced).
    """

    cursor_moved = pyqtSignal(float, float)
    features_picked = pyqtSignal(str, list, bool)
    line_drawn = pyqtSignal(list)
    point_picked = pyqtSignal(float, float)
    view_changed = pyqtSignal()

    def __init__(self, translate, parent=None):
        super().__init__(parent)
        self.tr_ = translate
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        self.setBackgroundBrush(QColor("#f4f6f8"))
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.StrongFocus)
        self.layers = {}
        self.pick_layer = "grids"
        self.snap_px = 10.0  # drawn points snap to grid vertices/edges this close on screen
        self.show_gcj02 = False
        self._tool = "pan"
        self._press = None
        self._band = None
        self._line_points = []
        self._line_item = None
        self._label_timer = QTimer(self, singleShot=True, interval=40, timeout=self._place_labels)
        self.set_tool("pan")

    # -- layers ---------------------------------------------------------------------------
    def clear(self):
        self.scene().clear()
        self.layers.clear()
        self._line_item = None
        self._band = None

    def add_polygons(self, name, geoms, colours=None, outline="#666666", width=0.6, z=0, opacity=1.0):
        """Add a layer of metric polygons (or lines when ``colours`` is None and they are lines)."""
        group = QGraphicsItemGroup()
        pen = QPen(QColor(outline), width)
        pen.setCosmetic(True)
        items = []
        for i, geom in enumerate(geoms):
            item = QGraphicsPathItem(polygon_path(geom))
            item.setPen(pen)
            item.setBrush(QBrush(QColor(colours[i])) if colours is not None else QBrush(Qt.NoBrush))
            group.addToGroup(item)
            items.append(item)
        group.setZValue(z)
        group.setOpacity(opacity)
        self.scene().addItem(group)
        self.layers[name] = _Layer(name, group, items, np.asarray(geoms, dtype=object))
        return self.layers[name]

    def add_points(self, name, xy, colours, size_px=7.0, z=10):
        """Add points of constant screen size (e.g. facilities) at metric ``xy``."""
        group = QGraphicsItemGroup()
        items = []
        r = size_px / 2
        for (x, y), colour in zip(xy, colours):
            item = QGraphicsEllipseItem(-r, -r, size_px, size_px)
            item.setPos(x, -y)
            item.setFlag(QGraphicsItem.ItemIgnoresTransformations)
            item.setBrush(QColor(colour))
            pen = QPen(QColor("#ffffff"), 1.0)
            item.setPen(pen)
            group.addToGroup(item)
            items.append(item)
        group.setZValue(z)
        self.scene().addItem(group)
        geoms = shapely.points(np.asarray(xy)) if len(xy) else np.empty(0, dtype=object)
        self.layers[name] = _Layer(name, group, items, geoms)
        return self.layers[name]

    def add_raster(self, name, rgba, bounds, z=5, opacity=0.75):
        """Add an RGBA uint8 image covering metric ``bounds`` (minx, miny, maxx, maxy)."""
        height, width = rgba.shape[:2]
        data = np.ascontiguousarray(rgba)
        image = QImage(data.data, width, height, 4 * width, QImage.Format_RGBA8888).copy()
        item = QGraphicsPixmapItem(QPixmap.fromImage(image))
        minx, miny, maxx, maxy = bounds
        item.setPos(minx, -maxy)
        item.setTransformationMode(Qt.SmoothTransformation)
        item.setScale((maxx - minx) / width)
        item.setZValue(z)
        item.setOpacity(opacity)
        self.scene().addItem(item)
        self.layers[name] = _Layer(name, item, [], None)
        return self.layers[name]

    def remove_layer(self, name):
        layer = self.layers.pop(name, None)
        if layer is not None:
            self.scene().removeItem(layer.group)
            for label in layer.labels:
                self.scene().removeItem(label)

    def set_colours(self, name, colours):
        for item, colour in zip(self.layers[name].items, colours):
            item.setBrush(QBrush(QColor(colour)))

    def set_layer_visible(self, name, visible):
        if name in self.layers:
            self.layers[name].group.setVisible(visible)
            for label in self.layers[name].labels:
                label.setVisible(visible and label.isVisible())
            self._label_timer.start()

    def set_layer_opacity(self, name, opacity):
        if name in self.layers:
            self.layers[name].group.setOpacity(opacity)

    def set_labels(self, name, texts):
        """Label each feature of ``name`` at a point inside it; shown when zoomed in, never overlapping."""
        layer = self.layers[name]
        for label in layer.labels:
            self.scene().removeItem(label)
        anchors = shapely.get_coordinates(shapely.point_on_surface(layer.geoms))
        font = QFont(self.font().family(), 8)
        layer.labels = []
        for (x, y), text in zip(anchors, texts):
            label = QGraphicsSimpleTextItem(str(text))
            label.setFont(font)
            label.setBrush(QColor("#1a1a1a"))
            label.setFlag(QGraphicsItem.ItemIgnoresTransformations)
            rect = label.boundingRect()
            label.setPos(x, -y)
            label.setTransform(label.transform().translate(-rect.width() / 2, -rect.height() / 2))
            label.setZValue(50)
            label.setVisible(False)
            self.scene().addItem(label)
            layer.labels.append(label)
        layer.label_xy = anchors
        self._label_timer.start()

    def _place_labels(self):
        """Show labels that fit: zoomed in enough, inside the view, not overlapping (greedy)."""
        mpp = self.metres_per_pixel()
        for layer in self.layers.values():
            if not layer.labels:
                continue
            show = np.zeros(len(layer.labels), dtype=bool)
            if mpp <= _LABEL_MAX_MPP and layer.group.isVisible():
                t = self.viewportTransform()
                px = layer.label_xy[:, 0] * t.m11() + t.dx()
                py = -layer.label_xy[:, 1] * t.m22() + t.dy()
                w, h = self.viewport().width(), self.viewport().height()
                taken = []
                for i in np.flatnonzero((px > 0) & (px < w) & (py > 0) & (py < h)):
                    r = layer.labels[i].boundingRect()
                    box = QRectF(px[i] - r.width() / 2, py[i] - r.height() / 2, r.width(), r.height())
                    if not any(box.intersects(other) for other in taken):
                        taken.append(box)
                        show[i] = True
            for label, visible in zip(layer.labels, show):
                label.setVisible(bool(visible))

    # -- selection ------------------------------------------------------------------------
    def set_selection(self, name, indices):
        """Highlight ``indices`` of layer ``name`` (and clear its previous highlight)."""
        layer = self.layers.get(name)
        if layer is None:
            return
        selected = np.zeros(len(layer.items), dtype=bool)
        selected[list(indices)] = True
        for i in np.flatnonzero(selected != layer.selected):
            item = layer.items[i]
            item.setPen(_SELECTED_PEN if selected[i] else layer.pens[i])
            item.setZValue(1 if selected[i] else 0)
        layer.selected = selected

    def pick(self, name, x, y, tolerance_px=4.0):
        """Indices of features of ``name`` at metric point (x, y), within a few pixels."""
        layer = self.layers.get(name)
        if layer is None or layer.tree is None:
            return []
        point = shapely.Point(x, y)
        hits = layer.tree.query(point, predicate="intersects")
        if len(hits) == 0:
            hits = layer.tree.query(point.buffer(tolerance_px * self.metres_per_pixel()), predicate="intersects")
        return sorted(int(i) for i in hits)

    def pick_box(self, name, rect):
        layer = self.layers.get(name)
        if layer is None or layer.tree is None:
            return []
        box = shapely.box(rect.left(), -rect.bottom(), rect.right(), -rect.top())
        return sorted(int(i) for i in layer.tree.query(box, predicate="intersects"))

    def snap(self, x, y):
        """Move a drawn point onto the nearest vertex, else edge, of the pick layer within ``snap_px`` pixels."""
        layer = self.layers.get(self.pick_layer)
        if layer is None or layer.tree is None or self.snap_px <= 0:
            return x, y
        tolerance = self.snap_px * self.metres_per_pixel()
        point = shapely.Point(x, y)
        near = layer.tree.query(point.buffer(tolerance))
        if len(near) == 0:
            return x, y
        edges = shapely.boundary(layer.geoms[near])
        vertices = shapely.get_coordinates(edges)
        distance = np.hypot(vertices[:, 0] - x, vertices[:, 1] - y)
        if distance.min() <= tolerance:
            return tuple(vertices[distance.argmin()])
        ends = shapely.get_coordinates(shapely.shortest_line(edges, point))[::2]
        distance = np.hypot(ends[:, 0] - x, ends[:, 1] - y)
        if distance.min() <= tolerance:
            return tuple(ends[distance.argmin()])
        return x, y

    # -- view -------------------------------------------------------------------------------
    def zoom_full(self):
        rect = self.scene().itemsBoundingRect()
        if not rect.isEmpty():
            # Room around the data, so the map can be panned even when it all fits the view.
            margin = max(rect.width(), rect.height())
            self.setSceneRect(rect.adjusted(-margin, -margin, margin, margin))
            self.fitInView(rect.adjusted(-300, -300, 300, 300), Qt.KeepAspectRatio)
        self.view_changed.emit()
        self._label_timer.start()

    def zoom_to(self, geoms, margin=0.3):
        minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(geoms, dtype=object))
        pad = max(maxx - minx, maxy - miny, 200.0) * margin
        self.fitInView(QRectF(minx - pad, -maxy - pad, maxx - minx + 2 * pad, maxy - miny + 2 * pad), Qt.KeepAspectRatio)
        self.view_changed.emit()
        self._label_timer.start()

    def zoom(self, factor):
        self.scale(factor, factor)
        self.view_changed.emit()
        self._label_timer.start()

    def metres_per_pixel(self):
        return 1.0 / max(abs(self.transform().m11()), 1e-12)

    def scrollContentsBy(self, dx, dy):
        super().scrollContentsBy(dx, dy)
        self._label_timer.start()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._label_timer.start()

    # -- tools --------------------------------------------------------------------------------
    def set_tool(self, tool):
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}")
        self._tool = tool
        self._cancel_line()
        self.setDragMode(QGraphicsView.ScrollHandDrag if tool == "pan" else QGraphicsView.NoDrag)
        self.viewport().setCursor(Qt.OpenHandCursor if tool == "pan" else Qt.CrossCursor)

    @property
    def tool(self):
        return self._tool

    def _cancel_line(self):
        self._line_points = []
        if self._line_item is not None:
            self.scene().removeItem(self._line_item)
            self._line_item = None

    def _draw_line_preview(self, hover=None):
        points = self._line_points + ([hover] if hover is not None else [])
        path = QPainterPath()
        if points:
            path.moveTo(points[0][0], -points[0][1])
            for x, y in points[1:]:
                path.lineTo(x, -y)
        if self._line_item is None:
            self._line_item = QGraphicsPathItem()
            pen = QPen(QColor("#d7301f"), 2.0, Qt.DashLine)
            pen.setCosmetic(True)
            self._line_item.setPen(pen)
            self._line_item.setZValue(100)
            self.scene().addItem(self._line_item)
        self._line_item.setPath(path)

    def _finish_line(self):
        coords = list(self._line_points)
        self._cancel_line()
        if len(coords) >= 2:
            self.line_drawn.emit(coords)

    # -- events ---------------------------------------------------------------------------------
    def wheelEvent(self, event):
        self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)

    def keyPressEvent(self, event):
        step = 80
        moves = {Qt.Key_Left: (-step, 0), Qt.Key_Right: (step, 0), Qt.Key_Up: (0, -step), Qt.Key_Down: (0, step)}
        if event.key() in moves:
            dx, dy = moves[event.key()]
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + dx)
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() + dy)
            self.view_changed.emit()
        elif event.key() in (Qt.Key_Plus, Qt.Key_Equal):
            self.zoom(1.25)
        elif event.key() == Qt.Key_Minus:
            self.zoom(0.8)
        elif event.key() in (Qt.Key_Return, Qt.Key_Enter) and self._tool == "line":
            self._finish_line()
        elif event.key() == Qt.Key_Escape:
            self._cancel_line()
        else:
            super().keyPressEvent(event)

    def _metric(self, pos):
        point = self.mapToScene(pos)
        return point.x(), -point.y()

    def mousePressEvent(self, event):
        if self._tool == "select" and event.button() == Qt.LeftButton:
            self._press = event.pos()
            return
        if self._tool == "line" and event.button() == Qt.LeftButton:
            self._line_points.append(self.snap(*self._metric(event.pos())))
            self._draw_line_preview()
            return
        if self._tool == "line" and event.button() == Qt.RightButton:
            self._finish_line()
            return
        if self._tool == "point" and event.button() == Qt.LeftButton:
            lon, lat = _TO_STORE.transform(*self._metric(event.pos()))
            self.point_picked.emit(lon, lat)
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event):
        if self._tool == "line":
            # The double click's own point ends the line unless its first press already added it.
            x, y = self.snap(*self._metric(event.pos()))
            tolerance = 3 * self.metres_per_pixel()
            if not self._line_points or np.hypot(x - self._line_points[-1][0], y - self._line_points[-1][1]) > tolerance:
                self._line_points.append((x, y))
            self._finish_line()
            return
        super().mouseDoubleClickEvent(event)

    def mouseMoveEvent(self, event):
        x, y = self._metric(event.pos())
        lon, lat = _TO_STORE.transform(x, y)
        if self.show_gcj02:
            glon, glat = wgs84_to_gcj02(np.array([lon]), np.array([lat]))
            lon, lat = float(glon[0]), float(glat[0])
        self.cursor_moved.emit(lon, lat)
        if self._tool == "select" and self._press is not None:
            rect = QRectF(self.mapToScene(self._press), self.mapToScene(event.pos())).normalized()
            if self._band is None:
                self._band = QGraphicsRectItem()
                pen = QPen(QColor("#2171b5"), 1.0, Qt.DashLine)
                pen.setCosmetic(True)
                self._band.setPen(pen)
                self._band.setBrush(QColor(33, 113, 181, 40))
                self._band.setZValue(100)
                self.scene().addItem(self._band)
            self._band.setRect(rect)
            return
        if self._tool == "line" and self._line_points:
            self._draw_line_preview((x, y))
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event):
        if self._tool == "select" and self._press is not None and event.button() == Qt.LeftButton:
            add = bool(event.modifiers() & Qt.ShiftModifier)
            moved = (event.pos() - self._press).manhattanLength() > 4
            if moved:
                rect = QRectF(self.mapToScene(self._press), self.mapToScene(event.pos())).normalized()
                hits = self.pick_box(self.pick_layer, rect)
            else:
                hits = self.pick(self.pick_layer, *self._metric(event.pos()))[:1]
            if self._band is not None:
                self.scene().removeItem(self._band)
                self._band = None
            self._press = None
            self.features_picked.emit(self.pick_layer, hits, add)
            return
        super().mouseReleaseEvent(event)
        if self._tool == "pan":
            self.view_changed.emit()
            self._label_timer.start()

    # -- overlays ---------------------------------------------------------------------------------
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
