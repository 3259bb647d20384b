"""Records as the store keeps them, and back into what the validator reads.

A record's content is the library's own schema as plain JSON: a policy is its
front-matter fields plus ``body`` (the Markdown text with its 章/节/第X条); an
answer, contact or problem entry is its fields. Whatever format a file came in
(docx, pdf, txt, csv, xlsx …), once stored it has this one shape, so an edit over
the API and a re-ingest of the file compare like with like.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from kb.structure import ParsedDocument, parse_document


@dataclass
class RawRecord:
    library: str
    data: dict[str, Any]
    file: str
    location: str
    parsed: ParsedDocument | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def render_body(parsed: ParsedDocument, title: str) -> str:
    """Markdown for a parsed regulation that parses back to the same articles."""
    lines = [f"# {title or parsed.title}", ""]
    if parsed.preamble:
        lines += [parsed.preamble, ""]
    chapter = section = ""
    for art in parsed.articles:
        if art.chapter and art.chapter != chapter:
            chapter, section = art.chapter, ""
            lines += [f"## {chapter}", ""]
        if art.section and art.section != section:
            section = art.section
            lines += [f"### {section}", ""]
        lines += [art.text, ""]
    return "\n".join(lines).rstrip() + "\n"


def model_content(model: BaseModel, parsed: ParsedDocument | None) -> dict[str, Any]:
    content = model.model_dump(mode="json")
    if parsed is not None:
        content["body"] = render_body(parsed, content.get("title", ""))
    return content


def to_raw(library: str, record_id: str, content: dict[str, Any], location: str = "") -> RawRecord:
    """The stored content as a raw record, so the one validator checks edits and files alike."""
    where = f"记录 {record_id}"
    if library != "policy":
        return RawRecord(library, dict(content), where, location or "字段")
    data = {k: v for k, v in content.items() if k != "body"}
    body = str(content.get("body") or "")
    parsed = parse_document(body) if body.strip() else ParsedDocument(data, 0, str(data.get("title", "")), "", [])
    parsed.front_matter = data
    return RawRecord("policy", data, where, location or "正文", parsed)
