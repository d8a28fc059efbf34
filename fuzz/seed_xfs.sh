#!/usr/bin/env bash
# Seeds for fuzz target fs_xfs: mkfs.xfs -p images of tiny trees, cut to
# the part that holds their metadata and data (mkfs.xfs will not make a
# filesystem under 300 MiB; with 512-byte or 1 KiB blocks and everything
# in allocation group 0 the first 96 KiB are the whole story; 640 KiB for
# the btree seed). The
# reader works on a cut image: what lies past the end fails on its own.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/sbin:/sbin"
command -v mkfs.xfs >/dev/null || { echo "seed_xfs.sh: no mkfs.xfs, skipping" >&2; exit 0; }
C=corpus/fs_xfs
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$C" "$T/src"
for i in 1 2 3; do head -c $((i * 700)) /dev/zero | tr '\0' "$i" > "$T/src/f$i"; done
long=$(for i in $(seq -w 0 59); do printf 'segment-%s/' "$i"; done)
# root: short form with a few entries; root2: a leaf directory (the root
# stays in group 0, where subdirectories would not).
{
    echo seed; echo 0 0; echo "d--755 0 0"
    echo " f1 ---644 0 0 $T/src/f1"
    echo " f2 ---644 0 0 $T/src/f2"
    echo " link l--777 0 0 f1"
    echo " longlink l--777 0 0 $long"
    echo '$'
} > "$T/proto-small"
{
    echo seed; echo 0 0; echo "d--755 0 0"
    for i in $(seq -w 1 90); do echo " entry-$i-with-a-long-name ---644 0 0 $T/src/f$((10#$i % 3 + 1))"; done
    echo '$'
} > "$T/proto-leaf"
# btree: 700 entries, each with a one-block file, so the root's directory
# blocks interleave with file data and its block map becomes a btree (on
# v4 with 512-byte blocks, all in the first 640 KiB).
head -c 300 /dev/zero | tr '\0' b > "$T/src/g"
{
    echo seed; echo 0 0; echo "d--755 0 0"
    for i in $(seq -w 1 700); do echo " entry-$i-with-a-long-name-to-fill-directory-blocks ---644 0 0 $T/src/g"; done
    echo '$'
} > "$T/proto-btree"
rm -f "$T/img"; truncate -s 300M "$T/img"
mkfs.xfs -q -f -d agcount=2 -b size=512 -m crc=0 -p "$T/proto-btree" "$T/img" 2>/dev/null
head -c $((640 << 10)) "$T/img" > "$C/seed-btree-v4"
n=0
for proto in small leaf; do
    for opts in "-b size=1024 -m crc=1" "-b size=1024 -m crc=1 -i nrext64=1" "-b size=512 -m crc=0 -n ftype=0" "-b size=512 -m crc=0 -n ftype=1"; do
        n=$((n + 1))
        rm -f "$T/img"; truncate -s 300M "$T/img"
        # shellcheck disable=SC2086
        mkfs.xfs -q -f -d agcount=2 $opts -p "$T/proto-$proto" "$T/img"
        head -c $((96 << 10)) "$T/img" > "$C/seed-$proto-$n"
    done
done
ls -l "$C" | head
