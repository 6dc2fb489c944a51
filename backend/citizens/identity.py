"""Who the citizen is: the natural person a WeChat user was verified as (face verification
sessions and their outcome), the verified name, and the identity behind an actor. Flush, never
commit.

The WeChat protocol (getverifyid, queryverifyinfo, cert_hash) stays in the channel
(miniprogram_api/face.py): this module records what the channel concluded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import sqlalchemy as sa

from backend.actors import Actor, CitizenIdentity
from backend.audit.operations import record_event
from backend.errors import ApiError, Conflict, Forbidden
from backend.extensions import db
from backend.identifiers import IdentifierError, validate_id_number
from backend.pii import cipher, mask_id_number
from backend.records.operations import find_natural_subject, new_natural_subject_row
from backend.subjects.models import NameSource, Subject
from backend.subjects.names import record_verified_name
from backend.types import utcnow

from . import messages as msg
from .models import FaceVerification, FaceVerificationOutcome, FaceVerifySession, WeChatUser

# --- the identity behind an actor ----------------------------------------------------------


def identity_of(actor: Actor) -> CitizenIdentity:
    """The verified citizen acting (their subject and the enterprises they act for); 403 for
    anyone else (a WeChat user not verified yet, the public)."""
    ident = actor.obj
    if not isinstance(ident, CitizenIdentity):
        raise Forbidden(msg.IDENTITY_REQUIRED, code="identity_required")
    return ident


def own_subject_ids(actor: Actor) -> list[int]:
    """The citizen's own subject first, then the enterprises they act for (as the actor says:
    the channel built it from the active bindings when the request began)."""
    ident = identity_of(actor)
    return [ident.subject_id, *sorted(set(ident.represents) - {ident.subject_id})]


# --- the verified natural person -----------------------------------------------------------


def check_claim(name: str, id_number: str) -> tuple[str, str]:
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise ApiError(msg.NAME_INVALID, code="name_invalid", status=422)
    try:
        number = validate_id_number(id_number)
    except IdentifierError as exc:
        raise ApiError(msg.ID_NUMBER_INVALID.format(reason=exc.message), code="id_number_invalid", status=422) from exc
    return name, number


def check_can_bind(user: WeChatUser, id_number: str) -> None:
    """An account verified as one person cannot become another (asked before any face scan)."""
    if user.subject_id is None:
        return
    subject = find_natural_subject(id_number)
    if subject is None or subject.id != user.subject_id:
        raise Conflict(msg.ALREADY_BOUND_OTHER, code="already_bound_other")


def verified_person(
    actor: Actor, id_number: str, name: str, source: NameSource, *, now: dt.datetime | None = None
) -> Subject | None:
    """The natural-person subject of this ID number, named from a verified ``source`` (WeChat
    face verification compared this face with this name and number; an enrolled kiosk read and
    signed the ID card's chip), created when the person has no records yet: a verified person
    may still ask for their, empty, personal report.

    The verified name replaces an unverified one (a department's, or one written before sources
    were kept) and never a verified one: a disagreement is flagged for staff
    (backend/subjects/names.py) and gives None."""
    now = now or utcnow()
    subject = find_natural_subject(id_number)
    if subject is None:
        db.session.execute(sa.insert(Subject), [new_natural_subject_row(id_number, name)])
        subject = find_natural_subject(id_number)
        assert subject is not None
        subject.name_source = source
        subject.name_verified_at = now
        db.session.flush()
        return subject
    if not record_verified_name(actor, subject, name, source, now=now):
        return None
    return subject


# --- face verification sessions ------------------------------------------------------------


def verify_id_hash(verify_id: str) -> str:
    return hashlib.sha256(verify_id.encode("utf-8")).hexdigest()


def _claim_context(out_seq_no: str) -> str:
    return f"wechat.face_claim:{out_seq_no}"


def start_face_verification(
    user: WeChatUser,
    name: str,
    id_number: str,
    out_seq_no: str,
    verify_id: str,
    expires_in: int,
    *,
    now: dt.datetime | None = None,
) -> FaceVerifySession:
    """Keep the session getverifyid opened for this user: the verify_id hashed, the claimed
    name and number encrypted (queryverifyinfo needs their cert_hash; a pass binds them)."""
    now = now or utcnow()
    name, number = check_claim(name, id_number)
    claim = json.dumps({"name": name, "id_number": number}, ensure_ascii=False)
    session = FaceVerifySession(
        user_id=user.id,
        verify_id_hash=verify_id_hash(verify_id),
        out_seq_no=out_seq_no,
        claim_encrypted=cipher().encrypt(claim, _claim_context(out_seq_no)),
        # WeChat's validity, capped at its documented 3600 s.
        expires_at=now + dt.timedelta(seconds=max(0, min(int(expires_in or 3600), 3600))),
        created_at=now,
    )
    db.session.add(session)
    db.session.flush()
    return session


def find_face_session(user: WeChatUser, verify_id: str, *, now: dt.datetime | None = None) -> FaceVerifySession:
    """The user's own, unused, unexpired session of this verify_id; another user's is unknown."""
    now = now or utcnow()
    session = db.session.scalar(
        sa.select(FaceVerifySession).where(FaceVerifySession.verify_id_hash == verify_id_hash(verify_id))
    )
    if session is None or session.user_id != user.id:
        raise ApiError(msg.FACE_RESULT_INVALID, code="face_result_invalid", status=422)
    if session.used_at is not None:
        raise Conflict(msg.FACE_RESULT_USED, code="face_result_used")
    if session.expires_at <= now:
        raise ApiError(msg.FACE_RESULT_INVALID, code="face_result_invalid", status=422)
    return session


def face_session_claim(session: FaceVerifySession) -> tuple[str, str]:
    """The claimed (name, ID number) of a session; never logged."""
    data = json.loads(cipher().decrypt(session.claim_encrypted, _claim_context(session.out_seq_no)))
    return data["name"], data["id_number"]


def record_face_verification(
    actor: Actor,
    user: WeChatUser,
    session: FaceVerifySession,
    *,
    passed: bool,
    verify_ret: int | None,
    now: dt.datetime | None = None,
) -> FaceVerification:
    """Record the outcome of this session and, when it ``passed``, bind the claimed natural
    person to the user.

    The verify_id is spent whatever the outcome (the session's ``used_at`` and the unique hash of
    the attempt); every attempt is audited with the claimed number masked. The caller commits and
    then refuses anything but PASSED, so a failed scan is kept even though refused.
    """
    now = now or utcnow()
    if session.used_at is not None:
        raise Conflict(msg.FACE_RESULT_USED, code="face_result_used")
    name, number = face_session_claim(session)
    outcome = FaceVerificationOutcome.PASSED if passed else FaceVerificationOutcome.FAILED
    subject: Subject | None = None
    if passed:
        check_can_bind(user, number)
        # WeChat compared this face with this name and number (cert_hash): a verified source.
        # A name disagreeing with one verified before is flagged for staff; the person is bound.
        subject = verified_person(actor, number, name, NameSource.WECHAT_FACE, now=now) or find_natural_subject(number)
    session.used_at = now
    attempt = FaceVerification(
        user_id=user.id,
        verify_result_hash=session.verify_id_hash,
        outcome=outcome,
        identify_ret=verify_ret,
        identify_time=None,
        subject_id=subject.id if subject else None,
        created_at=now,
    )
    db.session.add(attempt)
    if subject is not None:
        user.subject_id = subject.id
        user.verified_at = now
    db.session.flush()
    record_event(
        actor,
        "mp.identity.verify",
        target=attempt,
        subject_id=subject.id if subject else None,
        reason="人脸核身",
        details={
            "outcome": outcome.value,
            "verify_ret": verify_ret,
            # A refused claim may be someone else's identity: only its masked form is kept.
            "claimed_id_number": mask_id_number(number),
            "user": user.id,
        },
    )
    return attempt
