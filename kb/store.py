"""The store of record: every record of every library, with every revision, and the audit trail.

The search index is derived from this store, never the other way round, so an
edit made over the API survives the next ``kb ingest`` and nothing is ever lost:
a record is retired (状态 已停用), never deleted, and every revision keeps its full
content, author, time and reason. SQLite in ``KB_DATA_DIR`` by default (WAL,
foreign keys on); ``KB_DATABASE_URL`` points several service instances at one
PostgreSQL database.

Writes are optimistic: an update names the revision it was based on and loses
with ``StaleRevision`` when someone else saved first. Each write appends to the
hash-chained audit log in the same transaction, so a record change without its
audit entry cannot exist.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    update,
)

from kb.errors import Conflict, InvalidQuery, RecordNotFound, StaleRevision

metadata = MetaData()

RETIRED = "已停用"
ACTIVE = "在用"

records = Table(
    "records",
    metadata,
    Column("kb", String(64), primary_key=True),
    Column("id", String(200), primary_key=True),
    Column("library", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("title", Text, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("created", String(32), nullable=False),
    Column("updated", String(32), nullable=False),
    Column("updated_by", String(100), nullable=False),
    Column("source_root", Text, nullable=False, default=""),
    Column("source_path", Text, nullable=False, default=""),
    Column("source_hash", String(64), nullable=False, default=""),
)

revisions = Table(
    "revisions",
    metadata,
    Column("kb", String(64), primary_key=True),
    Column("record_id", String(200), primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("content", JSON, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("author", String(100), nullable=False),
    Column("time", String(32), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("action", String(16), nullable=False),
    ForeignKeyConstraint(["kb", "record_id"], ["records.kb", "records.id"]),
)

audit = Table(
    "audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("time", String(32), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("proposed_by", String(100)),
    Column("action", String(32), nullable=False),
    Column("kb", String(64)),
    Column("record_id", String(200)),
    Column("revision", Integer),
    Column("reason", Text, nullable=False, default=""),
    Column("details", JSON),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# One row that every audited transaction updates first: it serialises writers (a row lock on
# PostgreSQL, the write lock on SQLite) so the hash chain never forks.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

GENESIS = "0" * 64


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def content_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()


def make_engine(url: str) -> Engine:
    """An engine with the settings the store relies on (WAL and foreign keys for SQLite)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - exercised by every SQLite test
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        # pysqlite starts transactions lazily; BEGIN IMMEDIATE takes the write lock at once so two
        # writers queue instead of failing with "database is locked" when one upgrades its lock.
        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_conn, _record) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn) -> None:
            immediate = conn.get_execution_options().get("sqlite_immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
    else:
        engine = create_engine(url, pool_pre_ping=True)
    metadata.create_all(engine)
    with engine.begin() as conn:
        if conn.execute(select(audit_head.c.id)).first() is None:
            conn.execute(insert(audit_head).values(id=1, seq=0, hash=GENESIS))
    return engine


@dataclass
class RecordState:
    kb: str
    id: str
    library: str
    status: str
    title: str
    revision: int
    updated: str
    updated_by: str
    content: dict[str, Any]
    content_hash: str
    source_root: str = ""
    source_path: str = ""
    source_hash: str = ""

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "library": self.library, "title": self.title, "status": self.status,
                "revision": self.revision, "updated": self.updated, "updated_by": self.updated_by}


@dataclass
class AuditEntry:
    seq: int
    time: str
    actor: str
    action: str
    kb: str | None
    record_id: str | None
    revision: int | None
    reason: str
    prev_hash: str
    hash: str
    proposed_by: str | None = None
    details: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    body = {k: entry.get(k) for k in ("seq", "time", "actor", "proposed_by", "action", "kb", "record_id",
                                      "revision", "reason", "details")}
    return hashlib.sha256((prev_hash + json.dumps(body, ensure_ascii=False, sort_keys=True, default=str)).encode()).hexdigest()


def append_audit(conn: Connection, *, actor: str, action: str, kb: str | None = None, record_id: str | None = None,
                 revision: int | None = None, reason: str = "", proposed_by: str | None = None,
                 details: dict[str, Any] | None = None) -> AuditEntry:
    """Append one entry inside the caller's transaction (the head row is updated first: it is the lock)."""
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=audit_head.c.seq + 1))
    seq, prev = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).one()
    entry = {"seq": seq, "time": now_iso(), "actor": actor, "proposed_by": proposed_by, "action": action, "kb": kb,
             "record_id": record_id, "revision": revision, "reason": reason, "details": details}
    digest = _entry_hash(prev, entry)
    conn.execute(insert(audit).values(**entry, prev_hash=prev, hash=digest))
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(hash=digest))
    return AuditEntry(**entry, prev_hash=prev, hash=digest)


@dataclass
class Change:
    """One record write, as the caller asked for it."""

    library: str
    record_id: str
    content: dict[str, Any]
    title: str
    reason: str = ""
    source_root: str = ""
    source_path: str = ""


@dataclass
class IngestOutcome:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    kept_edits: list[str] = field(default_factory=list)


class RecordStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction (on SQLite it takes the write lock at once, so writers queue)."""
        with self.engine.connect() as conn:
            conn.execution_options(sqlite_immediate=True)
            with conn.begin():
                yield conn

    # ---- reading -------------------------------------------------------------------------------
    def get(self, kb: str, record_id: str, conn: Connection | None = None) -> RecordState:
        state = self.find(kb, record_id, conn)
        if state is None:
            raise RecordNotFound(f"知识库“{kb}”中没有编号为“{_short(record_id)}”的记录")
        return state

    def find(self, kb: str, record_id: str, conn: Connection | None = None) -> RecordState | None:
        query = (select(records, revisions.c.content)
                 .join(revisions, (revisions.c.kb == records.c.kb) & (revisions.c.record_id == records.c.id)
                       & (revisions.c.revision == records.c.revision))
                 .where(records.c.kb == kb, records.c.id == record_id))
        if conn is None:
            with self.engine.connect() as c:
                row = c.execute(query).mappings().first()
        else:
            row = conn.execute(query).mappings().first()
        return _state(row) if row else None

    def all_active(self, kb: str) -> list[RecordState]:
        query = (select(records, revisions.c.content)
                 .join(revisions, (revisions.c.kb == records.c.kb) & (revisions.c.record_id == records.c.id)
                       & (revisions.c.revision == records.c.revision))
                 .where(records.c.kb == kb, records.c.status != RETIRED).order_by(records.c.id))
        with self.engine.connect() as c:
            return [_state(r) for r in c.execute(query).mappings()]

    def active_hashes(self, kb: str) -> dict[str, str]:
        """id → content hash of every active record, without reading contents: what a delta re-index compares."""
        query = select(records.c.id, records.c.content_hash).where(records.c.kb == kb, records.c.status != RETIRED)
        with self.engine.connect() as c:
            return {r[0]: r[1] for r in c.execute(query)}

    def get_many(self, kb: str, ids: list[str]) -> list[RecordState]:
        """Current states of the given active records, in id order (missing or retired ids are skipped)."""
        out: list[RecordState] = []
        with self.engine.connect() as c:
            for start in range(0, len(ids), 500):
                query = (select(records, revisions.c.content)
                         .join(revisions, (revisions.c.kb == records.c.kb) & (revisions.c.record_id == records.c.id)
                               & (revisions.c.revision == records.c.revision))
                         .where(records.c.kb == kb, records.c.status != RETIRED,
                                records.c.id.in_(ids[start:start + 500])))
                out.extend(_state(r) for r in c.execute(query).mappings())
        return sorted(out, key=lambda s: s.id)

    def list(self, kb: str, library: str | None = None, q: str | None = None, status: str | None = None,
             updated_by: str | None = None, page: int = 1, page_size: int = 50, *, topic: str | None = None,
             text: str | None = None, updated_before: str | None = None) -> tuple[int, list[RecordState]]:
        """One page of a kb's records. ``q`` matches id or title in SQL; ``topic`` and ``text`` (anywhere in the
        content) are matched in Python on the current revisions, because the JSON column stores Chinese as
        escapes that LIKE cannot see; a kb holds thousands of records, not millions."""
        query = select(records).where(records.c.kb == kb)
        if library:
            query = query.where(records.c.library == library)
        if status:
            query = query.where(records.c.status == status)
        if updated_by:
            query = query.where(records.c.updated_by == updated_by)
        if updated_before:
            query = query.where(records.c.updated < updated_before)
        if q:
            like = f"%{q}%"
            query = query.where(or_(records.c.title.like(like), records.c.id.like(like)))
        query = query.order_by(records.c.library, records.c.id)
        if topic or text:
            return self._list_by_content(query, topic, text, page, page_size)
        with self.engine.connect() as c:
            total = c.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            rows = c.execute(query.limit(page_size).offset((page - 1) * page_size)).mappings().all()
        return total, [_state({**r, "content": {}}) for r in rows]

    def _list_by_content(self, query: Any, topic: str | None, text: str | None, page: int,
                         page_size: int) -> tuple[int, list[RecordState]]:
        current = query.add_columns(revisions.c.content).join(
            revisions, (revisions.c.kb == records.c.kb) & (revisions.c.record_id == records.c.id)
            & (revisions.c.revision == records.c.revision))
        needle = text.casefold() if text else ""
        matched: list[RecordState] = []
        with self.engine.connect() as c:
            for row in c.execute(current).mappings():
                content = row["content"] or {}
                if topic and topic not in (content.get("topics") or []):
                    continue
                if needle and needle not in json.dumps(content, ensure_ascii=False).casefold():
                    continue
                matched.append(_state({**row, "content": {}}))
        start = (page - 1) * page_size
        return len(matched), matched[start:start + page_size]

    def history(self, kb: str, record_id: str) -> list[dict[str, Any]]:
        self.get(kb, record_id)
        with self.engine.connect() as c:
            rows = c.execute(select(revisions).where(revisions.c.kb == kb, revisions.c.record_id == record_id)
                             .order_by(revisions.c.revision)).mappings().all()
        return [dict(r) for r in rows]

    def revision(self, kb: str, record_id: str, revision: int, conn: Connection | None = None) -> dict[str, Any]:
        query = select(revisions).where(revisions.c.kb == kb, revisions.c.record_id == record_id,
                                        revisions.c.revision == revision)
        if conn is not None:
            row = conn.execute(query).mappings().first()
        else:
            with self.engine.connect() as c:
                row = c.execute(query).mappings().first()
        if row is None:
            raise RecordNotFound(f"记录“{_short(record_id)}”没有第 {revision} 版")
        return dict(row)

    def recent_revisions(self, kb: str, since: str) -> list[dict[str, Any]]:
        """Each record's latest revision written at or after ``since`` (UTC ISO time), newest first,
        with the content of the revision before it, so a caller can say in words what changed."""
        prev = revisions.alias("prev")
        query = (select(revisions, records.c.library, records.c.title, prev.c.content.label("prev_content"))
                 .join(records, (records.c.kb == revisions.c.kb) & (records.c.id == revisions.c.record_id))
                 .outerjoin(prev, (prev.c.kb == revisions.c.kb) & (prev.c.record_id == revisions.c.record_id)
                            & (prev.c.revision == revisions.c.revision - 1))
                 .where(revisions.c.kb == kb, revisions.c.time >= since)
                 .order_by(revisions.c.time.desc(), revisions.c.revision.desc()))
        seen: set[str] = set()
        out = []
        with self.engine.connect() as c:
            for row in c.execute(query).mappings():
                if row["record_id"] not in seen:
                    seen.add(row["record_id"])
                    out.append(dict(row))
        return out

    def generation(self, kb: str) -> int:
        """Highest audit sequence number that touched this kb's records: what an index must reflect."""
        with self.engine.connect() as c:
            return c.execute(select(func.coalesce(func.max(audit.c.seq), 0))
                             .where(audit.c.kb == kb, audit.c.record_id.is_not(None))).scalar_one()

    def kbs(self) -> list[str]:
        with self.engine.connect() as c:
            return [r[0] for r in c.execute(select(records.c.kb).distinct().order_by(records.c.kb))]

    # ---- writing -------------------------------------------------------------------------------
    def create(self, kb: str, change: Change, actor: str, proposed_by: str | None = None,
               conn: Connection | None = None) -> RecordState:
        with self._tx(conn) as c:
            if self.find(kb, change.record_id, c) is not None:
                raise RecordExists(f"知识库“{kb}”中已有编号为“{_short(change.record_id)}”的记录，请改用修改")
            digest = content_hash(change.content)
            now = now_iso()
            c.execute(insert(records).values(
                kb=kb, id=change.record_id, library=change.library, status=ACTIVE, title=change.title, revision=1,
                content_hash=digest, created=now, updated=now, updated_by=actor, source_root=change.source_root,
                source_path=change.source_path, source_hash=digest if change.source_root else ""))
            self._add_revision(c, kb, change.record_id, 1, ACTIVE, change.content, digest, actor, now, change.reason, "create")
            append_audit(c, actor=actor, action="create", kb=kb, record_id=change.record_id, revision=1,
                         reason=change.reason, proposed_by=proposed_by)
            return self.get(kb, change.record_id, c)

    def update(self, kb: str, change: Change, actor: str, expected_revision: int | None,
               action: str = "update", proposed_by: str | None = None, conn: Connection | None = None,
               status: str = ACTIVE) -> RecordState:
        with self._tx(conn) as c:
            current = self.get(kb, change.record_id, c)
            if current.library != change.library:
                raise RecordConflict(f"记录“{_short(change.record_id)}”属于{current.library}库，不能改为{change.library}库")
            if expected_revision is not None and expected_revision != current.revision:
                raise StaleRevision(f"记录“{_short(change.record_id)}”已被他人修改：当前为第 {current.revision} 版，"
                                    f"您的修改基于第 {expected_revision} 版。请刷新后重新修改。")
            digest = content_hash(change.content)
            now = now_iso()
            new_rev = current.revision + 1
            values: dict[str, Any] = dict(revision=new_rev, status=status, title=change.title, content_hash=digest,
                                          updated=now, updated_by=actor)
            if change.source_root:
                values.update(source_root=change.source_root, source_path=change.source_path, source_hash=digest)
            result = c.execute(update(records).where(records.c.kb == kb, records.c.id == change.record_id,
                                                     records.c.revision == current.revision).values(**values))
            if result.rowcount != 1:
                raise StaleRevision(f"记录“{_short(change.record_id)}”已被他人修改，请刷新后重新修改。")
            self._add_revision(c, kb, change.record_id, new_rev, status, change.content, digest, actor, now,
                               change.reason, action)
            append_audit(c, actor=actor, action=action, kb=kb, record_id=change.record_id, revision=new_rev,
                         reason=change.reason, proposed_by=proposed_by)
            return self.get(kb, change.record_id, c)

    def retire(self, kb: str, record_id: str, actor: str, reason: str, expected_revision: int | None = None,
               conn: Connection | None = None) -> RecordState:
        if not reason.strip():
            raise InvalidRecordReason("停用记录必须说明原因（reason）")
        with self._tx(conn) as c:
            current = self.get(kb, record_id, c)
            if current.status == RETIRED:
                raise RecordConflict(f"记录“{_short(record_id)}”已停用")
            change = Change(current.library, record_id, current.content, current.title, reason)
            return self.update(kb, change, actor, expected_revision, action="retire", conn=c, status=RETIRED)

    def restore(self, kb: str, record_id: str, revision: int, actor: str, reason: str,
                expected_revision: int | None = None) -> RecordState:
        with self._tx(None) as c:
            old = self.revision(kb, record_id, revision, c)
            current = self.get(kb, record_id, c)
            change = Change(current.library, record_id, old["content"], _title(current.library, old["content"]),
                            reason or f"恢复为第 {revision} 版")
            return self.update(kb, change, actor, expected_revision, action="restore", conn=c)

    def upsert_from_source(self, kb: str, changes: list[Change], actor: str, dry_run: bool = False) -> IngestOutcome:
        """Apply records read from files; an unchanged file never overwrites an edit made over the API.

        A record changes only when its file's content differs from what was last ingested from it.
        When the record was also edited over the API since, the file wins as a new revision, the
        API edit stays in the history, and the record is reported as a conflict.
        """
        out = IngestOutcome()
        with self.transaction() as c:
            for ch in changes:
                digest = content_hash(ch.content)
                current = self.find(kb, ch.record_id, c)
                if current is None:
                    if not dry_run:
                        self.create(kb, ch, actor, conn=c)
                    out.added.append(ch.record_id)
                    continue
                if current.source_hash == digest and current.status != RETIRED:
                    if current.content_hash != digest:
                        out.kept_edits.append(ch.record_id)
                    else:
                        out.unchanged.append(ch.record_id)
                    continue
                if current.content_hash == digest and current.status != RETIRED:
                    if dry_run:
                        out.unchanged.append(ch.record_id)
                        continue
                    c.execute(update(records).where(records.c.kb == kb, records.c.id == ch.record_id)
                              .values(source_root=ch.source_root, source_path=ch.source_path, source_hash=digest))
                    out.unchanged.append(ch.record_id)
                    continue
                edited_elsewhere = bool(current.source_hash) and current.content_hash != current.source_hash
                if edited_elsewhere:
                    ch.reason = ch.reason or "文件与界面修改冲突：以文件为准，界面修改保留在历史中"
                    out.conflicts.append(ch.record_id)
                else:
                    out.updated.append(ch.record_id)
                if not dry_run:
                    self.update(kb, ch, actor, None, action="ingest", conn=c)
        return out

    def retire_missing(self, kb: str, source_root: str, present: set[str], actor: str, dry_run: bool) -> list[str]:
        """Records that came from ``source_root`` and are no longer there; retired unless ``dry_run``."""
        with self.engine.connect() as c:
            ids = [r[0] for r in c.execute(select(records.c.id).where(
                records.c.kb == kb, records.c.source_root == source_root, records.c.status != RETIRED))]
        gone = sorted(set(ids) - present)
        if not dry_run:
            with self.transaction() as c:
                for rid in gone:
                    self.retire(kb, rid, actor, f"同步目录 {source_root}：源文件中已不存在", conn=c)
        return gone

    def audit_event(self, actor: str, action: str, kb: str | None = None, reason: str = "",
                    details: dict[str, Any] | None = None, record_id: str | None = None) -> AuditEntry:
        with self.transaction() as c:
            return append_audit(c, actor=actor, action=action, kb=kb, record_id=record_id, reason=reason,
                                details=details)

    # ---- audit ---------------------------------------------------------------------------------
    def audit_entries(self, kb: str | None = None, actor: str | None = None, since: str | None = None,
                      until: str | None = None, record_id: str | None = None, limit: int = 1000,
                      newest_first: bool = False) -> list[AuditEntry]:
        """Entries in chain order (oldest first), or the newest ``limit`` of them newest first."""
        query = select(audit)
        if kb:
            query = query.where(audit.c.kb == kb)
        if actor:
            query = query.where(audit.c.actor == actor)
        if record_id:
            query = query.where(audit.c.record_id == record_id)
        if since:
            query = query.where(audit.c.time >= since)
        if until:
            query = query.where(audit.c.time <= until + ("T23:59:59.999999Z" if len(until) == 10 else ""))
        with self.engine.connect() as c:
            order = audit.c.seq.desc() if newest_first else audit.c.seq
            rows = c.execute(query.order_by(order).limit(limit)).mappings().all()
        return [AuditEntry(**dict(r)) for r in rows]

    def verify_audit(self) -> tuple[int, list[str]]:
        """(entries checked, problems): any edited, deleted or reordered entry breaks the chain."""
        problems = []
        prev = GENESIS
        expected_seq = 1
        n = 0
        with self.engine.connect() as c:
            for row in c.execute(select(audit).order_by(audit.c.seq)).mappings():
                n += 1
                entry = dict(row)
                if entry["seq"] != expected_seq:
                    problems.append(f"第 {expected_seq} 条审计记录缺失")
                if entry["prev_hash"] != prev:
                    problems.append(f"第 {entry['seq']} 条审计记录的前序哈希不符（记录被删除或改动）")
                if _entry_hash(entry["prev_hash"], entry) != entry["hash"]:
                    problems.append(f"第 {entry['seq']} 条审计记录的内容被改动")
                prev = entry["hash"]
                expected_seq = entry["seq"] + 1
            head = c.execute(select(audit_head.c.seq, audit_head.c.hash)).one()
        if n and (head.seq != expected_seq - 1 or head.hash != prev):
            problems.append("审计链末端与记录不符（末尾记录被删除）")
        return n, problems

    # ---- helpers -------------------------------------------------------------------------------
    @contextmanager
    def _tx(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.transaction() as c:
                yield c

    @staticmethod
    def _add_revision(c: Connection, kb: str, rid: str, rev: int, status: str, content: dict, digest: str,
                      author: str, now: str, reason: str, action: str) -> None:
        c.execute(insert(revisions).values(kb=kb, record_id=rid, revision=rev, status=status, content=content,
                                           content_hash=digest, author=author, time=now, reason=reason, action=action))


class InvalidRecordReason(InvalidQuery):
    """A retire without a reason."""


class RecordExists(Conflict):
    """A create for an id that is taken."""


class RecordConflict(Conflict):
    """A write that contradicts the record's state (retiring a retired record, changing its library)."""


def _state(row: Any) -> RecordState:
    return RecordState(
        kb=row["kb"], id=row["id"], library=row["library"], status=row["status"], title=row["title"],
        revision=row["revision"], updated=row["updated"], updated_by=row["updated_by"], content=row["content"] or {},
        content_hash=row["content_hash"], source_root=row["source_root"] or "", source_path=row["source_path"] or "",
        source_hash=row["source_hash"] or "",
    )


def _title(library: str, content: dict[str, Any]) -> str:
    return str(content.get("title") or content.get("question") or content.get("unit") or content.get("problem") or "")


def record_title(library: str, content: dict[str, Any]) -> str:
    return _title(library, content)[:200]


def _short(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


def field_diff(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Field-level differences between two revisions' contents."""
    out = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            out.append({"field": key, "old": old.get(key), "new": new.get(key)})
    return out
