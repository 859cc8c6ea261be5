#!/usr/bin/env bash
# `make package-test`: drive the frozen bundle in dist/stsdesk/ the way a user would, in a throwaway HOME.
#   1. --version           2. the embedded emulator + one AssumeRole through boto3 (the repo's .venv)
#   3. CLI: list / list --json on an empty config, a one-line error for an unknown profile, and (when
#      gnome-keyring is installed) add-user into a private Secret Service + whoami against the emulator
#   4. the GUI: --demo --self-test on the offscreen platform
# Any output on stderr that a step does not expect fails the test. Nothing is allow-listed except one exact
# line for the offscreen GUI step (see OFFSCREEN_ALLOW below); STSDESK_SMOKE_STDERR_ALLOW may name a file of
# further exact lines (compared whole) for a local investigation.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
BUNDLE=dist/stsdesk
APP="$BUNDLE/stsdesk"
SCENARIO="$BUNDLE/_internal/resources/demo.toml"
test -x "$APP" || { echo "smoke_test: $APP missing: run 'make package' first" >&2; exit 1; }
test -f "$SCENARIO" || { echo "smoke_test: the bundle has no resources/demo.toml" >&2; exit 1; }
VERSION=$("$PY" -c 'import sys; sys.path.insert(0, "packaging"); import bundle_rules, pathlib
print(bundle_rules.version_from_init(pathlib.Path("stsdesk/__init__.py")))')

WORK=$(mktemp -d)
EMU_PID=""
cleanup() {
  if [ -n "$EMU_PID" ] && kill -0 "$EMU_PID" 2>/dev/null; then kill "$EMU_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A user with nothing configured: private HOME, no AWS settings or credentials inherited from this shell.
export HOME="$WORK/home"
mkdir -p "$HOME"
export XDG_CONFIG_HOME="$HOME/.config" XDG_DATA_HOME="$HOME/.local/share" XDG_CACHE_HOME="$HOME/.cache"
export XDG_STATE_HOME="$HOME/.local/state"
export AWS_CONFIG_FILE="$HOME/.aws/config" AWS_SHARED_CREDENTIALS_FILE="$HOME/.aws/credentials"
unset STSDESK_CONFIG_DIR AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
  AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_STS
export AWS_EC2_METADATA_DISABLED=true

fail() { echo "smoke_test: FAIL: $*" >&2; exit 1; }
pass() { echo "ok   $*"; }

# check_stderr FILE WHAT [ALLOW_FILE]: fails if FILE (a stderr capture) has a line not allow-listed.
check_stderr() {
  local file=$1 what=$2 allow=${3:-} unexpected
  unexpected=$(cat "$file")
  for list in "$allow" "${STSDESK_SMOKE_STDERR_ALLOW:-}"; do
    [ -n "$list" ] && unexpected=$(printf '%s\n' "$unexpected" | grep -vxF -f "$list" || true)
  done
  [ -z "$unexpected" ] || fail "$what wrote to stderr:"$'\n'"$unexpected"
}

# run NAME EXPECTED_STATUS CMD... : stdout -> $WORK/NAME.out, stderr -> $WORK/NAME.err
run() {
  local name=$1 expected=$2 status=0
  shift 2
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || status=$?
  [ "$status" = "$expected" ] || fail "$name: exit $status, expected $expected"$'\n'"$(cat "$WORK/$name.err")"
}

# 1. --version
run version 0 "$APP" --version
[ "$(cat "$WORK/version.out")" = "stsdesk $VERSION" ] || fail "--version printed '$(cat "$WORK/version.out")'"
check_stderr "$WORK/version.err" "--version"
pass "--version: $(cat "$WORK/version.out")"

# 2. The embedded emulator on the bundle's own demo scenario, and one AssumeRole through boto3.
"$APP" emulator --port 0 --scenario "$SCENARIO" >"$WORK/emulator.out" 2>"$WORK/emulator.err" &
EMU_PID=$!
ENDPOINT=""
for _ in $(seq 1 300); do  # up to 30 s: a cold frozen start on a busy machine
  ENDPOINT=$(sed -n 's/^endpoint: //p' "$WORK/emulator.out" | head -n1)
  [ -n "$ENDPOINT" ] && break
  kill -0 "$EMU_PID" 2>/dev/null || fail "emulator exited before it was ready:"$'\n'"$(cat "$WORK/emulator.err")"
  sleep 0.1
done
[ -n "$ENDPOINT" ] || fail "emulator printed no 'endpoint:' line within 30 s"
"$PY" - "$ENDPOINT" "$SCENARIO" >"$WORK/assume.out" 2>"$WORK/assume.err" <<'PYEOF' || fail "AssumeRole against the frozen emulator:"$'\n'"$(cat "$WORK/assume.err")"
import sys
import tomllib

import boto3

endpoint, scenario = sys.argv[1], sys.argv[2]
with open(scenario, "rb") as fh:
    world = tomllib.load(fh)
alice = next(u for u in world["users"] if u["name"] == "alice")
key = alice["access_keys"][0]
sts = boto3.client(
    "sts", region_name=world.get("region", "us-east-1"), endpoint_url=endpoint,
    aws_access_key_id=key["id"], aws_secret_access_key=key["secret"],
)
resp = sts.assume_role(RoleArn="arn:aws:iam::222222222222:role/ReadOnly", RoleSessionName="smoke")
creds, user = resp["Credentials"], resp["AssumedRoleUser"]
assert creds["AccessKeyId"].startswith("ASIA"), creds["AccessKeyId"]
assert creds["SecretAccessKey"] and creds["SessionToken"], "empty secret or token"
assert user["Arn"] == "arn:aws:sts::222222222222:assumed-role/ReadOnly/smoke", user["Arn"]
print(user["Arn"])
PYEOF
check_stderr "$WORK/assume.err" "the boto3 client"
pass "emulator at $ENDPOINT: AssumeRole -> $(cat "$WORK/assume.out")"

# 3. CLI on an empty configuration.
CFG="$WORK/config"
run list 0 "$APP" --config-dir "$CFG" list
check_stderr "$WORK/list.err" "list"
run list_json 0 "$APP" --config-dir "$CFG" list --json
check_stderr "$WORK/list_json.err" "list --json"
"$PY" -c 'import json, sys; data = json.load(open(sys.argv[1])); assert not data, data' "$WORK/list_json.out" \
  || fail "list --json on an empty config printed $(cat "$WORK/list_json.out")"
pass "list / list --json on an empty config"
run unknown 1 "$APP" --config-dir "$CFG" whoami no-such-profile
[ "$(wc -l <"$WORK/unknown.err")" = 1 ] && ! grep -q Traceback "$WORK/unknown.err" \
  || fail "an unknown profile should be one line on stderr, got:"$'\n'"$(cat "$WORK/unknown.err")"
[ ! -s "$WORK/unknown.out" ] || fail "an unknown profile printed on stdout: $(cat "$WORK/unknown.out")"
pass "whoami no-such-profile: exit 1, $(cat "$WORK/unknown.err")"

# 3b. The frozen keyring stack (keyring -> secretstorage -> jeepney -> D-Bus) and frozen botocore: store alice's
# keys with add-user in a private Secret Service, then `whoami` reads them back and calls the emulator.
if command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null; then
  KR_HOME="$WORK/keyring-home"
  mkdir -p "$KR_HOME/.aws"
  printf '[profile alice]\nregion = us-east-1\nendpoint_url = %s\n' "$ENDPOINT" >"$KR_HOME/.aws/config"
  ALICE_ID=$("$PY" -c 'import sys, tomllib; w = tomllib.load(open(sys.argv[1], "rb"))
print(next(u for u in w["users"] if u["name"] == "alice")["access_keys"][0]["id"])' "$SCENARIO")
  ALICE_SECRET=$("$PY" -c 'import sys, tomllib; w = tomllib.load(open(sys.argv[1], "rb"))
print(next(u for u in w["users"] if u["name"] == "alice")["access_keys"][0]["secret"])' "$SCENARIO")
  # dbus-daemon itself may complain on stderr (fd limits in containers): only the app's stderr is checked.
  HOME="$KR_HOME" AWS_CONFIG_FILE="$KR_HOME/.aws/config" dbus-run-session -- bash -c '
    set -e
    echo -n smoke | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
    printf "%s\n" "$1" | "$2" --config-dir "$3/cfg" add-user alice --access-key-id "$4" >"$3/adduser.out" 2>"$3/adduser.err"
    "$2" --config-dir "$3/cfg" whoami alice >"$3/whoami.out" 2>"$3/whoami.err"
  ' bash "$ALICE_SECRET" "$APP" "$WORK" "$ALICE_ID" >/dev/null 2>&1 \
    || fail "add-user/whoami under a Secret Service:"$'\n'"$(cat "$WORK"/adduser.err "$WORK"/whoami.err 2>/dev/null)"
  check_stderr "$WORK/adduser.err" "add-user"
  check_stderr "$WORK/whoami.err" "whoami"
  grep -q "stored in the keyring" "$WORK/adduser.out" || fail "add-user did not use the keyring: $(cat "$WORK/adduser.out")"
  grep -q "arn:aws:iam::111111111111:user/alice" "$WORK/whoami.out" || fail "whoami printed $(cat "$WORK/whoami.out")"
  pass "keyring (Secret Service) add-user + whoami through the frozen botocore"
else
  echo "skip keyring step: dbus-run-session or gnome-keyring-daemon not installed"
fi

kill "$EMU_PID"
emu_status=0
wait "$EMU_PID" || emu_status=$?
EMU_PID=""
[ "$emu_status" = 0 ] || fail "emulator exited $emu_status on SIGTERM"
check_stderr "$WORK/emulator.err" "emulator"
pass "emulator stopped cleanly on SIGTERM"


# 4. The GUI, offscreen: opens the window on the demo world, assumes a role, prints `self-test ok`.
# The one allowed line: Qt's offscreen platform plugin does not implement QPlatformWindow::propagateSizeHints,
# and QWidget warns with exactly this text whenever a top-level window's layout sets its minimum size. It
# cannot appear on xcb/wayland (they implement it) and says nothing about the app.
OFFSCREEN_ALLOW="$WORK/offscreen-allow"
printf '%s\n' "This plugin does not support propagateSizeHints()" >"$OFFSCREEN_ALLOW"
run selftest 0 env QT_QPA_PLATFORM=offscreen "$APP" --demo --self-test --config-dir "$WORK/gui"
grep -qx "self-test ok" "$WORK/selftest.out" || fail "--self-test printed: $(cat "$WORK/selftest.out")"
check_stderr "$WORK/selftest.err" "--demo --self-test" "$OFFSCREEN_ALLOW"
pass "--demo --self-test: self-test ok"

echo "smoke test passed: $APP"
