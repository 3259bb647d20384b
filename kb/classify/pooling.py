"""Scoring a long letter by its sentences as well as as a whole.

A whole-text model lets one strong word decide: a long letter about a property
company that mentions in passing that some neighbours are on 低保 comes out as
civil affairs. Scored sentence by sentence, that sentence is one among many that
talk about the property company, so the letter's pooled probabilities are

    alpha * P(whole text) + (1 - alpha) * Σ_s w_s · P(sentence s),   w_s ∝ len(s) · (ask_weight if s asks)

A sentence that asks (请问…, 希望…, 恳请…, 要求…, 请…部门…) names the matter the letter is about; the
sentences around it tell the caller's story (an accident, an illness, a school, a job), which on its own
belongs to other departments. Weighting the asks keeps a real 低保 letter whose story is a traffic accident
in civil affairs, and still lets a letter that asks the housing bureau about its property company go there.

Short tickets (under ``min_chars``) and single-sentence texts keep the whole-text
probabilities: one sentence has nothing to pool. ``alpha``, ``min_chars`` and
``ask_weight`` are chosen on the dev split at training time and stored with the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])")
MIN_SENTENCE_CHARS = 4
# The caller's request: a question or a plea addressed to someone who can act.
_ASK = re.compile(r"请问|请求|恳请|希望|要求|建议|能否|能不能|可不可以|是否|怎么办|怎样|如何|哪里|哪个部门|谁来|"
                  r"^请|[，,。]请|[?？]|^(关于|反映|投诉|举报)")


@dataclass(frozen=True)
class PoolingParams:
    """How long texts are pooled; alpha 1.0 turns pooling off."""

    alpha: float = 1.0
    min_chars: int = 120
    ask_weight: float = 1.0

    @property
    def active(self) -> bool:
        return self.alpha < 1.0


def sentences(text: str) -> list[str]:
    """The text's sentences (split after 。！？；, newlines), dropping fragments too short to carry a topic."""
    parts = [p.strip() for p in _SENTENCE_END.split(text)]
    return [p for p in parts if len(p) >= MIN_SENTENCE_CHARS]


def sentence_plan(texts: list[str], params: PoolingParams) -> list[list[str]]:
    """For each text, the sentences to score separately (empty: keep the whole-text score)."""
    if not params.active:
        return [[] for _ in texts]
    plan = []
    for text in texts:
        parts = sentences(text) if len(text) >= params.min_chars else []
        plan.append(parts if len(parts) >= 2 else [])
    return plan


def sentence_weights(parts: list[str], ask_weight: float = 1.0) -> np.ndarray:
    """Each sentence's share of the pooled score: its length, times ``ask_weight`` when it asks; sums to 1."""
    weights = np.array([len(p) * (ask_weight if _ASK.search(p) else 1.0) for p in parts], dtype=float)
    return weights / weights.sum()


def pool(whole: np.ndarray, plan: list[list[str]], sentence_proba: np.ndarray, alpha: float,
         ask_weight: float = 1.0) -> np.ndarray:
    """Blend each planned text's whole-text row with the weighted mean of its sentences' rows (``sentence_weights``).

    ``sentence_proba`` holds the rows of all planned sentences, text after text, in ``plan`` order.
    """
    out = whole.copy()
    start = 0
    for i, parts in enumerate(plan):
        if not parts:
            continue
        rows = sentence_proba[start : start + len(parts)]
        start += len(parts)
        weights = sentence_weights(parts, ask_weight)
        out[i] = alpha * whole[i] + (1.0 - alpha) * (weights[:, None] * rows).sum(axis=0)
    if start != len(sentence_proba):
        raise ValueError(f"句子概率行数 {len(sentence_proba)} 与切分计划的句子数 {start} 不一致")
    return out
