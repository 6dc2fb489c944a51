"""Commitment letters: templates, click-to-sign, hash of the exact text."""

from __future__ import annotations

import hashlib

import pytest

from backend.errors import Conflict
from backend.workflows.commitments.models import CommitmentKind
from backend.workflows.commitments.operations import (
    render_commitment,
    sign_commitment,
    verify_commitment,
)
from backend.workflows.common import Applicant, ApplicantKind, local_date
from tests.factories import make_id_number
from tests.workflows.conftest import at


def test_signing_records_who_when_channel_and_the_hash_of_the_exact_text(world):
    record = world.record()
    now = at(2026, 9, 30)
    shown = render_commitment(CommitmentKind.REPAIR, record, world.applicant, local_date(now))
    digest = hashlib.sha256(shown.encode()).hexdigest()
    signed = sign_commitment(
        world.citizen, CommitmentKind.REPAIR, record, world.applicant, shown_text_sha256=digest, now=now
    )
    assert signed.text == shown
    assert signed.text_sha256 == digest
    assert (signed.signer_key, signed.channel, signed.signed_at) == ("citizen:42", "mp", now)
    assert signed.signer_name_masked == "王*国"
    assert signed.is_public
    assert shown.startswith("信用修复承诺书")
    assert "2026年9月30日" in shown
    assert record.decision_number in shown
    assert "王建国" not in shown
    assert verify_commitment(signed)
    signed.text = signed.text.replace("郑重承诺", "承诺")
    assert not verify_commitment(signed)


def test_a_changed_text_must_be_read_again(world):
    record = world.record()
    with pytest.raises(Conflict, match="重新阅读"):
        sign_commitment(world.citizen, CommitmentKind.OBJECTION, record, world.applicant, shown_text_sha256="0" * 64)


def test_natural_persons_appear_masked_in_the_letter(world):
    number = make_id_number(77)
    record = world.record(uscc=None, id_number=number, subject_name="赵小红")
    text = render_commitment(
        CommitmentKind.OBJECTION, record, Applicant(ApplicantKind.SELF, "赵小红", number), local_date()
    )
    assert text.startswith("异议申诉信用承诺书")
    assert "赵*红" in text
    assert "赵小红" not in text
    assert number not in text
