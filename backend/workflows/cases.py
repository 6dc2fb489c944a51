"""What every case kind shares: states, applicants, case numbers, the ORM mixins of a case and
its history, the permission predicates, and filing (one open case per record, of any kind).

Every time limit is a configurable default (DOMAIN.md) defined once, as a typed field of
``backend/config.py``, and read through ``workflow_setting``. Case models register themselves
here by ``CASE_TYPE`` (``CASE_MODELS``), so shared rules that look across kinds (one open case
per record, the case a material belongs to) need no import of a kind's package.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from ..actors import Actor
from ..errors import ApiError, Conflict, Forbidden, NotFound
from ..extensions import db
from ..identifiers import IdentifierError, validate_id_number
from ..pii import cipher, mask_id_number, mask_name
from ..staff.models import StaffRole
from ..types import LOCAL_TZ, enum_column, utcnow
from . import messages as msg


def workflow_setting(name: str) -> Any:
    """A workflow setting (time limits, outbox, materials): typed fields of backend/config.py."""
    return getattr(current_app.extensions["settings"], name)


def local_time_text(moment: dt.datetime) -> str:
    return moment.replace(tzinfo=dt.UTC).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


class CaseState(enum.Enum):
    """The states both workflows go through (Chinese labels in messages.STATE_LABELS)."""

    SUBMITTED = "submitted"  # 待受理: waiting for the platform's completeness check
    RETURNED = "returned"  # 退回补正: the applicant must supplement what is listed
    UNDER_REVIEW = "under_review"  # 部门核查中: accepted and routed to the deciding department
    DECIDED = "decided"  # 已作出决定: the result must still reach the applicant
    CLOSED = "closed"  # 已办结
    WITHDRAWN = "withdrawn"  # 已撤回

    @property
    def label(self) -> str:
        return msg.STATE_LABELS[self.value]


OPEN_STATES = (CaseState.SUBMITTED, CaseState.RETURNED, CaseState.UNDER_REVIEW, CaseState.DECIDED)
# Only these have a running deadline; a returned case waits for the applicant.
DEADLINE_STATES = (CaseState.SUBMITTED, CaseState.UNDER_REVIEW, CaseState.DECIDED)


def open_states_sql() -> str:
    return "state IN (" + ", ".join(f"'{s.value}'" for s in OPEN_STATES) + ")"


class ApplicantKind(enum.Enum):
    SELF = "self"  # 本人
    LEGAL_REPRESENTATIVE = "legal_representative"  # 法定代表人
    AGENT = "agent"  # 委托代理人 (with an authorisation document)


@dataclass(frozen=True)
class Applicant:
    """Who files: the subject itself, its legal representative, or an authorised agent."""

    kind: ApplicantKind
    name: str
    id_number: str | None = None  # a natural person's 居民身份证号码, when known (verified)

    def validated(self) -> Applicant:
        name = (self.name or "").strip()
        if not name:
            raise ApiError(msg.NAME_REQUIRED, code="applicant_invalid")
        if len(name) > 100:
            raise ApiError(msg.NAME_TOO_LONG, code="applicant_invalid")
        number = None
        if self.id_number:
            try:
                number = validate_id_number(self.id_number)
            except IdentifierError as exc:
                raise ApiError(msg.ID_NUMBER_INVALID.format(reason=exc.message), code="applicant_invalid") from exc
        return Applicant(self.kind, name, number)


def applicant_columns(applicant: Applicant, actor: Actor) -> dict[str, Any]:
    """The applicant's stored form: names and ID numbers encrypted, masked copies in clear."""
    pii = cipher()
    values: dict[str, Any] = {
        "applicant_kind": applicant.kind,
        "applicant_name_encrypted": pii.encrypt(applicant.name, "case.applicant_name"),
        "applicant_name_masked": mask_name(applicant.name),
        "applicant_key": actor_key(actor),
        "channel": actor.channel,
    }
    if applicant.id_number:
        values.update(
            applicant_id_number_encrypted=pii.encrypt(applicant.id_number, "case.applicant_id_number"),
            applicant_id_number_masked=mask_id_number(applicant.id_number),
            applicant_id_number_hash=pii.lookup_hash(applicant.id_number, "id_number"),
        )
    return values


def actor_key(actor: Actor) -> str:
    return f"{actor.type}:{actor.id or actor.label}"


# Base32 without the look-alikes I, L, O, U: readable over the phone and on a printed slip.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_RANDOM_CHARS = 10  # 50 random bits


def new_case_number(prefix: str, day: dt.date) -> str:
    """Application number = progress query code (查询码): prefix, date, 50 random bits."""
    tail = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_RANDOM_CHARS))
    return f"{prefix}{day:%Y%m%d}{tail}"


def normalise_case_number(raw: str) -> str:
    return "".join(ch for ch in (raw or "").upper() if ch.isalnum())


# Every case model by its CASE_TYPE, in the order the models were defined (objection, repair).
CASE_MODELS: dict[str, type] = {}


class CaseMixin:
    """Columns every case (objection, repair application) has."""

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(24), unique=True)  # 查询码
    record_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_record.id"), index=True)
    subject_id: Mapped[int] = mapped_column(sa.ForeignKey("subject.id"), index=True)
    # The deciding department (认定单位, "谁认定、谁修复"), copied from the record at filing.
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    commitment_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_commitment.id"), unique=True)

    applicant_kind: Mapped[ApplicantKind] = mapped_column(enum_column(ApplicantKind, "applicant_kind"))
    applicant_name_encrypted: Mapped[str] = mapped_column(sa.Text)
    applicant_name_masked: Mapped[str] = mapped_column(sa.String(100))
    applicant_id_number_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    applicant_id_number_masked: Mapped[str | None] = mapped_column(sa.String(18))
    applicant_id_number_hash: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    applicant_key: Mapped[str] = mapped_column(sa.String(100))  # the filing actor, e.g. "citizen:42"
    channel: Mapped[str] = mapped_column(sa.String(20))  # mp | kiosk | admin (counter) ...
    statement: Mapped[str] = mapped_column(sa.Text)  # the applicant's grounds / explanation

    missing_items: Mapped[list[str] | None] = mapped_column(sa.JSON)  # of the last return
    supplement_note: Mapped[str | None] = mapped_column(sa.Text)

    step_started_on: Mapped[dt.date]
    deadline: Mapped[dt.date | None] = mapped_column(index=True)
    reminded_deadline: Mapped[dt.date | None]  # the deadline a reminder was sent for
    escalated_deadline: Mapped[dt.date | None]  # the overdue deadline escalated to the admin
    escalated_at: Mapped[dt.datetime | None]

    extended_at: Mapped[dt.datetime | None]
    extension_days: Mapped[int | None]
    extension_reason: Mapped[str | None] = mapped_column(sa.Text)

    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    decided_at: Mapped[dt.datetime | None]
    decided_by_id: Mapped[str | None] = mapped_column(sa.String(64))
    decided_by_label: Mapped[str | None] = mapped_column(sa.String(100))

    filed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Optimistic concurrency: every transition is a compare-and-set on this column.
    version: Mapped[int] = mapped_column(default=1)

    CASE_TYPE = "case"  # "objection" | "repair": topics, audit actions, history
    NUMBER_PREFIX = "XX"
    MATERIAL_KEY = "case_id"  # the column of Material that points at a case of this kind

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "CASE_TYPE" in cls.__dict__:
            CASE_MODELS[cls.CASE_TYPE] = cls

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_overdue_escalated(self) -> bool:
        return self.deadline is not None and self.escalated_deadline == self.deadline

    def applicant_name(self) -> str:
        """The clear name, for owner and reviewer surfaces only."""
        return cipher().decrypt(self.applicant_name_encrypted, "case.applicant_name")

    # Permission predicates (STYLE.md 5).
    def can_accept(self, actor: Actor) -> bool:
        """Completeness check (受理/退回): platform staff."""
        return is_platform_staff(actor)

    def can_decide(self, actor: Actor) -> bool:
        """Decisions and extensions: the record's own department only ("谁认定、谁负责")."""
        return is_department_actor(actor, self.department_id)

    def can_view(self, actor: Actor) -> bool:
        return (
            is_platform_staff(actor)
            or is_auditor(actor)
            or is_department_actor(actor, self.department_id)
            or self.is_applicant(actor)
        )

    def can_withdraw(self, actor: Actor) -> bool:
        # The counter may record a withdrawal handed in on paper.
        return self.is_applicant(actor) or is_platform_staff(actor)

    def can_supplement(self, actor: Actor) -> bool:
        return self.is_applicant(actor) or is_platform_staff(actor)

    def can_deliver(self, actor: Actor) -> bool:
        return is_platform_staff(actor) or actor.type == "system"

    def is_applicant(self, actor: Actor) -> bool:
        return actor.type not in ("system", "public") and actor_key(actor) == self.applicant_key


def _staff_role(actor: Actor) -> StaffRole | None:
    if actor.type != "staff" or actor.obj is None or not getattr(actor.obj, "is_active", False):
        return None
    return actor.obj.role


def is_platform_staff(actor: Actor) -> bool:
    return _staff_role(actor) is StaffRole.PLATFORM_ADMIN


def is_auditor(actor: Actor) -> bool:
    return _staff_role(actor) is StaffRole.AUDITOR


def is_department_actor(actor: Actor, department_id: int) -> bool:
    if _staff_role(actor) is StaffRole.DEPT_REVIEWER:
        return actor.obj.department_id == department_id
    if actor.type == "department" and actor.obj is not None:
        return actor.obj.id == department_id
    return False


def require(allowed: bool, action: str) -> None:
    if not allowed:
        raise Forbidden(msg.NOT_ALLOWED.format(action=msg.ACTIONS[action]))


def require_reason(reason: str | None, action: str, limit: int = 2000) -> str:
    text = (reason or "").strip()
    if not text:
        raise ApiError(msg.REASON_REQUIRED.format(action=msg.ACTIONS[action]), code="reason_required")
    if len(text) > limit:
        raise ApiError(msg.REASON_TOO_LONG.format(limit=limit), code="reason_too_long")
    return text


class HistoryMixin:
    """One row per transition: who, when, from, to, why (完整流转记录)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(sa.String(40))
    from_state: Mapped[str | None] = mapped_column(sa.String(32))
    to_state: Mapped[str] = mapped_column(sa.String(32))
    actor_type: Mapped[str] = mapped_column(sa.String(20))
    actor_id: Mapped[str | None] = mapped_column(sa.String(64))
    actor_label: Mapped[str] = mapped_column(sa.String(100))
    channel: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    @declared_attr.directive
    def __table_args__(cls) -> tuple:
        return (sa.Index(f"ix_{cls.__tablename__}_case_at", "case_id", "at"),)

    @property
    def who(self) -> str:
        # Citizens are never named in texts other people read.
        return self.actor_label if self.actor_type in ("staff", "department", "system") else msg.APPLICANT_LABEL


# Filing: shared by every kind.


def find_open_case(model: type, record_id: int) -> Any:
    return db.session.scalar(
        sa.select(model).where(model.record_id == record_id, model.state.in_(OPEN_STATES)).limit(1)
    )


def lock_record(record: Any) -> None:
    """Serialise filings and decisions on one record (row lock on PostgreSQL)."""
    from ..records.models import CreditRecord

    db.session.execute(sa.select(CreditRecord.id).where(CreditRecord.id == record.id).with_for_update())
    db.session.refresh(record)


def check_commitment(actor: Actor, commitment: Any, kind: Any, record: Any, model: type, title: str) -> None:
    if commitment is None:
        raise ApiError(msg.COMMITMENT_REQUIRED.format(title=title), code="commitment_required")
    used = db.session.scalar(sa.select(model.id).where(model.commitment_id == commitment.id))
    if (
        commitment.kind is not kind
        or commitment.record_id != record.id
        or commitment.signer_key != actor_key(actor)
        or used is not None
    ):
        raise ApiError(msg.COMMITMENT_MISMATCH, code="commitment_mismatch")


def get_case_by_number(model: type, number: str) -> Any:
    case = db.session.scalar(sa.select(model).where(model.number == normalise_case_number(number)))
    if case is None:
        raise NotFound(msg.NUMBER_NOT_FOUND, code="case_not_found")
    return case


def check_missing_items(items: Any) -> list[str]:
    cleaned = [str(item).strip()[:200] for item in (items or []) if str(item).strip()]
    if not cleaned:
        raise ApiError(msg.MISSING_ITEMS_REQUIRED, code="missing_items_required")
    return cleaned


def record_status_after_case(record: Any, today: dt.date) -> Any:
    """Where a record goes back to when its mark is removed: shown again, or expired by now."""
    from ..records.models import RecordStatus

    if record.visible_until is not None and record.visible_until < today:
        return RecordStatus.EXPIRED
    return RecordStatus.PUBLIC


def open_case_on_record(record_id: int, *kinds: str) -> Any:
    """The open case of any kind (or of ``kinds``) on a record, if there is one."""
    for kind, model in CASE_MODELS.items():
        if kinds and kind not in kinds:
            continue
        if (case := find_open_case(model, record_id)) is not None:
            return case
    return None


def check_record_open_to_cases(record: Any) -> None:
    """One open case per record, objection or repair: each would change the record's status."""
    from ..records.models import RecordStatus

    if record.status is RecordStatus.WITHDRAWN:
        raise Conflict(msg.RECORD_WITHDRAWN, code="record_withdrawn")
    if record.status is RecordStatus.REPAIRED:
        raise Conflict(msg.RECORD_REPAIRED, code="record_repaired")
    if (case := open_case_on_record(record.id)) is not None:
        raise Conflict(
            msg.OPEN_CASE_EXISTS[case.CASE_TYPE].format(number=case.number),
            code="open_application_exists",
            details={"number": case.number},
        )


def case_of_material(material: Any) -> Any:
    """The case a material was submitted with, of whichever kind; None while unattached."""
    for model in CASE_MODELS.values():
        if (case_id := getattr(material, model.MATERIAL_KEY)) is not None:
            return db.session.get(model, case_id)
    return None
