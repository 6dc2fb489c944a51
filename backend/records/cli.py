"""`flask credit domains list|declare`: the data-domain register (issue 16 item 12) at a shell.

``list`` prints every feed (complete since, last received) and the domains no feed reaches;
``declare`` registers a feed that reaches the platform another way, or dates one (the department
confirmed its history is loaded from a day), audited with the reason. Receipts themselves are
kept by every intake (import, department API), not by this command. One commit per command.
"""

from __future__ import annotations

import datetime as dt

import click
import sqlalchemy as sa

from ..actors import Actor
from ..departments.models import Department
from ..extensions import db
from .domains import declare_feed, list_feeds
from .labels import CATEGORY_ORDER, category_label
from .models import RecordCategory


def register(group: click.Group) -> None:
    @group.group("domains")
    def domains_group() -> None:
        """Data domains the platform receives (数据归集领域)."""

    @domains_group.command("list")
    def list_command() -> None:
        """Every feed, then the domains not collected."""
        feeds = list_feeds()
        for feed in feeds:
            last = feed.last_received_at.isoformat(sep=" ", timespec="minutes") if feed.last_received_at else "-"
            ended = f" ended {feed.ended_on}" if feed.ended_on else ""
            click.echo(
                f"{feed.category.value}\t{feed.department.code}\tfrom {feed.covers_from}{ended}\tlast {last} UTC"
            )
        fed = {f.category for f in feeds}
        missing = [c.value for c in CATEGORY_ORDER if c not in fed]
        click.echo(f"not collected: {', '.join(missing) or '-'}")

    @domains_group.command("declare")
    @click.option("--category", required=True, type=click.Choice([c.value for c in RecordCategory]))
    @click.option("--department", "department_code", required=True, help="department code")
    @click.option("--covers-from", required=True, type=click.DateTime(formats=["%Y-%m-%d"]))
    @click.option("--ended-on", default=None, type=click.DateTime(formats=["%Y-%m-%d"]))
    @click.option("--note", default=None, help="how the data arrives, its basis")
    @click.option("--reason", required=True, help="why (audited)")
    def declare_command(
        category: str,
        department_code: str,
        covers_from: dt.datetime,
        ended_on: dt.datetime | None,
        note: str | None,
        reason: str,
    ) -> None:
        """Register or date a feed."""
        department = db.session.scalar(sa.select(Department).where(Department.code == department_code))
        if department is None:
            raise click.BadParameter(f"unknown department {department_code!r}", param_hint="--department")
        if ended_on is not None and ended_on.date() < covers_from.date():
            raise click.BadParameter("before --covers-from", param_hint="--ended-on")
        feed = declare_feed(
            Actor.cli("domains"),
            RecordCategory(category),
            department,
            covers_from.date(),
            ended_on=ended_on.date() if ended_on else None,
            note=note,
            reason=reason,
        )
        db.session.commit()
        click.echo(f"{category_label(feed.category)} / {department.name}: complete from {feed.covers_from}")
