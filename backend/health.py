"""Load-balancer probes: /healthz (process alive) and /readyz (database reachable, files storable)."""

from __future__ import annotations

import logging
import threading
import time

import sqlalchemy as sa
from apiflask import APIBlueprint
from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from .extensions import close_read_session, db, has_replica, limiter, read_session
from .storage import get_storage
from .workdays.service import load_calendar

bp = APIBlueprint("health", __name__, tag="运维")
log = logging.getLogger(__name__)

STORAGE_CHECK_CACHE = "storage_readiness"  # app.extensions: (storage, checked at, state)
_storage_check_lock = threading.Lock()
STORAGE_WARNINGS = {
    "unavailable": "文件存储不可写入或无法访问，报告与材料无法保存",
    "low_space": "文件存储剩余空间不足（低于 STORAGE_MIN_FREE_MB），报告与材料即将无法保存",
}


def storage_readiness() -> str:
    """``ok``, ``unavailable`` or ``low_space`` (``Storage.check``), from a real check at most
    once per ``STORAGE_CHECK_CACHE_SECONDS`` in this process: the load balancer, monitoring and
    anyone on the network may probe /readyz, and each real check writes and fsyncs a file (or
    asks the bucket). Concurrent probes wait for the one check in progress and share its answer."""
    settings = current_app.extensions["settings"]
    try:
        storage = get_storage()
    except OSError:  # the folder could not even be created
        log.warning("storage check: storage unavailable", exc_info=True)
        return "unavailable"
    with _storage_check_lock:
        cached = current_app.extensions.get(STORAGE_CHECK_CACHE)
        now = time.monotonic()
        if cached and cached[0] is storage and now - cached[1] < settings.STORAGE_CHECK_CACHE_SECONDS:
            return cached[2]
        state = storage.check(min_free_bytes=settings.STORAGE_MIN_FREE_MB * 2**20)
        current_app.extensions[STORAGE_CHECK_CACHE] = (storage, time.monotonic(), state)
        return state


@bp.get("/healthz")
@limiter.exempt
@bp.doc(summary="进程存活检查")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
@limiter.exempt
@bp.doc(summary="就绪检查（数据库可用、文件可存储）", responses={200: "可以接收请求", 503: "数据库或文件存储不可用"})
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
    # A service hall that cannot store a report cannot print it: no room left is as bad as none.
    details["storage"] = storage_readiness()
    if details["storage"] != "ok":
        warnings.append(STORAGE_WARNINGS[details["storage"]])
        return {"status": "unavailable", "checks": details, "warnings": warnings}, 503, {"Retry-After": "5"}
    return {"status": "ok", "checks": details, "warnings": warnings}
