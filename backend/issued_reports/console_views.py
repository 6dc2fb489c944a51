"""Report pages of the staff console (窗口打印): issue and print at the counter, list, revoke.

Platform admins serve the counter: they issue, print and revoke. Auditors read the list only.
Department reviewers have no access. A console area of its own
(``backend/admin/console.py``): the console's login, CSRF, idle timeout and error pages are shared.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, request, url_for

from reports.content import CHINA_TZ, ReportKind

from ..admin.auth import ADMIN, AUDITOR, current_staff, require_role, staff_actor
from ..admin.console import console_area, paginate, submitted
from ..errors import ApiError
from ..extensions import db
from ..types import local_date
from . import messages as msg
from .content import ReportOptions
from .forms import IssueForm, RevokeForm
from .models import IssuedReport, ReportStatus
from .operations import find_subject, get_report, issue_report, read_report_pdf, revoke_report

bp = console_area("reports", __name__)

ISSUED = "报告已出具：{number}。请打印后交给申请人。"
REVOKED = "报告 {number} 已撤销"


def _china(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    return moment.replace(tzinfo=dt.UTC).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def _context() -> dict:
    return {
        "kind_labels": msg.KIND_LABELS,
        "status_labels": msg.STATUS_LABELS,
        "china": _china,
        "today": local_date(),
    }


@bp.get("/reports")
@require_role(ADMIN, AUDITOR)
def reports():
    query = sa.select(IssuedReport).order_by(IssuedReport.issued_at.desc(), IssuedReport.id.desc())
    number = (request.args.get("number") or "").strip().upper()
    if number:
        query = query.where(IssuedReport.number == number)
    status = request.args.get("status") or ""
    if status in {s.value for s in ReportStatus}:
        query = query.where(IssuedReport.status == ReportStatus(status))
    user = current_staff()
    return render_template(
        "issued_reports/console_list.html",
        page=paginate(query),
        number=number,
        status=status,
        revoke_form=RevokeForm(),
        may_act=user.role is ADMIN,
        **_context(),
    )


@bp.route("/reports/issue", methods=["GET", "POST"])
@require_role(ADMIN)
def issue_report_page():
    form = IssueForm()
    error = None
    if submitted(form):
        user = current_staff()
        try:
            subject = find_subject(form.query.data)
            issued = issue_report(
                staff_actor(user),
                subject,
                ReportKind(form.kind.data),
                ReportOptions(years=form.years.data, domains=tuple(form.domains.data or ())),
                "counter",
                identity_check=form.identity_check.data,
            )
        except ApiError as exc:
            db.session.rollback()
            error = exc.message
        else:
            number = issued.report.number
            flash(ISSUED.format(number=number), "success")
            return redirect(url_for("admin.reports.report_detail", number=number))
    status = 422 if (error or (form.is_submitted() and form.errors)) else 200
    return render_template("issued_reports/console_issue.html", form=form, error=error), status


@bp.get("/reports/<number>")
@require_role(ADMIN, AUDITOR)
def report_detail(number: str):
    try:
        report = get_report(number)
    except ApiError:
        abort(404)
    user = current_staff()
    return render_template(
        "issued_reports/console_detail.html",
        report=report,
        revoke_form=RevokeForm(),
        may_act=user.role is ADMIN,
        **_context(),
    )


@bp.get("/reports/<number>/pdf")
@require_role(ADMIN)
def report_pdf(number: str):
    try:
        report = get_report(number)
        data = read_report_pdf(staff_actor(current_staff()), report, reason="窗口打印")
    except ApiError as exc:
        db.session.rollback()
        abort(404 if exc.status == 404 else 403 if exc.status == 403 else 503)
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{report.number}.pdf"'},
    )


@bp.post("/reports/<number>/revoke")
@require_role(ADMIN)
def revoke_report_page(number: str):
    form = RevokeForm()
    try:
        report = get_report(number)
    except ApiError:
        abort(404)
    if not submitted(form):
        flash(msg.REVOKE_REASON_REQUIRED, "error")
        return redirect(url_for("admin.reports.report_detail", number=report.number))
    try:
        revoke_report(staff_actor(current_staff()), report, form.reason.data)
    except ApiError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(REVOKED.format(number=report.number), "success")
    return redirect(url_for("admin.reports.report_detail", number=report.number))
