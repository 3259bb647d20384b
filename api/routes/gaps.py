"""Knowledge gaps (manager, reviewer): the list, its XLSX export, and a gap turned into a draft answer."""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.auth import require
from api.deps import get_service
from api.routes.drafts import draft_json
from api.routes.records import _check_kb
from api.schemas_review import DraftItem, GapDraftBody, GapItem
from kb.embedding import EmbeddingCache
from kb.errors import NotFound
from kb.gaps import Gap, draft_answer, find_gaps, question_vectors
from kb.keys import Principal

router = APIRouter(prefix="/v1/kbs/{kb}", tags=["gaps"])
ManagerOrReviewer = Annotated[Principal, Depends(require("manager", "reviewer"))]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _since(day: dt.date | None) -> dt.datetime | None:
    """The start of that Beijing day, in UTC."""
    if day is None:
        return None
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone(dt.timedelta(hours=8))).astimezone(dt.UTC)


def _gaps(request: Request, kb: str, since: dt.date | None) -> list[Gap]:
    _check_kb(request, kb)
    service = get_service(request)
    settings = request.app.state.settings
    cache = getattr(request.app.state, "query_vectors", None)
    if cache is None:
        cache = request.app.state.query_vectors = EmbeddingCache(settings.embed_cache_path)
    return find_gaps(request.app.state.interactions, service.index(kb),
                     lambda qs: question_vectors(service.embedder, cache, qs), kb, _since(since),
                     settings.gap_min_cosine, settings.gap_distance, settings.gap_max_questions)


@router.get("/gaps", response_model=list[GapItem])
async def gaps(request: Request, kb: str, _: ManagerOrReviewer, since: dt.date | None = None) -> list[dict]:
    return [g.to_json() for g in await run_in_threadpool(_gaps, request, kb, since)]


@router.get("/gaps.xlsx", response_class=Response, responses={200: {"content": {XLSX: {}}, "description": "缺口清单"}})
async def gaps_xlsx(request: Request, kb: str, _: ManagerOrReviewer, since: dt.date | None = None) -> Response:
    found = await run_in_threadpool(_gaps, request, kb, since)
    data = _workbook(kb, found)
    name = f"knowledge-gaps-{kb}-{dt.date.today().isoformat()}.xlsx"
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _workbook(kb: str, found: list[Gap]) -> bytes:
    """One row per gap, in the 行业问题清单 order: most asked first."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "知识缺口"
    ws.append(["序号", "缺口编号", "来电次数", "典型问法（已脱敏）", "原因", "最接近的记录", "记录编号", "相似度"])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for n, g in enumerate(found, start=1):
        closest = g.closest or {}
        ws.append([n, g.id, g.count, "\n".join(g.examples), "、".join(g.reasons), closest.get("title", ""),
                   closest.get("id", ""), closest.get("score")])
    for col, width in zip("ABCDEFGH", (6, 14, 10, 60, 16, 36, 30, 10)):
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=2):
        row[3].alignment = Alignment(wrap_text=True, vertical="top")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@router.post("/gaps/{gap_id}/draft", response_model=DraftItem, status_code=201)
async def gap_to_draft(request: Request, kb: str, gap_id: str, body: GapDraftBody, who: ManagerOrReviewer) -> dict:
    """One step: a draft standard answer from the gap's questions and its closest record, for approval."""
    found = await run_in_threadpool(_gaps, request, kb, body.since)
    gap = next((g for g in found if g.id == gap_id), None)
    if gap is None:
        raise NotFound(f"没有编号为“{gap_id[:20]}”的知识缺口（缺口随新来电重新分组，请刷新缺口列表）")
    closest = _closest_content(request, kb, gap)
    record = {**draft_answer(gap, closest, kb), **(body.record or {})}
    desk = request.app.state.drafts
    draft = await run_in_threadpool(desk.propose, kb, "answer", record, who.name, None, gap.id,
                                    f"由知识缺口 {gap.id} 生成（{gap.count} 次来电）")
    return draft_json(desk, draft)


def _closest_content(request: Request, kb: str, gap: Gap) -> dict[str, Any] | None:
    if gap.closest is None:
        return None
    state = request.app.state.store.find(kb, gap.closest["id"])
    if state is None:
        return {"id": gap.closest["id"]}
    content = dict(state.content)
    if state.library != "answer":
        content.pop("answer", None)
        index = get_service(request).index(kb)
        text = next((c.text for c in index.chunks if c.doc_id == state.id), "")
        content = {"id": state.id, "topics": content.get("topics", []), "text": text[:400]}
    return content
