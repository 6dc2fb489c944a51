"""The mini-program API (/api/mp/v1): parse, authenticate, call one operation, serialize.

WeChat is called before anything is written in a request (see client.py), and every view
commits once at its end. Business rules live in backend/workflows and backend/issued_reports;
the views only build the actor and the applicant from the verified identity.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from urllib.parse import urlencode

from apiflask import APIBlueprint
from apiflask.scaffold import _annotate
from apiflask.schemas import FileSchema
from flask import Response, current_app, jsonify, request

from backend.audit.operations import record_event
from backend.citizens.models import WeChatUser
from backend.db_session import commit_refusal
from backend.errors import ApiError, ErrorSchema, Forbidden, Unauthorized
from backend.extensions import db, limiter, public_query_limit, verification_limit
from backend.issued_reports import messages as report_msg
from backend.issued_reports.content import ReportOptions
from backend.issued_reports.operations import issue_report, read_report_pdf
from backend.issued_reports.schemas import VerifyResultSchema
from backend.issued_reports.views import verdict_from_request, verdict_json
from backend.pii import mask_id_number
from backend.public_api import queries as public_queries
from backend.records.models import CreditRecord
from backend.subjects.schemas import PublicProfileSchema, SearchPageSchema, SearchQuerySchema
from backend.types import local_date
from backend.workflows.cases import CaseState
from backend.workflows.commitments.models import CommitmentKind, CreditCommitment
from backend.workflows.commitments.operations import TEMPLATES, render_commitment, sign_commitment, text_hash
from backend.workflows.kinds import CASE_KINDS
from backend.workflows.materials.operations import check_file_name, upload_material
from backend.workflows.objections.models import Objection
from backend.workflows.objections.operations import (
    check_record_open_to_cases,
    get_objection,
    supplement_objection,
    withdraw_objection,
)
from backend.workflows.repairs.eligibility import check_repair_eligibility
from backend.workflows.repairs.models import RepairApplication
from backend.workflows.repairs.operations import get_repair, supplement_repair, withdraw_repair
from reports.content import ReportKind

from . import message_push, oa
from . import messages as msg
from . import operations as ops
from .alerts import is_config_error, record_config_error
from .auth import (
    SCHEME_NAME,
    SECURITY_SCHEME,
    actor_for,
    check_download,
    current_session,
    current_user,
    login_required,
    sign_download,
    verified_actor,
    verified_required,
)
from .client import WeChatError, WeChatNotConfigured, mp_api
from .schemas import (
    BindingIn,
    BindingListOut,
    BindingResultOut,
    CaseDetailOut,
    CaseListOut,
    CommitmentIn,
    CommitmentOut,
    CommitmentQuery,
    CommitmentTextOut,
    DownloadUrlOut,
    EligibilityOut,
    EmptyOut,
    FaceFinishIn,
    FaceStartIn,
    FaceStartOut,
    KioskConfirmOut,
    MaterialUploadIn,
    MaterialUploadOut,
    MeOut,
    ObjectionIn,
    PdfQuery,
    RecordsOut,
    RecordsQuery,
    RepairIn,
    ReportIn,
    ReportListOut,
    ReportOut,
    SessionIn,
    SessionOut,
    SubscriptionsIn,
    SubscriptionsOut,
    SupplementIn,
    VerifyIn,
    WithdrawIn,
)

log = logging.getLogger(__name__)

# The official account's callbacks: XML, signed by WeChat, not part of the JSON API document.
oa_bp = APIBlueprint("wechat_oa", __name__, url_prefix="/wechat", enable_openapi=False)
# ``template_folder``: the channel's console pages (console_views.py) render from templates/wechat.
bp = APIBlueprint(
    "mp_api",
    __name__,
    url_prefix="/api/mp/v1",
    tag={"name": msg.TAG, "description": msg.TAG_DESCRIPTION},
    template_folder="templates",
)

AUTH = [{SCHEME_NAME: []}]
# Binding refusals the operation audits before raising (operations.bind_enterprise): kept
# although the answer is a 403, so the log shows who claimed to represent an enterprise.
KEPT_BIND_REFUSALS = frozenset({"not_legal_representative", "representative_id_unknown"})
ERROR_TEXT = {
    400: "请求有误",
    401: "未登录或令牌无效",
    403: "未完成实名认证，或无权办理",
    404: "资源不存在或不属于当前用户",
    409: "与当前状态冲突",
    413: "上传内容过大",
    422: "参数校验未通过",
    429: "请求过于频繁",
    503: "微信服务暂时不可用",
}


@bp.record_once
def _register_security_scheme(state) -> None:
    schemes = dict(state.app.config.get("SECURITY_SCHEMES") or {})
    schemes[SCHEME_NAME] = SECURITY_SCHEME
    state.app.config["SECURITY_SCHEMES"] = schemes


def _responses(*statuses: int) -> dict[int, dict]:
    return {
        s: {"description": ERROR_TEXT[s], "content": {"application/json": {"schema": ErrorSchema}}} for s in statuses
    }


def _coded_responses(codes: dict[int, str]) -> dict[int, dict]:
    """Error responses whose descriptions name the ``error.code`` values a page branches on."""
    responses = _responses(*codes)
    for status, text in codes.items():
        responses[status]["description"] = f"{ERROR_TEXT[status]}：{text}"
    return responses


# The codes every JSON body can get before its view runs (backend/request_guard.py) and the
# schema validation's, shared by the operations below.
JSON_400 = "bad_request（JSON 无法解析）、nesting_too_deep（嵌套过深）"
SIGNED_OUT_401 = "token_invalid（未携带令牌、令牌无效、过期或已退出登录：重新 wx.login 并 POST /session）"
FACE_503 = "service_unavailable（平台微信配置错误，已通知运维）、wechat_unavailable、wechat_not_configured"
VERIFIED_403 = "identity_required（未完成实名认证）"
VALIDATION_422 = "validation_error（details 给出各字段的错误）"
CASE_400 = (
    "bad_request、nesting_too_deep、applicant_invalid、reason_required、commitment_required、"
    "commitment_mismatch、material_used、material_too_many、authorisation_required"
)
MATERIALS_403 = "material_not_yours"


def _settings():
    return current_app.extensions["settings"]


def _public_limit() -> str:
    return _settings().RATELIMIT_PUBLIC


def _verify_limit() -> str:
    return _settings().RATELIMIT_VERIFY


def _upload_limit() -> str:
    return _settings().RATELIMIT_MATERIAL_UPLOADS


def _citizen_key() -> str:
    """Uploads are counted per mini-program user: citizens behind one address (a service hall's
    Wi-Fi, a mobile carrier's NAT) do not share a budget, and one citizen cannot escape theirs by
    changing networks. A request without a live token is counted by address (it gets a 401)."""
    session = current_session()
    return f"mp-user:{session.user_id}" if session is not None else f"addr:{request.remote_addr}"


def _wechat_failure(exc: WeChatError) -> ApiError:
    # The operator's text (errcodes, AppID) goes to the log; the citizen gets a plain sentence.
    log.warning("WeChat call failed: %s", exc.message)
    if isinstance(exc, WeChatNotConfigured):
        return ApiError(msg.WECHAT_NOT_CONFIGURED, code="wechat_not_configured", status=503)
    return ApiError(msg.WECHAT_UNAVAILABLE, code="wechat_unavailable", status=503)


# --- session and identity ------------------------------------------------------------------


@bp.post("/session")
@limiter.limit(_public_limit)
@bp.input(SessionIn, arg_name="body")
@bp.output(SessionOut, status_code=201)
@bp.doc(
    summary="登录：用 wx.login 的 code 换取令牌",
    responses=_coded_responses(
        {
            400: JSON_400,
            401: "login_code_invalid（code 无效、已使用或过期：重新 wx.login）",
            422: VALIDATION_422,
            429: "rate_limited",
            503: "wechat_unavailable、wechat_not_configured",
        }
    ),
)
def create_session(body: dict):
    try:
        api = mp_api()
        result = api.code_to_session(body["code"])
    except WeChatError as exc:
        if exc.errcode in (40029, 40163, 40226):
            raise Unauthorized(msg.LOGIN_CODE_INVALID, code="login_code_invalid") from exc
        raise _wechat_failure(exc) from exc
    if not isinstance(result, dict) or not result.get("openid"):
        raise _wechat_failure(WeChatError("jscode2session 未返回 openid", transient=True))
    token, session = ops.open_session(
        api.appid,
        result["openid"],
        unionid=result.get("unionid"),
        session_key=result.get("session_key"),
        ip=request.remote_addr,
    )
    return {"token": token, "expires_at": session.expires_at, "verified": session.user.is_verified}


@bp.delete("/session")
@login_required
@bp.output(EmptyOut)
@bp.doc(
    summary="退出登录：吊销当前令牌",
    security=AUTH,
    responses=_coded_responses(
        {
            401: SIGNED_OUT_401,
        }
    ),
)
def delete_session():
    session = current_session()
    assert session is not None
    ops.revoke_session(session)
    return {"ok": True}


def _face_failure(exc: WeChatError, api: str) -> ApiError:
    """A failed face verification call: a configuration error (48001, 40125 ...) is the
    operators' to fix, so the citizen gets a neutral 503 and they get an alert (alerts.py); a
    transient one is 503 "try later"; anything else (a refused verify_id, cert_info ...) is 422
    "请重新核身"."""
    if is_config_error(exc):
        record_config_error(exc, api)
        commit_refusal()  # the console's alert stays although the citizen gets a 503
        return ApiError(msg.SERVICE_UNAVAILABLE, code="service_unavailable", status=503)
    if exc.errcode is not None and not exc.transient:
        log.warning("WeChat %s refused: %s", api, exc.message)
        return ApiError(msg.FACE_RESULT_INVALID, code="face_result_invalid", status=422)
    return _wechat_failure(exc)


# Face verification 2.0: https://developers.weixin.qq.com/miniprogram/dev/server/API/face/api_getverifyid
# and .../api_queryverifyinfo; the sequence is in miniprogram_api/README.md ("实名核验").
@bp.post("/identity/verification")
@limiter.limit(_public_limit)
@login_required
@bp.input(FaceStartIn, arg_name="body")
@bp.output(FaceStartOut, status_code=201)
@bp.doc(
    summary="实名认证（人脸核身 2.0）第一步：发起核身",
    description=(
        "提交本人姓名和身份证号码，服务端调用微信 getverifyid，返回 verify_id；小程序随后调用 "
        "wx.requestFacialVerify({verifyId})，完成后调用 POST /identity/verification/finish。"
        "错误码：name_invalid、id_number_invalid（422）、face_result_invalid（422，微信拒绝发起，请核对后重新核身）、"
        "already_bound_other（409）、service_unavailable（503，平台配置问题）、wechat_unavailable（503）。"
    ),
    security=AUTH,
    responses=_coded_responses(
        {
            400: JSON_400,
            401: SIGNED_OUT_401,
            409: "already_bound_other",
            422: "name_invalid、id_number_invalid、face_result_invalid（微信拒绝发起核身）、validation_error",
            429: "rate_limited",
            503: FACE_503,
        }
    ),
)
def face_verification_start(body: dict):
    user = current_user()
    assert user is not None
    name, number = ops.check_claim(body["name"], body["id_number"])
    ops.check_can_bind(user, number)
    out_seq_no = ops.new_out_seq_no()
    try:
        answer = mp_api().face_get_verify_id(out_seq_no, name, number, user.openid)
    except WeChatError as exc:
        raise _face_failure(exc, "face/identify/getverifyid") from exc
    verify_id = answer.get("verify_id") if isinstance(answer, dict) else None
    if not isinstance(verify_id, str) or not verify_id or len(verify_id) > 256:
        raise _face_failure(WeChatError("getverifyid 未返回 verify_id", transient=True), "face/identify/getverifyid")
    session = ops.start_face_verification(
        user, name, number, out_seq_no, verify_id, _int_or(answer.get("expires_in"), 3600)
    )
    return {"verify_id": verify_id, "expires_at": session.expires_at}


@bp.post("/identity/verification/finish")
@limiter.limit(_public_limit)
@login_required
@bp.input(FaceFinishIn, arg_name="body")
@bp.output(MeOut)
@bp.doc(
    summary="实名认证（人脸核身 2.0）第二步：提交核身结果",
    description=(
        "wx.requestFacialVerify 结束后提交 verify_id；服务端调用微信 queryverifyinfo（含 cert_hash），"
        "只有 errcode 为 0 且 verify_ret 为 10000 时才完成实名认证。每个 verify_id 只能提交一次。"
        "错误码：face_not_passed（403，未通过，请重新核身）、"
        "face_result_invalid（422，verify_id 无效、过期或微信拒绝）、"
        "face_result_used（409）、already_bound_other（409）、service_unavailable（503）、wechat_unavailable（503）。"
    ),
    security=AUTH,
    responses=_coded_responses(
        {
            400: JSON_400,
            401: SIGNED_OUT_401,
            403: "face_not_passed（verify_ret 不是 10000）",
            409: "face_result_used、already_bound_other",
            422: "face_result_invalid（verify_id 无效、不属于当前用户、已过期，或微信拒绝查询）、validation_error",
            429: "rate_limited",
            503: FACE_503,
        }
    ),
)
def face_verification_finish(body: dict):
    user = current_user()
    assert user is not None
    session = ops.find_face_session(user, body["verify_id"])
    try:
        answer = mp_api().face_query_verify_info(
            body["verify_id"], session.out_seq_no, ops.face_cert_hash(session), user.openid
        )
    except WeChatError as exc:
        raise _face_failure(exc, "face/identify/queryverifyinfo") from exc
    if not isinstance(answer, dict):
        raise _wechat_failure(WeChatError("queryverifyinfo 返回格式错误", transient=True))
    attempt = ops.verify_identity(actor_for(user), user, session, answer)
    if attempt.outcome.value != "passed":
        commit_refusal()  # the failed attempt and its audit row
        raise Forbidden(msg.FACE_NOT_PASSED, code="face_not_passed")
    return _me(user)


def _int_or(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _me(user: WeChatUser) -> dict[str, Any]:
    subject = user.subject
    return {
        "verified": subject is not None,
        "name": subject.reveal_name() if subject else None,
        "id_number_masked": mask_id_number(subject.reveal_id_number()) if subject else None,
        "verified_at": user.verified_at,
        "enterprises": ops.list_bindings(user),
    }


@bp.get("/me")
@login_required
@bp.output(MeOut)
@bp.doc(
    summary="当前用户：实名状态和绑定的企业",
    security=AUTH,
    responses=_coded_responses(
        {
            401: SIGNED_OUT_401,
        }
    ),
)
def me():
    user = current_user()
    assert user is not None
    data = _me(user)
    if user.subject_id is not None:
        record_event(actor_for(user), "mp.me.view", target_type="subject", target_id=user.subject_id,
                     subject_id=user.subject_id, reason="本人查询")  # fmt: skip
    return data


@bp.get("/me/records")
@verified_required
@bp.input(RecordsQuery, location="query", arg_name="query")
@bp.output(RecordsOut)
@bp.doc(
    summary="本人（或所绑定企业）的信用记录，含不公示的记录",
    description="每次查询都记入审计日志。",
    security=AUTH,
    responses=_coded_responses(
        {
            400: "invalid_uscc",
            401: SIGNED_OUT_401,
            403: VERIFIED_403,
            404: "subject_not_found（企业不存在，或不是本人绑定的企业）",
            422: VALIDATION_422,
        }
    ),
)
def my_records(query: dict):
    user, actor = verified_actor()
    subject = ops.find_enterprise(query["uscc"]) if query["uscc"] else user.subject
    assert subject is not None
    records = ops.list_own_records(actor, subject.id)
    return {
        "subject_kind": subject.kind.value,
        "subject_name": subject.reveal_name() if subject.is_natural else subject.name,
        "records": records,
    }


# --- enterprises ---------------------------------------------------------------------------


@bp.post("/enterprise-bindings")
@verified_required
@bp.input(BindingIn, arg_name="body")
@bp.output(BindingResultOut, status_code=201)
@bp.doc(
    summary="绑定企业（法定代表人或授权代理人）",
    description="法定代表人：实名姓名须与登记的法定代表人一致，立即生效。授权代理人：先上传授权委托书"
    "（POST /materials，purpose=authorisation），由平台工作人员审核后生效。",
    security=AUTH,
    responses=_coded_responses(
        {
            400: JSON_400 + "、invalid_uscc、letter_required、material_used",
            401: SIGNED_OUT_401,
            403: VERIFIED_403
            + "、representative_id_unknown（未登记法定代表人证件号码，请用授权委托书）、"
            + "not_legal_representative、material_not_yours",
            404: "subject_not_found、material_not_found",
            409: "binding_exists",
            422: VALIDATION_422,
        }
    ),
)
def bind_enterprise(body: dict):
    user, actor = verified_actor()
    try:
        binding = ops.bind_enterprise(actor, user, body["uscc"], body["method"], material_id=body["material_id"])
    except ApiError as exc:
        if exc.code in KEPT_BIND_REFUSALS:
            commit_refusal()  # the refusal's audit row (mp.enterprise.bind_refused)
        raise
    return binding


@bp.get("/enterprise-bindings")
@login_required
@bp.output(BindingListOut)
@bp.doc(
    summary="我绑定的企业",
    security=AUTH,
    responses=_coded_responses(
        {
            401: SIGNED_OUT_401,
        }
    ),
)
def list_bindings():
    user = current_user()
    assert user is not None
    return {"items": ops.list_bindings(user)}


@bp.delete("/enterprise-bindings/<int:binding_id>")
@verified_required
@bp.output(BindingResultOut)
@bp.doc(
    summary="解除企业绑定",
    security=AUTH,
    responses=_coded_responses(
        {
            401: SIGNED_OUT_401,
            403: VERIFIED_403,
            404: "binding_not_found",
        }
    ),
)
def unbind_enterprise(binding_id: int):
    user, actor = verified_actor()
    binding = ops.revoke_enterprise_binding(actor, user, binding_id)
    return binding


# --- the public query ----------------------------------------------------------------------


@bp.get("/subjects")
@public_query_limit
@bp.input(SearchQuerySchema, location="query", arg_name="query")
@bp.output(SearchPageSchema)
@bp.doc(
    summary="按名称或统一社会信用代码查询企业（公开）",
    responses=_coded_responses(
        {
            400: "empty_query",
            422: VALIDATION_422,
            429: "rate_limited",
        }
    ),
)
def search_subjects(query: dict):
    return public_queries.search(query)


@bp.get("/subjects/<uscc>")
@public_query_limit
@bp.output(PublicProfileSchema)
@bp.doc(
    summary="企业的公示信用信息（公开）",
    responses=_coded_responses(
        {
            400: "invalid_uscc",
            404: "not_found、id_number_in_path（路径中是身份证号码而非统一社会信用代码）",
            429: "rate_limited",
        }
    ),
)
def get_subject(uscc: str):
    return public_queries.profile_response(uscc)


# --- records: eligibility and commitments --------------------------------------------------


@bp.get("/records/<int:record_id>/eligibility")
@verified_required
@bp.output(EligibilityOut)
@bp.doc(
    summary="该记录能否提出异议、申请信用修复",
    security=AUTH,
    responses=_coded_responses(
        {
            401: SIGNED_OUT_401,
            403: VERIFIED_403,
            404: "record_not_found",
        }
    ),
)
def record_eligibility(record_id: int):
    _, actor = verified_actor()
    record = ops.get_actionable_record(actor, record_id)
    try:
        check_record_open_to_cases(record)
        objection = {"eligible": True, "code": "eligible", "message": "可以提出异议"}
    except ApiError as exc:
        objection = {"eligible": False, "code": exc.code, "message": exc.message}
    return {"record_id": record.id, "objection": objection, "repair": check_repair_eligibility(record).as_dict()}


@bp.get("/records/<int:record_id>/commitment")
@verified_required
@bp.input(CommitmentQuery, location="query", arg_name="query")
@bp.output(CommitmentTextOut)
@bp.doc(
    summary="待签署的承诺书全文",
    security=AUTH,
    responses=_coded_responses(
        {
            400: "applicant_invalid",
            401: SIGNED_OUT_401,
            403: VERIFIED_403 + "、not_representative（不是该企业的法定代表人或授权代理人）",
            404: "record_not_found",
            422: VALIDATION_422,
        }
    ),
)
def commitment_text(record_id: int, query: dict):
    user, actor = verified_actor()
    record = ops.get_actionable_record(actor, record_id)
    kind = CommitmentKind(query["kind"])
    applicant = ops.applicant_for(actor, user, record)
    text = render_commitment(kind, record, applicant.validated(), local_date())
    return {"kind": kind.value, "title": TEMPLATES[kind].title, "text": text, "text_sha256": text_hash(text)}


@bp.post("/records/<int:record_id>/commitment")
@verified_required
@bp.input(CommitmentIn, arg_name="body")
@bp.output(CommitmentOut, status_code=201)
@bp.doc(
    summary="签署承诺书（点击确认）",
    security=AUTH,
    responses=_coded_responses(
        {
            400: JSON_400 + "、applicant_invalid",
            401: SIGNED_OUT_401,
            403: VERIFIED_403 + "、not_representative",
            404: "record_not_found",
            409: "commitment_changed（承诺书内容已更新：重新 GET 后再签署）",
            422: VALIDATION_422,
        }
    ),
)
def sign_record_commitment(record_id: int, body: dict):
    user, actor = verified_actor()
    record = ops.get_actionable_record(actor, record_id)
    commitment = sign_commitment(
        actor,
        CommitmentKind(body["kind"]),
        record,
        ops.applicant_for(actor, user, record),
        shown_text_sha256=body["text_sha256"],
    )
    return commitment


# --- materials -----------------------------------------------------------------------------


@bp.post("/materials")
@limiter.limit(_upload_limit, key_func=_citizen_key)
@verified_required
@bp.input(MaterialUploadIn, location="form_and_files", arg_name="form")
@bp.output(MaterialUploadOut, status_code=201)
@bp.doc(
    summary="上传申请材料（PDF、JPEG、PNG）",
    description="按文件内容识别类型；上传后在提交或补正申请时引用其编号。",
    security=AUTH,
    responses=_coded_responses(
        {
            400: "bad_file_name、material_empty、material_too_large、material_type",
            401: SIGNED_OUT_401,
            403: VERIFIED_403,
            413: "payload_too_large（超过请求大小上限）",
            422: "material_broken、material_encrypted、material_polyglot、material_active_content、"
            "material_too_complex、material_too_many_pages、material_too_many_pixels、validation_error",
            429: "rate_limited（按用户计数）",
            503: "storage_unavailable",
        }
    ),
)
def upload(form: dict):
    _, actor = verified_actor()
    upload_file = form["file"]
    check_file_name(upload_file.filename)
    limit = int(_settings().MATERIAL_MAX_BYTES)
    data = upload_file.read(limit + 1)
    material = upload_material(actor, data, upload_file.filename, form["purpose"])
    return material


# --- objections and repairs ----------------------------------------------------------------


def _case_summary(case: Any) -> dict[str, Any]:
    return {
        "number": case.number,
        "case_type": case.CASE_TYPE,
        "state": case.state.value,
        "state_label": case.state.label,
        "record_id": case.record_id,
        "filed_at": case.filed_at,
        "deadline": case.deadline,
        "outcome": case.outcome.value if case.outcome else None,
    }


def _case_detail(case: Any) -> dict[str, Any]:
    record: CreditRecord = case.record
    outcome_label = None
    if case.outcome is not None:
        outcome_label = msg.CASE_OUTCOME_LABELS.get(case.outcome.value)
    return {
        **_case_summary(case),
        "ground": getattr(getattr(case, "ground", None), "value", None),
        "statement": case.statement,
        "applicant_kind": case.applicant_kind.value,
        "outcome_label": outcome_label,
        "decision_reason": case.decision_reason,
        "decided_at": case.decided_at,
        "corrections": getattr(case, "corrections", None),
        "missing_items": case.missing_items if case.state is CaseState.RETURNED else None,
        "extension_days": case.extension_days,
        "extension_reason": case.extension_reason,
        "record": {
            "id": record.id,
            "decision_number": record.decision_number,
            "category": record.category.value,
            "department_name": record.department.name,
        },
        "materials": case.materials,
        "history": case.history,
    }


def _file_case(body: dict, kind: str):
    user, actor = verified_actor()
    record = ops.get_actionable_record(actor, body["record_id"])
    applicant = ops.applicant_for(actor, user, record)
    commitment = db.session.get(CreditCommitment, body["commitment_id"])
    spec = CASE_KINDS[kind]
    case = spec.file(
        actor,
        record,
        applicant,
        statement=body["statement"],
        commitment=commitment,
        material_ids=body["material_ids"],
        **{name: body[name] for name in spec.filing_fields},
    )
    return _case_detail(case)


def _list_cases(model: type) -> dict[str, Any]:
    _, actor = verified_actor()
    return {"items": [_case_summary(case) for case in ops.list_cases(model, actor)]}


def _show_case(getter, number: str) -> dict[str, Any]:
    _, actor = verified_actor()
    case = ops.get_case_for(actor, getter, number)
    ops.audit_case_view(actor, case)
    data = _case_detail(case)
    return data


def _supplement_case(getter, operation, number: str, body: dict) -> dict[str, Any]:
    _, actor = verified_actor()
    case = ops.get_case_for(actor, getter, number)
    operation(actor, case, note=body["note"], material_ids=body["material_ids"])
    return _case_detail(case)


def _withdraw_case(getter, operation, number: str, body: dict) -> dict[str, Any]:
    _, actor = verified_actor()
    case = ops.get_case_for(actor, getter, number)
    operation(actor, case, body["reason"])
    return _case_detail(case)


@bp.post("/objections")
@verified_required
@bp.input(ObjectionIn, arg_name="body")
@bp.output(CaseDetailOut, status_code=201)
@bp.doc(
    summary="提出异议申诉",
    security=AUTH,
    responses=_coded_responses(
        {
            400: CASE_400,
            401: SIGNED_OUT_401,
            403: VERIFIED_403 + "、not_representative、" + MATERIALS_403,
            404: "record_not_found、material_not_found",
            409: "record_withdrawn、record_repaired、open_application_exists",
            422: VALIDATION_422,
        }
    ),
)
def create_objection(body: dict):
    return _file_case(body, "objection")


@bp.get("/objections")
@verified_required
@bp.output(CaseListOut)
@bp.doc(
    summary="我的异议申诉",
    security=AUTH,
    responses=_coded_responses(
        {
            401: SIGNED_OUT_401,
            403: VERIFIED_403,
        }
    ),
)
def list_objections():
    return _list_cases(Objection)


@bp.get("/objections/<number>")
@verified_required
@bp.output(CaseDetailOut)
@bp.doc(
    summary="异议申诉详情：进度、期限、历史",
    security=AUTH,
    responses=_coded_responses(
        {
            401: SIGNED_OUT_401,
            403: VERIFIED_403,
            404: "case_not_found",
        }
    ),
)
def show_objection(number: str):
    return _show_case(get_objection, number)


@bp.post("/objections/<number>/supplement")
@verified_required
@bp.input(SupplementIn, arg_name="body")
@bp.output(CaseDetailOut)
@bp.doc(
    summary="补正异议材料",
    security=AUTH,
    responses=_coded_responses(
        {
            400: JSON_400 + "、material_used、material_too_many",
            401: SIGNED_OUT_401,
            403: VERIFIED_403 + "、forbidden（不是申请人）、" + MATERIALS_403,
            404: "case_not_found、material_not_found",
            409: "wrong_state（只有被退回补正的申请可以补正）、already_handled",
            422: VALIDATION_422,
        }
    ),
)
def supplement_objection_view(number: str, body: dict):
    return _supplement_case(get_objection, supplement_objection, number, body)


@bp.post("/objections/<number>/withdraw")
@verified_required
@bp.input(WithdrawIn, arg_name="body")
@bp.output(CaseDetailOut)
@bp.doc(
    summary="撤回异议申诉",
    security=AUTH,
    responses=_coded_responses(
        {
            400: JSON_400,
            401: SIGNED_OUT_401,
            403: VERIFIED_403 + "、forbidden（不是申请人）",
            404: "case_not_found",
            409: "wrong_state、already_handled（已受理完结，无法撤回）",
            422: VALIDATION_422,
        }
    ),
)
def withdraw_objection_view(number: str, body: dict):
    return _withdraw_case(get_objection, withdraw_objection, number, body)


@bp.post("/repairs")
@verified_required
@bp.input(RepairIn, arg_name="body")
@bp.output(CaseDetailOut, status_code=201)
@bp.doc(
    summary="申请信用修复",
    security=AUTH,
    responses=_coded_responses(
        {
            400: CASE_400 + "、fulfilment_required、not_eligible_withdrawn、not_eligible_already_repaired、"
            "not_eligible_not_negative、not_eligible_not_repairable、not_eligible_minor_unpublished、"
            "not_eligible_expired、not_eligible_under_objection、not_eligible_too_early",
            401: SIGNED_OUT_401,
            403: VERIFIED_403 + "、not_representative、" + MATERIALS_403,
            404: "record_not_found、material_not_found",
            409: "open_application_exists",
            422: VALIDATION_422,
        }
    ),
)
def create_repair(body: dict):
    return _file_case(body, "repair")


@bp.get("/repairs")
@verified_required
@bp.output(CaseListOut)
@bp.doc(
    summary="我的信用修复申请",
    security=AUTH,
    responses=_coded_responses(
        {
            401: SIGNED_OUT_401,
            403: VERIFIED_403,
        }
    ),
)
def list_repairs():
    return _list_cases(RepairApplication)


@bp.get("/repairs/<number>")
@verified_required
@bp.output(CaseDetailOut)
@bp.doc(
    summary="信用修复申请详情：进度、期限、历史",
    security=AUTH,
    responses=_coded_responses(
        {
            401: SIGNED_OUT_401,
            403: VERIFIED_403,
            404: "case_not_found",
        }
    ),
)
def show_repair(number: str):
    return _show_case(get_repair, number)


@bp.post("/repairs/<number>/supplement")
@verified_required
@bp.input(SupplementIn, arg_name="body")
@bp.output(CaseDetailOut)
@bp.doc(
    summary="补正修复材料",
    security=AUTH,
    responses=_coded_responses(
        {
            400: JSON_400 + "、material_used、material_too_many",
            401: SIGNED_OUT_401,
            403: VERIFIED_403 + "、forbidden（不是申请人）、" + MATERIALS_403,
            404: "case_not_found、material_not_found",
            409: "wrong_state（只有被退回补正的申请可以补正）、already_handled",
            422: VALIDATION_422,
        }
    ),
)
def supplement_repair_view(number: str, body: dict):
    return _supplement_case(get_repair, supplement_repair, number, body)


@bp.post("/repairs/<number>/withdraw")
@verified_required
@bp.input(WithdrawIn, arg_name="body")
@bp.output(CaseDetailOut)
@bp.doc(
    summary="撤回信用修复申请",
    security=AUTH,
    responses=_coded_responses(
        {
            400: JSON_400,
            401: SIGNED_OUT_401,
            403: VERIFIED_403 + "、forbidden（不是申请人）",
            404: "case_not_found",
            409: "wrong_state、already_handled（已受理完结，无法撤回）",
            422: VALIDATION_422,
        }
    ),
)
def withdraw_repair_view(number: str, body: dict):
    return _withdraw_case(get_repair, withdraw_repair, number, body)


# --- reports -------------------------------------------------------------------------------


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    """Stored timestamps are naive UTC: say so in the JSON."""
    return None if moment is None else moment.replace(tzinfo=dt.UTC)


def _download_url(number: str, user: WeChatUser) -> tuple[str, dt.datetime]:
    session = current_session()
    assert session is not None and session.user_id == user.id
    expires, signature = sign_download(number, session)
    query = urlencode({"session": session.id, "expires": expires, "signature": signature})
    url = f"{_settings().PUBLIC_BASE_URL.rstrip('/')}/api/mp/v1/reports/{number}/pdf?{query}"
    return url, dt.datetime.fromtimestamp(expires, dt.UTC)


def _report_out(report, user: WeChatUser | None = None) -> dict[str, Any]:
    status = report.status_on(local_date())
    data = {
        "number": report.number,
        "kind": report.kind.value,
        "kind_label": report_msg.KIND_LABELS[report.kind],
        "subject_name": report.subject_display_name,
        "issued_at": _utc(report.issued_at),
        "valid_until": report.valid_until,
        "status": status.value,
        "status_label": report_msg.STATUS_LABELS[status],
        "download_url": None,
        "download_expires_at": None,
    }
    if user is not None:
        data["download_url"], data["download_expires_at"] = _download_url(report.number, user)
    return data


@bp.post("/reports")
@verified_required
@bp.input(ReportIn, arg_name="body")
@bp.output(ReportOut, status_code=201)
@bp.doc(
    summary="出具信用报告",
    description="personal：本人的个人公共信用信息报告；enterprise：任一企业的公共信用信息报告（填 uscc）；"
    "special：本人或所绑定企业（填 uscc）的专项信用报告。",
    security=AUTH,
    responses=_coded_responses(
        {
            400: JSON_400 + "、invalid_uscc、kind_not_for_subject、years_invalid、domains_invalid",
            401: SIGNED_OUT_401,
            403: VERIFIED_403 + "、forbidden（无权为该主体出具此类报告）",
            404: "subject_not_found",
            422: "uscc_required（企业报告须填 uscc）、validation_error",
            503: "signing_failed、storage_unavailable",
        }
    ),
)
def create_report(body: dict):
    user, actor = verified_actor()
    kind: ReportKind = body["kind"]
    if body["uscc"]:
        subject = ops.find_enterprise(body["uscc"])
    elif kind is ReportKind.ENTERPRISE:
        raise ApiError(msg.REPORT_SUBJECT_REQUIRED, code="uscc_required", status=422)
    else:
        subject = user.subject
    options = ReportOptions(years=body["years"], domains=tuple(body["domains"])) if kind is ReportKind.SPECIAL else None
    issued = issue_report(actor, subject, kind, options, channel="mp")
    ops.queue_report_ready(user, issued.report)  # the "report ready" message, sent after commit
    readable = issued.report.subject_id in ops.own_subject_ids(actor)
    return _report_out(issued.report, user if readable else None)


@bp.get("/reports")
@verified_required
@bp.output(ReportListOut)
@bp.doc(
    summary="我的信用报告（本人及所绑定企业）",
    security=AUTH,
    responses=_coded_responses(
        {
            401: SIGNED_OUT_401,
            403: VERIFIED_403,
        }
    ),
)
def list_reports():
    _, actor = verified_actor()
    items = [_report_out(report) for report in ops.list_reports(actor)]
    return {"items": items}


@bp.get("/reports/<number>/download-url")
@verified_required
@bp.output(DownloadUrlOut)
@bp.doc(
    summary="获取报告 PDF 的短时下载地址",
    security=AUTH,
    responses=_coded_responses(
        {
            401: SIGNED_OUT_401,
            403: VERIFIED_403,
            404: "report_not_found",
        }
    ),
)
def report_download_url(number: str):
    user, actor = verified_actor()
    report = ops.get_own_report(actor, number)
    url, expires_at = _download_url(report.number, user)
    return {"url": url, "expires_at": expires_at}


@bp.get("/reports/<number>/pdf")
@bp.input(PdfQuery, location="query", arg_name="query")
@bp.output(FileSchema, content_type="application/pdf", description="报告 PDF")
@bp.doc(
    summary="下载报告 PDF（凭短时签名地址）",
    responses=_coded_responses(
        {
            401: "download_link_invalid（地址过期、签名不符，或签发它的登录已退出：重新获取下载地址）",
            403: "download_link_other（地址属于另一位用户）、report_forbidden",
            404: "report_not_found",
            422: VALIDATION_422,
            503: "report_file_missing、report_file_changed",
        }
    ),
)
def report_pdf(number: str, query: dict):
    link_session = check_download(number, query["session"], query["expires"], query["signature"])
    if link_session is None:
        raise Unauthorized(msg.DOWNLOAD_LINK_INVALID, code="download_link_invalid")
    bearer_user = current_user(required=False)
    if bearer_user is not None and bearer_user.id != link_session.user_id:
        raise Forbidden(msg.DOWNLOAD_LINK_OTHER, code="download_link_other")
    user = link_session.user
    if user.subject_id is None:
        raise Unauthorized(msg.DOWNLOAD_LINK_INVALID, code="download_link_invalid")
    actor = actor_for(user)
    report = ops.get_own_report(actor, number)
    data = read_report_pdf(actor, report, reason="小程序下载")
    return Response(
        data,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{report.number}.pdf"',
            "Cache-Control": "no-store",
        },
    )


@bp.post("/verify")
@verification_limit
@bp.output(VerifyResultSchema)
@bp.doc(
    summary="核验报告：扫描的二维码内容或 PDF 文件",
    description="与 POST /api/v1/verify 相同的核验结果，含可离线复核的签名信息（signature）。",
    responses=_coded_responses(
        {
            400: JSON_400 + "、verify_input_required",
            413: "payload_too_large",
            422: VALIDATION_422,
            429: "rate_limited",
        }
    ),
)
def verify():
    verdict, via = verdict_from_request()
    report = verdict.report
    if report is not None and report.subject_natural:
        record_event(
            actor_for(current_user(required=False)),
            "report.verify",
            target=report,
            subject_id=report.subject_id,
            details={"number": report.number, "via": via, "answer": verdict.code},
        )
    return jsonify(verdict_json(verdict))  # = VerifyResultSchema's dump, without its cost


_annotate(verify, body=VerifyIn(), content_type=["application/json", "multipart/form-data"])


# --- kiosk sign-in -------------------------------------------------------------------------


@bp.post("/kiosk-login/<ticket>/confirm")
@verified_required
@bp.output(KioskConfirmOut)
@bp.doc(
    summary="确认在自助终端登录（扫描终端屏幕上的二维码）",
    description="二维码两分钟内有效、只能使用一次；确认后终端以本人身份登录。",
    security=AUTH,
    responses=_coded_responses(
        {
            401: SIGNED_OUT_401,
            403: VERIFIED_403,
            404: "ticket_invalid（二维码无效或已过期）",
            409: "ticket_used",
        }
    ),
)
def confirm_kiosk_login(ticket: str):
    user, actor = verified_actor()
    row = ops.confirm_kiosk_login(actor, user, ticket)
    return {"confirmed": True, "confirmed_at": row.confirmed_at}


# --- subscribe messages --------------------------------------------------------------------


def _templates() -> list[dict[str, str]]:
    settings = _settings()
    configured = {
        "case_progress": settings.WECHAT_TEMPLATE_CASE_PROGRESS,
        "deadline": settings.WECHAT_TEMPLATE_DEADLINE,
        "report_ready": settings.WECHAT_TEMPLATE_REPORT_READY,
    }
    return [
        {"purpose": purpose, "title": msg.TEMPLATE_TITLES[purpose], "template_id": template_id}
        for purpose, template_id in configured.items()
        if template_id
    ]


@bp.get("/subscriptions")
@login_required
@bp.output(SubscriptionsOut)
@bp.doc(
    summary="需要用户订阅的消息模板，以及当前的订阅情况",
    security=AUTH,
    responses=_coded_responses(
        {
            401: SIGNED_OUT_401,
        }
    ),
)
def subscriptions():
    user = current_user()
    assert user is not None
    return _subscriptions_out(user)


def _subscriptions_out(user, ignored: list | None = None) -> dict:
    return {
        "templates": _templates(),
        "subscriptions": ops.list_subscriptions(user),
        "long_term": bool(_settings().WECHAT_LONG_TERM_SUBSCRIPTIONS),
        "ignored": ignored or [],
    }


@bp.post("/subscriptions")
@login_required
@bp.input(SubscriptionsIn, arg_name="body")
@bp.output(SubscriptionsOut)
@bp.doc(
    summary="上报 wx.requestSubscribeMessage 的订阅结果",
    security=AUTH,
    responses=_coded_responses(
        {
            400: JSON_400,
            401: SIGNED_OUT_401,
            422: VALIDATION_422,
        }
    ),
)
def record_subscriptions(body: dict):
    user = current_user()
    assert user is not None
    capture = ops.record_subscription_answers(user, body["answers"])
    return _subscriptions_out(user, capture.ignored)


# --- official account callbacks (protocol handling in oa.py) --------------------------------


@oa_bp.get("/oa")
def oa_verify_server():
    return oa.verify_server()


@oa_bp.post("/oa")
def oa_receive():
    response = oa.receive()
    return response


# --- mini-program message push (protocol handling in message_push.py) -----------------------


@oa_bp.get("/mp/push")
def mp_push_verify_server():
    return message_push.verify_server()


@oa_bp.post("/mp/push")
def mp_push_receive():
    response = message_push.receive()
    return response
