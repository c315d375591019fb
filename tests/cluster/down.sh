#!/bin/bash
# Stops the test bed (by saved PIDs only) and removes its state: no process, mount, veth, bridge or
# iptables rule of the test bed is left. Binaries, images and the PKI in $KUBEPOOL_CACHE are kept,
# so the next up.sh is fast.
#   KEEP_STATE=1 down.sh   stop everything but keep etcd/containerd/kubelet/ZooKeeper data
set -uo pipefail
HERE=$(dirname "$(readlink -f "$0")")
. "$HERE/lib.sh"
stop() { # name
  local name=$1 f="$RUN/$1.pid" pid i
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if is_ours "$pid" "$name"; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid"
    for i in $(seq 1 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then log "$name did not exit after 15 s: SIGKILL"; kill -KILL "$pid"; sleep 0.5; fi
  fi
  rm -f "$f"
}
stop dns-sync
stop dnsmasq
stop kube-proxy
# The DNAT that sends pods' API server and ZooKeeper traffic to loopback (up.sh, "in-cluster workloads").
iptables -t nat -S PREROUTING 2>/dev/null | grep -- "--comment kubepool-testbed-from-pods" | sed 's/^-A /-D /' |
  while read -r rule; do eval "iptables -t nat $rule" || true; done
# Remove kube-proxy's iptables chains and rules (KUBE-SERVICES, KUBE-NODEPORTS, ...) and put the
# host's route_localnet back.
[ -x "$BIN/kube-proxy" ] && "$BIN/kube-proxy" --cleanup --proxy-mode=iptables >/dev/null 2>&1
if [ -f "$STATE/route_localnet.orig" ]; then
  sysctl -qw "net.ipv4.conf.all.route_localnet=$(cat "$STATE/route_localnet.orig")"
  rm -f "$STATE/route_localnet.orig"
fi
stop kube-scheduler
stop kube-controller-manager
stop kubelet
# The empty marker and canary chains that kube-proxy's cleanup leaves and the kubelet makes
# (rules that jump to them first). Only these names: other KUBE-* chains are not ours to touch.
for table in filter nat mangle; do
  for chain in KUBE-PROXY-CANARY KUBE-KUBELET-CANARY KUBE-MARK-DROP KUBE-MARK-MASQ KUBE-FIREWALL; do
    iptables -t "$table" -S "$chain" >/dev/null 2>&1 || continue
    iptables -t "$table" -S | grep -E -- "-j $chain( |\$)" | sed 's/^-A /-D /' | while read -r rule; do
      eval "iptables -t $table $rule" || true
    done
    iptables -t "$table" -F "$chain" 2>/dev/null || true
    iptables -t "$table" -X "$chain" 2>/dev/null || true
  done
done
# Kill and remove every container (their processes are children of containerd shims).
if [ -S "$CONTAINERD_SOCK" ]; then
  CTR="ctr --address $CONTAINERD_SOCK -n k8s.io"
  for t in $($CTR tasks ls -q 2>/dev/null); do $CTR tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
  sleep 1
  for t in $($CTR tasks ls -q 2>/dev/null); do $CTR tasks delete -f "$t" >/dev/null 2>&1; done
  for c in $($CTR containers ls -q 2>/dev/null); do $CTR containers delete "$c" >/dev/null 2>&1; done
fi
stop containerd
# Shims whose containerd is gone (a crashed run) are ours if they use our containerd's address.
for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
stop kube-apiserver
stop etcd
stop zookeeper
# Unmount what containerd and the kubelet left behind (netns, shm, overlay rootfs, secret tmpfs).
for m in $(awk '{print $2}' /proc/self/mounts | grep -E "^($RUN|$STATE)" | sort -r); do
  umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
done
for ns in /run/netns/cni-*; do
  [ -e "$ns" ] || continue
  # only namespaces whose veth peer sits on our bridge are ours; an unused one is removed too
  ip netns delete "$(basename "$ns")" 2>/dev/null
done
for v in $(ip -o link show master "$POD_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
  ip link del "$v" 2>/dev/null
done
# Undo the kubelet's kernel tunables.
if [ -f "$STATE/sysctl.orig" ]; then
  while IFS== read -r k v; do [ -n "$k" ] && [ -n "$v" ] && sysctl -qw "$k=$v"; done < "$STATE/sysctl.orig"
fi
if [ "${KEEP_STATE:-0}" != 1 ]; then
  log "removing state ($STATE, $RUN, bridge $POD_BRIDGE, iptables rules)"
  rm -rf "$STATE" "$RUN" "$ENV_FILE"
  # volumes of the hostpath provisioner (the StorageClass "standard") that outlived their claims
  rm -rf /tmp/hostpath_pv
  ip link del "$POD_BRIDGE" 2>/dev/null
  for r in "-s $POD_SUBNET ! -d $POD_SUBNET" "-d $POD_SUBNET ! -s $POD_SUBNET"; do
    while iptables -C FORWARD $r -j DROP 2>/dev/null; do iptables -D FORWARD $r -j DROP; done
  done
  for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
fi
log "test bed stopped"
