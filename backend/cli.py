"""`flask credit ...`: operator commands. Each command commits once, at its end."""

from __future__ import annotations

import datetime as dt
import sys

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from .actors import Actor
from .audit.operations import record_event, verify_chain
from .departments.models import Department
from .errors import ApiError
from .extensions import db
from .pii import cipher
from .pii_rotation import UnknownKeyError, check_known_keys, rotate, survey
from .records.operations import expire_records
from .staff.models import StaffRole
from .staff.operations import create_staff
from .types import local_date

credit_cli = AppGroup("credit", help="信用金昌 platform operations.")


@credit_cli.command("audit-verify")
def audit_verify_command() -> None:
    """Check the audit log's hash chain; exit 1 naming the first broken row."""
    report = verify_chain()
    if report.ok:
        click.echo(f"audit chain OK: {report.checked} rows verified")
        return
    click.echo(
        f"audit chain BROKEN at audit_event id={report.first_bad_id}: {report.problem} "
        f"({report.checked} rows verified before it)",
        err=True,
    )
    sys.exit(1)


@credit_cli.command("expire-records")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
def expire_records_command(today: dt.datetime | None) -> None:
    """Mark records whose publicity period has ended as expired (run daily)."""
    day = today.date() if today else local_date()
    count = expire_records(day)
    record_event(Actor.cli("expire-records"), "records.expire", details={"count": count, "today": day})
    db.session.commit()
    click.echo(f"{count} record(s) expired as of {day}")


@credit_cli.command("create-staff")
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True)
@click.option("--role", type=click.Choice([r.value for r in StaffRole]), required=True)
@click.option("--department", "department_code", default=None, help="department code (reviewers)")
@click.password_option()
def create_staff_command(
    username: str, display_name: str, role: str, department_code: str | None, password: str
) -> None:
    """Create a staff account (every role enrols its TOTP second factor at first login)."""
    department = None
    if department_code:
        department = db.session.scalar(sa.select(Department).where(Department.code == department_code))
        if department is None:
            raise click.BadParameter(f"unknown department {department_code!r}", param_hint="--department")
    try:
        create_staff(
            Actor.cli("create-staff"),
            username=username,
            display_name=display_name,
            role=StaffRole(role),
            password=password,
            department=department,
        )
    except ApiError as exc:
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    click.echo(f"created {role} {username}")


@credit_cli.command("rotate-pii")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=500, show_default=True, help="rows per commit")
@click.option("--dry-run", is_flag=True, help="decrypt and re-seal in memory only; write nothing")
def rotate_pii_command(batch_size: int, dry_run: bool) -> None:
    """Re-encrypt every personal-data value still on an old key under the active (first) key of
    PII_ENCRYPTION_KEYS. One commit per batch: safe to interrupt and run again."""
    pii = cipher()
    actor = Actor.cli("rotate-pii")
    before = survey(pii)
    try:
        check_known_keys(pii, before)
    except UnknownKeyError as exc:
        unknown = {kid: dict(where) for kid, where in exc.unknown.items()}
        record_event(actor, "pii.rotate.refused", details={"active_kid": pii.active_kid, "unknown_kids": unknown})
        db.session.commit()
        raise click.ClickException(f"refusing to rotate, nothing was changed: {exc}") from exc
    pending = sum(sum(kids.values()) for kids in before.values())
    click.echo(f"active key {pii.active_kid!r} (ring: {', '.join(pii.key_ids)}); {pending} value(s) on old keys")
    for where, kids in before.items():
        if kids:
            by_kid = ", ".join(f"{kid}: {n}" for kid, n in sorted(kids.items()))
            click.echo(f"  {where}: {sum(kids.values())} ({by_kid})")
    if pending and not dry_run:
        record_event(actor, "pii.rotate.start", details={"active_kid": pii.active_kid, "pending": pending})
        db.session.commit()

    rotated: dict[str, int] = dict.fromkeys(before, 0)
    failures = []
    changed_meanwhile = 0
    for batch in rotate(pii, batch_size=batch_size, dry_run=dry_run):
        if not dry_run:
            db.session.commit()
        for where, n in batch.rotated.items():
            rotated[where] += n
        failures += batch.failures
        changed_meanwhile += batch.changed_meanwhile
        click.echo(f"  {batch.table}: {batch.rows} row(s), {sum(batch.rotated.values())} value(s) re-encrypted")

    after = before if dry_run else survey(pii)
    remaining = sum(sum(kids.values()) for kids in after.values())
    verb = "would re-encrypt" if dry_run else "re-encrypted"
    for where in before:
        left = after[where]
        if rotated[where] or left:
            click.echo(
                f"{where}: {verb} {rotated[where]}, on old keys {'before' if dry_run else 'now'}: {sum(left.values())}"
            )
    for failure in failures[:20]:
        click.echo(f"FAILED {failure.where} id={failure.row_id} key {failure.kid!r}: {failure.reason}", err=True)
    if len(failures) > 20:
        click.echo(f"... and {len(failures) - 20} more failure(s)", err=True)
    if changed_meanwhile:
        click.echo(f"{changed_meanwhile} row(s) changed by the platform during the run: run again to check them")
    record_event(
        actor,
        "pii.rotate",
        details={
            "active_kid": pii.active_kid,
            "dry_run": dry_run,
            "rotated": {where: n for where, n in rotated.items() if n},
            "remaining": {where: dict(kids) for where, kids in after.items() if kids},
            "failures": len(failures),
            "changed_meanwhile": changed_meanwhile,
        },
    )
    db.session.commit()
    total = sum(rotated.values())
    if dry_run:
        click.echo(f"dry run: {total} value(s) would be re-encrypted under {pii.active_kid!r}; nothing written")
    else:
        click.echo(f"{total} value(s) re-encrypted under {pii.active_kid!r}; {remaining} value(s) remain on old keys")
    if failures:
        sys.exit(1)


def _register_subcommands() -> None:
    from .demo import register as register_demo
    from .departments.cli import register as register_departments
    from .imports.cli import register as register_import
    from .issued_reports.cli import register as register_reports
    from .jobs import register as register_jobs
    from .records.cli import register as register_domains

    register_import(credit_cli)
    register_demo(credit_cli)
    register_reports(credit_cli)
    register_jobs(credit_cli)
    register_departments(credit_cli)
    register_domains(credit_cli)


_register_subcommands()
