"""Grid editing engine (issue 4): operations with known answers, refusals, undo/redo, the CLI, the demo."""

import hashlib
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import shapely
from gridedit_helpers import build_project, grid_layer_bytes, metric_line, metric_polygon

from gridmap.cli import main
from gridmap.crs import METRIC_CRS
from gridmap.errors import GridMapError
from gridmap.grids.counts import recount
from gridmap.grids.edit import GridEditor, parse_geometry
from gridmap.grids.editlog import history, history_geometries
from gridmap.grids.gpkg_rows import decode_blob, decode_points, encode_blob
from gridmap.grids.topology import insert_vertices, split_polygon, stitch
from gridmap.grids.validate import validate_grids
from gridmap.project import Project

C1, C2 = "420502001001", "420502001002"
G = {n: f"{C1}{n:03d}" for n in range(1, 10)}
H = {n: f"{C2}{n:03d}" for n in range(1, 10)}

# Layout (metres from the south-west corner): community 1 is x 0-400, community 2 x 400-800;
# grids 001 NW, 002 NE, 003 SW, 004 SE of 200 m each.
RESIDENTS = [
    (50, 100, "H1", 70, "A"), (50, 100, "H1", 40, "A"), (50, 100, "H1", 10, "A"), (50, 100, "H2", 85, "A"),  # 003
    (150, 100, "H3", 30, "B"), (150, 100, "H3", 62, "B"),  # 003, east part
    (100, 300, "H4", 65, "C"), (100, 300, "H4", 20, "C"),  # 001
    (300, 300, "H5", 81, "D"), (300, 300, "H6", 5, "D"), (300, 300, "H6", 33, "D"),  # 002
    (300, 100, "H7", 45, "E"),  # 004
    (500, 300, "H8", 60, "F"), (500, 300, "H8", 61, "F"),  # community 2, 001
]
FACILITIES = [(150, 50, "clinic"), (50, 50, "candidate"), (300, 300, "elderly_home")]
COUNT_COLUMNS = ["households", "population", "elderly_60", "elderly_80", "fac_clinic", "fac_elderly_home"]


@pytest.fixture
def small(tmp_path):
    return build_project(tmp_path / "small.gpkg", residents=RESIDENTS, facilities=FACILITIES)


def grids_of(path):
    return Project(path).read("grids").set_index("grid_code")


def metric_area(path, code):
    return float(grids_of(path).loc[[code]].to_crs(METRIC_CRS).area.iloc[0])


def assert_consistent(path):
    """The coverage validates and every grid's counts equal a recount from scratch."""
    project = Project(path)
    grids = project.read("grids")
    report = validate_grids(grids, project.read("communities"))
    assert report.ok, report.problems
    assert shapely.coverage_is_valid(grids.geometry.values)
    residents = project.read("residents", columns=["grid_code", "household_id", "age"])
    facilities = project.read("facilities", columns=["grid_code", "kind"])
    fresh = recount(grids, residents, facilities[facilities["kind"] != "candidate"])
    columns = [c for c in grids.columns if (c in COUNT_COLUMNS or c.startswith("fac_")) and c in fresh]
    pd.testing.assert_frame_equal(fresh[columns].reset_index(drop=True), grids[columns].reset_index(drop=True),
                                  check_dtype=False)
    # Residents sit in the grid that holds their point.
    from gridmap.geocode.assign import GridIndex

    placed = project.read("residents", columns=["grid_code"])
    assert (GridIndex(grids).assign(placed.geometry.x, placed.geometry.y) == placed["grid_code"].to_numpy()).all()


def file_hash(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


# ------------------------------------------------------------------ helpers of the engine
@pytest.mark.parametrize(
    "value, crs, expected",
    [
        ("LINESTRING (111.3 30.7, 111.31 30.7)", "4490", "LineString"),
        ('{"type": "LineString", "coordinates": [[111.3, 30.7], [111.31, 30.7]]}', "EPSG:4490", "LineString"),
        (('{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", '
          '"coordinates": [[[111.3, 30.7], [111.31, 30.7], [111.31, 30.71], [111.3, 30.7]]]}}'), "4490", "Polygon"),
        (metric_line((0, 0), (100, 0)), "4546", "LineString"),
    ],
)
def test_parse_geometry_reads_wkt_geojson_and_metric_input(value, crs, expected):
    geom = parse_geometry(value, crs)
    assert geom.geom_type == expected
    assert 111 <= shapely.get_coordinates(geom)[0, 0] < 112


@pytest.mark.parametrize("value", ["", "LINESTRING (", "POINT EMPTY", 42])
def test_parse_geometry_refuses_bad_input_in_one_line(value):
    with pytest.raises(GridMapError) as info:
        parse_geometry(value)
    assert "\n" not in str(info.value)


def test_gpkg_blob_round_trip_and_point_decoding():
    poly = shapely.box(111.3, 30.7, 111.31, 30.71)
    assert shapely.equals_exact(decode_blob(encode_blob(poly, 4490)), poly, 0.0)
    assert decode_blob(None) is None
    points = [encode_blob(shapely.Point(111.3, 30.7), 4490)[:8].replace(b"\x03", b"\x01", 1)
              + shapely.to_wkb(shapely.Point(111.3, 30.7), byte_order=1), None,
              encode_blob(shapely.Point(111.4, 30.6), 4490)]
    x, y = decode_points(points)
    np.testing.assert_array_equal(x[[0, 2]], [111.3, 111.4])
    assert np.isnan(x[1]) and np.isnan(y[1])


def test_split_polygon_and_stitch_share_vertices_with_the_neighbour():
    left, right = shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)
    pieces = split_polygon(left, shapely.LineString([(0.5, -1), (0.5, 0.3), (1.5, 0.3)]))
    assert sorted(round(p.area, 6) for p in pieces) == [0.15, 0.85]
    new, neighbours, touched = stitch(pieces, [right])
    assert touched.tolist() == [True]
    assert shapely.get_num_coordinates(neighbours[0]) == 6 and neighbours[0].area == 1.0
    assert shapely.coverage_is_valid(np.asarray(list(new) + neighbours, dtype=object))
    # Nothing to add: the very same object comes back (its stored bytes stay).
    assert insert_vertices(right, np.array([[5.0, 5.0]])) is right


# ------------------------------------------------------------------ operations, known answers
def test_split_by_line_gives_known_pieces_and_counts(small):
    before = grids_of(small)
    result = GridEditor(small, user="tester").split(G[3], metric_line((120, -10), (120, 210)), crs="4546")
    assert result.added == [G[5]] and result.removed == []
    grids = grids_of(small)
    assert metric_area(small, G[3]) == pytest.approx(24_000, abs=1)
    assert metric_area(small, G[5]) == pytest.approx(16_000, abs=1)
    assert grids.loc[G[3], ["households", "population", "elderly_60", "elderly_80", "fac_clinic"]].tolist() == [2, 4, 2, 1, 0]
    assert grids.loc[G[5], ["households", "population", "elderly_60", "elderly_80", "fac_clinic"]].tolist() == [1, 2, 1, 0, 1]
    assert grids.loc[G[5], "grid_name"] == "测试1社区第5网格"
    # The north neighbour gained the crossing vertex, nothing else.
    assert shapely.get_num_coordinates(grids.geometry[G[1]]) == shapely.get_num_coordinates(before.geometry[G[1]]) + 1
    assert shapely.hausdorff_distance(grids.geometry[G[1]], before.geometry[G[1]]) < 1e-12
    assert G[1] in result.changed
    assert Project(small).read("communities").set_index("community_code").loc[C1, "grid_count"] == 5
    assert_consistent(small)


def test_split_into_parts_balances_households(tmp_path):
    path = build_project(tmp_path / "p.gpkg", communities=1, n=1, size=400, random_buildings=24,
                         households_per_building=(2, 6), seed=3)
    total = int(grids_of(path)["households"].sum())
    result = GridEditor(path).split_parts(G[1], 3)
    grids = grids_of(path)
    assert len(grids) == 3 and sorted(result.added) == [G[2], G[3]]
    assert grids["households"].sum() == total
    assert grids["households"].max() - grids["households"].min() <= 0.25 * total / 3
    assert (grids.geometry.geom_type == "Polygon").all()
    assert_consistent(path)


def test_merge_adds_areas_and_counts(small):
    result = GridEditor(small).merge([G[2], G[1]])
    assert result.removed == [G[2]] and result.households == {G[1]: 3}
    grids = grids_of(small)
    assert G[2] not in grids.index
    assert metric_area(small, G[1]) == pytest.approx(80_000, abs=1)
    assert grids.loc[G[1], ["households", "population", "fac_elderly_home"]].tolist() == [3, 5, 1]
    assert grids.geometry[G[1]].geom_type == "Polygon"
    assert_consistent(small)


def test_reshape_moves_the_shared_boundary_of_both_grids(small):
    # A triangle of 6000 m² holding building D passes from 002 to 001.
    GridEditor(small).reshape(metric_line((200, 250), (320, 300), (200, 350)), crs="4546")
    assert metric_area(small, G[1]) == pytest.approx(46_000, abs=1)
    assert metric_area(small, G[2]) == pytest.approx(34_000, abs=1)
    grids = grids_of(small)
    assert grids.loc[G[1], ["households", "population", "fac_elderly_home"]].tolist() == [3, 5, 1]
    assert grids.loc[G[2], ["households", "population"]].tolist() == [0, 0]
    assert_consistent(small)


def test_draw_takes_area_from_the_grids_it_overlaps(small):
    result = GridEditor(small).draw(metric_polygon((150, 150), (250, 150), (250, 250), (150, 250)), crs="4546")
    assert result.added == [G[5]] and sorted(result.changed) == [G[1], G[2], G[3], G[4], G[5]]
    assert metric_area(small, G[5]) == pytest.approx(10_000, abs=1)
    for n in range(1, 5):
        assert metric_area(small, G[n]) == pytest.approx(37_500, abs=1)
    assert grids_of(small).loc[G[5], "households"] == 0
    assert_consistent(small)


def test_draw_absorbs_a_grid_it_covers(small):
    result = GridEditor(small).draw(metric_polygon((-10, 190), (210, 190), (210, 410), (-10, 410)), crs="4546")
    assert G[1] in result.removed and result.added == [G[5]]
    assert metric_area(small, G[5]) == pytest.approx(210 * 210, abs=1)
    assert grids_of(small).loc[G[5], "households"] == 1
    assert_consistent(small)


def test_move_to_a_neighbouring_community_updates_codes_and_communities(small):
    result = GridEditor(small).move(G[2], C2)
    assert result.removed == [G[2]] and result.added == [H[5]]
    grids = grids_of(small)
    assert grids.loc[H[5], ["community_code", "community", "grid_name"]].tolist() == [C2, "测试2社区", "测试2社区第5网格"]
    communities = Project(small).read("communities").set_index("community_code")
    areas = communities.to_crs(METRIC_CRS).area
    assert areas[C1] == pytest.approx(120_000, abs=1) and areas[C2] == pytest.approx(200_000, abs=1)
    assert communities["grid_count"].to_dict() == {C1: 3, C2: 5}
    residents = Project(small).read("residents")
    assert set(residents.loc[residents["household_id"].isin(["H5", "H6"]), "grid_code"]) == {H[5]}
    assert_consistent(small)


def test_renumber_follows_reading_order(small):
    editor = GridEditor(small)
    editor.split(G[1], metric_line((120, 190), (120, 410)), crs="4546")  # 005 is the east part of 001
    assert editor.renumber(C1).edit_id is not None
    grids = grids_of(small).to_crs(METRIC_CRS)
    centres = {code: (round(p.x - 500_000), round(p.y - 3_398_000)) for code, p in grids.centroid.items()
               if code.startswith(C1)}
    assert centres == {G[1]: (60, 300), G[2]: (160, 300), G[3]: (300, 300), G[4]: (100, 100), G[5]: (300, 100)}
    residents = Project(small).read("residents").set_index("household_id")
    assert residents.loc["H5", "grid_code"] == G[3] and residents.loc["H7", "grid_code"] == G[5]
    assert editor.renumber(C1).edit_id is None  # already in order: nothing written
    assert_consistent(small)


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    "action, message",
    [
        (lambda e: e.split(G[3], metric_line((250, 100), (350, 100)), crs="4546"), "line does not cross grid"),
        (lambda e: e.split(G[3], metric_line((50, 50), (100, 100)), crs="4546"), "line does not cross grid"),
        (lambda e: e.split(G[3], metric_line((3, -10), (3, 210)), crs="4546"), "piece smaller than the minimum area"),
        (lambda e: e.merge([G[1], G[4]]), "are not adjacent"),
        (lambda e: e.merge([G[2], H[1]]), "are in different communities"),
        (lambda e: e.merge([G[1]]), "at least two"),
        (lambda e: e.merge([G[1], "420502001001099"]), "no grid 420502001001099"),
        (lambda e: e.reshape(metric_line((200, 250), (450, 300), (200, 350)), crs="4546"), "line leaves grids"),
        (lambda e: e.reshape(metric_line((400, 250), (450, 300), (400, 350)), crs="4546"), "in different communities"),
        (lambda e: e.reshape(metric_line((100, 250), (150, 300)), crs="4546"), "line must start and end on the boundary"),
        (lambda e: e.reshape(metric_line((200, 250), (400, 300), (200, 350)), crs="4546"), "line leaves grids"),
        (lambda e: e.move(G[3], C2), "does not border community"),
        (lambda e: e.draw(metric_polygon((-10, 5), (410, 5), (410, 15), (-10, 15)), crs="4546"), "would cut grid"),
    ],
)
def test_refusals_name_the_rule_and_leave_the_project_unchanged(small, action, message):
    before = file_hash(small)
    with pytest.raises(GridMapError, match=message) as info:
        action(GridEditor(small))
    assert "\n" not in str(info.value)
    assert file_hash(small) == before


def test_locked_grids_refuse_edits(small):
    editor = GridEditor(small)
    editor.lock([G[3]])
    assert editor.locked() == [G[3]]
    before = file_hash(small)
    with pytest.raises(GridMapError, match=f"grid {G[3]} is locked"):
        editor.split(G[3], metric_line((120, -10), (120, 210)), crs="4546")
    with pytest.raises(GridMapError, match=f"grid {G[3]} is locked"):
        editor.merge([G[3], G[4]])
    # A cut that would add a vertex to the locked grid's boundary is refused too.
    with pytest.raises(GridMapError, match=f"grid {G[3]} is locked"):
        editor.split(G[1], metric_line((120, 190), (120, 410)), crs="4546")
    assert file_hash(small) == before
    editor.unlock([G[3]])
    editor.split(G[3], metric_line((120, -10), (120, 210)), crs="4546")


def test_snapping_moves_a_crossing_onto_a_nearby_vertex(small):
    # 0.6 m from the corner (200, 200): the cut goes through the corner, no new vertex on 004.
    before = grids_of(small)
    GridEditor(small).split(G[3], metric_line((-10, 30), (199.4, 200.6)), crs="4546")
    after = grids_of(small)
    assert shapely.get_num_coordinates(after.geometry[G[4]]) == shapely.get_num_coordinates(before.geometry[G[4]])
    assert_consistent(small)


def test_minimum_area_is_configurable(small):
    GridEditor(small, min_area_m2=500).split(G[3], metric_line((3, -10), (3, 210)), crs="4546")
    assert metric_area(small, G[5]) == pytest.approx(600, abs=1)


# ------------------------------------------------------------------ log, undo, redo
def test_undo_restores_the_grid_layer_byte_for_byte_after_reopening(small):
    original = grid_layer_bytes(small)
    residents = Project(small).read("residents")
    editor = GridEditor(small, user="张三")
    editor.split(G[3], metric_line((120, -10), (120, 210)), crs="4546")
    editor.merge([G[1], G[2]])
    edited = grid_layer_bytes(small)
    # A fresh process, as after closing and reopening the project.
    for _ in range(2):
        done = subprocess.run([sys.executable, "-m", "gridmap.cli", "grid", "undo", str(small)],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    restored = grid_layer_bytes(small)
    pd.testing.assert_frame_equal(restored[0], original[0])
    assert (restored[1] == original[1]).all()
    pd.testing.assert_frame_equal(Project(small).read("residents"), residents)
    with pytest.raises(GridMapError, match="nothing to undo"):
        GridEditor(small).undo()
    GridEditor(small).redo()
    GridEditor(small).redo()
    again = grid_layer_bytes(small)
    pd.testing.assert_frame_equal(again[0], edited[0])
    assert (again[1] == edited[1]).all()
    with pytest.raises(GridMapError, match="nothing to redo"):
        GridEditor(small).redo()
    log = history(small)
    assert log["operation"].tolist() == ["split", "merge"]
    assert log["state"].tolist() == ["applied", "applied"]
    assert set(log["user"]) == {"张三"}
    assert log.loc[0, "after_codes"] == [G[3], G[5]]


def test_a_new_edit_discards_the_redo_stack(small):
    editor = GridEditor(small)
    editor.merge([G[1], G[2]])
    editor.undo()
    editor.merge([G[3], G[4]])
    assert history(small)["state"].tolist() == ["discarded", "applied"]
    with pytest.raises(GridMapError, match="nothing to redo"):
        editor.redo()


def test_undo_refuses_when_grids_changed_outside_the_editor(small):
    editor = GridEditor(small)
    editor.merge([G[1], G[2]])
    project = Project(small)
    grids = project.read("grids")
    grids.loc[grids["grid_code"] == G[1], "geometry"] = grids.loc[grids["grid_code"] == G[1], "geometry"].buffer(0)
    grids.loc[grids["grid_code"] == G[1], "households"] = 99
    project.write({"grids": grids})
    before = file_hash(small)
    with pytest.raises(GridMapError, match="changed outside the editor"):
        editor.undo()
    assert file_hash(small) == before


def test_history_lists_and_exports_before_after_geometries(small, tmp_path):
    editor = GridEditor(small, user="李四")
    editor.split(G[3], metric_line((120, -10), (120, 210)), crs="4546")
    editor.undo()
    frame = history_geometries(small)
    assert set(frame["side"]) == {"before", "after"}
    assert {G[3], G[5]} <= set(frame["grid_code"])
    assert frame.crs.to_epsg() == 4490
    out = tmp_path / "history.geojson"
    assert main(["grid", "history", str(small), "--export", str(out)]) == 0
    assert out.exists()
    listed = Project(small).read("grid_edits")
    assert listed["state"].tolist() == ["undone"] and listed["user"].tolist() == ["李四"]


# ------------------------------------------------------------------ command line
def test_cli_edits_undo_redo_and_history(small, capsys):
    assert main(["grid", "split", str(small), G[3], "--line", metric_line((120, -10), (120, 210)), "--crs", "4546"]) == 0
    assert f"-> {G[3]}, {G[5]}" in capsys.readouterr().out
    assert main(["grid", "merge", str(small), G[3], G[5], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["removed"] == [G[5]]
    assert main(["grid", "undo", str(small)]) == 0
    assert main(["grid", "redo", str(small)]) == 0
    capsys.readouterr()
    assert main(["grid", "history", str(small), "--json"]) == 0
    log = json.loads(capsys.readouterr().out)
    assert [e["operation"] for e in log] == ["split", "merge"]
    assert main(["grid", "reshape", str(small), "--line", metric_line((200, 250), (320, 300), (200, 350)),
                 "--crs", "4546"]) == 0
    assert main(["grid", "split", str(small), G[4], "--parts", "2"]) == 0
    assert main(["grid", "move", str(small), G[2], C2]) == 0
    assert main(["grid", "renumber", str(small), C1]) == 0
    assert_consistent(small)


def test_cli_refusal_is_one_line_with_exit_status_2(small, capsys):
    before = file_hash(small)
    assert main(["grid", "merge", str(small), G[1], G[4]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "are not adjacent" in err
    assert main(["grid", "split", str(small), G[3]]) == 2
    assert "exactly one of --line or --parts" in capsys.readouterr().err
    assert main(["grid", "split", str(small), G[3], "--line", "LINESTRING (0 0, 1 1)"]) == 2
    assert "line does not cross grid" in capsys.readouterr().err
    assert file_hash(small) == before


def test_cli_reads_geojson_from_a_file(small, tmp_path):
    line = tmp_path / "cut.geojson"
    line.write_text(shapely.to_geojson(parse_geometry(metric_line((120, -10), (120, 210)), "4546")))
    assert main(["grid", "split", str(small), G[3], "--line", f"@{line}"]) == 0
    assert G[5] in grids_of(small).index


# ------------------------------------------------------------------ random edits
def _random_edit(editor, grids, rng):
    """A random operation on a random grid of ``grids`` (the current layer), as a callable."""
    row = grids.iloc[int(rng.integers(len(grids)))]
    geom = row.geometry
    op = rng.choice(["split", "split", "merge", "reshape", "draw", "move", "renumber"])
    if op == "split":
        c = shapely.point_on_surface(geom)
        angle = rng.uniform(0, np.pi)
        d = 0.01
        line = shapely.LineString([(c.x - d * np.cos(angle), c.y - d * np.sin(angle)),
                                   (c.x + d * np.cos(angle), c.y + d * np.sin(angle))])
        return op, lambda: editor.split(row.grid_code, line)
    touching = grids[grids.geometry.intersects(geom) & (grids["grid_code"] != row.grid_code)]
    shares = np.array([shapely.length(shapely.intersection(geom.boundary, g.boundary)) > 0 for g in touching.geometry],
                      dtype=bool)
    touching = touching[shares] if len(touching) else touching
    same = touching[touching["community_code"] == row.community_code]
    if op == "merge" and len(same):
        return op, lambda: editor.merge([row.grid_code, same["grid_code"].iloc[int(rng.integers(len(same)))]])
    if op == "reshape" and len(same):
        other = same.geometry.iloc[0]
        shared = max(shapely.get_parts(shapely.line_merge(shapely.intersection(geom.boundary, other.boundary))),
                     key=shapely.length)
        a, b = sorted(rng.uniform(0.05, 0.95, 2))
        p0, p1 = (shapely.line_interpolate_point(shared, t, normalized=True) for t in (a, b))
        mid = shapely.line_interpolate_point(shared, (a + b) / 2, normalized=True)
        towards = shapely.point_on_surface(geom if rng.random() < 0.5 else other)
        v = (np.array([towards.x - mid.x, towards.y - mid.y])) * rng.uniform(0.1, 0.5)
        line = shapely.LineString([p0.coords[0], (mid.x + v[0], mid.y + v[1]), p1.coords[0]])
        return op, lambda: editor.reshape(line)
    if op == "draw":
        c = shapely.point_on_surface(geom)
        s = rng.uniform(0.0002, 0.0006)
        return op, lambda: editor.draw(shapely.box(c.x - s, c.y - s, c.x + s, c.y + s).buffer(s * 0.3, quad_segs=2))
    other = touching[touching["community_code"] != row.community_code]
    if op == "move" and len(other):
        return op, lambda: editor.move(row.grid_code, other["community_code"].iloc[0])
    return "renumber", lambda: editor.renumber(row.community_code)


def test_200_random_edits_keep_the_coverage_valid_and_200_undos_restore_it(tmp_path):
    path = build_project(tmp_path / "random.gpkg", communities=3, n=3, size=300, random_buildings=4, seed=11)
    original = grid_layer_bytes(path)
    residents = Project(path).read("residents")
    editor = GridEditor(path, min_area_m2=300)
    rng = np.random.default_rng(2026)
    project = Project(path)
    grids = project.read("grids")
    done, refused, operations = 0, 0, {}
    while done < 200:
        op, action = _random_edit(editor, grids, rng)
        try:
            result = action()
        except GridMapError:
            refused += 1
            continue
        if result.edit_id is None:
            continue
        done += 1
        operations[op] = operations.get(op, 0) + 1
        grids = project.read("grids")
        report = validate_grids(grids, project.read("communities"))
        assert report.ok, (done, op, report.problems[:3])
        assert shapely.coverage_is_valid(grids.geometry.values), (done, op)
    assert set(operations) == {"split", "merge", "reshape", "draw", "move", "renumber"}, operations
    assert_consistent(path)
    for _ in range(200):
        editor.undo()
    with pytest.raises(GridMapError, match="nothing to undo"):
        editor.undo()
    restored = grid_layer_bytes(path)
    pd.testing.assert_frame_equal(restored[0], original[0])
    assert (restored[1] == original[1]).all()
    pd.testing.assert_frame_equal(Project(path).read("residents"), residents)


# ------------------------------------------------------------------ the demo
def test_split_and_merge_on_the_demo_keep_counts_equal_to_a_recount(project_copy):
    grids = Project(project_copy).read("grids")
    # The grid with the most households, cut through its middle.
    row = grids.sort_values("households", ascending=False).iloc[0]
    geom = row.geometry
    c = shapely.point_on_surface(geom)
    _, miny, _, maxy = geom.bounds
    editor = GridEditor(project_copy)
    result = editor.split(row.grid_code, shapely.LineString([(c.x, miny - 0.001), (c.x, maxy + 0.001)]))
    pieces = grids_of(project_copy).loc[[row.grid_code] + result.added]
    assert pieces["households"].sum() == row.households
    assert_consistent(project_copy)
    editor.merge([row.grid_code] + result.added)
    assert grids_of(project_copy).loc[row.grid_code, "households"] == row.households
    assert_consistent(project_copy)
    editor.undo()
    editor.undo()
    restored = Project(project_copy).read("grids")
    assert (shapely.to_wkb(restored.geometry.values) == shapely.to_wkb(grids.geometry.values)).all()


def test_reshape_draw_and_move_on_the_demo(project_copy):
    project = Project(project_copy)
    grids = project.read("grids")
    editor = GridEditor(project_copy)
    community = grids["community_code"].value_counts().index[0]
    members = grids[grids["community_code"] == community].reset_index(drop=True)
    a = members.geometry.iloc[0]
    b_row = next(r for r in members.iloc[1:].itertuples()
                 if shapely.length(shapely.intersection(a.boundary, r.geometry.boundary)) > 0)
    shared = max(shapely.get_parts(shapely.line_merge(shapely.intersection(a.boundary, b_row.geometry.boundary))),
                 key=shapely.length)
    p0, p1, mid = (shapely.line_interpolate_point(shared, t, normalized=True) for t in (0.25, 0.75, 0.5))
    towards = shapely.point_on_surface(a)
    line = shapely.LineString([p0.coords[0], ((mid.x + towards.x) / 2, (mid.y + towards.y) / 2), p1.coords[0]])
    editor.reshape(line)
    assert_consistent(project_copy)
    c = shapely.point_on_surface(members.geometry.iloc[-1])
    editor.draw(shapely.box(c.x - 0.0008, c.y - 0.0008, c.x + 0.0008, c.y + 0.0008))
    assert_consistent(project_copy)
    grids = project.read("grids")
    for row in grids[grids["community_code"] == community].itertuples():
        others = grids[grids.geometry.intersects(row.geometry) & (grids["community_code"] != community)]
        border = [o for o in others.itertuples()
                  if shapely.length(shapely.intersection(row.geometry.boundary, o.geometry.boundary)) > 0]
        if border:
            try:
                editor.move(row.grid_code, border[0].community_code)
            except GridMapError as exc:
                assert "would split community" in str(exc)
                continue
            break
    assert_consistent(project_copy)
    assert len(history(project_copy)) == 3


def test_draw_fills_a_gap_in_a_community(small):
    project = Project(small)
    grids = project.read("grids")
    project.write({"grids": grids[grids["grid_code"] != G[4]]})
    assert [p["check"] for p in validate_grids(project.read("grids"), project.read("communities")).problems] == ["gap"]
    result = GridEditor(small).draw(metric_polygon((200, 0), (400, 0), (400, 200), (200, 200)), crs="4546")
    assert result.added == [G[4]] and result.removed == []
    assert metric_area(small, G[4]) == pytest.approx(40_000, abs=1)
    assert grids_of(small).loc[G[4], "households"] == 1  # H7 lives in the gap
    assert_consistent(small)


def test_renumber_keeps_locked_codes(small):
    editor = GridEditor(small)
    editor.split(G[1], metric_line((120, 190), (120, 410)), crs="4546")
    editor.lock([G[2]])
    editor.renumber(C1)
    grids = grids_of(small).to_crs(METRIC_CRS)
    centres = {code: (round(p.x - 500_000), round(p.y - 3_398_000)) for code, p in grids.centroid.items()
               if code.startswith(C1)}
    assert centres[G[2]] == (300, 300)  # the locked grid kept its number
    assert centres == {G[1]: (60, 300), G[3]: (160, 300), G[2]: (300, 300), G[4]: (100, 100), G[5]: (300, 100)}
    assert_consistent(small)
