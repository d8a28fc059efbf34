#!/usr/bin/env bash
# qcow2 and VMDK to raw: recover extract against qemu-img convert, in one
# run, on the same page-cached images, both writing to the same place
# (tmpfs when there is one), best of three each, for a plain and a
# zstd-compressed qcow2 and a monolithicSparse and a streamOptimized
# (deflate) VMDK of a 2 GiB disk with real data (the cp bench's ext4
# image, whose 1.5 GiB file is random: the compressed images store it as
# it is):
#   recover extract IMAGE --at d0/qcow2 (d0/vmdk) -o OUT
#   qemu-img convert -O raw IMAGE OUT
# and reports the ratio of their speeds (target: 1x or more).
# usage: benches/scripts/qcow2-vs-qemu-img.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
dir=$root/target/fixtures/bench-qcow2
src=$root/target/fixtures/bench-cp/ext4-large.img
[ -f "$src" ] || benches/scripts/cp-vs-icat.sh >/dev/null
mkdir -p "$dir"
images=(plain.qcow2 zstd.qcow2 sparse.vmdk stream.vmdk)
for v in "${images[@]}"; do
  [ -f "$dir/$v" ] && continue
  case $v in
    plain.qcow2) qemu-img convert -f raw -O qcow2 "$src" "$dir/.$v.tmp" ;;
    zstd.qcow2) qemu-img convert -f raw -O qcow2 -c -o compression_type=zstd "$src" "$dir/.$v.tmp" ;;
    sparse.vmdk) qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse "$src" "$dir/.$v.tmp" ;;
    stream.vmdk) qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$src" "$dir/.$v.tmp" ;;
  esac
  mv "$dir/.$v.tmp" "$dir/$v"
done
cargo build --release -q -p recover-cli
bin=$root/target/release/recover
out_dir=/dev/shm
[ -d "$out_dir" ] && [ -w "$out_dir" ] || out_dir=$dir
out=$out_dir/recover-bench-qcow2.$$
trap 'rm -f "$out" "$out.qemu"' EXIT
. "$root/benches/scripts/lib.sh"
before_run() { rm -f "$out" "$out.qemu"; }
best() { best_of 3 "$@"; }
for v in "${images[@]}"; do
  img=$dir/$v
  at=d0/${v##*.}
  cat "$img" > /dev/null
  size=$(qemu-img info --output=json "$img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
  t_rec=$(best "$bin" extract "$img" --at "$at" -o "$out" --force)
  t_qemu=$(best qemu-img convert -O raw "$img" "$out.qemu")
  "$bin" extract "$img" --at "$at" -o "$out" --force 2>/dev/null
  qemu-img convert -O raw "$img" "$out.qemu"
  cmp -s "$out" "$out.qemu" || { echo "$v: recover and qemu-img wrote different bytes" >&2; exit 1; }
  rm -f "$out" "$out.qemu"
  awk -v v="$v" -v r="$t_rec" -v q="$t_qemu" -v n="$size" -v f="$(stat -c %s "$img")" 'BEGIN {
    printf "%s (%.0f-byte image, %.0f-byte disk): recover %.3f s (%.2f GB/s), qemu-img %.3f s (%.2f GB/s), ratio %.2fx (target >= 1)\n", v, f, n, r, n / r / 1e9, q, n / q / 1e9, q / r
  }'
done
