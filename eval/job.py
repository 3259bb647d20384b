"""One evaluation run as a separate process: ``kb eval job SPEC.json``, started by the service's evaluation page.

The spec names the suite (retrieval, classify, reply, laws), the split, the kb, the
configuration overrides and the service's settings; the result JSON holds the figures
and one outcome per query, in one shape for every suite so two runs can be compared.
The evaluators are the very functions ``kb eval …`` prints, so the page's figures are
the command's. Progress (done, total) is written beside the result as the run goes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from kb.errors import KBError
from kb.reply.composer import ReplyConfig
from kb.settings import Settings

RETRIEVAL_METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "p50_ms")
REPLY_METRICS = ("answerable_escalated_share", "unanswerable_escalated_share", "topic_grounded", "invented_fact_replies",
                 "district_contact_correct", "confident_accuracy", "citation_precision", "citation_recall",
                 "key_fact_coverage", "helpful_escalation_share", "p50_ms", "p95_ms")
CLASSIFY_METRICS = ("industry_accuracy", "subtopic_macro_f1", "department_accuracy", "ece")
LAWS_METRICS = ("hit@1", "hit@5", "doc@5", "adjacent_top1", "n")


class Skipped(Exception):
    """The suite cannot run here (its data is absent): the run is recorded as skipped, not failed."""


def run_settings(settings: Settings, config: dict[str, Any]) -> Settings:
    """The service's settings with this run's retrieval overrides; the live service's own are untouched."""
    update: dict[str, Any] = {}
    if config.get("fusion"):
        update["fusion"] = config["fusion"]
    if config.get("rrf_k"):
        update["rrf_k"] = config["rrf_k"]
    weights = config.get("weights") or {}
    if weights.get("dense") is not None:
        update["dense_weight"] = weights["dense"]
    if weights.get("bm25") is not None:
        update["bm25_weight"] = weights["bm25"]
    return settings.model_copy(update=update)


def reply_config(config: dict[str, Any]) -> ReplyConfig | None:
    gates = {k: v for k, v in (config.get("gates") or {}).items() if v is not None}
    return ReplyConfig(**gates) if gates else None


def run_job(spec: dict[str, Any], progress_path: Path | None = None) -> dict[str, Any]:
    def progress(done: int, total: int) -> None:
        if progress_path is not None and (done == total or done % 5 == 0):
            tmp = progress_path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"done": done, "total": total}), encoding="utf-8")
            tmp.replace(progress_path)

    settings = run_settings(Settings(**spec["settings"]), spec.get("config") or {})
    suite, split, kb = spec["suite"], spec["split"], spec["kb"]
    if suite == "retrieval":
        return _retrieval(settings, split, kb, progress)
    if suite == "reply":
        return _reply(settings, split, kb, spec.get("config") or {}, progress)
    if suite == "classify":
        return _classify(settings, split)
    if suite == "laws":
        return _laws(settings, split, progress)
    raise ValueError(f"未知的评测套件 {suite!r}")


def _retrieval(settings: Settings, split: str, kb: str, progress) -> dict[str, Any]:
    from eval.retrieval import CONFIGURED, DEFAULT_DATA, run_retrieval_eval

    if split != "dev":
        raise Skipped("检索金标只有 dev 划分（eval/data/retrieval_dev.jsonl）")
    report = run_retrieval_eval(settings, DEFAULT_DATA, [CONFIGURED], kb=kb, per_query=True, progress=progress)
    row = report["variants"][CONFIGURED]
    items = [{"id": q["id"], "query": q["query"], "ok": q["rank"] is not None and q["rank"] <= 5,
              "outcome": f"第 {q['rank']} 位" if q["rank"] else "前 10 未命中", "top": q["top"][:5]}
             for q in row["per_query"]]
    return {"figures": {m: row[m] for m in RETRIEVAL_METRICS} | {"queries": report["queries"]}, "items": items}


def _reply(settings: Settings, split: str, kb: str, config: dict[str, Any], progress) -> dict[str, Any]:
    from eval.reply import HELD_OUT, SPLITS, run_reply_eval

    split = HELD_OUT if split == "test" else split
    if split not in SPLITS or not SPLITS[split].exists():
        raise Skipped(f"建议答复没有 {split} 划分")
    report = run_reply_eval(settings, SPLITS[split], kb=kb, config=reply_config(config), progress=progress)
    figures = report["splits"]["file"]
    items = []
    for i in figures["per_item"]:
        outcome = {"escalation": "转办", "directory": "办事机构："}.get(i["got"], "答复：")
        outcome += "、".join(i["contacts"] if i["got"] == "directory" else i["cited"]) if i["got"] != "escalation" else ""
        items.append({"id": i["id"], "query": i["query"], "ok": i["right"], "outcome": outcome})
    return {"figures": {m: figures[m] for m in REPLY_METRICS} | {"items": figures["items"]}, "items": items,
            "gates": report["gates"]}


def _classify(settings: Settings, split: str) -> dict[str, Any]:
    from eval.classify import run_classify_eval

    report = run_classify_eval(settings, split)
    figures = {m: report[m] for m in CLASSIFY_METRICS} | {"tickets": report["tickets"]}
    for kb, row in report["kbs"].items():
        figures |= {f"{kb}.{k}": v for k, v in row.items()}
    items = [{"id": t["id"], "query": t["query"], "ok": t["correct"], "outcome": t["pred"]} for t in report["per_ticket"]]
    return {"figures": figures, "items": items}


def _laws(settings: Settings, split: str, progress) -> dict[str, Any]:
    from eval.laws import LAWS, run_laws_eval

    if not LAWS.exists():
        raise Skipped(f"未找到外部法规文本 {LAWS}，法规评测已跳过")
    report = run_laws_eval(settings)
    items = [{"id": r["qid"], "query": r["question"], "ok": r["rank"] == 1,
              "outcome": f"第 {r['rank']} 位" if r["rank"] else "前 5 未命中"}
             for r in report["per_question"] if r["split"] == split]
    progress(1, 1)
    return {"figures": {m: report["splits"][split][m] for m in LAWS_METRICS}, "items": items}


def main(spec_path: Path) -> int:
    """Write ``result.json`` beside the spec: {"figures", "items"} or {"skipped"} or {"error"}; exit 0 unless it crashed."""
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    out = spec_path.parent / "result.json"
    started = time.perf_counter()
    try:
        result = run_job(spec, spec_path.parent / "progress.json")
    except Skipped as exc:
        result = {"skipped": str(exc)}
    except KBError as exc:  # a state the reviewer can fix (no model trained, no index): its Chinese message alone
        result = {"error": exc.message}
    except Exception as exc:  # noqa: BLE001 - the page shows what failed; the traceback goes to stderr
        import traceback

        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
    result["seconds"] = round(time.perf_counter() - started, 2)
    out.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    return 0 if "error" not in result else 1
