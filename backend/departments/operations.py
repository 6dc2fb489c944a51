"""Departments and their API credentials. Operations flush, never commit."""

from __future__ import annotations

import re
import secrets

import sqlalchemy as sa

from ..actors import Actor
from ..audit.operations import record_event
from ..errors import ApiError, Conflict
from ..extensions import db
from ..identifiers import IdentifierError, validate_uscc
from ..pii import cipher
from ..types import utcnow
from . import messages as msg
from .models import SECRET_CONTEXT, Department, DepartmentApiKey

CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")


def create_department(
    actor: Actor,
    *,
    code: str,
    name: str,
    uscc: str,
    abbreviation: str | None = None,
    registers_subjects: bool = False,
) -> Department:
    """The console's form checks the same; the CLI reaches this with what the operator typed."""
    if not CODE_PATTERN.fullmatch(code):
        raise ApiError(msg.CODE_INVALID, code="invalid_department_code")
    if not name or len(name) > 100:
        raise ApiError(msg.NAME_INVALID, code="invalid_department_name")
    if abbreviation is not None and len(abbreviation) > 20:
        raise ApiError(msg.ABBREVIATION_INVALID, code="invalid_abbreviation")
    try:
        checked = validate_uscc(uscc)
    except IdentifierError as exc:
        raise ApiError(exc.message, code="invalid_uscc", details=exc.as_details()) from exc
    clash = db.session.scalar(
        sa.select(Department).where(
            sa.or_(Department.code == code, Department.name == name, Department.uscc == checked.code)
        )
    )
    if clash is not None:
        raise Conflict(msg.DUPLICATE.format(name=clash.name))
    department = Department(
        code=code, name=name, uscc=checked.code, abbreviation=abbreviation, registers_subjects=registers_subjects
    )
    db.session.add(department)
    db.session.flush()
    record_event(
        actor,
        "department.create",
        target=department,
        details={"code": code, "name": name, "registers_subjects": registers_subjects},
    )
    return department


def set_registers_subjects(actor: Actor, department: Department, registers: bool) -> None:
    """Mark a department as a registering authority (市场监管, 民政, 机构编制) or not: its records
    then set subjects' names and legal representatives (records.operations). Audited."""
    if department.registers_subjects == registers:
        return
    department.registers_subjects = registers
    db.session.flush()
    record_event(
        actor,
        "department.registers_subjects",
        target=department,
        details={"code": department.code, "registers_subjects": registers},
    )


def issue_api_key(actor: Actor, department: Department, label: str = "") -> tuple[DepartmentApiKey, str]:
    """Create a key; the secret is returned once (show it once) and stored encrypted."""
    if len(label) > 100:
        raise ApiError(msg.LABEL_INVALID, code="invalid_label")
    secret = secrets.token_urlsafe(32)
    key = DepartmentApiKey(
        department_id=department.id,
        key_id="dk_" + secrets.token_hex(12),
        secret_encrypted=cipher().encrypt(secret, SECRET_CONTEXT),
        label=label,
        created_by_id=int(actor.id) if actor.type == "staff" and actor.id else None,
    )
    db.session.add(key)
    db.session.flush()
    record_event(actor, "department.api_key.issue", target=key, details={"department": department.code})
    return key, secret


def revoke_api_key(actor: Actor, key: DepartmentApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        record_event(actor, "department.api_key.revoke", target=key, details={"key_id": key.key_id})


def api_key_secret(key: DepartmentApiKey) -> str:
    return cipher().decrypt(key.secret_encrypted, SECRET_CONTEXT)


def find_active_key(key_id: str) -> DepartmentApiKey | None:
    return db.session.scalar(
        sa.select(DepartmentApiKey).where(DepartmentApiKey.key_id == key_id, DepartmentApiKey.revoked_at.is_(None))
    )
