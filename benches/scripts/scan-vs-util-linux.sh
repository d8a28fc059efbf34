#!/usr/bin/env bash
# Times `recover scan --json` against the util-linux tools doing the same job
# on the same image in the same run: `sfdisk --json` for the table plus one
# `blkid -p` per partition for the filesystems. Reports both and the ratio.
#
# usage: benches/scripts/scan-vs-util-linux.sh [IMAGE] [RUNS]
# Default IMAGE: the 1 GiB GPT fixture (built by `cargo bench -p recover-benches`
# or any test run), RUNS: 50.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
img=${1:-$root/target/fixtures/gpt-1g-v1.img}
[ -f "$img" ] || img=$root/target/fixtures/gpt-1g-nolvm-v1.img
runs=${2:-50}
[ -f "$img" ] || { echo "no image: run 'cargo bench -p recover-benches' first to build it" >&2; exit 2; }
cargo build --release -q -p recover-cli --manifest-path "$root/Cargo.toml"
bin=$root/target/release/recover

# Partition offsets and sizes, once, for the blkid loop.
mapfile -t parts < <(sfdisk --json "$img" | python3 -c '
import json, sys
t = json.load(sys.stdin)["partitiontable"]
for p in t["partitions"]:
    print(p["start"] * t["sectorsize"], p["size"] * t["sectorsize"])')

now() { date +%s%N; }
t0=$(now)
for _ in $(seq "$runs"); do "$bin" scan --json "$img" >/dev/null; done
t1=$(now)
for _ in $(seq "$runs"); do
  sfdisk --json "$img" >/dev/null
  for p in "${parts[@]}"; do set -- $p; blkid -p -o export -O "$1" -S "$2" "$img" >/dev/null || true; done
done
t2=$(now)
ours=$(( (t1 - t0) / runs / 1000 ))
theirs=$(( (t2 - t1) / runs / 1000 ))
echo "image: $img (${#parts[@]} partitions), $runs runs each"
echo "recover scan --json:           ${ours} us/run"
echo "sfdisk --json + blkid -p each: ${theirs} us/run"
python3 -c "print(f'ratio (util-linux / recover): {$theirs / $ours:.1f}x')"
