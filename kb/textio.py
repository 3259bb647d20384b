"""Decode text files the way Beijing offices actually save them.

Files arrive as UTF-8, UTF-8 with a BOM (Excel's "CSV UTF-8"), or GBK/GB18030
(older Windows tools). Strict UTF-8 is tried first because GB18030 decodes almost
any byte string without error; a file that is neither is refused by name.
"""

from __future__ import annotations

from charset_normalizer import from_bytes


class UndecodableText(ValueError):
    """Bytes that are neither UTF-8 nor GBK/GB18030 Chinese text."""


UNDECODABLE = "无法识别文件编码（支持 UTF-8、带 BOM 的 UTF-8、GBK/GB18030），请另存为 UTF-8 后重试"


def decode_bytes(data: bytes, name: str) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
        if _looks_chinese(text):
            return text, "gb18030"
    except UnicodeDecodeError:
        pass
    guess = from_bytes(data).best()
    if guess is not None and guess.encoding and _looks_chinese(str(guess)):
        return str(guess), guess.encoding
    raise UndecodableText(f"{name}：{UNDECODABLE}")


def _looks_chinese(text: str) -> bool:
    """Text decoded with the wrong codec is full of rare symbols; real text is mostly CJK, ASCII and punctuation."""
    if not text:
        return True
    common = sum(1 for ch in text if ch.isascii() or "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef")
    return common / len(text) > 0.9
