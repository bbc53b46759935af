"""Match parsed addresses against the project's standard address gazetteer (标准地址库)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridmap.geocode.address import parse_addresses

__all__ = ["MATCH_LEVELS", "Gazetteer"]

# Match level -> confidence of a match at that level.
MATCH_LEVELS = {"楼栋": 1.0, "门牌": 0.95, "坐标": 0.85, "未匹配": 0.0}


class Gazetteer:
    """Exact lookups of building and door addresses, built once from the ``addresses`` layer.

    Keys are built by parsing the gazetteer's own standard addresses with the same
    parser that reads the input, so both sides are normalised identically.

    Parameters
    ----------
    addresses : GeoDataFrame
        The project's ``addresses`` layer: one point per building with
        ``building_id``, ``grid_code`` and ``standard_address``.
    """

    def __init__(self, addresses):
        parsed = parse_addresses(addresses["standard_address"])
        table = pd.DataFrame(
            {
                "building_id": addresses["building_id"].to_numpy(),
                "grid_code": addresses["grid_code"].to_numpy(),
                "standard_address": addresses["standard_address"].to_numpy(),
                "x": addresses.geometry.x.to_numpy(),
                "y": addresses.geometry.y.to_numpy(),
                "road": parsed["road"].to_numpy(),
                "door": parsed["door"].to_numpy(),
                "compound": parsed["compound"].to_numpy(),
                "building": parsed["building"].to_numpy(),
            }
        )
        # A door-level match names the door (and compound), not one of its buildings.
        table["door_address"] = table["standard_address"].str.replace(r"[0-9A-Z]+栋$", "", regex=True)
        self.table = table
        in_compound = table[table["compound"] != ""]
        self._by_building = in_compound.drop_duplicates(["compound", "building"]).set_index(["compound", "building"])
        # A door address points at the compound's (or stand-alone building's) site.
        self._by_door = table.drop_duplicates(["road", "door"]).set_index(["road", "door"])

    def match(self, parsed):
        """Match each parsed row exactly; returns ``building_id``, ``grid_code``, ``x``, ``y``,
        ``matched_address``, ``match_level`` and ``confidence`` aligned with ``parsed``."""
        n = len(parsed)
        out = pd.DataFrame(
            {
                "building_id": np.full(n, None, dtype=object),
                "grid_code": np.full(n, None, dtype=object),
                "x": np.full(n, np.nan),
                "y": np.full(n, np.nan),
                "matched_address": np.full(n, "", dtype=object),
                "match_level": np.full(n, "未匹配", dtype=object),
            },
            index=parsed.index,
        )
        for level, index, keys, address_col in (
            ("楼栋", self._by_building, ["compound", "building"], "standard_address"),
            ("门牌", self._by_door, ["road", "door"], "door_address"),
        ):
            todo = out["match_level"].eq("未匹配") & parsed[keys].ne("").all(axis=1)
            if level == "门牌":
                # A building named in the input but absent from the gazetteer is not a door match.
                todo &= parsed["building"].eq("") | parsed["compound"].eq("")
            if not todo.any():
                continue
            found = index.reindex(pd.MultiIndex.from_frame(parsed.loc[todo, keys]))
            hit = found["building_id"].notna().to_numpy()
            rows = out.index[todo][hit]
            found = found[hit]
            out.loc[rows, "building_id"] = found["building_id"].to_numpy()
            out.loc[rows, "grid_code"] = found["grid_code"].to_numpy()
            out.loc[rows, "x"] = found["x"].to_numpy()
            out.loc[rows, "y"] = found["y"].to_numpy()
            out.loc[rows, "matched_address"] = found[address_col].to_numpy()
            out.loc[rows, "match_level"] = level
        out["confidence"] = out["match_level"].map(MATCH_LEVELS).astype(float)
        return out
