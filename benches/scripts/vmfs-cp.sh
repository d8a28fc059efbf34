#!/usr/bin/env bash
# Files out of VMFS datastores made by ESXi (dissect.vmfs's vmfs5 and vmfs6
# samples), against plain files holding the same bytes, in one run, on the
# same page-cached inputs, into the same sink (tmpfs when there is one),
# best of five each (of two for the 69 GiB reads):
#   1. `recover cp SAMPLE --at vmfs/vmfsN/vmfsN:/bigger` (128 MiB in 1 MiB
#      file blocks) against `cat` of a plain copy of it into the same place;
#   2. the 69 GiB thin `normal-flat.vmdk` (pointer blocks; one block
#      written): `recover cat` of all of it to /dev/null against `cat` of a
#      sparse plain file of that size to /dev/null, and `recover cp` of it
#      (holes kept) against GNU `cp --sparse=always` of the plain file.
# Ratios are plain time over recover's time (above 1: recover is faster).
# usage: benches/scripts/vmfs-cp.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cargo build --release -q -p recover-benches --bin vmfs_sample
cargo build --release -q -p recover-cli
R=$root/target/release/recover
sink=$(mktemp -d "${TMPDIR_SINK:-/dev/shm}/vmfs-bench.XXXX" 2>/dev/null || mktemp -d)
plain=$(mktemp -d "${TMPDIR_SINK:-/dev/shm}/vmfs-plain.XXXX" 2>/dev/null || mktemp -d "$root/target/fixtures/vmfs-bench.XXXX")
trap 'rm -rf "$sink" "$plain"' EXIT
now() { date +%s%N; }
best() { # N command... -> best of N in ns
  local n=$1 b=0 t0 t; shift
  for _ in $(seq "$n"); do
    rm -f "$sink/out"
    t0=$(now); "$@" > /dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
    t=$(( $(now) - t0 )); { [ $b = 0 ] || [ $t -lt $b ]; } && b=$t
  done
  echo $b
}
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
ms() { python3 -c "print(f'{$1 / 1e6:.1f} ms')"; }
for v in vmfs5 vmfs6; do
  img=$(./target/release/vmfs_sample "$v")
  fs=vmfs/$v/$v
  "$R" cat "$img" --at "$fs:/bigger" > "$plain/bigger"
  cat "$img" "$plain/bigger" > /dev/null   # page cache
  tr=$(best 5 "$R" cp "$img" --at "$fs:/bigger" -o "$sink/out")
  tc=$(best 5 sh -c "cat '$plain/bigger' > '$sink/out'")
  echo "$v: cp bigger (128 MiB): recover $(ms $tr), cat $(ms $tc), ratio $(ratio $tc $tr)"
  truncate -s 69G "$plain/thin"
  tr=$(best 2 sh -c "'$R' cat '$img' --at '$fs:/normal-flat.vmdk' > /dev/null")
  tc=$(best 2 sh -c "cat '$plain/thin' > /dev/null")
  echo "$v: all of the 69 GiB thin normal-flat.vmdk to /dev/null: recover cat $(ms $tr), cat $(ms $tc), ratio $(ratio $tc $tr)"
  tr=$(best 5 "$R" cp "$img" --at "$fs:/normal-flat.vmdk" -o "$sink/out")
  tc=$(best 5 cp --sparse=always "$plain/thin" "$sink/out")
  echo "$v: cp of it (holes kept): recover $(ms $tr), cp --sparse=always $(ms $tc), ratio $(ratio $tc $tr)"
  rm -f "$plain/thin"
done
