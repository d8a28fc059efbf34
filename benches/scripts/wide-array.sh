#!/usr/bin/env bash
# Scale: a wide array (issue 19, item 4). An md 1.2 RAID5 and a RAID6 of
# DISKS (64) members of MIB (64) MiB of data each (64 KiB chunks,
# left-symmetric, data at 1 MiB, pseudo-random content with its parity),
# written by check_members into target/bench-wide/ (kept; removed with
# the target dir). Then, in one run, on the same page-cached members, best
# of three each:
#   recover assemble SURVIVORS... -o /dev/null   (slot 1 missing; RAID6: 1 and 2)
#     against  cat SURVIVORS... > /dev/null
# (the md metadata says which slots are gone: assemble refuses --missing
# over metadata unless --ignore-metadata)
#   recover check ALL...   against  cat ALL... > /dev/null
# printing the throughputs (member bytes read by cat / time), the ratios
# cat time / recover time (1.0: recover runs at the speed of reading the
# members) and recover's peak RSS (/usr/bin/time -f %M).
# usage: benches/scripts/wide-array.sh [DISKS] [MIB]   (64 64; members smaller than 32 MiB are read whole by the DDF anchor search every scan makes, which then dominates)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
disks=${1:-64}
mib=${2:-64}
cargo build --release -q -p recover-benches --bin check_members
cargo build --release -q -p recover-cli
bin=$root/target/release/recover
dir=$root/target/bench-wide
. "$root/benches/scripts/lib.sh"
best() { best_of 3 "$@"; } # seconds
rss() { # command... -> peak RSS in KiB
  /usr/bin/time -f %M -o "$dir/.rss" "$@" > /dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
  tail -1 "$dir/.rss"
}
gbps() { awk -v b="$1" -v t="$2" 'BEGIN {printf "%.2f", b / t / 1e9}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "load: $(uptime | sed 's/.*load average: //') on $(nproc) CPUs"
for level in 5 6; do
  mapfile -t m < <(./target/release/check_members "$dir/raid$level-$disks-$mib" "$level" "$disks" "$mib")
  if [ "$level" = 5 ]; then gone=1; surv=("${m[0]}" "${m[@]:2}")
  else gone=1,2; surv=("${m[0]}" "${m[@]:3}"); fi
  cat "${m[@]}" > /dev/null   # page cache
  "$bin" check "${m[@]}" > /dev/null 2>&1 || { echo "RAID$level: the bench array is not clean" >&2; exit 1; }
  all=$(stat -c %s "${m[@]}" | awk '{s+=$1} END {print s}')
  some=$(stat -c %s "${surv[@]}" | awk '{s+=$1} END {print s}')
  asm=("$bin" assemble "${surv[@]}" -o /dev/null)
  t_cat_s=$(best cat "${surv[@]}")
  t_asm=$(best "${asm[@]}")
  r_asm=$(rss "${asm[@]}")
  t_cat_a=$(best cat "${m[@]}")
  t_chk=$(best "$bin" check "${m[@]}")
  r_chk=$(rss "$bin" check "${m[@]}")
  echo "RAID$level, $disks x $mib MiB, missing $gone: cat of the survivors $(gbps "$some" "$t_cat_s") GB/s, recover assemble -o /dev/null $(gbps "$some" "$t_asm") GB/s ($(ratio "$t_asm" 1) s), ratio $(ratio "$t_cat_s" "$t_asm"); peak RSS $((r_asm / 1024)) MiB"
  echo "RAID$level, $disks x $mib MiB, complete: cat $(gbps "$all" "$t_cat_a") GB/s, recover check $(gbps "$all" "$t_chk") GB/s ($(ratio "$t_chk" 1) s), ratio $(ratio "$t_cat_a" "$t_chk"); peak RSS $((r_chk / 1024)) MiB"
done
rm -f "$dir/.rss"
