"""Follow-the-call evaluation over corpus/transcripts/*.jsonl.

For each transcript: the fragment at which the labelled clause first appears in the
top 3 suggested clauses (None when never), and the suggestion latency from a
fragment's arrival to its suggestions (the fragments that trigger a search).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from kb.assist import Assistant, parse_utterance
from kb.settings import Settings


def load_transcript(path: Path) -> tuple[dict, list]:
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    header = next((x for x in lines if x.get("type") == "header"), {})
    return header, [parse_utterance(x) for x in lines if x.get("type") == "utterance"]


def run_assist_eval(assistant: Assistant, folder: Path) -> dict:
    rows, latencies = [], []
    for path in sorted(folder.glob("*.jsonl")):
        header, utterances = load_transcript(path)
        state, first, searches = assistant.new_call(), None, 0
        for n, u in enumerate(utterances, start=1):
            started = time.perf_counter()
            if not state.add(u):
                continue
            s = assistant.suggest(header["kb"], state)
            latencies.append((time.perf_counter() - started) * 1000)
            searches += 1
            if first is None and header["expected_clause"] in [c["id"] for c in s.clauses[:3]]:
                first = n
        rows.append({"id": header.get("id", path.stem), "kb": header["kb"], "expected": header["expected_clause"],
                     "fragments": len(utterances), "searches": searches, "found_at": first})
    found = [r for r in rows if r["found_at"] is not None]
    lat = sorted(latencies)
    return {"transcripts": rows, "found": len(found), "total": len(rows),
            "latency_ms": {"p50": round(statistics.median(lat), 1) if lat else None,
                           "p95": round(lat[int(0.95 * (len(lat) - 1))], 1) if lat else None, "n": len(lat)}}


def default_assistant(settings: Settings) -> Assistant:
    from kb.classify.duties import DutyBook
    from kb.classify.risk import RiskDetector
    from kb.reply.service import ReplyService
    from kb.service import KnowledgeService

    service = KnowledgeService(settings)
    return Assistant(service, ReplyService(service, settings), RiskDetector(DutyBook.load(settings.corpus_dir / "duties").risks))


def print_assist_report(report: dict, console) -> None:
    for r in report["transcripts"]:
        at = f"第 {r['found_at']} 段" if r["found_at"] else "未命中"
        console.print(f"{r['id']:<28} {r['expected']:<40} {at}（{r['fragments']} 段，检索 {r['searches']} 次）")
    lat = report["latency_ms"]
    console.print(f"命中 {report['found']}/{report['total']}；建议延迟 p50 {lat['p50']} ms，p95 {lat['p95']} ms（{lat['n']} 次）")
