"""The citizens domain's tables (市民): the person behind a WeChat account and how they were
verified (face verification), the enterprises they act for (bindings and their review), and the
one-time tickets that sign a verified person in at a kiosk. Both channels (kiosk/, miniprogram_api/)
read them through this package; table names are those of the migrations that created them."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.pii_registry import EncryptedColumn, register_encrypted
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


register_encrypted(WeChatUser, EncryptedColumn("session_key_encrypted", lambda row: f"wechat.session_key:{row.openid}"))
# The claimed name and ID number of a face verification 2.0 session.
register_encrypted(
    FaceVerifySession, EncryptedColumn("claim_encrypted", lambda row: f"wechat.face_claim:{row.out_seq_no}")
)
