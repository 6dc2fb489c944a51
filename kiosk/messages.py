"""Every text the kiosk shows or answers with, in one place (STYLE.md 20)."""

from __future__ import annotations

from backend.workflows.messages import KIND_LABELS as CASE_KIND_LABELS

SITE_TITLE = "信用金昌 · 自助信用服务"

# Device authentication and state.
DEVICE_CREDENTIAL_MISSING = "终端未认证：缺少终端凭据，请联系大厅工作人员"
DEVICE_CREDENTIAL_INVALID = "终端凭据无效，请联系大厅工作人员"
DEVICE_DISABLED = "本终端暂停服务，请到信用服务窗口办理"
PAUSED_TITLE = "暂停服务"
PAUSED_BODY = "本终端暂停服务。请到信用服务窗口办理，或使用“信用金昌”微信小程序。"

# Sign-in.
SIGN_IN_REQUIRED = "请先登录（刷身份证或微信扫码）"
SESSION_ENDED = "登录已结束，请重新登录"
CARD_NAME_INVALID = "未能读取身份证上的姓名，请重新放置身份证"
CARD_NUMBER_INVALID = "身份证号码读取有误（{reason}），请重新放置身份证"
CARD_EXPIRED = "身份证已过有效期，请使用有效证件或到窗口办理"
FACE_NOT_PASSED = "人脸比对未通过，请正对摄像头重新刷证；多次失败请到窗口办理"
CARD_NAME_MISMATCH = "身份证姓名与已核验的姓名不一致，请到信用服务窗口办理"
READING_INVALID = "读卡数据格式不正确，请重新放置身份证"
READING_SIGNATURE_INVALID = "读卡数据未通过终端签名校验，请联系大厅工作人员"
CHALLENGE_INVALID = "读卡校验码无效或已使用，请重新放置身份证"
CHALLENGE_EXPIRED = "读卡校验码已过期，请重新放置身份证"
DEVICE_KEY_MISSING = "本终端尚未登记设备密钥，暂不能刷证登录，请使用微信扫码或联系大厅工作人员"
DEVICE_KEY_INVALID = "设备公钥格式不正确：须为 Base64 编码的 32 字节 Ed25519 公钥"
DEVICE_KEY_NOT_ENROLLED = "未登记密钥（刷证登录不可用）"
DEVICE_KEY_ENROLLED = "本终端已登记设备密钥；更换终端电脑或密钥须先在管理后台重新签发凭据"
RATE_LIMITED = "本终端操作过于频繁，请稍后再试"
TICKET_WRONG = "二维码无效，请刷新二维码后重新扫描"
SIGNED_OUT = "已退出，个人信息已清除"

# Printing.
FREE_PRINTS_USED = "今日免费打印次数（{limit} 次）已用完，请明天再来或到信用服务窗口办理"
PRINT_JOB_NOT_FOUND = "未找到该打印任务"
PRINT_JOB_TAKEN = "该打印任务已经发送到打印机"
PRINT_JOB_FINISHED = "该打印任务已结束"
PRINT_JOB_NOT_SENT = "该打印任务的文件尚未取走，不能报告打印完成"
PRINT_RESULT_INVALID = "打印结果无效"
REPORT_NOT_ALLOWED = "只能打印本人或本人代表的企业的信用报告"
CASE_NOT_FOUND = "未找到该申请"
RECORD_NOT_FOUND = "未找到该信用记录"

# Printer states, as the citizen and the fleet page read them.
PRINTER_STATES = {
    "ready": "正常",
    "paper_out": "缺纸",
    "jammed": "卡纸",
    "offline": "打印机离线",
    "unknown": "未知",
}
# The printer failed before the document left the platform: the job was cancelled, not counted.
PRINT_FAILED_FOR_CITIZEN = {
    "paper_out": "打印机缺纸，报告未能打印。本次不计入打印次数，请联系大厅工作人员加纸后重试。",
    "jammed": "打印机卡纸，报告未能打印。本次不计入打印次数，请联系大厅工作人员处理后重试。",
    "offline": "打印机暂时无法使用，报告未能打印。本次不计入打印次数，请联系大厅工作人员。",
    "ready": "打印失败，本次不计入打印次数，请稍后重试或联系大厅工作人员。",
    "unknown": "打印失败，本次不计入打印次数，请稍后重试或联系大厅工作人员。",
}
# The document was handed to the printer and the printer says it failed: the platform cannot
# tell a jam from a report taken away, so the print counts; the counter prints it again free.
PRINT_FAILED_AFTER_SENT = {
    "paper_out": "打印机缺纸，报告可能未能完整打印。本次已计入今日免费打印次数，请联系大厅工作人员加纸或到窗口补打。",
    "jammed": "打印机卡纸，报告可能未能完整打印。本次已计入今日免费打印次数，请联系大厅工作人员或到窗口补打。",
    "offline": "打印机暂时无法使用，报告可能未能打印。本次已计入今日免费打印次数，请到信用服务窗口补打。",
    "ready": "打印未完成。本次已计入今日免费打印次数，请联系大厅工作人员或到信用服务窗口补打。",
    "unknown": "打印未完成。本次已计入今日免费打印次数，请联系大厅工作人员或到信用服务窗口补打。",
}

# Console (fleet page).
DEVICE_CODE_INVALID = "终端编号须为 3-32 位大写字母、数字或连字符"
DEVICE_CODE_TAKEN = "终端编号 {code} 已存在"
DEVICE_FIELD_REQUIRED = "请填写{field}"
DEVICE_REGISTERED = "终端 {code} 已登记"
DEVICE_DISABLED_DONE = "终端 {code} 已停用，终端屏幕将显示“暂停服务”"
DEVICE_ENABLED_DONE = "终端 {code} 已启用"
DEVICE_REASON_REQUIRED = "请填写停用原因"

# Objections and repairs at the kiosk.
OBJECTION_GROUNDS = {
    "inaccurate": ("信息有误", "记录的内容与事实不符"),
    "duplicated": ("信息重复", "同一事项被重复记录"),
    "beyond_period": ("超过公示期限", "已超过公示期限仍在公示"),
    "inconsistent": ("与原始决定不一致", "与认定单位的原始决定不一致"),
    "other": ("其他", "其他原因，补充材料将通过微信小程序提交"),
}
KIOSK_STATEMENT = "（自助终端提交）{label}：{detail}。"
REPAIR_STATEMENT = "（自助终端提交）已履行法定责任和义务，申请信用修复。"
REPAIR_PROOF_MISSING = (
    "信用修复需要履行义务的证明材料（如罚款缴纳凭证）。请先在“信用金昌”微信小程序中上传，再回到本终端提交；"
    "也可直接在微信小程序中提交申请。"
)
RECEIPT_TITLES = {"objection": "异议申诉申请回执", "repair": "信用修复申请回执"}
RECEIPT_BODY = (
    "您的{kind}申请已提交，申请编号（查询码）为 {number}。\n"
    "平台将在规定的工作日内完成受理审查，受理后转交认定单位核查。\n"
    "办理进度可凭申请编号在“信用金昌”微信小程序、本终端或信用服务窗口查询；需要补充材料的，请在微信小程序中上传。\n"
    "请妥善保管本回执。"
)
RECEIPT_ISSUER = "信用金昌 公共信用信息服务平台"
KIND_LABELS = CASE_KIND_LABELS  # one wording for every channel (backend/workflows/messages.py)
CHANNEL_KIOSK = "自助服务终端 {code}（{hall}）"
