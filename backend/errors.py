"""One JSON error shape everywhere: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging
from typing import Any

from apiflask import Schema, fields
from flask import jsonify, request
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
    if path.startswith(("/api/", "/.well-known/", "/healthz", "/readyz", "/openapi")):
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

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        if isinstance(exc, HTTPException):  # pragma: no cover - routed by APIFlask above
            return exc
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not wants_json():
            return "服务器内部错误，请稍后再试", 500
        return jsonify(error_body("internal_error", HTTP_MESSAGES[500])), 500
