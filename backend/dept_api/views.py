"""Department systems push records (归集) here: `/api/dept/v1/`, signed requests (see auth.py)."""

from __future__ import annotations

import sqlalchemy as sa
from apiflask import APIBlueprint
from flask import current_app, g, request

from ..actors import Actor
from ..db_session import commit_refusal
from ..errors import ApiError, Conflict, NotFound
from ..extensions import db
from ..imports import messages as msg
from ..imports.models import ImportBatch, ImportStatus
from ..imports.operations import API_CHANNEL, batch_errors, import_records
from ..imports.parsing import RowValidator, validate_api_records
from ..records.models import CreditRecord
from ..records.operations import TierNotDerived, confirm_record_tier, derived_tier_records
from ..records.publicity import PublicityRules
from .auth import KEY_HEADER, NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, authenticate_request
from .schemas import BatchOut, DerivedTierOut, DerivedTiersIn, DerivedTiersOut, RecordBatchIn, TierConfirmIn

bp = APIBlueprint("dept_api", __name__, url_prefix="/api/dept/v1", tag="部门数据报送")

SECURITY_SCHEMES = {
    "CreditKey": {
        "type": "apiKey",
        "in": "header",
        "name": KEY_HEADER,
        "description": "部门 API 密钥编号（在管理后台签发）。每个请求还必须带 "
        f"{TIMESTAMP_HEADER}（Unix 秒）、{NONCE_HEADER}（16-64 位一次性随机串）和 {SIGNATURE_HEADER}："
        "十六进制 HMAC-SHA256(密钥, METHOD + \\n + PATH + \\n + QUERY + \\n + TIMESTAMP + \\n + NONCE + \\n + "
        "hex(SHA256(请求体)))。PATH 不含查询串；QUERY 为规范化查询串（无查询串时为空）：按 & 拆分（忽略空段），"
        "每段在第一个 = 处分为名和值（无 = 时值为空），+ 视为空格，百分号解码为字节后重新编码"
        "（除 A-Z a-z 0-9 - _ . ~ 外的字节一律编码为大写 %XX），按编码后的名、值排序，以 name=value 用 & 连接"
        "（与 AWS Signature V4 的规范查询串相同）。例：b=2&a=1 签名为 a=1&b=2。"
        "国密：另带请求头 X-Credit-Signature-Method: HMAC-SM3 时，签名改用 HMAC-SM3，末行改为 hex(SM3(请求体))。"
        "参考实现：backend/dept_api/auth.py 的 sign_request 与 canonical_query。",
    },
    "CreditTimestamp": {"type": "apiKey", "in": "header", "name": TIMESTAMP_HEADER},
    "CreditNonce": {"type": "apiKey", "in": "header", "name": NONCE_HEADER},
    "CreditSignature": {"type": "apiKey", "in": "header", "name": SIGNATURE_HEADER},
}
SECURITY = [{name: [] for name in SECURITY_SCHEMES}]  # all four headers together
AUTH_RESPONSES = {
    401: "签名认证失败：missing_credentials、unknown_key、stale_timestamp、invalid_nonce、"
    "invalid_signature、replayed_nonce、invalid_signature_method、signature_method_refused",
    403: "部门已停用（department_inactive）",
}


@bp.record_once
def _document_security(state) -> None:
    # The schemes live in the app config that APIFlask reads when it builds /openapi.json.
    schemes = dict(state.app.config.get("SECURITY_SCHEMES") or {})
    schemes.update(SECURITY_SCHEMES)
    state.app.config["SECURITY_SCHEMES"] = schemes


@bp.before_request
def _authenticate() -> None:
    g.department, g.api_key = authenticate_request()


@bp.post("/records")
@bp.input(RecordBatchIn, arg_name="payload")
@bp.output(BatchOut)
@bp.doc(
    summary="报送信用记录",
    description="一次报送一批记录（行政处罚、行政许可等）。同一部门同一决定文书号的记录再次报送即更新；"
    "内容未变则不变。默认保存正确的记录并逐条报告错误（errors 中的 index 为数组序号）；"
    "atomic 为 true 时任一记录有错误则整批不保存，返回 422（error.details 中含同样的批次结果）。",
    security=SECURITY,
    responses={
        **AUTH_RESPONSES,
        413: "记录数超过 DEPT_API_MAX_BATCH（batch_too_large）",
        422: "请求格式错误或 atomic 批次被拒绝",
    },
)
def submit_records(payload):
    settings = current_app.extensions["settings"]
    records = payload["records"]
    if len(records) > settings.DEPT_API_MAX_BATCH:
        raise ApiError(
            msg.BATCH_TOO_LARGE.format(limit=settings.DEPT_API_MAX_BATCH, count=len(records)),
            code="batch_too_large",
            status=413,
            details={"limit": settings.DEPT_API_MAX_BATCH, "count": len(records)},
        )
    department = g.department
    validator = RowValidator.for_department(department, uscc_allowlist=settings.USCC_LEGACY_ALLOWLIST)
    items, unknown = validate_api_records(records, validator)
    batch = import_records(
        Actor.department(department, ip=request.remote_addr),
        department,
        items,
        channel=API_CHANNEL,
        atomic=payload["atomic"],
    )
    body = _batch_body(batch, unknown)
    if batch.atomic and batch.status is ImportStatus.REJECTED:
        # The rejected batch and its errors stay on record for the department.
        commit_refusal()
        raise ApiError(
            msg.BATCH_REJECTED.format(count=batch.error_count),
            code="batch_rejected",
            status=422,
            details=BatchOut().dump(body),
        )
    return body


@bp.get("/batches/<int:batch_id>")
@bp.output(BatchOut)
@bp.doc(
    summary="查询报送批次",
    description="本部门的批次结果与逐条错误；其他部门的批次视为不存在。",
    security=SECURITY,
    responses={**AUTH_RESPONSES, 404: "批次不存在"},
)
def get_batch(batch_id: int):
    batch = db.session.scalar(
        sa.select(ImportBatch).where(ImportBatch.id == batch_id, ImportBatch.department_id == g.department.id)
    )
    if batch is None:
        raise NotFound(msg.BATCH_NOT_FOUND)
    body = _batch_body(batch, [])
    return body


@bp.get("/records/derived-tiers")
@bp.input(DerivedTiersIn, location="query", arg_name="query")
@bp.output(DerivedTiersOut)
@bp.doc(
    summary="待确认的推定处罚等级",
    description="本部门报送时未填写处罚等级、由本市规则推定等级的行政处罚记录（tier_derived 为 true），"
    "按决定日期倒序。用 POST /api/dept/v1/records/tier 确认或更改。",
    security=SECURITY,
    responses=AUTH_RESPONSES,
)
def list_derived_tiers(query):
    records = list(db.session.scalars(derived_tier_records(g.department.id, limit=query["limit"])))
    body = {"records": records, "count": len(records)}
    return body


@bp.post("/records/tier")
@bp.input(TierConfirmIn, arg_name="payload")
@bp.output(DerivedTierOut)
@bp.doc(
    summary="确认或更改推定的处罚等级",
    description="按决定文书号确认（同一等级）或更改（另一等级）本市规则推定的处罚等级；公示期限随之重新计算，"
    "该记录增加一个版本。文件或接口此后再报送同一记录而不带等级时，保留已确认的等级。",
    security=SECURITY,
    responses={**AUTH_RESPONSES, 404: "记录不存在", 409: "该记录的处罚等级不是推定的（tier_not_derived）"},
)
def confirm_tier(payload):
    record = db.session.scalar(
        sa.select(CreditRecord).where(
            CreditRecord.department_id == g.department.id,
            CreditRecord.decision_number == payload["decision_number"],
        )
    )
    if record is None:
        raise NotFound(msg.RECORD_NOT_FOUND)
    settings = current_app.extensions["settings"]
    try:
        confirm_record_tier(
            Actor.department(g.department, ip=request.remote_addr),
            record,
            payload["tier"],
            PublicityRules.from_settings(settings),
        )
    except TierNotDerived:
        raise Conflict(msg.TIER_NOT_DERIVED, code="tier_not_derived") from None
    return record


def _batch_body(batch: ImportBatch, unknown_fields: list[str]) -> dict:
    return {
        "batch_id": batch.id,
        "status": batch.status.value,
        "atomic": batch.atomic,
        "total": batch.total_rows,
        "created": batch.created_count,
        "updated": batch.updated_count,
        "unchanged": batch.unchanged_count,
        "error_rows": batch.error_count,
        "message": batch.message,
        "unknown_fields": unknown_fields,
        "errors": [{"index": e.row_number, "field": e.column, "reason": e.reason} for e in batch_errors(batch)],
        "started_at": batch.started_at,
        "finished_at": batch.finished_at,
    }
