#!/bin/bash
# Creates (or updates) the second Python virtualenv of the ansible_connection bench:
# $KUBEPOOL_CACHE/venv-ansible-2.19, with the packages of tests/requirements-ansible-2.19.txt
# (ansible-core 2.19; the main venv of tests/setup-python.sh has 2.18). Re-installs only when that
# file changes. Prints the venv path.
set -euo pipefail
HERE=$(dirname "$(readlink -f "$0")")
. "$HERE/cluster/lib.sh"
mkdir -p "$CACHE/logs"
VENV=$CACHE/venv-ansible-2.19
REQ=$HERE/requirements-ansible-2.19.txt
STAMP=$VENV/.requirements.sha256
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  s=$(date +%s)
  log "installing Python packages into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip >/dev/null
  "$VENV/bin/pip" install -q --no-compile --disable-pip-version-check -r "$REQ" >"$CACHE/logs/pip-ansible-2.19.log" 2>&1 \
    || { tail -30 "$CACHE/logs/pip-ansible-2.19.log" >&2; exit 1; }
  echo "$want" > "$STAMP"
  echo "$(date -u +%FT%TZ) PIP-ANSIBLE-2.19 $(( $(date +%s) - s ))s" >> "$CACHE/build-times.txt"
fi
echo "$VENV"
