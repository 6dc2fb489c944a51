"""Public verification (no login, rate-limited): /v/<token>, /verify, POST /api/v1/verify, and
the public keys at /.well-known/credit-report-keys.json.

Views only parse, call the verification, audit views of natural persons' reports, and render.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from apiflask import APIBlueprint
from apiflask.scaffold import _annotate
from flask import current_app, jsonify, render_template, request
from marshmallow import ValidationError

from reports import tokens
from reports.content import CHINA_TZ

from ..actors import Actor
from ..audit.operations import record_event
from ..errors import ApiError
from ..extensions import limiter, verification_limit, verification_post_limit
from ..types import local_date
from . import messages as msg
from .forms import VerifyForm
from .keys import report_keys
from .schemas import KeysDocumentSchema, VerifyRequestSchema, VerifyResultSchema
from .verification import KEYS_PATH, Verdict, verify_number_code, verify_pdf, verify_token_text

pages = APIBlueprint("verify", __name__, enable_openapi=False, template_folder="templates")
api = APIBlueprint("verify_api", __name__, tag=msg.TAG)


def _verify_limit() -> str:
    return current_app.extensions["settings"].RATELIMIT_VERIFY


def _china(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else moment.replace(tzinfo=dt.UTC).astimezone(CHINA_TZ)


def verdict_data(verdict: Verdict) -> dict[str, Any]:
    """The public verifier's view of a verdict: ``report`` (ReportPublicSchema: subject data as
    registered, masked for persons) when the verification proved possession of the report,
    ``claimed`` (ReportNumberStatusSchema, the "number only" audience) when it did not."""
    data: dict[str, Any] = {
        "genuine": verdict.genuine,
        "status": verdict.status,
        "code": verdict.code,
        "reason": verdict.reason,
        "signature": verdict.signature,
        "report": None,
        "claimed": None,
        "file": None,
    }
    if verdict.claimed is not None:
        claimed = verdict.claimed
        data["claimed"] = {
            "number": claimed.number,
            "status": claimed.status.value,
            "status_label": msg.STATUS_LABELS[claimed.status],
        }
    report = verdict.report
    if report is not None:
        status = report.status_on(local_date())
        data["report"] = {
            "number": report.number,
            "kind": report.kind.value,
            "kind_label": msg.KIND_LABELS[report.kind],
            "issued_at": _china(report.issued_at),
            "valid_until": report.valid_until,
            "status": status.value,
            "status_label": msg.STATUS_LABELS[status],
            "revoked_at": _china(report.revoked_at),
            "revoked_reason": report.revoked_reason,
            "subject": {
                "kind": "natural" if report.subject_natural else "legal",
                "name": report.subject_display_name,
                "code_label": "身份证号码" if report.subject_natural else "统一社会信用代码",
                "code": report.subject_display_code,
            },
            "summary": report.summary,
        }
    if verdict.file is not None:
        f = verdict.file
        data["file"] = {
            "identical": f.identical,
            "signature_intact": f.signature_intact,
            "signature_valid": f.signature_valid,
            "signature_reason": f.signature_reason,
            "signature_message": f.signature_message,
            "registered_signature_valid": f.registered_signature_valid,
        }
    return data


def _iso(moment: dt.date | None) -> str | None:
    return None if moment is None else moment.isoformat()


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    """``verdict_data`` as ``VerifyResultSchema`` dumps it, written out by hand: the schema's dump
    costs more than the verification itself (tests/test_verify_serialization.py keeps them equal)."""
    data = verdict_data(verdict)
    report = data["report"]
    if report is not None:
        data["report"] = {
            **report,
            "issued_at": _iso(report["issued_at"]),
            "valid_until": _iso(report["valid_until"]),
            "revoked_at": _iso(report["revoked_at"]),
        }
    return data


def _audit(verdict: Verdict, via: str) -> None:
    """Every view of a natural person's (masked) report data is logged (committed with the request)."""
    report = verdict.report
    if report is None or not report.subject_natural:
        return
    record_event(
        Actor("public", None, "verifier", "public", request.remote_addr),
        "report.verify",
        target=report,
        subject_id=report.subject_id,
        details={"number": report.number, "via": via, "answer": verdict.code},
    )


# --- HTML pages ----------------------------------------------------------------------------


@pages.get("/v/<token>")
@verification_limit
def scan(token: str):
    verdict = verify_token_text(token)
    _audit(verdict, "qr")
    return render_template("issued_reports/verify_result.html", v=verdict, data=verdict_data(verdict), via="qr")


@pages.route("/verify", methods=["GET", "POST"])
@verification_post_limit
def verify_page():
    form = VerifyForm()
    verdict = None
    error = None
    if form.validate_on_submit():
        upload = form.file.data
        if upload is not None and getattr(upload, "filename", ""):
            verdict = verify_pdf(upload.read(current_app.config["MAX_CONTENT_LENGTH"]))
            via = "file"
        elif (form.number.data or "").strip() and (form.code.data or "").strip():
            verdict = verify_number_code(form.number.data, form.code.data)
            via = "code"
        else:
            error = msg.VERIFY_FORM_REQUIRED
        if verdict is not None:
            _audit(verdict, via)
            return render_template("issued_reports/verify_result.html", v=verdict, data=verdict_data(verdict), via=via)
    elif form.is_submitted():
        error = msg.CSRF_OR_INPUT_INVALID
    status = 422 if error else 200
    return render_template("issued_reports/verify_form.html", form=form, error=error), status


# --- JSON API ------------------------------------------------------------------------------


_QR_ONLY = VerifyRequestSchema(only=("qr",))  # stateless: one instance serves every request


def verdict_from_request() -> tuple[Verdict, str]:
    """The verification asked for by a JSON ``{"qr": ...}`` body or a multipart ``file`` upload
    (the public API and the mini-program's verify share it)."""
    # Files come only in a multipart body; asking a JSON request for them parses a form it has not.
    upload = request.files.get("file") if request.mimetype == "multipart/form-data" else None
    if upload is not None:
        return verify_pdf(upload.read(current_app.config["MAX_CONTENT_LENGTH"])), "file"
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        raise ApiError(msg.VERIFY_INPUT_REQUIRED, code="verify_input_required")
    try:
        data = _QR_ONLY.load(body, unknown="exclude")
    except ValidationError as exc:
        raise ApiError(
            msg.VERIFY_INPUT_REQUIRED, code="validation_error", status=422, details=exc.normalized_messages()
        ) from exc
    if not data.get("qr"):
        raise ApiError(msg.VERIFY_INPUT_REQUIRED, code="verify_input_required")
    return verify_token_text(data["qr"]), "qr"


@api.post("/api/v1/verify")
@verification_limit
@api.output(VerifyResultSchema)
@api.doc(summary=msg.VERIFY_SUMMARY, description=msg.VERIFY_DESCRIPTION, responses=[400, 413, 422, 429])
def verify_api():
    verdict, via = verdict_from_request()
    _audit(verdict, via)
    return jsonify(verdict_json(verdict))  # = VerifyResultSchema's dump, without its cost


# The body is JSON or multipart (parsed above, since APIFlask's input() takes one location):
# declare both in the OpenAPI document with the same schema.
_annotate(verify_api, body=VerifyRequestSchema(), content_type=["application/json", "multipart/form-data"])


@api.get(KEYS_PATH)
@limiter.limit(_verify_limit)  # a budget of its own: offline verifiers fetch it before checking
@api.output(KeysDocumentSchema)
@api.doc(summary=msg.KEYS_SUMMARY, description=msg.KEYS_DESCRIPTION)
def public_keys():
    return tokens.public_keys_document(report_keys().public_keys)
