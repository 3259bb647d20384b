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
import logging
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
from kb.errors import GuardRefused, IndexCorrupt, IngestFailed
from kb.gold import broken, evaluate, load_gold
from kb.index import (
    CHUNKER_VERSION,
    IndexLayout,
    VersionWriter,
    check_embedder,
    collection_name,
    forget_version,
    full_segment,
    load_index,
    read_manifest,
)
from kb.loadcache import LoadCache
from kb.recordcodec import to_raw
from kb.records import Chunk
from kb.schema import PolicyMeta
from kb.segments import HIDDEN_FILE, STATS_FILE, read_hidden_tokens
from kb.settings import Settings
from kb.store import RecordStore
from kb.synonyms import SynonymTable
from kb.taxonomy import cached_taxonomy
from kb.tokenize import get_tokenizer
from kb.topics import keyword_table
from kb.validate import Document, Validator
from kb.vectorstore import VectorCollection, chroma_client, owned_elsewhere
from kb.versions import unpin

Progress = Callable[[str, int, int], None]
log = logging.getLogger("kb.publish")
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
    return Validator(kb, taxonomy, keyword_table(taxonomy, synonyms), settings.chunk_chars, settings.chunk_overlap,
                     settings.chunk_context)


def known_policies(store: RecordStore, kb: str, exclude: set[str] = frozenset(),
                   only: set[str] | None = None) -> dict[str, tuple[PolicyMeta, set[str]]]:
    """The store's active policies with their article numbers, so a batch may cite them.

    ``only`` limits the read to the policies a record names (its references, its successor):
    validating one edit then costs what the edit cites, not what the knowledge base holds.
    """
    out: dict[str, tuple[PolicyMeta, set[str]]] = {}
    states = store.all_active(kb) if only is None else store.get_many(kb, sorted(only))
    for state in states:
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


# A delta (changed records beside the live full version) is written while it stays small; past
# DELTA_HARD it is folded into a new full version at once, past DELTA_SOFT in the background.
DELTA_SOFT_CHUNKS, DELTA_SOFT_SHARE = 300, 0.02
DELTA_HARD_CHUNKS, DELTA_HARD_SHARE = 2000, 0.10
BUILDING = ".building"  # marks a version directory still being written by a compaction


@dataclass
class _DeltaPlan:
    base_vid: str
    base_manifest: dict
    changed: list[str]
    hidden: set[str]
    base_docs: dict[str, dict]


class Publisher:
    def __init__(self, settings: Settings, store: RecordStore, background: bool = False) -> None:
        """``background``: fold deltas into a full version on a thread (the service); the CLI folds inline."""
        self.settings = settings
        self.store = store
        self.background = background
        self._compacting: set[str] = set()
        self._compact_lock = threading.Lock()
        self.after_full_build: Callable[[str], None] | None = None  # runs between a compaction's build and its switch
        # Runs right after CURRENT switches, for every publish (edit, store sync, compaction): the service
        # then reads the new version on its next request instead of at its next periodic CURRENT check, so a
        # `kb ingest` beside the service, which returns once CURRENT moved, is followed by answers from it.
        self.on_live: Callable[[str], None] | None = None

    def _tokens(self, known: dict[str, list[str]], chunks: list[Chunk]) -> list[list[str]]:
        """BM25 tokens, reused for unchanged text: jieba is most of a re-index's cost."""
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
        if owned_elsewhere(self.settings):
            return self._delegate(kb, layout)
        with kb_write_lock(layout):
            if indexed_generation(self.settings, kb) >= self.store.generation(kb):
                return None
            result = self._reindex_locked(kb, layout, False, None)
        self._maybe_compact(kb, result)
        return result

    def reindex(self, kb: str, rebuild: bool = False, progress: Progress | None = None, full: bool = False) -> PublishResult:
        """Bring the index in step with the store: a small delta when few records changed, else a full version.

        When the running service owns the embedded vector store, the service does it (see ``_delegate``).
        """
        layout = IndexLayout(self.settings.data_dir, kb)
        if owned_elsewhere(self.settings):
            if rebuild or full:
                raise IngestFailed("服务正在运行并占用向量库：完整重建（--rebuild）请先停止服务；修改已写入记录库")
            return self._delegate(kb, layout)
        with kb_write_lock(layout):
            result = self._reindex_locked(kb, layout, rebuild, progress, full)
        self._maybe_compact(kb, result)
        return result

    def _reindex_locked(self, kb: str, layout: IndexLayout, rebuild: bool, progress: Progress | None,
                        full: bool = False) -> PublishResult:
        started = time.perf_counter()
        previous_vid = layout.current()
        embedder = get_embedder(self.settings)
        if previous_vid and not rebuild:
            try:
                check_embedder(read_manifest(layout, previous_vid), embedder, kb)
            except IndexCorrupt:
                previous_vid = None  # an unreadable live version: rebuild in full from the store
        plan = None if (rebuild or full or previous_vid is None) else self._delta_plan(kb, layout, previous_vid)
        if plan is not None:
            result = self._publish_delta(kb, layout, plan, previous_vid, started)
            if result is not None:
                return result
        vid, manifest, warnings, embedded = self._build_full(kb, layout, previous_vid, progress)
        return self._go_live(kb, layout, vid, manifest, previous_vid, warnings, embedded, started)

    def _delegate(self, kb: str, layout: IndexLayout) -> PublishResult:
        """Wait for the running service to index the store state this process just wrote.

        The service's store sync re-indexes within a few seconds; a gold-guard refusal there is
        written to REFUSED, which this process turns into the same GuardRefused a local publish raises.
        """
        started = time.perf_counter()
        target = self.store.generation(kb)
        deadline = time.monotonic() + self.settings.delegate_timeout_seconds
        while indexed_generation(self.settings, kb) < target:
            refused = read_refusal(layout)
            if refused is not None and refused.get("generation", -1) >= target:
                raise GuardRefused(str(refused.get("message", "自测守卫拒绝了此修改")))
            if time.monotonic() > deadline:
                raise IngestFailed(f"修改已写入记录库，但正在运行的服务在 {self.settings.delegate_timeout_seconds:g} 秒内"
                                   "未完成索引更新；服务会继续补建，请查看服务日志")
            time.sleep(0.2)
        vid = layout.current() or ""
        manifest = read_manifest(layout, vid)
        return PublishResult(kb, vid, int(manifest["store_generation"]), sum(manifest["counts"].values()),
                             int(manifest["vectors"]), 0, time.perf_counter() - started,
                             ["服务正在运行：索引由服务根据记录库更新（本进程未打开向量库）"], manifest.get("gold"))

    # ---- full versions ---------------------------------------------------------------------------
    def _build_full(self, kb: str, layout: IndexLayout, previous_vid: str | None, progress: Progress | None,
                    marker: bool = False) -> tuple[str, dict, list[str], int]:
        """Write (not activate) a complete version from the store's active records."""
        settings = self.settings
        generation = self.store.generation(kb)
        states = self.store.all_active(kb)
        outcome = validator_for(settings, kb).run([to_raw(s.library, s.id, s.content) for s in states], strict_refs=False)
        warnings = list(outcome.warnings) + [str(r) for r in outcome.rejections]
        documents = outcome.documents
        if not documents:
            raise IngestFailed(f"知识库“{kb}”的记录库中没有可索引的在用记录，原索引保持不变")
        by_id = {s.id: s for s in states}
        chunks = _with_sources(documents, by_id)
        rows, texts = _vector_rows(chunks)
        tick = (lambda n: progress("embed", n, len(texts))) if progress else None
        vectors, embedded = self._embed(texts, tick)
        known = _known_tokens(layout, previous_vid) if previous_vid else {}
        token_lists = self._tokens(known, chunks)
        vid = layout.new_version_id()
        client = chroma_client(settings)
        collection = VectorCollection.for_settings(client, collection_name(kb, vid), settings)
        entries = _doc_entries(documents, by_id)
        manifest = self._manifest(kb, vid, collection.name, generation, *_totals(entries.values()), len(entries))
        writer = VersionWriter(layout, vid)
        try:
            writer.write(chunks, rows, vectors, token_lists, manifest, collection, building=marker)
            _write_tokens(writer.path, chunks, token_lists, _dictionary_fingerprint(settings.corpus_dir))
            (writer.path / DOCUMENTS_FILE).write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
        except BaseException as exc:
            writer.discard()
            collection.drop()
            if isinstance(exc, Exception):
                raise IngestFailed(f"写入新索引失败（{type(exc).__name__}），原索引保持不变") from exc
            raise
        return vid, manifest, warnings, embedded

    def _manifest(self, kb: str, vid: str, collection: str, generation: int, counts: dict[str, int], vectors: int,
                  n_documents: int, **extra) -> dict:
        """The version's manifest; a full version's per-document table is in documents.json (it grows with the kb)."""
        return {
            "kb": kb,
            "version": vid,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "embedder": get_embedder(self.settings).fingerprint,
            "chunker_version": CHUNKER_VERSION,
            "chunk_context": self.settings.chunk_context,
            "collection": collection,
            "chroma": self.settings.chroma_url or "embedded",
            **extra,
            "counts": {lib: counts[lib] for lib in sorted(counts) if counts[lib]},
            "vectors": vectors,
            "n_documents": n_documents,
            "store_generation": generation,
        }

    def _embed(self, texts: list[str], tick=None) -> tuple[np.ndarray, int]:
        cache = EmbeddingCache(self.settings.embed_cache_path)
        try:
            return embed_with_cache(get_embedder(self.settings), cache, texts, progress=tick)
        finally:
            cache.close()

    def _go_live(self, kb: str, layout: IndexLayout, vid: str, manifest: dict, previous_vid: str | None,
                 warnings: list[str], embedded: int, started: float) -> PublishResult:
        """Gold check, fsync, switch CURRENT, drop old versions, audit. A refusal or failure keeps the old one."""
        client = chroma_client(self.settings)
        path = layout.version_dir(vid)
        try:
            gold = self._gold(kb, layout, vid, manifest, client, previous_vid)
            if gold is not None:
                manifest["gold"] = gold
                (path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
            (path / BUILDING).unlink(missing_ok=True)
            _fsync_tree(path)
            layout.activate(vid)
            _fsync_dir(layout.root)
            unpin(layout)  # a publish from the store supersedes an operator's rollback
        except BaseException as exc:
            _discard_version(layout, vid, manifest, client, self.settings)
            if isinstance(exc, GuardRefused):
                raise
            if isinstance(exc, Exception):
                raise IngestFailed(f"写入新索引失败（{type(exc).__name__}），原索引保持不变") from exc
            raise
        if self.on_live is not None:  # outside the try: a failing hook must not discard the version now live
            self.on_live(kb)
        _remove_stale(layout, client, self.settings)
        chunks = sum(manifest["counts"].values())
        details = {"version": vid, "generation": manifest["store_generation"], "chunks": chunks, "embedded": embedded}
        if manifest.get("base"):
            details["delta"] = {"base": manifest["base"], "chunks": manifest["delta_chunks"],
                                "hidden": len(manifest.get("hidden", []))}
        if "gold" in manifest:
            details["gold"] = {k: v for k, v in manifest["gold"].items() if k != "per_query"}
        self.store.audit_event("system", "publish", kb, reason=f"索引版本 {vid}", details=details)
        return PublishResult(kb, vid, manifest["store_generation"], chunks, int(manifest["vectors"]), embedded,
                             time.perf_counter() - started, warnings, manifest.get("gold"))

    # ---- deltas ----------------------------------------------------------------------------------
    def _delta_plan(self, kb: str, layout: IndexLayout, live_vid: str) -> _DeltaPlan | None:
        """Which records differ from the live full version; None when a delta cannot or should not be written."""
        live = read_manifest(layout, live_vid)
        base_vid = live.get("base") or live_vid
        base = live if base_vid == live_vid else read_manifest(layout, base_vid)
        docs = base_documents(layout, base_vid)
        if not (layout.version_dir(base_vid) / STATS_FILE).exists() or not docs or "store_hash" not in next(iter(docs.values())):
            return None
        if any(m.get("chunker_version") != CHUNKER_VERSION or m.get("chunk_context", True) != self.settings.chunk_context
               for m in (live, base)):
            return None  # chunks built another way: rebuild in full
        active = self.store.active_hashes(kb)
        changed = sorted(rid for rid, digest in active.items() if docs.get(rid, {}).get("store_hash") != digest)
        hidden = {rid for rid in docs if rid not in active or rid in changed}
        if len(changed) > max(DELTA_HARD_CHUNKS // 4, DELTA_HARD_SHARE * len(docs)):
            return None
        return _DeltaPlan(base_vid, base, changed, hidden, docs)

    def _publish_delta(self, kb: str, layout: IndexLayout, plan: _DeltaPlan, previous_vid: str,
                       started: float) -> PublishResult | None:
        settings = self.settings
        generation = self.store.generation(kb)
        states = self.store.get_many(kb, plan.changed)
        outcome = validator_for(settings, kb).run([to_raw(s.library, s.id, s.content) for s in states], strict_refs=False)
        warnings = [str(r) for r in outcome.rejections]  # broken references were reported when the record was written
        by_id = {s.id: s for s in states}
        chunks = _with_sources(outcome.documents, by_id)
        base_chunks = sum(plan.base_manifest["counts"].values())
        if len(chunks) > max(DELTA_HARD_CHUNKS, DELTA_HARD_SHARE * base_chunks):
            return None
        rows, texts = _vector_rows(chunks)
        vectors, embedded = self._embed(texts)
        live = read_manifest(layout, previous_vid)
        known = _read_tokens(layout.version_dir(previous_vid)) if live.get("base") == plan.base_vid else {}
        token_lists = self._tokens(known, chunks)
        hidden_tokens = self._hidden_tokens(layout, plan, live, previous_vid)
        entries = _doc_entries(outcome.documents, by_id)
        counts = dict(plan.base_manifest["counts"])
        vectors_total = int(plan.base_manifest["vectors"])
        for rid in plan.hidden:
            gone = plan.base_docs[rid]
            counts[gone["library"]] = counts.get(gone["library"], 0) - gone["chunks"]
            vectors_total -= gone["vectors"]
        own_counts, own_vectors = _totals(entries.values())
        for lib, n in own_counts.items():
            counts[lib] = counts.get(lib, 0) + n
        vid = layout.new_version_id()
        manifest = self._manifest(kb, vid, plan.base_manifest["collection"], generation, counts, vectors_total + own_vectors,
                                  len(plan.base_docs) - len(plan.hidden) + len(entries), base=plan.base_vid,
                                  hidden=sorted(plan.hidden), delta_chunks=len(chunks), documents=entries)
        writer = VersionWriter(layout, vid)
        salt = _dictionary_fingerprint(settings.corpus_dir)
        tokens_text = "".join(_token_line(salt, c, t) for c, t in zip(chunks, token_lists))
        try:
            writer.write_delta(chunks, rows, vectors, manifest,
                               {TOKENS_FILE: tokens_text, HIDDEN_FILE: json.dumps(hidden_tokens, ensure_ascii=False)})
        except BaseException as exc:
            writer.discard()
            if isinstance(exc, Exception):
                raise IngestFailed(f"写入增量索引失败（{type(exc).__name__}），原索引保持不变") from exc
            raise
        return self._go_live(kb, layout, vid, manifest, previous_vid, warnings, embedded, started)

    def _hidden_tokens(self, layout: IndexLayout, plan: _DeltaPlan, live: dict, live_vid: str) -> dict[str, list[list[str]]]:
        """Tokens of the base chunks the delta hides, reused from the live delta when it has the same base."""
        known = read_hidden_tokens(layout.version_dir(live_vid)) if live.get("base") == plan.base_vid else {}
        out = {rid: known[rid] for rid in plan.hidden if rid in known}
        missing = plan.hidden - set(out)
        if missing:
            base = full_segment(layout, plan.base_vid, chroma_client(self.settings), self.settings.hnsw_search_ef,
                                plan.base_manifest)
            tokenizer = get_tokenizer(self.settings.corpus_dir, self.settings.data_dir / "cache")
            for c in base.chunks:
                if c.doc_id in missing:
                    out.setdefault(c.doc_id, []).append(tokenizer.tokens(c.bm25_text))
        return dict(sorted(out.items()))

    # ---- compaction ------------------------------------------------------------------------------
    def _maybe_compact(self, kb: str, result: PublishResult) -> None:
        if not self.background:
            return
        layout = IndexLayout(self.settings.data_dir, kb)
        try:
            manifest = read_manifest(layout, result.version)
        except (OSError, ValueError):
            return
        if not manifest.get("base"):
            return
        if manifest["delta_chunks"] <= max(DELTA_SOFT_CHUNKS, DELTA_SOFT_SHARE * sum(manifest["counts"].values())):
            return
        threading.Thread(target=self.compact, args=(kb,), name=f"compact-{kb}", daemon=True).start()

    def compact(self, kb: str) -> PublishResult | None:
        """Fold the live delta into a new full version without blocking writers meanwhile.

        The full version is built outside the write lock (at 100k chunks that takes minutes);
        under the lock it goes live, or, when writes landed in the meantime, a delta on top
        of it does. Returns None when another compaction of this kb is already running.
        """
        with self._compact_lock:
            if kb in self._compacting:
                return None
            self._compacting.add(kb)
        try:
            started = time.perf_counter()
            layout = IndexLayout(self.settings.data_dir, kb)
            live_vid = layout.current()
            if live_vid is None or not read_manifest(layout, live_vid).get("base"):
                return None
            vid, manifest, warnings, embedded = self._build_full(kb, layout, live_vid, None, marker=True)
            if self.after_full_build is not None:
                self.after_full_build(kb)
            try:
                with kb_write_lock(layout):
                    previous = layout.current()
                    plan = self._delta_plan(kb, layout, vid)
                    if plan is None:  # the store moved on too far meanwhile: fold everything now
                        _discard_version(layout, vid, manifest, chroma_client(self.settings), self.settings)
                        return self._reindex_locked(kb, layout, False, None, full=True)
                    if not plan.changed and not plan.hidden:
                        return self._go_live(kb, layout, vid, manifest, previous, warnings, embedded, started)
                    # writes landed while the full version was built: it goes live only as the base of a delta
                    (layout.version_dir(vid) / BUILDING).unlink(missing_ok=True)
                    _fsync_tree(layout.version_dir(vid))
                    result = self._publish_delta(kb, layout, plan, previous, started)
                    if result is None:
                        _discard_version(layout, vid, manifest, chroma_client(self.settings), self.settings)
                        return self._reindex_locked(kb, layout, False, None, full=True)
            except BaseException:
                if layout.current() != vid and not _is_base_of_live(layout, vid):
                    _discard_version(layout, vid, manifest, chroma_client(self.settings), self.settings)
                raise
            return result
        except Exception:  # noqa: BLE001 - a failed compaction leaves the delta live; the next one retries
            log.exception("compaction of %s failed", kb)
            return None
        finally:
            with self._compact_lock:
                self._compacting.discard(kb)

    def _gold(self, kb: str, layout: IndexLayout, vid: str, manifest: dict, client, previous_vid: str | None) -> dict | None:
        """Measure the new version on the kb's gold set before it goes live; refuse it when the guard says so."""
        items = load_gold(self.settings.corpus_dir / kb / "gold.jsonl")
        if not items:
            return None
        from kb.search import Searcher

        settings = self.settings
        index = load_index(layout, vid, manifest, client, settings.hnsw_search_ef, settings.today)
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
            fh.write(_token_line(salt, chunk, toks))


def _token_line(salt: str, chunk: Chunk, toks: list[str]) -> str:
    return json.dumps([_text_key(salt + chunk.bm25_text), toks], ensure_ascii=False) + "\n"


def _read_tokens(path: Path) -> dict[str, list[str]]:
    try:
        with open(path / TOKENS_FILE, encoding="utf-8") as fh:
            return {key: toks for key, toks in (json.loads(line) for line in fh)}
    except (OSError, ValueError):
        return {}


REFUSED_FILE = "REFUSED"


def record_refusal(layout: IndexLayout, generation: int, message: str) -> None:
    """What a service's store sync refused, for the CLI process waiting on it."""
    layout.root.mkdir(parents=True, exist_ok=True)
    (layout.root / REFUSED_FILE).write_text(json.dumps({"generation": generation, "message": message}, ensure_ascii=False),
                                            encoding="utf-8")


def read_refusal(layout: IndexLayout) -> dict | None:
    try:
        return json.loads((layout.root / REFUSED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


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


def _with_sources(documents: list[Document], states: dict) -> list[Chunk]:
    """The documents' chunks, each citing where its record came from (file, or 记录 <id> for an edit)."""
    chunks = []
    for d in documents:
        state = states.get(d.doc_id)
        source = (state.source_path if state is not None else "") or f"记录 {d.doc_id}"
        for c in d.chunks:
            c.source = source
            chunks.append(c)
    return chunks


def _doc_entries(documents: list[Document], states: dict) -> dict[str, dict]:
    """Per document in a manifest: what a later delta compares (the store's hash) and what it must subtract."""
    out = {}
    for d in documents:
        state = states.get(d.doc_id)
        out[d.doc_id] = {"hash": d.content_hash, "store_hash": state.content_hash if state is not None else "",
                         "library": d.library, "source": d.chunks[0].source if d.chunks else "",
                         "chunks": len(d.chunks), "vectors": sum(len(dict.fromkeys(c.embed_texts)) for c in d.chunks)}
    return out


def _totals(entries) -> tuple[dict[str, int], int]:
    counts: dict[str, int] = {}
    vectors = 0
    for d in entries:
        counts[d["library"]] = counts.get(d["library"], 0) + d["chunks"]
        vectors += d["vectors"]
    return counts, vectors


DOCUMENTS_FILE = "documents.json"
_documents_cache: LoadCache[dict[str, dict]] = LoadCache(8)


def base_documents(layout: IndexLayout, vid: str) -> dict[str, dict]:
    """A full version's per-document table (store hash, library, chunk and vector counts), read once per process."""
    path = layout.version_dir(vid) / DOCUMENTS_FILE

    def load() -> dict[str, dict]:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return read_manifest(layout, vid).get("documents", {})  # versions written before documents.json

    return _documents_cache.get(str(path), load)


def _known_tokens(layout: IndexLayout, vid: str) -> dict[str, list[str]]:
    """Tokens of a version's chunks, and of its base's when it is a delta."""
    known = _read_tokens(layout.version_dir(vid))
    try:
        base = read_manifest(layout, vid).get("base")
    except (OSError, ValueError):
        base = None
    if base:
        known = {**_read_tokens(layout.version_dir(base)), **known}
    return known


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


def _bases_in_use(layout: IndexLayout, keep: set[str]) -> set[str]:
    out = set()
    for vid in keep:
        try:
            base = read_manifest(layout, vid).get("base")
        except (OSError, ValueError):
            continue
        if base:
            out.add(base)
    return out


def _is_base_of_live(layout: IndexLayout, vid: str) -> bool:
    live = layout.current()
    return bool(live) and vid in _bases_in_use(layout, {live})


def _discard_version(layout: IndexLayout, vid: str, manifest: dict, client, settings: Settings) -> None:
    """Remove a version that never went live; a delta shares its base's collection, which stays."""
    if not manifest.get("base"):
        VectorCollection(client, collection_name(layout.kb, vid), settings.hnsw_search_ef).drop()
    forget_version(layout, vid)
    shutil.rmtree(layout.version_dir(vid), ignore_errors=True)


def _remove_stale(layout: IndexLayout, client, settings: Settings) -> None:
    """Drop versions beyond the newest few, except the live one, the bases they use and builds in progress."""
    stale = layout.stale_versions()
    if not stale:
        return
    keep = {p.name for p in layout.versions.iterdir() if p.is_dir()} - set(stale)
    protected = _bases_in_use(layout, keep)
    for vid in stale:
        path = layout.version_dir(vid)
        if vid in protected or (path / BUILDING).exists() and time.time() - (path / BUILDING).stat().st_mtime < 6 * 3600:
            continue
        try:
            manifest = read_manifest(layout, vid)
        except (OSError, ValueError):
            manifest = {}
        _discard_version(layout, vid, manifest, client, settings)
