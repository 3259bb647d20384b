"""The agent console (/), the ticket page (/tickets) and the report page (/reports): templates over the same JSON API."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

WEB = Path(__file__).resolve().parent.parent / "web"
templates = Jinja2Templates(directory=str(WEB / "templates"))
router = APIRouter(include_in_schema=False)


def static_files() -> StaticFiles:
    return StaticFiles(directory=str(WEB / "static"))


@router.get("/", response_class=HTMLResponse)
def console(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "console.html", {"kbs": request.app.state.settings.kbs})


@router.get("/tickets", response_class=HTMLResponse)
def tickets(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "tickets.html", {"kbs": request.app.state.settings.kbs})


@router.get("/reports", response_class=HTMLResponse)
def reports(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "reports.html", {"kbs": request.app.state.settings.kbs})
