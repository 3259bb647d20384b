"""Following a call: from a running transcript to suggestions for the agent.

Speech recognition sends many fragments per second, most of them partial
hypotheses that the next fragment replaces. Searching on each would cost the
agent nothing but flicker and the service a query per fragment, so
``CallState`` decides when the caller's words have changed enough: a final
caller utterance with new content words, or enough new content words in a
partial one. Everything here except ``Assistant.suggest`` is pure.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from kb.errors import InvalidQuery
from kb.textnorm import normalize

MAX_FRAGMENT_CHARS = 2000
MAX_QUERY_CHARS = 300
NEW_WORDS_THRESHOLD = 3

FILLERS = re.compile(r"嗯+|啊+|呃+|哎+|唉+|哦+|噢+|诶+|那个|就是说|就是|然后|这个|对对对|对对|你知道吧|怎么说呢|我跟你说|喂+|您好|你好")
_QUESTION = re.compile(r"怎么|多少|吗|呢|哪|什么|能不能|可不可以|可以不|如何|咋|几|是不是|有没有|[?？]")
_SENTENCE = re.compile(r"[。！？!?；;\n]+")


@dataclass(frozen=True)
class Utterance:
    speaker: str
    text: str
    t: float
    final: bool


def parse_utterance(message: Any) -> Utterance:
    """A validated utterance, or InvalidQuery with the Chinese reason (shown to the agent)."""
    if not isinstance(message, dict):
        raise InvalidQuery("消息应为 JSON 对象")
    if message.get("type") != "utterance":
        raise InvalidQuery(f"不支持的消息类型“{message.get('type')}”，应为 utterance")
    speaker = message.get("speaker")
    if speaker not in ("caller", "agent"):
        raise InvalidQuery("speaker 应为 caller（来电人）或 agent（坐席）")
    text = message.get("text")
    if not isinstance(text, str):
        raise InvalidQuery("text 应为文本")
    if len(text) > MAX_FRAGMENT_CHARS:
        raise InvalidQuery(f"单条话语过长（{len(text)} 字），上限为 {MAX_FRAGMENT_CHARS} 字")
    t = message.get("t", 0.0)
    if isinstance(t, bool) or not isinstance(t, int | float):
        raise InvalidQuery("t 应为秒数")
    final = message.get("final", True)
    if not isinstance(final, bool):
        raise InvalidQuery("final 应为 true 或 false")
    return Utterance(speaker, text, float(t), final)


def clean_spoken(text: str) -> str:
    """Fillers and repeated punctuation removed: what a search should see of spoken text."""
    text = FILLERS.sub("", normalize(text))
    text = re.sub(r"[，,、\s]{2,}", "，", text)
    return text.strip("，, ")


def questions_in(text: str) -> list[str]:
    """The caller's sentences that ask something, last two, cleaned."""
    found = [clean_spoken(s) for s in _SENTENCE.split(text) if _QUESTION.search(s)]
    return [q for q in found if q][-2:]


@dataclass
class CallState:
    """The transcript so far and the words last searched for."""

    tokens: Callable[[str], list[str]]
    finals: list[Utterance] = field(default_factory=list)
    partial: dict[str, Utterance] = field(default_factory=dict)
    searched_words: set[str] = field(default_factory=set)
    count: int = 0

    def add(self, u: Utterance) -> bool:
        """Record a fragment; True when the caller's text changed enough to search again."""
        self.count += 1
        if u.final:
            self.partial.pop(u.speaker, None)
            if u.text.strip():
                self.finals.append(u)
        else:
            self.partial[u.speaker] = u
        if u.speaker != "caller":
            return False
        new = self.content_words() - self.searched_words
        if not new:
            return False
        return u.final or len(new) >= NEW_WORDS_THRESHOLD

    def caller_text(self) -> str:
        parts = [u.text for u in self.finals if u.speaker == "caller"]
        if "caller" in self.partial:
            parts.append(self.partial["caller"].text)
        return "。".join(p.strip("。 ") for p in parts if p.strip())

    def content_words(self) -> set[str]:
        return {w for w in self.tokens(clean_spoken(self.caller_text())) if len(w) >= 2}

    def query(self) -> str:
        """The caller's recent words without fillers, at most MAX_QUERY_CHARS, questions last."""
        text = clean_spoken(self.caller_text())
        return text[-MAX_QUERY_CHARS:]

    def mark_searched(self) -> None:
        self.searched_words = self.content_words()


@dataclass
class Suggestions:
    type: str
    seq: int
    fragment: int
    query: str
    questions: list[str]
    topic: str | None
    district: str | None
    street: str | None
    reply: dict | None
    clause: dict | None
    clauses: list[dict]
    answer: dict | None
    contact: dict | None
    risk: dict
    took_ms: float

    def to_json(self) -> dict:
        return asdict(self)


def _clause_json(hit) -> dict:
    c = hit.chunk
    return {"id": c.id, "doc_id": c.doc_id, "title": c.title, "doc_no": c.doc_no, "article": c.article,
            "status": c.status, "effective": c.effective, "snippet": hit.snippet, "text": c.text,
            "successor": c.extra.get("successor") or None}


class Assistant:
    """Search, reply, places and risk for one snapshot of a call; shared by the socket and POST."""

    def __init__(self, service, replies, risk) -> None:
        self.service = service  # kb.service.KnowledgeService
        self.replies = replies  # kb.reply.service.ReplyService
        self.risk = risk  # kb.classify.risk.RiskDetector | None

    def new_call(self) -> CallState:
        return CallState(self.service.tokenizer.tokens)

    def suggest(self, kb: str, state: CallState, seq: int = 0, district: str | None = None,
                street: str | None = None) -> Suggestions:
        from kb.search import SearchRequest

        started = time.perf_counter()
        raw = state.caller_text()
        query = state.query()
        state.mark_searched()
        found_d, found_s = self.service.contacts(kb).places.find(normalize(raw))
        district, street = district or found_d, street or found_s
        risk = self.risk.detect(raw).to_json() if self.risk and raw else {"level": "none", "signals": []}
        empty = Suggestions("suggestions", seq, state.count, query, questions_in(raw), None, district, street, None,
                            None, [], None, None, risk, 0.0)
        if not query:
            empty.took_ms = round((time.perf_counter() - started) * 1000, 2)
            return empty
        reply = self.replies.reply(query, kb, district, street)
        policies = self.service.search(kb, SearchRequest(query, top_k=3, libraries=["policy"], district=district)).hits
        answers = self.service.search(kb, SearchRequest(query, top_k=1, libraries=["answer"], district=district)).hits
        answer_basis = next((b for b in reply.basis if b["type"] == "answer"), None)
        policy_basis = next((b for b in reply.basis if b["type"] == "policy"), None)
        clauses = [_clause_json(h) for h in policies]
        if policy_basis and all(c["id"] != policy_basis["id"] for c in clauses[:1]):
            chunk = self.service.index(kb).chunks[self.service.index(kb).position[policy_basis["id"]]]
            from kb.records import Hit

            clauses = [_clause_json(Hit(chunk, 1.0, policy_basis["excerpt"]))] + \
                [c for c in clauses if c["id"] != policy_basis["id"]][:2]
        if answer_basis:
            answer = {"id": answer_basis["id"], "title": answer_basis["title"], "text": answer_basis["excerpt"]}
        elif answers:
            a = answers[0].chunk
            answer = {"id": a.id, "title": a.title, "text": a.text}
        else:
            answer = None
        topics = (answer_basis or {}).get("topics") or (answers[0].chunk.topics if answers else [])
        contact = reply.contacts[0] if reply.contacts else None
        return Suggestions(
            "suggestions", seq, state.count, query, questions_in(raw), topics[0] if topics else None,
            reply.district or district, reply.street or street,
            {"text": reply.reply, "escalate": reply.escalate, "escalate_reason": reply.escalate_reason,
             "follow_up": reply.follow_up, "confidence": reply.confidence},
            clauses[0] if clauses else None, clauses, answer, contact, risk,
            round((time.perf_counter() - started) * 1000, 2))


def snapshot(assistant: Assistant, kb: str, transcript: list[Utterance]) -> Suggestions:
    """Suggestions for a whole transcript at once (POST /v1/assist, evaluation)."""
    state = assistant.new_call()
    for u in transcript:
        state.add(u)
    return assistant.suggest(kb, state)
