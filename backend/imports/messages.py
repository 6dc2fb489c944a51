"""Every Chinese text the import (归集) surfaces show: file import, CLI, department API.

Kept in one place so the wording can be reviewed without touching logic (STYLE.md 20).
"""

from __future__ import annotations

# File-level refusals.
UNSUPPORTED_FILE = "不支持的文件类型“{suffix}”：请上传 CSV（.csv）或 Excel（.xlsx）文件"
LEGACY_XLS = "不支持旧版 Excel 97-2003（.xls）格式：请在 Excel 中另存为 .xlsx 或 CSV 后再导入"
NOT_XLSX = "文件扩展名为 .xlsx，但内容不是有效的 Excel 工作簿（可能已损坏或实为其他格式）"
NOT_TEXT = "文件内容不是文本（含有二进制数据），不是有效的 CSV 文件"
UNDECODABLE = "无法识别文件编码：CSV 文件应为 UTF-8 或 GB18030（GBK）编码"
BAD_CSV = "CSV 文件格式错误：{problem}"
XLSX_READ_FAILED = "读取 Excel 文件失败：文件可能已损坏（{problem}）"
NO_HEADER = "未找到表头：第一行应为列名（如“行政相对人名称”“统一社会信用代码”“行政处罚决定书文号”）"
MISSING_COLUMNS = "缺少必需的列：{columns}"
DUPLICATE_COLUMN = "列“{first}”与列“{second}”表示同一字段，请只保留一列"
NO_CATEGORY = "无法确定信息类别：请在文件中提供“信息类别”列，或在导入时指定类别（如 --category 行政处罚）"
UNKNOWN_CATEGORY_OPTION = "未知的信息类别“{value}”，可用：{choices}"
NO_DATA_ROWS = "文件中没有数据行"

# Row-level reasons.
REQUIRED = "必填项为空"
TOO_LONG = "内容过长：最多{limit}个字符，当前{length}个"
BAD_DATE = "日期“{value}”无法识别：请使用 YYYY-MM-DD 格式，如 2026-01-05"
IMPOSSIBLE_DATE = "日期“{value}”不存在"
DATE_OUT_OF_RANGE = "日期“{value}”超出合理范围"
DECISION_AFTER_RECEIPT = "决定日期晚于报送日期（{received}）"
BAD_AMOUNT = "金额“{value}”不是有效的数字"
NEGATIVE_AMOUNT = "金额不能为负数"
AMOUNT_TOO_LARGE = "金额过大"
UNKNOWN_CATEGORY = "未知的信息类别“{value}”"
UNKNOWN_TIER = "未知的处罚等级“{value}”：应为 轻微、一般 或 严重"
TIER_NOT_ALLOWED = "只有行政处罚信息可以填写处罚等级"
UNKNOWN_LICENCE_STATUS = "未知的当前状态“{value}”：应为 有效、撤销、注销、吊销、撤回、暂扣 或 无效"
LICENCE_STATUS_NOT_ALLOWED = "只有行政许可信息可以填写当前状态"
UNKNOWN_SUBJECT_KIND = "未知的行政相对人类别“{value}”：应为 法人及非法人组织、自然人 或 个体工商户"
NATURAL_NEEDS_ID = "自然人应填写居民身份证号码"
LEGAL_NEEDS_USCC = "法人及非法人组织应填写统一社会信用代码"
NO_IDENTIFIER = "应填写统一社会信用代码（法人及非法人组织）或居民身份证号码（自然人）"
UNSUPPORTED_ID_TYPE = "证件类型“{value}”暂不支持：自然人目前只能使用居民身份证"
UNKNOWN_SOURCE_DEPARTMENT = "数据来源单位“{value}”未在平台登记"
NOT_AN_OBJECT = "记录应为 JSON 对象"
NOT_A_STRING = "应为字符串"

# Batch summary (CLI, console).
REPORT_HEADER_FILE = ("行号", "列名", "错误原因")
REPORT_HEADER_API = ("记录序号（从0开始）", "字段", "错误原因")
SUPERSEDED = "{count} 行与同一文件中后面的行文书号重复，已以后面的行为准"
UNKNOWN_COLUMNS = "以下列未识别，已忽略：{columns}"
FILE_FAILED = "文件无法导入：{reason}"

# Department API.
MISSING_CREDENTIALS = "缺少签名认证请求头：{headers}"
UNKNOWN_KEY = "API 密钥不存在或已吊销"
DEPARTMENT_INACTIVE = "该部门已停用，不能报送数据"
STALE_TIMESTAMP = "请求时间戳与服务器时间相差超过 {seconds} 秒，请校准系统时间后重新签名"
BAD_TIMESTAMP = "请求时间戳格式不正确：应为 Unix 秒数（整数）"
BAD_NONCE = "随机串（X-Credit-Nonce）应为 16 至 64 位字母、数字、“-”或“_”"
REPLAYED_NONCE = "该随机串已使用过：每个请求必须使用新的随机串（疑似重放请求）"
INVALID_SIGNATURE = "请求签名不正确"
BAD_SIGNATURE_METHOD = "签名算法（X-Credit-Signature-Method）应为 HMAC-SHA256 或 HMAC-SM3"
SIGNATURE_METHOD_REFUSED = "本平台要求使用国密签名算法：请在 X-Credit-Signature-Method 中声明 HMAC-SM3 并按其签名"
BATCH_TOO_LARGE = "一次最多报送 {limit} 条记录，本次 {count} 条：请分批报送"
BATCH_EMPTY = "records 不能为空"
BATCH_REJECTED = "整批校验未通过（atomic 模式）：未保存任何记录，共 {count} 条记录有错误"
BATCH_NOT_FOUND = "批次不存在"
RECORD_NOT_FOUND = "本部门没有该决定文书号的记录"
TIER_NOT_DERIVED = "该记录的处罚等级由报送单位填写或已确认，不是按本市规则推定的，不能在此确认"
# A row refused when written: it would put back what an objection decision corrected.
REVERTS_CORRECTION = (
    "该记录已按异议处理决定更正（异议编号 {number}），本行的“{fields}”仍为更正前的内容，"
    "写入将撤销更正，故未写入。请先在本单位业务系统中同步更正后重新报送"
)
