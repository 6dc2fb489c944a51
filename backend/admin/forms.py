"""HTML forms of the console (Flask-WTF): every POST form carries and checks a CSRF token."""

from __future__ import annotations

import datetime as dt

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

REQUIRED = "此项为必填项"


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired(REQUIRED), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired(REQUIRED), Length(max=200)])


class TotpForm(FlaskForm):
    code = StringField(
        "动态口令",
        validators=[DataRequired(REQUIRED), Regexp(r"^\s*\d{6}\s*$", message="请输入 6 位数字口令")],
    )


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("当前密码", validators=[DataRequired(REQUIRED), Length(max=200)])
    new_password = PasswordField("新密码（至少 10 个字符）", validators=[DataRequired(REQUIRED), Length(max=200)])
    confirm_password = PasswordField("再次输入新密码", validators=[DataRequired(REQUIRED), Length(max=200)])


class ActionForm(FlaskForm):
    """A button that changes state (logout, revoke, delete, verify): only the CSRF token."""


class DepartmentForm(FlaskForm):
    code = StringField(
        "部门代码",
        validators=[
            DataRequired(REQUIRED),
            Length(max=32),
            Regexp(r"^[A-Za-z0-9_-]+$", message="只能包含字母、数字、下划线和连字符"),
        ],
    )
    name = StringField("部门名称", validators=[DataRequired(REQUIRED), Length(max=100)])
    uscc = StringField(
        "统一社会信用代码", validators=[DataRequired(REQUIRED), Length(min=18, max=18, message="应为 18 位")]
    )
    abbreviation = StringField("简称（文号前缀）", validators=[Optional(), Length(max=20)])
    registers_subjects = BooleanField("登记机关（市场监管、民政、机构编制：报送的主体名称和法定代表人直接采用）")


class ApiKeyForm(FlaskForm):
    label = StringField("用途说明", validators=[Optional(), Length(max=100)])


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        "查询事由",
        validators=[DataRequired("请填写查询事由"), Length(min=4, max=200, message="查询事由应为 4 至 200 个字")],
    )


class CalendarOverrideForm(FlaskForm):
    day = DateField("日期", validators=[InputRequired("请选择日期")], format="%Y-%m-%d")
    kind = RadioField(
        "类型",
        choices=[SelectChoice("holiday", "放假（非工作日）"), SelectChoice("workday", "调休上班（工作日）")],
        validators=[InputRequired("请选择类型")],
    )
    note = StringField("说明", validators=[Optional(), Length(max=100)])


class CalendarYearForm(FlaskForm):
    year = IntegerField(
        "年度",
        validators=[
            InputRequired("请输入年度"),
            NumberRange(min=2000, max=dt.date.today().year + 5, message="年度超出可确认范围"),
        ],
    )
    source = StringField("依据（如国务院办公厅通知文号）", validators=[Optional(), Length(max=200)])


class TierForm(FlaskForm):
    """A department confirms or changes a penalty tier the city's rule derived."""

    tier = RadioField(
        "处罚等级",
        choices=[SelectChoice("minor", "轻微"), SelectChoice("general", "一般"), SelectChoice("serious", "严重")],
        validators=[InputRequired("请选择处罚等级")],
    )


class ImportUploadForm(FlaskForm):
    """A department's file (the national 双公示 templates, CSV or XLSX) imported from the console."""

    department = SelectField("数据提供单位", coerce=int, validators=[InputRequired("请选择部门")])
    category = SelectField("信息类别（文件无“信息类别”列且无法从列名判断时）", validators=[Optional()])
    atomic = BooleanField("任一行有错误则整批不入库")
    file = FileField("文件（.csv 或 .xlsx）", validators=[FileRequired("请选择要导入的文件")])


class CodeIssueForm(FlaskForm):
    """Resolving a 重错码 issue: which subject (merge into / rename), the new name, the reason."""

    subject_id = IntegerField("主体", validators=[Optional()])
    name = StringField("新名称", validators=[Optional(), Length(max=200)])
    reason = StringField("处理说明", validators=[Optional(), Length(max=200)])


class DataDomainForm(FlaskForm):
    """Registering a data feed or moving its dates (issue 16 item 12)."""

    category = SelectField("信息类别", validators=[DataRequired(REQUIRED)])
    department_id = SelectField("数据提供单位", coerce=int, validators=[InputRequired(REQUIRED)])
    covers_from = DateField("完整归集起始日期", validators=[InputRequired(REQUIRED)])
    ended_on = DateField("停止归集日期（可空）", validators=[Optional()])
    note = StringField("归集方式及依据", validators=[Optional(), Length(max=200)])
    reason = StringField("登记事由", validators=[DataRequired(REQUIRED), Length(max=200)])
