#!/usr/bin/env bash
# Seeds for the lvm fuzz target from the LVM lab corpus (fixtures/lab/
# make-lvm.sh target/lab/lvm): the first 64 KiB of every member (label,
# PV header, metadata area with its ring of texts), two members side by
# side for the VGs that span two PVs, the metadata texts alone, and the
# thin pool's first metadata blocks.
set -euo pipefail
cd "$(dirname "$0")"
LAB=${1:-../target/lab/lvm}
C=corpus/lvm
mkdir -p "$C"
[ -d "$LAB" ] || { echo "seed_lvm.sh: no LVM lab at $LAB" >&2; exit 0; }
for s in "$LAB"/*/; do
  n=$(basename "$s")
  [ -f "$s/m0.img" ] || continue
  # Path 0 takes two PVs of equal length: m0's and m1's heads (or m0 twice).
  m1="$s/m1.img"; [ -f "$m1" ] || m1="$s/m0.img"
  { printf '\0'; head -c 65536 "$s/m0.img"; head -c 65536 "$m1"; } > "$C/$n-pv"
  for t in "$s"/vgcfgbackup-*.txt; do
    [ -f "$t" ] && { printf '\1'; cat "$t"; } > "$C/$n-text"
  done
done
# The thin pool's metadata LV: pool_tmeta, from the manifest's extent map.
t="$LAB/lvm-thin"
if [ -f "$t/manifest.json" ]; then
  off=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); l=[x for x in m["lvs"] if x["name"]=="pool_tmeta"][0]; print(l["segments"][0]["areas"][0]["pv_offset_bytes"])' "$t/manifest.json")
  { printf '\2'; dd if="$t/m0.img" bs=4096 skip=$((off / 4096)) count=3 status=none; head -c 65536 /dev/zero; } > "$C/thin-meta"
fi
ls "$C" | wc -l
