"""The national 双公示 templates as departments send them (issue 16, items 1-6): the deciding
authority, 处罚有效期 beside 公示截止期, licence fields and 当前状态, derived tiers, the
first receipt kept for timeliness, and the versions of a record.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

LICENCE_STATUSES = ("valid", "revoked", "cancelled", "penalty_revoked", "withdrawn", "suspended", "invalid")


def _new_columns() -> tuple[sa.Column, ...]:
    # Fresh Column objects per call: one may be attached to one table only.
    return (
        sa.Column("last_received_date", sa.Date(), nullable=True),
        sa.Column("penalty_valid_until", sa.Date(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("confiscated_amount", sa.Numeric(16, 2), nullable=True),
        sa.Column("suspended_licence", sa.String(length=200), nullable=True),
        sa.Column("authority_name", sa.String(length=200), nullable=True),
        sa.Column("authority_uscc", sa.String(length=18), nullable=True),
        sa.Column("tier_derived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("document_name", sa.String(length=200), nullable=True),
        sa.Column("licence_number", sa.String(length=100), nullable=True),
        sa.Column("subject_other_codes", sa.JSON(), nullable=True),
        sa.Column("remarks", sa.Text(), nullable=True),
        sa.Column("legal_representative_id_number_hash", sa.String(length=64), nullable=True),
        sa.Column("legal_representative_id_number_encrypted", sa.Text(), nullable=True),
        sa.Column("pii_key_id", sa.String(length=32), nullable=True),
    )


def upgrade() -> None:
    for column in _new_columns():
        op.add_column("credit_record", column)
    # The enum column and its CHECK: SQLite cannot add a constraint to an existing table, so
    # there the table is rebuilt by batch mode.
    status = sa.Column("licence_status", sa.String(length=32), nullable=True)
    check = "licence_status IS NULL OR licence_status IN (" + ", ".join(f"'{s}'" for s in LICENCE_STATUSES) + ")"
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("credit_record") as batch:
            batch.add_column(status)
            batch.create_check_constraint(op.f("ck_credit_record_licence_status"), check)
    else:
        op.add_column("credit_record", status)
        op.create_check_constraint(op.f("ck_credit_record_licence_status"), "credit_record", check)
    with_number = sa.text("legal_representative_id_number_hash IS NOT NULL")
    op.create_index(
        "ix_credit_record_legal_representative_id_number_hash",
        "credit_record",
        ["legal_representative_id_number_hash"],
        unique=False,
        sqlite_where=with_number,
        postgresql_where=with_number,
    )
    op.create_table(
        "credit_record_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("actor_label", sa.String(length=100), nullable=False),
        sa.Column("import_batch_id", sa.Integer(), nullable=True),
        sa.Column("received_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["credit_record.id"], name=op.f("fk_credit_record_versions_record_id_credit_record")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_credit_record_versions_department_id_department")
        ),
        sa.ForeignKeyConstraint(
            ["import_batch_id"],
            ["import_batch.id"],
            name=op.f("fk_credit_record_versions_import_batch_id_import_batch"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_record_versions")),
        sa.UniqueConstraint("record_id", "version", name=op.f("uq_credit_record_versions_record_id")),
    )
    op.create_index(
        op.f("ix_credit_record_versions_record_id"), "credit_record_versions", ["record_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_credit_record_versions_record_id"), table_name="credit_record_versions")
    op.drop_table("credit_record_versions")
    op.drop_index("ix_credit_record_legal_representative_id_number_hash", table_name="credit_record")
    with op.batch_alter_table("credit_record") as batch:
        batch.drop_constraint(op.f("ck_credit_record_licence_status"), type_="check")
        batch.drop_column("licence_status")
        for column in reversed(_new_columns()):
            batch.drop_column(column.name)
