"""Who may get which report: a person can never obtain another person's report, by any path."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from backend.actors import Actor
from backend.audit.models import AuditEvent
from backend.errors import ApiError, Forbidden
from backend.extensions import db
from backend.issued_reports.content import ReportOptions
from backend.issued_reports.operations import issue_report, read_report_pdf, revoke_report
from backend.staff.models import StaffRole, StaffUser


def _staff(role: StaffRole, username: str, department_id: int | None = None) -> Actor:
    user = StaffUser(
        username=username, display_name=username, password_hash="x", role=role, department_id=department_id
    )
    db.session.add(user)
    db.session.flush()
    return Actor.staff(user)


def test_citizen_cannot_issue_another_persons_report(world):
    stranger = Actor.citizen(world.other_person.id, "mp")
    with pytest.raises(Forbidden):
        issue_report(stranger, world.person, "personal")
    with pytest.raises(Forbidden):
        issue_report(stranger, world.person, "special", ReportOptions(years=1))
    # Nor by claiming to represent a person (representation binds legal subjects only).
    with pytest.raises(Forbidden):
        issue_report(Actor.citizen(world.other_person.id, "mp", represents=[world.person.id]), world.person, "personal")
    # Anonymous and plain citizen actors without an identity are refused too.
    for actor in (Actor.public(), Actor("citizen", str(world.person.id), "citizen", "mp")):
        with pytest.raises(Forbidden):
            issue_report(actor, world.person, "personal")
    assert issue_report(Actor.citizen(world.person.id, "mp"), world.person, "personal").report.subject_id == (
        world.person.id
    )


def test_special_report_for_an_enterprise_needs_its_representative_or_the_counter(world):
    with pytest.raises(Forbidden):
        issue_report(Actor.public(), world.enterprise, "special")
    with pytest.raises(Forbidden):
        issue_report(Actor.citizen(world.person.id, "mp"), world.enterprise, "special")
    agent = Actor.citizen(world.person.id, "mp", represents=[world.enterprise.id])
    assert issue_report(agent, world.enterprise, "special").report.options["years"] == 3
    counter = _staff(StaffRole.PLATFORM_ADMIN, "counter")
    with pytest.raises(ApiError) as info:
        issue_report(counter, world.enterprise, "special")
    assert info.value.code == "identity_check_required"
    issued = issue_report(counter, world.enterprise, "special", identity_check="已核验法定代表人身份证原件")
    audit = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "report.issue", AuditEvent.target_id == str(issued.report.id))
    )
    assert audit.reason == "已核验法定代表人身份证原件" and audit.actor_type == "staff"


def test_counter_personal_report_requires_an_identity_check_and_other_roles_are_refused(world):
    counter = _staff(StaffRole.PLATFORM_ADMIN, "counter")
    with pytest.raises(ApiError):
        issue_report(counter, world.person, "personal", identity_check="   ")
    issued = issue_report(counter, world.person, "personal", identity_check="已核验本人身份证原件")
    assert issued.report.channel == "admin"
    for role, name in ((StaffRole.AUDITOR, "aud"), (StaffRole.DEPT_REVIEWER, "rev")):
        actor = _staff(role, name, world.dept.id if role is StaffRole.DEPT_REVIEWER else None)
        with pytest.raises(Forbidden):
            issue_report(actor, world.person, "personal", identity_check="已核验")


def test_kind_must_fit_the_subject_and_options_are_checked(world):
    with pytest.raises(ApiError, match="仅适用于法人"):
        issue_report(Actor.cli(), world.person, "enterprise")
    with pytest.raises(ApiError, match="仅适用于自然人"):
        issue_report(Actor.cli(), world.enterprise, "personal")
    with pytest.raises(ApiError) as info:
        issue_report(Actor.cli(), world.enterprise, "special", ReportOptions(years=6))
    assert info.value.code == "years_invalid"
    with pytest.raises(ApiError) as info:
        issue_report(Actor.cli(), world.enterprise, "special", ReportOptions(years=2, domains=("licence",)))
    assert info.value.code == "domains_invalid"
    with pytest.raises(ApiError):
        issue_report(Actor.cli(), world.enterprise, "annual")


def test_only_the_owner_and_the_counter_can_download_a_personal_report(world):
    issued = issue_report(Actor.citizen(world.person.id, "mp"), world.person, "personal")
    report = issued.report
    for actor in (
        Actor.citizen(world.other_person.id, "mp"),
        Actor.citizen(world.other_person.id, "kiosk", represents=[world.enterprise.id]),
        Actor.public(),
        _staff(StaffRole.AUDITOR, "aud"),
        _staff(StaffRole.DEPT_REVIEWER, "rev", world.dept.id),
    ):
        with pytest.raises(Forbidden):
            read_report_pdf(actor, report)
    assert read_report_pdf(Actor.citizen(world.person.id, "mp"), report) == issued.pdf
    assert read_report_pdf(_staff(StaffRole.PLATFORM_ADMIN, "counter"), report, reason="窗口打印") == issued.pdf
    downloads = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "report.download")).all()
    assert len(downloads) == 2 and {d.subject_id for d in downloads} == {world.person.id}


def test_enterprise_report_file_goes_to_its_representative_not_to_anyone_with_the_number(world):
    issued = issue_report(Actor.public(), world.enterprise, "enterprise")
    with pytest.raises(Forbidden):
        read_report_pdf(Actor.public(), issued.report)
    agent = Actor.citizen(world.person.id, "mp", represents=[world.enterprise.id])
    assert read_report_pdf(agent, issued.report) == issued.pdf


def test_stored_file_altered_is_never_handed_out(world, report_env):
    issued = issue_report(Actor.public(), world.enterprise, "enterprise")
    path = report_env.root / issued.report.pdf_key
    path.write_bytes(issued.pdf + b"%tampered")
    with pytest.raises(ApiError) as info:
        read_report_pdf(Actor.cli(), issued.report)
    assert info.value.code == "report_file_changed"


def test_revoking_needs_counter_staff_and_a_reason_and_happens_once(world):
    issued = issue_report(Actor.public(), world.enterprise, "enterprise")
    with pytest.raises(Forbidden):
        revoke_report(_staff(StaffRole.AUDITOR, "aud"), issued.report, "理由")
    with pytest.raises(Forbidden):
        revoke_report(Actor.citizen(world.person.id, "mp", represents=[world.enterprise.id]), issued.report, "理由")
    counter = _staff(StaffRole.PLATFORM_ADMIN, "counter")
    with pytest.raises(ApiError):
        revoke_report(counter, issued.report, "  ")
    revoke_report(counter, issued.report, "出具时主体名称有误")
    with pytest.raises(ApiError) as info:
        revoke_report(counter, issued.report, "再次撤销")
    assert info.value.status == 409
