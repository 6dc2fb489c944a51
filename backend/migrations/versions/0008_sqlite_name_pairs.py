"""SQLite: a table of each enterprise name's characters and character pairs, for 1-2 character
name searches (PostgreSQL has had its GIN index since 0007).

The FTS5 trigram table cannot answer a fragment shorter than three characters, so a 1-2
character search scanned the whole name index for a rare pair (about 10 ms per 100k names: on
the benchmark's 100k enterprises the mean 2-character search cost eight times a 3-4 character
one, and set the HTTP p99 of name search). Triggers keep the table equal to the names, lower-cased
as SQLite's lower() does (ASCII), like the LIKE rule it stands in for. A trigger cannot use WITH,
so the character positions come from a small table of the numbers 1..200 (the name column's
length).

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

NAME_MAX_CHARS = 200  # subject.name is String(200)


def _pairs_of(row: str, source: str = "") -> str:
    """SELECT the (pair, subject_id) rows of ``row``'s name (``new`` or ``old`` in a trigger, a
    table row with ``source``): every character and every two adjacent characters, lower-cased."""
    return (
        f"SELECT substr(lower({row}.name), p.n, w.n), {row}.id "  # noqa: S608 (our own names, no input)
        f"FROM {source}subject_name_position AS p, subject_name_position AS w "
        f"WHERE w.n <= 2 AND p.n + w.n - 1 <= length({row}.name)"
    )


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        "CREATE TABLE subject_name_pair ("
        "pair TEXT NOT NULL, subject_id INTEGER NOT NULL, PRIMARY KEY (pair, subject_id)) WITHOUT ROWID"
    )
    op.execute("CREATE TABLE subject_name_position (n INTEGER PRIMARY KEY)")
    op.execute(
        "INSERT INTO subject_name_position (n) WITH RECURSIVE s(n) AS "  # noqa: S608
        f"(SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {NAME_MAX_CHARS}) SELECT n FROM s"
    )
    insert_new = f"INSERT OR IGNORE INTO subject_name_pair (pair, subject_id) {_pairs_of('new')};"
    delete_old = f"DELETE FROM subject_name_pair WHERE (pair, subject_id) IN ({_pairs_of('old')});"  # noqa: S608
    op.execute(
        f"CREATE TRIGGER subject_name_pair_ai AFTER INSERT ON subject WHEN new.name IS NOT NULL BEGIN {insert_new} END"
    )
    op.execute(
        f"CREATE TRIGGER subject_name_pair_ad AFTER DELETE ON subject WHEN old.name IS NOT NULL BEGIN {delete_old} END"
    )
    op.execute(
        "CREATE TRIGGER subject_name_pair_au AFTER UPDATE OF name ON subject WHEN old.name IS NOT new.name "
        f"BEGIN {delete_old} {insert_new} END"
    )
    op.execute(
        "INSERT OR IGNORE INTO subject_name_pair (pair, subject_id) "
        f"{_pairs_of('subject', source='subject, ')} AND subject.name IS NOT NULL"
    )


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("ai", "ad", "au"):
        op.execute(f"DROP TRIGGER IF EXISTS subject_name_pair_{trigger}")
    op.execute("DROP TABLE IF EXISTS subject_name_pair")
    op.execute("DROP TABLE IF EXISTS subject_name_position")
