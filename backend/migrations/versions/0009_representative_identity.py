"""Legal representatives by identity, subject names by registering authority (issue 14, items 3, 6).

* subject: the 法定代表人证件号码, encrypted, with its keyed hash (binding an enterprise as its legal
  representative compares it with the verified person's own ID number hash);
* department.registers_subjects: the registering authorities (市场监管, 民政, 机构编制) whose
  records set a subject's name and representative;
* subject_name_discrepancy: another department's different name, kept for staff to resolve;
* wechat_enterprise_binding: a SUSPENDED status with its time and reason, and the data step:
  every active legal-representative binding was made by comparing names only, so each is
  suspended and its holder told why (``backend.citizens.suspension``).

The subject table is altered with plain ADD COLUMN (no batch copy on SQLite: that would drop the
name-search triggers of 0007 and 0008); the binding table's status CHECK is replaced, which
SQLite can only do by copying the table (its partial unique index is recreated around the copy).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OLD_STATUSES = ("active", "pending_review", "rejected", "revoked")
NEW_STATUSES = (*OLD_STATUSES, "suspended")
STATUS_CHECK = "ck_wechat_enterprise_binding_binding_status"
LIVE_INDEX = "uq_wechat_enterprise_binding_live"
LIVE = sa.text("status IN ('active', 'pending_review')")


def _status_check(statuses: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{s}'" for s in statuses) + ")"


def _replace_status_check(statuses: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index(LIVE_INDEX, table_name="wechat_enterprise_binding")
        with op.batch_alter_table("wechat_enterprise_binding", recreate="always") as batch_op:
            batch_op.drop_constraint(op.f(STATUS_CHECK), type_="check")
            batch_op.create_check_constraint(op.f(STATUS_CHECK), _status_check(statuses))
        op.create_index(
            LIVE_INDEX, "wechat_enterprise_binding", ["user_id", "subject_id"], unique=True, sqlite_where=LIVE
        )
    else:
        op.drop_constraint(op.f(STATUS_CHECK), "wechat_enterprise_binding", type_="check")
        op.create_check_constraint(op.f(STATUS_CHECK), "wechat_enterprise_binding", _status_check(statuses))


def upgrade():
    op.add_column("subject", sa.Column("legal_representative_id_number_hash", sa.String(length=64), nullable=True))
    op.add_column("subject", sa.Column("legal_representative_id_number_encrypted", sa.Text(), nullable=True))
    op.create_index(
        op.f("ix_subject_legal_representative_id_number_hash"),
        "subject",
        ["legal_representative_id_number_hash"],
        unique=False,
    )
    op.add_column(
        "department", sa.Column("registers_subjects", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.create_table(
        "subject_name_discrepancy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("name_sent", sa.String(length=200), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_by_label", sa.String(length=100), nullable=True),
        sa.Column(
            "resolution",
            sa.Enum(
                "accepted",
                "dismissed",
                name="discrepancy_resolution",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_subject_name_discrepancy_department_id_department")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_subject_name_discrepancy_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_name_discrepancy")),
    )
    op.create_index(
        op.f("ix_subject_name_discrepancy_subject_id"), "subject_name_discrepancy", ["subject_id"], unique=False
    )
    open_only = sa.text("resolved_at IS NULL")
    op.create_index(
        "uq_subject_name_discrepancy_open",
        "subject_name_discrepancy",
        ["subject_id", "department_id", "name_sent"],
        unique=True,
        sqlite_where=open_only,
        postgresql_where=open_only,
    )

    op.add_column("wechat_enterprise_binding", sa.Column("suspended_at", sa.DateTime(), nullable=True))
    op.add_column("wechat_enterprise_binding", sa.Column("suspension_reason", sa.String(length=500), nullable=True))
    _replace_status_check(NEW_STATUSES)

    from backend.citizens.suspension import suspend_name_only_bindings

    suspend_name_only_bindings(op.get_bind())


def downgrade():
    # A suspended binding goes back to REVOKED (the old schema has no suspension): never active.
    op.execute("UPDATE wechat_enterprise_binding SET status = 'revoked' WHERE status = 'suspended'")
    _replace_status_check(OLD_STATUSES)
    with op.batch_alter_table("wechat_enterprise_binding") as batch_op:
        batch_op.drop_column("suspension_reason")
        batch_op.drop_column("suspended_at")
    op.drop_index("uq_subject_name_discrepancy_open", table_name="subject_name_discrepancy")
    op.drop_index(op.f("ix_subject_name_discrepancy_subject_id"), table_name="subject_name_discrepancy")
    op.drop_table("subject_name_discrepancy")
    op.drop_column("department", "registers_subjects")
    op.drop_index(op.f("ix_subject_legal_representative_id_number_hash"), table_name="subject")
    op.drop_column("subject", "legal_representative_id_number_encrypted")
    op.drop_column("subject", "legal_representative_id_number_hash")
