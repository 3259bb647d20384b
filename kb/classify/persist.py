"""The ticket model in a compact form: numpy arrays only, loadable without scikit-learn or SciPy.

Serving answers a ticket with three linear steps: TF-IDF features (counts → sublinear tf → idf →
l2 per block), a dot product with the logistic regression's coefficients, and a cosine with the
training tickets for the nearest neighbours. Importing scikit-learn and SciPy and unpickling the
joblib file cost ~4 CPU-s at start-up, more than the rest of the first reply; these arrays load in
well under a second. ``export`` writes them beside the joblib file only when they reproduce the
fitted model's probabilities (allclose 1e-9) on the training texts, so a model this module cannot
express (a new feature kind) is simply served from joblib as before.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 1
SUFFIX = ".compact.npz"
TOLERANCE = 1e-9
_WHITE_SPACES = re.compile(r"\s\s+")  # scikit-learn's own whitespace rule for char n-grams


def lazy(module: str, name: str) -> Any:
    """A stand-in for ``module.name`` that imports the module at its first call: training calls it,
    serving (the compact model) never does, so a request never waits for scikit-learn's import."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = name
    return call


def softmax(x: np.ndarray, axis: int = 1) -> np.ndarray:
    """scipy.special.softmax's own arithmetic (max shift, exp, sum), so results are bit-identical."""
    x = np.asarray(x)
    shifted = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return shifted / np.sum(shifted, axis=axis, keepdims=True)


@dataclass
class Block:
    """One TF-IDF vectorizer of the feature union: its analyzer, vocabulary and idf."""

    kind: str  # "char" (n-grams of the lower-cased text) or "word" (a callable analyzer)
    ngram: tuple[int, int]
    lowercase: bool
    vocabulary: dict[str, int]
    idf: np.ndarray
    analyzer: Any = None

    def terms(self, text: str) -> list[str]:
        if self.kind == "word":
            return self.analyzer(text)
        if self.lowercase:
            text = text.lower()
        text = _WHITE_SPACES.sub(" ", text)
        low, high = self.ngram
        return [text[i:i + n] for n in range(low, min(high, len(text)) + 1) for i in range(len(text) - n + 1)]

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(column indices sorted, l2-normalised sublinear tf-idf values) of one text."""
        counts: dict[int, int] = {}
        for term in self.terms(text):
            j = self.vocabulary.get(term)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        idx = np.fromiter(sorted(counts), dtype=np.int64, count=len(counts))
        values = np.log(np.array([counts[j] for j in idx.tolist()], dtype=np.float64)) + 1.0
        values *= self.idf[idx]
        norm = np.sqrt(np.sum(values * values))
        return idx, (values / norm if norm > 0 else values)


class Rows:
    """Sparse feature rows as (indices, values) pairs: what ``TicketModel.features`` returns here."""

    def __init__(self, rows: list[tuple[np.ndarray, np.ndarray]], width: int) -> None:
        self.rows = rows
        self.width = width

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> Rows:
        return Rows([self.rows[i]], self.width)

    @property
    def T(self) -> Rows:  # noqa: N802 - scipy's spelling, used by TicketModel.neighbours
        return self

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows), self.width


class Union:
    """The feature union: blocks side by side, each normalised on its own (as FeatureUnion does)."""

    def __init__(self, blocks: list[Block]) -> None:
        self.blocks = blocks
        self.offsets = np.cumsum([0] + [len(b.idf) for b in blocks])

    def transform(self, texts: list[str]) -> Rows:
        rows = []
        for text in texts:
            parts = [block.row(text) for block in self.blocks]
            rows.append((np.concatenate([idx + off for (idx, _), off in zip(parts, self.offsets, strict=False)]),
                         np.concatenate([values for _, values in parts])))
        return Rows(rows, int(self.offsets[-1]))


class Linear:
    """A fitted linear classifier's decision function and prediction, coefficients stored transposed
    (feature × class) so a sparse row reads only its own features' rows."""

    def __init__(self, coef_t: np.ndarray, intercept: np.ndarray, classes: list[str]) -> None:
        self.coef_t = coef_t
        self.intercept = intercept
        self.classes_ = np.array(classes)

    def decision_function(self, matrix: Rows) -> np.ndarray:
        return np.stack([values @ self.coef_t[idx] for idx, values in matrix.rows]) + self.intercept

    def predict(self, matrix: Rows) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(matrix), axis=1)]


class Dense:
    """A dense result with scipy's ``toarray`` (what ``TicketModel.neighbours`` calls)."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def toarray(self) -> np.ndarray:
        return self.values


class TrainMatrix:
    """The training tickets' features (CSR arrays), for cosines with one query row."""

    def __init__(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, width: int) -> None:
        self.data, self.indices, self.indptr, self.width = data, indices, indptr, width
        self.row_of = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.indptr) - 1, self.width

    def __matmul__(self, other: Rows) -> Dense:
        (idx, values), = other.rows
        query = np.zeros(self.width)
        query[idx] = values
        sims = np.bincount(self.row_of, weights=self.data * query[self.indices], minlength=self.shape[0])
        return Dense(sims.reshape(-1, 1))


class Departments:
    """The department router (kb/classify/departments.py) over the compact linear model."""

    def __init__(self, clf: Linear) -> None:
        self.clf = clf

    @property
    def departments(self) -> list[str]:
        return list(self.clf.classes_)

    def route(self, matrix: Rows) -> list[str]:
        return [str(d) for d in self.clf.predict(matrix)]


def share_tokenizer(model, corpus_dir: Path, cache_dir: Path) -> bool:
    """Point the model's word analyzer at the serving tokenizer when their dictionaries are the same
    files' contents: the tokens are then identical, and the process keeps one jieba (≈1.5 CPU-s and
    tens of MB each) instead of a second one for a model trained in another folder. True if moved."""
    from kb.classify.model import WordAnalyzer

    moved = False
    for analyzer in _word_analyzers(model):
        if not isinstance(analyzer, WordAnalyzer) or (analyzer.corpus_dir, analyzer.cache_dir) == (Path(corpus_dir), Path(cache_dir)):
            continue
        if all(_read(analyzer.corpus_dir / name) == _read(Path(corpus_dir) / name)
               for name in ("userdict.txt", "stopwords.txt")):
            analyzer.corpus_dir, analyzer.cache_dir = Path(corpus_dir), Path(cache_dir)
            moved = True
    return moved


def _word_analyzers(model) -> list[Any]:
    vectorizer = model.vectorizer
    if isinstance(vectorizer, Union):
        return [b.analyzer for b in vectorizer.blocks if b.kind == "word"]
    return [vec.analyzer for _, vec in getattr(vectorizer, "transformer_list", []) if callable(vec.analyzer)]


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


def _plain(value: Any) -> Any:
    """numpy scalars and arrays in the metrics, as JSON."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(f"无法写入紧凑模型的元数据：{type(value).__name__}")


def compact_path(joblib_path: Path) -> Path:
    return joblib_path.with_name(joblib_path.name.removesuffix(".joblib") + SUFFIX)


def _blocks_of(model) -> list[tuple[str, Any]] | None:
    """The vectorizer's blocks when every one is a TF-IDF this module reproduces, else None."""
    from kb.classify.model import WordAnalyzer

    parts = getattr(model.vectorizer, "transformer_list", None)
    if parts is None or getattr(model.vectorizer, "transformer_weights", None) or model.partners:
        return None
    out = []
    for _, vec in parts:
        plain = (type(vec).__name__ == "TfidfVectorizer" and vec.sublinear_tf and vec.use_idf and vec.norm == "l2"
                 and not vec.binary and vec.preprocessor is None and vec.strip_accents is None
                 and vec.stop_words is None and vec.input == "content" and vec.dtype in (np.float64, float))
        if plain and vec.analyzer == "char":
            out.append(("char", vec))
        elif plain and isinstance(vec.analyzer, WordAnalyzer):
            out.append(("word", vec))
        else:
            return None
    return out


def _arrays(model, blocks: list[tuple[str, Any]]) -> tuple[dict[str, np.ndarray], dict]:
    meta: dict = {"format": FORMAT, "version": model.version, "data_hash": model.data_hash,
                  "labels": [str(x) for x in model.labels], "temperature": model.temperature,
                  "review_threshold": model.review_threshold, "train_ids": model.train_ids,
                  "train_texts": model.train_texts, "train_labels": model.train_labels, "metrics": model.metrics,
                  "pooling": {"alpha": model.pooling.alpha, "min_chars": model.pooling.min_chars,
                              "ask_weight": getattr(model.pooling, "ask_weight", 1.0)}, "blocks": []}
    arrays: dict[str, np.ndarray] = {}
    for i, (kind, vec) in enumerate(blocks):
        vocab = sorted(vec.vocabulary_.items(), key=lambda kv: kv[1])
        arrays[f"terms{i}"] = np.array([term for term, _ in vocab])
        arrays[f"idf{i}"] = np.asarray(vec.idf_, dtype=np.float64)
        block = {"kind": kind, "ngram": list(vec.ngram_range), "lowercase": bool(vec.lowercase)}
        if kind == "word":
            block["corpus_dir"], block["cache_dir"] = str(vec.analyzer.corpus_dir), str(vec.analyzer.cache_dir)
        meta["blocks"].append(block)
    arrays["coef_t"] = np.ascontiguousarray(model.clf.coef_.T, dtype=np.float64)
    arrays["intercept"] = np.asarray(model.clf.intercept_, dtype=np.float64)
    train = model.train_matrix.tocsr()
    arrays["train_data"], arrays["train_indices"], arrays["train_indptr"] = train.data, train.indices, train.indptr
    if model.department_model is not None:
        dept = model.department_model.clf
        arrays["dept_coef_t"] = np.ascontiguousarray(dept.coef_.T, dtype=np.float64)
        arrays["dept_intercept"] = np.asarray(dept.intercept_, dtype=np.float64)
        meta["departments"] = [str(x) for x in dept.classes_]
    return arrays, meta


def export(model, joblib_path: Path) -> Path | None:
    """Write the compact file beside ``joblib_path`` if it reproduces ``model``; None (and no file) if not."""
    target = compact_path(joblib_path)
    target.unlink(missing_ok=True)
    blocks = _blocks_of(model)
    if blocks is None:
        return None
    arrays, meta = _arrays(model, blocks)
    tmp = target.with_name(target.name + ".tmp")
    with tmp.open("wb") as fh:
        np.savez(fh, meta=np.array(json.dumps(meta, ensure_ascii=False, default=_plain)), **arrays)
    compact = load(tmp, model.version)
    if not agrees(model, compact, model.train_texts[:200]):
        tmp.unlink()
        return None
    tmp.replace(target)
    return target


def agrees(model, compact, texts: list[str]) -> bool:
    """Same probabilities (allclose 1e-9) and the same routed departments on ``texts``."""
    if not texts:
        return True
    theirs, mine = model.proba(texts)[0], compact.proba(texts)[0]
    if theirs.shape != mine.shape or not np.allclose(theirs, mine, rtol=0, atol=TOLERANCE):
        return False
    if model.department_model is None:
        return compact.department_model is None
    return model.department_model.route(model.features(texts)) == compact.department_model.route(compact.features(texts))


def load(path: Path, version: str | None = None):
    """The TicketModel held in ``path``; its vectorizer, classifiers and training matrix are numpy stand-ins."""
    from kb.classify.model import TicketModel, WordAnalyzer
    from kb.classify.pooling import PoolingParams

    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        if meta.get("format") != FORMAT or (version is not None and meta["version"] != version):
            raise ValueError(f"紧凑分类模型 {path.name} 的格式或版本不符")
        blocks = []
        for i, spec in enumerate(meta["blocks"]):
            terms = data[f"terms{i}"].tolist()
            analyzer = WordAnalyzer(Path(spec["corpus_dir"]), Path(spec["cache_dir"])) if spec["kind"] == "word" else None
            blocks.append(Block(spec["kind"], tuple(spec["ngram"]), spec["lowercase"],
                                dict(zip(terms, range(len(terms)), strict=True)), data[f"idf{i}"], analyzer))
        union = Union(blocks)
        width = int(union.offsets[-1])
        clf = Linear(data["coef_t"], data["intercept"], meta["labels"])
        train = TrainMatrix(data["train_data"], data["train_indices"], data["train_indptr"], width)
        departments = (Departments(Linear(data["dept_coef_t"], data["dept_intercept"], meta["departments"]))
                       if "departments" in meta else None)
    return TicketModel(meta["version"], meta["data_hash"], meta["labels"], union, clf,  # type: ignore[arg-type]
                       temperature=meta["temperature"], review_threshold=meta["review_threshold"],
                       train_ids=meta["train_ids"], train_texts=meta["train_texts"],
                       train_labels=meta["train_labels"], train_matrix=train, metrics=meta["metrics"],
                       pooling=PoolingParams(**meta["pooling"]), department_model=departments)  # type: ignore[arg-type]
