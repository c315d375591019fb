#!/bin/bash
# Benchmarks against the local test bed (brought up here unless KUBECONFIG/KUBEPOOL_TEST_ZK name
# another cluster): each prints its figures and a ratio against a baseline measured in the same
# run. `tests/bench.sh pod_ready` runs one; no argument runs all.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
. tests/testbed-env.sh
testbed_start
benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(pod_ready)
for bench in "${benches[@]}"; do
  echo "---- $bench"
  RUST_LOG=${RUST_LOG:-warn} cargo bench --locked --bench "$bench"
done
