"""Which department an out-of-scope ticket goes to, by a model of its own.

The fine-label model spreads its capacity over ~60 civil-affairs and 残联 subtopics;
among its ``none:*`` labels it routed 0.90 of dev's out-of-scope tickets to the right
department. A logistic regression over the same features, trained only on the
out-of-scope tickets plus each department's duties and keywords (duty book, weight
1.0), routed 0.96 on dev, so the decision "in scope or not" stays with the fine-label
model and "which department" is asked of this one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from kb.classify.tickets import Ticket

EXTRA_WEIGHT = 1.0
C = 5.0


@dataclass
class DepartmentModel:
    clf: LogisticRegression

    @property
    def departments(self) -> list[str]:
        return list(self.clf.classes_)

    @classmethod
    def fit(cls, features, tickets: list[Ticket], extra: list[tuple[str, str]]) -> DepartmentModel:
        """``features`` maps texts to the classifier's feature rows; ``extra`` holds (text, "none:<dept>") pairs."""
        out = [t for t in tickets if t.industry == "none"]
        dept_extra = [(text, label.split(":", 1)[1]) for text, label in extra if label.startswith("none:")]
        texts = [t.text for t in out] + [text for text, _ in dept_extra]
        labels = [t.department for t in out] + [d for _, d in dept_extra]
        weights = np.array([1.0] * len(out) + [EXTRA_WEIGHT] * len(dept_extra))
        clf = LogisticRegression(C=C, max_iter=3000, class_weight="balanced")
        clf.fit(features(texts), labels, sample_weight=weights)
        return cls(clf)

    def route(self, matrix) -> list[str]:
        """The most likely department of each feature row."""
        return [str(d) for d in self.clf.predict(matrix)]
