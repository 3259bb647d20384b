"""The ticket model: character n-gram and jieba-word TF-IDF with a multinomial
logistic regression over fine labels (industry:subtopic / none:department),
temperature-calibrated.

Labelled tickets are few (about eight per subtopic), so the knowledge base itself
is training data too: the standard answers' questions and variants, the problem
list and the duty keywords, at a lower weight. Character n-grams survive typos,
dialect and masking tags; words carry the domain dictionary. The model answers a
ticket in about a millisecond, inside the 30 ms budget that rules out a neural
encoder on two cores.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kb.classify.persist import lazy, softmax
from kb.classify.pooling import PoolingParams, pool, sentence_plan
from kb.classify.tickets import Ticket, data_hash, split_label
from kb.privacy import TAGS, mask
from kb.textnorm import normalize

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion

    from kb.classify.departments import DepartmentModel

# Imported at first use (training), not with this module: serving loads the compact model
# (kb/classify/persist.py) and never pays scikit-learn's and SciPy's ~3 CPU-s of imports.
TfidfVectorizer = lazy("sklearn.feature_extraction.text", "TfidfVectorizer")
FeatureUnion = lazy("sklearn.pipeline", "FeatureUnion")  # type: ignore[misc]  # noqa: F811
LogisticRegression = lazy("sklearn.linear_model", "LogisticRegression")  # type: ignore[misc]  # noqa: F811
minimize_scalar = lazy("scipy.optimize", "minimize_scalar")
log_softmax = lazy("scipy.special", "log_softmax")

FORMAT_VERSION = 1
_BOILERPLATE = re.compile(r"^(市民|来电人|来电市民|来电者)?(来电)?(反映|咨询|称|表示|求助|投诉|询问)[:：，,]?")


class WordAnalyzer:
    """jieba search-mode tokens with the domain dictionary; pickles as paths, not as a tokenizer."""

    def __init__(self, corpus_dir: Path, cache_dir: Path) -> None:
        self.corpus_dir = Path(corpus_dir)
        self.cache_dir = Path(cache_dir)

    def __call__(self, text: str) -> list[str]:
        from kb.tokenize import get_tokenizer

        return get_tokenizer(self.corpus_dir, self.cache_dir).tokens(text)


_MASK_TAGS = re.compile("|".join(re.escape(t) for t in TAGS.values()))


def prepare(text: str) -> str:
    """What the model sees: personal data removed (masked, then the tags dropped, since a caller's
    phone number says nothing about the topic), normalised characters, no opening boilerplate."""
    # Names stay out of this masking: the model was trained and measured on these features, and a
    # surname says as little about the topic as 某 does.
    return _BOILERPLATE.sub("", normalize(_MASK_TAGS.sub("", mask(text, names=False))))


def _fit_temperature(logits: np.ndarray, classes: list[str], gold_labels: list[str]) -> float:
    index = {label: i for i, label in enumerate(classes)}
    gold = np.array([index[g] for g in gold_labels])

    def nll(temp: float) -> float:
        return float(-log_softmax(logits / temp, axis=1)[np.arange(len(gold)), gold].mean())

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)


def _extra_hash(extra: list[tuple[str, str]]) -> str:
    import hashlib

    h = hashlib.sha256()
    for text, label in extra:
        h.update(f"{label}\t{text}\n".encode())
    return h.hexdigest()[:8]


@dataclass
class TicketModel:
    version: str
    data_hash: str
    labels: list[str]
    vectorizer: FeatureUnion
    clf: LogisticRegression
    temperature: float = 1.0
    review_threshold: float = 0.8
    train_ids: list[str] = field(default_factory=list)
    train_texts: list[str] = field(default_factory=list)
    train_labels: list[str] = field(default_factory=list)
    train_matrix: object = None
    metrics: dict = field(default_factory=dict)
    partners: list[TicketModel] = field(default_factory=list)
    pooling: PoolingParams = field(default_factory=PoolingParams)
    department_model: DepartmentModel | None = None

    @classmethod
    def fit(
        cls,
        tickets: list[Ticket],
        analyzer: WordAnalyzer | None,
        extra: list[tuple[str, str]] = (),  # type: ignore[assignment]
        extra_weight: float = 0.3,
        c: float = 5.0,
    ) -> TicketModel:
        """Fit on labelled tickets plus knowledge-base texts (answers, problems, duties) at a lower weight."""
        texts = [prepare(t.text) for t in tickets]
        labels = [t.label for t in tickets]
        all_texts = texts + [prepare(x) for x, _ in extra]
        all_labels = labels + [label for _, label in extra]
        weights = np.array([1.0] * len(texts) + [extra_weight] * len(extra))
        parts = [("char", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True))]
        if analyzer is not None:
            parts.append(("word", TfidfVectorizer(analyzer=analyzer, sublinear_tf=True)))
        vectorizer = FeatureUnion(parts)
        matrix = vectorizer.fit_transform(all_texts)
        clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
        clf.fit(matrix, all_labels, sample_weight=weights)
        matrix = matrix[: len(texts)]
        digest = data_hash(tickets) + "-" + _extra_hash(extra)
        version = time.strftime("clf-%Y%m%d%H%M%S", time.gmtime()) + f"-{digest[:8]}"
        return cls(version, digest, list(clf.classes_), vectorizer, clf, train_ids=[t.id for t in tickets],
                   train_texts=texts, train_labels=labels, train_matrix=matrix)

    def features(self, texts: list[str]):
        return self.vectorizer.transform([prepare(t) for t in texts])

    def proba(self, texts: list[str]) -> tuple[np.ndarray, object]:
        """Calibrated probabilities over ``labels`` (averaged with any partner models), and own features."""
        matrix = self.features(texts)
        proba = softmax(self.clf.decision_function(matrix) / self.temperature, axis=1)
        for other in self.partners:
            theirs, _ = other.proba(texts)
            proba = proba + theirs[:, [other.labels.index(label) for label in self.labels]]
        return proba / (1 + len(self.partners)), matrix

    def pooled_proba(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, object]:
        """Probabilities with long letters pooled over their sentences (kb/classify/pooling.py), the
        whole-text probabilities, and own features of the whole texts."""
        whole, matrix = self.proba(texts)
        params = getattr(self, "pooling", PoolingParams())  # models saved before pooling existed
        plan = sentence_plan(texts, params)
        flat = [s for parts in plan for s in parts]
        if not flat:
            return whole, whole, matrix
        per_sentence, _ = self.proba(flat)
        return pool(whole, plan, per_sentence, params.alpha, getattr(params, "ask_weight", 1.0)), whole, matrix

    def with_partner(self, other: TicketModel) -> TicketModel:
        """An ensemble of this model and ``other`` (each calibrated on its own); neighbours come from this one."""
        import copy

        combined = copy.copy(self)
        combined.partners = [*self.partners, other]
        return combined

    def industry_proba(self, proba: np.ndarray) -> dict[str, np.ndarray]:
        """P(industry) as the sum of its fine labels' probabilities.

        A separate three-way industry model scored higher on dev (0.99 vs 0.975) but
        kept 87% of real out-of-domain messages as civil affairs (this sum: 25%), so
        the sum is used: a model that fails closed on unfamiliar text is the safer one.
        """
        out: dict[str, np.ndarray] = {}
        for j, label in enumerate(self.labels):
            industry, _ = split_label(label)
            out[industry] = out.get(industry, 0) + proba[:, j]
        return out

    def calibrate(self, tickets: list[Ticket]) -> float:
        """Temperature that minimises negative log-likelihood on held-out (dev) tickets."""
        matrix = self.features([t.text for t in tickets])
        self.temperature = _fit_temperature(self.clf.decision_function(matrix), list(self.clf.classes_),
                                            [t.label for t in tickets])
        return self.temperature

    def neighbours(self, matrix_row, k: int = 3) -> list[tuple[str, str, str, float]]:
        """(id, prepared text, label, cosine) of the nearest training tickets."""
        sims = (self.train_matrix @ matrix_row.T).toarray().ravel()
        top = np.argsort(-sims)[:k]
        return [(self.train_ids[i], self.train_texts[i], self.train_labels[i], float(sims[i])) for i in top]

    def save(self, folder: Path) -> Path:
        """The joblib file (the whole fitted model, for training and analysis) and, when it reproduces
        this model, the compact file that serving loads (kb/classify/persist.py)."""
        import joblib

        from kb.classify.persist import export

        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.version}.joblib"
        tmp = path.with_suffix(".tmp")
        joblib.dump({"format": FORMAT_VERSION, "model": self}, tmp)
        tmp.replace(path)
        export(self, path)
        current = folder / "CURRENT.tmp"
        current.write_text(path.name, encoding="utf-8")
        current.replace(folder / "CURRENT")
        return path

    @classmethod
    def load(cls, folder: Path, compact: bool = True) -> TicketModel:
        """The current model: from its compact file when there is one and ``compact`` (serving; no
        scikit-learn import), else the full fitted model from joblib."""
        from kb.classify.persist import compact_path
        from kb.classify.persist import load as load_compact

        name = (folder / "CURRENT").read_text(encoding="utf-8").strip()
        if compact and (small := compact_path(folder / name)).exists():
            return load_compact(small, name.removesuffix(".joblib"))
        import joblib

        payload = joblib.load(folder / name)
        if payload.get("format") != FORMAT_VERSION:
            raise ValueError(f"分类模型格式版本 {payload.get('format')} 与当前程序不符，请重新执行 kb train-classifier")
        return payload["model"]
