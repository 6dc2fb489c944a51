from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reports.content import ReportKind

from ..extensions import db
from ..subjects.models import Subject
from ..types import enum_column, utcnow


class ReportStatus(enum.Enum):
    VALID = "valid"  # 有效
    EXPIRED = "expired"  # 已过期 (set by the daily job; verification computes it from valid_until anyway)
    REVOKED = "revoked"  # 已撤销, with a reason


def status_on(status: ReportStatus, valid_until: dt.date, today: dt.date) -> ReportStatus:
    """A report's truth on ``today`` (China date): expiry counts even before the job has marked it."""
    if status is ReportStatus.REVOKED:
        return ReportStatus.REVOKED
    if status is ReportStatus.EXPIRED or valid_until < today:
        return ReportStatus.EXPIRED
    return ReportStatus.VALID


class IssuedReport(db.Model):
    """An issued credit report (已出具的信用报告): what was issued, to whom, and whether it still holds.

    The PDF itself is in file storage (``pdf_key``); its SHA-256 lets anyone holding a file check
    that it is the registered one. Subject data shown on public verification surfaces is kept
    here as it may be shown to anyone: full name and USCC for enterprises, masked name and ID
    number for natural persons.
    """

    __tablename__ = "issued_report"
    __table_args__ = (
        sa.CheckConstraint(
            "(status = 'revoked' AND revoked_at IS NOT NULL AND revoked_reason IS NOT NULL)"
            " OR (status <> 'revoked' AND revoked_at IS NULL)",
            name="revoked_has_reason",
        ),
        sa.CheckConstraint("valid_until >= issued_on", name="valid_after_issue"),
        sa.Index("ix_issued_report_subject_issued", "subject_id", "issued_at"),
        sa.Index("ix_issued_report_status_valid_until", "status", "valid_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    kind: Mapped[ReportKind] = mapped_column(enum_column(ReportKind, "report_kind"))
    subject_id: Mapped[int] = mapped_column(sa.ForeignKey("subject.id"))
    options: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)  # special: years, period, domains

    content_hash: Mapped[str] = mapped_column(sa.String(64))  # SHA-256 of the canonical content
    pdf_hash: Mapped[str] = mapped_column(sa.String(64), index=True)  # SHA-256 of the signed PDF
    pdf_key: Mapped[str] = mapped_column(sa.String(200))  # file storage key
    pdf_size: Mapped[int]
    token_kid: Mapped[str] = mapped_column(sa.String(16))  # key id of the QR token
    # The platform's signature over the registered file (the signed PDF's bytes), naming its
    # algorithm (Ed25519 | SM2-SM3) and key; checked by /verify. None for reports issued before.
    file_signature_alg: Mapped[str | None] = mapped_column(sa.String(16))
    file_signature_kid: Mapped[str | None] = mapped_column(sa.String(16))
    file_signature: Mapped[str | None] = mapped_column(sa.String(100))  # base64 of the 64 bytes
    verification_code_hash: Mapped[str] = mapped_column(sa.String(64))  # the printed code, hashed

    channel: Mapped[str] = mapped_column(sa.String(20))  # admin (counter) | cli | mp | kiosk | public
    issued_by_type: Mapped[str] = mapped_column(sa.String(20))
    issued_by_id: Mapped[str | None] = mapped_column(sa.String(64))
    issued_by_label: Mapped[str] = mapped_column(sa.String(100))
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)  # naive UTC
    issued_on: Mapped[dt.date]  # China date of issue, as in the token
    valid_until: Mapped[dt.date]  # last day of validity (China date)

    status: Mapped[ReportStatus] = mapped_column(enum_column(ReportStatus, "report_status"), default=ReportStatus.VALID)
    revoked_at: Mapped[dt.datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(500))
    revoked_by_label: Mapped[str | None] = mapped_column(sa.String(100))

    # Public-safe snapshot for verification surfaces (masked for natural persons).
    subject_natural: Mapped[bool]  # a natural person: personal data, masked on public surfaces
    subject_display_name: Mapped[str] = mapped_column(sa.String(200))
    subject_display_code: Mapped[str] = mapped_column(sa.String(18))
    summary: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)  # [{title, count, repaired}]

    subject: Mapped[Subject] = relationship()
    shown_records: Mapped[list[IssuedReportRecord]] = relationship(
        back_populates="report", cascade="all, delete-orphan"
    )

    def status_on(self, today: dt.date) -> ReportStatus:
        return status_on(self.status, self.valid_until, today)


class IssuedReportRecord(db.Model):
    """Which credit records a report showed: a change to one of them revokes the report."""

    __tablename__ = "issued_report_record"

    report_id: Mapped[int] = mapped_column(sa.ForeignKey("issued_report.id", ondelete="CASCADE"), primary_key=True)
    record_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_record.id"), primary_key=True, index=True)

    report: Mapped[IssuedReport] = relationship(back_populates="shown_records")
