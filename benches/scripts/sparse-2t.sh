#!/usr/bin/env bash
# Scale: a 2 TiB sparse image (issue 19, item 4). Two raw images with the
# same content and different sizes, built once into target/bench-sparse/:
# 2 TiB and 16 GiB, made by truncate (sparse), each holding a GPT made by
# sgdisk and three small filesystems made by mkfs on small files and
# written at their partition offsets with dd conv=notrunc,sparse:
#   p1 at 1 MiB,  64 MiB, ext4 (mke2fs -d of 16 MiB of files)
#   p2 at 4 GiB, 320 MiB, xfs
#   p3 at 12 GiB, 64 MiB, fat (mkfs.fat -F 32)
# The 2 TiB image has nothing more than the 16 GiB one: 16 GiB of its
# size and 2 TiB - 16 GiB of holes. Then, on the page-cached images, best
# of three each (one run for a capped deep scan):
#   recover scan IMAGE            (partition table and filesystems)
#   recover scan --deep IMAGE     (every sector, TestDisk's deeper search)
# printing times, peak RSS and the ratio time(2 TiB) / time(16 GiB): 1.0
# is a scan whose time follows the data; 128 is one that follows the size.
# A deep scan of 2 TiB that reads every byte does not finish in reasonable
# time: it is capped by `timeout CAP` (120 s) and the script then prints
# the throughput over the bytes it would have to read (from the 16 GiB
# image's time) and the time it would take; it says so.
# usage: benches/scripts/sparse-2t.sh [CAP]   (120)
# env: NO_BUILD=1 (use target/release/recover as built), BUILD_ONLY=1
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cap=${1:-120}
dir=$root/target/bench-sparse
big=$dir/sparse-2t.img
small=$dir/sparse-16g.img
mib=$((1024 * 1024))
if [ ! -f "$big" ] || [ ! -f "$small" ]; then
  mkdir -p "$dir"; t=$(mktemp -d "$dir/.build.XXXX"); trap 'rm -rf "$t"' EXIT
  python3 - "$t/tree" <<'PY'
import os, random, sys
r = random.Random(2)
for d in range(4):
    p = os.path.join(sys.argv[1], 'd%d' % d)
    os.makedirs(p)
    for f in range(64):
        with open(os.path.join(p, 'f%02d' % f), 'wb') as fh:
            fh.write(r.randbytes(r.randrange(0, 128 << 10)))
PY
  mke2fs -q -F -t ext4 -d "$t/tree" "$t/p1" 64M > /dev/null
  truncate -s 320M "$t/p2"; mkfs.xfs -q -f "$t/p2"
  truncate -s 64M "$t/p3"; mkfs.fat -F 32 "$t/p3" > /dev/null
  for img in "$t/big" "$t/small"; do
    if [ "$img" = "$t/big" ]; then truncate -s 2T "$img"; else truncate -s 16G "$img"; fi
    sgdisk -n 1:1M:+64M -t 1:8300 -n 2:4G:+320M -t 2:8300 -n 3:12G:+64M -t 3:0700 "$img" > /dev/null
    dd if="$t/p1" of="$img" bs=1M seek=1 conv=notrunc,sparse status=none
    dd if="$t/p2" of="$img" bs=1M seek=$((4 * 1024)) conv=notrunc,sparse status=none
    dd if="$t/p3" of="$img" bs=1M seek=$((12 * 1024)) conv=notrunc,sparse status=none
  done
  mv "$t/small" "$small"; mv "$t/big" "$big"
  rm -rf "$t"; trap - EXIT
fi
[ "${BUILD_ONLY:-0}" = 0 ] || exit 0
[ "${NO_BUILD:-0}" = 1 ] || cargo build --release -q -p recover-cli
bin=$root/target/release/recover
. "$root/benches/scripts/lib.sh"
echo "load: $(uptime | sed 's/.*load average: //') on $(nproc) CPUs"
echo "images: $(du -k "$big" | cut -f1) KiB allocated of 2 TiB, $(du -k "$small" | cut -f1) KiB of 16 GiB"
# page cache: the small image only (cat of the 2 TiB one would read its
# holes); the data of both is the same 26 MiB, warmed by the first scans
cat "$small" > /dev/null
# peak RSS in KiB (and the exit status of timeout, 124 when capped)
rss() { /usr/bin/time -f %M -o "$dir/.rss" "$@" > /dev/null 2>&1 || true; tail -1 "$dir/.rss"; }
# scan: both images, best of 3, ratio
"$bin" scan "$big" > "$dir/scan-2t.txt" 2>&1 || true
"$bin" scan "$small" > "$dir/scan-16g.txt" 2>&1 || true
t_big=$(best_of 3 "$bin" scan "$big")
t_small=$(best_of 3 "$bin" scan "$small")
r_big=$(rss "$bin" scan "$big"); r_small=$(rss "$bin" scan "$small")
awk -v b="$t_big" -v s="$t_small" -v rb="$r_big" -v rs="$r_small" 'BEGIN {
  printf "scan: 2 TiB %.3f s (peak RSS %.0f MiB), 16 GiB %.3f s (peak RSS %.0f MiB), ratio 2T/16G %.2f (1.0: follows the data)\n", b, rb / 1024, s, rs / 1024, b / s
}'
# deep scan: the 16 GiB image timed in full, the 2 TiB one capped
t_dsmall=$(best_of 3 "$bin" scan --deep "$small")
r_dsmall=$(rss "$bin" scan --deep "$small")
s=$(date +%s.%N)
set +e
/usr/bin/time -f %M -o "$dir/.rss" timeout "$cap" "$bin" scan --deep "$big" > "$dir/deep-2t.txt" 2>&1
rc=$?
set -e
e=$(date +%s.%N)
r_dbig=$(tail -1 "$dir/.rss")
awk -v s="$t_dsmall" -v rs="$r_dsmall" -v b0="$s" -v b1="$e" -v rb="$r_dbig" -v rc="$rc" -v cap="$cap" -v mib="$mib" 'BEGIN {
  b = b1 - b0
  printf "scan --deep: 16 GiB %.2f s, %.2f GB/s over its size (peak RSS %.0f MiB)\n", s, 16 * 1024 * mib / s / 1e9, rs / 1024
  if (rc == 124) {
    printf "scan --deep: 2 TiB capped by timeout %d s (did not finish; peak RSS %.0f MiB): at the 16 GiB rate it would take %.0f s, %.0f times the 16 GiB scan: the deep scan follows the size, not the data\n", cap, rb / 1024, s * 128, 128
  } else {
    printf "scan --deep: 2 TiB %.2f s (exit %d, peak RSS %.0f MiB), ratio 2T/16G %.2f (1.0: follows the data; 128: follows the size)\n", b, rc, rb / 1024, b / s
  }
}'
rm -f "$dir/.rss"
