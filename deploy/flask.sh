#!/usr/bin/env bash
# Run an operator command with the production settings, as the services see them:
#
#   sudo -u credit /opt/credit/app/deploy/flask.sh db upgrade
#   sudo -u credit /opt/credit/app/deploy/flask.sh credit audit-verify
#
# Reads CREDIT_ENV_FILE (default /etc/credit/credit.env), then runs the app's flask CLI.
set -euo pipefail
APP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ENV_FILE=${CREDIT_ENV_FILE:-/etc/credit/credit.env}
[ -r "$ENV_FILE" ] || { echo "flask.sh: cannot read $ENV_FILE" >&2; exit 1; }
set -a
# shellcheck disable=SC1090
. "$ENV_FILE"
set +a
cd "$APP_DIR"
exec "$APP_DIR/.venv/bin/flask" --app backend.app:create_app "$@"
