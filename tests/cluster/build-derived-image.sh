#!/bin/bash
# Builds a node image derived from the test bed's node rootfs (build-images.sh) for the real-Zuul
# tests, from Debian packages (and, for the buildset image, wheels fetched on this machine):
#   tox       localhost/kubepool-node-tox:<hash>       + tox, flake8: a job's `tox -e pep8` runs
#                                                        in a pod without any package index
#   buildset  localhost/kubepool-buildset:<hash>       + zuul-registry 1.3.0 (PyPI, its Python
#                                                        deps from Debian), buildah, skopeo and a
#                                                        static busybox: the buildset registry,
#                                                        and a pod that builds, pushes and
#                                                        inspects images
# Each is cached by the hash of this recipe and its flavour ($IMAGES/node-<flavour>-<hash>.tar).
# Usage: build-derived-image.sh FLAVOUR [--import]. With `--import`, the image is also imported
# into the running test bed's containerd (if missing there), without restarting anything.
# Prints the image name on stdout.
set -euo pipefail
HERE=$(dirname "$(readlink -f "$0")")
. "$HERE/lib.sh"
FLAVOUR=${1:?usage: build-derived-image.sh tox|buildset [--import]}
WHEELS=""
case "$FLAVOUR" in
  tox)
    PACKAGES="tox flake8 python3-pip"
    REPO=localhost/kubepool-node-tox ;;
  buildset)
    # zuul-registry's requirements, from Debian (main.py imports the swift and s3 backends too);
    # sha256 is a C extension with no wheel on PyPI: built here for CPython 3.11, as bookworm's.
    PACKAGES="buildah skopeo busybox-static python3-pip python3-cherrypy3 python3-routes
              python3-openstacksdk python3-jwt python3-boto3 python3-dateutil python3-yaml
              python3-requests python3-pbr"
    WHEELS="zuul-registry==1.3.0 sha256==1.0"
    REPO=localhost/kubepool-buildset ;;
  *) echo "unknown flavour $FLAVOUR (tox, buildset)" >&2; exit 2 ;;
esac
HASH=$( { cat "$0"; echo "$FLAVOUR"; } | sha256sum | cut -c1-12)
NAME=$REPO:$HASH
TAR=$IMAGES/node-$FLAVOUR-$HASH.tar
BASE=$IMAGES/rootfs-bookworm

if [ ! -f "$TAR" ]; then
  [ -d "$BASE" ] || { echo "no $BASE: run tests/cluster/build.sh first" >&2; exit 1; }
  s=$(date +%s)
  log "building $NAME (+ $(echo $PACKAGES) ${WHEELS:+/ $WHEELS})"
  R=$IMAGES/node-$FLAVOUR-rootfs.tmp
  O=$IMAGES/node-$FLAVOUR-oci
  W=$IMAGES/node-$FLAVOUR-wheels.tmp
  BUILD_LOG=$IMAGES/node-$FLAVOUR-build.log
  cleanup() { umount "$R/proc" 2>/dev/null || true; rm -rf "$R" "$O" "$W"; }
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
    "apt-get update -q && apt-get install -y -q --no-install-recommends $(echo $PACKAGES) && apt-get clean" \
    >"$BUILD_LOG" 2>&1 || { tail -20 "$BUILD_LOG" >&2; exit 1; }
  if [ -n "$WHEELS" ]; then
    mkdir -p "$W"
    # shellcheck disable=SC2086
    pip wheel -q --no-deps -w "$W" $WHEELS >>"$BUILD_LOG" 2>&1 || { tail -20 "$BUILD_LOG" >&2; exit 1; }
    mkdir -p "$R/tmp/wheels"; cp "$W"/*.whl "$R/tmp/wheels/"
    chroot "$R" sh -c 'python3 -m pip install -q --no-deps --no-index --break-system-packages /tmp/wheels/*.whl' \
      >>"$BUILD_LOG" 2>&1 || { tail -20 "$BUILD_LOG" >&2; exit 1; }
  fi
  umount "$R/proc"
  rm -rf "$R"/var/lib/apt/lists/* "${R:?}"/dev/* "$R"/tmp/* "$R"/var/log/*.log "$R"/etc/ssh/ssh_host_*
  : > "$R/etc/resolv.conf"
  umoci init --layout "$O"
  umoci new --image "$O:$FLAVOUR"
  umoci insert --image "$O:$FLAVOUR" "$R" /
  umoci config --image "$O:$FLAVOUR" --config.workingdir /root \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --config.env LANG=C.UTF-8 \
    --config.cmd /bin/bash --author kubepool --history.created_by "kubepool tests/cluster/build-derived-image.sh $FLAVOUR"
  umoci gc --layout "$O"
  skopeo --insecure-policy copy -q "oci:$O:$FLAVOUR" "docker-archive:$TAR.tmp:$NAME"
  mv "$TAR.tmp" "$TAR"
  cleanup; trap - EXIT
  echo "$(date -u +%FT%TZ) IMAGE node-$FLAVOUR $(( $(date +%s) - s ))s" >> "$CACHE/build-times.txt"
fi

if [ "${2:-}" = --import ]; then
  CTR="ctr --address $CONTAINERD_SOCK -n k8s.io"
  if ! $CTR images ls -q | grep -x "$NAME" >/dev/null; then
    log "importing $NAME into the test bed's containerd"
    $CTR images import "$TAR" >/dev/null
  fi
fi
echo "$NAME"
