"""Following a call: WebSocket /v1/assist/stream and POST /v1/assist (one snapshot).

Transport only; when to search and what to suggest is kb/assist.py. A bad message
is answered with a Chinese error on the socket and the call goes on.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, BackgroundTasks, Request, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ServiceDep
from api.recording import index_version, remember
from kb.assist import Assistant, parse_utterance, snapshot
from kb.errors import KBError
from kb.interactions import Interaction

router = APIRouter()

MAX_MESSAGE_BYTES = 16 * 1024


class AssistBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kb: str = "minzheng"
    transcript: list[dict] = Field(max_length=500)


class SuggestionsResponse(BaseModel):
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


def _assistant(app) -> Assistant:
    assistant = getattr(app.state, "assistant", None)
    if assistant is None:
        from kb.errors import IndexNotReady

        raise IndexNotReady("服务正在启动，跟随通话尚未就绪，请稍后再试")
    return assistant


@router.post("/v1/assist", response_model=SuggestionsResponse)
async def assist(body: AssistBody, service: ServiceDep, request: Request, background: BackgroundTasks) -> dict:
    service.contacts(body.kb)
    utterances = []
    for n, raw in enumerate(body.transcript, start=1):
        try:
            utterances.append(parse_utterance(raw))
        except KBError as exc:
            exc.message = f"第{n}条话语：{exc.message}"
            raise
    out = (await run_in_threadpool(snapshot, _assistant(request.app), body.kb, utterances)).to_json()
    reply = out.get("reply")
    if reply and out.get("query"):
        shown = {"reply": reply.get("text", ""), "ids": [out["answer"]["id"]] if out.get("answer") else [],
                 "escalate": bool(reply.get("escalate")), "escalate_reason": reply.get("escalate_reason"),
                 "confidence": reply.get("confidence")}
        remember(request, background, [Interaction(body.kb, "reply", out["query"], shown, escalated=shown["escalate"])],
                 index_version(request, body.kb))
    return out


@router.websocket("/v1/assist/stream")
async def assist_stream(ws: WebSocket, kb: str = "minzheng") -> None:
    await ws.accept()
    assistant = _assistant(ws.app)
    try:
        assistant.service.contacts(kb)
    except KBError as exc:
        await ws.send_json({"type": "error", "detail": exc.message})
        await ws.close(code=1008)
        return
    state = assistant.new_call()
    seq = 0
    try:
        while True:
            raw = await ws.receive_text()
            if len(raw.encode("utf-8")) > MAX_MESSAGE_BYTES:
                await ws.send_json({"type": "error", "detail": f"消息过大（{len(raw.encode('utf-8'))} 字节），上限为 {MAX_MESSAGE_BYTES} 字节"})
                continue
            try:
                message = json.loads(raw)
            except ValueError:
                await ws.send_json({"type": "error", "detail": "消息不是合法的 JSON"})
                continue
            try:
                if isinstance(message, dict) and message.get("type") == "reset":
                    state, seq = assistant.new_call(), 0
                    await ws.send_json({"type": "reset"})
                    continue
                utterance = parse_utterance(message)
                if not state.add(utterance):
                    await ws.send_json({"type": "ack", "fragment": state.count})
                    continue
                seq += 1
                result = await run_in_threadpool(assistant.suggest, kb, state, seq)
                await ws.send_json(result.to_json())
            except KBError as exc:
                await ws.send_json({"type": "error", "detail": exc.message})
    except WebSocketDisconnect:
        return
