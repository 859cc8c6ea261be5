#!/usr/bin/env bash
# The whole test suite: lint, types, then pytest under coverage (subprocesses included), then the coverage
# floor. Extra arguments go to pytest (a subset run skips the floor: it would measure only that subset).
#
# Tests that need the real Secret Service run against a gnome-keyring of their own: a private D-Bus session
# (dbus-run-session) whose HOME, XDG_DATA_HOME (where gnome-keyring keeps its keyrings), XDG_CONFIG_HOME and
# XDG_RUNTIME_DIR (where a running gnome-keyring-daemon listens for --unlock) are a temporary directory. The
# user's own login keyring, and any keyring daemon they have running, are never seen, unlocked or written.
# Before saying "the Secret Service works" (STSDESK_TEST_SECRET_SERVICE=1) a probe stores an item, reads it
# back and deletes it. Tests marked `keyring` or `display` skip (with the reason, see -ra) when what they
# need is missing — and fail instead when CI=true (tests/helpers/gates.py).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
BIN=$REPO/.venv/bin
echo "== ruff"
"$BIN/ruff" check stsdesk tests benchmarks packaging tools
echo "== mypy --strict (the whole package)"
"$BIN/mypy" --strict stsdesk

SANDBOX=$(mktemp -d "${TMPDIR:-/tmp}/stsdesk-test.XXXXXX")
trap 'rm -rf "$SANDBOX"' EXIT
mkdir -p "$SANDBOX/home" "$SANDBOX/data" "$SANDBOX/config" "$SANDBOX/cache" "$SANDBOX/run"
chmod 700 "$SANDBOX/run"
export STSDESK_TEST_SANDBOX=$SANDBOX

# Coverage of this process and of every Python subprocess it starts (the CLI and the emulator run as
# subprocesses in the e2e tests): coverage's own subprocess patch, configured in pyproject.toml, writes one
# data file per process into .coverage-data/, combined below. A subset run (arguments given) is measured only
# with STSDESK_COVERAGE=1, and then the floor is not enforced (it holds for the whole suite).
COVERAGE=0
FLOOR=0
if [ "$#" -eq 0 ]; then FLOOR=1; fi
if { [ "$#" -eq 0 ] && [ "${STSDESK_COVERAGE:-1}" != "0" ]; } || [ "${STSDESK_COVERAGE:-}" = "1" ]; then
  COVERAGE=1
  rm -rf .coverage-data && mkdir -p .coverage-data
  export COVERAGE_RCFILE=$REPO/pyproject.toml STSDESK_COVERAGE_DIR=$REPO/.coverage-data
fi

echo "== pytest"
export QT_QPA_PLATFORM=offscreen
if [ "$COVERAGE" = 1 ]; then
  run_pytest=("$BIN/python" -m coverage run -m pytest "$@")
else
  run_pytest=("$BIN/python" -m pytest "$@")
fi

# Runs inside the private D-Bus session: the keyring daemon's whole world is $SANDBOX.
inner='set -u
export HOME="$STSDESK_TEST_SANDBOX/home" XDG_DATA_HOME="$STSDESK_TEST_SANDBOX/data"
export XDG_CONFIG_HOME="$STSDESK_TEST_SANDBOX/config" XDG_CACHE_HOME="$STSDESK_TEST_SANDBOX/cache"
export XDG_RUNTIME_DIR="$STSDESK_TEST_SANDBOX/run"
unset GNOME_KEYRING_CONTROL SSH_AUTH_SOCK
if command -v gnome-keyring-daemon >/dev/null 2>&1; then
  # A fresh login keyring with a throwaway password (there is none in $XDG_DATA_HOME yet, so --unlock
  # creates it unlocked); --daemonize returns once the daemon is on the bus.
  if printf %s "stsdesk-test-$RANDOM$RANDOM" \
      | gnome-keyring-daemon --daemonize --unlock --components=secrets >/dev/null; then
    if reason=$("$STSDESK_TEST_PYTHON" "$STSDESK_TEST_REPO/tools/secret_service_probe.py" 2>&1); then
      export STSDESK_TEST_SECRET_SERVICE=1
      echo "test keyring: gnome-keyring in $XDG_DATA_HOME/keyrings (probe stored and read an item)"
    else
      export STSDESK_TEST_KEYRING_PROBLEM="the test keyring does not work: $reason"
      echo "warning: $STSDESK_TEST_KEYRING_PROBLEM: keyring tests will skip (fail when CI=true)" >&2
    fi
  else
    export STSDESK_TEST_KEYRING_PROBLEM="gnome-keyring-daemon did not start in the test session"
    echo "warning: $STSDESK_TEST_KEYRING_PROBLEM: keyring tests will skip (fail when CI=true)" >&2
  fi
else
  export STSDESK_TEST_KEYRING_PROBLEM="gnome-keyring-daemon is not installed (apt-get install gnome-keyring)"
  echo "warning: $STSDESK_TEST_KEYRING_PROBLEM: keyring tests will skip (fail when CI=true)" >&2
fi
# The daemon ends with this D-Bus session.
exec "$@"'
export STSDESK_TEST_PYTHON=$BIN/python STSDESK_TEST_REPO=$REPO

if command -v xvfb-run >/dev/null 2>&1; then
  run_pytest=(xvfb-run -a -s "-screen 0 1600x1000x24" "${run_pytest[@]}")
fi
status=0
if command -v dbus-run-session >/dev/null 2>&1; then
  dbus-run-session -- bash -c "$inner" bash "${run_pytest[@]}" || status=$?
else
  export STSDESK_TEST_KEYRING_PROBLEM="dbus-run-session is not installed (apt-get install dbus)"
  echo "warning: $STSDESK_TEST_KEYRING_PROBLEM: keyring tests will skip (fail when CI=true)" >&2
  HOME="$SANDBOX/home" "${run_pytest[@]}" || status=$?
fi
# pytest exits 5 when it collected no test: that is a failure here, as is any other non-zero status.
if [ "$status" -ne 0 ]; then
  echo "pytest failed (exit status $status)" >&2
  exit "$status"
fi

if [ "$COVERAGE" = 1 ]; then
  echo "== coverage"
  "$BIN/python" -m coverage combine -q
  "$BIN/python" -m coverage report --skip-covered --skip-empty --sort=cover
  "$BIN/python" -m coverage json -q -o .coverage-data/coverage.json
  if [ "$FLOOR" = 1 ]; then
    "$BIN/python" tools/coverage_floor.py .coverage-data/coverage.json
  else
    "$BIN/python" tools/coverage_floor.py --total 0 --module 0 .coverage-data/coverage.json
  fi
fi
