"""Data-domain register and 重错码 detection (issue 16, items 12 and 14).

* data_domain_feed: the domains the platform receives, per department (since when, last
  received); filled from the records already held: one feed per (category, department) with
  ``covers_from`` = its earliest receipt date and ``last_received_at`` its latest update;
* subject.registration_number (legacy 工商注册号 sent beside a USCC) and subject.merged_into_id
  (a duplicate subject merged into another by staff), plain ADD COLUMN (no batch copy on SQLite:
  that would drop the name-search triggers of 0007 and 0008); the self-reference is a foreign key
  on PostgreSQL only (SQLite cannot add one without copying the table);
* an expression index on characters 9-17 of the USCC (GB 32100-2015: the organisation code);
* subject_code_issue: suspected duplicate or wrong codes for staff to resolve.

Revision ID: 0017
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None

CATEGORIES = (
    "registration", "licence", "penalty", "enforcement", "red_list", "dishonest_list",
    "abnormal_operation", "court_defaulter", "criminal_judgement", "commitment", "other_admin",
)  # fmt: skip
ISSUE_KINDS = ("name_under_codes", "org_code_shared", "org_code_mismatch", "registration_number_shared")
RESOLUTIONS = ("renamed", "merged", "dismissed")
OPEN = sa.text("resolved_at IS NULL")


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.create_table(
        "data_domain_feed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", _enum(CATEGORIES, "feed_category"), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("covers_from", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("first_received_at", sa.DateTime(), nullable=True),
        sa.Column("last_received_at", sa.DateTime(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_data_domain_feed_department_id_department")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_domain_feed")),
        sa.UniqueConstraint("category", "department_id", name=op.f("uq_data_domain_feed_category_department_id")),
    )
    op.create_index(op.f("ix_data_domain_feed_department_id"), "data_domain_feed", ["department_id"], unique=False)
    # The feeds behind the records already held, dated from their first receipt.
    op.execute(
        "INSERT INTO data_domain_feed (category, department_id, covers_from, first_received_at,"
        " last_received_at, created_at, updated_at)"
        " SELECT category, department_id, MIN(received_date), MIN(created_at), MAX(updated_at),"
        " MIN(created_at), MAX(updated_at) FROM credit_record GROUP BY category, department_id"
    )

    op.add_column("subject", sa.Column("registration_number", sa.String(length=15), nullable=True))
    op.add_column("subject", sa.Column("merged_into_id", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.create_foreign_key(
            op.f("fk_subject_merged_into_id_subject"), "subject", "subject", ["merged_into_id"], ["id"]
        )
    op.create_index(op.f("ix_subject_registration_number"), "subject", ["registration_number"], unique=False)
    op.create_index("ix_subject_organisation_code", "subject", [sa.text("substr(uscc, 9, 9)")], unique=False)

    op.create_table(
        "subject_code_issue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum(ISSUE_KINDS, "code_issue_kind"), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("other_subject_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_by_label", sa.String(length=100), nullable=True),
        sa.Column("resolution", _enum(RESOLUTIONS, "code_issue_resolution"), nullable=True),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_subject_code_issue_department_id_department")
        ),
        sa.ForeignKeyConstraint(
            ["other_subject_id"], ["subject.id"], name=op.f("fk_subject_code_issue_other_subject_id_subject")
        ),
        sa.ForeignKeyConstraint(["subject_id"], ["subject.id"], name=op.f("fk_subject_code_issue_subject_id_subject")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_code_issue")),
    )
    op.create_index(op.f("ix_subject_code_issue_subject_id"), "subject_code_issue", ["subject_id"], unique=False)
    op.create_index(
        op.f("ix_subject_code_issue_other_subject_id"), "subject_code_issue", ["other_subject_id"], unique=False
    )
    op.create_index(
        "uq_subject_code_issue_open",
        "subject_code_issue",
        ["kind", "subject_id", "other_subject_id", "value"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("uq_subject_code_issue_open", table_name="subject_code_issue")
    op.drop_index(op.f("ix_subject_code_issue_other_subject_id"), table_name="subject_code_issue")
    op.drop_index(op.f("ix_subject_code_issue_subject_id"), table_name="subject_code_issue")
    op.drop_table("subject_code_issue")
    op.drop_index("ix_subject_organisation_code", table_name="subject")
    op.drop_index(op.f("ix_subject_registration_number"), table_name="subject")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("fk_subject_merged_into_id_subject"), "subject", type_="foreignkey")
    op.drop_column("subject", "merged_into_id")
    op.drop_column("subject", "registration_number")
    op.drop_index(op.f("ix_data_domain_feed_department_id"), table_name="data_domain_feed")
    op.drop_table("data_domain_feed")
