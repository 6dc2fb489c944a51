from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..departments.models import Department
from ..extensions import db
from ..pii import cipher, mask_id_number, mask_name
from ..pii_registry import EncryptedColumn, fixed, register_encrypted
from ..types import enum_column, utcnow

LEGAL_REPRESENTATIVE_ID_CONTEXT = "subject.legal_representative_id_number"


class SubjectKind(enum.Enum):
    LEGAL = "legal"  # 法人和非法人组织, by USCC
    NATURAL = "natural"  # 自然人, by 居民身份证号码


class NameSource(enum.Enum):
    """Where a natural person's name came from (``Subject.name_source``). Only the verified
    sources set it once a person has one; a department's record only names a new person."""

    DEPARTMENT = "department"  # a department's record (unverified); NULL rows predate 0010
    WECHAT_FACE = "wechat_face"  # WeChat face verification (公安 data behind 微信人脸核身)
    KIOSK_CARD = "kiosk_card"  # the ID card's chip, in a reading signed by an enrolled kiosk


VERIFIED_NAME_SOURCES = frozenset({NameSource.WECHAT_FACE, NameSource.KIOSK_CARD})


class Subject(db.Model):
    """A credit subject (信用主体).

    Legal persons keep their name and USCC in clear (public registration data). Natural persons'
    ID number and name are encrypted; ``id_number_hash`` (keyed HMAC) finds them.
    """

    __tablename__ = "subject"
    __table_args__ = (
        sa.CheckConstraint(
            "(kind = 'legal' AND uscc IS NOT NULL AND name IS NOT NULL AND id_number_hash IS NULL)"
            " OR (kind = 'natural' AND uscc IS NULL AND name IS NULL AND id_number_hash IS NOT NULL"
            " AND id_number_encrypted IS NOT NULL AND name_encrypted IS NOT NULL)",
            name="identity_by_kind",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[SubjectKind] = mapped_column(enum_column(SubjectKind, "subject_kind"))
    uscc: Mapped[str | None] = mapped_column(sa.String(18), unique=True)
    name: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    legal_representative: Mapped[str | None] = mapped_column(sa.String(100))
    area_code: Mapped[str | None] = mapped_column(sa.String(6), index=True)
    address: Mapped[str | None] = mapped_column(sa.String(300))
    established_on: Mapped[dt.date | None]
    registration_authority: Mapped[str | None] = mapped_column(sa.String(100))
    # The legal representative's ID number (法定代表人证件号码, registration data) is personal
    # data: encrypted, found by the same keyed hash as a natural person's ``id_number_hash``, so
    # binding an enterprise compares the verified person's identity, not a name. Set only by a
    # department that registers subjects (Department.registers_subjects).
    legal_representative_id_number_hash: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    legal_representative_id_number_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    uscc_warning: Mapped[str | None] = mapped_column(sa.String(200))
    # The legacy 15-digit 工商注册号 a department sent beside the USCC (national template column
    # 行政相对人代码_2), so a record under it alone maps to this subject; and, after staff merged
    # a duplicate subject into another (重错码), the subject that now holds its records.
    registration_number: Mapped[str | None] = mapped_column(sa.String(15), index=True)
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("subject.id"))

    id_number_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    id_number_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    name_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    pii_key_id: Mapped[str | None] = mapped_column(sa.String(32))
    # Natural persons: the source of ``name_encrypted`` (backend/subjects/names.py), when it was
    # last confirmed by a verified source, and a disagreement staff should look at (set when a
    # verified source or a department names the person differently; cleared by staff).
    name_source: Mapped[NameSource | None] = mapped_column(enum_column(NameSource, "subject_name_source"))
    name_verified_at: Mapped[dt.datetime | None]
    name_discrepancy_at: Mapped[dt.datetime | None]

    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def is_natural(self) -> bool:
        return self.kind is SubjectKind.NATURAL

    # Natural persons: the clear values are available to owner views only, through these.
    def reveal_id_number(self) -> str:
        assert self.id_number_encrypted
        return cipher().decrypt(self.id_number_encrypted, "subject.id_number")

    def reveal_name(self) -> str:
        assert self.name_encrypted
        return cipher().decrypt(self.name_encrypted, "subject.name")

    def reveal_legal_representative_id_number(self) -> str | None:
        if not self.legal_representative_id_number_encrypted:
            return None
        return cipher().decrypt(self.legal_representative_id_number_encrypted, LEGAL_REPRESENTATIVE_ID_CONTEXT)

    @property
    def legal_representative_id_number_masked(self) -> str:
        """For the console: the number is never shown in clear (nor on any public surface)."""
        return mask_id_number(self.reveal_legal_representative_id_number())

    @property
    def name_is_verified(self) -> bool:
        return self.name_source in VERIFIED_NAME_SOURCES

    @property
    def display_name(self) -> str:
        """The name as any non-owner surface may show it (masked for natural persons)."""
        if self.is_natural:
            return mask_name(self.reveal_name())
        return self.name or ""

    @property
    def display_code(self) -> str:
        if self.is_natural:
            return mask_id_number(self.reveal_id_number())
        return self.uscc or ""


# GB 32100-2015: characters 9-17 of a USCC are the organisation's GB 11714 code, so a legacy
# 组织机构代码 finds its USCC, and two USCCs sharing one are a duplicate (重码). An expression
# index (SQLite and PostgreSQL alike), so no column has to be kept in step with ``uscc``.
# Literal positions: SQLite uses an expression index only for the very same expression, bind
# parameters included.
ORGANISATION_CODE = sa.func.substr(Subject.uscc, sa.literal_column("9"), sa.literal_column("9"))
sa.Index("ix_subject_organisation_code", ORGANISATION_CODE)


class DiscrepancyResolution(enum.Enum):
    ACCEPTED = "accepted"  # staff took the department's name as the subject's name
    DISMISSED = "dismissed"  # staff kept the registered name


class SubjectNameDiscrepancy(db.Model):
    """A name for a known USCC sent by a department that does not register subjects, different
    from the subject's name: kept for platform staff to resolve instead of overwriting the public
    name (issue 14, item 6). One open row per subject, department and name; a resolved one stays
    as the record of the decision."""

    __tablename__ = "subject_name_discrepancy"
    __table_args__ = (
        sa.Index(
            "uq_subject_name_discrepancy_open",
            "subject_id",
            "department_id",
            "name_sent",
            unique=True,
            sqlite_where=sa.text("resolved_at IS NULL"),
            postgresql_where=sa.text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(sa.ForeignKey("subject.id"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"))
    name_sent: Mapped[str] = mapped_column(sa.String(200))
    first_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None]
    resolved_by_label: Mapped[str | None] = mapped_column(sa.String(100))
    resolution: Mapped[DiscrepancyResolution | None] = mapped_column(
        enum_column(DiscrepancyResolution, "discrepancy_resolution")
    )

    subject: Mapped[Subject] = relationship()
    department: Mapped[Department] = relationship()


register_encrypted(
    Subject,
    EncryptedColumn("id_number_encrypted", fixed("subject.id_number")),
    EncryptedColumn("name_encrypted", fixed("subject.name")),
    EncryptedColumn("legal_representative_id_number_encrypted", fixed(LEGAL_REPRESENTATIVE_ID_CONTEXT)),
    key_id_column="pii_key_id",
)


class CodeIssueKind(enum.Enum):
    """Kinds of 重错码 (duplicate or wrong codes, city plan task 8) besides a known USCC sent under
    another name (``SubjectNameDiscrepancy``)."""

    NAME_UNDER_CODES = "name_under_codes"  # one name under several USCCs (一名多码)
    ORG_CODE_SHARED = "org_code_shared"  # two USCCs with the same characters 9-17 (GB 32100)
    ORG_CODE_MISMATCH = "org_code_mismatch"  # the 组织机构代码 sent is not the USCC's 9-17
    REGISTRATION_NUMBER_SHARED = "registration_number_shared"  # one 工商注册号 under two USCCs


class CodeIssueResolution(enum.Enum):
    RENAMED = "renamed"  # staff corrected a subject's name
    MERGED = "merged"  # staff merged the two subjects (records and cases moved)
    DISMISSED = "dismissed"  # not a duplicate (e.g. same name, different organisations)


class SubjectCodeIssue(db.Model):
    """A suspected duplicate or wrong code found at intake (重错码), for staff to resolve, with the
    sources side by side: the subject the record was written to, the other subject it collides
    with, the value in question and the department that sent it. One open row per kind, pair and
    value; a resolved one stays as the record of the decision."""

    __tablename__ = "subject_code_issue"
    __table_args__ = (
        sa.Index(
            "uq_subject_code_issue_open",
            "kind",
            "subject_id",
            "other_subject_id",
            "value",
            unique=True,
            sqlite_where=sa.text("resolved_at IS NULL"),
            postgresql_where=sa.text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[CodeIssueKind] = mapped_column(enum_column(CodeIssueKind, "code_issue_kind"))
    subject_id: Mapped[int] = mapped_column(sa.ForeignKey("subject.id"), index=True)
    other_subject_id: Mapped[int | None] = mapped_column(sa.ForeignKey("subject.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    value: Mapped[str] = mapped_column(sa.String(200))  # the name or legacy code in question
    first_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None]
    resolved_by_label: Mapped[str | None] = mapped_column(sa.String(100))
    resolution: Mapped[CodeIssueResolution | None] = mapped_column(
        enum_column(CodeIssueResolution, "code_issue_resolution")
    )

    subject: Mapped[Subject] = relationship(foreign_keys=[subject_id])
    other_subject: Mapped[Subject | None] = relationship(foreign_keys=[other_subject_id])
    department: Mapped[Department | None] = relationship()
