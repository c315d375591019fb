#!/bin/bash
# Creates (or updates) a Python virtualenv of the tests and prints its path. Without an argument:
# $KUBEPOOL_CACHE/venv with the packages of tests/requirements.txt (ansible-core 2.18), the one
# `make test` uses. `setup-python.sh ansible-2.19`: $KUBEPOOL_CACHE/venv-ansible-2.19 with
# tests/requirements-ansible-2.19.txt, the ansible_connection bench's second Ansible.
# Re-installs only when the requirements file changes.
# --no-compile: bytecode is written on first import instead, for the modules used; compiling all
# of the `ansible` bundle up front doubled the install's CPU time (69 -> 34 CPU-s measured).
set -euo pipefail
HERE=$(dirname "$(readlink -f "$0")")
. "$HERE/cluster/lib.sh"
mkdir -p "$CACHE/logs"
flavour=${1:-}
VENV=$CACHE/venv${flavour:+-$flavour}
REQ=$HERE/requirements${flavour:+-$flavour}.txt
PIPLOG=$CACHE/logs/pip${flavour:+-$flavour}.log
[ -f "$REQ" ] || { echo "no $REQ" >&2; exit 1; }
STAMP=$VENV/.requirements.sha256
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  s=$(date +%s)
  log "installing Python packages into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip >/dev/null
  "$VENV/bin/pip" install -q --no-compile --disable-pip-version-check -r "$REQ" >"$PIPLOG" 2>&1 \
    || { tail -30 "$PIPLOG" >&2; exit 1; }
  echo "$want" > "$STAMP"
  echo "$(date -u +%FT%TZ) PIP${flavour:+-$flavour} $(( $(date +%s) - s ))s" >> "$CACHE/build-times.txt"
fi
echo "$VENV"
