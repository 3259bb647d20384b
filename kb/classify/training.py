"""``kb train-classifier``: fit on the training split, tune and calibrate on dev.

The test split is never read here: it is for ``kb eval classify`` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from kb.classify.departments import DepartmentModel
from kb.classify.kbexamples import kb_examples
from kb.classify.model import TicketModel, WordAnalyzer, _extra_hash
from kb.classify.pooling import PoolingParams
from kb.classify.tickets import Ticket, data_hash, load_tickets, split_files
from kb.settings import PROJECT_ROOT, Settings
from kb.taxonomy import cached_taxonomy

GRID_C = (5.0,)
GRID_EXTRA_WEIGHT = (0.3, 0.6)
# Sentence pooling of long letters (kb/classify/pooling.py): off, or blended at these weights, with the
# sentences that ask counted as much as the others or several times more.
GRID_POOLING = (PoolingParams(), PoolingParams(0.5, 100), PoolingParams(0.5, 150), PoolingParams(0.3, 100),
                PoolingParams(0.5, 100, 3.0), PoolingParams(0.5, 100, 6.0), PoolingParams(0.3, 100, 6.0))
EVAL_DIR = PROJECT_ROOT / "eval" / "data"


@dataclass
class TrainingReport:
    version: str
    path: Path
    train: int
    dev: int
    chosen: dict
    grid: list[dict]
    temperature: float
    review_threshold: float
    skipped: bool = False


def model_dir(settings: Settings) -> Path:
    return settings.data_dir / "models" / "classifier"


def load_split(settings: Settings, split: str, eval_dir: Path = EVAL_DIR) -> list[Ticket]:
    taxonomy = cached_taxonomy(settings.taxonomy_path)
    files = split_files(settings.corpus_dir, eval_dir, split)
    if not files:
        raise FileNotFoundError(f"没有找到 {split} 划分的工单文件")
    return load_tickets(files, taxonomy)


def dev_scores(model: TicketModel, dev: list[Ticket]) -> dict:
    proba, _, _ = model.pooled_proba([t.text for t in dev])
    industries = model.industry_proba(proba)
    names = list(industries)
    stacked = np.stack([industries[n] for n in names], axis=1)
    pred_ind = [names[i] for i in stacked.argmax(axis=1)]
    pred = [next(model.labels[j] for j in np.argsort(-proba[i]) if model.labels[j].startswith(pred_ind[i] + ":"))
            for i in range(len(dev))]
    gold_ind = [t.industry for t in dev]
    in_industry = [i for i, t in enumerate(dev) if t.industry != "none"]
    return {
        "industry_accuracy": float(np.mean([p == g for p, g in zip(pred_ind, gold_ind)])),
        "subtopic_macro_f1": float(f1_score([dev[i].label for i in in_industry], [pred[i] for i in in_industry],
                                            average="macro", zero_division=0)),
        "confidence": stacked.max(axis=1),
        "correct": np.array([p == g for p, g in zip(pred_ind, gold_ind)]),
    }


def choose_threshold(confidence: np.ndarray, correct: np.ndarray, target: float = 0.985) -> float:
    """The lowest threshold whose automatically decided tickets are at least ``target`` correct."""
    for tau in np.arange(0.60, 0.96, 0.05):
        auto = confidence >= tau
        if auto.sum() == 0 or correct[auto].mean() >= target:
            return round(float(tau), 2)
    return 0.95


def choose_pooling(model: TicketModel, dev: list[Ticket]) -> tuple[PoolingParams, list[dict]]:
    """The pooling setting with the best dev industry accuracy; on a tie the one that pools more, since dev's
    short tickets cannot tell them apart and pooling is what keeps one word from deciding a long letter."""
    rows, best = [], None
    for params in GRID_POOLING:
        model.pooling = params
        scores = dev_scores(model, dev)
        accuracy = round(scores["industry_accuracy"], 4)
        rows.append({"method": f"pooling alpha={params.alpha} min_chars={params.min_chars} ask×{params.ask_weight}", "c": "-",
                     "industry_accuracy": accuracy, "subtopic_macro_f1": round(scores["subtopic_macro_f1"], 4)})
        key = (accuracy, -params.alpha)
        if best is None or key > best[0]:
            best = (key, params)
    assert best is not None
    return best[1], rows


def current_model_if_fresh(settings: Settings, train: list[Ticket], extra: list[tuple[str, str]]) -> TicketModel | None:
    """The saved model when it was trained on exactly this data, so set-up can skip retraining."""
    folder = model_dir(settings)
    if not (folder / "CURRENT").exists():
        return None
    try:
        model = TicketModel.load(folder)
    except Exception:  # noqa: BLE001 - an unreadable model is simply retrained
        return None
    return model if model.data_hash == source_hash(train, extra) else None


def source_hash(train: list[Ticket], extra: list[tuple[str, str]]) -> str:
    """Hash of everything a training run reads: the training tickets and the knowledge-base examples."""
    return data_hash(train) + "-" + _extra_hash(extra)


def train_classifier(settings: Settings, force: bool = True) -> TrainingReport:
    train = load_split(settings, "train")
    dev = load_split(settings, "dev")
    extra = kb_examples(settings.corpus_dir)
    if not force and (fresh := current_model_if_fresh(settings, train, extra)) is not None:
        return TrainingReport(fresh.version, model_dir(settings) / f"{fresh.version}.joblib", len(train), len(dev),
                              fresh.metrics.get("dev", {}), fresh.metrics.get("grid", []), fresh.temperature,
                              fresh.review_threshold, skipped=True)
    analyzer = WordAnalyzer(settings.corpus_dir, settings.data_dir / "cache")
    # Baselines first (recorded for comparison, chosen only if they win), then the full model.
    candidates = [("char only, tickets only", None, [], 0.0, 5.0),
                  ("char+word, tickets only", analyzer, [], 0.0, 5.0)]
    candidates += [(f"char+word, tickets + answers/problems/duties x{w}", analyzer, extra, w, c)
                   for w in GRID_EXTRA_WEIGHT for c in GRID_C]
    grid = []
    best: tuple[float, TicketModel, dict] | None = None
    fitted: dict[str, TicketModel] = {}

    def consider(name: str, model: TicketModel, c: float) -> None:
        nonlocal best
        scores = dev_scores(model, dev)
        row = {"method": name, "c": c, "industry_accuracy": round(scores["industry_accuracy"], 4),
               "subtopic_macro_f1": round(scores["subtopic_macro_f1"], 4)}
        grid.append(row)
        objective = scores["industry_accuracy"] + scores["subtopic_macro_f1"]
        if best is None or objective > best[0]:
            best = (objective, model, row)

    for name, an, ex, weight, c in candidates:
        model = TicketModel.fit(train, an, ex, weight, c)
        model.calibrate(dev)
        fitted[name] = model
        consider(name, model, c)
    # Two views of the same tickets, one also taught by the knowledge base: their average.
    plain, taught = fitted["char+word, tickets only"], fitted["char+word, tickets + answers/problems/duties x0.3"]
    consider("ensemble: tickets only + tickets & KB x0.3", plain.with_partner(taught), 5.0)
    assert best is not None
    _, model, chosen = best
    model.data_hash = source_hash(train, extra)
    model.pooling, pooling_grid = choose_pooling(model, dev)
    grid.extend(pooling_grid)
    model.department_model = DepartmentModel.fit(model.features, train, extra)
    scores = dev_scores(model, dev)
    model.review_threshold = choose_threshold(scores["confidence"], scores["correct"])
    model.metrics = {"dev": chosen, "grid": grid, "train_size": len(train), "dev_size": len(dev)}
    path = model.save(model_dir(settings))
    return TrainingReport(model.version, path, len(train), len(dev), chosen, grid, model.temperature, model.review_threshold)

