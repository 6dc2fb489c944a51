from __future__ import annotations

import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...extensions import db
from ...pii_registry import EncryptedColumn, fixed, register_encrypted
from ...records.models import CreditRecord
from ...types import enum_column
from ..cases import CaseMixin, CaseState, HistoryMixin, open_states_sql
from ..commitments.models import CreditCommitment
from ..materials.models import Material


class ObjectionGround(enum.Enum):
    INACCURATE = "inaccurate"  # 信息有误
    INCOMPLETE = "incomplete"  # 信息遗漏
    DUPLICATED = "duplicated"  # 信息重复
    BEYOND_PERIOD = "beyond_period"  # 超过公示期限仍在公示
    INCONSISTENT = "inconsistent"  # 与认定单位的原始信息不一致
    OTHER = "other"


class ObjectionOutcome(enum.Enum):
    CONFIRMED = "confirmed"  # 维持
    CORRECTED = "corrected"  # 更正
    DELETED = "deleted"  # 删除（撤销公示）


_DECIDED = "state IN ('decided', 'closed')"


class Objection(CaseMixin, db.Model):
    """An objection (异议申诉) against one credit record, decided by the record's department."""

    __tablename__ = "objection"
    __table_args__ = (
        sa.CheckConstraint(
            f"({_DECIDED} AND outcome IS NOT NULL AND decided_at IS NOT NULL AND decision_reason IS NOT NULL)"
            f" OR (NOT {_DECIDED} AND outcome IS NULL)",
            name="outcome_iff_decided",
        ),
        sa.CheckConstraint(
            "(outcome = 'corrected' AND corrections IS NOT NULL) OR (outcome IS NULL OR outcome <> 'corrected')",
            name="correction_has_fields",
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
        # One open objection per record, enforced by the database too (closes the filing race).
        sa.Index(
            "uq_objection_open_record",
            "record_id",
            unique=True,
            sqlite_where=sa.text(open_states_sql()),
            postgresql_where=sa.text(open_states_sql()),
        ),
    )
    CASE_TYPE = "objection"
    NUMBER_PREFIX = "YY"  # 异议
    MATERIAL_KEY = "objection_id"

    state: Mapped[CaseState] = mapped_column(enum_column(CaseState, "objection_state"), default=CaseState.SUBMITTED)
    ground: Mapped[ObjectionGround] = mapped_column(enum_column(ObjectionGround, "objection_ground"))
    outcome: Mapped[ObjectionOutcome | None] = mapped_column(enum_column(ObjectionOutcome, "objection_outcome"))
    # The corrected fields as decided ({field: [old, new]}), for the applicant and the registry.
    corrections: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)

    record: Mapped[CreditRecord] = relationship()
    commitment: Mapped[CreditCommitment] = relationship()
    materials: Mapped[list[Material]] = relationship(
        primaryjoin="Material.objection_id == Objection.id", order_by="Material.id", viewonly=True
    )
    history: Mapped[list[ObjectionHistory]] = relationship(order_by="ObjectionHistory.id", viewonly=True)


class ObjectionHistory(HistoryMixin, db.Model):
    __tablename__ = "objection_history"

    case_id: Mapped[int] = mapped_column(sa.ForeignKey("objection.id"))


register_encrypted(
    Objection,
    EncryptedColumn("applicant_name_encrypted", fixed("case.applicant_name")),
    EncryptedColumn("applicant_id_number_encrypted", fixed("case.applicant_id_number")),
)
