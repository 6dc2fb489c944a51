"""The suite's clock (``clock`` fixture): the same answer at any hour, midnight in Jinchang included."""

from __future__ import annotations

import datetime as dt

from backend.extensions import db
from backend.types import local_date, utcnow
from tests.factories import make_department, make_uscc, record_input, write_records

# 15:59:59 UTC is 23:59:59 in Jinchang: the last second of a day there.
LAST_SECOND = dt.datetime(2026, 12, 3, 15, 59, 59)


def test_the_code_reads_the_tests_clock(clock):
    clock.set(LAST_SECOND)
    assert utcnow() == LAST_SECOND
    assert local_date() == clock.today == dt.date(2026, 12, 3)
    clock.advance(seconds=1)
    assert local_date() == clock.today == dt.date(2026, 12, 4)


def test_a_request_across_midnight_sees_the_tests_day(app, client, clock):
    """The failure the fixture prevents: the day was taken when the module was imported, and the
    server's day had turned by the time the request ran."""
    clock.set(LAST_SECOND)
    uscc = make_uscc(9701)
    day = clock.today - dt.timedelta(days=3)
    write_records(record_input(make_department(), uscc=uscc, decision_date=day, received_date=day))
    db.session.commit()  # the public read has a connection of its own
    response = client.get(f"/api/v1/subjects/{uscc}")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["as_of"] == "2026-12-03"
    clock.advance(seconds=1)
    assert client.get(f"/api/v1/subjects/{uscc}").get_json()["as_of"] == "2026-12-04"
