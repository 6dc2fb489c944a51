"""The 2021 national 双公示 templates as departments send them (issue 16, items 1-6).

Templates: 行政处罚 and 行政许可, each for 法人及非法人组织 and for 自然人 (DOMAIN.md, "National data
standards and catalogues"); sample files in tests/fixtures/national_templates/.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from backend.actors import Actor
from backend.departments.operations import create_department, issue_api_key
from backend.dept_api.auth import signed_headers
from backend.extensions import db
from backend.imports.models import ImportBatch, ImportRowError, ImportStatus
from backend.imports.operations import import_file
from backend.imports.parsing import RowValidator, open_import_file
from backend.imports.samples import SAMPLES, SOURCE_NAME, SOURCE_USCC
from backend.imports.tier_rule import TierRule
from backend.pii import cipher
from backend.records.models import (
    RECORD_REPRESENTATIVE_ID_CONTEXT,
    CreditRecord,
    CreditRecordVersion,
    LicenceStatus,
    PenaltyTier,
    RecordCategory,
)
from backend.records.operations import confirm_record_tier
from backend.records.publicity import PublicityRules
from backend.subjects.queries import get_public_profile
from tests.fixtures.import_data import make_uscc, penalty_row, to_csv

D = dt.date
FIXTURES = Path(__file__).parent / "fixtures" / "national_templates"
PENALTY_LEGAL = "行政处罚_法人及非法人组织.csv"
PENALTY_NATURAL = "行政处罚_自然人.csv"
LICENCE_LEGAL = "行政许可_法人及非法人组织.xlsx"
LICENCE_NATURAL = "行政许可_自然人.csv"


@pytest.fixture
def scjg(app):
    """The samples' data source: the demo's 市市场监管局 (by name and USCC)."""
    department = create_department(
        Actor.cli("test"), code="scjg", name=SOURCE_NAME, uscc=SOURCE_USCC, abbreviation="金市监罚"
    )
    db.session.commit()
    return department


def _record(number: str) -> CreditRecord:
    return db.session.scalars(sa.select(CreditRecord).where(CreditRecord.decision_number == number)).one()


def _import(department, name: str, data: bytes | None = None) -> ImportBatch:
    batch = import_file(Actor.cli("test"), department, data or (FIXTURES / name).read_bytes(), filename=name)
    db.session.commit()
    return batch


def _errors(batch: ImportBatch) -> list[tuple[int, str, str]]:
    rows = db.session.scalars(sa.select(ImportRowError).where(ImportRowError.batch_id == batch.id))
    return [(e.row_number, e.column, e.reason) for e in rows]


# --- item 2: the templates exactly as exported --------------------------------------------------


def test_fixture_files_are_what_the_generator_writes():
    """tests/fixtures/national_templates/make_samples.py keeps them reproducible."""
    assert sorted(p.name for p in FIXTURES.iterdir() if p.suffix in (".csv", ".xlsx")) == sorted(SAMPLES)
    for name, sample in SAMPLES.items():
        stored = (FIXTURES / name).read_bytes()
        if name.endswith(".csv"):
            assert stored == sample.content(), name
        else:  # a workbook's zip carries its write time: compare the cells
            cells = [list(r) for r in load_workbook(io.BytesIO(stored)).active.iter_rows(values_only=True)]
            fresh = [list(r) for r in load_workbook(io.BytesIO(sample.content())).active.iter_rows(values_only=True)]
            assert cells == fresh


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_national_template_imports_unchanged_every_row_stored(app, scjg, runner, name):
    """2021 national templates: every column recognised, every row stored (CLI)."""
    parsed = open_import_file(FIXTURES / name)
    assert parsed.unknown_columns == []
    rows = len(SAMPLES[name].rows)
    result = runner.invoke(args=["credit", "import", str(FIXTURES / name), "--department", "scjg"])
    assert result.exit_code == 0, result.output
    assert f"共 {rows} 行，新增 {rows}，更新 0，未变 0，错误 0 行" in result.output
    assert "未识别" not in result.output
    expected = RecordCategory.PENALTY if name.startswith("行政处罚") else RecordCategory.LICENCE
    categories = set(db.session.scalars(sa.select(CreditRecord.category)))
    assert categories == {expected}


def test_encodings_and_parenthesis_widths_of_the_samples():
    """CSV UTF-8 with BOM (full-width headers), GB18030, UTF-8 without BOM (half-width), XLSX."""
    assert SAMPLES[PENALTY_LEGAL].content().startswith(b"\xef\xbb\xbf")
    assert "（万元）".encode() in SAMPLES[PENALTY_LEGAL].content()
    natural = SAMPLES[PENALTY_NATURAL].content()
    with pytest.raises(UnicodeDecodeError):
        natural.decode("utf-8")
    assert natural.decode("gb18030").startswith("行政相对人名称")
    plain = SAMPLES[LICENCE_NATURAL].content()
    assert not plain.startswith(b"\xef\xbb\xbf")
    assert plain.decode("utf-8").startswith("行政相对人名称")
    assert SAMPLES[LICENCE_LEGAL].content().startswith(b"PK")
    columns = open_import_file(FIXTURES / LICENCE_LEGAL).columns
    assert columns["uscc"] == "行政相对人代码_1(统一社会信用代码)"  # half-width, under a title line
    assert open_import_file(FIXTURES / PENALTY_LEGAL).columns["uscc"] == "行政相对人代码_1（统一社会信用代码）"


def test_other_subject_codes_are_kept(app, scjg):
    """行政相对人代码_2(工商注册号) and _3(组织机构代码) of the 法人 template, by their labels."""
    _import(scjg, PENALTY_LEGAL)
    record = _record("金区综执罚〔2026〕8号")
    assert record.subject_other_codes == {"工商注册号": "620302000012345", "组织机构代码": "62030211-X"}


# --- item 1: 处罚有效期 and 公示截止期 are two facts ----------------------------------------------


def test_penalty_validity_and_publicity_end_are_two_facts(app, scjg):
    """2021 national 行政处罚 template: both 处罚有效期 and 公示截止期; publicity follows 公示截止期
    within the tier's range (国办发〔2025〕22号 section 二)."""
    batch = _import(scjg, PENALTY_LEGAL)
    assert batch.status is ImportStatus.COMPLETED
    record = _record("金区市监罚〔2026〕101号")
    assert record.penalty_valid_until == D(2026, 9, 1)
    assert record.publicity_end_date == D(2027, 3, 1)
    assert record.visible_until == D(2027, 3, 1)  # 一般: within 3-12 months of 2026-03-02
    serious = _record("金区市监罚〔2026〕140号")
    assert serious.penalty_valid_until is None  # 长期
    assert serious.visible_until == D(2029, 6, 9)  # 严重: 36 months at most, 2029-06-10 exclusive


def test_only_penalty_validity_does_not_set_publicity(app, scjg):
    row = penalty_row(1, 公示截止期="", 违法程度="一般")
    row["处罚有效期"] = "2026-06-01"
    batch = _import(scjg, "a.csv", to_csv([row]))
    assert batch.status is ImportStatus.COMPLETED, _errors(batch)
    record = _record(row["行政处罚决定书文号"])
    assert (record.penalty_valid_until, record.publicity_end_date) == (D(2026, 6, 1), None)
    assert record.visible_until == D(2027, 3, 2)  # the tier's maximum, not the penalty's validity


# --- item 3: tiers from the city's rule -------------------------------------------------------


def test_tier_rule_defaults():
    """轻微: 警告/通报批评 or 简易程序 (行政处罚法 art. 9 (一), art. 51); 严重: 吊销/责令关闭/限制从业
    (art. 9 (四)-(五)) or a listed violation; otherwise 一般 (国办发〔2025〕22号 section 二)."""
    rule = TierRule()
    assert rule.derive(penalty_category="警告", violation_type=None) is PenaltyTier.MINOR
    assert rule.derive(penalty_category="警告、通报批评", violation_type=None) is PenaltyTier.MINOR
    assert rule.derive(penalty_category="罚款", violation_type=None, remarks="简易程序") is PenaltyTier.MINOR
    assert rule.derive(penalty_category="罚款", violation_type=None) is PenaltyTier.GENERAL
    assert rule.derive(penalty_category="警告、罚款", violation_type=None) is PenaltyTier.GENERAL
    assert rule.derive(penalty_category="罚款、吊销营业执照", violation_type=None) is PenaltyTier.SERIOUS
    listed = TierRule(serious_violation_types=frozenset({"生产销售假药"}))
    assert listed.derive(penalty_category="罚款", violation_type="生产销售假药") is PenaltyTier.SERIOUS
    assert rule.derive(penalty_category=None, violation_type=None) is PenaltyTier.GENERAL


def test_file_without_tier_gets_derived_tiers_and_a_sent_tier_wins(app, scjg):
    _import(scjg, PENALTY_LEGAL)
    derived = {r.decision_number: (r.tier, r.tier_derived) for r in db.session.scalars(sa.select(CreditRecord))}
    assert derived == {
        "金区市监罚〔2026〕101号": (PenaltyTier.GENERAL, True),
        "永市监罚〔2026〕57号": (PenaltyTier.GENERAL, True),
        "金区综执罚〔2026〕8号": (PenaltyTier.MINOR, True),  # 警告, 简易程序
        "金区市监罚〔2026〕140号": (PenaltyTier.SERIOUS, True),  # 吊销营业执照
    }
    minor = _record("金区综执罚〔2026〕8号")
    assert minor.published is False  # 轻微: in principle not published

    sent = penalty_row(7, 违法程度="严重", 处罚类别="警告")
    _import(scjg, "b.csv", to_csv([sent]))
    record = _record(sent["行政处罚决定书文号"])
    assert (record.tier, record.tier_derived) == (PenaltyTier.SERIOUS, False)


def test_department_confirms_a_derived_tier_and_a_resend_keeps_it(app, scjg, clock):
    _import(scjg, PENALTY_LEGAL)
    record = _record("金区市监罚〔2026〕101号")
    rules = PublicityRules.from_settings(app.extensions["settings"])
    confirm_record_tier(Actor.department(scjg), record, PenaltyTier.SERIOUS, rules)
    db.session.commit()
    assert (record.tier, record.tier_derived) == (PenaltyTier.SERIOUS, False)
    assert record.visible_until == D(2027, 3, 2)  # 严重: at least 12 months, so the sent end moves
    version = db.session.scalars(sa.select(CreditRecordVersion)).one()
    assert version.version == 2
    assert version.changes["tier"] == {"from": "general", "to": "serious"}

    again = _import(scjg, PENALTY_LEGAL)
    assert again.unchanged_count == 4
    db.session.refresh(record)
    assert (record.tier, record.tier_derived) == (PenaltyTier.SERIOUS, False)

    # A corrected re-send without a tier keeps the confirmed one too.
    data = SAMPLES[PENALTY_LEGAL].content().decode("utf-8-sig").replace("处罚款人民币伍仟元", "处罚款人民币伍仟元整")
    changed = _import(scjg, PENALTY_LEGAL, data.encode("utf-8-sig"))
    assert changed.updated_count == 1
    db.session.refresh(record)
    assert (record.tier, record.tier_derived, record.penalty_content) == (
        PenaltyTier.SERIOUS,
        False,
        "处罚款人民币伍仟元整",
    )


# --- item 4: the deciding authority and the other facts of the decision -------------------------


def test_authority_and_decision_facts_are_stored(app, scjg):
    """处罚机关 / 许可机关 and their USCC (not departments of the platform), 没收金额, 暂扣或吊销证照,
    许可编号, 法定代表人证件号码 (encrypted, keyed hash)."""
    _import(scjg, PENALTY_LEGAL)
    _import(scjg, LICENCE_LEGAL)
    penalty = _record("永市监罚〔2026〕57号")
    assert penalty.authority_name == "永昌县市场监督管理局"
    assert penalty.authority_uscc.startswith("11620321")
    assert penalty.authority_display == "永昌县市场监督管理局"
    assert penalty.department.name == SOURCE_NAME
    assert penalty.confiscated_amount == decimal.Decimal("12000.00")  # 1.2 万元
    assert penalty.fine_amount == decimal.Decimal("30000.00")
    revoked = _record("金区市监罚〔2026〕140号")
    assert revoked.suspended_licence.startswith("营业执照 ")
    licence = _record("永市监许〔2026〕12号")
    assert (licence.licence_number, licence.document_name) == ("JY16203210001234", "食品经营许可决定书")
    assert (licence.valid_from, licence.valid_until) == (D(2026, 2, 10), D(2031, 2, 9))
    assert licence.authority_name == "永昌县市场监督管理局"

    number = SAMPLES[PENALTY_LEGAL].rows[1][SAMPLES[PENALTY_LEGAL].header.index("法定代表人证件号码")]
    assert penalty.legal_representative_id_number_hash == cipher().lookup_hash(number, "id_number")
    assert number not in (penalty.legal_representative_id_number_encrypted or "")
    assert cipher().decrypt(penalty.legal_representative_id_number_encrypted, RECORD_REPRESENTATIVE_ID_CONTEXT) == (
        number
    )
    raw = db.session.execute(sa.text("SELECT * FROM credit_record")).all()
    assert not any(number in str(row) for row in raw)


def test_authority_falls_back_to_the_sending_department(app, scjg):
    row = penalty_row(3)
    del row["处罚机关"]
    _import(scjg, "c.csv", to_csv([row]))
    record = _record(row["行政处罚决定书文号"])
    assert record.authority_name is None
    assert record.authority_display == SOURCE_NAME


def test_bad_authority_code_and_licence_status_are_row_errors(app, scjg):
    data = SAMPLES[LICENCE_NATURAL].content().decode()
    lines = data.split("\r\n")
    lines[1] = lines[1].replace("有效", "作废")
    header = lines[0].split(",")
    cells = lines[2].split(",")
    cells[header.index("许可机关统一社会信用代码")] = "11620302MB1N70019"
    lines[2] = ",".join(cells)
    batch = _import(scjg, "d.csv", "\r\n".join(lines).encode())
    assert batch.status is ImportStatus.REJECTED
    errors = sorted(_errors(batch))
    assert errors[0][:2] == (2, "当前状态") and "作废" in errors[0][2]
    assert errors[1][:2] == (3, "许可机关统一社会信用代码")


# --- item 5: a licence's current status ---------------------------------------------------------


def test_licence_status_is_kept_and_shown(app, scjg, clock):
    """当前状态 (2021 national 行政许可 template): 有效, 撤销, 注销, 吊销, 撤回."""
    _import(scjg, LICENCE_LEGAL)
    statuses = dict(db.session.execute(sa.select(CreditRecord.decision_number, CreditRecord.licence_status)).all())
    assert statuses == {
        "永市监许〔2026〕12号": LicenceStatus.VALID,
        "金区市监许〔2025〕88号": LicenceStatus.REVOKED,
        "金区市监许〔2024〕31号": LicenceStatus.CANCELLED,
        "金区综执许〔2026〕3号": LicenceStatus.PENALTY_REVOKED,
        "永市监许〔2025〕40号": LicenceStatus.WITHDRAWN,
    }
    uscc = _record("金区市监许〔2025〕88号").subject.uscc
    profile = get_public_profile(uscc, clock.today, primary=True)
    licences = next(g for g in profile.categories if g.category is RecordCategory.LICENCE).records
    shown = {r.decision_number: (r.licence_status_label, r.authority_name) for r in licences}
    assert shown["金区市监许〔2025〕88号"] == ("已撤销", "金昌市金川区市场监督管理局")
    assert shown["金区综执许〔2026〕3号"] == ("已吊销", "金昌市金川区综合行政执法局")


# --- item 6: a re-send keeps the first receipt date; each change is a version -----------------


def test_correction_resend_keeps_timeliness_and_adds_a_version(app, scjg, clock):
    """双公示 timeliness counts to the first receipt (7 working days, DOMAIN.md); a correction
    sent 54 days later does not make a timely record late."""
    row = penalty_row(11, 处罚决定日期=(clock.today - dt.timedelta(days=2)).isoformat(), 公示截止期="")
    first = clock.today
    _import(scjg, "e.csv", to_csv([row]))
    record = _record(row["行政处罚决定书文号"])
    assert record.is_timely
    days = record.timeliness_working_days

    clock.advance(days=54)
    corrected = {**row, "处罚内容": "罚款人民币陆仟元", "罚款金额（万元）": "0.6"}
    batch = _import(scjg, "e2.csv", to_csv([corrected]))
    assert batch.updated_count == 1
    db.session.refresh(record)
    assert record.received_date == first
    assert record.last_received_date == clock.today
    assert (record.is_timely, record.timeliness_working_days) == (True, days)
    version = db.session.scalars(sa.select(CreditRecordVersion).where(CreditRecordVersion.record_id == record.id)).one()
    assert version.version == 2
    assert version.import_batch_id == batch.id
    assert version.received_date == clock.today
    assert version.actor_label
    assert version.changes["penalty_content"] == {"from": "罚款人民币伍仟元", "to": "罚款人民币陆仟元"}
    assert version.changes["fine_amount"] == {"from": "5000.00", "to": "6000.00"}
    assert set(version.changes) == {"penalty_content", "fine_amount"}


def test_a_changed_representative_id_is_a_version_without_the_number(app, scjg):
    _import(scjg, PENALTY_LEGAL)
    sample = SAMPLES[PENALTY_LEGAL]
    index = sample.header.index("法定代表人证件号码")
    old = sample.rows[0][index]
    from backend.identifiers import id_number_with_check

    new = id_number_with_check("62030219750312009")
    data = sample.content().decode("utf-8-sig").replace(old, new, 1)
    _import(scjg, PENALTY_LEGAL, data.encode("utf-8-sig"))
    version = db.session.scalars(sa.select(CreditRecordVersion)).one()
    assert version.changes == {"legal_representative_id_number_hash": {"changed": True}}
    assert old not in json.dumps(version.changes) and new not in json.dumps(version.changes)


# --- the department API: the same fields in JSON -------------------------------------------------


def _signed(client, key_id, secret, method, path, payload=None, query=""):
    raw = json.dumps(payload, ensure_ascii=False).encode() if payload is not None else b""
    url = path + (f"?{query}" if query else "")
    headers = signed_headers(key_id, secret, method, url, raw)
    if method == "GET":
        return client.get(url, headers=headers)
    return client.post(url, data=raw, headers=headers, content_type="application/json")


def test_department_api_takes_the_template_fields_and_confirms_derived_tiers(app, scjg, client):
    key, secret = issue_api_key(Actor.cli("test"), scjg)
    db.session.commit()
    records = [
        {
            "subject_name": "金昌测试商贸有限公司1",
            "uscc": make_uscc(1),
            "category": "penalty",
            "decision_number": "金区市监罚〔2026〕9001号",
            "decision_date": "2026-03-02",
            "penalty_category": "罚款",
            "fine_amount": 5000,
            "confiscated_amount": "1200",
            "penalty_valid_until": "2026-09-01",
            "publicity_end_date": "2027-03-01",
            "authority_name": "金昌市金川区市场监督管理局",
            "authority_uscc": SAMPLES[PENALTY_LEGAL].rows[0][
                SAMPLES[PENALTY_LEGAL].header.index("处罚机关统一社会信用代码")
            ],
            "suspended_licence": "无",
            "registration_number": "620302000012345",
        },
        {
            "subject_name": "金昌测试商贸有限公司2",
            "uscc": make_uscc(2),
            "category": "licence",
            "decision_number": "金区市监许〔2026〕9002号",
            "decision_date": "2026-03-02",
            "document_name": "食品经营许可决定书",
            "licence_number": "JY1620302000999",
            "licence_status": "吊销",
            "valid_from": "2026-03-02",
            "valid_until": "2031-03-01",
            "authority_name": "金昌市金川区市场监督管理局",
        },
    ]
    response = _signed(client, key.key_id, secret, "POST", "/api/dept/v1/records", {"records": records})
    assert response.status_code == 200, response.json
    assert response.json["status"] == "completed", response.json
    assert response.json["unknown_fields"] == []
    penalty = _record("金区市监罚〔2026〕9001号")
    assert (penalty.tier, penalty.tier_derived) == (PenaltyTier.GENERAL, True)
    assert penalty.confiscated_amount == decimal.Decimal("1200.00")
    assert penalty.penalty_valid_until == D(2026, 9, 1)
    assert penalty.subject_other_codes == {"工商注册号": "620302000012345"}
    licence = _record("金区市监许〔2026〕9002号")
    assert licence.licence_status is LicenceStatus.PENALTY_REVOKED
    assert licence.valid_from == D(2026, 3, 2)

    listed = _signed(client, key.key_id, secret, "GET", "/api/dept/v1/records/derived-tiers", query="limit=50")
    assert listed.status_code == 200, listed.json
    assert [r["decision_number"] for r in listed.json["records"]] == ["金区市监罚〔2026〕9001号"]
    assert listed.json["records"][0]["tier_label"] == "一般"

    confirmed = _signed(
        client,
        key.key_id,
        secret,
        "POST",
        "/api/dept/v1/records/tier",
        {"decision_number": "金区市监罚〔2026〕9001号", "tier": "minor"},
    )
    assert confirmed.status_code == 200, confirmed.json
    assert (confirmed.json["tier"], confirmed.json["tier_derived"]) == ("minor", False)
    again = _signed(
        client,
        key.key_id,
        secret,
        "POST",
        "/api/dept/v1/records/tier",
        {"decision_number": "金区市监罚〔2026〕9001号", "tier": "general"},
    )
    assert again.status_code == 409
    assert again.json["error"]["code"] == "tier_not_derived"


def test_validator_reads_the_template_columns_in_linear_time(app, scjg):
    """Parsing stays per row: a 2,000-row file of the national template is read row by row."""
    sample = SAMPLES[PENALTY_LEGAL]
    body = sample.content().decode("utf-8-sig").split("\r\n", 1)[1]
    rows = body.rstrip("\r\n").split("\r\n")
    many = [",".join(sample.header)] + [r.replace("〔2026〕", f"〔2026〕{n}-") for n in range(500) for r in rows]
    data = ("\r\n".join(many) + "\r\n").encode("utf-8-sig")
    parsed = open_import_file(data, "many.csv")
    validator = RowValidator.for_department(scjg)
    results = list(parsed.validated(validator))
    assert len(results) == 2000
    assert all(not hasattr(r, "errors") for r in results)


@pytest.mark.parametrize("kind", ["enterprise", "personal", "special"])
def test_report_rows_name_the_deciding_authority_and_the_licence_status(app, scjg, clock, kind):
    """All three report kinds: each record's deciding authority (2022 report standard: each
    category with the deciding authority) and a licence shown as revoked when it is."""
    from backend.issued_reports.content import ReportOptions, build_content, normalise_options
    from reports.content import ReportKind

    _import(scjg, PENALTY_LEGAL)
    _import(scjg, LICENCE_LEGAL)
    subject = _record("金区市监许〔2025〕88号").subject
    report_kind = ReportKind(kind)
    options = normalise_options(
        report_kind, ReportOptions(years=5, domains=("penalty",)) if kind == "special" else None
    )
    now = clock.now.astimezone(dt.timezone(dt.timedelta(hours=8)))
    built = build_content(subject, report_kind, options, number="T-1", issued_at=now, valid_until=clock.today)
    rows = {r["decision_no"]: r for s in built.content.sections for r in s.rows}
    if kind != "special" or "金区市监许〔2025〕88号" in rows:
        # The deciding authority first; the city department only as the one that reported it.
        assert rows["金区市监许〔2025〕88号"]["authority"] == f"金昌市金川区市场监督管理局（经{SOURCE_NAME}报送）"
        assert "【已撤销】" in rows["金区市监许〔2025〕88号"]["facts"]
    penalty = rows["金区市监罚〔2026〕101号"]
    assert penalty["authority"] == f"金昌市金川区市场监督管理局（经{SOURCE_NAME}报送）"


# --- the console: samples, upload, the record page with versions, tier confirmation ---------


def test_console_offers_each_sample_and_imports_an_upload(app, scjg, client):
    from urllib.parse import quote

    from tests.staff_login import login_as, post_form

    login_as(client, "dept_reviewer", department=scjg)
    page = client.get("/admin/imports").get_data(as_text=True)
    for name, sample in SAMPLES.items():
        link = "/admin/imports/samples/" + quote(name)
        assert link in page
        response = client.get(link)
        assert response.status_code == 200
        assert response.data == sample.content() or name.endswith(".xlsx")
        assert quote(name) in response.headers["Content-Disposition"]
    assert client.get("/admin/imports/samples/nothing.csv").status_code == 404

    response = post_form(
        client,
        "/admin/imports/upload",
        {
            "department": str(scjg.id),
            "category": "",
            "file": (io.BytesIO((FIXTURES / LICENCE_LEGAL).read_bytes()), LICENCE_LEGAL),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    batch = db.session.scalars(sa.select(ImportBatch)).one()
    assert (batch.channel, batch.status, batch.created_count) == ("admin", ImportStatus.COMPLETED, 5)


def test_console_record_page_shows_versions_and_the_department_confirms_a_tier(app, scjg, client, clock):
    from tests.staff_login import login_as, post_form

    _import(scjg, PENALTY_LEGAL)
    record = _record("金区市监罚〔2026〕101号")
    clock.advance(days=3)
    data = SAMPLES[PENALTY_LEGAL].content().decode("utf-8-sig").replace("处罚款人民币伍仟元", "处罚款人民币伍仟元整")
    _import(scjg, PENALTY_LEGAL, data.encode("utf-8-sig"))

    admin = app.test_client()
    login_as(admin, "platform_admin")
    page = admin.get(f"/admin/records/{record.id}").get_data(as_text=True)
    assert "金昌市金川区市场监督管理局" in page and "处罚有效期至" in page
    assert "处罚款人民币伍仟元 → 处罚款人民币伍仟元整" in page
    assert "按规则推定，待认定单位确认" in page
    assert "确认处罚等级" not in page  # only the department confirms
    listed = admin.get("/admin/records?derived=1").get_data(as_text=True)
    assert "推定待确认" in listed

    login_as(client, "dept_reviewer", department=scjg)
    page = client.get(f"/admin/records/{record.id}").get_data(as_text=True)
    assert "确认处罚等级" in page
    response = post_form(
        client, f"/admin/records/{record.id}/tier", {"tier": "minor"}, token_from=f"/admin/records/{record.id}"
    )
    assert response.status_code == 302
    db.session.refresh(record)
    assert (record.tier, record.tier_derived, record.published) == (PenaltyTier.MINOR, False, False)
    versions = db.session.scalars(
        sa.select(CreditRecordVersion.version).where(CreditRecordVersion.record_id == record.id)
    ).all()
    assert sorted(versions) == [2, 3]


def test_a_rewrite_from_the_stored_record_keeps_every_template_field(app, scjg):
    """An objection's correction rewrites a record from what is stored (record_input_from): the
    other codes, the representative's ID number and the receipts stay; the change is a version."""
    from backend.records.operations import RecordWriter, record_input_from
    from backend.workdays.service import load_calendar

    _import(scjg, PENALTY_LEGAL)
    record = _record("金区综执罚〔2026〕8号")
    before = (record.subject_other_codes, record.legal_representative_id_number_hash, record.received_date)
    writer = RecordWriter(load_calendar(), PublicityRules.from_settings(app.extensions["settings"]))
    assert writer.write([record_input_from(record, {"facts": "经复核更正的违法事实。"})]) == ["updated"]
    db.session.commit()
    db.session.refresh(record)
    assert (record.subject_other_codes, record.legal_representative_id_number_hash, record.received_date) == before
    assert record.facts == "经复核更正的违法事实。"
    assert record.authority_name == "金昌市金川区综合行政执法局"
    version = db.session.scalars(sa.select(CreditRecordVersion)).one()
    assert set(version.changes) == {"facts"}
