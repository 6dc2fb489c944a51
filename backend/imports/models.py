from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..departments.models import Department
from ..extensions import db
from ..types import enum_column, utcnow


class ImportStatus(enum.Enum):
    RUNNING = "running"
    COMPLETED = "completed"  # every row stored
    PARTIAL = "partial"  # good rows stored, bad rows reported
    REJECTED = "rejected"  # atomic batch with bad rows: nothing stored
    FAILED = "failed"  # the file could not be read at all


class ImportBatch(db.Model):
    """One import (归集批次) from a file or a department API call."""

    __tablename__ = "import_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(20))  # cli | dept_api | admin
    filename: Mapped[str | None] = mapped_column(sa.String(255))
    atomic: Mapped[bool] = mapped_column(default=False)
    status: Mapped[ImportStatus] = mapped_column(
        enum_column(ImportStatus, "import_status"), default=ImportStatus.RUNNING
    )
    total_rows: Mapped[int] = mapped_column(default=0)
    created_count: Mapped[int] = mapped_column(default=0)
    updated_count: Mapped[int] = mapped_column(default=0)
    unchanged_count: Mapped[int] = mapped_column(default=0)
    error_count: Mapped[int] = mapped_column(default=0)
    message: Mapped[str | None] = mapped_column(sa.String(500))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    actor_label: Mapped[str] = mapped_column(sa.String(100), default="")

    department: Mapped[Department] = relationship()
    errors: Mapped[list[ImportRowError]] = relationship(
        back_populates="batch", order_by="ImportRowError.row_number", cascade="all, delete-orphan"
    )


class ImportRowError(db.Model):
    """Why one row of a batch was refused: row number (as in the file), column, reason."""

    __tablename__ = "import_row_error"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("import_batch.id"), index=True)
    row_number: Mapped[int]
    column: Mapped[str | None] = mapped_column(sa.String(50))
    reason: Mapped[str] = mapped_column(sa.String(500))

    batch: Mapped[ImportBatch] = relationship(back_populates="errors")
