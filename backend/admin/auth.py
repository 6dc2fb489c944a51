"""Who is signed in to the console, from where, and what they may do: every permission
predicate is here.

Sessions are kept server-side (``backend/staff/sessions.py``): Flask's signed cookie carries
only ``staff_sid``, a random id whose SHA-256 is a ``staff_session`` row holding the staff
member, the login stage ("totp" while the one-time code is still owed, "ok" when fully signed
in), the idle clock and the absolute end. Logout, a password change and "sign out everywhere"
revoke rows, which ends every copy of the cookie.

The console answers only the management networks (``ADMIN_ALLOWED_NETWORKS``): one check on the
``/admin`` URL prefix, so every console area (the channels' kiosk, report and WeChat pages too)
and the console's static files are covered without each remembering to.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, abort, current_app, flash, g, redirect, request, session, url_for

from ..actors import Actor
from ..config import Settings
from ..extensions import db
from ..records.models import CreditRecord
from ..staff.models import StaffRole, StaffUser
from ..staff.sessions import (
    STAGE_OK,
    STAGE_TOTP,
    find_staff_session,
    idle_limit,
    open_staff_session,
    revoke_staff_session,
    touch_staff_session,
)
from ..subjects.models import Subject
from ..types import utcnow
from .messages import SESSION_EXPIRED

ALL_ROLES = tuple(StaffRole)
ADMIN = StaffRole.PLATFORM_ADMIN
REVIEWER = StaffRole.DEPT_REVIEWER
AUDITOR = StaffRole.AUDITOR

COOKIE_KEY = "staff_sid"
CONSOLE_PREFIX = "/admin"
# Development and testing, when ADMIN_ALLOWED_NETWORKS is empty: loopback and the private ranges
# (RFC 1918, RFC 4193), so a demo on a LAN works and nothing on the internet reaches it.
DEVELOPMENT_NETWORKS = ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")


# --- Management networks ------------------------------------------------------------------


def management_networks(settings: Settings) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The networks the console answers; production allows nobody until they are configured."""
    spec = settings.ADMIN_ALLOWED_NETWORKS
    if not spec and not settings.is_production:
        spec = DEVELOPMENT_NETWORKS
    return tuple(ipaddress.ip_network(n, strict=False) for n in spec)


def _is_console_path(path: str) -> bool:
    # Werkzeug merges repeated slashes when routing (//admin/ is redirected to /admin/): so does this.
    path = re.sub("/{2,}", "/", path)
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")


def _from_management_network() -> bool:
    # request.remote_addr is the client as resolved by ProxyFix (TRUSTED_PROXY_HOPS): the
    # address the trusted proxy saw, never one a client put in its own X-Forwarded-For.
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in current_app.extensions["admin_networks"])


def guard_console(app: Flask) -> None:
    """Refuse every /admin path (404, as if there were no console) outside the management networks."""
    app.extensions["admin_networks"] = management_networks(app.extensions["settings"])

    @app.before_request
    def management_network_only():
        if _is_console_path(request.path) and not _from_management_network():
            abort(404)

    # Run before every other hook (rate limits, metrics, the blueprints' own): nothing of the
    # console should answer, or cost anything, outside the management networks.
    hooks = app.before_request_funcs.setdefault(None, [])
    hooks.insert(0, hooks.pop())


# --- Sessions -----------------------------------------------------------------------------


def start_session(user: StaffUser, stage: str) -> None:
    """A new session row and a new cookie on every login step, so nothing set before it
    (fixation, or the half-signed-in session of the password step) survives."""
    previous = find_staff_session(session.get(COOKIE_KEY))
    if previous is not None:
        revoke_staff_session(previous, "renewed")
    session.clear()
    token, _row = open_staff_session(user, stage, ip=request.remote_addr, user_agent=request.headers.get("User-Agent"))
    session[COOKIE_KEY] = token


def end_session(reason: str = "logout") -> None:
    """Revoke this request's session row (committed with the request) and empty the cookie."""
    row = find_staff_session(session.get(COOKIE_KEY))
    if row is not None:
        revoke_staff_session(row, reason)
    session.clear()


def current_session_id() -> int | None:
    row = g.get("staff_session")
    return row.id if row is not None else None


def _session_user(expected_stage: str) -> StaffUser | None:
    token = session.get(COOKIE_KEY)
    if token is None:
        return None
    row = find_staff_session(token)
    now = utcnow()
    if row is None or row.revoked_at is not None:
        session.clear()
        return None
    if now >= row.expires_at or now - row.last_seen_at > idle_limit():
        session.clear()
        g.session_expired = True
        return None
    if row.stage != expected_stage:
        return None
    user = row.staff
    if user is None or not user.is_active or user.is_locked():
        session.clear()
        return None
    touch_staff_session(row, now)  # committed with the request (db_session.py)
    g.staff_session = row
    return user


def current_staff() -> StaffUser | None:
    """The fully signed-in staff member of this request, or None."""
    if "staff" not in g:
        g.staff = _session_user(STAGE_OK)
    return g.staff


def pending_totp_user() -> StaffUser | None:
    """A staff member who passed the password step and still owes the one-time code."""
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
                return redirect(url_for("admin.auth.login", next=target))
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
        NavItem("admin.dashboard.dashboard", "工作台"),
        NavItem("admin.cases.cases", "异议与修复"),
        NavItem("admin.subjects.subjects", "信用主体"),
        NavItem("admin.records.records", "信用记录"),
        NavItem("admin.imports.imports", "归集批次"),
    ]
    if user.role in (ADMIN, AUDITOR):
        items.append(NavItem("admin.departments.departments", "部门与密钥"))
        items.append(NavItem("admin.subjects.code_issues", "重错码"))
        items.append(NavItem("admin.subjects.data_domains", "归集领域"))
        items.append(NavItem("admin.reports.reports", "信用报告"))
        items.append(NavItem("admin.kiosks.kiosks", "自助终端"))
        items.append(NavItem("admin.wechat.wechat_bindings", "企业授权审核"))
    items.append(NavItem("admin.calendar.calendar", "节假日维护"))
    if user.role in (ADMIN, AUDITOR):
        items.append(NavItem("admin.cases.outbox", "消息发件箱"))
        items.append(NavItem("admin.wechat.wechat_messages", "微信消息"))
    if can_read_audit_log(user):
        items.append(NavItem("admin.audit.audit_log", "审计日志"))
    if user.role in (ADMIN, AUDITOR):
        items.append(NavItem("admin.staff.staff_list", "工作人员"))
    items.append(NavItem("admin.auth.account", "账户与会话"))
    return items
