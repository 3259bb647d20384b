"""Risk signals in a ticket: self-harm, threats, group incidents, repeated complaints …

Phrases come from corpus/duties/risk.yaml. A phrase preceded by a negation
(没有想不开, 不会去跳楼) does not fire: handlers lose trust in an alarm that rings
for a caller who said the opposite.
"""

from __future__ import annotations

from dataclasses import dataclass

from kb.classify.duties import RiskSignal
from kb.textnorm import normalize

NEGATIONS = ("没有", "并没有", "不会", "并未", "没", "无", "不是", "不再", "未曾", "否认")
LEVELS = {"none": 0, "attention": 1, "urgent": 2}


@dataclass(frozen=True)
class RiskFinding:
    level: str
    signals: list[dict[str, str]]

    def to_json(self) -> dict:
        return {"level": self.level, "signals": self.signals}


class RiskDetector:
    def __init__(self, signals: list[RiskSignal]) -> None:
        self.signals = [(s, [normalize(p) for p in s.phrases]) for s in signals]

    def detect(self, text: str) -> RiskFinding:
        norm = normalize(text)
        found: list[dict[str, str]] = []
        level = "none"
        for signal, phrases in self.signals:
            phrase = next((p for p in phrases if self._affirmed(norm, p)), None)
            if phrase is None:
                continue
            found.append({"id": signal.id, "name": signal.name, "level": signal.level, "phrase": phrase})
            if LEVELS[signal.level] > LEVELS[level]:
                level = signal.level
        return RiskFinding(level, found)

    @staticmethod
    def _affirmed(text: str, phrase: str) -> bool:
        start = text.find(phrase)
        while start != -1:
            before = text[max(0, start - 4) : start]
            if not any(before.endswith(n) or before[:-1].endswith(n) for n in NEGATIONS):
                return True
            start = text.find(phrase, start + 1)
        return False
