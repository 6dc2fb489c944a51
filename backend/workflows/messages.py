"""Chinese texts shared by both workflows (state names, conflicts, permissions, applicants)."""

from __future__ import annotations

STATE_LABELS = {
    "submitted": "待受理",
    "returned": "退回补正",
    "under_review": "部门核查中",
    "decided": "已作出决定",
    "closed": "已办结",
    "withdrawn": "已撤回",
}

KIND_LABELS = {"objection": "异议申诉", "repair": "信用修复"}

APPLICANT_KIND_LABELS = {
    "self": "本人",
    "legal_representative": "法定代表人",
    "agent": "委托代理人",
}

ALREADY_HANDLED = "该申请已由{who}于{when}处理（当前状态：{state}），请刷新后查看"
WRONG_STATE = "该申请当前状态为“{state}”，不能{action}"
APPLICANT_LABEL = "申请人"
NOT_ALLOWED = "您没有权限{action}"
REASON_REQUIRED = "请填写{action}的理由"
REASON_TOO_LONG = "理由不能超过{limit}字"
NAME_REQUIRED = "请填写申请人姓名"
NAME_TOO_LONG = "申请人姓名过长"
AUTHORISATION_REQUIRED = "委托代理人办理须上传授权委托书"
ID_NUMBER_INVALID = "申请人身份证号码无效：{reason}"
NUMBER_NOT_FOUND = "未找到该查询码对应的申请，请核对后重新输入"
EXTENSION_ONCE = "该申请已延期一次，不能再次延期"
EXTENSION_RANGE = "延期天数须为 1 至 {limit} 个工作日"
MISSING_ITEMS_REQUIRED = "退回补正须逐项列明缺少的材料或信息"
COMMITMENT_REQUIRED = "请先签署{title}"
COMMITMENT_MISMATCH = "所签承诺书与本次申请不符，请重新签署"
RECORD_NOT_FOUND = "信用记录不存在"
RECORD_WITHDRAWN = "该信用记录已撤销，无需再申请"
RECORD_REPAIRED = "该信用记录已完成信用修复"
OPEN_OBJECTION_EXISTS = "该信用记录已有正在办理的异议申请（查询码 {number}），请勿重复提交"
OPEN_REPAIR_EXISTS = "该信用记录已有正在办理的信用修复申请（查询码 {number}），请勿重复提交"
OPEN_CASE_EXISTS = {"objection": OPEN_OBJECTION_EXISTS, "repair": OPEN_REPAIR_EXISTS}

ACTIONS = {
    "file": "提出申请",
    "accept": "受理",
    "return": "退回补正",
    "supplement": "补正材料",
    "decide": "作出决定",
    "extend": "延期",
    "withdraw": "撤回",
    "deliver": "送达结果",
    "view": "查看",
}

# Uploaded materials.
MATERIAL_EMPTY = "上传的文件为空，请重新选择文件"
MATERIAL_NAME_PATH = "文件名不能包含路径（../ 或 /、\\ 或盘符），请只保留文件名后重新上传"
MATERIAL_NAME_CONTROL = "文件名不能包含控制字符（如换行、制表符），请重命名后重新上传"
MATERIAL_TOO_LARGE = "文件大小为 {size}，超过上限 {limit}，请压缩后重新上传"
MATERIAL_BAD_TYPE = "文件内容不是 PDF、JPEG 或 PNG 格式（仅按文件内容识别，与扩展名无关），请转换后重新上传"
MATERIAL_PDF_BROKEN = "PDF 文件不完整或已损坏，请重新导出后上传"
MATERIAL_PDF_ENCRYPTED = "PDF 文件已加密或设置了打开密码，审核人员无法查看，请去除密码后上传"
MATERIAL_PDF_NO_PAGES = "无法识别 PDF 文件的页数，请重新导出后上传"
MATERIAL_TOO_MANY_PAGES = "PDF 文件共 {pages} 页，超过上限 {limit} 页，请拆分后上传"
MATERIAL_NOT_FOUND = "材料不存在或已失效：{ids}"
MATERIAL_NOT_YOURS = "只能提交本人上传的材料"
MATERIAL_ALREADY_USED = "材料已用于其他申请，请重新上传：{ids}"
MATERIAL_TOO_MANY = "每件申请最多提交 {limit} 份材料"
MATERIAL_FILE_MISSING = "材料文件缺失，请联系平台管理员"
