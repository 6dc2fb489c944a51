"""Signed report download links die with the mini-program session that asked for them (issue
14, item 14): signing out, or the session's revocation or expiry, ends every link it was given."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from backend.extensions import db
from backend.types import utcnow
from miniprogram_api.auth import hash_token
from miniprogram_api.models import MpSession
from tests.wechat.helpers import API, department, person_record, verified_person


def _link(client, fake, n: int):
    dept = department()
    db.session.commit()
    person = verified_person(client, fake, "张明华", n)
    person_record(dept, person)
    db.session.commit()
    issued = client.post(f"{API}/reports", json={"kind": "personal"}, headers=person.headers)
    assert issued.status_code == 201, issued.json
    return person, issued.json["download_url"].removeprefix("http://credit.test")


def test_download_link_dies_when_the_citizen_signs_out(app, client, fake):
    person, link = _link(client, fake, 331)
    # Within its lifetime the link may be fetched again: wx.downloadFile retries a broken transfer.
    assert client.get(link).status_code == 200
    assert client.get(link).status_code == 200

    assert client.delete(f"{API}/session", headers=person.headers).status_code == 200
    replay = client.get(link)
    assert replay.status_code == 401
    assert replay.json["error"]["code"] == "download_link_invalid"


def test_download_link_dies_with_an_expired_session(app, client, fake):
    person, link = _link(client, fake, 332)
    session = db.session.scalar(sa.select(MpSession).where(MpSession.token_hash == hash_token(person.token)))
    session.expires_at = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    replay = client.get(link)
    assert replay.status_code == 401
    assert replay.json["error"]["code"] == "download_link_invalid"
