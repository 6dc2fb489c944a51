"""A file uploaded for verification costs a bounded amount of work, whatever it holds (issue 14
item 2): the registered-file look-up by hash, then at most one statement for the few report
numbers the file claims, found in one linear pass."""

from __future__ import annotations

from backend.actors import Actor
from backend.extensions import db
from backend.issued_reports.operations import issue_report
from backend.issued_reports.verification import MAX_CLAIMED_NUMBERS, claimed_numbers

from .helpers import StatementCounter, file_upload

# The review's reproduction: 150,000 distinct report-number-shaped lines, 3.75 MB.
ADVERSARIAL_COUNT = 150_000


def _numbers(count: int) -> list[bytes]:
    return [f"JCXY-20260101-{i:010d}".encode() for i in range(count)]


def test_adversarial_file_runs_a_bounded_number_of_statements(world, client, monkeypatch):
    issued = issue_report(Actor.public(), world.enterprise, "enterprise")
    db.session.commit()
    # A registered number at the very end: before the fix it was found after 150,000 look-ups.
    data = b"\n".join([*_numbers(ADVERSARIAL_COUNT - 1), issued.report.number.encode()])
    assert len(data) == 25 * ADVERSARIAL_COUNT - 1  # 3.75 MB
    with StatementCounter(monkeypatch) as counter:
        response = client.post("/api/v1/verify", **file_upload(data, "numbers.txt"))
    assert response.status_code == 200
    answer = response.get_json()
    # Its only registered number comes after 8 others: not looked up, so the file claims nothing.
    assert answer["genuine"] is False and answer["code"] == "file_unreadable" and answer["claimed"] is None
    assert counter.count <= 2, counter.statements  # the hash look-up and one IN list


def test_a_changed_file_still_names_the_number_it_claims(world, client, monkeypatch):
    issued = issue_report(Actor.public(), world.enterprise, "enterprise")
    db.session.commit()
    number = issued.report.number.encode()
    # A few other numbers first (fewer than the bound), and the claimed one repeated many times.
    data = b"\n".join([*_numbers(MAX_CLAIMED_NUMBERS - 1), *[number] * 50_000])
    with StatementCounter(monkeypatch) as counter:
        answer = client.post("/api/v1/verify", **file_upload(data, "r.txt")).get_json()
    assert answer["code"] == "file_changed" and answer["claimed"]["number"] == issued.report.number
    assert counter.count <= 2, counter.statements


def test_candidates_are_the_first_distinct_numbers_in_file_order():
    data = b"x JCXY-20260101-0000000001 JCXY-20260101-0000000001 y\n" + b"\n".join(_numbers(100))
    found = claimed_numbers(data)
    assert len(found) == MAX_CLAIMED_NUMBERS
    assert found[0] == "JCXY-20260101-0000000001" and len(set(found)) == len(found)
    assert found[1:] == [f"JCXY-20260101-{i:010d}" for i in (0, 2, 3, 4, 5, 6, 7)]
    # Number-shaped text glued to other word characters is not a number.
    assert claimed_numbers(b"AJCXY-20260101-00000000012 JCXY-20260101-000000000") == []
    assert claimed_numbers(b"") == []
