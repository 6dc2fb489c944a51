"""Input and output schemas of the public enterprise query (public field lists only)."""

from __future__ import annotations

import datetime as dt
import decimal

from apiflask import Schema, fields
from apiflask.validators import Length, Range

from ..records.labels import UNDER_OBJECTION_MARK, category_label, licence_status_label, tier_label
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


_CENT = decimal.Decimal("0.01")


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _money(value) -> str | None:
    return format(decimal.Decimal(str(value)).quantize(_CENT), "f") if value is not None else None


def _public_record_dict(record) -> dict:
    fine = record.fine_amount
    return {
        "id": record.id,
        "category": record.category.value,
        "category_label": category_label(record.category),
        "tier": record.tier.value if record.tier is not None else None,
        "tier_label": tier_label(record.tier),
        "decision_number": record.decision_number,
        "decision_date": _day(record.decision_date),
        "department_name": record.department_name,
        "source_department_name": record.source_department_name,
        "title": record.title,
        "violation_type": record.violation_type,
        "facts": record.facts,
        "legal_basis": record.legal_basis,
        "penalty_category": record.penalty_category,
        "penalty_content": record.penalty_content,
        "fine_amount": _money(fine),
        "valid_until": _day(record.valid_until),
        "visible_until": _day(record.visible_until),
        "authority_name": record.authority_name,
        "authority_uscc": record.authority_uscc,
        "tier_derived": record.tier_derived,
        "penalty_valid_until": _day(record.penalty_valid_until),
        "confiscated_amount": _money(record.confiscated_amount),
        "suspended_licence": record.suspended_licence,
        "valid_from": _day(record.valid_from),
        "licence_number": record.licence_number,
        "licence_status": record.licence_status.value if record.licence_status is not None else None,
        "licence_status_label": licence_status_label(record.licence_status),
        "under_objection": record.under_objection,
        "objection_mark": UNDER_OBJECTION_MARK if record.under_objection else None,
    }


def public_profile_dict(profile) -> dict:
    """``PublicProfileSchema().dump(profile)``, written out by hand: the profile is the busiest
    public answer and marshmallow's generic dump was a third of its time. The schema stays the
    documented contract; tests/test_public_api.py checks that both give the same dictionary."""
    return {
        "uscc": profile.uscc,
        "name": profile.name,
        "legal_representative": profile.legal_representative,
        "area_code": profile.area_code,
        "address": profile.address,
        "established_on": _day(profile.established_on),
        "registration_authority": profile.registration_authority,
        "as_of": _day(profile.as_of),
        "total_records": profile.total_records,
        "counts": {group.category.value: group.count for group in profile.categories},
        "categories": [
            {
                "category": group.category.value,
                "label": category_label(group.category),
                "count": group.count,
                "records": [_public_record_dict(record) for record in group.records],
            }
            for group in profile.categories
        ],
    }
