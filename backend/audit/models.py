from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..types import utcnow


class AuditEvent(db.Model):
    """An append-only audit row (审计日志); ``hash`` chains it to the previous row."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_type: Mapped[str] = mapped_column(sa.String(20))  # staff | citizen | department | system | kiosk
    actor_id: Mapped[str | None] = mapped_column(sa.String(64))
    actor_label: Mapped[str] = mapped_column(sa.String(100), default="")
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(sa.String(40))
    target_id: Mapped[str | None] = mapped_column(sa.String(64))
    subject_id: Mapped[int | None] = mapped_column(index=True)  # whose data, for personal access
    channel: Mapped[str] = mapped_column(sa.String(20))  # admin | cli | dept_api | mp | kiosk | public
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The hash function of ``hash``: sha256, or sm3 under the 国密 suite (GB/T 32905-2016).
    hash_alg: Mapped[str] = mapped_column(sa.String(8), default="sha256", server_default="sha256")


class AuditChainHead(db.Model):
    """Single row holding the chain's last hash; locked while appending so the chain never forks."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_event_id: Mapped[int | None]
    last_hash: Mapped[str] = mapped_column(sa.String(64))
