#!/bin/bash
# Benchmarks against the local test bed (brought up here unless KUBECONFIG/KUBEPOOL_TEST_ZK name
# another cluster): each prints its figures and a ratio against a baseline measured in the same
# run. `tests/bench.sh pod_ready` runs one; no argument runs all. A name with a
# tests/bench/<name>.py is a Python benchmark (run with the project venv and a release build).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
. tests/testbed-env.sh
testbed_start
benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(pod_ready exec_latency ansible_connection)
for bench in "${benches[@]}"; do
  echo "---- $bench"
  if [ -f "tests/bench/$bench.py" ]; then
    VENV=$(bash tests/setup-python.sh)
    cargo build --release --locked
    KUBEPOOL_BIN=${CARGO_TARGET_DIR:-target}/release/kubepool "$VENV/bin/python" "tests/bench/$bench.py"
  else
    RUST_LOG=${RUST_LOG:-warn} cargo bench --locked --bench "$bench"
  fi
done
