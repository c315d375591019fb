#!/bin/bash
# The main job, for now: bring the test bed up, start `kubepool launcher` with a nodepool.yaml
# that uses ZooKeeper over TLS and the test cluster, show its launcher component as ZooKeeper
# holds it, stop it with SIGTERM, and show that it unregistered. (Node requests are served from
# the launcher issue on; then this demo fulfils one.)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
VENV=$(tests/setup-python.sh)
. tests/testbed-env.sh
testbed_start
cargo build --locked --quiet --bin kubepool
WORK=$(mktemp -d); trap 'kill "${LAUNCHER:-0}" 2>/dev/null; rm -rf "$WORK"; testbed_stop' EXIT
ZK_HOST=${KUBEPOOL_TEST_ZK_TLS%:*}; ZK_PORT=${KUBEPOOL_TEST_ZK_TLS##*:}
cat > "$WORK/nodepool.yaml" <<YAML
zookeeper-servers:
  - host: $ZK_HOST
    port: $ZK_PORT
    chroot: /kubepool-demo
zookeeper-tls:
  ca: $KUBEPOOL_TEST_ZK_CA
  cert: $KUBEPOOL_TEST_ZK_CERT
  key: $KUBEPOOL_TEST_ZK_KEY
labels:
  - name: pod-debian
providers:
  - name: testbed
    driver: kubernetes
    context: $("${KUBEPOOL_TEST_KUBECTL:-kubectl}" config current-context)
    pools:
      - name: main
        labels:
          - name: pod-debian
            type: pod
            image: ${KUBEPOOL_TEST_IMAGE:-localhost/kubepool-node:bookworm}
YAML
echo "---- nodepool.yaml"; cat "$WORK/nodepool.yaml"
echo "---- kubepool launcher -c nodepool.yaml"
target/debug/kubepool launcher -c "$WORK/nodepool.yaml" &
LAUNCHER=$!
show_components() {
  "$VENV/bin/python" - "$KUBEPOOL_TEST_ZK" <<'PY'
import json, sys
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1] + "/kubepool-demo"); zk.start(timeout=10)
path = "/nodepool/components/launcher"
children = zk.get_children(path) if zk.exists(path) else []
print(f"{path}: {len(children)} registered")
for child in sorted(children):
    data, _ = zk.get(f"{path}/{child}")
    print(f"  {child}: {json.dumps(json.loads(data), sort_keys=True)}")
zk.stop()
PY
}
for _ in $(seq 1 100); do
  sleep 0.3
  show_components | grep -q ': 1 registered' && break
done
echo "---- ZooKeeper, as kazoo (the client Zuul and Nodepool use) sees it:"
show_components
echo "---- SIGTERM"
kill -TERM "$LAUNCHER"; wait "$LAUNCHER"; LAUNCHER=
echo "---- after shutdown:"
show_components
