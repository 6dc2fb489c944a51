"""Texts of the subject operations (name discrepancies), shown in the console."""

from __future__ import annotations

DISCREPANCY_RESOLVED = "该名称差异已处理"
ONLY_PLATFORM_STAFF = "只有平台管理员可以处理主体名称差异"
RESOLUTION_LABELS = {"accepted": "已采用新名称", "dismissed": "已保留原名称"}

# 重错码 (issue 16 item 14).
ONLY_PLATFORM_STAFF_CODES = "只有平台管理员可以处理重错码"
CODE_ISSUE_RESOLVED = "该重错码问题已处理"
CODE_ISSUE_WRONG_SUBJECT = "所选主体不属于该重错码问题"
NAME_INVALID = "请填写主体名称（不超过 200 个字）"
MERGE_INVALID = "只能合并两个不同的法人和非法人组织主体"
MERGE_ALREADY = "该主体已合并，不能再次合并"
MERGE_CONFLICT = "两个主体的关联数据存在冲突（如同一授权或同一案件），无法自动合并，请先处理冲突数据"
CODE_ISSUE_KIND_LABELS = {
    "name_under_codes": "同名异码（一个名称对应多个统一社会信用代码）",
    "org_code_shared": "重码（两个统一社会信用代码的组织机构代码部分相同）",
    "org_code_mismatch": "错码（报送的组织机构代码与统一社会信用代码第9-17位不符）",
    "registration_number_shared": "重码（同一工商注册号对应多个统一社会信用代码）",
}
CODE_RESOLUTION_LABELS = {"renamed": "已更名", "merged": "已合并", "dismissed": "非重错码"}
