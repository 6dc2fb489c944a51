"""Forms of the reviewers' console (objections and repairs). Field names are unique across the
case page's forms, so every label points at its own input and no form reads another's data."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..records.labels import TIER_LABELS
from ..workflows.objections.messages import FIELD_LABELS as CORRECTION_LABELS
from ..workflows.objections.messages import OUTCOME_LABELS as OBJECTION_OUTCOMES
from ..workflows.objections.operations import CORRECTABLE_FIELDS
from ..workflows.repairs.messages import OUTCOME_LABELS as REPAIR_OUTCOMES

REASON_LENGTH = Length(min=2, max=2000, message="理由应为 2 至 2000 个字")


class ReturnForm(FlaskForm):
    missing_items = TextAreaField(
        "缺少的材料或信息（每行一项）",
        validators=[InputRequired("请逐项列明缺少的材料或信息"), Length(max=4000, message="内容过长")],
    )

    def items(self) -> list[str]:
        return [line.strip() for line in (self.missing_items.data or "").splitlines() if line.strip()]


class ObjectionDecisionForm(FlaskForm):
    outcome = RadioField(
        "决定",
        choices=[SelectChoice(value, label) for value, label in OBJECTION_OUTCOMES.items()],
        validators=[InputRequired("请选择决定")],
    )
    decision_reason = TextAreaField("决定理由", validators=[InputRequired("请填写决定理由"), REASON_LENGTH])


def correction_field_names() -> list[str]:
    return [f"fix_{name}" for name in CORRECTABLE_FIELDS]


# One input per correctable field, prefilled with the record's value: what the reviewer changes
# is the correction (the operation validates the values and refuses "no change").
for _name, _kind in CORRECTABLE_FIELDS.items():
    _label = CORRECTION_LABELS[_name]
    if _kind == "tier":
        _field = SelectField(
            _label,
            choices=[SelectChoice("", "—")] + [SelectChoice(t.value, label) for t, label in TIER_LABELS.items()],
            validators=[Optional()],
        )
    elif _name in ("facts", "legal_basis", "penalty_content"):
        _field = TextAreaField(_label, validators=[Optional(), Length(max=5000)])
    else:
        _field = StringField(_label, validators=[Optional(), Length(max=5000)])
    setattr(ObjectionDecisionForm, f"fix_{_name}", _field)


class RepairDecisionForm(FlaskForm):
    outcome = RadioField(
        "决定",
        choices=[SelectChoice(value, label) for value, label in REPAIR_OUTCOMES.items()],
        validators=[InputRequired("请选择决定")],
    )
    decision_reason = TextAreaField("决定理由", validators=[InputRequired("请填写决定理由"), REASON_LENGTH])


class ExtendForm(FlaskForm):
    extension_days = IntegerField(
        "延期工作日数",
        validators=[InputRequired("请填写延期天数"), NumberRange(min=1, max=60, message="延期天数无效")],
    )
    extension_reason = TextAreaField("延期理由", validators=[InputRequired("请填写延期理由"), REASON_LENGTH])


class WithdrawForm(FlaskForm):
    """A withdrawal the applicant handed in at the counter or by letter, recorded by platform staff."""

    withdraw_reason = TextAreaField(
        "撤回原因（记入流转记录）",
        validators=[DataRequired("请填写撤回原因，如：申请人到窗口书面撤回"), REASON_LENGTH],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
    )
    withdraw_confirm = BooleanField(
        "已核对申请人（或其代理人）签署的书面撤回申请，确认撤回",
        validators=[DataRequired("请勾选确认已核对申请人的书面撤回申请")],
    )
