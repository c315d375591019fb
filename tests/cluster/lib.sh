# Settings shared by the test-bed scripts in tests/cluster/ (sourced, not executed).
#
# Everything the test bed builds or keeps lives under $KUBEPOOL_CACHE (default
# ~/.cache/kubepool), never inside the repository, so a second start is fast and
# a fresh clone builds nothing twice. Every listener is on 127.0.0.1; the only
# other network is the test bed's own pod bridge ($POD_BRIDGE).
CACHE=${KUBEPOOL_CACHE:-$HOME/.cache/kubepool}
BIN=$CACHE/bin            # kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kubectl, kube-proxy
PKI=$CACHE/pki            # CA, component certificates, service-account key, ZooKeeper TLS files
IMAGES=$CACHE/images      # image tarballs (docker-archive) and the node rootfs
SRCDIR=$CACHE/src         # Debian's kubernetes source and the GOPATH
STATE=$CACHE/state        # etcd, containerd, kubelet, CNI and ZooKeeper data (wiped by down.sh)
ETC=$STATE/etc            # generated component configuration
LOGS=$STATE/logs          # one log per component
RUN=/run/kubepool-testbed # pid files and containerd state
ENV_FILE=$CACHE/testbed.env   # KUBECONFIG and KUBEPOOL_TEST_ZK* for tests (written by up.sh)

K8S_VERSION=v1.20.2
NODE_NAME=kubepool-testbed
PAUSE_IMAGE=localhost/pause:3.2
NOSHELL_IMAGE=localhost/kubepool-noshell:1
NOPYTHON_IMAGE=localhost/kubepool-nopython:bookworm
NODE_IMAGE=localhost/kubepool-node:bookworm
CONTAINERD_SOCK=$RUN/containerd.sock

# Ports: a block of our own, so that a developer's other local cluster is not disturbed.
ETCD_CLIENT_PORT=23790
ETCD_PEER_PORT=23791
APISERVER_PORT=26443
CONTROLLER_MANAGER_PORT=20257
SCHEDULER_PORT=20259
KUBELET_PORT=20250
KUBELET_HEALTHZ_PORT=20248
KUBE_PROXY_HEALTHZ_PORT=20256
KUBE_PROXY_METRICS_PORT=20249
ZK_PORT=21810
ZK_TLS_PORT=21811

POD_BRIDGE=kp0
POD_SUBNET=10.89.0.0/16
POD_BRIDGE_IP=10.89.0.1/16
SERVICE_CIDR=10.97.0.0/16
SERVICE_APISERVER_IP=10.97.0.1
CLUSTER_DNS_IP=${POD_BRIDGE_IP%/*}   # dnsmasq on the bridge: the kubelet's clusterDNS
DNS_HOSTS_DIR=$RUN/dns               # the Service records dns-sync.sh writes (readable by dnsmasq's user)

KUBECTL=$BIN/kubectl
ADMIN_KUBECONFIG=$CACHE/admin.kubeconfig
export PATH=$BIN:/usr/sbin:/usr/bin:/sbin:/bin:$PATH

log() { echo "[testbed $(date +%H:%M:%S)] $*" >&2; }

# is_ours PID NAME: PID is alive and runs the program NAME (a rebuilt binary shows as "NAME (deleted)").
is_ours() {
  kill -0 "$1" 2>/dev/null || return 1
  local exe; exe=$(basename "$(readlink "/proc/$1/exe" 2>/dev/null)")
  case "$exe" in "$2"|"$2 (deleted)"|"$2.old") return 0;; esac
  # ZooKeeper runs under java: recognise it by its command line
  [ "$2" = zookeeper ] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep QuorumPeerMain >/dev/null && return 0
  # the cluster DNS records' watcher is a bash script
  [ "$2" = dns-sync ] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep "dns-sync.sh" >/dev/null && return 0
  return 1
}

# wait_for DESCRIPTION SECONDS CMD...: run CMD every 0.2 s until it succeeds.
wait_for() {
  local desc=$1 t=$2; shift 2
  local end=$(( $(date +%s) + t ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$end" ]; then log "timeout after ${t}s waiting for $desc"; return 1; fi
    sleep 0.2
  done
}
