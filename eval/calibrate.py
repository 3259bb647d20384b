"""Fit the reply model (kb/reply/calibration.py) on the dev questions only, and choose its threshold.

Every candidate answer of every dev question (and of each part of a two-in-one question) is a row: its gate
features, labelled 1 when it is one of the question's expected answers. The threshold is chosen on
out-of-fold probabilities (5 folds, grouped by question) so that it is not chosen on the fit it judges:
the one that maximises right decisions, with a wrong answer read out counting twice as bad as a needless
transfer. Test questions are never read here.

The utility is taken over the questions reweighted so that the ones no standard answer holds make up
UNANSWERABLE_SHARE of them: dev3 was written heavy with hard negatives on purpose (70% of it), and a threshold
chosen on that mix transfers ordinary answerable questions an agent gets every day ("我妈八十二了高龄津贴怎么领，
住东四" fell to 0.43). The share is that of the ordinary mixes, dev and dev2 (74 of 305).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval.reply import SPLITS, expected_kind, judge, load_items
from kb.reply.calibration import Calibration, fit
from kb.reply.service import CALIBRATION_FILE, ReplyService
from kb.reply.spoken import parts, written
from kb.service import KnowledgeService
from kb.settings import Settings

DEV_SPLITS = ("dev", "dev2", "dev3")
WRONG_COST = 2.0
UNANSWERABLE_SHARE = 0.25


def collect(replies: ReplyService, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One group per question (or question part): candidate feature rows and labels."""
    composer = replies.composer
    groups = []
    for item in items:
        kb = item.get("kb", "minzheng")
        snap = replies.composer.service.snapshot(kb)
        district = item.get("district") or snap.contacts.places.find(item["question"])[0]
        plain = written(item["question"])
        texts = [plain] + (parts(plain) if len(parts(plain)) > 1 else [])
        for text in texts:
            hits, gates = composer.candidates(kb, text, district)
            wanted = expected_kind(item) == "answer"
            expected = set(item.get("expected_sources", []))
            rows = [(g.features, int(wanted and h.chunk.doc_id in expected)) for h, g in zip(hits, gates)
                    if g.type_ok and not g.forecast_or_live]
            groups.append({"id": item["id"], "answerable": wanted, "rows": rows, "whole": text == plain})
    return groups


def _decisions(groups: list[dict], probs: list[list[float]], threshold: float) -> dict[str, float]:
    whole = [(g, p) for g, p in zip(groups, probs) if g["whole"]]
    n_answerable = sum(g["answerable"] for g, _ in whole)
    n_other = len(whole) - n_answerable
    # Each unanswerable question weighs so that they make up UNANSWERABLE_SHARE of the weighted total.
    w_other = (UNANSWERABLE_SHARE / (1 - UNANSWERABLE_SHARE)) * n_answerable / max(1, n_other)
    right = wrong = needless = held = 0.0
    wrong_n = 0
    for g, p in whole:
        w = 1.0 if g["answerable"] else w_other
        if not p or max(p) < threshold:
            held += w * (not g["answerable"])
            needless += g["answerable"]
            continue
        best = max(range(len(p)), key=p.__getitem__)
        if g["rows"][best][1]:
            right += w
        else:
            wrong += w
            wrong_n += 1
    return {"threshold": float(threshold), "utility": round(right + held - WRONG_COST * wrong - needless, 2),
            "answerable_escalated": round(needless / max(1, n_answerable), 4),
            "unanswerable_escalated": round(held / max(1e-9, w_other * n_other), 4), "wrong_answers": wrong_n}


def run_calibration(settings: Settings, splits: tuple[str, ...] = DEV_SPLITS, out: Path | None = None) -> dict[str, Any]:
    if any(s.startswith("test") for s in splits):
        raise ValueError("答复可靠度模型只能在 dev 划分上拟合，test 划分不参与任何调参")
    import numpy as np

    service = KnowledgeService(settings)
    replies = ReplyService(service, settings.model_copy(update={"reply_calibration": False}))
    items = [i for name in splits if SPLITS[name].exists() for i in load_items(SPLITS[name])]
    groups = collect(replies, items)
    # Out-of-fold probabilities, folds by question id so both parts of a question stay together.
    ids = sorted({g["id"] for g in groups})
    fold_of = {qid: n % 5 for n, qid in enumerate(ids)}
    probs: list[list[float]] = [[] for _ in groups]
    for fold in range(5):
        train = [r for g in groups if fold_of[g["id"]] != fold for r in g["rows"]]
        model = fit([x for x, _ in train], [y for _, y in train], 0.5, {})
        for k, g in enumerate(groups):
            if fold_of[g["id"]] == fold:
                probs[k] = [model.probability(x) for x, _ in g["rows"]]
    sweep = [_decisions(groups, probs, t) for t in np.round(np.arange(0.05, 0.96, 0.01), 2)]
    best = max(sweep, key=lambda d: (d["utility"], -d["threshold"]))
    rows = [r for g in groups for r in g["rows"]]
    trained_on = {"splits": list(splits), "questions": len(items), "rows": len(rows),
                  "positives": sum(y for _, y in rows), "cv": best}
    model = fit([x for x, _ in rows], [y for _, y in rows], float(best["threshold"]), trained_on)
    model.directory = directory_confidences(replies, service, items, model)
    path = out or settings.corpus_dir / CALIBRATION_FILE
    model.save(path)
    return {"path": str(path), "model": model.__dict__, "sweep": sweep}


def directory_confidences(replies: ReplyService, service: KnowledgeService, items: list[dict[str, Any]],
                          model: Calibration) -> dict[str, float]:
    """P(right) of directory replies by their evidence: (right + 1) / (n + 2) over the dev questions answered
    from the directory with ``model`` in place, judged as `kb eval reply` judges them."""
    composer = replies.composer
    saved, composer.calibration = composer.calibration, model
    tally: dict[str, list[int]] = {}
    try:
        for item in items:
            kb = item.get("kb", "minzheng")
            reply = composer.compose(item["question"], kb, item.get("district"), item.get("street"))
            if reply.kind == "directory" and not reply.escalate and reply.evidence:
                counts = tally.setdefault(reply.evidence, [0, 0])
                counts[0] += judge(item, reply, service.index(kb)).right
                counts[1] += 1
    finally:
        composer.calibration = saved
    return {key: round((right + 1) / (n + 2), 4) for key, (right, n) in sorted(tally.items())}


def load_calibration(settings: Settings) -> Calibration | None:
    return Calibration.load(settings.corpus_dir / CALIBRATION_FILE)
