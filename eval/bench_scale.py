"""The dense side at scale: a Chroma server (``chroma run`` on 127.0.0.1, HttpClient) holding up to 1M vectors.

The vectors are the sample corpus's own passage vectors (from the embedding cache) replicated with a little
Gaussian noise, as ``eval.bench.build_synthetic`` does: embedding 1M passages would take days on two cores,
while the HNSW graph only cares about the geometry. Queries are the dev questions embedded by the real
embedder, so the query embedding's own time is measured in the same run. Recall@10 is against exact search
(a NumPy matrix product over every vector), which is the ground truth HNSW approximates.

Each HNSW setting (``max_neighbors`` M, ``ef_construction``) needs its own build; ``ef_search`` is changed on a
built collection (``collection.modify``), so one build gives a row per ``ef_search``.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.settings import Settings

K = 10


@dataclass(frozen=True)
class HnswBuild:
    """The settings fixed when a collection is created."""

    max_neighbors: int = 16
    ef_construction: int = 200

    def configuration(self, ef_search: int) -> dict:
        return {"hnsw": {"space": "cosine", "max_neighbors": self.max_neighbors,
                         "ef_construction": self.ef_construction, "ef_search": ef_search}}


@dataclass
class ChromaServer:
    proc: subprocess.Popen
    url: str
    port: int

    def rss_mb(self) -> float:
        import psutil

        proc = psutil.Process(self.proc.pid)
        return round(sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 1048576, 1)

    def client(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        return chromadb.HttpClient(host="127.0.0.1", port=self.port,
                                   settings=ChromaSettings(anonymized_telemetry=False))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chroma_executable() -> str:
    found = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    if not Path(found).exists():
        raise RuntimeError("找不到 chroma 命令行（chromadb 未安装？）")
    return found


@contextmanager
def chroma_server(path: Path, timeout: float = 60.0) -> Iterator[ChromaServer]:
    """A ``chroma run`` subprocess on a free loopback port, stopped on exit."""
    import httpx

    port = _free_port()
    proc = subprocess.Popen([chroma_executable(), "run", "--path", str(path), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    try:
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError(f"chroma run 未能在 {timeout:.0f} 秒内于 {url} 启动")
            time.sleep(0.2)
        yield ChromaServer(proc, url, port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def base_vectors(settings: Settings) -> np.ndarray:
    """Every passage vector of the default embedder in the embedding cache (the sample corpus)."""
    import sqlite3

    from kb.embedding import get_embedder

    fp = get_embedder(settings).fingerprint_key
    with sqlite3.connect(str(settings.embed_cache_path)) as conn:
        rows = conn.execute("SELECT vec FROM vectors WHERE fp=? ORDER BY h", [fp]).fetchall()
    if not rows:
        raise RuntimeError(f"嵌入缓存 {settings.embed_cache_path} 中没有 {settings.embedder} 的向量：请先运行 kb ingest")
    return np.stack([np.frombuffer(v, dtype=np.float32) for (v,) in rows])


def synthetic_vectors(base: np.ndarray, n: int, noise: float = 0.02, seed: int = 0) -> np.ndarray:
    """``n`` unit vectors: the base rows in turn, each copy plus N(0, noise) per dimension, renormalised."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    step = 50_000
    for start in range(0, n, step):
        idx = np.arange(start, min(n, start + step)) % len(base)
        part = base[idx] + rng.normal(0, noise, (len(idx), base.shape[1])).astype(np.float32)
        out[start : start + len(idx)] = part / np.linalg.norm(part, axis=1, keepdims=True)
    return out


def query_vectors(settings: Settings, n: int) -> tuple[np.ndarray, list[float]]:
    """(vectors of ``n`` dev questions, each one's embedding time in ms) with the real embedder, uncached."""
    from eval.bench import bench_queries
    from kb.embedding import get_embedder

    embedder = get_embedder(settings)
    texts = list(dict.fromkeys(q for _, q in bench_queries(max(n, 200))))[:n]
    embedder.embed_queries(texts[:3])
    vecs, times = [], []
    for text in texts:
        started = time.perf_counter()
        vecs.append(embedder.embed_queries([text])[0])
        times.append((time.perf_counter() - started) * 1000)
    return np.stack(vecs).astype(np.float32), times


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    """Row ids of the ``k`` nearest vectors by cosine (all rows are unit vectors), best first."""
    scores = queries @ vectors.T
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(top, order, axis=1)


def recall_at_k(found: Sequence[Sequence[int]], exact: np.ndarray, k: int = K) -> float:
    return round(float(np.mean([len(set(f[:k]) & set(e[:k].tolist())) / k for f, e in zip(found, exact)])), 4)


def build_collection(client, name: str, vectors: np.ndarray, build: HnswBuild, ef_search: int,
                     batch: int = 5000) -> dict:
    """Create ``name`` with ``build``'s settings and add ``vectors`` as ids r0…; timings in seconds."""
    try:
        client.delete_collection(name)
    except Exception:  # noqa: BLE001 - "not found" differs by Chroma version
        pass
    col = client.create_collection(name, embedding_function=None, configuration=build.configuration(ef_search))
    limit = min(batch, int(client.get_max_batch_size()))
    started = time.perf_counter()
    for start in range(0, len(vectors), limit):
        part = vectors[start : start + limit]
        col.add(ids=[f"r{i}" for i in range(start, start + len(part))], embeddings=part)
    added = time.perf_counter() - started
    col.query(query_embeddings=[vectors[0]], n_results=K, include=["distances"])
    return {"collection": col, "add_s": round(added, 1), "build_s": round(time.perf_counter() - started, 1)}


def measure_queries(col, queries: np.ndarray, exact: np.ndarray, ef_search: int) -> dict:
    """p50/p95 of one top-10 HTTP query and recall@10 against exact search on a collection serving ``ef_search``."""
    from eval.bench import percentiles

    for q in queries[:5]:
        col.query(query_embeddings=[q], n_results=K, include=["distances"])
    found, times = [], []
    for q in queries:
        started = time.perf_counter()
        res = col.query(query_embeddings=[q], n_results=K, include=["distances"])
        times.append((time.perf_counter() - started) * 1000)
        found.append([int(i[1:]) for i in res["ids"][0]])
    return {"ef_search": ef_search, "recall@10": recall_at_k(found, exact), **percentiles(times)}


def run_scale_bench(settings: Settings, console, chunks: int = 1_000_000, builds: Sequence[HnswBuild] = (HnswBuild(),),
                    ef_searches: Sequence[int] = (100, 200, 400), n_queries: int = 100,
                    workdir: Path | None = None, out: Path | None = None) -> dict:
    """Build one collection per ``builds`` entry at ``chunks`` vectors on a fresh ``chroma run`` server and
    report build time, memory of both processes, and per ``ef_search`` recall@10 and query p50/p95 next to
    the query embedding's own p50/p95 measured in the same run.

    A running server keeps the ``ef_search`` its segment was loaded with (``collection.modify`` is stored but
    not applied), so each further ``ef_search`` is set, the server restarted on the same path, and measured.
    ``out`` receives the report as JSON after every row, so a long run can be polled.
    """
    import psutil

    from eval.bench import percentiles

    report: dict = {"chunks": chunks, "queries": n_queries}
    queries, embed_times = query_vectors(settings, n_queries)
    report["query_embedding_ms"] = percentiles(embed_times)
    started = time.perf_counter()
    vectors = synthetic_vectors(base_vectors(settings), chunks)
    report["generate_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    exact = exact_top_k(vectors, queries)
    report["exact_search_ms_per_query"] = round((time.perf_counter() - started) * 1000 / len(queries), 2)
    report["rows"] = rows = []
    own = tempfile.TemporaryDirectory(prefix="kb-scale-") if workdir is None else None
    root = Path(own.name) if own else workdir
    try:
        for build in builds:
            path = root / f"chroma-M{build.max_neighbors}-efc{build.ef_construction}"
            built: dict = {}
            for n, ef in enumerate(ef_searches):
                with chroma_server(path) as server:
                    client = server.client()
                    if n == 0:
                        built = build_collection(client, "scale", vectors, build, ef)
                        built["build_rss_mb"] = server.rss_mb()
                    col = client.get_collection("scale")
                    row = {"M": build.max_neighbors, "ef_construction": build.ef_construction,
                           "add_s": built["add_s"], "build_s": built["build_s"],
                           "build_chroma_rss_mb": built["build_rss_mb"],
                           **measure_queries(col, queries, exact, ef),
                           "chroma_server_rss_mb": server.rss_mb(),
                           "bench_rss_mb": round(psutil.Process().memory_info().rss / 1048576, 1)}
                    row["p95_vs_embed_p95"] = round(row["p95"] / report["query_embedding_ms"]["p95"], 3)
                    rows.append(row)
                    console.print(json.dumps(row, ensure_ascii=False))
                    if out:
                        out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
                    if n + 1 < len(ef_searches):
                        col.modify(configuration={"hnsw": {"ef_search": ef_searches[n + 1]}})
            rows[-1]["disk_mb"] = round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1048576, 1)
            shutil.rmtree(path, ignore_errors=True)
    finally:
        if own:
            own.cleanup()
    if out:
        out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    _print_table(console, report)
    return report


def _print_table(console, report: dict) -> None:
    from rich.table import Table

    table = Table(title=f"向量检索规模测试：{report['chunks']:,} 个向量，Chroma 服务（HTTP）")
    columns = ["M", "ef_construction", "ef_search", "build_s", "recall@10", "p50", "p95", "p95_vs_embed_p95",
               "build_chroma_rss_mb", "chroma_server_rss_mb", "bench_rss_mb"]
    for c in columns:
        table.add_column(c)
    for row in report["rows"]:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    console.print(table)
    console.print(json.dumps({k: v for k, v in report.items() if k != "rows"}, ensure_ascii=False))
