#!/bin/bash
# Benchmarks against the local test bed (brought up here unless KUBECONFIG/KUBEPOOL_TEST_ZK name
# another cluster): each prints its figures and ratios against a baseline measured in the same
# run.
#   pod_ready   benches/pod_ready.rs: a pod label's requested-to-ready vs kubectl apply + wait
#   launchers   tests/bench/compare_launchers.py: kubepool vs the real Nodepool 11.0.0 launcher,
#               same cluster, same nodepool.yaml, same request stream; results in target/bench/
# `tests/bench.sh launchers` runs one; no argument runs all. BENCH_ARGS passes options to
# compare_launchers.py (e.g. BENCH_ARGS="--bursts 5 --sequential 2" for a quick look).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
VENV=$(tests/setup-python.sh)
. tests/testbed-env.sh
testbed_start
benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(pod_ready launchers)
for bench in "${benches[@]}"; do
  echo "---- $bench"
  case $bench in
    launchers)
      cargo build --locked --release --quiet --bin kubepool
      mkdir -p target/bench
      (cd tests/bench && RUST_LOG=${RUST_LOG:-info} "$VENV/bin/python" compare_launchers.py \
        --kubepool ../../target/release/kubepool --nodepool-launcher "$VENV/bin/nodepool-launcher" \
        --out ../../target/bench ${BENCH_ARGS:-}) ;;
    *) RUST_LOG=${RUST_LOG:-warn} cargo bench --locked --bench "$bench" ;;
  esac
done
