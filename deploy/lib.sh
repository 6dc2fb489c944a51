# Shared by backup.sh and restore.sh: read the app's settings the way backend/config.py does.
# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables set here are read by the sourcing script

die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

# A setting by name, with the optional CREDIT_ prefix the app also accepts.
setting() {
    local name=$1 default=${2:-}
    local plain=${!name:-} prefixed_name="CREDIT_$1"
    local prefixed=${!prefixed_name:-}
    if [ -n "$plain" ]; then echo "$plain"; elif [ -n "$prefixed" ]; then echo "$prefixed"; else echo "$default"; fi
}

PGPASS_TMP=""
remove_pgpass() {
    if [ -n "$PGPASS_TMP" ]; then rm -f "$PGPASS_TMP"; fi
}

resolve_settings() {
    # The Flask instance folder (<app>/instance), where the defaults live.
    INSTANCE_DIR=$(setting INSTANCE_DIR "$APP_DIR/instance")
    local url
    url=$(setting DATABASE_URL "")
    [ -n "$url" ] || url="sqlite:///$INSTANCE_DIR/credit.db"
    STORAGE_BACKEND=$(setting STORAGE_BACKEND local)
    STORAGE_DIR=$(setting STORAGE_DIR "$INSTANCE_DIR/storage")
    case "$STORAGE_BACKEND" in local|s3) ;; *) die "STORAGE_BACKEND must be local or s3" ;; esac
    case "$url" in
        postgres://*|postgresql://*|postgresql+*://*)
            DB_KIND=postgresql
            # libpq wants postgresql://...; the app's URL may name the driver (postgresql+psycopg).
            # PG_URL: the database; PG_MAINT_URL: the same server's "postgres" database, to create it.
            # The password is taken out of the URL: a command line is visible to every user of
            # the machine (ps), so psql, pg_dump and pg_restore read it from a PGPASSFILE that
            # only this process's user can read, removed when the script ends.
            local pg_password=""
            eval "$(python3 - "$url" <<'PY'
import shlex, sys
from urllib.parse import unquote, urlsplit, urlunsplit
url = sys.argv[1]
scheme, rest = url.split("://", 1)
parts = urlsplit("postgresql://" + rest)
name = parts.path.lstrip("/")
if not name:
    sys.exit("DATABASE_URL names no database")
userinfo, at, hostport = parts.netloc.rpartition("@")
user, colon, password = userinfo.partition(":")
parts = parts._replace(netloc=(user + "@" if user else "") + hostport)
print("PG_URL=" + shlex.quote(urlunsplit(parts)))
print("PG_MAINT_URL=" + shlex.quote(urlunsplit(parts._replace(path="/postgres"))))
print("PG_DBNAME=" + shlex.quote(name))
print("pg_password=" + shlex.quote(unquote(password)))
PY
)"
            if [ -n "$pg_password" ]; then
                PGPASS_TMP=$(mktemp "${TMPDIR:-/tmp}/credit-pgpass.XXXXXX")
                # The .pgpass format: host:port:database:user:password, ':' and '\' escaped.
                pg_password=${pg_password//\\/\\\\}
                printf '*:*:*:*:%s\n' "${pg_password//:/\\:}" > "$PGPASS_TMP"
                export PGPASSFILE=$PGPASS_TMP
                trap remove_pgpass EXIT
            fi
            ;;
        sqlite:///*)
            DB_KIND=sqlite
            SQLITE_PATH=${url#sqlite:///}
            SQLITE_PATH=${SQLITE_PATH%%\?*}
            # Flask-SQLAlchemy resolves a relative SQLite path against the instance folder.
            case "$SQLITE_PATH" in /*) ;; *) SQLITE_PATH="$INSTANCE_DIR/$SQLITE_PATH" ;; esac
            ;;
        *) die "DATABASE_URL: only PostgreSQL and SQLite file URLs can be backed up" ;;
    esac
}
