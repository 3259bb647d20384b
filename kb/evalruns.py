"""Evaluation runs started from the reviewer's page, and the gold figures each publish recorded.

SQLAlchemy Core with its own ``MetaData`` on the store of record's engine (like
kb/interactions.py): a run survives restarts and is exported with the database. A run
is one row: what was asked (kb, suite, split, config overrides), its status, and once
done its figures and per-query outcomes (JSON), which the comparison of two runs reads.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Engine, Float, MetaData, String, Table, Text, insert, select, update

from kb.errors import NotFound

metadata = MetaData()

eval_runs = Table(
    "eval_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kb", String(64), nullable=False, index=True),
    Column("suite", String(16), nullable=False),
    Column("split", String(8), nullable=False),
    Column("config", Text, nullable=False, default="{}"),
    Column("status", String(16), nullable=False),  # running | done | failed | skipped
    Column("actor", String(128), nullable=False, default=""),
    Column("kb_version", String(128), nullable=False, default=""),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("finished", DateTime(timezone=True)),
    Column("seconds", Float),
    Column("figures", Text),  # JSON {name: number}
    Column("items", Text),  # JSON [{id, query, outcome, ok}]
    Column("error", Text, nullable=False, default=""),
)

SUITES = ("retrieval", "classify", "reply", "laws")
SPLITS = ("dev", "test")
STATUS_NAMES = {"running": "运行中", "done": "已完成", "failed": "失败", "skipped": "已跳过"}
INTERRUPTED = "服务重启，评测中断，请重新运行"


@dataclass
class EvalRun:
    id: str
    kb: str
    suite: str
    split: str
    config: dict[str, Any]
    status: str
    actor: str
    kb_version: str
    created: datetime
    finished: datetime | None
    seconds: float | None
    figures: dict[str, float] | None
    items: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""

    def summary(self) -> dict[str, Any]:
        return {"run_id": self.id, "kb": self.kb, "suite": self.suite, "split": self.split, "config": self.config,
                "status": self.status, "status_name": STATUS_NAMES[self.status], "actor": self.actor,
                "kb_version": self.kb_version, "created": _iso(self.created), "finished": _iso(self.finished),
                "seconds": self.seconds, "figures": self.figures, "error": self.error}


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes for what was written in UTC
        value = value.replace(tzinfo=UTC)
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


class EvalRunStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def create(self, kb: str, suite: str, split: str, config: dict[str, Any], actor: str, kb_version: str) -> str:
        run_id = uuid.uuid4().hex[:12]
        with self.engine.begin() as conn:
            conn.execute(insert(eval_runs).values(
                id=run_id, kb=kb, suite=suite, split=split, config=json.dumps(config, ensure_ascii=False),
                status="running", actor=actor, kb_version=kb_version, created=datetime.now(UTC), error=""))
        return run_id

    def finish(self, run_id: str, figures: dict[str, float], items: list[dict[str, Any]], seconds: float) -> None:
        self._close(run_id, "done", seconds, figures=json.dumps(figures, ensure_ascii=False),
                    items=json.dumps(items, ensure_ascii=False))

    def fail(self, run_id: str, error: str, seconds: float, skipped: bool = False) -> None:
        self._close(run_id, "skipped" if skipped else "failed", seconds, error=error[:2000])

    def _close(self, run_id: str, status: str, seconds: float, **values: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(eval_runs).where(eval_runs.c.id == run_id).values(
                status=status, finished=datetime.now(UTC), seconds=round(seconds, 2), **values))

    def interrupt_running(self) -> int:
        """Runs a previous process left 'running' can never finish: mark them failed (at start-up)."""
        with self.engine.begin() as conn:
            return conn.execute(update(eval_runs).where(eval_runs.c.status == "running").values(
                status="failed", finished=datetime.now(UTC), error=INTERRUPTED)).rowcount

    def get(self, run_id: str) -> EvalRun:
        with self.engine.connect() as conn:
            row = conn.execute(select(eval_runs).where(eval_runs.c.id == run_id)).mappings().first()
        if row is None:
            raise NotFound(f"评测记录“{run_id[:40]}”不存在")
        return _run(row, with_items=True)

    def list(self, kb: str | None = None, suite: str | None = None, limit: int = 100) -> list[EvalRun]:
        """Newest first, without the per-query outcomes."""
        cols = [c for c in eval_runs.c if c.name != "items"]
        q = select(*cols).order_by(eval_runs.c.created.desc()).limit(limit)
        if kb:
            q = q.where(eval_runs.c.kb == kb)
        if suite:
            q = q.where(eval_runs.c.suite == suite)
        with self.engine.connect() as conn:
            return [_run(r, with_items=False) for r in conn.execute(q).mappings().all()]


def _run(row, with_items: bool) -> EvalRun:
    return EvalRun(row["id"], row["kb"], row["suite"], row["split"], json.loads(row["config"] or "{}"), row["status"],
                   row["actor"], row["kb_version"], row["created"], row["finished"], row["seconds"],
                   json.loads(row["figures"]) if row["figures"] else None,
                   json.loads(row["items"]) if with_items and row["items"] else [], row["error"])


def publish_history(entries: list[Any]) -> list[dict[str, Any]]:
    """The gold figures (Recall@5, MRR@10 on corpus/<kb>/gold.jsonl) each publish wrote into its audit entry, oldest first."""
    out = []
    for e in entries:
        gold = (e.details or {}).get("gold") if e.action == "publish" else None
        if gold:
            out.append({"time": e.time, "version": (e.details or {}).get("version", ""),
                        "figures": {k: v for k, v in gold.items() if isinstance(v, int | float) and not isinstance(v, bool)}})
    return sorted(out, key=lambda p: p["time"])


def compare(a: EvalRun, b: EvalRun) -> dict[str, Any]:
    """Figures side by side and the queries whose outcome differs (same suite; items matched by id)."""
    names = list(dict.fromkeys([*(a.figures or {}), *(b.figures or {})]))
    figures = []
    for name in names:
        va, vb = (a.figures or {}).get(name), (b.figures or {}).get(name)
        delta = round(vb - va, 4) if isinstance(va, int | float) and isinstance(vb, int | float) else None
        figures.append({"name": name, "a": va, "b": vb, "delta": delta})
    by_id = {i["id"]: i for i in b.items}
    differing, same = [], 0
    for item in a.items:
        other = by_id.get(item["id"])
        if other is None:
            continue
        if other["outcome"] == item["outcome"]:
            same += 1
            continue
        differing.append({"id": item["id"], "query": item["query"],
                          "a": {"outcome": item["outcome"], "ok": item["ok"]},
                          "b": {"outcome": other["outcome"], "ok": other["ok"]}})
    return {"a": a.summary(), "b": b.summary(), "figures": figures, "differing": differing, "same": same}
