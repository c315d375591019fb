#!/bin/bash
# Starts the test bed: etcd, containerd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubelet, kube-proxy (single node, everything on 127.0.0.1) and a standalone ZooKeeper with a plain and a TLS
# client port. Imports the local images, waits until the node is Ready and ZooKeeper answers, then
# writes $ENV_FILE (KUBECONFIG, KUBEPOOL_TEST_ZK*, ...) for the tests.
#
#   UP_ONLY=zookeeper up.sh   start only ZooKeeper (used when $KUBECONFIG names another cluster)
#
# Re-runnable: components already running (by saved PID) are left alone. Run build.sh first.
set -euo pipefail
HERE=$(dirname "$(readlink -f "$0")")
. "$HERE/lib.sh"
T0=$(date +%s.%N)
ONLY=${UP_ONLY:-all}
"$HERE/gen-pki.sh"
mkdir -p "$RUN" "$LOGS" "$ETC" "$STATE"/{etcd,containerd,kubelet,cni,zookeeper}

alive() { [ -f "$RUN/$1.pid" ] && is_ours "$(cat "$RUN/$1.pid")" "$1"; }
start() { # name cmd...
  local name=$1; shift
  if alive "$name"; then log "$name already running (pid $(cat "$RUN/$name.pid"))"; return 0; fi
  log "starting $name"
  setsid nohup "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! > "$RUN/$name.pid"
}
K() { "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }
zk_ok() { # the four-letter word "ruok" on the plain port
  exec 3<>"/dev/tcp/127.0.0.1/$ZK_PORT" || return 1
  printf ruok >&3; local r; r=$(timeout 2 cat <&3); exec 3<&- 3>&-
  [ "$r" = imok ]
}

# ---------------------------------------------------------------- ZooKeeper (plain + TLS, loopback)
cat > "$ETC/zoo.cfg" <<CFG
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$STATE/zookeeper
clientPortAddress=127.0.0.1
clientPort=$ZK_PORT
secureClientPortAddress=127.0.0.1
secureClientPort=$ZK_TLS_PORT
serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory
ssl.keyStore.location=$PKI/zk-server.pem
ssl.keyStore.type=PEM
ssl.trustStore.location=$PKI/zk-ca.crt
ssl.trustStore.type=PEM
ssl.clientAuth=need
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,mntr,cons
maxClientCnxns=0
CFG
# Debian's zookeeper.jar manifest lacks netty-codec (needed by the Netty connection factory that
# serves TLS) and any slf4j binding: add them.
ZK_CLASSPATH=/usr/share/java/zookeeper.jar
for j in netty-codec netty-resolver slf4j-simple; do ZK_CLASSPATH=$ZK_CLASSPATH:/usr/share/java/$j.jar; done
start zookeeper java -Xmx256m -Dzookeeper.log.dir="$LOGS" -Djava.net.preferIPv4Stack=true \
  -Dorg.slf4j.simpleLogger.showDateTime=true \
  -cp "$ZK_CLASSPATH" org.apache.zookeeper.server.quorum.QuorumPeerMain "$ETC/zoo.cfg"

write_env() {
  local kubeconfig=${1:-}
  umask 077
  {
    [ -n "$kubeconfig" ] && echo "export KUBECONFIG=$kubeconfig"
    echo "export KUBEPOOL_TEST_ZK=127.0.0.1:$ZK_PORT"
    echo "export KUBEPOOL_TEST_ZK_TLS=127.0.0.1:$ZK_TLS_PORT"
    echo "export KUBEPOOL_TEST_ZK_CA=$PKI/zk-ca.crt"
    echo "export KUBEPOOL_TEST_ZK_CERT=$PKI/zk-client.crt"
    echo "export KUBEPOOL_TEST_ZK_KEY=$PKI/zk-client.key"
    [ -n "$kubeconfig" ] && echo "export KUBEPOOL_TEST_ZK_FROM_PODS=${POD_BRIDGE_IP%/*}:$ZK_PORT"
    [ -n "$kubeconfig" ] && echo "export KUBEPOOL_TEST_ZK_TLS_FROM_PODS=${POD_BRIDGE_IP%/*}:$ZK_TLS_PORT"
    [ -n "$kubeconfig" ] && echo "export KUBEPOOL_TEST_IMAGE=$NODE_IMAGE"
    [ -n "$kubeconfig" ] && echo "export KUBEPOOL_TEST_NOPYTHON_IMAGE=$NOPYTHON_IMAGE"
    [ -n "$kubeconfig" ] && echo "export KUBEPOOL_TEST_KUBECTL=$KUBECTL"
    # the CA the test bed's containerd trusts for buildset registries (gen-pki.sh)
    [ -n "$kubeconfig" ] && echo "export KUBEPOOL_TEST_REGISTRY_CA=$PKI/buildset-registry-ca"
  } > "$ENV_FILE"
}

if [ "$ONLY" = zookeeper ]; then
  wait_for zookeeper 60 zk_ok || { tail -20 "$LOGS/zookeeper.log" >&2; exit 1; }
  write_env ""
  log "zookeeper up on 127.0.0.1:$ZK_PORT (TLS :$ZK_TLS_PORT)"
  echo "$ENV_FILE"; exit 0
fi
for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl kube-proxy; do
  [ -x "$BIN/$b" ] || { log "missing $BIN/$b: run tests/cluster/build.sh first"; exit 1; }
done

# ---------------------------------------------------------------- etcd
start etcd etcd --name kubepool-testbed --data-dir "$STATE/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "kubepool-testbed=http://127.0.0.1:$ETCD_PEER_PORT" --log-level warn

# ---------------------------------------------------------------- containerd + CNI bridge
cat > "$ETC/containerd.toml" <<TOML
version = 2
root = "$STATE/containerd"
state = "$RUN/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[debug]
  address = "$CONTAINERD_SOCK.debug"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_tcp_service = true
  tolerate_missing_hugetlb_controller = true
  # root here may lack CAP_SYS_RESOURCE, so runc cannot set a negative oom_score_adj:
  # clamp to containerd's own value instead of failing every sandbox.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$ETC/cni"
TOML
mkdir -p "$ETC/cni"
# A bridge with no masquerading; FORWARD rules drop pod traffic leaving the pod subnet, so pods
# reach only the bridge (the host side, $POD_BRIDGE_IP) and each other.
cat > "$ETC/cni/10-kubepool.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "kubepool-testbed",
  "plugins": [
    { "type": "bridge", "bridge": "$POD_BRIDGE", "isGateway": false, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "dataDir": "$STATE/cni",
                "ranges": [[{ "subnet": "$POD_SUBNET", "gateway": "${POD_BRIDGE_IP%/*}" }]],
                "routes": [{ "dst": "0.0.0.0/0" }] } }
  ]
}
JSON
ip link show "$POD_BRIDGE" >/dev/null 2>&1 || ip link add "$POD_BRIDGE" type bridge
ip addr show dev "$POD_BRIDGE" | grep "inet ${POD_BRIDGE_IP}" >/dev/null || ip addr add "$POD_BRIDGE_IP" dev "$POD_BRIDGE"
ip link set "$POD_BRIDGE" up
# Pod to Service: a pod's packet to a cluster IP goes to the host, which DNATs it to a pod and
# routes it back onto the bridge; so the bridge (and no other interface) forwards. The FORWARD
# rules below still drop whatever leaves or enters the pod subnet; the setting goes with the bridge.
sysctl -qw "net.ipv4.conf.$POD_BRIDGE.forwarding=1"
for r in "-s $POD_SUBNET ! -d $POD_SUBNET" "-d $POD_SUBNET ! -s $POD_SUBNET"; do
  iptables -C FORWARD $r -j DROP 2>/dev/null || iptables -I FORWARD $r -j DROP
done
# Registries: the test bed pulls nothing from outside (every image is imported), but the kubelet
# pulls what a buildset's jobs push to their buildset registry (jobs-library's
# run-buildset-registry: zuul-registry at its Service's cluster IP, with TLS). A site makes its
# nodes trust the CA that signs its buildset registries' certificates; here that CA is the test
# bed's buildset-registry-ca (gen-pki.sh), added to the roots containerd trusts.
cat /etc/ssl/certs/ca-certificates.crt "$PKI/buildset-registry-ca.crt" > "$ETC/containerd-roots.pem"
start containerd env SSL_CERT_FILE="$ETC/containerd-roots.pem" containerd --config "$ETC/containerd.toml"
CTR="ctr --address $CONTAINERD_SOCK -n k8s.io"
wait_for containerd 30 $CTR version
for pair in "$PAUSE_IMAGE=pause.tar" "$NOSHELL_IMAGE=noshell.tar" "$NOPYTHON_IMAGE=nopython.tar" "$NODE_IMAGE=node.tar"; do
  img=${pair%=*}; tar=${pair#*=}
  if ! $CTR images ls -q | grep -x "$img" >/dev/null; then
    log "importing $img"
    $CTR images import "$IMAGES/$tar" >/dev/null
  fi
done
# The Zuul Operator e2e's images (tests/cluster/build-zuul-images.sh, run by build.sh).
for tar in "$IMAGES"/zuul-*.tar "$IMAGES"/zookeeper-*.tar "$IMAGES"/postgres-*.tar "$IMAGES"/mariadb-*.tar; do
  [ -f "$tar" ] || continue
  log "importing $(basename "$tar")"
  $CTR images import "$tar" >/dev/null
  b=$(basename "$tar"); echo "$b" > "$IMAGES/.imported-${b%-*}"   # (build-zuul-images.sh --import reads it)
done

# ---------------------------------------------------------------- kube-apiserver
# Admission: pods that request the extended resource kubepool.test/quota-limited are refused by
# the ResourceQuota plugin unless a quota in their namespace covers it (none does), so the tests
# can get a real quota refusal from the real API server on demand.
cat > "$ETC/admission.yaml" <<YAML
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: ResourceQuota
  configuration:
    apiVersion: apiserver.config.k8s.io/v1
    kind: ResourceQuotaConfiguration
    limitedResources:
    - resource: pods
      matchContains: ["kubepool.test/quota-limited"]
YAML
wait_for etcd 30 curl -sf "http://127.0.0.1:$ETCD_CLIENT_PORT/health"
start kube-apiserver kube-apiserver \
  --bind-address=127.0.0.1 --secure-port="$APISERVER_PORT" --insecure-port=0 \
  --advertise-address=127.0.0.1 --endpoint-reconciler-type=none \
  --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP,Hostname \
  --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --admission-control-config-file="$ETC/admission.yaml" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-signing-key-file="$PKI/sa.key" --service-account-key-file="$PKI/sa.pub" \
  --api-audiences=https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range="$SERVICE_CIDR" --allow-privileged=true --profiling=false --v=1
wait_for kube-apiserver 120 curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
  "https://127.0.0.1:$APISERVER_PORT/readyz"

# ---------------------------------------------------------------- controller-manager, scheduler
start kube-controller-manager kube-controller-manager \
  --kubeconfig="$CACHE/etc/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$CACHE/etc/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$CACHE/etc/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$CONTROLLER_MANAGER_PORT" --port=0 --leader-elect=false \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --use-service-account-credentials=true \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --controllers='*,bootstrapsigner,tokencleaner' --enable-hostpath-provisioner=true --profiling=false --v=1
start kube-scheduler kube-scheduler \
  --kubeconfig="$CACHE/etc/scheduler.kubeconfig" \
  --authentication-kubeconfig="$CACHE/etc/scheduler.kubeconfig" \
  --authorization-kubeconfig="$CACHE/etc/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --port=0 --leader-elect=false --profiling=false --v=1

# ---------------------------------------------------------------- kubelet
# kubeAPIQPS/kubeAPIBurst 50/100: the defaults of kubelets since Kubernetes 1.27
# (kubernetes/kubernetes#116121); with 1.20's 5/10 (and 5/10 for events) the kubelet's requests
# sat flat at 10/s in a burst of 100 pods and capped pod starts and deletions at about 80 a minute.
echo "nameserver 127.0.0.1" > "$ETC/resolv.conf"
cat > "$ETC/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
tlsCertFile: $PKI/kubelet-server.crt
tlsPrivateKeyFile: $PKI/kubelet-server.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
failSwapOn: false
clusterDomain: cluster.local
clusterDNS: [$CLUSTER_DNS_IP]
resolvConf: $ETC/resolv.conf
makeIPTablesUtilChains: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
serializeImagePulls: false
maxPods: 110
kubeAPIQPS: 50
kubeAPIBurst: 100
eventRecordQPS: 50
eventBurst: 100
YAML
# The kubelet rewrites some kernel tunables at start-up (kernel.panic=10, kernel.panic_on_oops=1,
# vm.overcommit_memory=1, kernel.keys.*). Remember the host's values once; after start-up put the
# two panic settings back so a kernel oops does not reboot the machine; down.sh restores all.
SYSCTLS="vm.overcommit_memory kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes"
KUBELET_WAS_RUNNING=0; alive kubelet && KUBELET_WAS_RUNNING=1
if [ ! -f "$STATE/sysctl.orig" ] && [ $KUBELET_WAS_RUNNING = 0 ]; then
  for k in $SYSCTLS; do echo "$k=$(sysctl -n "$k")"; done > "$STATE/sysctl.orig"
fi
start kubelet kubelet --config="$ETC/kubelet.yaml" --kubeconfig="$CACHE/etc/kubelet.kubeconfig" \
  --root-dir="$STATE/kubelet" --container-runtime=remote \
  --container-runtime-endpoint="unix://$CONTAINERD_SOCK" --runtime-request-timeout=15m \
  --node-ip=127.0.0.1 --hostname-override="$NODE_NAME" --pod-infra-container-image="$PAUSE_IMAGE" \
  --oom-score-adj=0 --v=1
wait_for "kubelet healthz" 120 curl -sf "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz"
wait_for "node $NODE_NAME Ready" 180 sh -c "'$KUBECTL' --kubeconfig '$ADMIN_KUBECONFIG' get node '$NODE_NAME' \
  -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
if [ $KUBELET_WAS_RUNNING = 0 ]; then
  wait_for "kubelet kernel tunables" 30 sh -c '[ "$(sysctl -n kernel.panic_on_oops)" = 1 ]' || true
  for k in kernel.panic kernel.panic_on_oops; do
    v=$(grep "^$k=" "$STATE/sysctl.orig" | cut -d= -f2); [ -n "$v" ] && sysctl -qw "$k=$v"
  done
fi

# ---------------------------------------------------------------- kube-proxy
# iptables mode, so that Services route (SSH nodes, issue 10). NodePorts are opened on 127.0.0.1
# only; traffic from outside the pod subnet is masqueraded to the kp0 address. kube-proxy sets
# net.ipv4.conf.all.route_localnet=1 (needed for NodePorts on loopback): remember the host's value
# so down.sh can put it back. Conntrack tunables are left alone.
[ -f "$STATE/route_localnet.orig" ] || sysctl -n net.ipv4.conf.all.route_localnet > "$STATE/route_localnet.orig"
start kube-proxy kube-proxy --kubeconfig="$CACHE/etc/kube-proxy.kubeconfig" --proxy-mode=iptables \
  --hostname-override="$NODE_NAME" --cluster-cidr="$POD_SUBNET" --nodeport-addresses=127.0.0.1/32 \
  --bind-address=127.0.0.1 --healthz-bind-address="127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT" \
  --metrics-bind-address="127.0.0.1:$KUBE_PROXY_METRICS_PORT" \
  --conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0 \
  --profiling=false --v=1
wait_for "kube-proxy healthz" 60 curl -sf "http://127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT/healthz"
# The default service account must exist before pods can be admitted in "default".
wait_for "default service account" 60 K -n default get serviceaccount default

# ---------------------------------------------------------------- in-cluster workloads
# What a workload running in a pod expects of a cluster (the launcher's Deployment, the Operator):
# 1. The API server through the `kubernetes` Service. The API server listens on loopback only and
#    its endpoint reconciler is off (it would publish 127.0.0.1, which Endpoints refuse), so the
#    Endpoints name the bridge address and its port, and a DNAT from the pod bridge (before
#    kube-proxy's rules: one DNAT per connection) sends both the Service address and that endpoint
#    to the API server on loopback (route_localnet=1, which kube-proxy sets, lets it through).
K apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Endpoints
metadata: {name: kubernetes, namespace: default}
subsets:
- addresses: [{ip: ${POD_BRIDGE_IP%/*}}]
  ports: [{name: https, port: $APISERVER_PORT, protocol: TCP}]
YAML
# ZooKeeper's plain and TLS ports are reachable from pods the same way, on the bridge address
# (its server certificate names 127.0.0.1 only: a client that checks host names refuses it there).
for dst in "$SERVICE_APISERVER_IP 443 $APISERVER_PORT" "${POD_BRIDGE_IP%/*} $APISERVER_PORT $APISERVER_PORT" \
           "${POD_BRIDGE_IP%/*} $ZK_PORT $ZK_PORT" "${POD_BRIDGE_IP%/*} $ZK_TLS_PORT $ZK_TLS_PORT"; do
  set -- $dst
  rule="-i $POD_BRIDGE -d $1/32 -p tcp --dport $2 -m comment --comment kubepool-testbed-from-pods -j DNAT --to-destination 127.0.0.1:$3"
  iptables -t nat -C PREROUTING $rule 2>/dev/null || iptables -t nat -I PREROUTING 1 $rule
done
# 2. Cluster DNS: dnsmasq answers on the bridge address (the kubelet's clusterDNS) from the hosts
#    file dns-sync.sh keeps from Services and Endpoints; names outside cluster.local are refused
#    (no network beyond the pod bridge), never forwarded.
mkdir -p "$DNS_HOSTS_DIR"
start dnsmasq dnsmasq --keep-in-foreground --log-facility=- --conf-file=/dev/null --pid-file= \
  --bind-interfaces --listen-address="$CLUSTER_DNS_IP" --port=53 --no-resolv --no-hosts \
  --local=/cluster.local/ --local=/in-addr.arpa/ --hostsdir="$DNS_HOSTS_DIR" --local-ttl=5
start dns-sync "$HERE/dns-sync.sh" "$DNS_HOSTS_DIR"
# 3. Storage: a default StorageClass served by the controller-manager's hostpath provisioner
#    (directories under /tmp/hostpath_pv on this one node; build.sh makes them writable by any user).
K apply -f - >/dev/null <<YAML
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/host-path
reclaimPolicy: Delete
volumeBindingMode: Immediate
YAML
wait_for "cluster DNS" 30 sh -c "[ -s '$DNS_HOSTS_DIR/cluster.hosts' ]"
wait_for zookeeper 60 zk_ok || { tail -20 "$LOGS/zookeeper.log" >&2; exit 1; }
for c in zookeeper etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy dnsmasq dns-sync; do
  alive "$c" || { log "$c is not running; see $LOGS/$c.log"; tail -5 "$LOGS/$c.log" >&2; exit 1; }
done
write_env "$ADMIN_KUBECONFIG"
awk "BEGIN{printf \"[testbed] cluster and zookeeper up in %.1f s\\n\", $(date +%s.%N)-$T0}" >&2
echo "$ENV_FILE"
