"""File loaders: every supported format becomes raw records with a location.

A record remembers its file and line (or sheet row) so that a rejection can say
exactly where to look. Which library a file feeds is decided by its folder
(policies/, answers/, contacts…, problems/), then by its columns or keys, then by
its format; a file that fits none is reported, never skipped silently.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from ingest.encoding import check_size, decode_bytes, read_text
from kb.problems import LoadError, Rejection
from kb.recordcodec import RawRecord
from kb.structure import FrontMatterError, parse_document

TEXT_POLICY = {".md", ".markdown", ".txt"}
BINARY_POLICY = {".docx", ".pdf"}
HTML = {".html", ".htm"}
TABLES = {".csv", ".xlsx"}
STRUCTURED = {".yaml", ".yml", ".jsonl"}
SUPPORTED = TEXT_POLICY | BINARY_POLICY | HTML | TABLES | STRUCTURED
IGNORED_NAMES = {"readme.md", "format.md", "source.md", "gold.jsonl", ".ds_store", "thumbs.db"}
_FOLDER_LIBRARY = {"policies": "policy", "policy": "policy", "answers": "answer", "contacts": "contact", "problems": "problem"}


def discover(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(files to load, files skipped on purpose); unsupported files are loaded so they get a rejection."""
    files: list[Path] = []
    skipped: list[Path] = []
    for root in paths:
        candidates = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for p in candidates:
            if p.name.lower() in IGNORED_NAMES or p.name.startswith(".") or any(part.startswith(".") for part in p.parts[-3:-1]):
                skipped.append(p)
            else:
                files.append(p)
    return files, skipped


def library_from_path(path: Path) -> str | None:
    for part in reversed(path.parts[:-1]):
        if part.lower() in _FOLDER_LIBRARY:
            return _FOLDER_LIBRARY[part.lower()]
    stem = path.stem.lower()
    for key, lib in _FOLDER_LIBRARY.items():
        if stem.startswith(key):
            return lib
    return None


def library_from_keys(keys: set[str]) -> str | None:
    if {"question", "answer"} <= keys:
        return "answer"
    if "phone" in keys and "unit" in keys:
        return "contact"
    if {"problem", "handling"} <= keys:
        return "problem"
    return None


def load_file(path: Path, max_bytes: int) -> list[RawRecord]:
    suffix = path.suffix.lower()
    name = str(path)
    if suffix not in SUPPORTED:
        raise LoadError(Rejection(name, "整个文件", "", "", f"不支持的文件类型“{suffix or '无扩展名'}”，支持：{'、'.join(sorted(SUPPORTED))}"))
    if suffix in TEXT_POLICY | HTML | BINARY_POLICY:
        return [_load_document(path, max_bytes)]
    if suffix in {".yaml", ".yml"}:
        return list(_load_yaml(path, max_bytes))
    if suffix == ".jsonl":
        return list(_load_jsonl(path, max_bytes))
    if suffix == ".csv":
        text, _ = read_text(path, max_bytes)
        return list(_table_records(path, csv.reader(io.StringIO(text)), row_offset=1))
    return list(_load_xlsx(path, max_bytes))


def _document_text(path: Path, max_bytes: int) -> str:
    suffix = path.suffix.lower()
    if suffix in TEXT_POLICY:
        return read_text(path, max_bytes)[0]
    check_size(path, max_bytes)
    try:
        if suffix in HTML:
            from bs4 import BeautifulSoup

            html, _ = decode_bytes(path.read_bytes(), str(path))
            soup = BeautifulSoup(html, "html.parser")
            for tag in soup(["script", "style", "nav", "footer"]):
                tag.decompose()
            title = soup.title.get_text(strip=True) if soup.title else ""
            body = soup.body or soup
            text = "\n".join(line.strip() for line in body.get_text("\n").splitlines() if line.strip())
            return text if not title or text.startswith(title) else f"{title}\n{text}"
        if suffix == ".docx":
            import docx

            return "\n".join(p.text for p in docx.Document(str(path)).paragraphs)
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)
    except LoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure is this file's rejection
        raise LoadError(Rejection(str(path), "整个文件", "", "", f"无法读取 {suffix} 文件：{type(exc).__name__}: {exc}")) from exc


def _load_document(path: Path, max_bytes: int) -> RawRecord:
    text = _document_text(path, max_bytes)
    if not text.strip():
        raise LoadError(Rejection(str(path), "整个文件", "", "", "文件没有可识别的文字内容（扫描件请先做文字识别）"))
    try:
        parsed = parse_document(text)
    except FrontMatterError as exc:
        raise LoadError(Rejection(str(path), f"第{exc.line}行", "", "front matter", str(exc))) from exc
    return RawRecord("policy", dict(parsed.front_matter or {}), str(path), "第1行", parsed)


def _load_yaml(path: Path, max_bytes: int) -> Iterator[RawRecord]:
    text, _ = read_text(path, max_bytes)
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = f"第{mark.line + 1}行" if mark else "整个文件"
        raise LoadError(Rejection(str(path), loc, "", "", f"YAML 格式错误：{getattr(exc, 'problem', exc)}")) from exc
    if isinstance(data, dict):
        key = next((k for k in ("answers", "items", "records") if isinstance(data.get(k), list)), None)
        if key is None:
            raise LoadError(Rejection(str(path), "整个文件", "", "", "YAML 文件应为记录列表（或含 answers 列表）"))
        items_node = next(v for k, v in node.value if k.value == key)
        data = data[key]
    else:
        items_node = node
    if not isinstance(data, list):
        raise LoadError(Rejection(str(path), "整个文件", "", "", "YAML 文件应为记录列表"))
    folder_lib = library_from_path(path)
    for item, item_node in zip(data, items_node.value):
        loc = f"第{item_node.start_mark.line + 1}行"
        if not isinstance(item, dict):
            yield RawRecord(folder_lib or "answer", {"__invalid__": item}, str(path), loc)
            continue
        yield RawRecord(folder_lib or library_from_keys(set(item)) or "answer", item, str(path), loc)


def _load_jsonl(path: Path, max_bytes: int) -> Iterator[RawRecord]:
    text, _ = read_text(path, max_bytes)
    folder_lib = library_from_path(path)
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield RawRecord(folder_lib or "answer", {"__invalid__": f"JSON 格式错误：{exc.msg}"}, str(path), f"第{lineno}行")
            continue
        lib = folder_lib or (library_from_keys(set(item)) if isinstance(item, dict) else None) or "answer"
        yield RawRecord(lib, item if isinstance(item, dict) else {"__invalid__": item}, str(path), f"第{lineno}行")


def _table_records(path: Path, rows: Iterator[list[Any]], row_offset: int) -> Iterator[RawRecord]:
    try:
        header = [str(h or "").strip().lstrip("\ufeff") for h in next(rows)]
    except StopIteration:
        raise LoadError(Rejection(str(path), "整个文件", "", "", "表格为空，缺少表头")) from None
    lib = library_from_path(path) or library_from_keys(set(header))
    if lib is None or lib == "policy":
        raise LoadError(Rejection(str(path), "第1行", "", "表头", f"无法判断表格属于哪个库：表头为 {','.join(header)}（联络库需 unit、phone 列，问题清单需 problem、handling 列）"))
    for i, row in enumerate(rows, start=row_offset + 1):
        values = ["" if v is None else str(v).strip() for v in row]
        if not any(values):
            continue
        if len(values) != len(header):
            yield RawRecord(lib, {"__invalid__": f"列数为 {len(values)}，表头为 {len(header)} 列（可能有未加引号的逗号）"}, str(path), f"第{i}行")
            continue
        yield RawRecord(lib, dict(zip(header, values)), str(path), f"第{i}行")


def _load_xlsx(path: Path, max_bytes: int) -> Iterator[RawRecord]:
    check_size(path, max_bytes)
    from openpyxl import load_workbook

    try:
        wb = load_workbook(str(path), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - a broken workbook is this file's rejection
        raise LoadError(Rejection(str(path), "整个文件", "", "", f"无法读取 Excel 文件：{type(exc).__name__}: {exc}")) from exc
    sheet = wb.worksheets[0]
    yield from _table_records(path, (list(r) for r in sheet.iter_rows(values_only=True)), row_offset=1)
