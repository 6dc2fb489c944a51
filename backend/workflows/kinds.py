"""The table of case kinds: for each kind (异议申诉, 信用修复) its model, operations, labels, commitment
and materials, so that a channel treats the kinds alike by looking them up instead of branching
on ``kind == "objection"``.

The rules of each kind stay in its own package (objections: the flow of DOMAIN.md "Objection";
repairs: NDRC Order No. 36 《信用修复管理办法》 and DOMAIN.md "Credit repair"); this table only
names them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .commitments.models import CommitmentKind
from .commitments.templates import OBJECTION as OBJECTION_TEMPLATE
from .commitments.templates import REPAIR as REPAIR_TEMPLATE
from .commitments.templates import CommitmentTemplate
from .materials.models import MaterialPurpose
from .messages import KIND_LABELS
from .objections import messages as objection_msg
from .objections import operations as objections
from .objections.models import Objection, ObjectionHistory, ObjectionOutcome
from .repairs import messages as repair_msg
from .repairs import operations as repairs
from .repairs.models import RepairApplication, RepairHistory, RepairOutcome


@dataclass(frozen=True)
class CaseKind:
    key: str  # the model's CASE_TYPE, the URL segment, the topic prefix
    model: type
    history: type
    outcome: type  # the enum of decisions
    outcome_labels: dict[str, str]
    commitment: CommitmentKind
    commitment_template: CommitmentTemplate
    # What a filing needs besides the common fields (statement, commitment, materials).
    filing_fields: tuple[str, ...]
    required_purposes: tuple[MaterialPurpose, ...]  # materials a filing must include
    extension_setting: str  # the most working days one extension may add
    get: Callable[[str], Any]  # by query code (查询码)
    file: Callable[..., Any]
    accept: Callable[..., Any]
    return_: Callable[..., Any]
    supplement: Callable[..., Any]
    extend: Callable[..., Any]
    decide: Callable[..., Any]
    deliver: Callable[..., Any]
    withdraw: Callable[..., Any]

    @property
    def label(self) -> str:
        return KIND_LABELS[self.key]

    @property
    def material_key(self) -> str:
        """The column of Material that points at a case of this kind."""
        return self.model.MATERIAL_KEY


CASE_KINDS: dict[str, CaseKind] = {
    "objection": CaseKind(
        key="objection",
        model=Objection,
        history=ObjectionHistory,
        outcome=ObjectionOutcome,
        outcome_labels=objection_msg.OUTCOME_LABELS,
        commitment=CommitmentKind.OBJECTION,
        commitment_template=OBJECTION_TEMPLATE,
        filing_fields=("ground",),
        required_purposes=(),
        extension_setting="OBJECTION_EXTENSION_MAX_WORKING_DAYS",
        get=objections.get_objection,
        file=objections.file_objection,
        accept=objections.accept_objection,
        return_=objections.return_objection,
        supplement=objections.supplement_objection,
        extend=objections.extend_objection,
        decide=objections.decide_objection,
        deliver=objections.deliver_objection_result,
        withdraw=objections.withdraw_objection,
    ),
    "repair": CaseKind(
        key="repair",
        model=RepairApplication,
        history=RepairHistory,
        outcome=RepairOutcome,
        outcome_labels=repair_msg.OUTCOME_LABELS,
        commitment=CommitmentKind.REPAIR,
        commitment_template=REPAIR_TEMPLATE,
        filing_fields=(),
        required_purposes=(MaterialPurpose.FULFILMENT,),
        extension_setting="REPAIR_EXTENSION_MAX_WORKING_DAYS",
        get=repairs.get_repair,
        file=repairs.file_repair,
        accept=repairs.accept_repair,
        return_=repairs.return_repair,
        supplement=repairs.supplement_repair,
        extend=repairs.extend_repair,
        decide=repairs.decide_repair,
        deliver=repairs.deliver_repair_result,
        withdraw=repairs.withdraw_repair,
    ),
}


def case_kind(key_or_case: str | Any) -> CaseKind:
    """The kind of ``key_or_case`` (a kind's key or a case of it); KeyError for neither."""
    key = key_or_case if isinstance(key_or_case, str) else key_or_case.CASE_TYPE
    return CASE_KINDS[key]
