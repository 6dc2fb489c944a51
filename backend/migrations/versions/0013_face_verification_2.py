"""WeChat face verification 2.0: the getverifyid sessions (verify_id hashed, claim encrypted,
single use) and the WeChat configuration errors behind the console's operator banner.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wechat_face_verify_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("verify_id_hash", sa.String(length=64), nullable=False),
        sa.Column("out_seq_no", sa.String(length=32), nullable=False),
        sa.Column("claim_encrypted", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["wechat_user.id"], name=op.f("fk_wechat_face_verify_session_user_id_wechat_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_face_verify_session")),
        sa.UniqueConstraint("verify_id_hash", name=op.f("uq_wechat_face_verify_session_verify_id_hash")),
        sa.UniqueConstraint("out_seq_no", name=op.f("uq_wechat_face_verify_session_out_seq_no")),
    )
    op.create_index(
        op.f("ix_wechat_face_verify_session_user_id"), "wechat_face_verify_session", ["user_id"], unique=False
    )
    op.create_index(
        op.f("ix_wechat_face_verify_session_expires_at"), "wechat_face_verify_session", ["expires_at"], unique=False
    )
    op.create_table(
        "wechat_config_error",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("errcode", sa.Integer(), nullable=False),
        sa.Column("api", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_config_error")),
    )
    op.create_index(op.f("ix_wechat_config_error_occurred_at"), "wechat_config_error", ["occurred_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_wechat_config_error_occurred_at"), table_name="wechat_config_error")
    op.drop_table("wechat_config_error")
    op.drop_index(op.f("ix_wechat_face_verify_session_expires_at"), table_name="wechat_face_verify_session")
    op.drop_index(op.f("ix_wechat_face_verify_session_user_id"), table_name="wechat_face_verify_session")
    op.drop_table("wechat_face_verify_session")
