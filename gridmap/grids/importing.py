"""Import a grid layer into a project (a new one, or replacing an existing project's grids)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gridmap.grids.counts import recount
from gridmap.grids.io import read_grids
from gridmap.grids.levels import LEVELS, dissolve_level
from gridmap.project import Project

__all__ = ["HIERARCHY_COLUMNS", "import_grids"]

HIERARCHY_COLUMNS = ["grid_name", "community_code", "community", "subdistrict_code", "subdistrict",
                     "district_code", "district", "zone"]


def import_grids(project_path, file, crs=None, encoding=None):
    """Read ``file`` (checked by :func:`gridmap.grids.io.read_grids`) into the project's ``grids``.

    Missing hierarchy columns are filled from the codes (a 15-digit grid code holds
    its community, sub-district and district codes) or left empty. Counts are
    recomputed from the project's residents and facilities when it has them.
    Communities, sub-districts and districts are dissolved from the grids when the
    project has none. The file is read and checked completely before the project is
    written, and the write is atomic, so a bad file never changes the project.

    Returns
    -------
    dict
        Row counts of the layers written.
    """
    grids = read_grids(file, crs=crs, encoding=encoding)
    code = grids["grid_code"]
    derived = {"community_code": code.str[:12], "subdistrict_code": code.str[:9], "district_code": code.str[:6]}
    for column in HIERARCHY_COLUMNS:
        if column not in grids:
            long_code = code.str.fullmatch(r"\d{15}")
            grids[column] = derived[column].where(long_code, "") if column in derived else ""
    grids["zone"] = grids["zone"].replace("", "urban").fillna("urban")
    grids = grids[["grid_code", *HIERARCHY_COLUMNS, *[c for c in grids.columns if c not in HIERARCHY_COLUMNS
                                                      and c not in ("grid_code", "geometry")], "geometry"]]
    path = Path(project_path)
    layers = {}
    if path.exists():
        project = Project(path)
        if project.has_layer("residents"):
            residents = pd.DataFrame(project.read("residents", columns=["grid_code", "household_id", "age"]))
            facilities = (pd.DataFrame(project.read("facilities", columns=["grid_code", "kind"]))
                          if project.has_layer("facilities") else None)
            grids = recount(grids, residents, facilities)
        missing = [level for level in LEVELS if not project.has_layer(level)]
    else:
        project = None
        missing = list(LEVELS)
    layers["grids"] = grids
    for level in missing:
        layers[level] = dissolve_level(grids, level)
    if project is None:
        Project.create(path, layers, {"source": str(file)})
    else:
        project.write(layers)
    return {name: len(frame) for name, frame in layers.items()}
