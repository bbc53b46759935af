"""The grid editing engine: draw, split, merge, reshape, move, renumber and re-balance grids.

Every edit (issue 4) runs as one SQLite transaction on the project file and

1. reads only the grids it changes and their neighbours (through the R-tree);
2. computes the new polygons on the stored EPSG:4490 coordinates, so untouched
   vertices keep their exact bits, and adds any vertex it creates on a shared edge
   to the neighbour across that edge (:func:`gridmap.grids.topology.stitch`);
3. checks the rules — valid single polygons, no piece below the minimum area, no
   overlap or gap among the changed grids and their neighbours (areas in EPSG:4546,
   1 m² tolerance), the changed area still covers exactly what it covered, shared
   edges still noded when they were — and refuses with a one-line
   :class:`~gridmap.errors.GridMapError` otherwise, leaving the file unchanged;
4. re-assigns the residents and facilities in the affected area to grids with
   :class:`~gridmap.geocode.assign.GridIndex` (point in polygon, smallest code on a
   shared boundary) and recomputes the counts of every grid whose members changed
   (never apportioned by area);
5. writes the changed rows — grids, the ``grid_code`` of the resident and facility
   rows that moved (and nothing else of the 700,000-row residents layer), the
   ``grid_count`` (and, for a move, the geometry) of the communities, sub-districts
   and districts involved — and appends the edit to the log
   (:mod:`gridmap.grids.editlog`), then commits.

Undo and redo replay the logged row changes, so undo restores the grid layer byte
for byte, survives reopening the project, and needs no recomputation.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyproj
import shapely
import shapely.ops

from gridmap.crs import METRIC_CRS, STORE_CRS, parse_crs
from gridmap.errors import GridMapError
from gridmap.grids import editlog
from gridmap.grids.editstore import (
    LEVEL_TABLES,
    Target,
    apply_grid_changes,
    bbox,
    count_members,
    level_changes,
    reassign_points,
    resident_points,
    transaction,
)
from gridmap.grids.gpkg_rows import decode_blob, encode_blob
from gridmap.grids.topology import (
    ON_EDGE_DEG,
    faces_of,
    insert_vertices,
    owners_of,
    ring_vertices,
    shared_length,
    split_polygon,
    stitch,
)
from gridmap.grids.validate import AREA_TOLERANCE_M2
from gridmap.project import GRID_COUNT_COLUMNS

__all__ = [
    "DEFAULT_MIN_AREA_M2",
    "DEFAULT_SNAP_M",
    "EditResult",
    "GridEditor",
    "parse_geometry",
]

DEFAULT_MIN_AREA_M2 = 1000.0  # a grid smaller than ~30 m x 30 m is a digitising sliver, not a work area
DEFAULT_SNAP_M = 1.0  # drawn lines snap to existing vertices within a metre
_SEGMENTIZE_M = 10.0  # metric input is densified before reprojection so straight lines stay straight
_HIERARCHY = ["community_code", "community", "subdistrict_code", "subdistrict", "district_code", "district", "zone"]


def parse_geometry(value, crs=STORE_CRS):
    """Read a line or polygon given as a shapely geometry, WKT or GeoJSON, into EPSG:4490.

    Parameters
    ----------
    value : shapely.Geometry or str
        WKT (``LINESTRING (...)``) or GeoJSON (a geometry or a Feature).
    crs : str or int
        CRS of the coordinates: ``4490`` (default, longitude/latitude) or ``4546``
        (metres), or anything :func:`gridmap.crs.parse_crs` accepts.

    Examples
    --------
    >>> parse_geometry("LINESTRING (111.3 30.7, 111.301 30.7)").geom_type
    'LineString'
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            geom = shapely.from_geojson(text) if text.startswith("{") else shapely.from_wkt(text)
        except shapely.errors.GEOSException as exc:
            raise GridMapError(f"cannot read the geometry {text[:40]!r}: {str(exc).splitlines()[0]}") from None
    elif isinstance(value, shapely.Geometry):
        geom = value
    else:
        raise GridMapError(f"expected WKT, GeoJSON or a shapely geometry, got {type(value).__name__}")
    if geom is None or shapely.is_empty(geom):
        raise GridMapError("the geometry is empty")
    try:
        source = parse_crs(crs)
    except ValueError as exc:
        raise GridMapError(f"--crs: {exc}") from None
    if source in (STORE_CRS, "EPSG:4326"):
        return geom
    transformer = pyproj.Transformer.from_crs(source, STORE_CRS, always_xy=True)
    if pyproj.CRS(source).is_projected:
        geom = shapely.segmentize(geom, _SEGMENTIZE_M)
    return shapely.transform(geom, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


@dataclass
class EditResult:
    """What an accepted edit did.

    Attributes
    ----------
    edit_id : int or None
        Its number in the project's edit log (None when nothing changed).
    operation : str
    removed, added : list of str
        Grid codes that no longer exist / are new.
    changed : list of str
        Every grid whose row was written (the edited grids and any neighbour that
        gained a vertex or a resident on a shared boundary).
    households : dict
        Households of each grid the edit left (the edited grids), from the recount.
    summary : str
        One line for the log and the command line.
    """

    edit_id: int | None
    operation: str
    removed: list = field(default_factory=list)
    added: list = field(default_factory=list)
    changed: list = field(default_factory=list)
    households: dict = field(default_factory=dict)
    summary: str = ""


def _grid_name(attrs, code):
    community = attrs.get("community") or ""
    return f"{community}第{int(code[-3:])}网格" if str(code)[-3:].isdigit() else str(code)


class GridEditor:
    """Edit the grid coverage of a project, keeping it valid and every count current.

    The editor holds settings only; each operation opens the file, runs in one
    transaction and closes it, so the file is always the truth and an editor can be
    kept open by the app across other tools' writes.

    Parameters
    ----------
    project : str, Path or Project
        The project GeoPackage.
    user : str, optional
        Name recorded in the edit log (default: the login name).
    min_area_m2 : float
        Smallest grid an edit may leave, in square metres (slivers are refused).
    snap_m : float
        Snapping tolerance in metres: drawn vertices and crossings this close to an
        existing vertex are moved onto it.
    tolerance_m2 : float
        Overlap or gap area ignored by the checks (the validator's 1 m²).

    Examples
    --------
    >>> editor = GridEditor("demo/yichang.gpkg", user="planner")       # doctest: +SKIP
    >>> editor.merge(["420502001001001", "420502001001002"]).summary     # doctest: +SKIP
    'merge 420502001001001, 420502001001002 -> 420502001001001 (9 households)'
    >>> editor.undo().summary                                            # doctest: +SKIP
    """

    def __init__(self, project, *, user=None, min_area_m2=DEFAULT_MIN_AREA_M2, snap_m=DEFAULT_SNAP_M,
                 tolerance_m2=AREA_TOLERANCE_M2):
        self.path = Path(getattr(project, "path", project))
        if not self.path.exists():
            raise GridMapError(f"{self.path}: project not found")
        self.user = user or _login()
        self.min_area_m2 = float(min_area_m2)
        self.snap_m = float(snap_m)
        self.tolerance_m2 = float(tolerance_m2)
        self._forward = pyproj.Transformer.from_crs(STORE_CRS, METRIC_CRS, always_xy=True)
        self._inverse = pyproj.Transformer.from_crs(METRIC_CRS, STORE_CRS, always_xy=True)

    def __repr__(self):
        return f"GridEditor({str(self.path)!r}, user={self.user!r})"

    # ----------------------------------------------------------------- helpers
    def metric(self, geoms):
        """Geometries (EPSG:4490) transformed to EPSG:4546 metres."""
        return shapely.transform(
            np.asarray(geoms, dtype=object),
            lambda xy: np.column_stack(self._forward.transform(xy[:, 0], xy[:, 1])),
        )

    def metric_xy(self, x, y):
        """EPSG:4490 longitude/latitude arrays transformed to EPSG:4546 metres."""
        return self._forward.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))

    def store(self, geoms):
        """Geometries in EPSG:4546 metres transformed to EPSG:4490."""
        return shapely.transform(
            np.asarray(geoms, dtype=object),
            lambda xy: np.column_stack(self._inverse.transform(xy[:, 0], xy[:, 1])),
        )

    def _areas(self, geoms):
        return shapely.area(self.metric(geoms))

    def _scale(self, geom):
        """Metres per degree of longitude and of latitude near ``geom``."""
        c = shapely.get_coordinates(shapely.centroid(geom))[0]
        x, y = self._forward.transform([c[0], c[0] + 1e-3, c[0]], [c[1], c[1], c[1] + 1e-3])
        return np.hypot(x[1] - x[0], y[1] - y[0]) / 1e-3, np.hypot(x[2] - x[0], y[2] - y[0]) / 1e-3

    def _snap_deg(self, geom):
        """The snapping tolerance in degrees near ``geom`` (conservative: the longer metre-per-degree axis)."""
        return self.snap_m / max(self._scale(geom))

    def _small_area_m2(self, geoms, near):
        """Areas in m² of small pieces (slivers, overlaps), scaled from degrees at ``near``.

        Reprojecting a sliver's vertices would bend its long edges by millimetres and
        invent square metres of area; a local scale factor measures it faithfully.
        """
        mx, my = self._scale(near)
        return shapely.area(np.asarray(geoms, dtype=object)) * mx * my

    def _check_unlocked(self, tx, codes):
        locked = tx.locked() & {str(c) for c in codes}
        if locked:
            raise GridMapError(f"grid {min(locked)} is locked")

    # ------------------------------------------------------------- operations
    def split(self, grid_code, line, crs=STORE_CRS):
        """Split a grid along a drawn line; each piece becomes a grid.

        The largest piece keeps the grid's code (and row); the others get the next
        free numbers of the community. The line must cross the grid from one side to
        the other (parts outside the grid are ignored); crossings within ``snap_m`` of
        a vertex of the grid go through that vertex.

        Raises
        ------
        GridMapError
            ``line does not cross grid …``, ``piece smaller than the minimum area …``,
            ``grid … is locked`` or ``no grid …``.
        """
        line = parse_geometry(line, crs)
        if line.geom_type not in ("LineString", "MultiLineString"):
            raise GridMapError(f"split needs a line, got a {line.geom_type}")
        with transaction(self.path) as tx:
            (grid,) = tx.by_codes([grid_code])
            self._check_unlocked(tx, [grid.code])
            line = shapely.snap(line, shapely.multipoints(ring_vertices(grid.geom)), self._snap_deg(grid.geom))
            if not shapely.intersects(line, grid.geom) or shapely.length(shapely.intersection(line, grid.geom)) == 0:
                raise GridMapError(f"line does not cross grid {grid.code}")
            pieces = split_polygon(grid.geom, line)
            if len(pieces) < 2:
                raise GridMapError(f"line does not cross grid {grid.code} (it must run from one side to the other)")
            targets = self._pieces_to_targets(tx, grid, pieces)
            return self._commit(tx, "split", {"grid_code": grid.code, "line": shapely.to_wkt(line, rounding_precision=-1)},
                                [grid], targets)

    def split_parts(self, grid_code, parts, random_state=0):
        """Split a grid into ``parts`` grids with households as equal as its buildings allow.

        Buildings are never cut: building points are assigned to parts (see
        :mod:`gridmap.grids.balance`), then the part boundaries are drawn between them.
        """
        from gridmap.grids.balance import partition_area

        parts = int(parts)
        if parts < 2:
            raise GridMapError(f"--parts must be at least 2, got {parts}")
        with transaction(self.path) as tx:
            (grid,) = tx.by_codes([grid_code])
            self._check_unlocked(tx, [grid.code])
            residents = resident_points(tx, [grid])
            total = residents["household_id"].nunique()
            pieces = partition_area(self, grid.geom, residents, parts, (total / parts, total / parts),
                                    random_state=random_state)
            targets = self._pieces_to_targets(tx, grid, pieces)
            return self._commit(tx, "split_parts", {"grid_code": grid.code, "parts": parts}, [grid], targets)

    def merge(self, codes):
        """Merge two or more adjacent grids of one community into one (it keeps the smallest code).

        Raises
        ------
        GridMapError
            ``grids … are in different communities``, ``grids … are not adjacent``,
            ``grid … is locked``, ``no grid …``.
        """
        codes = list(dict.fromkeys(str(c) for c in codes))
        if len(codes) < 2:
            raise GridMapError("merge needs at least two different grid codes")
        with transaction(self.path) as tx:
            grids = tx.by_codes(codes)
            communities = {g.row["community_code"] for g in grids}
            if len(communities) > 1:
                a = grids[0]
                b = next(g for g in grids if g.row["community_code"] != a.row["community_code"])
                raise GridMapError(f"grids {a.code} and {b.code} are in different communities "
                                   f"({a.row['community_code']}, {b.row['community_code']})")
            self._check_unlocked(tx, codes)
            self._check_connected(grids)
            geoms = np.asarray([g.geom for g in grids], dtype=object)
            merged = shapely.coverage_union_all(geoms)
            if merged.geom_type != "Polygon" or not merged.is_valid:
                merged = shapely.union_all(geoms)
            keep = min(grids, key=lambda g: g.code)
            target = Target(keep.fid, _attrs(keep.row, tx.grids.geom_col), merged)
            return self._commit(tx, "merge", {"codes": codes}, grids, [target])

    def reshape(self, line, crs=STORE_CRS):
        """Move the boundary shared by two grids onto a drawn line; both change together.

        The line starts and ends on the shared boundary (within ``snap_m``) and runs
        through the two grids; the stretch of boundary between its ends is replaced by
        the line, so the area between them passes from one grid to the other.

        Raises
        ------
        GridMapError
            ``line must start and end on the boundary shared by two grids``,
            ``line leaves grids … and …``, ``grids … are in different communities``,
            ``reshape would split grid …``, ``piece smaller than the minimum area``,
            ``grid … is locked``.
        """
        line = parse_geometry(line, crs)
        if line.geom_type != "LineString":
            raise GridMapError(f"reshape needs a single line, got a {line.geom_type}")
        with transaction(self.path) as tx:
            tol = self._snap_deg(line)
            candidates = tx.in_bbox(_grow(shapely.bounds(line), tol))
            a, b, shared, q0, q1 = self._find_pair(candidates, line, tol)
            if a.row["community_code"] != b.row["community_code"]:
                raise GridMapError(f"grids {a.code} and {b.code} are in different communities "
                                   f"({a.row['community_code']}, {b.row['community_code']})")
            self._check_unlocked(tx, [a.code, b.code])
            coords = shapely.get_coordinates(line)
            coords[0], coords[-1] = q0, q1
            new_line = shapely.linestrings(coords)
            pair = shapely.union(a.geom, b.geom)
            outside = shapely.difference(new_line, pair)
            # Away from its ends the line must stay clear of the pair's outline: touching
            # it would pinch a grid or add a vertex to a third grid.
            length = shapely.length(new_line)
            inner = shapely.ops.substring(new_line, tol, length - tol) if length > 2 * tol else None
            if shapely.length(outside) > tol or (
                    inner is not None and shapely.distance(inner, shapely.boundary(pair)) < tol / 10):
                raise GridMapError(f"line leaves grids {a.code} and {b.code}")
            geom_a = _with_points(a.geom, [q0, q1])
            geom_b = _with_points(b.geom, [q0, q1])
            section = _section(shared, q0, q1)
            lens = shapely.union_all(shapely.get_parts(
                shapely.polygonize(shapely.get_parts(shapely.union_all([section, new_line])))))
            if lens is None or shapely.is_empty(lens) or shapely.area(lens) == 0:
                raise GridMapError("line does not change the boundary")
            faces = faces_of([shapely.boundary(geom_a), shapely.boundary(geom_b), new_line])
            owner = owners_of(faces, [geom_a, geom_b])
            flip = shapely.within(shapely.point_on_surface(faces), lens)
            owner = np.where(flip & (owner >= 0), 1 - owner, owner)
            targets = []
            for i, grid in enumerate((a, b)):
                mine = faces[owner == i]
                if len(mine) == 0:
                    raise GridMapError(f"reshape would remove grid {grid.code} entirely")
                geom = shapely.coverage_union_all(mine)
                if geom.geom_type != "Polygon":
                    raise GridMapError(f"reshape would split grid {grid.code} in two")
                targets.append(Target(grid.fid, _attrs(grid.row, tx.grids.geom_col), geom))
            params = {"line": shapely.to_wkt(new_line, rounding_precision=-1), "grids": [a.code, b.code]}
            return self._commit(tx, "reshape", params, [a, b], targets)

    def draw(self, polygon, community_code=None, crs=STORE_CRS):
        """Draw a new grid inside a community; it takes its area from the grids it overlaps.

        The polygon is clipped to the community (the one it overlaps most unless
        ``community_code`` is given) and fills any gap it covers. A grid it covers
        completely is absorbed; one it would cut in two is refused.
        """
        polygon = parse_geometry(polygon, crs)
        if polygon.geom_type != "Polygon":
            raise GridMapError(f"draw needs a polygon, got a {polygon.geom_type}")
        with transaction(self.path) as tx:
            tol = self._snap_deg(polygon)
            nearby = tx.in_bbox(_grow(shapely.bounds(polygon), tol))
            if not nearby:
                raise GridMapError("the polygon is outside every grid")
            ref = ring_vertices([g.geom for g in nearby])
            polygon = shapely.snap(polygon, shapely.multipoints(ref), tol)
            if not polygon.is_valid:
                raise GridMapError(f"the polygon is invalid: {shapely.is_valid_reason(polygon)}")
            if community_code is None:
                overlap = {}
                for g in nearby:
                    overlap[g.row["community_code"]] = overlap.get(g.row["community_code"], 0.0) + shapely.area(
                        shapely.intersection(g.geom, polygon))
                community_code = max(overlap, key=overlap.get)
            members = tx.community(community_code)
            if not members:
                raise GridMapError(f"no community {community_code}")
            shape = self._community_shape(tx, community_code, members)
            touched = [g for g in members if shapely.intersects(g.geom, polygon)]
            faces = faces_of([shapely.boundary(shape), shapely.boundary(polygon)]
                             + [shapely.boundary(g.geom) for g in touched])
            in_new = shapely.within(shapely.point_on_surface(faces), polygon) & shapely.within(
                shapely.point_on_surface(faces), shape)
            owner = owners_of(faces, [g.geom for g in touched])
            new_faces = faces[in_new]
            if len(new_faces) == 0:
                raise GridMapError(f"the polygon does not overlap community {community_code}")
            new_geom = shapely.coverage_union_all(new_faces)
            if new_geom.geom_type != "Polygon":
                raise GridMapError("the drawn grid would be in several pieces inside the community")
            before, targets = [], []
            for i, grid in enumerate(touched):
                rest = faces[(owner == i) & ~in_new]
                lost = faces[(owner == i) & in_new]
                if len(lost) == 0 or shapely.area(shapely.union_all(lost)) == 0:
                    continue
                before.append(grid)
                if len(rest) == 0:
                    continue  # covered completely: absorbed by the new grid
                geom = shapely.coverage_union_all(rest)
                if geom.geom_type != "Polygon":
                    raise GridMapError(f"the drawn grid would cut grid {grid.code} in two")
                targets.append(Target(grid.fid, _attrs(grid.row, tx.grids.geom_col), geom))
            self._check_unlocked(tx, [g.code for g in before])
            template = members[0].row
            (code,) = tx.next_codes(community_code, 1)
            attrs = {**{c: template.get(c) for c in _HIERARCHY if c in template}, "grid_code": code}
            attrs["grid_name"] = _grid_name(attrs, code)
            targets.append(Target(None, attrs, new_geom))
            params = {"polygon": shapely.to_wkt(new_geom, rounding_precision=-1), "community_code": community_code}
            return self._commit(tx, "draw", params, before, targets, grow_within=shape)

    def move(self, grid_code, community_code):
        """Move a grid to a neighbouring community: it takes that community's next free code.

        Raises
        ------
        GridMapError
            ``grid … does not border community …``, ``grid … is locked``,
            ``community … would have no grids``, ``moving … would split community …``.
        """
        with transaction(self.path) as tx:
            (grid,) = tx.by_codes([grid_code])
            self._check_unlocked(tx, [grid.code])
            source = grid.row["community_code"]
            if source == community_code:
                raise GridMapError(f"grid {grid.code} is already in community {community_code}")
            target_members = tx.community(community_code)
            if not target_members:
                raise GridMapError(f"no community {community_code}")
            if not any(shared_length(grid.geom, g.geom) > 0 for g in target_members
                       if shapely.intersects(grid.geom, g.geom)):
                raise GridMapError(f"grid {grid.code} does not border community {community_code}")
            source_members = [g for g in tx.community(source) if g.fid != grid.fid]
            if not source_members:
                raise GridMapError(f"community {source} would have no grids")
            before_parts = shapely.get_num_geometries(
                shapely.coverage_union_all([g.geom for g in source_members] + [grid.geom]))
            after_parts = shapely.get_num_geometries(shapely.coverage_union_all([g.geom for g in source_members]))
            if after_parts > before_parts:
                raise GridMapError(f"moving {grid.code} would split community {source} in two")
            template = target_members[0].row
            (code,) = tx.next_codes(community_code, 1)
            attrs = {**_attrs(grid.row, tx.grids.geom_col), **{c: template[c] for c in _HIERARCHY if c in template}}
            attrs["grid_code"] = code
            attrs["grid_name"] = _grid_name(attrs, code)
            params = {"grid_code": grid.code, "community_code": community_code}
            moved = {level: {grid.row[col], attrs[col]} for level, col in LEVEL_TABLES.items()
                     if grid.row.get(col) != attrs.get(col)}
            return self._commit(tx, "move", params, [grid], [Target(grid.fid, attrs, grid.geom)],
                                reshape_levels=moved)

    def renumber(self, community_code):
        """Renumber a community's grids 001, 002, … in reading order (north to south, west to east).

        Rows of grids are bands one typical grid high; within a band grids go west to
        east. Locked grids keep their codes; the others take the remaining numbers.
        Returns a result with ``edit_id`` None when the codes are already in order.
        """
        with transaction(self.path) as tx:
            members = tx.community(community_code)
            if not members:
                raise GridMapError(f"no community {community_code}")
            locked = tx.locked()
            free = [g for g in members if g.code not in locked]
            order = _reading_order(self.metric([g.geom for g in free]))
            taken = {int(g.code[-3:]) for g in members if g.code in locked}
            numbers = [n for n in range(1, len(members) + 1 + len(taken)) if n not in taken][: len(free)]
            targets, before = [], []
            for number, i in zip(numbers, order):
                grid = free[i]
                code = f"{community_code}{number:03d}"
                if code == grid.code:
                    continue
                attrs = _attrs(grid.row, tx.grids.geom_col)
                attrs["grid_code"] = code
                attrs["grid_name"] = _grid_name(attrs, code)
                before.append(grid)
                targets.append(Target(grid.fid, attrs, grid.geom))
            if not targets:
                return EditResult(None, "renumber", summary=f"community {community_code} is already in reading order")
            return self._commit(tx, "renumber", {"community_code": community_code}, before, targets)

    def propose_balance(self, community_code, k=None, target=(300, 500), locked=(), random_state=0,
                        time_limit=4.0, progress=None, cancelled=None):
        """Propose a re-division of a community into ``k`` grids of ``target`` households.

        See :func:`gridmap.grids.balance.propose_balance`; nothing is written until
        :meth:`apply_balance` accepts the proposal.
        """
        from gridmap.grids.balance import propose_balance

        return propose_balance(self, community_code, k=k, target=target, locked=locked,
                               random_state=random_state, time_limit=time_limit, progress=progress,
                               cancelled=cancelled)

    def apply_balance(self, proposal):
        """Accept a balance proposal: replace the community's unlocked grids with its parts.

        Refused when the grids changed since the proposal was made. Each part keeps
        the code of the old grid it overlaps most (one old grid per part); further
        parts take new codes.
        """
        from scipy.optimize import linear_sum_assignment

        with transaction(self.path) as tx:
            grids = tx.read(f"fid IN ({','.join('?' * len(proposal.fids))})", list(proposal.fids))
            current = {g.fid: g.row[tx.grids.geom_col] for g in grids}
            if current != proposal.blobs:
                raise GridMapError(f"the grids of community {proposal.community_code} changed since the proposal; "
                                   "balance again")
            self._check_unlocked(tx, [g.code for g in grids])
            grids.sort(key=lambda g: g.code)
            parts = list(proposal.geometries)
            overlap = np.array([[shapely.area(shapely.intersection(p, g.geom)) for g in grids] for p in parts])
            rows, cols = linear_sum_assignment(-overlap)
            match = dict(zip(rows, cols))
            extra = tx.next_codes(proposal.community_code, max(0, len(parts) - len(grids)))
            template = grids[0].row
            targets = []
            for i, part in enumerate(parts):
                if i in match:
                    old = grids[match[i]]
                    targets.append(Target(old.fid, _attrs(old.row, tx.grids.geom_col), part))
                else:
                    code = extra.pop(0)
                    attrs = {**{c: template.get(c) for c in _HIERARCHY if c in template}, "grid_code": code}
                    attrs["grid_name"] = _grid_name(attrs, code)
                    targets.append(Target(None, attrs, part))
            params = {"community_code": proposal.community_code, "k": len(parts),
                      "target": list(proposal.target), "locked": sorted(proposal.locked)}
            return self._commit(tx, "balance", params, grids, targets)

    # -------------------------------------------------------------- undo/redo
    def undo(self):
        """Revert the last applied edit (restoring the grid rows it changed byte for byte)."""
        return self._replay(forward=False)

    def redo(self):
        """Apply again the edit that was undone last."""
        return self._replay(forward=True)

    def _replay(self, forward):
        with transaction(self.path) as tx:
            tables = dict(tx.tables)
            target = editlog.redo_target(tx.con) if forward else editlog.undo_target(tx.con)
            if target is None:
                raise GridMapError(f"nothing to {'redo' if forward else 'undo'}")
            edit = editlog.load_edit(tx.con, target, tables)
            editlog.apply_edit(tx.con, edit, tables, forward)
            restored = [c for c in edit.rows if c.layer == "grids"]
            geom_col = tx.grids.geom_col
            new_side = "after" if forward else "before"
            blobs = [getattr(c, new_side).get(geom_col) for c in restored if getattr(c, new_side)]
            geoms = [decode_blob(b) for b in blobs if b is not None]
            if geoms:
                fids = {c.fid for c in restored}
                neighbours = [g.geom for g in tx.in_bbox(bbox(geoms), exclude=fids)]
                problem = self._overlap_problem(geoms, neighbours)
                if problem:
                    raise GridMapError(f"cannot {'redo' if forward else 'undo'} edit {edit.id}: {problem}")
            editlog.set_state(tx.con, edit.id, "applied" if forward else "undone")
            codes_from, codes_to = (edit.before_codes, edit.after_codes) if forward else (edit.after_codes, edit.before_codes)
            verb = "redo" if forward else "undo"
            return EditResult(edit.id, f"{verb} {edit.operation}", removed=sorted(set(codes_from) - set(codes_to)),
                              added=sorted(set(codes_to) - set(codes_from)),
                              changed=sorted({(getattr(c, new_side) or {}).get("grid_code") or "" for c in restored} - {""}),
                              summary=f"{verb} edit {edit.id}: {edit.summary}")

    def history(self):
        """The project's edit log as a DataFrame (see :func:`gridmap.grids.editlog.history`)."""
        return editlog.history(self.path)

    # ------------------------------------------------------------------ locks
    def lock(self, codes):
        """Lock grids: no edit or balance may change them until they are unlocked."""
        codes = [str(c) for c in codes]
        with transaction(self.path) as tx:
            tx.by_codes(codes)
            editlog.ensure_tables(tx.con)
            tx.con.executemany(
                f"INSERT OR IGNORE INTO {editlog.LOCK_TABLE} (grid_code, time, user) VALUES (?, ?, ?)",
                [(c, editlog._now(), self.user) for c in codes],
            )

    def unlock(self, codes):
        """Unlock grids."""
        with transaction(self.path) as tx:
            if tx.locked():
                tx.con.executemany(f"DELETE FROM {editlog.LOCK_TABLE} WHERE grid_code = ?", [(str(c),) for c in codes])

    def locked(self):
        """Codes of the locked grids."""
        with transaction(self.path) as tx:
            return sorted(tx.locked())

    # ------------------------------------------------------------ internals
    def _pieces_to_targets(self, tx, grid, pieces):
        pieces = sorted(pieces, key=lambda p: -shapely.area(p))
        codes = tx.next_codes(grid.row["community_code"], len(pieces) - 1)
        base = _attrs(grid.row, tx.grids.geom_col)
        targets = [Target(grid.fid, base, pieces[0])]
        for code, piece in zip(codes, pieces[1:]):
            attrs = {**{c: base.get(c) for c in _HIERARCHY if c in base}, "grid_code": code}
            attrs["grid_name"] = _grid_name(attrs, code)
            targets.append(Target(None, attrs, piece))
        return targets

    def _check_connected(self, grids):
        n = len(grids)
        adjacent = np.zeros((n, n), dtype=bool)
        for i in range(n):
            for j in range(i + 1, n):
                if shapely.intersects(grids[i].geom, grids[j].geom) and shared_length(grids[i].geom, grids[j].geom) > 0:
                    adjacent[i, j] = adjacent[j, i] = True
        seen, stack = {0}, [0]
        while stack:
            i = stack.pop()
            for j in np.flatnonzero(adjacent[i]):
                if j not in seen:
                    seen.add(int(j))
                    stack.append(int(j))
        if len(seen) < n:
            out = next(i for i in range(n) if i not in seen)
            if n == 2:
                raise GridMapError(f"grids {grids[0].code} and {grids[1].code} are not adjacent")
            raise GridMapError(f"grids {grids[out].code} and {grids[0].code} are not adjacent "
                               "(the grids must form one connected area)")

    def _find_pair(self, candidates, line, tol):
        start, end = shapely.get_point(line, 0), shapely.get_point(line, -1)
        best = None
        for i, a in enumerate(candidates):
            for b in candidates[i + 1:]:
                if not shapely.intersects(a.geom, b.geom):
                    continue
                shared = shapely.line_merge(shapely.intersection(shapely.boundary(a.geom), shapely.boundary(b.geom)))
                for part in shapely.get_parts(shared):
                    if part.geom_type != "LineString":
                        continue
                    if shapely.distance(start, part) > tol or shapely.distance(end, part) > tol:
                        continue
                    inside = shapely.length(shapely.intersection(line, shapely.union(a.geom, b.geom)))
                    if best is None or inside > best[0]:
                        best = (inside, a, b, part)
        if best is None:
            raise GridMapError("line must start and end on the boundary shared by two grids")
        _, a, b, part = best
        q0, q1 = (_snap_on_line(part, p, tol) for p in (start, end))
        if np.hypot(*(q0 - q1)) <= tol:
            raise GridMapError("line must start and end at two different points of the shared boundary")
        return a, b, part, q0, q1

    def _community_shape(self, tx, code, members):
        table = tx.tables.get("communities")
        if table is not None and "community_code" in table.columns:
            rows = table.select(tx.con, "community_code = ?", (code,), columns=["community_code"])
            if rows and rows[0][table.geom_col] is not None:
                return decode_blob(rows[0][table.geom_col])
        return shapely.coverage_union_all([g.geom for g in members])

    def _overlap_problem(self, changed, neighbours):
        """A one-line description of the first overlap among ``changed`` and ``neighbours``, or None."""
        geoms = np.asarray(list(changed) + list(neighbours), dtype=object)
        left, right = shapely.STRtree(geoms).query(geoms[: len(changed)], predicate="intersects")
        keep = left != right
        left, right = left[keep], right[keep]
        if len(left):
            areas = self._small_area_m2(shapely.intersection(geoms[left], geoms[right]), geoms[0])
            bad = np.flatnonzero(areas > self.tolerance_m2)
            if len(bad):
                return f"grids would overlap by {areas[bad[0]]:.1f} m²"
        return None

    def _commit(self, tx, operation, params, before, targets, *, grow_within=None, reshape_levels=None):
        """Check, recount, write and log an edit that replaces ``before`` grids by ``targets``."""
        geom_col = tx.grids.geom_col
        before_fids = {g.fid for g in before}
        neighbours = tx.in_bbox(bbox([g.geom for g in before] + [t.geom for t in targets]), exclude=before_fids)
        target_geoms, neighbour_geoms, touched = stitch([t.geom for t in targets], [g.geom for g in neighbours])
        for t, geom in zip(targets, target_geoms):
            t.geom = geom
        locked = tx.locked()
        for grid, was_touched in zip(neighbours, touched):
            if was_touched and grid.code in locked:
                raise GridMapError(f"grid {grid.code} is locked (the edit would add a vertex to its boundary)")
        self._check_rules(before, targets, neighbours, neighbour_geoms, grow_within)

        # Re-assign points in the changed area and recount every grid whose members changed.
        area = bbox([g.geom for g in before] + [t.geom for t in targets])
        removed_codes = {g.code for g in before} - {t.code for t in targets}
        points = reassign_points(tx, [t.code for t in targets] + [g.code for g in neighbours],
                                 [t.geom for t in targets] + list(neighbour_geoms), area, removed_codes)
        recount_codes = {t.code for t in targets}
        for _, _, moved, old in points.values():
            recount_codes |= set(old[moved])
        for _, frame, moved, _ in points.values():
            recount_codes |= set(frame["grid_code"].to_numpy()[moved])
        recount_codes -= removed_codes
        geom_of = {t.code: t.geom for t in targets}
        geom_of.update({g.code: geom for g, geom in zip(neighbours, neighbour_geoms)})
        counts = count_members(tx, points, recount_codes, geom_of, complete={t.code for t in targets})

        # Rows: targets, removed grids, neighbours that gained a vertex or members.
        count_cols = [c for c in tx.grids.columns if c in GRID_COUNT_COLUMNS or c.startswith("fac_")]
        changes = []
        by_fid = {g.fid: g for g in before}
        for t in targets:
            full = {**t.attrs, **counts.get(t.code, {c: 0 for c in count_cols}), geom_col: _encode(t.geom, tx.grids)}
            full = {c: full.get(c) for c in [geom_col] + tx.grids.columns}
            if t.fid is None:
                changes.append(editlog.RowChange("grids", None, None, full))
                continue
            old_row = by_fid[t.fid].row
            diff = {c: v for c, v in full.items() if old_row.get(c) != v}
            if old_row.get(geom_col) is not None and full[geom_col] is not None and \
                    shapely.equals_exact(by_fid[t.fid].geom, t.geom, 0.0) and \
                    shapely.get_num_coordinates(by_fid[t.fid].geom) == shapely.get_num_coordinates(t.geom):
                diff.pop(geom_col, None)  # same coordinates: keep the stored bytes
            if diff:
                changes.append(_update("grids", old_row, diff))
        kept = {t.fid for t in targets if t.fid is not None}
        for grid in before:
            if grid.fid not in kept:
                changes.append(editlog.RowChange("grids", grid.fid, {k: v for k, v in grid.row.items() if k != "fid"},
                                                 None))
        for grid, geom, was_touched in zip(neighbours, neighbour_geoms, touched):
            diff = {}
            if was_touched:
                diff[geom_col] = _encode(geom, tx.grids)
            for column, value in counts.get(grid.code, {}).items():
                if grid.row.get(column) != value:
                    diff[column] = value
            if diff:
                changes.append(_update("grids", grid.row, diff))

        code_changes = []
        for layer, (table, frame, moved, old) in points.items():
            if len(moved):
                fids = frame[table.fid_col].to_numpy()[moved]
                code_changes.append(editlog.CodeChange(layer, "grid_code", [int(f) for f in fids],
                                                       list(old[moved]), list(frame["grid_code"].to_numpy()[moved])))

        # Apply grid rows, then the derived levels (they count the written grids), then log.
        now = editlog._now()
        apply_grid_changes(tx, changes, code_changes, now)
        before_rows = [g.row for g in before]
        after_rows = [t.attrs for t in targets]
        created = _new_vertices([t.geom for t in targets], [g.geom for g in before])
        changes += level_changes(tx, before_rows + after_rows, reshape_levels or {}, created)

        before_codes = sorted(g.code for g in before)
        after_codes = sorted(t.code for t in targets)
        households = {t.code: int(counts.get(t.code, {}).get("households", 0)) for t in targets}
        summary = _summary(operation, before_codes, after_codes, households)
        edit = editlog.Edit(operation, params, summary, before_codes, after_codes, changes, code_changes)
        edit_id = editlog.record(tx.con, edit, tx.tables, self.user, now)
        written = sorted({(c.after or c.before or {}).get("grid_code") or "" for c in changes if c.layer == "grids"} - {""})
        return EditResult(edit_id, operation, removed=sorted(set(before_codes) - set(after_codes)),
                          added=sorted(set(after_codes) - set(before_codes)),
                          changed=[c for c in written if c not in set(before_codes) - set(after_codes)],
                          households=households, summary=summary)

    def _check_rules(self, before, targets, neighbours, neighbour_geoms, grow_within):
        geoms = [t.geom for t in targets]
        for t in targets:
            g = t.geom
            if g is None or shapely.is_empty(g):
                raise GridMapError(f"grid {t.code} would be empty")
            if not shapely.is_valid(g):
                raise GridMapError(f"grid {t.code} would be invalid: {shapely.is_valid_reason(g)}")
            if g.geom_type != "Polygon":
                raise GridMapError(f"grid {t.code} would be in {shapely.get_num_geometries(g)} pieces")
        areas = self._areas(geoms)
        small = np.flatnonzero(areas < self.min_area_m2)
        if len(small):
            i = small[0]
            raise GridMapError(f"piece smaller than the minimum area: grid {targets[i].code} would have "
                               f"{areas[i]:.0f} m² (< {self.min_area_m2:.0f} m²)")
        problem = self._overlap_problem(geoms, neighbour_geoms)
        if problem:
            raise GridMapError(f"edit refused: {problem}")
        old_union = shapely.union_all([g.geom for g in before]) if before else shapely.Polygon()
        new_union = shapely.union_all(geoms)
        near = geoms[0]
        lost = float(self._small_area_m2([shapely.difference(old_union, new_union)], near)[0])
        if lost > self.tolerance_m2:
            raise GridMapError(f"edit refused: it would leave a gap of {lost:.1f} m²")
        gained = shapely.difference(new_union, old_union)
        gained_m2 = float(self._small_area_m2([gained], near)[0])
        if gained_m2 > self.tolerance_m2:
            outside = 0.0 if grow_within is None else float(
                self._small_area_m2([shapely.difference(gained, grow_within)], near)[0])
            if grow_within is None or outside > self.tolerance_m2:
                raise GridMapError(f"edit refused: it would cover {gained_m2:.1f} m² outside the grids it changes")
        local_before = [g.geom for g in before] + [g.geom for g in neighbours]
        if local_before and shapely.coverage_is_valid(np.asarray(local_before, dtype=object)):
            local_after = np.asarray(geoms + list(neighbour_geoms), dtype=object)
            if not shapely.coverage_is_valid(local_after):
                raise GridMapError("edit refused: the new boundaries would not match their neighbours' vertices")

# ------------------------------------------------------------------ helpers
def _login():
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _attrs(row, geom_col):
    """Attribute columns of a row (no fid, no geometry)."""
    return {k: v for k, v in row.items() if k not in ("fid", geom_col)}


def _update(layer, old_row, diff):
    before = {k: old_row.get(k) for k in diff}
    after = dict(diff)
    # The code always travels with an update so the log and its checks can name the grid.
    before.setdefault("grid_code", old_row.get("grid_code"))
    after.setdefault("grid_code", old_row.get("grid_code"))
    return editlog.RowChange(layer, old_row["fid"], before, after)


def _encode(geom, table):
    return encode_blob(geom, table.srs_id)


def _grow(bounds, d):
    minx, miny, maxx, maxy = bounds
    return minx - d, miny - d, maxx + d, maxy + d


def _snap_on_line(line, point, tol):
    """Nearest vertex of ``line`` within ``tol`` of ``point``, else the nearest point on the line."""
    coords = shapely.get_coordinates(line)
    p = shapely.get_coordinates(point)[0]
    d = np.hypot(*(coords - p).T)
    if d.min() <= tol:
        return coords[int(np.argmin(d))]
    return shapely.get_coordinates(shapely.line_interpolate_point(line, shapely.line_locate_point(line, point)))[0]


def _with_points(polygon, points):
    return insert_vertices(polygon, np.asarray(points, dtype="float64"), ON_EDGE_DEG)


def _new_vertices(after, before):
    """Vertices of the ``after`` polygons that no ``before`` polygon has: the ones an edit created."""
    new = ring_vertices(after)
    old = {tuple(v) for v in ring_vertices(before).tolist()} if len(before) else set()
    keep = [i for i, v in enumerate(new.tolist()) if tuple(v) not in old]
    return new[keep]


def _section(line, q0, q1):
    """The part of ``line`` between points ``q0`` and ``q1`` (both on it), with them as end vertices."""
    coords = shapely.get_coordinates(line)
    d0 = shapely.line_locate_point(line, shapely.points(q0))
    d1 = shapely.line_locate_point(line, shapely.points(q1))
    if d0 > d1:
        d0, d1, q0, q1 = d1, d0, q1, q0
    cumulative = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(coords, axis=0).T))])
    inner = coords[(cumulative > d0) & (cumulative < d1)]
    inner = inner[~(np.all(inner == q0, axis=1) | np.all(inner == q1, axis=1))]
    return shapely.linestrings(np.vstack([q0, inner, q1]))


def _reading_order(metric_geoms):
    """Indices of polygons in reading order: bands one typical grid high, north to south, west to east."""
    points = shapely.get_coordinates(shapely.point_on_surface(metric_geoms))
    if len(points) == 0:
        return []
    band = max(float(np.sqrt(np.median(shapely.area(metric_geoms)))), 1.0)
    rows = np.floor((points[:, 1].max() - points[:, 1]) / band)
    return list(np.lexsort((points[:, 0], rows)))


def _summary(operation, before, after, households):
    def codes(values):
        return ", ".join(values) if len(values) <= 4 else f"{', '.join(values[:3])} … ({len(values)} grids)"

    counts = ", ".join(str(households[c]) for c in after) if len(after) <= 8 else ""
    tail = f" (households {counts})" if counts else ""
    return f"{operation} {codes(before) or '(new)'} -> {codes(after) or '(none)'}{tail}"
