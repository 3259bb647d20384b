"""Derive a knowledge base's search index from its store of record, and switch to it atomically.

Every write (an API edit, an upload, ``kb ingest``) ends here. The index is rebuilt
from the store's active records, but cheaply: vectors of unchanged text come from
the embedding cache, so only the changed record's chunks are embedded. The new
version is written completely (and fsynced) before CURRENT moves; if anything
fails the previous version keeps serving and the caller learns the write is not
yet indexed. The manifest records the store generation it reflects, so a second
service instance sharing the store can tell it is behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kb.embedding import EmbeddingCache, embed_with_cache, get_embedder
from kb.errors import GuardRefused, IngestFailed
from kb.gold import broken, evaluate, load_gold
from kb.index import CHUNKER_VERSION, IndexLayout, VersionWriter, check_embedder, collection_name, read_manifest
from kb.recordcodec import to_raw
from kb.records import Chunk
from kb.schema import PolicyMeta
from kb.settings import Settings
from kb.store import RecordStore
from kb.synonyms import SynonymTable
from kb.taxonomy import cached_taxonomy
from kb.tokenize import get_tokenizer
from kb.topics import keyword_table
from kb.validate import Document, Validator
from kb.vectorstore import VectorCollection, chroma_client

Progress = Callable[[str, int, int], None]
_thread_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


@dataclass
class PublishResult:
    kb: str
    version: str
    generation: int
    chunks: int
    vectors: int
    embedded: int
    seconds: float
    warnings: list[str] = field(default_factory=list)
    gold: dict | None = None


def validator_for(settings: Settings, kb: str) -> Validator:
    taxonomy = cached_taxonomy(settings.taxonomy_path)
    synonyms = SynonymTable.load(settings.corpus_dir / "synonyms.tsv")
    return Validator(kb, taxonomy, keyword_table(taxonomy, synonyms), settings.chunk_chars, settings.chunk_overlap)


def known_policies(store: RecordStore, kb: str, exclude: set[str] = frozenset()) -> dict[str, tuple[PolicyMeta, set[str]]]:
    """The store's active policies with their article numbers, so a batch may cite them."""
    out: dict[str, tuple[PolicyMeta, set[str]]] = {}
    for state in store.all_active(kb):
        if state.library != "policy" or state.id in exclude:
            continue
        raw = to_raw("policy", state.id, state.content)
        try:
            meta = PolicyMeta.model_validate(raw.data)
        except ValueError:
            continue
        out[state.id] = (meta, {a.number for a in (raw.parsed.articles if raw.parsed else []) if a.number})
    return out


@contextmanager
def kb_write_lock(layout: IndexLayout, wait: bool = True) -> Iterator[None]:
    """One writer of a kb's index at a time, across threads and processes."""
    with _guard:
        tlock = _thread_locks.setdefault(str(layout.root), threading.Lock())
    if not tlock.acquire(blocking=wait):
        raise IngestFailed(f"知识库“{layout.kb}”正在由另一个导入任务更新，请稍后再试")
    try:
        layout.root.mkdir(parents=True, exist_ok=True)
        with open(layout.root / ".ingest.lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise IngestFailed(f"知识库“{layout.kb}”正在由另一个导入任务更新，请稍后再试") from None
            yield
    finally:
        tlock.release()


class Publisher:
    def __init__(self, settings: Settings, store: RecordStore) -> None:
        self.settings = settings
        self.store = store

    def _tokens(self, layout: IndexLayout, previous_vid: str | None, chunks: list[Chunk]) -> list[list[str]]:
        """BM25 tokens, reused from the live version for unchanged text: jieba is most of a re-index's cost."""
        known = _read_tokens(layout.version_dir(previous_vid)) if previous_vid else {}
        tokenizer = get_tokenizer(self.settings.corpus_dir, self.settings.data_dir / "cache")
        salt = _dictionary_fingerprint(self.settings.corpus_dir)
        out = []
        for c in chunks:
            toks = known.get(_text_key(salt + c.bm25_text))
            out.append(toks if toks is not None else tokenizer.tokens(c.bm25_text))
        return out

    def reindex_if_behind(self, kb: str) -> PublishResult | None:
        """Re-index only when the live index reflects an older store state (checked under the lock)."""
        layout = IndexLayout(self.settings.data_dir, kb)
        with kb_write_lock(layout):
            if indexed_generation(self.settings, kb) >= self.store.generation(kb):
                return None
            return self._reindex_locked(kb, layout, False, None)

    def reindex(self, kb: str, rebuild: bool = False, progress: Progress | None = None) -> PublishResult:
        layout = IndexLayout(self.settings.data_dir, kb)
        with kb_write_lock(layout):
            return self._reindex_locked(kb, layout, rebuild, progress)

    def _reindex_locked(self, kb: str, layout: IndexLayout, rebuild: bool, progress: Progress | None) -> PublishResult:
        started = time.perf_counter()
        settings = self.settings
        embedder = get_embedder(settings)
        previous_vid = layout.current()
        if previous_vid and not rebuild:
            check_embedder(read_manifest(layout, previous_vid), embedder, kb)
        generation = self.store.generation(kb)
        states = self.store.all_active(kb)
        outcome = validator_for(settings, kb).run([to_raw(s.library, s.id, s.content) for s in states], strict_refs=False)
        warnings = list(outcome.warnings) + [str(r) for r in outcome.rejections]
        documents = outcome.documents
        if not documents:
            raise IngestFailed(f"知识库“{kb}”的记录库中没有可索引的在用记录，原索引保持不变")
        sources = {s.id: (s.source_path or f"记录 {s.id}") for s in states}
        for d in documents:
            for c in d.chunks:
                c.source = sources.get(d.doc_id, c.source)
        chunks = [c for d in documents for c in d.chunks]
        rows, texts = _vector_rows(chunks)
        cache = EmbeddingCache(settings.embed_cache_path)
        try:
            tick = (lambda n: progress("embed", n, len(texts))) if progress else None
            vectors, embedded = embed_with_cache(embedder, cache, texts, progress=tick)
        finally:
            cache.close()
        token_lists = self._tokens(layout, previous_vid, chunks)
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
            "store_generation": generation,
            "documents": {d.doc_id: {"hash": d.content_hash, "library": d.library, "source": sources.get(d.doc_id, "")}
                          for d in documents},
        }
        writer = VersionWriter(layout, vid)
        try:
            writer.write(chunks, rows, vectors, token_lists, manifest, collection)
            _write_tokens(writer.path, chunks, token_lists, _dictionary_fingerprint(settings.corpus_dir))
            gold = self._gold(kb, layout, vid, manifest, client, previous_vid)
            if gold is not None:
                manifest["gold"] = gold
                (writer.path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1),
                                                           encoding="utf-8")
            _fsync_tree(writer.path)
            layout.activate(vid)
            _fsync_dir(layout.root)
        except BaseException as exc:
            writer.discard()
            collection.drop()
            if isinstance(exc, GuardRefused):
                raise
            if isinstance(exc, Exception):
                raise IngestFailed(f"写入新索引失败（{type(exc).__name__}），原索引保持不变") from exc
            raise
        _remove_stale(layout, client, settings)
        details = {"version": vid, "generation": generation, "chunks": len(chunks), "embedded": embedded}
        if "gold" in manifest:
            details["gold"] = {k: v for k, v in manifest["gold"].items() if k != "per_query"}
        self.store.audit_event("system", "publish", kb, reason=f"索引版本 {vid}", details=details)
        return PublishResult(kb, vid, generation, len(chunks), len(texts), embedded, time.perf_counter() - started,
                             warnings, manifest.get("gold"))

    def _gold(self, kb: str, layout: IndexLayout, vid: str, manifest: dict, client, previous_vid: str | None) -> dict | None:
        """Measure the new version on the kb's gold set before it goes live; refuse it when the guard says so."""
        items = load_gold(self.settings.corpus_dir / kb / "gold.jsonl")
        if not items:
            return None
        from kb.index import LoadedIndex
        from kb.search import Searcher

        settings = self.settings
        index = LoadedIndex(layout, vid, manifest, client, settings.hnsw_search_ef, settings.today)
        tokenizer = get_tokenizer(settings.corpus_dir, settings.data_dir / "cache")
        searcher = Searcher(index, get_embedder(settings), tokenizer, SynonymTable.load(settings.corpus_dir / "synonyms.tsv"),
                            cached_taxonomy(settings.taxonomy_path), settings)
        result = evaluate(searcher, items).to_json()
        before = read_manifest(layout, previous_vid).get("gold") if previous_vid else None
        guard = settings.guard_recall_drop
        if guard is not None and before:
            drop = (before["recall_at_5"] - result["recall_at_5"]) * 100
            if drop > guard:
                lost = broken(before.get("per_query", {}), result["per_query"])
                raise GuardRefused(
                    f"此修改使知识库“{kb}”的自测问题 Recall@5 从 {before['recall_at_5']:.3f} 降到 {result['recall_at_5']:.3f}"
                    f"（下降 {drop:.1f} 个百分点，上限 {guard:g}），已拒绝发布，原索引保持不变。受影响的问题："
                    + "；".join(lost[:10]))
        return result


TOKENS_FILE = "tokens.jsonl"


def _text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


def _dictionary_fingerprint(corpus_dir: Path) -> str:
    """Tokens depend on the jieba dictionary and stop words: a changed dictionary must retokenise."""
    digest = hashlib.sha1()
    for name in ("userdict.txt", "stopwords.txt"):
        try:
            digest.update((corpus_dir / name).read_bytes())
        except OSError:
            pass
    return digest.hexdigest()


def _write_tokens(path: Path, chunks: list[Chunk], token_lists: list[list[str]], salt: str) -> None:
    with open(path / TOKENS_FILE, "w", encoding="utf-8") as fh:
        for chunk, toks in zip(chunks, token_lists):
            fh.write(json.dumps([_text_key(salt + chunk.bm25_text), toks], ensure_ascii=False) + "\n")


def _read_tokens(path: Path) -> dict[str, list[str]]:
    try:
        with open(path / TOKENS_FILE, encoding="utf-8") as fh:
            return {key: toks for key, toks in (json.loads(line) for line in fh)}
    except (OSError, ValueError):
        return {}


def indexed_generation(settings: Settings, kb: str) -> int:
    layout = IndexLayout(settings.data_dir, kb)
    vid = layout.current()
    if vid is None:
        return -1
    try:
        return int(read_manifest(layout, vid).get("store_generation", -1))
    except (OSError, ValueError):
        return -1


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


def _fsync_tree(path: Path) -> None:
    for p in sorted(path.rglob("*"), reverse=True):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
        else:
            _fsync_dir(p)
    _fsync_dir(path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale(layout: IndexLayout, client, settings: Settings) -> None:
    for vid in layout.stale_versions():
        VectorCollection(client, collection_name(layout.kb, vid), settings.hnsw_search_ef).drop()
        shutil.rmtree(layout.version_dir(vid), ignore_errors=True)


def documents_of(outcome_documents: list[Document]) -> dict[str, Document]:
    return {d.doc_id: d for d in outcome_documents}
