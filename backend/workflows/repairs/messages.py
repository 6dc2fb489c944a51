"""Chinese texts of the credit repair workflow (信用修复), including the eligibility answers."""

from __future__ import annotations

OUTCOME_LABELS = {"approved": "准予修复", "rejected": "不予修复"}

ELIGIBLE = (
    "符合申请信用修复的条件：请上传履行法定义务的证明材料（如罚款缴纳凭证、整改完成证明），并签署信用修复承诺书。"
)
NOT_NEGATIVE = "该信息不属于失信信息，无需申请信用修复。"
MINOR_UNPUBLISHED = "该信息为轻微违法行政处罚信息，依规不予公示，无需申请信用修复。"
TOO_EARLY = "该信息的最短公示期尚未届满：自 {date} 起可申请信用修复。"
EXPIRED = "该信息公示期已届满，已自动停止公示，无需申请信用修复。"
UNDER_OBJECTION = "该信息正在异议处理中，请待异议办结后再申请信用修复。"
ALREADY_REPAIRED = "该信息已完成信用修复。"
WITHDRAWN = "该信息已撤销，无需申请信用修复。"
OPEN_APPLICATION = "该信息已有正在办理的信用修复申请（查询码 {number}），请勿重复提交。"
NOT_REPAIRABLE = "该类信息不适用信用修复：{basis}"

# Why a category cannot be repaired here (keys: record_category values). The list of categories
# is the setting REPAIR_NON_REPAIRABLE_CATEGORIES; a category without its own text gets GENERIC.
NON_REPAIRABLE_BASIS = {
    "court_defaulter": (
        "失信被执行人信息由人民法院依法认定、纳入和删除（《最高人民法院关于公布失信被执行人名单信息的若干规定》），"
        "不属于本平台信用修复范围。履行生效法律文书确定的义务后，请向作出决定的人民法院申请删除。"
    ),
    "criminal_judgement": "刑事判决信息依法不属于信用修复范围。",
}
NON_REPAIRABLE_GENERIC = "法律、法规或党中央、国务院政策文件规定该类信息不可修复。"

FULFILMENT_REQUIRED = "请上传履行法定义务的证明材料（如罚款缴纳凭证、整改完成证明）"
OPEN_OBJECTION = "该信息已有正在办理的异议申请（查询码 {number}），请待异议办结后再申请信用修复"
