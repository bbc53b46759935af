"""The project side of a grid edit: one transaction, the rows it reads, the points it re-assigns.

:mod:`gridmap.grids.edit` decides *what* an edit does to the grid polygons; this
module reads and writes the project for it, inside one SQLite transaction
(:class:`Transaction`):

- the grids an edit touches and their neighbours, through the layer's R-tree;
- the residents and facilities in the changed area, re-assigned to grids by point in
  polygon with :class:`~gridmap.geocode.assign.GridIndex` (:func:`reassign_points`),
  and the counts of every grid whose members changed (:func:`count_members`) — all
  members are counted, never apportioned by area;
- the communities, sub-districts and districts kept in step (:func:`level_changes`).

Only rows that change are written: the ``grid_code`` of the resident rows that moved,
not the 700,000-row layer.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import STORE_CRS
from gridmap.errors import GridMapError
from gridmap.geocode.assign import GridIndex
from gridmap.grids import editlog
from gridmap.grids.gpkg_rows import LayerTable, connect, decode_blob, decode_points, encode_blob
from gridmap.grids.topology import ON_EDGE_DEG, insert_vertices
from gridmap.project import GRID_COUNT_COLUMNS

__all__ = [
    "LEVEL_TABLES",
    "Grid",
    "Target",
    "Transaction",
    "apply_grid_changes",
    "bbox",
    "count_members",
    "level_changes",
    "reassign_points",
    "resident_points",
    "transaction",
]

LEVEL_TABLES = {"communities": "community_code", "subdistricts": "subdistrict_code", "districts": "district_code"}


@dataclass
class Grid:
    """A grid row as read: the row dict (geometry as the stored blob) and the decoded polygon."""

    row: dict
    geom: object

    @property
    def code(self):
        return self.row["grid_code"]

    @property
    def fid(self):
        return self.row["fid"]


@dataclass
class Target:
    """A grid as an edit leaves it: ``fid`` of the row it rewrites (None for a new row)."""

    fid: int | None
    attrs: dict
    geom: object

    @property
    def code(self):
        return self.attrs["grid_code"]


class Transaction:
    """One ``BEGIN IMMEDIATE`` … ``COMMIT`` on a project, with the SQL shapes of its layers."""

    def __init__(self, path):
        self.con = connect(path)
        self.con.execute("BEGIN IMMEDIATE")
        self.tables = {}
        for name in ("grids", "residents", "facilities", *LEVEL_TABLES):
            table = LayerTable.describe(self.con, name)
            if table is not None:
                self.tables[name] = table
        if "grids" not in self.tables:
            raise GridMapError(f"{path}: has no grids layer; import grids first")
        self.grids = self.tables["grids"]
        if "grid_code" not in self.grids.columns:
            raise GridMapError(f"{path}: the grids layer has no grid_code column")

    def read(self, where, params=()):
        return [Grid(row, decode_blob(row[self.grids.geom_col])) for row in self.grids.select(self.con, where, params)]

    def by_codes(self, codes):
        """The grids with ``codes``, in that order; ``no grid …`` for a missing one."""
        codes = [str(c) for c in codes]
        found = {g.code: g for g in self.read(f"grid_code IN ({','.join('?' * len(codes))})", codes)}
        for code in codes:
            if code not in found:
                raise GridMapError(f"no grid {code}")
        return [found[c] for c in codes]

    def in_bbox(self, box, exclude=()):
        """Grids whose envelope meets ``box``, except the fids in ``exclude``."""
        fids = sorted(set(self.grids.fids_in_bbox(self.con, box)) - set(exclude))
        return [Grid(r, decode_blob(r[self.grids.geom_col])) for r in self.grids.select_fids(self.con, fids)]

    def community(self, code):
        return self.read("community_code = ?", (code,))

    def locked(self):
        if not self.con.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (editlog.LOCK_TABLE,)).fetchone():
            return set()
        return {r[0] for r in self.con.execute(f"SELECT grid_code FROM {editlog.LOCK_TABLE}")}

    def next_codes(self, community_code, n):
        """``n`` unused grid codes of a community: its highest grid number plus one, and on."""
        codes = {r[0] for r in self.con.execute("SELECT grid_code FROM grids WHERE community_code = ?", (community_code,))}
        numbers = [int(c[-3:]) for c in codes if str(c)[-3:].isdigit() and str(c).startswith(community_code)]
        start = max(numbers, default=0) + 1
        if start + n - 1 > 999:
            raise GridMapError(f"community {community_code} has no free grid numbers left (001-999)")
        return [f"{community_code}{number:03d}" for number in range(start, start + n)]


@contextlib.contextmanager
def transaction(path):
    """A :class:`Transaction` committed on success and rolled back on any error (file unchanged)."""
    tx = Transaction(path)
    try:
        yield tx
        tx.con.execute("COMMIT")
    except BaseException:
        if tx.con.in_transaction:
            tx.con.execute("ROLLBACK")
        raise
    finally:
        tx.con.close()


def bbox(geoms):
    """(minx, miny, maxx, maxy) of non-None geometries."""
    b = shapely.bounds(np.asarray([g for g in geoms if g is not None], dtype=object))
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def resident_points(tx, grids):
    """Residents placed in ``grids``: x, y (EPSG:4490), household_id, building_id, grid_code."""
    table = tx.tables.get("residents")
    columns = ["x", "y", "household_id", "building_id", "grid_code"]
    if table is None or not grids:
        return pd.DataFrame({c: pd.Series(dtype=float if c in "xy" else object) for c in columns})
    wanted = [c for c in ("grid_code", "household_id", "building_id") if c in table.columns]
    names, rows = table.select_bbox(tx.con, bbox([g.geom for g in grids]), wanted)
    frame = pd.DataFrame(rows, columns=names)
    x, y = decode_points(frame[table.geom_col].tolist()) if len(frame) else (np.empty(0), np.empty(0))
    frame = frame.assign(x=x, y=y)
    for column in columns:
        if column not in frame:
            frame[column] = None
    keep = frame["grid_code"].isin({g.code for g in grids}).to_numpy() & np.isfinite(frame["x"].to_numpy(float))
    return frame.loc[keep, columns].reset_index(drop=True)


def reassign_points(tx, codes, geoms, area, removed):
    """Re-assign the residents and facilities inside ``area`` to the local grids.

    Parameters
    ----------
    codes, geoms : lists
        The grids after the edit: the edited ones and every grid whose envelope meets
        ``area`` (so the smallest-code rule on shared boundaries sees all candidates).
    area : tuple
        Bounding box of the changed area (before and after).
    removed : set
        Codes that no longer exist; a point left in one of them is an error.

    Returns
    -------
    dict
        layer -> (table, frame of the points read with their new ``grid_code``,
        indices of the points that moved, their old codes).
    """
    index = GridIndex(gpd.GeoDataFrame({"grid_code": codes}, geometry=list(geoms), crs=STORE_CRS))
    points = {}
    for layer, extra in (("residents", ["household_id", "age"]), ("facilities", ["kind"])):
        table = tx.tables.get(layer)
        if table is None or "grid_code" not in table.columns:
            continue
        cols = ["grid_code"] + [c for c in extra if c in table.columns]
        names, rows = table.select_bbox(tx.con, area, cols)
        frame = pd.DataFrame(rows, columns=names)
        x, y = decode_points(frame[table.geom_col].tolist()) if len(frame) else (np.empty(0), np.empty(0))
        old = frame["grid_code"].to_numpy(dtype=object)
        new = index.assign(x, y)
        # Points in no local grid (a gap) keep their code unless their grid is gone.
        new = np.where(pd.isna(new), old, new)
        moved = np.flatnonzero(new != old)
        stranded = np.isin(new, list(removed))
        if stranded.any():
            raise GridMapError(f"{int(stranded.sum())} {layer} in grid {new[stranded][0]} would fall outside every grid")
        frame["grid_code"] = new
        points[layer] = (table, frame.drop(columns=[table.geom_col]), moved, old)
    return points


def count_members(tx, points, codes, geom_of, complete):
    """Counts of the grids ``codes`` from all their residents and facilities.

    ``points`` comes from :func:`reassign_points`; grids not in ``complete`` (whose
    members may lie beyond the area read there) have the rest of their points read
    from their envelope (``geom_of``). Returns code -> {column: count} for the count
    columns the grids layer has (households, population, elderly_60, elderly_80,
    fac_<kind>; candidate sites are proposals, not services, and are not counted).
    """
    count_cols = [c for c in tx.grids.columns if c in GRID_COUNT_COLUMNS or c.startswith("fac_")]
    result = {code: dict.fromkeys(count_cols, 0) for code in codes}
    if not codes:
        return result
    frames = {}
    for layer, (table, frame, _, _) in points.items():
        outside = [c for c in codes if c in geom_of and c not in complete]
        if outside:
            names, rows = table.select_bbox(tx.con, bbox([geom_of[c] for c in outside]),
                                            [c for c in frame.columns if c != table.fid_col])
            more = pd.DataFrame(rows, columns=names).drop(columns=[table.geom_col])
            more = more[~more[table.fid_col].isin(frame[table.fid_col])]
            frame = pd.concat([frame, more], ignore_index=True)
        frames[layer] = frame[frame["grid_code"].isin(codes)]
    residents = frames.get("residents")
    if residents is not None and len(residents):
        by = residents.groupby("grid_code")
        stats = {"population": by.size()}
        if "household_id" in residents:
            stats["households"] = by["household_id"].nunique()
        if "age" in residents:
            age = pd.to_numeric(residents["age"], errors="coerce")
            stats["elderly_60"] = (age >= 60).groupby(residents["grid_code"]).sum()
            stats["elderly_80"] = (age >= 80).groupby(residents["grid_code"]).sum()
        for column, series in stats.items():
            if column in count_cols:
                for code, value in series.items():
                    result[code][column] = int(value)
    facilities = frames.get("facilities")
    if facilities is not None and len(facilities) and "kind" in facilities:
        real = facilities[facilities["kind"] != "candidate"]
        for (code, kind), value in real.groupby(["grid_code", "kind"]).size().items():
            if f"fac_{kind}" in count_cols:
                result[code][f"fac_{kind}"] = int(value)
    return result


def apply_grid_changes(tx, changes, code_changes, when):
    """Write grid row changes (recording the fid SQLite gives new rows) and point code changes."""
    for change in changes:
        if change.action == "insert":
            change.fid = tx.grids.insert(tx.con, change.after)
        elif change.action == "delete":
            tx.grids.delete(tx.con, change.fid)
        else:
            tx.grids.update(tx.con, change.fid, change.after)
    for change in code_changes:
        tx.tables[change.layer].update_column(tx.con, change.column, change.fids, change.after)
    tx.grids.touch(tx.con, when)
    for change in code_changes:
        tx.tables[change.layer].touch(tx.con, when)


def level_changes(tx, rows, reshape_levels, created):
    """Keep communities, sub-districts and districts in step with the (written) grids.

    Writes and returns the row changes: ``grid_count`` of the units named in
    ``rows``; for the units in ``reshape_levels`` (level -> codes, after a move) the
    geometry dissolved again from their grids; and any vertex in ``created`` that lies
    on a unit's outline, inserted there too so the unit and its grids stay noded alike.
    """
    changes = []
    for level, code_col in LEVEL_TABLES.items():
        table = tx.tables.get(level)
        if table is None or code_col not in table.columns:
            continue
        codes = sorted({r.get(code_col) for r in rows if r.get(code_col)})
        found = {}
        for code in codes:
            for row in table.select(tx.con, f'"{code_col}" = ?', (code,)):
                found[row[table.fid_col]] = row
        if len(created) and table.geom_col:
            box = (*(created.min(axis=0) - ON_EDGE_DEG), *(created.max(axis=0) + ON_EDGE_DEG))
            for row in table.select_fids(tx.con, table.fids_in_bbox(tx.con, box)):
                found.setdefault(row[table.fid_col], row)
        written = False
        for fid in sorted(found):
            row = found[fid]
            code = row[code_col]
            diff = {}
            if "grid_count" in table.columns and code in codes:
                count = tx.con.execute(f'SELECT count(*) FROM grids WHERE "{code_col}" = ?', (code,)).fetchone()[0]
                if row.get("grid_count") != count:
                    diff["grid_count"] = count
            if table.geom_col and row[table.geom_col] is not None:
                if code in reshape_levels.get(level, ()):
                    geoms = [decode_blob(r[0]) for r in tx.con.execute(
                        f'SELECT "{tx.grids.geom_col}" FROM grids WHERE "{code_col}" = ?', (code,))]
                    shape = shapely.coverage_union_all(geoms)
                    if (table.geometry_type or "").upper().startswith("MULTI") and shape.geom_type == "Polygon":
                        shape = shapely.MultiPolygon([shape])
                    blob = encode_blob(shape, table.srs_id)
                    if blob != row[table.geom_col]:
                        diff[table.geom_col] = blob
                elif len(created):
                    shape = decode_blob(row[table.geom_col])
                    stitched = insert_vertices(shape, created)
                    if stitched is not shape:
                        diff[table.geom_col] = encode_blob(stitched, table.srs_id)
            if diff:
                table.update(tx.con, fid, diff)
                written = True
                before = {k: row[k] for k in diff}
                before[code_col] = row[code_col]
                changes.append(editlog.RowChange(level, fid, before, {**diff, code_col: row[code_col]}))
        if written:
            table.touch(tx.con, editlog._now())
    return changes
