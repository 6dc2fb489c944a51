"""Chinese texts of the objection workflow (异议申诉)."""

from __future__ import annotations

GROUND_LABELS = {
    "inaccurate": "信息有误",
    "incomplete": "信息遗漏",
    "duplicated": "信息重复",
    "beyond_period": "超过公示期限仍在公示",
    "inconsistent": "与认定单位的原始信息不一致",
    "other": "其他",
}
OUTCOME_LABELS = {"confirmed": "维持原记录", "corrected": "更正记录", "deleted": "删除记录"}

STATEMENT_ACTION = "提出异议"
CORRECTIONS_REQUIRED = "更正记录须列明更正的字段及更正后的内容"
CORRECTIONS_ONLY_FOR_CORRECT = "只有“更正记录”的决定才能填写更正内容"
CORRECTION_FIELD_UNKNOWN = "以下字段不能通过异议更正：{fields}"
CORRECTION_VALUE_INVALID = "更正字段“{field}”的值无效"
CORRECTION_NO_CHANGE = "更正后的内容与原记录相同，如无需更正请选择“维持原记录”"
CORRECTION_TIER_NOT_PENALTY = "只有行政处罚信息才有处罚等级"

FIELD_LABELS = {
    "tier": "处罚等级",
    "decision_date": "决定日期",
    "publicity_end_date": "公示截止期",
    "valid_until": "有效期至",
    "subject_name": "主体名称",
    "legal_representative": "法定代表人",
    "title": "事项名称",
    "violation_type": "违法行为类型",
    "facts": "违法事实",
    "legal_basis": "处罚依据",
    "penalty_category": "处罚类别",
    "penalty_content": "处罚内容",
    "fine_amount": "罚款金额",
}
