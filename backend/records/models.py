from __future__ import annotations

import datetime as dt
import decimal
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..departments.models import Department
from ..extensions import db
from ..pii_registry import EncryptedColumn, fixed, register_encrypted
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


class LicenceStatus(enum.Enum):
    """当前状态 of a licence, as the 2021 national 行政许可 template carries it."""

    VALID = "valid"  # 有效
    REVOKED = "revoked"  # 撤销 (行政许可法 art. 69)
    CANCELLED = "cancelled"  # 注销 (行政许可法 art. 70)
    PENALTY_REVOKED = "penalty_revoked"  # 吊销 (a penalty: 行政处罚法 art. 9)
    WITHDRAWN = "withdrawn"  # 撤回 (行政许可法 art. 8)
    SUSPENDED = "suspended"  # 暂扣
    INVALID = "invalid"  # 无效 (the template's code 2 without the reason)

    @property
    def label(self) -> str:
        return _LICENCE_STATUS_LABELS[self]

    @property
    def is_current(self) -> bool:
        return self is LicenceStatus.VALID


_LICENCE_STATUS_LABELS = {
    LicenceStatus.VALID: "有效",
    LicenceStatus.REVOKED: "已撤销",
    LicenceStatus.CANCELLED: "已注销",
    LicenceStatus.PENALTY_REVOKED: "已吊销",
    LicenceStatus.WITHDRAWN: "已撤回",
    LicenceStatus.SUSPENDED: "已暂扣",
    LicenceStatus.INVALID: "无效",
}


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
        # Partial: most records carry no representative's number, and indexing their NULLs
        # slowed every bulk insert.
        sa.Index(
            "ix_credit_record_legal_representative_id_number_hash",
            "legal_representative_id_number_hash",
            sqlite_where=sa.text("legal_representative_id_number_hash IS NOT NULL"),
            postgresql_where=sa.text("legal_representative_id_number_hash IS NOT NULL"),
        ),
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
    # The day the record was FIRST received: 双公示 timeliness counts to it, so a correction sent
    # later never makes a timely record late (issue 16 item 6). Later receipts: last_received_date
    # and the record's versions (credit_record_versions).
    received_date: Mapped[dt.date]
    last_received_date: Mapped[dt.date | None]
    publicity_end_date: Mapped[dt.date | None]  # 公示截止期 as sent by the department
    # 处罚有效期: the penalty's own validity (2021 national 行政处罚 template), a different fact
    # from the end of its publicity; shown, never used for publicity.
    penalty_valid_until: Mapped[dt.date | None]
    valid_from: Mapped[dt.date | None]  # 有效期自 (licences)
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
    # 没收违法所得、没收非法财物的金额, in yuan (the template sends 万元).
    confiscated_amount: Mapped[decimal.Decimal | None] = mapped_column(sa.Numeric(16, 2))
    suspended_licence: Mapped[str | None] = mapped_column(sa.String(200))  # 暂扣或吊销证照名称及编号

    # The deciding authority (处罚机关 / 许可机关) as sent: often a county bureau or a 综合执法 team
    # reporting through a city department, so not necessarily a department of the platform.
    # Display falls back to the sending department when empty (``authority_display``).
    authority_name: Mapped[str | None] = mapped_column(sa.String(200))
    authority_uscc: Mapped[str | None] = mapped_column(sa.String(18))
    # The tier came from the city's rule (TIER_RULE_* settings), not from the file: listed for
    # the department to confirm or change (records.operations.confirm_record_tier).
    tier_derived: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    # Licences (2021 national 行政许可 template).
    document_name: Mapped[str | None] = mapped_column(sa.String(200))  # 行政许可决定文书名称
    licence_number: Mapped[str | None] = mapped_column(sa.String(100))  # 许可编号
    licence_status: Mapped[LicenceStatus | None] = mapped_column(enum_column(LicenceStatus, "licence_status"))
    # 行政相对人代码_2 … _6 (工商注册号, 组织机构代码, 税务登记号, 事业单位证书号, 社会组织登记证号)
    # by their template label, when sent.
    subject_other_codes: Mapped[dict | None] = mapped_column(sa.JSON)
    remarks: Mapped[str | None] = mapped_column(sa.Text)  # 备注

    # 法定代表人证件号码 as sent with this record: personal data, encrypted, found by keyed hash.
    legal_representative_id_number_hash: Mapped[str | None] = mapped_column(sa.String(64))
    legal_representative_id_number_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    pii_key_id: Mapped[str | None] = mapped_column(sa.String(32))

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

    @property
    def authority_display(self) -> str:
        """The deciding authority as sent, else the sending department."""
        return self.authority_name or self.department.name

    @property
    def licence_status_label(self) -> str | None:
        return self.licence_status.label if self.licence_status is not None else None


# The context of the legal representative's ID number kept on a record (rotation finds it here).
RECORD_REPRESENTATIVE_ID_CONTEXT = "credit_record.legal_representative_id_number"
register_encrypted(
    CreditRecord,
    EncryptedColumn("legal_representative_id_number_encrypted", fixed(RECORD_REPRESENTATIVE_ID_CONTEXT)),
    key_id_column="pii_key_id",
)


class CreditRecordVersion(db.Model):
    """A later change of a record (记录版本): who sent it, when, and what changed.

    The first receipt is the record itself; each re-send that changes it, and each tier a
    department confirms, adds a version. ``changes`` maps a field to ``{"from": .., "to": ..}``;
    personal data is never copied here (only ``{"changed": true}``).
    """

    __tablename__ = "credit_record_versions"
    __table_args__ = (sa.UniqueConstraint("record_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_record.id"), index=True)
    version: Mapped[int]  # 2 for the first change: version 1 is the first receipt
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"))  # who sent it
    actor_label: Mapped[str] = mapped_column(sa.String(100), default="")
    import_batch_id: Mapped[int | None] = mapped_column(sa.ForeignKey("import_batch.id"))
    received_date: Mapped[dt.date]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    changes: Mapped[dict] = mapped_column(sa.JSON)

    department: Mapped[Department] = relationship()
