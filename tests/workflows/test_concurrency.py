"""Two reviewers deciding the same case at the same moment, with real concurrent sessions."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from backend.actors import Actor
from backend.errors import Conflict
from backend.extensions import db
from backend.staff.models import StaffUser
from backend.workflows.objections.models import Objection, ObjectionGround, ObjectionHistory, ObjectionOutcome
from backend.workflows.objections.operations import accept_objection, decide_objection, file_objection


def test_two_reviewers_at_once_exactly_one_decision(app, world):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises the whole database)")
    record = world.record()
    objection = file_objection(
        world.citizen, record, world.applicant, ground=ObjectionGround.INACCURATE, statement="有误",
        commitment=world.objection_commitment(record), material_ids=[world.material().id],
    )  # fmt: skip
    accept_objection(world.actor(world.admin), objection)
    db.session.commit()
    case_id = objection.id
    reviewers = {"reviewer_a": world.reviewer.id, "reviewer_a2": world.reviewer2.id}
    outcomes = {"reviewer_a": ObjectionOutcome.CONFIRMED, "reviewer_a2": ObjectionOutcome.DELETED}
    loaded = threading.Barrier(2, timeout=30)
    results: dict[str, object] = {}

    def review(name: str) -> None:
        with app.app_context():  # each thread: its own app context, session and connection
            try:
                case = db.session.get(Objection, case_id)
                actor = Actor.staff(db.session.get(StaffUser, reviewers[name]))
                db.session.commit()  # end the read transaction: both hold the same version now
                loaded.wait()
                decide_objection(actor, case, outcomes[name], f"{name} 的决定")
                db.session.commit()
                results[name] = "decided"
            except Conflict as exc:
                db.session.rollback()
                results[name] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=review, args=(name,)) for name in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(type(r).__name__ for r in results.values()) == ["Conflict", "str"]
    winner = next(name for name, r in results.items() if r == "decided")
    loser = next(r for r in results.values() if isinstance(r, Conflict))
    assert loser.code == "already_handled"
    assert loser.message.startswith(f"该申请已由{winner}于")
    db.session.remove()
    decided = db.session.scalars(
        sa.select(ObjectionHistory).where(ObjectionHistory.case_id == case_id, ObjectionHistory.action == "decide")
    ).all()
    assert [h.actor_label for h in decided] == [winner]
    case = db.session.get(Objection, case_id)
    assert case.outcome is outcomes[winner]
    assert case.decided_by_label == winner
