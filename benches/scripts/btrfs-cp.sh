#!/usr/bin/env bash
# Reading Btrfs files, in one run, on the same page-cached image (issue 15):
#   1. `recover cp` of a large zstd-compressed file and of a large
#      uncompressed one, against `cat` of a plain file of the same size
#      into the same sink (tmpfs when there is one);
#   2. listing a tree of 100,000 files: `recover ls -R` against
#      `btrfs restore --dry-run -v`, the other reader of an unmounted
#      Btrfs image.
# Ratios are plain time / recover time (1.0: recover at the speed of cat).
# The image is made once by the kernel's own Btrfs over a loop device
# (root, loop devices and btrfs-progs needed) under
# target/fixtures/bench-btrfs/: `big.raw` written without compression,
# `big.zst` (text-like, compressible) written under compress=zstd, and
# `tree/` with 100 directories of 1,000 files of 0 to 2 KB (Python
# random.Random(7); most are inline in their leaves).
# usage: benches/scripts/btrfs-cp.sh [MIB]   (size of each large file, 512)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
command -v mkfs.btrfs >/dev/null || { echo "mkfs.btrfs (btrfs-progs) is not installed" >&2; exit 1; }
mib=${1:-512}
dir=$root/target/fixtures/bench-btrfs
img=$dir/btrfs-$mib.img
if [ ! -f "$img" ]; then
  mkdir -p "$dir"
  t=$(mktemp -d "$dir/.build.XXXX")
  mnt=$t/mnt
  cleanup() { mountpoint -q "$mnt" && umount "$mnt"; rm -rf "$t"; }
  trap cleanup EXIT
  truncate -s $((mib * 3 + 1024))M "$t/img"
  mkfs.btrfs -q "$t/img"
  mkdir "$mnt"
  mount -o loop "$t/img" "$mnt"
  python3 - "$mnt" "$mib" <<'PY'
import os, random, sys
mnt, mib = sys.argv[1], int(sys.argv[2])
r = random.Random(7)
with open(os.path.join(mnt, 'big.raw'), 'wb') as f:
    for _ in range(mib):
        f.write(r.randbytes(1 << 20))
for d in range(100):
    p = os.path.join(mnt, 'tree', 'd%02d' % d)
    os.makedirs(p)
    for i in range(1000):
        with open(os.path.join(p, 'f%04d' % i), 'wb') as f:
            f.write(r.randbytes(r.randrange(0, 2000)))
PY
  mount -o remount,compress=zstd "$mnt"
  python3 - "$mnt" "$mib" <<'PY'
import os, random, sys
mnt, mib = sys.argv[1], int(sys.argv[2])
r = random.Random(8)
words = [bytes(r.choice(b'abcdefghijklmnopqrstuvwxyz') for _ in range(r.randrange(2, 10))) for _ in range(5000)]
with open(os.path.join(mnt, 'big.zst'), 'wb') as f:
    for _ in range(mib):
        line = b' '.join(r.choice(words) for _ in range(200)) + b'\n'
        block = (line * ((1 << 20) // len(line) + 1))[: 1 << 20]
        f.write(block)
PY
  umount "$mnt"
  mv "$t/img" "$img"
  trap - EXIT
  rm -rf "$t"
fi
cargo build --release -q -p recover-cli
bin=$root/target/release/recover
sink=/dev/shm
[ -d "$sink" ] && [ -w "$sink" ] || sink=$dir
out=$sink/recover-bench-btrfs.$$
plain=$dir/plain-$mib.bin
trap 'rm -rf "$out"' EXIT
mkdir -p "$out"
fs=d0/btrfs
[ -f "$plain" ] || "$bin" cp "$img" --at "$fs:/big.raw" -o "$plain" 2>/dev/null
cat "$img" "$plain" > /dev/null
. "$root/benches/scripts/lib.sh"
before_run() { rm -rf "${out:?}"/*; }
t_cat=$(best_of 3 sh -c "cat '$plain' > '$out/plain'")
t_raw=$(best_of 3 "$bin" cp "$img" --at "$fs:/big.raw" -o "$out/raw")
t_zst=$(best_of 3 "$bin" cp "$img" --at "$fs:/big.zst" -o "$out/zst")
before_run
/usr/bin/time -f %M -o "$out.rss" "$bin" cp "$img" --at "$fs:/big.zst" -o "$out/zst" >/dev/null 2>&1
rss=$(tail -1 "$out.rss"); rm -f "$out.rss"
unset -f before_run
t_ls=$(best_of 3 "$bin" ls "$img" --at "$fs:/tree" -R)
t_restore=$(best_of 3 btrfs restore --dry-run -v "$img" "$out")
n=$("$bin" ls "$img" --at "$fs:/tree" -R 2>/dev/null | wc -l)
awk -v c="$t_cat" -v r="$t_raw" -v z="$t_zst" -v m="$mib" -v s="$rss" -v l="$t_ls" -v b="$t_restore" -v n="$n" 'BEGIN {
  printf "cat of a plain %d MiB file: %.3f s\n", m, c
  printf "recover cp, uncompressed: %.3f s, ratio %.2fx\n", r, c / r
  printf "recover cp, zstd:         %.3f s, ratio %.2fx; peak RSS %.0f MiB\n", z, c / z, s / 1024
  printf "listing %d entries: recover ls -R %.3f s, btrfs restore --dry-run -v %.3f s, ratio %.2fx\n", n, l, b, b / l
}'
