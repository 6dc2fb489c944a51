"""Load-balancer probes: /healthz (process alive) and /readyz (database reachable)."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from apiflask import APIBlueprint
from sqlalchemy.exc import SQLAlchemyError

from .extensions import close_read_session, db, has_replica, limiter, read_session
from .workdays.service import load_calendar

bp = APIBlueprint("health", __name__, tag="运维")
log = logging.getLogger(__name__)


@bp.get("/healthz")
@limiter.exempt
@bp.doc(summary="进程存活检查")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
@limiter.exempt
@bp.doc(summary="就绪检查（数据库可用）", responses={200: "可以接收请求", 503: "数据库不可用"})
def readyz():
    try:
        db.session.execute(sa.text("SELECT 1"))
        warning = load_calendar().schedule_warning()
    except SQLAlchemyError:
        log.warning("readiness check: database unavailable", exc_info=True)
        db.session.rollback()
        return (
            {"status": "unavailable", "checks": {"database": "unavailable"}},
            503,
            {"Retry-After": "5"},
        )
    details = {"database": "ok"}
    warnings = [warning] if warning else []
    if has_replica():
        # Not a reason to leave the load balancer: the public query falls back to the primary.
        try:
            read_session().execute(sa.text("SELECT 1"))
            details["replica"] = "ok"
        except SQLAlchemyError:
            log.warning("readiness check: read replica unavailable", exc_info=True)
            close_read_session()
            details["replica"] = "unavailable"
            warnings.append("只读副本不可用，公共查询暂由主库应答")
    return {"status": "ok", "checks": details, "warnings": warnings}
