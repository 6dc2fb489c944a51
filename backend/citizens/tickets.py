"""Kiosk sign-in by scan (扫码登录): the kiosk shows a one-time ticket as a QR code, a verified
person confirms it in the mini-program, the kiosk takes the sign-in once. Random, stored hashed,
short-lived (MP_KIOSK_TICKET_SECONDS), single use, good only on the device that showed it.
Flush, never commit."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa
from flask import current_app

from backend.actors import Actor
from backend.audit.operations import record_event
from backend.errors import Conflict, NotFound
from backend.extensions import db
from backend.types import utcnow

from . import messages as msg
from .identity import identity_of
from .models import KioskLoginTicket, WeChatUser


def _ticket_hash(ticket: str) -> str:
    return hashlib.sha256(("kiosk-login\x00" + (ticket or "")).encode()).hexdigest()


def create_kiosk_login_ticket(device_ref: str, *, now: dt.datetime | None = None) -> tuple[str, KioskLoginTicket]:
    """For the kiosk side: a new ticket to show as a QR code (the clear ticket is returned once)."""
    now = now or utcnow()
    ticket = secrets.token_urlsafe(24)
    seconds = int(current_app.extensions["settings"].MP_KIOSK_TICKET_SECONDS)
    row = KioskLoginTicket(
        ticket_hash=_ticket_hash(ticket),
        device_ref=device_ref[:64],
        created_at=now,
        expires_at=now + dt.timedelta(seconds=seconds),
    )
    db.session.add(row)
    db.session.flush()
    return ticket, row


def _live_ticket(ticket: str, now: dt.datetime) -> KioskLoginTicket:
    row = db.session.scalar(
        sa.select(KioskLoginTicket).where(KioskLoginTicket.ticket_hash == _ticket_hash(ticket)).with_for_update()
    )
    if row is None or row.expires_at <= now:
        raise NotFound(msg.TICKET_INVALID, code="ticket_invalid")
    return row


def confirm_kiosk_login(
    actor: Actor, user: WeChatUser, ticket: str, *, now: dt.datetime | None = None
) -> KioskLoginTicket:
    """The verified person confirms the sign-in shown on the kiosk (once, before it expires)."""
    now = now or utcnow()
    ident = identity_of(actor)
    row = _live_ticket(ticket, now)
    # Compare-and-set: of two confirmations of one ticket exactly one passes.
    claimed = db.session.execute(
        sa.update(KioskLoginTicket)
        .where(KioskLoginTicket.id == row.id, KioskLoginTicket.confirmed_at.is_(None))
        .values(confirmed_at=now, confirmed_by_user_id=user.id, subject_id=ident.subject_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise Conflict(msg.TICKET_USED, code="ticket_used")
    db.session.refresh(row)
    record_event(
        actor,
        "mp.kiosk_login.confirm",
        target=row,
        subject_id=ident.subject_id,
        details={"device": row.device_ref},
    )
    return row


def consume_kiosk_login(ticket: str, device_ref: str, *, now: dt.datetime | None = None) -> int | None:
    """For the kiosk side's polling: the confirmed person's subject id, once; None while not
    confirmed yet. A ticket is only good on the device that showed it."""
    now = now or utcnow()
    row = _live_ticket(ticket, now)
    if row.device_ref != device_ref:
        raise NotFound(msg.TICKET_INVALID, code="ticket_invalid")
    if row.consumed_at is not None:
        raise Conflict(msg.TICKET_USED, code="ticket_used")
    if row.confirmed_at is None:
        return None
    taken = db.session.execute(
        sa.update(KioskLoginTicket)
        .where(KioskLoginTicket.id == row.id, KioskLoginTicket.consumed_at.is_(None))
        .values(consumed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        raise Conflict(msg.TICKET_USED, code="ticket_used")
    return row.subject_id
