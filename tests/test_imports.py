"""Record import (归集) from files: parsing, validation, batches, the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from backend.actors import Actor
from backend.audit.models import AuditEvent
from backend.extensions import db
from backend.imports.models import ImportBatch, ImportRowError, ImportStatus
from backend.imports.operations import error_report_csv, import_file, import_records
from backend.imports.parsing import ImportFileError, RowValidator, open_import_file
from backend.records.models import CreditRecord, PenaltyTier, RecordCategory
from backend.subjects.models import Subject, SubjectKind
from tests.factories import make_department
from tests.fixtures.import_data import (
    hundred_rows_with_three_bad,
    make_id_number,
    make_uscc,
    penalty_row,
    to_csv,
)

D = dt.date


@pytest.fixture
def dept(app):
    department = make_department()
    db.session.commit()
    return department


def _records() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(CreditRecord))


def _csv_report(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_hundred_rows_three_bad_then_reimport_changes_nothing(app, dept, runner, tmp_path):
    path = tmp_path / "处罚.csv"
    path.write_bytes(to_csv(hundred_rows_with_three_bad()))
    report = tmp_path / "errors.csv"

    result = runner.invoke(args=["credit", "import", str(path), "--department", "SCJG", "--errors-out", str(report)])
    assert result.exit_code == 2, result.output
    assert "共 100 行，新增 97，更新 0，未变 0，错误 3 行" in result.output
    assert "备用字段X" in result.output  # unknown column listed in the summary
    assert _records() == 97

    rows = _csv_report(report.read_text(encoding="utf-8"))
    assert rows[0] == ["行号", "列名", "错误原因"]
    by_row = {int(r[0]): (r[1], r[2]) for r in rows[1:]}
    assert sorted(by_row) == [11, 51, 78]
    assert by_row[11][0] == "统一社会信用代码"
    assert "第18位" in by_row[11][1]
    assert by_row[51] == ("处罚决定日期", "日期“2026-02-30”不存在")
    assert by_row[78][0] == "违法程度"
    assert "处罚等级" in by_row[78][1]

    batch = db.session.scalars(sa.select(ImportBatch)).one()
    assert batch.status is ImportStatus.PARTIAL
    assert (batch.total_rows, batch.created_count, batch.error_count) == (100, 97, 3)
    # 0.5 万元 is stored in yuan.
    fine = db.session.scalar(
        sa.select(CreditRecord.fine_amount).where(CreditRecord.decision_number == "金市监罚〔2026〕1号")
    )
    assert fine == decimal.Decimal("5000.00")

    ids_before = set(db.session.scalars(sa.select(CreditRecord.id)))
    again = runner.invoke(args=["credit", "import", str(path), "--department", "SCJG"])
    assert again.exit_code == 2, again.output
    assert "新增 0，更新 0，未变 97，错误 3 行" in again.output
    assert "第11行［统一社会信用代码］" in again.output  # without --errors-out the errors are printed
    db.session.expire_all()
    assert set(db.session.scalars(sa.select(CreditRecord.id))) == ids_before
    second = db.session.scalars(sa.select(ImportBatch).order_by(ImportBatch.id.desc())).first()
    assert (second.created_count, second.updated_count, second.unchanged_count) == (0, 0, 97)


def test_one_audit_event_per_batch_with_counts(app, dept, tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(to_csv([penalty_row(n) for n in range(1, 6)]))
    first = import_file(Actor.cli("t"), dept, path)
    second = import_file(Actor.cli("t"), dept, path)
    db.session.commit()
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "import.batch")).all()
    assert [e.target_id for e in events] == [str(first.id), str(second.id)]
    assert events[0].details["created"] == 5
    assert events[1].details["unchanged"] == 5
    assert events[1].details["status"] == "completed"
    assert events[0].details["department"] == "SCJG"


def test_atomic_stores_nothing_when_a_row_is_bad(app, dept, runner, tmp_path):
    rows = [penalty_row(n) for n in range(1, 11)]
    rows[4]["罚款金额（万元）"] = "-1"
    path = tmp_path / "p.csv"
    path.write_bytes(to_csv(rows))
    result = runner.invoke(args=["credit", "import", str(path), "--department", "SCJG", "--atomic"])
    assert result.exit_code == 1, result.output
    assert _records() == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Subject)) == 0
    batch = db.session.scalars(sa.select(ImportBatch)).one()
    assert batch.status is ImportStatus.REJECTED
    assert batch.atomic
    errors = db.session.scalars(sa.select(ImportRowError)).all()
    assert [(e.row_number, e.column, e.reason) for e in errors] == [(6, "罚款金额（万元）", "金额不能为负数")]
    assert "第6行［罚款金额（万元）］：金额不能为负数" in result.output

    # The same file without the bad row goes through atomically.
    del rows[4]
    path.write_bytes(to_csv(rows))
    ok = runner.invoke(args=["credit", "import", str(path), "--department", "SCJG", "--atomic"])
    assert ok.exit_code == 0, ok.output
    assert _records() == 9


def test_xlsx_import_with_dates_numbers_and_title_row(app, dept, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["金昌市市场监督管理局行政许可信息"])  # a title line above the header
    ws.append(["行政相对人名称", "统一社会信用代码", "法定代表人", "行政许可决定文书号", "许可证书名称", "许可内容",
               "许可决定日期", "有效期自", "有效期至", "数据来源单位"])  # fmt: skip
    ws.append(["金昌宏达食品有限公司", make_uscc(1), "李四", "金市监许〔2026〕1号", "食品经营许可证", "预包装食品销售",
               dt.datetime(2026, 3, 2), dt.datetime(2026, 3, 2), dt.datetime(2031, 3, 1),
               "金昌市市场监督管理局"])  # fmt: skip
    ws.append([None] * 10)  # an empty row is skipped but still counted
    ws.append(["金昌宏达二店", make_uscc(2), "李四", 20260007, "食品经营许可证", "散装食品销售",
               46091, "2026-03-10", "长期", "SCJG"])  # fmt: skip
    ws.append(["金昌宏达三店", make_uscc(3), "李四", "金市监许〔2026〕3号", "食品经营许可证", "散装食品销售",
               "2026/13/01", None, None, "外省某局"])  # fmt: skip
    path = tmp_path / "许可.xlsx"
    wb.save(path)

    batch = import_file(Actor.cli("t"), dept, path, today=D(2026, 11, 26))
    db.session.commit()
    assert batch.status is ImportStatus.PARTIAL
    assert (batch.total_rows, batch.created_count, batch.error_count) == (3, 2, 1)
    records = {r.decision_number: r for r in db.session.scalars(sa.select(CreditRecord))}
    first = records["金市监许〔2026〕1号"]
    assert first.category is RecordCategory.LICENCE  # inferred from the licence column names
    assert first.tier is None
    assert first.valid_until == D(2031, 3, 1)
    assert first.title == "食品经营许可证"
    assert first.penalty_content == "预包装食品销售"
    assert first.source_department_id == dept.id
    second = records["20260007"]
    assert second.decision_date == D(2026, 3, 10)  # Excel serial day 46091
    assert second.valid_until is None  # 长期
    reasons = {(e.row_number, e.column): e.reason for e in db.session.scalars(sa.select(ImportRowError))}
    assert reasons[(6, "许可决定日期")] == "日期“2026/13/01”不存在"
    assert reasons[(6, "数据来源单位")] == "数据来源单位“外省某局”未在平台登记"


def test_natural_person_id_is_encrypted_at_rest(app, dept, tmp_path):
    number = make_id_number(251)
    row = penalty_row(
        1,
        **{"行政相对人名称": "张三明", "行政相对人类别": "自然人", "统一社会信用代码": "",
           "证件类型": "身份证", "证件号码": number, "法定代表人": ""},
    )  # fmt: skip
    bad = penalty_row(
        2,
        **{"行政相对人名称": "李四", "行政相对人类别": "自然人", "统一社会信用代码": "",
           "证件类型": "身份证", "证件号码": "620302199002302519"},
    )  # fmt: skip
    path = tmp_path / "n.csv"
    path.write_bytes(to_csv([row, bad]))
    batch = import_file(Actor.cli("t"), dept, path)
    db.session.commit()
    assert (batch.created_count, batch.error_count) == (1, 1)
    error = db.session.scalars(sa.select(ImportRowError)).one()
    assert (error.row_number, error.column) == (3, "证件号码")
    assert "出生日期" in error.reason
    assert "620302199002302519" not in error.reason

    subject = db.session.scalars(sa.select(Subject)).one()
    assert subject.kind is SubjectKind.NATURAL
    assert subject.reveal_id_number() == number
    assert subject.reveal_name() == "张三明"
    with db.engine.connect() as conn:
        for table in ("credit_record", "subject", "import_row_error", "import_batch", "audit_event"):
            for values in conn.execute(sa.text(f"SELECT * FROM {table}")):
                flat = " ".join(str(v) for v in values)
                assert number not in flat, table
                assert "张三明" not in flat, table
    record = db.session.scalars(sa.select(CreditRecord)).one()
    assert record.subject_name == "张*明"
    assert record.published is False


def test_double_publicity_timeliness_across_national_day(app, dept, tmp_path):
    # Received Monday 12 Oct 2026, after Mid-Autumn (Fri 25 Sep) and National Day (1-7 Oct);
    # Sun 20 Sep and Sat 10 Oct are adjusted working days.
    decisions = {"A": "2026-09-30", "B": "2026-09-24", "C": "2026-09-23", "D": "2026-09-18"}
    rows = [
        penalty_row(n, **{"行政处罚决定书文号": f"时效{key}", "处罚决定日期": day, "公示截止期": ""})
        for n, (key, day) in enumerate(decisions.items(), start=1)
    ]
    path = tmp_path / "t.csv"
    path.write_bytes(to_csv(rows))
    batch = import_file(Actor.cli("t"), dept, path, today=D(2026, 10, 12))
    db.session.commit()
    assert batch.status is ImportStatus.COMPLETED
    got = {
        number: (days, timely)
        for number, days, timely in db.session.execute(
            sa.select(CreditRecord.decision_number, CreditRecord.timeliness_working_days, CreditRecord.is_timely)
        )
    }
    assert got == {"时效A": (4, True), "时效B": (7, True), "时效C": (8, False), "时效D": (12, False)}
    received = set(db.session.scalars(sa.select(CreditRecord.received_date)))
    assert received == {D(2026, 10, 12)}


def test_received_date_column_and_decision_after_receipt(app, dept, tmp_path):
    rows = [
        penalty_row(1, **{"处罚决定日期": "2026-09-30"}),
        penalty_row(2, **{"处罚决定日期": "2026-10-20"}),
    ]
    for row in rows:
        row["报送日期"] = "2026-10-12"
    path = tmp_path / "r.csv"
    path.write_bytes(to_csv(rows))
    batch = import_file(Actor.cli("t"), dept, path)
    db.session.commit()
    assert (batch.created_count, batch.error_count) == (1, 1)
    record = db.session.scalars(sa.select(CreditRecord)).one()
    assert (record.received_date, record.timeliness_working_days) == (D(2026, 10, 12), 4)
    error = db.session.scalars(sa.select(ImportRowError)).one()
    assert (error.row_number, error.column) == (3, "处罚决定日期")
    assert "晚于报送日期" in error.reason


def test_gb18030_csv_and_category_option(app, dept, runner, tmp_path):
    header = ["当事人名称", "统一社会信用代码", "决定书文号", "决定日期", "处罚等级", "罚款金额"]
    rows = [
        {"当事人名称": "金昌某厂", "统一社会信用代码": make_uscc(7), "决定书文号": "金环罚〔2026〕1号",
         "决定日期": "2026年3月2日", "处罚等级": "严重", "罚款金额": "12,000.50"},
    ]  # fmt: skip
    path = tmp_path / "gbk.csv"
    path.write_bytes(to_csv(rows, header, encoding="gb18030"))
    missing = runner.invoke(args=["credit", "import", str(path), "--department", "SCJG"])
    assert missing.exit_code == 1
    assert "无法确定信息类别" in missing.output
    assert _records() == 0

    result = runner.invoke(args=["credit", "import", str(path), "--department", "SCJG", "--category", "行政处罚"])
    assert result.exit_code == 0, result.output
    record = db.session.scalars(sa.select(CreditRecord)).one()
    assert record.subject_name == "金昌某厂"
    assert record.tier is PenaltyTier.SERIOUS
    assert record.decision_date == D(2026, 3, 2)
    assert record.fine_amount == decimal.Decimal("12000.50")


def test_category_column_per_row(app, dept, tmp_path):
    header = ["信息类别", "行政相对人名称", "统一社会信用代码", "决定文书号", "决定日期", "处罚等级"]
    rows = [
        {"信息类别": "行政处罚", "行政相对人名称": "甲", "统一社会信用代码": make_uscc(1), "决定文书号": "X1",
         "决定日期": "2026-03-02", "处罚等级": "轻微"},
        {"信息类别": "守信激励", "行政相对人名称": "乙", "统一社会信用代码": make_uscc(2), "决定文书号": "X2",
         "决定日期": "2026-03-02", "处罚等级": ""},
        {"信息类别": "行政许可", "行政相对人名称": "丙", "统一社会信用代码": make_uscc(3), "决定文书号": "X3",
         "决定日期": "2026-03-02", "处罚等级": "一般"},
        {"信息类别": "表扬", "行政相对人名称": "丁", "统一社会信用代码": make_uscc(4), "决定文书号": "X4",
         "决定日期": "2026-03-02", "处罚等级": ""},
    ]  # fmt: skip
    path = tmp_path / "c.csv"
    path.write_bytes(to_csv(rows, header))
    batch = import_file(Actor.cli("t"), dept, path)
    db.session.commit()
    got = dict(db.session.execute(sa.select(CreditRecord.decision_number, CreditRecord.category)).all())
    assert got == {"X1": RecordCategory.PENALTY, "X2": RecordCategory.RED_LIST}
    reasons = {e.row_number: (e.column, e.reason) for e in db.session.scalars(sa.select(ImportRowError))}
    assert reasons[4] == ("处罚等级", "只有行政处罚信息可以填写处罚等级")
    assert reasons[5] == ("信息类别", "未知的信息类别“表扬”")
    assert batch.status is ImportStatus.PARTIAL


def test_duplicate_decision_number_later_row_wins(app, dept, tmp_path):
    rows = [
        penalty_row(1, **{"处罚内容": "第一次"}),
        penalty_row(2),
        penalty_row(1, **{"处罚内容": "更正后"}),
    ]
    path = tmp_path / "d.csv"
    path.write_bytes(to_csv(rows))
    batch = import_file(Actor.cli("t"), dept, path)
    again = import_file(Actor.cli("t"), dept, path)
    db.session.commit()
    assert (batch.created_count, batch.total_rows) == (2, 3)
    assert "以后面的行为准" in batch.message
    assert (again.unchanged_count, again.updated_count) == (2, 0)
    content = db.session.scalar(
        sa.select(CreditRecord.penalty_content).where(CreditRecord.decision_number == "金市监罚〔2026〕1号")
    )
    assert content == "更正后"


def test_changed_row_is_updated(app, dept, tmp_path):
    path = tmp_path / "u.csv"
    path.write_bytes(to_csv([penalty_row(1), penalty_row(2)]))
    import_file(Actor.cli("t"), dept, path)
    path.write_bytes(to_csv([penalty_row(1), penalty_row(2, **{"违法程度": "严重"})]))
    batch = import_file(Actor.cli("t"), dept, path)
    db.session.commit()
    assert (batch.created_count, batch.updated_count, batch.unchanged_count) == (0, 1, 1)
    assert _records() == 2


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("report.pdf", b"%PDF-1.4 ...", "不支持的文件类型“.pdf”"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "旧版 Excel"),
        ("fake.xlsx", b"name,code\n", "不是有效的 Excel 工作簿"),
        ("binary.csv", b"\x00\x01\x02garbage", "不是有效的 CSV"),
        ("empty.csv", b"", "没有数据行"),
        ("noheader.csv", "甲,乙,丙\n1,2,3\n".encode(), "未找到表头"),
        ("missing.csv", "行政相对人名称,统一社会信用代码\n甲,x\n".encode(), "缺少必需的列：决定文书号、决定日期"),
        ("notier.csv", "行政相对人名称,统一社会信用代码,行政处罚决定书文号,处罚决定日期\n".encode(), "没有数据行"),
    ],
)
def test_unusable_files_are_refused_with_the_reason(app, dept, runner, tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    result = runner.invoke(args=["credit", "import", str(path), "--department", "SCJG"])
    assert result.exit_code == 1, result.output
    assert reason in result.output
    batch = db.session.scalars(sa.select(ImportBatch)).one()
    assert batch.status is ImportStatus.FAILED
    assert reason in batch.message
    assert _records() == 0
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "import.batch"))
        == 1
    )


def test_header_only_file_has_no_data_rows(app, dept, tmp_path):
    path = tmp_path / "h.csv"
    path.write_bytes(to_csv([penalty_row(1)])[: to_csv([penalty_row(1)]).index(b"\r\n") + 2])
    batch = import_file(Actor.cli("t"), dept, path)
    assert batch.status is ImportStatus.FAILED
    assert "没有数据行" in batch.message


def test_unknown_department_and_category_are_clear_errors(app, dept, runner, tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(to_csv([penalty_row(1)]))
    result = runner.invoke(args=["credit", "import", str(path), "--department", "NOPE"])
    assert result.exit_code == 1
    assert "未知的部门代码“NOPE”" in result.output
    assert "SCJG" in result.output
    result = runner.invoke(args=["credit", "import", str(path), "--department", "SCJG", "--category", "奖状"])
    assert result.exit_code == 1
    assert "未知的信息类别“奖状”" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ImportBatch)) == 0


def test_error_report_csv_lists_every_error(app, dept, tmp_path):
    row = penalty_row(1, **{"行政相对人名称": "", "统一社会信用代码": "91620302MA71XY3QS4", "处罚决定日期": "明天"})
    path = tmp_path / "e.csv"
    path.write_bytes(to_csv([row]))
    batch = import_file(Actor.cli("t"), dept, path)
    assert batch.status is ImportStatus.REJECTED  # nothing stored: every row bad
    rows = _csv_report(error_report_csv(batch))
    assert rows[1:] == [
        ["2", "行政相对人名称", "必填项为空"],
        ["2", "处罚决定日期", "日期“明天”无法识别：请使用 YYYY-MM-DD 格式，如 2026-01-05"],
        [
            "2",
            "统一社会信用代码",
            "统一社会信用代码第17位字符“S”不合法（只能使用数字和除 I、O、S、V、Z 以外的大写字母）",
        ],
    ]


def test_validator_rules(app, dept):
    validator = RowValidator.for_department(dept, default_category=RecordCategory.PENALTY, today=D(2026, 11, 26))
    base = {
        "subject_name": "甲公司",
        "uscc": make_uscc(1).lower(),
        "decision_number": "N1",
        "decision_date": "20260302",
        "tier": "general",
    }
    good = validator.validate(base, 2, {})
    assert good.uscc == make_uscc(1)  # normalised to upper case
    assert good.decision_date == D(2026, 3, 2)
    assert good.received_date == D(2026, 11, 26)

    def reasons(**changes):
        result = validator.validate({**base, **changes}, 2, {})
        return [(e.column, e.reason) for e in result.errors]

    derived = validator.validate({**base, "tier": None}, 2, {})  # the city's rule decides
    assert (derived.tier, derived.tier_derived) == (PenaltyTier.GENERAL, True)
    assert reasons(tier="较重") == [("处罚等级", "未知的处罚等级“较重”：应为 轻微、一般 或 严重")]
    assert reasons(uscc=None) == [
        ("统一社会信用代码", "应填写统一社会信用代码（法人及非法人组织）或居民身份证号码（自然人）")
    ]
    assert reasons(subject_kind="自然人", uscc=None, id_number="123") == [("证件号码", "身份证号码应为18位，当前为3位")]
    assert reasons(subject_kind="自然人", id_type="护照", id_number=make_id_number(1)) == [
        ("证件类型", "证件类型“护照”暂不支持：自然人目前只能使用居民身份证")
    ]
    assert reasons(decision_number="N" * 101) == [("决定文书号", "内容过长：最多100个字符，当前101个")]
    assert reasons(fine_amount="abc") == [("罚款金额（元）", "金额“abc”不是有效的数字")]
    assert reasons(decision_date="1900-01-01") == [("决定日期", "日期“1900-01-01”超出合理范围")]
    assert reasons(decision_date="2026-12-01") == [("决定日期", "决定日期晚于报送日期（2026-11-26）")]
    individual = validator.validate(
        {**base, "subject_kind": "个体工商户", "uscc": None, "id_number": make_id_number(3)}, 2, {}
    )
    assert individual.id_number == make_id_number(3)
    assert individual.uscc is None


def test_import_records_accepts_inputs_directly(app, dept):
    validator = RowValidator.for_department(dept, default_category=RecordCategory.LICENCE)
    items = [
        validator.validate({"subject_name": "甲", "uscc": make_uscc(n), "decision_number": f"L{n}",
                            "decision_date": "2026-03-02"}, n, {})
        for n in range(3)
    ]  # fmt: skip
    progress = []
    batch = import_records(Actor.cli("t"), dept, items, channel="admin", filename="x.csv", progress=progress.append)
    assert batch.status is ImportStatus.COMPLETED
    assert batch.created_count == 3
    assert sum(progress) == 3


def test_open_import_file_reads_header_eagerly(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(to_csv([penalty_row(1)]))
    parsed = open_import_file(path)
    assert parsed.columns["decision_number"] == "行政处罚决定书文号"
    assert parsed.columns["fine_amount_wan"] == "罚款金额（万元）"
    assert parsed.unknown_columns == ["备用字段X"]
    assert parsed.implied_category is RecordCategory.PENALTY
    with pytest.raises(ImportFileError, match="表示同一字段"):
        open_import_file("当事人名称,行政相对人名称\n".encode(), "dup.csv")


def _registering(dept):
    dept.registers_subjects = True
    db.session.commit()
    return dept


def test_representative_id_number_imported_encrypted_from_csv_and_xlsx(app, dept, tmp_path):
    """法定代表人证件号码 (national column name) is kept encrypted with a keyed hash (issue 14, item 3)."""
    _registering(dept)
    first, second = make_id_number(301), make_id_number(302)
    path = tmp_path / "rep.csv"
    path.write_bytes(to_csv([penalty_row(1, **{"法定代表人证件类型": "身份证", "法定代表人证件号码": first})]))
    assert import_file(Actor.cli("t"), dept, path).created_count == 1
    wb = Workbook()
    ws = wb.active
    ws.append(["行政相对人名称", "统一社会信用代码", "法定代表人", "法定代表人证件号码", "行政许可决定文书号",
               "许可证书名称", "许可决定日期"])  # fmt: skip
    ws.append(["金昌宏达食品有限公司", make_uscc(2), "李四", second, "金市监许〔2026〕9号", "食品经营许可证",
               dt.datetime(2026, 3, 2)])  # fmt: skip
    xlsx = tmp_path / "rep.xlsx"
    wb.save(xlsx)
    batch = import_file(Actor.cli("t"), dept, xlsx, today=D(2026, 11, 26))
    db.session.commit()
    assert batch.created_count == 1 and batch.error_count == 0
    by_uscc = {s.uscc: s for s in db.session.scalars(sa.select(Subject))}
    assert by_uscc[make_uscc(1)].reveal_legal_representative_id_number() == first
    assert by_uscc[make_uscc(2)].reveal_legal_representative_id_number() == second
    assert by_uscc[make_uscc(2)].legal_representative_id_number_masked == second[:4] + "*" * 10 + second[-4:]
    with db.engine.connect() as conn:
        for table in ("subject", "credit_record", "import_row_error", "import_batch", "audit_event"):
            for values in conn.execute(sa.text(f"SELECT * FROM {table}")):
                flat = " ".join(str(v) for v in values)
                assert first not in flat and second not in flat, table


def test_invalid_representative_id_number_is_a_row_error(app, dept, tmp_path):
    _registering(dept)
    rows = [
        # The checksum is right, the birth date (30 February) is not.
        penalty_row(1, **{"法定代表人证件类型": "", "法定代表人证件号码": "620302199002302519"}),
        penalty_row(2, **{"法定代表人证件类型": "护照", "法定代表人证件号码": "E12345678"}),  # not comparable
    ]
    path = tmp_path / "bad-rep.csv"
    path.write_bytes(to_csv(rows))
    batch = import_file(Actor.cli("t"), dept, path)
    db.session.commit()
    assert (batch.created_count, batch.error_count) == (1, 1)
    error = db.session.scalars(sa.select(ImportRowError)).one()
    assert (error.row_number, error.column) == (2, "法定代表人证件号码")
    assert "出生日期" in error.reason and "620302199002302519" not in error.reason
    stored = db.session.scalar(sa.select(Subject).where(Subject.uscc == make_uscc(2)))
    assert stored.legal_representative_id_number_hash is None  # a passport number is not stored
