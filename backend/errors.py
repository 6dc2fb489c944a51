"""One JSON error shape everywhere: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import errno
import logging
from typing import Any

from apiflask import Schema, fields
from flask import jsonify, request
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# Chinese messages for the HTTP errors werkzeug raises on its own.
HTTP_MESSAGES = {
    400: "请求格式不正确",
    401: "需要登录或认证",
    403: "没有权限访问",
    404: "请求的资源不存在",
    405: "不支持该请求方法",
    409: "请求与当前状态冲突",
    413: "上传内容过大",
    415: "不支持的内容类型",
    422: "请求参数校验未通过",
    429: "请求过于频繁，请稍后再试",
    500: "服务器内部错误，请稍后再试",
    503: "服务暂时不可用，请稍后再试",
}

# Seconds a client is told to wait when the database cannot be reached (503 + Retry-After).
DATABASE_RETRY_AFTER = 5
# A write refused by the file system (full, over quota, read-only): the service is degraded, the
# request was fine. Anything else from the OS is a bug (500).
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
STORAGE_UNAVAILABLE = "文件存储暂时不可用，本次操作未完成，请稍后再试"


class ErrorDetailSchema(Schema):
    code = fields.String(metadata={"description": "机器可读的错误代码，如 invalid_uscc"})
    message = fields.String(metadata={"description": "给用户看的中文说明"})
    details = fields.Dict(metadata={"description": "补充信息，如出错的位置 position、字段错误"})


class ErrorSchema(Schema):
    """The one error shape of every JSON endpoint, documented in /openapi.json."""

    error = fields.Nested(ErrorDetailSchema)


class ApiError(Exception):
    """A domain or request error with a user-facing Chinese message."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details or {}


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Conflict(ApiError):
    status = 409
    code = "conflict"


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def wants_json() -> bool:
    path = request.path
    if path.startswith(("/api/", "/kiosk/api/", "/.well-known/", "/healthz", "/readyz", "/openapi")):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and not path.startswith("/admin")


STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


def register_error_handlers(app) -> None:
    """Register the one error shape on an APIFlask app (JSON) with HTML for browser pages."""

    @app.error_processor
    def handle_http_error(exc):
        status = exc.status_code
        if not wants_json():
            return HTTP_MESSAGES.get(status, "请求失败"), status, {"Content-Type": "text/html; charset=utf-8"}
        details: dict[str, Any] = {}
        if isinstance(exc.detail, dict) and exc.detail:
            details = exc.detail
        message = HTTP_MESSAGES.get(status, "请求失败")
        if status == 400 and not details:
            message = "请求格式不正确：请检查 JSON 或参数"
        headers = {k: v for k, v in (exc.headers or {}).items() if k in ("Retry-After", "Allow", "WWW-Authenticate")}
        return error_body(STATUS_CODES.get(status, "http_error"), message, details), status, headers

    @app.errorhandler(ApiError)
    def handle_api_error(exc: ApiError):
        return jsonify(error_body(exc.code, exc.message, exc.details)), exc.status

    @app.errorhandler(sa_exc.OperationalError)
    @app.errorhandler(sa_exc.InterfaceError)
    @app.errorhandler(sa_exc.TimeoutError)
    def handle_database_unavailable(exc: Exception):
        return database_unavailable(exc)

    @app.errorhandler(OSError)
    def handle_os_error(exc: OSError):
        if exc.errno in STORAGE_ERRNOS:
            return storage_unavailable(exc)
        return handle_unexpected(exc)

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        if isinstance(exc, HTTPException):  # pragma: no cover - routed by APIFlask above
            return exc
        if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
            return database_unavailable(exc)
        from .pii import redacted_traceback

        log.error("unhandled error on %s %s\n%s", request.method, request.path, redacted_traceback(exc))
        _rollback()
        if not wants_json():
            return "服务器内部错误，请稍后再试", 500
        return jsonify(error_body("internal_error", HTTP_MESSAGES[500])), 500


def database_unavailable(exc: Exception):
    """The database is down, restarting or unreachable: a 503 the client may retry, not a 500.

    Only the exception's class is logged: SQLAlchemy's message carries the statement and its
    parameters, which can hold personal data."""
    log.warning(
        "database unavailable on %s %s: %s.%s",
        request.method,
        request.path,
        type(exc).__name__,
        type(getattr(exc, "orig", None)).__name__,
    )
    _rollback()
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER)}
    if not wants_json():
        return HTTP_MESSAGES[503], 503, {**headers, "Content-Type": "text/html; charset=utf-8"}
    return jsonify(error_body("database_unavailable", HTTP_MESSAGES[503])), 503, headers


def storage_unavailable(exc: OSError):
    """Storage full or read-only: 503, and the request's database work is rolled back (a report
    or material is registered only once its file is stored, so nothing half-written remains)."""
    log.error("file storage refused a write on %s %s: %s", request.method, request.path, errno.errorcode.get(exc.errno))
    _rollback()
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER)}
    if not wants_json():
        return STORAGE_UNAVAILABLE, 503, {**headers, "Content-Type": "text/html; charset=utf-8"}
    return jsonify(error_body("storage_unavailable", STORAGE_UNAVAILABLE)), 503, headers


def _rollback() -> None:
    """End the failed request's transaction now, so nothing of it is committed later and the
    connection goes back to the pool clean (a dead one is dropped; the pool reconnects)."""
    from .extensions import db

    try:
        db.session.rollback()
    except sa_exc.SQLAlchemyError:
        db.session.close()
