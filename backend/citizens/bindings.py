"""Enterprises a verified person acts for (企业绑定): as its 法定代表人, proved by the ID number
the registering department sent, or as an agent (委托代理人) with an authorisation letter that
platform staff review; and which enterprises a person may act for right now. Flush, never commit.
Suspension of bindings the registration data no longer backs: suspension.py."""

from __future__ import annotations

import datetime as dt
import hmac

import sqlalchemy as sa
from flask import current_app

from backend.actors import Actor
from backend.audit.operations import record_event
from backend.errors import ApiError, Conflict, Forbidden, NotFound
from backend.extensions import db
from backend.identifiers import IdentifierError, validate_uscc
from backend.subjects.models import Subject, SubjectKind
from backend.types import utcnow
from backend.workflows.cases import is_auditor, is_platform_staff
from backend.workflows.materials.models import Material, MaterialPurpose
from backend.workflows.materials.operations import check_materials, stored_bytes

from . import messages as msg
from .models import BindingMethod, BindingStatus, EnterpriseBinding, WeChatUser

LIVE_STATUSES = (BindingStatus.ACTIVE, BindingStatus.PENDING_REVIEW)


def represented_subject_ids(*, person_subject_id: int | None = None, user_id: int | None = None) -> list[int]:
    """Enterprises someone may act for now (active bindings), by the bound person (any of their
    WeChat accounts: the kiosk knows the person only) or by one WeChat account."""
    query = sa.select(EnterpriseBinding.subject_id).where(EnterpriseBinding.status == BindingStatus.ACTIVE)
    if person_subject_id is not None:
        query = query.where(EnterpriseBinding.person_subject_id == person_subject_id)
    if user_id is not None:
        query = query.where(EnterpriseBinding.user_id == user_id)
    return sorted(set(db.session.scalars(query)))


def active_binding_method(
    person_subject_id: int, enterprise_id: int, *, user_id: int | None = None
) -> BindingMethod | None:
    """How this person acts for this enterprise (None: they do not)."""
    query = sa.select(EnterpriseBinding.method).where(
        EnterpriseBinding.person_subject_id == person_subject_id,
        EnterpriseBinding.subject_id == enterprise_id,
        EnterpriseBinding.status == BindingStatus.ACTIVE,
    )
    if user_id is not None:
        query = query.where(EnterpriseBinding.user_id == user_id)
    return db.session.scalar(query.order_by(EnterpriseBinding.id).limit(1))


def find_enterprise(uscc: str) -> Subject:
    try:
        code = validate_uscc(uscc, current_app.extensions["settings"].USCC_LEGACY_ALLOWLIST).code
    except IdentifierError as exc:
        raise ApiError(exc.message, code="invalid_uscc", details=exc.as_details()) from exc
    subject = db.session.scalar(sa.select(Subject).where(Subject.uscc == code, Subject.kind == SubjectKind.LEGAL))
    if subject is None:
        raise NotFound(msg.ENTERPRISE_NOT_FOUND, code="subject_not_found")
    return subject


def bind_enterprise(
    actor: Actor,
    user: WeChatUser,
    uscc: str,
    method: BindingMethod,
    *,
    material_id: int | None = None,
    now: dt.datetime | None = None,
) -> EnterpriseBinding:
    """A verified person binds an enterprise: at once when their own ID number is the registered
    法定代表人证件号码 (compared by keyed hash; a name proves nothing, two people share it), or
    after staff review of an uploaded authorisation letter. An enterprise whose registering
    department has not sent the representative's number can be bound by letter only."""
    assert user.subject_id is not None and user.subject is not None
    now = now or utcnow()
    enterprise = find_enterprise(uscc)
    live = db.session.scalar(
        sa.select(EnterpriseBinding.id).where(
            EnterpriseBinding.user_id == user.id,
            EnterpriseBinding.subject_id == enterprise.id,
            EnterpriseBinding.status.in_((BindingStatus.ACTIVE, BindingStatus.PENDING_REVIEW)),
        )
    )
    if live is not None:
        raise Conflict(msg.BINDING_EXISTS, code="binding_exists")
    if method is BindingMethod.LEGAL_REPRESENTATIVE:
        registered = enterprise.legal_representative_id_number_hash
        verified = user.subject.id_number_hash or ""
        refusal = None
        if not registered:
            refusal = ("no_registered_id", msg.REPRESENTATIVE_ID_UNKNOWN, "representative_id_unknown")
        elif not hmac.compare_digest(registered.encode(), verified.encode()):
            refusal = ("id_mismatch", msg.NOT_LEGAL_REPRESENTATIVE, "not_legal_representative")
        if refusal is not None:
            record_event(
                actor,
                "mp.enterprise.bind_refused",
                target=enterprise,
                subject_id=user.subject_id,
                details={"uscc": enterprise.uscc, "method": method.value, "reason": refusal[0]},
            )
            raise Forbidden(refusal[1], code=refusal[2])
        status = BindingStatus.ACTIVE
    else:
        if material_id is None:
            raise ApiError(msg.LETTER_REQUIRED, code="letter_required")
        (material,) = check_materials(actor, [material_id])
        if material.purpose is not MaterialPurpose.AUTHORISATION:
            raise ApiError(msg.LETTER_NOT_AUTHORISATION, code="letter_required")
        status = BindingStatus.PENDING_REVIEW
    binding = EnterpriseBinding(
        user_id=user.id,
        person_subject_id=user.subject_id,
        subject_id=enterprise.id,
        method=method,
        status=status,
        material_id=material_id if method is BindingMethod.AUTHORISATION_LETTER else None,
        created_at=now,
    )
    db.session.add(binding)
    db.session.flush()
    record_event(
        actor,
        "mp.enterprise.bind",
        target=binding,
        subject_id=user.subject_id,
        details={"uscc": enterprise.uscc, "method": method.value, "status": status.value},
    )
    return binding


REVIEWABLE_STATUSES = (BindingStatus.PENDING_REVIEW, BindingStatus.SUSPENDED)


def review_enterprise_binding(
    actor: Actor,
    binding: EnterpriseBinding,
    approve: bool,
    reason: str | None = None,
    *,
    now: dt.datetime | None = None,
) -> EnterpriseBinding:
    """Platform staff decide on an authorisation letter, or on a suspended legal-representative
    binding after checking the representative offline (the console: miniprogram_api/console_views.py);
    a rejection needs a reason, which the applicant's binding keeps."""
    if not is_platform_staff(actor):
        raise Forbidden(msg.REVIEW_FORBIDDEN, code="forbidden")
    if binding.status not in REVIEWABLE_STATUSES:
        raise Conflict(msg.BINDING_REVIEWED, code="binding_reviewed")
    text = (reason or "").strip()
    if not approve and not text:
        raise ApiError(msg.REJECT_REASON_REQUIRED, code="reason_required")
    was = binding.status
    if approve and was is BindingStatus.SUSPENDED:
        # The holder may have bound again meanwhile: one live binding per user and enterprise.
        live = db.session.scalar(
            sa.select(EnterpriseBinding.id).where(
                EnterpriseBinding.user_id == binding.user_id,
                EnterpriseBinding.subject_id == binding.subject_id,
                EnterpriseBinding.id != binding.id,
                EnterpriseBinding.status.in_((BindingStatus.ACTIVE, BindingStatus.PENDING_REVIEW)),
            )
        )
        if live is not None:
            raise Conflict(msg.BINDING_EXISTS, code="binding_exists")
    binding.status = BindingStatus.ACTIVE if approve else BindingStatus.REJECTED
    binding.reviewed_at = now or utcnow()
    binding.reviewed_by_label = actor.label[:100]
    binding.review_reason = text[:500] or None
    db.session.flush()
    record_event(
        actor,
        "mp.enterprise.review",
        target=binding,
        subject_id=binding.person_subject_id,
        reason=text[:200] or None,
        details={"approved": approve, "enterprise": binding.subject_id, "was": was.value},
    )
    return binding


def revoke_enterprise_binding(actor: Actor, user: WeChatUser, binding_id: int) -> EnterpriseBinding:
    binding = db.session.get(EnterpriseBinding, binding_id)
    if binding is None or binding.user_id != user.id:
        raise NotFound(msg.BINDING_NOT_FOUND, code="binding_not_found")
    if binding.status in (BindingStatus.ACTIVE, BindingStatus.PENDING_REVIEW):
        binding.status = BindingStatus.REVOKED
        db.session.flush()
        record_event(actor, "mp.enterprise.unbind", target=binding, subject_id=binding.person_subject_id)
    return binding


def list_bindings(user: WeChatUser) -> list[EnterpriseBinding]:
    return list(
        db.session.scalars(
            sa.select(EnterpriseBinding).where(EnterpriseBinding.user_id == user.id).order_by(EnterpriseBinding.id)
        )
    )


def get_binding(binding_id: int) -> EnterpriseBinding:
    binding = db.session.get(EnterpriseBinding, binding_id)
    if binding is None:
        raise NotFound(msg.BINDING_NOT_FOUND, code="binding_not_found")
    return binding


def can_read_binding_letter(actor: Actor) -> bool:
    """The authorisation letter names the agent: platform staff (who review it) and auditors."""
    return is_platform_staff(actor) or is_auditor(actor)


def read_binding_letter(actor: Actor, binding: EnterpriseBinding) -> tuple[Material, bytes]:
    """The uploaded authorisation letter of a binding, for staff review; every view is audited.

    ``materials.read_material`` serves files attached to a case only: a letter belongs to a
    binding, so it is read here, with the same hash check (never show a file other than the
    one uploaded)."""
    if not can_read_binding_letter(actor):
        raise Forbidden(msg.LETTER_FORBIDDEN, code="forbidden")
    material = db.session.get(Material, binding.material_id) if binding.material_id else None
    if material is None:
        raise NotFound(msg.LETTER_MISSING, code="material_not_found")
    data = stored_bytes(material, msg.LETTER_MISSING)
    record_event(
        actor,
        "mp.enterprise.letter_view",
        target=material,
        subject_id=binding.person_subject_id,
        reason="企业授权审核",
        details={"binding": binding.id, "enterprise": binding.subject_id, "sha256": material.sha256},
    )
    return material, data
