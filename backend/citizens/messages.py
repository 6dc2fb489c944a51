"""Texts of the citizens domain a citizen or a clerk reads, in one place (both channels show them)."""

from __future__ import annotations

# Identity.
IDENTITY_REQUIRED = "请先完成实名认证（人脸核身）"
FACE_RESULT_INVALID = "人脸核身结果无效或已过期，请重新核身"
FACE_RESULT_USED = "该人脸核身结果已使用，请重新核身"
ALREADY_BOUND_OTHER = "该微信账号已绑定其他实名身份，如需变更请到信用服务窗口办理"
ID_NUMBER_INVALID = "身份证号码无效：{reason}"
NAME_INVALID = "请填写与身份证一致的姓名"

# Enterprises.
ENTERPRISE_NOT_FOUND = "未找到该企业，请核对统一社会信用代码"
NOT_LEGAL_REPRESENTATIVE = "您的身份证号码与该企业登记的法定代表人证件号码不一致，请上传授权委托书"
REPRESENTATIVE_ID_UNKNOWN = "登记机关尚未报送该企业法定代表人的证件号码，暂不能按法定代表人绑定，请上传授权委托书"
BINDING_SUSPENDED_NAME_ONLY = (
    "平台已改为按身份证号码核验法定代表人，该绑定仅凭姓名一致建立，已暂停。"
    "请上传授权委托书重新绑定，或待登记机关报送法定代表人证件号码后重新绑定。"
)
BINDING_SUSPENDED_REPRESENTATIVE_CHANGED = (
    "登记机关报送的该企业法定代表人已不是您，绑定已暂停。如仍需代企业办理，请上传授权委托书。"
)
LETTER_REQUIRED = "请上传加盖企业公章的授权委托书"
LETTER_NOT_AUTHORISATION = "所选材料不是授权委托书，请上传时选择“授权委托书”"
BINDING_EXISTS = "您已绑定或正在申请绑定该企业"
BINDING_NOT_FOUND = "未找到该企业绑定"
BINDING_REVIEWED = "该绑定申请已处理"
REVIEW_FORBIDDEN = "只有平台管理员可以审核企业授权"
REJECT_REASON_REQUIRED = "驳回须填写理由"
NOT_REPRESENTATIVE = "您尚未获得该企业的授权，不能代其办理"
LETTER_FORBIDDEN = "只有平台管理员和审计人员可以查看授权委托书"
LETTER_MISSING = "授权委托书文件无法打开，请联系平台管理员"

# Records, cases, reports.
RECORD_NOT_FOUND = "未找到该信用记录"
CASE_NOT_FOUND = "未找到该申请"
REPORT_NOT_FOUND = "未找到该报告"

# Kiosk sign-in tickets.
TICKET_INVALID = "二维码无效或已过期，请在自助终端上刷新二维码后重新扫描"
TICKET_USED = "该二维码已使用，请在自助终端上刷新二维码"
