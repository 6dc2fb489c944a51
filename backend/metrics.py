"""Prometheus metrics at ``/metrics``: request latency by endpoint and status, rate-limit hits
(and requests limited in memory while Redis is down), outbox depth and lag, jobs worker liveness,
and the gauges channels register (kiosk printer faults and kiosks offline: kiosk/metrics.py).

Request metrics are counted in each process. Under gunicorn (several worker processes) set
``PROMETHEUS_MULTIPROC_DIR`` to an empty folder before the processes start: prometheus_client then
keeps the values in files there and ``/metrics`` adds up every worker's (deploy/gunicorn.conf.py
clears the folder at start and marks dead workers). The outbox, worker and kiosk gauges are read
from the database at scrape time, so any process answers them correctly.

Access: a scraper whose address is in ``METRICS_ALLOWED_NETWORKS`` (default: loopback), or one
that sends ``Authorization: Bearer <METRICS_TOKEN>``. Everyone else gets 404, the same answer as
for a path that does not exist, so the endpoint is not advertised.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterator

import sqlalchemy as sa
from apiflask import APIBlueprint
from flask import Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db, limiter, rate_limit_fallback_in_use
from .outbox.models import OutboxEvent, OutboxStatus, WorkerHeartbeat
from .types import utcnow

log = logging.getLogger(__name__)
# Not in the OpenAPI document: an operations endpoint, not an API for integrators.
bp = APIBlueprint("metrics", __name__, enable_openapi=False)

# Buckets around the latency targets (p99 50 ms for profile/verification, 100 ms for search)
# and report issuing (render + sign, several hundred ms).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Not registered anywhere at import: each scrape builds its registry (see ``_registry``).
REQUEST_LATENCY = Histogram(
    "credit_http_request_duration_seconds",
    "Time from the start of request handling to the response, by Flask endpoint, method and status.",
    ["endpoint", "method", "status"],
    buckets=LATENCY_BUCKETS,
    registry=None,
)
RATE_LIMIT_HITS = Counter(
    "credit_ratelimit_hits_total",
    "Requests refused with 429 by a rate limit, by Flask endpoint.",
    ["endpoint"],
    registry=None,
)
RATE_LIMIT_FALLBACK = Counter(
    "credit_ratelimit_fallback_requests_total",
    "Requests rate-limited with in-process counters because the shared store (Redis) was unreachable.",
    registry=None,
)
WECHAT_CONFIG_ERRORS = Counter(
    "credit_wechat_config_errors_total",
    "WeChat answers only an operator can fix (48001 API not authorised, 40125 wrong secret ...), by errcode "
    "(0: AppID or secret not set here); miniprogram_api/alerts.py.",
    ["errcode"],
    registry=None,
)
WECHAT_FORCE_REFRESH_REFUSED = Counter(
    "credit_wechat_force_refresh_refused_total",
    "WeChat calls failed because stable_token kept returning a refused token and the day's "
    "force_refresh budget (20 a day, 30 s apart) was spent: an operator must check the AppSecret.",
    ["appid"],
    registry=None,
)
# Gauges other packages read from their own tables at scrape time (the kiosk channel's printer
# faults and kiosks offline: kiosk/metrics.py). They register here, so the core imports no
# channel (issue 15); each handles its own query errors.
DatabaseGauges = Callable[[], Iterator[GaugeMetricFamily]]
_DATABASE_GAUGES: dict[str, DatabaseGauges] = {}


def register_database_gauges(gauges: DatabaseGauges) -> DatabaseGauges:
    """Add a source of gauges to every scrape (by qualified name: registering again replaces)."""
    _DATABASE_GAUGES[f"{gauges.__module__}.{gauges.__qualname__}"] = gauges
    return gauges


def init_metrics(app: Flask) -> None:
    """Time every request and serve /metrics. The timer runs before any other before_request
    hook, so requests refused early (rate limit, auth) are measured too."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    app.after_request(_observe)
    app.register_blueprint(bp)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is None or request.endpoint == "metrics.metrics":
        return response
    endpoint = request.endpoint or "none"  # "none": no route matched (404), bounded cardinality
    REQUEST_LATENCY.labels(endpoint, request.method, str(response.status_code)).observe(time.perf_counter() - started)
    if response.status_code == 429:
        RATE_LIMIT_HITS.labels(endpoint).inc()
    if rate_limit_fallback_in_use():
        RATE_LIMIT_FALLBACK.inc()
    return response


def _allowed() -> bool:
    settings = current_app.extensions["settings"]
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in settings.METRICS_ALLOWED_NETWORKS)


@bp.get("/metrics")
@limiter.exempt
def metrics() -> Response:
    if not _allowed():
        abort(404)
    body = generate_latest(_registry())
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        for collector in (
            REQUEST_LATENCY,
            RATE_LIMIT_HITS,
            RATE_LIMIT_FALLBACK,
            WECHAT_CONFIG_ERRORS,
            WECHAT_FORCE_REFRESH_REFUSED,
            PROCESS_COLLECTOR,
            PLATFORM_COLLECTOR,
            GC_COLLECTOR,
        ):
            registry.register(collector)
    registry.register(DatabaseCollector())
    return registry


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time, on their own connections (never the
    request's session): a failing query reports ``credit_metrics_database_up 0`` instead of
    failing the scrape."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = 1
        try:
            yield from self._outbox()
        except SQLAlchemyError:
            log.warning("metrics: outbox query failed", exc_info=True)
            up = 0
        try:
            yield from self._workers()
        except SQLAlchemyError:
            log.warning("metrics: worker heartbeat query failed", exc_info=True)
            up = 0
        for gauges in _DATABASE_GAUGES.values():
            yield from gauges()
        yield GaugeMetricFamily("credit_metrics_database_up", "1 if the database answered the metrics queries.", up)

    def _outbox(self) -> Iterator[GaugeMetricFamily]:
        with db.engine.connect() as conn:
            rows = conn.execute(
                sa.select(OutboxEvent.status, sa.func.count(), sa.func.min(OutboxEvent.created_at)).group_by(
                    OutboxEvent.status
                )
            ).all()
            due = conn.scalar(
                sa.select(sa.func.count()).where(
                    OutboxEvent.status == OutboxStatus.PENDING, OutboxEvent.available_at <= utcnow()
                )
            )
        by_status = {status: (count, oldest) for status, count, oldest in rows}
        depth = GaugeMetricFamily("credit_outbox_events", "Outbox events by status.", labels=["status"])
        for status in OutboxStatus:
            if status is not OutboxStatus.DELIVERED:  # grows forever; not a queue
                depth.add_metric([status.value], by_status.get(status, (0, None))[0])
        yield depth
        yield GaugeMetricFamily(
            "credit_outbox_due_events", "Pending outbox events whose retry time has come (work waiting now).", due or 0
        )
        oldest = by_status.get(OutboxStatus.PENDING, (0, None))[1]
        lag = max(0.0, (utcnow() - oldest).total_seconds()) if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "credit_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending outbox event (0 when none): the delivery lag.",
            lag,
        )

    def _workers(self) -> Iterator[GaugeMetricFamily]:
        """The last finished pass of each jobs worker (``worker_heartbeat``, any host)."""
        with db.engine.connect() as conn:
            rows = conn.execute(
                sa.select(WorkerHeartbeat.name, WorkerHeartbeat.last_loop_at).order_by(WorkerHeartbeat.name)
            ).all()
        gauge = GaugeMetricFamily(
            "credit_worker_last_loop_timestamp_seconds",
            "Unix time of the last finished pass of each jobs worker (flask credit jobs --name).",
            labels=["worker"],
        )
        for name, last in rows:
            gauge.add_metric([name], last.replace(tzinfo=dt.UTC).timestamp())
        yield gauge
