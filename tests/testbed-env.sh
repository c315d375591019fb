# Sourced by run-all.sh and demo.sh: makes sure a Kubernetes cluster and a ZooKeeper are there
# and exports their addresses.
#   - KUBECONFIG set: that cluster is used and nothing is built (KUBEPOOL_TEST_IMAGE names an
#     image it can run; default localhost/kubepool-node:bookworm).
#   - KUBEPOOL_TEST_ZK set (with KUBEPOOL_TEST_ZK_TLS/_CA/_CERT/_KEY for the TLS tests): that
#     ZooKeeper is used.
#   - otherwise the test bed of tests/cluster/ is built (cached in ~/.cache/kubepool) and started,
#     and stopped again when the calling script exits (KUBEPOOL_KEEP_TESTBED=1 keeps it running).
TESTS_DIR=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
testbed_started=0
testbed_stop() {
  if [ "$testbed_started" = 1 ] && [ "${KUBEPOOL_KEEP_TESTBED:-0}" != 1 ]; then
    "$TESTS_DIR/cluster/down.sh"
  fi
}
testbed_start() {
  local own_cluster=1 own_zk=1
  [ -n "${KUBECONFIG:-}" ] && own_cluster=0
  [ -n "${KUBEPOOL_TEST_ZK:-}" ] && own_zk=0
  if [ $own_cluster = 0 ] && [ $own_zk = 0 ]; then
    echo "[testbed] using KUBECONFIG=$KUBECONFIG and KUBEPOOL_TEST_ZK=$KUBEPOOL_TEST_ZK; nothing built" >&2
    return 0
  fi
  trap testbed_stop EXIT
  testbed_started=1
  local env_file
  if [ $own_cluster = 1 ]; then
    "$TESTS_DIR/cluster/build.sh"
    env_file=$("$TESTS_DIR/cluster/up.sh")
  else
    echo "[testbed] using KUBECONFIG=$KUBECONFIG; starting only ZooKeeper" >&2
    "$TESTS_DIR/cluster/build.sh"   # (packages and PKI; already-built parts are skipped)
    env_file=$(UP_ONLY=zookeeper "$TESTS_DIR/cluster/up.sh")
  fi
  if [ $own_zk = 0 ]; then
    # keep the caller's ZooKeeper settings over the ones the test bed wrote
    local saved; saved=$(export -p | grep -E ' KUBEPOOL_TEST_ZK')
    . "$env_file"; eval "$saved"
  else
    . "$env_file"
  fi
}
