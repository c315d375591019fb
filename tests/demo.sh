#!/bin/bash
# The main job: bring the test bed up, start `kubepool launcher` with a nodepool.yaml that uses
# ZooKeeper over TLS and the test cluster, then play Zuul with Zuul's own code
# (tests/demo/zuul_side.py): a node request for a pod label is fulfilled, the executor accepts
# the node, writes the build's kubeconfig, prints the inventory entry and runs a command in the
# pod with the node's own credentials (output shown live, exit status kept), and returns it;
# kubepool deletes the pod's namespace. Finally the launcher stops on SIGTERM.
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
  - name: python-container
  - name: k8s-namespace
providers:
  - name: testbed
    driver: kubernetes
    context: $("$KUBECTL" config current-context)
    pools:
      - name: demo
        max-servers: 5
        labels:
          - name: python-container
            type: pod
            image: ${KUBEPOOL_TEST_IMAGE:-localhost/kubepool-node:bookworm}
            image-pull: IfNotPresent
            memory: 128
            python-path: /usr/bin/python3
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
KUBECTL=$KUBECTL "$VENV/bin/python" tests/demo/zuul_side.py --hosts "$KUBEPOOL_TEST_ZK$CHROOT" --label python-container
echo "---- kubepool list"
target/debug/kubepool list -c "$WORK/nodepool.yaml"
echo "---- namespaces of the provider left in the cluster (admin view; expect none)"
left=$("$KUBECTL" get namespaces -l nodepool_provider_name=testbed -o name)
echo "${left:-(none)}"
[ -z "$left" ]
echo "---- SIGTERM to the launcher"
kill -TERM "$LAUNCHER"; wait "$LAUNCHER"; LAUNCHER=
echo "---- demo done"
