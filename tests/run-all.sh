#!/bin/bash
# Every test of the project, as `make test` and CI run it:
#   formatting and lints (cargo fmt, cargo clippy -D warnings, ruff), the test bed up
#   (tests/testbed-env.sh), all Rust tests (unit, end-to-end against the real cluster and
#   ZooKeeper), the Python tests, the real-Zuul tests (tests/zuul), the test bed down again.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
T0=$(date +%s)
step() { echo; echo "==== $* ($(( $(date +%s) - T0 ))s)"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "python virtualenv (tests/requirements.txt)"
VENV=$(tests/setup-python.sh)

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "ruff"
"$VENV/bin/ruff" check ansible-plugins jobs-library tests

step "test bed"
. tests/testbed-env.sh
testbed_start

step "cargo test (unit and end-to-end)"
cargo test --workspace --locked

step "pytest ansible-plugins"
# (No tests collected is exit 5, a failure like any other.)
"$VENV/bin/pytest" -q ansible-plugins

step "pytest tests/zuul (a real Zuul 14.3.0 running jobs-library/ jobs on kubepool nodes)"
# PostgreSQL, Zuul's scheduler, executor and web, kubepool as the launcher; tests/zuul/harness.py.
"$VENV/bin/pytest" -q -s tests/zuul   # (-s: the harness prints its start, build and teardown times)

step "all tests passed in $(( $(date +%s) - T0 ))s"
