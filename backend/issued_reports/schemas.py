"""Schemas of the public verification API: the public verifier's field list only.

Subject data here is what a relying party may see: full name and USCC for an enterprise, the
masked name and ID number for a natural person (the registry keeps exactly those, so nothing
unmasked can leak through this schema), and only to one who showed the code, the QR token or the
registered file; a report number alone gets ``ReportNumberStatusSchema``.
"""

from __future__ import annotations

from apiflask import Schema, fields
from apiflask.validators import Length, OneOf

from reports.content import ReportKind

MAX_QR_CHARS = 2000


class VerifyRequestSchema(Schema):
    """Either ``qr`` (JSON body) or ``file`` (multipart upload of the report PDF)."""

    qr = fields.String(
        validate=Length(min=1, max=MAX_QR_CHARS, error=f"二维码内容应为 1 至 {MAX_QR_CHARS} 个字符"),
        metadata={"description": "扫描报告二维码得到的文本（完整网址或其中的核验码）"},
    )
    file = fields.File(metadata={"description": "报告 PDF 文件（multipart/form-data）"})


class SubjectPublicSchema(Schema):
    kind = fields.String(metadata={"description": "legal 法人和非法人组织 / natural 自然人"})
    name = fields.String(metadata={"description": "主体名称；自然人为脱敏姓名"})
    code_label = fields.String(metadata={"description": "统一社会信用代码 / 身份证号码"})
    code = fields.String(metadata={"description": "统一社会信用代码；自然人为脱敏身份证号码"})


class SummaryLineSchema(Schema):
    title = fields.String()
    count = fields.Integer()
    repaired = fields.Integer()


class ReportNumberStatusSchema(Schema):
    """The "number only" audience: whoever holds just a report number (typed, or found in a file
    that is not the registered one) learns that it is registered and its status, nothing about
    the subject, the kind or the content."""

    number = fields.String(metadata={"description": "报告编号"})
    status = fields.String(
        validate=OneOf(["valid", "expired", "revoked"]),
        metadata={"description": "登记状态：valid / expired / revoked"},
    )
    status_label = fields.String()


class ReportPublicSchema(ReportNumberStatusSchema):
    """The relying party who showed the verification code, the QR token or the registered file."""

    kind = fields.String(validate=OneOf([k.value for k in ReportKind]), metadata={"description": "报告种类"})
    kind_label = fields.String()
    issued_at = fields.DateTime(metadata={"description": "出具时间（北京时间）"})
    valid_until = fields.Date(metadata={"description": "有效期至（含当日）"})
    revoked_at = fields.DateTime(allow_none=True)
    revoked_reason = fields.String(allow_none=True)
    subject = fields.Nested(SubjectPublicSchema)
    summary = fields.List(fields.Nested(SummaryLineSchema), metadata={"description": "各类信息条数"})


class FileCheckSchema(Schema):
    identical = fields.Boolean(metadata={"description": "与平台登记的报告文件逐字节一致"})
    signature_intact = fields.Boolean(metadata={"description": "PDF 签章后文件未被改动"})
    signature_valid = fields.Boolean(metadata={"description": "签章完整且证书可信"})
    signature_reason = fields.String(metadata={"description": "ok / changed / untrusted / not_whole_file / ..."})
    signature_message = fields.String()
    registered_signature_valid = fields.Boolean(
        allow_none=True,
        metadata={"description": "平台对登记文件的签名（国密套件为 SM2）对该文件有效；null：非登记文件或早期报告"},
    )


class VerifyResultSchema(Schema):
    genuine = fields.Boolean(metadata={"description": "是否为本平台出具且未被改动的报告"})
    status = fields.String(
        validate=OneOf(["valid", "expired", "revoked", "unknown"]),
        metadata={"description": "valid 有效 / expired 已过期 / revoked 已撤销 / unknown 无法确认"},
    )
    code = fields.String(
        metadata={
            "description": "原因代码：valid, expired, revoked, token_malformed, token_bad_signature, "
            "token_unknown_key, token_mismatch, unknown_number, file_changed, file_unknown, file_unreadable, "
            "file_signature_invalid"
        }
    )
    reason = fields.String(metadata={"description": "中文说明"})
    report = fields.Nested(
        ReportPublicSchema,
        allow_none=True,
        metadata={"description": "报告信息：仅在凭二维码、报告编号和验证码或平台登记的报告文件本身核验时给出"},
    )
    claimed = fields.Nested(
        ReportNumberStatusSchema,
        allow_none=True,
        metadata={
            "description": "上传的文件不是平台登记的报告文件、但载有已登记的报告编号时：该编号及其登记状态，"
            "不含信用主体等报告内容"
        },
    )
    signature = fields.Dict(
        metadata={
            "description": "可离线复核的签名信息：kid、alg、token 与其内容 payload、公钥地址 keys_url；"
            "上传文件时为 pdf 签章结果，及平台对登记文件的签名 file（alg、kid、value、valid）"
        }
    )
    file = fields.Nested(FileCheckSchema, allow_none=True)


class JwkSchema(Schema):
    kty = fields.String()
    crv = fields.String()
    x = fields.String()
    y = fields.String(metadata={"description": "SM2 公钥的 y 坐标（crv 为 SM2 时）"})
    kid = fields.String()
    use = fields.String()
    alg = fields.String(metadata={"description": "EdDSA（Ed25519）或 SM2-SM3"})
    sm2_uid = fields.String(metadata={"description": "SM2 签名所用的用户身份标识（GM/T 0009 默认值）"})


class KeysDocumentSchema(Schema):
    keys = fields.List(fields.Nested(JwkSchema))
