#!/usr/bin/env bash
# FUSE reads: `cat` of a large file through `recover mount` against
# `recover cp` of the same file, in one run, on the same page-cached ext4
# image (1 GiB of random data in one file, made by mke2fs -d), best of
# three each:
#   recover mount IMAGE MNT --at d0/ext4;  cat MNT/big.bin > /dev/null
#   recover cp IMAGE --at d0/ext4:/big.bin -o OUT (on tmpfs when /dev/shm is there)
# The file system is mounted anew before each cat, so no run is served
# from the kernel's cache of the last one: every byte goes through
# recover. The image itself stays in the page cache for both. Prints the ratio of speeds (cp's time over
# the cat's; target: near 1x) after checking both give the same bytes.
# usage: benches/scripts/fuse-cat.sh    (FUSE_BENCH_MIB=1024 sets the size;
#        RECOVER_BIN=path uses that binary instead of a release build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
for t in mke2fs fusermount3; do
  command -v "$t" >/dev/null || { echo "fuse-cat.sh: $t is not installed (e2fsprogs, fuse3)" >&2; exit 1; }
done
[ -e /dev/fuse ] || { echo "fuse-cat.sh: no /dev/fuse" >&2; exit 1; }
mib=${FUSE_BENCH_MIB:-1024}
dir=$root/target/fixtures/bench-fuse-$mib
mkdir -p "$dir"
if [ ! -f "$dir/ext4.img" ]; then
  rm -rf "$dir/tree"
  mkdir -p "$dir/tree"
  head -c "$((mib << 20))" /dev/urandom > "$dir/tree/big.bin"
  truncate -s "$(((mib + mib / 8 + 64) << 20))" "$dir/.ext4.tmp"
  mke2fs -q -F -t ext4 -d "$dir/tree" "$dir/.ext4.tmp"
  rm -rf "$dir/tree"
  mv "$dir/.ext4.tmp" "$dir/ext4.img"
fi
if [ -n "${RECOVER_BIN:-}" ]; then
  bin=$RECOVER_BIN
else
  cargo build --release -q -p recover-cli
  bin=$root/target/release/recover
fi
run=$(mktemp -d)
out=$run
[ -d /dev/shm ] && out=$(mktemp -d /dev/shm/fuse-cat.XXXXXX)
mkdir "$run/mnt"
pid=
cleanup() {
  if grep -q " $run/mnt " /proc/self/mountinfo; then fusermount3 -u "$run/mnt" || fusermount3 -uz "$run/mnt"; fi
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  rm -rf "$run" "$out"
}
trap cleanup EXIT
. "$root/benches/scripts/lib.sh"

mount_it() {
  "$bin" mount "$dir/ext4.img" "$run/mnt" --at d0/ext4 >/dev/null 2>"$run/mount.log" &
  pid=$!
  for _ in $(seq 600); do
    grep -q " $run/mnt " /proc/self/mountinfo && return 0
    kill -0 "$pid" 2>/dev/null || { echo "fuse-cat.sh: recover mount failed:" >&2; cat "$run/mount.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "fuse-cat.sh: no mount after 60 s" >&2
  exit 1
}
unmount_it() {
  fusermount3 -u "$run/mnt"
  wait "$pid" 2>/dev/null || true
  pid=
}

cat "$dir/ext4.img" >/dev/null
mount_it
"$bin" cp "$dir/ext4.img" --at d0/ext4:/big.bin -o "$out/big.bin" --force
[ "$(sha256sum < "$run/mnt/big.bin")" = "$(sha256sum < "$out/big.bin")" ] || { echo "fuse-cat.sh: the mount and cp gave different bytes" >&2; exit 1; }
rm -f "$out/big.bin"

before_run() { rm -f "$out/big.bin"; }
t_cp=$(best_of 3 "$bin" cp "$dir/ext4.img" --at d0/ext4:/big.bin -o "$out/big.bin")
before_run() { unmount_it; mount_it; }
t_cat=$(best_of 3 cat "$run/mnt/big.bin")
size=$(stat -c %s "$run/mnt/big.bin")
awk -v c="$t_cat" -v p="$t_cp" -v n="$size" 'BEGIN {
  printf "cat through recover mount vs recover cp, %.0f bytes: cat %.3f s (%.2f GB/s), cp %.3f s (%.2f GB/s), ratio %.2fx (cp time / cat time; target near 1)\n", n, c, n / c / 1e9, p, n / p / 1e9, p / c
}'
