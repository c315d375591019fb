#!/bin/bash
# Installs the Ansible versions Zuul's executor runs (zuul-manage-ansible) into a cached root,
# keyed on its inputs: the Zuul version, its ansible-config.conf, the Python version and any
# ANSIBLE_*EXTRA_PACKAGES. Run before the executor starts (the executor has manage_ansible=false:
# if it installed Ansible itself, its bubblewrap read-only paths would miss the new venvs).
# Usage: manage-ansible.sh VENV   Prints the ansible_root.
set -euo pipefail
VENV=$1
HERE=$(dirname "$(readlink -f "$0")")
. "$HERE/../cluster/lib.sh"
ZUUL_DIR=$("$VENV/bin/python" -c 'import os, zuul; print(os.path.dirname(zuul.__file__))')
KEY=$( { "$VENV/bin/python" -c 'import sys, importlib.metadata as m; print(sys.version, m.version("zuul"))'
         cat "$ZUUL_DIR/lib/ansible-config.conf"; env | grep -E '^ANSIBLE_[0-9]*_?EXTRA_PACKAGES=' | sort || true
       } | sha256sum | cut -c1-12)
ROOT=$CACHE/zuul-ansible/$KEY
if [ ! -f "$ROOT/.complete" ]; then
  s=$(date +%s)
  log "zuul-manage-ansible into $ROOT (first time only; a few minutes)"
  rm -rf "$ROOT"; mkdir -p "$ROOT" "$CACHE/logs"
  if ! "$VENV/bin/zuul-manage-ansible" -r "$ROOT" >"$CACHE/logs/zuul-manage-ansible.log" 2>&1; then
    tail -30 "$CACHE/logs/zuul-manage-ansible.log" >&2; exit 1
  fi
  # (--validate exits 0 even when a version is missing: check each venv's ansible-playbook.)
  for v in $("$VENV/bin/python" -c 'import configparser, sys
c = configparser.ConfigParser(); c.read(sys.argv[1])
print(" ".join(s for s in c.sections() if s != "common"))' "$ZUUL_DIR/lib/ansible-config.conf"); do
    [ -x "$ROOT/$v/bin/ansible-playbook" ] || { echo "zuul-manage-ansible left no Ansible $v in $ROOT" >&2; exit 1; }
  done
  touch "$ROOT/.complete"
  echo "$(date -u +%FT%TZ) ZUUL-MANAGE-ANSIBLE $(( $(date +%s) - s ))s" >> "$CACHE/build-times.txt"
fi
echo "$ROOT"
