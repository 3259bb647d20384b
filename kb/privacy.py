"""Masking of callers' personal data before anything is logged or stored.

Tickets carry callers' mobile and landline numbers, ID card numbers, bank card
numbers and e-mail addresses. ID numbers are masked only when their checksum is
valid and bank cards only when the Luhn check passes, so that amounts, dates and
work-order numbers stay readable; phone patterns need a mobile prefix or an area
code so an amount such as 12345678元 is not mistaken for a number to hide.
"""

from __future__ import annotations

import logging
import re

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

ID_CARD = re.compile(r"(?<![0-9A-Za-z])([1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx])(?![0-9A-Za-z])")
# First-generation (15-digit) identity numbers: area, YYMMDD, sequence; no checksum, so the date must be real.
ID_CARD_15 = re.compile(r"(?<![0-9A-Za-z.])([1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3})(?![0-9A-Za-z.])")
BANK_CARD = re.compile(r"(?<!\d)((?:\d[ -]?){15,18}\d)(?!\d)")
_SEP = r"[-. ]?"
# Digits after the match must not continue a number or an amount (3000-5000元 is a range, not a phone).
_END = r"(?![\d元块万千百%])"
MOBILE = re.compile(rf"(?<![\d.])(?:(?:\+|00)?86{_SEP})?(1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}}){_END}")
LANDLINE = re.compile(
    rf"(?:[(（]0\d{{2,3}}[)）]\s?\d{{3,4}}{_SEP}\d{{4}}{_END}"
    rf"|(?<![\d.])(?:0\d{{2,3}}{_SEP}\d{{3,4}}{_SEP}\d{{4}}|[2-8]\d{{3}}-\d{{4}}(?![-\d元块万千百%]))(?![\d元块万千百%]))"
)
# Digits as a transcript writes them (幺三八…): runs long enough to be a number are made digits first.
_SPOKEN = str.maketrans("零〇幺一二两三四五六七八九", "0011223456789")
_SPOKEN_RUN = re.compile(r"[零〇幺一二两三四五六七八九][零〇幺一二两三四五六七八九 \-]{5,}[零〇幺一二两三四五六七八九]")
_CARD_CONTEXT = re.compile(r"卡号|银行卡|账号|帐号|存折|卡")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")

TAGS = {"id": "【身份证号】", "bank": "【银行卡号】", "mobile": "【手机号】", "landline": "【电话】", "email": "【邮箱】"}


def valid_id_number(value: str) -> bool:
    if len(value) != 18 or not value[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == value[17].upper()


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _spoken(m: re.Match[str]) -> str:
    run = m.group(0)
    digits = sum(ch not in " -" for ch in run)
    return run.translate(_SPOKEN) if digits >= 7 else run


# Only the characters numbers are written with are folded: Chinese punctuation stays as the agent typed it.
_FULL_WIDTH = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "\u3000": " ", "\u00a0": " ",
                             "＋": "+", "－": "-", "．": ".", "—": "-", "‐": "-", "‑": "-", "–": "-"})


def normalize_for_masking(text: str) -> str:
    """Full-width digits, plus, dashes, dots and spaces folded to ASCII and spoken digit runs made digits,
    so that every later pattern sees one spelling of a number."""
    return _SPOKEN_RUN.sub(_spoken, text.translate(_FULL_WIDTH))


def mask(text: str) -> str:
    """The text, normalised, with personal numbers and addresses replaced by tags such as 【手机号】."""
    if not text:
        return text
    text = normalize_for_masking(text)
    text = EMAIL.sub(TAGS["email"], text)
    text = ID_CARD.sub(lambda m: TAGS["id"] if valid_id_number(m.group(1)) else m.group(0), text)

    def _bank(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(1))
        named = bool(_CARD_CONTEXT.search(text[max(0, m.start() - 8) : m.start()]))
        if 16 <= len(digits) <= 19 and (luhn_ok(digits) or named):
            return TAGS["bank"]
        return m.group(0)

    text = BANK_CARD.sub(_bank, text)
    text = ID_CARD_15.sub(TAGS["id"], text)
    text = MOBILE.sub(TAGS["mobile"], text)
    return LANDLINE.sub(TAGS["landline"], text)


class MaskingFilter(logging.Filter):
    """Masks every log record's final message, whatever the logger or the arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Arguments are masked in place, keeping their shape: uvicorn's formatters unpack them.
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask(record.exc_text)
        message = record.getMessage()
        masked = mask(message)
        if masked == message:
            return True
        if isinstance(record.args, tuple):
            record.args = tuple(mask(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: mask(v) if isinstance(v, str) else v for k, v in record.args.items()}
        if isinstance(record.msg, str):
            record.msg = mask(record.msg)
        if record.getMessage() != masked:
            record.msg, record.args = masked, ()
        return True


def install_log_masking(logger: logging.Logger | None = None) -> None:
    """Attach the masking filter to every handler of ``logger`` (root by default), idempotently."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
    if not any(isinstance(f, MaskingFilter) for f in target.filters):
        target.addFilter(MaskingFilter())
