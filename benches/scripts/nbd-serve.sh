#!/usr/bin/env bash
# NBD serving: nbdcopy to /dev/null from `recover serve` against the peer
# servers, in one run, on the same page-cached images, best of three each:
#   a raw image (1 GiB of random data):
#     recover serve IMAGE --at d0 --socket S       vs  nbdkit -r file IMAGE
#   a qcow2 (2 GiB virtual: 1 GiB of random data, then 1 GiB never
#   written, which both servers report as a hole):
#     recover serve IMAGE --at d0/qcow2 --socket S  vs  qemu-nbd --read-only
# each read by `nbdcopy URI /dev/null` (its defaults: several connections
# when the server allows them, 64 requests in flight). Prints each ratio of
# speeds (the peer's time over recover's; target: 1x or more) after
# checking that both servers hand out the same bytes.
# usage: benches/scripts/nbd-serve.sh     (NBD_BENCH_MIB=1024 sets the size)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
for t in nbdcopy nbdkit qemu-nbd qemu-img; do
  command -v "$t" >/dev/null || { echo "nbd-serve.sh: $t is not installed (libnbd-bin, nbdkit, qemu-utils)" >&2; exit 1; }
done
mib=${NBD_BENCH_MIB:-1024}
dir=$root/target/fixtures/bench-nbd-$mib
mkdir -p "$dir"
if [ ! -f "$dir/raw.img" ]; then
  head -c "$((mib << 20))" /dev/urandom > "$dir/.raw.tmp"
  mv "$dir/.raw.tmp" "$dir/raw.img"
fi
if [ ! -f "$dir/disk.qcow2" ]; then
  cp "$dir/raw.img" "$dir/.half.raw"
  truncate -s "$((2 * mib << 20))" "$dir/.half.raw"
  qemu-img convert -f raw -O qcow2 "$dir/.half.raw" "$dir/.qcow2.tmp"
  rm -f "$dir/.half.raw"
  mv "$dir/.qcow2.tmp" "$dir/disk.qcow2"
fi
cargo build --release -q -p recover-cli
bin=$root/target/release/recover
run=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$run"
}
trap cleanup EXIT
. "$root/benches/scripts/lib.sh"

# start NAME COMMAND...: a server in the background, listening on
# $run/NAME.sock once this returns.
start() {
  local name=$1
  shift
  "$@" >"$run/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 600); do
    [ -S "$run/$name.sock" ] && nbdinfo --can connect "nbd+unix:///?socket=$run/$name.sock" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nbd-serve.sh: $name did not start:" >&2
  cat "$run/$name.log" >&2
  exit 1
}

cat "$dir/raw.img" "$dir/disk.qcow2" >/dev/null
start recover-raw "$bin" serve "$dir/raw.img" --at d0 --socket "$run/recover-raw.sock"
start nbdkit-raw nbdkit -f -r -U "$run/nbdkit-raw.sock" file "$dir/raw.img"
start recover-qcow2 "$bin" serve "$dir/disk.qcow2" --at d0/qcow2 --socket "$run/recover-qcow2.sock"
start qemu-nbd-qcow2 qemu-nbd --read-only --persistent --shared=16 -f qcow2 \
  --socket="$run/qemu-nbd-qcow2.sock" "$dir/disk.qcow2"

uri() { echo "nbd+unix:///$2?socket=$run/$1.sock"; }
sha() { nbdcopy "$1" - | sha256sum | cut -d' ' -f1; }
compare() { # LABEL OURS THEIRS SIZE
  local label=$1 ours=$2 theirs=$3 size=$4
  [ "$(sha "$ours")" = "$(sha "$theirs")" ] || { echo "$label: the servers handed out different bytes" >&2; exit 1; }
  local t_rec t_peer
  t_rec=$(best_of 3 nbdcopy "$ours" /dev/null)
  t_peer=$(best_of 3 nbdcopy "$theirs" /dev/null)
  awk -v l="$label" -v r="$t_rec" -v p="$t_peer" -v n="$size" 'BEGIN {
    printf "%s (%.0f bytes): recover serve %.3f s (%.2f GB/s), peer %.3f s (%.2f GB/s), ratio %.2fx (target >= 1)\n", l, n, r, n / r / 1e9, p, n / p / 1e9, p / r
  }'
}
compare "raw, against nbdkit file" "$(uri recover-raw d0)" "$(uri nbdkit-raw "")" "$(stat -c %s "$dir/raw.img")"
compare "qcow2, against qemu-nbd --read-only" "$(uri recover-qcow2 d0/qcow2)" "$(uri qemu-nbd-qcow2 "")" "$((2 * mib << 20))"
