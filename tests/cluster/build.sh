#!/bin/bash
# Builds everything the test bed needs, idempotently, into $KUBEPOOL_CACHE (~/.cache/kubepool):
#   Debian packages; Kubernetes v1.20.2 binaries (kube-proxy included) from Debian's source package (the newest
#   Kubernetes Debian ships); the pause and node images; the Zuul Operator e2e's Zuul, ZooKeeper and
#   PostgreSQL images (build-zuul-images.sh: about 9 min cold); the PKI (cluster and ZooKeeper TLS).
# Needs the Debian archive, and PyPI for the Zuul images. A second run does nothing and takes about a second.
# The images (debootstrap: mostly download and unpack) are built side by side with the Go build
# (CPU-bound); the binaries are built with Kubernetes' `providerless` build tag, which leaves out
# the in-tree cloud providers (AWS, Azure, GCE, OpenStack, vSphere) and their volume plugins: 40%
# less Go to compile, nothing the test bed uses.
set -euo pipefail
HERE=$(dirname "$(readlink -f "$0")")
. "$HERE/lib.sh"
mkdir -p "$BIN" "$IMAGES" "$SRCDIR" "$CACHE/logs"
TIMES=$CACHE/build-times.txt
stamp() { echo "$(date -u +%FT%TZ) $*" | tee -a "$TIMES" >&2; }
export DEBIAN_FRONTEND=noninteractive

# ---------------------------------------------------------------- packages
PKGS="dpkg-dev make golang-go golang-github-modern-go-reflect2-dev rsync jq etcd-server containerd runc
      containernetworking-plugins openssl debootstrap umoci busybox-static skopeo iptables iproute2 curl
      ca-certificates zookeeper default-jre-headless dnsmasq-base binutils bubblewrap postgresql"
missing=""
for p in $PKGS; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null || missing="$missing $p"
done
if [ -n "$missing" ]; then
  s=$(date +%s); log "installing:$missing"
  apt-get update -q >/dev/null
  apt-get install -y -q $missing >/dev/null
  stamp "APT $(( $(date +%s) - s ))s"
fi

# ---------------------------------------------------------------- Kubernetes source
if ! ls -d "$SRCDIR"/kubernetes-*/ >/dev/null 2>&1; then
  if [ -z "$(apt-cache showsrc kubernetes 2>/dev/null)" ]; then
    log "enabling deb-src twins of this machine's Debian sources"
    for f in /etc/apt/sources.list.d/*.sources; do
      grep -q '^Types: deb$' "$f" && sed 's/^Types: deb$/Types: deb-src/' "$f"; echo
    done > /etc/apt/sources.list.d/kubepool-testbed-src.sources
    if [ -f /etc/apt/sources.list ]; then
      sed -n 's/^deb \(.*\)/deb-src \1/p' /etc/apt/sources.list >> /etc/apt/sources.list.d/kubepool-testbed-src.list
    fi
    apt-get update -q >/dev/null
  fi
  s=$(date +%s)
  (cd "$SRCDIR" && apt-get source -q kubernetes >/dev/null)
  stamp "SOURCE $(( $(date +%s) - s ))s"
fi
SRC=$(ls -d "$SRCDIR"/kubernetes-*/ | head -1); SRC=${SRC%/}

# ---------------------------------------------------------------- images (in the background)
images_job=""
if [ ! -f "$IMAGES/pause.tar" ] || [ ! -f "$IMAGES/noshell.tar" ] || [ ! -f "$IMAGES/node.tar" ]; then
  ( s=$(date +%s); "$HERE/build-images.sh" >"$CACHE/logs/images.log" 2>&1
    stamp "IMAGES $(( $(date +%s) - s ))s" ) &
  images_job=$!
fi

# Patch 1: the kubelet refuses --node-ip=127.0.0.1; allow it so that the API server reaches the
# kubelet only on loopback.
sed -i 's/^\tif nodeIP.IsLoopback() {$/\tif false \&\& nodeIP.IsLoopback() { \/\/ kubepool testbed: allow --node-ip=127.0.0.1/' \
  "$SRC/pkg/kubelet/kubelet_node_status.go"
grep -q "kubepool testbed: allow --node-ip" "$SRC/pkg/kubelet/kubelet_node_status.go"
# Patch 2: the vendored modern-go/reflect2 1.0.1 breaks on Go >= 1.18 (the API server panics on
# every Secret create); use Debian's reflect2 1.0.2 instead.
R2V=$SRC/vendor/github.com/modern-go/reflect2
if [ ! -f "$R2V/go_above_118.go" ]; then
  rm -rf "$R2V"; cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$R2V"; rm -f "$R2V/go.mod"
fi
# Patch 3: the hostpath provisioner (the test bed's StorageClass) makes each volume's directory
# 0750 root:root, which a pod running as another user cannot write (and fsGroup does not apply to
# hostPath); make it 0777, as kind's and minikube's provisioners do.
sed -i 's|^\treturn pv, os.MkdirAll(pv.Spec.HostPath.Path, 0750)$|\treturn pv, makeWorldWritableDir(pv.Spec.HostPath.Path) // kubepool testbed|' \
  "$SRC/pkg/volume/hostpath/host_path.go"
if ! grep -q "^func makeWorldWritableDir" "$SRC/pkg/volume/hostpath/host_path.go"; then
  cat >> "$SRC/pkg/volume/hostpath/host_path.go" <<'GO'

// kubepool testbed: a provisioned volume any pod user can write (MkdirAll's mode is masked by umask).
func makeWorldWritableDir(path string) error {
	if err := os.MkdirAll(path, 0777); err != nil {
		return err
	}
	return os.Chmod(path, 0777)
}
GO
fi
grep -q "makeWorldWritableDir(pv.Spec.HostPath.Path) // kubepool testbed" "$SRC/pkg/volume/hostpath/host_path.go"
PATCHLEVEL="nodeip-loopback reflect2-1.0.2 providerless hostpath-0777"
if [ "$(cat "$BIN/.patchlevel" 2>/dev/null)" != "$PATCHLEVEL" ]; then
  rm -f "$BIN"/kube-apiserver "$BIN"/kube-controller-manager "$BIN"/kube-scheduler "$BIN"/kubelet "$BIN"/kubectl "$BIN"/kube-proxy
fi

# ---------------------------------------------------------------- binaries (GOPATH mode, vendored deps)
export GOPROXY=off GOSUMDB=off GOFLAGS= GO111MODULE=off CGO_ENABLED=0
export GOPATH=$SRCDIR/gopath GOCACHE=$SRCDIR/gocache
if [ ! -f "$SRC/pkg/generated/openapi/zz_generated.openapi.go" ]; then
  s=$(date +%s)
  (cd "$SRC" && make gen_openapi >"$CACHE/logs/gen_openapi.log" 2>&1)
  stamp "GEN openapi $(( $(date +%s) - s ))s"
fi
mkdir -p "$GOPATH/src/k8s.io"
[ -L "$GOPATH/src/k8s.io/kubernetes" ] || ln -s "$SRC" "$GOPATH/src/k8s.io/kubernetes"
LD="-s -w"
for p in k8s.io/kubernetes/vendor/k8s.io/component-base/version k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
  LD="$LD -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=20 -X $p.gitTreeState=clean -X $p.buildDate=2021-01-13T13:20:00Z"
done
for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl kube-proxy; do
  [ -x "$BIN/$b" ] && continue
  log "go build $b"
  s=$(date +%s)
  (cd "$GOPATH/src/k8s.io/kubernetes" && go build -tags providerless -ldflags "$LD" -o "$BIN/$b.tmp" "./cmd/$b")
  mv "$BIN/$b.tmp" "$BIN/$b"
  stamp "BUILD $b $(( $(date +%s) - s ))s"
done
echo "$PATCHLEVEL" > "$BIN/.patchlevel"

# ---------------------------------------------------------------- PKI; the images' job
if [ -n "$images_job" ] && ! wait "$images_job"; then
  tail -30 "$CACHE/logs/images.log" >&2; echo "building the images failed" >&2; exit 1
fi
# The Zuul Operator e2e's images (Zuul, ZooKeeper, PostgreSQL; Debian + PyPI), after the node
# rootfs and kubectl they reuse; cached by recipe hash (a second run takes a second).
"$HERE/build-zuul-images.sh"
"$HERE/gen-pki.sh"
log "build complete: binaries in $BIN, images in $IMAGES"
