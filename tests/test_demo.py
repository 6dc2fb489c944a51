"""`flask credit demo-data` / `demo-accounts`: valid, varied, deterministic, refused in production."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import pytest
import sqlalchemy as sa
from test_config import report_key_env

from backend.app import create_app, init_migrations
from backend.demo import DEMO_ACCOUNTS, DEPARTMENTS
from backend.departments.models import Department
from backend.extensions import db
from backend.identifiers import validate_id_number, validate_uscc
from backend.records.models import CreditRecord, LicenceStatus, PenaltyTier, RecordCategory, RecordStatus
from backend.staff.models import StaffRole, StaffUser
from backend.subjects.models import Subject, SubjectKind
from tests.conftest import TEST_PII_KEY

ANCHOR = "2026-03-16"
DEMO_ARGS = ["credit", "demo-data", "--enterprises", "30", "--seed", "7", "--today", ANCHOR, "--quiet"]


def _run_demo(runner, *extra):
    result = runner.invoke(args=[*DEMO_ARGS, *extra])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def _digest() -> str:
    """A digest of every generated row, independent of ids and wall-clock timestamps."""
    rows: list[str] = []
    for d in db.session.scalars(sa.select(Department)):
        rows.append(f"D|{d.code}|{d.name}|{d.uscc}|{d.abbreviation}")
    for s in db.session.scalars(sa.select(Subject)):
        rows.append(
            f"S|{s.kind.value}|{s.uscc}|{s.name}|{s.legal_representative}|{s.area_code}|{s.address}"
            f"|{s.established_on}|{s.registration_authority}|{s.id_number_hash}"
        )
    columns = [
        c for c in CreditRecord.__table__.columns if c.name not in {"id", "subject_id", "created_at", "updated_at"}
    ]
    subject = sa.func.coalesce(Subject.uscc, Subject.id_number_hash)
    for row in db.session.execute(sa.select(subject, *columns).join(Subject, Subject.id == CreditRecord.subject_id)):
        rows.append("R|" + "|".join(str(v) for v in row))
    for u in db.session.scalars(sa.select(StaffUser)):
        rows.append(f"U|{u.username}|{u.role.value}|{u.department.code if u.department else ''}")
    return hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest()


def test_demo_data_is_valid_and_varied(app, runner):
    result = _run_demo(runner)
    assert "30 enterprises" in result.output

    departments = db.session.scalars(sa.select(Department)).all()
    assert {d.name for d in departments} == {spec.name for spec in DEPARTMENTS}
    assert {"市市场监管局", "市税务局", "市生态环境局", "市中级人民法院"} <= {d.name for d in departments}
    for department in departments:
        code = validate_uscc(department.uscc).code
        assert code[:2] == "11" and code[2:8] in {"620300", "620302", "620321"}

    legal = db.session.scalars(sa.select(Subject).where(Subject.kind == SubjectKind.LEGAL)).all()
    assert len(legal) == 30
    for subject in legal:
        code = validate_uscc(subject.uscc).code
        assert code[:2] in {"91", "92", "93"} and code[2:8] in {"620300", "620302", "620321"}
        assert subject.area_code == code[2:8]
        assert subject.address and subject.address.startswith("甘肃省金昌市")
        assert subject.established_on is not None and subject.registration_authority
    assert len({s.name for s in legal}) == 30
    assert any("金川" in s.name for s in legal)

    natural = db.session.scalars(sa.select(Subject).where(Subject.kind == SubjectKind.NATURAL)).all()
    assert natural
    for person in natural:
        number = validate_id_number(person.reveal_id_number())
        assert number[:6] in {"620302", "620321"}
        assert person.name is None  # only the encrypted name is stored

    records = db.session.scalars(sa.select(CreditRecord)).all()
    categories = {r.category for r in records}
    assert {
        RecordCategory.REGISTRATION,
        RecordCategory.LICENCE,
        RecordCategory.PENALTY,
        RecordCategory.RED_LIST,
        RecordCategory.DISHONEST_LIST,
        RecordCategory.ABNORMAL_OPERATION,
        RecordCategory.COURT_DEFAULTER,
    } <= categories
    assert {r.tier for r in records if r.category is RecordCategory.PENALTY} == set(PenaltyTier)
    assert any(r.status is RecordStatus.EXPIRED for r in records)
    assert any(r.status is RecordStatus.PUBLIC for r in records)
    assert any(not r.is_timely for r in records)
    assert any(r.is_timely for r in records)
    anchor = dt.date.fromisoformat(ANCHOR)
    assert all(r.decision_date <= r.received_date <= anchor for r in records)

    by_dept = {d.id: d for d in departments}
    for record in records:
        if record.category is RecordCategory.PENALTY:
            abbreviation = by_dept[record.department_id].abbreviation
            assert record.decision_number.startswith(f"{abbreviation}〔{record.decision_date.year}〕")
            assert record.violation_type and record.legal_basis and record.penalty_content
        if record.category is RecordCategory.COURT_DEFAULTER:
            assert "执" in record.decision_number and record.decision_number.startswith("（")
        if record.category in (RecordCategory.PENALTY, RecordCategory.LICENCE):
            # The national template fields (issue 16): every decision names its authority.
            assert record.authority_name and validate_uscc(record.authority_uscc).code[:2] == "11"
        if record.category is RecordCategory.LICENCE:
            assert record.licence_status is not None and record.licence_number and record.valid_from
    authorities = {r.authority_name for r in records if r.authority_name}
    assert authorities & {"金昌市金川区市场监督管理局", "永昌县市场监督管理局"}  # county level
    assert any(not name.startswith("金昌市") or "区" in name for name in authorities)
    licences = [r for r in records if r.category is RecordCategory.LICENCE]
    assert {r.licence_status for r in licences} > {LicenceStatus.VALID}
    # Natural persons' names never appear in clear on their records.
    person_ids = {p.id for p in natural}
    person_names = {p.reveal_name() for p in natural}
    for record in records:
        if record.subject_id in person_ids:
            assert "*" in record.subject_name
            assert not any(name in (record.facts or "") for name in person_names)

    users = {u.username: u for u in db.session.scalars(sa.select(StaffUser))}
    assert users["admin"].role is StaffRole.PLATFORM_ADMIN
    assert users["reviewer"].role is StaffRole.DEPT_REVIEWER
    assert users["reviewer"].department.name == "市市场监管局"
    assert users["auditor"].role is StaffRole.AUDITOR
    for account in DEMO_ACCOUNTS:
        assert len(account.password) >= 10
        assert users[account.username].check_password(account.password)


def test_if_empty_does_nothing_the_second_time(app, runner):
    _run_demo(runner)
    before = _digest()
    count = db.session.scalar(sa.select(sa.func.count()).select_from(CreditRecord))

    again = _run_demo(runner, "--if-empty")
    assert "not generated" in again.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CreditRecord)) == count
    assert _digest() == before

    refused = runner.invoke(args=DEMO_ARGS)
    assert refused.exit_code != 0
    assert "空数据库" in refused.output


def _fresh_app(tmp_path, name: str):
    return create_app(
        {
            "ENV": "testing",
            "DATABASE_URL": "sqlite:///" + str(tmp_path / name),
            "SECRET_KEY": "test-secret-key-" + "x" * 32,
            "PII_ENCRYPTION_KEYS": TEST_PII_KEY,  # with an SM4 key under TEST_CRYPTO_SUITE=sm
            "PII_HASH_KEY": "test-hash-key",
            "RATELIMIT_ENABLED": False,
        }
    )


def _digest_in_fresh_database(tmp_path, name: str, seed: str) -> str:
    from flask_migrate import upgrade

    fresh = _fresh_app(tmp_path, name)
    with fresh.app_context():
        upgrade()
        args = [*DEMO_ARGS]
        args[args.index("--seed") + 1] = seed
        result = fresh.test_cli_runner().invoke(args=args)
        assert result.exit_code == 0, result.output
        digest = _digest()
        db.session.remove()
        db.engine.dispose()
    return digest


def test_same_seed_gives_identical_data(app, tmp_path):
    first = _digest_in_fresh_database(tmp_path, "a.db", "7")
    second = _digest_in_fresh_database(tmp_path, "b.db", "7")
    other = _digest_in_fresh_database(tmp_path, "c.db", "8")
    assert first == second
    assert other != first


def test_demo_accounts_prints_the_three_accounts(app, runner):
    _run_demo(runner)
    result = runner.invoke(args=["credit", "demo-accounts"])
    assert result.exit_code == 0
    for account in DEMO_ACCOUNTS:
        assert account.username in result.output
        assert account.password in result.output
    assert "not created yet" not in result.output


def test_demo_commands_refused_in_production(tmp_path):
    prod = create_app(
        {
            "ENV": "production",
            "DATABASE_URL": "sqlite:///" + str(tmp_path / "prod.db"),
            "SECRET_KEY": "production-secret-key-" + "y" * 32,
            "PII_ENCRYPTION_KEYS": "prod1:"
            + base64.b64encode(bytes(range(1, 33))).decode()
            + ",prod2:sm4:"  # the 国密 suite's key (TEST_CRYPTO_SUITE=sm)
            + base64.b64encode(bytes(range(1, 17))).decode(),
            "PII_HASH_KEY": "production-hash-key",
            **report_key_env(tmp_path),
        }
    )
    runner = prod.test_cli_runner()
    init_migrations(prod)  # a production app built outside the `flask` command has none
    with prod.app_context():
        from flask_migrate import upgrade

        upgrade()
        for args in (DEMO_ARGS, ["credit", "demo-accounts"]):
            result = runner.invoke(args=args)
            assert result.exit_code != 0
            assert "生产环境" in result.output
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Department)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StaffUser)) == 0
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("bad", ["0", "-3"])
def test_enterprises_must_be_positive(runner, bad):
    result = runner.invoke(args=["credit", "demo-data", "--enterprises", bad, "--seed", "1"])
    assert result.exit_code != 0


def test_registering_authorities_are_flagged(app, runner):
    """市场监管, 民政 and 机构编制 register subjects: their names are the public ones (issue 14, item 6)."""
    _run_demo(runner)
    flagged = set(db.session.scalars(sa.select(Department.name).where(Department.registers_subjects)))
    assert flagged == {"市市场监管局", "市民政局", "市委编办"}
