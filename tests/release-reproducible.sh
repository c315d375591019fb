#!/bin/bash
# Shows that a release build is reproducible: builds COMMIT (default HEAD; a tag works) from two
# clones in directories of different names and depths with tests/release-build.sh, and compares
# the binaries' sha256. Two full release builds: not part of `make test`; run it before tagging.
#
#   tests/release-reproducible.sh [COMMIT] [WORKDIR]    WORKDIR defaults to a new temp dir
#
# Exits 0 when both binaries are identical, 1 (and lists the differing sections) when not.
set -euo pipefail
REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd -P)
COMMIT=$(git -C "$REPO" rev-parse "${1:-HEAD}^{commit}")
WORK=${2:-$(mktemp -d /tmp/kubepool-repro.XXXXXX)}
a=$WORK/a/kubepool
b=$WORK/other-place/src2
for dir in "$a" "$b"; do
  [ ! -e "$dir" ] || { echo "$dir exists; give an empty WORKDIR" >&2; exit 2; }
  git clone -q --no-checkout "$REPO" "$dir"
  git -C "$dir" checkout -q --detach "$COMMIT"
done
for dir in "$a" "$b"; do
  start=$(date +%s)
  "$dir/tests/release-build.sh" --offline >"$dir.log" 2>&1 || { tail -20 "$dir.log" >&2; exit 2; }
  echo "built $dir in $(( $(date +%s) - start )) s" >&2
done
sum_a=$(sha256sum <"$a/target/release/kubepool" | cut -d' ' -f1)
sum_b=$(sha256sum <"$b/target/release/kubepool" | cut -d' ' -f1)
echo "$sum_a  $a/target/release/kubepool"
echo "$sum_b  $b/target/release/kubepool"
if [ "$sum_a" = "$sum_b" ]; then
  echo "reproducible: $COMMIT"
  exit 0
fi
echo "NOT reproducible: $COMMIT" >&2
for bin in "$a" "$b"; do
  objdump -h "$bin/target/release/kubepool" | awk '/^ +[0-9]/ {print $2}' | while read -r section; do
    objcopy -O binary --only-section="$section" "$bin/target/release/kubepool" "$bin.$section" 2>/dev/null || true
  done
done
for part in "$a".*; do
  section=${part#"$a".}
  [ "$section" != log ] || continue
  cmp -s "$part" "$b.$section" || echo "differs: $section" >&2
done
exit 1
