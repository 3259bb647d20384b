"""Follow-up questions for facts the answer depends on but the caller has not said."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from kb.taxonomy import Taxonomy


@dataclass(frozen=True)
class FollowUp:
    ask: str
    unless: re.Pattern[str] | None


class FollowUpRules:
    def __init__(self, rules: dict[str, list[FollowUp]], taxonomy: Taxonomy) -> None:
        self.rules = rules
        self.taxonomy = taxonomy

    @classmethod
    def load(cls, path: Path, taxonomy: Taxonomy) -> FollowUpRules:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
        rules = {
            key: [FollowUp(r["ask"], re.compile(r["unless"]) if r.get("unless") else None) for r in items]
            for key, items in (raw or {}).items()
        }
        return cls(rules, taxonomy)

    def questions(self, question: str, topics: list[str], kb: str, place_known: bool) -> list[str]:
        keys: list[str] = []
        for code in topics:
            sub = self.taxonomy.subtopics.get(code)
            if sub:
                keys += [sub.topic, code, sub.industry]
        out: list[str] = []
        for key in dict.fromkeys(keys):
            for rule in self.rules.get(key, []):
                if rule.unless is not None and rule.unless.search(question):
                    continue
                if rule.ask not in out:
                    out.append(rule.ask)
        if not place_known and not any("哪个区" in q for q in out):
            out.insert(0, "请问您（或当事人）的户籍或居住地在哪个区、哪个街道？以便告知就近的办理地点和电话。")
        return out[:3]
