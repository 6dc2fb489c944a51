"""Output schemas for credit records, one field list per audience.

The public list carries what the publicity rules allow anyone to see about an enterprise's record
(DOMAIN.md: the fields of a penalty decision, the issuing department, the publicity end), never
the subject snapshot or anything about natural persons.
"""

from __future__ import annotations

from apiflask import Schema, fields

from .labels import UNDER_OBJECTION_MARK, category_label, licence_status_label, tier_label
from .models import LicenceStatus, PenaltyTier, RecordCategory


class PublicRecordSchema(Schema):
    id = fields.Integer(metadata={"description": "记录编号（提出异议、申请修复时引用）"})
    category = fields.Enum(RecordCategory, by_value=True, metadata={"description": "信息类别"})
    category_label = fields.Function(lambda r: category_label(r.category), metadata={"description": "信息类别名称"})
    tier = fields.Enum(PenaltyTier, by_value=True, allow_none=True, metadata={"description": "处罚等级（仅行政处罚）"})
    tier_label = fields.Function(
        lambda r: tier_label(r.tier), allow_none=True, metadata={"description": "处罚等级名称"}
    )
    decision_number = fields.String(metadata={"description": "决定书文号 / 许可证号 / 案号"})
    decision_date = fields.Date(metadata={"description": "决定日期"})
    department_name = fields.String(metadata={"description": "报送部门（认定单位）"})
    source_department_name = fields.String(allow_none=True, metadata={"description": "数据来源单位"})
    title = fields.String(allow_none=True, metadata={"description": "许可事项 / 名单名称 / 案由"})
    violation_type = fields.String(allow_none=True, metadata={"description": "违法行为类型"})
    facts = fields.String(allow_none=True, metadata={"description": "违法事实"})
    legal_basis = fields.String(allow_none=True, metadata={"description": "处罚依据"})
    penalty_category = fields.String(allow_none=True, metadata={"description": "处罚类别"})
    penalty_content = fields.String(allow_none=True, metadata={"description": "处罚内容"})
    fine_amount = fields.Decimal(
        as_string=True, places=2, allow_none=True, metadata={"description": "罚款金额（元），字符串"}
    )
    valid_until = fields.Date(allow_none=True, metadata={"description": "有效期至（许可）/ 移出日期（名单）"})
    visible_until = fields.Date(allow_none=True, metadata={"description": "公示截止期；为空表示长期公示"})
    under_objection = fields.Boolean(metadata={"description": "是否异议处理中"})
    objection_mark = fields.Function(
        lambda r: UNDER_OBJECTION_MARK if r.under_objection else None,
        allow_none=True,
        metadata={"description": "异议标注，异议处理中时为“异议处理中”"},
    )
    authority_name = fields.String(
        metadata={"description": "处罚机关 / 许可机关（作出决定的机关）；报送时未填写的为报送部门"}
    )
    authority_uscc = fields.String(allow_none=True, metadata={"description": "处罚机关 / 许可机关统一社会信用代码"})
    tier_derived = fields.Boolean(
        metadata={"description": "处罚等级是否按本市规则推定、尚待认定单位确认（报送时未填写等级）"}
    )
    penalty_valid_until = fields.Date(
        allow_none=True, metadata={"description": "处罚有效期（处罚本身的有效期，不是公示截止期）"}
    )
    confiscated_amount = fields.Decimal(
        as_string=True,
        places=2,
        allow_none=True,
        metadata={"description": "没收违法所得、没收非法财物的金额（元），字符串"},
    )
    suspended_licence = fields.String(allow_none=True, metadata={"description": "暂扣或吊销证照名称及编号"})
    valid_from = fields.Date(allow_none=True, metadata={"description": "有效期自（许可）"})
    licence_number = fields.String(allow_none=True, metadata={"description": "许可编号"})
    licence_status = fields.Enum(
        LicenceStatus, by_value=True, allow_none=True, metadata={"description": "许可当前状态（仅行政许可）"}
    )
    licence_status_label = fields.Function(
        lambda r: licence_status_label(r.licence_status),
        allow_none=True,
        metadata={"description": "许可当前状态名称：有效、已撤销、已注销、已吊销、已撤回、已暂扣、无效"},
    )
