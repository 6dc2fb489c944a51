"""Console area "auth": signing in (password, then the one-time code), signing out, and one's own
account (sessions, password). A refused attempt stays on record through ``commit_refusal()``
(backend/db_session.py)."""

from __future__ import annotations

import base64
import io

from flask import abort, flash, g, redirect, render_template, request, session, url_for

from ..actors import Actor
from ..audit.operations import record_event
from ..db_session import commit_refusal
from ..errors import ApiError
from ..staff.operations import (
    authenticate_staff,
    begin_totp_enrolment,
    change_staff_password,
    check_totp,
    record_login_success,
    totp_uri,
)
from ..staff.sessions import live_sessions, revoke_all_staff_sessions, sign_out_everywhere
from . import messages as msg
from .auth import (
    STAGE_OK,
    STAGE_TOTP,
    current_session_id,
    current_staff,
    end_session,
    pending_totp_user,
    require_role,
    staff_actor,
    start_session,
)
from .console import console_area, form_status, submitted
from .forms import ActionForm, LoginForm, PasswordChangeForm, TotpForm

bp = console_area("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    if target and target.startswith("/admin") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _anonymous() -> Actor:
    return Actor("public", None, "anonymous", "admin", request.remote_addr)


# --- Login, second factor, logout -------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_staff() is not None:
        return redirect(url_for("admin.dashboard.dashboard"))
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
            return redirect(url_for("admin.auth.totp", next=next_url))
        commit_refusal()  # the failure count, a lockout and their audit rows
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
        return redirect(url_for("admin.auth.login"))
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
            if secret is not None:
                flash(msg.TOTP_ENROLLED, "success")
            return redirect(next_url or url_for("admin.dashboard.dashboard"))
        elif user.is_locked():
            until = user.locked_until
            end_session("locked")
            commit_refusal()  # the lockout and its audit row
            flash(msg.locked_message(until), "error")
            return redirect(url_for("admin.auth.login"))
        else:
            error = msg.TOTP_FAILED
            commit_refusal()  # the failure count and its audit row
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
    flash(msg.LOGGED_OUT, "success")
    return redirect(url_for("admin.auth.login"))


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
            commit_refusal()  # the lockout, the ended sessions and their audit rows
            flash(msg.locked_message(until), "error")
            return redirect(url_for("admin.auth.login"))
        commit_refusal()  # the failure count and its audit row
        form.current_password.errors = [exc.message] if exc.code == "wrong_password" else []
        form.new_password.errors = [] if exc.code == "wrong_password" else [exc.message]
        return _render_account(form, 422)
    session.clear()  # its row is revoked with the others
    flash(msg.SIGN_IN_AGAIN_AFTER_CHANGE, "success")
    return redirect(url_for("admin.auth.login"))


@bp.post("/account/sessions/revoke")
@require_role()
def sign_out_everywhere_self():
    user = current_staff()
    if not submitted(ActionForm()):
        abort(400)
    sign_out_everywhere(staff_actor(user), user, "signed_out_everywhere")
    session.clear()  # its row is revoked with the others
    flash(msg.SIGNED_OUT_EVERYWHERE, "success")
    return redirect(url_for("admin.auth.login"))
