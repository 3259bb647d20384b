"""API keys, roles and console sessions.

Keys are 32 random bytes, so a plain SHA-256 of the key is as strong as a slow
password hash and costs nothing per request; only that digest is stored. A
console session is a second random token (HttpOnly cookie), stored by digest too,
and ends after a configurable idle time. Both live in the store of record, so
several service instances behind one database share them, and every key change
and login is audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Column, Integer, MetaData, String, Table, delete, insert, select, update

from kb.errors import Conflict, InvalidQuery, NotAuthenticated
from kb.store import RecordStore, append_audit, metadata, now_iso

# Who may do what (the routers apply it through api/auth.py ``require``; admin may do everything):
#   agent     search, reply, classify, contacts, changes, feedback, the call assistant
#   reviewer  + read records and the record forms (review queue and drafts: their own routes)
#   manager   + edit, retire, restore and upload records, the check report, the lifecycle, and the audit trail of
#             a knowledge base (GET /v1/kbs/{kb}/audit: only entries that name that kb - edits, ingests, publishes)
#   admin     + the whole audit trail (GET /v1/audit, incl. key changes and logins), export, keys
ROLES = ("agent", "manager", "reviewer", "admin")
ROLE_NAMES = {"agent": "坐席/工单处理", "manager": "知识管理员", "reviewer": "质检评审", "admin": "系统管理员"}
NAME = re.compile(r"^[A-Za-z0-9_\-.\u4e00-\u9fff]{1,64}$")

api_keys = Table(
    "api_keys",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created", String(32), nullable=False),
    Column("revoked", String(32)),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("key_name", String(64), nullable=False),
    Column("created", String(32), nullable=False),
    Column("last_seen", Integer, nullable=False),
)

_ = MetaData  # the tables join the store's metadata, created with it


@dataclass(frozen=True)
class Principal:
    name: str
    role: str

    def allows(self, *roles: str) -> bool:
        return self.role == "admin" or self.role in roles


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class KeyStore:
    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self.engine = store.engine

    def create(self, name: str, role: str, actor: str = "cli") -> str:
        if not NAME.match(name):
            raise InvalidQuery(f"密钥名称“{name[:40]}”无效：1–64 个字符，只能包含字母、数字、汉字、-、_、.")
        if role not in ROLES:
            raise InvalidQuery(f"角色“{role[:20]}”无效，可选：{'、'.join(ROLES)}")
        key = "kb_" + secrets.token_urlsafe(32)
        with self.store.transaction() as c:
            if c.execute(select(api_keys.c.name).where(api_keys.c.name == name)).first():
                raise Conflict(f"已有名为“{name}”的密钥；如需更换请先吊销（kb keys revoke {name}）")
            c.execute(insert(api_keys).values(name=name, role=role, key_hash=_digest(key), created=now_iso()))
            append_audit(c, actor=actor, action="key_create", reason=f"{name}（{role}）", details={"name": name, "role": role})
        return key

    def list(self) -> list[dict]:
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(select(api_keys.c.name, api_keys.c.role, api_keys.c.created,
                                                      api_keys.c.revoked).order_by(api_keys.c.name)).mappings()]

    def revoke(self, name: str, actor: str = "cli") -> None:
        with self.store.transaction() as c:
            result = c.execute(update(api_keys).where(api_keys.c.name == name, api_keys.c.revoked.is_(None))
                               .values(revoked=now_iso()))
            if result.rowcount != 1:
                raise NotFoundKey(f"没有名为“{name[:40]}”的有效密钥")
            c.execute(delete(sessions).where(sessions.c.key_name == name))
            append_audit(c, actor=actor, action="key_revoke", reason=name, details={"name": name})

    def authenticate(self, key: str) -> Principal:
        with self.engine.connect() as c:
            row = c.execute(select(api_keys.c.name, api_keys.c.role).where(
                api_keys.c.key_hash == _digest(key), api_keys.c.revoked.is_(None))).first()
        if row is None:
            raise NotAuthenticated("密钥无效或已被吊销")
        return Principal(row.name, row.role)

    # ---- console sessions ----------------------------------------------------------------------
    def login(self, key: str, address: str) -> tuple[str, Principal]:
        principal = self.authenticate(key)
        token = secrets.token_urlsafe(32)
        with self.store.transaction() as c:
            c.execute(insert(sessions).values(token_hash=_digest(token), key_name=principal.name, created=now_iso(),
                                              last_seen=_now_s()))
            append_audit(c, actor=principal.name, action="login", reason=f"来自 {address}")
        return token, principal

    def session(self, token: str, idle_minutes: int) -> Principal:
        now = _now_s()
        with self.store.transaction() as c:
            row = c.execute(select(sessions.c.key_name, sessions.c.last_seen, api_keys.c.role)
                            .join(api_keys, api_keys.c.name == sessions.c.key_name)
                            .where(sessions.c.token_hash == _digest(token), api_keys.c.revoked.is_(None))).first()
            if row is None:
                raise NotAuthenticated("登录已失效，请重新登录")
            if now - row.last_seen > idle_minutes * 60:
                c.execute(delete(sessions).where(sessions.c.token_hash == _digest(token)))
                raise NotAuthenticated("长时间未操作，登录已过期，请重新登录")
            if now - row.last_seen > 30:
                c.execute(update(sessions).where(sessions.c.token_hash == _digest(token)).values(last_seen=now))
        return Principal(row.key_name, row.role)

    def logout(self, token: str) -> None:
        with self.store.transaction() as c:
            row = c.execute(select(sessions.c.key_name).where(sessions.c.token_hash == _digest(token))).first()
            c.execute(delete(sessions).where(sessions.c.token_hash == _digest(token)))
            if row:
                append_audit(c, actor=row.key_name, action="logout")


class NotFoundKey(InvalidQuery):
    """Revoking a key that does not exist or is already revoked."""


def _now_s() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp())
