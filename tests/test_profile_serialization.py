"""The public profile is written out by hand (``public_profile_dict``) for speed; it must stay
exactly what the documented ``PublicProfileSchema`` gives, for every kind of field."""

from __future__ import annotations

import datetime as dt
import decimal

import sqlalchemy as sa

from backend.extensions import db
from backend.records.models import CreditRecord, PenaltyTier, RecordCategory, RecordStatus
from backend.subjects.queries import get_public_profile
from backend.subjects.schemas import PublicProfileSchema, public_profile_dict
from backend.types import local_date
from tests.factories import make_department, make_uscc, record_input, write_records


def _ago(days: int) -> dt.date:
    return local_date() - dt.timedelta(days=days)


def test_hand_written_profile_equals_the_schema_dump(app, client):
    dept = make_department()
    uscc = make_uscc(4401)
    common = {"uscc": uscc, "subject_name": "金昌市序列化测试有限公司"}
    write_records(
        record_input(
            dept, **common, fine_amount=decimal.Decimal("1234.5"), decision_date=_ago(20), received_date=_ago(19)
        ),
        record_input(dept, **common, fine_amount=decimal.Decimal("0"), decision_date=_ago(10), received_date=_ago(9)),
        record_input(
            dept,
            **common,
            tier=PenaltyTier.SERIOUS,
            facts=None,
            legal_basis="<script>alert(1)</script> & “引号”",
            decision_date=_ago(30),
            received_date=_ago(29),
        ),
        record_input(
            dept,
            **common,
            category=RecordCategory.LICENCE,
            tier=None,
            title="食品经营许可",
            penalty_category=None,
            penalty_content=None,
            valid_until=_ago(-400),
            decision_date=_ago(40),
            received_date=_ago(39),
        ),
        record_input(
            dept, **common, category=RecordCategory.ENFORCEMENT, tier=None, decision_date=_ago(5), received_date=_ago(4)
        ),
    )
    objected = db.session.scalar(
        sa.select(CreditRecord).where(CreditRecord.fine_amount == decimal.Decimal("0")).limit(1)
    )
    objected.status = RecordStatus.UNDER_OBJECTION
    db.session.commit()

    profile = get_public_profile(uscc, local_date())
    assert profile is not None and profile.total_records == 5
    expected = PublicProfileSchema().dump(profile)
    assert public_profile_dict(profile) == expected
    # What the API sends is that dictionary.
    assert client.get(f"/api/v1/subjects/{uscc}").get_json() == expected
    marks = [r["objection_mark"] for group in expected["categories"] for r in group["records"]]
    assert marks.count("异议处理中") == 1
    fines = sorted(r["fine_amount"] or "" for group in expected["categories"] for r in group["records"])
    assert "1234.50" in fines and "0.00" in fines
