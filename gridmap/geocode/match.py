"""Match parsed addresses against the project's standard address gazetteer (标准地址库).

The fallback chain, strongest first, mirrors what AMap and Pelias report:

=========  ==========================================================  ==========
level      how                                                         confidence
=========  ==========================================================  ==========
楼栋       compound + building number found (exact, or fuzzy name)      1.0 / ≤0.95
门牌       road + door number found (exact, or fuzzy road name)         0.95 / ≤0.9
道路       road found, door not: the nearest door on that road          0.4-0.85
小区       compound found, building not: the compound's centre         0.8
社区       only a community name: its centre, no grid                  0.3
区县       only a district: no point, no grid                          0.1
未匹配     nothing recognised                                          0.0
=========  ==========================================================  ==========

Names the parser missed (a compound it read as a village, text it could not split)
are found by scanning the normalised address for the gazetteer's own road and
compound names. Fuzzy names use rapidfuzz on distinct strings only.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd
from pypinyin import lazy_pinyin
from rapidfuzz import fuzz, process

from gridmap.geocode.address import normalize_text, parse_addresses

__all__ = ["MATCH_LEVELS", "LEVEL_CONFIDENCE", "FUZZY_COMPOUND_SCORE", "FUZZY_ROAD_SCORE", "Gazetteer"]

MATCH_LEVELS = ("楼栋", "门牌", "道路", "小区", "社区", "区县", "坐标", "未匹配")
LEVEL_CONFIDENCE = {"楼栋": 1.0, "门牌": 0.95, "道路": 0.85, "小区": 0.8, "社区": 0.3, "区县": 0.1, "坐标": 0.9, "未匹配": 0.0}
# rapidfuzz ratio cut-offs: one wrong character of a four-character compound name
# scores 75, of a three-character road name 67; ties and other districts are refused.
FUZZY_COMPOUND_SCORE = 70.0
FUZZY_ROAD_SCORE = 65.0
CONFLICT_CONFIDENCE = 0.55  # below LOW_CONFIDENCE in records.py, so the row is reviewed
_DOOR_AFTER = re.compile(r"^([0-9]+(?:-[0-9]+)*)号(?!楼)")
_BUILDING_AFTER = re.compile(r"^([A-Z]?[0-9]+[A-Z]?|[A-Z]{1,2})(?:号楼|栋|幢|座|#|号)")
_SHORT_DISTRICTS = ("伍家岗", "西陵", "点军", "猇亭", "夷陵")


@functools.lru_cache(maxsize=None)
def _pinyin(text):
    return " ".join(lazy_pinyin(text))


def _leading_number(text):
    match = re.match(r"^[0-9]+", text or "")
    return int(match.group()) if match else -1


class Gazetteer:
    """Address lookups built once from the project's layers.

    Parameters
    ----------
    addresses : GeoDataFrame
        One point per building (EPSG:4490) with ``building_id``, ``grid_code``,
        ``road``, ``door``, ``compound``, ``building`` and ``standard_address``.
    communities : GeoDataFrame, optional
        With ``community`` names, for community-level matches.
    """

    def __init__(self, addresses, communities=None):
        table = pd.DataFrame(
            {
                "building_id": addresses["building_id"].to_numpy(),
                "grid_code": addresses["grid_code"].to_numpy(),
                "standard_address": addresses["standard_address"].to_numpy(),
                "x": addresses.geometry.x.to_numpy(),
                "y": addresses.geometry.y.to_numpy(),
            }
        )
        # Keys come from parsing the standard addresses with the input's parser, so
        # both sides are normalised the same way.
        parsed = parse_addresses(addresses["standard_address"])
        for column in ("district", "road", "door", "compound", "building"):
            table[column] = parsed[column].to_numpy()
        table["door_address"] = table["standard_address"].str.replace(r"[0-9A-Z]+栋$", "", regex=True)
        table["door_number"] = table["door"].map(_leading_number)
        self.table = table
        compounds = table[table["compound"] != ""]
        self._by_building = compounds.drop_duplicates(["compound", "building"]).set_index(["compound", "building"])
        self._by_door = table.drop_duplicates(["road", "door"]).set_index(["road", "door"])
        centre = compounds.groupby("compound").agg(
            x=("x", "mean"), y=("y", "mean"), door_address=("door_address", "first"),
            grid_code=("grid_code", lambda g: g.mode().iloc[0]),
        )
        self._compounds = centre
        self._roads = {road: group.sort_values("door_number") for road, group in table.groupby("road") if road}
        self._compound_list = list(centre.index)
        self._compound_districts = [set(d) for d in compounds.groupby("compound")["district"].unique().reindex(centre.index)]
        self._road_list = list(self._roads)
        self._road_districts = [set(self._roads[r]["district"]) for r in self._road_list]
        longest_first = sorted([*self._compound_list, *self._road_list], key=len, reverse=True)
        self._name_scan = re.compile("|".join(map(re.escape, longest_first)))
        self._communities = {}
        if communities is not None and len(communities):
            points = communities.geometry.representative_point()
            self._communities = {name: (p.x, p.y) for name, p in zip(communities["community"], points)}

    # -- public ---------------------------------------------------------------------------
    def match(self, parsed, texts=None):
        """Match every parsed row; see the module docstring for the chain.

        Parameters
        ----------
        parsed : DataFrame
            From :func:`gridmap.geocode.address.parse_addresses`.
        texts : Series, optional
            The raw address texts (same index), scanned for gazetteer names when the
            parsed components do not match.

        Returns
        -------
        DataFrame
            ``building_id``, ``grid_code``, ``x``, ``y``, ``matched_address``,
            ``match_level`` and ``confidence``, aligned with ``parsed``.
        """
        keys = parsed[["road", "door", "compound", "building", "community", "district"]].copy()
        # A compound the parser read as a community (XX新村, XX社区大院) is still a compound.
        as_compound = (keys["compound"] == "") & keys["community"].isin(self._compounds.index)
        keys.loc[as_compound, "compound"] = keys.loc[as_compound, "community"]
        keys["compound"] = self._strip_district_prefix(keys["compound"])
        result = self._empty(parsed.index)
        self._exact(keys, result)
        todo = result["match_level"] == "未匹配"
        if texts is not None and todo.any():
            scanned = self._scan(texts[todo])
            # Trust a name found verbatim in the gazetteer over an unknown parsed one.
            for name, number, known in (("road", "door", self._roads), ("compound", "building", self._compounds.index)):
                current = keys.loc[todo, name]
                take = (scanned[name] != "") & ((current == "") | ~current.isin(known))
                rows = take[take].index
                keys.loc[rows, name] = scanned.loc[rows, name]
                keys.loc[rows, number] = scanned.loc[rows, number].where(scanned.loc[rows, number] != "",
                                                                          keys.loc[rows, number])
            self._exact(keys, result)
        self._fuzzy(keys, result)
        self._road_nearest(keys, result)
        self._compound_only(keys, result)
        self._community_or_district(keys, result)
        return result

    # -- steps ----------------------------------------------------------------------------
    @staticmethod
    def _empty(index):
        n = len(index)
        # Plain object columns: row-wise writes into Arrow-backed strings copy the column.
        return pd.DataFrame(
            {
                "building_id": pd.Series(np.full(n, None, dtype=object), index=index, dtype=object),
                "grid_code": pd.Series(np.full(n, None, dtype=object), index=index, dtype=object),
                "x": np.full(n, np.nan),
                "y": np.full(n, np.nan),
                "matched_address": pd.Series(np.full(n, "", dtype=object), index=index, dtype=object),
                "match_level": pd.Series(np.full(n, "未匹配", dtype=object), index=index, dtype=object),
                "confidence": np.zeros(n),
            },
            index=index,
        )

    def _strip_district_prefix(self, names):
        # 西陵山林家园: a district's short name glued to the compound.
        unknown = (names != "") & ~names.isin(self._compounds.index)
        if not unknown.any():
            return names
        stripped = names[unknown].str.replace(f"^(?:{'|'.join(_SHORT_DISTRICTS)})区?", "", regex=True)
        names = names.copy()
        known = stripped.isin(self._compounds.index)
        names.loc[known[known].index] = stripped[known]
        return names

    def _fill(self, result, rows, found, level, confidence, address_col):
        result.loc[rows, "building_id"] = found["building_id"].to_numpy() if "building_id" in found else None
        result.loc[rows, "grid_code"] = found["grid_code"].to_numpy()
        result.loc[rows, "x"] = found["x"].to_numpy()
        result.loc[rows, "y"] = found["y"].to_numpy()
        result.loc[rows, "matched_address"] = found[address_col].to_numpy()
        result.loc[rows, "match_level"] = level
        result.loc[rows, "confidence"] = confidence

    def _lookup(self, keys, result, index, columns, level, confidence, address_col):
        todo = (result.loc[keys.index, "match_level"] == "未匹配") & keys[columns].ne("").all(axis=1)
        if not todo.any():
            return
        found = index.reindex(pd.MultiIndex.from_frame(keys.loc[todo, columns]))
        hit = found["building_id"].notna().to_numpy()
        conf = confidence[todo.to_numpy()][hit] if isinstance(confidence, np.ndarray) else confidence
        self._fill(result, keys.index[todo][hit], found[hit], level, conf, address_col)

    def _exact(self, keys, result):
        self._lookup(keys, result, self._by_building, ["compound", "building"], "楼栋", 1.0, "standard_address")
        door_compound = self._by_door["compound"].reindex(pd.MultiIndex.from_frame(keys[["road", "door"]])).to_numpy()
        named = keys["compound"].to_numpy()
        known_door = pd.notna(door_compound)
        # The door plate names another compound than the text (兴苑 typed for 兴园, both
        # real): door plates are official, so the door wins, with low confidence.
        clash = (result["match_level"].to_numpy() == "楼栋") & known_door & (door_compound != named)
        result.loc[clash, "match_level"] = "未匹配"
        confidence = np.where(clash, CONFLICT_CONFIDENCE, np.where((named == "") | (door_compound == named),
                                                                   LEVEL_CONFIDENCE["门牌"], 0.75))
        self._lookup(keys, result, self._by_door, ["road", "door"], "门牌", confidence, "door_address")

    def _scan(self, texts):
        """Find gazetteer road and compound names (with their numbers) inside raw texts."""
        rows = []
        for text in texts.map(normalize_text):
            found = {"road": "", "door": "", "compound": "", "building": ""}
            for match in self._name_scan.finditer(text):
                name, after = match.group(), text[match.end():]
                if name in self._roads and not found["road"]:
                    found["road"] = name
                    door = _DOOR_AFTER.match(after)
                    found["door"] = door.group(1) if door else ""
                elif name in self._compounds.index and not found["compound"]:
                    found["compound"] = name
                    building = _BUILDING_AFTER.match(after)
                    found["building"] = building.group(1) if building else ""
            rows.append(found)
        return pd.DataFrame(rows, index=texts.index, dtype=object)

    def _best_names(self, texts, districts, names, name_districts, cutoff):
        """Best fuzzy name per distinct (text, district); None when absent or ambiguous."""
        pairs = pd.DataFrame({"text": texts, "district": districts}).drop_duplicates()
        unique_texts = pairs["text"].unique()
        scores = process.cdist(unique_texts, names, scorer=fuzz.ratio, workers=-1, score_cutoff=cutoff)
        row_of = {t: i for i, t in enumerate(unique_texts)}
        best = {}
        for text, district in pairs.itertuples(index=False):
            row = scores[row_of[text]]
            candidates = np.flatnonzero(row)
            if district:
                candidates = candidates[[district in name_districts[c] for c in candidates]]
            if len(candidates) == 0:
                continue
            top = row[candidates].max()
            winners = candidates[row[candidates] == top]
            if len(winners) > 1:
                # Equally close in writing (康井 -> 康景 or 康泉?): a pinyin input method
                # makes homophones, so the one that sounds the same wins.
                sound = _pinyin(text)
                same = [w for w in winners if _pinyin(names[w]) == sound]
                winners = same
            if len(winners) == 1:
                best[(text, district)] = (names[winners[0]], float(top) / 100.0)
        return best

    def _fuzzy(self, keys, result):
        """Correct misspelt compound and road names by the closest gazetteer name in the district."""
        steps = (
            ("compound", self._compound_list, self._compound_districts, FUZZY_COMPOUND_SCORE),
            ("road", self._road_list, self._road_districts, FUZZY_ROAD_SCORE),
        )
        for column, names, name_districts, cutoff in steps:
            todo = (result["match_level"] == "未匹配") & (keys[column] != "") & ~keys[column].isin(names)
            if not todo.any():
                continue
            best = self._best_names(keys.loc[todo, column], keys.loc[todo, "district"], names, name_districts, cutoff)
            pairs = list(zip(keys.loc[todo, column], keys.loc[todo, "district"]))
            hit = np.array([pair in best for pair in pairs], dtype=bool)
            rows = keys.index[todo][hit]
            if len(rows) == 0:
                continue
            score = np.array([best[pair][1] for pair, h in zip(pairs, hit) if h])
            keys.loc[rows, column] = [best[pair][0] for pair, h in zip(pairs, hit) if h]
            sub, conf = keys.loc[rows], pd.Series(score, index=rows)
            if column == "compound":
                self._lookup(sub, result, self._by_building, ["compound", "building"], "楼栋", 0.95 * score,
                             "standard_address")
                left = result.loc[rows, "match_level"] == "未匹配"
                self._compound_only(sub[left.to_numpy()], result, conf[left.to_numpy()].to_numpy())
            else:
                self._lookup(sub, result, self._by_door, ["road", "door"], "门牌", 0.9 * score, "door_address")

    def _road_nearest(self, keys, result):
        """A door the gazetteer lacks: the nearest known door on the same side of that road."""
        todo = (result["match_level"] == "未匹配") & keys["road"].isin(self._roads)
        todo &= ~keys["compound"].isin(self._compounds.index)
        doors = np.full(len(keys), -1)
        doors[todo.to_numpy()] = [_leading_number(d) for d in keys.loc[todo, "door"]]
        doors = pd.Series(doors, index=keys.index)
        todo &= doors >= 0
        rows, found, confidence = [], [], []
        for road, group in keys[todo].groupby("road"):
            known = self._roads[road]
            numbers = known["door_number"].to_numpy()
            wanted = doors[group.index].to_numpy()
            gap = np.abs(numbers[None, :] - wanted[:, None]).astype(float)
            # Odd and even numbers face each other across the road: prefer the same side.
            gap[(numbers[None, :] % 2) != (wanted[:, None] % 2)] += 1e6
            nearest = gap.argmin(axis=1)
            distance = np.abs(numbers[nearest] - wanted)
            rows.extend(group.index)
            found.append(known.iloc[nearest])
            confidence.append(np.select([distance <= 6, distance <= 20, distance <= 60], [0.85, 0.7, 0.5], 0.3))
        if rows:
            self._fill(result, rows, pd.concat(found).assign(building_id=None), "道路", np.concatenate(confidence),
                       "door_address")

    def _compound_only(self, keys, result, score=1.0):
        todo = (result.loc[keys.index, "match_level"] == "未匹配") & keys["compound"].isin(self._compounds.index)
        if not todo.any():
            return
        found = self._compounds.reindex(keys.loc[todo, "compound"])
        conf = LEVEL_CONFIDENCE["小区"] * (score[todo.to_numpy()] if isinstance(score, np.ndarray) else score)
        self._fill(result, keys.index[todo], found, "小区", conf, "door_address")

    def _community_or_district(self, keys, result):
        todo = (result["match_level"] == "未匹配") & keys["community"].isin(list(self._communities))
        if todo.any():
            centres = pd.DataFrame(self._communities, index=["x", "y"]).T.reindex(keys.loc[todo, "community"])
            result.loc[todo, "x"] = centres["x"].to_numpy()
            result.loc[todo, "y"] = centres["y"].to_numpy()
            result.loc[todo, "matched_address"] = (keys.loc[todo, "district"] + keys.loc[todo, "community"]).to_numpy()
            result.loc[todo, "match_level"] = "社区"
            result.loc[todo, "confidence"] = LEVEL_CONFIDENCE["社区"]
        todo = (result["match_level"] == "未匹配") & (keys["district"] != "")
        result.loc[todo, "matched_address"] = ("湖北省宜昌市" + keys.loc[todo, "district"]).to_numpy()
        result.loc[todo, "match_level"] = "区县"
        result.loc[todo, "confidence"] = LEVEL_CONFIDENCE["区县"]
