"""HTML forms of the public verification page and the counter (Flask-WTF, CSRF-checked)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import IntegerField, RadioField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..records.labels import category_label
from .content import SPECIAL_OPTIONAL

REQUIRED = "此项为必填项"


class VerifyForm(FlaskForm):
    """Public: no login. The CSRF token (in the session cookie) keeps other sites from posting
    uploads through a visitor's browser and spending the visitor's rate limit."""

    number = StringField("报告编号", validators=[Optional(), Length(max=40)])
    code = StringField("验证码", validators=[Optional(), Length(max=20)])
    file = FileField("或上传报告 PDF 文件")


class IssueForm(FlaskForm):
    query = StringField(
        "统一社会信用代码或身份证号码",
        validators=[DataRequired(REQUIRED), Length(max=18, min=18, message="应为 18 位")],
    )
    kind = RadioField(
        "报告种类",
        choices=[
            SelectChoice("enterprise", "法人和非法人组织公共信用信息报告"),
            SelectChoice("personal", "个人公共信用信息报告"),
            SelectChoice("special", "专项信用报告（有无违法违规记录证明版）"),
        ],
        default="enterprise",
        validators=[DataRequired(REQUIRED)],
    )
    years = IntegerField(
        "专项报告查询期限（年）", validators=[Optional(), NumberRange(min=1, max=5, message="应为 1 至 5 年")]
    )
    domains = SelectMultipleField(
        "专项报告附加领域",
        choices=[SelectChoice(c.value, category_label(c)) for c in SPECIAL_OPTIONAL],
        validators=[Optional()],
    )
    identity_check = TextAreaField(
        "身份核验情况（个人报告、专项报告必填）",
        validators=[Optional(), Length(max=200)],
    )


class RevokeForm(FlaskForm):
    reason = TextAreaField("撤销原因", validators=[DataRequired("请填写撤销原因"), Length(max=500)])
