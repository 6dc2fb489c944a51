"""Realistic sample report contents, for tests, benchmarks and layout review (fictional data)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from .content import (
    CHINA_TZ,
    NOT_COLLECTED_TEXT,
    Column,
    Period,
    ReportContent,
    ReportKind,
    Section,
    SourceLine,
    Subject,
)

ISSUED_AT = datetime(2026, 5, 12, 9, 30, tzinfo=CHINA_TZ)

PENALTY_COLUMNS = (
    Column("决定文书号", "decision_no", 2.0),
    Column("违法事实及处罚内容", "facts", 3.2),
    Column("处罚机关", "authority", 1.3),
    Column("决定日期", "decided_on", 1.0),
)
LICENSE_COLUMNS = (
    Column("许可文书号", "decision_no", 1.6),
    Column("许可内容", "facts", 3.0),
    Column("许可机关", "authority", 1.3),
    Column("有效期", "valid", 1.4),
)
ENFORCEMENT_COLUMNS = (
    Column("决定文书号", "decision_no", 2.0),
    Column("强制措施及理由", "facts", 3.4),
    Column("实施机关", "authority", 1.3),
    Column("决定日期", "decided_on", 1.0),
)
LIST_COLUMNS = (
    Column("认定文书号", "decision_no", 1.6),
    Column("列入事由", "facts", 3.4),
    Column("认定机关", "authority", 1.3),
    Column("列入日期", "decided_on", 1.0),
)
JUDGEMENT_COLUMNS = (
    Column("判决书案号", "decision_no", 1.6),
    Column("罪名及判决结果", "facts", 3.4),
    Column("审判机关", "authority", 1.3),
    Column("判决日期", "decided_on", 1.0),
)

_AUTHORITIES = ("金昌市市场监督管理局", "金昌市生态环境局", "金川区应急管理局", "永昌县税务局", "金昌市交通运输局")
_FACTS = (
    "当事人在生产经营过程中未按规定对危险化学品储存场所进行安全检查，未建立隐患排查治理台账，"
    "违反了《安全生产法》第四十一条的规定。依据该法第一百零二条，决定给予警告，并处罚款人民币贰万元整，"
    "责令限期改正。当事人已于规定期限内缴纳罚款并完成整改。",
    "当事人销售的预包装食品标签未标注生产日期，违反《食品安全法》第六十七条，依据第一百二十五条决定没收违法所得"
    "并处罚款五千元。",
    "适用简易程序：当事人未按规定公示年度报告，当场予以警告。",
    "当事人在建设项目主体工程投入生产前未完成配套环境保护设施竣工验收，擅自投入生产，违反了《建设项目环境保护"
    "管理条例》第十九条第一款的规定，依据第二十三条第一款决定责令改正，处罚款人民币贰拾万元整，并对直接负责的主管"
    "人员和其他责任人员处以罚款人民币伍万元整。鉴于当事人积极配合调查、主动消除违法行为危害后果，依法从轻处罚。",
)


def penalty_rows(count: int, *, year: int = 2025, prefix: str = "金市监处罚") -> list[dict[str, str]]:
    rows = []
    for i in range(count):
        rows.append(
            {
                "decision_no": f"{prefix}〔{year}〕{101 + i}号",
                "facts": _FACTS[i % len(_FACTS)],
                "authority": _AUTHORITIES[i % len(_AUTHORITIES)],
                "decided_on": (date(year, 3, 2) + timedelta(days=17 * i)).isoformat(),
            }
        )
    return rows


def enterprise_subject(name: str = "金昌市金川有色金属物流有限责任公司") -> Subject:
    return Subject(
        name=name,
        code_label="统一社会信用代码",
        code="91620300MA71K2X45Q",
        details=(
            ("法定代表人", "王建国"),
            ("成立日期", "2012年06月18日"),
            ("住所", "甘肃省金昌市金川区新华路北京路交汇处金川科技园 3 号楼 1205 室"),
            ("登记机关", "金昌市市场监督管理局"),
            ("经营状态", "存续（在营、开业、在册）"),
        ),
    )


def personal_subject(name: str = "张明华") -> Subject:
    return Subject(
        name=name,
        code_label="身份证号码",
        code="620302********0018",
        details=(("查询人", "本人"),),
    )


def sample_content(
    kind: ReportKind | str = ReportKind.ENTERPRISE,
    *,
    number: str = "XYJC-20260512-7K3M9Q2XHD",
    penalties: int = 6,
    subject: Subject | None = None,
    verification_url: str = "",
    verification_code: str = "K7P4-2QXM",
) -> ReportContent:
    """A plausible report of ``kind``; ``penalties`` controls its length (6 gives two pages)."""
    kind = ReportKind(kind)
    period = None
    domains: tuple[str, ...] = ()
    if kind is ReportKind.ENTERPRISE:
        subject = subject or enterprise_subject()
        sections = [
            Section(
                "licenses",
                "行政许可信息",
                LICENSE_COLUMNS,
                [
                    {
                        "decision_no": "甘金环审〔2021〕18号",
                        "facts": "排污许可证（重点管理），行业类别：常用有色金属冶炼",
                        "authority": "金昌市生态环境局",
                        "valid": "2021-07-01 至 2026-06-30",
                    },
                    {
                        "decision_no": "金市监食经〔2023〕0452号",
                        "facts": "食品经营许可证：预包装食品（含冷藏冷冻食品）销售",
                        "authority": "金昌市市场监督管理局",
                        "valid": "2023-04-12 至 2028-04-11",
                    },
                ],
            ),
            Section("penalties", "行政处罚信息", PENALTY_COLUMNS, penalty_rows(penalties)),
            Section("enforcement", "行政强制信息", ENFORCEMENT_COLUMNS, []),
            Section("dishonesty", "严重失信主体名单信息", LIST_COLUMNS, []),
        ]
    elif kind is ReportKind.PERSONAL:
        subject = subject or personal_subject()
        sections = [
            Section("penalties", "行政处罚信息", PENALTY_COLUMNS, penalty_rows(penalties, prefix="金公交罚")),
            Section(
                "dishonesty",
                "失信被执行人信息",
                LIST_COLUMNS,
                [
                    {
                        "decision_no": "（2024）甘0302执1187号",
                        "facts": "有履行能力而拒不履行生效法律文书确定的给付义务，涉案金额人民币三万二千元。",
                        "authority": "金昌市金川区人民法院",
                        "decided_on": "2024-09-03",
                    }
                ],
            ),
            Section("judgements", "刑事判决信息", JUDGEMENT_COLUMNS, [], NOT_COLLECTED_TEXT, collected=False),
        ]
    else:
        subject = subject or enterprise_subject()
        period = Period(date(2023, 5, 12), date(2026, 5, 11))
        domains = ("市场监管", "生态环境", "安全生产", "税务")
        rows = penalty_rows(penalties, year=2024)
        rows[0] = {**rows[0], "repaired": "1"}
        sections = [
            Section("penalties", "行政处罚信息（含简易程序）", PENALTY_COLUMNS, rows),
            Section("enforcement", "行政强制信息", ENFORCEMENT_COLUMNS, []),
            Section("dishonesty", "严重失信主体名单信息", LIST_COLUMNS, []),
            Section("judgements", "刑事判决信息", JUDGEMENT_COLUMNS, [], NOT_COLLECTED_TEXT, collected=False),
        ]
    sources = [
        SourceLine(
            s.title,
            "金昌市市场监督管理局" if s.collected else "—",
            "2021-01-01" if s.collected else "—",
            "2026-05-11 18:30" if s.collected else "—",
            "已归集" if s.collected else NOT_COLLECTED_TEXT,
        )
        for s in sections
    ]
    return ReportContent(
        number=number,
        kind=kind,
        issued_at=ISSUED_AT,
        valid_until=(ISSUED_AT + timedelta(days=30)).date(),
        data_cutoff_at=datetime(2026, 5, 11, 23, 59, tzinfo=CHINA_TZ),
        subject=subject,
        sections=sections,
        period=period,
        domains=domains,
        sources=sources,
        verification_url=verification_url,
        verification_code=verification_code,
        verify_page_url="https://credit.jinchang.gov.cn/verify",
    )
