"""Record schemas for the four libraries, with Chinese reasons for every failure.

The taxonomy and the district list are passed in the validation context, so a
record with an unknown topic or district is refused at ingest rather than indexed
under a code no filter will find.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from kb.places import DISTRICTS
from kb.taxonomy import Taxonomy

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]{1,80}$")
PHONE = re.compile(r"^(\d{3,4}-?\d{3,4}-?\d{4}|\d{5,6}|1\d{10})(\s*[,，、/；;]\s*(\d{3,4}-?\d{3,4}-?\d{4}|\d{5,6}|1\d{10}))*$")
STATUSES = ("有效", "已修订", "已废止")


def _split_codes(value: Any) -> Any:
    if isinstance(value, str):
        return [v.strip() for v in re.split(r"[;；,，、\s]+", value) if v.strip()]
    return value


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: str
    topics: list[str] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not ID_PATTERN.match(v):
            raise ValueError(f"编号“{v}”不合规：只能使用小写字母、数字、- 和 _")
        return v

    @field_validator("topics", mode="before")
    @classmethod
    def _topics_list(cls, v: Any) -> Any:
        return _split_codes(v)

    @field_validator("topics")
    @classmethod
    def _topics_known(cls, v: list[str], info: ValidationInfo) -> list[str]:
        taxonomy: Taxonomy | None = (info.context or {}).get("taxonomy")
        if taxonomy is not None:
            unknown = [c for c in v if not taxonomy.is_subtopic(c)]
            if unknown:
                raise ValueError(f"主题代码 {'、'.join(unknown)} 不在 taxonomy.yaml 的子主题中")
        return v


def _district_ok(v: str) -> str:
    if v and v not in DISTRICTS:
        raise ValueError(f"区名“{v}”无效，应为北京市16个区之一（如 朝阳区）")
    return v


class PolicyMeta(_Record):
    title: str = Field(min_length=2)
    doc_no: str = ""
    issuer: str = ""
    issued: dt.date | None = None
    effective: dt.date | None = None
    expires: dt.date | None = None
    status: Literal["有效", "已修订", "已废止"] = "有效"
    successor: str | None = None
    scope: str = "北京市"

    @model_validator(mode="after")
    def _successor(self) -> PolicyMeta:
        if self.status != "有效" and not self.successor:
            raise ValueError(f"状态为“{self.status}”的文件必须在 successor 中写明替代它的文件编号")
        if self.successor and self.successor == self.id:
            raise ValueError("successor 不能指向文件自身")
        if self.expires and self.effective and self.expires <= self.effective:
            raise ValueError("失效日期 expires 必须晚于施行日期 effective")
        return self


class PolicyRef(BaseModel):
    doc: str
    article: str = ""


class Answer(_Record):
    question: str = Field(min_length=2)
    variants: list[str] = Field(min_length=2)
    answer: str = Field(min_length=10)
    policy_refs: list[PolicyRef] = Field(default_factory=list)
    districts: list[str] = Field(default_factory=list)
    updated: dt.date | None = None

    @field_validator("districts", mode="before")
    @classmethod
    def _districts_list(cls, v: Any) -> Any:
        return _split_codes(v) if v is not None else []

    @field_validator("districts")
    @classmethod
    def _districts_known(cls, v: list[str]) -> list[str]:
        return [_district_ok(d) for d in v]


class Contact(_Record):
    unit: str = Field(min_length=2)
    level: Literal["市", "区", "街乡镇"]
    district: str = ""
    street: str = ""
    phone: str = Field(min_length=5)
    address: str = ""
    hours: str = ""
    duties: str = ""

    @field_validator("district")
    @classmethod
    def _district(cls, v: str) -> str:
        return _district_ok(v)

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str) -> str:
        if not PHONE.match(v.replace(" ", "")):
            raise ValueError(f"电话“{v}”格式无效，应如 010-6512-3456 或 12345")
        return v

    @model_validator(mode="after")
    def _level_fields(self) -> Contact:
        if self.level in ("区", "街乡镇") and not self.district:
            raise ValueError(f"层级为“{self.level}”的单位必须填写 district")
        if self.level == "街乡镇" and not self.street:
            raise ValueError("层级为“街乡镇”的单位必须填写 street")
        return self


class Problem(_Record):
    problem: str = Field(min_length=4)
    handling: str = Field(min_length=4)
    responsible: str = ""
    basis: str = ""
    updated: dt.date | None = None


_TYPE_REASONS = {
    "missing": "缺少必填字段",
    "string_type": "应为文本",
    "list_type": "应为列表",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "date_type": "日期格式应为 YYYY-MM-DD",
    "string_too_short": "内容过短或为空",
    "too_short": "条目不足",
    "dict_type": "应为“字段: 值”的映射",
    "model_type": "应为“字段: 值”的映射",
}


def explain(error: ValidationError) -> list[tuple[str, str]]:
    """(field, Chinese reason) for every error pydantic found."""
    out = []
    for e in error.errors():
        field = ".".join(str(p) for p in e["loc"]) or "(记录)"
        etype = e["type"]
        if etype == "value_error":
            reason = str(e["msg"]).removeprefix("Value error, ")
        elif etype == "literal_error":
            options = re.findall(r"'([^']*)'", str(e["ctx"]["expected"]))  # pydantic's "'市', '区' or '街乡镇'"
            reason = f"取值“{e.get('input')}”无效，可选：{'、'.join(options) or e['ctx']['expected']}"
        elif etype == "too_short":
            reason = f"至少需要 {e['ctx'].get('min_length')} 项"
        else:
            reason = _TYPE_REASONS.get(etype, str(e["msg"]))
        out.append((field, reason))
    return out
