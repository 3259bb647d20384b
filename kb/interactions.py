"""What agents asked and were shown, their feedback, and reviewers' decisions, kept for knowledge managers.

SQLAlchemy Core with its own ``MetaData``: the store of record shares the database
file (``KB_DATABASE_URL``), so every table here is prefixed ``interaction_`` and
created idempotently. Questions, notes and reply texts are masked before they are
written: these rows are read by many people and must not become a copy of callers'
numbers. Nothing here is knowledge: :meth:`InteractionStore.purge` deletes rows past
the retention period and never touches the record tables.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    cast,
    delete,
    exists,
    insert,
    literal,
    select,
)
from sqlalchemy.exc import IntegrityError

from kb.errors import Conflict
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

# One row per answer the service gave: a search's results, a reply, a classification.
events = Table(
    "interaction_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created", DateTime(timezone=True), nullable=False, index=True),
    Column("kb", String(64), nullable=False),
    Column("kb_version", String(128), nullable=False, default=""),
    Column("kind", String(16), nullable=False),
    Column("question", Text, nullable=False),
    Column("shown", Text, nullable=False),  # JSON object, masked
    Column("escalated", Boolean, nullable=False, default=False),
    # Drawn once at insert: an event is in the review sample when sample < KB_REVIEW_SAMPLE_RATE.
    Column("sample", Float, nullable=False),
)

# A reviewer's verdict on a queue item ("f12": feedback row 12, "e34": event 34).
reviews = Table(
    "interaction_reviews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("item_id", String(32), nullable=False, unique=True),
    Column("kb", String(64), nullable=False),
    Column("reviewer", String(100), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("draft_id", Integer),
)

# A reviewer's correction (or a gap's draft answer) waiting for a manager: kb/drafts.py.
drafts = Table(
    "interaction_drafts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("kb", String(64), nullable=False),
    Column("library", String(16), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("base_revision", Integer),  # None: a new record
    Column("record", Text, nullable=False),  # JSON, the validated content
    Column("proposed_by", String(100), nullable=False),
    Column("item_id", String(32), nullable=False, default=""),  # the queue item or gap it came from
    Column("note", Text, nullable=False, default=""),
    Column("status", String(16), nullable=False, default="pending"),
    Column("decided_by", String(100)),
    Column("decided", DateTime(timezone=True)),
    Column("reason", Text, nullable=False, default=""),
    Column("published_revision", Integer),
)

RATINGS = ("useful", "useless", "wrong")
TARGETS = ("reply", "result")
KINDS = ("result", "reply", "classification")
VERDICTS = ("correct", "needs_fix", "wrong")


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


@dataclass(frozen=True)
class Event:
    id: int
    created: datetime
    kb: str
    kb_version: str
    kind: str
    question: str
    shown: dict[str, Any]
    escalated: bool


@dataclass
class Interaction:
    """What one answer was, before masking: built on the request path, stored after the response."""

    kb: str
    kind: str
    question: str
    shown: dict[str, Any] = field(default_factory=dict)
    kb_version: str = ""
    escalated: bool = False


def _masked_shown(shown: dict[str, Any]) -> dict[str, Any]:
    """Text a caller's words may reach (an assist query) is masked. A reply's text is composed from the knowledge
    base only and is kept as read out: its offices' phone numbers are public, and may be what a reviewer must judge."""
    out = dict(shown)
    for key in ("query",):
        if isinstance(out.get(key), str):
            out[key] = mask(out[key])
    return out


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class InteractionStore:
    def __init__(self, engine: Engine, rng: random.Random | None = None) -> None:
        self.engine = engine
        self.rng = rng or random.Random()
        metadata.create_all(engine)

    # ---- feedback ------------------------------------------------------------------------------
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

    def feedback(self, kb: str | None = None, limit: int = 100, ratings: tuple[str, ...] = RATINGS,
                 since: datetime | None = None, unreviewed: bool = False) -> list[FeedbackRow]:
        """The newest ratings first; ``unreviewed`` leaves out those a reviewer has decided."""
        q = _newest(feedback, "f", kb, since, unreviewed, limit).where(feedback.c.rating.in_(ratings))
        with self.engine.connect() as conn:
            return [_feedback(r) for r in conn.execute(q).mappings().all()]

    def feedback_row(self, row_id: int) -> FeedbackRow | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(feedback).where(feedback.c.id == row_id)).mappings().first()
        return None if r is None else _feedback(r)

    # ---- events --------------------------------------------------------------------------------
    def record(self, items: Iterable[Interaction]) -> int:
        """Store answers given (masked); called after the response went out, so it costs the caller nothing."""
        now = datetime.now(UTC)
        rows = []
        for it in items:
            if it.kind not in KINDS:
                raise ValueError(f"unknown kind {it.kind!r}")
            rows.append({"created": now, "kb": it.kb, "kb_version": it.kb_version or "", "kind": it.kind,
                         "question": mask(it.question), "escalated": bool(it.escalated),
                         "shown": json.dumps(_masked_shown(it.shown), ensure_ascii=False, default=str),
                         "sample": self.rng.random()})
        if not rows:
            return 0
        with self.engine.begin() as conn:
            conn.execute(insert(events), rows)
        return len(rows)

    def events(self, kb: str | None = None, kinds: tuple[str, ...] = KINDS, since: datetime | None = None,
               sample_below: float | None = None, limit: int = 100, unreviewed: bool = False) -> list[Event]:
        """The newest answers first; ``sample_below`` keeps only the review sample."""
        q = _newest(events, "e", kb, since, unreviewed, limit).where(events.c.kind.in_(kinds))
        if sample_below is not None:
            q = q.where(events.c.sample < sample_below)
        with self.engine.connect() as conn:
            return [_event(r) for r in conn.execute(q).mappings().all()]

    def event(self, event_id: int) -> Event | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(events).where(events.c.id == event_id)).mappings().first()
        return None if r is None else _event(r)

    def answer_to(self, kb: str, kind: str, question: str, before: datetime) -> Event | None:
        """The latest answer of ``kind`` to the same (masked) question given no later than ``before``."""
        q = (select(events).where(events.c.kb == kb, events.c.kind == kind, events.c.question == question,
                                  events.c.created <= before).order_by(events.c.id.desc()).limit(1))
        with self.engine.connect() as conn:
            r = conn.execute(q).mappings().first()
        return None if r is None else _event(r)

    # ---- reviews -------------------------------------------------------------------------------
    def reviewed(self, item_ids: list[str]) -> set[str]:
        if not item_ids:
            return set()
        with self.engine.connect() as conn:
            return set(conn.execute(select(reviews.c.item_id).where(reviews.c.item_id.in_(item_ids))).scalars())

    def add_review(self, item_id: str, kb: str, reviewer: str, verdict: str, note: str,
                   draft_id: int | None) -> int:
        if verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}")
        row = {"created": datetime.now(UTC), "item_id": item_id, "kb": kb, "reviewer": reviewer, "verdict": verdict,
               "note": mask(note or ""), "draft_id": draft_id}
        try:
            with self.engine.begin() as conn:
                return int(conn.execute(insert(reviews).values(**row)).inserted_primary_key[0])
        except IntegrityError:
            raise Conflict(f"条目“{item_id}”已被他人评审，不能重复评审") from None

    # ---- retention and handover ----------------------------------------------------------------
    def purge(self, retention_days: int, now: datetime | None = None) -> dict[str, int]:
        """Delete interaction rows older than ``retention_days``; decided drafts too, pending ones never.

        Only ``interaction_`` tables are named here: the knowledge (records, revisions, audit) is untouched.
        """
        cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
        removed: dict[str, int] = {}
        with self.engine.begin() as conn:
            for table in (feedback, events, reviews):
                removed[table.name] = conn.execute(delete(table).where(table.c.created < cutoff)).rowcount
            removed[drafts.name] = conn.execute(delete(drafts).where(drafts.c.created < cutoff,
                                                                     drafts.c.status != "pending")).rowcount
        return removed

    def export_rows(self, kb: str) -> dict[str, list[dict[str, Any]]]:
        """Every interaction row of ``kb``, table by table, for the handover archive."""
        out: dict[str, list[dict[str, Any]]] = {}
        with self.engine.connect() as conn:
            for table in (feedback, events, reviews, drafts):
                rows = conn.execute(select(table).where(table.c.kb == kb).order_by(table.c.id)).mappings().all()
                out[table.name] = [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()}
                                   for r in rows]
        return out

    def import_rows(self, kb: str, tables: dict[str, list[dict[str, Any]]]) -> dict[str, dict[int, int]]:
        """Restore exported rows under ``kb`` with new ids (review and draft links are re-pointed); per table,
        old id → new id, so that what else names a row (a draft's edit trail in the audit) can follow it."""
        by_name = {t.name: t for t in (feedback, events, reviews, drafts)}
        new_ids: dict[str, dict[int, int]] = {}
        with self.engine.begin() as conn:
            for name in ("interaction_feedback", "interaction_events", "interaction_drafts", "interaction_reviews"):
                table = by_name[name]
                ids = new_ids.setdefault(name, {})
                for row in tables.get(name, []):
                    values = {k: v for k, v in row.items() if k in table.c and k != "id"}
                    for key, value in list(values.items()):
                        if isinstance(table.c[key].type, DateTime) and isinstance(value, str):
                            values[key] = datetime.fromisoformat(value)
                    values["kb"] = kb
                    if name == "interaction_reviews":
                        values["item_id"] = _repoint(values["item_id"], new_ids)
                        if values.get("draft_id") is not None:
                            values["draft_id"] = new_ids["interaction_drafts"].get(values["draft_id"])
                    if name == "interaction_drafts" and values.get("item_id"):
                        values["item_id"] = _repoint(values["item_id"], new_ids)
                    ids[int(row["id"])] = int(conn.execute(insert(table).values(**values)).inserted_primary_key[0])
        return new_ids


def _newest(table: Table, prefix: str, kb: str | None, since: datetime | None, unreviewed: bool, limit: int) -> Any:
    """The newest rows of ``table`` first, of one kb, since a time, leaving out items a reviewer has decided."""
    q = select(table).order_by(table.c.id.desc()).limit(limit)
    if unreviewed:
        q = q.where(~_reviewed_clause(prefix, table.c.id))
    if kb:
        q = q.where(table.c.kb == kb)
    if since is not None:
        q = q.where(table.c.created >= since)
    return q


def _reviewed_clause(prefix: str, id_column: Any) -> Any:
    """EXISTS a review of the item whose id is ``prefix`` + the row id ('e' || CAST(id AS VARCHAR))."""
    item = literal(prefix, String).concat(cast(id_column, String))
    return exists().where(reviews.c.item_id == item)


def _repoint(item_id: str, new_ids: dict[str, dict[int, int]]) -> str:
    table = {"f": "interaction_feedback", "e": "interaction_events"}.get(item_id[:1])
    if table is None or not item_id[1:].isdigit():
        return item_id
    return item_id[:1] + str(new_ids[table].get(int(item_id[1:]), item_id[1:]))


def _feedback(r: Any) -> FeedbackRow:
    return FeedbackRow(r["id"], _utc(r["created"]), r["kb"], r["kb_version"], r["target"], json.loads(r["ids"]),
                       r["rating"], r["note"], r["question"])


def _event(r: Any) -> Event:
    return Event(r["id"], _utc(r["created"]), r["kb"], r["kb_version"], r["kind"], r["question"], json.loads(r["shown"]),
                 bool(r["escalated"]))
