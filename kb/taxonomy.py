"""The shared topic and department codes.

Every record and every classifier answer uses these codes; loading them in one
place lets ingestion reject a record with an unknown code instead of indexing it
under a topic no filter will ever find.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Subtopic:
    code: str
    name: str
    topic: str
    topic_name: str
    industry: str


@dataclass(frozen=True)
class Taxonomy:
    industries: dict[str, str]
    subtopics: dict[str, Subtopic]
    topics: dict[str, tuple[str, ...]]
    departments: dict[str, str]
    topic_names: dict[str, str] = field(default_factory=dict)

    def is_subtopic(self, code: str) -> bool:
        return code in self.subtopics

    def expand(self, code: str) -> tuple[str, ...]:
        """A topic code stands for all its subtopics; a subtopic for itself."""
        if code in self.subtopics:
            return (code,)
        return self.topics.get(code, ())

    def subtopics_of(self, industry: str) -> list[str]:
        return [c for c, s in self.subtopics.items() if s.industry == industry]

    def label(self, code: str) -> str:
        if code in self.subtopics:
            return self.subtopics[code].name
        return self.topic_names.get(code) or self.departments.get(code) or self.industries.get(code, code)


def load_taxonomy(path: Path) -> Taxonomy:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    industries: dict[str, str] = {}
    subtopics: dict[str, Subtopic] = {}
    topics: dict[str, tuple[str, ...]] = {}
    topic_names: dict[str, str] = {}
    for ind_code, ind in raw["industries"].items():
        industries[ind_code] = ind["name"]
        for topic_code, topic in ind["topics"].items():
            topic_names[topic_code] = topic["name"]
            codes = []
            for sub_code, sub_name in topic["subtopics"].items():
                subtopics[sub_code] = Subtopic(sub_code, sub_name, topic_code, topic["name"], ind_code)
                codes.append(sub_code)
            topics[topic_code] = tuple(codes)
    departments = {code: str(name) for code, name in raw["departments"].items()}
    return Taxonomy(industries, subtopics, topics, departments, topic_names)


@lru_cache(maxsize=8)
def cached_taxonomy(path: Path) -> Taxonomy:
    return load_taxonomy(path)
