"""Field names of the registries GridMap reads, and the Chinese headers bureaus use for them."""

from __future__ import annotations

__all__ = ["RESIDENT_COLUMNS", "FACILITY_COLUMNS", "FACILITY_KIND_LABELS", "RECORD_KINDS"]

# The population registry export's headers -> GridMap field names.
RESIDENT_COLUMNS = {
    "人员编号": "person_id",
    "姓名": "name",
    "公民身份号码": "id_number",
    "身份证号": "id_number",
    "性别": "sex",
    "出生日期": "birth_date",
    "户编号": "household_id",
    "与户主关系": "relation",
    "户籍类型": "hukou_type",
    "居住地址": "address",
    "地址": "address",
    "自理能力": "self_care",
    "是否独居": "living_alone",
    "患慢性病": "chronic_illness",
    "收入水平": "income_band",
    "就业状态": "employment",
    "文化程度": "education",
    "技能特长": "skills",
    "经度": "lon",
    "纬度": "lat",
}

# The civil-affairs / health bureaus' facility list headers -> field names.
FACILITY_COLUMNS = {
    "机构编号": "facility_id",
    "机构名称": "name",
    "类型": "kind_label",
    "地址": "address",
    "容量": "capacity",
    "经度": "lon",
    "纬度": "lat",
}

# Facility kind -> its Chinese label in bureau lists and reports.
FACILITY_KIND_LABELS = {
    "elderly_home": "养老院",
    "day_care": "日间照料中心",
    "care_station": "社区养老服务站",
    "meal_point": "老年食堂",
    "health_centre": "社区卫生服务中心",
    "clinic": "诊所",
    "supermarket": "超市",
    "barber": "理发店",
    "restaurant": "餐馆",
    "candidate": "候选站点",
}

# What `gridmap geocode --kind` knows: layer, id column, identity-number column, headers.
RECORD_KINDS = {
    "residents": {"layer": "residents", "id": "person_id", "id_number": "id_number", "headers": RESIDENT_COLUMNS},
    "facilities": {"layer": "facilities", "id": "facility_id", "id_number": None, "headers": FACILITY_COLUMNS},
}
