"""`flask credit demo-data` and `flask credit demo-accounts`: deterministic Jinchang demo data.

Everything goes through the real write path (create_department, RecordWriter's set-based upsert)
so a demo database exercises the same code as department imports. The same seed and the same
anchor day give the same rows: only ``random.Random(seed)`` is used, never the global generator,
and every date is an offset from the anchor (``--today``, default the current date).
Refused when ENV is production: demo accounts have published passwords.
"""

from __future__ import annotations

import datetime as dt
import decimal
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

import click
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from flask import current_app
from tqdm import tqdm

from .actors import Actor
from .audit.operations import record_event
from .config import Settings
from .departments.models import Department
from .departments.operations import create_department
from .extensions import db
from .identifiers import USCC_ALPHABET, id_number_with_check, org_code_check_char, uscc_with_check
from .records.models import CreditRecord, LicenceStatus, PenaltyTier, RecordCategory, RecordStatus
from .records.operations import RecordInput, RecordWriter, expire_records
from .records.publicity import PublicityRules
from .staff.models import StaffRole, StaffUser
from .subjects.models import Subject
from .workdays.service import WorkdayCalendar, load_calendar

CHUNK_RECORDS = 5000
# The calendar has prefix sums from 2000 on; older registrations would be slow and unrealistic.
EARLIEST_ESTABLISHED = dt.date(2001, 1, 1)


# --------------------------------------------------------------------------------------------
# Departments: government bodies (authority 1, category 1) of Jinchang and its two counties.
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeptSpec:
    code: str
    name: str
    area: str
    org_body: str  # 8-character GB 11714 body; the check character is computed
    abbreviation: str  # prefix of penalty decision numbers
    licence_prefix: str | None = None
    court_code: str | None = None  # courts: 甘03 in （2025）甘03执123号
    # Registering authorities (市场监管, 民政, 机构编制): their records set subjects' names.
    registers_subjects: bool = False

    @property
    def uscc(self) -> str:
        first17 = "11" + self.area + self.org_body + org_code_check_char(self.org_body)
        return uscc_with_check(first17)


DEPARTMENTS: tuple[DeptSpec, ...] = (
    DeptSpec("fgw", "市发展改革委", "620300", "01392061", "金发改罚"),
    DeptSpec("scjg", "市市场监管局", "620300", "MB1N6725", "金市监罚", "金市监许", registers_subjects=True),
    DeptSpec("sw", "市税务局", "620300", "MB1L0731", "金税罚"),
    DeptSpec("sthj", "市生态环境局", "620300", "MB1P2083", "金环罚", "金环许"),
    DeptSpec("zj", "市住建局", "620300", "01392088", "金建罚", "金建许"),
    DeptSpec("yj", "市应急管理局", "620300", "MB1N7245", "金应急罚", "金应急许"),
    DeptSpec("jt", "市交通运输局", "620300", "01392096", "金交罚", "金交许"),
    DeptSpec("rs", "市人社局", "620300", "MB1M3916", "金人社罚"),
    DeptSpec("wj", "市卫生健康委", "620300", "MB1N8127", "金卫罚", "金卫许"),
    DeptSpec("zjfy", "市中级人民法院", "620300", "01392117", "金中法", court_code="甘03"),
    DeptSpec("jcfy", "金川区人民法院", "620302", "01398452", "金川法", court_code="甘0302"),
    DeptSpec("ycfy", "永昌县人民法院", "620321", "22436075", "永法", court_code="甘0321"),
    DeptSpec("mz", "市民政局", "620300", "01392141", "金民罚", registers_subjects=True),
    DeptSpec("bb", "市委编办", "620300", "01392168", "金编", registers_subjects=True),
)
COURTS = ("zjfy", "jcfy", "ycfy")


def _gov_uscc(area: str, body: str) -> str:
    return uscc_with_check("11" + area + body + org_code_check_char(body))


# The deciding authorities (处罚机关 / 许可机关) of the 2021 national templates: county bureaus and
# 综合执法 teams decide and report through the city department (issue 16 item 4). By department
# code and the subject's county; a department without an entry decides itself.
COUNTY_AUTHORITIES: dict[str, dict[str, tuple[str, str]]] = {
    "scjg": {
        "620302": ("金昌市金川区市场监督管理局", _gov_uscc("620302", "MB1N7001")),
        "620321": ("永昌县市场监督管理局", _gov_uscc("620321", "MB1N7002")),
        "620300": ("金昌市市场监督管理局", _gov_uscc("620300", "MB1N6725")),
    },
    "zj": {
        "620302": ("金昌市金川区综合行政执法局", _gov_uscc("620302", "MB1N7003")),
        "620321": ("永昌县综合行政执法局", _gov_uscc("620321", "MB1N7004")),
    },
    "sthj": {
        "620302": ("金昌市生态环境局金川分局", _gov_uscc("620302", "MB1N7005")),
        "620321": ("金昌市生态环境局永昌分局", _gov_uscc("620321", "MB1N7006")),
    },
    "yj": {"620321": ("永昌县应急管理局", _gov_uscc("620321", "MB1N7007"))},
    "jt": {"620321": ("永昌县交通运输局", _gov_uscc("620321", "MB1N7008"))},
}
# A licence's 当前状态 (national 行政许可 template), with its weight among demo licences.
LICENCE_STATUSES = (
    (LicenceStatus.VALID, 86),
    (LicenceStatus.CANCELLED, 6),
    (LicenceStatus.REVOKED, 3),
    (LicenceStatus.PENALTY_REVOKED, 2),
    (LicenceStatus.WITHDRAWN, 2),
    (LicenceStatus.SUSPENDED, 1),
)


# --------------------------------------------------------------------------------------------
# Demo staff accounts (documented passwords: never in production).
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    role: StaffRole
    password: str
    department_code: str | None = None


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("admin", "平台管理员（演示）", StaffRole.PLATFORM_ADMIN, "Admin-Demo-2026"),
    DemoAccount("reviewer", "市市场监管局审核员（演示）", StaffRole.DEPT_REVIEWER, "Review-Demo-2026", "scjg"),
    DemoAccount("auditor", "审计员（演示）", StaffRole.AUDITOR, "Audit-Demo-2026"),
)


# --------------------------------------------------------------------------------------------
# Name material.
# --------------------------------------------------------------------------------------------
AREAS = {
    "620302": {
        "prefixes": ("金昌市金川区", "金川区", "金昌市金川区", "金昌"),
        "county": "金川区",
        "towns": ("宁远堡镇", "双湾镇"),
        "streets": ("新华路", "北京路", "上海路", "天津路", "重庆路", "金川路", "长春路", "桂林路", "深圳路",
                    "兰州路", "建设路", "公园路", "广州路", "南京路", "延安路", "武威路"),
        "authority": "金昌市金川区市场监督管理局",
    },
    "620321": {
        "prefixes": ("永昌县", "金昌市永昌县", "永昌"),
        "county": "永昌县",
        "towns": ("城关镇", "河西堡镇", "新城子镇", "朱王堡镇", "东寨镇", "水源镇", "红山窑镇", "焦家庄镇",
                  "六坝镇", "南坝乡"),
        "streets": ("北大街", "南大街", "东大街", "西大街", "骊靬路", "北海子路", "金川西路", "新城路"),
        "authority": "永昌县市场监督管理局",
    },
    "620300": {
        "prefixes": ("金昌市", "金昌"),
        "county": "金川区",
        "towns": ("宁远堡镇",),
        "streets": ("新华路", "北京路", "金川路", "上海路", "延安路", "兰州路"),
        "authority": "金昌市市场监督管理局",
    },
}  # fmt: skip
AREA_WEIGHTS = (("620302", 55), ("620321", 30), ("620300", 15))

TRADE_FIRST = "金宏鑫华恒瑞昌永祥盛兴泰隆嘉天丰顺源润德博晟新正亿佳凯明中联"
TRADE_SECOND = "达源盛泰通丰隆川昌鑫安宇辉瑞祥和信诚远鼎益利发成康业峰阳海旺"
# Local names; 金川 is weighted so that a search for 金川 finds many enterprises everywhere.
TRADE_LOCAL = ("金川", "金川", "金川", "祁连", "龙首", "紫金", "骊靬", "焉支", "北海", "圣容", "东大山", "河西",
               "镍都", "金昌", "西坡", "花海")  # fmt: skip

# Enterprise industries by sector; the sector decides which licences and penalties fit.
SECTORS = {
    "food": ("餐饮管理", "食品", "商贸", "超市", "清真食品", "乳业"),
    "construction": ("建材", "建筑工程", "装饰工程", "房地产开发", "劳务", "市政工程", "砂石料"),
    "transport": ("物流", "运输", "汽车服务", "汽车维修", "客运"),
    "industry": ("化工", "矿业", "新材料", "冶金", "机械制造", "新能源", "有色金属", "电力工程"),
    "services": ("信息技术", "广告传媒", "物业管理", "文化传播", "咨询服务", "环保科技", "教育科技", "旅游开发"),
    "agriculture": ("农业科技", "农牧", "种养殖", "果蔬", "中药材"),
}
FORMS = (("有限公司", 70), ("有限责任公司", 22), ("股份有限公司", 5), ("实业有限公司", 3))

SHOP_OWNERS = ("老马家", "张记", "李氏", "小王", "刘家", "马记", "杨家", "老赵", "陈记", "魏家", "何记", "兰州",
               "西北", "河西", "祁连", "金川")  # fmt: skip
SHOPS = (
    ("牛肉面馆", "food"), ("便利店", "food"), ("烧烤店", "food"), ("副食店", "food"), ("羊肉馆", "food"),
    ("早餐店", "food"), ("火锅店", "food"), ("五金店", "construction"), ("建材门市部", "construction"),
    ("汽修部", "transport"), ("洗车行", "transport"), ("理发店", "services"), ("手机店", "services"),
    ("服装店", "services"), ("干洗店", "services"), ("农资店", "agriculture"),
)  # fmt: skip
COOP_TYPES = ("牧业", "种植", "养殖", "蔬菜种植", "马铃薯种植", "中药材种植", "农机服务", "肉羊养殖", "制种", "果蔬")
COOP_TRADES = ("祁连", "丰源", "金穗", "金川", "绿源", "富民", "兴农", "天祥", "润田", "骊靬", "河西", "永丰")

SURNAMES = "王张李刘马赵杨陈魏何郭徐孙周吴朱高罗韩蒋史冯谢苏董石胡孔汪梁雷田范常许段"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玉兰红春生林国文斌海鹏辉亮建成志福荣德喜"


# --------------------------------------------------------------------------------------------
# Records material.
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Violation:
    dept: str
    violation_type: str
    facts: str  # {name} {date}
    legal_basis: str
    tiers: tuple[PenaltyTier, ...]
    sectors: tuple[str, ...] = ()  # empty: any sector
    persons: bool = False  # also committed by natural persons


MINOR, GENERAL, SERIOUS = PenaltyTier.MINOR, PenaltyTier.GENERAL, PenaltyTier.SERIOUS
VIOLATIONS: tuple[Violation, ...] = (
    Violation(
        "scjg",
        "销售超过保质期的食品",
        "经查，{name}于{date}在经营场所销售超过保质期的预包装食品，货值金额较小。",
        "《中华人民共和国食品安全法》第一百二十四条第一款",
        (MINOR, GENERAL, SERIOUS),
        ("food",),
    ),
    Violation(
        "scjg",
        "未按规定进行食品进货查验记录",
        "经查，{name}未建立食品进货查验记录制度，无法提供所售食品的进货凭证。",
        "《中华人民共和国食品安全法》第一百二十六条第一款第（三）项",
        (MINOR, GENERAL),
        ("food",),
        True,
    ),
    Violation(
        "scjg",
        "发布虚假广告",
        "经查，{name}于{date}通过微信公众号发布含有虚假内容的广告，误导消费者。",
        "《中华人民共和国广告法》第五十五条第一款",
        (GENERAL, SERIOUS),
        ("services", "food", "agriculture"),
    ),
    Violation(
        "scjg",
        "不明码标价",
        "经查，{name}在经营场所销售商品未按规定明码标价。",
        "《明码标价和禁止价格欺诈规定》第二十一条",
        (MINOR, GENERAL),
        (),
        True,
    ),
    Violation(
        "scjg",
        "使用未经检定的计量器具",
        "经查，{name}在经营活动中使用未经检定的电子计价秤。",
        "《中华人民共和国计量法实施细则》第四十三条",
        (MINOR, GENERAL),
        ("food", "agriculture"),
        True,
    ),
    Violation(
        "sw",
        "未按照规定期限办理纳税申报",
        "经查，{name}未按照规定期限办理{date}所属期增值税纳税申报。",
        "《中华人民共和国税收征收管理法》第六十二条",
        (MINOR, GENERAL),
    ),
    Violation(
        "sw",
        "未按规定开具发票",
        "经查，{name}在销售商品、提供服务时未按规定开具发票。",
        "《中华人民共和国发票管理办法》第三十五条",
        (MINOR, GENERAL),
    ),
    Violation(
        "sw",
        "偷税",
        "经查，{name}采取虚假申报手段少缴增值税及附加税费，已构成偷税。",
        "《中华人民共和国税收征收管理法》第六十三条第一款",
        (GENERAL, SERIOUS),
    ),
    Violation(
        "sthj",
        "超标排放大气污染物",
        "经查，{name}于{date}经监测颗粒物排放浓度超过国家规定的排放标准。",
        "《中华人民共和国大气污染防治法》第九十九条第（二）项",
        (GENERAL, SERIOUS),
        ("industry",),
    ),
    Violation(
        "sthj",
        "建设项目未依法报批环境影响评价文件擅自开工建设",
        "经查，{name}建设项目未依法报批环境影响评价文件即擅自开工建设。",
        "《中华人民共和国环境影响评价法》第三十一条第一款",
        (GENERAL, SERIOUS),
        ("industry", "construction"),
    ),
    Violation(
        "sthj",
        "施工工地未采取扬尘污染防治措施",
        "经查，{name}施工工地裸露土方未覆盖，未采取有效扬尘防治措施。",
        "《中华人民共和国大气污染防治法》第一百一十五条第一款",
        (MINOR, GENERAL),
        ("construction",),
    ),
    Violation(
        "sthj",
        "未按规定贮存危险废物",
        "经查，{name}将危险废物露天堆放，未设置危险废物识别标志。",
        "《中华人民共和国固体废物污染环境防治法》第一百一十二条第一款",
        (GENERAL, SERIOUS),
        ("industry", "transport"),
    ),
    Violation(
        "zj",
        "未取得施工许可证擅自施工",
        "经查，{name}承建的项目未取得建筑工程施工许可证即擅自施工。",
        "《建设工程质量管理条例》第五十七条",
        (GENERAL, SERIOUS),
        ("construction",),
    ),
    Violation(
        "zj",
        "未按照工程建设强制性标准进行施工",
        "经查，{name}在施工中未按照工程建设强制性标准施工，存在质量隐患。",
        "《建设工程质量管理条例》第六十四条",
        (GENERAL, SERIOUS),
        ("construction",),
    ),
    Violation(
        "yj",
        "未按规定对从业人员进行安全生产教育和培训",
        "经查，{name}未如实记录安全生产教育和培训情况，部分从业人员未经培训上岗。",
        "《中华人民共和国安全生产法》第九十七条第（三）项",
        (MINOR, GENERAL),
        ("industry", "construction", "transport"),
    ),
    Violation(
        "yj",
        "未对安全设备进行经常性维护、保养",
        "经查，{name}未对安全设备进行经常性维护、保养和定期检测。",
        "《中华人民共和国安全生产法》第九十九条第（三）项",
        (GENERAL, SERIOUS),
        ("industry",),
    ),
    Violation(
        "jt",
        "未取得道路运输经营许可擅自从事道路运输经营",
        "经查，{name}于{date}未取得道路运输经营许可，擅自从事道路旅客运输经营。",
        "《中华人民共和国道路运输条例》第六十三条",
        (GENERAL, SERIOUS),
        ("transport",),
        True,
    ),
    Violation(
        "jt",
        "车辆超限运输",
        "经查，{name}所属货运车辆于{date}在G312线超限运输，车货总质量超过限定标准。",
        "《公路安全保护条例》第六十四条",
        (MINOR, GENERAL),
        ("transport", "construction"),
        True,
    ),
    Violation(
        "rs",
        "拖欠农民工工资",
        "经查，{name}拖欠农民工工资，经责令限期支付逾期仍未支付。",
        "《保障农民工工资支付条例》第五十四条",
        (GENERAL, SERIOUS),
        ("construction",),
    ),
    Violation(
        "rs",
        "未依法与劳动者订立书面劳动合同",
        "经查，{name}用工未依法与劳动者订立书面劳动合同。",
        "《劳动保障监察条例》第二十四条",
        (MINOR, GENERAL),
    ),
    Violation(
        "wj",
        "公共场所从业人员未取得健康合格证明",
        "经查，{name}部分从业人员未取得有效健康合格证明即上岗。",
        "《公共场所卫生管理条例实施细则》第三十八条",
        (MINOR, GENERAL),
        ("services", "food"),
        True,
    ),
)
VIOLATIONS_BY_SECTOR = {
    sector: tuple(v for v in VIOLATIONS if not v.sectors or sector in v.sectors) for sector in SECTORS
}
PERSON_VIOLATIONS = tuple(v for v in VIOLATIONS if v.persons)

LICENCES = {
    "food": (
        (
            "scjg",
            "食品经营许可",
            "经营项目：预包装食品销售、散装食品销售、热食类食品制售",
            "《中华人民共和国食品安全法》第三十五条",
        ),
    ),
    "construction": (
        (
            "zj",
            "建筑工程施工许可",
            "工程名称：金昌市住宅小区建设项目，建设规模约2.3万平方米",
            "《中华人民共和国建筑法》第七条",
        ),
        ("zj", "建筑业企业资质许可", "资质类别及等级：施工总承包三级", "《中华人民共和国建筑法》第十三条"),
    ),
    "transport": (
        ("jt", "道路运输经营许可", "经营范围：道路普通货物运输", "《中华人民共和国道路运输条例》第二十一条"),
    ),
    "industry": (
        ("sthj", "排污许可", "行业类别：有色金属冶炼，主要污染物：颗粒物、二氧化硫", "《排污许可管理条例》第三条"),
        ("yj", "危险化学品经营许可", "经营品种：硫酸、盐酸（不带储存设施）", "《危险化学品安全管理条例》第三十三条"),
    ),
    "services": (("wj", "公共场所卫生许可", "许可项目：理发店、美容店", "《公共场所卫生管理条例》第八条"),),
    "agriculture": (
        ("scjg", "食品生产许可", "食品类别：蔬菜制品、粮食加工品", "《中华人民共和国食品安全法》第三十五条"),
    ),
}


# --------------------------------------------------------------------------------------------
# The generator.
# --------------------------------------------------------------------------------------------
@dataclass
class DemoSummary:
    departments: int = 0
    enterprises: int = 0
    natural_persons: int = 0
    records: int = 0
    by_category: dict[str, int] = field(default_factory=dict)
    by_tier: dict[str, int] = field(default_factory=dict)
    expired: int = 0
    late: int = 0
    staff: list[str] = field(default_factory=list)


@dataclass
class _Enterprise:
    uscc: str
    name: str
    legal_representative: str
    area: str
    sector: str
    category: str  # 1 enterprise, 2 个体工商户, 3 合作社
    established: dt.date
    address: str
    records: list[RecordInput] = field(default_factory=list)


class DemoGenerator:
    """Builds the records in a fixed order from one seeded generator; the caller writes them."""

    def __init__(
        self,
        seed: int,
        today: dt.date,
        departments: dict[str, int],
        calendar: WorkdayCalendar,
        records_per_enterprise: int,
        number_offset: int = 0,
    ):
        self.rng = random.Random(seed)
        # The national template fields draw from their own generator, so adding them left the
        # rest of the demo data (names, dates, tiers) as it was for a given seed.
        self.template_rng = random.Random(seed * 7919 + 16)
        self.number_offset = number_offset  # lets a second batch (the benchmark) avoid used numbers
        self.today = today
        self.dept_ids = departments
        self.calendar = calendar
        self.records_per_enterprise = max(1, records_per_enterprise)
        self._counters: dict[tuple[str, int], int] = {}
        self._usccs: set[str] = set()
        self._names: set[str] = set()
        self._ids: set[str] = set()
        self._red_list: set[tuple[str, int]] = set()
        areas, weights = zip(*AREA_WEIGHTS, strict=True)
        self._areas, self._area_weights = areas, weights
        forms, form_weights = zip(*FORMS, strict=True)
        self._forms, self._form_weights = forms, form_weights

    # ---- identities -------------------------------------------------------------------------
    def person_name(self) -> str:
        rng = self.rng
        surname = "欧阳" if rng.random() < 0.01 else rng.choice(SURNAMES)
        given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.75 else "")
        return surname + given

    def _uscc(self, category: str, area: str) -> str:
        rng = self.rng
        while True:
            if rng.random() < 0.2:
                # Enterprises registered before 2015 kept their old numeric organisation code.
                body = "".join(rng.choice("0123456789") for _ in range(8))
            else:
                body = "MA7" + "".join(rng.choice(USCC_ALPHABET) for _ in range(5))
            code = uscc_with_check("9" + category + area + body + org_code_check_char(body))
            if code not in self._usccs:
                self._usccs.add(code)
                return code

    def _unique_name(self, make) -> str:
        for _ in range(20):
            name = make()
            if name not in self._names:
                self._names.add(name)
                return name
        base = make()
        for n in range(2, 10_000):  # a second shop of the same owner: 二店, 三店 ...
            name = f"{base}（{n}店）"
            if name not in self._names:
                self._names.add(name)
                return name
        raise RuntimeError("demo name space exhausted")

    def enterprise(self) -> _Enterprise:
        rng = self.rng
        area = rng.choices(self._areas, self._area_weights)[0]
        info = AREAS[area]
        kind = rng.random()
        if kind < 0.62:
            category = "1"
            sector = rng.choice(tuple(SECTORS))

            def make() -> str:
                trade = (
                    rng.choice(TRADE_LOCAL)
                    if rng.random() < 0.2
                    else rng.choice(TRADE_FIRST) + rng.choice(TRADE_SECOND)
                )
                form = rng.choices(self._forms, self._form_weights)[0]
                return rng.choice(info["prefixes"]) + trade + rng.choice(SECTORS[sector]) + form

        elif kind < 0.9:
            category = "2"
            shop, sector = rng.choice(SHOPS)
            county = info["county"]

            def make() -> str:
                owner = (
                    rng.choice(SHOP_OWNERS)
                    if rng.random() < 0.6
                    else rng.choice(TRADE_FIRST) + rng.choice(TRADE_SECOND)
                )
                street = rng.choice(info["streets"]) if rng.random() < 0.3 else ""
                return county + street + owner + shop

        else:
            category = "3"
            sector = "agriculture"
            if area == "620300":
                area, info = "620321", AREAS["620321"]

            def make() -> str:
                town = rng.choice(info["towns"]) if rng.random() < 0.5 else ""
                return info["county"] + town + rng.choice(COOP_TRADES) + rng.choice(COOP_TYPES) + "农民专业合作社"

        name = self._unique_name(make)
        established = self.today - dt.timedelta(days=rng.randint(60, (self.today - EARLIEST_ESTABLISHED).days))
        if rng.random() < 0.4:
            address = f"甘肃省金昌市{info['county']}{rng.choice(info['towns'])}{rng.randint(1, 12)}村"
        else:
            address = f"甘肃省金昌市{info['county']}{rng.choice(info['streets'])}{rng.randint(1, 220)}号"
        return _Enterprise(
            uscc=self._uscc(category, area),
            name=name,
            legal_representative=self.person_name(),
            area=area,
            sector=sector,
            category=category,
            established=established,
            address=address,
        )

    def id_number(self) -> str:
        rng = self.rng
        while True:
            area = "620302" if rng.random() < 0.65 else "620321"
            birth = dt.date(1955, 1, 1) + dt.timedelta(days=rng.randint(0, 48 * 365))
            number = id_number_with_check(f"{area}{birth:%Y%m%d}{rng.randint(1, 999):03d}")
            if number not in self._ids:
                self._ids.add(number)
                return number

    # ---- dates and numbers ------------------------------------------------------------------
    def decision_date(self, spread: str = "mixed") -> dt.date:
        rng = self.rng
        roll = rng.random()
        if spread == "recent" or roll < 0.6:
            days = rng.randint(0, 364)
        elif roll < 0.9:
            days = rng.randint(365, 3 * 365)
        else:
            days = rng.randint(3 * 365, 6 * 365)
        day = self.today - dt.timedelta(days=days)
        while not self.calendar.is_working_day(day):  # decisions are signed on working days
            day -= dt.timedelta(days=1)
        return day

    def received_date(self, decision: dt.date) -> dt.date:
        # Most departments report within the 7 working days of 双公示; some are late.
        rng = self.rng
        days = rng.randint(0, 7) if rng.random() < 0.9 else rng.randint(16, 75)
        return min(decision + dt.timedelta(days=days), self.today)

    def number(self, prefix: str, year: int) -> str:
        key = (prefix, year)
        self._counters[key] = self._counters.get(key, self.number_offset) + 1
        return f"{prefix}〔{year}〕{self._counters[key]}号"

    def case_number(self, court: DeptSpec, year: int) -> str:
        key = (court.code, year)
        self._counters[key] = self._counters.get(key, self.number_offset) + 1
        return f"（{year}）{court.court_code}执{self._counters[key]}号"

    def fine(self, tier: PenaltyTier, person: bool) -> decimal.Decimal | None:
        rng = self.rng
        if tier is MINOR:
            if rng.random() < 0.5:
                return None  # 警告
            return decimal.Decimal(rng.choice((50, 100, 200) if person else (200, 500, 1000, 2000, 3000)))
        if tier is GENERAL:
            low, high = (500, 20_000) if person else (5_000, 100_000)
        else:
            low, high = (20_000, 200_000) if person else (100_000, 2_000_000)
        return decimal.Decimal(rng.randint(low // 100, high // 100) * 100)

    # ---- records ----------------------------------------------------------------------------
    def penalty(self, violation: Violation, name: str, legal_rep: str | None, **identity) -> RecordInput:
        rng = self.rng
        spec = _SPECS[violation.dept]
        tier = rng.choice(violation.tiers)
        decision = self.decision_date()
        person = "id_number" in identity
        fine = self.fine(tier, person)
        if fine is None:
            category, content = "警告", "给予警告"
        elif tier is SERIOUS and not person and rng.random() < 0.4:
            category = "罚款、责令停产停业"
            content = f"处罚款人民币{fine:,.0f}元，并责令停产停业整顿"
        elif tier is not MINOR and rng.random() < 0.3:
            confiscated = decimal.Decimal(rng.randint(5, 300) * 100)
            category = "没收违法所得、罚款"
            content = f"没收违法所得人民币{confiscated:,.0f}元，并处罚款人民币{fine:,.0f}元"
        else:
            category, content = "罚款", f"处罚款人民币{fine:,.0f}元"
        if tier is MINOR:
            content += "（简易程序）"
        extra = self._penalty_template_fields(spec, decision, category, identity)
        end = None
        if tier is GENERAL and rng.random() < 0.7:
            end = decision + relativedelta(months=rng.choice((6, 12)))
        elif tier is SERIOUS and rng.random() < 0.7:
            end = decision + relativedelta(months=rng.choice((24, 36)))
        return RecordInput(
            department_id=self.dept_ids[spec.code],
            category=RecordCategory.PENALTY,
            decision_number=self.number(spec.abbreviation, decision.year),
            decision_date=decision,
            received_date=self.received_date(decision),
            subject_name=name,
            legal_representative=legal_rep,
            tier=tier,
            publicity_end_date=end,
            title=f"{violation.violation_type}案",
            violation_type=violation.violation_type,
            # A person's name stays out of free text: only the masked snapshot name is kept in clear.
            facts=violation.facts.format(name="当事人" if person else name, date=f"{decision:%Y年%m月%d日}"),
            legal_basis=violation.legal_basis,
            penalty_category=category,
            penalty_content=content,
            fine_amount=fine,
            **extra,
            **identity,
        )

    def _authority(self, dept_code: str, area: str) -> tuple[str | None, str | None]:
        """The deciding authority for a department's decision about a subject of ``area``: a
        county bureau or 综合执法 team most of the time, else the city department itself."""
        county = COUNTY_AUTHORITIES.get(dept_code, {}).get(area)
        if county is not None and self.template_rng.random() < 0.8:
            return county
        spec = _SPECS[dept_code]
        return "金昌" + spec.name if spec.name.startswith("市") else spec.name, spec.uscc

    def _penalty_template_fields(self, spec: DeptSpec, decision: dt.date, category: str, identity: dict) -> dict:
        rng = self.template_rng
        area = (identity.get("uscc") or "")[2:8] or (identity.get("id_number") or "")[:6]
        name, uscc = self._authority(spec.code, area)
        fields: dict = {"authority_name": name, "authority_uscc": uscc}
        if "没收" in category:
            fields["confiscated_amount"] = decimal.Decimal(rng.randint(5, 300) * 100)
        if "责令停产停业" in category:
            fields["penalty_valid_until"] = decision + relativedelta(months=rng.choice((3, 6)))
        return fields

    def enterprise_records(self, ent: _Enterprise) -> list[RecordInput]:
        rng = self.rng
        base = {"uscc": ent.uscc, "subject_name": ent.name, "legal_representative": ent.legal_representative}
        received = min(ent.established + dt.timedelta(days=rng.randint(0, 5)), self.today)
        records = [
            RecordInput(
                department_id=self.dept_ids["scjg"],
                category=RecordCategory.REGISTRATION,
                decision_number=ent.uscc,  # the business licence number is the USCC
                decision_date=ent.established,
                received_date=received,
                title={"1": "企业设立登记", "2": "个体工商户设立登记", "3": "农民专业合作社设立登记"}[ent.category],
                facts=f"住所：{ent.address}；登记机关：{AREAS[ent.area]['authority']}",
                legal_basis="《中华人民共和国市场主体登记管理条例》第三条",
                **base,
            )
        ]
        mean_extra = self.records_per_enterprise - 1
        extra = min(60, round(rng.expovariate(1 / mean_extra))) if mean_extra > 0 else 0
        for _ in range(extra):
            roll = rng.random()
            if roll < 0.30:
                records.append(self.licence(ent, base))
            elif roll < 0.72:
                violation = rng.choice(VIOLATIONS_BY_SECTOR[ent.sector])
                records.append(self.penalty(violation, ent.name, ent.legal_representative, uscc=ent.uscc))
            elif roll < 0.78:
                record = self.red_list(ent, base)
                if record is not None:
                    records.append(record)
            elif roll < 0.81:
                records.append(self.dishonest(ent, base))
            elif roll < 0.89:
                records.append(self.abnormal(ent, base))
            elif roll < 0.93:
                records.append(self.court_defaulter(base, ent.legal_representative))
            else:
                records.append(self.commitment(ent, base))
        return records

    def licence(self, ent: _Enterprise, base: dict) -> RecordInput:
        rng = self.rng
        dept, title, facts, basis = rng.choice(LICENCES[ent.sector])
        spec = _SPECS[dept]
        decision = self.decision_date()
        assert spec.licence_prefix
        return RecordInput(
            department_id=self.dept_ids[dept],
            category=RecordCategory.LICENCE,
            decision_number=self.number(spec.licence_prefix, decision.year),
            decision_date=decision,
            received_date=self.received_date(decision),
            valid_until=decision + relativedelta(years=rng.choice((3, 5))) - dt.timedelta(days=1),
            title=title,
            facts=facts,
            legal_basis=basis,
            **self._licence_template_fields(spec, ent, decision),
            **base,
        )

    def _licence_template_fields(self, spec: DeptSpec, ent: _Enterprise, decision: dt.date) -> dict:
        rng = self.template_rng
        name, uscc = self._authority(spec.code, ent.area)
        statuses, weights = zip(*LICENCE_STATUSES, strict=True)
        return {
            "authority_name": name,
            "authority_uscc": uscc,
            "valid_from": decision,
            "licence_number": f"{spec.licence_prefix[1:3]}{ent.area}{decision:%Y}{rng.randint(0, 999_999):06d}",
            "licence_status": rng.choices(statuses, weights)[0],
            "document_name": "行政许可决定书",
        }

    def red_list(self, ent: _Enterprise, base: dict) -> RecordInput | None:
        rng = self.rng
        year = self.today.year - rng.randint(0, 2)
        decision = dt.date(year, 4, 1) + dt.timedelta(days=rng.randint(0, 20))
        if decision > self.today or (ent.uscc, year) in self._red_list or ent.established.year >= year - 1:
            return None  # the A grade is given once a year for the previous year
        self._red_list.add((ent.uscc, year))
        while not self.calendar.is_working_day(decision):
            decision += dt.timedelta(days=1)
        return RecordInput(
            department_id=self.dept_ids["sw"],
            category=RecordCategory.RED_LIST,
            decision_number=self.number("金税信", year),
            decision_date=decision,
            received_date=self.received_date(decision),
            valid_until=dt.date(year + 1, 3, 31),
            title=f"{year - 1}年度纳税信用A级纳税人",
            facts=f"经评价，{ent.name}{year - 1}年度纳税信用级别为A级。",
            legal_basis="《纳税信用管理办法》第二十九条",
            **base,
        )

    def dishonest(self, ent: _Enterprise, base: dict) -> RecordInput:
        rng = self.rng
        dept, prefix, title, reason, basis = rng.choice(
            (
                (
                    "sw",
                    "金税失信",
                    "重大税收违法失信主体",
                    "因偷税被税务机关依法作出行政处罚，偷税数额达到公布标准",
                    "《重大税收违法失信主体信息公布管理办法》第六条",
                ),
                (
                    "rs",
                    "金人社失信",
                    "拖欠农民工工资失信联合惩戒对象名单",
                    "因拖欠农民工工资数额较大，经责令限期支付仍未支付",
                    "《拖欠农民工工资失信联合惩戒对象名单管理暂行办法》第五条",
                ),
                (
                    "scjg",
                    "金市监失信",
                    "严重违法失信名单",
                    "因被列入经营异常名录届满3年仍未履行相关义务",
                    "《市场监督管理严重违法失信名单管理办法》第十三条",
                ),
            )
        )
        decision = self.decision_date()
        return RecordInput(
            department_id=self.dept_ids[dept],
            category=RecordCategory.DISHONEST_LIST,
            decision_number=self.number(prefix, decision.year),
            decision_date=decision,
            received_date=self.received_date(decision),
            valid_until=decision + relativedelta(years=3) if rng.random() < 0.6 else None,
            title=f"列入{title}（严重失信主体名单）",
            facts=f"{ent.name}{reason}，依法列入{title}。",
            legal_basis=basis,
            **base,
        )

    def abnormal(self, ent: _Enterprise, base: dict) -> RecordInput:
        rng = self.rng
        reason, basis = rng.choice(
            (
                ("未按照规定期限公示年度报告", "《市场主体登记管理条例实施细则》第七十一条"),
                ("通过登记的住所或者经营场所无法联系", "《企业经营异常名录管理暂行办法》第十条"),
                ("公示企业信息隐瞒真实情况、弄虚作假", "《企业信息公示暂行条例》第十八条"),
            )
        )
        decision = self.decision_date()
        return RecordInput(
            department_id=self.dept_ids["scjg"],
            category=RecordCategory.ABNORMAL_OPERATION,
            decision_number=self.number("金市监经异", decision.year),
            decision_date=decision,
            received_date=self.received_date(decision),
            valid_until=decision + dt.timedelta(days=rng.randint(60, 900)) if rng.random() < 0.5 else None,
            title="列入经营异常名录",
            violation_type=reason,
            facts=f"{ent.name}{reason}，依法列入经营异常名录。",
            legal_basis=basis,
            **base,
        )

    def court_defaulter(self, base: dict, legal_rep: str | None) -> RecordInput:
        rng = self.rng
        court = _SPECS[rng.choice(COURTS)]
        decision = self.decision_date()
        amount = decimal.Decimal(rng.randint(20, 5000) * 1000)
        case = self.case_number(court, decision.year - (1 if rng.random() < 0.3 else 0))
        return RecordInput(
            department_id=self.dept_ids[court.code],
            category=RecordCategory.COURT_DEFAULTER,
            decision_number=case,
            decision_date=decision,
            received_date=self.received_date(decision),
            valid_until=decision + relativedelta(years=2) if rng.random() < 0.5 else None,
            title="失信被执行人",
            violation_type=rng.choice(
                ("有履行能力而拒不履行生效法律文书确定义务", "违反财产报告制度", "违反限制消费令")
            ),
            facts=f"依据{case}民事判决书，应履行给付义务人民币{amount:,.0f}元，未履行。",
            legal_basis="《最高人民法院关于公布失信被执行人名单信息的若干规定》第一条",
            **base,
        )

    def commitment(self, ent: _Enterprise, base: dict) -> RecordInput:
        rng = self.rng
        decision = self.decision_date(spread="recent")
        kind = rng.choice(("审批替代型", "主动公示型", "行业自律型"))
        return RecordInput(
            department_id=self.dept_ids["fgw"],
            category=RecordCategory.COMMITMENT,
            decision_number=self.number("金发改信承", decision.year),
            decision_date=decision,
            received_date=self.received_date(decision),
            valid_until=decision + relativedelta(years=1),
            title=f"信用承诺（{kind}）",
            facts=f"{ent.name}承诺所提交材料真实有效，依法诚信经营，违背承诺自愿接受惩戒。",
            legal_basis="《国务院办公厅关于加快推进社会信用体系建设构建以信用为基础的新型监管机制的指导意见》",
            **base,
        )

    def person_records(self) -> list[RecordInput]:
        rng = self.rng
        number = self.id_number()
        name = self.person_name()
        records = []
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.2:
                records.append(self.court_defaulter({"id_number": number, "subject_name": name}, None))
            else:
                violation = rng.choice(PERSON_VIOLATIONS)
                records.append(self.penalty(violation, name, None, id_number=number))
        return records


_SPECS = {spec.code: spec for spec in DEPARTMENTS}


def _chunked(items: Iterator[tuple[_Enterprise | None, list[RecordInput]]], size: int):
    chunk: list[RecordInput] = []
    enterprises: list[_Enterprise] = []
    for ent, records in items:
        chunk.extend(records)
        if ent is not None:
            enterprises.append(ent)
        if len(chunk) >= size:
            yield enterprises, chunk
            chunk, enterprises = [], []
    if chunk:
        yield enterprises, chunk


_SUBJECT_DETAILS = (
    sa.update(Subject.__table__)
    .where(Subject.__table__.c.uscc == sa.bindparam("b_uscc"))
    .values(
        address=sa.bindparam("b_address"),
        established_on=sa.bindparam("b_established"),
        registration_authority=sa.bindparam("b_authority"),
    )
)


def generate_demo_data(
    actor: Actor,
    *,
    enterprises: int,
    seed: int,
    records_per_enterprise: int = 10,
    today: dt.date | None = None,
    settings: Settings | None = None,
    chunk_size: int = CHUNK_RECORDS,
    progress: bool = True,
) -> DemoSummary:
    """Create departments, demo staff, enterprises, persons and records. Flushes, never commits."""
    today = today or dt.date.today()
    settings = settings or current_app.extensions["settings"]
    departments = {
        spec.code: create_department(
            actor,
            code=spec.code,
            name=spec.name,
            uscc=spec.uscc,
            abbreviation=spec.abbreviation,
            registers_subjects=spec.registers_subjects,
        ).id
        for spec in DEPARTMENTS
    }
    staff = create_demo_accounts(actor)
    calendar = load_calendar()
    writer = RecordWriter(
        calendar, PublicityRules.from_settings(settings), timely_days=settings.DOUBLE_PUBLICITY_WORKING_DAYS
    )
    gen = DemoGenerator(seed, today, departments, calendar, records_per_enterprise)
    persons = max(3, enterprises // 20)

    def stream():
        for _ in range(enterprises):
            ent = gen.enterprise()
            yield ent, gen.enterprise_records(ent)
        for _ in range(persons):
            yield None, gen.person_records()

    bar = tqdm(
        total=enterprises * records_per_enterprise + persons * 2,
        unit=" rec",
        desc="demo-data",
        disable=not progress,
        mininterval=0.5,
    )
    total = 0
    for chunk_enterprises, chunk in _chunked(stream(), chunk_size):
        writer.write(chunk)
        if chunk_enterprises:
            db.session.execute(
                _SUBJECT_DETAILS,
                [
                    {
                        "b_uscc": e.uscc,
                        "b_address": e.address,
                        "b_established": e.established,
                        "b_authority": AREAS[e.area]["authority"],
                    }
                    for e in chunk_enterprises
                ],
            )
        total += len(chunk)
        bar.update(len(chunk))
    bar.close()
    expire_records(today)

    summary = DemoSummary(
        departments=len(departments), enterprises=enterprises, natural_persons=persons, records=total, staff=staff
    )
    for category, count in db.session.execute(
        sa.select(CreditRecord.category, sa.func.count()).group_by(CreditRecord.category)
    ):
        summary.by_category[category.value] = count
    for tier, count in db.session.execute(
        sa.select(CreditRecord.tier, sa.func.count()).where(CreditRecord.tier.is_not(None)).group_by(CreditRecord.tier)
    ):
        summary.by_tier[tier.value] = count
    summary.expired = db.session.scalar(
        sa.select(sa.func.count()).select_from(CreditRecord).where(CreditRecord.status == RecordStatus.EXPIRED)
    )
    summary.late = db.session.scalar(
        sa.select(sa.func.count()).select_from(CreditRecord).where(CreditRecord.is_timely.is_(False))
    )
    record_event(
        actor,
        "demo.generate",
        details={
            "seed": seed,
            "today": today,
            "enterprises": enterprises,
            "natural_persons": persons,
            "records": total,
        },
    )
    return summary


def create_demo_accounts(actor: Actor) -> list[str]:
    """The three documented demo accounts (skipping usernames that already exist)."""
    existing = set(db.session.scalars(sa.select(StaffUser.username)))
    created = []
    for account in DEMO_ACCOUNTS:
        if account.username in existing:
            continue
        department = None
        if account.department_code:
            department = db.session.scalar(sa.select(Department).where(Department.code == account.department_code))
        user = StaffUser(
            username=account.username, display_name=account.display_name, role=account.role, department=department
        )
        user.set_password(account.password)
        db.session.add(user)
        db.session.flush()
        record_event(actor, "staff.create", target=user, details={"role": account.role.value, "demo": True})
        created.append(account.username)
    return created


# --------------------------------------------------------------------------------------------
# CLI.
# --------------------------------------------------------------------------------------------
def _refuse_in_production() -> None:
    if current_app.extensions["settings"].is_production:
        raise click.ClickException("生产环境禁止生成演示数据或演示账号（ENV=production）。")


def register(group) -> None:
    @group.command("demo-data")
    @click.option("--enterprises", type=click.IntRange(min=1), default=2000, show_default=True)
    @click.option("--seed", type=int, default=2026, show_default=True)
    @click.option("--records-per-enterprise", type=click.IntRange(min=1), default=10, show_default=True)
    @click.option("--if-empty", is_flag=True, help="do nothing if any department exists")
    @click.option(
        "--today",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="anchor day for all dates (default: today), to reproduce a data set on another day",
    )
    @click.option("--quiet", is_flag=True, help="no progress bar")
    def demo_data_command(
        enterprises: int, seed: int, records_per_enterprise: int, if_empty: bool, today: dt.datetime | None, quiet: bool
    ) -> None:
        """Generate deterministic demo data for Jinchang (refused in production)."""
        _refuse_in_production()
        if db.session.scalar(sa.select(sa.func.count()).select_from(Department)):
            if if_empty:
                click.echo("database already has departments: demo data not generated (--if-empty)")
                return
            raise click.ClickException("数据库中已有部门数据：演示数据只能写入空数据库（或使用 --if-empty 跳过）。")
        try:
            summary = generate_demo_data(
                Actor.cli("demo-data"),
                enterprises=enterprises,
                seed=seed,
                records_per_enterprise=records_per_enterprise,
                today=today.date() if today else None,
                progress=not quiet,
            )
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        click.echo(
            f"demo data: {summary.departments} departments, {summary.enterprises} enterprises, "
            f"{summary.natural_persons} natural persons, {summary.records} records "
            f"({summary.expired} expired, {summary.late} received late)"
        )
        click.echo("  by category: " + ", ".join(f"{k}={v}" for k, v in sorted(summary.by_category.items())))
        click.echo("  penalties by tier: " + ", ".join(f"{k}={v}" for k, v in sorted(summary.by_tier.items())))

    @group.command("demo-accounts")
    def demo_accounts_command() -> None:
        """Print the demo staff accounts and their passwords (refused in production)."""
        _refuse_in_production()
        existing = set(db.session.scalars(sa.select(StaffUser.username)))
        click.echo("  demo staff accounts (demo only, never in production):")
        for account in DEMO_ACCOUNTS:
            scope = f" {account.department_code}" if account.department_code else ""
            missing = "" if account.username in existing else "  (not created yet: run demo-data)"
            click.echo(
                f"    {account.username:<9} password {account.password:<17} {account.role.value}{scope}{missing}"
            )
        click.echo("  every account enrols a TOTP second factor at first login")
