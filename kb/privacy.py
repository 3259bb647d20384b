"""Masking of callers' personal data before anything is logged or stored.

Tickets carry callers' names (来电人王女士, 我叫陈建国), mobile and landline numbers, ID card numbers, bank card
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


def mask(text: str, names: bool = True, known_names: tuple[str, ...] | list[str] = ()) -> str:
    """The text, normalised, with personal numbers and addresses replaced by tags such as 【手机号】 and, unless
    ``names`` is False, callers' names replaced as :func:`mask_names` does (``known_names`` from the record)."""
    if not text:
        return text
    if names:
        text = mask_names(text, known_names)
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


# --- Callers' names -------------------------------------------------------------------------------
# Tickets and transcripts name callers the way agents and callers speak: 来电人孙女士, 市民赵先生, 我叫王建国,
# 我姓李, 我是李大爷, 联系人：陈建国. jieba.posseg's ``nr`` tag was measured on the sample corpus and rejected: it
# tags 养老, 康复, 怀柔区 and 王府井 as names and splits 孙桂兰 into 孙/桂兰 (ns). Names are therefore found only
# where a cue says a person is named (a self-introduction, a caller label, a title after a surname); a
# surname character with nothing around it (回龙观, 高中, 左小腿) is left alone.
SURNAMES_2 = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "夏侯", "长孙",
              "宇文", "司徒", "端木", "独孤", "南宫", "西门", "轩辕", "澹台")
# Common single-character surnames; characters that are mostly function words (和 与 向 从 是 可 于…) are left
# out, since 工作人员向女士解释 or 关于女士 would otherwise read as a name.
SURNAMES_1 = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤"
    "易常乔赖文庞樊兰殷施陶洪翟安颜倪严牛温芦季俞章鲁葛伍申尤毕聂柴焦祝邢宁滕岳蒙韩齐沙柳耿关苗卞"
    "窦阎庄詹鲍凌柯裴单包佟栾戚冉麻舒霍穆车欧阮景桂靳刁迟晏伏曲管褚楚宫诸解裘甄栗邬巩谷荣练仲蓝花"
    "纪骆房左苑郁宗邓丛庞池乐辛司鞠华甘艾隋权阚豆索丰勾路涂游屈冀米贝柏路尚燕门")
# Titles that follow a surname when a person is named without the given name.
_TITLES = ("老先生", "老太太", "老大爷", "老奶奶", "老爷子", "女士", "先生", "小姐", "大爷", "大妈", "大娘", "大姐",
           "大哥", "阿姨", "奶奶", "爷爷", "老太", "老伯", "同志")
# What may directly follow a full name: punctuation, a title, or the verb of the sentence it opens.
_AFTER_NAME = ("，", "。", "、", "；", "：", ":", ",", ".", "（", "(", "）", ")", " ", "！", "？", "“", "”", "\"",
               "来电", "咨询", "反映", "称", "表示", "说", "投诉", "求助", "询问", "问", "想", "要求", "希望", "今年",
               "现年", "家住", "住在", "住", "是", "的", "在", "今", "年", "于", "男", "女", "身份证", "电话", "手机",
               "联系", "老人", "反馈", "诉求", "您", "你", "我", "他", "她", "啊", "呀", "吧", "呢", "嗯", "哈")
# Characters that end a given name: a given name never contains them, so 陈建国来电 stops before 来.
_NOT_GIVEN = frozenset("，。、；：:,.（()）！？“”\" 0123456789【】的是在了和与及或也都就还已有没不因称说问想要来咨反投求住家今现男女某"
                       "您你我他她啊呀吧呢嗯哈")
# 我是 / 本人是 are no cue for a full name (我是石景山的, 我是高中生 — jieba tags both nr); 我是李大爷 is still
# masked by its title. Cues after which a name follows. Strong cues name someone for certain (我叫 …); after weak cues (市民, 本人)
# a surname-like character is often an ordinary word (本人高中毕业), so a full name needs a clear end there.
_STRONG_CUES = ("我叫", "名叫", "名字叫", "名字是", "姓名是", "姓名为", "姓名：", "姓名:", "姓名", "联系人：", "联系人:",
                "联系人为", "联系人是", "联系人", "申请人：", "申请人:", "申请人", "老人叫", "老伴叫", "母亲叫", "父亲叫",
                "妈妈叫", "爸爸叫", "我妈叫", "我爸叫", "儿子叫", "女儿叫", "孩子叫", "爱人叫", "丈夫叫", "妻子叫",
                "老公叫", "媳妇叫", "他叫", "她叫", "叫做")
_WEAK_CUES = ("来电人：", "来电人:", "来电人", "来电市民", "市民", "居民", "村民", "本人叫", "本人",
              "业主", "患者", "老人", "求助人", "投诉人", "反映人", "当事人", "母亲", "父亲", "老伴", "妻子", "丈夫",
              "儿子", "女儿", "爱人")
_SURNAME_CUES = ("我姓", "免贵姓", "本人姓", "他姓", "她姓", "老人姓", "对方姓", "联系人姓", "来电人姓", "女士姓", "先生姓")
_SURNAME = "(?:" + "|".join(SURNAMES_2) + "|[" + "".join(sorted(SURNAMES_1)) + "])"
_TITLE_RE = re.compile(_SURNAME + "(?=" + "|".join(_TITLES) + ")")
_SURNAME_CUE_RE = re.compile("(" + "|".join(_SURNAME_CUES) + ")" + _SURNAME + "(?![某])")
_CUE_RE = re.compile("(" + "|".join(sorted(_STRONG_CUES + _WEAK_CUES, key=len, reverse=True)) + ")")
_SURNAME_AT = re.compile(_SURNAME)
# A full name before a title at the start of a clause (，刘建华女士来电): the clause start stands in for a cue.
_TITLED_FULL_RE = re.compile("(?:^|(?<=[，。；：:、,（(\\s“\"]))(" + _SURNAME + ")([\u4e00-\u9fff]{1,2}?)(?=" + "|".join(_TITLES) + ")")


def _title_at(text: str, i: int) -> bool:
    return text.startswith(_TITLES, i)


def _full_name_end(text: str, start: int, strong: bool) -> int | None:
    """End of the name starting at ``start`` (a surname), or None when no name starts there.

    The given name is one or two characters; the longest that ends cleanly (punctuation, a
    title, the sentence's verb, the end of the text) wins. After a strong cue an unclear end
    still takes two characters: masking one character too many is better than leaking a name.
    """
    m = _SURNAME_AT.match(text, start)
    if m is None:
        return None
    given_start = m.end()
    if _title_at(text, given_start):
        return None  # 李女士: handled as a title, not as a full name
    if _is_word(text, start, given_start):
        return None
    for length in (2, 1):
        end = given_start + length
        given = text[given_start:end]
        if len(given) < length or any(ch in _NOT_GIVEN or not "\u4e00" <= ch <= "\u9fff" for ch in given):
            continue
        if end == len(text) or text.startswith(_AFTER_NAME, end) or _title_at(text, end):
            return end
    if strong:
        given = text[given_start:given_start + 2]
        n = 0
        for ch in given:
            if ch in _NOT_GIVEN or not "\u4e00" <= ch <= "\u9fff":
                break
            n += 1
        return given_start + n if n else None
    return None


def _is_word(text: str, start: int, given_start: int) -> bool:
    """Whether the surname-like character at ``start`` opens an ordinary word (高中, 石景山, 江苏, 管理).

    jieba.posseg decides: a first word longer than the surname and not tagged as a person's name
    (nr*) is a word, not a name. Only consulted after a cue, so ordinary text never pays for it.
    """
    import jieba
    import jieba.posseg as pseg

    jieba.setLogLevel(logging.WARNING)
    from kb.places import DISTRICTS

    if text.startswith(tuple(d[:-1] for d in DISTRICTS), start):
        return True
    first = next(iter(pseg.cut(text[start:start + 8])), None)
    if first is None:
        return False
    return len(first.word) > given_start - start and not first.flag.startswith("nr")


def mask_names(text: str, known: tuple[str, ...] | list[str] = ()) -> str:
    """The text with callers' names replaced: a full name by surname + 某某 (陈建国 → 陈某某), a surname
    with a title by 某 + title (赵先生 → 某先生), 我姓李 by 我姓某.

    ``known`` holds names the caller's own record gives (an export's name column); each is replaced
    wherever it appears, cue or not. Office, street and policy names carry no cue and stay as written.
    """
    if not text:
        return text
    for name in sorted({n.strip() for n in known if n and len(n.strip()) >= 2}, key=len, reverse=True):
        text = text.replace(name, _masked_full(name))
    out: list[str] = []
    i = 0
    for m in _CUE_RE.finditer(text):
        if m.start() < i:
            continue
        cue = m.group(1)
        start = m.end()
        while start < len(text) and text[start] in "：: ":
            start += 1
        end = _full_name_end(text, start, cue in _STRONG_CUES)
        if end is None:
            continue
        out.append(text[i:start])
        out.append(_masked_full(text[start:end]))
        i = end
    out.append(text[i:])
    text = "".join(out)
    text = _SURNAME_CUE_RE.sub(lambda m: m.group(1) + "某", text)
    text = _TITLED_FULL_RE.sub(_titled_full, text)
    return _TITLE_RE.sub("某", text)


def _titled_full(m: re.Match[str]) -> str:
    if any(ch in _NOT_GIVEN for ch in m.group(2)) or _is_word(m.string, m.start(1), m.end(1)):
        return m.group(0)
    return m.group(1) + "某某"


def _masked_full(name: str) -> str:
    surname = name[:2] if name.startswith(SURNAMES_2) else name[:1]
    return surname + "某某"


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
