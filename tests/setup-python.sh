#!/bin/bash
# Creates (or updates) the Python virtualenv the tests use: $KUBEPOOL_CACHE/venv, with the
# packages of tests/requirements.txt. Re-installs only when that file changes. Prints the venv path.
# --no-compile: bytecode is written on first import instead, for the modules used; compiling all
# of the `ansible` bundle up front doubled the install's CPU time (69 -> 34 CPU-s measured).
set -euo pipefail
HERE=$(dirname "$(readlink -f "$0")")
. "$HERE/cluster/lib.sh"
mkdir -p "$CACHE/logs"
VENV=$CACHE/venv
REQ=$HERE/requirements.txt
STAMP=$VENV/.requirements.sha256
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  s=$(date +%s)
  log "installing Python packages into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip >/dev/null
  "$VENV/bin/pip" install -q --no-compile --disable-pip-version-check -r "$REQ" >"$CACHE/logs/pip.log" 2>&1 \
    || { tail -30 "$CACHE/logs/pip.log" >&2; exit 1; }
  echo "$want" > "$STAMP"
  echo "$(date -u +%FT%TZ) PIP $(( $(date +%s) - s ))s" >> "$CACHE/build-times.txt"
fi
echo "$VENV"
