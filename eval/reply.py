"""Suggested-reply quality on eval/data/replies_dev.jsonl.

citation precision/recall: the answer and policy documents cited vs the expected ones;
key-fact coverage: share of required facts the reply states verbatim;
contact correctness: the expected office is among the offices given;
escalation precision/recall: unanswerable questions escalated, answerable ones not.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kb.reply.composer import ReplyConfig
from kb.reply.service import ReplyService
from kb.service import KnowledgeService
from kb.settings import Settings
from kb.textnorm import normalize

DEFAULT_DATA = Path(__file__).parent / "data" / "replies_dev.jsonl"
SPLITS = {"dev": DEFAULT_DATA, "test": Path(__file__).parent / "data" / "replies_test.jsonl"}


def load_items(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_reply_eval(settings: Settings, data: Path = DEFAULT_DATA, kb: str | None = None,
                   config: ReplyConfig | None = None, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """``kb`` keeps that knowledge base's items only; ``config`` replaces the default gates (a what-if, not the service's)."""
    service = KnowledgeService(settings)
    replies = ReplyService(service, settings, config=config)
    items = [i for i in load_items(data) if kb is None or i.get("kb", "minzheng") == kb]
    if not items:
        raise ValueError(f"{data} 中没有知识库 {kb} 的问题")
    outcomes: list[dict[str, Any]] = []
    cited_ok = cited_total = expected_hit = expected_total = 0
    facts_ok = facts_total = 0
    contact_ok = contact_total = 0
    tp = fp = fn = 0
    escalations = helpful = 0
    latencies: list[float] = []
    misses: list[dict[str, Any]] = []
    for item in items:
        started = time.perf_counter()
        r = replies.reply(item["question"], item.get("kb", "minzheng"), item.get("district"), item.get("street"))
        latencies.append((time.perf_counter() - started) * 1000)
        if progress is not None:
            progress(len(latencies), len(items))
        answerable = item.get("answerable", True)
        outcomes.append({"id": item["id"], "query": item["question"], "answerable": answerable, "escalate": r.escalate,
                         "cited": sorted({b["doc_id"] for b in r.basis if b["type"] in ("answer", "policy")}),
                         "confidence": r.confidence})
        if r.escalate:
            escalations += 1
            helpful += bool(r.contacts or r.references)
            if not (r.contacts or r.references):
                misses.append({"id": item["id"], "question": item["question"], "why": "escalation without contact or reference"})
        if r.escalate and not answerable:
            tp += 1
        elif r.escalate:
            misses.append({"id": item["id"], "question": item["question"], "why": "escalated", "confidence": r.confidence})
        if not answerable:
            if not r.escalate:
                fn += 1
                misses.append({"id": item["id"], "question": item["question"], "why": "not escalated",
                               "confidence": r.confidence, "answer": r.basis[0]["id"] if r.basis else None})
            continue
        if r.escalate:
            fp += 1
            continue
        cited = {b["doc_id"] for b in r.basis if b["type"] in ("answer", "policy")}
        expected = set(item.get("expected_sources", []))
        cited_total += len(cited)
        cited_ok += len(cited & expected)
        expected_total += len(expected)
        expected_hit += len(expected & cited)
        text = normalize(r.reply)
        for fact in item.get("key_facts", []):
            facts_total += 1
            facts_ok += normalize(fact) in text
        if item.get("expected_contact"):
            contact_total += 1
            acceptable = {item["expected_contact"], *item.get("acceptable_contacts", [])}
            got = [c["id"] for c in r.contacts]
            contact_ok += bool(acceptable & set(got))
            if not acceptable & set(got):
                misses.append({"id": item["id"], "why": "contact", "expected": sorted(acceptable), "got": got})
        if expected - cited:
            misses.append({"id": item["id"], "why": "citation", "expected": sorted(expected), "cited": sorted(cited)})
    answerable_n = sum(1 for i in items if i.get("answerable", True))
    unanswerable_n = len(items) - answerable_n
    return {
        "items": len(items),
        "answerable": answerable_n,
        "unanswerable": unanswerable_n,
        "gates": replies.composer.config.__dict__,
        "citation_precision": round(cited_ok / max(1, cited_total), 4),
        "citation_recall": round(expected_hit / max(1, expected_total), 4),
        "key_fact_coverage": round(facts_ok / max(1, facts_total), 4),
        "contact_correctness": round(contact_ok / max(1, contact_total), 4),
        "contact_cases": contact_total,
        "escalation_precision": round(tp / max(1, tp + fp), 4),
        "escalation_recall": round(tp / max(1, unanswerable_n), 4),
        "answerable_escalated_share": round(fp / max(1, answerable_n), 4),
        "escalations": escalations,
        "helpful_escalation_share": round(helpful / max(1, escalations), 4),
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 2),
        "misses": misses,
        "per_item": outcomes,
    }


def print_reply_report(report: dict[str, Any], console) -> None:
    from rich.table import Table

    t = Table(title=f"建议答复评测（{report['items']} 条：可答 {report['answerable']}，不可答 {report['unanswerable']}；"
                    f"门限 {report['gates']}）")
    t.add_column("指标")
    t.add_column("值", justify="right")
    for key, label in [("citation_precision", "引用精确率"), ("citation_recall", "引用召回率"),
                       ("key_fact_coverage", "关键事实覆盖率"), ("contact_correctness", "联系方式正确率"),
                       ("escalation_precision", "转办（升级）精确率"), ("escalation_recall", "转办（升级）召回率"),
                       ("answerable_escalated_share", "可答问题被升级比例"),
                       ("helpful_escalation_share", "转办时附有联系方式或参考的比例"), ("p50_ms", "p50 ms"), ("p95_ms", "p95 ms")]:
        t.add_row(label, str(report[key]))
    console.print(t)
