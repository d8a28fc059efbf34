#!/usr/bin/env bash
# Degraded-array read throughput against plain reading of the surviving
# members, in one run, on the same page-cached inputs (a RAID5 of 5 and a
# RAID6 of 6 members of 256 MiB, 64 KiB chunks, built once by raid_ratio):
#   1. the library: ArrayVolume reads vs reading the members (raid_ratio);
#   2. the CLI: `recover assemble --missing ... -o /dev/null` (parallel
#      export) vs `cat` of the surviving members to /dev/null.
# usage: benches/scripts/raid-throughput.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cargo build --release -q -p recover-benches --bin raid_ratio
cargo build --release -q -p recover-cli
./target/release/raid_ratio
mapfile -t m < <(./target/release/raid_ratio --members)
r5=("${m[@]:0:5}"); r6=("${m[@]:5:6}")
cat "${m[@]}" > /dev/null   # page cache
now() { date +%s%N; }
best() { # command... -> best of 3 in ns
  local b=0 t0 t
  for _ in 1 2 3; do
    t0=$(now); "$@" > /dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
    t=$(( $(now) - t0 )); { [ $b = 0 ] || [ $t -lt $b ]; } && b=$t
  done
  echo $b
}
gbps() { python3 -c "print(f'{$1 / ($2 / 1e9) / 1e9:.2f}')"; }
size=$(( 4 * 256 * 1024 * 1024 ))
plain5=$(best cat "${r5[0]}" "${r5[2]}" "${r5[3]}" "${r5[4]}")
deg5=$(best ./target/release/recover assemble "${r5[0]}" "${r5[2]}" "${r5[3]}" "${r5[4]}" --level 5 --chunk 64K --layout left-symmetric --missing 1 -o /dev/null)
plain6=$(best cat "${r6[0]}" "${r6[3]}" "${r6[4]}" "${r6[5]}")
deg6=$(best ./target/release/recover assemble "${r6[0]}" "${r6[3]}" "${r6[4]}" "${r6[5]}" --level 6 --chunk 64K --layout left-symmetric --missing 1,2 -o /dev/null)
echo "CLI: cat of the 4 surviving RAID5 members:      $(gbps $size $plain5) GB/s"
echo "CLI: recover assemble RAID5, 1 of 5 missing:    $(gbps $size $deg5) GB/s  ratio $(python3 -c "print(f'{$plain5/$deg5:.2f}')")"
echo "CLI: cat of the 4 surviving RAID6 members:      $(gbps $size $plain6) GB/s"
echo "CLI: recover assemble RAID6, 2 of 6 missing:    $(gbps $size $deg6) GB/s  ratio $(python3 -c "print(f'{$plain6/$deg6:.2f}')")"
