"""Server-side console sessions: open, find, renew, revoke. Flush, never commit.

Why a table of our own rather than Flask-Session: the sessions live in the platform's database,
next to the staff accounts and the audit log, so revoking them is one UPDATE in the transaction
that changes the password (or records the admin's action), a backup or an audit shows them as
rows, and no second store (Redis, or Flask-Session's pickled blobs) has to be trusted, sized or
kept in step. Flask's signed cookie keeps carrying the CSRF token and flash messages; the
sign-in itself is only the random id, whose SHA-256 this table keeps.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa
from flask import current_app

from ..actors import Actor
from ..audit.operations import record_event
from ..extensions import db
from ..types import utcnow
from .models import StaffSession, StaffUser

STAGE_OK = "ok"
STAGE_TOTP = "totp"
# last_seen_at is written at most this often: the idle timeout is in minutes, and a console page
# that reads should not write on every request.
TOUCH_EVERY = dt.timedelta(seconds=60)


def _settings():
    return current_app.extensions["settings"]


def idle_limit() -> dt.timedelta:
    return dt.timedelta(minutes=_settings().STAFF_SESSION_MINUTES)


def hash_session_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_staff_session(
    user: StaffUser, stage: str, *, ip: str | None, user_agent: str | None, now: dt.datetime | None = None
) -> tuple[str, StaffSession]:
    """A new session; returns the random id for the cookie (never stored) and the row."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    row = StaffSession(
        token_hash=hash_session_id(token),
        staff_id=user.id,
        stage=stage,
        created_at=now,
        last_seen_at=now,
        expires_at=now + dt.timedelta(hours=_settings().STAFF_SESSION_ABSOLUTE_HOURS),
        ip=ip,
        user_agent=(user_agent or "")[:120] or None,
    )
    db.session.add(row)
    db.session.flush()
    return token, row


def find_staff_session(token: str | None) -> StaffSession | None:
    """The row of a cookie's session id (live or not), or None."""
    if not token or len(token) > 200:
        return None
    return db.session.scalar(sa.select(StaffSession).where(StaffSession.token_hash == hash_session_id(token)))


def touch_staff_session(row: StaffSession, now: dt.datetime | None = None) -> bool:
    """Move the idle clock; True when the row changed (the caller commits)."""
    now = now or utcnow()
    if now - row.last_seen_at < TOUCH_EVERY:
        return False
    row.last_seen_at = now
    return True


def revoke_staff_session(row: StaffSession, reason: str, now: dt.datetime | None = None) -> None:
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
        row.revoked_reason = reason
        db.session.flush()


def revoke_all_staff_sessions(user: StaffUser, reason: str, now: dt.datetime | None = None) -> int:
    """End every open session of ``user``; returns how many there were."""
    result = db.session.execute(
        sa.update(StaffSession)
        .where(StaffSession.staff_id == user.id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)


def sign_out_everywhere(actor: Actor, user: StaffUser, reason: str) -> int:
    """The console action (for oneself, or an admin's for a member of staff): audited."""
    count = revoke_all_staff_sessions(user, reason)
    record_event(actor, "staff.sessions_revoke", target=user, details={"reason": reason, "count": count})
    return count


def live_sessions(user: StaffUser, now: dt.datetime | None = None) -> list[StaffSession]:
    now = now or utcnow()
    rows = db.session.scalars(
        sa.select(StaffSession)
        .where(
            StaffSession.staff_id == user.id,
            StaffSession.revoked_at.is_(None),
            StaffSession.stage == STAGE_OK,
            StaffSession.expires_at > now,
        )
        .order_by(StaffSession.last_seen_at.desc())
    ).all()
    return [row for row in rows if row.is_live(now, idle_limit())]


def live_session_counts(now: dt.datetime | None = None) -> dict[int, int]:
    now = now or utcnow()
    return dict(
        db.session.execute(
            sa.select(StaffSession.staff_id, sa.func.count())
            .where(
                StaffSession.revoked_at.is_(None),
                StaffSession.stage == STAGE_OK,
                StaffSession.expires_at > now,
                StaffSession.last_seen_at > now - idle_limit(),
            )
            .group_by(StaffSession.staff_id)
        ).all()
    )
