"""Reading record files (CSV, XLSX) and validating rows into RecordInput, for files and the API.

Files use the national column names of the 双公示 templates (行政相对人名称, 统一社会信用代码,
行政处罚决定书文号 ...) and common synonyms; the department API sends the same fields under English
names (see ``API_FIELDS``). Both go through ``RowValidator``, so a row is judged the same way
whichever door it came through. Every problem is reported with the row number as the user sees it
(header = row 1, first data row = row 2; the array index for the API), the column, and a Chinese
reason.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import operator
import os
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa

from ..departments.models import Department
from ..extensions import db
from ..identifiers import IdentifierError, validate_id_number, validate_uscc
from ..records.models import LicenceStatus, PenaltyTier, RecordCategory
from ..records.operations import RecordInput
from ..types import local_date
from . import messages as msg
from .tier_rule import TierRule


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (wrong type, unreadable, header unusable)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RowError(NamedTuple):
    row: int  # as the user sees it: file row number (header = 1) or API array index
    column: str | None  # the column header as written in the file, or the API field name
    reason: str


@dataclass(frozen=True)
class RejectedRow:
    row: int
    errors: list[RowError]


ParsedRow = RecordInput | RejectedRow


# --- Columns --------------------------------------------------------------------------------

# 行政相对人代码_2 … _6 of the 2021 national templates: kept on the record by their label.
SUBJECT_OTHER_CODES = (
    ("code_registration", "工商注册号"),
    ("code_organisation", "组织机构代码"),
    ("code_tax", "税务登记号"),
    ("code_institution", "事业单位证书号"),
    ("code_social_org", "社会组织登记证号"),
)
_OTHER_CODE_LIMIT = 50

# field -> the Chinese name used in messages when the file has no such column
FIELD_LABELS: dict[str, str] = {
    "subject_name": "行政相对人名称",
    "subject_kind": "行政相对人类别",
    "uscc": "统一社会信用代码",
    "id_type": "证件类型",
    "id_number": "证件号码",
    "legal_representative": "法定代表人",
    "legal_representative_id_type": "法定代表人证件类型",
    "legal_representative_id_number": "法定代表人证件号码",
    "category": "信息类别",
    "tier": "处罚等级",
    "decision_number": "决定文书号",
    "decision_date": "决定日期",
    "publicity_end_date": "公示截止期",
    "penalty_valid_until": "处罚有效期",
    "valid_from": "有效期自",
    "valid_until": "有效期至",
    "title": "许可证书名称",
    "violation_type": "违法行为类型",
    "facts": "违法事实",
    "legal_basis": "处罚依据",
    "penalty_category": "处罚类别",
    "penalty_content": "处罚内容",
    "fine_amount": "罚款金额（元）",
    "fine_amount_wan": "罚款金额（万元）",
    "source_department": "数据来源单位",
    "source_department_uscc": "数据来源单位统一社会信用代码",
    "received_date": "报送日期",
    "authority_name": "处罚机关/许可机关",
    "authority_uscc": "处罚机关/许可机关统一社会信用代码",
    "confiscated_amount": "没收违法所得、没收非法财物的金额（元）",
    "confiscated_amount_wan": "没收违法所得、没收非法财物的金额（万元）",
    "suspended_licence": "暂扣或吊销证照名称及编号",
    "document_name": "行政许可决定文书名称",
    "licence_number": "许可编号",
    "licence_status": "当前状态",
    "remarks": "备注",
    **dict(SUBJECT_OTHER_CODES),
}

MAX_LENGTHS = {
    "subject_name": 200,
    "legal_representative": 100,
    "decision_number": 100,
    "title": 200,
    "violation_type": 200,
    "penalty_category": 100,
    "authority_name": 200,
    "suspended_licence": 200,
    "document_name": 200,
    "licence_number": 100,
}

# Header synonyms (compared after _normalize_header). The first national name of each field
# comes first; penalty- and licence-specific names also tell the category of a file.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "subject_name": (
        "行政相对人名称", "相对人名称", "主体名称", "当事人名称", "当事人", "企业名称", "单位名称", "名称", "姓名",
        "被处罚人名称", "被许可人名称",
    ),
    "subject_kind": ("行政相对人类别", "相对人类别", "行政相对人类型", "主体类别", "主体类型", "当事人类型"),
    "uscc": (
        "统一社会信用代码", "行政相对人代码_1(统一社会信用代码)", "行政相对人代码(统一社会信用代码)",
        "社会信用代码", "信用代码", "统一代码",
    ),
    "id_type": ("证件类型", "行政相对人证件类型", "当事人证件类型"),
    "id_number": ("证件号码", "身份证号码", "身份证号", "居民身份证号码", "行政相对人证件号码", "当事人证件号码"),
    "legal_representative": ("法定代表人", "法定代表人姓名", "法定代表人(负责人)", "负责人", "经营者"),
    "legal_representative_id_type": ("法定代表人证件类型", "法定代表人(负责人)证件类型", "负责人证件类型"),
    "legal_representative_id_number": (
        "法定代表人证件号码", "法定代表人(负责人)证件号码", "法定代表人身份证号码", "法定代表人身份证号",
        "负责人证件号码", "负责人身份证号码",
    ),
    "category": ("信息类别", "信息类型", "数据类别", "数据类型", "记录类别"),
    "tier": ("处罚等级", "违法程度", "违法行为严重程度", "处罚程度", "严重程度", "失信程度"),
    "decision_number": (
        "行政处罚决定书文号", "处罚决定书文号", "行政许可决定文书号", "许可决定文书号", "行政许可决定书文号",
        "决定书文号", "决定文书号", "文书号", "文号", "案号", "认定文书号",
    ),
    "decision_date": (
        "处罚决定日期", "许可决定日期", "决定日期", "作出决定日期", "作出处罚决定日期", "作出行政许可决定日期",
        "认定日期",
    ),
    # 处罚有效期 is the penalty's own validity, not the end of its publicity (2021 national
    # 行政处罚 template: both columns; issue 16 item 1).
    "publicity_end_date": ("公示截止期", "公示截止日期", "公示期限截止日期", "公示截止时间"),
    "penalty_valid_until": ("处罚有效期", "处罚有效期至"),
    "valid_from": ("有效期自", "有效期起", "许可有效期自"),
    "valid_until": ("有效期至", "有效期止", "许可有效期至", "有效截止日期", "移出日期"),
    "title": ("许可证书名称", "许可事项名称", "许可事项", "名单名称", "案由", "标题"),
    "violation_type": ("违法行为类型", "违法类型", "违法行为"),
    "facts": ("违法事实", "主要违法事实", "事实"),
    "legal_basis": ("处罚依据", "许可依据", "法律依据", "认定依据", "依据"),
    "penalty_category": ("处罚类别", "处罚种类", "许可类别", "处罚类型"),
    "penalty_content": ("处罚内容", "许可内容", "处理结果", "内容"),
    "fine_amount": ("罚款金额", "罚款金额(元)", "罚款数额", "罚款数额(元)"),
    "fine_amount_wan": ("罚款金额(万元)", "罚款数额(万元)"),
    "source_department": ("数据来源单位", "数据来源", "来源单位", "数据提供单位"),
    "source_department_uscc": ("数据来源单位统一社会信用代码",),
    "received_date": ("报送日期", "上报日期", "报送时间", "上报时间"),
    "authority_name": ("处罚机关", "许可机关", "决定机关", "作出决定机关", "实施机关"),
    "authority_uscc": (
        "处罚机关统一社会信用代码", "许可机关统一社会信用代码", "决定机关统一社会信用代码", "实施机关统一社会信用代码",
    ),
    "confiscated_amount": ("没收违法所得、没收非法财物的金额", "没收违法所得、没收非法财物的金额(元)", "没收金额"),
    "confiscated_amount_wan": ("没收违法所得、没收非法财物的金额(万元)", "没收金额(万元)"),
    "suspended_licence": ("暂扣或吊销证照名称及编号",),
    "document_name": ("行政许可决定文书名称", "许可决定文书名称", "决定文书名称"),
    "licence_number": ("许可编号", "许可证编号", "许可证书编号", "证书编号"),
    "licence_status": ("当前状态", "许可状态", "许可当前状态"),
    "remarks": ("备注",),
    "code_registration": ("行政相对人代码_2(工商注册号)", "工商注册号"),
    "code_organisation": ("行政相对人代码_3(组织机构代码)", "组织机构代码"),
    "code_tax": ("行政相对人代码_4(税务登记号)", "税务登记号"),
    "code_institution": ("行政相对人代码_5(事业单位证书号)", "事业单位证书号"),
    "code_social_org": ("行政相对人代码_6(社会组织登记证号)", "社会组织登记证号"),
}  # fmt: skip

# Columns we recognise but do not store: a row number, and a period that the publicity rules
# compute (公示期限). Every column of the 2021 national templates is read (issue 16 item 2).
KNOWN_IGNORED = ("序号", "公示期限", "数据来源单位代码")

PENALTY_HEADERS = {
    "行政处罚决定书文号", "处罚决定书文号", "处罚决定日期", "处罚类别", "处罚内容", "违法事实", "处罚机关",
    "处罚有效期",
}  # fmt: skip
LICENCE_HEADERS = {
    "行政许可决定文书号", "许可决定文书号", "许可决定日期", "许可证书名称", "许可内容", "许可机关", "许可编号",
    "行政许可决定文书名称", "当前状态",
}  # fmt: skip

_FULLWIDTH = str.maketrans({"（": "(", "）": ")", "　": "", "：": ":", "＿": "_"})


def _normalize_header(name: Any) -> str:
    text = "" if name is None else str(name)
    text = "".join(text.translate(_FULLWIDTH).split()).strip("*＊:")
    return text.lower()


_ALIAS_INDEX: dict[str, str] = {}
for _field, _names in COLUMN_ALIASES.items():
    for _name in _names:
        _ALIAS_INDEX.setdefault(_normalize_header(_name), _field)
_IGNORED_INDEX = {_normalize_header(n) for n in KNOWN_IGNORED}
_PENALTY_INDEX = {_normalize_header(n) for n in PENALTY_HEADERS}
_LICENCE_INDEX = {_normalize_header(n) for n in LICENCE_HEADERS}


# --- Value vocabularies -----------------------------------------------------------------------

CATEGORY_NAMES: dict[str, RecordCategory] = {
    "行政许可": RecordCategory.LICENCE,
    "许可": RecordCategory.LICENCE,
    "行政处罚": RecordCategory.PENALTY,
    "处罚": RecordCategory.PENALTY,
    "登记基础信息": RecordCategory.REGISTRATION,
    "登记信息": RecordCategory.REGISTRATION,
    "基础信息": RecordCategory.REGISTRATION,
    "行政强制": RecordCategory.ENFORCEMENT,
    "守信激励": RecordCategory.RED_LIST,
    "守信激励对象": RecordCategory.RED_LIST,
    "红名单": RecordCategory.RED_LIST,
    "严重失信主体名单": RecordCategory.DISHONEST_LIST,
    "严重失信名单": RecordCategory.DISHONEST_LIST,
    "严重失信": RecordCategory.DISHONEST_LIST,
    "黑名单": RecordCategory.DISHONEST_LIST,
    "经营异常名录": RecordCategory.ABNORMAL_OPERATION,
    "经营异常": RecordCategory.ABNORMAL_OPERATION,
    "失信被执行人": RecordCategory.COURT_DEFAULTER,
    "刑事判决": RecordCategory.CRIMINAL_JUDGEMENT,
    "信用承诺": RecordCategory.COMMITMENT,
    "行政确认": RecordCategory.OTHER_ADMIN,
    "行政奖励": RecordCategory.OTHER_ADMIN,
    "行政裁决": RecordCategory.OTHER_ADMIN,
    "行政给付": RecordCategory.OTHER_ADMIN,
    "行政检查": RecordCategory.OTHER_ADMIN,
    "其他行政行为": RecordCategory.OTHER_ADMIN,
    **{c.value: c for c in RecordCategory},
}

TIER_NAMES: dict[str, PenaltyTier] = {
    "轻微": PenaltyTier.MINOR,
    "轻微违法": PenaltyTier.MINOR,
    "一般": PenaltyTier.GENERAL,
    "一般违法": PenaltyTier.GENERAL,
    "严重": PenaltyTier.SERIOUS,
    "严重违法": PenaltyTier.SERIOUS,
    "严重失信": PenaltyTier.SERIOUS,
    **{t.value: t for t in PenaltyTier},
}

# 当前状态 of a licence (2021 national 行政许可 template: 1 有效, 2 无效; departments write the
# reason: 撤销, 注销, 吊销, 撤回, 暂扣).
LICENCE_STATUS_NAMES: dict[str, LicenceStatus] = {
    "有效": LicenceStatus.VALID,
    "正常": LicenceStatus.VALID,
    "1": LicenceStatus.VALID,
    "无效": LicenceStatus.INVALID,
    "2": LicenceStatus.INVALID,
    "撤销": LicenceStatus.REVOKED,
    "已撤销": LicenceStatus.REVOKED,
    "注销": LicenceStatus.CANCELLED,
    "已注销": LicenceStatus.CANCELLED,
    "吊销": LicenceStatus.PENALTY_REVOKED,
    "已吊销": LicenceStatus.PENALTY_REVOKED,
    "撤回": LicenceStatus.WITHDRAWN,
    "已撤回": LicenceStatus.WITHDRAWN,
    "暂扣": LicenceStatus.SUSPENDED,
    "已暂扣": LicenceStatus.SUSPENDED,
    **{status.value: status for status in LicenceStatus},
}

LEGAL, NATURAL, INDIVIDUAL = "legal", "natural", "individual_business"
SUBJECT_KINDS = {
    "法人及非法人组织": LEGAL,
    "法人和非法人组织": LEGAL,
    "法人": LEGAL,
    "非法人组织": LEGAL,
    "法人或其他组织": LEGAL,
    "企业": LEGAL,
    "自然人": NATURAL,
    "个人": NATURAL,
    "个体工商户": INDIVIDUAL,
    "个体户": INDIVIDUAL,
    LEGAL: LEGAL,
    NATURAL: NATURAL,
    INDIVIDUAL: INDIVIDUAL,
}
ID_CARD_TYPES = {"身份证", "居民身份证", "中华人民共和国居民身份证", "二代身份证", "01", "id_card"}

CATEGORY_CHOICES = "、".join(k for k in CATEGORY_NAMES if not k.isascii())


def parse_category(value: str) -> RecordCategory:
    """A category given by name (行政处罚) or code (penalty); ImportFileError when unknown."""
    found = CATEGORY_NAMES.get(_squash(value)) or CATEGORY_NAMES.get(value.strip().lower())
    if found is None:
        raise ImportFileError(msg.UNKNOWN_CATEGORY_OPTION.format(value=value, choices=CATEGORY_CHOICES))
    return found


def _squash(value: str) -> str:
    return "".join(value.split())


# --- Row validation (files and API) ---------------------------------------------------------

_EXCEL_EPOCH = dt.date(1899, 12, 30)
_DATE_SEPARATORS = re.compile(r"[./年月]")
_MIN_DATE = dt.date(1949, 10, 1)
_MAX_DATE = dt.date(2199, 12, 31)
_OPEN_ENDED = {"长期", "长期有效", "永久", "无", "-", "—", "/"}
_AMOUNT_LIMIT = decimal.Decimal("1e14")  # Numeric(16, 2)
_TEN_THOUSAND = decimal.Decimal(10000)
_CENT = decimal.Decimal("0.01")
_MISSING = object()
_OPEN_ENDED_FIELDS = ("valid_until", "publicity_end_date", "penalty_valid_until")


class _Invalid(Exception):
    """A single value is wrong; carries the Chinese reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class RowValidator:
    """Turns one row of raw values (by field name) into a RecordInput or a RejectedRow.

    Built once per batch: the department table is read once, and identifier, date and vocabulary
    results are cached because department files repeat the same subjects and dates many times.
    """

    department: Department
    received_date: dt.date
    default_category: RecordCategory | None = None
    uscc_allowlist: tuple[str, ...] = ()
    today: dt.date = field(default_factory=local_date)
    tier_rule: TierRule = field(default_factory=TierRule)
    _departments: dict[str, int] = field(default_factory=dict)
    _uscc_cache: dict[str, str | IdentifierError] = field(default_factory=dict)
    _id_cache: dict[str, str | IdentifierError] = field(default_factory=dict)
    _date_cache: dict[Any, Any] = field(default_factory=dict)

    @classmethod
    def for_department(
        cls,
        department: Department,
        *,
        default_category: RecordCategory | None = None,
        received_date: dt.date | None = None,
        today: dt.date | None = None,
        uscc_allowlist: Iterable[str] = (),
        tier_rule: TierRule | None = None,
    ) -> RowValidator:
        today = today or local_date()
        if tier_rule is None:
            from flask import current_app

            tier_rule = TierRule.from_settings(current_app.extensions["settings"])
        validator = cls(
            department=department,
            received_date=received_date or today,
            default_category=default_category,
            uscc_allowlist=tuple(uscc_allowlist),
            today=today,
            tier_rule=tier_rule,
        )
        for dept_id, code, name, uscc, abbreviation in db.session.execute(
            sa.select(Department.id, Department.code, Department.name, Department.uscc, Department.abbreviation)
        ):
            for key in (code, name, uscc, abbreviation):
                if key:
                    validator._departments.setdefault(_squash(key).upper(), dept_id)
        return validator

    def validate(self, values: Mapping[str, Any], row: int, labels: Mapping[str, str]) -> ParsedRow:
        """``values`` by field name; ``labels`` map a field to the column name the user wrote."""
        errors: list[RowError] = []

        def fail(name: str, reason: str) -> None:
            errors.append(RowError(row, labels.get(name, FIELD_LABELS.get(name, name)), reason))

        def text(name: str, required: bool = False) -> str | None:
            value = values.get(name)
            if type(value) is str:  # the common case, kept free of function calls (bulk imports)
                value = value.strip() or None
            elif value is None:  # a column the file does not have (most template columns)
                pass
            else:
                try:
                    value = _text(value)
                except _Invalid as exc:
                    fail(name, exc.reason)
                    return None
            if value is None:
                if required:
                    fail(name, msg.REQUIRED)
                return None
            limit = MAX_LENGTHS.get(name)
            if limit is not None and len(value) > limit:
                fail(name, msg.TOO_LONG.format(limit=limit, length=len(value)))
                return None
            return value

        def date(name: str, required: bool = False) -> dt.date | None:
            raw = values.get(name)
            if raw is None and not required:
                return None
            try:
                result = self._date(raw, open_ended_ok=name in _OPEN_ENDED_FIELDS)
            except _Invalid as exc:
                fail(name, exc.reason)
                return None
            if result is None and required:
                fail(name, msg.REQUIRED)
            return result

        subject_name = text("subject_name", required=True)
        decision_number = text("decision_number", required=True)
        decision_date = date("decision_date", required=True)

        category = self.default_category
        raw_category = text("category")
        if raw_category is not None:
            category = CATEGORY_NAMES.get(_squash(raw_category)) or CATEGORY_NAMES.get(raw_category.lower())
            if category is None:
                fail("category", msg.UNKNOWN_CATEGORY.format(value=raw_category))
        elif category is None:
            fail("category", msg.REQUIRED)

        tier = None
        raw_tier = text("tier")
        if raw_tier is not None:
            tier = TIER_NAMES.get(_squash(raw_tier)) or TIER_NAMES.get(raw_tier.lower())
            if tier is None:
                fail("tier", msg.UNKNOWN_TIER.format(value=raw_tier))
            elif category is not None and category is not RecordCategory.PENALTY:
                fail("tier", msg.TIER_NOT_ALLOWED)

        uscc, id_number = self._identity(values, text, fail)
        representative_id = self._representative_id(text, fail) if uscc is not None else None

        received = self.received_date
        if values.get("received_date") not in (None, ""):
            received = date("received_date") or received
        if decision_date is not None and decision_date > received:
            fail("decision_date", msg.DECISION_AFTER_RECEIPT.format(received=received.isoformat()))

        fine = self._money(values, fail, "fine_amount", "fine_amount_wan")
        confiscated = self._money(values, fail, "confiscated_amount", "confiscated_amount_wan")
        source_id = self._source_department(values, text, fail)
        authority_name = text("authority_name")
        authority_uscc = self._authority_uscc(text, fail)
        licence_status = self._licence_status(text, fail, category)
        other_codes = self._other_codes(values, fail)

        legal_representative = text("legal_representative")
        title = text("title")
        violation_type = text("violation_type")
        facts = text("facts")
        legal_basis = text("legal_basis")
        penalty_category = text("penalty_category")
        penalty_content = text("penalty_content")
        publicity_end = date("publicity_end_date")
        penalty_valid_until = date("penalty_valid_until")
        valid_until = date("valid_until")
        valid_from = date("valid_from")
        suspended_licence = text("suspended_licence")
        document_name = text("document_name")
        licence_number = text("licence_number")
        remarks = text("remarks")

        tier_derived = False
        if tier is None and category is RecordCategory.PENALTY and not errors:
            # No tier in the file (the national templates have none): the city's rule decides,
            # marked for the department to confirm (issue 16 item 3; imports/tier_rule.py).
            tier = self.tier_rule.derive(
                penalty_category=penalty_category,
                violation_type=violation_type,
                penalty_content=penalty_content,
                remarks=remarks,
            )
            tier_derived = True

        if errors:
            return RejectedRow(row, errors)
        assert subject_name is not None
        assert decision_number is not None
        assert decision_date is not None
        assert category is not None
        return RecordInput(
            department_id=self.department.id,
            category=category,
            decision_number=decision_number,
            decision_date=decision_date,
            received_date=received,
            subject_name=subject_name,
            uscc=uscc,
            id_number=id_number,
            tier=tier,
            publicity_end_date=publicity_end,
            valid_until=valid_until,
            legal_representative=legal_representative,
            legal_representative_id_number=representative_id,
            title=title,
            violation_type=violation_type,
            facts=facts,
            legal_basis=legal_basis,
            penalty_category=penalty_category,
            penalty_content=penalty_content,
            fine_amount=fine,
            source_department_id=source_id,
            penalty_valid_until=penalty_valid_until,
            valid_from=valid_from,
            confiscated_amount=confiscated,
            suspended_licence=suspended_licence,
            authority_name=authority_name,
            authority_uscc=authority_uscc,
            tier_derived=tier_derived,
            document_name=document_name,
            licence_number=licence_number,
            licence_status=licence_status,
            subject_other_codes=other_codes,
            remarks=remarks,
            source_row=row,
        )

    # Pieces of validate(), split out to keep it readable.

    def _identity(self, values, text, fail) -> tuple[str | None, str | None]:
        raw_kind = text("subject_kind")
        kind = None
        if raw_kind is not None:
            kind = SUBJECT_KINDS.get(_squash(raw_kind)) or SUBJECT_KINDS.get(raw_kind.lower())
            if kind is None:
                fail("subject_kind", msg.UNKNOWN_SUBJECT_KIND.format(value=raw_kind))
                return None, None
        raw_uscc = text("uscc")
        raw_id = text("id_number")
        if kind == INDIVIDUAL:  # 个体工商户: registered ones have a USCC, others are natural persons
            kind = LEGAL if raw_uscc else NATURAL
        if kind is None:
            kind = LEGAL if raw_uscc else NATURAL if raw_id else None
        if kind is None:
            fail("uscc", msg.NO_IDENTIFIER)
            return None, None
        if kind == LEGAL:
            if raw_uscc is None:
                fail("uscc", msg.LEGAL_NEEDS_USCC)
                return None, None
            checked = self._uscc_cache.get(raw_uscc)
            if checked is None:
                try:
                    checked = validate_uscc(raw_uscc, self.uscc_allowlist).code
                except IdentifierError as exc:
                    checked = exc
                self._uscc_cache[raw_uscc] = checked
            if isinstance(checked, IdentifierError):
                fail("uscc", checked.message)
                return None, None
            return checked, None
        id_type = text("id_type")
        if id_type is not None and _squash(id_type) not in ID_CARD_TYPES:
            fail("id_type", msg.UNSUPPORTED_ID_TYPE.format(value=id_type))
            return None, None
        if raw_id is None:
            fail("id_number", msg.NATURAL_NEEDS_ID)
            return None, None
        number = self._id_cache.get(raw_id)
        if number is None:
            try:
                number = validate_id_number(raw_id, self.today)
            except IdentifierError as exc:
                number = exc
            self._id_cache[raw_id] = number
        if isinstance(number, IdentifierError):
            fail("id_number", number.message)  # the message names the position, never the number
            return None, None
        return None, number

    def _representative_id(self, text, fail) -> str | None:
        """The legal representative's resident ID number (法定代表人证件号码), checked like a
        natural person's. Another kind of document (a passport) is accepted and not kept: only a
        resident ID number can be compared with a face-verified person's."""
        raw = text("legal_representative_id_number")
        if raw is None:
            return None
        id_type = text("legal_representative_id_type")
        if id_type is not None and _squash(id_type) not in ID_CARD_TYPES:
            return None
        number = self._id_cache.get(raw)
        if number is None:
            try:
                number = validate_id_number(raw, self.today)
            except IdentifierError as exc:
                number = exc
            self._id_cache[raw] = number
        if isinstance(number, IdentifierError):
            fail("legal_representative_id_number", number.message)  # names the position, never the number
            return None
        return number

    def _authority_uscc(self, text, fail) -> str | None:
        raw = text("authority_uscc")
        if raw is None:
            return None
        checked = self._uscc_cache.get(raw)
        if checked is None:
            try:
                checked = validate_uscc(raw, self.uscc_allowlist).code
            except IdentifierError as exc:
                checked = exc
            self._uscc_cache[raw] = checked
        if isinstance(checked, IdentifierError):
            fail("authority_uscc", checked.message)
            return None
        return checked

    def _licence_status(self, text, fail, category: RecordCategory | None) -> LicenceStatus | None:
        raw = text("licence_status")
        if raw is None:
            return None
        found = LICENCE_STATUS_NAMES.get(_squash(raw)) or LICENCE_STATUS_NAMES.get(raw.lower())
        if found is None:
            fail("licence_status", msg.UNKNOWN_LICENCE_STATUS.format(value=raw[:30]))
            return None
        if category is not None and category is not RecordCategory.LICENCE:
            fail("licence_status", msg.LICENCE_STATUS_NOT_ALLOWED)
            return None
        return found

    def _other_codes(self, values, fail) -> tuple[tuple[str, str], ...] | None:
        found = []
        for name, label in SUBJECT_OTHER_CODES:
            raw = values.get(name)
            if raw is None or raw == "":
                continue
            try:
                value = _text(raw)
            except _Invalid as exc:
                fail(name, exc.reason)
                continue
            if value is None:
                continue
            if len(value) > _OTHER_CODE_LIMIT:
                fail(name, msg.TOO_LONG.format(limit=_OTHER_CODE_LIMIT, length=len(value)))
                continue
            found.append((label, value))
        return tuple(found) or None

    def _money(self, values, fail, yuan: str, wan: str) -> decimal.Decimal | None:
        for name, scale in ((yuan, None), (wan, _TEN_THOUSAND)):
            raw = values.get(name)
            if raw is None or raw == "":
                continue
            try:
                amount = _amount(raw)
            except _Invalid as exc:
                fail(name, exc.reason)
                return None
            if amount is None:
                continue
            if scale is not None:
                amount = (amount * scale).quantize(_CENT)
            if amount < 0:
                fail(name, msg.NEGATIVE_AMOUNT)
                return None
            if amount >= _AMOUNT_LIMIT:
                fail(name, msg.AMOUNT_TOO_LARGE)
                return None
            return amount
        return None

    def _source_department(self, values, text, fail) -> int | None:
        for name in ("source_department_uscc", "source_department"):
            value = text(name)
            if value is None:
                continue
            found = self._departments.get(_squash(value).upper())
            if found is None:
                fail(name, msg.UNKNOWN_SOURCE_DEPARTMENT.format(value=value))
                return None
            return found
        return None

    def _date(self, raw: Any, *, open_ended_ok: bool) -> dt.date | None:
        key = (raw, open_ended_ok)
        try:
            cached = self._date_cache.get(key, _MISSING)
        except TypeError:  # unhashable (a list or object sent to the API): not a date
            raise _Invalid(msg.BAD_DATE.format(value=str(raw)[:30])) from None
        if cached is _MISSING:
            try:
                cached = _parse_date(raw, open_ended_ok)
            except _Invalid as exc:
                cached = exc.reason
            self._date_cache[key] = cached
        if isinstance(cached, str):  # a cached reason: raise a fresh exception each time
            raise _Invalid(cached)
        return cached


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool) or not isinstance(value, int | float | decimal.Decimal | dt.date):
        raise _Invalid(msg.NOT_A_STRING)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores numeric-looking codes as floats
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return str(value)


def _parse_date(raw: Any, open_ended_ok: bool) -> dt.date | None:
    if raw is None:
        return None
    if isinstance(raw, dt.datetime):
        day = raw.date()
    elif isinstance(raw, dt.date):
        day = raw
    elif isinstance(raw, bool):
        raise _Invalid(msg.BAD_DATE.format(value=raw))
    elif isinstance(raw, int | float):
        day = _date_from_number(raw)
    elif isinstance(raw, str):
        value = raw.strip()
        if not value:
            return None
        if open_ended_ok and value in _OPEN_ENDED:
            return None
        day = _date_from_text(value)
    else:
        raise _Invalid(msg.BAD_DATE.format(value=str(raw)[:30]))
    if not (_MIN_DATE <= day <= _MAX_DATE):
        raise _Invalid(msg.DATE_OUT_OF_RANGE.format(value=day.isoformat()))
    return day


def _date_from_number(raw: int | float) -> dt.date:
    if isinstance(raw, float) and not raw.is_integer():
        raw = int(raw)  # an Excel date-time serial: the integer part is the day
    number = int(raw)
    if 19000101 <= number <= 21991231:
        return _date_from_text(str(number))
    if 1 <= number <= 120000:  # Excel serial day number
        return _EXCEL_EPOCH + dt.timedelta(days=number)
    raise _Invalid(msg.BAD_DATE.format(value=raw))


def _date_from_text(value: str) -> dt.date:
    head = value[:10]
    if len(head) == 10 and head[4] == "-" and head[7] == "-":
        try:
            return dt.date.fromisoformat(head)
        except ValueError:
            pass  # fall through to the detailed check below
    text = value.split()[0].split("T")[0] if value.split() else value
    text = _DATE_SEPARATORS.sub("-", text.replace("日", "")).replace("/", "-").strip("-")
    parts = text.split("-")
    if len(parts) == 1 and len(parts[0]) == 8 and parts[0].isdigit():
        parts = [parts[0][:4], parts[0][4:6], parts[0][6:]]
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or len(parts[0]) != 4:
        raise _Invalid(msg.BAD_DATE.format(value=value[:30]))
    try:
        return dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        raise _Invalid(msg.IMPOSSIBLE_DATE.format(value=value[:30])) from None


def _amount(raw: Any) -> decimal.Decimal | None:
    if isinstance(raw, bool):
        raise _Invalid(msg.BAD_AMOUNT.format(value=raw))
    if isinstance(raw, decimal.Decimal):
        value = raw
    elif isinstance(raw, int):
        value = decimal.Decimal(raw)
    elif isinstance(raw, float):
        value = decimal.Decimal(repr(raw))
    elif isinstance(raw, str):
        text = raw.strip().replace(",", "").replace("，", "").replace("元", "").replace("￥", "").replace("¥", "")
        if not text:
            return None
        try:
            value = decimal.Decimal(text)
        except decimal.InvalidOperation:
            raise _Invalid(msg.BAD_AMOUNT.format(value=raw[:30])) from None
    else:
        raise _Invalid(msg.BAD_AMOUNT.format(value=str(raw)[:30]))
    if not value.is_finite():
        raise _Invalid(msg.BAD_AMOUNT.format(value=str(raw)[:30]))
    return value.quantize(_CENT, rounding=decimal.ROUND_HALF_UP) if value.as_tuple().exponent < -2 else value


# --- Files ------------------------------------------------------------------------------------


@dataclass
class ParsedFile:
    """An opened file whose header has been read; rows are read lazily by ``rows()``."""

    filename: str
    columns: dict[str, str]  # field -> header as written in the file
    unknown_columns: list[str]
    total_rows: int | None  # an estimate for progress bars (None: unknown)
    implied_category: RecordCategory | None
    _rows: Iterator[tuple[int, dict[str, Any]]]

    def rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        return self._rows

    def validated(self, validator: RowValidator) -> Iterator[ParsedRow]:
        if "category" not in self.columns and validator.default_category is None:
            if self.implied_category is None:
                raise ImportFileError(msg.NO_CATEGORY)
            validator.default_category = self.implied_category
        labels = self.columns
        for row_number, values in self._rows:
            yield validator.validate(values, row_number, labels)

    def check_required(self, category: RecordCategory | None) -> None:
        """Refuse the whole file when a column every row needs is missing."""
        missing = [FIELD_LABELS[name] for name in ("subject_name", "decision_number", "decision_date")
                   if name not in self.columns]  # fmt: skip
        if "uscc" not in self.columns and "id_number" not in self.columns:
            missing.append("统一社会信用代码 或 证件号码")
        if missing:
            raise ImportFileError(msg.MISSING_COLUMNS.format(columns="、".join(missing)))
        if "category" not in self.columns and category is None and self.implied_category is None:
            raise ImportFileError(msg.NO_CATEGORY)


def open_import_file(source: str | os.PathLike[str] | bytes, filename: str | None = None) -> ParsedFile:
    """Open a CSV or XLSX file (path or bytes) and read its header; ImportFileError if unusable."""
    if isinstance(source, bytes):
        data = source
        name = filename or "upload"
    else:
        path = Path(source)
        name = filename or path.name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImportFileError(msg.FILE_FAILED.format(reason=exc.strerror or str(exc))) from exc
    suffix = Path(name).suffix.lower()
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(msg.LEGACY_XLS)
    if suffix == ".xls":
        raise ImportFileError(msg.LEGACY_XLS)
    if suffix in (".xlsx", ".xlsm"):
        if not data.startswith(b"PK"):
            raise ImportFileError(msg.NOT_XLSX)
        return _open_xlsx(data, name)
    if suffix in (".csv", ".txt", ""):
        if data.startswith(b"PK\x03\x04"):
            raise ImportFileError(msg.NOT_TEXT)
        return _open_csv(data, name)
    raise ImportFileError(msg.UNSUPPORTED_FILE.format(suffix=suffix))


def _map_header(cells: Iterable[Any]) -> tuple[list[tuple[str, int]], dict[str, str], list[str], RecordCategory | None]:
    positions: list[tuple[str, int]] = []
    columns: dict[str, str] = {}
    unknown: list[str] = []
    penalty = licence = False
    for index, cell in enumerate(cells):
        header = "" if cell is None else str(cell).strip()
        key = _normalize_header(header)
        if not key:
            continue
        name = _ALIAS_INDEX.get(key)
        if name is None:
            if key not in _IGNORED_INDEX:
                unknown.append(header)
            continue
        if name in columns:
            raise ImportFileError(msg.DUPLICATE_COLUMN.format(first=columns[name], second=header))
        columns[name] = header
        positions.append((name, index))
        penalty = penalty or key in _PENALTY_INDEX
        licence = licence or key in _LICENCE_INDEX
    implied = RecordCategory.PENALTY if penalty and not licence else RecordCategory.LICENCE if licence else None
    if penalty and licence:
        implied = None
    return positions, columns, unknown, implied


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ImportFileError(msg.NOT_TEXT)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ImportFileError(msg.UNDECODABLE) from None


def _open_csv(data: bytes, name: str) -> ParsedFile:
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    header_row = 0
    try:
        for header_row, cells in enumerate(reader, start=1):  # noqa: B007 - header_row used below
            if any(c.strip() for c in cells):
                header = cells
                break
    except csv.Error as exc:
        raise ImportFileError(msg.BAD_CSV.format(problem=exc)) from exc
    if header is None:
        raise ImportFileError(msg.NO_DATA_ROWS)
    positions, columns, unknown, implied = _map_header(header)
    if not positions:
        raise ImportFileError(msg.NO_HEADER)
    estimate = max(text.count("\n") - header_row + 1, 0)
    names = [name for name, _ in positions]
    needed = max(i for _, i in positions) + 1
    getter = operator.itemgetter(*(i for _, i in positions))

    def pick(cells: list[str]) -> tuple:
        picked = getter(cells)
        return picked if len(positions) > 1 else (picked,)

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        number = header_row
        try:
            for cells in reader:
                number += 1
                if not cells or not any(cells):
                    continue
                if len(cells) >= needed:
                    yield number, dict(zip(names, pick(cells), strict=True))
                else:
                    width = len(cells)
                    yield number, {name: cells[i] if i < width else None for name, i in positions}
        except csv.Error as exc:
            raise ImportFileError(msg.BAD_CSV.format(problem=f"第{number + 1}行：{exc}")) from exc

    return ParsedFile(name, columns, unknown, estimate, implied, rows())


def _open_xlsx(data: bytes, name: str) -> ParsedFile:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ImportFileError(msg.NOT_XLSX) from exc
    sheet = workbook.active or workbook.worksheets[0]
    iterator = sheet.iter_rows(values_only=True)
    header_row = 0
    found = None
    try:
        # A title line above the header is common in exported templates: look a few rows down.
        for header_row, cells in enumerate(iterator, start=1):
            mapped = _map_header(cells)
            if len(mapped[0]) >= 2:
                found = mapped
                break
            if header_row >= 10:
                break
    except Exception as exc:  # openpyxl raises many types on a damaged sheet
        workbook.close()
        raise ImportFileError(msg.XLSX_READ_FAILED.format(problem=type(exc).__name__)) from exc
    if found is None:
        workbook.close()
        raise ImportFileError(msg.NO_HEADER)
    positions, columns, unknown, implied = found
    estimate = (sheet.max_row - header_row) if sheet.max_row else None

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        number = header_row
        try:
            for cells in iterator:
                number += 1
                if not cells or all(c is None or c == "" for c in cells):
                    continue
                width = len(cells)
                yield number, {name: cells[i] if i < width else None for name, i in positions}
        except Exception as exc:  # a damaged sheet part: the whole file is refused
            raise ImportFileError(msg.XLSX_READ_FAILED.format(problem=type(exc).__name__)) from exc
        finally:
            workbook.close()

    return ParsedFile(name, columns, unknown, estimate, implied, rows())


# --- Department API records -----------------------------------------------------------------

# The English field names of the department API; each is a RowValidator field.
API_FIELDS: dict[str, str] = {
    "subject_name": "subject_name",
    "subject_kind": "subject_kind",
    "uscc": "uscc",
    "id_type": "id_type",
    "id_number": "id_number",
    "legal_representative": "legal_representative",
    "legal_representative_id_type": "legal_representative_id_type",
    "legal_representative_id_number": "legal_representative_id_number",
    "category": "category",
    "tier": "tier",
    "decision_number": "decision_number",
    "decision_date": "decision_date",
    "publicity_end_date": "publicity_end_date",
    "valid_from": "valid_from",
    "valid_until": "valid_until",
    "title": "title",
    "violation_type": "violation_type",
    "facts": "facts",
    "legal_basis": "legal_basis",
    "penalty_category": "penalty_category",
    "penalty_content": "penalty_content",
    "fine_amount": "fine_amount",
    "source_department_code": "source_department",
    "penalty_valid_until": "penalty_valid_until",
    "confiscated_amount": "confiscated_amount",
    "suspended_licence": "suspended_licence",
    "authority_name": "authority_name",
    "authority_uscc": "authority_uscc",
    "document_name": "document_name",
    "licence_number": "licence_number",
    "licence_status": "licence_status",
    "remarks": "remarks",
    "registration_number": "code_registration",
    "organisation_code": "code_organisation",
    "tax_registration_number": "code_tax",
    "institution_certificate_number": "code_institution",
    "social_organisation_number": "code_social_org",
}  # no received_date: the API's receipt day is the server's, so 双公示 timeliness cannot be self-declared
API_LABELS = {name: api for api, name in API_FIELDS.items()}


def validate_api_records(records: list[Any], validator: RowValidator) -> tuple[list[ParsedRow], list[str]]:
    """Validate department API records; row numbers are array indexes. Also returns unknown keys."""
    items: list[ParsedRow] = []
    unknown: set[str] = set()
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            items.append(RejectedRow(index, [RowError(index, None, msg.NOT_AN_OBJECT)]))
            continue
        values: dict[str, Any] = {}
        for key, value in record.items():
            name = API_FIELDS.get(key)
            if name is None:
                unknown.add(str(key))
            else:
                values[name] = value
        items.append(validator.validate(values, index, API_LABELS))
    return items, sorted(unknown)
