"""load → validate → chunk → embed → write → switch, for one knowledge base.

The paths given are the whole content of the knowledge base: a document found
before but not now is deleted. Unchanged documents (same content hash) are never
re-embedded; vectors come from the embedding cache. The new version becomes live
only after it is completely written, so a failure leaves the old one serving.
"""

from __future__ import annotations

import fcntl
import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingest.loaders import discover, load_file
from kb.problems import LoadError, Rejection, write_report
from kb.topics import keyword_table
from kb.validate import Document, Validator
from kb.embedding import EmbeddingCache, embed_with_cache, get_embedder
from kb.errors import IngestFailed
from kb.index import CHUNKER_VERSION, IndexLayout, VersionWriter, check_embedder, collection_name, read_manifest
from kb.records import Chunk
from kb.settings import Settings
from kb.synonyms import SynonymTable
from kb.taxonomy import cached_taxonomy
from kb.tokenize import get_tokenizer
from kb.vectorstore import VectorCollection, chroma_client

Progress = Callable[[str, int, int], None]


@dataclass
class IngestSummary:
    kb: str
    version: str = ""
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: int = 0
    chunks: int = 0
    vectors: int = 0
    embedded: int = 0
    seconds: float = 0.0
    files: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    inferred_topics: dict[str, list[str]] = field(default_factory=dict)
    skipped_files: list[str] = field(default_factory=list)
    report_path: str = ""

    @property
    def ok(self) -> bool:
        return not self.rejections


@contextmanager
def _kb_lock(layout: IndexLayout):
    layout.root.mkdir(parents=True, exist_ok=True)
    with open(layout.root / ".ingest.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IngestFailed(f"知识库“{layout.kb}”正在由另一个导入任务更新，请稍后再试") from None
        yield


def run_ingest(
    settings: Settings, kb: str, paths: list[Path], rebuild: bool = False, progress: Progress | None = None
) -> IngestSummary:
    started = time.perf_counter()
    summary = IngestSummary(kb)
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise IngestFailed(f"路径不存在：{'、'.join(missing)}")
    layout = IndexLayout(settings.data_dir, kb)
    embedder = get_embedder(settings)
    with _kb_lock(layout):
        previous_vid = layout.current()
        previous = read_manifest(layout, previous_vid) if previous_vid else None
        if previous and not rebuild:
            check_embedder(previous, embedder, kb)
        documents = _load_and_validate(settings, kb, paths, summary, progress)
        if not documents:
            summary.seconds = time.perf_counter() - started
            _write_rejections(layout, summary)
            raise IngestFailed(f"没有可导入的有效记录（{summary.rejected} 条被拒绝），原索引保持不变；详见 {summary.report_path}")
        old_docs = (previous or {}).get("documents", {}) if not rebuild else {}
        _diff(documents, old_docs, summary)
        chunks = [c for d in documents for c in d.chunks]
        rows, texts = _vector_rows(chunks)
        cache = EmbeddingCache(settings.embed_cache_path)
        try:
            before = len(texts)
            tick = (lambda n: progress("embed", n, before)) if progress else None
            vectors, summary.embedded = embed_with_cache(embedder, cache, texts, progress=tick)
        finally:
            cache.close()
        tokenizer = get_tokenizer(settings.corpus_dir, settings.data_dir / "cache")
        token_lists = [tokenizer.tokens(c.bm25_text) for c in chunks]
        vid = layout.new_version_id()
        client = chroma_client(settings)
        collection = VectorCollection(client, collection_name(kb, vid), settings.hnsw_search_ef)
        manifest = {
            "kb": kb,
            "version": vid,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "embedder": embedder.fingerprint,
            "chunker_version": CHUNKER_VERSION,
            "collection": collection.name,
            "chroma": settings.chroma_url or "embedded",
            "counts": _counts(chunks),
            "vectors": len(texts),
            "documents": {d.doc_id: {"hash": d.content_hash, "library": d.library, "source": d.source} for d in documents},
        }
        writer = VersionWriter(layout, vid)
        try:
            writer.write(chunks, rows, vectors, token_lists, manifest, collection)
            layout.activate(vid)
        except BaseException as exc:
            writer.discard()
            collection.drop()
            if isinstance(exc, Exception):
                raise IngestFailed(f"写入新索引失败（{type(exc).__name__}: {exc}），原索引保持不变") from exc
            raise
        _remove_stale(layout, client, settings)
        summary.version = vid
        summary.chunks = len(chunks)
        summary.vectors = len(texts)
        summary.seconds = time.perf_counter() - started
        _write_rejections(layout, summary)
        return summary


def _load_and_validate(
    settings: Settings, kb: str, paths: list[Path], summary: IngestSummary, progress: Progress | None
) -> list[Document]:
    files, skipped = discover(paths)
    summary.files = len(files)
    summary.skipped_files = [str(p) for p in skipped]
    records = []
    for i, path in enumerate(files, start=1):
        try:
            records.extend(load_file(path, settings.max_upload_bytes))
        except LoadError as exc:
            summary.rejections.append(exc.rejection)
        if progress:
            progress("load", i, len(files))
    taxonomy = cached_taxonomy(settings.taxonomy_path)
    synonyms = SynonymTable.load(settings.corpus_dir / "synonyms.tsv")
    validator = Validator(kb, taxonomy, keyword_table(taxonomy, synonyms), settings.chunk_chars, settings.chunk_overlap)
    outcome = validator.run(records)
    summary.rejections.extend(outcome.rejections)
    summary.warnings.extend(outcome.warnings)
    summary.inferred_topics.update(outcome.inferred_topics)
    summary.rejected = len({(r.file, r.location) for r in summary.rejections})
    return outcome.documents


def _diff(documents: list[Document], old_docs: dict, summary: IngestSummary) -> None:
    current = {d.doc_id for d in documents}
    for d in documents:
        old = old_docs.get(d.doc_id)
        if old is None:
            summary.added += 1
        elif old["hash"] == d.content_hash:
            summary.unchanged += 1
        else:
            summary.updated += 1
    summary.deleted = len(set(old_docs) - current)


def _vector_rows(chunks: list[Chunk]) -> tuple[np.ndarray, list[str]]:
    rows: list[int] = []
    texts: list[str] = []
    for i, chunk in enumerate(chunks):
        for text in dict.fromkeys(chunk.embed_texts):
            rows.append(i)
            texts.append(text)
    return np.asarray(rows, dtype=np.int32), texts


def _counts(chunks: list[Chunk]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in chunks:
        counts[c.library] = counts.get(c.library, 0) + 1
    return counts


def _remove_stale(layout: IndexLayout, client, settings: Settings) -> None:
    for vid in layout.stale_versions():
        VectorCollection(client, collection_name(layout.kb, vid), settings.hnsw_search_ef).drop()
        shutil.rmtree(layout.version_dir(vid), ignore_errors=True)


def _write_rejections(layout: IndexLayout, summary: IngestSummary) -> None:
    if not summary.rejections:
        return
    path = layout.reports / f"rejections-{time.strftime('%Y%m%d-%H%M%S')}.csv"
    write_report(path, summary.rejections)
    summary.report_path = str(path)
