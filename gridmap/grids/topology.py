"""Planar topology helpers for grid edits: faces of noded linework, shared vertices, splits.

Edits work on the stored coordinates (EPSG:4490) so that every vertex an edit does
not move keeps its exact bits: reprojecting to metres and back would nudge shared
edges of untouched neighbours. New vertices appear only where new linework crosses
old edges; :func:`stitch` inserts them into the neighbours that share those edges,
the topological-editing rule that keeps a coverage noded (identical vertices on both
sides of every shared edge, as :func:`shapely.coverage_is_valid` requires).
"""

from __future__ import annotations

import numpy as np
import shapely

__all__ = [
    "ON_EDGE_DEG",
    "conform",
    "faces_of",
    "insert_vertices",
    "owners_of",
    "ring_vertices",
    "shared_length",
    "split_polygon",
    "stitch",
]

# A vertex this close (in degrees, ~0.05 mm) to an edge or vertex is taken to lie on it:
# far below survey accuracy, far above the 1e-15 error of a computed intersection.
ON_EDGE_DEG = 5e-10


def ring_vertices(geoms):
    """Distinct vertex coordinates of one geometry or an array of them, as an (n, 2) array."""
    coords = shapely.get_coordinates(np.atleast_1d(np.asarray(geoms, dtype=object)))
    if len(coords) == 0:
        return np.empty((0, 2))
    return np.unique(coords, axis=0)


def faces_of(lines):
    """Faces of the noded union of ``lines`` (a list of linear geometries)."""
    lines = [g for g in lines if g is not None and not shapely.is_empty(g)]
    noded = shapely.union_all(np.asarray(lines, dtype=object))
    return np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))), dtype=object)


def owners_of(faces, geoms):
    """Index into ``geoms`` of the polygon holding each face's interior point (-1 for none)."""
    owner = np.full(len(faces), -1)
    if len(faces) == 0 or len(geoms) == 0:
        return owner
    inside = shapely.point_on_surface(faces)
    face_idx, geom_idx = shapely.STRtree(np.asarray(geoms, dtype=object)).query(inside, predicate="within")
    owner[face_idx] = geom_idx
    return owner


def split_polygon(polygon, line):
    """Pieces of ``polygon`` cut by ``line`` (parts of the line outside it are ignored).

    Returns an array of polygons; one piece when the line does not cut across.
    """
    faces = faces_of([shapely.boundary(polygon), line])
    if len(faces) == 0:
        return np.asarray([polygon], dtype=object)
    keep = shapely.within(shapely.point_on_surface(faces), polygon)
    return faces[keep]


def _ring_with(coords, points, eps, replace):
    """Ring coordinates with ``points`` inserted on its edges (and, if ``replace``, vertices snapped)."""
    coords = coords.copy()
    changed = False
    if replace and len(points):
        # Vertices within eps of a reference point take its exact coordinates.
        tree = shapely.STRtree(shapely.points(points))
        v_idx, p_idx = tree.query(shapely.points(coords), predicate="dwithin", distance=eps)
        if len(v_idx):
            d = np.hypot(*(coords[v_idx] - points[p_idx]).T)
            order = np.lexsort((d, v_idx))
            first = order[np.unique(v_idx[order], return_index=True)[1]]
            new = points[p_idx[first]]
            moved = np.any(coords[v_idx[first]] != new, axis=1)
            if moved.any():
                coords[v_idx[first][moved]] = new[moved]
                coords[-1] = coords[0]
                changed = True
    if len(points) == 0:
        return coords, changed
    a, b = coords[:-1], coords[1:]
    seg = shapely.linestrings(np.stack([a, b], axis=1))
    pts = shapely.points(points)
    p_idx, s_idx = shapely.STRtree(seg).query(pts, predicate="dwithin", distance=eps)
    if len(p_idx) == 0:
        return coords, changed
    # Points already at a vertex are not inserted again.
    at_vertex = np.zeros(len(points), dtype=bool)
    vp, _ = shapely.STRtree(shapely.points(coords)).query(pts, predicate="dwithin", distance=eps)
    at_vertex[vp] = True
    keep = ~at_vertex[p_idx]
    p_idx, s_idx = p_idx[keep], s_idx[keep]
    if len(p_idx) == 0:
        return coords, changed
    d = b[s_idx] - a[s_idx]
    t = np.einsum("ij,ij->i", points[p_idx] - a[s_idx], d) / np.einsum("ij,ij->i", d, d)
    # One segment per point: the nearest (a point can touch two segments only at a vertex).
    dist = shapely.distance(pts[p_idx], seg[s_idx])
    order = np.lexsort((dist, p_idx))
    first = order[np.unique(p_idx[order], return_index=True)[1]]
    p_idx, s_idx, t = p_idx[first], s_idx[first], t[first]
    order = np.lexsort((t, s_idx))
    p_idx, s_idx = p_idx[order], s_idx[order]
    pieces, start = [], 0
    for s, p in zip(s_idx, p_idx):
        pieces.append(coords[start:s + 1])
        pieces.append(points[p][None, :])
        start = s + 1
    pieces.append(coords[start:])
    return np.concatenate(pieces), True


def _rebuild(polygon, points, eps, replace):
    if polygon is None or shapely.is_empty(polygon):
        return polygon
    if polygon.geom_type == "MultiPolygon":
        parts = list(shapely.get_parts(polygon))
        rebuilt = [_rebuild(part, points, eps, replace) for part in parts]
        if all(a is b for a, b in zip(parts, rebuilt)):
            return polygon
        return shapely.MultiPolygon(rebuilt)
    if polygon.geom_type != "Polygon":
        return polygon
    points = np.asarray(points, dtype="float64").reshape(-1, 2)
    env = shapely.bounds(polygon)
    near = (
        (points[:, 0] >= env[0] - eps) & (points[:, 0] <= env[2] + eps)
        & (points[:, 1] >= env[1] - eps) & (points[:, 1] <= env[3] + eps)
    )
    points = points[near]
    if len(points) == 0:
        return polygon
    rings, changed = [], False
    for ring in (polygon.exterior, *polygon.interiors):
        coords, ring_changed = _ring_with(shapely.get_coordinates(ring), points, eps, replace)
        if ring_changed:
            keep = np.ones(len(coords), dtype=bool)
            keep[1:] = np.any(coords[1:] != coords[:-1], axis=1)
            coords = coords[keep]
        rings.append(coords)
        changed |= ring_changed
    if not changed:
        return polygon
    return shapely.Polygon(rings[0], rings[1:])


def insert_vertices(polygon, points, eps=ON_EDGE_DEG):
    """Return ``polygon`` with each of ``points`` that lies on one of its edges added as a vertex.

    The polygon's own vertices never move, so its shape is unchanged; the same object
    is returned when no point lies on an edge (its stored bytes stay the same).
    """
    return _rebuild(polygon, points, eps, replace=False)


def conform(polygon, points, eps=ON_EDGE_DEG):
    """Return ``polygon`` snapped to reference ``points``: vertices within ``eps`` take their
    coordinates and points on its edges become vertices (for newly computed pieces)."""
    return _rebuild(polygon, points, eps, replace=True)


def stitch(changed, neighbours, eps=ON_EDGE_DEG):
    """Make new pieces and their untouched neighbours share identical vertices.

    New pieces are conformed to the neighbours' vertices (and to each other's); then
    every vertex of a new piece that lies on a neighbour's edge is inserted into that
    neighbour. Returns the new pieces and the neighbours, with a boolean array telling
    which neighbours gained vertices.
    """
    changed = list(changed)
    neighbours = list(neighbours)
    nb_points = ring_vertices(neighbours) if neighbours else np.empty((0, 2))
    for i, piece in enumerate(changed):
        others = [g for j, g in enumerate(changed) if j != i]
        ref = nb_points if not others else np.unique(np.vstack([nb_points, ring_vertices(others)]), axis=0)
        changed[i] = conform(piece, ref, eps)
    new_points = ring_vertices(changed) if changed else np.empty((0, 2))
    touched = np.zeros(len(neighbours), dtype=bool)
    for k, neighbour in enumerate(neighbours):
        result = insert_vertices(neighbour, new_points, eps)
        if result is not neighbour:
            neighbours[k] = result
            touched[k] = True
    return changed, neighbours, touched


def shared_length(a, b):
    """Length of the boundary that polygons ``a`` and ``b`` share (0 when they only touch at points)."""
    common = shapely.intersection(shapely.boundary(a), shapely.boundary(b))
    return float(shapely.length(common))
