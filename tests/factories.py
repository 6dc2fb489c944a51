"""Small builders for test data, going through the real write path (RecordWriter)."""

from __future__ import annotations

import datetime as dt
import itertools

from backend.actors import Actor
from backend.departments.operations import create_department
from backend.identifiers import id_number_with_check, org_code_check_char, uscc_with_check
from backend.records.models import PenaltyTier, RecordCategory
from backend.records.operations import RecordInput, RecordWriter
from backend.records.publicity import PublicityRules
from backend.workdays.service import WorkdayCalendar

_seq = itertools.count(1)
_ALPHA = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def make_uscc(n: int | None = None, prefix: str = "91620302") -> str:
    """A valid USCC (GB 11714 check at 17, GB 32100 check at 18) unique per n."""
    n = next(_seq) if n is None else n
    body = "MA7"
    for _ in range(5):
        body += _ALPHA[n % 31 if _ALPHA[n % 31] not in "IOSVZ" else 0]
        n //= 31
    return uscc_with_check(prefix + body + org_code_check_char(body))


def make_id_number(n: int = 1, birth: str = "19900307") -> str:
    return id_number_with_check(f"620302{birth}{n % 1000:03d}")


def make_department(code: str = "SCJG", name: str = "金昌市市场监督管理局", n: int = 1):
    uscc = uscc_with_check("11620300" + "0139260" + str(n) + org_code_check_char("0139260" + str(n)))
    return create_department(Actor.cli("test"), code=code, name=name, uscc=uscc, abbreviation="金市监罚")


def record_input(department, **overrides) -> RecordInput:
    values = dict(
        department_id=department.id,
        category=RecordCategory.PENALTY,
        tier=PenaltyTier.GENERAL,
        decision_number=f"金市监罚〔2026〕{next(_seq)}号",
        decision_date=dt.date(2026, 9, 1),
        received_date=dt.date(2026, 9, 3),
        subject_name="金昌市金川区宏达建材有限公司",
        uscc=make_uscc(),
        violation_type="未按规定公示年度报告",
        facts="经查，当事人……",
        legal_basis="《企业信息公示暂行条例》第十条",
        penalty_category="罚款",
        penalty_content="罚款人民币伍仟元",
    )
    values.update(overrides)
    return RecordInput(**values)


def write_records(*inputs: RecordInput, rules: PublicityRules | None = None):
    writer = RecordWriter(WorkdayCalendar(), rules or PublicityRules(), timely_days=7)
    return writer.write(list(inputs))
