#!/usr/bin/env bash
# Back up the database and the stored files (report PDFs, uploaded materials) into one folder:
#
#   deploy/backup.sh [--env-file /etc/credit/credit.env] [--keep N] DEST_DIR
#
# Writes DEST_DIR/credit-<UTC time>/ with
#   database.pgdump     PostgreSQL, pg_dump custom format   (or database.sqlite3: SQLite online backup)
#   storage.tar.gz      the STORAGE_DIR folder (local storage; for S3 see docs/deployment.md)
#   manifest.txt        what was backed up, from where, at which schema revision, and the key
#                       ids its data needs (PII keys, report token keys): restore.sh checks them
#   SHA256SUMS          checksums of the three files above; restore.sh refuses a backup that fails them
# and prints that folder's path. The folder appears only when complete (written as *.partial).
# --keep N removes all but the newest N backups in DEST_DIR afterwards.
#
# The database is dumped BEFORE the files are archived: a report's PDF is stored before its row
# is committed, so every row in the dump has its file in the archive.
#
# Settings come from the environment (the same names the app reads: DATABASE_URL, STORAGE_DIR,
# STORAGE_BACKEND, with or without the CREDIT_ prefix), or from --env-file.
set -euo pipefail
umask 077

APP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ENV_FILE=""
KEEP=0
DEST=""
while [ $# -gt 0 ]; do
    case "$1" in
        --env-file) ENV_FILE=$2; shift 2 ;;
        --keep) KEEP=$2; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        -*) echo "backup: unknown option $1" >&2; exit 2 ;;
        *) DEST=$1; shift ;;
    esac
done
[ -n "$DEST" ] || { echo "usage: backup.sh [--env-file FILE] [--keep N] DEST_DIR" >&2; exit 2; }
if [ -n "$ENV_FILE" ]; then
    set -a
    # shellcheck disable=SC1090
    . "$ENV_FILE"
    set +a
fi

# shellcheck source=deploy/lib.sh
. "$APP_DIR/deploy/lib.sh"
resolve_settings

stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$DEST"
target="$DEST/credit-$stamp"
work="$target.partial"
[ ! -e "$target" ] || die "backup $target already exists"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"; remove_pgpass' EXIT

# The key ids the data was sealed or signed with: the prefix of every "<kid>.<base64>" value in a
# *_encrypted column (backend/pii.py; every encrypted column has that suffix, a test checks it),
# and the QR token key of every issued report. One id per line.
pg_key_ids() {
    local columns query="SELECT NULL::text WHERE false"
    columns=$(psql "$PG_URL" -XAtq -v ON_ERROR_STOP=1 -F ' ' -c "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND (column_name LIKE '%\_encrypted' OR (table_name = 'issued_report' AND column_name = 'token_kid')) ORDER BY 1, 2")
    while read -r table column; do
        case "$column" in
            "") ;;
            token_kid) query+=" UNION SELECT 'report ' || token_kid FROM issued_report" ;;
            *) query+=" UNION SELECT 'pii ' || split_part(\"$column\", '.', 1) FROM \"$table\" WHERE \"$column\" LIKE '%.%'" ;;
        esac
    done <<< "$columns"
    psql "$PG_URL" -XAtq -v ON_ERROR_STOP=1 -c "$query"
}
sqlite_key_ids() {
    local file=$1 columns query="SELECT NULL WHERE 0"
    columns=$(sqlite3 -separator ' ' "$file" "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' AND (p.name LIKE '%\_encrypted' ESCAPE '\' OR (m.name = 'issued_report' AND p.name = 'token_kid')) ORDER BY 1, 2")
    while read -r table column; do
        case "$column" in
            "") ;;
            token_kid) query+=" UNION SELECT 'report ' || token_kid FROM issued_report" ;;
            *) query+=" UNION SELECT 'pii ' || substr(\"$column\", 1, instr(\"$column\", '.') - 1) FROM \"$table\" WHERE instr(\"$column\", '.') > 1" ;;
        esac
    done <<< "$columns"
    sqlite3 "$file" "$query"
}
# "pii k2026,k2027" lines -> a comma list of the ids of one kind.
key_list() { sed -n "s/^$1 //p" | sort -u | paste -sd, -; }

# 1. The database.
case "$DB_KIND" in
    postgresql)
        db_file=database.pgdump
        revision=$(psql "$PG_URL" -XAtqc "SELECT version_num FROM alembic_version" 2>/dev/null || echo unknown)
        # Before and after the dump: a rotation running meanwhile can only add ids to the union.
        key_ids=$(pg_key_ids) || die "cannot list the key ids in the database"
        pg_dump --format=custom --no-owner --no-privileges --file="$work/$db_file" "$PG_URL"
        key_ids+=$'\n'$(pg_key_ids) || die "cannot list the key ids in the database"
        ;;
    sqlite)
        db_file=database.sqlite3
        [ -f "$SQLITE_PATH" ] || die "SQLite database $SQLITE_PATH does not exist"
        revision=$(sqlite3 "$SQLITE_PATH" "SELECT version_num FROM alembic_version" 2>/dev/null || echo unknown)
        # The online backup API: a consistent copy even while the web and worker processes write.
        sqlite3 "$SQLITE_PATH" ".timeout 30000" ".backup '$work/$db_file'"
        [ "$(sqlite3 "$work/$db_file" 'PRAGMA integrity_check')" = "ok" ] || die "the SQLite copy fails its integrity check"
        key_ids=$(sqlite_key_ids "$work/$db_file") || die "cannot list the key ids in the database"
        ;;
esac
pii_key_ids=$(key_list pii <<< "$key_ids")
report_key_ids=$(key_list report <<< "$key_ids")

# 2. The files.
files=0
bytes=0
if [ "$STORAGE_BACKEND" = "local" ]; then
    mkdir -p "$STORAGE_DIR"
    # Half-written temporary files (.tmp-*) are never referenced by a row: leave them out.
    tar --create --gzip --file="$work/storage.tar.gz" --exclude='.tmp-*' -C "$STORAGE_DIR" .
    files=$(find "$STORAGE_DIR" -type f ! -name '.tmp-*' | wc -l)
    bytes=$(du -sb "$STORAGE_DIR" | cut -f1)
else
    # Object storage keeps its own copies (bucket versioning + replication, docs/deployment.md).
    tar --create --gzip --file="$work/storage.tar.gz" --files-from=/dev/null
fi

# 3. Manifest and checksums.
# The checkout belongs to root and the backup runs as the service user: git refuses a repository
# owned by someone else ("dubious ownership") unless it is named safe for this one command.
commit=$(git -c safe.directory="$APP_DIR" -C "$APP_DIR" rev-parse HEAD 2>/dev/null || echo unknown)
cat > "$work/manifest.txt" <<EOF
format=credit-backup-1
created_at=$stamp
host=$(hostname)
app_commit=$commit
database_kind=$DB_KIND
database_file=$db_file
alembic_revision=$revision
storage_backend=$STORAGE_BACKEND
storage_files=$files
storage_bytes=$bytes
pii_key_ids=$pii_key_ids
report_key_ids=$report_key_ids
EOF
(cd "$work" && sha256sum "$db_file" storage.tar.gz manifest.txt > SHA256SUMS)
mv "$work" "$target"
trap remove_pgpass EXIT

if [ "$KEEP" -gt 0 ]; then
    # Newest first by name (the names are UTC timestamps); keep N, remove the rest.
    find "$DEST" -mindepth 1 -maxdepth 1 -type d -name 'credit-*' ! -name '*.partial' | sort -r \
        | tail -n "+$((KEEP + 1))" | while read -r old; do rm -rf "$old"; done
fi
echo "$target"
