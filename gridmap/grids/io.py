"""Read and write grid layers as shapefile, GeoPackage or GeoJSON, refusing bad input clearly.

Every problem raises :class:`gridmap.errors.GridMapError` with a one-line message that
names the file (and the feature, where there is one) and what is wrong, so the CLI can
exit with status 2 without a traceback and the project is never touched.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pyogrio
import shapely

from gridmap.crs import STORE_CRS, to_store
from gridmap.errors import GridMapError

__all__ = ["SUFFIX_DRIVERS", "SHAPEFILE_NAMES", "detect_dbf_encoding", "read_vector", "read_grids", "write_vector"]

SUFFIX_DRIVERS = {".shp": "ESRI Shapefile", ".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON"}

# dBASE field names hold at most 10 characters.
SHAPEFILE_NAMES = {
    "community_code": "comm_code",
    "subdistrict_code": "sub_code",
    "subdistrict": "subdist",
    "district_code": "dist_code",
}
_FROM_SHAPEFILE = {short: long for long, short in SHAPEFILE_NAMES.items()}

# China's extent with a margin; coordinates outside it are a wrong CRS or swapped axes.
_CHINA = (73.0, 3.0, 136.0, 54.0)


def detect_dbf_encoding(dbf_path):
    """Guess the text encoding of a .dbf: ``"UTF-8"`` when its records decode as UTF-8, else GB18030.

    Chinese shapefiles from desktop GIS are usually GBK with no .cpg. GB18030 is a
    superset of GBK and GB2312. Pure ASCII decodes as UTF-8, which is then harmless.
    Returns None when the records decode as neither.
    """
    data = Path(dbf_path).read_bytes()
    header_len = struct.unpack("<H", data[8:10])[0] if len(data) >= 10 else 0
    records = data[header_len:]
    for encoding in ("utf-8", "gb18030"):
        try:
            records.decode(encoding)
        except UnicodeDecodeError:
            continue
        return "UTF-8" if encoding == "utf-8" else "GB18030"
    return None


def _sidecar(path, suffix):
    for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if candidate.exists():
            return candidate
    return None


def read_vector(path, crs=None, encoding=None):
    """Read a vector file into a GeoDataFrame in EPSG:4490.

    Parameters
    ----------
    path : str or Path
        A shapefile, GeoPackage or GeoJSON file.
    crs : str, optional
        The CRS of the coordinates (an EPSG code, ``gcj02`` or ``bd09``); required when
        the file declares none, and overrides the file's when given.
    encoding : str, optional
        Text encoding of a shapefile's attributes; detected when omitted and the
        shapefile has no .cpg.

    Raises
    ------
    GridMapError
        For a missing or unreadable file, missing .shx/.dbf, an undecodable encoding,
        no features, no geometry, no CRS, or coordinates outside China (including
        swapped latitude/longitude).
    """
    path = Path(path)
    if not path.exists():
        raise GridMapError(f"{path}: file not found")
    if path.suffix.lower() not in SUFFIX_DRIVERS:
        raise GridMapError(f"{path}: not a shapefile, GeoPackage or GeoJSON file")
    if path.suffix.lower() == ".shp":
        for sidecar in (".shx", ".dbf"):
            if _sidecar(path, sidecar) is None:
                raise GridMapError(f"{path}: missing {sidecar} file beside the .shp")
        if encoding is None and _sidecar(path, ".cpg") is None:
            encoding = detect_dbf_encoding(_sidecar(path, ".dbf"))
            if encoding is None:
                raise GridMapError(f"{path}: text fields are neither UTF-8 nor GBK/GB18030; give --encoding")
    try:
        frame = pyogrio.read_dataframe(path, encoding=encoding, use_arrow=False)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise GridMapError(f"{path}: cannot read: {str(exc).splitlines()[0]}") from None
    except (UnicodeDecodeError, LookupError) as exc:
        raise GridMapError(f"{path}: cannot decode text as {encoding}: {exc}") from None
    if len(frame) == 0:
        raise GridMapError(f"{path}: contains no features")
    if not hasattr(frame, "geometry") or frame.geometry.isna().all():
        raise GridMapError(f"{path}: has no geometries (not a spatial layer)")
    if frame.crs is None and crs is None:
        raise GridMapError(f"{path}: has no CRS; give one with --crs (e.g. --crs 4490 or --crs gcj02)")
    try:
        frame = to_store(frame, crs)
    except ValueError as exc:
        raise GridMapError(f"{path}: {exc}") from None
    _check_extent(path, frame)
    return frame.rename(columns=_FROM_SHAPEFILE)


def _check_extent(path, frame):
    minx, miny, maxx, maxy = frame.total_bounds
    lo_x, lo_y, hi_x, hi_y = _CHINA
    if lo_x <= minx and maxx <= hi_x and lo_y <= miny and maxy <= hi_y:
        return
    if lo_y <= minx and maxx <= hi_y and lo_x <= miny and maxy <= hi_x:
        raise GridMapError(
            f"{path}: coordinates look like swapped latitude/longitude "
            f"(x {minx:.4f}..{maxx:.4f}, y {miny:.4f}..{maxy:.4f}); swap the axes and import again"
        )
    raise GridMapError(
        f"{path}: coordinates fall outside China in {STORE_CRS} "
        f"(x {minx:.4f}..{maxx:.4f}, y {miny:.4f}..{maxy:.4f}); is the CRS right?"
    )


def read_grids(path, crs=None, encoding=None):
    """Read a grid layer and check it can become a project's ``grids`` layer.

    On top of :func:`read_vector`'s checks: a ``grid_code`` column, only polygons,
    valid geometries (the message gives the feature's code and GEOS's reason), and
    unique codes.
    """
    frame = read_vector(path, crs=crs, encoding=encoding)
    if "grid_code" not in frame:
        raise GridMapError(f"{path}: no grid_code column (columns: {', '.join(map(str, frame.columns))})")
    frame["grid_code"] = frame["grid_code"].astype(str).str.strip()
    codes = frame["grid_code"].to_numpy()
    geoms = frame.geometry.values
    missing = np.flatnonzero(frame.geometry.isna().to_numpy() | shapely.is_empty(geoms))
    if len(missing):
        raise GridMapError(f"{path}: feature {codes[missing[0]]} has no geometry")
    wrong = np.flatnonzero(~np.isin(shapely.get_type_id(geoms), (3, 6)))
    if len(wrong):
        raise GridMapError(f"{path}: feature {codes[wrong[0]]} is a {geoms[wrong[0]].geom_type}, not a polygon")
    invalid = np.flatnonzero(~shapely.is_valid(geoms))
    if len(invalid):
        reason = shapely.is_valid_reason(geoms[invalid[0]])
        raise GridMapError(f"{path}: feature {codes[invalid[0]]} has an invalid geometry: {reason}")
    duplicated = frame["grid_code"].duplicated(keep=False)
    if duplicated.any():
        first = frame.loc[duplicated, "grid_code"].iloc[0]
        rows = np.flatnonzero(codes == first)
        raise GridMapError(f"{path}: duplicate grid_code {first} (features {', '.join(map(str, rows))})")
    return frame


def write_vector(frame, path):
    """Write ``frame`` to a shapefile (UTF-8 with .cpg), GeoPackage or GeoJSON, by suffix.

    Shapefile field names longer than ten characters are shortened with
    ``SHAPEFILE_NAMES`` (and restored by :func:`read_vector`).
    """
    path = Path(path)
    driver = SUFFIX_DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise GridMapError(f"{path}: choose a .shp, .gpkg or .geojson file name")
    options = {}
    if driver == "ESRI Shapefile":
        frame = frame.rename(columns=SHAPEFILE_NAMES)
        options["encoding"] = "UTF-8"
    path.parent.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(frame, path, driver=driver, layer=path.stem, **options)
    return path
