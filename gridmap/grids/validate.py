"""Topology report of a grid coverage: overlaps, gaps, invalid or multipart shapes, bad codes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from gridmap.crs import METRIC_CRS

__all__ = ["AREA_TOLERANCE_M2", "ValidationReport", "validate_grids", "validate_project"]

AREA_TOLERANCE_M2 = 1.0  # below a square metre an overlap or gap is digitising noise


@dataclass
class ValidationReport:
    """Problems found in a coverage; ``ok`` when there are none."""

    grids: int
    problems: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.problems

    def add(self, check, feature, detail):
        self.problems.append({"check": check, "feature": str(feature), "detail": detail})

    def to_dict(self):
        counts = pd.Series([p["check"] for p in self.problems], dtype=object).value_counts()
        return {"ok": self.ok, "grids": self.grids, "counts": {str(k): int(v) for k, v in counts.items()},
                "problems": self.problems}

    def summary(self):
        if self.ok:
            return f"网格拓扑检查通过：{self.grids} 个网格，无重叠、缝隙或无效几何 (no problems)"
        lines = [f"发现 {len(self.problems)} 个问题 ({self.grids} grids):"]
        lines += [f"  {p['check']}: {p['feature']}: {p['detail']}" for p in self.problems]
        return "\n".join(lines)


def validate_grids(grids, communities=None, tolerance_m2=AREA_TOLERANCE_M2):
    """Check a grid layer (and, if given, its communities) for topology problems.

    Checks: ``invalid`` geometry, ``multipart`` grids, ``duplicate_code``, ``overlap``
    between grids, and with ``communities``: ``gap`` (community area no grid covers)
    and ``outside`` (grid area outside its community). Areas are measured in
    EPSG:4546 and ignored below ``tolerance_m2``.
    """
    report = ValidationReport(grids=len(grids))
    codes = grids["grid_code"].astype(str).to_numpy()
    metric = grids.to_crs(METRIC_CRS)
    geoms = metric.geometry.values
    for i in np.flatnonzero(~shapely.is_valid(geoms)):
        report.add("invalid", codes[i], shapely.is_valid_reason(geoms[i]))
    for i in np.flatnonzero(shapely.get_num_geometries(geoms) > 1):
        report.add("multipart", codes[i], f"{shapely.get_num_geometries(geoms[i])} parts")
    for code in pd.unique(codes[pd.Series(codes).duplicated().to_numpy()]):
        report.add("duplicate_code", code, f"{int((codes == code).sum())} grids share this code")
    valid = shapely.make_valid(geoms)
    left, right = shapely.STRtree(valid).query(valid, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    areas = shapely.area(shapely.intersection(valid[left], valid[right]))
    for i, j, a in zip(left, right, areas):
        if a > tolerance_m2:
            report.add("overlap", f"{codes[i]}/{codes[j]}", f"{a:.1f} m² overlap")
    if communities is not None and "community_code" in grids:
        comm = communities.to_crs(METRIC_CRS).set_index("community_code").geometry
        for code, group in metric.assign(geometry=valid).groupby("community_code"):
            if code not in comm.index:
                report.add("outside", code, "community not in the communities layer")
                continue
            shape = comm[code]
            union = shapely.union_all(group.geometry.values)
            gap = shapely.area(shapely.difference(shape, union))
            if gap > tolerance_m2:
                report.add("gap", code, f"{gap:.1f} m² of the community is in no grid")
            outside = shapely.area(shapely.difference(group.geometry.values, shape))
            for grid_code, a in zip(group["grid_code"], outside):
                if a > tolerance_m2:
                    report.add("outside", grid_code, f"{a:.1f} m² outside community {code}")
    return report


def validate_project(path):
    """Validate the ``grids`` layer of a project against its ``communities`` layer."""
    from gridmap.project import Project

    project = Project(path)
    grids = project.read("grids")
    communities = project.read("communities") if project.has_layer("communities") else None
    return validate_grids(grids, communities)
