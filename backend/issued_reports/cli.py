"""`flask credit issue-report` and `flask credit revoke-report`: one commit per command."""

from __future__ import annotations

from pathlib import Path

import click

from ..actors import Actor
from ..errors import ApiError
from ..extensions import db
from .content import SPECIAL_OPTIONAL, ReportOptions
from .operations import find_subject, get_report, issue_report, revoke_report


def register(group: click.Group) -> None:
    @group.command("issue-report")
    @click.argument("identifier")
    @click.option("--kind", type=click.Choice(["enterprise", "personal", "special"]), required=True)
    @click.option("--years", type=click.IntRange(1, 5), default=None, help="special report: period in years")
    @click.option(
        "--domains",
        multiple=True,
        type=click.Choice([c.value for c in SPECIAL_OPTIONAL]),
        help="special report: domains beyond the required ones (repeatable)",
    )
    @click.option("--reason", default=None, help="why the operator issues it (audit log)")
    @click.option("--out", "out", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True)
    def issue_report_command(
        identifier: str, kind: str, years: int | None, domains: tuple[str, ...], reason: str | None, out: Path
    ) -> None:
        """Issue a signed report for a USCC or 居民身份证号码 and write the PDF to --out."""
        try:
            subject = find_subject(identifier)
            issued = issue_report(
                Actor.cli("issue-report"),
                subject,
                kind,
                ReportOptions(years=years, domains=tuple(domains)),
                "cli",
                identity_check=reason,
            )
        except ApiError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from exc
        report = issued.report
        db.session.commit()  # registered first: the file is in storage even if --out fails
        out.write_bytes(issued.pdf)
        click.echo(f"issued {report.number} ({kind}), valid until {report.valid_until}, written to {out}")

    @group.command("revoke-report")
    @click.argument("number")
    @click.option("--reason", required=True, help="shown to everyone who verifies the report")
    def revoke_report_command(number: str, reason: str) -> None:
        """Revoke an issued report; verification answers 已撤销 with the reason from now on."""
        try:
            report = revoke_report(Actor.cli("revoke-report"), get_report(number), reason)
        except ApiError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from exc
        db.session.commit()
        click.echo(f"revoked {report.number}")
