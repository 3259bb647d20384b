"""The manager's pages (/manage …): templates only; every figure and every write goes through the JSON API.

Like the agent console, the pages are public and ask for a login on the first 401; the
routes they call need the manager role.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.routes.pages import templates

router = APIRouter(include_in_schema=False)
PAGES = {
    "": ("manage.html", "记录"),
    "/edit": ("manage_edit.html", "编辑记录"),
    "/upload": ("manage_upload.html", "上传文件"),
    "/check": ("manage_check.html", "检查报告"),
    "/audit": ("manage_audit.html", "审计记录"),
    "/lifecycle": ("manage_lifecycle.html", "政策生效与失效"),
}


def _page(template: str, title: str):
    def render(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, template, {"kbs": request.app.state.settings.kbs, "title": title})

    return render


for _suffix, (_template, _title) in PAGES.items():
    router.add_api_route("/manage" + _suffix, _page(_template, _title), methods=["GET"], response_class=HTMLResponse)
