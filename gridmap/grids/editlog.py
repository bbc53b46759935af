"""The grid edit log: every accepted edit as row changes, stored in the project for undo and redo.

An edit is recorded as what it did to rows, not how it was computed: deleted rows
(kept whole, geometry as its stored GeoPackage blob), inserted rows, updated columns
(old and new values) and the grid codes of resident and facility rows it changed.
Undo applies the inverse and redo the change again, so undo restores the grid layer
byte for byte whatever the geometry library would compute today, and both survive
closing the project because the log lives in it (issue 4).

Tables (registered in ``gpkg_contents`` as attribute tables, so QGIS and
:meth:`gridmap.project.Project.read` see them):

``grid_edits``
    one row per edit: ``time`` (UTC, ISO 8601), ``user``, ``operation``, ``params``
    (JSON), ``summary``, ``before_codes`` and ``after_codes`` (JSON lists) and
    ``state``: ``applied``, ``undone``, or ``discarded`` (undone, then superseded by
    a new edit, so no longer redoable).
``grid_edit_changes``
    the row changes of each edit: ``edit_id``, ``layer``, ``row_fid``, ``action``
    (``insert``/``delete``/``update``/``codes``), ``before_geom``/``after_geom``
    (GeoPackage blobs) and ``before``/``after`` attribute values as JSON.
``grid_locks``
    grid codes that edits must leave unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridmap.errors import GridMapError
from gridmap.grids.gpkg_rows import connect, decode_blob

__all__ = [
    "CHANGE_TABLE",
    "LOCK_TABLE",
    "LOG_TABLE",
    "CodeChange",
    "Edit",
    "RowChange",
    "apply_edit",
    "ensure_tables",
    "history",
    "history_geometries",
    "load_edit",
    "record",
    "redo_target",
    "set_state",
    "undo_target",
]

LOG_TABLE = "grid_edits"
CHANGE_TABLE = "grid_edit_changes"
LOCK_TABLE = "grid_locks"

_SCHEMA = {
    LOG_TABLE: (
        '"fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "time" TEXT, "user" TEXT, "operation" TEXT, '
        '"params" TEXT, "summary" TEXT, "before_codes" TEXT, "after_codes" TEXT, "state" TEXT'
    ),
    CHANGE_TABLE: (
        '"fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "edit_id" INTEGER, "layer" TEXT, "row_fid" INTEGER, '
        '"action" TEXT, "before_geom" BLOB, "after_geom" BLOB, "before" TEXT, "after" TEXT'
    ),
    LOCK_TABLE: '"fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "grid_code" TEXT UNIQUE, "time" TEXT, "user" TEXT',
}


@dataclass
class RowChange:
    """One row of one layer before and after an edit.

    ``before`` is None for an inserted row and ``after`` None for a deleted one; both
    hold the whole row then. For an update they hold only the changed columns. The
    geometry, when it is part of the change, is the raw blob under the layer's
    geometry column name.
    """

    layer: str
    fid: int | None
    before: dict | None
    after: dict | None

    @property
    def action(self):
        if self.before is None:
            return "insert"
        if self.after is None:
            return "delete"
        return "update"


@dataclass
class CodeChange:
    """New values of one column (the grid code) for many point rows, stored compactly."""

    layer: str
    column: str
    fids: list
    before: list
    after: list


@dataclass
class Edit:
    """An accepted edit: what the planner asked for and every row it changed."""

    operation: str
    params: dict
    summary: str
    before_codes: list
    after_codes: list
    rows: list = field(default_factory=list)
    codes: list = field(default_factory=list)
    id: int | None = None
    time: str | None = None
    user: str | None = None
    state: str | None = None


def _plain(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


def _split_geometry(values, geom_col):
    if values is None:
        return None, None
    attrs = {k: _plain(v) for k, v in values.items() if k != geom_col}
    return values.get(geom_col), json.dumps(attrs, ensure_ascii=False)


def _join_geometry(blob, text, geom_col, has_geometry):
    if text is None:
        return None
    values = json.loads(text)
    if has_geometry:
        values[geom_col] = blob
    return values


def ensure_tables(con):
    """Create the log and lock tables (and register them) if the project lacks them."""
    for name, columns in _SCHEMA.items():
        if con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone():
            continue
        con.execute(f'CREATE TABLE "{name}" ({columns})')
        con.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change, srs_id) "
            "VALUES (?, 'attributes', ?, '', strftime('%Y-%m-%dT%H:%M:%fZ','now'), 0)",
            (name, name),
        )
        if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_ogr_contents'").fetchone():
            con.execute("INSERT INTO gpkg_ogr_contents (table_name, feature_count) VALUES (?, NULL)", (name,))


def _has_log(con):
    return con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (LOG_TABLE,)).fetchone()


def record(con, edit, tables, user, when):
    """Append ``edit`` to the log (its rows already applied); drop the redo stack; return its id."""
    ensure_tables(con)
    con.execute(f"UPDATE {LOG_TABLE} SET state = 'discarded' WHERE state = 'undone'")
    cur = con.execute(
        f"INSERT INTO {LOG_TABLE} (time, user, operation, params, summary, before_codes, after_codes, state) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'applied')",
        (when, user, edit.operation, json.dumps(edit.params, ensure_ascii=False, default=_plain), edit.summary,
         json.dumps(list(edit.before_codes), ensure_ascii=False), json.dumps(list(edit.after_codes), ensure_ascii=False)),
    )
    edit_id = cur.lastrowid
    rows = []
    for change in edit.rows:
        geom_col = tables[change.layer].geom_col
        before_geom, before = _split_geometry(change.before, geom_col)
        after_geom, after = _split_geometry(change.after, geom_col)
        rows.append((edit_id, change.layer, change.fid, change.action, before_geom, after_geom, before, after))
    for change in edit.codes:
        before = json.dumps({"column": change.column, "fid": [int(f) for f in change.fids],
                             "values": [_plain(v) for v in change.before]}, ensure_ascii=False)
        after = json.dumps({"values": [_plain(v) for v in change.after]}, ensure_ascii=False)
        rows.append((edit_id, change.layer, None, "codes", None, None, before, after))
    con.executemany(
        f"INSERT INTO {CHANGE_TABLE} (edit_id, layer, row_fid, action, before_geom, after_geom, before, after) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    edit.id, edit.user, edit.time, edit.state = edit_id, user, when, "applied"
    return edit_id


def load_edit(con, edit_id, tables):
    """Read edit ``edit_id`` and its row changes back from the log."""
    head = con.execute(
        f"SELECT fid, time, user, operation, params, summary, before_codes, after_codes, state FROM {LOG_TABLE} "
        "WHERE fid = ?",
        (edit_id,),
    ).fetchone()
    if head is None:
        raise GridMapError(f"no edit {edit_id} in the log")
    edit = Edit(operation=head[3], params=json.loads(head[4] or "{}"), summary=head[5],
                before_codes=json.loads(head[6] or "[]"), after_codes=json.loads(head[7] or "[]"),
                id=head[0], time=head[1], user=head[2], state=head[8])
    cur = con.execute(
        f"SELECT layer, row_fid, action, before_geom, after_geom, before, after FROM {CHANGE_TABLE} "
        "WHERE edit_id = ? ORDER BY fid",
        (edit_id,),
    )
    for layer, fid, action, before_geom, after_geom, before, after in cur:
        if action == "codes":
            meta = json.loads(before)
            edit.codes.append(CodeChange(layer, meta["column"], meta["fid"], meta["values"], json.loads(after)["values"]))
            continue
        geom_col = tables[layer].geom_col if layer in tables else None
        edit.rows.append(RowChange(
            layer, fid,
            _join_geometry(before_geom, before, geom_col, before_geom is not None),
            _join_geometry(after_geom, after, geom_col, after_geom is not None),
        ))
    return edit


def undo_target(con):
    """Id of the edit that undo would revert (the last applied), or None."""
    if not _has_log(con):
        return None
    row = con.execute(f"SELECT max(fid) FROM {LOG_TABLE} WHERE state = 'applied'").fetchone()
    return row[0]


def redo_target(con):
    """Id of the edit that redo would apply again (the first undone), or None."""
    if not _has_log(con):
        return None
    row = con.execute(f"SELECT min(fid) FROM {LOG_TABLE} WHERE state = 'undone'").fetchone()
    return row[0]


def set_state(con, edit_id, state):
    con.execute(f"UPDATE {LOG_TABLE} SET state = ? WHERE fid = ?", (state, edit_id))


def _check_rows(con, table, changes, side, edit):
    """Refuse to replay when rows no longer hold what the edit left (or found) there."""
    fids = [c.fid for c in changes]
    current = {row[table.fid_col]: row for row in table.select_fids(con, fids)}
    for change in changes:
        expected = getattr(change, side)
        row = current.get(change.fid)
        if expected is None:
            if row is not None:
                break
            continue
        if row is None or any(row.get(k) != v for k, v in expected.items() if k != table.fid_col):
            break
    else:
        return
    code = (expected or {}).get("grid_code") or (row or {}).get("grid_code") or change.fid
    raise GridMapError(
        f"cannot {'undo' if side == 'after' else 'redo'} edit {edit.id} ({edit.operation}): "
        f"{table.name} row {code} was changed outside the editor since"
    )


def apply_edit(con, edit, tables, forward):
    """Apply ``edit`` again (``forward``) or revert it, after checking the rows are as it left them."""
    side_now, side_new = ("before", "after") if forward else ("after", "before")
    by_layer = {}
    for change in edit.rows:
        by_layer.setdefault(change.layer, []).append(change)
    for layer, changes in by_layer.items():
        _check_rows(con, tables[layer], changes, side_now, edit)
    for change in edit.codes:
        table = tables[change.layer]
        expected = dict(zip(change.fids, change.before if forward else change.after))
        rows = table.select_fids(con, change.fids, columns=[change.column])
        if len(rows) != len(expected) or any(r[change.column] != expected[r[table.fid_col]] for r in rows):
            raise GridMapError(
                f"cannot {'redo' if forward else 'undo'} edit {edit.id} ({edit.operation}): "
                f"{change.layer} grid codes were changed outside the editor since"
            )
    rows = edit.rows if forward else list(reversed(edit.rows))
    for change in rows:
        table = tables[change.layer]
        now, new = getattr(change, side_now), getattr(change, side_new)
        if new is None:
            table.delete(con, change.fid)
        elif now is None:
            table.insert(con, {**new, table.fid_col: change.fid})
        else:
            table.update(con, change.fid, new)
    for change in edit.codes:
        tables[change.layer].update_column(con, change.column, change.fids, change.after if forward else change.before)
    for layer in by_layer:
        tables[layer].touch(con, _now())


def _now():
    return pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def history(path):
    """The edit log of project ``path`` as a DataFrame, oldest first (empty when never edited).

    Columns: ``id``, ``time``, ``user``, ``operation``, ``state``, ``summary``,
    ``before_codes``, ``after_codes`` (lists) and ``params`` (dict).
    """
    columns = ["id", "time", "user", "operation", "state", "summary", "before_codes", "after_codes", "params"]
    con = connect(path)
    try:
        if not _has_log(con):
            return pd.DataFrame(columns=columns)
        rows = con.execute(
            f"SELECT fid, time, user, operation, state, summary, before_codes, after_codes, params FROM {LOG_TABLE} "
            "ORDER BY fid"
        ).fetchall()
    finally:
        con.close()
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("before_codes", "after_codes", "params"):
        frame[column] = [json.loads(v or "null") for v in frame[column]]
    return frame


def history_geometries(path):
    """Every grid geometry the log holds: one row per edit, side (before/after) and grid.

    Returns a GeoDataFrame in EPSG:4490 with ``edit_id``, ``time``, ``user``,
    ``operation``, ``state``, ``side``, ``grid_code`` and the geometry, for export
    (``gridmap grid history --export FILE``).
    """
    import geopandas as gpd

    from gridmap.crs import STORE_CRS

    columns = ["edit_id", "time", "user", "operation", "state", "side", "grid_code", "geometry"]
    con = connect(path)
    try:
        records = []
        if _has_log(con):
            cur = con.execute(
                f"SELECT e.fid, e.time, e.user, e.operation, e.state, c.before_geom, c.after_geom, c.before, c.after "
                f"FROM {CHANGE_TABLE} c JOIN {LOG_TABLE} e ON e.fid = c.edit_id "
                "WHERE c.layer = 'grids' AND c.action != 'codes' ORDER BY c.fid"
            )
            for edit_id, time, user, operation, state, before_geom, after_geom, before, after in cur:
                before = json.loads(before) if before else {}
                after = json.loads(after) if after else {}
                code_before = before.get("grid_code", after.get("grid_code"))
                code_after = after.get("grid_code", code_before)
                for side, blob, code in (("before", before_geom, code_before), ("after", after_geom, code_after)):
                    if blob is not None:
                        records.append((edit_id, time, user, operation, state, side, code, decode_blob(blob)))
    finally:
        con.close()
    frame = pd.DataFrame(records, columns=columns)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=STORE_CRS)
