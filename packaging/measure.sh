#!/usr/bin/env bash
# Size and cold start of the frozen bundle (after `make package`): du of dist/stsdesk, the tarball's size, and
# the median of 5 runs of `stsdesk --version` and of `stsdesk --demo --exit-after-first-paint` (offscreen).
set -euo pipefail
cd "$(dirname "$0")/.."
APP=dist/stsdesk/stsdesk
test -x "$APP" || { echo "measure: $APP missing: run 'make package' first" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export HOME="$WORK/home" AWS_CONFIG_FILE="$WORK/home/.aws/config" QT_QPA_PLATFORM=offscreen
mkdir -p "$HOME"

# median_ms CMD...: runs CMD 5 times (output discarded, any failure fatal), prints the median wall time in ms.
median_ms() {
  local times=() start end
  for _ in 1 2 3 4 5; do
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1 || { echo "measure: '$*' failed" >&2; exit 1; }
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 3p
}

echo "bundle dist/stsdesk:    $(du -sh dist/stsdesk | cut -f1)"
for tarball in dist/stsdesk-*-linux-*.tar.gz; do echo "tarball $(basename "$tarball"): $(du -h "$tarball" | cut -f1)"; done
echo "--version (median of 5):                   $(median_ms "$APP" --version) ms"
echo "--demo --exit-after-first-paint (median 5): $(median_ms "$APP" --demo --exit-after-first-paint \
  --config-dir "$WORK/cfg") ms"
