#!/bin/bash
# Builds the derived node image for the real-Zuul tests: the test bed's node rootfs
# (build-images.sh) plus Debian's tox and flake8, so that a job's `tox -e pep8` runs in a pod
# without any package index. Cached by the hash of this recipe: the image is
#   localhost/kubepool-node-tox:<hash>   ($IMAGES/node-tox-<hash>.tar)
# With `--import`, it is also imported into the running test bed's containerd (if missing there),
# without restarting anything. Prints the image name on stdout.
set -euo pipefail
HERE=$(dirname "$(readlink -f "$0")")
. "$HERE/lib.sh"
PACKAGES="tox flake8 python3-pip"
HASH=$( { cat "$0"; echo "$PACKAGES"; } | sha256sum | cut -c1-12)
NAME=localhost/kubepool-node-tox:$HASH
TAR=$IMAGES/node-tox-$HASH.tar
BASE=$IMAGES/rootfs-bookworm

if [ ! -f "$TAR" ]; then
  [ -d "$BASE" ] || { echo "no $BASE: run tests/cluster/build.sh first" >&2; exit 1; }
  s=$(date +%s)
  log "building $NAME (+ $PACKAGES)"
  R=$IMAGES/node-tox-rootfs.tmp
  cleanup() { umount "$R/proc" 2>/dev/null || true; rm -rf "$R" "$IMAGES/node-tox-oci"; }
  trap cleanup EXIT
  cleanup
  cp -a "$BASE" "$R"
  mkdir -p "$R/dev" "$R/proc"
  for d in null:1:3 zero:1:5 random:1:8 urandom:1:9; do
    IFS=: read -r n ma mi <<<"$d"; mknod -m 666 "$R/dev/$n" c "$ma" "$mi"
  done
  mount -t proc proc "$R/proc"
  cp /etc/resolv.conf "$R/etc/resolv.conf"
  # (PyPI is not reachable from pods: tox must reuse the Debian packages, `sitepackages = true`.)
  chroot "$R" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c \
    "apt-get update -q && apt-get install -y -q --no-install-recommends $PACKAGES && apt-get clean" \
    >"$IMAGES/node-tox-build.log" 2>&1 || { tail -20 "$IMAGES/node-tox-build.log" >&2; exit 1; }
  umount "$R/proc"
  rm -rf "$R"/var/lib/apt/lists/* "${R:?}"/dev/* "$R"/tmp/* "$R"/var/log/*.log "$R"/etc/ssh/ssh_host_*
  : > "$R/etc/resolv.conf"
  O=$IMAGES/node-tox-oci
  umoci init --layout "$O"
  umoci new --image "$O:tox"
  umoci insert --image "$O:tox" "$R" /
  umoci config --image "$O:tox" --config.workingdir /root \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --config.env LANG=C.UTF-8 \
    --config.cmd /bin/bash --author kubepool --history.created_by "kubepool tests/cluster/build-tox-image.sh"
  umoci gc --layout "$O"
  skopeo --insecure-policy copy -q "oci:$O:tox" "docker-archive:$TAR.tmp:$NAME"
  mv "$TAR.tmp" "$TAR"
  cleanup; trap - EXIT
  echo "$(date -u +%FT%TZ) IMAGE node-tox $(( $(date +%s) - s ))s" >> "$CACHE/build-times.txt"
fi

if [ "${1:-}" = --import ]; then
  CTR="ctr --address $CONTAINERD_SOCK -n k8s.io"
  if ! $CTR images ls -q | grep -x "$NAME" >/dev/null; then
    log "importing $NAME into the test bed's containerd"
    $CTR images import "$TAR" >/dev/null
  fi
fi
echo "$NAME"
