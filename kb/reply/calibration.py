"""The probability that a standard answer is the right one to read out, learnt on the dev questions.

Hand-set gates (cosine ≥ 0.92, word coverage ≥ 0.4) refused a quarter of answerable questions asked in
callers' own words and gave a correct exact match a confidence of 0.33. Instead, a logistic regression over
the same signals — how close the question is to the answer's questions, how far ahead of the next answer,
how many of the caller's words it shares, whether lexical and semantic search agree, whether the question
belongs to this kb — gives P(right); a reply is read out when P reaches a threshold chosen on dev, and
``confidence`` is that P. The fitted coefficients live in ``corpus/reply_calibration.json`` (refit with
``kb calibrate reply`` on the client's own dev questions); without the file the hand gates apply.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

FEATURES = ("cosine", "behind_top", "lead", "coverage", "in_scope", "first", "bm25_top3", "dense_top3", "both_top")


def feature_vector(cosine: float, top_cosine: float, second_cosine: float, coverage: float, in_scope: float | None,
                   rank: int, dense_rank: int | None, bm25_rank: int | None) -> list[float]:
    """Signals of one candidate answer (rank 0 = the search's best); order as in FEATURES."""
    lead = top_cosine - second_cosine if rank == 0 else cosine - top_cosine
    return [cosine, top_cosine - cosine, lead, coverage, 1.0 if in_scope is None else in_scope, float(rank == 0),
            float(bm25_rank is not None and bm25_rank <= 3), float(dense_rank is not None and dense_rank <= 3),
            float(dense_rank == 1 and bm25_rank == 1)]


@dataclass
class Calibration:
    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    threshold: float
    trained_on: dict
    # P(right) of a directory reply by the evidence for its office (kb/reply/directory.py directory_evidence),
    # the smoothed share right on the same dev questions.
    directory: dict[str, float] = field(default_factory=dict)

    def probability(self, x: list[float]) -> float:
        z = self.intercept + sum(c * (v - m) / s for c, v, m, s in zip(self.coef, x, self.mean, self.scale))
        return 1.0 / (1.0 + math.exp(-z))

    @classmethod
    def load(cls, path: Path) -> Calibration | None:
        """The fitted model, or None when the file is absent; a damaged file is an error, not a silent fallback."""
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            cal = cls(**data)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}: 答复可靠度模型文件损坏（{exc}），请重新运行 kb calibrate reply") from exc
        if tuple(cal.features) != FEATURES:
            raise ValueError(f"{path}: 答复可靠度模型的特征 {cal.features} 与本版本 {list(FEATURES)} 不一致，请重新运行 kb calibrate reply")
        return cal

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def fit(rows: list[list[float]], labels: list[int], threshold: float, trained_on: dict, c: float = 1.0) -> Calibration:
    """Standardised L2 logistic regression; the coefficients are stored so serving needs no scikit-learn."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(rows, dtype=float)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=1000).fit((x - mean) / scale, np.asarray(labels))
    return Calibration(list(FEATURES), [round(float(v), 6) for v in mean], [round(float(v), 6) for v in scale],
                       [round(float(v), 6) for v in model.coef_[0]], round(float(model.intercept_[0]), 6),
                       round(threshold, 4), trained_on)
