"""Time the desktop app offscreen on the full demo: open, pan/zoom redraws, heatmap toggle, selection.

The obvious alternative for drawing is shown in the same run: geopandas' own
``GeoDataFrame.plot`` (matplotlib) of the same 1421 grids to a PNG.

Usage: python benchmarks/app.py [--demo DIR]   (builds the full demo into DIR if absent)
Goals: window ready < 2 s, median redraw < 30 ms, heatmap toggle < 0.5 s, table selection < 50 ms.
The last line is one JSON object.
"""

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--demo", default="demo")
    args = parser.parse_args()
    from gridmap.demo.build import build_demo

    path = Path(args.demo) / "yichang.gpkg"
    if not path.exists():
        build_demo(args.demo)
    from gridmap.app.main import make_application
    from gridmap.app.window import MainWindow
    from gridmap.care.heatmap import demand_heatmap, save_heatmap
    from gridmap.project import Project

    app = make_application(offscreen=True)
    start = time.perf_counter()
    window = MainWindow(path)
    window.show()
    app.processEvents()
    ready_s = time.perf_counter() - start

    canvas = window.canvas
    redraws = []
    for i in range(40):
        if i % 2:
            canvas.zoom(1.25 if i % 4 == 1 else 0.8)
        else:
            canvas.horizontalScrollBar().setValue(canvas.horizontalScrollBar().value() + (60 if i % 8 < 4 else -60))
        t = time.perf_counter()
        canvas.viewport().repaint()
        redraws.append(time.perf_counter() - t)
    redraw_ms = statistics.median(redraws) * 1000

    project = Project(path)
    if "care_heatmap" not in project.meta():
        save_heatmap(project, demand_heatmap(project))
    panel = window.workspace_panels["care"]
    toggles = []
    for _ in range(3):
        t = time.perf_counter()
        panel.toggle_heatmap(True)
        canvas.viewport().repaint()
        toggles.append(time.perf_counter() - t)
        panel.toggle_heatmap(False)
    heatmap_s = statistics.median(toggles)

    selects = []
    for row in (10, 700, 1400, 55, 999):
        t = time.perf_counter()
        window.table.select_rows([row])
        window.set_selection([row], from_table=True)
        app.processEvents()
        selects.append(time.perf_counter() - t)
    select_ms = statistics.median(selects) * 1000

    import geopandas as gpd
    import matplotlib

    matplotlib.use("Agg")
    grids = gpd.read_file(path, layer="grids")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        ax = grids.to_crs(4546).plot(column="district", edgecolor="grey", linewidth=0.2, figsize=(10, 9))
        ax.figure.savefig(Path(tmp) / "grids.png", dpi=100)
        plot_s = time.perf_counter() - t

    print(f"window ready with 1421 grids drawn: {ready_s:.2f} s")
    print(f"median redraw during pan/zoom: {redraw_ms:.1f} ms (alternative: geopandas .plot to PNG {plot_s:.2f} s)")
    print(f"heatmap toggle: {heatmap_s * 1000:.0f} ms")
    print(f"select a grid in the 1421-row attribute table: {select_ms:.1f} ms")
    print(json.dumps({"ready_s": round(ready_s, 3), "redraw_ms": round(redraw_ms, 2), "heatmap_toggle_s": round(heatmap_s, 3),
                      "table_select_ms": round(select_ms, 2), "geopandas_plot_s": round(plot_s, 3)}))


if __name__ == "__main__":
    main()
