#!/usr/bin/env bash
# The whole test suite: lint, types, then pytest. Tests that need the real Secret Service run against
# gnome-keyring inside a private D-Bus session; tests that need a display or a tray host get Xvfb.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
echo "== ruff"
$BIN/ruff check stsdesk tests benchmarks packaging
echo "== mypy --strict (core, emulator)"
$BIN/mypy --strict stsdesk/core stsdesk/emulator
echo "== pytest"
export QT_QPA_PLATFORM=offscreen
run_pytest=("$BIN/python" -m pytest "$@")
inner='set -e
if command -v gnome-keyring-daemon >/dev/null 2>&1; then
  echo -n stsdesk-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1 || true
  export STSDESK_TEST_SECRET_SERVICE=1
fi
exec "$@"'
if command -v xvfb-run >/dev/null 2>&1; then
  run_pytest=(xvfb-run -a -s "-screen 0 1600x1000x24" "${run_pytest[@]}")
fi
if command -v dbus-run-session >/dev/null 2>&1; then
  # pytest exits 5 when it collected no test: that is a failure here, as is any other non-zero status.
  exec dbus-run-session -- bash -c "$inner" bash "${run_pytest[@]}"
fi
echo "warning: dbus-run-session not found: tests that need the Secret Service will be skipped" >&2
exec "${run_pytest[@]}"
