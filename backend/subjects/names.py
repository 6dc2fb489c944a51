"""A natural person's name, and who may set it.

The first name written for an ID number used to win: a kiosk sign-in could give a new ID number a
made-up name, and the real person's later face verification did not correct it. Now:

* a department's record names a person only when the platform creates them (``name_source`` =
  department, unverified);
* a verified source (WeChat face verification, the ID card's chip in a reading signed by an
  enrolled kiosk) replaces an unverified name and marks it verified;
* once verified, the name is never overwritten: another verified source (or a department) naming
  the person differently is a discrepancy, kept on the subject (``name_discrepancy_at``, shown on
  the console's subject page) and in an audit row, for staff to look at. The audit row and the
  log carry the sources only, never the names.

Flush, never commit.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import unicodedata

from ..actors import Actor
from ..audit.operations import record_event
from ..extensions import db
from ..pii import cipher
from ..types import utcnow
from .models import VERIFIED_NAME_SOURCES, NameSource, Subject

log = logging.getLogger(__name__)


def normalise_person_name(name: str | None) -> str:
    """Names compared as people write them: NFKC (full-width forms), no spaces, and the middle
    dots of minority names (·, •, ・) as one."""
    text = unicodedata.normalize("NFKC", name or "")
    text = "".join(text.split())
    for dot in ("•", "・", "‧", "∙", "."):
        text = text.replace(dot, "·")
    return text


def same_person_name(a: str | None, b: str | None) -> bool:
    return hmac.compare_digest(normalise_person_name(a).encode(), normalise_person_name(b).encode())


def record_verified_name(
    actor: Actor, subject: Subject, name: str, source: NameSource, *, now: dt.datetime | None = None
) -> bool:
    """A verified source read this person's name. Returns True when the subject's name agrees
    (now), False when it disagrees with an earlier verified name (kept, flagged for staff)."""
    assert subject.is_natural and source in VERIFIED_NAME_SOURCES
    now = now or utcnow()
    current = subject.reveal_name()
    agrees = same_person_name(current, name)
    if subject.name_is_verified and not agrees:
        _flag(actor, subject, source, now)
        return False
    previous = subject.name_source
    subject.name_source = source
    subject.name_verified_at = now
    if not agrees:
        # pii_key_id is left alone: it names the oldest key of the row, which rotation looks for.
        subject.name_encrypted = cipher().encrypt(name.strip(), "subject.name")
        record_event(
            actor,
            "subject.name.verified",
            target=subject,
            subject_id=subject.id,
            reason="核验来源更正姓名",
            details={"source": source.value, "replaced_source": previous.value if previous else None},
        )
        # The unverified name came from a department's record (or, before 0010, from any
        # channel): it named the person differently, and staff may have to tell the department.
        _flag(actor, subject, source, now, corrected=True)
    db.session.flush()
    return True


def record_department_name(actor: Actor, subject: Subject, name: str, *, now: dt.datetime | None = None) -> None:
    """A department's record names an existing person: never a change; a different name is a
    discrepancy for staff (for the records import to call)."""
    if not same_person_name(subject.reveal_name(), name):
        _flag(actor, subject, NameSource.DEPARTMENT, now or utcnow())


def clear_name_discrepancy(actor: Actor, subject: Subject, reason: str) -> None:
    subject.name_discrepancy_at = None
    db.session.flush()
    record_event(actor, "subject.name.discrepancy_cleared", target=subject, subject_id=subject.id, reason=reason)


def _flag(actor: Actor, subject: Subject, source: NameSource, now: dt.datetime, *, corrected: bool = False) -> None:
    subject.name_discrepancy_at = now
    db.session.flush()
    record_event(
        actor,
        "subject.name.discrepancy",
        target=subject,
        subject_id=subject.id,
        reason="姓名来源不一致",
        details={
            "source": source.value,
            "kept_source": subject.name_source.value if subject.name_source else None,
            "corrected": corrected,
        },
    )
    log.warning("name discrepancy on subject %s (source %s)", subject.id, source.value)
