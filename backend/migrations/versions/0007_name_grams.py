"""PostgreSQL: an index for 1-2 character name searches (the characters and character pairs of
each enterprise name, lower-cased, in a GIN index).

pg_trgm cannot answer a fragment shorter than three characters, so a rare two-character search
(two characters are a common way to look up a Chinese name) read the whole subject table:
about 25 ms alone, several hundred under load. SQLite scans its covering name index instead
(backend/subjects/queries.py) and is unchanged.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION credit_name_grams(name text) RETURNS text[]
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT ARRAY(
                SELECT DISTINCT substr(lowered, i, n)
                FROM (SELECT lower(name) AS lowered) AS l,
                     generate_series(1, char_length(lower(name))) AS i,
                     (VALUES (1), (2)) AS w (n)
                WHERE i + n - 1 <= char_length(lowered)
            )
        $$
        """
    )
    op.execute("CREATE INDEX ix_subject_name_grams ON subject USING gin (credit_name_grams(name))")
    op.execute("ANALYZE subject")  # statistics on the new expression, for the planner's choice


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_subject_name_grams")
    op.execute("DROP FUNCTION IF EXISTS credit_name_grams(text)")
