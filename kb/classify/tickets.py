"""Labelled tickets: the training split in corpus/tickets, dev and test in eval/data.

A ticket's label is one fine class: ``minzheng:dibao``, ``canlian:cert_apply`` or
``none:hrss``; the industry, the subtopic and the department are read off it.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from kb.errors import TrainingDataInvalid
from kb.taxonomy import Taxonomy

INDUSTRIES = ("minzheng", "canlian", "none")
COLUMNS = ("id", "text", "industry", "subtopic", "department", "pair", "risk")


@dataclass(frozen=True)
class Ticket:
    id: str
    text: str
    industry: str
    subtopic: str
    department: str
    pair: str
    risk: str

    @property
    def label(self) -> str:
        return fine_label(self.industry, self.subtopic or self.department)


def fine_label(industry: str, code: str) -> str:
    return f"{industry}:{code}"


def split_label(label: str) -> tuple[str, str]:
    industry, _, code = label.partition(":")
    return industry, code


def load_tickets(paths: list[Path], taxonomy: Taxonomy) -> list[Ticket]:
    """All tickets of the given CSV files; a malformed row raises with its file and line."""
    tickets: list[Ticket] = []
    for path in paths:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise TrainingDataInvalid(f"{path} 第1行：表头缺少列 {'、'.join(missing)}（应为 {','.join(COLUMNS)}）")
            try:
                for row in reader:
                    where = f"{path} 第{reader.line_num}行"
                    if None in row or None in row.values():
                        found = len(reader.fieldnames or []) + len(row.get(None) or []) - list(row.values()).count(None)
                        raise TrainingDataInvalid(f"{where}：列数为 {found}，表头为 {len(reader.fieldnames or [])} 列"
                                                  "（可能有未加引号的逗号或缺列）")
                    t = Ticket(*(str(row.get(k) or "").strip() for k in COLUMNS))
                    problem = _check(t, taxonomy)
                    if problem:
                        raise TrainingDataInvalid(f"{where} [{t.id}]：{problem}")
                    tickets.append(t)
            except csv.Error as exc:
                raise TrainingDataInvalid(f"{path} 第{reader.line_num}行：CSV 格式错误（{exc}）") from exc
    return tickets


def _check(t: Ticket, taxonomy: Taxonomy) -> str:
    if not t.text:
        return "text 为空"
    if t.industry not in INDUSTRIES:
        return f"industry “{t.industry}” 应为 {'/'.join(INDUSTRIES)}"
    if t.industry == "none":
        if t.department not in taxonomy.departments:
            return f"department “{t.department}” 不在 taxonomy.yaml 的部门代码中"
    elif t.subtopic not in taxonomy.subtopics or taxonomy.subtopics[t.subtopic].industry != t.industry:
        return f"subtopic “{t.subtopic}” 不是 {t.industry} 的子主题代码"
    return ""


def split_files(corpus_dir: Path, eval_dir: Path, split: str) -> list[Path]:
    if split == "train":
        return sorted((corpus_dir / "tickets").glob("train*.csv"))
    return sorted(eval_dir.glob(f"tickets_{split}*.csv"))


def data_hash(tickets: list[Ticket]) -> str:
    h = hashlib.sha256()
    for t in sorted(tickets, key=lambda t: t.id):
        h.update(f"{t.id}\t{t.text}\t{t.label}\n".encode())
    return h.hexdigest()[:16]
