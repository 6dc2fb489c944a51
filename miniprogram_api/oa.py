"""The official account's server callbacks (/wechat/oa): plain and AES safe mode.

Checks, in order, before anything is parsed: body size, timestamp window, signature (compared
in constant time; in AES mode ``msg_signature`` over the encrypted body), then the nonce replay
cache (Redis when configured, the database otherwise). Then the message is decrypted with the
EncodingAESKey (the AppId inside must be ours), parsed by wechatpy (which refuses XML entities)
and answered with a passive reply, encrypted again in AES mode.

Replies: subscribe -> welcome; ``查询 <名称或代码>`` -> a short public summary and a link;
``核验 <报告编号>`` -> whether the number is registered and its status, nothing else;
``核验 <报告编号> <验证码>`` -> the report's facts (the shared verification by number and code);
menu clicks -> their texts; anything else -> help. Natural persons never appear here except
masked, as in the report registry, and only to whoever gave the report's verification code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import time

import sqlalchemy as sa
from flask import Response, current_app, request
from sqlalchemy.exc import IntegrityError
from wechatpy import parse_message
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.replies import TextReply

from backend.actors import Actor
from backend.audit.operations import record_event
from backend.extensions import db
from backend.issued_reports import messages as report_msg
from backend.issued_reports.operations import normalise_number
from backend.issued_reports.verification import number_status, verify_number_code
from backend.records.labels import category_label
from backend.subjects.queries import get_public_profile, search_enterprises
from backend.types import local_date, utcnow

from . import messages as msg
from .models import WeChatNonce

log = logging.getLogger(__name__)


def now_epoch() -> float:
    """The clock the timestamp window is checked against (tests fix it)."""
    return time.time()


def _settings():
    return current_app.extensions["settings"]


def signature_of(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the sorted parts concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8"), usedforsecurity=False).hexdigest()


def _refuse(status: int, text: str) -> Response:
    return Response(text, status=status, mimetype="text/plain")


def _check_timestamp(timestamp: str) -> bool:
    if not timestamp.isdigit():
        return False
    return abs(now_epoch() - int(timestamp)) <= int(_settings().WECHAT_OA_TIMESTAMP_WINDOW_SECONDS)


def _remember_nonce(timestamp: str, nonce: str) -> bool:
    """True the first time this (timestamp, nonce) is seen within the window."""
    window = int(_settings().WECHAT_OA_TIMESTAMP_WINDOW_SECONDS)
    key = f"oa:{timestamp}:{nonce}"[:128]
    redis_url = _settings().REDIS_URL
    if redis_url:
        from .client import REDIS_ERRORS, token_store

        store = token_store()
        client = getattr(store, "redis", None)
        if client is not None:
            try:
                return bool(client.set(f"credit:wechat:nonce:{key}", "1", nx=True, ex=2 * window + 60))
            except REDIS_ERRORS as exc:
                # Redis down: the database remembers the nonce instead, as when no Redis is set.
                log.warning("OA nonce check: Redis unavailable (%s); using the database", type(exc).__name__)
    now = utcnow()
    # Its own short transaction: the nonce is spent even if handling the message fails.
    try:
        with db.engine.begin() as conn:
            conn.execute(sa.delete(WeChatNonce).where(WeChatNonce.expires_at < now))
            conn.execute(sa.insert(WeChatNonce).values(key=key, expires_at=now + dt.timedelta(seconds=2 * window + 60)))
    except IntegrityError:
        return False
    return True


def _token() -> str:
    return _settings().WECHAT_OA_TOKEN


def verify_server() -> Response:
    """WeChat's server URL check: echo ``echostr`` when the signature is ours."""
    if not _token():
        return _refuse(503, "not configured")
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    if not _check_timestamp(timestamp):
        return _refuse(403, "timestamp out of window")
    if not hmac.compare_digest(signature_of(_token(), timestamp, nonce), args.get("signature", "")):
        return _refuse(403, "bad signature")
    return Response(args.get("echostr", ""), mimetype="text/plain")


def receive() -> Response:
    """Handle one callback; the caller (the view) commits the audit rows of report look-ups."""
    settings = _settings()
    token = _token()
    if not token:
        return _refuse(503, "not configured")
    limit = int(settings.WECHAT_OA_MAX_BODY_BYTES)
    if request.content_length is not None and request.content_length > limit:
        return _refuse(413, "too large")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        return _refuse(413, "too large")
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    if not _check_timestamp(timestamp):
        return _refuse(403, "timestamp out of window")
    aes = bool(settings.WECHAT_OA_AES_KEY)
    encrypted = None
    if aes:
        if args.get("encrypt_type") != "aes":
            return _refuse(403, "aes mode required")
        try:
            encrypted = _extract_encrypt(body)
        except ValueError:
            return _refuse(400, "malformed")
        expected = signature_of(token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected, args.get("msg_signature", "")):
            return _refuse(403, "bad signature")
    elif not hmac.compare_digest(signature_of(token, timestamp, nonce), args.get("signature", "")):
        return _refuse(403, "bad signature")
    if not _remember_nonce(timestamp, nonce):
        return _refuse(403, "replayed nonce")
    if encrypted is not None:
        try:
            plain = PrpCrypto(_aes_key(settings.WECHAT_OA_AES_KEY)).decrypt(encrypted, settings.WECHAT_OA_APPID)
        except Exception:  # wrong AppId inside, bad padding, not base64: not for us
            return _refuse(400, "cannot decrypt")
    else:
        plain = body.decode("utf-8", "replace")
    try:
        message = parse_message(plain)
    except Exception:
        # Not XML, or XML with a DOCTYPE / entities (refused unexpanded): WeChat never sends
        # that, so it is not answered with "success" as if it had been a message.
        log.warning("official account: unparseable message body refused")
        return _refuse(400, "malformed xml")
    if message is None or not getattr(message, "source", None):
        return Response("success", mimetype="text/plain")  # nothing to answer (WeChat's convention)
    content = answer(message)
    reply = TextReply(message=message, content=content).render()
    if aes:
        crypto = WeChatCrypto(token, settings.WECHAT_OA_AES_KEY, settings.WECHAT_OA_APPID)
        reply = crypto.encrypt_message(reply, nonce, timestamp)
    return Response(reply, mimetype="application/xml")


def _aes_key(encoding_aes_key: str) -> bytes:
    import base64

    return base64.b64decode(encoding_aes_key + "=")


def _extract_encrypt(body: bytes) -> str:
    import xmltodict

    try:
        data = xmltodict.parse(body.decode("utf-8"), disable_entities=True)
    except Exception as exc:
        raise ValueError("malformed xml") from exc
    encrypted = (data.get("xml") or {}).get("Encrypt") if isinstance(data, dict) else None
    if not isinstance(encrypted, str) or not encrypted:
        raise ValueError("no Encrypt element")
    return encrypted


# --- answers -------------------------------------------------------------------------------


def answer(message) -> str:
    kind = message.type
    if kind == "event":
        event = getattr(message, "event", "")
        if event in ("subscribe", "subscribe_scan"):
            return msg.OA_WELCOME
        if event == "click":
            return msg.OA_CLICK.get(getattr(message, "key", ""), msg.OA_HELP)
        return msg.OA_HELP
    if kind != "text":
        return msg.OA_HELP
    text = (message.content or "").strip()
    for prefix, handler in (("查询", answer_query), ("核验", answer_verify)):
        if text.startswith(prefix):
            return handler(text[len(prefix) :].strip())
    return msg.OA_HELP


def answer_query(q: str) -> str:
    if not q:
        return msg.OA_QUERY_EMPTY
    q = q[:100]
    page = search_enterprises(q, per_page=3)
    if not page.items:
        return msg.OA_QUERY_NONE.format(q=q)
    base = _settings().PUBLIC_BASE_URL.rstrip("/")
    lines = [msg.OA_QUERY_HEAD]
    for item in page.items:
        lines.append(msg.OA_QUERY_LINE.format(name=item.name, uscc=item.uscc))
    first = page.items[0]
    profile = get_public_profile(first.uscc, local_date())
    if profile is not None:
        counts = [f"{category_label(g.category)} {g.count} 条" for g in profile.categories if g.count]
        details = f"（{'，'.join(counts)}）" if counts else ""
        lines.append(f"{first.name}：" + msg.OA_QUERY_PROFILE.format(total=profile.total_records, details=details))
        lines.append(msg.OA_QUERY_LINK.format(url=f"{base}/subjects/{first.uscc}"))  # the public page
    if page.has_more:
        lines.append(msg.OA_QUERY_MORE)
    return "\n".join(lines)


def answer_verify(raw: str) -> str:
    """``核验 <number>``: registered or not, and its status only (a number is no proof of holding
    the report); ``核验 <number> <code>``: the report's facts, as the /verify page gives them."""
    parts = raw.split(maxsplit=1)
    if not parts:
        return msg.OA_VERIFY_EMPTY
    number = normalise_number(parts[0])[:40]
    url = f"{_settings().PUBLIC_BASE_URL.rstrip('/')}/verify"
    if len(parts) == 1:
        found = number_status(number)
        if found is None:
            return msg.OA_VERIFY_NONE.format(number=number)
        return msg.OA_VERIFY_STATUS.format(number=number, status=report_msg.STATUS_LABELS[found.status], url=url)
    verdict = verify_number_code(number, parts[1][:40])
    report = verdict.report
    if verdict.code == "unknown_number":
        return msg.OA_VERIFY_NONE.format(number=number)
    if report is None:
        return msg.OA_VERIFY_CODE_MISMATCH
    status = report.status_on(local_date())
    reason = f"（{report.revoked_reason}）" if report.revoked_reason and status.value == "revoked" else ""
    if report.subject_natural:
        record_event(
            Actor("public", None, "oa-verifier", "oa"),
            "report.verify",
            target=report,
            subject_id=report.subject_id,
            details={"number": report.number, "via": "oa", "answer": status.value},
        )
    return msg.OA_VERIFY_RESULT.format(
        number=report.number,
        kind=report_msg.KIND_LABELS[report.kind],
        subject=report.subject_display_name,
        issued=report.issued_on.isoformat(),
        valid_until=report.valid_until.isoformat(),
        status=report_msg.STATUS_LABELS[status],
        reason=reason,
        url=url,
    )
