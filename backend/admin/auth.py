"""Who is signed in to the console and what they may do: every permission predicate is here.

The session lives in Flask's signed cookie: ``staff_id``, the login ``stage`` ("totp" while an
admin still owes the one-time code, "ok" when fully signed in) and ``seen`` (epoch seconds of the
last request, for the idle timeout).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import abort, current_app, flash, g, redirect, request, session, url_for

from ..actors import Actor
from ..extensions import db
from ..records.models import CreditRecord
from ..staff.models import StaffRole, StaffUser
from ..subjects.models import Subject
from .messages import SESSION_EXPIRED

ALL_ROLES = tuple(StaffRole)
ADMIN = StaffRole.PLATFORM_ADMIN
REVIEWER = StaffRole.DEPT_REVIEWER
AUDITOR = StaffRole.AUDITOR

STAGE_OK = "ok"
STAGE_TOTP = "totp"


def start_session(user: StaffUser, stage: str) -> None:
    # A new session on every login, so nothing set before it (fixation) survives.
    session.clear()
    session["staff_id"] = user.id
    session["stage"] = stage
    session["seen"] = int(time.time())
    session.permanent = False


def end_session() -> None:
    session.clear()


def _session_user(expected_stage: str) -> StaffUser | None:
    staff_id = session.get("staff_id")
    if staff_id is None or session.get("stage") != expected_stage:
        return None
    idle = current_app.extensions["settings"].STAFF_SESSION_MINUTES * 60
    if int(time.time()) - int(session.get("seen", 0)) > idle:
        session.clear()
        g.session_expired = True
        return None
    user = db.session.get(StaffUser, staff_id)
    if user is None or not user.is_active or user.is_locked():
        session.clear()
        return None
    session["seen"] = int(time.time())
    return user


def current_staff() -> StaffUser | None:
    """The fully signed-in staff member of this request, or None."""
    if "staff" not in g:
        g.staff = _session_user(STAGE_OK)
    return g.staff


def pending_totp_user() -> StaffUser | None:
    """An admin who passed the password step and still owes the one-time code."""
    return _session_user(STAGE_TOTP)


def staff_actor(user: StaffUser) -> Actor:
    return Actor.staff(user, ip=request.remote_addr)


def require_role(*roles: StaffRole) -> Callable:
    """Signed-in staff with one of ``roles`` (any role when none given); else login or 403."""
    allowed = roles or ALL_ROLES

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = current_staff()
            if user is None:
                if g.get("session_expired"):
                    flash(SESSION_EXPIRED, "warning")
                target = request.full_path.rstrip("?") if request.method == "GET" else None
                return redirect(url_for("admin.login", next=target))
            if user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


# --- Predicates ---------------------------------------------------------------------------


def can_manage(user: StaffUser) -> bool:
    """Departments, API keys, the calendar: platform admins only."""
    return user.role is ADMIN


def can_read_audit_log(user: StaffUser) -> bool:
    return user.role in (ADMIN, AUDITOR)


def can_see_personal_data_clear(user: StaffUser) -> bool:
    """Whether a natural person's name and ID number are shown unmasked (after a stated reason)."""
    return user.role is ADMIN


def department_scope(user: StaffUser) -> int | None:
    """The only department whose data the user may see, or None for every department."""
    return user.department_id if user.role is REVIEWER else None


def scope_records(user: StaffUser, query: sa.Select) -> sa.Select:
    dept = department_scope(user)
    return query if dept is None else query.where(CreditRecord.department_id == dept)


def scope_subjects(user: StaffUser, query: sa.Select) -> sa.Select:
    """Reviewers see the subjects that have at least one record of their department."""
    dept = department_scope(user)
    if dept is None:
        return query
    return query.where(sa.exists().where(CreditRecord.subject_id == Subject.id, CreditRecord.department_id == dept))


def can_view_subject(user: StaffUser, subject: Subject) -> bool:
    dept = department_scope(user)
    if dept is None:
        return True
    return (
        db.session.scalar(
            sa.select(CreditRecord.id)
            .where(CreditRecord.subject_id == subject.id, CreditRecord.department_id == dept)
            .limit(1)
        )
        is not None
    )


def can_view_department_data(user: StaffUser, department_id: int | None) -> bool:
    return user.can_view_department(department_id)


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str


def nav_items(user: StaffUser) -> list[NavItem]:
    items = [
        NavItem("admin.dashboard", "工作台"),
        NavItem("admin.cases", "异议与修复"),
        NavItem("admin.subjects", "信用主体"),
        NavItem("admin.records", "信用记录"),
        NavItem("admin.imports", "归集批次"),
    ]
    if user.role in (ADMIN, AUDITOR):
        items.append(NavItem("admin.departments", "部门与密钥"))
        items.append(NavItem("admin.name_discrepancies", "主体名称差异"))
        items.append(NavItem("admin.reports", "信用报告"))
        items.append(NavItem("admin.kiosks", "自助终端"))
        items.append(NavItem("admin.wechat_bindings", "企业授权审核"))
    items.append(NavItem("admin.calendar", "节假日维护"))
    if user.role in (ADMIN, AUDITOR):
        items.append(NavItem("admin.outbox", "消息发件箱"))
        items.append(NavItem("admin.wechat_messages", "微信消息"))
    if can_read_audit_log(user):
        items.append(NavItem("admin.audit_log", "审计日志"))
    return items
