#!/usr/bin/env bash
# Restore a backup made by backup.sh: the database and the stored files.
#
#   deploy/restore.sh [--env-file /etc/credit/credit.env] [--force] [--allow-missing-keys] BACKUP_DIR
#
# Stop the web processes and the workers first (systemctl stop credit-web 'credit-worker@*').
#
# * The checksums in SHA256SUMS are checked before anything is touched.
# * The keys the backup's data needs (manifest.txt: pii_key_ids, report_key_ids) must all be in
#   the configuration (PII_ENCRYPTION_KEYS, REPORT_SIGNING_KEYS); otherwise the restore refuses,
#   naming the missing ones: put the retired keys back from their sealed copies (docs/
#   deployment.md 1.8). --allow-missing-keys restores anyway (a report key withdrawn after a
#   leak, its reports revoked: their QR codes then say "unknown key").
# * A PostgreSQL database that does not exist is created: the role must have CREATEDB.
# * The target database must be empty or missing (a missing PostgreSQL database is created);
#   the storage folder must be empty or missing. Otherwise the restore refuses, unless --force:
#   then the PostgreSQL schema "public" is dropped and recreated, and an existing SQLite file or
#   storage folder is kept beside the original as *.before-restore-<time>.
# * All refusals happen before the first change.
#
# Afterwards: `flask --app backend.app:create_app db upgrade` if the code is newer than the
# backup (manifest.txt names its schema revision), then start the services.
set -euo pipefail
umask 077

APP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ENV_FILE=""
FORCE=0
ALLOW_MISSING_KEYS=0
SRC=""
while [ $# -gt 0 ]; do
    case "$1" in
        --env-file) ENV_FILE=$2; shift 2 ;;
        --force) FORCE=1; shift ;;
        --allow-missing-keys) ALLOW_MISSING_KEYS=1; shift ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        -*) echo "restore: unknown option $1" >&2; exit 2 ;;
        *) SRC=$1; shift ;;
    esac
done
[ -n "$SRC" ] || { echo "usage: restore.sh [--env-file FILE] [--force] [--allow-missing-keys] BACKUP_DIR" >&2; exit 2; }
if [ -n "$ENV_FILE" ]; then
    set -a
    # shellcheck disable=SC1090
    . "$ENV_FILE"
    set +a
fi
# shellcheck source=deploy/lib.sh
. "$APP_DIR/deploy/lib.sh"
resolve_settings

SRC=$(cd "$SRC" && pwd)
if [ ! -f "$SRC/SHA256SUMS" ] || [ ! -f "$SRC/manifest.txt" ]; then
    die "$SRC is not a backup made by backup.sh"
fi
(cd "$SRC" && sha256sum --check --quiet --strict SHA256SUMS) || die "checksums do not match: the backup is damaged, nothing was restored"
manifest() { sed -n "s/^$1=//p" "$SRC/manifest.txt"; }
[ "$(manifest format)" = "credit-backup-1" ] || die "unknown backup format"
backup_kind=$(manifest database_kind)
db_file=$(manifest database_file)
[ "$backup_kind" = "$DB_KIND" ] || die "the backup is of a $backup_kind database, DATABASE_URL names a $DB_KIND one"
stamp=$(date -u +%Y%m%dT%H%M%SZ)

# --- Checks: refuse before changing anything ------------------------------------------------

# The keys: ids named by the manifest and missing from a "kid:value[,kid:value...]" setting.
missing_keys() {
    local needed=$1 ring=$2 kid configured=" " entry
    IFS=, read -ra entries <<< "$ring"
    for entry in "${entries[@]}"; do
        entry=${entry// /}
        [ -n "$entry" ] && configured+="${entry%%:*} "
    done
    IFS=, read -ra kids <<< "$needed"
    for kid in "${kids[@]}"; do
        case "$configured" in *" $kid "*) ;; *) printf '%s ' "$kid" ;; esac
    done
}
if grep -q '^pii_key_ids=' "$SRC/manifest.txt"; then
    missing_pii=$(missing_keys "$(manifest pii_key_ids)" "$(setting PII_ENCRYPTION_KEYS)")
    missing_report=$(missing_keys "$(manifest report_key_ids)" "$(setting REPORT_SIGNING_KEYS)")
    if [ -n "$missing_pii$missing_report" ]; then
        message="the backup's data needs keys the configuration lacks:"
        [ -z "$missing_pii" ] || message+=" PII_ENCRYPTION_KEYS: ${missing_pii% }"
        [ -z "$missing_pii" ] || [ -z "$missing_report" ] || message+=";"
        [ -z "$missing_report" ] || message+=" REPORT_SIGNING_KEYS: ${missing_report% }"
        if [ "$ALLOW_MISSING_KEYS" -eq 1 ]; then
            echo "restore: warning: $message (restoring anyway: --allow-missing-keys)" >&2
        else
            die "$message. Add the retired keys (after the active one) from their sealed copies and run again; nothing was restored"
        fi
    fi
else
    echo "restore: warning: the manifest names no keys (a backup made before key ids were recorded): not checked" >&2
fi

pg_exists=0
if [ "$DB_KIND" = postgresql ]; then
    # psql variables (:'name') quote the name safely; they are expanded on stdin, not with -c.
    found=$(psql "$PG_MAINT_URL" -XAtq -v ON_ERROR_STOP=1 -v name="$PG_DBNAME" \
        <<< "SELECT 1 FROM pg_database WHERE datname = :'name'") || die "cannot reach the PostgreSQL server"
    if [ "$found" != 1 ]; then
        may_create=$(psql "$PG_MAINT_URL" -XAtq -v ON_ERROR_STOP=1 \
            -c "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user") || die "cannot reach the PostgreSQL server"
        [ "$may_create" = t ] || die "database $PG_DBNAME does not exist and this role may not create databases (CREATEDB): create it first (sudo -u postgres createdb --owner credit $PG_DBNAME); nothing was restored"
    fi
    if [ "$found" = 1 ]; then
        pg_exists=1
        tables=$(psql "$PG_URL" -XAtqc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        if [ "$tables" -gt 0 ] && [ "$FORCE" -ne 1 ]; then
            die "database $PG_DBNAME is not empty ($tables tables): refusing to overwrite it (use --force)"
        fi
    fi
else
    if [ -s "$SQLITE_PATH" ]; then
        tables=$(sqlite3 "$SQLITE_PATH" "SELECT count(*) FROM sqlite_master WHERE type = 'table'")
        if [ "$tables" -gt 0 ] && [ "$FORCE" -ne 1 ]; then
            die "database $SQLITE_PATH is not empty ($tables tables): refusing to overwrite it (use --force)"
        fi
    fi
fi
if [ "$STORAGE_BACKEND" = local ] && [ -d "$STORAGE_DIR" ] && [ -n "$(find "$STORAGE_DIR" -mindepth 1 -print -quit)" ]; then
    [ "$FORCE" -eq 1 ] || die "storage folder $STORAGE_DIR is not empty: refusing to overwrite it (use --force)"
fi

# --- The database -----------------------------------------------------------------------------
if [ "$DB_KIND" = postgresql ]; then
    if [ "$pg_exists" -eq 0 ]; then
        psql "$PG_MAINT_URL" -XqAt -v ON_ERROR_STOP=1 -v name="$PG_DBNAME" <<< 'CREATE DATABASE :"name"'
    elif [ "$FORCE" -eq 1 ]; then
        psql "$PG_URL" -Xq -v ON_ERROR_STOP=1 -c "DROP SCHEMA IF EXISTS public CASCADE" -c "CREATE SCHEMA public"
    fi
    # One transaction: a failed restore leaves the database as empty as it was.
    pg_restore --no-owner --no-privileges --exit-on-error --single-transaction --dbname="$PG_URL" "$SRC/$db_file"
    rows=$(psql "$PG_URL" -XAtqc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
else
    mkdir -p "$(dirname "$SQLITE_PATH")"
    if [ -e "$SQLITE_PATH" ] && [ "$FORCE" -eq 1 ]; then
        mv "$SQLITE_PATH" "$SQLITE_PATH.before-restore-$stamp"
    fi
    # A WAL left by the old file would be replayed into the restored one.
    rm -f "$SQLITE_PATH-wal" "$SQLITE_PATH-shm"
    cp "$SRC/$db_file" "$SQLITE_PATH.restoring"
    mv "$SQLITE_PATH.restoring" "$SQLITE_PATH"
    rows=$(sqlite3 "$SQLITE_PATH" "SELECT count(*) FROM sqlite_master WHERE type = 'table'")
fi
echo "database restored: $rows tables, schema revision $(manifest alembic_revision)"

# --- The files --------------------------------------------------------------------------------
if [ "$STORAGE_BACKEND" = local ]; then
    if [ -d "$STORAGE_DIR" ] && [ -n "$(find "$STORAGE_DIR" -mindepth 1 -print -quit)" ]; then
        mv "$STORAGE_DIR" "$STORAGE_DIR.before-restore-$stamp"
    fi
    mkdir -p "$STORAGE_DIR"
    chmod 700 "$STORAGE_DIR"
    tar --extract --gzip --file="$SRC/storage.tar.gz" -C "$STORAGE_DIR" --no-same-owner
    echo "files restored: $(find "$STORAGE_DIR" -type f | wc -l) of $(manifest storage_files) into $STORAGE_DIR"
else
    echo "files: STORAGE_BACKEND=s3, the bucket is restored from its own versions (docs/deployment.md)"
fi
echo "next: flask --app backend.app:create_app db upgrade (if the code is newer), then start the services"
