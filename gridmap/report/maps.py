"""Map drawing shared by the PDF report: polygons, legends, scale bar, north arrow, source line.

Maps are drawn in EPSG:4546 (metres), so a scale bar is a plain length on the x axis
and polygons go to the PDF as vector paths (one :class:`~matplotlib.collections.PathCollection`
per layer, not one patch per polygon). Colours come from
:func:`gridmap.app.layers.style_colours`, so a report's choropleth classes match what
the app shows for the same field.

Chinese text uses the bundled *GridMap Sans SC* font, registered with matplotlib's
font manager on first use (:func:`register_font`); the styles are applied with
:func:`matplotlib.rc_context` around each drawing, never set globally.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import shapely
from matplotlib import colormaps
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.transforms import blended_transform_factory

from gridmap.app.layers import LayerStyle, style_colours

__all__ = [
    "FONT_FAMILY",
    "add_legend",
    "add_north_arrow",
    "add_scale_bar",
    "choropleth",
    "draw_heatmap",
    "draw_lines",
    "draw_points",
    "draw_polygons",
    "fit_extent",
    "font_path",
    "label_areas",
    "label_points",
    "nice_length",
    "polygon_paths",
    "rc_params",
    "register_font",
]

FONT_FAMILY = "GridMap Sans SC"
# DejaVu Sans (shipped with matplotlib) draws the few glyphs outside GB 2312, such as
# the en dash of legend ranges, through matplotlib's per-glyph font fallback.
_FALLBACK = "DejaVu Sans"


def font_path() -> Path:
    """Path of the bundled CJK font (a GB 2312 subset of Noto Sans CJK SC)."""
    return Path(__file__).resolve().parent.parent / "resources" / "fonts" / "GridMapSansSC-Regular.otf"


def register_font() -> str:
    """Make the bundled font known to matplotlib (once per process); return its family name."""
    from matplotlib import font_manager

    path = str(font_path())
    if not any(entry.fname == path for entry in font_manager.fontManager.ttflist):
        font_manager.fontManager.addfont(path)
    return FONT_FAMILY


def rc_params(scale=1.0) -> dict:
    """matplotlib settings for report pages (use with :func:`matplotlib.rc_context`).

    ``pdf.fonttype`` 3 embeds a subset of every font as vector glyph procedures with
    a ToUnicode map, so ``pdftotext`` reads the Chinese back and printers need no
    fonts of their own; CFF-flavoured OpenType fonts such as Noto Sans CJK cannot be
    embedded as Type 42 without a font-type mismatch.
    """
    register_font()
    return {
        "font.family": [FONT_FAMILY, _FALLBACK],
        "font.size": 9 * scale,
        "axes.unicode_minus": False,
        "pdf.fonttype": 3,
        "pdf.compression": 6,
        "axes.linewidth": 0.6 * scale,
        "axes.titlesize": 10 * scale,
        "axes.labelsize": 8 * scale,
        "xtick.labelsize": 7.5 * scale,
        "ytick.labelsize": 7.5 * scale,
        "legend.fontsize": 7.5 * scale,
        "legend.title_fontsize": 8 * scale,
        "hatch.linewidth": 0.5 * scale,
    }


def _ring_path(coords):
    codes = np.full(len(coords), MplPath.LINETO, dtype=MplPath.code_type)
    codes[0] = MplPath.MOVETO
    codes[-1] = MplPath.CLOSEPOLY
    return coords, codes


def polygon_paths(geoms) -> list:
    """One matplotlib :class:`~matplotlib.path.Path` per (multi)polygon, holes kept.

    Empty or missing geometries give empty paths, so the result stays aligned with
    the input (one colour per row).
    """
    paths = []
    for geom in np.asarray(geoms, dtype=object):
        vertices, codes = [], []
        if geom is not None and not geom.is_empty:
            for part in shapely.get_parts(geom):
                if part.geom_type != "Polygon":
                    continue
                for ring in [part.exterior, *part.interiors]:
                    coords = np.asarray(ring.coords)[:, :2]
                    if len(coords) >= 3:
                        v, c = _ring_path(coords)
                        vertices.append(v)
                        codes.append(c)
        if vertices:
            paths.append(MplPath(np.concatenate(vertices), np.concatenate(codes)))
        else:
            paths.append(MplPath(np.zeros((0, 2))))
    return paths


def draw_polygons(ax, geoms, *, facecolor="none", edgecolor="#666666", linewidth=0.3, zorder=1,
                  alpha=None, paths=None, hatch=None):
    """Add polygons as one vector :class:`PathCollection`; ``facecolor`` may be per row."""
    paths = polygon_paths(geoms) if paths is None else paths
    collection = PathCollection(paths, facecolors=facecolor, edgecolors=edgecolor, linewidths=linewidth,
                                zorder=zorder, alpha=alpha, hatch=hatch)
    collection.set_transform(ax.transData)
    ax.add_collection(collection, autolim=False)
    return collection


def draw_lines(ax, geoms, *, color="#999999", linewidth=0.5, zorder=2, alpha=None, linestyle="solid"):
    """Add (multi)lines, or polygon boundaries, as one :class:`LineCollection`."""
    segments = []
    for geom in np.asarray(geoms, dtype=object):
        if geom is None or geom.is_empty:
            continue
        if geom.geom_type in ("Polygon", "MultiPolygon"):
            geom = geom.boundary
        for part in shapely.get_parts(geom):
            coords = np.asarray(part.coords)[:, :2]
            if len(coords) >= 2:
                segments.append(coords)
    collection = LineCollection(segments, colors=color, linewidths=linewidth, zorder=zorder, alpha=alpha,
                                linestyles=linestyle, capstyle="round", joinstyle="round")
    ax.add_collection(collection, autolim=False)
    return collection


def draw_points(ax, geoms, *, marker="o", size=12, color="#3182bd", edgecolor="white", linewidth=0.4,
                zorder=5, label=None):
    """Scatter point geometries (empty ones skipped)."""
    geoms = np.asarray(geoms, dtype=object)
    keep = np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)
    xy = shapely.get_coordinates(geoms[keep]) if keep.any() else np.zeros((0, 2))
    return ax.scatter(xy[:, 0], xy[:, 1], s=size, marker=marker, c=color, edgecolors=edgecolor,
                      linewidths=linewidth, zorder=zorder, label=label)


def fit_extent(ax, bounds, *, pad=0.04):
    """Set equal-scale limits showing ``bounds`` (xmin, ymin, xmax, ymax) in ``ax``'s box.

    The shorter side of the data is widened to the axes' aspect ratio, so a metre
    is as long across as up and the scale bar holds in both directions.
    """
    xmin, ymin, xmax, ymax = (float(v) for v in bounds)
    width, height = max(xmax - xmin, 1.0), max(ymax - ymin, 1.0)
    xmin, xmax = xmin - pad * width, xmax + pad * width
    ymin, ymax = ymin - pad * height, ymax + pad * height
    box = ax.get_position()
    fig_w, fig_h = ax.figure.get_size_inches()
    box_aspect = (box.height * fig_h) / (box.width * fig_w)
    width, height = xmax - xmin, ymax - ymin
    if height / width < box_aspect:
        grow = width * box_aspect - height
        ymin, ymax = ymin - grow / 2, ymax + grow / 2
    else:
        grow = height / box_aspect - width
        xmin, xmax = xmin - grow / 2, xmax + grow / 2
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])


def nice_length(span) -> float:
    """The largest 1, 2 or 5 times a power of ten not above ``span`` (metres).

    Examples
    --------
    >>> nice_length(3700), nice_length(0.8), nice_length(0)
    (2000.0, 0.5, 0.0)
    """
    if not span > 0:
        return 0.0
    power = 10.0 ** math.floor(math.log10(span))
    return float(max(step * power for step in (1, 2, 5) if step * power <= span))


def add_scale_bar(ax, *, x=0.04, y=0.04, fraction=0.22, fontsize=7, height=0.012):
    """Draw a four-segment scale bar at axes position (``x``, ``y``), about ``fraction`` wide."""
    xmin, xmax = ax.get_xlim()
    length = nice_length((xmax - xmin) * fraction)
    if length <= 0:
        return
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    start = xmin + x * (xmax - xmin)
    step = length / 4
    # A white card behind the bar keeps it legible over busy maps.
    span = length / (xmax - xmin)
    ax.add_patch(Rectangle((x - 0.012, y - 0.012), span + 0.06, height + 0.06, transform=ax.transAxes,
                           facecolor="white", edgecolor="none", alpha=0.85, zorder=19))
    for i in range(4):
        ax.add_patch(Polygon([(start + i * step, y), (start + (i + 1) * step, y),
                              (start + (i + 1) * step, y + height), (start + i * step, y + height)],
                             closed=True, transform=trans, facecolor="#333333" if i % 2 == 0 else "white",
                             edgecolor="#333333", linewidth=0.5, zorder=20))
    unit, divisor = ("公里", 1000.0) if length >= 1000 else ("米", 1.0)
    for value in (0, length / 2, length):
        text = f"{value / divisor:g}"
        if value == length:
            text += f" {unit}"
        ax.text(start + value, y + height + 0.008, text, transform=trans, ha="center", va="bottom",
                fontsize=fontsize, zorder=20, color="#333333")


def add_north_arrow(ax, *, x=0.95, y=0.9, size=0.05, fontsize=9):
    """Draw a north arrow centred at axes (``x``, ``y``).

    The map is drawn in Gauss-Krüger grid coordinates; around Yichang grid north is
    within 0.2° of true north (meridian convergence at 0.3° from the central
    meridian), far below what the arrow shows.
    """
    fig_w, fig_h = ax.figure.get_size_inches()
    box = ax.get_position()
    aspect = (box.width * fig_w) / (box.height * fig_h)
    half = size * 0.35
    tip, base, notch = y + size / 2 * aspect, y - size / 2 * aspect, y - size / 5 * aspect
    ax.add_patch(Polygon([(x, tip), (x - half, base), (x, notch)], closed=True, transform=ax.transAxes,
                         facecolor="#333333", edgecolor="#333333", linewidth=0.6, zorder=20))
    ax.add_patch(Polygon([(x, tip), (x + half, base), (x, notch)], closed=True, transform=ax.transAxes,
                         facecolor="white", edgecolor="#333333", linewidth=0.6, zorder=20))
    ax.text(x, tip + 0.01, "北", transform=ax.transAxes, ha="center", va="bottom", fontsize=fontsize,
            zorder=20, color="#333333")


def add_legend(ax, entries, *, title=None, loc="upper left", fontsize=7.5, ncol=1, frame=True, **kwargs):
    """Legend from ``entries``: ``(label, colour)`` pairs or ``(label, dict(kind=..., ...))``.

    A plain colour gives a filled box; a dict with ``kind="marker"`` (``marker``,
    ``color``, ``size``) or ``kind="line"`` (``color``, ``width``, ``style``) a
    symbol; ``edgecolor`` and ``hatch`` style boxes.
    """
    handles = []
    for label, spec in entries:
        if isinstance(spec, dict) and spec.get("kind") == "marker":
            handles.append(Line2D([], [], linestyle="none", marker=spec.get("marker", "o"),
                                  markersize=spec.get("size", 6), markerfacecolor=spec.get("color", "#333"),
                                  markeredgecolor=spec.get("edgecolor", "white"), markeredgewidth=0.6,
                                  label=label))
        elif isinstance(spec, dict) and spec.get("kind") == "line":
            handles.append(Line2D([], [], color=spec.get("color", "#333"), linewidth=spec.get("width", 1.2),
                                  linestyle=spec.get("style", "solid"), label=label))
        elif isinstance(spec, dict):
            handles.append(Patch(facecolor=spec.get("color", "none"), edgecolor=spec.get("edgecolor", "#777"),
                                 hatch=spec.get("hatch"), linewidth=0.5, label=label))
        else:
            handles.append(Patch(facecolor=spec, edgecolor="#777777", linewidth=0.4, label=label))
    legend = ax.legend(handles=handles, title=title, loc=loc, fontsize=fontsize, title_fontsize=fontsize + 0.5,
                       frameon=frame, framealpha=0.92, edgecolor="#bbbbbb", ncol=ncol, borderpad=0.6,
                       handlelength=1.6, handleheight=0.9, labelspacing=0.35, **kwargs)
    legend.set_zorder(30)
    legend._legend_box.align = "left"
    return legend


def label_areas(ax, areas, column="name", *, fontsize=8, color="#222222", halo="white", extra=None,
                zorder=25):
    """Write each area's name at a point inside it (with a white halo), clipped to the view."""
    import matplotlib.patheffects as effects

    xmin, xmax = ax.get_xlim()
    ymin, ymax = ax.get_ylim()
    points = shapely.point_on_surface(np.asarray(areas.geometry.values, dtype=object))
    for i, (label, point) in enumerate(zip(areas[column].astype(str), points)):
        if point is None or point.is_empty or not (xmin < point.x < xmax and ymin < point.y < ymax):
            continue
        text = label if extra is None else f"{label}\n{extra[i]}"
        ax.text(point.x, point.y, text, ha="center", va="center", fontsize=fontsize, color=color,
                zorder=zorder, clip_on=True,
                path_effects=[effects.withStroke(linewidth=2.2, foreground=halo)])


def label_points(ax, geoms, labels, *, fontsize=8, color="#222222", offset=(0, 7), zorder=26):
    """Label point geometries just above the symbol (offset in points), with a white halo."""
    import matplotlib.patheffects as effects

    for geom, label in zip(np.asarray(geoms, dtype=object), labels):
        if geom is None or geom.is_empty:
            continue
        ax.annotate(str(label), (geom.x, geom.y), xytext=offset, textcoords="offset points", ha="center",
                    va="bottom", fontsize=fontsize, color=color, zorder=zorder, annotation_clip=True,
                    path_effects=[effects.withStroke(linewidth=2.2, foreground="white")])


def choropleth(frame, column, *, classes=5, ramp="OrRd", scheme="natural_breaks", kind="graduated"):
    """Colours and legend for ``frame[column]``, classed like the app's layer styles."""
    style = LayerStyle(kind=kind, field=column, classes=classes, ramp=ramp, scheme=scheme)
    colours, legend = style_colours(frame, style)
    return np.asarray(colours, dtype=object), legend


def draw_heatmap(ax, heatmap, *, cmap="YlOrRd", alpha=0.85, max_pixels=900, zorder=3):
    """Show a :class:`gridmap.care.heatmap.Heatmap` in its own metric extent.

    The raster is block-averaged down to at most ``max_pixels`` on its longer side
    (a printed page resolves no more), and zero density is left transparent.
    """
    array = np.asarray(heatmap.array, dtype=float)
    factor = max(1, math.ceil(max(array.shape) / max_pixels))
    if factor > 1:
        rows, cols = (array.shape[0] // factor) * factor, (array.shape[1] // factor) * factor
        array = array[:rows, :cols].reshape(rows // factor, factor, cols // factor, factor).mean(axis=(1, 3))
        xmin, _, _, ymax = heatmap.bounds
        bounds = (xmin, ymax - rows * heatmap.cell_size, xmin + cols * heatmap.cell_size, ymax)
    else:
        bounds = heatmap.bounds
    peak = float(array.max()) if array.size else 0.0
    masked = np.ma.masked_less_equal(array, peak * 0.02 if peak > 0 else 0.0)
    xmin, ymin, xmax, ymax = bounds
    return ax.imshow(masked, extent=(xmin, xmax, ymin, ymax), origin="upper", cmap=colormaps[cmap],
                     alpha=alpha, zorder=zorder, interpolation="bilinear", vmin=0, vmax=peak or 1.0)
