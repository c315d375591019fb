#!/bin/bash
# Keeps the test bed's cluster DNS records up to date: watches Services and Endpoints and writes
# one hosts file that dnsmasq (started by up.sh on the pod bridge, the kubelet's clusterDNS) reads
# from its --hostsdir as soon as it changes. The records are those of Kubernetes' DNS
# specification that a hosts file can hold:
#   SERVICE.NAMESPACE.svc.cluster.local           A  the cluster IP (ClusterIP, NodePort services)
#   SERVICE.NAMESPACE.svc.cluster.local           A  each ready endpoint address (headless services)
#   HOSTNAME.SERVICE.NAMESPACE.svc.cluster.local  A  an endpoint with a hostname (StatefulSet pods)
# Not served: SRV records, ExternalName (CNAME) services, pod A records (a-b-c-d.NS.pod...).
#
#   dns-sync.sh HOSTS_DIR      (run by up.sh under its pid file; stopped by down.sh)
set -uo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
DIR=$1
DOMAIN=cluster.local
K() { "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }
mkdir -p "$DIR"

records() {
  K get services,endpoints --all-namespaces -o json | jq -r --arg d "$DOMAIN" '
    [.items[] | select(.kind == "Service" and .spec.clusterIP == "None")
              | "\(.metadata.namespace)/\(.metadata.name)"] as $headless
    | .items[]
    | .metadata as $m
    | if .kind == "Service" then
        select((.spec.clusterIP // "None") != "None" and .spec.clusterIP != "")
        | "\(.spec.clusterIP) \($m.name).\($m.namespace).svc.\($d)"
      else
        select(any($headless[]; . == "\($m.namespace)/\($m.name)"))
        | (.subsets // [])[] | (.addresses // [])[]
        | "\(.ip) \($m.name).\($m.namespace).svc.\($d)",
          (select(.hostname) | "\(.ip) \(.hostname).\($m.name).\($m.namespace).svc.\($d)")
      end' | sort -u
}

# Written beside the directory and renamed into it, so dnsmasq never reads half a file.
regenerate() {
  local tmp="$DIR.tmp"
  if records > "$tmp"; then
    chmod 644 "$tmp"
    cmp -s "$tmp" "$DIR/cluster.hosts" || mv "$tmp" "$DIR/cluster.hosts"
  fi
  rm -f "$tmp"
}

# Stop the watches with this script (up.sh starts it as its own process group).
trap 'trap - TERM INT; kill 0; exit 0' TERM INT

# Each watch prints every existing object first and then every change, so nothing that changes
# between a listing and the start of the watch is missed. A burst of events is one regeneration.
# A watch ends when the API server closes it (after --min-request-timeout) or on an API error:
# then both are started again.
while :; do
  {
    K get services --all-namespaces --watch -o name &
    K get endpoints --all-namespaces --watch -o name &
    wait -n; kill $(jobs -p) 2>/dev/null; wait
  } | while read -r _; do
    while read -r -t 0.2 _; do :; done
    regenerate
  done &
  wait $!
  sleep 1
done
