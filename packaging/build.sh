#!/usr/bin/env bash
# `make package`: freeze stsdesk with PyInstaller (from the hash-locked dependencies) into dist/stsdesk/ (onedir) and pack
# dist/stsdesk-<version>-linux-<arch>.tar.gz. Fails if a bundled library lost a dependency to the trim.
set -euo pipefail
cd "$(dirname "$0")/.."

# The bundle is built from packaging/requirements.lock (`make lock`): exact versions and the sha256 of every
# file, installed with --require-hashes into a virtualenv of its own, so a release is made of reviewed bytes,
# never of whatever resolves on the day or happens to be in the development .venv. Rebuilt when the lock changes.
LOCK=packaging/requirements.lock
BUILD_VENV=build/bundle-venv
want=$(sha256sum "$LOCK" | cut -d' ' -f1)
if [ ! -x "$BUILD_VENV/bin/python" ] || [ "$(cat "$BUILD_VENV/.lock-sha256" 2>/dev/null)" != "$want" ]; then
  rm -rf "$BUILD_VENV"
  "${PYTHON:-.venv/bin/python}" -m venv "$BUILD_VENV"
  "$BUILD_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --only-binary :all: \
    -r "$LOCK"
  echo "$want" > "$BUILD_VENV/.lock-sha256"
fi
BIN=$BUILD_VENV/bin
VERSION=$("$BIN/python" -c 'import sys; sys.path.insert(0, "packaging"); import bundle_rules, pathlib
print(bundle_rules.version_from_init(pathlib.Path("stsdesk/__init__.py")))')
ARCH=$(uname -m)
TARBALL="dist/stsdesk-${VERSION}-linux-${ARCH}.tar.gz"

rm -rf dist/stsdesk "$TARBALL"
# QT_QPA_PLATFORM: PyInstaller's Qt hooks start Qt in a subprocess to ask where its files are.
QT_QPA_PLATFORM=offscreen "$BIN/pyinstaller" --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/stsdesk.spec

BUNDLE=dist/stsdesk
INTERNAL="$BUNDLE/_internal"
test -x "$BUNDLE/stsdesk"
test -f "$INTERNAL/resources/demo.toml"
# PyInstaller links top-level names to every collected Qt library, including ones the spec then trimmed.
find "$BUNDLE" -xtype l -delete
install -m 0755 packaging/install.sh "$BUNDLE/install.sh"

# Every shared object we ship must resolve its libraries from the bundle or the base system (the trim in
# bundle_rules.py drops libraries; this catches one that a kept plugin still needed).
libpath="$INTERNAL:$INTERNAL/PySide6/Qt/lib:$INTERNAL/PySide6:$INTERNAL/shiboken6"
missing=""
while IFS= read -r -d '' lib; do
  unresolved=$(LD_LIBRARY_PATH="$libpath" ldd "$lib" 2>/dev/null | awk '/not found/ {print $1}' || true)
  [ -z "$unresolved" ] || missing+="${lib#"$INTERNAL"/} needs ${unresolved//$'\n'/ }"$'\n'
done < <(find "$INTERNAL" -name '*.so*' -type f -print0)
if [ -n "$missing" ]; then
  echo "build.sh: bundled libraries with unresolved dependencies:" >&2
  echo "$missing" >&2
  exit 1
fi

tar -C dist -czf "$TARBALL" stsdesk
echo "bundle:  $BUNDLE ($(du -sh "$BUNDLE" | cut -f1))"
echo "tarball: $TARBALL ($(du -h "$TARBALL" | cut -f1))"
