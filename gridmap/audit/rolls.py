"""The bureaus' rolls the audits read: file names, Chinese headers and field names.

Each bureau hands over one CSV (UTF-8, UTF-8 with BOM or GBK) or ``.xlsx`` file with
its own Chinese headers. :data:`ROLLS` maps them to GridMap field names; the demo
writes its department files through the same table, so the two cannot drift apart.
A folder of such files is a *records folder*; ``gridmap audit`` reads the one beside
the project unless told otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from gridmap.errors import GridMapError
from gridmap.geocode.tables import read_table

__all__ = ["ROLLS", "RollSpec", "read_roll", "roll_path", "write_roll"]


@dataclass(frozen=True)
class RollSpec:
    """One bureau's roll: its file name, what it is, and its headers -> field names."""

    file: str
    label: str
    headers: dict = field(default_factory=dict)

    @property
    def fields(self):
        return list(self.headers.values())


_PERSON = {"姓名": "name", "身份证号": "id_number"}
_MEDICAL = {"参保编号": "record_id", **_PERSON, "性别": "sex", "出生日期": "birth_date", "参保地": "insured_city",
            "险种": "scheme", "参保日期": "start", "终止日期": "end", "地址": "address"}

ROLLS = {
    # Deaths, as three bureaus record them.
    "death_civil": RollSpec("deaths_civil_affairs.csv", "民政殡葬记录", {
        "记录编号": "record_id", **_PERSON, "性别": "sex", "死亡日期": "death_date", "火化日期": "cremation_date",
        "户籍地址": "address"}),
    "death_police": RollSpec("deaths_police.csv", "公安户籍注销", {
        "注销编号": "record_id", "姓名": "name", "公民身份号码": "id_number", "性别": "sex", "出生日期": "birth_date",
        "死亡日期": "death_date", "注销日期": "cancel_date", "注销原因": "reason", "户籍地址": "address"}),
    "death_health": RollSpec("deaths_health.csv", "卫健死亡医学证明", {
        "证明编号": "record_id", **_PERSON, "性别": "sex", "出生日期": "birth_date", "死亡日期": "death_date",
        "医疗机构": "hospital", "常住地址": "address"}),
    # Pensions.
    "pension": RollSpec("pension_roll.csv", "人社养老金发放", {
        "社保编号": "record_id", **_PERSON, "出生日期": "birth_date", "养老金类别": "pension_type",
        "月发放金额": "monthly_amount", "首次发放年月": "first_month", "最近发放年月": "last_paid_month",
        "发放状态": "status", "地址": "address"}),
    # 低保 and the asset records it is checked against.
    "dibao": RollSpec("dibao_roll.csv", "民政低保", {
        "低保编号": "record_id", "户主姓名": "name", "户主身份证号": "id_number", "家庭人口": "members",
        "申报家庭月收入": "declared_income", "月保障金额": "benefit", "家庭住址": "address"}),
    "dibao_members": RollSpec("dibao_members.csv", "民政低保家庭成员", {
        "成员编号": "record_id", "低保编号": "dibao_id", **_PERSON, "出生日期": "birth_date", "与户主关系": "relation"}),
    "property": RollSpec("assets_property.csv", "房管不动产登记", {
        "登记编号": "record_id", "权利人": "name", "证件号码": "id_number", "房屋坐落": "property_address",
        "建筑面积": "area", "登记日期": "registered"}),
    "vehicle": RollSpec("assets_vehicles.csv", "公安车辆登记", {
        "号牌号码": "record_id", "所有人": "name", "身份证号": "id_number", "车辆类型": "vehicle_type",
        "购置价格": "value", "初次登记日期": "registered", "住所地址": "address"}),
    "housing_fund": RollSpec("assets_housing_fund.csv", "公积金缴存", {
        "公积金账号": "record_id", "姓名": "name", "证件号码": "id_number", "单位名称": "employer",
        "月缴存额": "monthly_contribution", "缴存基数": "wage_base", "缴存状态": "status"}),
    "business": RollSpec("assets_business.csv", "工商登记", {
        "统一社会信用代码": "record_id", "企业名称": "business_name", "法定代表人": "name", "身份证号": "id_number",
        "注册资本(万元)": "capital", "登记状态": "status"}),
    "income_tax": RollSpec("assets_income_tax.csv", "税务个人所得税", {
        "纳税记录号": "record_id", "纳税人姓名": "name", "身份证号": "id_number", "年度": "year",
        "年收入额": "annual_income", "已缴税额": "tax_paid"}),
    # Medical insurance: three local schemes and enrolments elsewhere (provincial platform).
    "med_employee": RollSpec("medical_employee.csv", "城镇职工医保", _MEDICAL),
    "med_resident": RollSpec("medical_resident.csv", "城镇居民医保", _MEDICAL),
    "med_rural": RollSpec("medical_rural.csv", "新农合", _MEDICAL),
    "med_other": RollSpec("medical_other_cities.csv", "异地参保（省平台）", _MEDICAL),
    # Jobs.
    "vacancies": RollSpec("job_vacancies.csv", "企业岗位", {
        "岗位编号": "record_id", "单位名称": "employer", "岗位名称": "title", "技能要求": "skill",
        "最低学历": "min_education", "最低年龄": "min_age", "最高年龄": "max_age", "月薪": "pay",
        "招聘人数": "openings", "工作地址": "address", "经度": "lon", "纬度": "lat"}),
    "seekers": RollSpec("job_seekers.csv", "求职登记", {
        "求职登记号": "record_id", **_PERSON, "出生日期": "birth_date", "技能特长": "skills", "文化程度": "education",
        "期望月薪": "expected_pay", "登记日期": "registered", "联系地址": "address"}),
    # Who works each grid.
    "grid_workers": RollSpec("grid_workers.csv", "网格员名册", {
        "网格编码": "grid_code", "网格员编号": "worker_id", "网格员": "worker_name", "联系电话": "worker_phone"}),
}


def roll_path(records_dir, roll):
    """Path of ``roll``'s file in ``records_dir`` (``.csv``, else the ``.xlsx`` of the same name)."""
    spec = ROLLS[roll]
    path = Path(records_dir) / spec.file
    if not path.exists() and path.with_suffix(".xlsx").exists():
        return path.with_suffix(".xlsx")
    return path


def read_roll(records_dir, roll, required=True):
    """Read one bureau's roll from ``records_dir`` with GridMap field names, all text.

    Parameters
    ----------
    records_dir : str or Path
    roll : str
        A key of :data:`ROLLS`.
    required : bool
        If False, a missing file gives an empty frame with the roll's fields.

    Returns
    -------
    DataFrame
        One row per record, every column a string (empty where blank).
    """
    if roll not in ROLLS:
        raise GridMapError(f"unknown roll {roll!r} (known: {', '.join(ROLLS)})")
    spec = ROLLS[roll]
    path = roll_path(records_dir, roll)
    if not path.exists():
        if required:
            raise GridMapError(f"{path}: {spec.label} file not found (expected {spec.file} in {records_dir})")
        return pd.DataFrame({name: pd.Series([], dtype=object) for name in spec.fields})
    frame = read_table(path)
    missing = [h for h, f in spec.headers.items() if h not in frame and f not in frame]
    if missing:
        raise GridMapError(f"{path}: missing column(s) {', '.join(missing)} for {spec.label}")
    frame = frame.rename(columns=spec.headers)[spec.fields]
    return frame.astype(object).where(frame.notna(), "").astype(str)


def write_roll(frame, records_dir, roll):
    """Write ``frame`` (GridMap field names) as ``roll``'s file with the bureau's headers."""
    spec = ROLLS[roll]
    path = Path(records_dir) / spec.file
    table = pa.table({h: pa.Array.from_pandas(frame[f].astype("str")) for h, f in spec.headers.items()})
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="needed"))
    return path
