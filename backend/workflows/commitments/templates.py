"""Commitment letter templates (承诺书), one per kind, Chinese text with ``$placeholders``.

Changing a text means a new ``version``: signed commitments keep the version and the exact text
they were signed with, and the hash proves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Template


@dataclass(frozen=True)
class CommitmentTemplate:
    title: str
    version: str
    body: Template


OBJECTION = CommitmentTemplate(
    title="异议申诉信用承诺书",
    version="2026.1",
    body=Template(
        "异议申诉信用承诺书\n\n"
        "申请主体：$subject_name\n"
        "统一社会信用代码/身份证号码：$subject_code\n"
        "异议信息：$record_title（$decision_number，$department_name）\n"
        "申请人：$signer_name（$applicant_kind）\n\n"
        "本人/本单位就上述信用信息提出异议申诉，郑重承诺：\n"
        "一、所提交的申请材料及相关信息真实、准确、完整、有效，不存在虚假记载、误导性陈述或重大遗漏；\n"
        "二、不以恶意申诉、重复申诉等方式干扰信用信息的正常公示；\n"
        "三、积极配合信用平台及认定单位的核查工作，如实说明情况；\n"
        "四、如违反上述承诺，自愿接受相关部门依法依规作出的处理，"
        "违背承诺的情况将作为失信信息记入信用记录。\n\n"
        "承诺人：$signer_name\n"
        "承诺日期：$date\n"
    ),
)

REPAIR = CommitmentTemplate(
    title="信用修复承诺书",
    version="2026.1",
    body=Template(
        "信用修复承诺书\n\n"
        "申请主体：$subject_name\n"
        "统一社会信用代码/身份证号码：$subject_code\n"
        "申请修复的信息：$record_title（$decision_number，$department_name）\n"
        "申请人：$signer_name（$applicant_kind）\n\n"
        "本人/本单位申请对上述失信信息进行信用修复，郑重承诺：\n"
        "一、已经履行行政处罚决定等法定责任和义务，相关违法行为已经纠正、不良影响已经消除；\n"
        "二、所提交的申请材料及相关信息真实、准确、完整、有效；\n"
        "三、今后严格遵守法律法规，依法诚信经营，自觉接受政府、行业组织、社会各界的监督；\n"
        "四、本承诺书将在信用平台公开，接受社会监督；"
        "如违反承诺，自愿接受撤销修复结果、重新公示等处理，并承担相应法律责任。\n\n"
        "承诺人：$signer_name\n"
        "承诺日期：$date\n"
    ),
)
