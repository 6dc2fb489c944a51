"""The WeChat channel's own tables: users, sessions, identity and enterprise bindings, kiosk
sign-in tickets, subscriptions, message attempts, and the shared access-token and nonce stores."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.subjects.models import Subject
from backend.types import enum_column, utcnow


class WeChatUser(db.Model):
    """A mini-program user (微信用户), by openid; ``subject_id`` is set by face verification."""

    __tablename__ = "wechat_user"
    __table_args__ = (sa.UniqueConstraint("appid", "openid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    appid: Mapped[str] = mapped_column(sa.String(40))
    openid: Mapped[str] = mapped_column(sa.String(64))
    unionid: Mapped[str | None] = mapped_column(sa.String(64))
    # WeChat's session_key decrypts data the client sends (phone number ...): kept encrypted.
    session_key_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    # The natural person this user was verified as (实名核验, WeChat face verification).
    subject_id: Mapped[int | None] = mapped_column(sa.ForeignKey("subject.id"), index=True)
    verified_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    subject: Mapped[Subject | None] = relationship()

    @property
    def is_verified(self) -> bool:
        return self.subject_id is not None


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


class FaceVerificationOutcome(enum.Enum):
    PASSED = "passed"
    MISMATCH = "mismatch"  # 1.0 only (retired): WeChat verified someone other than the claimed person
    FAILED = "failed"  # verify_ret != 10000


class FaceVerification(db.Model):
    """One face verification result (人脸核身), accepted once only: ``verify_result_hash`` is the
    SHA-256 of the 2.0 ``verify_id`` (of the 1.0 ``verify_result`` in rows before 2.0), and
    ``identify_ret`` holds 2.0's ``verify_ret``."""

    __tablename__ = "wechat_face_verification"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("wechat_user.id"), index=True)
    verify_result_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    outcome: Mapped[FaceVerificationOutcome] = mapped_column(
        enum_column(FaceVerificationOutcome, "face_verification_outcome")
    )
    identify_ret: Mapped[int | None]
    identify_time: Mapped[int | None]
    subject_id: Mapped[int | None] = mapped_column(sa.ForeignKey("subject.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FaceVerifySession(db.Model):
    """A face verification 2.0 session (getverifyid): the ``verify_id`` WeChat issued for the
    claimed name and ID number, bound to the user who asked. The verify_id is kept as its SHA-256
    (the page holds it); the claim is kept encrypted, since queryverifyinfo needs its cert_hash
    and a pass binds this very name and number. Used once (``used_at``)."""

    __tablename__ = "wechat_face_verify_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("wechat_user.id"), index=True)
    verify_id_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # api_getverifyid: 5-32 characters of [0-9A-Za-z_-], unique per AppID.
    out_seq_no: Mapped[str] = mapped_column(sa.String(32), unique=True)
    claim_encrypted: Mapped[str] = mapped_column(sa.Text)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    used_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WeChatConfigError(db.Model):
    """A WeChat answer that only an operator can fix (48001 API not authorised, 40125 wrong
    secret ...), kept so the console shows a banner while the last one is recent."""

    __tablename__ = "wechat_config_error"

    id: Mapped[int] = mapped_column(primary_key=True)
    errcode: Mapped[int]
    api: Mapped[str] = mapped_column(sa.String(64))
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class BindingMethod(enum.Enum):
    # The verified person's ID number = the registered 法定代表人证件号码 (by keyed hash). Bindings
    # made before that check compared names only: migration 0009 suspended them.
    LEGAL_REPRESENTATIVE = "legal_representative"
    AUTHORISATION_LETTER = "authorisation_letter"  # 授权委托书, reviewed by platform staff


class BindingStatus(enum.Enum):
    ACTIVE = "active"
    PENDING_REVIEW = "pending_review"
    REJECTED = "rejected"
    REVOKED = "revoked"
    # No longer backed by the registration data (a name-only binding, or the registered
    # representative changed): no access until staff reinstate it or the holder binds again.
    SUSPENDED = "suspended"


class EnterpriseBinding(db.Model):
    """A verified person acting for an enterprise (法定代表人 or 委托代理人)."""

    __tablename__ = "wechat_enterprise_binding"
    __table_args__ = (
        sa.CheckConstraint("method <> 'authorisation_letter' OR material_id IS NOT NULL", name="letter_has_material"),
        sa.Index(
            "uq_wechat_enterprise_binding_live",
            "user_id",
            "subject_id",
            unique=True,
            sqlite_where=sa.text("status IN ('active', 'pending_review')"),
            postgresql_where=sa.text("status IN ('active', 'pending_review')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("wechat_user.id"), index=True)
    person_subject_id: Mapped[int] = mapped_column(sa.ForeignKey("subject.id"))
    subject_id: Mapped[int] = mapped_column(sa.ForeignKey("subject.id"), index=True)  # the enterprise
    method: Mapped[BindingMethod] = mapped_column(enum_column(BindingMethod, "binding_method"))
    status: Mapped[BindingStatus] = mapped_column(enum_column(BindingStatus, "binding_status"))
    material_id: Mapped[int | None] = mapped_column(sa.ForeignKey("material.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reviewed_at: Mapped[dt.datetime | None]
    reviewed_by_label: Mapped[str | None] = mapped_column(sa.String(100))
    review_reason: Mapped[str | None] = mapped_column(sa.String(500))
    suspended_at: Mapped[dt.datetime | None]
    suspension_reason: Mapped[str | None] = mapped_column(sa.String(500))

    subject: Mapped[Subject] = relationship(foreign_keys=[subject_id])

    @property
    def status_reason(self) -> str | None:
        """Why the binding is in its state, for its holder (a suspension or a rejection)."""
        if self.status is BindingStatus.SUSPENDED:
            return self.suspension_reason
        return self.review_reason


class KioskLoginTicket(db.Model):
    """A sign-in QR code shown on a kiosk screen, confirmed in the mini-program by a verified
    person: random, stored hashed, short-lived, single use."""

    __tablename__ = "kiosk_login_ticket"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    device_ref: Mapped[str] = mapped_column(sa.String(64))  # the kiosk device (kiosk issue)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    confirmed_at: Mapped[dt.datetime | None]
    confirmed_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("wechat_user.id"))
    subject_id: Mapped[int | None] = mapped_column(sa.ForeignKey("subject.id"))
    consumed_at: Mapped[dt.datetime | None]  # the kiosk took the sign-in: never again


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
