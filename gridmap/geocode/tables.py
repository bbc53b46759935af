"""Read registry tables (CSV in UTF-8, UTF-8 with BOM or GBK/GB18030; .xlsx) with clear refusals."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd

from gridmap.errors import GridMapError

__all__ = ["detect_text_encoding", "read_table", "rename_headers"]

_EXCEL = (".xlsx", ".xlsm")
_TEXT = (".csv", ".txt", ".tsv")


def detect_text_encoding(data):
    """Return ``"utf-8-sig"``, ``"utf-8"`` or ``"gb18030"`` for ``data`` (bytes), or None.

    Government exports come as UTF-8 (often with a BOM from Excel) or GBK; GB18030
    is the superset of GBK that Python decodes strictly.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    for encoding in ("utf-8", "gb18030"):
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return None


def read_table(path, encoding=None, sheet=0):
    """Read a CSV or .xlsx table as strings (every cell text, empty cells ``""``).

    Raises
    ------
    GridMapError
        For a missing file, a suffix that is not a table, undecodable text, binary
        content, an empty table, or a workbook that cannot be opened.
    """
    path = Path(path)
    if not path.exists():
        raise GridMapError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix in _EXCEL:
        try:
            frame = pd.read_excel(path, sheet_name=sheet, dtype=str, engine="openpyxl")
        except (zipfile.BadZipFile, ValueError, KeyError, OSError) as exc:
            raise GridMapError(f"{path}: not a readable .xlsx workbook ({exc})") from None
    elif suffix in _TEXT:
        data = path.read_bytes()
        if b"\x00" in data[:4096]:
            raise GridMapError(f"{path}: not a text table (binary content)")
        encoding = encoding or detect_text_encoding(data)
        if encoding is None:
            raise GridMapError(f"{path}: text is neither UTF-8 nor GBK/GB18030; give --encoding")
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise GridMapError(f"{path}: cannot decode as {encoding}: {exc}") from None
        if not text.strip():
            raise GridMapError(f"{path}: is empty")
        # Parsing bytes with the C engine is several times faster than parsing the str.
        sep = {".tsv": "\t", ".txt": None}.get(suffix, ",")
        try:
            frame = pd.read_csv(io.BytesIO(data), encoding=encoding, dtype=str, keep_default_na=False, sep=sep,
                                engine="python" if sep is None else "c")
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise GridMapError(f"{path}: not a table: {str(exc).splitlines()[0]}") from None
    else:
        raise GridMapError(f"{path}: not a CSV or .xlsx table")
    if len(frame) == 0:
        raise GridMapError(f"{path}: has a header but no rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.fillna("")


def rename_headers(frame, headers):
    """Rename known Chinese headers to field names; columns already named by field stay."""
    taken = set(frame.columns)
    mapping = {}
    for column in frame.columns:
        field = headers.get(column)
        if field is not None and field not in taken and field not in mapping.values():
            mapping[column] = field
    return frame.rename(columns=mapping)
