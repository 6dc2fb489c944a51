"""Commitment letters: render from the template, click-to-sign. Flush, never commit.

The text shown to the signer and the text stored are the same string: ``render_commitment`` is
deterministic for a record, a signer and a date, and ``sign_commitment`` stores its SHA-256, so
the hash proves which words were agreed to. Natural persons appear in it masked only, because a
repair commitment is published.

Not built yet: the PDF rendering through ``reports/`` (it arrives with the reports issue).
"""

from __future__ import annotations

import datetime as dt
import hashlib

from ...actors import Actor
from ...audit.operations import record_event
from ...errors import Conflict
from ...extensions import db
from ...pii import cipher, mask_name
from ...records.models import CreditRecord
from ...types import utcnow
from ..common import Applicant, actor_key, local_date
from ..messages import APPLICANT_KIND_LABELS
from . import templates
from .models import CommitmentKind, CreditCommitment

TEMPLATES = {CommitmentKind.OBJECTION: templates.OBJECTION, CommitmentKind.REPAIR: templates.REPAIR}


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def render_commitment(kind: CommitmentKind, record: CreditRecord, applicant: Applicant, day: dt.date) -> str:
    """The exact text the applicant is shown and signs."""
    template = TEMPLATES[kind]
    subject = record.subject
    return template.body.substitute(
        subject_name=subject.display_name,
        subject_code=subject.display_code,
        record_title=record.title or record.violation_type or record.penalty_category or "信用信息",
        decision_number=record.decision_number,
        department_name=record.department.name,
        signer_name=mask_name(applicant.name),
        applicant_kind=APPLICANT_KIND_LABELS[applicant.kind.value],
        date=f"{day.year}年{day.month}月{day.day}日",
    )


def sign_commitment(
    actor: Actor,
    kind: CommitmentKind,
    record: CreditRecord,
    applicant: Applicant,
    *,
    shown_text_sha256: str | None = None,
    now: dt.datetime | None = None,
) -> CreditCommitment:
    """Record a click-to-sign. ``shown_text_sha256`` (from the page the applicant saw) must match
    the text rendered now, so nobody signs words they were not shown."""
    applicant = applicant.validated()
    now = now or utcnow()
    text = render_commitment(kind, record, applicant, local_date(now))
    digest = text_hash(text)
    if shown_text_sha256 is not None and shown_text_sha256 != digest:
        raise Conflict("承诺书内容已更新，请重新阅读后签署", code="commitment_changed")
    commitment = CreditCommitment(
        kind=kind,
        template_version=TEMPLATES[kind].version,
        record_id=record.id,
        subject_id=record.subject_id,
        text=text,
        text_sha256=digest,
        signer_name_encrypted=cipher().encrypt(applicant.name, "commitment.signer_name"),
        signer_name_masked=mask_name(applicant.name),
        signer_key=actor_key(actor),
        channel=actor.channel,
        signed_at=now,
        is_public=kind is CommitmentKind.REPAIR,
    )
    db.session.add(commitment)
    db.session.flush()
    record_event(
        actor,
        f"commitment.sign.{kind.value}",
        target=commitment,
        subject_id=record.subject_id,
        details={"record_id": record.id, "sha256": digest, "template": commitment.template_version},
    )
    return commitment


def verify_commitment(commitment: CreditCommitment) -> bool:
    """True if the stored text still matches the hash taken when it was signed."""
    return text_hash(commitment.text) == commitment.text_sha256
