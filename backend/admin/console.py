"""The staff console's frame (/admin): one parent blueprint that each console area nests in.

Every area (sign-in, staff, departments, subjects, records, imports, audit, calendar, cases, and
the channels' own pages: kiosks, WeChat bindings, reports) is a blueprint of its own module,
created with ``console_area`` and handed to ``make_console`` by the app factory. The parent
gives them, once for all: the management-network check on every /admin path
(``auth.guard_console``), the base template and the console's static files, the error page,
``Cache-Control: no-store`` and what every page shows (navigation, warnings). Endpoints are
``admin.<area>.<view>``; URLs are the area's paths under /admin.

Also the console's plumbing shared by the areas: forms, pagination, filters.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from apiflask import APIBlueprint
from flask import Blueprint, Response, abort, current_app, flash, g, render_template, request
from werkzeug.exceptions import HTTPException

from ..extensions import db
from ..workdays.service import load_calendar
from . import messages as msg
from .auth import can_manage, current_staff, guard_console, nav_items
from .forms import ActionForm

PAGE_SIZE = 50
CHINA_OFFSET = dt.timedelta(hours=8)  # stored times are naive UTC; pages show China time (no DST)


def console_area(name: str, import_name: str) -> Blueprint:
    """A console area's blueprint: its routes are written as paths under /admin."""
    return Blueprint(name, import_name)


def make_console(areas: Iterable[Blueprint]) -> APIBlueprint:
    """The /admin parent of ``areas``, with the console's shared hooks. A new one per app: a
    blueprint cannot take children once an app has registered it."""
    console = APIBlueprint(
        "admin",
        __name__,
        url_prefix="/admin",
        enable_openapi=False,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    # The management-network check covers every /admin path, whichever area serves it.
    console.record_once(lambda state: guard_console(state.app))
    console.before_request(forget_previous_request)
    console.context_processor(inject_console)
    console.after_request(no_store)
    console.errorhandler(HTTPException)(console_error)
    for area in areas:
        console.register_blueprint(area)
    return console


# --- Shared hooks (every area's requests run them) -------------------------------------------


def forget_previous_request() -> None:
    # ``g`` outlives a request when an app context was already pushed (the test suite keeps one
    # for the whole session): drop what earlier requests cached, including Flask-WTF's token.
    g.pop("staff", None)
    g.pop("staff_session", None)
    g.pop("session_expired", None)
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def inject_console() -> dict[str, Any]:
    user = g.get("staff")
    return {
        "staff": user,
        "nav": nav_items(user) if user else [],
        "calendar_warning": load_calendar().schedule_warning() if user else None,
        "wechat_alert": _wechat_alert() if user else None,
        "logout_form": ActionForm(),
        "msg": msg,
        "can_manage": can_manage(user) if user else False,
        "delta8": CHINA_OFFSET,
    }


def _wechat_alert() -> str | None:
    # The WeChat channel's configuration errors (miniprogram_api/alerts.py, registered by the app
    # factory): citizens get a neutral 503, so the console is where operators learn of them.
    from ..operator_alerts import operator_alert

    return operator_alert()


def no_store(response: Response) -> Response:
    # Console pages show personal data and one-time secrets: never keep them in a cache.
    if request.endpoint != "admin.static":
        response.headers["Cache-Control"] = "no-store"
    return response


def console_error(exc: HTTPException):
    db.session.rollback()  # before the page reads the staff member's session row again
    text = {400: msg.CSRF_FAILED, 403: msg.FORBIDDEN, 404: msg.NOT_FOUND}.get(exc.code or 500, exc.description)
    current_staff()
    return render_template("admin/error.html", status=exc.code, message=text), exc.code


# --- Forms, pagination, filters -----------------------------------------------------------


def submitted(form) -> bool:
    """True when a POSTed form is valid; a missing or wrong CSRF token refuses the request (400)."""
    if form.validate_on_submit():
        return True
    if form.is_submitted() and "csrf_token" in form.errors:
        abort(400)
    return False


def form_status(form) -> int:
    return 422 if form.is_submitted() and form.errors else 200


@dataclass
class Page:
    items: list
    page: int
    pages: int
    total: int

    def args(self, page: int) -> dict[str, Any]:
        params = request.args.to_dict()
        params["page"] = page
        return params


def paginate(query: sa.Select, page_size: int = PAGE_SIZE) -> Page:
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0
    items = db.session.scalars(query.limit(page_size).offset((page - 1) * page_size)).all()
    return Page(list(items), page, max(math.ceil(total / page_size), 1), total)


def enum_arg(name: str, enum_cls):
    raw = request.args.get(name, "")
    if not raw:
        return None
    try:
        return enum_cls(raw)
    except ValueError:
        flash(msg.FILTER_INVALID, "warning")
        return None
