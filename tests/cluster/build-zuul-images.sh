#!/bin/bash
# Builds the images the Zuul Operator's end-to-end test runs (nothing is pulled from a registry),
# as docker-archive tarballs next to build-images.sh's, for up.sh to import:
#   localhost/zuul:14.3.0            - Debian bookworm + zuul 14.3.0 from PyPI in a venv under /usr
#                                      (its exec_prefix is then visible inside bubblewrap), user
#                                      zuul (10001, group 0), every component's entry point
#   localhost/zuul-executor:14.3.0   - that image + the Ansible venvs (zuul-manage-ansible, at
#                                      build time) + the test bed's kubectl
#   localhost/kubepool-zookeeper:3.8 - Debian's zookeeper 3.8 + a JRE, `zkServer.sh
#                                      start-foreground CFG` as the operator runs it
# Each tarball is kept while this script's own text is unchanged (its SHA-256 is in the name),
# like build-images.sh keeps its tarballs; the Debian root is reused from build-images.sh's
# debootstrap (rootfs-bookworm).
#
# NOT YET RUN: the helper session that wrote it had no network access (apt mirror, PyPI). Expect
# the costs docs/operator.md estimates (about 10-15 min cold on 2 cores, 2.5 GB of tarballs).
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
ZUUL_VERSION=14.3.0
ZUUL_IMAGE=localhost/zuul:$ZUUL_VERSION
EXECUTOR_IMAGE=localhost/zuul-executor:$ZUUL_VERSION
ZOOKEEPER_IMAGE=localhost/kubepool-zookeeper:3.8
KEY=$(sha256sum "$(readlink -f "$0")" | cut -c1-12)
mkdir -p "$IMAGES"; cd "$IMAGES"
[ -d rootfs-bookworm ] || { log "run build-images.sh first (it makes rootfs-bookworm)"; exit 1; }
# Tarballs of an earlier version of this script go (up.sh imports every one it finds).
for f in zuul-*.tar zookeeper-*.tar; do
  case $f in *-"$KEY".tar) ;; *) rm -f "$f" ;; esac
done
MIRROR=${DEBIAN_MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)}
[ -n "$MIRROR" ] || MIRROR=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list)

# A copy of the Debian root with `packages` installed from the mirror.
root_with() {
  local dir=$1; shift
  rm -rf "$dir"; cp -a rootfs-bookworm "$dir"
  echo "deb $MIRROR bookworm main" > "$dir/etc/apt/sources.list"
  mount --bind /proc "$dir/proc"
  trap "umount '$dir/proc' 2>/dev/null || true" RETURN
  chroot "$dir" apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive chroot "$dir" apt-get install -y -q --no-install-recommends "$@" >/dev/null
  chroot "$dir" apt-get clean
  rm -rf "$dir"/var/lib/apt/lists/*
}

# Packs root `dir` as image `name` with `config` (umoci config flags) into tarball `tar`.
pack() {
  local dir=$1 name=$2 tar=$3; shift 3
  rm -rf "$dir"/dev/* "$dir"/run/* "$dir"/tmp/* "$dir"/var/log/*.log
  rm -rf pack-oci; umoci init --layout pack-oci; umoci new --image pack-oci:img
  umoci insert --image pack-oci:img "$dir" /
  umoci config --image pack-oci:img --author kubepool \
    --history.created_by "kubepool tests/cluster/build-zuul-images.sh" "$@"
  umoci gc --layout pack-oci
  skopeo --insecure-policy copy -q oci:pack-oci:img "docker-archive:$tar.tmp:$name"
  mv "$tar.tmp" "$tar"; rm -rf pack-oci
}

if [ ! -f "zuul-$KEY.tar" ] || [ ! -f "zuul-executor-$KEY.tar" ]; then
  s=$(date +%s)
  log "building $ZUUL_IMAGE"
  R=rootfs-zuul
  root_with $R python3-venv bubblewrap socat git rsync openssh-client procps libre2-9 libyaml-0-2 \
    zstd dumb-init ca-certificates
  chroot $R python3 -m venv /usr/local/zuul
  chroot $R /usr/local/zuul/bin/pip install -q --disable-pip-version-check "zuul==$ZUUL_VERSION"
  chroot $R useradd --uid 10001 --gid 0 --home-dir /var/lib/zuul --create-home zuul
  chmod -R g=u $R/var/lib/zuul
  ENV=(--config.env PATH=/usr/local/zuul/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
       --config.env LANG=C.UTF-8 --config.workingdir /var/lib/zuul --config.user 10001:0
       --config.entrypoint /usr/bin/dumb-init --config.entrypoint --)
  pack $R "$ZUUL_IMAGE" "zuul-$KEY.tar" "${ENV[@]}" --config.cmd zuul-scheduler
  log "building $EXECUTOR_IMAGE"
  # zuul-manage-ansible installs every supported Ansible under <exec_prefix>/lib/zuul/ansible,
  # i.e. inside /usr, where bubblewrap binds it; the executor then runs with manage_ansible=false.
  chroot $R /usr/local/zuul/bin/zuul-manage-ansible
  install -m 0755 "$BIN/kubectl" "$R/usr/local/bin/kubectl"
  pack $R "$EXECUTOR_IMAGE" "zuul-executor-$KEY.tar" "${ENV[@]}" --config.cmd zuul-executor
  rm -rf $R
  echo "$(date -u +%FT%TZ) ZUUL-IMAGES $(( $(date +%s) - s ))s" >> "$CACHE/build-times.txt"
fi

if [ ! -f "zookeeper-$KEY.tar" ]; then
  s=$(date +%s)
  log "building $ZOOKEEPER_IMAGE"
  R=rootfs-zookeeper
  root_with $R zookeeper openjdk-17-jre-headless libnetty-java libslf4j-java
  # Debian's zookeeper.jar manifest lacks netty-codec and an slf4j binding (as up.sh's ZooKeeper).
  cat > $R/usr/local/bin/zkServer.sh <<'SH'
#!/bin/sh
# kubepool-zookeeper: `zkServer.sh start-foreground CFG`, as the operator's StatefulSet runs it.
[ "$1" = start-foreground ] || { echo "only start-foreground is supported" >&2; exit 2; }
CP=/usr/share/java/zookeeper.jar
for j in netty-codec netty-resolver slf4j-simple; do CP=$CP:/usr/share/java/$j.jar; done
exec java $JVMFLAGS -cp "$CP" org.apache.zookeeper.server.quorum.QuorumPeerMain "$2"
SH
  chmod 0755 $R/usr/local/bin/zkServer.sh
  chroot $R useradd --uid 1000 --gid 0 --no-create-home zookeeper
  pack $R "$ZOOKEEPER_IMAGE" "zookeeper-$KEY.tar" --config.user 1000:0 --config.workingdir / \
    --config.env PATH=/usr/local/bin:/usr/bin:/bin --config.cmd zkServer.sh
  rm -rf $R
  echo "$(date -u +%FT%TZ) ZOOKEEPER-IMAGE $(( $(date +%s) - s ))s" >> "$CACHE/build-times.txt"
fi
ls -la "$IMAGES"/zuul-*.tar "$IMAGES"/zookeeper-*.tar >&2
