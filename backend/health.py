"""Load-balancer probes: /healthz (process alive) and /readyz (ready to serve).

/readyz answers 503 when the service cannot do its work (the database is unreachable, the
report signing material cannot be read or does not match, files cannot be stored), and 200 with
a warning when it works in a degraded way (no read replica, Redis down: see the check functions).
"""

from __future__ import annotations

import logging
import threading
import time

import sqlalchemy as sa
from apiflask import APIBlueprint
from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from .extensions import close_read_session, db, has_replica, limiter, rate_limit_fallback_in_use, read_session
from .issued_reports.keys import signing_material_problem
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
@bp.doc(
    summary="就绪检查（数据库、报告签章材料、文件存储）",
    responses={200: "可以接收请求", 503: "数据库、签章材料或文件存储不可用"},
)
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
    signing, problem = check_signing()
    if signing is not None:
        details["signing"] = signing
    if problem is not None:
        return {"status": "unavailable", "checks": details, "warnings": [problem]}, 503, {"Retry-After": "30"}
    redis_status, redis_warning = check_redis()
    if redis_status is not None:
        details["redis"] = redis_status
    if redis_warning:
        warnings.append(redis_warning)
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


def check_signing() -> tuple[str | None, str | None]:
    """The configured report signing files (keys.check_signing_material): ("ok" | "unavailable",
    problem). A problem is a 503, because every report this process issues would fail. Generated
    development keys (nothing configured outside production) are not read here and not reported
    (None, None), so the probe stays instant."""
    settings = current_app.extensions["settings"]
    if not settings.is_production and not (settings.REPORT_SIGNING_KEYS or settings.REPORT_PDF_KEY_PATH):
        return None, None
    problem = signing_material_problem(settings)
    if problem:
        log.error("readiness check: report signing material unusable: %s", problem)
        return "unavailable", "报告签章材料不可用：" + problem
    return "ok", None


REDIS_CLIENT_KEY = "readyz_redis"


def check_redis() -> tuple[str | None, str | None]:
    """Redis (REDIS_URL): ("ok" | "unavailable", warning) or (None, None) when none is
    configured. Down is degraded, not unready: rate limits fall back to each process's memory
    and the WeChat token store and nonces to the database, so the service still answers."""
    url = current_app.extensions["settings"].REDIS_URL
    if not url:
        return None, None
    client = current_app.extensions.get(REDIS_CLIENT_KEY)
    if client is None:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        current_app.extensions[REDIS_CLIENT_KEY] = client
    try:
        client.ping()
    except Exception as exc:  # redis raises its own errors and OSErrors alike
        log.warning("readiness check: Redis unavailable (%s)", type(exc).__name__)
        return "unavailable", "Redis 不可用：限流暂由各进程分别计数，微信 access_token 暂存数据库"
    if rate_limit_fallback_in_use():
        # Redis answers the probe, but this process has not yet switched its limits back.
        return "ok", "Redis 已恢复，本进程的限流仍在进程内计数，稍后自动切回"
    return "ok", None
