"""Every text a citizen, relying party or clerk reads about issued reports, in one place."""

from __future__ import annotations

from reports.content import ReportKind

from .models import ReportStatus

TAG = "报告核验"

KIND_LABELS = {
    ReportKind.ENTERPRISE: "法人和非法人组织公共信用信息报告",
    ReportKind.PERSONAL: "个人公共信用信息报告",
    ReportKind.SPECIAL: "专项信用报告（有无违法违规记录证明版）",
}
STATUS_LABELS = {
    ReportStatus.VALID: "有效",
    ReportStatus.EXPIRED: "已过期",
    ReportStatus.REVOKED: "已撤销",
}

# Issuing.
SUBJECT_NOT_FOUND = "未找到该信用主体"
KIND_INVALID = "报告种类无效"
KIND_NOT_FOR_SUBJECT = "该信用主体不能出具此类报告：{kind}仅适用于{who}"
NOT_ALLOWED_PERSONAL = "个人公共信用信息报告仅限本人申请；窗口办理须核验本人身份证件并填写核验情况"
NOT_ALLOWED_SPECIAL = "专项信用报告须由该主体的法定代表人、授权代理人或本人申请，或在信用服务窗口核验身份后办理"
IDENTITY_CHECK_REQUIRED = "窗口出具个人报告或专项报告，须填写身份核验情况（如：已核验本人身份证原件）"
YEARS_INVALID = "专项信用报告的查询期限须为 1 至 {max} 年"
DOMAINS_INVALID = "不支持的专项报告领域：{domains}"
SIGNING_FAILED = "报告签章失败，请稍后再试"
PERSONAL_CODE_NOTE = "为保护个人信息，报告中的身份证号码仅显示前四位和后四位。"
ENTERPRISE_NOTE = "本报告仅包含处于公示期内的公共信用信息；已修复、已撤销或公示期满的信息不予展示。"
PERSONAL_NOTE = "本报告为信息主体本人查询，包含不予公开的信息，请妥善保管。"
SPECIAL_NOTE = (
    "本报告覆盖所选期限内的行政处罚（含简易程序）、行政强制、严重失信主体名单、刑事判决等领域，"
    "不能证明该主体在本平台未归集的领域没有记录。"
)
# 发改财金〔2025〕565号: criminal records come from public security through the national platform.
SPECIAL_PERSON_NOTE = "本报告不是无犯罪记录证明；无犯罪记录证明须向公安机关申请。"
COVERAGE_NOTE = "各类信息的提供单位、归集起始日期和最近归集时间见“信息归集情况”；数据截止时间为报告出具时间。"
# An empty domain (issue 16 item 12): 无 only where a feed covers the whole period.
NONE_SINCE = "无（本平台自 {date} 起归集此类信息，此前期间未归集）"
SOURCE_COLLECTED = "已归集"
SOURCE_SINCE = "自 {date} 起归集，此前未归集"
# The deciding authority reported through another department (综合执法, county bureaus).
REPORTED_THROUGH = "{authority}（经{department}报送）"
UNDER_OBJECTION_SUFFIX = "（异议处理中）"

# Revoking and downloading.
REPORT_NOT_FOUND = "未找到该报告"
NOT_ALLOWED_REVOKE = "只有平台管理员可以撤销报告"
NOT_ALLOWED_DOWNLOAD = "只有报告主体本人或平台工作人员可以下载该报告"
REVOKE_REASON_REQUIRED = "请填写撤销原因"
REVOKE_REASON_TOO_LONG = "撤销原因不能超过 {limit} 个字"
ALREADY_REVOKED = "该报告已撤销"
RECORD_CHANGED_REASON = {
    "corrected": "报告所载信用记录经异议处理已更正",
    "deleted": "报告所载信用记录经异议处理已删除",
    "repaired": "报告所载信用记录已完成信用修复",
}
RECORD_CHANGED_DEFAULT = "报告所载信用记录已变更"
STORED_FILE_MISSING = "报告文件不可用，请联系平台"

# Verification answers: one per outcome, each distinct (user-facing texts, not secrets).
VERIFY_VALID = "报告真实有效。"
VERIFY_EXPIRED = "报告真实，但已超过有效期（有效期至 {date}），请向报告持有人索取新报告。"
VERIFY_REVOKED = "报告真实，但已于 {date} 撤销。撤销原因：{reason}"
VERIFY_TOKEN_MALFORMED = "二维码内容无法识别：不是本平台报告的核验码，或内容不完整、被改动。"  # noqa: S105
VERIFY_TOKEN_BAD_SIGNATURE = "二维码签名无效：核验码被改动或伪造，该报告不可信。"  # noqa: S105
VERIFY_TOKEN_UNKNOWN_KEY = "二维码由未知的密钥签发：不是本平台出具的报告，该报告不可信。"  # noqa: S105
VERIFY_TOKEN_MISMATCH = "二维码与登记的报告内容不一致，该报告不可信。"  # noqa: S105
VERIFY_UNKNOWN_NUMBER = "平台没有登记该报告编号，该报告不可信。"
VERIFY_CODE_MISMATCH = "报告编号或验证码不正确。"
VERIFY_FILE_CHANGED = "文件已被改动：与平台登记的报告文件不一致，签名校验未通过，内容不可信。"
VERIFY_FILE_CHANGED_UNSIGNED = "文件与平台登记的报告文件不一致，且无有效的平台签章，内容不可信。"
VERIFY_FILE_UNKNOWN = "该文件不是本平台登记的报告文件。"
VERIFY_FILE_UNREADABLE = "无法读取上传的文件，请上传平台出具的 PDF 报告原件。"
VERIFY_FILE_IDENTICAL = "文件与平台登记的报告文件完全一致。"
VERIFY_FILE_SIGNATURE_INVALID = (
    "文件与平台登记记录一致，但平台对登记文件的签名校验未通过：登记记录可能被篡改，该报告不可信，请联系出具机构核实。"
)
VERIFY_INPUT_REQUIRED = "请提供二维码内容（qr）或上传报告 PDF 文件（file）"
VERIFY_FORM_REQUIRED = "请输入报告编号和验证码，或上传报告 PDF 文件"

VERIFY_SUMMARY = "核验信用报告"
VERIFY_DESCRIPTION = (
    '提交扫描到的二维码内容（JSON：{"qr": "..."}）或上传报告 PDF（multipart 字段 file），'
    "返回报告是否真实、状态（valid 有效 / expired 已过期 / revoked 已撤销 / unknown 无法确认）"
    "及原因。signature 字段给出可离线复核的签名信息（密钥编号、令牌内容），"
    "公钥见 /.well-known/credit-report-keys.json。"
    "报告内容（report：种类、日期、信用主体、各类信息条数）仅在凭二维码或平台登记的报告文件本身核验时给出；"
    "上传的文件与登记文件不一致但载有已登记的报告编号时，只在 claimed 中给出该编号及其登记状态。"
)
KEYS_SUMMARY = "报告核验公钥"
KEYS_DESCRIPTION = (
    "用于离线核验报告二维码签名及登记文件签名的公钥，含仍在使用的所有密钥编号：Ed25519（RFC 8037 JWK，alg 为 EdDSA）"
    "与国密 SM2（kty 为 EC、crv 为 SM2、alg 为 SM2-SM3，签名为 r||s，用户身份标识见 sm2_uid）。"
)
CSRF_OR_INPUT_INVALID = "页面已过期或输入有误，请刷新页面后重试"
