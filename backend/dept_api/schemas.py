"""Request and response schemas of the department API (they make its OpenAPI document).

Records are accepted as plain JSON objects at the schema level and validated one by one by the
same RowValidator as the file import, so one bad record is reported against its index instead
of turning the whole request into a 422. Their fields are documented here.
"""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Date, Enum, Function, Integer, List, Nested, Raw, String
from apiflask.validators import Length, Range

from ..imports import messages as msg
from ..imports.models import ImportStatus
from ..records.labels import tier_label
from ..records.models import PenaltyTier
from ..schema_fields import UtcDateTime

_DATE = {"type": "string", "format": "date"}
_TEXT = {"type": "string"}

RECORD_PROPERTIES: dict[str, dict] = {
    "subject_name": {**_TEXT, "maxLength": 200, "description": "行政相对人名称（必填）"},
    "subject_kind": {
        **_TEXT,
        "description": "行政相对人类别，可省略（按 uscc / id_number 判断）：legal、natural、individual_business，"
        "也接受中文：法人及非法人组织、自然人、个体工商户",
    },
    "uscc": {**_TEXT, "description": "统一社会信用代码（法人及非法人组织必填，18位，含校验）"},
    "id_type": {**_TEXT, "description": "证件类型，自然人目前只支持居民身份证（可省略）"},
    "id_number": {**_TEXT, "description": "居民身份证号码（自然人必填；平台加密保存，不公开）"},
    "legal_representative": {**_TEXT, "maxLength": 100, "description": "法定代表人"},
    "legal_representative_id_type": {
        **_TEXT,
        "description": "法定代表人证件类型（可省略，默认居民身份证）；其他证件的号码不保存",
    },
    "legal_representative_id_number": {
        **_TEXT,
        "description": "法定代表人证件号码（居民身份证，含校验）：平台加密保存，不公开；仅登记机关（市场监管、民政、"
        "机构编制）报送的号码用于核验企业的法定代表人",
    },
    "category": {
        **_TEXT,
        "description": "信息类别（必填）：penalty 行政处罚、licence 行政许可、registration、enforcement、red_list、"
        "dishonest_list、abnormal_operation、court_defaulter、criminal_judgement、commitment、other_admin；"
        "也接受中文名称",
        "example": "penalty",
    },
    "tier": {
        **_TEXT,
        "example": "general",
        "description": "处罚等级（仅行政处罚，其他类别不得填写）：minor 轻微、general 一般、serious 严重，也接受中文。"
        "省略时按本市规则推定（警告、通报批评或简易程序为轻微；吊销、责令关闭、限制从业或本市列明的严重违法行为为严重；"
        "其余为一般），记为推定等级，待本部门确认；填写的等级优先",
    },
    "decision_number": {
        **_TEXT,
        "maxLength": 100,
        "description": "决定文书号（必填），同一部门内唯一：再次报送同一文书号即更新该记录",
    },
    "decision_date": {**_DATE, "description": "决定日期（必填），YYYY-MM-DD"},
    "publicity_end_date": {**_DATE, "description": "公示截止期；省略时按处罚等级的公示期限计算"},
    "penalty_valid_until": {
        **_DATE,
        "description": "处罚有效期（处罚本身的有效期，与公示截止期是两回事，不影响公示期限）；“长期”可省略",
    },
    "valid_from": {**_DATE, "description": "有效期自（许可）"},
    "valid_until": {**_DATE, "description": "有效期至（许可有效期、名单移出日期），“长期”可省略"},
    "title": {**_TEXT, "maxLength": 200, "description": "许可证书名称 / 名单名称 / 案由"},
    "violation_type": {**_TEXT, "maxLength": 200, "description": "违法行为类型"},
    "facts": {**_TEXT, "description": "违法事实"},
    "legal_basis": {**_TEXT, "description": "处罚依据 / 许可依据"},
    "penalty_category": {**_TEXT, "maxLength": 100, "description": "处罚类别（警告、罚款……）或许可类别"},
    "penalty_content": {**_TEXT, "description": "处罚内容或许可内容"},
    "fine_amount": {
        "type": ["number", "string"],
        "description": "罚款金额，单位：元（不是万元），不得为负",
        "example": 5000,
    },
    "source_department_code": {**_TEXT, "description": "数据来源单位的部门代码（与认定单位不同时填写）"},
    "authority_name": {
        **_TEXT,
        "maxLength": 200,
        "description": "处罚机关 / 许可机关（作出决定的机关，可以是未在平台登记的县区局、综合执法队伍）；"
        "省略时显示报送部门",
    },
    "authority_uscc": {**_TEXT, "description": "处罚机关 / 许可机关的统一社会信用代码（含校验）"},
    "confiscated_amount": {
        "type": ["number", "string"],
        "description": "没收违法所得、没收非法财物的金额，单位：元（不是万元）",
    },
    "suspended_licence": {**_TEXT, "maxLength": 200, "description": "暂扣或吊销证照名称及编号"},
    "document_name": {**_TEXT, "maxLength": 200, "description": "行政许可决定文书名称"},
    "licence_number": {**_TEXT, "maxLength": 100, "description": "许可编号"},
    "licence_status": {
        **_TEXT,
        "description": "许可当前状态（仅行政许可）：valid 有效、revoked 撤销、cancelled 注销、penalty_revoked 吊销、"
        "withdrawn 撤回、suspended 暂扣、invalid 无效，也接受中文",
    },
    "remarks": {**_TEXT, "description": "备注"},
    "registration_number": {**_TEXT, "maxLength": 50, "description": "行政相对人代码_2（工商注册号）"},
    "organisation_code": {**_TEXT, "maxLength": 50, "description": "行政相对人代码_3（组织机构代码）"},
    "tax_registration_number": {**_TEXT, "maxLength": 50, "description": "行政相对人代码_4（税务登记号）"},
    "institution_certificate_number": {**_TEXT, "maxLength": 50, "description": "行政相对人代码_5（事业单位证书号）"},
    "social_organisation_number": {**_TEXT, "maxLength": 50, "description": "行政相对人代码_6（社会组织登记证号）"},
}

RECORD_DOC = {
    "type": "object",
    "title": "DeptRecord",
    "required": ["subject_name", "category", "decision_number", "decision_date"],
    "properties": RECORD_PROPERTIES,
    "description": "一条信用记录。法人及非法人组织填写 uscc，自然人填写 id_number。未识别的字段被忽略并在响应中列出。"
    "报送日期取平台接收当天，用于“双公示”7个工作日及时性统计。",
}


class RecordBatchIn(Schema):
    records = List(
        Raw(metadata=RECORD_DOC),
        required=True,
        validate=Length(min=1, error=msg.BATCH_EMPTY),
        error_messages={"required": "缺少 records 字段", "invalid": "records 应为数组"},
        metadata={"description": "记录数组，一次最多 DEPT_API_MAX_BATCH 条（默认 5000）"},
    )
    atomic = Boolean(
        load_default=False,
        metadata={
            "description": "true：任一记录有错误则整批不保存（返回 422）；false（默认）：保存正确的记录，报告错误的记录"
        },
    )


class RowErrorOut(Schema):
    index = Integer(metadata={"description": "记录在 records 数组中的序号（从0开始）"})
    field = String(allow_none=True, metadata={"description": "出错的字段"})
    reason = String(metadata={"description": "错误原因（中文）"})


class BatchOut(Schema):
    batch_id = Integer(metadata={"description": "批次号，可用 GET /api/dept/v1/batches/{batch_id} 查询"})
    status = String(
        metadata={
            "enum": [s.value for s in ImportStatus],
            "description": "completed 全部保存；partial 部分保存；rejected 未保存（atomic 或全部有错）",
        }
    )
    atomic = Boolean()
    total = Integer(metadata={"description": "收到的记录数"})
    created = Integer(metadata={"description": "新增的记录数"})
    updated = Integer(metadata={"description": "更新的记录数"})
    unchanged = Integer(metadata={"description": "内容未变的记录数"})
    error_rows = Integer(metadata={"description": "有错误、未保存的记录数"})
    message = String(allow_none=True)
    unknown_fields = List(String(), metadata={"description": "未识别、已忽略的字段（仅报送响应）"})
    errors = List(Nested(RowErrorOut))
    started_at = UtcDateTime()
    finished_at = UtcDateTime(allow_none=True)


class DerivedTiersIn(Schema):
    limit = Integer(load_default=200, validate=Range(min=1, max=1000), metadata={"description": "最多返回条数"})


class DerivedTierOut(Schema):
    id = Integer()
    decision_number = String(metadata={"description": "决定文书号"})
    decision_date = Date(metadata={"description": "决定日期"})
    subject_name = String(metadata={"description": "行政相对人名称（自然人为脱敏姓名）"})
    violation_type = String(allow_none=True)
    penalty_category = String(allow_none=True, metadata={"description": "处罚类别"})
    penalty_content = String(allow_none=True)
    tier = Enum(PenaltyTier, by_value=True, metadata={"description": "处罚等级"})
    tier_label = Function(lambda r: tier_label(r.tier), metadata={"description": "处罚等级名称"})
    tier_derived = Boolean(metadata={"description": "true：按本市规则推定，待确认"})
    visible_until = Date(allow_none=True, metadata={"description": "公示截止期（按当前等级计算）"})


class DerivedTiersOut(Schema):
    count = Integer()
    records = List(Nested(DerivedTierOut))


class TierConfirmIn(Schema):
    decision_number = String(required=True, validate=Length(min=1, max=100), metadata={"description": "决定文书号"})
    tier = Enum(
        PenaltyTier,
        by_value=True,
        required=True,
        metadata={"description": "确认或更改后的处罚等级：minor 轻微、general 一般、serious 严重"},
    )
