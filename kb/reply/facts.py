"""Checkable facts in a reply: amounts, dates, time limits, ages, phone numbers, 文号.

A reply read aloud to a caller must not contain a number that no cited source
contains. These extractors are used to verify generated text against its sources
and to spot two current sources that disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kb.textnorm import normalize

AMOUNT = re.compile(r"\d+(?:\.\d+)?\s*(?:万元|元)")
PERCENT = re.compile(r"\d+(?:\.\d+)?\s*%")
DATE = re.compile(r"\d{4}年\d{1,2}月(?:\d{1,2}日)?|\d{4}-\d{2}-\d{2}")
PERIOD = re.compile(r"\d+\s*(?:个工作日|个月|周岁|岁|日|天|年)")
PHONE = re.compile(r"(?<!\d)(?:0\d{2,3}-?\d{3,4}-?\d{4}|1[3-9]\d{9}|12345|96\d{3})(?!\d)")
# The core of a 文号 (…发〔2024〕12号) identifies it; the issuer prefix is written in many ways.
DOC_NO = re.compile(r"[\u4e00-\u9fff]{2}[〔\[［]\d{4}[〕\]］]\s*\d+\s*号|(?:国务院|主席)令第\d+号")

KINDS = {"doc_no": DOC_NO, "date": DATE, "phone": PHONE, "amount": AMOUNT, "percent": PERCENT, "period": PERIOD}


def _canon(kind: str, value: str) -> str:
    value = re.sub(r"\s+", "", value)
    if kind == "phone":
        return value.replace("-", "")
    if kind == "period":
        return value.replace("周岁", "岁").replace("天", "日")
    if kind == "doc_no":
        return value.replace("[", "〔").replace("]", "〕").replace("［", "〔").replace("］", "〕")
    return value


def extract(text: str) -> dict[str, set[str]]:
    norm = normalize(text).replace("（", "(").replace("）", ")")
    norm = re.sub(r"(?<=\d),(?=\d{3})", "", norm)
    out: dict[str, set[str]] = {}
    for kind, pattern in KINDS.items():
        out[kind] = {_canon(kind, m) for m in pattern.findall(norm)}
        if kind in ("date", "phone", "doc_no"):
            norm = pattern.sub(" ", norm)  # a date's 2024年 is not also a period of 2024 years
    return out


@dataclass
class GroundingCheck:
    ok: bool
    unsupported: dict[str, list[str]]

    def to_json(self) -> dict:
        return {"ok": self.ok, "unsupported": self.unsupported}


def check_grounding(reply: str, sources: list[str]) -> GroundingCheck:
    """Every amount, date, period, phone number and 文号 in ``reply`` must appear in some source."""
    found = extract(reply)
    support: dict[str, set[str]] = {k: set() for k in KINDS}
    for s in sources:
        for kind, values in extract(s).items():
            support[kind] |= values
    unsupported = {k: sorted(v - support[k]) for k, v in found.items() if v - support[k]}
    return GroundingCheck(not unsupported, unsupported)
