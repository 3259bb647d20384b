"""Domain errors → HTTP answers, in one place, with the Chinese message in ``detail``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.middleware import BodyTooLarge
from api.validation import shorten
from kb.errors import (
    Conflict,
    EmbedderMismatch,
    EmbeddingEngineUnavailable,
    Forbidden,
    Gone,
    IndexNotReady,
    IngestFailed,
    InvalidQuery,
    KBError,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    PreconditionRequired,
    RecordInvalid,
    RecordNotFound,
    StaleRevision,
    UnknownKB,
)

STATUS: dict[type[KBError], int] = {
    InvalidQuery: 422,
    UnknownKB: 404,
    NotFound: 404,
    IndexNotReady: 503,
    EmbedderMismatch: 409,
    EmbeddingEngineUnavailable: 503,
    IngestFailed: 500,
    PayloadTooLarge: 413,
    RecordNotFound: 404,
    StaleRevision: 409,
    Conflict: 409,
    RecordInvalid: 422,
    PreconditionRequired: 428,
    NotAuthenticated: 401,
    Forbidden: 403,
    Gone: 410,
}

_FIELD_REASONS = {
    "missing": "缺少必填字段",
    "string_type": "应为文本",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "list_type": "应为列表",
    "json_invalid": "请求体不是合法的 JSON",
    "string_too_long": "内容过长",
    "string_too_short": "内容不能为空",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "too_long": "条目过多",
    "extra_forbidden": "不支持的字段",
    "string_pattern_mismatch": "格式无效（只能包含字母、数字、- 和 _）",
    "string_unicode": "文本中含有不完整的 Unicode 字符，请删除后重试",
    "too_short": "条目过少",
    "dict_type": "应为 JSON 对象",
    "model_type": "应为 JSON 对象",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "int_from_float": "应为整数",
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KBError)
    async def _kb_error(_: Request, exc: KBError) -> JSONResponse:
        status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 500)
        content: dict = {"detail": exc.message, "error": type(exc).__name__}
        if isinstance(exc, RecordInvalid):
            content["errors"] = exc.errors
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(status_code=status, content=content, headers=headers)

    @app.exception_handler(BodyTooLarge)
    async def _body_too_large(_request: Request, exc: BodyTooLarge) -> JSONResponse:
        return JSONResponse(status_code=413, content={"detail": exc.detail, "error": "PayloadTooLarge"},
                            headers={"connection": "close"})

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            loc = shorten(".".join(str(p) for p in e["loc"] if p != "body") or "请求体")
            reason = _FIELD_REASONS.get(e["type"], "内容无效")
            if e["type"] == "value_error":
                reason = str(e["msg"]).removeprefix("Value error, ")
            problems.append(f"{loc}：{reason}")
        return JSONResponse(status_code=422, content={"detail": "；".join(problems), "error": "InvalidRequest"})
