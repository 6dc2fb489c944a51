"""The kiosk channel (/kiosk/): touchscreen pages and the JSON the page and the agent call.

Every request but the static files carries the device credential (the local agent adds it, the
browser never sees it). A citizen's session is an HttpOnly cookie bound to that device, ended by
结束, by the idle timeout (the page counts down, the server checks again), or at a hard cap.
Views load, authenticate, call one operation and render (the request commits: backend/db_session.py).
"""

from __future__ import annotations

import base64
import io
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from limits import parse_many

from backend.db_session import commit_refusal
from backend.errors import ApiError, NotFound, Unauthorized, error_body
from backend.extensions import db, limiter
from backend.identifiers import IdentifierError, validate_uscc
from backend.issued_reports.verification import verify_number_code, verify_token_text
from backend.pii import mask_name
from backend.records.labels import CATEGORY_LABELS, STATUS_LABELS, TIER_LABELS, UNDER_OBJECTION_MARK
from backend.subjects.models import Subject
from backend.subjects.queries import get_public_profile, search_enterprises
from backend.types import local_date
from backend.workflows import messages as wf_msg
from backend.workflows.commitments.models import CommitmentKind
from backend.workflows.commitments.operations import render_commitment, sign_commitment, text_hash
from backend.workflows.objections.models import ObjectionGround
from backend.workflows.objections.operations import file_objection
from backend.workflows.repairs.eligibility import check_repair_eligibility
from backend.workflows.repairs.operations import file_repair

from . import messages as msg
from . import operations as ops
from .agent import signing
from .models import PrintJobState

bp = Blueprint(
    "kiosk",
    __name__,
    url_prefix="/kiosk",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
limiter.exempt(bp)  # one kiosk is one client address: the device credential is the gate

COOKIE = "kiosk_session"
# The agent's own endpoints, served on the same origin as the pages (kiosk/agent/server.py).
AGENT_PREFIX = "/agent"
# Requests the agent makes on its own (not a citizen's touch): they never extend a session.
_MACHINE_ENDPOINTS = {
    "kiosk.heartbeat",
    "kiosk.print_result",
    "kiosk.qr_poll",
    "kiosk.device_key",
    "kiosk.signin_challenge",
}


def _settings() -> Any:
    return current_app.extensions["settings"]


def _device_limit(scope: str, limits: str) -> None:
    """Per-kiosk rate limit: the device is the key, not the address (a hall's kiosks may share
    one behind NAT, and the blueprint is exempt from the address-keyed limits). Counted in the
    limiter's storage, so every worker sees one budget (Redis in production)."""
    if not (limiter.enabled and limiter.initialized):
        return
    device = _device()
    for item in parse_many(limits):
        if not limiter.limiter.hit(item, current_app.config["RATELIMIT_KEY_PREFIX"], scope, device.code):
            raise ApiError(msg.RATE_LIMITED, code="rate_limited", status=429)


def _is_api() -> bool:
    return request.path.startswith("/kiosk/api/")


# --- per request: device, session, headers ------------------------------------------------


@bp.before_request
def load_device_and_session():
    g.pop("kiosk_device", None)
    g.pop("kiosk_session", None)
    if request.endpoint == "kiosk.static":
        return None
    g.kiosk_device = device = ops.authenticate_device(request.headers.get("Authorization"))
    if not device.enabled and request.endpoint != "kiosk.heartbeat":
        if _is_api():
            return jsonify(error_body("kiosk_disabled", msg.DEVICE_DISABLED)), 503
        return render_template("kiosk/paused.html", device=device), 503
    token = request.cookies.get(COOKIE)
    session = ops.current_session(device, token)
    if session is not None and request.endpoint not in _MACHINE_ENDPOINTS:
        ops.touch_session(session)
    elif token and session is None:
        # A session past its idle timeout or cap was ended in current_session: keep that (and
        # its audit row) although the view will refuse the request.
        commit_refusal()
    g.kiosk_session = session
    return None


@bp.after_request
def kiosk_headers(response: Response) -> Response:
    if request.endpoint != "kiosk.static":
        # Personal data must not survive in the browser's cache after the citizen leaves.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    return response


@bp.errorhandler(ApiError)
def kiosk_error(exc: ApiError):
    db.session.rollback()
    if _is_api() or request.accept_mimetypes.best == "application/json":
        return jsonify(error_body(exc.code, exc.message, exc.details)), exc.status
    if isinstance(exc, Unauthorized):
        return render_template("kiosk/error.html", message=exc.message, unauthenticated=True), exc.status
    return render_template("kiosk/error.html", message=exc.message), exc.status


def _device():
    return g.kiosk_device


def _session():
    return g.get("kiosk_session")


def _actor():
    return ops.kiosk_actor(_device(), _session(), request.remote_addr)


def _require_session():
    session = _session()
    if session is None:
        raise Unauthorized(msg.SIGN_IN_REQUIRED, code="sign_in_required")
    return session


def _signed_in_page():
    """The session of a page that needs one, or a redirect to the sign-in page."""
    session = _session()
    if session is None:
        return None, redirect(url_for("kiosk.signin", next=request.full_path.rstrip("?")))
    return session, None


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/kiosk/") and not target.startswith("//"):
        return target
    return url_for("kiosk.mine")


@bp.context_processor
def inject_kiosk() -> dict[str, Any]:
    session = g.get("kiosk_session")
    person = None
    if session is not None:
        subject = db.session.get(Subject, session.subject_id)
        person = mask_name(subject.reveal_name()) if subject else None
    settings = _settings()
    return {
        "msg": msg,
        "device": g.get("kiosk_device"),
        "signed_in": session is not None,
        "person_masked": person,
        "idle_timeout": int(settings.KIOSK_IDLE_TIMEOUT_SECONDS),
        "idle_warning": int(settings.KIOSK_IDLE_WARNING_SECONDS),
        "agent_prefix": AGENT_PREFIX,
    }


def _cookie_flags() -> dict[str, Any]:
    """Path "/": the agent's own endpoints (/agent/print) act for the same citizen. Secure when
    the platform runs on https: the agent relays the cookie to Chromium on http://127.0.0.1,
    a loopback origin, where browsers keep and send Secure cookies. SameSite=Strict: every
    kiosk request comes from the kiosk's own pages, never from another site."""
    secure = request.is_secure or _settings().PUBLIC_BASE_URL.startswith("https://")
    return {"path": "/", "secure": secure, "httponly": True, "samesite": "Strict"}


def _set_session_cookie(response: Response, token: str) -> Response:
    response.set_cookie(COOKIE, token, **_cookie_flags())
    return response


# --- pages ---------------------------------------------------------------------------------


@bp.get("/")
def home():
    return render_template("kiosk/home.html", page="home")


@bp.get("/signin")
def signin():
    target = _safe_next(request.args.get("next"))
    if _session() is not None:
        return redirect(target)
    return render_template("kiosk/signin.html", page="signin", next_url=target)


@bp.get("/signout")
def signout():
    session = _session()
    if session is not None:
        reason = "idle" if request.args.get("reason") == "idle" else "user"
        ops.end_session(_device(), session, reason, ip=request.remote_addr)
    response = Response(render_template("kiosk/signout.html", page="signout"))
    response.delete_cookie(COOKIE, **_cookie_flags())
    # The browser drops its cache (any report PDF) and the site's storage for this origin.
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


@bp.get("/mine")
def mine():
    session, login = _signed_in_page()
    if login:
        return login
    actor = _actor()
    grouped = ops.list_own_records(actor, _device(), session)
    cases = ops.list_own_cases(actor)
    return render_template(
        "kiosk/mine.html",
        page="mine",
        grouped=grouped,
        subjects=ops.subjects_by_id(grouped),
        cases=cases,
        person_id=session.subject_id,
        **_labels(),
    )


@bp.get("/print")
def print_page():
    session, login = _signed_in_page()
    if login:
        return login
    subjects = ops.subjects_by_id(ops.own_subject_ids(session))
    used = ops.prints_today(session.subject_id)
    limit = int(_settings().KIOSK_FREE_PRINTS_PER_DAY)
    return render_template(
        "kiosk/print.html",
        page="print",
        person=subjects[session.subject_id],
        enterprises=[s for sid, s in subjects.items() if sid != session.subject_id],
        left=max(0, limit - used),
        limit=limit,
    )


@bp.get("/enterprise")
def enterprise_search():
    q = (request.args.get("q") or "").strip()[:60]
    result = search_enterprises(q, page=1, per_page=10) if q else None
    return render_template("kiosk/enterprise_search.html", page="enterprise", q=q, result=result)


@bp.get("/enterprise/<code>")
def enterprise(code: str):
    try:
        uscc = validate_uscc(code, _settings().USCC_LEGACY_ALLOWLIST).code
    except IdentifierError as exc:
        raise ApiError(exc.message, code="invalid_uscc") from exc
    profile = get_public_profile(uscc, local_date())
    if profile is None:
        raise NotFound("未找到该企业", code="subject_not_found")
    return render_template("kiosk/enterprise.html", page="enterprise", profile=profile, **_labels())


@bp.get("/objection")
def choose_objection_record():
    return _choose_record("objection")


@bp.get("/repair")
def choose_repair_record():
    return _choose_record("repair")


def _choose_record(kind: str):
    session, login = _signed_in_page()
    if login:
        return login
    grouped = ops.list_own_records(_actor(), _device(), session)
    return render_template(
        "kiosk/choose_record.html",
        page=kind,
        kind=kind,
        grouped=grouped,
        subjects=ops.subjects_by_id(grouped),
        **_labels(),
    )


def _commitment_context(kind: CommitmentKind, session, record) -> dict[str, Any]:
    applicant = ops.applicant_for(session, record)
    text = render_commitment(kind, record, applicant, local_date())
    return {"commitment_text": text, "commitment_hash": text_hash(text), "applicant": applicant}


@bp.route("/objection/<int:record_id>", methods=["GET", "POST"])
def objection(record_id: int):
    session, login = _signed_in_page()
    if login:
        return login
    record = ops.get_own_record(session, record_id)
    error = None
    if request.method == "POST":
        ground = request.form.get("ground", "")
        if ground not in msg.OBJECTION_GROUNDS:
            error = "请选择异议理由"
        else:
            actor = _actor()
            applicant = ops.applicant_for(session, record)
            label, detail = msg.OBJECTION_GROUNDS[ground]
            try:
                commitment = sign_commitment(
                    actor,
                    CommitmentKind.OBJECTION,
                    record,
                    applicant,
                    shown_text_sha256=request.form.get("commitment_hash") or "",
                )
                case = file_objection(
                    actor,
                    record,
                    applicant,
                    ground=ObjectionGround(ground),
                    statement=msg.KIOSK_STATEMENT.format(label=label, detail=detail),
                    commitment=commitment,
                )
            except ApiError as exc:
                db.session.rollback()
                error = exc.message
            else:
                return redirect(url_for("kiosk.receipt", number=case.number))
    return render_template(
        "kiosk/case_form.html",
        page="objection",
        kind="objection",
        record=record,
        grounds=msg.OBJECTION_GROUNDS,
        error=error,
        **_commitment_context(CommitmentKind.OBJECTION, session, record),
        **_labels(),
    ), (422 if error else 200)


@bp.route("/repair/<int:record_id>", methods=["GET", "POST"])
def repair(record_id: int):
    session, login = _signed_in_page()
    if login:
        return login
    record = ops.get_own_record(session, record_id)
    actor = _actor()
    eligibility = check_repair_eligibility(record)
    materials = ops.unattached_materials(actor)
    has_proof = any(m.purpose.value == "fulfilment" for m in materials)
    error = None
    if request.method == "POST" and eligibility.eligible:
        applicant = ops.applicant_for(session, record)
        try:
            commitment = sign_commitment(
                actor,
                CommitmentKind.REPAIR,
                record,
                applicant,
                shown_text_sha256=request.form.get("commitment_hash") or "",
            )
            case = file_repair(
                actor,
                record,
                applicant,
                statement=msg.REPAIR_STATEMENT,
                commitment=commitment,
                material_ids=[m.id for m in materials],
            )
        except ApiError as exc:
            db.session.rollback()
            error = exc.message
        else:
            return redirect(url_for("kiosk.receipt", number=case.number))
    return render_template(
        "kiosk/case_form.html",
        page="repair",
        kind="repair",
        record=record,
        eligibility=eligibility,
        materials=materials,
        has_proof=has_proof,
        purpose_labels=_PURPOSE_LABELS,
        error=error,
        **_commitment_context(CommitmentKind.REPAIR, session, record),
        **_labels(),
    ), (422 if error else 200)


_PURPOSE_LABELS = {
    "evidence": "证明材料",
    "fulfilment": "履行义务证明",
    "authorisation": "授权委托书",
    "application_form": "申请表",
    "identity": "身份证明",
    "other": "其他材料",
}


@bp.get("/cases/<number>")
def receipt(number: str):
    _, login = _signed_in_page()
    if login:
        return login
    case = ops.get_own_case(_actor(), number)
    return render_template(
        "kiosk/receipt.html",
        page="receipt",
        case=case,
        kind_label=msg.KIND_LABELS[case.CASE_TYPE],
        state_label=wf_msg.STATE_LABELS[case.state.value],
    )


@bp.get("/verify")
def verify():
    qr = (request.args.get("qr") or "").strip()[:2000]
    number = (request.args.get("number") or "").strip()[:40]
    code = (request.args.get("code") or "").strip()[:20]
    verdict = None
    if qr or number:
        _device_limit("kiosk-verify", _settings().KIOSK_RATELIMIT_VERIFY)
    if qr:
        verdict = verify_token_text(qr)
    elif number:
        verdict = verify_number_code(number, code)
    return render_template("kiosk/verify.html", page="verify", verdict=verdict, number=number, code=code, qr=qr)


def _labels() -> dict[str, Any]:
    return {
        "category_labels": CATEGORY_LABELS,
        "tier_labels": TIER_LABELS,
        "status_labels": STATUS_LABELS,
        "objection_mark": UNDER_OBJECTION_MARK,
        "state_labels": wf_msg.STATE_LABELS,
        "kind_labels": msg.KIND_LABELS,
    }


# --- JSON: the agent ------------------------------------------------------------------------


def _json() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError("请求格式不正确：需要 JSON 对象", code="bad_request")
    return data


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


@bp.post("/api/heartbeat")
def heartbeat():
    data = _json()
    device = ops.record_heartbeat(
        _device(),
        agent_version=str(data.get("agent_version") or ""),
        printer_queue=str(data.get("printer_queue") or ""),
        printer_state=str(data.get("printer_state") or ""),
        printer_message=str(data.get("printer_message") or ""),
        paper_counter=_int_or_none(data.get("paper_counter")),
    )
    return {
        "enabled": device.enabled,
        "heartbeat_seconds": int(_settings().KIOSK_HEARTBEAT_SECONDS),
        "device": device.code,
    }


@bp.post("/api/touch")
def touch():
    """The page says the citizen is still working on it (before_request extended the session)."""
    return {"signed_in": _session() is not None}


@bp.post("/api/device-key")
def device_key():
    """``python -m kiosk.agent enrol``: the agent's public key, once per credential."""
    data = _json()
    device = ops.enrol_device_key(_device(), str(data.get("public_key") or ""), ip=request.remote_addr)
    return {"device": device.code, "fingerprint": signing.fingerprint(device.public_key or "")}


@bp.post("/api/signin/challenge")
def signin_challenge():
    """A one-time challenge for the agent to sign with the card it is reading."""
    _device_limit("kiosk-signin", _settings().KIOSK_RATELIMIT_SIGNIN)
    challenge, seconds = ops.new_signin_challenge(_device())
    return {"challenge": challenge, "expires_in": seconds}


@bp.post("/api/signin/card")
def signin_card():
    """A reading signed by this kiosk's agent: ``{"payload": "<canonical JSON>", "signature":
    "<base64>"}`` (kiosk/README.md, "ID-card reader contract"). Nothing else signs anyone in."""
    _device_limit("kiosk-signin", _settings().KIOSK_RATELIMIT_SIGNIN)
    data = _json()
    try:
        token, _ = ops.sign_in_with_signed_reading(
            _device(), data.get("payload"), data.get("signature"), ip=request.remote_addr
        )
    except ApiError as exc:
        if exc.code in ops.KEPT_REFUSALS:
            commit_refusal()  # the consumed challenge and the refusal's audit row stay
        raise
    return _set_session_cookie(jsonify({"signed_in": True}), token)


@bp.post("/api/signin/qr")
def qr_ticket():
    _device_limit("kiosk-signin", _settings().KIOSK_RATELIMIT_SIGNIN)
    ticket, seconds = ops.new_login_ticket(_device())
    content = f"{_settings().PUBLIC_BASE_URL.rstrip('/')}/mp/kiosk-login?ticket={ticket}"
    # Imported here: the SVG factory brings lxml (about 7 MB), which only this kiosk route needs.
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(content, image_factory=qrcode.image.svg.SvgPathImage, box_size=12, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {"ticket": ticket, "qr": content, "image": svg, "expires_in": seconds}


@bp.post("/api/signin/qr/poll")
def qr_poll():
    data = _json()
    result = ops.sign_in_with_ticket(_device(), str(data.get("ticket") or ""), ip=request.remote_addr)
    if result is None:
        return {"signed_in": False}, 202
    token, _ = result
    return _set_session_cookie(jsonify({"signed_in": True}), token)


@bp.post("/api/print")
def start_print():
    session = _require_session()
    data = _json()
    kind = str(data.get("kind") or "personal")
    subject_id = _int_or_none(data.get("subject")) or session.subject_id
    subject = db.session.get(Subject, subject_id)
    if subject is None:
        raise NotFound(msg.REPORT_NOT_ALLOWED, code="report_forbidden")
    job, issued = ops.start_report_print(_actor(), _device(), session, subject, kind)
    return {"job": job.id, "number": issued.report.number}


@bp.post("/api/cases/<number>/receipt")
def print_receipt(number: str):
    session = _require_session()
    actor = _actor()
    case = ops.get_own_case(actor, number)
    job = ops.start_receipt_print(actor, _device(), session, case)
    return {"job": job.id, "number": case.number}


@bp.get("/api/print-jobs/<int:job_id>/document")
def print_document(job_id: int):
    session = _require_session()
    job = ops.get_device_job(_device(), job_id)
    data = ops.take_print_document(_actor(), _device(), session, job)
    return Response(data, mimetype="application/pdf", headers={"Content-Disposition": f"inline; job-{job.id}.pdf"})


@bp.post("/api/print-jobs/<int:job_id>/result")
def print_result(job_id: int):
    data = _json()
    job = ops.get_device_job(_device(), job_id)
    ok = data.get("ok") is True
    printer_state = str(data.get("printer_state") or "") or None
    job = ops.finish_print_job(
        _device(),
        job,
        ok=ok,
        printer_queue=str(data.get("printer_queue") or ""),
        cups_job_id=str(data.get("cups_job_id") or ""),
        pages=_int_or_none(data.get("pages")),
        error=str(data.get("error") or "")[:300],
        printer_state=printer_state,
    )
    done = job.state is PrintJobState.DONE
    counted = ops.job_counted(job)
    return {
        "state": job.state.value,
        "done": done,
        "counted": counted,
        "message": "打印完成，请取走您的材料" if done else ops.citizen_failure_message(printer_state, counted),
    }
