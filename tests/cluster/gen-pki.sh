#!/bin/bash
# Generates (once) the test bed's CA, component certificates, service-account key pair, kubeconfigs,
# and the ZooKeeper TLS server/client certificates. Idempotent.
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
mkdir -p "$PKI" "$CACHE/etc"
cd "$PKI"
umask 077
mkca() { # name CN
  [ -f "$1.crt" ] && return 0
  openssl genrsa -out "$1.key" 2048 2>/dev/null
  openssl req -x509 -new -nodes -key "$1.key" -sha256 -days 3650 -subj "/CN=$2" -out "$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
}
cert() { # name CN O extendedKeyUsage [subjectAltName]  (signed by $CA, default "ca")
  local name=$1 cn=$2 o=$3 eku=$4 san=${5:-}
  [ -f "$name.crt" ] && return 0
  openssl genrsa -out "$name.key" 2048 2>/dev/null
  local subj="/CN=$cn"; [ -n "$o" ] && subj="/O=$o/CN=$cn"
  openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr"
  { echo "basicConstraints=critical,CA:FALSE"; echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"; [ -n "$san" ] && echo "subjectAltName=$san"; } > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA "${CA:-ca}.crt" -CAkey "${CA:-ca}.key" -CAcreateserial -days 3650 -sha256 \
    -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}
mkca ca kubepool-testbed-ca
mkca front-proxy-ca kubepool-testbed-front-proxy-ca
# The CA the test bed's containerd trusts for buildset registries (up.sh); the real-Zuul tests
# give it to the buildset registry job as a Zuul secret. EC, so that its key fits one
# PKCS#1-OAEP block of a Zuul project key.
if [ ! -f buildset-registry-ca.crt ]; then
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out buildset-registry-ca.key
  openssl req -x509 -new -key buildset-registry-ca.key -sha256 -days 3650 \
    -subj "/CN=kubepool-testbed-buildset-registry-ca" -out buildset-registry-ca.crt \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
fi
cert apiserver kube-apiserver "" serverAuth \
  "IP:127.0.0.1,IP:$SERVICE_APISERVER_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters clientAuth
cert admin kubernetes-admin system:masters clientAuth
cert controller-manager system:kube-controller-manager "" clientAuth
cert scheduler system:kube-scheduler "" clientAuth
cert kube-proxy system:kube-proxy "" clientAuth
cert kubelet-client "system:node:$NODE_NAME" system:nodes clientAuth
CA=front-proxy-ca cert front-proxy-client front-proxy-client "" clientAuth
cert kubelet-server "$NODE_NAME" "" serverAuth "IP:127.0.0.1,DNS:localhost,DNS:$NODE_NAME"
if [ ! -f sa.key ]; then
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
fi
# ZooKeeper TLS: its own CA, a server certificate for 127.0.0.1 and one client certificate, as a
# Nodepool deployment's zookeeper-tls {ca, cert, key} has. The server reads PEM directly.
mkca zk-ca kubepool-testbed-zookeeper-ca
CA=zk-ca cert zk-server zookeeper "" serverAuth "IP:127.0.0.1,DNS:localhost"
CA=zk-ca cert zk-client kubepool "" clientAuth
[ -f zk-server.pem ] || cat zk-server.key zk-server.crt > zk-server.pem

kcfg() { # out user crt key
  local out=$1 user=$2 crt=$3 key=$4
  [ -f "$out" ] && return 0
  cat > "$out" <<KC
apiVersion: v1
kind: Config
clusters:
- name: kubepool-testbed
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 ca.crt)
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 "$crt")
    client-key-data: $(base64 -w0 "$key")
contexts:
- name: $user@kubepool-testbed
  context: {cluster: kubepool-testbed, user: $user}
current-context: $user@kubepool-testbed
KC
}
kcfg "$ADMIN_KUBECONFIG" admin admin.crt admin.key
kcfg "$CACHE/etc/controller-manager.kubeconfig" system:kube-controller-manager controller-manager.crt controller-manager.key
kcfg "$CACHE/etc/scheduler.kubeconfig" system:kube-scheduler scheduler.crt scheduler.key
kcfg "$CACHE/etc/kube-proxy.kubeconfig" system:kube-proxy kube-proxy.crt kube-proxy.key
kcfg "$CACHE/etc/kubelet.kubeconfig" "system:node:$NODE_NAME" kubelet-client.crt kubelet-client.key
chmod 600 "$ADMIN_KUBECONFIG"
