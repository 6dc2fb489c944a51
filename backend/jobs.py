"""`flask credit jobs`: the worker process (Procfile ``worker:``), or one pass from cron (``--once``).

Each pass: expire publicity periods, send deadline reminders, escalate overdue cases to the
platform admin, run the channels' own units (e.g. the WeChat report-expiry reminders), then
deliver the outbox (so what this pass queued goes out at once) and delete delivered events older
than OUTBOX_RETENTION_DAYS. Every unit of work commits on its own, so one failing case neither
blocks nor rolls back the others. The looping worker records each pass in ``worker_heartbeat``
(the liveness metric ``credit_worker_last_loop_timestamp_seconds``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import click
import sqlalchemy as sa
from flask import current_app

from .actors import Actor
from .audit.operations import record_event
from .extensions import db
from .issued_reports.jobs import HANDLERS as REPORT_HANDLERS
from .issued_reports.operations import expire_reports
from .outbox.topics import no_op_handlers
from .outbox.worker import (
    Handler,
    deliver_pending,
    forget_worker,
    purge_delivered,
    record_worker_loop,
    registered_handlers,
)
from .pii import redacted_traceback
from .records.operations import expire_records
from .types import local_date, utcnow
from .workdays.service import load_calendar
from .workflows.cases import DEADLINE_STATES, workflow_setting
from .workflows.deadlines import escalate_overdue, remind_deadline
from .workflows.objections.models import Objection
from .workflows.repairs.models import RepairApplication

log = logging.getLogger(__name__)
CASE_MODELS = (Objection, RepairApplication)


@dataclass
class JobsReport:
    expired: int = 0
    reports_expired: int = 0
    reminders: int = 0
    escalations: int = 0
    delivered: int = 0
    purged: int = 0
    failed_units: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"expired={self.expired} reports_expired={self.reports_expired} reminders={self.reminders} "
            f"escalations={self.escalations} delivered={self.delivered} purged={self.purged}"
        )
        return text + (f" failed={','.join(self.failed_units)}" if self.failed_units else "")


def registered_job_units() -> dict[str, Callable[[dt.date], int]]:
    """Periodic work of channel packages by unit name (the WeChat channel registers its report
    expiry reminders): each is called with today's date, flushes, and returns how many
    reminders it queued; the pass commits it as one unit."""
    return current_app.extensions.setdefault("job_units", {})


def worker_handlers() -> dict[str, Handler]:
    """The deliberate no-ops of ``outbox.topics``, the backend's own consumers, then whatever
    channel packages registered on the app (a channel's handler replaces a no-op)."""
    return {**no_op_handlers(), **REPORT_HANDLERS, **registered_handlers()}


def run_jobs_once(
    *,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    handlers: dict[str, Handler] | None = None,
    worker_id: str | None = None,
) -> JobsReport:
    today = today or local_date(now)
    actor = Actor.system("jobs")
    report = JobsReport()

    def unit(name: str, work):
        try:
            result = work()
            db.session.commit()
            return result
        except Exception as exc:
            db.session.rollback()
            log.error("job unit %s failed\n%s", name, redacted_traceback(exc))
            report.failed_units.append(name)
            return None

    def expire() -> int:
        count = expire_records(today)
        if count:
            record_event(actor, "records.expire", details={"count": count, "today": today})
        return count

    report.expired = unit("expire-records", expire) or 0

    def expire_issued_reports() -> int:
        count = expire_reports(today)
        if count:
            record_event(actor, "reports.expire", details={"count": count, "today": today})
        return count

    report.reports_expired = unit("expire-reports", expire_issued_reports) or 0

    calendar = load_calendar()
    for model in CASE_MODELS:
        ids = db.session.scalars(
            sa.select(model.id)
            .where(model.state.in_(DEADLINE_STATES), model.deadline.is_not(None))
            .order_by(model.deadline, model.id)
        ).all()
        for case_id in ids:
            name = f"{model.CASE_TYPE}:{case_id}"

            def check(case_id=case_id, model=model) -> str | None:
                case = db.session.get(model, case_id)
                if case is None:
                    return None
                if escalate_overdue(case, today, actor, now):
                    return "escalated"
                return "reminded" if remind_deadline(case, today, calendar) else None

            outcome = unit(name, check)
            report.escalations += outcome == "escalated"
            report.reminders += outcome == "reminded"

    for unit_name, work in sorted(registered_job_units().items()):
        report.reminders += unit(unit_name, lambda work=work: work(today)) or 0

    db.session.remove()
    delivery = deliver_pending(
        handlers if handlers is not None else worker_handlers(),
        limit=int(workflow_setting("OUTBOX_BATCH_SIZE")),
        worker_id=worker_id,
        lease_seconds=int(workflow_setting("OUTBOX_LEASE_SECONDS")),
        max_attempts=int(workflow_setting("OUTBOX_MAX_ATTEMPTS")),
        backoff_base_seconds=int(workflow_setting("OUTBOX_BACKOFF_BASE_SECONDS")),
        backoff_max_seconds=int(workflow_setting("OUTBOX_BACKOFF_MAX_SECONDS")),
    )
    report.delivered = len(delivery.delivered)
    retention = dt.timedelta(days=int(workflow_setting("OUTBOX_RETENTION_DAYS")))
    try:
        report.purged = purge_delivered((now or utcnow()) - retention)
    except Exception as exc:
        log.error("job unit outbox-purge failed\n%s", redacted_traceback(exc))
        report.failed_units.append("outbox-purge")
    return report


def default_worker_name() -> str:
    return socket.gethostname()[:80]


def register(group: click.Group) -> None:
    @group.command("jobs")
    @click.option("--once", is_flag=True, help="run one pass and exit (for cron)")
    @click.option("--interval", type=int, default=None, help="seconds between passes (default from config)")
    @click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="for tests and catch-up")
    @click.option(
        "--name",
        default=None,
        help="this worker's name in the liveness metric (default: the host name; give each worker of a host its own)",
    )
    def jobs_command(once: bool, interval: int | None, today: dt.datetime | None, name: str | None) -> None:
        """Deliver the outbox, send deadline reminders, escalate overdue cases, expire publicity."""
        day = today.date() if today else None
        if once:
            click.echo(run_jobs_once(today=day).summary())
            return
        pause = interval or int(workflow_setting("JOBS_INTERVAL_SECONDS"))
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        worker_name = (name or default_worker_name())[:100]
        worker_started = utcnow()
        click.echo(f"jobs worker {worker_name} started, every {pause}s")
        while not stopping:
            started = utcnow()
            report = run_jobs_once(today=day)
            if any((report.expired, report.reminders, report.escalations, report.delivered, report.purged)) or (
                report.failed_units
            ):
                click.echo(f"{started:%Y-%m-%d %H:%M:%S} {report.summary()}")
            heartbeat(worker_name, worker_started)
            deadline = time.monotonic() + pause
            while not stopping and time.monotonic() < deadline:
                time.sleep(min(1.0, pause))
        with contextlib.suppress(Exception):  # the database may be what is going away
            forget_worker(worker_name)
        click.echo("jobs worker stopped")


def heartbeat(worker_name: str, worker_started: dt.datetime) -> None:
    """Record a finished pass; a database that is down is logged, and the loop goes on (the
    metric then ages, which is what the liveness alert is for)."""
    try:
        record_worker_loop(worker_name, utcnow(), worker_started)
    except Exception as exc:
        log.error("worker heartbeat failed\n%s", redacted_traceback(exc))
