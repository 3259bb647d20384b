"""What the manager's edit form shows for each library: fields, Chinese labels, kinds and choices.

Derived from the pydantic schemas in ``kb/schema.py`` (required or not, the allowed
values of a ``Literal``), so a field added to a schema appears on the form without a
second list to keep in step; only the labels and input kinds are written here. The
form only shapes input: validation stays with the one validator (``kb/validate.py``).
"""

from __future__ import annotations

import typing
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel

from kb.changes import FIELD_NAMES
from kb.schema import Answer, Contact, PolicyMeta, Problem

# Chinese names of the four libraries, as the contracts call them.
LIBRARY_NAMES = {"policy": "政策库", "contact": "政务联络库", "answer": "标准化工作库", "problem": "行业问题清单库"}
SCHEMAS: dict[str, type[BaseModel]] = {"policy": PolicyMeta, "contact": Contact, "answer": Answer, "problem": Problem}
LABELS = {**FIELD_NAMES, "id": "编号", "problem": "问题描述", "variants": "其他问法（每行一种）",
          "topics": "主题代码（逗号分隔）", "districts": "适用区（逗号分隔，空为全市）",
          "policy_refs": "政策依据（每行：政策编号#条，如 mz-pol-x#第十条）", "body": "正文（Markdown，含 第X条）"}
LONG_TEXT = {"answer", "handling", "duties", "basis", "body", "problem"}
LINE_LISTS = {"variants"}
CODE_LISTS = {"topics", "districts"}


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: str  # text | textarea | date | choice | lines | codes | refs
    required: bool
    choices: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _kind(name: str, annotation: Any) -> tuple[str, list[str]]:
    if name == "policy_refs":
        return "refs", []
    if name in LINE_LISTS:
        return "lines", []
    if name in CODE_LISTS:
        return "codes", []
    if name in LONG_TEXT:
        return "textarea", []
    if typing.get_origin(annotation) is typing.Literal:
        return "choice", [str(a) for a in typing.get_args(annotation)]
    if "date" in str(annotation):
        return "date", []
    return "text", []


def form_fields(library: str) -> list[FormField]:
    """The fields of one library's edit form, in schema order (id first), a policy's text last."""
    schema = SCHEMAS[library]
    out = []
    for name, info in schema.model_fields.items():
        kind, choices = _kind(name, info.annotation)
        out.append(FormField(name, LABELS.get(name, name), kind, info.is_required(), choices))
    if library == "policy":
        out.append(FormField("body", LABELS["body"], "textarea", False))
    return out


def all_forms() -> list[dict[str, Any]]:
    return [{"library": lib, "name": LIBRARY_NAMES[lib], "fields": [f.to_json() for f in form_fields(lib)]}
            for lib in ("policy", "answer", "contact", "problem")]
