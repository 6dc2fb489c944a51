from __future__ import annotations

import datetime as dt
import decimal
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..departments.models import Department
from ..extensions import db
from ..subjects.models import Subject
from ..types import enum_column, utcnow


class RecordCategory(enum.Enum):
    REGISTRATION = "registration"  # 登记基础信息
    LICENCE = "licence"  # 行政许可
    PENALTY = "penalty"  # 行政处罚
    ENFORCEMENT = "enforcement"  # 行政强制
    RED_LIST = "red_list"  # 守信激励（红名单）
    DISHONEST_LIST = "dishonest_list"  # 严重失信主体名单
    ABNORMAL_OPERATION = "abnormal_operation"  # 经营异常名录
    COURT_DEFAULTER = "court_defaulter"  # 失信被执行人
    CRIMINAL_JUDGEMENT = "criminal_judgement"  # 刑事判决
    COMMITMENT = "commitment"  # 信用承诺
    OTHER_ADMIN = "other_admin"  # 行政确认、行政奖励等

    @property
    def is_negative(self) -> bool:
        return self in NEGATIVE_CATEGORIES


NEGATIVE_CATEGORIES = frozenset(
    {
        RecordCategory.PENALTY,
        RecordCategory.ENFORCEMENT,
        RecordCategory.DISHONEST_LIST,
        RecordCategory.ABNORMAL_OPERATION,
        RecordCategory.COURT_DEFAULTER,
        RecordCategory.CRIMINAL_JUDGEMENT,
    }
)


class PenaltyTier(enum.Enum):
    MINOR = "minor"  # 轻微
    GENERAL = "general"  # 一般
    SERIOUS = "serious"  # 严重


class RecordStatus(enum.Enum):
    PUBLIC = "public"  # 公示中 (or held, if the publicity rules say it is not visible)
    UNDER_OBJECTION = "under_objection"  # 异议处理中
    REPAIRED = "repaired"  # 已修复
    WITHDRAWN = "withdrawn"  # 已撤销
    EXPIRED = "expired"  # 公示期满


class CreditRecord(db.Model):
    """A public credit record (公共信用信息) from a source department."""

    __tablename__ = "credit_record"
    __table_args__ = (
        sa.UniqueConstraint("department_id", "decision_number"),
        sa.CheckConstraint(
            "(category = 'penalty' AND tier IS NOT NULL) OR (category <> 'penalty' AND tier IS NULL)",
            name="tier_only_for_penalties",
        ),
        sa.CheckConstraint("fine_amount IS NULL OR fine_amount >= 0", name="fine_not_negative"),
        sa.Index("ix_credit_record_subject_category", "subject_id", "category"),
        sa.Index("ix_credit_record_status_end", "status", "publicity_end_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(sa.ForeignKey("subject.id"))
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"))  # 认定单位
    source_department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))  # 数据来源
    category: Mapped[RecordCategory] = mapped_column(enum_column(RecordCategory, "record_category"))
    tier: Mapped[PenaltyTier | None] = mapped_column(enum_column(PenaltyTier, "penalty_tier"))
    status: Mapped[RecordStatus] = mapped_column(
        enum_column(RecordStatus, "record_status"), default=RecordStatus.PUBLIC
    )

    decision_number: Mapped[str] = mapped_column(sa.String(100))  # 决定书文号 / 许可证号 / 案号
    decision_date: Mapped[dt.date]
    received_date: Mapped[dt.date]
    publicity_end_date: Mapped[dt.date | None]  # 公示截止期 as sent by the department
    valid_until: Mapped[dt.date | None]  # licence validity / list removal date

    # Snapshot of the subject as written on the decision.
    subject_name: Mapped[str] = mapped_column(sa.String(200))
    legal_representative: Mapped[str | None] = mapped_column(sa.String(100))

    title: Mapped[str | None] = mapped_column(sa.String(200))  # 许可事项 / 名单名称 / 案由
    violation_type: Mapped[str | None] = mapped_column(sa.String(200))
    facts: Mapped[str | None] = mapped_column(sa.Text)
    legal_basis: Mapped[str | None] = mapped_column(sa.Text)
    penalty_category: Mapped[str | None] = mapped_column(sa.String(100))  # 警告、罚款 ...
    penalty_content: Mapped[str | None] = mapped_column(sa.Text)
    fine_amount: Mapped[decimal.Decimal | None] = mapped_column(sa.Numeric(16, 2))

    # Computed by the publicity rules when the record is written (records/publicity.py):
    # whether it is published at all, and the last day it may be shown (None: no end).
    published: Mapped[bool] = mapped_column(default=True)
    visible_until: Mapped[dt.date | None]

    # 双公示 timeliness: working days from decision to receipt, and whether within the rule.
    timeliness_working_days: Mapped[int]
    is_timely: Mapped[bool]

    content_hash: Mapped[str] = mapped_column(sa.String(64))
    import_batch_id: Mapped[int | None] = mapped_column(sa.ForeignKey("import_batch.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    subject: Mapped[Subject] = relationship()
    department: Mapped[Department] = relationship(foreign_keys=[department_id])
    source_department: Mapped[Department | None] = relationship(foreign_keys=[source_department_id])
