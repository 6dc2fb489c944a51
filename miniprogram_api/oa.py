"""The official account's server callbacks (/wechat/oa): plain and AES safe mode.

Checks, in order, before anything is parsed: body size, timestamp window, signature (compared
in constant time; in AES mode ``msg_signature`` over the encrypted body). Then the message is
decrypted with the EncodingAESKey (the AppId inside must be ours), parsed by wechatpy (which
refuses XML entities), checked against the replay and duplicate stores (Redis when configured,
the database otherwise) and answered with a passive reply, encrypted again in AES mode.

Duplicates: WeChat waits 5 s for an answer, then sends the same message again, three times in
all, and asks servers to deduplicate by MsgId (events: FromUserName + CreateTime) and to answer
``success`` (官方文档 "接收普通消息" / "接收事件推送"). A message seen before is answered
``success``. The nonce replay check stays, but remembers which message a (timestamp, nonce)
carried: a genuine retry (the same request again) is a duplicate, answered ``success``; the
same nonce with another message is a replay, refused with 403.

Replies: subscribe -> welcome; ``查询 <名称或代码>`` -> a short public summary and a link;
``核验 <报告编号>`` -> whether the number is registered and its status, nothing else;
``核验 <报告编号> <验证码>`` -> the report's facts (the shared verification by number and code);
clicks on our own menu keys -> their texts; other text -> help. Events that need no reply
(unsubscribe, VIEW, view_miniprogram, LOCATION, TEMPLATESENDJOBFINISH, any other event and
any other click key) and non-text messages are answered ``success``: an answer to them would be
a message the follower never asked for. An answer that took longer than
``WECHAT_OA_REPLY_BUDGET_SECONDS`` would arrive after WeChat gave up on this request (its retry
was already answered ``success`` as a duplicate): it is sent as a customer-service message
(``cgi-bin/message/custom/send``) through the outbox instead. Natural persons never appear here
except masked, as in the report registry, and only to whoever gave the report's verification
code.
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


def monotonic() -> float:
    """The clock the reply budget is measured with (tests move it)."""
    return time.monotonic()


def _short(text: str) -> str:
    """A fixed-length key for text the sender chooses (nonces, user ids)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


def remember_once(keys: list[str], seconds: int) -> bool:
    """Store every key of ``keys`` for ``seconds``, all or nothing; True when none was stored
    yet. Shared by all processes: Redis when configured, the database otherwise (also when
    Redis is down). Its own short transaction: a key is spent even if handling fails."""
    if _settings().REDIS_URL:
        from .client import REDIS_ERRORS, token_store

        client = getattr(token_store(), "redis", None)
        if client is not None:
            try:
                # MSETNX sets all or none, atomically (Redis docs, MSETNX).
                with client.pipeline() as pipe:
                    pipe.msetnx({f"credit:wechat:nonce:{key}": "1" for key in keys})
                    for key in keys:
                        pipe.expire(f"credit:wechat:nonce:{key}", seconds)
                    return bool(pipe.execute()[0])
            except REDIS_ERRORS as exc:
                # Redis down: the database remembers the keys instead, as when no Redis is set.
                log.warning("WeChat replay check: Redis unavailable (%s); using the database", type(exc).__name__)
    now = utcnow()
    try:
        with db.engine.begin() as conn:
            conn.execute(sa.delete(WeChatNonce).where(WeChatNonce.expires_at < now))
            for key in keys:
                conn.execute(sa.insert(WeChatNonce).values(key=key, expires_at=now + dt.timedelta(seconds=seconds)))
    except IntegrityError:
        return False
    return True


def seen(key: str) -> bool:
    """Whether ``remember_once`` stored ``key`` and it has not expired."""
    if _settings().REDIS_URL:
        from .client import REDIS_ERRORS, token_store

        client = getattr(token_store(), "redis", None)
        if client is not None:
            try:
                return bool(client.exists(f"credit:wechat:nonce:{key}"))
            except REDIS_ERRORS:
                pass  # as in remember_once: the database holds the keys while Redis is down
    with db.engine.connect() as conn:
        row = conn.execute(
            sa.select(WeChatNonce.key).where(WeChatNonce.key == key, WeChatNonce.expires_at >= utcnow())
        ).first()
    return row is not None


def message_key(message) -> str:
    """WeChat's deduplication key: MsgId for messages, FromUserName + CreateTime for events
    ("消息排重", in "接收普通消息" and "接收事件推送")."""
    if message.type == "event" or not message.id:
        # The event and its key too: a retry repeats them, and two different events of one
        # follower within a second (a menu click right after subscribing) stay two.
        created = int(message.create_time.timestamp()) if message.create_time else 0
        return f"evt:{message.source}:{created}:{getattr(message, 'event', '')}:{getattr(message, 'key', '')}"
    return f"msg:{message.id}"


def check_delivery(prefix: str, timestamp: str, nonce: str, key: str) -> str:
    """The fate of a delivery: "new", "duplicate" (the message was seen: answer ``success``) or "replay" (the nonce
    came before with another message: refuse)."""
    window = int(_settings().WECHAT_OA_TIMESTAMP_WINDOW_SECONDS)
    ttl = 2 * window + 60
    nonce_key = f"{prefix}n:{_short(timestamp + ':' + nonce)}"
    pair_key = f"{prefix}p:{_short(timestamp + ':' + nonce + ':' + key)}"
    msg_key = f"{prefix}m:{_short(key)}"
    if remember_once([nonce_key, pair_key], ttl):
        return "new" if remember_once([msg_key], ttl) else "duplicate"
    # The nonce was used: by this very message (WeChat re-sending the same request) or another.
    return "duplicate" if seen(pair_key) else "replay"


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
    delivery = check_delivery("oa:", timestamp, nonce, message_key(message))
    if delivery == "replay":
        return _refuse(403, "replayed nonce")
    if delivery == "duplicate":
        return _success()
    started = monotonic()
    content = answer(message)
    if content is None:
        return _success()
    if monotonic() - started > float(settings.WECHAT_OA_REPLY_BUDGET_SECONDS):
        # WeChat stopped waiting for this request: the answer goes out as a customer-service
        # message, sent by the outbox after the view's commit.
        queue_custom_reply(message.source, content)
        return _success()
    reply = TextReply(message=message, content=content).render()
    if aes:
        crypto = WeChatCrypto(token, settings.WECHAT_OA_AES_KEY, settings.WECHAT_OA_APPID)
        reply = crypto.encrypt_message(reply, nonce, timestamp)
    return Response(reply, mimetype="application/xml")


def _success() -> Response:
    """WeChat's "no reply" answer (it then shows nothing to the follower)."""
    return Response("success", mimetype="text/plain")


OA_REPLY_TOPIC = "wechat.oa_reply"


def queue_custom_reply(openid: str, content: str) -> None:
    """Queue a customer-service text to a follower (sent within WeChat's 48-hour window after
    their message; ``cgi-bin/message/custom/send``). The text is what the passive reply would
    have said: public facts, and a natural person only masked."""
    from backend.outbox.operations import enqueue_event

    enqueue_event(OA_REPLY_TOPIC, {"openid": openid, "content": content})


def handle_custom_reply(delivery) -> None:
    """Outbox handler of ``wechat.oa_reply``; WeChat errors are raised, so the outbox retries."""
    from .client import oa_api

    oa_api().send_text(delivery.payload["openid"], delivery.payload["content"])


def register(app) -> None:
    app.extensions.setdefault("outbox_handlers", {})[OA_REPLY_TOPIC] = handle_custom_reply


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


def answer(message) -> str | None:
    """The reply's text, or None for no reply (answered ``success``)."""
    kind = message.type
    if kind == "event":
        event = getattr(message, "event", "")
        if event in ("subscribe", "subscribe_scan"):
            return msg.OA_WELCOME
        if event == "click":
            return msg.OA_CLICK.get(getattr(message, "key", ""))  # only our own menu's keys
        return None
    if kind != "text":
        return None
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
