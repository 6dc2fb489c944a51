from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..pii_registry import EncryptedColumn, fixed, register_encrypted
from ..types import utcnow

SECRET_CONTEXT = "department_api_key.secret"  # noqa: S105 - AEAD context label, not a secret


class Department(db.Model):
    """A source department (数据提供单位 / 认定单位), e.g. 市市场监管局."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)  # short code used by the CLI/API
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    uscc: Mapped[str] = mapped_column(sa.String(18), unique=True)
    # Prefix for generated decision numbers in demo data, e.g. 金市监罚.
    abbreviation: Mapped[str | None] = mapped_column(sa.String(20))
    is_active: Mapped[bool] = mapped_column(default=True)
    # A registering authority (市场监管, 民政, 机构编制): its records set a subject's name and legal
    # representative; another department's different name is kept as a discrepancy for staff.
    registers_subjects: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DepartmentApiKey(db.Model):
    """A department system's API credential: public key id plus an HMAC secret (encrypted)."""

    __tablename__ = "department_api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    key_id: Mapped[str] = mapped_column(sa.String(40), unique=True)
    secret_encrypted: Mapped[str] = mapped_column(sa.Text)
    label: Mapped[str] = mapped_column(sa.String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]

    department: Mapped[Department] = db.relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ApiNonce(db.Model):
    """Nonces seen on signed department requests, kept until their timestamp window closes."""

    __tablename__ = "api_nonce"
    __table_args__ = (sa.UniqueConstraint("key_id", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(sa.String(40))
    nonce: Mapped[str] = mapped_column(sa.String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


register_encrypted(DepartmentApiKey, EncryptedColumn("secret_encrypted", fixed(SECRET_CONTEXT)))
