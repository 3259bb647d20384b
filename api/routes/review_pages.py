"""The reviewer's and the manager's pages: /review, /review/gaps, /manage/drafts (templates over the JSON API)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.routes.pages import templates

router = APIRouter(include_in_schema=False)


def _page(request: Request, name: str) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"kbs": request.app.state.settings.kbs})


@router.get("/review", response_class=HTMLResponse)
def review_page(request: Request) -> HTMLResponse:
    return _page(request, "review.html")


@router.get("/review/gaps", response_class=HTMLResponse)
def gaps_page(request: Request) -> HTMLResponse:
    return _page(request, "gaps.html")


@router.get("/manage/drafts", response_class=HTMLResponse)
def drafts_page(request: Request) -> HTMLResponse:
    return _page(request, "drafts.html")
