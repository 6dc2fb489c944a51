from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..departments.models import Department
from ..extensions import db
from ..pii_registry import EncryptedColumn, fixed, register_encrypted
from ..types import enum_column, utcnow

TOTP_CONTEXT = "staff_user.totp_secret"  # AEAD context label


def password_hash_method() -> str:
    """The configured hash (STAFF_PASSWORD_HASH: scrypt everywhere but under ENV=testing)."""
    return current_app.extensions["settings"].STAFF_PASSWORD_HASH


class StaffRole(enum.Enum):
    PLATFORM_ADMIN = "platform_admin"  # 平台管理员
    DEPT_REVIEWER = "dept_reviewer"  # 部门审核员（限本部门）
    AUDITOR = "auditor"  # 审计员（只读）


class StaffUser(db.Model):
    """A member of staff using the admin console (工作人员)."""

    __tablename__ = "staff_user"
    __table_args__ = (
        sa.CheckConstraint(
            "(role = 'dept_reviewer' AND department_id IS NOT NULL) OR (role <> 'dept_reviewer')",
            name="reviewer_has_department",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(100))
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    role: Mapped[StaffRole] = mapped_column(enum_column(StaffRole, "staff_role"))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    totp_secret_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    totp_confirmed: Mapped[bool] = mapped_column(default=False)
    last_totp_step: Mapped[int | None]  # refuse re-use of the same one-time code
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    department: Mapped[Department | None] = relationship()

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=password_hash_method())

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def is_locked(self, now: dt.datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or utcnow())

    def can_manage(self) -> bool:
        return self.role is StaffRole.PLATFORM_ADMIN

    def can_view_department(self, department_id: int | None) -> bool:
        if self.role is StaffRole.DEPT_REVIEWER:
            return department_id == self.department_id
        return True


class StaffSession(db.Model):
    """A console session, kept server-side so that logout, a password change or an admin can
    end it for every copy of the cookie. The cookie carries a random id; this table its SHA-256
    only, so a copy of the database signs nobody in."""

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_user.id"), index=True)
    # "totp" while the one-time code is still owed, "ok" when fully signed in.
    stage: Mapped[str] = mapped_column(sa.String(8))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]  # absolute end, however active the session is
    revoked_at: Mapped[dt.datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(32))
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(120))  # a summary: the first 120 characters

    staff: Mapped[StaffUser] = relationship()

    def is_live(self, now: dt.datetime, idle: dt.timedelta) -> bool:
        return self.revoked_at is None and now < self.expires_at and now - self.last_seen_at <= idle


register_encrypted(StaffUser, EncryptedColumn("totp_secret_encrypted", fixed(TOTP_CONTEXT)))
