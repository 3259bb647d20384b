"""Warm search against the query embedding's own time, in the same run and interleaved query by query.

For each dev question the timings are taken back to back, so that a noisy two-core machine slows them
alike: the embedding alone (``embed_queries``, uncached) of the text the search embeds, which is the
question followed by its synonym expansions (``Searcher.expanded``), and of the question as typed, whose
ratio is reported beside; the whole search with the embedder's and the tokenizer's recent-question
memories cleared (what a new question costs); and the search again with the vector remembered
(everything that is not the embedding: BM25, masks, fusion, snippets, the dense lookup). The target is
search p95 ≤ 1.3 × embedding p95.
"""

from __future__ import annotations

import json
import time

from kb.search import SearchRequest
from kb.service import KnowledgeService
from kb.settings import Settings


def warm_search_ratio(service: KnowledgeService, queries: list[tuple[str, str]], kb_override: str | None = None) -> dict:
    from eval.bench import percentiles

    embedder = service.embedder
    for kb, q in queries[:10]:
        service.search(kb_override or kb, SearchRequest(q))
    typed, embed, search, rest = [], [], [], []
    for kb, q in queries:
        kb = kb_override or kb
        _, expanded = service.searcher(kb).expanded(SearchRequest(q))
        started = time.perf_counter()
        embedder.embed_queries([q])
        typed.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        embedder.embed_queries([expanded])
        embed.append((time.perf_counter() - started) * 1000)
        embedder._recent.clear()  # noqa: SLF001 - a new question: its vector is not remembered
        service.tokenizer._recent.clear()  # noqa: SLF001 - nor its tokens
        started = time.perf_counter()
        service.search(kb, SearchRequest(q))
        search.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        service.search(kb, SearchRequest(q))
        rest.append((time.perf_counter() - started) * 1000)
    e, s, t = percentiles(embed), percentiles(search), percentiles(typed)
    return {"embed_ms": e, "search_ms": s, "search_without_embedding_ms": percentiles(rest),
            "p95_ratio": round(s["p95"] / e["p95"], 3), "p50_ratio": round(s["p50"] / e["p50"], 3),
            "typed_question_embed_ms": t, "p95_ratio_to_typed": round(s["p95"] / t["p95"], 3)}


def reply_search_ratio(service: KnowledgeService, replies, items: list[dict]) -> dict:
    """Single-question replies against searches of the same questions, interleaved question by question.

    Both start from a new question (the embedder's, the tokenizer's and the ticket model's recent-question
    memories cleared), so each pays one query embedding and one segmentation; the reply's extra over the
    search is its own work (gates, the ticket model's in-scope check, composing). Items whose question splits into several parts are left out: each part is a
    search of its own. The standard answers are segmented first, as the service does once it is up.
    The target is reply p95 ≤ 1.3 × search p95.
    """
    from eval.bench import percentiles
    from kb.reply.composer import parts, written

    single = [i for i in items if len(parts(written(i["question"]))) == 1]
    for kb in sorted({i.get("kb", "minzheng") for i in single}):
        replies.warm_answers(kb, pause_s=0.0)  # as the service does in the background after start-up
    for item in single[:5]:
        replies.reply(item["question"], item.get("kb", "minzheng"), item.get("district"), item.get("street"))

    def new_question() -> None:
        """Forget the question: its vector, its tokens and the ticket model's pass over it."""
        service.embedder._recent.clear()  # noqa: SLF001
        service.tokenizer._recent.clear()  # noqa: SLF001
        if replies.classifier is not None:
            replies.classifier._recent.clear()  # noqa: SLF001

    search, reply = [], []
    for item in single:
        kb = item.get("kb", "minzheng")
        new_question()
        started = time.perf_counter()
        service.search(kb, SearchRequest(item["question"], district=item.get("district")))
        search.append((time.perf_counter() - started) * 1000)
        new_question()
        started = time.perf_counter()
        replies.reply(item["question"], kb, item.get("district"), item.get("street"))
        reply.append((time.perf_counter() - started) * 1000)
    s, r = percentiles(search), percentiles(reply)
    return {"questions": len(single), "search_ms": s, "reply_ms": r,
            "p95_ratio": round(r["p95"] / s["p95"], 3), "p50_ratio": round(r["p50"] / s["p50"], 3)}


def run_warm_search_bench(settings: Settings, console, large_chunks: int = 100_000, n_queries: int = 200) -> dict:
    """The ratio at sample size and on a synthetic ``large_chunks`` index (``eval.bench.build_synthetic``)."""
    from eval.bench import bench_queries, build_synthetic

    queries = bench_queries(n_queries)
    service = KnowledgeService(settings)
    service.warm()
    report: dict = {"sample": warm_search_ratio(service, queries)}
    console.print(json.dumps(report, ensure_ascii=False))
    if large_chunks:
        big = build_synthetic(settings, service, "minzheng", large_chunks)
        big_service = KnowledgeService(big)
        big_service.warm()
        report["large_chunks"] = big_service.index("minzheng").size
        report["large"] = warm_search_ratio(big_service, queries, kb_override="minzheng")
    console.print(json.dumps(report, ensure_ascii=False))
    return report
