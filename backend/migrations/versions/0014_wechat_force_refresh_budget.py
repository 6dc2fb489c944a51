"""The force_refresh budget of stable_token in the database token store: WeChat allows 20 forced
refreshes a day, 30 s apart, per AppID; every process counts them in this row.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("wechat_access_token") as batch:
        batch.add_column(sa.Column("force_day", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("force_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("force_last_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("wechat_access_token") as batch:
        batch.drop_column("force_last_at")
        batch.drop_column("force_count")
        batch.drop_column("force_day")
