"""Bearer tokens of the mini-program API and the actor behind a request.

A token is 256 random bits (URL-safe base64) handed to the client once; the database keeps its
SHA-256 only, so a copy of the database gives no usable token. Tokens expire after
MP_SESSION_HOURS and are revoked by ``DELETE /session``. Reading a token writes nothing, so a
request that only reads never takes a write lock.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import current_app, request

from backend.actors import Actor
from backend.citizens import bindings
from backend.citizens.models import WeChatUser
from backend.errors import Forbidden, Unauthorized
from backend.extensions import db
from backend.types import utcnow

from . import messages as msg
from .models import MpSession

SCHEME_NAME = "MpBearer"
_CACHE = "credit.mp_session"
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "POST /api/mp/v1/session 返回的令牌：Authorization: Bearer <token>",
}


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def session_hours() -> int:
    return int(current_app.extensions["settings"].MP_SESSION_HOURS)


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def current_session() -> MpSession | None:
    """The live session of this request's bearer token, or None (no token, unknown, expired,
    revoked). Raises nothing: routes decide whether they need one."""
    # Cached on the request (not on g: an app context may outlive one request).
    if _CACHE in request.environ:
        return request.environ[_CACHE]
    found = None
    token = _bearer()
    if token and len(token) <= 200:
        row = db.session.scalar(sa.select(MpSession).where(MpSession.token_hash == hash_token(token)))
        if row is not None and row.revoked_at is None and row.expires_at > utcnow():
            found = row
    request.environ[_CACHE] = found
    return found


def current_user(required: bool = True) -> WeChatUser | None:
    session = current_session()
    if session is None:
        if required:
            raise Unauthorized(msg.TOKEN_INVALID if _bearer() else msg.TOKEN_MISSING, code="token_invalid")
        return None
    return session.user


def represented_subject_ids(user: WeChatUser) -> list[int]:
    """Enterprises this WeChat account acts for (its own active bindings)."""
    return bindings.represented_subject_ids(user_id=user.id)


def actor_for(user: WeChatUser | None, ip: str | None = None) -> Actor:
    """The operations' actor: a verified citizen (their natural-person subject and the
    enterprises they may act for), a not yet verified WeChat user, or the public."""
    ip = ip if ip is not None else request.remote_addr
    if user is None:
        return Actor.public(ip)
    if user.subject_id is None:
        return Actor("citizen", f"wx{user.id}", f"wechat-user-{user.id}", "mp", ip)
    # The subject id is the citizen's account: the same person is the same applicant on every
    # channel (mini-program, kiosk), so their cases follow them.
    return Actor.citizen(user.subject_id, "mp", represents=represented_subject_ids(user), ip=ip)


def verified_actor() -> tuple[WeChatUser, Actor]:
    user = current_user()
    assert user is not None
    if user.subject_id is None:
        raise Forbidden(msg.IDENTITY_REQUIRED, code="identity_required")
    return user, actor_for(user)


def login_required(view: Callable) -> Callable:
    """401 unless the request carries a live bearer token."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any):
        current_user()
        return view(*args, **kwargs)

    return wrapper


def verified_required(view: Callable) -> Callable:
    """401 without a live token, 403 until the user has passed face verification."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any):
        verified_actor()
        return view(*args, **kwargs)

    return wrapper


# Short-lived signed download URLs (wx.downloadFile cannot always send our header).
#
# A link is bound to the mini-program session that asked for it: it names that session and the
# signature covers the session's id, so signing out (DELETE /session), a revocation or the
# session's expiry ends every link it was given, besides the link's own MP_REPORT_URL_SECONDS.
# Not single-use: wx.downloadFile is retried on a dropped mobile connection and the PDF is the
# holder's own report, so a nonce burnt by the first, broken, attempt would only send the citizen
# back for a new link; what a leaked link must not do is outlive the session, and it cannot.


def _url_signature(number: str, session_id: int, expires: int) -> str:
    key = hashlib.sha256(b"mp-report-url\x00" + current_app.config["SECRET_KEY"].encode()).digest()
    return hmac.new(key, f"{number}|s{session_id}|{expires}".encode(), hashlib.sha256).hexdigest()


def sign_download(number: str, session: MpSession, now: dt.datetime | None = None) -> tuple[int, str]:
    seconds = int(current_app.extensions["settings"].MP_REPORT_URL_SECONDS)
    expires = int((now or utcnow()).replace(tzinfo=dt.UTC).timestamp()) + seconds
    # Never beyond the session itself.
    expires = min(expires, int(session.expires_at.replace(tzinfo=dt.UTC).timestamp()))
    return expires, _url_signature(number, session.id, expires)


def check_download(number: str, session_id: int, expires: int, signature: str) -> MpSession | None:
    """The live session a download link was signed for, or None (bad signature, expired link,
    session signed out, revoked or expired)."""
    now = utcnow()
    if expires < int(now.replace(tzinfo=dt.UTC).timestamp()):
        return None
    if not hmac.compare_digest(_url_signature(number, session_id, expires), signature or ""):
        return None
    session = db.session.get(MpSession, session_id)
    if session is None or session.revoked_at is not None or session.expires_at <= now:
        return None
    return session
