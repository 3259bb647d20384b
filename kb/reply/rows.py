"""The row of a rule table that the caller's own facts pick.

An answer such as "80周岁至89周岁每人每月100元，90周岁至99周岁每人每月500元，100周岁及以上每人每月800元"
is a table read as one sentence. When the caller says her mother is 92, the agent should lead with the
90–99 row. The row is quoted verbatim from the source (so every figure read out is in the cited text) and
the full rule still follows as the basis. A row is picked only when exactly one row matches: two matches,
or a fact the rows do not speak about, leave the reply as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_AGE = re.compile(r"(?<![\d.])(\d{1,3})\s*(?:周岁|岁)")
_GRADE = re.compile(r"(?<![\d])([1-4])\s*级|([一二三四])级")
_CN_GRADE = {"一": 1, "二": 2, "三": 3, "四": 4}
_AMOUNT = re.compile(r"\d+(?:\.\d+)?\s*(?:万元|元)")
_SEGMENT = re.compile(r"[^，。；;\n]+")
_BAND = re.compile(r"(\d{1,3})\s*(?:周岁|岁)?\s*(?:至|到|-|—|~|－)\s*(\d{1,3})\s*(?:周岁|岁)")
_FROM = re.compile(r"(\d{1,3})\s*(?:周岁|岁)\s*(?:及|以)?(?:以上|上)")
_GRADES_IN_ROW = re.compile(r"((?:[一二三四1-4][、和及或至到-]?)+)级")
# Household categories: one row each in the subsidy tables.
_CATEGORIES = ("分散供养特困", "特困", "低保", "低收入", "计划生育特殊家庭", "重点优抚", "孤儿", "事实无人抚养")


@dataclass(frozen=True)
class RowPick:
    row: str  # verbatim from the source text
    fact: str  # the caller's fact that picked it (92周岁, 1级, 低保); never read out: it is not in a source
    kind: str  # age | grade | category


def _ages(text: str) -> list[int]:
    return [int(a) for a in _AGE.findall(text) if 0 < int(a) < 130]


def _grades(text: str) -> set[int]:
    out = set()
    for digit, cn in _GRADE.findall(text):
        out.add(int(digit) if digit else _CN_GRADE[cn])
    return out


def _row_ages(row: str) -> tuple[int, int] | None:
    m = _BAND.search(row)
    if m:
        return int(m.group(1)), int(m.group(2))
    m = _FROM.search(row)
    if m:
        return int(m.group(1)), 200
    return None


def _row_grades(row: str) -> set[int]:
    out: set[int] = set()
    for run in _GRADES_IN_ROW.findall(row):
        out |= {int(ch) if ch.isdigit() else _CN_GRADE[ch] for ch in run if ch in "1234一二三四"}
    return out


def pick_row(question: str, answer_text: str) -> RowPick | None:
    """The one amount-bearing segment of ``answer_text`` the question's age, grade or category selects.

    ``question`` is the written form (digits Arabic: 九十二 → 92, 92了 → 92岁)."""
    rows = [m.group(0).strip().split("：")[-1] for m in _SEGMENT.finditer(answer_text) if _AMOUNT.search(m.group(0))]
    if len(rows) < 2:
        return None
    ages = _ages(question)
    if len(ages) == 1:
        age = ages[0]
        banded = [(r, _row_ages(r)) for r in rows]
        banded = [(r, band) for r, band in banded if band is not None]
        if len(banded) >= 2:
            hits = [r for r, (lo, hi) in banded if lo <= age <= hi]
            if len(hits) == 1:
                return RowPick(hits[0], f"{age}周岁", "age")
            return None
    grades = _grades(question)
    if len(grades) == 1:
        grade = next(iter(grades))
        graded = [(r, _row_grades(r)) for r in rows]
        graded = [(r, g) for r, g in graded if g]
        if len(graded) >= 2:
            hits = [r for r, g in graded if grade in g]
            if len(hits) == 1:
                return RowPick(hits[0], f"{grade}级", "grade")
            return None
    asked = [c for c in _CATEGORIES if c in question]
    if asked:
        # 低保 inside 低保边缘 or 低收入 inside other words does not count: the longest named category decides.
        category = max(asked, key=len)
        hits = [r for r in rows if category in r and not any(o != category and o in r and category in o for o in _CATEGORIES)]
        if len(hits) == 1 and sum(category in r for r in rows) == 1:
            return RowPick(hits[0], category, "category")
    return None
