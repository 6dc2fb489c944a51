"""The kiosk channel's gauges on /metrics (printer faults, kiosks offline), read from its own
table at scrape time on their own connections. Registered with backend.metrics when the app
factory registers the kiosk channel (backend/app.py), so the core never imports the kiosk."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

import sqlalchemy as sa
from flask import current_app
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.exc import SQLAlchemyError

from backend.extensions import db
from backend.metrics import register_database_gauges
from backend.types import utcnow

from .models import KioskDevice

log = logging.getLogger(__name__)

# Printer states that need someone in the hall (models.PrinterState values).
PRINTER_FAULTS = ("paper_out", "jammed", "offline")


def kiosk_printers() -> Iterator[GaugeMetricFamily]:
    try:
        with db.engine.connect() as conn:
            counts = dict(
                conn.execute(
                    sa.select(KioskDevice.printer_state, sa.func.count())
                    .where(KioskDevice.enabled.is_(True))
                    .group_by(KioskDevice.printer_state)
                ).all()
            )
    except SQLAlchemyError:
        log.warning("metrics: kiosk printer query failed", exc_info=True)
        return
    gauge = GaugeMetricFamily(
        "credit_kiosk_printer_faults",
        "Enabled kiosks whose printer needs attention, by printer state.",
        labels=["state"],
    )
    values = {getattr(state, "value", state): count for state, count in counts.items()}
    for state in PRINTER_FAULTS:
        gauge.add_metric([state], values.get(state, 0))
    yield gauge


def kiosks_offline() -> Iterator[GaugeMetricFamily]:
    """Enabled kiosks whose agent has sent a heartbeat but none for KIOSK_OFFLINE_AFTER_SECONDS
    (the fleet page's 离线); a kiosk never connected yet is not counted."""
    limit = utcnow() - dt.timedelta(seconds=int(current_app.extensions["settings"].KIOSK_OFFLINE_AFTER_SECONDS))
    try:
        with db.engine.connect() as conn:
            count = conn.scalar(
                sa.select(sa.func.count()).where(
                    KioskDevice.enabled.is_(True),
                    KioskDevice.last_heartbeat_at.is_not(None),
                    KioskDevice.last_heartbeat_at < limit,
                )
            )
    except SQLAlchemyError:
        log.warning("metrics: kiosk heartbeat query failed", exc_info=True)
        return
    yield GaugeMetricFamily(
        "credit_kiosks_offline",
        "Enabled kiosks that stopped sending heartbeats (none for KIOSK_OFFLINE_AFTER_SECONDS).",
        count or 0,
    )


def register() -> None:
    register_database_gauges(kiosk_printers)
    register_database_gauges(kiosks_offline)
