"""The kiosk channel's tables: devices (自助信用服务终端), short citizen sessions, print jobs."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.types import enum_column, utcnow


class PrinterState(enum.Enum):
    """What the agent last said about the kiosk's printer (labels in messages.PRINTER_STATES)."""

    READY = "ready"
    PAPER_OUT = "paper_out"
    JAMMED = "jammed"
    OFFLINE = "offline"
    UNKNOWN = "unknown"  # no heartbeat yet


class KioskDevice(db.Model):
    """A registered kiosk (自助信用服务终端). The credential is shown once at registration;
    the table keeps its SHA-256 only (256 random bits: no slow hash needed)."""

    __tablename__ = "kiosk_device"
    __table_args__ = (sa.CheckConstraint("paper_counter >= 0", name="paper_counter_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)  # the device id printed on the case
    hall: Mapped[str] = mapped_column(sa.String(100))  # 政务服务大厅
    location: Mapped[str] = mapped_column(sa.String(200))
    credential_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_heartbeat_at: Mapped[dt.datetime | None]
    agent_version: Mapped[str | None] = mapped_column(sa.String(40))
    printer_queue: Mapped[str | None] = mapped_column(sa.String(100))
    printer_state: Mapped[PrinterState] = mapped_column(
        enum_column(PrinterState, "kiosk_printer_state"), default=PrinterState.UNKNOWN
    )
    printer_message: Mapped[str | None] = mapped_column(sa.String(200))
    paper_counter: Mapped[int] = mapped_column(default=0)  # sheets printed since the last refill
    # The agent's Ed25519 public key (raw 32 bytes, base64), enrolled once per credential with
    # ``python -m kiosk.agent enrol``: every ID-card reading is signed with its private key.
    public_key: Mapped[str | None] = mapped_column(sa.String(64))
    public_key_at: Mapped[dt.datetime | None]


class SigninChallenge(db.Model):
    """A one-time challenge the agent signs with an ID-card reading: issued to one device, lives
    KIOSK_SIGNIN_CHALLENGE_SECONDS, consumed by the first signed reading that names it."""

    __tablename__ = "kiosk_signin_challenge"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(sa.ForeignKey("kiosk_device.id"), index=True)
    challenge_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class SignInMethod(enum.Enum):
    ID_CARD = "id_card"  # 二代身份证 on the reader, with the vendor's face comparison
    MP_SCAN = "mp_scan"  # one-time QR confirmed in the WeChat mini-program


class KioskSession(db.Model):
    """A citizen's short session at one kiosk: ends on 结束, on idle, or at the hard cap."""

    __tablename__ = "kiosk_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    device_id: Mapped[int] = mapped_column(sa.ForeignKey("kiosk_device.id"), index=True)
    subject_id: Mapped[int] = mapped_column(sa.ForeignKey("subject.id"), index=True)
    method: Mapped[SignInMethod] = mapped_column(enum_column(SignInMethod, "kiosk_signin_method"))
    face_result: Mapped[str | None] = mapped_column(sa.String(20))  # as the reader reported it
    represents: Mapped[list] = mapped_column(sa.JSON, default=list)  # enterprise subject ids
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None]
    end_reason: Mapped[str | None] = mapped_column(sa.String(20))  # user | idle | max | replaced

    device: Mapped[KioskDevice] = relationship()


class PrintDocument(enum.Enum):
    REPORT = "report"  # an issued credit report (counted against the free prints)
    RECEIPT = "receipt"  # 回执 of an objection or repair application


class PrintJobState(enum.Enum):
    PENDING = "pending"  # created, the agent has not fetched the file yet
    SENT = "sent"  # the agent fetched it and handed it to CUPS
    DONE = "done"  # CUPS says completed: the only state that counts as printed
    FAILED = "failed"


class PrintJob(db.Model):
    """Which document went to which printer of which kiosk, and whether it printed."""

    __tablename__ = "kiosk_print_job"
    __table_args__ = (
        sa.CheckConstraint(
            "(document = 'report' AND report_id IS NOT NULL) OR (document = 'receipt' AND case_number IS NOT NULL)",
            name="document_has_target",
        ),
        sa.Index("ix_kiosk_print_job_subject_day", "subject_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(sa.ForeignKey("kiosk_device.id"), index=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("kiosk_session.id"))
    subject_id: Mapped[int] = mapped_column(sa.ForeignKey("subject.id"))  # the person at the kiosk
    document: Mapped[PrintDocument] = mapped_column(enum_column(PrintDocument, "kiosk_print_document"))
    report_id: Mapped[int | None] = mapped_column(sa.ForeignKey("issued_report.id"))
    case_number: Mapped[str | None] = mapped_column(sa.String(24))
    state: Mapped[PrintJobState] = mapped_column(enum_column(PrintJobState, "kiosk_print_job_state"))
    printer_queue: Mapped[str | None] = mapped_column(sa.String(100))
    cups_job_id: Mapped[str | None] = mapped_column(sa.String(100))
    pages: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]

    device: Mapped[KioskDevice] = relationship()
