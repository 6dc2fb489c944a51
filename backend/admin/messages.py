"""Every text of the staff console in one place, so the wording can be reviewed without the logic."""

from __future__ import annotations

import datetime as dt

# Record labels are shared with the API and the reports: re-exported here for the templates.
from ..records.labels import (  # noqa: F401
    CATEGORY_LABELS,
    LICENCE_STATUS_LABELS,
    STATUS_LABELS,
    TIER_DERIVED_MARK,
    TIER_LABELS,
)
from ..staff.models import StaffRole

SITE_TITLE = "信用金昌 · 工作人员控制台"

LOGIN_FAILED = "用户名或密码错误"
LOGGED_OUT = "您已安全退出"
SESSION_EXPIRED = "长时间未操作，会话已过期，请重新登录"
TOTP_FAILED = "动态口令错误或已使用过，请等待下一个口令后重试"
TOTP_ENROLLED = "动态口令绑定成功"
SIGN_IN_AGAIN_AFTER_CHANGE = "密码已修改，所有会话均已退出，请使用新密码重新登录"
SIGNED_OUT_EVERYWHERE = "已退出全部会话，请重新登录"
SESSION_REVOKE_REASONS = {
    "logout": "退出登录",
    "password_changed": "修改密码",
    "signed_out_everywhere": "本人退出全部会话",
    "revoked_by_admin": "管理员强制退出",
    "renewed": "登录步骤更新",
    "locked": "账户锁定",
    "totp_reset": "动态口令重置",
}
CSRF_FAILED = "页面已过期或请求来源无效，请刷新页面后重试"
FORBIDDEN = "您的角色没有权限访问该页面"
NOT_FOUND = "请求的内容不存在"

DEPARTMENT_CREATED = "部门已创建"
KEY_REVOKED = "密钥已吊销"
REGISTERS_SUBJECTS_ON = "已设为登记机关：其报送的主体名称和法定代表人将直接采用"
REGISTERS_SUBJECTS_OFF = "已取消登记机关：其报送的不同主体名称将作为名称差异待处理"
NAME_ACCEPTED = "已采用新名称，主体已更名"
NAME_DISMISSED = "已保留原名称"
OVERRIDE_ADDED = "已保存节假日调整"
OVERRIDE_EXISTS = "该日期已有调整记录，请先删除后再添加"
OVERRIDE_DELETED = "已删除该日期的调整"
YEAR_CONFIRMED = "已确认该年度的节假日安排"
YEAR_ALREADY_CONFIRMED = "该年度已确认"
CHAIN_OK = "审计日志链校验通过：共校验 {checked} 条记录"
CHAIN_BROKEN = "审计日志链校验失败：第 {bad_id} 条记录异常（{problem}），此前已校验 {checked} 条"
PERSONAL_REASON_HELP = "查看自然人信息须填写查询事由，本次查看将记入审计日志"
FILTER_INVALID = "筛选条件无效，已忽略"

CHAIN_PROBLEMS = {
    "prev_hash does not match the previous row (row removed or reordered)": (
        "与上一条记录的链接不一致（可能被删除或调整顺序）"
    ),
    "row content does not match its hash (row edited)": "记录内容与哈希不一致（可能被篡改）",
    "chain head does not match the last row (rows removed at the end)": (
        "链头与最后一条记录不一致（末尾记录可能被删除）"
    ),
}

ROLE_LABELS = {
    StaffRole.PLATFORM_ADMIN: "平台管理员",
    StaffRole.DEPT_REVIEWER: "部门审核员",
    StaffRole.AUDITOR: "审计员",
}

TIER_CONFIRMED = "处罚等级已确认，公示期限已按确认的等级重新计算"
TIER_ALREADY_CONFIRMED = "该记录的处罚等级已由报送单位填写或确认"
IMPORT_DONE = "文件已导入：批次 #{batch}"
UNKNOWN_SAMPLE = "没有这个样例文件"
# The change log of a record (credit_record_versions), field by field.
VERSION_FIELD_LABELS = {
    "tier": "处罚等级",
    "tier_derived": "等级为推定",
    "published": "是否公示",
    "visible_until": "公示截止",
    "legal_representative_id_number_hash": "法定代表人证件号码",
}

IMPORT_STATUS_LABELS = {
    "running": "处理中",
    "completed": "全部入库",
    "partial": "部分入库",
    "rejected": "整批退回",
    "failed": "文件无法读取",
}


def locked_message(until: dt.datetime) -> str:
    """Lockout text; ``until`` is naive UTC, shown in China time (UTC+8, no daylight saving)."""
    local = until + dt.timedelta(hours=8)
    return f"登录失败次数过多，账户已暂时锁定，请于 {local:%Y-%m-%d %H:%M} 之后再试"


def totp_reset(name: str) -> str:
    return f"已重置“{name}”的动态口令，其全部会话已退出，下次登录时须重新绑定"


def staff_signed_out(name: str, count: int) -> str:
    return f"已强制退出“{name}”的全部会话（{count} 个）"


def api_key_issued(department: str) -> str:
    return f"已为“{department}”签发新的接口密钥"


# 重错码 and the data-domain register (issue 16 items 12, 14).
CODE_ISSUE_MERGED = "已合并主体，记录和案件已移至保留的主体"
CODE_ISSUE_RENAMED = "主体已更名"
CODE_ISSUE_DISMISSED = "已确认不是重错码"
CODE_ISSUE_REASON_REQUIRED = "请填写处理说明"
CODE_ISSUE_NAME_REQUIRED = "请选择主体并填写新名称"
CODE_ISSUE_SUBJECT_REQUIRED = "请选择保留的主体"
DATA_DOMAIN_SAVED = "归集领域已登记"
DATA_DOMAIN_DATES_INVALID = "停止归集日期不能早于起始日期"
