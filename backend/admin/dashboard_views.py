"""Console area "dashboard": the start page's figures (subjects, records, imports, 双公示
timeliness, and the cases' figures from the cases area)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import render_template

from ..extensions import db
from ..imports.models import ImportBatch
from ..records.models import CreditRecord, RecordCategory
from ..subjects.models import Subject, SubjectKind
from ..types import utcnow
from ..workflows import messages as wf_msg
from .auth import current_staff, department_scope, require_role, scope_records, scope_subjects
from .case_views import case_dashboard
from .console import console_area

bp = console_area("dashboard", __name__)

TIMELINESS_CATEGORIES = (RecordCategory.LICENCE, RecordCategory.PENALTY)


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
        # A callable, so the figures are computed only when the page shows them.
        case_dashboard=case_dashboard,
        case_state_labels=wf_msg.STATE_LABELS,
    )
