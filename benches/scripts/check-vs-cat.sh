#!/usr/bin/env bash
# `recover check` of a clean array against `cat` of its members to
# /dev/null, in one run, on the same page-cached members: an md 1.2 RAID6
# of 6 and a RAID5 of 5 members of MIB MiB each (64 KiB chunks), written
# by check_members into a temporary directory under target/ and removed
# at the end (KEEP=1 keeps them for another run). Prints the throughputs
# and the ratio cat time / check time (1.0: check runs at the speed of
# reading the members; the goal is at least 0.8).
# usage: benches/scripts/check-vs-cat.sh [MIB]   (default 256)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
mib=${1:-256}
cargo build --release -q -p recover-benches --bin check_members
cargo build --release -q -p recover-cli
dir=target/bench-check
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$dir"' EXIT
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
for spec in "6 6" "5 5"; do
  set -- $spec
  level=$1 disks=$2
  mapfile -t m < <(./target/release/check_members "$dir/raid$level" "$level" "$disks" "$mib")
  cat "${m[@]}" > /dev/null   # page cache
  ./target/release/recover check "${m[@]}" > /dev/null 2>&1 || { echo "the bench array is not clean" >&2; exit 1; }
  bytes=$(stat -c %s "${m[@]}" | awk '{s+=$1} END {print s}')
  t_cat=$(best cat "${m[@]}")
  t_check=$(best ./target/release/recover check "${m[@]}")
  echo "RAID$level, $disks x $mib MiB: cat $(gbps $bytes $t_cat) GB/s, recover check $(gbps $bytes $t_check) GB/s, ratio $(python3 -c "print(f'{$t_cat/$t_check:.2f}')")"
done
