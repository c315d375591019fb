#!/bin/bash
# The main job: bring the test bed up, start `kubepool launcher` with a nodepool.yaml that uses
# ZooKeeper over TLS and the test cluster, then play Zuul with Zuul's own code
# (tests/demo/zuul_side.py): a node request for a namespace label is fulfilled, the executor
# accepts the node, writes its kubeconfig and runs kubectl with the node's own credentials, and
# returns it; kubepool deletes the namespace. Finally the launcher stops on SIGTERM.
# (Pod labels, with a command run in a pod, come with the pod-label issue.)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
VENV=$(tests/setup-python.sh)
. tests/testbed-env.sh
testbed_start
cargo build --locked --quiet --bin kubepool
WORK=$(mktemp -d)
LAUNCHER=
finish() {
  if [ -n "$LAUNCHER" ]; then kill "$LAUNCHER" 2>/dev/null || true; fi
  rm -rf "$WORK"
  testbed_stop
}
trap finish EXIT
KUBECTL=${KUBEPOOL_TEST_KUBECTL:-kubectl}
CHROOT=/kubepool-demo-$$
ZK_HOST=${KUBEPOOL_TEST_ZK_TLS%:*}; ZK_PORT=${KUBEPOOL_TEST_ZK_TLS##*:}
cat > "$WORK/nodepool.yaml" <<YAML
zookeeper-servers:
  - host: $ZK_HOST
    port: $ZK_PORT
    chroot: $CHROOT
zookeeper-tls:
  ca: $KUBEPOOL_TEST_ZK_CA
  cert: $KUBEPOOL_TEST_ZK_CERT
  key: $KUBEPOOL_TEST_ZK_KEY
labels:
  - name: k8s-namespace
providers:
  - name: testbed
    driver: kubernetes
    context: $("$KUBECTL" config current-context)
    pools:
      - name: demo
        max-servers: 5
        labels:
          - name: k8s-namespace
            type: namespace
YAML
echo "---- nodepool.yaml"; cat "$WORK/nodepool.yaml"
echo "---- kubepool config validate"
target/debug/kubepool config validate -c "$WORK/nodepool.yaml"
echo "---- kubepool launcher -c nodepool.yaml (logs below are the launcher's)"
target/debug/kubepool launcher -c "$WORK/nodepool.yaml" &
LAUNCHER=$!
echo "---- Zuul's side"
KUBECTL=$KUBECTL "$VENV/bin/python" tests/demo/zuul_side.py --hosts "$KUBEPOOL_TEST_ZK$CHROOT" --label k8s-namespace
echo "---- kubepool list"
target/debug/kubepool list -c "$WORK/nodepool.yaml"
echo "---- SIGTERM to the launcher"
kill -TERM "$LAUNCHER"; wait "$LAUNCHER"; LAUNCHER=
echo "---- demo done"
