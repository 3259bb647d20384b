"""Input types shared by the request bodies: text that can be stored, logged and echoed safely.

Lone surrogates, NUL bytes and control characters are refused with a Chinese
message rather than crashing a serializer or a tokenizer deeper down; knowledge
base names are plain identifiers so they can never be read as a path.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from kb.settings import Settings

_DEFAULTS = Settings.model_fields
MAX_QUERY_CHARS: int = _DEFAULTS["max_query_chars"].default
MAX_FIELD_CHARS: int = _DEFAULTS["max_field_chars"].default
MAX_BATCH_TEXTS: int = _DEFAULTS["max_batch_texts"].default
MAX_LIST_ITEMS: int = _DEFAULTS["max_list_items"].default
MAX_REQUEST_CHARS: int = _DEFAULTS["max_request_chars"].default
KB_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"

_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def shorten(value: str, limit: int = 40) -> str:
    """An echoed value cut to ``limit`` characters, so an error message cannot carry a whole paste."""
    return value if len(value) <= limit else value[:limit] + "…"


def _clean(value: str) -> str:
    found = _BAD.search(value)
    if found:
        ch = found.group(0)
        what = "不完整的 Unicode 字符" if "\ud800" <= ch <= "\udfff" else f"控制字符 U+{ord(ch):04X}"
        raise ValueError(f"文本中含有{what}，请删除后重试")
    return value


def _kb_name(value: str) -> str:
    if not re.fullmatch(KB_NAME_PATTERN, value):
        raise ValueError(f"知识库名称“{shorten(_BAD.sub('', value))}”无效：只能包含字母、数字、- 和 _，最长 64 个字符")
    return value


QueryText = Annotated[str, Field(max_length=MAX_QUERY_CHARS * 4), AfterValidator(_clean)]
ShortText = Annotated[str, Field(max_length=200), AfterValidator(_clean)]
TicketText = Annotated[str, Field(max_length=MAX_FIELD_CHARS), AfterValidator(_clean)]
KBName = Annotated[str, Field(max_length=64, pattern=KB_NAME_PATTERN.replace("^", "^").replace("$", "$")),
                   AfterValidator(_kb_name)]
