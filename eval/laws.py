"""Real regulations by article: the 40 national and Beijing texts in ../shared/external, asked as callers ask.

The texts are ingested as a client would (`kb ingest` of the two folders into a scratch
knowledge base ``laws``, plain Markdown: titles, 章/节 and 第X条 found by kb/structure.py).
Each question names the document (file stem) and the article; a hit is the right document
AND article. Search runs per article (no per-document dedupe), policies only. The questions
were written by a separate author reading one article at a time and are split by document
(dev / test); nothing in the search path was tuned on the test half.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from kb.search import SearchRequest
from kb.settings import PROJECT_ROOT, Settings

LAWS = PROJECT_ROOT.parent / "shared" / "external" / "laws-civil-affairs"
DEFAULT_DATA = Path(__file__).parent / "data" / "laws_questions.jsonl"
_CN = {c: i for i, c in enumerate("零一二三四五六七八九")}


def article_number(article: str) -> int | None:
    """第十三条 → 13, for telling an adjacent-article miss from any other."""
    m = re.fullmatch(r"第([零一二三四五六七八九十百千]+)条(?:之[一二三四五六七八九十]+)?", article or "")
    if not m:
        return None
    total, current = 0, 0
    for ch in m.group(1):
        if ch in _CN:
            current = _CN[ch]
        else:
            unit = {"十": 10, "百": 100, "千": 1000}[ch]
            total += (current or 1) * unit
            current = 0
    return total + current


def run_laws_eval(settings: Settings, data: Path = DEFAULT_DATA, laws: Path = LAWS, context: bool = True) -> dict[str, Any]:
    """``context`` off builds the chunks without their title and 章/节, to measure what that context buys."""
    from ingest.pipeline import run_ingest
    from kb.service import KnowledgeService
    from kb.storefactory import open_store

    if not laws.exists():
        raise FileNotFoundError(f"未找到外部法规文本 {laws}（../shared/external/laws-civil-affairs）")
    questions = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory(prefix="kb-laws-") as tmp:
        scratch = settings.model_copy(update={"data_dir": Path(tmp) / "data", "database_url": None, "kbs": ["laws"],
                                              "chroma_url": None, "guard_recall_drop": None, "chunk_context": context,
                                              # the engine the service uses, and its vectors cached across runs
                                              "embed_model_dir": settings.embed_model_path,
                                              "embed_cache": settings.embed_cache_path})
        summary = run_ingest(scratch, "laws", [laws / "national", laws / "beijing"])
        store = open_store(scratch)
        by_stem = {Path(s.source_path).stem: s.id for s in store.all_active("laws") if s.source_path}
        service = KnowledgeService(scratch)
        rows = []
        for q in questions:
            hits = service.search("laws", SearchRequest(q["question"], top_k=5, libraries=["policy"], dedupe=False,
                                                        include_repealed=True, snippets=False)).hits
            doc_id = by_stem.get(q["doc"])
            got = [(h.chunk.doc_id, h.chunk.article) for h in hits]
            rank = next((i for i, g in enumerate(got, start=1) if g == (doc_id, q["article"])), None)
            first = got[0] if got else ("", "")
            adjacent = (rank != 1 and first[0] == doc_id and None not in (article_number(first[1]),
                        article_number(q["article"])) and abs(article_number(first[1]) - article_number(q["article"])) <= 2)
            rows.append({"qid": q["qid"], "question": q["question"], "split": q["split"], "rank": rank, "doc_in_top5": doc_id in [g[0] for g in got],
                         "adjacent_top1": adjacent, "indexed": doc_id is not None, "top1": list(first)})
    report: dict[str, Any] = {"context": context, "documents_ingested": summary.added, "rejected": [str(r) for r in summary.rejections],
                              "splits": {}, "misses": [r for r in rows if r["rank"] is None],
                              "per_question": rows}
    for split in ("dev", "test"):
        part = [r for r in rows if r["split"] == split]
        n = len(part) or 1
        report["splits"][split] = {
            "n": len(part),
            "hit@1": round(sum(r["rank"] == 1 for r in part) / n, 3),
            "hit@5": round(sum(r["rank"] is not None for r in part) / n, 3),
            "doc@5": round(sum(r["doc_in_top5"] for r in part) / n, 3),
            "adjacent_top1": sum(r["adjacent_top1"] for r in part),
            "doc_not_indexed": sum(not r["indexed"] for r in part),
        }
    return report


def print_laws_report(report: dict[str, Any], console) -> None:
    from rich.table import Table

    table = Table(title=f"真实法规按条检索（{report['documents_ingested']} 部法规，问题按文件划分 dev / test；"
                        f"分块{'带' if report['context'] else '不带'}标题与章节）")
    for col in ("划分", "问题数", "hit@1", "hit@5", "文件 hit@5", "首位为相邻条", "文件未入库"):
        table.add_column(col)
    for split, m in report["splits"].items():
        table.add_row(split, str(m["n"]), f"{m['hit@1']:.3f}", f"{m['hit@5']:.3f}", f"{m['doc@5']:.3f}",
                      str(m["adjacent_top1"]), str(m["doc_not_indexed"]))
    console.print(table)
    for r in report["rejected"]:
        console.print(f"[yellow]未入库[/yellow] {r}")
