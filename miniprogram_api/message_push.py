"""The mini-program's message push (小程序消息推送, /wechat/mp/push): WeChat tells the server what
users did with subscribe messages, and the platform keeps their subscription state from it.

WeChat's documentation: "消息推送" (miniprogram/dev/framework/server-ability/message-push.html)
for the URL check, the signature, the data formats (XML or JSON, chosen in the console) and the
encryption modes (plain, compatible, safe: AES with the EncodingAESKey, the mini-program's AppID
inside); "订阅消息" event push (miniprogram/dev/framework/open-ability/subscribe-message.html)
for the three events used here:

* ``subscribe_msg_popup_event``: the user answered a ``wx.requestSubscribeMessage`` popup
  (``List`` of ``TemplateId`` + ``SubscribeStatusString`` accept/reject + ``PopupScene``);
* ``subscribe_msg_change_event``: the user changed a subscription in the mini-program's
  settings (``SubscribeStatusString`` reject: turned off; accept: turned back on);
* ``subscribe_msg_sent_event``: the result of a send (``MsgID``, ``ErrorCode`` 0 success).

With the push configured, the popup event is what counts a one-time grant: the client's own
report (POST /subscriptions) then records the answer without a grant, so one acceptance is
not counted twice. Checks as for the official account (miniprogram_api/oa.py): body size,
timestamp window, signature in constant time (``msg_signature`` over ``Encrypt`` in safe mode),
decryption, then the replay and duplicate stores: WeChat re-sends a push it got no answer to,
and a duplicate is answered ``success`` without counting again. Users the platform has never
seen (no sign-in through the API yet) and templates it does not use are ignored.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
from typing import Any

import sqlalchemy as sa
import xmltodict
from flask import Response, current_app, request
from wechatpy.crypto import PrpCrypto

from backend.citizens.models import WeChatUser
from backend.extensions import db

from . import oa
from .operations import apply_subscription_answer, configured_template_ids, is_acceptance

log = logging.getLogger(__name__)

EVENT_LISTS = {
    "subscribe_msg_popup_event": "SubscribeMsgPopupEvent",
    "subscribe_msg_change_event": "SubscribeMsgChangeEvent",
    "subscribe_msg_sent_event": "SubscribeMsgSentEvent",
}


def _settings():
    return current_app.extensions["settings"]


def _refuse(status: int, text: str) -> Response:
    return Response(text, status=status, mimetype="text/plain")


def _success() -> Response:
    return Response("success", mimetype="text/plain")


def verify_server() -> Response:
    """The console's URL check: echo ``echostr`` when the signature is ours."""
    token = _settings().WECHAT_MP_PUSH_TOKEN
    if not token:
        return _refuse(503, "not configured")
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    if not oa._check_timestamp(timestamp):
        return _refuse(403, "timestamp out of window")
    if not hmac.compare_digest(oa.signature_of(token, timestamp, nonce), args.get("signature", "")):
        return _refuse(403, "bad signature")
    return Response(args.get("echostr", ""), mimetype="text/plain")


def parse_body(text: str) -> dict[str, Any]:
    """A JSON or XML push as a dict of WeChat's field names (ValueError: neither)."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ValueError("malformed json") from exc
    else:
        try:
            # disable_entities: a DOCTYPE with entities is refused, never expanded.
            data = (xmltodict.parse(stripped, disable_entities=True) or {}).get("xml")
        except Exception as exc:
            raise ValueError("malformed xml") from exc
    if not isinstance(data, dict):
        raise ValueError("not an object")
    return data


def event_items(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``List`` entries of a subscribe event: at the top level (JSON) or inside the event's
    own element (XML); one entry or several."""
    items = data.get("List")
    if items is None:
        container = data.get(EVENT_LISTS.get(str(data.get("Event")), ""))
        items = container.get("List") if isinstance(container, dict) else None
    if isinstance(items, dict):
        items = [items]
    return [item for item in items or [] if isinstance(item, dict)]


def receive() -> Response:
    """Handle one push; the view commits."""
    settings = _settings()
    token = settings.WECHAT_MP_PUSH_TOKEN
    if not token:
        return _refuse(503, "not configured")
    limit = int(settings.WECHAT_OA_MAX_BODY_BYTES)
    if request.content_length is not None and request.content_length > limit:
        return _refuse(413, "too large")
    # A JSON body was already read and cached by the request guard (backend/request_guard.py).
    body = request.get_data(cache=True) if request.is_json else request.stream.read(limit + 1)
    if len(body) > limit:
        return _refuse(413, "too large")
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    if not oa._check_timestamp(timestamp):
        return _refuse(403, "timestamp out of window")
    try:
        outer = parse_body(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        outer = None
    if settings.WECHAT_MP_PUSH_AES_KEY:
        if args.get("encrypt_type") != "aes":
            return _refuse(403, "aes mode required")
        encrypted = outer.get("Encrypt") if outer else None
        if not isinstance(encrypted, str) or not encrypted:
            return _refuse(400, "malformed")
        if not hmac.compare_digest(oa.signature_of(token, timestamp, nonce, encrypted), args.get("msg_signature", "")):
            return _refuse(403, "bad signature")
        try:
            key = base64.b64decode(settings.WECHAT_MP_PUSH_AES_KEY + "=")
            data = parse_body(PrpCrypto(key).decrypt(encrypted, settings.WECHAT_MP_APPID))
        except Exception:  # another AppID inside, bad padding, not base64, not JSON/XML
            return _refuse(400, "cannot decrypt")
    else:
        if not hmac.compare_digest(oa.signature_of(token, timestamp, nonce), args.get("signature", "")):
            return _refuse(403, "bad signature")
        if outer is None:
            return _refuse(400, "malformed")
        data = outer
    openid, event = str(data.get("FromUserName") or ""), str(data.get("Event") or "")
    if not openid or event not in EVENT_LISTS:
        return _success()  # other pushes (customer-service messages, ...) are not used here
    key = f"evt:{openid}:{data.get('CreateTime')}:{event}"
    delivery = oa.check_delivery("mpp:", timestamp, nonce, key)
    if delivery == "replay":
        return _refuse(403, "replayed nonce")
    if delivery == "duplicate":
        return _success()
    apply_event(openid, event, event_items(data))
    return _success()


def apply_event(openid: str, event: str, items: list[dict[str, Any]]) -> None:
    user = db.session.scalar(
        sa.select(WeChatUser).where(WeChatUser.appid == _settings().WECHAT_MP_APPID, WeChatUser.openid == openid)
    )
    if user is None:
        return  # never signed in through the API: nothing of theirs to keep
    known = configured_template_ids()
    for item in items[:20]:
        template_id = str(item.get("TemplateId") or "")
        if template_id not in known:
            continue
        if event == "subscribe_msg_sent_event":
            if str(item.get("ErrorCode", "0")) != "0":
                log.info("subscribe message not delivered: template %s, error %s", template_id, item.get("ErrorCode"))
            continue
        answer = str(item.get("SubscribeStatusString") or "")[:20]
        if not answer:
            continue
        row = apply_subscription_answer(user, template_id, answer, grant=event == "subscribe_msg_popup_event")
        if event == "subscribe_msg_change_event" and not is_acceptance(answer):
            row.accepted_count = 0  # turned off in the settings: WeChat delivers nothing more
    db.session.flush()
