"""Row-level reads and writes of a GeoPackage through SQLite, for edits that touch a few rows.

:meth:`gridmap.project.Project.write` rewrites whole layers into a copy of the file,
which is right for imports but costs seconds on a 280 MB project. A grid edit changes
a handful of grid rows and a few hundred resident rows, so the editor writes them
with SQL inside one SQLite transaction instead: SQLite's rollback journal makes that
transaction atomic and durable exactly like the copy-and-rename of ``Project.write``
(a crash leaves the previous state), at the cost of milliseconds.

A GeoPackage geometry is a small header (``GP``, version, flags, SRS id, optional
envelope) followed by ISO WKB (GeoPackage 1.3, clause 2.1.3). GDAL's R-tree triggers
call ``ST_IsEmpty``/``ST_MinX``/… which plain SQLite lacks; :func:`connect` registers
them so inserts keep the spatial index current.
"""

from __future__ import annotations

import sqlite3
import struct
from dataclasses import dataclass

import numpy as np
import shapely

__all__ = [
    "LayerTable",
    "connect",
    "decode_blob",
    "decode_blobs",
    "decode_points",
    "encode_blob",
]

_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_POINT_BLOB_BYTES = 29  # 8-byte header without envelope + 21-byte WKB point, as GDAL writes points


def _header_length(blob):
    return 8 + _ENVELOPE_BYTES[(blob[3] >> 1) & 0x07]


def decode_blob(blob):
    """Return the shapely geometry of one GeoPackage geometry blob (None for NULL)."""
    if blob is None:
        return None
    return shapely.from_wkb(bytes(blob[_header_length(blob):]))


def decode_blobs(blobs):
    """Return an object array of geometries for a sequence of GeoPackage blobs."""
    wkb = [None if b is None else bytes(b[_header_length(b):]) for b in blobs]
    return shapely.from_wkb(np.asarray(wkb, dtype=object))


def decode_points(blobs):
    """Return x and y arrays of point blobs (NaN for NULL or empty points).

    GDAL writes 2D points without an envelope, 29 bytes each, so the common case is
    one ``np.frombuffer`` over the joined blobs; anything else goes through WKB.
    """
    n = len(blobs)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    if n == 0:
        return x, y
    lengths = np.fromiter((0 if b is None else len(b) for b in blobs), dtype=np.int64, count=n)
    fast = np.flatnonzero(lengths == _POINT_BLOB_BYTES)
    if len(fast):
        raw = np.frombuffer(b"".join(blobs[i] for i in fast), dtype=np.uint8).reshape(-1, _POINT_BLOB_BYTES)
        # little-endian header without envelope, not empty; little-endian WKB point
        ok = ((raw[:, 3] & 0x3F) == 0x01) & (raw[:, 8] == 1) & (raw[:, 9] == 1) & (raw[:, 10:13] == 0).all(axis=1)
        coords = raw[ok, 13:29].copy().view("<f8").reshape(-1, 2)
        x[fast[ok]], y[fast[ok]] = coords[:, 0], coords[:, 1]
        slow = np.concatenate([fast[~ok], np.flatnonzero((lengths != _POINT_BLOB_BYTES) & (lengths > 0))])
    else:
        slow = np.flatnonzero(lengths > 0)
    if len(slow):
        geoms = decode_blobs([blobs[i] for i in slow])
        xy = shapely.get_coordinates(geoms, include_z=False)
        has = ~shapely.is_empty(geoms)
        x[slow[has]], y[slow[has]] = xy[:, 0], xy[:, 1]
    return x, y


def encode_blob(geom, srs_id):
    """Encode a shapely geometry as a GeoPackage blob with an XY envelope (None for None)."""
    if geom is None:
        return None
    wkb = shapely.to_wkb(geom, byte_order=1, flavor="iso", output_dimension=2)
    if shapely.is_empty(geom):
        return b"GP\x00" + bytes([0x11]) + struct.pack("<i", srs_id) + wkb
    minx, miny, maxx, maxy = shapely.bounds(geom)
    return b"GP\x00" + bytes([0x03]) + struct.pack("<i4d", srs_id, minx, maxx, miny, maxy) + wkb


def _envelope(blob):
    if blob is None:
        return None
    indicator = (blob[3] >> 1) & 0x07
    if indicator:
        order = "<" if blob[3] & 0x01 else ">"
        return struct.unpack_from(f"{order}4d", blob, 8)  # minx, maxx, miny, maxy
    geom = decode_blob(blob)
    if geom is None or shapely.is_empty(geom):
        return None
    minx, miny, maxx, maxy = shapely.bounds(geom)
    return minx, maxx, miny, maxy


def _st(index):
    def function(blob):
        env = _envelope(blob)
        return None if env is None else env[index]

    return function


def _st_is_empty(blob):
    if blob is None:
        return None
    if blob[3] & 0x10:
        return 1
    return int(bool(shapely.is_empty(decode_blob(blob))))


def connect(path):
    """Open a GeoPackage for row edits, with the ``ST_*`` functions GDAL's triggers call.

    The connection is in autocommit mode; callers open transactions with
    ``BEGIN IMMEDIATE`` so two editors never interleave.
    """
    con = sqlite3.connect(str(path), isolation_level=None, timeout=30.0)
    con.create_function("ST_IsEmpty", 1, _st_is_empty, deterministic=True)
    for index, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        con.create_function(name, 1, _st(index), deterministic=True)
    return con


def _quote(name):
    return '"' + str(name).replace('"', '""') + '"'


@dataclass
class LayerTable:
    """The SQLite shape of one GeoPackage layer: fid, geometry column, attribute columns, R-tree.

    Build with :meth:`describe`. Rows are dicts keyed by column name, the geometry
    under ``geom_col`` as its raw GeoPackage blob, so a row read and written back is
    unchanged byte for byte.
    """

    name: str
    fid_col: str
    geom_col: str | None
    columns: list
    srs_id: int
    geometry_type: str | None
    rtree: str | None

    @classmethod
    def describe(cls, con, name):
        info = con.execute(f"PRAGMA table_info({_quote(name)})").fetchall()
        if not info:
            return None
        fid_col = next((row[1] for row in info if row[5] == 1), "fid")
        geom = con.execute(
            "SELECT column_name, geometry_type_name, srs_id FROM gpkg_geometry_columns WHERE lower(table_name) = lower(?)",
            (name,),
        ).fetchone()
        geom_col, geometry_type, srs_id = (geom if geom else (None, None, 0))
        columns = [row[1] for row in info if row[1] not in (fid_col, geom_col)]
        rtree = None
        if geom_col is not None:
            candidate = f"rtree_{name}_{geom_col}"
            if con.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (candidate,)).fetchone():
                rtree = candidate
        return cls(name, fid_col, geom_col, columns, int(srs_id or 0), geometry_type, rtree)

    @property
    def all_columns(self):
        return [self.fid_col] + ([self.geom_col] if self.geom_col else []) + self.columns

    def select(self, con, where="", params=(), columns=None):
        """Rows as dicts (fid, geometry blob and ``columns`` or all attributes)."""
        cols = [self.fid_col] + ([self.geom_col] if self.geom_col else []) + list(columns or self.columns)
        sql = f"SELECT {', '.join(map(_quote, cols))} FROM {_quote(self.name)}"
        if where:
            sql += f" WHERE {where}"
        return [dict(zip(cols, row)) for row in con.execute(sql, params)]

    def select_fids(self, con, fids, columns=None):
        """Rows with the given fids, in fid order."""
        rows = []
        fids = [int(f) for f in fids]
        for start in range(0, len(fids), 500):
            chunk = fids[start:start + 500]
            rows += self.select(con, f"{_quote(self.fid_col)} IN ({','.join('?' * len(chunk))})", chunk, columns)
        return sorted(rows, key=lambda r: r[self.fid_col])

    def fids_in_bbox(self, con, bbox):
        """Fids whose envelope meets ``bbox`` (minx, miny, maxx, maxy), through the R-tree."""
        minx, miny, maxx, maxy = (float(v) for v in bbox)
        if self.rtree is None:
            rows = self.select(con, columns=[])
            keep = []
            for row in rows:
                env = _envelope(row[self.geom_col])
                if env and env[0] <= maxx and env[1] >= minx and env[2] <= maxy and env[3] >= miny:
                    keep.append(row[self.fid_col])
            return keep
        sql = f"SELECT id FROM {_quote(self.rtree)} WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?"
        return [row[0] for row in con.execute(sql, (maxx, minx, maxy, miny))]

    def select_bbox(self, con, bbox, columns=None):
        """Rows whose envelope meets ``bbox``, as a tuple list with the column names.

        Returns ``(names, rows)``; tuples keep large point queries cheap.
        """
        cols = [self.fid_col] + ([self.geom_col] if self.geom_col else []) + list(columns or self.columns)
        minx, miny, maxx, maxy = (float(v) for v in bbox)
        select = ", ".join("t." + _quote(c) for c in cols)
        if self.rtree is None:
            names, rows = cols, con.execute(f"SELECT {', '.join(map(_quote, cols))} FROM {_quote(self.name)}").fetchall()
            x, y = decode_points([r[1] for r in rows])
            keep = (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)
            return names, [r for r, k in zip(rows, keep) if k]
        sql = (
            f"SELECT {select} FROM {_quote(self.rtree)} r JOIN {_quote(self.name)} t ON t.{_quote(self.fid_col)} = r.id "
            "WHERE r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ?"
        )
        return cols, con.execute(sql, (maxx, minx, maxy, miny)).fetchall()

    def insert(self, con, row):
        """Insert one row (a dict; a missing fid lets SQLite choose); return its fid."""
        cols = [c for c in self.all_columns if c in row]
        sql = f"INSERT INTO {_quote(self.name)} ({', '.join(map(_quote, cols))}) VALUES ({', '.join('?' * len(cols))})"
        return con.execute(sql, [row[c] for c in cols]).lastrowid

    def delete(self, con, fid):
        con.execute(f"DELETE FROM {_quote(self.name)} WHERE {_quote(self.fid_col)} = ?", (int(fid),))

    def update(self, con, fid, values):
        if not values:
            return
        cols = list(values)
        sql = f"UPDATE {_quote(self.name)} SET {', '.join(f'{_quote(c)} = ?' for c in cols)} WHERE {_quote(self.fid_col)} = ?"
        con.execute(sql, [values[c] for c in cols] + [int(fid)])

    def update_column(self, con, column, fids, values):
        """Set ``column`` of the rows ``fids`` to ``values`` (one statement, many rows)."""
        sql = f"UPDATE {_quote(self.name)} SET {_quote(column)} = ? WHERE {_quote(self.fid_col)} = ?"
        con.executemany(sql, zip(values, (int(f) for f in fids)))

    def touch(self, con, when):
        """Stamp ``gpkg_contents.last_change`` as GDAL does after a write."""
        con.execute("UPDATE gpkg_contents SET last_change = ? WHERE lower(table_name) = lower(?)", (when, self.name))
