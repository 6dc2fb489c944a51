"""Input and output schemas of the public enterprise query (public field lists only)."""

from __future__ import annotations

from apiflask import Schema, fields
from apiflask.validators import Length, Range

from ..records.labels import category_label
from ..records.models import RecordCategory
from ..records.schemas import PublicRecordSchema

MAX_QUERY_CHARS = 100
# Deep paging through a name search is not a use case (narrow the query instead); the bound
# keeps the cost of one request bounded too.
MAX_PAGE = 100


class SearchQuerySchema(Schema):
    # Not required here: an empty or missing q is answered with a 400 and a plain Chinese
    # message by the view, rather than a generic validation error.
    q = fields.String(
        load_default="",
        validate=Length(max=MAX_QUERY_CHARS, error=f"查询词不能超过{MAX_QUERY_CHARS}个字"),
        metadata={"description": "企业名称的一部分（至少1个字），或18位统一社会信用代码"},
    )
    page = fields.Integer(
        load_default=1,
        validate=Range(min=1, max=MAX_PAGE, error=f"页码应为1至{MAX_PAGE}之间的整数"),
        error_messages={"invalid": "页码应为整数"},
        metadata={"description": "页码"},
    )
    per_page = fields.Integer(
        load_default=None,
        validate=Range(min=1, error="每页条数应为正整数"),
        error_messages={"invalid": "每页条数应为整数"},
        metadata={"description": "每页条数（默认20，超过上限按上限返回）"},
    )


class SubjectSummarySchema(Schema):
    uscc = fields.String(metadata={"description": "统一社会信用代码"})
    name = fields.String(metadata={"description": "企业名称"})
    area_code = fields.String(allow_none=True, metadata={"description": "行政区划代码"})


class SearchPageSchema(Schema):
    items = fields.List(fields.Nested(SubjectSummarySchema))
    page = fields.Integer()
    per_page = fields.Integer()
    has_more = fields.Boolean(metadata={"description": "是否还有下一页"})
    total = fields.Integer(allow_none=True, metadata={"description": "结果总数（仅按代码查询时提供）"})


class CategoryGroupSchema(Schema):
    category = fields.Enum(RecordCategory, by_value=True)
    label = fields.Function(lambda g: category_label(g.category), metadata={"description": "信息类别名称"})
    count = fields.Integer(metadata={"description": "该类别公示中的记录数"})
    records = fields.List(fields.Nested(PublicRecordSchema))


class PublicProfileSchema(Schema):
    uscc = fields.String(metadata={"description": "统一社会信用代码"})
    name = fields.String(metadata={"description": "企业名称"})
    legal_representative = fields.String(allow_none=True, metadata={"description": "法定代表人"})
    area_code = fields.String(allow_none=True, metadata={"description": "行政区划代码"})
    address = fields.String(allow_none=True, metadata={"description": "住所"})
    established_on = fields.Date(allow_none=True, metadata={"description": "成立日期"})
    registration_authority = fields.String(allow_none=True, metadata={"description": "登记机关"})
    as_of = fields.Date(metadata={"description": "查询日期（公示状态按此日期计算）"})
    total_records = fields.Integer(metadata={"description": "公示中的记录总数"})
    counts = fields.Function(
        lambda p: {category.value: count for category, count in p.counts.items()},
        metadata={"description": "各类别记录数"},
    )
    categories = fields.List(fields.Nested(CategoryGroupSchema), metadata={"description": "按固定顺序分类的记录"})
