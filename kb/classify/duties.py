"""Duty boundaries (职责边界) and risk signals, from corpus/duties/*.yaml.

Handlers must cite why a ticket is not theirs; the rules and the 剔除理由
templates are data that knowledge managers maintain, not code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass(frozen=True)
class PairRule:
    id: str
    title: str
    inside_industry: str
    inside_subtopics: tuple[str, ...]
    outside: str  # department code, or the other industry's code
    inside_keywords: tuple[str, ...]
    outside_keywords: tuple[str, ...]
    rule: str
    basis: str
    filter_reason: str


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    duties: str
    keywords: tuple[str, ...]
    filter_reason: str


@dataclass(frozen=True)
class RiskSignal:
    id: str
    level: str
    name: str
    phrases: tuple[str, ...]


@dataclass
class DutyBook:
    pairs: list[PairRule] = field(default_factory=list)
    departments: dict[str, Department] = field(default_factory=dict)
    risks: list[RiskSignal] = field(default_factory=list)

    @classmethod
    def load(cls, folder: Path) -> DutyBook:
        book = cls()
        pairs_path, deps_path, risk_path = folder / "pairs.yaml", folder / "departments.yaml", folder / "risk.yaml"
        for raw in _yaml_list(pairs_path):
            inside, outside = raw.get("inside", {}), raw.get("outside", {})
            subs = tuple(inside.get("inside_subtopics") or raw.get("inside_subtopics") or [inside.get("subtopic")])
            book.pairs.append(PairRule(
                id=raw["id"], title=raw.get("title", raw["id"]), inside_industry=inside.get("industry", "minzheng"),
                inside_subtopics=tuple(s for s in subs if s),
                outside=outside.get("department") or outside.get("industry") or "other",
                inside_keywords=tuple(raw.get("inside_keywords", [])), outside_keywords=tuple(raw.get("outside_keywords", [])),
                rule=raw.get("rule", ""), basis=raw.get("basis", ""), filter_reason=raw.get("filter_reason", ""),
            ))
        for raw in _yaml_list(deps_path):
            book.departments[raw["id"]] = Department(
                id=raw["id"], name=raw.get("name", raw["id"]), duties=raw.get("duties", ""),
                keywords=tuple(raw.get("keywords", [])), filter_reason=raw.get("filter_reason", ""),
            )
        for raw in _yaml_list(risk_path):
            book.risks.append(RiskSignal(raw["id"], raw["level"], raw.get("name", raw["id"]), tuple(raw.get("phrases", []))))
        return book

    def pairs_for(self, label_a: str, label_b: str) -> list[PairRule]:
        """Pair rules whose two sides are these two (industry:code) labels, in either order."""
        out = []
        for p in self.pairs:
            inside = {f"{p.inside_industry}:{s}" for s in p.inside_subtopics}
            outside_prefixes = (f"none:{p.outside}", f"{p.outside}:")
            for a, b in ((label_a, label_b), (label_b, label_a)):
                if a in inside and (b == outside_prefixes[0] or b.startswith(outside_prefixes[1])):
                    out.append(p)
                    break
        return out


def _yaml_list(path: Path) -> list[dict]:
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), [])
    return [d for d in data if isinstance(d, dict) and "id" in d]
