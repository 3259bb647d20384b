"""Small typed records that travel through the core.

A ``Chunk`` is the unit of retrieval (one policy article, one standard answer,
one contact, one problem-list entry). It carries everything a citation needs, so
that a result never has to go back to the source file to say where it came from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# 政策库, 标准化工作库, 政务联络库, 行业问题清单库
LIBRARIES: tuple[str, ...] = ("policy", "answer", "contact", "problem")
IN_FORCE = "有效"
NOT_IN_FORCE = ("已修订", "已废止")


@dataclass
class Chunk:
    id: str
    doc_id: str
    kb: str
    library: str
    title: str
    text: str
    embed_texts: list[str]
    bm25_text: str
    topics: list[str] = field(default_factory=list)
    districts: list[str] = field(default_factory=list)
    street: str = ""
    doc_no: str = ""
    article: str = ""
    chapter: str = ""
    status: str = IN_FORCE
    effective: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def in_force(self) -> bool:
        return self.status not in NOT_IN_FORCE

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        return cls(**data)


@dataclass
class Hit:
    chunk: Chunk
    score: float
    snippet: str = ""
    dense_rank: int | None = None
    bm25_rank: int | None = None
    status: str = ""  # the status on the day of the search (未生效 / expired → 已废止); empty: the recorded one

    def to_json(self) -> dict[str, Any]:
        c = self.chunk
        return {
            "id": c.id,
            "doc_id": c.doc_id,
            "library": c.library,
            "title": c.title,
            "doc_no": c.doc_no,
            "article": c.article,
            "topics": list(c.topics),
            "district": c.districts[0] if len(c.districts) == 1 else ("、".join(c.districts) or None),
            "street": c.street or None,
            "status": self.status or c.status,
            "effective": c.effective,
            "snippet": self.snippet,
            "score": round(float(self.score), 6),
            "source": c.source,
            "extra": c.extra,
        }
