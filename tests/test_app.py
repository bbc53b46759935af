"""The desktop window, driven offscreen with pytest-qt."""

import subprocess
import sys

import numpy as np
import pytest
from PyQt5.QtCore import QPoint, Qt
from PyQt5.QtGui import QImage

from gridmap.app.main import make_application
from gridmap.app.window import MainWindow

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, demo_project):
    make_application()
    win = MainWindow(demo_project)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def test_window_draws_every_grid_and_lists_layers(window):
    assert len(window.canvas.layers["grids"].childItems()) == 1421
    labels = [window.layer_list.item(i).text() for i in range(window.layer_list.count())]
    assert any(label.startswith("网格") and "1,421" in label for label in labels)
    assert "合成演示数据" in window.windowTitle()


def test_unticking_a_layer_hides_it(window, qtbot):
    item = next(window.layer_list.item(i) for i in range(window.layer_list.count())
                if window.layer_list.item(i).data(Qt.UserRole) == "grids")
    rect = window.layer_list.visualItemRect(item)
    # Click the check box at the left of the row.
    qtbot.mouseClick(window.layer_list.viewport(), Qt.LeftButton, pos=QPoint(rect.left() + 10, rect.center().y()))
    assert item.checkState() == Qt.Unchecked
    assert not window.canvas.layers["grids"].isVisible()


def test_mouse_move_reports_cgcs2000_coordinates(window, qtbot):
    qtbot.mouseMove(window.canvas.viewport(), QPoint(400, 300))
    text = window.coords.text()
    assert "CGCS2000" in text
    lon = float(text.split()[1])
    assert 111.0 < lon < 111.7


def test_wheel_and_keys_zoom(window):
    before = window.canvas.metres_per_pixel()
    window.canvas.zoom(2.0)
    assert window.canvas.metres_per_pixel() == pytest.approx(before / 2)


def test_screenshot_command_writes_a_drawn_png(demo_project, tmp_path):
    out = tmp_path / "shot.png"
    result = subprocess.run([sys.executable, "-m", "gridmap.cli", "app", str(demo_project), "--offscreen",
                             "--screenshot", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert image.width() >= 1000
    ptr = image.convertToFormat(QImage.Format_RGB32).constBits()
    ptr.setsize(image.height() * image.width() * 4)
    pixels = np.frombuffer(ptr, np.uint8).reshape(-1, 4)[:, :3]
    assert len(np.unique(pixels, axis=0)) > 50  # a map, not a blank window
