#!/usr/bin/env bash
# The deep scan against TestDisk's deeper search and against reading the
# image, in one run, on the same page-cached image (3 GiB, real data:
# ext4 filled from /usr/share and from a Rust toolchain's lib/, NTFS,
# FAT32, XFS; partition table wiped), best of three each:
#   recover scan --deep --json IMAGE              (jumps past each filesystem
#       it is sure of, as TestDisk does)
#   recover scan --deep --thorough --json IMAGE   (every sector)
#   testdisk /log /cmd IMAGE analyze,search,search   (quick search, then
#       the deeper search: the second "search" answers the prompt after
#       the quick search's results, which is how TestDisk's command mode
#       asks for a deeper search; its log then lists the ext4 backup
#       superblocks the deeper search found)
#   cat IMAGE > /dev/null
# and reports recover --thorough against the read (target: 0.9x or more)
# and recover --deep against TestDisk (target: 10x or more).
# usage: benches/scripts/deep-vs-testdisk.sh [IMAGE]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
img=${1:-$root/target/fixtures/bench-deep/real-3g-wiped.img}
if [ ! -f "$img" ]; then
  d=$(dirname "$img"); mkdir -p "$d"; t=$(mktemp -d "$d/.build.XXXX"); trap 'rm -rf "$t"' EXIT
  data2=$(ls -d "$HOME"/.rustup/toolchains/*/lib 2>/dev/null | head -1 || true)
  [ -n "$data2" ] || data2=/usr/lib/python3
  truncate -s 3G "$t/disk.img"
  sgdisk -n1:2048:+1100M -t1:8300 -n2:0:+900M -t2:8300 -n3:0:+300M -t3:0700 -n4:0:+300M -t4:EF00 -n5:0:0 -t5:8300 "$t/disk.img" >/dev/null
  mapfile -t parts < <(sfdisk --json "$t/disk.img" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["partitiontable"]["partitions"]: print(p["start"], p["size"])')
  mk() { # n kind...
    local n=$1; shift; set -- ${parts[$((n-1))]} "$@"
    local start=$1 size=$2; shift 2
    truncate -s $((size * 512)) "$t/p$n"
    "$@" "$t/p$n" >/dev/null 2>&1
    dd if="$t/p$n" of="$t/disk.img" bs=1M seek=$((start / 2048)) conv=notrunc,sparse status=none
    rm -f "$t/p$n"
  }
  mk 1 mkfs.ext4 -q -F -L share -d /usr/share
  mk 2 mkfs.ext4 -q -F -L toolchain -d "$data2"
  mk 3 mkntfs -q -F -f -L windata
  mk 4 mkfs.vfat -F 32 -n BENCHESP
  mk 5 mkfs.xfs -q -f -L xfsbench
  dd if=/dev/zero of="$t/disk.img" bs=512 count=34 conv=notrunc status=none
  s=$(stat -c %s "$t/disk.img")
  dd if=/dev/zero of="$t/disk.img" bs=512 seek=$((s / 512 - 33)) count=33 conv=notrunc status=none
  mv "$t/disk.img" "$img"
fi
cargo build --release -q -p recover-cli
cat "$img" > /dev/null; cat "$img" > /dev/null
now() { date +%s%N; }
best() {
  local b=0 t0 t
  for _ in 1 2 3; do
    t0=$(now); "$@" > /dev/null 2>&1 || true
    t=$(( $(now) - t0 )); { [ $b = 0 ] || [ $t -lt $b ]; } && b=$t
  done
  echo $b
}
size=$(stat -c %s "$img")
tcat=$(best cat "$img")
trec=$(best ./target/release/recover scan --deep --json "$img")
tthr=$(best ./target/release/recover scan --deep --thorough --json "$img")
cd "$(mktemp -d)"
ttd=$(best testdisk /log /cmd "$img" analyze,search,search)
found_td=$(grep -cE '^ +(Linux|HPFS|FAT|NTFS|XFS)' testdisk.log || true)
cd "$root"
found() {
  (./target/release/recover scan "$@" --json "$img" 2>/dev/null || true) | python3 -c '
import json, sys
d = json.load(sys.stdin)
for n in d["nodes"]:
    for c in n["children"]:
        if c["format"] == "recovered": print(len(c["children"]))' || true
}
found_rec=$(found --deep)
found_thr=$(found --deep --thorough)
secs() { python3 -c "print(f'{$1/1e9:.3f}')"; }
gb() { python3 -c "print(f'{$size / ($1 / 1e9) / 1e9:.2f}')"; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
echo "image: $img ($size bytes)"
echo "cat IMAGE > /dev/null:             $(secs $tcat) s  $(gb $tcat) GB/s"
echo "recover scan --deep:               $(secs $trec) s  $(gb $trec) GB/s  ($found_rec partitions)"
echo "recover scan --deep --thorough:    $(secs $tthr) s  $(gb $tthr) GB/s  ($found_thr partitions)"
echo "testdisk analyze,search,search:    $(secs $ttd) s  $(gb $ttd) GB/s  ($found_td partition lines in its log, backups included)"
echo "ratio --thorough / cat (speed):    $(ratio $tcat $tthr)x   (target >= 0.9)"
echo "ratio --deep / testdisk (speed):   $(ratio $ttd $trec)x   (target >= 10)"
echo "ratio --thorough / testdisk:       $(ratio $ttd $tthr)x"
