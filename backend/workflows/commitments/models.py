from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ...extensions import db
from ...pii_registry import EncryptedColumn, fixed, register_encrypted
from ...types import enum_column, utcnow


class CommitmentKind(enum.Enum):
    OBJECTION = "objection"  # 异议申诉信用承诺书
    REPAIR = "repair"  # 信用修复承诺书


class CreditCommitment(db.Model):
    """A signed credit commitment (信用承诺): the exact text, its hash, who signed, when, how."""

    __tablename__ = "credit_commitment"
    __table_args__ = (sa.CheckConstraint("length(text_sha256) = 64", name="hash_is_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[CommitmentKind] = mapped_column(enum_column(CommitmentKind, "commitment_kind"))
    template_version: Mapped[str] = mapped_column(sa.String(20))
    record_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_record.id"), index=True)
    subject_id: Mapped[int] = mapped_column(sa.ForeignKey("subject.id"), index=True)
    # The text as shown and signed; natural persons appear in it masked only (it may be published).
    text: Mapped[str] = mapped_column(sa.Text)
    text_sha256: Mapped[str] = mapped_column(sa.String(64))
    signer_name_encrypted: Mapped[str] = mapped_column(sa.Text)
    signer_name_masked: Mapped[str] = mapped_column(sa.String(100))
    signer_key: Mapped[str] = mapped_column(sa.String(100))  # the signing actor, e.g. "citizen:42"
    channel: Mapped[str] = mapped_column(sa.String(20))
    signed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Repair commitments are published in the subject's record (公开信用承诺); objection ones not.
    is_public: Mapped[bool] = mapped_column(default=False)


register_encrypted(CreditCommitment, EncryptedColumn("signer_name_encrypted", fixed("commitment.signer_name")))
