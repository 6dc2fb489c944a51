"""Signing staff in to the console through the real forms, second factor included.

Every staff role enrols a TOTP secret at its first login and gives a one-time code at every
login after that (等保 2.0 level 3: two factors for every administrator), so every test that
opens the console goes through here. Re-exported by test_staff_auth for the older imports.
"""

from __future__ import annotations

import datetime as dt
import re
import time

import pyotp
import sqlalchemy as sa

from backend.actors import Actor
from backend.departments.models import Department
from backend.departments.operations import create_department
from backend.extensions import db
from backend.staff.models import StaffRole, StaffUser
from backend.staff.operations import create_staff, totp_secret
from backend.types import utcnow

PASSWORD = "correct-horse-battery"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
SETUP = Actor.cli("test-setup")
TOTP_PATH = "/admin/login/totp"


def make_department(code: str = "SCJG", name: str = "金昌市市场监督管理局", uscc: str = "91620302MA71XY3Q54"):
    department = create_department(SETUP, code=code, name=name, uscc=uscc, abbreviation=None)
    db.session.commit()
    return department


def make_staff(role: StaffRole | str, username: str | None = None, department: Department | None = None) -> StaffUser:
    role = StaffRole(role)
    if role is StaffRole.DEPT_REVIEWER and department is None:
        department = db.session.scalar(sa.select(Department).limit(1)) or make_department()
    user = create_staff(
        SETUP,
        username=username or f"{role.value}-{time.perf_counter_ns()}",
        display_name=f"测试{role.value}",
        role=role,
        password=PASSWORD,
        department=department,
    )
    db.session.commit()
    return user


def csrf_token(client, path: str = "/admin/login") -> str:
    page = client.get(path)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({page.status_code})"
    return match.group(1)


def post_form(client, path: str, data: dict | None = None, *, token_from: str | None = None, **kwargs):
    """POST a console form with a valid CSRF token taken from ``token_from`` (default: the page)."""
    data = dict(data or {})
    data["csrf_token"] = csrf_token(client, token_from or path)
    return client.post(path, data=data, **kwargs)


def totp_code(user: StaffUser, offset_steps: int = 0) -> str:
    secret = totp_secret(db.session.get(StaffUser, user.id))
    return pyotp.TOTP(secret).at(_server_time() + 30 * offset_steps)


def _server_time() -> float:
    """The server's clock (the suite's frozen one), not the wall clock: a test that crossed a
    30 s boundary asked for a code two steps ahead of the frozen server and was refused."""
    return utcnow().replace(tzinfo=dt.UTC).timestamp()


def unused_totp_code(user: StaffUser) -> str:
    """A valid code whose time step has not been used yet. A third login of one account within
    30 s has none left (a code is never accepted twice): the used step is then moved back, as if
    the next 30 s had passed."""
    db.session.expire_all()
    stored = db.session.get(StaffUser, user.id)
    now_step = int(_server_time() // 30)
    if stored.last_totp_step is not None and stored.last_totp_step >= now_step + 1:
        stored.last_totp_step = now_step - 2
        db.session.commit()
    for offset in (0, 1):
        if stored.last_totp_step is None or now_step + offset > stored.last_totp_step:
            return totp_code(user, offset)
    raise AssertionError("no unused one-time code within the allowed drift")


def login_user(client, user: StaffUser, password: str = PASSWORD):
    """Sign ``user`` in: password, then the one-time code (enrolling on the first login).
    Returns the final redirect."""
    response = post_form(client, "/admin/login", {"username": user.username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    if response.headers["Location"].startswith(TOTP_PATH):
        assert client.get(TOTP_PATH).status_code == 200  # enrolment creates the secret
        response = post_form(client, TOTP_PATH, {"code": unused_totp_code(user)})
        assert response.status_code == 302, response.get_data(as_text=True)
    return response


def login_as(client, role: StaffRole | str, department: Department | None = None) -> StaffUser:
    """Sign a new staff member of ``role`` in through the real forms, second factor included."""
    user = make_staff(role, department=department)
    response = login_user(client, user)
    assert response.headers["Location"] == "/admin/"
    return user
