"""The register of data domains the platform receives (数据归集领域登记), issue 16 item 12.

A report may only say 无 ("no record") for a domain whose data actually reaches the platform and
covers the period the report speaks about; for any other domain it says 本平台未归集此类信息.
A special report (有无违法违规记录证明版) that printed 无 under 刑事判决 without any criminal-judgement
feed was a false certificate, and for a natural person one that could pass for a 无犯罪记录证明
(criminal records come from public security through the national platform, 发改财金〔2025〕565号;
DOMAIN.md "National data standards and catalogues").

One row per (domain, department): ``first_received_at`` / ``last_received_at`` are kept by the
record writer on every intake (file import, department API, the platform's own commitments),
``covers_from`` is the first decision date the feed is complete from. It starts at the day of the
first receipt (a feed is not assumed to carry earlier history); staff move it earlier when the
department confirms its history was loaded in full, or declare a feed that reaches the platform
another way (e.g. shared through the provincial platform), each change audited.

Flush, never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..actors import Actor
from ..audit.operations import record_event
from ..departments.models import Department
from ..extensions import db
from ..types import enum_column, local_date, utcnow
from .models import RecordCategory


class DataDomainFeed(db.Model):
    """A data domain (信息类别) one department sends to the platform (数据归集领域)."""

    __tablename__ = "data_domain_feed"
    __table_args__ = (sa.UniqueConstraint("category", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[RecordCategory] = mapped_column(enum_column(RecordCategory, "feed_category"))
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    covers_from: Mapped[dt.date]  # first decision date the feed is complete from
    ended_on: Mapped[dt.date | None]  # the feed stopped (staff): not complete after this day
    first_received_at: Mapped[dt.datetime | None]  # None: declared by staff, nothing received yet
    last_received_at: Mapped[dt.datetime | None]
    note: Mapped[str | None] = mapped_column(sa.String(200))  # how the data arrives, its basis
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    department: Mapped[Department] = relationship()


def note_received(pairs: Iterable[tuple[RecordCategory, int]], now: dt.datetime | None = None) -> None:
    """Records of these (domain, department) pairs were just received: set "last received", and
    register a feed seen for the first time (from today). One SELECT and a few small writes per
    call, whatever the batch size: the caller passes each pair once."""
    wanted = set(pairs)
    if not wanted:
        return
    now = now or utcnow()
    table = DataDomainFeed.__table__
    departments = sorted({d for _, d in wanted})
    known = {
        (category, department_id): fid
        for fid, category, department_id in db.session.execute(
            sa.select(DataDomainFeed.id, DataDomainFeed.category, DataDomainFeed.department_id).where(
                DataDomainFeed.department_id.in_(departments)
            )
        )
    }
    seen = sorted(fid for pair, fid in known.items() if pair in wanted)
    if seen:
        db.session.execute(
            sa.update(DataDomainFeed)
            .where(DataDomainFeed.id.in_(seen))
            .values(last_received_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        # A feed declared by staff (nothing received yet) gets its first receipt now.
        db.session.execute(
            sa.update(DataDomainFeed)
            .where(DataDomainFeed.id.in_(seen), DataDomainFeed.first_received_at.is_(None))
            .values(first_received_at=now)
            .execution_options(synchronize_session=False)
        )
    new = [
        {
            "category": category,
            "department_id": department_id,
            "covers_from": local_date(now),
            "first_received_at": now,
            "last_received_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for category, department_id in sorted(wanted - known.keys(), key=lambda p: (p[0].value, p[1]))
    ]
    if new:
        # Two batches of a new department may race: the second insert does nothing.
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        connection.execute(insert(table).on_conflict_do_nothing(index_elements=["category", "department_id"]), new)


def declare_feed(
    actor: Actor,
    category: RecordCategory,
    department: Department,
    covers_from: dt.date,
    *,
    note: str | None = None,
    ended_on: dt.date | None = None,
    reason: str,
) -> DataDomainFeed:
    """Staff register a feed or move its dates (the department confirmed its history is loaded
    from ``covers_from``, or the feed stopped on ``ended_on``). Audited with the reason."""
    if ended_on is not None and ended_on < covers_from:
        raise ValueError("ended_on before covers_from")
    feed = db.session.scalar(
        sa.select(DataDomainFeed).where(
            DataDomainFeed.category == category, DataDomainFeed.department_id == department.id
        )
    )
    before = None
    if feed is None:
        feed = DataDomainFeed(category=category, department_id=department.id, covers_from=covers_from)
        db.session.add(feed)
    else:
        before = {"covers_from": feed.covers_from.isoformat(), "ended_on": _iso(feed.ended_on), "note": feed.note}
    feed.covers_from = covers_from
    feed.ended_on = ended_on
    if note is not None:
        feed.note = note.strip()[:200] or None
    db.session.flush()
    record_event(
        actor,
        "data_domain.declare",
        target=feed,
        reason=reason,
        details={
            "category": category.value,
            "department": department.code,
            "covers_from": covers_from.isoformat(),
            "ended_on": _iso(ended_on),
            "before": before,
        },
    )
    return feed


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class DomainCoverage:
    """What the platform can say about one domain over a period."""

    category: RecordCategory
    departments: tuple[str, ...]  # names of the departments whose feed reaches the period
    covers_from: dt.date | None  # earliest day the feeds are complete from; None: no feed at all
    last_received_at: dt.datetime | None

    @property
    def collected(self) -> bool:
        return self.covers_from is not None

    def complete_for(self, start: dt.date) -> bool:
        return self.covers_from is not None and self.covers_from <= start


def domain_coverage(
    categories: Iterable[RecordCategory], start: dt.date, end: dt.date
) -> dict[RecordCategory, DomainCoverage]:
    """Per domain: the feeds that reach ``[start, end]`` (started on or before ``end``, not ended
    before ``start``). One query."""
    categories = list(categories)
    rows = db.session.execute(
        sa.select(
            DataDomainFeed.category,
            DataDomainFeed.covers_from,
            DataDomainFeed.ended_on,
            DataDomainFeed.last_received_at,
            Department.name,
        )
        .join(Department, Department.id == DataDomainFeed.department_id)
        .where(DataDomainFeed.category.in_(categories))
        .order_by(Department.name)
    ).all()
    found: dict[RecordCategory, list] = {c: [] for c in categories}
    for category, covers_from, ended_on, last, name in rows:
        if covers_from <= end and (ended_on is None or ended_on >= start):
            found[category].append((covers_from, last, name))
    result = {}
    for category, feeds in found.items():
        lasts = [last for _, last, _ in feeds if last is not None]
        result[category] = DomainCoverage(
            category,
            tuple(dict.fromkeys(name for _, _, name in feeds)),
            min((c for c, _, _ in feeds), default=None),
            max(lasts, default=None),
        )
    return result


def list_feeds() -> list[DataDomainFeed]:
    return list(
        db.session.scalars(sa.select(DataDomainFeed).order_by(DataDomainFeed.category, DataDomainFeed.department_id))
    )
