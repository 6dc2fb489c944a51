"""Request and response schemas of the mini-program API: the owner's field lists.

A citizen sees their own data here (their full name on /me, their own records including those
not published); everything about other people stays masked as the registry keeps it.
"""

from __future__ import annotations

from apiflask import Schema, fields
from apiflask.validators import Length, OneOf, Range

from backend.citizens.models import BindingMethod
from backend.records.labels import category_label, licence_status_label, status_label, tier_label
from backend.records.models import LicenceStatus, PenaltyTier, RecordCategory, RecordStatus
from backend.schema_fields import UtcDateTime, database_id
from backend.workflows.materials.models import MaterialPurpose
from backend.workflows.objections.models import ObjectionGround
from reports.content import ReportKind

MAX_MATERIALS = 20


class SessionIn(Schema):
    code = fields.String(
        required=True, validate=Length(min=1, max=128), metadata={"description": "wx.login() 返回的 code"}
    )


class SessionOut(Schema):
    token = fields.String(metadata={"description": "本平台令牌，放在 Authorization: Bearer 中；只返回这一次"})
    expires_at = UtcDateTime(metadata={"description": "令牌失效时间（UTC）"})
    verified = fields.Boolean(metadata={"description": "是否已完成实名认证"})


class FaceStartIn(Schema):
    name = fields.String(required=True, validate=Length(min=1, max=50), metadata={"description": "本人姓名"})
    id_number = fields.String(
        required=True, validate=Length(min=15, max=18), metadata={"description": "本人居民身份证号码"}
    )


class FaceStartOut(Schema):
    verify_id = fields.String(
        metadata={
            "description": "人脸核身会话标识：作为 verifyId 传给 wx.requestFacialVerify，完成后提交给 finish 接口"
        }
    )
    expires_at = UtcDateTime(metadata={"description": "verify_id 失效时间（UTC，微信规定 3600 秒）"})


class FaceFinishIn(Schema):
    verify_id = fields.String(
        required=True,
        validate=Length(min=1, max=256),
        metadata={"description": "发起核身接口返回、已用于 wx.requestFacialVerify 的 verify_id（只能提交一次）"},
    )


class BindingOut(Schema):
    id = fields.Integer()
    uscc = fields.Function(lambda b: b.subject.uscc, metadata={"description": "统一社会信用代码"})
    name = fields.Function(lambda b: b.subject.name, metadata={"description": "企业名称"})
    method = fields.Enum(BindingMethod, by_value=True, metadata={"description": "法定代表人 / 授权委托书"})
    status = fields.Function(
        lambda b: b.status.value,
        metadata={"description": "active / pending_review / rejected / revoked / suspended（暂停，见 status_reason）"},
    )
    created_at = UtcDateTime()
    review_reason = fields.String(allow_none=True, metadata={"description": "驳回理由"})
    status_reason = fields.String(
        allow_none=True, metadata={"description": "当前状态的原因：暂停的原因和如何恢复，或驳回理由"}
    )


class BindingResultOut(BindingOut):
    """One binding as a response body (a schema is either top-level or nested in the document)."""


class BindingListOut(Schema):
    items = fields.List(fields.Nested(BindingOut))


class MeOut(Schema):
    verified = fields.Boolean(metadata={"description": "是否已完成实名认证"})
    name = fields.String(allow_none=True, metadata={"description": "实名认证的姓名（仅本人可见）"})
    id_number_masked = fields.String(allow_none=True, metadata={"description": "脱敏的身份证号码"})
    verified_at = UtcDateTime(allow_none=True)
    enterprises = fields.List(fields.Nested(BindingOut), metadata={"description": "绑定的企业"})


class BindingIn(Schema):
    uscc = fields.String(required=True, validate=Length(min=18, max=18), metadata={"description": "统一社会信用代码"})
    method = fields.Enum(BindingMethod, by_value=True, required=True, metadata={"description": "绑定方式"})
    material_id = database_id(
        load_default=None, metadata={"description": "授权委托书（先通过 POST /materials 上传）的材料编号"}
    )


class RecordsQuery(Schema):
    uscc = fields.String(
        load_default=None,
        validate=Length(min=18, max=18),
        metadata={"description": "查看所绑定企业的记录时填写；不填为本人记录"},
    )


class OwnerRecordOut(Schema):
    """A record as its owner sees it: published or not, with its status."""

    id = fields.Integer(metadata={"description": "记录编号（提出异议、申请修复时引用）"})
    category = fields.Enum(RecordCategory, by_value=True)
    category_label = fields.Function(lambda r: category_label(r.category))
    tier = fields.Enum(PenaltyTier, by_value=True, allow_none=True)
    tier_label = fields.Function(lambda r: tier_label(r.tier), allow_none=True)
    status = fields.Enum(RecordStatus, by_value=True)
    status_label = fields.Function(lambda r: status_label(r.status))
    published = fields.Boolean(metadata={"description": "是否向社会公示（自然人的记录不公示）"})
    decision_number = fields.String()
    decision_date = fields.Date()
    department_name = fields.Function(lambda r: r.department.name, metadata={"description": "认定单位"})
    title = fields.String(allow_none=True)
    violation_type = fields.String(allow_none=True)
    facts = fields.String(allow_none=True)
    legal_basis = fields.String(allow_none=True)
    penalty_category = fields.String(allow_none=True)
    penalty_content = fields.String(allow_none=True)
    fine_amount = fields.Decimal(as_string=True, places=2, allow_none=True)
    visible_until = fields.Date(allow_none=True, metadata={"description": "公示截止期"})
    authority_name = fields.Function(
        lambda r: r.authority_display, metadata={"description": "处罚机关 / 许可机关；报送时未填写的为报送部门"}
    )
    authority_uscc = fields.String(allow_none=True, metadata={"description": "处罚机关 / 许可机关统一社会信用代码"})
    tier_derived = fields.Boolean(metadata={"description": "处罚等级按本市规则推定、待认定单位确认"})
    penalty_valid_until = fields.Date(allow_none=True, metadata={"description": "处罚有效期"})
    confiscated_amount = fields.Decimal(
        as_string=True, places=2, allow_none=True, metadata={"description": "没收金额（元）"}
    )
    suspended_licence = fields.String(allow_none=True, metadata={"description": "暂扣或吊销证照名称及编号"})
    valid_from = fields.Date(allow_none=True, metadata={"description": "有效期自（许可）"})
    valid_until = fields.Date(allow_none=True, metadata={"description": "有效期至（许可）"})
    licence_number = fields.String(allow_none=True, metadata={"description": "许可编号"})
    licence_status = fields.Enum(
        LicenceStatus, by_value=True, allow_none=True, metadata={"description": "许可当前状态"}
    )
    licence_status_label = fields.Function(
        lambda r: licence_status_label(r.licence_status),
        allow_none=True,
        metadata={"description": "许可当前状态名称：有效、已撤销、已注销、已吊销、已撤回、已暂扣、无效"},
    )


class RecordsOut(Schema):
    subject_kind = fields.String(metadata={"description": "natural 本人 / legal 企业"})
    subject_name = fields.String(metadata={"description": "本人姓名或企业名称"})
    records = fields.List(fields.Nested(OwnerRecordOut))


class ObjectionEligibility(Schema):
    eligible = fields.Boolean()
    code = fields.String()
    message = fields.String()


class RepairEligibility(Schema):
    eligible = fields.Boolean()
    code = fields.String()
    message = fields.String()
    eligible_from = fields.String(allow_none=True, metadata={"description": "最早可申请修复的日期"})
    basis = fields.String(allow_none=True)
    open_number = fields.String(allow_none=True)


class EligibilityOut(Schema):
    record_id = fields.Integer()
    objection = fields.Nested(ObjectionEligibility)
    repair = fields.Nested(RepairEligibility)


COMMITMENT_KINDS = ("objection", "repair")


class CommitmentQuery(Schema):
    kind = fields.String(
        required=True, validate=OneOf(COMMITMENT_KINDS), metadata={"description": "objection 异议 / repair 修复"}
    )


class CommitmentTextOut(Schema):
    kind = fields.String()
    title = fields.String()
    text = fields.String(metadata={"description": "请完整展示给用户阅读的承诺书全文"})
    text_sha256 = fields.String(metadata={"description": "签署时原样提交，证明签署的是所展示的文本"})


class CommitmentIn(Schema):
    kind = fields.String(required=True, validate=OneOf(COMMITMENT_KINDS))
    text_sha256 = fields.String(required=True, validate=Length(equal=64), metadata={"description": "所展示文本的哈希"})


class CommitmentOut(Schema):
    id = fields.Integer(metadata={"description": "承诺书编号（提交申请时引用）"})
    kind = fields.Function(lambda c: c.kind.value)
    text_sha256 = fields.String()
    signed_at = UtcDateTime()


class MaterialUploadIn(Schema):
    file = fields.File(required=True, metadata={"description": "PDF、JPEG 或 PNG 文件"})
    purpose = fields.Enum(
        MaterialPurpose, by_value=True, required=True, metadata={"description": "材料用途，如 evidence、fulfilment"}
    )


class MaterialOut(Schema):
    id = fields.Integer()
    name = fields.String(attribute="original_name")
    type = fields.Function(lambda m: m.file_type.value)
    pages = fields.Integer()
    size = fields.Integer(attribute="size_bytes")
    purpose = fields.Function(lambda m: m.purpose.value)
    sha256 = fields.String()


class MaterialUploadOut(MaterialOut):
    """The uploaded material as a response body."""


_MATERIAL_IDS = dict(
    load_default=list,
    validate=Length(max=MAX_MATERIALS),
    metadata={"description": "已上传材料的编号"},
)


class ObjectionIn(Schema):
    record_id = database_id(required=True)
    ground = fields.Enum(ObjectionGround, by_value=True, required=True, metadata={"description": "异议理由类别"})
    statement = fields.String(required=True, validate=Length(min=1, max=2000), metadata={"description": "异议说明"})
    commitment_id = database_id(required=True, metadata={"description": "已签署的异议申诉信用承诺书编号"})
    material_ids = fields.List(database_id(), **_MATERIAL_IDS)


class RepairIn(Schema):
    record_id = database_id(required=True)
    statement = fields.String(required=True, validate=Length(min=1, max=2000), metadata={"description": "修复说明"})
    commitment_id = database_id(required=True, metadata={"description": "已签署的信用修复承诺书编号"})
    material_ids = fields.List(database_id(), **_MATERIAL_IDS)


class SupplementIn(Schema):
    note = fields.String(load_default=None, validate=Length(max=2000))
    material_ids = fields.List(database_id(), **_MATERIAL_IDS)


class WithdrawIn(Schema):
    reason = fields.String(load_default=None, validate=Length(max=2000))


class HistoryOut(Schema):
    at = UtcDateTime()
    action = fields.String()
    from_state = fields.String(allow_none=True)
    to_state = fields.String()
    who = fields.String(metadata={"description": "办理人（申请人显示为“申请人”）"})
    reason = fields.String(allow_none=True)


class CaseSummaryOut(Schema):
    number = fields.String(metadata={"description": "查询码"})
    case_type = fields.String(metadata={"description": "objection / repair"})
    state = fields.String()
    state_label = fields.String()
    record_id = fields.Integer()
    filed_at = UtcDateTime()
    deadline = fields.Date(allow_none=True, metadata={"description": "当前环节的办理期限"})
    outcome = fields.String(allow_none=True)


class CaseDetailOut(CaseSummaryOut):
    ground = fields.String(allow_none=True)
    statement = fields.String()
    applicant_kind = fields.String()
    outcome_label = fields.String(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    decided_at = UtcDateTime(allow_none=True)
    corrections = fields.Dict(allow_none=True, metadata={"description": "更正的字段：{字段: [原值, 新值]}"})
    missing_items = fields.List(fields.String(), allow_none=True, metadata={"description": "退回补正时缺少的材料"})
    extension_days = fields.Integer(allow_none=True)
    extension_reason = fields.String(allow_none=True)
    record = fields.Dict(metadata={"description": "所涉信用记录的摘要"})
    materials = fields.List(fields.Nested(MaterialOut))
    history = fields.List(fields.Nested(HistoryOut))


class CaseListOut(Schema):
    items = fields.List(fields.Nested(CaseSummaryOut))


class ReportIn(Schema):
    kind = fields.Enum(ReportKind, by_value=True, required=True, metadata={"description": "报告种类"})
    uscc = fields.String(
        load_default=None,
        validate=Length(min=18, max=18),
        metadata={"description": "企业报告、企业专项报告：统一社会信用代码；本人报告不填"},
    )
    years = fields.Integer(load_default=None, validate=Range(min=1, max=10), metadata={"description": "专项报告年限"})
    domains = fields.List(fields.String(), load_default=list, metadata={"description": "专项报告的可选领域"})


class ReportOut(Schema):
    number = fields.String(metadata={"description": "报告编号"})
    kind = fields.String()
    kind_label = fields.String()
    subject_name = fields.String(metadata={"description": "信用主体（自然人为脱敏姓名）"})
    issued_at = UtcDateTime()
    valid_until = fields.Date()
    status = fields.String()
    status_label = fields.String()
    download_url = fields.String(allow_none=True, metadata={"description": "短时有效的 PDF 下载地址"})
    download_expires_at = UtcDateTime(allow_none=True)


class ReportListOut(Schema):
    items = fields.List(fields.Nested(ReportOut))


class DownloadUrlOut(Schema):
    url = fields.String(metadata={"description": "PDF 下载地址（无需令牌，短时有效）"})
    expires_at = UtcDateTime()


class PdfQuery(Schema):
    session = database_id(required=True, metadata={"description": "签发该地址的小程序会话（退出登录后地址失效）"})
    expires = fields.Integer(required=True)
    signature = fields.String(required=True, validate=Length(equal=64))


class VerifyIn(Schema):
    qr = fields.String(validate=Length(min=1, max=2000), metadata={"description": "扫描报告二维码得到的文本"})
    file = fields.File(metadata={"description": "报告 PDF 文件（multipart/form-data）"})


class KioskConfirmOut(Schema):
    confirmed = fields.Boolean()
    confirmed_at = UtcDateTime()


class TemplateOut(Schema):
    purpose = fields.String(metadata={"description": "case_progress / deadline / report_ready"})
    title = fields.String()
    template_id = fields.String(metadata={"description": "调用 wx.requestSubscribeMessage 时使用的模板编号"})


class SubscriptionOut(Schema):
    template_id = fields.String()
    accepted_count = fields.Integer(
        metadata={"description": "尚可发送的次数（一次性订阅）；长期订阅时为 1 表示已订阅、0 表示未订阅"}
    )
    last_answer = fields.String(
        metadata={"description": "accept / reject / ban / filter，或客户端返回的 accept 变体（如 acceptWithAudio）"}
    )
    updated_at = UtcDateTime()


class IgnoredAnswerOut(Schema):
    template_id = fields.String()
    answer = fields.String()
    reason = fields.String(metadata={"description": "unknown_template（本平台未使用的模板）/ unknown_answer"})


class SubscriptionsOut(Schema):
    templates = fields.List(fields.Nested(TemplateOut))
    subscriptions = fields.List(fields.Nested(SubscriptionOut))
    long_term = fields.Boolean(
        metadata={"description": "长期订阅（政务民生类小程序）：一次同意可多次发送，直到用户关闭"}
    )
    ignored = fields.List(
        fields.Nested(IgnoredAnswerOut),
        metadata={"description": "上报中未记录的项（未知模板或未知结果），其余照常记录"},
    )


class SubscriptionsIn(Schema):
    answers = fields.Dict(
        keys=fields.String(validate=Length(min=1, max=64)),
        values=fields.String(),
        required=True,
        validate=Length(min=1, max=20),
        metadata={
            "description": "wx.requestSubscribeMessage 的 success 回调结果原样上报："
            "{模板编号: accept/reject/ban/filter/acceptWithAudio…, errMsg: 'requestSubscribeMessage:ok'}；"
            "errMsg 被忽略，未知模板和未知结果在 ignored 中返回"
        },
    )


class EmptyOut(Schema):
    ok = fields.Boolean()
