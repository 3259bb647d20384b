"""Retrieval quality on the dev set: dense, BM25, hybrid, hybrid + synonyms, side by side.

Relevance is judged per document (a standard answer, a policy, a contact), the
unit an agent acts on; results are deduplicated per document before scoring.
Metrics are computed by ranx so the figures match the standard definitions.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ranx import Qrels, Run, evaluate

from kb.search import Searcher, SearchRequest
from kb.service import KnowledgeService
from kb.settings import Settings

DEFAULT_DATA = Path(__file__).parent / "data" / "retrieval_dev.jsonl"
METRICS = ["recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"]

# name → (search mode, synonyms on, settings overrides)
NO_CAP = {"library_cap": 1.0}
RRF = {"fusion": "rrf"}
WEIGHTED = {"fusion": "weighted"}
VARIANTS: dict[str, tuple[str, bool, dict[str, Any]]] = {
    "dense": ("dense", False, NO_CAP),
    "bm25": ("bm25", False, NO_CAP),
    "hybrid (rrf)": ("hybrid", False, {**NO_CAP, **RRF}),
    "hybrid (weighted)": ("hybrid", False, {**NO_CAP, **WEIGHTED}),
    "hybrid+synonyms (rrf)": ("hybrid", True, {**NO_CAP, **RRF}),
    "hybrid+synonyms (weighted)": ("hybrid", True, {**NO_CAP, **WEIGHTED}),
    "hybrid+synonyms+library mix (rrf)": ("hybrid", True, {"library_cap": 0.4, **RRF}),
    "hybrid+synonyms+library mix (weighted, default)": ("hybrid", True, {"library_cap": 0.4, **WEIGHTED}),
}
# What the service itself does with the settings it is given (fusion, weights, library mix untouched):
# the variant an evaluation run from the reviewer's page measures, with that run's overrides applied.
CONFIGURED = "configured"
CONFIGURED_VARIANT: tuple[str, bool, dict[str, Any]] = ("hybrid", True, {})


def load_queries(path: Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                row = json.loads(line)
                if not row.get("query") or not row.get("relevant"):
                    raise ValueError(f"{path}:{lineno}: 每行需要 query 和 relevant")
                rows.append(row)
    return rows


def run_retrieval_eval(settings: Settings, data: Path, variants: list[str] | None = None, kb: str | None = None,
                       per_query: bool = False, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """``kb`` keeps that knowledge base's queries only; ``per_query`` adds each query's ranked documents."""
    queries = [q for q in load_queries(data) if kb is None or q.get("kb", "minzheng") == kb]
    if not queries:
        raise ValueError(f"{data} 中没有知识库 {kb} 的查询")
    service = KnowledgeService(settings)
    names = variants or list(VARIANTS)
    total, done = len(names) * len(queries), 0
    qrels = Qrels({q["id"]: {doc: 1 for doc in q["relevant"]} for q in queries})
    report: dict[str, Any] = {"queries": len(queries), "data": str(data), "variants": {}}
    if kb is not None:
        report["kb"] = kb
    for name in names:
        mode, synonyms, overrides = CONFIGURED_VARIANT if name == CONFIGURED else VARIANTS[name]
        run_dict: dict[str, dict[str, float]] = {}
        latencies = []
        for q in queries:
            base = service.searcher(q.get("kb", "minzheng"))
            searcher = Searcher(base.index, base.embedder, base.tokenizer, base.synonyms, base.taxonomy,
                                settings.model_copy(update=overrides))
            request = SearchRequest(q["query"], top_k=10, mode=mode, use_synonyms=synonyms,  # type: ignore[arg-type]
                                    district=q.get("district"))
            started = time.perf_counter()
            result = searcher.search(request)
            latencies.append((time.perf_counter() - started) * 1000)
            scores = {h.chunk.doc_id: float(len(result.hits) - i) for i, h in enumerate(result.hits)}
            run_dict[q["id"]] = scores or {"__none__": 0.0}
            done += 1
            if progress is not None:
                progress(done, total)
        scores = evaluate(qrels, Run(run_dict), METRICS, make_comparable=True)
        report["variants"][name] = {
            **{m: round(float(v), 4) for m, v in scores.items()},
            "p50_ms": round(statistics.median(latencies), 2),
            "failures": _failures(queries, run_dict),
        }
        if per_query:
            report["variants"][name]["per_query"] = _per_query(queries, run_dict)
    return report


def _per_query(queries: list[dict[str, Any]], run_dict: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Each query's top 10 documents and the rank of the first relevant one (None: not in the top 10)."""
    out = []
    for q in queries:
        ranked = [d for d in sorted(run_dict[q["id"]], key=lambda d: -run_dict[q["id"]][d]) if d != "__none__"][:10]
        rank = next((i for i, d in enumerate(ranked, start=1) if d in q["relevant"]), None)
        out.append({"id": q["id"], "query": q["query"], "relevant": q["relevant"], "top": ranked, "rank": rank})
    return out


def _failures(queries: list[dict[str, Any]], run_dict: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Queries with no relevant document in the top 5: what to look at first."""
    out = []
    for q in queries:
        ranked = sorted(run_dict[q["id"]], key=lambda d: -run_dict[q["id"]][d])[:5]
        if not set(ranked) & set(q["relevant"]):
            out.append({"id": q["id"], "query": q["query"], "relevant": q["relevant"], "top5": ranked})
    return out


def print_report(report: dict[str, Any], console) -> None:
    from rich.table import Table

    table = Table(title=f"检索评测（{report['queries']} 条查询，{report['data']}）")
    table.add_column("方法", min_width=30)
    for m in [*METRICS, "p50_ms", "top5未命中"]:
        table.add_column(m, justify="right")
    for name, row in report["variants"].items():
        table.add_row(name, *[f"{row[m]:.4f}" for m in METRICS], f"{row['p50_ms']:.1f}", str(len(row["failures"])))
    console.print(table)
