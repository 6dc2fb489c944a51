"""`flask credit department create|list|issue-key|revoke-key`: the console's department and API
key management for operators at a shell (setting up a new department system without a browser,
scripting a key rotation). One commit per command; every change is audited as the console's.

``issue-key`` prints the secret once, on standard output, as the console shows it once: pipe it
to where the department system reads it, it cannot be shown again (only a new key issued).
"""

from __future__ import annotations

import click
import sqlalchemy as sa

from ..actors import Actor
from ..errors import ApiError
from ..extensions import db
from ..workflows.cases import local_time_text
from .models import Department, DepartmentApiKey
from .operations import create_department, issue_api_key, revoke_api_key


def _department(code: str) -> Department:
    department = db.session.scalar(sa.select(Department).where(Department.code == code))
    if department is None:
        raise click.BadParameter(f"unknown department {code!r}", param_hint="--department")
    return department


def register(group: click.Group) -> None:
    @group.group("department")
    def department_group() -> None:
        """Departments (数据提供单位) and their API keys."""

    @department_group.command("create")
    @click.option("--code", required=True, help="short code (letters, digits, _ and -)")
    @click.option("--name", required=True, help="full name, e.g. 金昌市市场监督管理局")
    @click.option("--uscc", required=True, help="the department's 统一社会信用代码")
    @click.option("--abbreviation", default=None, help="decision number prefix, e.g. 金市监罚")
    def create_command(code: str, name: str, uscc: str, abbreviation: str | None) -> None:
        """Create a department."""
        try:
            department = create_department(
                Actor.cli("department"),
                code=code.strip(),
                name=name.strip(),
                uscc=uscc.strip(),
                abbreviation=(abbreviation or "").strip() or None,
            )
        except ApiError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from exc
        db.session.commit()
        click.echo(f"created department {department.code} ({department.name})")

    @department_group.command("list")
    def list_command() -> None:
        """Departments with their active API keys (key ids only; secrets are never shown again)."""
        keys: dict[int, list[DepartmentApiKey]] = {}
        for key in db.session.scalars(
            sa.select(DepartmentApiKey).where(DepartmentApiKey.revoked_at.is_(None)).order_by(DepartmentApiKey.id)
        ):
            keys.setdefault(key.department_id, []).append(key)
        for department in db.session.scalars(sa.select(Department).order_by(Department.code)):
            state = "" if department.is_active else " (inactive)"
            click.echo(f"{department.code}\t{department.name}\t{department.uscc}{state}")
            for key in keys.get(department.id, []):
                used = local_time_text(key.last_used_at) if key.last_used_at else "never used"
                label = f" {key.label}" if key.label else ""
                click.echo(f"  key {key.key_id}{label} (issued {local_time_text(key.created_at)}, {used})")

    @department_group.command("issue-key")
    @click.option("--department", "code", required=True, help="department code")
    @click.option("--label", default="", help="what the key is for, e.g. the system's name")
    def issue_key_command(code: str, label: str) -> None:
        """Issue an API key; prints the key id and the secret (shown this once)."""
        department = _department(code)
        try:
            key, secret = issue_api_key(Actor.cli("department"), department, label.strip())
        except ApiError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from exc
        db.session.commit()
        click.echo(f"key_id={key.key_id}")
        click.echo(f"secret={secret}")

    @department_group.command("revoke-key")
    @click.argument("key_id")
    def revoke_key_command(key_id: str) -> None:
        """Revoke an API key at once (its next request is refused)."""
        key = db.session.scalar(sa.select(DepartmentApiKey).where(DepartmentApiKey.key_id == key_id))
        if key is None:
            raise click.BadParameter(f"unknown key {key_id!r}", param_hint="KEY_ID")
        if key.revoked_at is not None:
            click.echo(f"key {key_id} was revoked already")
            return
        revoke_api_key(Actor.cli("department"), key)
        db.session.commit()
        click.echo(f"revoked key {key_id} of {key.department.code}")
