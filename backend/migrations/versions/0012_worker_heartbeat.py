"""The jobs workers' heartbeat (last pass per worker), read by /metrics for the liveness alert,
and an index on outbox_event.delivered_at for the retention purge the worker runs every pass.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_heartbeat",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_loop_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_worker_heartbeat")),
    )
    op.create_index("ix_outbox_event_delivered_at", "outbox_event", ["delivered_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_event_delivered_at", table_name="outbox_event")
    op.drop_table("worker_heartbeat")
