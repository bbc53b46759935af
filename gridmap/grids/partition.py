"""Partition a polygon into compact parts that carry similar weight, and node coverages.

Used by the demo city generator (district -> sub-districts -> communities -> grids)
and by grid editing (split a grid into N parts, re-balance a community). All geometry
is planar. Overlays run in full floating precision: snap-rounding each part
separately would bend shared edges differently on either side. The finished
coverage is then noded once with :func:`node_coverage`, which gives neighbours
identical shared vertices and closes the sub-millimetre slivers floating point leaves.
"""

from __future__ import annotations

import numpy as np
import shapely
from sklearn.cluster import KMeans

__all__ = ["GRID_SIZE", "STORE_GRID_SIZE", "partition_polygon", "node_coverage", "absorb_fragments"]

GRID_SIZE = 0.001  # metres: overlay precision of every edit, far below survey accuracy
# Degrees (~0.1 mm): coverages are noded in the store CRS, since reprojection can
# leave a vertex that lies on a neighbour's edge in metres just off it in degrees.
STORE_GRID_SIZE = 1e-9


def partition_polygon(polygon, points, k, weights=None, random_state=0):
    """Split ``polygon`` into ``k`` compact single-part polygons of similar weight.

    The weighted points (households, buildings or a density sample, all inside the
    polygon) are clustered with k-means; each cluster's member nearest its centroid
    seeds a Voronoi cell, and the cells are clipped to the polygon. Seeds are real
    points, so every seed lies inside the polygon and every part is non-empty.

    Parameters
    ----------
    polygon : shapely.Polygon or MultiPolygon
        The area to divide, in metres.
    points : (n, 2) array
        Locations inside ``polygon``; ``n`` must be at least ``k``.
    k : int
        Number of parts.
    weights : (n,) array, optional
        Weight of each point (e.g. households); equal weights when omitted.
    random_state : int
        Seed of the k-means initialisation, for reproducible partitions.

    Returns
    -------
    list of shapely.Polygon
        ``k`` polygons that tile ``polygon`` up to floating-point noise.
    """
    points = np.asarray(points, dtype="float64")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if k == 1:
        return [polygon]
    unique = np.unique(points, axis=0)
    if len(unique) < k:
        raise ValueError(f"need at least {k} distinct points to make {k} parts, got {len(unique)}")
    model = KMeans(n_clusters=k, n_init=3, random_state=random_state)
    labels = model.fit_predict(points, sample_weight=weights)
    seeds = np.empty((k, 2))
    taken = set()
    for label in range(k):
        members = np.flatnonzero(labels == label)
        order = members[np.argsort(((points[members] - model.cluster_centers_[label]) ** 2).sum(1))]
        # Two clusters can share a nearest member only through duplicate points.
        seed = next(i for i in order if tuple(points[i]) not in taken)
        taken.add(tuple(points[seed]))
        seeds[label] = points[seed]
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=polygon, ordered=True)
    parts = shapely.intersection(np.asarray(shapely.get_parts(cells)), polygon)
    return absorb_fragments(list(parts), shapely.points(seeds))


def absorb_fragments(parts, anchors):
    """Make every part single-part by giving stray pieces to the neighbour they share most with.

    Clipping a Voronoi cell to a concave polygon can leave a piece of the cell cut off
    from its seed (``anchors``). Such a piece joins the adjacent part with which it
    shares the longest boundary, so the union is unchanged and every part stays
    connected.
    """
    parts = list(parts)
    for _ in range(10):
        moved = False
        for i, part in enumerate(parts):
            pieces = shapely.get_parts(part)
            if len(pieces) <= 1:
                continue
            keep = int(np.argmax(shapely.contains(pieces, anchors[i]) * 1e18 + shapely.area(pieces)))
            parts[i] = pieces[keep]
            for j, piece in enumerate(pieces):
                if j == keep:
                    continue
                shared = [
                    shapely.length(shapely.intersection(piece.boundary, other.boundary.buffer(1e-6)))
                    if n != i
                    else -1.0
                    for n, other in enumerate(parts)
                ]
                target = int(np.argmax(shared))
                if shared[target] <= 0:
                    parts[i] = shapely.union(parts[i], piece)
                    continue
                parts[target] = shapely.union(parts[target], piece)
                moved = True
        if not moved:
            break
    return parts


def node_coverage(geoms, grid_size=GRID_SIZE, max_gap_area=None):
    """Return the polygons of a coverage rebuilt so that neighbours share identical vertices.

    Parts of a coverage clipped from different parents can meet along a line where one
    side has a vertex the other lacks. Rebuilding every polygon from the faces of the
    noded union of all boundaries (snap-rounded once, to ``grid_size``) fixes that;
    each face goes to the polygon that contains its interior point, so no area moves
    between polygons. Enclosed faces that belong to no polygon are gaps: those smaller
    than ``max_gap_area`` (in squared CRS units) join the nearest polygon.
    """
    geoms = np.asarray(geoms, dtype=object)
    linework = shapely.union_all(shapely.boundary(geoms), grid_size=grid_size)
    faces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(linework))))
    inside = shapely.point_on_surface(faces)
    tree = shapely.STRtree(geoms)
    face_idx, geom_idx = tree.query(inside, predicate="within")
    owner = np.full(len(faces), -1)
    owner[face_idx] = geom_idx
    if max_gap_area is not None:
        gaps = np.flatnonzero((owner < 0) & (shapely.area(faces) < max_gap_area))
        if len(gaps):
            gap_idx, near_idx = tree.query_nearest(inside[gaps], all_matches=False)
            owner[gaps[gap_idx]] = near_idx
    result = []
    for i in range(len(geoms)):
        mine = faces[owner == i]
        result.append(shapely.union_all(mine, grid_size=grid_size) if len(mine) else geoms[i])
    return np.asarray(result, dtype=object)
