"""The staff console (/admin): server-rendered pages. Views load, authorise, validate, call one
operation, commit once, render."""

from __future__ import annotations

import base64
import datetime as dt
import io
import math
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from apiflask import APIBlueprint
from flask import Response, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from ..actors import Actor
from ..audit.models import AuditEvent
from ..audit.operations import record_event, verify_chain
from ..departments.models import Department, DepartmentApiKey
from ..departments.operations import create_department, issue_api_key, revoke_api_key
from ..errors import ApiError
from ..extensions import db
from ..imports.models import ImportBatch
from ..imports.operations import error_report_csv
from ..imports.samples import SAMPLES
from ..records.models import CreditRecord, RecordCategory, RecordStatus
from ..staff.models import StaffUser
from ..staff.operations import (
    authenticate_staff,
    begin_totp_enrolment,
    change_staff_password,
    check_totp,
    record_login_success,
    reset_staff_totp,
    totp_uri,
)
from ..staff.sessions import live_session_counts, live_sessions, revoke_all_staff_sessions, sign_out_everywhere
from ..subjects.models import Subject, SubjectKind
from ..types import local_date, utcnow
from ..workdays.models import CalendarOverride, CalendarYear
from ..workdays.operations import add_calendar_override, confirm_calendar_year, delete_calendar_override
from ..workdays.service import load_calendar, year_schedule
from . import messages as msg
from .auth import (
    ADMIN,
    AUDITOR,
    STAGE_OK,
    STAGE_TOTP,
    can_manage,
    can_read_audit_log,
    can_see_personal_data_clear,
    can_view_department_data,
    can_view_subject,
    current_session_id,
    current_staff,
    department_scope,
    end_session,
    guard_console,
    nav_items,
    pending_totp_user,
    require_role,
    scope_records,
    scope_subjects,
    staff_actor,
    start_session,
)
from .forms import (
    ActionForm,
    ApiKeyForm,
    CalendarOverrideForm,
    CalendarYearForm,
    DepartmentForm,
    LoginForm,
    PasswordChangeForm,
    ReasonForm,
    TotpForm,
)

bp = APIBlueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    enable_openapi=False,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# The management-network check covers every /admin path, whichever blueprint serves it.
bp.record_once(lambda state: guard_console(state.app))

PAGE_SIZE = 50
CHINA_OFFSET = dt.timedelta(hours=8)  # stored times are naive UTC; pages show China time (no DST)
TIMELINESS_CATEGORIES = (RecordCategory.LICENCE, RecordCategory.PENALTY)


# --- Plumbing ---------------------------------------------------------------------------


class FormInvalid(Exception):
    pass


def submitted(form) -> bool:
    """True when a POSTed form is valid; a missing or wrong CSRF token refuses the request (400)."""
    if form.validate_on_submit():
        return True
    if form.is_submitted() and "csrf_token" in form.errors:
        abort(400)
    return False


def form_status(form) -> int:
    return 422 if form.is_submitted() and form.errors else 200


@bp.before_request
def forget_previous_request() -> None:
    # ``g`` outlives a request when an app context was already pushed (the test suite keeps one
    # for the whole session): drop what earlier requests cached, including Flask-WTF's token.
    g.pop("staff", None)
    g.pop("staff_session", None)
    g.pop("session_expired", None)
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


@bp.context_processor
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
    # The WeChat channel's configuration errors (miniprogram_api/alerts.py): citizens get a
    # neutral 503, so the console is where operators learn that face verification is down.
    from miniprogram_api.alerts import config_alert

    return config_alert()


@bp.after_request
def no_store(response: Response) -> Response:
    # Console pages show personal data and one-time secrets: never keep them in a cache.
    if request.endpoint != "admin.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(HTTPException)
def console_error(exc: HTTPException):
    db.session.rollback()
    text = {400: msg.CSRF_FAILED, 403: msg.FORBIDDEN, 404: msg.NOT_FOUND}.get(exc.code or 500, exc.description)
    current_staff()
    return render_template("admin/error.html", status=exc.code, message=text), exc.code


def _safe_next(target: str | None) -> str | None:
    if target and target.startswith("/admin") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _anonymous() -> Actor:
    return Actor("public", None, "anonymous", "admin", request.remote_addr)


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


def _enum_arg(name: str, enum_cls):
    raw = request.args.get(name, "")
    if not raw:
        return None
    try:
        return enum_cls(raw)
    except ValueError:
        flash(msg.FILTER_INVALID, "warning")
        return None


# --- Login, second factor, logout -------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_staff() is not None:
        return redirect(url_for("admin.dashboard"))
    form = LoginForm()
    error = None
    next_url = _safe_next(request.args.get("next"))
    if submitted(form):
        result = authenticate_staff(_anonymous(), form.username.data or "", form.password.data or "")
        if result.ok:
            assert result.user is not None
            # Every role gives a one-time code after the password: reviewers and auditors see
            # personal data and the audit log too (等保 2.0 level 3, GB/T 22239-2019 8.1.4.1 d:
            # two or more authentication factors for every administrator).
            start_session(result.user, STAGE_TOTP)
            db.session.commit()
            return redirect(url_for("admin.totp", next=next_url))
        db.session.commit()
        error = msg.locked_message(result.locked_until) if result.locked_until else msg.LOGIN_FAILED
    return render_template("admin/login.html", form=form, error=error, next_url=next_url), form_status(form)


def _qr_data_uri(content: str) -> str:
    """An SVG QR code as a data: URI (the console's CSP allows data: images, not inline scripts)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(content, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@bp.route("/login/totp", methods=["GET", "POST"])
def totp():
    user = pending_totp_user()
    if user is None:
        if g.get("session_expired"):
            flash(msg.SESSION_EXPIRED, "warning")
        return redirect(url_for("admin.login"))
    next_url = _safe_next(request.args.get("next"))
    secret = None if user.totp_confirmed else begin_totp_enrolment(user)
    form = TotpForm()
    error = None
    if submitted(form):
        actor = staff_actor(user)
        if user.is_locked():
            error = msg.locked_message(user.locked_until)
        elif check_totp(actor, user, form.code.data or ""):
            record_login_success(actor, user)
            start_session(user, STAGE_OK)
            db.session.commit()
            if secret is not None:
                flash(msg.TOTP_ENROLLED, "success")
            return redirect(next_url or url_for("admin.dashboard"))
        elif user.is_locked():
            until = user.locked_until
            end_session("locked")
            db.session.commit()
            flash(msg.locked_message(until), "error")
            return redirect(url_for("admin.login"))
        else:
            error = msg.TOTP_FAILED
    db.session.commit()
    uri = totp_uri(user, secret) if secret else None
    return render_template(
        "admin/totp.html",
        form=form,
        error=error,
        secret=secret,
        uri=uri,
        qr=_qr_data_uri(uri) if uri else None,
        next_url=next_url,
    ), form_status(form)


@bp.post("/logout")
def logout():
    form = ActionForm()
    submitted(form)
    user = current_staff()
    if user is not None:
        record_event(staff_actor(user), "staff.logout", target=user)
    end_session("logout")
    db.session.commit()
    flash(msg.LOGGED_OUT, "success")
    return redirect(url_for("admin.login"))


# --- One's own account: sessions, password ------------------------------------------------


def _render_account(password_form=None, status: int = 200):
    user = current_staff()
    return render_template(
        "admin/account.html",
        sessions=live_sessions(user),
        current_id=current_session_id(),
        password_form=password_form or PasswordChangeForm(),
        action_form=ActionForm(),
    ), status


@bp.get("/account")
@require_role()
def account():
    return _render_account()


@bp.post("/account/password")
@require_role()
def change_password():
    user = current_staff()
    form = PasswordChangeForm()
    if not submitted(form):
        return _render_account(form, form_status(form))
    try:
        change_staff_password(
            staff_actor(user),
            user,
            form.current_password.data or "",
            form.new_password.data or "",
            form.confirm_password.data or "",
        )
    except ApiError as exc:
        if user.is_locked():
            # Guessing the password from a borrowed session locked the account: that session
            # and every other one end, rather than coming back when the lock runs out.
            until = user.locked_until
            revoke_all_staff_sessions(user, "locked")
            session.clear()
            db.session.commit()
            flash(msg.locked_message(until), "error")
            return redirect(url_for("admin.login"))
        db.session.commit()  # the failure count and its audit row
        form.current_password.errors = [exc.message] if exc.code == "wrong_password" else []
        form.new_password.errors = [] if exc.code == "wrong_password" else [exc.message]
        return _render_account(form, 422)
    session.clear()  # its row is revoked with the others
    db.session.commit()
    flash(msg.SIGN_IN_AGAIN_AFTER_CHANGE, "success")
    return redirect(url_for("admin.login"))


@bp.post("/account/sessions/revoke")
@require_role()
def sign_out_everywhere_self():
    user = current_staff()
    if not submitted(ActionForm()):
        abort(400)
    sign_out_everywhere(staff_actor(user), user, "signed_out_everywhere")
    session.clear()  # its row is revoked with the others
    db.session.commit()
    flash(msg.SIGNED_OUT_EVERYWHERE, "success")
    return redirect(url_for("admin.login"))


# --- Staff accounts: who is signed in, and signing them out (admins) -------------------------


@bp.get("/staff")
@require_role(ADMIN, AUDITOR)
def staff_list():
    members = db.session.scalars(sa.select(StaffUser).order_by(StaffUser.username)).all()
    return render_template("admin/staff.html", members=members, counts=live_session_counts(), action_form=ActionForm())


@bp.post("/staff/<int:staff_id>/sessions/revoke")
@require_role(ADMIN)
def revoke_staff_sessions(staff_id: int):
    member = db.session.get(StaffUser, staff_id)
    if member is None:
        abort(404)
    if not submitted(ActionForm()):
        abort(400)
    count = sign_out_everywhere(staff_actor(current_staff()), member, "revoked_by_admin")
    db.session.commit()
    flash(msg.staff_signed_out(member.display_name, count), "success")
    if member.id == current_staff().id:
        session.clear()
        return redirect(url_for("admin.login"))
    return redirect(url_for("admin.staff_list"))


@bp.post("/staff/<int:staff_id>/totp/reset")
@require_role(ADMIN)
def reset_totp(staff_id: int):
    member = db.session.get(StaffUser, staff_id)
    if member is None:
        abort(404)
    if not submitted(ActionForm()):
        abort(400)
    reset_staff_totp(staff_actor(current_staff()), member)
    db.session.commit()
    flash(msg.totp_reset(member.display_name), "success")
    if member.id == current_staff().id:
        session.clear()
        return redirect(url_for("admin.login"))
    return redirect(url_for("admin.staff_list"))


# --- Dashboard --------------------------------------------------------------------------


@bp.get("/")
@require_role()
def dashboard():
    user = current_staff()
    subjects_by_kind = dict(
        db.session.execute(scope_subjects(user, sa.select(Subject.kind, sa.func.count()).group_by(Subject.kind))).all()
    )
    by_status = dict(
        db.session.execute(
            scope_records(user, sa.select(CreditRecord.status, sa.func.count()).group_by(CreditRecord.status))
        ).all()
    )
    by_category = dict(
        db.session.execute(
            scope_records(user, sa.select(CreditRecord.category, sa.func.count()).group_by(CreditRecord.category))
        ).all()
    )
    since = utcnow() - dt.timedelta(days=30)
    batches = sa.select(sa.func.count()).select_from(ImportBatch).where(ImportBatch.started_at >= since)
    if (dept := department_scope(user)) is not None:
        batches = batches.where(ImportBatch.department_id == dept)
    total, timely = db.session.execute(
        scope_records(
            user,
            sa.select(sa.func.count(), sa.func.sum(sa.case((CreditRecord.is_timely, 1), else_=0))).where(
                CreditRecord.category.in_(TIMELINESS_CATEGORIES)
            ),
        )
    ).one()
    return render_template(
        "admin/dashboard.html",
        legal=subjects_by_kind.get(SubjectKind.LEGAL, 0),
        natural=subjects_by_kind.get(SubjectKind.NATURAL, 0),
        by_status=by_status,
        by_category=by_category,
        batches_30d=db.session.scalar(batches) or 0,
        timeliness_total=total or 0,
        timeliness_rate=(100.0 * (timely or 0) / total) if total else None,
    )


# --- Departments and API keys -----------------------------------------------------------


@bp.route("/departments", methods=["GET", "POST"])
@require_role(ADMIN, AUDITOR)
def departments():
    user = current_staff()
    form = DepartmentForm()
    if request.method == "POST":
        if not can_manage(user):
            abort(403)
        if submitted(form):
            try:
                department = create_department(
                    staff_actor(user),
                    code=form.code.data.strip(),
                    name=form.name.data.strip(),
                    uscc=form.uscc.data.strip(),
                    abbreviation=(form.abbreviation.data or "").strip() or None,
                    registers_subjects=bool(form.registers_subjects.data),
                )
            except ApiError as exc:
                db.session.rollback()
                field = form.uscc if exc.code == "invalid_uscc" else form.code
                field.errors = [*field.errors, exc.message]
            else:
                db.session.commit()
                flash(msg.DEPARTMENT_CREATED, "success")
                return redirect(url_for("admin.department", department_id=department.id))
    key_counts = dict(
        db.session.execute(
            sa.select(DepartmentApiKey.department_id, sa.func.count())
            .where(DepartmentApiKey.revoked_at.is_(None))
            .group_by(DepartmentApiKey.department_id)
        ).all()
    )
    rows = db.session.scalars(sa.select(Department).order_by(Department.code)).all()
    status = 422 if form.errors else 200
    return render_template("admin/departments.html", departments=rows, key_counts=key_counts, form=form), status


def _department_or_404(department_id: int) -> Department:
    department = db.session.get(Department, department_id)
    if department is None:
        abort(404)
    return department


@bp.get("/departments/<int:department_id>")
@require_role(ADMIN, AUDITOR)
def department(department_id: int):
    dep = _department_or_404(department_id)
    keys = db.session.scalars(
        sa.select(DepartmentApiKey)
        .where(DepartmentApiKey.department_id == dep.id)
        .order_by(DepartmentApiKey.created_at.desc(), DepartmentApiKey.id.desc())
    ).all()
    return render_template(
        "admin/department.html", department=dep, keys=keys, key_form=ApiKeyForm(), action_form=ActionForm()
    )


@bp.post("/departments/<int:department_id>/keys")
@require_role(ADMIN)
def issue_key(department_id: int):
    dep = _department_or_404(department_id)
    form = ApiKeyForm()
    if not submitted(form):
        return redirect(url_for("admin.department", department_id=dep.id))
    key, secret = issue_api_key(staff_actor(current_staff()), dep, (form.label.data or "").strip())
    db.session.commit()
    # The secret is rendered here once and never stored in clear or in the session.
    return render_template("admin/key_issued.html", department=dep, key=key, secret=secret)


@bp.post("/departments/<int:department_id>/keys/<int:key_id>/revoke")
@require_role(ADMIN)
def revoke_key(department_id: int, key_id: int):
    key = db.session.get(DepartmentApiKey, key_id)
    if key is None or key.department_id != department_id:
        abort(404)
    if submitted(ActionForm()):
        revoke_api_key(staff_actor(current_staff()), key)
        db.session.commit()
        flash(msg.KEY_REVOKED, "success")
    return redirect(url_for("admin.department", department_id=department_id))


# --- Subjects and records ---------------------------------------------------------------


@bp.get("/subjects")
@require_role()
def subjects():
    user = current_staff()
    q = (request.args.get("q") or "").strip()[:100]
    kind = _enum_arg("kind", SubjectKind)
    query = scope_subjects(user, sa.select(Subject))
    if kind is not None:
        query = query.where(Subject.kind == kind)
    if q:
        # Legal subjects only: ID numbers are not searched here, so they never end up in a URL
        # (and in access logs); natural persons' names are encrypted and cannot be matched.
        query = query.where(sa.or_(Subject.name.contains(q, autoescape=True), Subject.uscc == q.upper()))
    page = paginate(query.order_by(Subject.id.desc()))
    return render_template("admin/subjects.html", page=page, q=q, kind=kind, kinds=SubjectKind)


@bp.route("/subjects/<int:subject_id>", methods=["GET", "POST"])
@require_role()
def subject(subject_id: int):
    user = current_staff()
    subj = db.session.get(Subject, subject_id)
    if subj is None:
        abort(404)
    if not can_view_subject(user, subj):
        abort(403)
    clear_identity = None
    if subj.is_natural:
        form = ReasonForm()
        if not submitted(form):
            return render_template("admin/subject_reason.html", subject=subj, form=form), form_status(form)
        record_event(
            staff_actor(user),
            "subject.view_personal",
            target=subj,
            subject_id=subj.id,
            reason=form.reason.data.strip(),
        )
        db.session.commit()
        if can_see_personal_data_clear(user):
            clear_identity = {"name": subj.reveal_name(), "id_number": subj.reveal_id_number()}
    records = db.session.scalars(
        scope_records(user, sa.select(CreditRecord).where(CreditRecord.subject_id == subj.id)).order_by(
            CreditRecord.decision_date.desc(), CreditRecord.id.desc()
        )
    ).all()
    return render_template("admin/subject.html", subject=subj, records=records, clear_identity=clear_identity)


@bp.get("/records")
@require_role()
def records():
    user = current_staff()
    category = _enum_arg("category", RecordCategory)
    status = _enum_arg("status", RecordStatus)
    department_id = request.args.get("department", type=int)
    q = (request.args.get("q") or "").strip()[:100]
    derived = request.args.get("derived") == "1"
    query = scope_records(user, sa.select(CreditRecord))
    if derived:  # penalties whose tier the city's rule derived, for the department to confirm
        query = query.where(CreditRecord.tier_derived.is_(True))
    if category is not None:
        query = query.where(CreditRecord.category == category)
    if status is not None:
        query = query.where(CreditRecord.status == status)
    if department_id is not None:
        query = query.where(CreditRecord.department_id == department_id)
    if q:
        query = query.where(
            sa.or_(
                CreditRecord.decision_number.contains(q, autoescape=True),
                CreditRecord.subject_name.contains(q, autoescape=True),
            )
        )
    page = paginate(query.order_by(CreditRecord.decision_date.desc(), CreditRecord.id.desc()))
    dept_query = sa.select(Department).order_by(Department.code)
    if (dept := department_scope(user)) is not None:
        dept_query = dept_query.where(Department.id == dept)
    return render_template(
        "admin/records.html",
        page=page,
        q=q,
        category=category,
        status=status,
        department_id=department_id,
        derived=derived,
        departments=db.session.scalars(dept_query).all(),
        categories=RecordCategory,
        statuses=RecordStatus,
    )


# --- Import batches ---------------------------------------------------------------------


def _batch_or_abort(batch_id: int) -> ImportBatch:
    batch = db.session.get(ImportBatch, batch_id)
    if batch is None:
        abort(404)
    if not can_view_department_data(current_staff(), batch.department_id):
        abort(403)
    return batch


@bp.get("/imports")
@require_role()
def imports():
    query = sa.select(ImportBatch)
    if (dept := department_scope(current_staff())) is not None:
        query = query.where(ImportBatch.department_id == dept)
    page = paginate(query.order_by(ImportBatch.started_at.desc(), ImportBatch.id.desc()))
    return render_template("admin/imports.html", page=page, samples=SAMPLES, user=current_staff())


@bp.get("/imports/<int:batch_id>")
@require_role()
def import_batch(batch_id: int):
    return render_template("admin/import_batch.html", batch=_batch_or_abort(batch_id))


@bp.get("/imports/<int:batch_id>/errors.csv")
@require_role()
def import_errors_csv(batch_id: int):
    batch = _batch_or_abort(batch_id)
    return Response(
        error_report_csv(batch).encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="import-{batch.id}-errors.csv"'},
    )


# --- Audit log --------------------------------------------------------------------------


@bp.get("/audit")
@require_role(ADMIN, AUDITOR)
def audit_log():
    action = (request.args.get("action") or "").strip()[:64]
    actor = (request.args.get("actor") or "").strip()[:100]
    subject_id = request.args.get("subject_id", type=int)
    query = sa.select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True))
    if actor:
        query = query.where(sa.or_(AuditEvent.actor_label == actor, AuditEvent.actor_id == actor))
    if subject_id is not None:
        query = query.where(AuditEvent.subject_id == subject_id)
    page = paginate(query.order_by(AuditEvent.id.desc()))
    return render_template(
        "admin/audit.html",
        page=page,
        action=action,
        actor=actor,
        subject_id=subject_id,
        verify_form=ActionForm(),
    )


@bp.post("/audit/verify")
@require_role(ADMIN, AUDITOR)
def audit_verify():
    if not can_read_audit_log(current_staff()):
        abort(403)
    if submitted(ActionForm()):
        report = verify_chain()
        if report.ok:
            flash(msg.CHAIN_OK.format(checked=report.checked), "success")
        else:
            flash(
                msg.CHAIN_BROKEN.format(
                    bad_id=report.first_bad_id,
                    problem=msg.CHAIN_PROBLEMS.get(report.problem or "", report.problem),
                    checked=report.checked,
                ),
                "error",
            )
    return redirect(url_for("admin.audit_log"))


# --- Calendar ---------------------------------------------------------------------------


def _render_calendar(override_form=None, year_form=None, status: int = 200):
    overrides = db.session.scalars(sa.select(CalendarOverride).order_by(CalendarOverride.day.desc())).all()
    years = db.session.scalars(sa.select(CalendarYear).order_by(CalendarYear.year.desc())).all()
    names = dict(db.session.execute(sa.select(StaffUser.id, StaffUser.display_name)).all())
    # This year and the next, as deadlines will count them: the estimate beside the entries.
    calendar, this_year, notes = load_calendar(), local_date().year, {o.day: o.note for o in overrides}
    schedules = [year_schedule(calendar, year, notes) for year in (this_year, this_year + 1)]
    return render_template(
        "admin/calendar.html",
        overrides=overrides,
        years=years,
        schedules=schedules,
        staff_names=names,
        override_form=override_form or CalendarOverrideForm(formdata=None),
        year_form=year_form or CalendarYearForm(formdata=None),
        action_form=ActionForm(),
    ), status


@bp.get("/calendar")
@require_role()
def calendar():
    return _render_calendar()


@bp.post("/calendar/overrides")
@require_role(ADMIN)
def add_override():
    form = CalendarOverrideForm()
    if not submitted(form):
        return _render_calendar(override_form=form, status=422)
    try:
        add_calendar_override(
            staff_actor(current_staff()),
            day=form.day.data,
            is_working_day=form.kind.data == "workday",
            note=(form.note.data or "").strip(),
        )
    except ApiError:
        db.session.rollback()
        form.day.errors = [*form.day.errors, msg.OVERRIDE_EXISTS]
        return _render_calendar(override_form=form, status=409)
    db.session.commit()
    flash(msg.OVERRIDE_ADDED, "success")
    return redirect(url_for("admin.calendar"))


@bp.post("/calendar/overrides/<int:override_id>/delete")
@require_role(ADMIN)
def delete_override(override_id: int):
    override = db.session.get(CalendarOverride, override_id)
    if override is None:
        abort(404)
    if submitted(ActionForm()):
        delete_calendar_override(staff_actor(current_staff()), override)
        db.session.commit()
        flash(msg.OVERRIDE_DELETED, "success")
    return redirect(url_for("admin.calendar"))


@bp.post("/calendar/years")
@require_role(ADMIN)
def confirm_year():
    form = CalendarYearForm()
    if not submitted(form):
        return _render_calendar(year_form=form, status=422)
    try:
        confirm_calendar_year(
            staff_actor(current_staff()), year=form.year.data, source=(form.source.data or "").strip()
        )
    except ApiError:
        db.session.rollback()
        form.year.errors = [*form.year.errors, msg.YEAR_ALREADY_CONFIRMED]
        return _render_calendar(year_form=form, status=409)
    db.session.commit()
    flash(msg.YEAR_CONFIRMED, "success")
    return redirect(url_for("admin.calendar"))


# The reviewers' console for objections and repairs adds its routes to this blueprint.
from . import case_views, intake_views, subject_views  # noqa: E402, F401
