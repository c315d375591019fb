#!/bin/bash
# Builds the kubepool container image from a kubepool binary, as an OCI archive, and (when the
# test bed's containerd runs) imports it. Prints the image name, localhost/kubepool:KEY.
#
#   build-kubepool-image.sh [BINARY] [--no-import]   BINARY defaults to target/release/kubepool
#
# The image is distroless-style: the binary (stripped), the shared libraries it links (glibc,
# libgcc_s: this machine's Debian packages), Debian's CA certificates, /etc/passwd and /etc/group
# with the user kubepool (65532), a writable /tmp and home; no shell, no package manager.
# It runs as kubepool:kubepool with the entrypoint /usr/bin/kubepool.
#
# KEY is a hash of this recipe and of every file that goes into the image, so an unchanged binary
# is never built twice: the archive is cached as $IMAGES/kubepool-KEY.oci.tar (the three newest
# kept). The OCI archive carries the name as its reference, which `ctr images import` uses.
set -euo pipefail
HERE=$(dirname "$(readlink -f "$0")")
. "$HERE/lib.sh"
BINARY=$HERE/../../target/release/kubepool
IMPORT=1
for arg in "$@"; do
  case "$arg" in
    --no-import) IMPORT=0 ;;
    *) BINARY=$arg ;;
  esac
done
BINARY=$(readlink -f "$BINARY")
[ -x "$BINARY" ] || { log "no kubepool binary at $BINARY (cargo build --release --locked)"; exit 1; }
REPO=localhost/kubepool
KUBEPOOL_UID=65532
mkdir -p "$IMAGES"
exec 9>"$IMAGES/kubepool-image.lock"
flock 9   # concurrent test runs build one image at a time

work=$(mktemp -d "$IMAGES/kubepool-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root/usr/bin" "$root/etc/ssl/certs" "$root/tmp" "$root/home/kubepool"
strip -o "$root/usr/bin/kubepool" "$BINARY"
# The libraries the dynamic loader needs, at the paths it looks in (Debian's multiarch layout).
libs=$(ldd "$BINARY" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
for lib in $libs; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
cat > "$root/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/usr/sbin/nologin
kubepool:x:$KUBEPOOL_UID:$KUBEPOOL_UID:kubepool:/home/kubepool:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
PASSWD
cat > "$root/etc/group" <<GROUP
root:x:0:
kubepool:x:$KUBEPOOL_UID:
nogroup:x:65534:
GROUP
echo "hosts: files dns" > "$root/etc/nsswitch.conf"
chmod 1777 "$root/tmp"
chown "$KUBEPOOL_UID:$KUBEPOOL_UID" "$root/home/kubepool"
# Fixed times, so the same inputs give the same layer.
find "$root" -exec touch -h -d @0 {} +

key=$( { cat "$0"; (cd "$root" && find . -type f -print0 | sort -z | xargs -0 sha256sum); } | sha256sum | cut -c1-16)
image=$REPO:$key
archive=$IMAGES/kubepool-$key.oci.tar
if [ ! -f "$archive" ]; then
  log "building $image from $BINARY"
  umoci init --layout "$work/oci"
  umoci new --image "$work/oci:$key"
  umoci insert --image "$work/oci:$key" "$root" /
  umoci config --image "$work/oci:$key" --config.user "$KUBEPOOL_UID:$KUBEPOOL_UID" --config.workingdir /home/kubepool \
    --config.env PATH=/usr/bin --config.env HOME=/home/kubepool \
    --config.env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --config.entrypoint /usr/bin/kubepool --config.cmd --help \
    --config.label org.opencontainers.image.title=kubepool \
    --config.label "org.opencontainers.image.version=$("$BINARY" --version 2>/dev/null | awk '{print $2}')" \
    --author kubepool --history.created_by "kubepool tests/cluster/build-kubepool-image.sh"
  umoci gc --layout "$work/oci"
  skopeo --insecure-policy copy -q "oci:$work/oci:$key" "oci-archive:$archive.tmp:$image"
  mv "$archive.tmp" "$archive"
  # keep the three newest archives
  ls -t "$IMAGES"/kubepool-*.oci.tar | tail -n +4 | xargs -r rm -f
fi
if [ "$IMPORT" = 1 ] && [ -S "$CONTAINERD_SOCK" ]; then
  CTR="ctr --address $CONTAINERD_SOCK -n k8s.io"
  if ! $CTR images ls -q | grep -x "$image" >/dev/null; then
    log "importing $image"
    $CTR images import "$archive" >/dev/null
    $CTR images ls -q | grep -x "$image" >/dev/null || { log "ctr images import did not name the image $image"; exit 1; }
  fi
fi
echo "$image"
