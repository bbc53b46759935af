"""The demo's facility list, as the civil-affairs and health bureaus would send it (.xlsx)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridmap.schema import FACILITY_KIND_LABELS

__all__ = ["FACILITY_KINDS", "make_facilities"]

# kind -> (name suffix, count at full scale, capacity range or None)
FACILITY_KINDS = {
    "elderly_home": ("养老院", 24, (60, 300)),
    "day_care": ("社区日间照料中心", 55, (20, 60)),
    "care_station": ("社区养老服务站", 110, (15, 40)),
    "meal_point": ("老年食堂", 75, (60, 220)),
    "health_centre": ("社区卫生服务中心", 38, None),
    "clinic": ("诊所", 240, None),
    "supermarket": ("超市", 380, None),
    "barber": ("理发店", 280, None),
    "restaurant": ("餐馆", 700, None),
}
CANDIDATE_SITES = 40


def make_facilities(buildings_lonlat, addresses, rng):
    """Facilities and candidate sites placed at random buildings.

    Parameters
    ----------
    buildings_lonlat : DataFrame
        ``building_id``, ``grid_code``, ``community``, ``lon``, ``lat`` (CGCS2000).
    addresses : Series
        The address text to write for each building (index aligned).

    Returns
    -------
    facilities, truth : DataFrame, DataFrame
        ``facilities`` has the bureau's Chinese headers plus ``kind`` and ``is_candidate``
        columns' Chinese equivalents; ``truth`` has ``facility_id``, ``grid_code``,
        ``building_id``.
    """
    rows = []
    for kind, (suffix, count, capacity) in FACILITY_KINDS.items():
        idx = rng.choice(len(buildings_lonlat), size=count, replace=False)
        for i in idx:
            b = buildings_lonlat.iloc[i]
            cap = int(rng.integers(capacity[0], capacity[1] + 1)) if capacity else None
            rows.append((kind, FACILITY_KIND_LABELS[kind], b["community"].removesuffix("社区") + suffix, i, cap))
    idx = rng.choice(len(buildings_lonlat), size=CANDIDATE_SITES, replace=False)
    for n, i in enumerate(idx, start=1):
        rows.append(("candidate", FACILITY_KIND_LABELS["candidate"], f"候选站点{n:02d}（{buildings_lonlat.iloc[i]['community']}）", i, None))
    frame = pd.DataFrame(rows, columns=["kind", "kind_label", "name", "building", "capacity"])
    # Names repeat when one community gets two of a kind; number them as bureaus do.
    dup = frame.groupby("name").cumcount()
    frame["name"] = np.where(dup > 0, frame["name"] + (dup + 1).astype(str) + "分部", frame["name"])
    b = buildings_lonlat.iloc[frame["building"]].reset_index(drop=True)
    with_coords = rng.random(len(frame)) < 0.6
    facility_id = [f"F{i:05d}" for i in range(1, len(frame) + 1)]
    out = pd.DataFrame(
        {
            "机构编号": facility_id,
            "机构名称": frame["name"],
            "类型": frame["kind_label"],
            "地址": addresses.iloc[frame["building"]].to_numpy(),
            "容量": frame["capacity"].astype("Int64"),
            "经度": np.where(with_coords, b["gcj_lon"], np.nan),
            "纬度": np.where(with_coords, b["gcj_lat"], np.nan),
        }
    )
    truth = pd.DataFrame({"facility_id": facility_id, "grid_code": b["grid_code"], "building_id": b["building_id"]})
    return out, truth
