"""Start the desktop app, or render it off screen to a PNG (``gridmap app --screenshot``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["FONT_PATH", "run_app", "make_application"]

FONT_PATH = Path(__file__).resolve().parents[1] / "resources" / "fonts" / "GridMapSansSC-Regular.otf"
DEFAULT_PROJECT = Path("demo") / "yichang.gpkg"


def make_application(offscreen=False):
    """Return the QApplication with GridMap's bundled CJK font as the UI font."""
    if offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PyQt5.QtGui import QFont, QFontDatabase
    from PyQt5.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    font_id = QFontDatabase.addApplicationFont(str(FONT_PATH))
    families = QFontDatabase.applicationFontFamilies(font_id) if font_id >= 0 else []
    if families:
        app.setFont(QFont(families[0], 10))
    return app


def run_app(project=None, offscreen=False, screenshot=None, language="zh", workspace="planner"):
    """Open the main window on ``project`` (default ``demo/yichang.gpkg`` when it exists).

    With ``screenshot``, render the window (off screen when asked), save it as PNG and
    return 0 without entering the event loop.
    """
    from gridmap.errors import GridMapError

    app = make_application(offscreen=offscreen or screenshot is not None and not os.environ.get("DISPLAY"))
    from gridmap.app.window import MainWindow

    if project is None and DEFAULT_PROJECT.exists():
        project = DEFAULT_PROJECT
    if project is not None and not Path(project).exists():
        raise GridMapError(f"{project}: project not found (build the demo with `gridmap demo`)")
    window = MainWindow(project, language=language, workspace=workspace)
    window.show()
    if screenshot is not None:
        for _ in range(3):
            app.processEvents()
        window.canvas.zoom_full()
        app.processEvents()
        if not window.grab().save(str(screenshot), "PNG"):
            raise GridMapError(f"{screenshot}: cannot write the screenshot")
        window.close()
        return 0
    return app.exec_()
