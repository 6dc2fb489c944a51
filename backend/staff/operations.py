"""Staff accounts: creation, password login with lockout, TOTP second factor. Flush, never commit.

Login failures are counted on the account (``failed_logins``); the N-th consecutive failure locks
it for a configured time. Failures for user names that do not exist are counted from the audit
log instead, so that the answer (including the lockout message) is the same whether or not the
account exists.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
from dataclasses import dataclass

import pyotp
import sqlalchemy as sa
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from ..actors import Actor
from ..audit.models import AuditEvent
from ..audit.operations import record_event
from ..departments.models import Department
from ..errors import ApiError, Conflict
from ..extensions import db
from ..pii import cipher
from ..types import utcnow
from .models import TOTP_CONTEXT, StaffRole, StaffUser, password_hash_method
from .sessions import revoke_all_staff_sessions

MIN_PASSWORD_LENGTH = 10
TOTP_ISSUER = "信用金昌"
LOGIN_TARGET = "staff_login"  # audit target_type of failures, keyed by the user name typed


@functools.cache
def _dummy_hash(method: str) -> str:
    """Compared against when the user name is unknown, so both paths cost one password hash
    check of the configured method."""
    return generate_password_hash("not-a-real-password-0000", method=method)


@dataclass(frozen=True)
class LoginResult:
    """Outcome of the password step. ``user`` is set only when the password was right."""

    user: StaffUser | None = None
    locked_until: dt.datetime | None = None

    @property
    def ok(self) -> bool:
        return self.user is not None


def _settings():
    return current_app.extensions["settings"]


def create_staff(
    actor: Actor,
    *,
    username: str,
    display_name: str,
    role: StaffRole,
    password: str,
    department: Department | None = None,
) -> StaffUser:
    username = username.strip()
    if not username or len(username) > 64:
        raise ApiError("用户名不能为空且不超过 64 个字符", code="invalid_username")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ApiError(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符", code="weak_password")
    if role is StaffRole.DEPT_REVIEWER and department is None:
        raise ApiError("部门审核员必须属于一个部门", code="department_required")
    if db.session.scalar(sa.select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise Conflict("该用户名已被使用")
    user = StaffUser(
        username=username,
        display_name=display_name.strip() or username,
        role=role,
        department_id=department.id if department is not None else None,
        failed_logins=0,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record_event(actor, "staff.create", target=user, details={"role": role.value})
    return user


def change_staff_password(actor: Actor, user: StaffUser, current: str, new: str, confirm: str) -> None:
    """Change one's own password; every session of the account ends (a stolen cookie with it).
    A wrong current password counts as a login failure, so a borrowed session cannot guess it."""
    if not user.check_password(current):
        record_login_failure(actor, user, stage="password_change")
        raise ApiError("当前密码不正确", code="wrong_password", status=422)
    if len(new) < MIN_PASSWORD_LENGTH:
        raise ApiError(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符", code="weak_password", status=422)
    if new != confirm:
        raise ApiError("两次输入的新密码不一致", code="password_mismatch", status=422)
    if new == current:
        raise ApiError("新密码不能与当前密码相同", code="password_unchanged", status=422)
    user.set_password(new)
    count = revoke_all_staff_sessions(user, "password_changed")
    record_event(actor, "staff.password_change", target=user, details={"sessions_revoked": count})


def authenticate_staff(actor: Actor, username: str, password: str, now: dt.datetime | None = None) -> LoginResult:
    """The password step: check lockout, then the password; count failures and write the audit row."""
    now = now or utcnow()
    username = username.strip()[:64]
    user = db.session.scalar(sa.select(StaffUser).where(StaffUser.username == username))
    if user is None or not user.is_active:
        check_password_hash(_dummy_hash(password_hash_method()), password)
        locked_until = _unknown_user_locked_until(username, now)
        if locked_until is not None:
            record_event(actor, "staff.login_locked", target_type=LOGIN_TARGET, target_id=username)
            return LoginResult(locked_until=locked_until)
        record_event(actor, "staff.login_failed", target_type=LOGIN_TARGET, target_id=username)
        return LoginResult(locked_until=_unknown_user_locked_until(username, now))
    if user.is_locked(now):
        record_event(actor, "staff.login_locked", target=user)
        return LoginResult(locked_until=user.locked_until)
    if not user.check_password(password):
        return LoginResult(locked_until=record_login_failure(actor, user, stage="password", now=now))
    return LoginResult(user=user)


def record_login_failure(
    actor: Actor, user: StaffUser, *, stage: str, now: dt.datetime | None = None
) -> dt.datetime | None:
    """Count one failure (password or one-time code); lock at the limit. Returns the lock end, if locked."""
    now = now or utcnow()
    settings = _settings()
    user.failed_logins = (user.failed_logins or 0) + 1
    record_event(actor, "staff.login_failed", target=user, details={"stage": stage, "count": user.failed_logins})
    if user.failed_logins >= settings.STAFF_MAX_FAILED_LOGINS:
        user.locked_until = now + dt.timedelta(minutes=settings.STAFF_LOCKOUT_MINUTES)
        user.failed_logins = 0
        record_event(actor, "staff.lockout", target=user, details={"until": user.locked_until})
        return user.locked_until
    return None


def record_login_success(actor: Actor, user: StaffUser, now: dt.datetime | None = None) -> None:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now or utcnow()
    record_event(actor, "staff.login", target=user)


def _unknown_user_locked_until(username: str, now: dt.datetime) -> dt.datetime | None:
    settings = _settings()
    window = dt.timedelta(minutes=settings.STAFF_LOCKOUT_MINUTES)
    times = db.session.scalars(
        sa.select(AuditEvent.occurred_at)
        .where(
            AuditEvent.action == "staff.login_failed",
            AuditEvent.target_type == LOGIN_TARGET,
            AuditEvent.target_id == username,
            AuditEvent.occurred_at > now - window,
        )
        .order_by(AuditEvent.occurred_at)
    ).all()
    if len(times) < settings.STAFF_MAX_FAILED_LOGINS:
        return None
    return times[settings.STAFF_MAX_FAILED_LOGINS - 1] + window


# --- TOTP second factor -------------------------------------------------------------------


def totp_secret(user: StaffUser) -> str | None:
    if not user.totp_secret_encrypted:
        return None
    return cipher().decrypt(user.totp_secret_encrypted, TOTP_CONTEXT)


def begin_totp_enrolment(user: StaffUser) -> str:
    """Give the user a secret to enrol (kept across page reloads until confirmed)."""
    if user.totp_confirmed:
        raise Conflict("该账户已绑定动态口令")
    secret = totp_secret(user)
    if secret is None:
        secret = pyotp.random_base32()
        user.totp_secret_encrypted = cipher().encrypt(secret, TOTP_CONTEXT)
        db.session.flush()
    return secret


def reset_staff_totp(actor: Actor, user: StaffUser) -> None:
    """An admin's reset for a lost authenticator: the member enrols a new secret at the next
    login, and every session of theirs ends (whoever holds the old device is out)."""
    user.totp_secret_encrypted = None
    user.totp_confirmed = False
    user.last_totp_step = None
    count = revoke_all_staff_sessions(user, "totp_reset")
    record_event(actor, "staff.totp_reset", target=user, details={"sessions_revoked": count})


def totp_uri(user: StaffUser, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)


def _matching_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """The time step whose code equals ``code`` (allowing one step of clock drift), or None."""
    code = code.strip().replace(" ", "")
    if not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    at = now.replace(tzinfo=dt.UTC)
    current = totp.timecode(at)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def check_totp(actor: Actor, user: StaffUser, code: str, now: dt.datetime | None = None) -> bool:
    """Verify a one-time code; the same time step is never accepted twice. A wrong code counts
    as a login failure (so the second factor cannot be guessed without locking the account).
    Confirms the enrolment on the first good code."""
    now = now or utcnow()
    secret = totp_secret(user)
    step = _matching_step(secret, code, now) if secret else None
    if step is None or (user.last_totp_step is not None and step <= user.last_totp_step):
        record_login_failure(actor, user, stage="totp", now=now)
        return False
    user.last_totp_step = step
    if not user.totp_confirmed:
        user.totp_confirmed = True
        record_event(actor, "staff.totp_enrol", target=user)
    return True
