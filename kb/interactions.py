"""Agents' feedback on replies and results, kept for knowledge managers.

SQLAlchemy Core with its own ``MetaData``: the store of record shares the database
file (``KB_DATABASE_URL``), so every table here is prefixed ``interaction_`` and
created idempotently. Questions are masked before they are written: feedback is
read by many people and must not become a copy of callers' numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, String, Table, Text, insert, select

from kb.privacy import mask

metadata = MetaData()

feedback = Table(
    "interaction_feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("kb", String(64), nullable=False),
    Column("kb_version", String(128), nullable=False, default=""),
    Column("target", String(16), nullable=False),
    Column("ids", Text, nullable=False),  # JSON list of the ids shown
    Column("rating", String(16), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("question", Text, nullable=False),
)

RATINGS = ("useful", "useless", "wrong")
TARGETS = ("reply", "result")


@dataclass(frozen=True)
class FeedbackRow:
    id: int
    created: datetime
    kb: str
    kb_version: str
    target: str
    ids: list[str]
    rating: str
    note: str
    question: str


class InteractionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def add_feedback(self, kb: str, target: str, ids: list[str], rating: str, question: str,
                     kb_version: str = "", note: str = "") -> int:
        """Store one rating; the question and note are masked here, whatever the caller did."""
        if rating not in RATINGS:
            raise ValueError(f"unknown rating {rating!r}")
        if target not in TARGETS:
            raise ValueError(f"unknown target {target!r}")
        row = {"created": datetime.now(UTC), "kb": kb, "kb_version": kb_version or "", "target": target,
               "ids": json.dumps(list(ids), ensure_ascii=False), "rating": rating,
               "note": mask(note or ""), "question": mask(question)}
        with self.engine.begin() as conn:
            return int(conn.execute(insert(feedback).values(**row)).inserted_primary_key[0])

    def feedback(self, kb: str | None = None, limit: int = 100) -> list[FeedbackRow]:
        """The newest ratings first."""
        q = select(feedback).order_by(feedback.c.id.desc()).limit(limit)
        if kb:
            q = q.where(feedback.c.kb == kb)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [FeedbackRow(r["id"], r["created"], r["kb"], r["kb_version"], r["target"], json.loads(r["ids"]),
                            r["rating"], r["note"], r["question"]) for r in rows]
