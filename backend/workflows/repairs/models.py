from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...extensions import db
from ...pii_registry import EncryptedColumn, fixed, register_encrypted
from ...records.models import CreditRecord
from ...types import enum_column, utcnow
from ..cases import CaseMixin, CaseState, HistoryMixin, open_states_sql
from ..commitments.models import CreditCommitment
from ..materials.models import Material


class RepairOutcome(enum.Enum):
    APPROVED = "approved"  # 准予修复
    REJECTED = "rejected"  # 不予修复


_DECIDED = "state IN ('decided', 'closed')"


class RepairApplication(CaseMixin, db.Model):
    """A credit repair application (信用修复申请) for one record, decided by its department."""

    __tablename__ = "repair_application"
    __table_args__ = (
        sa.CheckConstraint(
            f"({_DECIDED} AND outcome IS NOT NULL AND decided_at IS NOT NULL AND decision_reason IS NOT NULL)"
            f" OR (NOT {_DECIDED} AND outcome IS NULL)",
            name="outcome_iff_decided",
        ),
        sa.CheckConstraint(
            "(extended_at IS NULL AND extension_days IS NULL AND extension_reason IS NULL)"
            " OR (extended_at IS NOT NULL AND extension_days > 0 AND extension_reason IS NOT NULL)",
            name="extension_complete",
        ),
        sa.CheckConstraint("version >= 1", name="version_positive"),
        sa.CheckConstraint(
            "(state = 'returned' AND missing_items IS NOT NULL) OR state <> 'returned'", name="return_names_missing"
        ),
        # "One application per record": at most one open, enforced by the database too.
        sa.Index(
            "uq_repair_application_open_record",
            "record_id",
            unique=True,
            sqlite_where=sa.text(open_states_sql()),
            postgresql_where=sa.text(open_states_sql()),
        ),
    )
    CASE_TYPE = "repair"
    NUMBER_PREFIX = "XF"  # 修复
    MATERIAL_KEY = "repair_application_id"

    state: Mapped[CaseState] = mapped_column(enum_column(CaseState, "repair_state"), default=CaseState.SUBMITTED)
    outcome: Mapped[RepairOutcome | None] = mapped_column(enum_column(RepairOutcome, "repair_outcome"))

    record: Mapped[CreditRecord] = relationship()
    commitment: Mapped[CreditCommitment] = relationship()
    materials: Mapped[list[Material]] = relationship(
        primaryjoin="Material.repair_application_id == RepairApplication.id", order_by="Material.id", viewonly=True
    )
    history: Mapped[list[RepairHistory]] = relationship(order_by="RepairHistory.id", viewonly=True)


class RepairHistory(HistoryMixin, db.Model):
    __tablename__ = "repair_history"

    case_id: Mapped[int] = mapped_column(sa.ForeignKey("repair_application.id"))


class RepairArchive(db.Model):
    """The repair archive (信用修复档案): a repaired record, the decision and what it showed."""

    __tablename__ = "repair_archive"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_record.id"), unique=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("repair_application.id"), unique=True)
    subject_id: Mapped[int] = mapped_column(sa.ForeignKey("subject.id"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"))
    commitment_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_commitment.id"))
    decided_at: Mapped[dt.datetime]
    decided_by_label: Mapped[str] = mapped_column(sa.String(100))
    decision_reason: Mapped[str] = mapped_column(sa.Text)
    # The record as it was published (masked for natural persons, as stored on the record).
    record_snapshot: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    application: Mapped[RepairApplication] = relationship()
    record: Mapped[CreditRecord] = relationship()


register_encrypted(
    RepairApplication,
    EncryptedColumn("applicant_name_encrypted", fixed("case.applicant_name")),
    EncryptedColumn("applicant_id_number_encrypted", fixed("case.applicant_id_number")),
)
