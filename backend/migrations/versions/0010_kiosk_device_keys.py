"""kiosk device keys and sign-in challenges; the source of a natural person's name

* ``kiosk_device.public_key`` / ``public_key_at``: the agent's Ed25519 public key, enrolled once
  per credential; every ID-card reading is signed with the private key (kiosk/README.md);
* ``kiosk_signin_challenge``: one-time challenges the agent signs with a reading;
* ``subject.name_source`` / ``name_verified_at`` / ``name_discrepancy_at``: only a verified source
  (WeChat face verification, the card chip in a signed reading) sets a person's name, and a
  disagreement is kept for staff (backend/subjects/names.py). Existing rows keep NULL: their
  name's source is unknown, hence unverified, and the next verified reading replaces it.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

NAME_SOURCE_CHECK = "ck_subject_subject_name_source"
NAME_SOURCE_RULE = "name_source IN ('department', 'wechat_face', 'kiosk_card')"
SUBJECT_COLUMNS = ("name_discrepancy_at", "name_verified_at", "name_source")


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

    # subject: plain ADD COLUMN, never a batch copy. On SQLite a batch would rebuild the table
    # and drop its triggers (the name search index of 0001 and 0008). The CHECK is the one the
    # model's enum column declares.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE subject ADD COLUMN name_source VARCHAR(32)"
            f" CONSTRAINT {NAME_SOURCE_CHECK} CHECK ({NAME_SOURCE_RULE})"
        )
    else:
        op.add_column("subject", sa.Column("name_source", sa.String(length=32), nullable=True))
        op.create_check_constraint(op.f(NAME_SOURCE_CHECK), "subject", NAME_SOURCE_RULE)
    op.add_column("subject", sa.Column("name_verified_at", sa.DateTime(), nullable=True))
    op.add_column("subject", sa.Column("name_discrepancy_at", sa.DateTime(), nullable=True))


def downgrade():
    for column in SUBJECT_COLUMNS:
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE subject DROP COLUMN {column}")  # SQLite >= 3.35; keeps the triggers
        else:
            op.drop_column("subject", column)  # its CHECK goes with it
    with op.batch_alter_table("kiosk_signin_challenge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kiosk_signin_challenge_device_id"))
    op.drop_table("kiosk_signin_challenge")
    with op.batch_alter_table("kiosk_device", schema=None) as batch_op:
        batch_op.drop_column("public_key_at")
        batch_op.drop_column("public_key")
