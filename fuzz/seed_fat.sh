#!/usr/bin/env bash
# Seeds for fs_fat and fs_exfat: small whole filesystems (256-512 KiB)
# made by the real tools and filled by real writers, into
# fuzz/corpus/fs_fat/ and fuzz/corpus/fs_exfat/.
#
#   fs_fat    FAT12 (mkfs.vfat -F 12) and FAT16 (first 512 KiB of a
#             2.5 MiB -F 16 -s 1) filled with mtools: nested
#             directories, long and short names, a lower-case 8.3 name, a
#             multi-cluster file, a deleted file; and an empty small FAT32
#             (-F 32 -s 1, fewer clusters than the spec wants, laid out as
#             Linux does)
#   fs_exfat  mkfs.exfat -b 4K -c 512, filled through exfat-fuse on a loop
#             device (root, /dev/fuse): contiguous (NoFatChain) files, a
#             fragmented file (FAT chain), a subdirectory, a deleted file
#
# Missing tools are skipped with a note.
set -uo pipefail

cd "$(dirname "$0")"
C=corpus
T=$(mktemp -d)
export PATH="$PATH:/usr/sbin:/sbin"
export TZ=UTC MTOOLS_SKIP_CHECK=1
mkdir -p "$C/fs_fat" "$C/fs_exfat"

note() { echo "seed_fat.sh: $*" >&2; }
have() { command -v "$1" >/dev/null 2>&1 || { note "no $1, skipping"; return 1; }; }

# The files every image gets.
mkdir -p "$T/src/dir/sub" "$T/src/Long Directory Name"
printf 'hello\n' >"$T/src/readme.txt"
printf 'short\n' >"$T/src/dir/sub/A.TXT"
head -c 3000 /dev/urandom >"$T/src/dir/three-clusters.bin"
printf 'x%.0s' $(seq 1 40) >"$T/src/Long Directory Name/a file with a long name.txt"
: >"$T/src/empty"

if have mkfs.vfat && have mcopy; then
    fat() { # name bits size extra-mkfs-args...
        local name=$1 bits=$2 size=$3
        shift 3
        rm -f "$T/$name"
        truncate -s "$size" "$T/$name"
        if mkfs.vfat -F "$bits" -n SEED "$@" "$T/$name" >/dev/null 2>&1 &&
            mcopy -s -m -i "$T/$name" "$T/src/"* ::/ &&
            mcopy -i "$T/$name" "$T/src/readme.txt" ::/deleted.txt &&
            mdel -i "$T/$name" ::/deleted.txt; then
            cp "$T/$name" "$C/fs_fat/$name"
        else
            note "making $name failed"
        fi
    }
    fat fat12 12 256K
    # FAT16 needs 4085 clusters: 2.5 MiB of 512-byte clusters, of which
    # the first 512 KiB (FATs, root, the first files) is the seed.
    fat fat16_whole 16 2560K -s 1
    if [ -f "$C/fs_fat/fat16_whole" ]; then
        head -c 524288 "$C/fs_fat/fat16_whole" >"$C/fs_fat/fat16_head"
        rm -f "$C/fs_fat/fat16_whole"
    fi
    # mtools reads a FAT32 with so few clusters as FAT12 and refuses to
    # write it, so the small FAT32 seed is mkfs.vfat's alone (label, root).
    rm -f "$T/fat32"
    truncate -s 512K "$T/fat32"
    if mkfs.vfat -F 32 -s 1 -n SEED "$T/fat32" >/dev/null 2>&1; then
        cp "$T/fat32" "$C/fs_fat/fat32_empty"
    fi
fi

if have mkfs.exfat && have mount.exfat-fuse && [ "$(id -u)" = 0 ] && [ -e /dev/fuse ]; then
    img="$T/exfat"
    truncate -s 512K "$img"
    if mkfs.exfat -b 4K -c 512 -L seed "$img" >/dev/null 2>&1 && dev=$(losetup --find --show "$img"); then
        mkdir -p "$T/mnt"
        if mount.exfat-fuse "$dev" "$T/mnt" >/dev/null 2>&1; then
            cp -r --preserve=timestamps "$T/src/"* "$T/mnt/"
            # Fragment a file: grow it after another file took the next clusters.
            head -c 1500 /dev/urandom >"$T/mnt/frag.bin"
            head -c 700 /dev/urandom >"$T/mnt/between.bin"
            head -c 1500 /dev/urandom >>"$T/mnt/frag.bin"
            printf 'gone\n' >"$T/mnt/deleted.txt" && rm "$T/mnt/deleted.txt"
            umount "$T/mnt"
            cp "$img" "$C/fs_exfat/exfat"
        else
            note "mount.exfat-fuse failed"
        fi
        losetup -d "$dev"
    else
        note "mkfs.exfat or losetup failed"
    fi
fi
rm -rf "$T"

for d in fs_fat fs_exfat; do
    echo "$d: $(ls "$C/$d" | wc -l) files, $(du -sh "$C/$d" | cut -f1)"
done
