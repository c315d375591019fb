#!/bin/bash
# Benchmarks against the local test bed (brought up here unless KUBECONFIG/KUBEPOOL_TEST_ZK name
# another cluster): each prints its figures and ratios against a baseline measured in the same
# run.
#   pod_ready           benches/pod_ready.rs: a pod label's requested-to-ready vs kubectl apply + wait
#   exec_latency        benches/exec_latency.rs: one exec with kubepool (agent, no agent) vs kubectl
#   ansible_connection  tests/bench/ansible_connection.py: 50 small tasks (ansible-core 2.18 and
#                       2.19), ten 1 MB copies and a 200 MB synchronize: kubepool's connection
#                       vs the local floor, the stock kubectl plugin, raw `kubepool exec` and an
#                       SSH node; table in target/bench/ansible_connection.md
#   zuul_executor_paths tests/bench/zuul_executor_paths.py: the same Zuul builds with Zuul's stock
#                       executor path and with kubepool's (a real Zuul each)
#   launchers           tests/bench/compare_launchers.py: kubepool vs the real Nodepool 11.0.0
#                       launcher, same cluster, same nodepool.yaml, same request stream; results in
#                       target/bench/
# `tests/bench.sh launchers ansible_connection` runs those two (`make bench`); no argument runs all
# (`make bench-all`). BENCH_ARGS passes options to
# compare_launchers.py (e.g. BENCH_ARGS="--bursts 5 --sequential 2" for a quick look).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
started=$(date +%s)
setup_logs=$(mktemp -d)
benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(pod_ready exec_latency ansible_connection zuul_executor_paths launchers)
# Set-up steps run side by side: the Python packages and the release build while the test bed is
# built and started. One release build for everything: with a Rust bench among them, the benches
# and (with them) the kubepool binary; a separate `cargo build --release` would build the
# dependencies again with other features. Without one, only the binary.
build=(cargo build --locked --release --bin kubepool)
for bench in "${benches[@]}"; do
  [ -f "tests/bench/$bench.py" ] || [ "$bench" = launchers ] || build=(cargo bench --locked --no-run)
done
tests/setup-python.sh >"$setup_logs/venv" 2>"$setup_logs/venv.log" &
python_setup=$!
# ansible_connection's second Ansible (ansible-core 2.19), a venv of its own.
ansible_219_setup=
for bench in "${benches[@]}"; do
  if [ "$bench" = ansible_connection ] && [ -z "$ansible_219_setup" ]; then
    tests/setup-python.sh ansible-2.19 >"$setup_logs/venv-219" 2>"$setup_logs/venv-219.log" &
    ansible_219_setup=$!
  fi
done
"${build[@]}" >"$setup_logs/cargo.log" 2>&1 &
release_build=$!
. tests/testbed-env.sh
testbed_start
wait $python_setup || { cat "$setup_logs/venv.log" >&2; echo "Python set-up failed" >&2; exit 1; }
VENV=$(cat "$setup_logs/venv")
if [ -n "$ansible_219_setup" ]; then
  wait $ansible_219_setup || { cat "$setup_logs/venv-219.log" >&2; echo "Python set-up (ansible-core 2.19) failed" >&2; exit 1; }
  export KUBEPOOL_ANSIBLE_219_VENV=$(cat "$setup_logs/venv-219")
fi
wait $release_build || { tail -40 "$setup_logs/cargo.log" >&2; echo "release build failed" >&2; exit 1; }
rm -rf "$setup_logs"
echo "---- set-up done in $(( $(date +%s) - started )) s"
out=$(readlink -f "${CARGO_TARGET_DIR:-target}")
KUBEPOOL_BIN=$out/release/kubepool
for bench in "${benches[@]}"; do
  echo "---- $bench"
  case $bench in
    launchers)
      mkdir -p "$out/bench"
      (cd tests/bench && RUST_LOG=${RUST_LOG:-info} "$VENV/bin/python" compare_launchers.py \
        --kubepool "$KUBEPOOL_BIN" --nodepool-launcher "$VENV/bin/nodepool-launcher" \
        --out "$out/bench" ${BENCH_ARGS:-}) ;;
    *)
      if [ -f "tests/bench/$bench.py" ]; then
        KUBEPOOL_BIN=$KUBEPOOL_BIN "$VENV/bin/python" "tests/bench/$bench.py"
      else
        RUST_LOG=${RUST_LOG:-warn} cargo bench --locked --bench "$bench"
      fi ;;
  esac
done
echo "---- benchmarks done in $(( $(date +%s) - started )) s (set-up included)"
