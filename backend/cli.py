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
    """Create a staff account (admins enrol their TOTP at first login)."""
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


def _register_subcommands() -> None:
    from .demo import register as register_demo
    from .imports.cli import register as register_import
    from .issued_reports.cli import register as register_reports
    from .jobs import register as register_jobs

    register_import(credit_cli)
    register_demo(credit_cli)
    register_reports(credit_cli)
    register_jobs(credit_cli)


_register_subcommands()
