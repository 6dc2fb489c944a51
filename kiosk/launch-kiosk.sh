#!/bin/sh
# Start Chromium full-screen on the kiosk pages served by the local agent (python -m kiosk.agent).
# Run it from the kiosk user's graphical session (autostart); see kiosk/README.md.
set -eu

AGENT_URL="${KIOSK_AGENT_URL:-http://127.0.0.1:8765/kiosk/}"
PROFILE_DIR="${KIOSK_PROFILE_DIR:-${XDG_RUNTIME_DIR:-/tmp}/kiosk-chromium}"
CHROMIUM="${CHROMIUM:-}"
if [ -z "$CHROMIUM" ]; then
  for candidate in chromium chromium-browser google-chrome; do
    if command -v "$candidate" >/dev/null 2>&1; then CHROMIUM="$(command -v "$candidate")"; break; fi
  done
fi
[ -n "$CHROMIUM" ] || { echo "launch-kiosk: Chromium not found (apt-get install chromium)" >&2; exit 1; }

# Wait for the agent (it starts with the system; the session may be quicker).
i=0
until python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$AGENT_URL" 2>/dev/null; do
  i=$((i + 1))
  [ "$i" -ge 120 ] && { echo "launch-kiosk: agent not answering at $AGENT_URL" >&2; break; }
  sleep 1
done

# A new profile on every start: nothing of a previous citizen (history, cache, storage) survives
# a restart, on top of the per-session clearing the pages do.
rm -rf "$PROFILE_DIR"
mkdir -p "$PROFILE_DIR"

exec "$CHROMIUM" \
  --kiosk \
  --no-first-run \
  --no-default-browser-check \
  --user-data-dir="$PROFILE_DIR" \
  --noerrdialogs \
  --disable-session-crashed-bubble \
  --disable-infobars \
  --disable-translate \
  --disable-features=Translate,TranslateUI,TouchpadOverscrollHistoryNavigation \
  --overscroll-history-navigation=0 \
  --disable-pinch \
  --disable-sync \
  --disable-background-networking \
  --password-store=basic \
  --check-for-update-interval=31536000 \
  --lang=zh-CN \
  "$AGENT_URL"
