"""The project file: one GeoPackage holding every layer and table of a GridMap project.

A GeoPackage opens unchanged in QGIS and ``ogrinfo``, needs no server, and keeps
vector layers, attribute tables (review lists, edit log, settings) and metadata in
one SQLite file. Every write is atomic: the changes go into a copy beside the file,
which is flushed to disk and renamed over the original, so a save that dies half-way
leaves the previous project intact.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from gridmap.crs import STORE_CRS
from gridmap.errors import GridMapError

__all__ = ["META_TABLE", "GRID_COUNT_COLUMNS", "Project"]

META_TABLE = "gridmap_meta"
GRID_COUNT_COLUMNS = ["households", "population", "elderly_60", "elderly_80"]


def _fsync_dir(directory):
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class Project:
    """A GridMap project stored in one GeoPackage.

    The object holds only the path; every read goes to the file, so two views of the
    same project never disagree.

    Parameters
    ----------
    path : str or Path
        An existing ``.gpkg`` written by :meth:`create` (or any GeoPackage).
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.exists():
            raise GridMapError(f"{self.path}: project not found")
        try:
            pyogrio.list_layers(self.path)
        except pyogrio.errors.DataSourceError:
            raise GridMapError(f"{self.path}: not a GeoPackage project") from None

    def __repr__(self):
        return f"Project({str(self.path)!r})"

    @classmethod
    def create(cls, path, layers, meta=None):
        """Write a new project with ``layers`` (name -> (Geo)DataFrame) and ``meta``; return it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"crs": STORE_CRS, **(meta or {})}
        _atomic_write(path, {**layers, META_TABLE: _meta_frame(meta)}, start_from=None)
        return cls(path)

    def layer_names(self):
        """Names of the layers and tables in the file, in file order."""
        return [str(name) for name in pyogrio.list_layers(self.path)[:, 0]]

    def has_layer(self, name):
        return name in self.layer_names()

    def count(self, name):
        """Number of rows in layer ``name`` without reading it."""
        return int(pyogrio.read_info(self.path, layer=name)["features"])

    def read(self, name, columns=None, where=None):
        """Read layer or table ``name`` as a GeoDataFrame (spatial) or DataFrame.

        Parameters
        ----------
        columns : list of str, optional
            Read only these attribute columns (geometry is always read).
        where : str, optional
            An OGR SQL WHERE clause, e.g. ``"zone = 'gezhouba'"``.
        """
        if name not in self.layer_names():
            raise GridMapError(f"{self.path}: no layer {name!r} (has {', '.join(self.layer_names())})")
        frame = pyogrio.read_dataframe(self.path, layer=name, columns=columns, where=where, use_arrow=True)
        if isinstance(frame, gpd.GeoDataFrame) and frame.crs is None and frame.geometry.notna().any():
            frame = frame.set_crs(STORE_CRS)
        return frame

    def write(self, layers, drop=(), meta=None):
        """Replace (or add) ``layers``, remove those named in ``drop`` and update ``meta`` keys, atomically.

        One call is one copy of the file: pass results and their metadata together.
        """
        layers = dict(layers)
        if meta:
            layers[META_TABLE] = _meta_frame({**self.meta(), **meta})
        _atomic_write(self.path, layers, start_from=self.path, drop=drop)

    def meta(self):
        """The project's metadata as a dict (values decoded from JSON)."""
        if META_TABLE not in self.layer_names():
            return {}
        table = self.read(META_TABLE)
        return {k: json.loads(v) for k, v in zip(table["key"], table["value"])}

    def set_meta(self, **values):
        """Update metadata keys (values must be JSON-serialisable)."""
        self.write({}, meta=values)

    def info(self):
        """A summary for ``gridmap info``: CRS, layer row counts, grids and communities by zone."""
        names = self.layer_names()
        result = {
            "path": str(self.path),
            "crs": self.meta().get("crs", STORE_CRS),
            "synthetic": bool(self.meta().get("synthetic", False)),
            "layers": {name: self.count(name) for name in names if name != META_TABLE},
        }
        if "grids" in names:
            grids = self.read("grids", columns=["zone", "community_code", *GRID_COUNT_COLUMNS])
            result["grids_by_zone"] = {str(k): int(v) for k, v in grids["zone"].value_counts().sort_index().items()}
            communities = grids.groupby("zone")["community_code"].nunique().sort_index()
            result["communities_by_zone"] = {str(k): int(v) for k, v in communities.items()}
            result["totals"] = {c: int(grids[c].sum()) for c in GRID_COUNT_COLUMNS if c in grids}
        return result


def _meta_frame(meta):
    return pd.DataFrame({"key": list(meta), "value": [json.dumps(v, ensure_ascii=False) for v in meta.values()]})


def _atomic_write(path, layers, start_from, drop=()):
    """Write ``layers`` into a temporary copy of ``start_from`` and rename it over ``path``."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp.gpkg", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if start_from is not None:
            tmp.write_bytes(Path(start_from).read_bytes())
            existing = set(pyogrio.list_layers(tmp)[:, 0])
            for name in set(drop) & existing:
                _drop_layer(tmp, name)
        else:
            tmp.unlink()
        for name, frame in layers.items():
            _write_layer(tmp, name, frame)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_layer(path, name, frame):
    if isinstance(frame, gpd.GeoDataFrame):
        if frame.crs is None:
            frame = frame.set_crs(STORE_CRS)
        elif not frame.crs.equals(STORE_CRS):
            frame = frame.to_crs(STORE_CRS)
        pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG", use_arrow=True)
    else:
        pyogrio.write_dataframe(pd.DataFrame(frame), path, layer=name, driver="GPKG", use_arrow=True)


def _drop_layer(path, name):
    import sqlite3

    # GDAL has no layer deletion in pyogrio; the GeoPackage tables are plain SQLite.
    with contextlib.closing(sqlite3.connect(path)) as con:
        con.execute(f'DROP TABLE IF EXISTS "{name}"')
        for table in ("gpkg_contents", "gpkg_geometry_columns", "gpkg_ogr_contents"):
            con.execute(f"DELETE FROM {table} WHERE lower(table_name) = lower(?)", (name,))
        con.execute("DELETE FROM gpkg_extensions WHERE lower(table_name) = lower(?)", (name,))
        con.execute(f'DROP TABLE IF EXISTS "rtree_{name}_geom"')
        con.commit()
