#!/usr/bin/env bash
# Install (or with --uninstall, remove) this stsdesk bundle for the current user, no root needed:
#   ./install.sh [--prefix DIR]        default DIR: ~/.local
# puts the bundle in DIR/lib/stsdesk, a `stsdesk` command in DIR/bin, the menu entry in
# DIR/share/applications and the icons in DIR/share/icons/hicolor. Shipped inside the tarball.
set -euo pipefail
PREFIX="$HOME/.local"
UNINSTALL=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --uninstall) UNINSTALL=1; shift ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
HERE="$(cd "$(dirname "$0")" && pwd)"
APPDIR="$PREFIX/lib/stsdesk"
ICONS="$PREFIX/share/icons/hicolor"
DESKTOP="$PREFIX/share/applications/stsdesk.desktop"

if [ "$UNINSTALL" = 1 ]; then
  rm -rf "$APPDIR"
  rm -f "$PREFIX/bin/stsdesk" "$DESKTOP" "$ICONS/scalable/apps/stsdesk.svg"
  for png in "$ICONS"/*/apps/stsdesk.png; do [ -e "$png" ] && rm -f "$png"; done
  echo "stsdesk removed from $PREFIX"
  exit 0
fi

test -x "$HERE/stsdesk" || { echo "install.sh: run me from the unpacked stsdesk folder" >&2; exit 1; }
RES="$HERE/_internal/resources"
if [ "$HERE" != "$APPDIR" ]; then
  rm -rf "$APPDIR"
  mkdir -p "$(dirname "$APPDIR")"
  cp -a "$HERE" "$APPDIR"
fi
mkdir -p "$PREFIX/bin" "$(dirname "$DESKTOP")" "$ICONS/scalable/apps"
ln -sfn "$APPDIR/stsdesk" "$PREFIX/bin/stsdesk"
# An absolute Exec: a desktop session's PATH often lacks ~/.local/bin.
sed -e "s|^Exec=stsdesk|Exec=$APPDIR/stsdesk|" -e "s|^TryExec=stsdesk|TryExec=$APPDIR/stsdesk|" \
  "$RES/stsdesk.desktop" > "$DESKTOP"
cp "$RES/app/stsdesk.svg" "$ICONS/scalable/apps/stsdesk.svg"
for png in "$RES"/app/stsdesk-*.png; do
  size=$(basename "$png" .png); size=${size#stsdesk-}
  mkdir -p "$ICONS/${size}x${size}/apps"
  cp "$png" "$ICONS/${size}x${size}/apps/stsdesk.png"
done
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$(dirname "$DESKTOP")" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$ICONS" || true
echo "stsdesk installed in $APPDIR; command: $PREFIX/bin/stsdesk"
case ":$PATH:" in *":$PREFIX/bin:"*) ;; *) echo "note: $PREFIX/bin is not on your PATH" ;; esac
