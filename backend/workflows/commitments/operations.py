"""Commitment letters: render from the template, click-to-sign, publish. Flush, never commit.

The text shown to the signer and the text stored are the same string: ``render_commitment`` is
deterministic for a record, a signer and a date, and ``sign_commitment`` stores its SHA-256, so
the hash proves which words were agreed to. Natural persons appear in it masked only, because a
repair commitment is published.

A repair commitment (信用修复型信用承诺) is published in the subject's record when the repair
application is filed: ``publish_repair_commitment`` writes a COMMITMENT record through the
ordinary record upsert, so the ordinary publicity rules decide who sees it (an enterprise's is
public; a natural person's never is, but stays in the person's own record and reports).
``withdraw_repair_commitment`` takes it back when the application is withdrawn.

The signed letter as PDF: ``reports/letters.py`` (``render_letter``) renders it, from the exact
signed text plus the signing facts and the hash; the console serves it on the case page
(``admin.case_commitment_pdf`` in backend/admin/case_views.py, audited as
``commitment.export_pdf``). The kiosk uses the same renderer for its filing receipt
(kiosk/operations.py ``receipt_pdf``), not for the commitment itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import current_app

from ...actors import Actor
from ...audit.operations import record_event
from ...errors import Conflict
from ...extensions import db
from ...outbox.operations import enqueue_event
from ...pii import cipher, mask_name
from ...records.labels import category_label
from ...records.models import CreditRecord, RecordCategory, RecordStatus
from ...records.operations import RecordInput, RecordWriter
from ...records.publicity import PublicityRules
from ...types import local_date, utcnow
from ...workdays.service import load_calendar
from ..cases import Applicant, actor_key, lock_record
from ..messages import APPLICANT_KIND_LABELS
from . import templates
from .models import CommitmentKind, CreditCommitment

if TYPE_CHECKING:
    from ..repairs.models import RepairApplication

TEMPLATES = {CommitmentKind.OBJECTION: templates.OBJECTION, CommitmentKind.REPAIR: templates.REPAIR}


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_title(record: CreditRecord) -> str:
    """How a commitment names the record it is about."""
    return record.title or record.violation_type or record.penalty_category or "信用信息"


def render_commitment(kind: CommitmentKind, record: CreditRecord, applicant: Applicant, day: dt.date) -> str:
    """The exact text the applicant is shown and signs."""
    template = TEMPLATES[kind]
    subject = record.subject
    return template.body.substitute(
        subject_name=subject.display_name,
        subject_code=subject.display_code,
        record_title=record_title(record),
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


# --- Publication of repair commitments (信用修复型信用承诺) in the subject's record ------------

PUBLISHED_TITLE = "信用修复承诺"
PUBLISHED_FACTS = (
    "信用主体就{department_name}认定的一条{category_label}信息申请信用修复，"
    "签署《{letter_title}》并公开承诺：已经履行法定责任和义务，违法行为已经纠正、不良影响已经消除；"
    "所提交的申请材料及相关信息真实、准确、完整、有效；今后严格遵守法律法规，依法诚信经营，接受社会监督；"
    "如违反承诺，自愿接受撤销修复结果、重新公示等处理。"
    "承诺日期：{date}；承诺书模板版本：{version}；承诺书文本摘要（SHA-256）：{sha256}。"
)


def published_commitment_number(application: RepairApplication) -> str:
    """The decision number of the published commitment: unique per repair application (by its id;
    the record is keyed by department and number). Not the application number itself: that is
    the applicant's query code (查询码), which no public surface shows."""
    return f"信修承〔{local_date(application.filed_at).year}〕{application.id}号"


def find_published_commitment(application: RepairApplication) -> CreditRecord | None:
    return db.session.scalar(
        sa.select(CreditRecord).where(
            CreditRecord.department_id == application.department_id,
            CreditRecord.decision_number == published_commitment_number(application),
        )
    )


def publish_repair_commitment(
    actor: Actor, application: RepairApplication, *, now: dt.datetime | None = None
) -> CreditRecord:
    """Publish the application's signed repair commitment as a COMMITMENT record of the subject.

    Written through the record upsert (``RecordWriter``) like any department record, so the
    publicity rules apply unchanged: an enterprise's commitment is public (profile, search,
    enterprise report) until the end of the repaired record's publicity period, which is the
    period the commitment stands under public supervision; a natural person's is never public
    but is kept in the person's record and shown in the person's own reports.

    The record's department (认定单位) is the repaired record's department, which decides the
    repair ("谁认定、谁修复"): every record needs a department and the platform is not one. The
    data source (``source_department_id``) stays empty: the platform itself received the
    commitment. The decision date is the filing day.
    """
    commitment = application.commitment
    record = application.record
    subject = record.subject
    natural = subject.is_natural
    day = local_date(now or utcnow())
    settings = current_app.extensions["settings"]
    item = RecordInput(
        department_id=record.department_id,
        category=RecordCategory.COMMITMENT,
        decision_number=published_commitment_number(application),
        decision_date=day,
        received_date=day,
        # The writer stores a natural person's name masked, as for every record.
        subject_name=subject.reveal_name() if natural else (subject.name or ""),
        uscc=None if natural else subject.uscc,
        id_number=subject.reveal_id_number() if natural else None,
        legal_representative=None if natural else subject.legal_representative,
        valid_until=record.visible_until,
        title=PUBLISHED_TITLE,
        facts=PUBLISHED_FACTS.format(
            # Not the repaired record's title or decision number: once the repair is approved the
            # record stops being published, and the commitment must not keep it identifiable.
            # The signed text (kept with its hash, shown to staff) names the record in full.
            category_label=category_label(record.category),
            department_name=record.department.name,
            letter_title=TEMPLATES[CommitmentKind.REPAIR].title,
            date=_chinese_date(local_date(commitment.signed_at)),
            version=commitment.template_version,
            sha256=commitment.text_sha256,
        ),
    )
    writer = RecordWriter(
        load_calendar(), PublicityRules.from_settings(settings), timely_days=settings.DOUBLE_PUBLICITY_WORKING_DAYS
    )
    writer.write([item])
    published = find_published_commitment(application)
    assert published is not None
    # Signed as a public commitment; whether it is shown is what the publicity rules decided.
    commitment.is_public = published.published
    record_event(
        actor,
        "commitment.publish",
        target=published,
        subject_id=record.subject_id,
        details={
            "commitment_id": commitment.id,
            "sha256": commitment.text_sha256,
            "number": application.number,
            "repaired_record_id": record.id,
            "published": published.published,
            "visible_until": published.visible_until,
        },
    )
    return published


def withdraw_repair_commitment(actor: Actor, application: RepairApplication) -> CreditRecord | None:
    """The repair application was withdrawn before its decision: its commitment was made to
    obtain that repair, so the published commitment goes with it (status WITHDRAWN: no longer
    shown anywhere, kept in the database as history) and the commitment is no longer public.

    A rejected application keeps its commitment record: the promise (true statements, lawful
    conduct) was made and published, and breaking it is itself a negative record. A returned
    application is still pending (it waits for the applicant's supplement); nothing ends it
    except a withdrawal, which comes here."""
    published = find_published_commitment(application)
    commitment = application.commitment
    commitment.is_public = False
    if published is None:
        return None
    lock_record(published)
    if published.status is RecordStatus.WITHDRAWN:
        return None
    published.status = RecordStatus.WITHDRAWN
    db.session.flush()
    record_event(
        actor,
        "commitment.withdraw",
        target=published,
        subject_id=published.subject_id,
        details={"commitment_id": commitment.id, "number": application.number},
    )
    # Reports issued meanwhile showed the commitment: the report registry revokes them.
    enqueue_event(
        "record.changed",
        {"record_id": published.id, "change": "withdrawn", "case_type": "repair", "number": application.number},
        dedupe_key=f"record.changed:commitment:{application.id}",
    )
    return published


def _chinese_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
