"""The WeChat channel's own tables: sessions, subscriptions, message attempts, configuration
errors, and the shared access-token and nonce stores. The WeChat user, face verifications,
enterprise bindings and kiosk sign-in tickets belong to the citizens domain (backend/citizens/)."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.citizens.models import WeChatUser
from backend.extensions import db
from backend.pii_registry import EncryptedColumn, register_encrypted
from backend.types import enum_column, utcnow


class MpSession(db.Model):
    """A bearer token of the mini-program API: opaque, stored as its SHA-256, expiring, revocable."""

    __tablename__ = "mp_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("wechat_user.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    revoked_at: Mapped[dt.datetime | None]
    ip: Mapped[str | None] = mapped_column(sa.String(45))

    user: Mapped[WeChatUser] = relationship()


class WeChatConfigError(db.Model):
    """A WeChat answer that only an operator can fix (48001 API not authorised, 40125 wrong
    secret ...), kept so the console shows a banner while the last one is recent."""

    __tablename__ = "wechat_config_error"

    id: Mapped[int] = mapped_column(primary_key=True)
    errcode: Mapped[int]
    api: Mapped[str] = mapped_column(sa.String(64))
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class MpSubscription(db.Model):
    """What the user answered to ``wx.requestSubscribeMessage`` per template (one-time grants)."""

    __tablename__ = "mp_subscription"
    __table_args__ = (sa.UniqueConstraint("user_id", "template_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("wechat_user.id"))
    template_id: Mapped[str] = mapped_column(sa.String(64))
    accepted_count: Mapped[int] = mapped_column(default=0)  # grants not yet used
    last_answer: Mapped[str] = mapped_column(sa.String(20))  # accept | reject | ban | filter
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MessageAttemptStatus(enum.Enum):
    SENT = "sent"
    NOT_SUBSCRIBED = "not_subscribed"  # 43101: never retried
    FAILED = "failed"  # will be retried by the outbox
    SKIPPED = "skipped"  # nobody to send to (no WeChat user, no template configured)


class MessageAttempt(db.Model):
    """Every attempt to deliver a WeChat message, for the console (who, what, result)."""

    __tablename__ = "wechat_message_attempt"
    __table_args__ = (sa.Index("ix_wechat_message_attempt_event", "outbox_event_id", "attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_event_id: Mapped[int]
    idempotency_key: Mapped[str] = mapped_column(sa.String(64))
    attempt: Mapped[int]
    topic: Mapped[str] = mapped_column(sa.String(64))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("wechat_user.id"))
    template_id: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[MessageAttemptStatus] = mapped_column(enum_column(MessageAttemptStatus, "message_attempt_status"))
    errcode: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class WeChatAccessToken(db.Model):
    """The shared access token of one AppID when no Redis is configured; the lock columns let
    one process refresh while the others wait for its result."""

    __tablename__ = "wechat_access_token"

    appid: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    token_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    expires_at: Mapped[dt.datetime | None]
    fetched_at: Mapped[dt.datetime | None]
    lock_owner: Mapped[str | None] = mapped_column(sa.String(64))
    lock_until: Mapped[dt.datetime | None]
    # stable_token's force_refresh budget (20 a day, 30 s apart), shared by every process.
    force_day: Mapped[str | None] = mapped_column(sa.String(10))  # Beijing date of force_count
    force_count: Mapped[int] = mapped_column(default=0, server_default="0")
    force_last_at: Mapped[dt.datetime | None]


class WeChatNonce(db.Model):
    """Nonces of official-account callbacks seen within the timestamp window (replay cache)."""

    __tablename__ = "wechat_nonce"

    key: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


register_encrypted(
    WeChatAccessToken, EncryptedColumn("token_encrypted", lambda row: f"wechat.access_token:{row.appid}")
)
