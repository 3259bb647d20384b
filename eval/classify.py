"""Ticket classification quality on the held-out test split (never used for training or tuning),
plus how many real citizen messages from another city are filtered out of minzheng.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from kb.classify.classifier import TicketClassifier
from kb.classify.training import load_split, model_dir
from kb.settings import PROJECT_ROOT, Settings
from kb.taxonomy import cached_taxonomy

TEDDY_DIR = PROJECT_ROOT.parent / "shared" / "external" / "teddy2020c-gov-messages"
TEDDY = TEDDY_DIR / "messages_labeled_sample495.csv"
CIVIL_IDS = PROJECT_ROOT / "eval" / "data" / "teddy_civil_ids.csv"


def load_classifier(settings: Settings) -> TicketClassifier:
    return TicketClassifier.load(model_dir(settings), settings.corpus_dir / "duties", cached_taxonomy(settings.taxonomy_path))


def _batched(clf: TicketClassifier, texts: list[str], kb: str) -> list:
    out = []
    for start in range(0, len(texts), 500):
        out.extend(clf.classify_many(texts[start : start + 500], kb))
    return out


def reliability_table(confidence: np.ndarray, correct: np.ndarray, bins: int = 5) -> list[dict[str, Any]]:
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (confidence >= lo) & ((confidence < hi) if hi < 1 else (confidence <= hi))
        if sel.any():
            rows.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": int(sel.sum()),
                         "mean_confidence": round(float(confidence[sel].mean()), 3),
                         "accuracy": round(float(correct[sel].mean()), 3)})
    return rows


def expected_calibration_error(rows: list[dict[str, Any]], total: int) -> float:
    return round(sum(r["n"] / total * abs(r["accuracy"] - r["mean_confidence"]) for r in rows), 4)


def run_classify_eval(settings: Settings, split: str = "test") -> dict[str, Any]:
    clf = load_classifier(settings)
    tickets = load_split(settings, split)
    texts = [t.text for t in tickets]
    report: dict[str, Any] = {"split": split, "tickets": len(tickets), "model": clf.model.version, "kbs": {}}
    for kb in ("minzheng", "canlian"):
        decisions = _batched(clf, texts, kb)
        gold_out = np.array([t.industry != kb for t in tickets])
        pred_out = np.array([not d.in_scope for d in decisions])
        tp = int((gold_out & pred_out).sum())
        report["kbs"][kb] = {
            "out_of_scope_precision": round(tp / max(1, pred_out.sum()), 4),
            "out_of_scope_recall": round(tp / max(1, gold_out.sum()), 4),
            "in_scope_recall": round(int((~gold_out & ~pred_out).sum()) / max(1, (~gold_out).sum()), 4),
        }
        if kb == "minzheng":
            base = decisions
    correct = np.array([d.industry == t.industry for d, t in zip(base, tickets)])
    confidence = np.array([d.confidence for d in base])
    report["industry_accuracy"] = round(float(correct.mean()), 4)
    in_ind = [i for i, t in enumerate(tickets) if t.industry != "none"]
    pred_fine = [f"{base[i].industry}:{base[i].subtopic or base[i].department}" for i in in_ind]
    report["subtopic_macro_f1"] = round(float(f1_score([tickets[i].label for i in in_ind], pred_fine, average="macro",
                                                       zero_division=0)), 4)
    report["department_accuracy"] = round(float(np.mean(
        [base[i].department == t.department for i, t in enumerate(tickets) if t.industry == "none"])), 4)
    table = reliability_table(confidence, correct)
    report["reliability"] = table
    report["ece"] = expected_calibration_error(table, len(tickets))
    review = np.array([d.needs_review for d in base])
    report["needs_review"] = {"count": int(review.sum()), "share": round(float(review.mean()), 4),
                              "accuracy_auto": round(float(correct[~review].mean()), 4) if (~review).any() else None,
                              "accuracy_review": round(float(correct[review].mean()), 4) if review.any() else None}
    pairs: dict[str, Counter] = defaultdict(Counter)
    for d, t in zip(base, tickets):
        if t.pair:
            gold_side = "inside" if t.industry == "minzheng" else "outside"
            ok = d.industry == t.industry and (t.industry != "none" or d.department == t.department)
            pairs[t.pair][f"{gold_side}_{'ok' if ok else 'wrong'}"] += 1
    report["confusable_pairs"] = {p: dict(c) for p, c in sorted(pairs.items())}
    report["per_ticket"] = [{"id": t.id, "query": t.text[:60], "gold": t.label,
                             "pred": f"{d.industry}:{d.subtopic or d.department}", "correct": d.industry == t.industry}
                            for d, t in zip(base, tickets)]
    report["errors"] = [{"id": t.id, "gold": t.label, "pred": f"{d.industry}:{d.subtopic or d.department}",
                         "confidence": d.confidence, "text": t.text[:60]}
                        for d, t in zip(base, tickets) if d.industry != t.industry][:30]
    return report


def run_external_eval(settings: Settings, path: Path = TEDDY) -> dict[str, Any] | None:
    """Share of the 495 real messages (none of them civil affairs) filtered out of minzheng, per class."""
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    clf = load_classifier(settings)
    texts = [_letter(r) for r in rows]
    decisions = _batched(clf, texts, "minzheng")
    per_class: dict[str, Counter] = defaultdict(Counter)
    for r, d in zip(rows, decisions):
        per_class[r["一级分类"]]["filtered" if not d.in_scope else "kept"] += 1
        per_class[r["一级分类"]][f"to:{d.department or d.industry}"] += 1
    total_filtered = sum(c["filtered"] for c in per_class.values())
    return {
        "messages": len(rows),
        "filtered": total_filtered,
        "filtered_share": round(total_filtered / len(rows), 4),
        "per_class": {k: {"n": c["filtered"] + c["kept"], "filtered": c["filtered"],
                          "share": round(c["filtered"] / (c["filtered"] + c["kept"]), 3),
                          "top_departments": [x for x in c.most_common() if x[0].startswith("to:")][:3]}
                      for k, c in sorted(per_class.items())},
        "kept_examples": [t[:60] for t, d in zip(texts, decisions) if d.in_scope][:10],
    }


def _letter(row: dict[str, str]) -> str:
    return f"{row['留言主题']}。{row['留言详情']}"[:4000]


def run_civil_eval(settings: Settings, ids_path: Path = CIVIL_IDS, folder: Path = TEDDY_DIR) -> dict[str, Any] | None:
    """Share of hand-picked real civil-affairs letters (ids only in eval/data) that stay in minzheng's scope."""
    if not folder.exists() or not ids_path.exists():
        return None
    with open(ids_path, encoding="utf-8") as fh:
        picks = list(csv.DictReader(fh))
    letters: dict[tuple[str, str], str] = {}
    for name in sorted({p["file"] for p in picks}):
        with open(folder / name, encoding="utf-8") as fh:
            letters.update({(name, r["留言编号"]): _letter(r) for r in csv.DictReader(fh)})
    found = [p for p in picks if (p["file"], p["留言编号"]) in letters]
    decisions = _batched(load_classifier(settings), [letters[(p["file"], p["留言编号"])] for p in found], "minzheng")
    kept = [d.in_scope for d in decisions]
    clear = [k for k, p in zip(kept, found) if p["clarity"] == "clear"]
    return {
        "letters": len(found), "missing": len(picks) - len(found), "kept": sum(kept),
        "kept_share": round(sum(kept) / max(1, len(found)), 4),
        "clear": len(clear), "clear_kept_share": round(sum(clear) / max(1, len(clear)), 4),
        "lost": [{"id": p["留言编号"], "subtopic": p["subtopic"], "to": d.department or d.industry}
                 for p, d in zip(found, decisions) if not d.in_scope],
    }


SIDE_BY_SIDE = (("行业准确率", lambda r: r["industry_accuracy"]), ("子主题 macro-F1", lambda r: r["subtopic_macro_f1"]),
                ("转办部门准确率（industry=none）", lambda r: r["department_accuracy"]),
                ("minzheng 行业确认召回率", lambda r: r["kbs"]["minzheng"]["in_scope_recall"]),
                ("minzheng 剔除召回率", lambda r: r["kbs"]["minzheng"]["out_of_scope_recall"]),
                ("canlian 行业确认召回率", lambda r: r["kbs"]["canlian"]["in_scope_recall"]),
                ("需复核比例", lambda r: r["needs_review"]["share"]), ("ECE", lambda r: r["ece"]))


def print_side_by_side(reports: list[dict[str, Any]], console) -> None:
    """The headline figures of several splits in one table (dev was used for tuning, test never)."""
    from rich.table import Table

    t = Table(title=f"工单分类：{' / '.join(r['split'] for r in reports)} 对照（阈值与权重只在 dev 上选定）")
    t.add_column("指标")
    for r in reports:
        t.add_column(f"{r['split']}（{r['tickets']} 条）", justify="right")
    for name, get in SIDE_BY_SIDE:
        t.add_row(name, *[f"{get(r):.4f}" for r in reports])
    console.print(t)


def print_classify_report(report: dict[str, Any], console) -> None:
    from rich.table import Table

    console.print(f"工单分类评测：{report['split']} 划分 {report['tickets']} 条，模型 {report['model']}")
    t = Table(title="总体")
    t.add_column("指标")
    t.add_column("值", justify="right")
    t.add_row("行业准确率", f"{report['industry_accuracy']:.4f}")
    t.add_row("子主题 macro-F1", f"{report['subtopic_macro_f1']:.4f}")
    t.add_row("转办部门准确率（industry=none）", f"{report['department_accuracy']:.4f}")
    for kb, row in report["kbs"].items():
        t.add_row(f"{kb} 剔除精确率", f"{row['out_of_scope_precision']:.4f}")
        t.add_row(f"{kb} 剔除召回率", f"{row['out_of_scope_recall']:.4f}")
        t.add_row(f"{kb} 行业确认召回率", f"{row['in_scope_recall']:.4f}")
    nr = report["needs_review"]
    t.add_row("需复核", f"{nr['count']}（{nr['share']:.1%}）；自动判定准确率 {nr['accuracy_auto']}，复核部分 {nr['accuracy_review']}")
    t.add_row("ECE", f"{report['ece']:.4f}")
    console.print(t)
    r = Table(title="可靠性表（行业判定）")
    for col in ("置信度区间", "工单数", "平均置信度", "实际准确率"):
        r.add_column(col, justify="right")
    for row in report["reliability"]:
        r.add_row(row["bin"], str(row["n"]), f"{row['mean_confidence']:.3f}", f"{row['accuracy']:.3f}")
    console.print(r)
    p = Table(title="易混淆对（inside=民政一侧，outside=他部门一侧）")
    for col in ("pair", "inside 正确", "inside 错误", "outside 正确", "outside 错误"):
        p.add_column(col, justify="right")
    for pair, c in report["confusable_pairs"].items():
        p.add_row(pair, *[str(c.get(k, 0)) for k in ("inside_ok", "inside_wrong", "outside_ok", "outside_wrong")])
    console.print(p)
    ext = report.get("external")
    if ext:
        e = Table(title=f"外部真实留言（{ext['messages']} 条，均非民政）：剔除 {ext['filtered']}（{ext['filtered_share']:.1%}）")
        for col in ("一级分类", "条数", "剔除", "比例", "主要去向"):
            e.add_column(col)
        for cls, row in ext["per_class"].items():
            e.add_row(cls, str(row["n"]), str(row["filtered"]), f"{row['share']:.1%}",
                      "，".join(f"{k[3:]} {v}" for k, v in row["top_departments"]))
        console.print(e)
    elif "external" in report:
        console.print("[yellow]外部数据 ../shared/external/teddy2020c-gov-messages 不存在，已跳过[/yellow]")
    civil = report.get("civil")
    if civil:
        console.print(f"外部真实民政留言（eval/data/teddy_civil_ids.csv，{civil['letters']} 条）：留在民政 {civil['kept']} 条"
                      f"（{civil['kept_share']:.1%}）；其中主题单一的 {civil['clear']} 条留在民政 {civil['clear_kept_share']:.1%}")
        if civil["lost"]:
            console.print("被剔除：" + "；".join(f"{x['id']}（{x['subtopic']}→{x['to']}）" for x in civil["lost"]))
