#!/bin/sh
# Rebuilds demo.img, the small disk the README scans: a GPT (sfdisk) with
# FAT12 (mkfs.vfat), ext2 (mkfs.ext2 -d) and swap (mkswap) partitions.
# Needs fdisk, dosfstools, e2fsprogs, util-linux. Output: 960 KiB, committed.
set -eu
cd "$(dirname "$0")"
out=demo.img
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -f "$out"
truncate -s 960K "$out"
sfdisk -q "$out" <<'SF'
label: gpt
label-id: 5EC0E5ED-0000-4000-8000-000000000001
first-lba: 34
start=40, size=512, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="demo fat", uuid=5EC0E5ED-0000-4000-8000-0000000000A1
start=552, size=1024, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="demo ext2", uuid=5EC0E5ED-0000-4000-8000-0000000000A2
start=1576, size=256, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name="demo swap", uuid=5EC0E5ED-0000-4000-8000-0000000000A3
SF
mkdir -p "$tmp/tree/docs"
echo "recovered by recover" > "$tmp/tree/README.txt"
echo "hello" > "$tmp/tree/docs/hello.txt"
truncate -s 256K "$tmp/fat" && mkfs.vfat -F 12 -n DEMO-FAT -i 5EC0E5ED "$tmp/fat" >/dev/null
truncate -s 512K "$tmp/ext2" && mkfs.ext2 -q -b 1024 -L demo-ext2 -U 5ec0e5ed-0000-4000-8000-0000000000e2 -E root_owner=0:0 -d "$tmp/tree" "$tmp/ext2"
truncate -s 128K "$tmp/swap" && mkswap -q -L demo-swap -U 5ec0e5ed-0000-4000-8000-0000000000f3 "$tmp/swap"
dd if="$tmp/fat" of="$out" bs=512 seek=40 conv=notrunc status=none
dd if="$tmp/ext2" of="$out" bs=512 seek=552 conv=notrunc status=none
dd if="$tmp/swap" of="$out" bs=512 seek=1576 conv=notrunc status=none
echo "wrote $out"
