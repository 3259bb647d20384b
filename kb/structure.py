"""Recognise the structure of a Chinese regulation: title, 章/节, 第X条.

Clients hand us folders of plain regulation texts (no front matter, title on the
first line, articles as 第X条). Citations need the article number, so structure
is parsed, not guessed from chunk boundaries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

_NUM = "零〇一二两三四五六七八九十百千"
CHAPTER = re.compile(rf"^#*\s*(第[{_NUM}\d]+章)[\s　]*(.*)$")
SECTION = re.compile(rf"^#*\s*(第[{_NUM}\d]+节)[\s　]*(.*)$")
ARTICLE = re.compile(rf"^\**\s*(第[{_NUM}\d]+条(?:之[{_NUM}]+)?)\**[\s　]*(.*)$")
DOC_NO = re.compile(
    rf"[京国民财人残][^\s，。、〔\[]{{0,14}}[〔\[［]\d{{4}}[〕\]］]\s*\d+\s*号|(?:中华人民共和国)?(?:国务院|主席)令第[\d{_NUM}]+号"
)
EFFECTIVE = re.compile(r"(?:自\s*)?(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*起?\s*(?:施行|执行|实施)")
_COMMENT = re.compile(r"<!--.*?-->", re.S)


@dataclass
class Article:
    number: str  # 第五条; empty for paragraphs of a notice without articles
    chapter: str
    section: str
    text: str


@dataclass
class ParsedDocument:
    front_matter: dict | None
    front_matter_lines: int
    title: str
    preamble: str
    articles: list[Article] = field(default_factory=list)
    doc_no: str = ""
    effective: str = ""


class FrontMatterError(ValueError):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def split_front_matter(text: str) -> tuple[dict | None, str, int]:
    """(front matter, body, number of lines the front matter took)."""
    if not text.startswith("---"):
        return None, text, 0
    lines = text.splitlines()
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            try:
                meta = yaml.safe_load("\n".join(lines[1:i])) or {}
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                raise FrontMatterError(f"文件头 YAML 格式错误：{getattr(exc, 'problem', exc)}", (mark.line + 2) if mark else 1) from exc
            if not isinstance(meta, dict):
                raise FrontMatterError("文件头应为“字段: 值”形式的 YAML", 2)
            return meta, "\n".join(lines[i + 1 :]), i + 1
    raise FrontMatterError("文件头缺少结束标记 ---", 1)


def parse_document(text: str) -> ParsedDocument:
    meta, body, fm_lines = split_front_matter(text)
    body = _COMMENT.sub("\n", body)
    lines = [ln.rstrip() for ln in body.splitlines()]
    title = ""
    preamble: list[str] = []
    articles: list[Article] = []
    chapter = section = ""
    current: Article | None = None
    for raw in lines:
        line = raw.strip().strip("\u3000")
        if not line:
            continue
        if not title:
            title = line.lstrip("#").strip()
            continue
        if m := CHAPTER.match(line):
            chapter, section = f"{m.group(1)}　{m.group(2)}".strip("　 "), ""
            current = None
            continue
        if m := SECTION.match(line):
            section = f"{m.group(1)}　{m.group(2)}".strip("　 ")
            current = None
            continue
        if m := ARTICLE.match(line):
            current = Article(m.group(1), chapter, section, f"{m.group(1)}　{m.group(2)}".rstrip("　 "))
            articles.append(current)
            continue
        clean = line.lstrip("#").strip()
        if current is not None:
            current.text += "\n" + clean
        elif articles or chapter:
            current = Article("", chapter, section, clean)
            articles.append(current)
        else:
            preamble.append(clean)
    head = "\n".join([title, *preamble])
    doc_no = m.group(0) if (m := DOC_NO.search(head)) else ""
    if not any(a.number for a in articles) and preamble:
        # A notice without 第X条: its paragraphs are the units of citation.
        articles = [Article("", "", "", p) for p in preamble if p != doc_no] + articles
        preamble = []
    eff = ""
    if m := EFFECTIVE.search(text):
        eff = f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
    return ParsedDocument(meta, fm_lines, title, "\n".join(preamble), articles, doc_no, eff)
