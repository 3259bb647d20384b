"""Who is calling, and may they: one dependency per role group, applied on the routers.

A request carries ``Authorization: Bearer <key>`` or the console's session cookie.
With ``KB_AUTH=off`` (only allowed on a loopback address) everyone is a local admin.
The role rule itself (who may read which audit trail, …) is written once, above ``ROLES`` in kb/keys.py.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from kb.errors import Forbidden, NotAuthenticated
from kb.keys import ROLE_NAMES, KeyStore, Principal

SESSION_COOKIE = "kb_session"
LOCAL = Principal("local", "admin")


def get_keys(request: HTTPConnection) -> KeyStore:
    return request.app.state.keys


def get_principal(request: HTTPConnection) -> Principal:
    settings = request.app.state.settings
    if settings.auth == "off":
        return LOCAL
    keys: KeyStore = request.app.state.keys
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("Authorization 头格式应为“Bearer <密钥>”")
        principal = keys.authenticate(token.strip())
    elif cookie := request.cookies.get(SESSION_COOKIE):
        principal = keys.session(cookie, settings.session_idle_minutes)
    else:
        raise NotAuthenticated("需要登录：请在请求头 Authorization: Bearer <密钥> 中提供密钥，或在控制台登录")
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(*roles: str):
    """A dependency that lets through these roles (and admin)."""

    def check(principal: PrincipalDep) -> Principal:
        if not principal.allows(*roles):
            allowed = "、".join(ROLE_NAMES[r] for r in (*roles, "admin"))
            raise Forbidden(f"当前身份“{principal.name}”（{ROLE_NAMES.get(principal.role, principal.role)}）无权执行此操作，需要：{allowed}")
        return principal

    return check


ANY_ROLE = Depends(require("agent", "manager", "reviewer"))
MANAGER = Depends(require("manager"))
ADMIN = Depends(require())
AnyUser = Annotated[Principal, ANY_ROLE]
Manager = Annotated[Principal, MANAGER]
Admin = Annotated[Principal, ADMIN]
