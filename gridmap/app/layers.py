"""Layer styling: which colour each feature gets and what the legend says. No Qt here.

Kept apart from the Qt views (as napari keeps its layer models apart from ``_qt``),
so styles can be tested without a display and reused by reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import jenkspy
import numpy as np
import pandas as pd

__all__ = ["CATEGORY_COLOURS", "RAMPS", "LayerStyle", "style_colours"]

CATEGORY_COLOURS = ["#8dd3c7", "#fdb462", "#bebada", "#fb8072", "#80b1d3", "#b3de69", "#fccde5", "#d9d9d9",
                    "#bc80bd", "#ccebc5", "#ffed6f"]
# Sequential ramps (ColorBrewer), light to dark, 5 and 7 classes.
RAMPS = {
    "OrRd": ["#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000", "#7f0000", "#4d0000"],
    "Blues": ["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c", "#08306b", "#041a3d"],
    "YlGn": ["#ffffcc", "#c2e699", "#78c679", "#31a354", "#006837", "#00441b", "#002a10"],
}


@dataclass
class LayerStyle:
    """How a layer is drawn.

    ``kind`` is ``single`` (one ``colour``), ``categorized`` (a colour per value of
    ``field``) or ``graduated`` (``classes`` classes of numeric ``field`` by
    ``scheme``: ``natural_breaks`` (Fisher-Jenks) or ``quantiles``).
    """

    kind: str = "single"
    field: str | None = None
    colour: str = "#9ecae1"
    scheme: str = "natural_breaks"
    classes: int = 5
    ramp: str = "OrRd"
    opacity: float = 0.85
    outline: str = "#666666"
    outline_width: float = 0.6
    labels: str | None = None  # column to label features with
    visible: bool = True


def _format(value):
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:,.2f}"


def style_colours(frame, style):
    """Return ``(colours, legend)`` for ``frame`` under ``style``.

    ``colours`` is an array of ``#rrggbb`` strings, one per row; ``legend`` a list of
    ``(label, colour)`` pairs. Missing values are grey and get their own legend entry.
    """
    n = len(frame)
    if style.kind == "single" or style.field is None or style.field not in frame:
        return np.full(n, style.colour, dtype=object), [("", style.colour)]
    values = frame[style.field]
    if style.kind == "categorized":
        categories = sorted(values.dropna().astype(str).unique())
        lookup = {c: CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)] for i, c in enumerate(categories)}
        colours = values.astype(str).map(lookup).fillna("#bdbdbd").to_numpy(dtype=object)
        return colours, list(lookup.items())
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(numbers)
    colours = np.full(n, "#bdbdbd", dtype=object)
    legend = []
    distinct = np.unique(numbers[finite])
    if len(distinct) == 0:
        return colours, [("无数据", "#bdbdbd")]
    k = int(min(style.classes, len(distinct), len(RAMPS[style.ramp])))
    if k < 2:
        bins = np.array([distinct[-1]])
    elif style.scheme == "quantiles":
        bins = np.unique(np.quantile(numbers[finite], np.linspace(0, 1, k + 1)[1:]))
    else:
        bins = np.asarray(jenkspy.jenks_breaks(numbers[finite], n_classes=k)[1:])
    ramp = RAMPS[style.ramp]
    top = 4 if len(bins) <= 5 else len(ramp) - 1  # the darkest shades only when many classes
    palette = [ramp[round(i * top / (len(bins) - 1))] for i in range(len(bins))] if len(bins) > 1 else [ramp[2]]
    cls = np.searchsorted(bins, numbers[finite], side="left")
    colours[finite] = np.asarray(palette, dtype=object)[np.minimum(cls, len(bins) - 1)]
    lower = distinct[0]
    for upper, colour in zip(bins, palette):
        legend.append((f"{_format(lower)} – {_format(upper)}", colour))
        lower = upper
    if not finite.all():
        legend.append(("无数据", "#bdbdbd"))
    return colours, legend
