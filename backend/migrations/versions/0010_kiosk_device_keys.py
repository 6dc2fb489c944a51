"""kiosk device keys and sign-in challenges; the source of a natural person's name

* ``kiosk_device.public_key`` / ``public_key_at``: the agent's Ed25519 public key, enrolled once
  per credential; every ID-card reading is signed with the private key (kiosk/README.md);
* ``kiosk_signin_challenge``: one-time challenges the agent signs with a reading;
* ``subject.name_source`` / ``name_verified_at`` / ``name_discrepancy_at``: only a verified source
  (WeChat face verification, the card chip in a signed reading) sets a person's name, and a
  disagreement is kept for staff (backend/subjects/names.py). Existing rows keep NULL: their
  name's source is unknown, hence unverified, and the next verified reading replaces it.

Revision ID: 0010
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("kiosk_device", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("public_key_at", sa.DateTime(), nullable=True))

    op.create_table(
        "kiosk_signin_challenge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("challenge_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["kiosk_device.id"], name=op.f("fk_kiosk_signin_challenge_device_id_kiosk_device")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk_signin_challenge")),
        sa.UniqueConstraint("challenge_hash", name=op.f("uq_kiosk_signin_challenge_challenge_hash")),
    )
    with op.batch_alter_table("kiosk_signin_challenge", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kiosk_signin_challenge_device_id"), ["device_id"], unique=False)

    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "name_source",
                sa.Enum(
                    "department",
                    "wechat_face",
                    "kiosk_card",
                    name="subject_name_source",
                    native_enum=False,
                    create_constraint=True,
                    length=32,
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("name_verified_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("name_discrepancy_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.drop_column("name_discrepancy_at")
        batch_op.drop_column("name_verified_at")
        batch_op.drop_column("name_source")
    with op.batch_alter_table("kiosk_signin_challenge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kiosk_signin_challenge_device_id"))
    op.drop_table("kiosk_signin_challenge")
    with op.batch_alter_table("kiosk_device", schema=None) as batch_op:
        batch_op.drop_column("public_key_at")
        batch_op.drop_column("public_key")
