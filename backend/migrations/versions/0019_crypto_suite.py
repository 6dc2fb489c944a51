"""Crypto suite (issue 23): every audit row names its chain hash, and every issued report keeps
a signature over its registered file that names its algorithm and key.

Existing audit rows were hashed with SHA-256, which the server default records; existing reports
have no file signature (their QR token and PAdES signature are unchanged). Plain ADD COLUMN on
both databases: no table rebuild, and PostgreSQL's append-only trigger on audit_event (0006)
fires on UPDATE and DELETE only.

Revision ID: 0019
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_event", sa.Column("hash_alg", sa.String(length=8), nullable=False, server_default="sha256"))
    op.add_column("issued_report", sa.Column("file_signature_alg", sa.String(length=16), nullable=True))
    op.add_column("issued_report", sa.Column("file_signature_kid", sa.String(length=16), nullable=True))
    op.add_column("issued_report", sa.Column("file_signature", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issued_report") as batch:
        batch.drop_column("file_signature")
        batch.drop_column("file_signature_kid")
        batch.drop_column("file_signature_alg")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("hash_alg")
