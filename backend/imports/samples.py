"""Sample files of the 2021 national 双公示 templates, as departments export them.

Four templates (行政处罚 / 行政许可, each for 法人及非法人组织 and for 自然人) with every column of
the standard, in the encodings and forms departments send: CSV in UTF-8 with a BOM, UTF-8
without one, GB18030, and XLSX with a title line above the header; full-width parentheses in
some headers, half-width in others. The console offers them for download
(``/admin/imports/samples/<name>``) and ``tests/fixtures/national_templates/make_samples.py``
writes the same bytes into the test fixtures, so what a clerk downloads is what the tests import.

The data source (数据来源单位) is the demo's 市市场监管局; the deciding authorities are county
bureaus and a 综合执法 team that are not departments of the platform.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from ..identifiers import id_number_with_check, org_code_check_char, uscc_with_check


def _gov_uscc(area: str, body: str) -> str:
    return uscc_with_check("11" + area + body + org_code_check_char(body))


def _ent_uscc(area: str, body: str) -> str:
    return uscc_with_check("91" + area + body + org_code_check_char(body))


SOURCE_NAME = "市市场监管局"
SOURCE_USCC = _gov_uscc("620300", "MB1N6725")  # the demo's scjg (backend/demo.py DEPARTMENTS)
COUNTY_BUREAU = ("金昌市金川区市场监督管理局", _gov_uscc("620302", "MB1N7001"))
YONGCHANG_BUREAU = ("永昌县市场监督管理局", _gov_uscc("620321", "MB1N7002"))
ENFORCEMENT_TEAM = ("金昌市金川区综合行政执法局", _gov_uscc("620302", "MB1N7003"))

CODE_COLUMNS = (
    "行政相对人代码_1（统一社会信用代码）",
    "行政相对人代码_2（工商注册号）",
    "行政相对人代码_3（组织机构代码）",
    "行政相对人代码_4（税务登记号）",
    "行政相对人代码_5（事业单位证书号）",
    "行政相对人代码_6（社会组织登记证号）",
)
REPRESENTATIVE_COLUMNS = ("法定代表人", "法定代表人证件类型", "法定代表人证件号码")
PENALTY_COLUMNS = (
    "行政处罚决定书文号", "违法行为类型", "违法事实", "处罚依据", "处罚类别", "处罚内容", "罚款金额（万元）",
    "没收违法所得、没收非法财物的金额（万元）", "暂扣或吊销证照名称及编号", "处罚决定日期", "处罚有效期", "公示截止期",
    "处罚机关", "处罚机关统一社会信用代码", "数据来源单位", "数据来源单位统一社会信用代码", "备注",
)  # fmt: skip
LICENCE_COLUMNS = (
    "行政许可决定文书名称", "行政许可决定文书号", "许可类别", "许可证书名称", "许可编号", "许可内容", "许可决定日期",
    "有效期自", "有效期至", "许可机关", "许可机关统一社会信用代码", "当前状态", "数据来源单位",
    "数据来源单位统一社会信用代码", "备注",
)  # fmt: skip
LEGAL_HEAD = ("行政相对人名称", "行政相对人类别", *CODE_COLUMNS, *REPRESENTATIVE_COLUMNS, "证件类型", "证件号码")
NATURAL_HEAD = ("行政相对人名称", "行政相对人类别", "证件类型", "证件号码")


@dataclass(frozen=True)
class Sample:
    name: str  # file name
    label: str  # what the console shows
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    form: str  # "csv-bom", "csv", "csv-gb18030", "xlsx"
    half_width: bool = False  # write the header's parentheses half-width

    def content(self) -> bytes:
        header = [h.replace("（", "(").replace("）", ")") if self.half_width else h for h in self.header]
        if self.form == "xlsx":
            return _xlsx(self.label, header, self.rows)
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(self.rows)
        text = out.getvalue()
        encoding = {"csv-bom": "utf-8-sig", "csv": "utf-8", "csv-gb18030": "gb18030"}[self.form]
        return text.encode(encoding)

    @property
    def mimetype(self) -> str:
        if self.form == "xlsx":
            return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return "text/csv"


def _xlsx(title: str, header: list[str], rows) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "数据"
    sheet.append([title])  # a title line above the header, as exported templates have
    sheet.append(header)
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _penalty(decision: str, kind: str, content: str, fine: str, day: str, authority: tuple[str, str], **extra) -> dict:
    return {
        "行政处罚决定书文号": decision,
        "违法行为类型": extra.get("violation", "未按规定公示年度报告"),
        "违法事实": extra.get("facts", "经查，当事人未按规定报送年度报告。"),
        "处罚依据": extra.get("basis", "《企业信息公示暂行条例》第十条"),
        "处罚类别": kind,
        "处罚内容": content,
        "罚款金额（万元）": fine,
        "没收违法所得、没收非法财物的金额（万元）": extra.get("confiscated", ""),
        "暂扣或吊销证照名称及编号": extra.get("suspended", ""),
        "处罚决定日期": day,
        "处罚有效期": extra.get("valid", ""),
        "公示截止期": extra.get("end", ""),
        "处罚机关": authority[0],
        "处罚机关统一社会信用代码": authority[1],
        "数据来源单位": SOURCE_NAME,
        "数据来源单位统一社会信用代码": SOURCE_USCC,
        "备注": extra.get("remarks", ""),
    }


def _legal_identity(name: str, uscc: str, representative: str, rep_id: str, **codes: str) -> dict:
    return {
        "行政相对人名称": name,
        "行政相对人类别": "法人及非法人组织",
        CODE_COLUMNS[0]: uscc,
        CODE_COLUMNS[1]: codes.get("registration", ""),
        CODE_COLUMNS[2]: codes.get("organisation", ""),
        CODE_COLUMNS[3]: "",
        CODE_COLUMNS[4]: "",
        CODE_COLUMNS[5]: "",
        "法定代表人": representative,
        "法定代表人证件类型": "身份证",
        "法定代表人证件号码": rep_id,
        "证件类型": "",
        "证件号码": "",
    }


def _natural_identity(name: str, id_number: str) -> dict:
    return {"行政相对人名称": name, "行政相对人类别": "自然人", "证件类型": "身份证", "证件号码": id_number}


def _rows(header: tuple[str, ...], dicts: list[dict]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(d.get(h, "") for h in header) for d in dicts)


ENTERPRISES = (
    (
        "金昌市金川区宏达建材有限公司",
        _ent_uscc("620302", "MA71HD01"),
        "王建国",
        id_number_with_check("62030219750312001"),
    ),
    (
        "永昌县骊靬食品有限责任公司",
        _ent_uscc("620321", "MA71LJ02"),
        "李秀兰",
        id_number_with_check("62032119800521002"),
    ),
    ("金昌金川源泰商贸有限公司", _ent_uscc("620302", "62030211"), "赵志强", id_number_with_check("62030219681105003")),
)
PERSONS = (
    ("张伟", id_number_with_check("62030219900307251")),
    ("刘芳", id_number_with_check("62032119850612002")),
)


def _penalty_legal() -> Sample:
    header = LEGAL_HEAD + PENALTY_COLUMNS
    (n1, u1, r1, i1), (n2, u2, r2, i2), (n3, u3, r3, i3) = ENTERPRISES
    dicts = [
        {
            **_legal_identity(n1, u1, r1, i1),
            **_penalty(
                "金区市监罚〔2026〕101号", "罚款", "处罚款人民币伍仟元", "0.5", "2026-03-02",
                COUNTY_BUREAU, valid="2026-09-01", end="2027-03-01",
            ),
        },
        {
            **_legal_identity(n2, u2, r2, i2),
            **_penalty(
                "永市监罚〔2026〕57号", "没收违法所得、罚款", "没收违法所得人民币壹万贰仟元，并处罚款人民币叁万元", "3",
                "2026-04-15", YONGCHANG_BUREAU, confiscated="1.2", violation="生产经营不符合食品安全标准的食品",
                facts="经查，当事人生产的食品经抽检不合格。", basis="《中华人民共和国食品安全法》第一百二十四条",
            ),
        },
        {
            **_legal_identity(n3, u3, r3, i3, registration="620302000012345", organisation="62030211-X"),
            **_penalty(
                "金区综执罚〔2026〕8号", "警告", "给予警告", "", "2026-05-06", ENFORCEMENT_TEAM,
                violation="占道经营", facts="经查，当事人在店外占道摆放商品。",
                basis="《城市市容和环境卫生管理条例》第三十六条", remarks="简易程序",
            ),
        },
        {
            **_legal_identity(n1, u1, r1, i1),
            **_penalty(
                "金区市监罚〔2026〕140号", "罚款、吊销营业执照", "处罚款人民币贰拾万元，吊销营业执照", "20",
                "2026-06-10", COUNTY_BUREAU, suspended=f"营业执照 {u1}", valid="长期", end="2029-06-09",
                violation="销售伪劣产品", facts="经查，当事人销售以次充好的建材。",
                basis="《中华人民共和国产品质量法》第五十条",
            ),
        },
    ]  # fmt: skip
    return Sample(
        "行政处罚_法人及非法人组织.csv",
        "行政处罚（法人及非法人组织），CSV UTF-8 带 BOM",
        header,
        _rows(header, dicts),
        "csv-bom",
    )


def _penalty_natural() -> Sample:
    header = NATURAL_HEAD + PENALTY_COLUMNS
    (p1, i1), (p2, i2) = PERSONS
    dicts = [
        {
            **_natural_identity(p1, i1),
            **_penalty(
                "金区市监罚〔2026〕201号", "罚款", "处罚款人民币贰仟元", "0.2", "2026-03-20", COUNTY_BUREAU,
                violation="无照经营", facts="经查，当事人未取得营业执照从事经营活动。",
                basis="《无证无照经营查处办法》第十三条",
            ),
        },
        {
            **_natural_identity(p2, i2),
            **_penalty(
                "金区综执罚〔2026〕15号", "警告", "给予警告（简易程序）", "", "2026-07-01", ENFORCEMENT_TEAM,
                violation="占道经营", facts="经查，当事人占道摆摊。", basis="《城市市容和环境卫生管理条例》第三十六条",
            ),
        },
    ]  # fmt: skip
    return Sample(
        "行政处罚_自然人.csv",
        "行政处罚（自然人），CSV GB18030",
        header,
        _rows(header, dicts),
        "csv-gb18030",
    )


def _licence(
    document: str, number: str, kind: str, certificate: str, licence_no: str, content: str, day: str,
    start: str, end: str, authority: tuple[str, str], status: str, remarks: str = "",
) -> dict:  # fmt: skip
    return {
        "行政许可决定文书名称": document,
        "行政许可决定文书号": number,
        "许可类别": kind,
        "许可证书名称": certificate,
        "许可编号": licence_no,
        "许可内容": content,
        "许可决定日期": day,
        "有效期自": start,
        "有效期至": end,
        "许可机关": authority[0],
        "许可机关统一社会信用代码": authority[1],
        "当前状态": status,
        "数据来源单位": SOURCE_NAME,
        "数据来源单位统一社会信用代码": SOURCE_USCC,
        "备注": remarks,
    }


def _licence_legal() -> Sample:
    header = LEGAL_HEAD + LICENCE_COLUMNS
    (n1, u1, r1, i1), (n2, u2, r2, i2), (n3, u3, r3, i3) = ENTERPRISES
    dicts = [
        {
            **_legal_identity(n2, u2, r2, i2),
            **_licence(
                "食品经营许可决定书", "永市监许〔2026〕12号", "普通", "食品经营许可证", "JY16203210001234",
                "预包装食品销售", "2026-02-10", "2026-02-10", "2031-02-09", YONGCHANG_BUREAU, "有效",
            ),
        },
        {
            **_legal_identity(n1, u1, r1, i1),
            **_licence(
                "建筑业企业资质许可决定书", "金区市监许〔2025〕88号", "普通", "建筑业企业资质证书", "D362030012",
                "建筑工程施工总承包三级", "2025-08-01", "2025-08-01", "2030-07-31", COUNTY_BUREAU, "撤销",
                remarks="以欺骗手段取得，依法撤销",
            ),
        },
        {
            **_legal_identity(n3, u3, r3, i3),
            **_licence(
                "食品经营许可决定书", "金区市监许〔2024〕31号", "普通", "食品经营许可证", "JY16203020004321",
                "散装食品销售", "2024-05-20", "2024-05-20", "2029-05-19", COUNTY_BUREAU, "注销",
            ),
        },
        {
            **_legal_identity(n1, u1, r1, i1),
            **_licence(
                "户外广告设置许可决定书", "金区综执许〔2026〕3号", "普通", "户外广告设置许可证", "HW2026003",
                "门头广告牌设置", "2026-01-15", "2026-01-15", "2027-01-14", ENFORCEMENT_TEAM, "吊销",
            ),
        },
        {
            **_legal_identity(n2, u2, r2, i2),
            **_licence(
                "排污许可决定书", "永市监许〔2025〕40号", "普通", "排污许可证", "91620321PW0001",
                "废水排放", "2025-03-01", "2025-03-01", "长期", YONGCHANG_BUREAU, "撤回",
            ),
        },
    ]  # fmt: skip
    return Sample(
        "行政许可_法人及非法人组织.xlsx",
        "行政许可（法人及非法人组织），Excel（首行为标题）",
        header,
        _rows(header, dicts),
        "xlsx",
        half_width=True,
    )


def _licence_natural() -> Sample:
    header = NATURAL_HEAD + LICENCE_COLUMNS
    (p1, i1), (p2, i2) = PERSONS
    dicts = [
        {
            **_natural_identity(p1, i1),
            **_licence(
                "小餐饮登记决定书", "金区市监许〔2026〕301号", "普通", "小餐饮经营许可证", "XCY2026301",
                "小餐饮经营", "2026-04-01", "2026-04-01", "2029-03-31", COUNTY_BUREAU, "有效",
            ),
        },
        {
            **_natural_identity(p2, i2),
            **_licence(
                "食品摊贩登记决定书", "金区市监许〔2025〕77号", "普通", "食品摊贩登记卡", "SPTF2025077",
                "食品摊贩经营", "2025-06-01", "2025-06-01", "2026-05-31", COUNTY_BUREAU, "注销",
            ),
        },
    ]  # fmt: skip
    return Sample(
        "行政许可_自然人.csv",
        "行政许可（自然人），CSV UTF-8 无 BOM",
        header,
        _rows(header, dicts),
        "csv",
        half_width=True,
    )


SAMPLES: dict[str, Sample] = {
    s.name: s for s in (_penalty_legal(), _penalty_natural(), _licence_legal(), _licence_natural())
}
