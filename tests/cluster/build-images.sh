#!/bin/bash
# Builds the local images as docker-archive tarballs (nothing is ever pulled from a registry):
#   localhost/pause:3.2                - the pod sandbox: static busybox sleeping until TERM
#   localhost/kubepool-noshell:1       - static busybox as /bin/sleep only: runs, but has no shell
#                                        (a pod image a Zuul job cannot use)
#   localhost/kubepool-node:bookworm   - Debian bookworm (debootstrap minbase) with bash, git, python3,
#                                        openssh-server, coreutils, tar, rsync: a pod that behaves
#                                        like a machine
#   localhost/kubepool-nopython:bookworm - the same without Python (as debian:bookworm-slim): Ansible
#                                        modules cannot run there; kubepool's plugin runs command
#                                        and shell tasks without them
# up.sh imports them into containerd.
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
mkdir -p "$IMAGES"; cd "$IMAGES"
# The Debian archive this machine already uses.
MIRROR=${DEBIAN_MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)}
[ -n "$MIRROR" ] || MIRROR=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list)

if [ ! -f pause.tar ]; then
  log "building $PAUSE_IMAGE"
  rm -rf pause-oci pause-root; mkdir -p pause-root/bin pause-root/dev pause-root/proc pause-root/sys pause-root/etc
  cp /bin/busybox pause-root/bin/busybox
  for a in sh sleep; do ln -s busybox pause-root/bin/$a; done
  umoci init --layout pause-oci
  umoci new --image pause-oci:3.2
  umoci insert --image pause-oci:3.2 pause-root /
  umoci config --image pause-oci:3.2 --config.workingdir / --config.user 65535:65535 \
    --config.entrypoint /bin/sh --config.entrypoint -c \
    --config.entrypoint "trap 'exit 0' TERM INT; while :; do sleep 86400 & wait \$!; done" \
    --author kubepool --history.created_by "kubepool tests/cluster/build-images.sh"
  umoci gc --layout pause-oci
  skopeo --insecure-policy copy -q oci:pause-oci:3.2 "docker-archive:pause.tar.tmp:$PAUSE_IMAGE"
  mv pause.tar.tmp pause.tar; rm -rf pause-oci pause-root
fi

if [ ! -f noshell.tar ]; then
  log "building $NOSHELL_IMAGE"
  rm -rf noshell-oci noshell-root; mkdir -p noshell-root/bin noshell-root/dev noshell-root/proc noshell-root/sys
  cp /bin/busybox noshell-root/bin/sleep
  umoci init --layout noshell-oci
  umoci new --image noshell-oci:1
  umoci insert --image noshell-oci:1 noshell-root /
  umoci config --image noshell-oci:1 --config.workingdir / --config.entrypoint /bin/sleep \
    --config.cmd 86400 --author kubepool --history.created_by "kubepool tests/cluster/build-images.sh"
  umoci gc --layout noshell-oci
  skopeo --insecure-policy copy -q oci:noshell-oci:1 "docker-archive:noshell.tar.tmp:$NOSHELL_IMAGE"
  mv noshell.tar.tmp noshell.tar; rm -rf noshell-oci noshell-root
fi

if [ ! -f node.tar ]; then
  if [ ! -d rootfs-bookworm ]; then
    log "debootstrap bookworm (minbase + bash git python3 openssh-server coreutils tar rsync ...)"
    rm -rf rootfs-bookworm.tmp
    debootstrap --variant=minbase \
      --include=bash,git,python3,openssh-server,coreutils,tar,rsync,procps,ca-certificates,iproute2,netbase \
      bookworm rootfs-bookworm.tmp "$MIRROR" > debootstrap.log 2>&1 || { tail -20 debootstrap.log >&2; exit 1; }
    mv rootfs-bookworm.tmp rootfs-bookworm
  fi
  log "packing $NODE_IMAGE"
  R=rootfs-bookworm
  chroot $R apt-get clean
  rm -rf $R/var/lib/apt/lists/* $R/dev/* $R/run/* $R/tmp/* $R/var/log/*.log $R/etc/ssh/ssh_host_*
  mkdir -p $R/run/sshd
  rm -rf node-oci
  umoci init --layout node-oci
  umoci new --image node-oci:bookworm
  umoci insert --image node-oci:bookworm $R /
  umoci config --image node-oci:bookworm --config.workingdir /root \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --config.env LANG=C.UTF-8 \
    --config.cmd /bin/bash --author kubepool --history.created_by "kubepool tests/cluster/build-images.sh (debootstrap)"
  umoci gc --layout node-oci
  skopeo --insecure-policy copy -q oci:node-oci:bookworm "docker-archive:node.tar.tmp:$NODE_IMAGE"
  mv node.tar.tmp node.tar; rm -rf node-oci
fi
if [ ! -f nopython.tar ] || [ nopython.tar -ot node.tar ]; then
  log "packing $NOPYTHON_IMAGE"
  rm -rf rootfs-nopython nopython-oci
  cp -a rootfs-bookworm rootfs-nopython
  rm -rf rootfs-nopython/usr/bin/python3* rootfs-nopython/usr/lib/python3* rootfs-nopython/usr/lib/python3.*
  umoci init --layout nopython-oci
  umoci new --image nopython-oci:bookworm
  umoci insert --image nopython-oci:bookworm rootfs-nopython /
  umoci config --image nopython-oci:bookworm --config.workingdir /root \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --config.env LANG=C.UTF-8 \
    --config.cmd /bin/bash --author kubepool --history.created_by "kubepool tests/cluster/build-images.sh (node image less Python)"
  umoci gc --layout nopython-oci
  skopeo --insecure-policy copy -q oci:nopython-oci:bookworm "docker-archive:nopython.tar.tmp:$NOPYTHON_IMAGE"
  mv nopython.tar.tmp nopython.tar; rm -rf nopython-oci rootfs-nopython
fi
ls -la "$IMAGES"/*.tar >&2
