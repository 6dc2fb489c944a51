"""Kiosk sign-in confirmed in the mini-program: random, two minutes, single use, verified only."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.citizens.models import KioskLoginTicket
from backend.citizens.tickets import consume_kiosk_login, create_kiosk_login_ticket
from backend.errors import ApiError
from backend.extensions import db
from backend.types import utcnow
from tests.wechat.helpers import API, auth, login, verified_person


def test_confirm_then_the_kiosk_takes_it_once(client, fake):
    person = verified_person(client, fake, "张明华", 601)
    ticket, row = create_kiosk_login_ticket("kiosk-01")
    db.session.commit()
    assert len(ticket) >= 32 and ticket not in row.ticket_hash
    assert (row.expires_at - row.created_at) == dt.timedelta(seconds=120)
    assert consume_kiosk_login(ticket, "kiosk-01") is None  # not confirmed yet
    confirmed = client.post(f"{API}/kiosk-login/{ticket}/confirm", headers=person.headers)
    assert confirmed.status_code == 200 and confirmed.json["confirmed"] is True
    again = client.post(f"{API}/kiosk-login/{ticket}/confirm", headers=person.headers)
    assert again.status_code == 409
    with pytest.raises(ApiError):
        consume_kiosk_login(ticket, "kiosk-02")  # only on the device that showed it
    assert consume_kiosk_login(ticket, "kiosk-01") == person.subject.id
    with pytest.raises(ApiError) as info:
        consume_kiosk_login(ticket, "kiosk-01")
    assert info.value.code == "ticket_used"


def test_expired_unknown_and_unverified(client, fake):
    person = verified_person(client, fake, "张明华", 602)
    ticket, row = create_kiosk_login_ticket("kiosk-01")
    row.expires_at = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    expired = client.post(f"{API}/kiosk-login/{ticket}/confirm", headers=person.headers)
    assert expired.status_code == 404 and expired.json["error"]["code"] == "ticket_invalid"
    assert client.post(f"{API}/kiosk-login/nonsense/confirm", headers=person.headers).status_code == 404
    fresh, _ = create_kiosk_login_ticket("kiosk-01")
    db.session.commit()
    unverified = login(client, fake, "o-unverified")
    response = client.post(f"{API}/kiosk-login/{fresh}/confirm", headers=auth(unverified))
    assert response.status_code == 403 and response.json["error"]["code"] == "identity_required"
    assert db.session.get(KioskLoginTicket, _.id).confirmed_at is None
