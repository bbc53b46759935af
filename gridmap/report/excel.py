"""Write Excel workbooks: frozen Chinese headers, fitted columns, optionally byte-reproducible."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pandas as pd
from openpyxl.utils import get_column_letter

__all__ = ["finish_workbook", "pin_properties", "write_xlsx"]

_PINNED_ZIP_TIME = (2025, 12, 31, 0, 0, 0)


def _display_width(value):
    text = str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def write_xlsx(sheets, path, pinned_time=None):
    """Write ``sheets`` (sheet name -> DataFrame) to ``path`` as one workbook.

    Header rows are frozen and column widths fitted to the text (CJK counted double).
    With ``pinned_time`` (a datetime), document and zip timestamps are fixed, so the
    same frames give the same bytes: needed for the deterministic demo.
    """
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
            sheet = writer.sheets[name]
            sheet.freeze_panes = "A2"
            for i, column in enumerate(frame.columns, start=1):
                sample = frame[column].head(200).tolist()
                width = max([_display_width(column), *map(_display_width, sample)]) + 2
                sheet.column_dimensions[get_column_letter(i)].width = min(width, 60)
        pin_properties(writer.book, pinned_time)
    return finish_workbook(buffer, path, pinned_time)


def pin_properties(book, pinned_time):
    """Set a workbook's created/modified times (before saving) when ``pinned_time`` is given."""
    if pinned_time is not None:
        book.properties.created = pinned_time
        book.properties.modified = pinned_time


def finish_workbook(buffer, path, pinned_time=None):
    """Write the saved workbook in ``buffer`` to ``path``, pinning zip times when asked."""
    data = buffer.getvalue()
    if pinned_time is not None:
        data = _pin_zip(data, pinned_time)
    Path(path).write_bytes(data)
    return Path(path)


def _pin_zip(data, pinned_time):
    stamp = pinned_time.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                # openpyxl stamps the save time over the property we set.
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, content)
            pinned = zipfile.ZipInfo(info.filename, date_time=_PINNED_ZIP_TIME)
            pinned.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(pinned, content)
    return out.getvalue()
