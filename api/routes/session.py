"""Console login: a key exchanged for an HttpOnly, SameSite=Strict session cookie.

The key never travels in a URL and is never stored by the page. Failed logins
from one address are slowed down, so guessing keys over the network is useless.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.auth import SESSION_COOKIE, PrincipalDep, get_keys
from api.schemas_records import LoginBody, LoginResponse, Message
from kb.errors import NotAuthenticated

router = APIRouter(tags=["session"])
_WINDOW = 600.0
_failures: dict[str, list[float]] = {}


def _recent_failures(address: str) -> int:
    now = time.monotonic()
    recent = [t for t in _failures.get(address, []) if now - t < _WINDOW]
    _failures[address] = recent
    return len(recent)


@router.post("/v1/login", response_model=LoginResponse)
async def login(request: Request, response: Response, body: LoginBody) -> dict:
    settings = request.app.state.settings
    address = request.client.host if request.client else "unknown"
    delay = min(_recent_failures(address), 10) * settings.login_failure_delay
    if delay:
        await asyncio.sleep(delay)
    try:
        token, principal = await run_in_threadpool(get_keys(request).login, body.key.strip(), address)
    except NotAuthenticated:
        _failures.setdefault(address, []).append(time.monotonic())
        raise
    _failures.pop(address, None)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", path="/",
                        max_age=settings.session_idle_minutes * 60, secure=request.url.scheme == "https")
    return {"name": principal.name, "role": principal.role}


@router.post("/v1/logout", response_model=Message)
def logout(request: Request, response: Response) -> dict:
    if token := request.cookies.get(SESSION_COOKIE):
        get_keys(request).logout(token)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"detail": "已退出登录"}


@router.get("/v1/whoami", response_model=LoginResponse)
def whoami(principal: PrincipalDep) -> dict:
    return {"name": principal.name, "role": principal.role}
