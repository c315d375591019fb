#!/bin/bash
# The release build of kubepool, reproducible: the same commit gives the same binary, byte for
# byte, whatever directory it is checked out in and wherever CARGO_HOME is.
#
#   tests/release-build.sh        (make release)  -> target/release/kubepool, and its sha256
#
# What would otherwise differ between two checkouts, and how it is made equal:
# * absolute paths: CARGO_HOME (in the dependencies' panic locations) and the checkout (with
#   target/ in it: debug info, build scripts' OUT_DIRs) are remapped, for rustc by
#   --remap-path-prefix (which Cargo leaves out of its metadata hash, so symbol names do not
#   change), for the C compiler (ring, aws-lc-sys) by -ffile-prefix-map;
# * flags from the caller's environment: RUSTFLAGS, CARGO_ENCODED_RUSTFLAGS, CFLAGS and the
#   like are replaced, not extended; CARGO_INCREMENTAL is off;
# * dependency versions: --locked (Cargo.lock); the toolchain is the one `rustc -V` prints
#   (the same rustc and C compiler are needed for the same bytes).
# tests/release-reproducible.sh builds one commit from two clones and compares.
set -euo pipefail
SRC=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd -P)
cd "$SRC"
CARGO_HOME=$(readlink -f "${CARGO_HOME:-$HOME/.cargo}")
unset CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR \
  CFLAGS_x86_64_unknown_linux_gnu CFLAGS_aarch64_unknown_linux_gnu TARGET_CFLAGS HOST_CFLAGS \
  CXXFLAGS CPPFLAGS
export CARGO_HOME CARGO_INCREMENTAL=0
# target/ is inside the checkout (CARGO_TARGET_DIR is unset), so its build scripts' OUT_DIRs too.
remap=("$SRC=/kubepool" "$CARGO_HOME=/cargo")
RUSTFLAGS=""
CFLAGS=""
for map in "${remap[@]}"; do
  RUSTFLAGS+=" --remap-path-prefix=$map"
  CFLAGS+=" -ffile-prefix-map=$map"
done
export RUSTFLAGS CFLAGS
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH
echo "release build of $(git describe --always --dirty 2>/dev/null || echo "an unversioned tree") with $(rustc -V)" >&2
cargo build --release --locked --bin kubepool "$@"
sha256sum target/release/kubepool
