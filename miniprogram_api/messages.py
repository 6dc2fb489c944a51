"""Every text a citizen reads in the mini-program API, the official account and WeChat messages."""

from __future__ import annotations

# The citizens domain's texts this channel shows itself (the rest: backend/citizens/messages.py).
from backend.citizens.messages import CASE_NOT_FOUND, FACE_RESULT_INVALID, IDENTITY_REQUIRED  # noqa: F401
from backend.workflows.objections.messages import OUTCOME_LABELS as OBJECTION_OUTCOME_LABELS

TAG = "微信小程序"
TAG_DESCRIPTION = (
    "“信用金昌”小程序接口。先用 wx.login 的 code 换取本平台的令牌（Authorization: Bearer <token>），"
    "再通过人脸核身完成实名认证，之后可查看本人信用记录、提出异议、申请信用修复、出具和核验报告。"
)

# Sessions and identity.
TOKEN_MISSING = "请先登录小程序"  # noqa: S105 (user-facing text)
TOKEN_INVALID = "登录已失效，请重新登录"  # noqa: S105
LOGIN_CODE_INVALID = "登录凭证无效或已使用，请重新进入小程序"
WECHAT_UNAVAILABLE = "微信服务暂时不可用，请稍后再试"
WECHAT_NOT_CONFIGURED = "小程序服务尚未开通"
FACE_NOT_PASSED = "人脸核身未通过，请重新核身"
FACE_START_REFUSED = "无法发起人脸核身，请核对姓名和身份证号码后重新核身"
# A WeChat configuration error (48001, 40125 ...): nothing the citizen can do but come back later.
SERVICE_UNAVAILABLE = "服务暂不可用，请稍后再试或到信用服务窗口办理"
# The console banner (operators): see alerts.py.
WECHAT_CONFIG_ALERT = (
    "微信接口配置错误：{api} 返回 errcode {errcode}（{what}），市民无法完成人脸核身等操作。"
    "最近一次：{at}（北京时间）。请检查小程序的 AppID、AppSecret、服务器 IP 白名单和接口权限"
    "（人脸核身 2.0 需在微信公众平台申请开通）。"
)
WECHAT_CONFIG_MISSING = "本平台未配置小程序 AppID 或 AppSecret"

# Enterprises.
BINDING_SUSPENDED_NOTE = "请进入小程序重新绑定"
BINDING_TYPE_LABEL = "企业绑定"
BINDING_SUSPENDED_PHRASE = "已暂停"
BINDING_PENDING = "授权委托书已提交，待平台工作人员审核"

# Records, cases, reports.
REPORT_SUBJECT_REQUIRED = "请填写要出具报告的企业统一社会信用代码"
DOWNLOAD_LINK_INVALID = "下载链接无效或已过期，请重新获取"
DOWNLOAD_LINK_OTHER = "该下载链接不属于当前用户"
VERIFY_INPUT_REQUIRED = "请提供扫描到的二维码内容（qr）或上传报告 PDF 文件（file）"
UPLOAD_REQUIRED = "请选择要上传的文件"

# Kiosk sign-in.


# Subscribe messages (订阅消息): the template purposes the client asks the user to accept.
TEMPLATE_TITLES = {
    "case_progress": "异议/修复办理进度通知",
    "deadline": "办理时限提醒",
    "report_ready": "信用报告出具通知",
}
# Why a message was not sent (shown to staff on the message attempts page).
SKIP_NO_USER = "收件人没有已实名认证的微信用户"
SKIP_NO_TEMPLATE = "未配置“{title}”订阅消息模板"
SKIP_CASE_NOT_FOUND = "案件不存在"
SKIP_REPORT_NOT_FOUND = "报告不存在"
SKIP_REPORT_NOT_VALID = "报告{status}，无需提醒"
SKIP_BINDING_NOT_FOUND = "企业绑定不存在"
SKIP_BINDING_NOT_SUSPENDED = "企业绑定已恢复或已解除，无需通知"
# phrase values: at most 5 Chinese characters (WeChat's rule for "phrase" fields).
ACTION_PHRASES = {
    "accept": "已受理",
    "return": "需补正",
    "decide": "已决定",
    "extend": "已延期",
    "deliver": "已办结",
}
OUTCOME_NOTES = {
    "confirmed": "维持原记录",
    "corrected": "已更正记录",
    "deleted": "已删除记录",
    "approved": "准予信用修复",
    "rejected": "不予信用修复",
}
# A case's page names the decision as the console does for objections, as the notes for repairs
# (the outcomes of the two kinds never share a value).
CASE_OUTCOME_LABELS = {**OUTCOME_NOTES, **OBJECTION_OUTCOME_LABELS}
NOTE_ACCEPT = "预计{deadline}前办结"
NOTE_RETURN = "请按要求补正材料"
NOTE_EXTEND = "办理期限延至{deadline}"
NOTE_DELIVER = "办理完毕，请查看结果"
NOTE_DEFAULT = "请进入小程序查看"
REPORT_READY_NOTE = "报告已出具，请在有效期内使用"
REPORT_EXPIRY_ITEM = "信用报告有效期届满"
REPORT_EXPIRY_NOTE = "如仍需使用，请重新出具报告"
REPORT_REVOKED_ITEM = "信用报告已撤销"
REPORT_REVOKED_NOTE = "报告已失效，如需使用请重新出具"
SKIP_REPORT_NOT_MP = "报告不是在小程序中出具的，无需通知"

# Official account (公众号) replies.
OA_WELCOME = (
    "欢迎关注“信用金昌”！\n"
    "· 发送“查询 企业名称或统一社会信用代码”，查看企业公示信用信息；\n"
    "· 发送“核验 报告编号”，查询信用报告的登记状态；发送“核验 报告编号 验证码”，核验报告内容；\n"
    "· 异议申诉、信用修复、出具信用报告，请使用“信用金昌”小程序。"
)
OA_HELP = (
    "可以这样使用：\n"
    "查询 金昌市某某有限公司\n"
    "查询 91620302MA71XY3Q54\n"
    "核验 JCXY-20260101-XXXXXXXXXX\n"
    "核验 JCXY-20260101-XXXXXXXXXX ABCD-2345\n"
    "更多服务请使用“信用金昌”小程序。"
)
OA_QUERY_EMPTY = "请在“查询”后输入企业名称或统一社会信用代码，例如：查询 金昌市某某有限公司"
OA_QUERY_NONE = "未找到与“{q}”相关的企业。"
OA_QUERY_HEAD = "找到以下企业："
OA_QUERY_LINE = "{name}\n统一社会信用代码：{uscc}"
OA_QUERY_PROFILE = "公示中的信用记录共 {total} 条{details}。"
OA_QUERY_MORE = "还有更多结果，请输入更完整的名称。"
OA_QUERY_LINK = "详情：{url}"
OA_VERIFY_EMPTY = (
    "请在“核验”后输入报告编号，例如：核验 JCXY-20260101-XXXXXXXXXX；"
    "核验报告内容请同时输入报告上的验证码，例如：核验 JCXY-20260101-XXXXXXXXXX ABCD-2345"
)
OA_VERIFY_NONE = "未找到编号为“{number}”的报告，请核对后重新输入。"
# A number alone: registered or not, and the status; nothing about the subject or the content.
OA_VERIFY_STATUS = (
    "报告编号：{number}\n登记状态：{status}\n"
    "仅凭报告编号只能查询登记状态。核验报告内容，请发送“核验 报告编号 验证码”（验证码印在报告上），"
    "或扫描报告上的二维码，或访问：{url}"
)
OA_VERIFY_CODE_MISMATCH = "报告编号或验证码不正确，请核对后重新输入。"
OA_VERIFY_RESULT = (
    "报告编号：{number}\n报告种类：{kind}\n信用主体：{subject}\n出具日期：{issued}\n有效期至：{valid_until}\n"
    "状态：{status}{reason}\n完整核验（含核验码或 PDF 文件）：{url}"
)
OA_CLICK = {
    "QUERY_HELP": "发送“查询 企业名称或统一社会信用代码”即可查看企业的公示信用信息。",
    "VERIFY_HELP": (
        "发送“核验 报告编号”即可查询信用报告的登记状态；发送“核验 报告编号 验证码”可核验报告内容；"
        "也可以用微信扫一扫报告上的二维码。"
    ),
    "CONTACT": "信用服务窗口：金昌市政务服务中心。工作日 9:00-12:00，14:30-17:30。",
}
