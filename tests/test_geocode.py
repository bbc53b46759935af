"""Geocoding registries into grids: matching chain, coordinates, files, review round trip."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, box

from gridmap.cli import main
from gridmap.crs import wgs84_to_bd09, wgs84_to_gcj02
from gridmap.geocode.assign import GridIndex
from gridmap.idnumber import check_digit
from gridmap.geocode.importing import CORRECTION_HEADERS, REVIEW_HEADERS, geocode_file
from gridmap.project import Project

X0, Y0, D = 111.300, 30.700, 0.002  # two ~200 m grids side by side
G1, G2 = "420502001001001", "420502001001002"


@pytest.fixture
def tiny_project(tmp_path):
    grids = gpd.GeoDataFrame(
        {"grid_code": [G1, G2], "grid_name": ["第1网格", "第2网格"], "community_code": ["420502001001"] * 2,
         "community": ["桃花岭社区"] * 2, "district": ["西陵区"] * 2, "zone": ["urban"] * 2},
        geometry=[box(X0, Y0, X0 + D, Y0 + D), box(X0 + D, Y0, X0 + 2 * D, Y0 + D)], crs="EPSG:4490",
    )
    communities = gpd.GeoDataFrame({"community_code": ["420502001001"], "community": ["桃花岭社区"]},
                                   geometry=[box(X0, Y0, X0 + 2 * D, Y0 + D)], crs="EPSG:4490")
    rows = [  # building_id, grid, x offset, standard address
        ("B1", G1, 0.3, "湖北省宜昌市西陵区夷陵大道10号桃花岭小区1栋"),
        ("B2", G1, 0.6, "湖北省宜昌市西陵区夷陵大道10号桃花岭小区2栋"),
        ("B3", G2, 1.3, "湖北省宜昌市西陵区夷陵大道21号"),
        ("B4", G2, 1.6, "湖北省宜昌市西陵区东山大道5号康景雅居1栋"),
        ("B5", G1, 0.8, "湖北省宜昌市西陵区东山大道7号康泉雅居1栋"),
        ("B6", G2, 1.8, "湖北省宜昌市西陵区夷陵大道41号"),
    ]
    addresses = gpd.GeoDataFrame(
        {"building_id": [r[0] for r in rows], "grid_code": [r[1] for r in rows],
         "standard_address": [r[3] for r in rows]},
        geometry=[Point(X0 + r[2] * D, Y0 + D / 2) for r in rows], crs="EPSG:4490",
    )
    path = tmp_path / "tiny.gpkg"
    Project.create(path, {"grids": grids, "communities": communities, "addresses": addresses},
                   {"data_date": "2025-12-31"})
    return path


def residents(rows):
    """A registry table with Chinese headers; rows are (person_id, address, lon, lat)."""
    first17 = [f"42050219491231{i:03d}" for i in range(len(rows))]
    return pd.DataFrame({
        "人员编号": [r[0] for r in rows],
        "姓名": ["张三"] * len(rows),
        "公民身份号码": [f + check_digit(f) for f in first17],
        "户编号": [f"H{i}" for i in range(len(rows))],
        "出生日期": ["1949-12-31"] * len(rows),
        "居住地址": [r[1] for r in rows],
        "经度": [r[2] for r in rows],
        "纬度": [r[3] for r in rows],
    })


def placed_grids(project):
    layer = Project(project).read("residents")
    return dict(zip(layer["person_id"], layer["grid_code"]))


def test_boundary_points_go_to_the_smallest_grid_code(tiny_project):
    grids = Project(tiny_project).read("grids")
    index = GridIndex(grids.iloc[::-1])  # query order must not matter
    x = [X0 + D, X0 + D, X0 + 0.5 * D, X0 + 1.5 * D, X0 + 3 * D, np.nan]
    y = [Y0 + D / 2, Y0, Y0 + D / 2, Y0 + D / 2, Y0, Y0]
    assert index.assign(x, y).tolist() == [G1, G1, G1, G2, None, None]


def test_matching_chain_levels(tiny_project, tmp_path):
    table = residents([
        ("P1", "西陵区夷陵大道10号桃花岭小区2栋3单元501室", "", ""),     # exact building
        ("P2", "宜昌市夷陵大道21号", "", ""),                             # exact door
        ("P3", "康井雅居1栋2单元101", "", ""),                            # homophone typo -> 康景, not 康泉
        ("P4", "夷陵大道43号", "", ""),                                   # unknown door -> nearest on road
        ("P5", "桃花岭小区", "", ""),                                     # compound only
        ("P6", "西陵区夷陵大到10号桃花岭小区1幢", "", ""),                # typo and variant marker
        ("P7", "胡乱写的地址", "", ""),                                   # nothing
    ])
    csv = tmp_path / "r.csv"
    table.to_csv(csv, index=False)
    summary = geocode_file(tiny_project, csv, "residents")
    assert summary["input_rows"] == 7 and summary["placed"] == 6 and summary["not_placed"] == 1
    layer = Project(tiny_project).read("residents").set_index("person_id")
    assert layer.loc["P1", ["match_level", "grid_code", "building_id"]].tolist() == ["楼栋", G1, "B2"]
    assert layer.loc["P2", ["match_level", "grid_code"]].tolist() == ["门牌", G2]
    assert layer.loc["P3", ["match_level", "grid_code", "building_id"]].tolist() == ["楼栋", G2, "B4"]
    assert layer.loc["P3", "confidence"] < 0.9
    assert layer.loc["P4", ["match_level", "grid_code"]].tolist() == ["道路", G2]
    assert layer.loc["P5", ["match_level", "grid_code"]].tolist() == ["小区", G1]
    assert layer.loc["P6", ["match_level", "grid_code", "building_id"]].tolist() == ["楼栋", G1, "B1"]
    review = Project(tiny_project).read("review").set_index("record_id")
    assert review.loc["P7", "review_reason"] == "地址未匹配且无坐标"


@pytest.mark.parametrize("crs, convert", [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09),
                                          ("wgs84", lambda x, y: (x, y))])
def test_coordinates_in_each_datum(tiny_project, tmp_path, crs, convert, capsys):
    lon, lat = convert(np.array([X0 + 1.5 * D, X0 + 0.2 * D]), np.array([Y0 + D / 2, Y0 + D / 2]))
    table = residents([("P1", "", lon[0], lat[0]), ("P2", "", lat[1], lon[1])])  # P2 has lat/lon swapped
    csv = tmp_path / "coords.csv"
    table.to_csv(csv, index=False)
    assert main(["geocode", str(tiny_project), str(csv), "--kind", "residents", "--crs", crs]) == 0
    assert placed_grids(tiny_project) == {"P1": G2, "P2": G1}
    review = Project(tiny_project).read("review").set_index("record_id")
    assert "经纬度颠倒" in review.loc["P2", "review_reason"]


def test_far_and_inconsistent_coordinates_are_reported(tiny_project, tmp_path):
    far = wgs84_to_gcj02(np.array([116.40]), np.array([39.90]))  # Beijing
    near_other = wgs84_to_gcj02(np.array([X0 + 1.9 * D]), np.array([Y0 + D / 2]))
    table = residents([("P1", "", far[0][0], far[1][0]),
                       ("P2", "西陵区夷陵大道10号桃花岭小区1栋", near_other[0][0], near_other[1][0])])
    table.loc[1, ["经度", "纬度"]] = wgs84_to_gcj02(np.array([X0 + 30 * D]), np.array([Y0]))[0][0], \
        wgs84_to_gcj02(np.array([X0 + 30 * D]), np.array([Y0]))[1][0]
    csv = tmp_path / "far.csv"
    table.to_csv(csv, index=False)
    geocode_file(tiny_project, csv, "residents")
    review = Project(tiny_project).read("review").set_index("record_id")
    assert "坐标远离项目范围" in review.loc["P1", "review_reason"]
    assert "地址与坐标相距" in review.loc["P2", "review_reason"]
    assert placed_grids(tiny_project) == {"P2": G1}  # placed by its address, flagged


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_give_the_same_result(tiny_project, tmp_path, encoding):
    table = residents([("P1", "西陵区夷陵大道10号桃花岭小区2栋", "", ""), ("P2", "夷陵大道21号", "", "")])
    csv = tmp_path / f"{encoding}.csv"
    table.to_csv(csv, index=False, encoding=encoding)
    geocode_file(tiny_project, csv, "residents")
    assert placed_grids(tiny_project) == {"P1": G1, "P2": G2}
    assert Project(tiny_project).read("residents")["name"].tolist() == ["张三", "张三"]


def test_xlsx_input(tiny_project, tmp_path):
    path = tmp_path / "r.xlsx"
    residents([("P1", "西陵区夷陵大道10号桃花岭小区2栋", "", "")]).to_excel(path, index=False)
    assert geocode_file(tiny_project, path, "residents")["placed"] == 1


def test_rerun_is_idempotent(tiny_project, tmp_path):
    table = residents([("P1", "西陵区夷陵大道10号桃花岭小区2栋", "", ""), ("P2", "胡乱", "", ""),
                       ("P3", "夷陵大道41号", "", "")])
    csv = tmp_path / "r.csv"
    table.to_csv(csv, index=False)
    geocode_file(tiny_project, csv, "residents")
    project = Project(tiny_project)
    first = (project.read("residents"), project.read("review"), project.read("grids"))
    geocode_file(tiny_project, csv, "residents")
    second = (project.read("residents"), project.read("review"), project.read("grids"))
    for a, b in zip(first, second):
        pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b))
    assert second[2].set_index("grid_code")["population"].to_dict() == {G1: 1, G2: 1}


def test_bad_rows_are_reviewed_not_dropped(tiny_project, tmp_path):
    table = residents([("P1", "西陵区夷陵大道10号桃花岭小区2栋", "", ""), ("P1", "夷陵大道21号", "", ""),
                       ("P3", "", "", ""), ("P4", "夷陵大道21号", "", "")])
    good = table.loc[3, "公民身份号码"]
    table.loc[3, "公民身份号码"] = good[:17] + ("0" if good[17] != "0" else "1")  # wrong check digit
    csv = tmp_path / "r.csv"
    table.to_csv(csv, index=False)
    summary = geocode_file(tiny_project, csv, "residents")
    assert summary["placed"] + summary["not_placed"] == 4
    review = Project(tiny_project).read("review")
    reasons = dict(zip(review.index, review["review_reason"]))
    assert sorted(reasons.values()) == ["地址为空且无坐标", "编号重复", "身份证号无效"]


def test_review_round_trip(tiny_project, tmp_path):
    table = residents([("P1", "胡乱写的", "", ""), ("P2", "也不知道在哪", "", ""), ("P3", "还是不知道", "", "")])
    csv, review_xlsx = tmp_path / "r.csv", tmp_path / "review.xlsx"
    table.to_csv(csv, index=False)
    geocode_file(tiny_project, csv, "residents", review_out=review_xlsx)
    sheet = pd.read_excel(review_xlsx, dtype=str).fillna("")
    assert len(sheet) == 3
    # Personal data is masked in the workbook: first 6 + last 4 of the ID, surname + *.
    assert sheet[REVIEW_HEADERS["id_number"]].str.fullmatch(r"\d{6}\*{8}[\dX]{4}").all()
    assert set(sheet[REVIEW_HEADERS["name"]]) == {"张*"}
    sheet.loc[0, CORRECTION_HEADERS["corrected_address"]] = "夷陵大道21号"
    sheet.loc[1, CORRECTION_HEADERS["corrected_grid_code"]] = G1
    sheet.loc[2, CORRECTION_HEADERS["corrected_lon"]] = str(X0 + 1.5 * D)
    sheet.loc[2, CORRECTION_HEADERS["corrected_lat"]] = str(Y0 + 0.5 * D)
    sheet.to_excel(review_xlsx, index=False)
    assert main(["geocode", str(tiny_project), "--apply-review", str(review_xlsx)]) == 0
    assert placed_grids(tiny_project) == {"P1": G2, "P2": G1, "P3": G2}
    assert not Project(tiny_project).has_layer("review") or len(Project(tiny_project).read("review")) == 0


def _bad_files(tmp_path):
    garbled = tmp_path / "garbled.csv"
    garbled.write_bytes("人员编号,居住地址\nP1,".encode("utf-8") + b"\xff\xfe\x80\xff\n")
    yield garbled, "neither UTF-8 nor GBK"
    missing = tmp_path / "missing.csv"
    pd.DataFrame({"人员编号": ["P1"], "姓名": ["张三"]}).to_csv(missing, index=False)
    yield missing, "missing required column 地址/address"
    noid = tmp_path / "noid.csv"
    pd.DataFrame({"居住地址": ["夷陵大道21号"]}).to_csv(noid, index=False)
    yield noid, "missing required column 人员编号/person_id"
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    yield empty, "is empty"
    header_only = tmp_path / "header.csv"
    header_only.write_text("人员编号,居住地址\n", encoding="utf-8")
    yield header_only, "has a header but no rows"
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    yield binary, "not a text table"
    gpkg = tmp_path / "layer.gpkg"
    gpkg.write_bytes(b"SQLite format 3\x00")
    yield gpkg, "not a CSV or .xlsx table"
    fake_xlsx = tmp_path / "fake.xlsx"
    fake_xlsx.write_text("not a zip")
    yield fake_xlsx, "not a readable .xlsx workbook"


def test_each_bad_file_is_refused_with_one_line_and_project_unchanged(tiny_project, tmp_path, capsys):
    before = tiny_project.read_bytes()
    cases = list(_bad_files(tmp_path))
    for path, message in cases:
        code = main(["geocode", str(tiny_project), str(path), "--kind", "residents"])
        err = capsys.readouterr().err
        assert code == 2, path.name
        assert err.count("\n") == 1 and path.name in err and message in err, (path.name, err)
        assert tiny_project.read_bytes() == before, path.name


def test_demo_registry_lands_in_true_grids(demo_dir, project_copy):
    summary = geocode_file(project_copy, demo_dir / "residents.csv", "residents")
    truth = pd.read_csv(demo_dir / "ground_truth.csv", dtype=str)
    assert summary["input_rows"] == len(truth)
    layer = Project(project_copy).read("residents", columns=["person_id", "grid_code", "confidence"])
    merged = layer.merge(truth, on="person_id", suffixes=("", "_true"))
    right = merged["grid_code"] == merged["grid_code_true"]
    assert right.sum() / len(truth) > 0.99
    assert right[merged["confidence"] >= 0.9].mean() > 0.998


def test_bulk_assignment_agrees_with_a_plain_spatial_join(demo_project):
    """The lookup raster (used above 20k points) gives what sjoin + smallest-code gives."""
    grids = Project(demo_project).read("grids")
    rng = np.random.default_rng(7)
    minx, miny, maxx, maxy = grids.total_bounds
    vertices = shapely.get_coordinates(grids.geometry.values)[::5]  # points exactly on boundaries
    x = np.concatenate([rng.uniform(minx - 0.01, maxx + 0.01, 40_000), vertices[:, 0]])
    y = np.concatenate([rng.uniform(miny - 0.01, maxy + 0.01, 40_000), vertices[:, 1]])
    ours = GridIndex(grids).assign(x, y)
    points = gpd.GeoDataFrame({"i": np.arange(len(x))}, geometry=gpd.points_from_xy(x, y), crs=grids.crs)
    joined = gpd.sjoin(points, grids[["grid_code", "geometry"]], predicate="intersects")
    expected = joined.groupby("i")["grid_code"].min().reindex(range(len(x)))
    assert (pd.Series(ours).fillna("-") == expected.fillna("-").to_numpy()).all()
