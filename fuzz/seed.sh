#!/usr/bin/env bash
# Builds small seed inputs for the fuzz targets into fuzz/corpus/<target>/,
# with the real tools (sfdisk, sgdisk, mkfs.*, mkntfs, mkswap, cryptsetup).
# Tools that are missing or fail are skipped with a note. Re-running
# overwrites the seeds (the fuzzers' own finds in corpus/ are kept).
#
#   mbr       compact MBR disks with an extended partition and 3 logicals,
#             on 512- and 4096-byte sectors; protective and hybrid MBRs
#   gpt       whole 1 MiB GPT disks (both copies), 512 and 4096 sectors
#   fs_probe  the first 68 KiB (0..0x11000) of freshly made filesystems
#   discover  all of the above plus disks whose partitions hold filesystems
#   scan_*    the deep scan's validators: the seeds above of their formats;
#             qemu-img's images for the VM formats (whole, or the first
#             and last 256 KiB); deep_scan gets the discover seeds
#   (seed_raid.py seeds scan_md, scan_ddf and scan_imsm)
set -uo pipefail

cd "$(dirname "$0")"
C=corpus
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$C/mbr" "$C/gpt" "$C/fs_probe" "$C/discover"

HEAD=$((0x11000)) # btrfs's superblock sits at 64 KiB and is 4 KiB long
export PATH="$PATH:/usr/sbin:/sbin"
Q=(--no-reread --no-tell-kernel -q)

note() { echo "seed.sh: $*" >&2; }
have() { command -v "$1" >/dev/null 2>&1 || { note "no $1, skipping"; return 1; }; }
blank() { rm -f "$1"; truncate -s "$2" "$1"; }
# put FILE SEED...: copies FILE into each corpus named.
put() {
    local f=$1
    shift
    for d in "$@"; do cp "$f" "$C/$d"; done
}
# Moves 512-byte sectors to the same LBA in 4096-byte units: turns a table
# that sfdisk wrote in 512-byte LBAs into a 4Kn disk (LBAs are unit-free).
to4k() {
    local src=$1 dst=$2 size=$3
    shift 3
    blank "$dst" "$size"
    for lba in "$@"; do
        dd if="$src" of="$dst" bs=512 skip="$lba" seek=$((lba * 8)) count=1 conv=notrunc status=none
    done
}

# --- filesystems: 68 KiB heads -------------------------------------------
mkfs_head() { # name size command... (the image path is appended)
    local name=$1 size=$2
    shift 2
    have "$1" || return 0
    blank "$T/fs" "$size"
    if "$@" "$T/fs" >/dev/null 2>&1; then
        head -c "$HEAD" "$T/fs" >"$T/$name.head"
        put "$T/$name.head" fs_probe/"$name" discover/"fs_$name"
    else
        note "$1 failed for $name"
    fi
}
mkfs_head ext2 1M mkfs.ext2 -q -F -L ext2lab
mkfs_head ext3 8M mkfs.ext3 -q -F -L ext3lab
mkfs_head ext4 1M mkfs.ext4 -q -F -L ext4lab
mkfs_head ext4_4k 8M mkfs.ext4 -q -F -b 4096 -O 64bit,metadata_csum
mkfs_head ext4_nocsum 1M mkfs.ext4 -q -F -O ^metadata_csum
mkfs_head xfs 300M mkfs.xfs -q -f -L xfslab
mkfs_head xfs_4k 300M mkfs.xfs -q -f -s size=4096
mkfs_head btrfs 120M mkfs.btrfs -q -f -L btrfslab
mkfs_head fat12 1M mkfs.vfat -n FAT12LAB
mkfs_head fat16 16M mkfs.vfat -F 16 -n FAT16LAB
mkfs_head fat32 40M mkfs.vfat -F 32 -n FAT32LAB
mkfs_head fat16_4k 64M mkfs.vfat -F 16 -S 4096
mkfs_head exfat 1M mkfs.exfat -b 4096 -L exlab
mkfs_head exfat_8m 8M mkfs.exfat
mkfs_head ntfs 2M mkntfs -q -F -Q -L ntfslab
mkfs_head ntfs_4k 8M mkntfs -q -F -Q -s 4096 -c 8192
mkfs_head swap 1M mkswap -L swaplab
mkfs_head swap_64k 1M mkswap -p 65536
if have cryptsetup; then
    printf pw >"$T/key"
    mkfs_head luks1 4M cryptsetup luksFormat -q --type luks1 --pbkdf-force-iterations 1000 --key-file "$T/key"
    mkfs_head luks2 20M cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --label lukslab --key-file "$T/key"
fi
# pvcreate and mdadm --create want block devices: no LVM or md seeds.

# --- MBR ------------------------------------------------------------------
if have sfdisk; then
    # 128 sectors: a primary, an extended partition at 24 with EBRs at
    # 24, 36 and 48 holding three logicals.
    blank "$T/m512" 64K
    sfdisk "${Q[@]}" "$T/m512" <<'EOF' >/dev/null
label: dos
label-id: 0x12345678
start=8, size=16, type=83, bootable
start=24, size=100, type=5
start=26, size=10, type=83
start=38, size=10, type=82
start=50, size=20, type=7
EOF
    put "$T/m512" mbr/ebr_512 discover/mbr_ebr_512
    # The same table on 4096-byte sectors (EBRs at 24, 36, 48 again).
    to4k "$T/m512" "$T/m4k" 512K 0 24 36 48
    put "$T/m4k" mbr/ebr_4k discover/mbr_ebr_4k
    # LBA-type extended partition (0x0f), logicals back to back.
    blank "$T/mf" 64K
    sfdisk "${Q[@]}" "$T/mf" <<'EOF' >/dev/null
label: dos
start=2, size=120, type=f
start=4, size=8, type=c
start=13, size=8, type=83
start=22, size=8, type=83
EOF
    put "$T/mf" mbr/ebr_0f discover/mbr_ebr_0f
fi

# --- GPT ------------------------------------------------------------------
if have sgdisk; then
    blank "$T/g" 1M
    sgdisk -a 8 -U 11111111-2222-3333-4444-555555555555 \
        -n 1:40:+256K -t 1:8300 -c 1:root \
        -n 2:0:+128K -t 2:ef00 -c 2:EFI \
        -n 3:0:0 -t 3:8200 -A 3:set:2 "$T/g" >/dev/null
    put "$T/g" gpt/gpt_512 discover/gpt_512
    head -c 512 "$T/g" >"$T/pmbr" && put "$T/pmbr" mbr/protective
    # Four-entry array: the smallest table sgdisk writes.
    cp "$T/g" "$T/g4" && sgdisk -S 4 "$T/g4" >/dev/null && put "$T/g4" gpt/gpt_4entries discover/gpt_4entries
    # 1024-entry array: room for many partitions.
    blank "$T/g1k" 1M
    sgdisk -S 1024 -a 8 -n 1:0:+128K -t 1:8300 -n 2:0:+128K -t 2:0700 "$T/g1k" >/dev/null &&
        put "$T/g1k" gpt/gpt_1024entries discover/gpt_1024entries
    # Hybrid MBR mirroring partitions 1 and 2.
    cp "$T/g" "$T/gh" && sgdisk -h 1:2 "$T/gh" >/dev/null && put "$T/gh" gpt/gpt_hybrid discover/gpt_hybrid
    head -c 512 "$T/gh" >"$T/hmbr" && put "$T/hmbr" mbr/hybrid
    # Primary header wiped: only the backup at the last LBA is left.
    cp "$T/g" "$T/gb" && dd if=/dev/zero of="$T/gb" bs=512 seek=1 count=1 conv=notrunc status=none
    put "$T/gb" gpt/gpt_backup_only discover/gpt_backup_only
    # The header sector alone, for parse_header.
    dd if="$T/g" of="$T/ghdr" bs=512 skip=1 count=1 status=none && put "$T/ghdr" gpt/header_only
    # A 4Kn GPT: sgdisk reads files with 512-byte sectors, so re-lay the
    # sgdisk table (same entries, LBAs scaled by 1/8) on 4096-byte sectors.
    if have python3; then
        python3 - "$T/g4" "$T/g4k" <<'EOF' && put "$T/g4k" gpt/gpt_4k discover/gpt_4k
import struct, sys, zlib
src = open(sys.argv[1], "rb").read()
ss, n_sect = 4096, 256
hdr = src[512:512 + 92]
n, es = struct.unpack_from("<II", hdr, 80)
arr = bytearray(src[1024:1024 + n * es])
arr_sect = -(-len(arr) // ss)
first, last = 2 + arr_sect, n_sect - 2 - arr_sect
for i in range(n):
    e = i * es
    if arr[e:e + 16] == bytes(16):
        continue
    a, b = struct.unpack_from("<QQ", arr, e + 32)
    a, b = max(first, -(-a // 8)), min(last, (b + 1) // 8 - 1)
    struct.pack_into("<QQ", arr, e + 32, a, b)
d = bytearray(ss * n_sect)
d[:512] = src[:512]
struct.pack_into("<I", d, 446 + 12, n_sect - 1)  # protective entry size
def header(my, alt, entries):
    h = bytearray(hdr)
    struct.pack_into("<QQQQ", h, 24, my, alt, first, last)
    struct.pack_into("<Q", h, 72, entries)
    struct.pack_into("<I", h, 88, zlib.crc32(arr))
    struct.pack_into("<I", h, 16, 0)
    struct.pack_into("<I", h, 16, zlib.crc32(h))
    return h
d[ss:ss + 92] = header(1, n_sect - 1, 2)
d[2 * ss:2 * ss + len(arr)] = arr
b = n_sect - 1 - arr_sect
d[b * ss:b * ss + len(arr)] = arr
d[(n_sect - 1) * ss:(n_sect - 1) * ss + 92] = header(n_sect - 1, 1, b)
open(sys.argv[2], "wb").write(d)
EOF
    fi
fi

# --- discover: disks whose partitions hold filesystems ----------------------
# fill IMG START_LBA SIZE mkfs...: makes a filesystem of SIZE and writes it
# into IMG at START_LBA (512-byte sectors).
fill() {
    local img=$1 start=$2 size=$3
    shift 3
    have "$1" || return 0
    blank "$T/part" "$size"
    "$@" "$T/part" >/dev/null 2>&1 || { note "$1 failed"; return 0; }
    dd if="$T/part" of="$img" bs=512 seek="$start" conv=notrunc status=none
}
if have sfdisk; then
    # 1 MiB: FAT12 and ext4 primaries, an extended partition with a swap
    # and an ext2 logical.
    blank "$T/dm" 1M
    sfdisk "${Q[@]}" "$T/dm" <<'EOF' >/dev/null
label: dos
start=64, size=512, type=1
start=576, size=512, type=83
start=1088, size=960, type=5
start=1090, size=300, type=82
start=1400, size=600, type=83
EOF
    fill "$T/dm" 64 256K mkfs.vfat -n MBRFAT
    fill "$T/dm" 576 256K mkfs.ext4 -q -F -b 1024 -L mbrext4
    fill "$T/dm" 1090 150K mkswap -L mbrswap
    fill "$T/dm" 1400 300K mkfs.ext2 -q -F -L logical
    put "$T/dm" discover/mbr_with_fs
fi
if have sgdisk; then
    blank "$T/dg" 1M
    sgdisk -a 8 -n 1:40:+384K -t 1:8300 -c 1:data -n 2:0:+256K -t 2:ef00 \
        -n 3:0:0 -t 3:8200 "$T/dg" >/dev/null
    fill "$T/dg" 40 384K mkfs.ext4 -q -F -b 1024 -L gptext4
    fill "$T/dg" 808 256K mkfs.vfat -n GPTFAT
    fill "$T/dg" 1320 300K mkswap -L gptswap
    put "$T/dg" discover/gpt_with_fs
fi

# --- deep-scan validators --------------------------------------------------
# scan TARGET SEED...: the named seeds (globs under corpus/) into TARGET;
# not the fuzzers' own finds (named by their SHA-1).
scan() {
    local t=$1 f
    shift
    mkdir -p "$C/$t"
    for g in "$@"; do
        for f in $C/$g; do
            [[ -f $f && ! $(basename "$f") =~ ^[0-9a-f]{40}$ ]] && cp "$f" "$C/$t/"
        done
    done
    return 0
}
scan scan_ext 'fs_probe/ext*'
scan scan_xfs 'fs_probe/xfs*'
scan scan_btrfs 'fs_probe/btrfs*'
scan scan_ntfs 'fs_probe/ntfs*'
scan scan_exfat 'fs_probe/exfat*'
scan scan_fat 'fs_probe/fat*'
scan scan_swap 'fs_probe/swap*'
scan scan_luks 'fs_probe/luks*'
scan scan_lvm 'fs_probe/ext4'
scan scan_mbr 'mbr/*'
scan scan_gpt 'gpt/*'
scan deep_scan 'discover/*'
if have qemu-img; then
    vm() { # target name format options...
        local t=$1 n=$2 f=$3
        shift 3
        rm -f "$T/vm"
        qemu-img create -q -f "$f" "$@" "$T/vm" 4M || { note "qemu-img $f failed"; return 0; }
        if [ "$(stat -c %s "$T/vm")" -le 524288 ]; then
            cp "$T/vm" "$T/vm.seed"
        else
            { head -c 262144 "$T/vm"; tail -c 262144 "$T/vm"; } >"$T/vm.seed"
        fi
        mkdir -p "$C/$t" && cp "$T/vm.seed" "$C/$t/$n"
        cp "$T/vm.seed" "$C/deep_scan/vm_$n"
    }
    vm scan_qcow2 qcow2 qcow2
    vm scan_qcow2 qcow2_v2 qcow2 -o compat=0.10
    vm scan_vmdk vmdk_sparse vmdk
    vm scan_vmdk vmdk_streamopt vmdk -o subformat=streamOptimized
    vm scan_vhd vhd_dynamic vpc
    vm scan_vhd vhd_fixed vpc -o subformat=fixed
    vm scan_vhdx vhdx vhdx
    vm scan_vdi vdi vdi
    vm scan_vdi vdi_static vdi -o static=on
    # A descriptor file: monolithicFlat writes it beside the flat extent.
    rm -f "$T"/flat*
    if qemu-img create -q -f vmdk -o subformat=monolithicFlat "$T/flat.vmdk" 1M; then
        mkdir -p "$C/scan_vmdk_descriptor" && cp "$T/flat.vmdk" "$C/scan_vmdk_descriptor/descriptor"
    fi
    # The sparse header's embedded descriptor.
    cp "$C/scan_vmdk/vmdk_sparse" "$C/scan_vmdk_descriptor/" 2>/dev/null || true
fi

for d in mbr gpt fs_probe discover deep_scan $(cd "$C" && ls -d scan_*); do
    echo "$d: $(ls "$C/$d" | wc -l) files, $(du -sh "$C/$d" | cut -f1)"
done

# fs_ext4: small whole ext2/3/4 images filled by mke2fs -d (a few files, a
# subdirectory, a symlink, a sparse file), in the variants the reader
# handles: block maps, extents with metadata_csum, 1 KiB blocks, inline data.
if have mke2fs; then
    mkdir -p "$C/fs_ext4" "$T/tree/sub"
    printf 'hello\n' > "$T/tree/a.txt"
    head -c 20000 /dev/urandom > "$T/tree/sub/b.bin"
    truncate -s 70000 "$T/tree/sparse"
    printf 'x' >> "$T/tree/sparse"
    for i in $(seq 1 40); do : > "$T/tree/sub/file-with-a-long-name-$i"; done
    ln -sf sub/b.bin "$T/tree/link"
    ln -sf "$(printf 'long/%.0s' $(seq 1 20))target" "$T/tree/longlink"
    for v in "ext2:" "ext3:" "ext4:" "ext4:-O inline_data" "ext4:-O ^metadata_csum,^64bit"; do
        t=${v%%:*}; o=${v#*:}
        blank "$T/e.img" 256K
        # shellcheck disable=SC2086
        mke2fs -q -F -t "$t" -b 1024 -N 64 $o -d "$T/tree" "$T/e.img" 2>/dev/null \
            && cp "$T/e.img" "$C/fs_ext4/$t-$(echo "$o" | tr -dc 'a-z_')" \
            || note "mke2fs -t $t $o failed"
    done
fi

# fs_ntfs: small NTFS images written by ntfs-3g (needs root and /dev/fuse):
# files, a subdirectory with enough entries for an index block, a symlink,
# a compressed file, an alternate data stream.
if have mkntfs && have ntfs-3g && [ "$(id -u)" = 0 ] && [ -e /dev/fuse ]; then
    mkdir -p "$C/fs_ntfs" "$T/nm"
    blank "$T/n.img" 2M
    if mkntfs -q -F -f -c 512 "$T/n.img" >/dev/null 2>&1 \
        && ntfs-3g "$T/n.img" "$T/nm" -o streams_interface=xattr; then
        printf 'hello\n' > "$T/nm/a.txt"
        mkdir "$T/nm/sub"
        for i in $(seq 1 30); do printf '%s' "$i" > "$T/nm/sub/entry-with-a-long-name-$i"; done
        ln -s sub/entry-with-a-long-name-1 "$T/nm/link"
        mkdir "$T/nm/c"
        setfattr -n system.ntfs_attrib_be -v 0x00000810 "$T/nm/c" 2>/dev/null
        yes 'compress me' | head -c 20000 > "$T/nm/c/text"
        setfattr -n user.s -v stream "$T/nm/a.txt" 2>/dev/null
        umount "$T/nm"
        cp "$T/n.img" "$C/fs_ntfs/small"
    else
        note "mkntfs/ntfs-3g failed"
    fi
fi

# image_qcow2: small whole images from qemu-img and qemu-io: plain v2 and
# v3, deflate- and zstd-compressed, extended L2, an internal snapshot.
if have qemu-img && have qemu-io; then
    mkdir -p "$C/image_qcow2"
    blank "$T/q.raw" 256K
    printf 'some data at the start' | dd of="$T/q.raw" conv=notrunc status=none
    yes 'compressible line' | head -c 70000 | dd of="$T/q.raw" bs=1 seek=100000 conv=notrunc status=none
    for v in "v2:-o compat=0.10,cluster_size=4k" "v3:-o compat=1.1,cluster_size=4k" \
             "deflate:-c -o cluster_size=4k" "zstd:-c -o compression_type=zstd,cluster_size=4k" \
             "extl2:-o extended_l2=on,cluster_size=16k"; do
        n=${v%%:*}; o=${v#*:}
        # shellcheck disable=SC2086
        qemu-img convert -f raw -O qcow2 $o "$T/q.raw" "$C/image_qcow2/$n" \
            || note "qemu-img convert $o failed"
    done
    cp "$C/image_qcow2/v3" "$T/s.qcow2" && qemu-img snapshot -c snap "$T/s.qcow2" \
        && qemu-io -c 'write -P 0x5a 8k 4k' "$T/s.qcow2" >/dev/null && cp "$T/s.qcow2" "$C/image_qcow2/snapshot"
fi

# image_vhd_vdi: small VHD and VDI images from qemu-img (first byte: 0 VHD,
# 1 VDI).
if have qemu-img; then
    mkdir -p "$C/image_vhd_vdi"
    blank "$T/v.raw" 3M
    printf 'data at the start' | dd of="$T/v.raw" conv=notrunc status=none
    printf 'data past 2 MiB' | dd of="$T/v.raw" bs=1 seek=2097200 conv=notrunc status=none
    for v in "0:vpc:subformat=dynamic" "0:vpc:subformat=fixed" "1:vdi:static=off" "1:vdi:static=on"; do
        b=${v%%:*}; r=${v#*:}; f=${r%%:*}; o=${r#*:}
        if qemu-img convert -f raw -O "$f" -o "$o" "$T/v.raw" "$T/v.img"; then
            { printf "\\x0$b"; cat "$T/v.img"; } > "$C/image_vhd_vdi/$f-${o#*=}"
        else
            note "qemu-img convert -O $f -o $o failed"
        fi
    done
fi

# image_vmdk: small VMDKs from qemu-img (first byte 0: one file; 1: a
# descriptor, its length as two bytes, then the extent it names).
if have qemu-img; then
    mkdir -p "$C/image_vmdk"
    blank "$T/k.raw" 384K
    printf 'data at the start' | dd of="$T/k.raw" conv=notrunc status=none
    yes 'compressible line' | head -c 70000 | dd of="$T/k.raw" bs=1 seek=200000 conv=notrunc status=none
    for s in monolithicSparse streamOptimized monolithicFlat twoGbMaxExtentSparse twoGbMaxExtentFlat; do
        rm -rf "$T/k" && mkdir -p "$T/k"
        if ! qemu-img convert -f raw -O vmdk -o subformat=$s "$T/k.raw" "$T/k/d.vmdk"; then
            note "qemu-img convert -o subformat=$s failed"
            continue
        fi
        extent=$(find "$T/k" -name 'd-*.vmdk' | head -n 1)
        if [ -z "$extent" ]; then
            { printf '\x00'; cat "$T/k/d.vmdk"; } > "$C/image_vmdk/$s"
        else
            n=$(stat -c %s "$T/k/d.vmdk")
            { printf '\x01'; printf "\\x$(printf %02x $((n % 256)))\\x$(printf %02x $((n / 256)))"
              cat "$T/k/d.vmdk" "$extent"; } > "$C/image_vmdk/$s"
        fi
    done
fi

# image_vmdk_cowd, image_vmdk_sesparse: no tool here writes ESXi's delta
# extents; the fixtures' builder does (cargo test -p recover-core --test
# image_vmdk puts them in ../target/fixtures). COWD extents whole (a few
# hundred KiB); SESPARSE ones cut to their first 256 KiB (headers, grain
# directory and tables, the first grains), or they would be 32 MiB.
# Their descriptors go to image_vmdk, each followed by its extent.
F=${RECOVER_FIXTURES_DIR:-../target/fixtures}
if compgen -G "$F/esx-delta-*" >/dev/null; then
    mkdir -p "$C/image_vmdk" "$C/image_vmdk_cowd" "$C/image_vmdk_sesparse"
    for d in "$F"/esx-delta-*; do
        n=$(basename "$d")
        if [ -f "$d/base-000001-delta.vmdk" ]; then
            cp "$d/base-000001-delta.vmdk" "$C/image_vmdk_cowd/$n"
            extent="$d/base-000001-delta.vmdk"
        else
            head -c 262144 "$d/base-000001-sesparse.vmdk" > "$C/image_vmdk_sesparse/$n"
            extent="$C/image_vmdk_sesparse/$n"
        fi
        m=$(stat -c %s "$d/base-000001.vmdk")
        { printf '\x01'; printf "\\x$(printf %02x $((m % 256)))\\x$(printf %02x $((m / 256)))"
          cat "$d/base-000001.vmdk" "$extent"; } > "$C/image_vmdk/$n"
    done
else
    note "no ESXi delta fixtures in $F (run the image_vmdk tests first)"
fi

# image_vhdx: small VHDX images from qemu-img and qemu-io (dynamic with
# 1 MiB blocks, fixed, one whose current header names the log qemu left
# after a write), as patches over zeros (see the target): each non-zero
# run of the image as offset u32, length u16, bytes; then its last byte.
if have qemu-img && have qemu-io && have python3; then
    mkdir -p "$C/image_vhdx"
    patches() {
        python3 - "$1" "$2" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
out, i = bytearray(), 0
while i < len(b):
    if b[i] == 0:
        i += 1
        continue
    j = i
    while j < len(b) and j - i < 65535 and any(b[j:j + 32]):
        j += 1
    out += struct.pack("<IH", i, j - i) + b[i:j]
    i = j
out += struct.pack("<IH", len(b) - 1, 1) + b[-1:]
open(sys.argv[2], "wb").write(out)
PY
    }
    qemu-img create -q -f vhdx -o block_size=1M "$T/d.vhdx" 4M
    cp "$T/d.vhdx" "$T/before.vhdx"
    qemu-io -c 'write -P 0x5a 100k 4k' -c 'write -P 0x33 3M 4k' "$T/d.vhdx" >/dev/null
    patches "$T/d.vhdx" "$C/image_vhdx/dynamic"
    qemu-img create -q -f vhdx -o subformat=fixed,block_size=1M "$T/f.vhdx" 2M
    patches "$T/f.vhdx" "$C/image_vhdx/fixed"
    # The log left to replay: the BAT as it was before the write, the
    # current header naming the log (its GUID from the log entry at 1 MiB).
    python3 - "$T/before.vhdx" "$T/d.vhdx" "$T/dirty.vhdx" <<'PY'
import struct, sys
before, b = open(sys.argv[1], "rb").read(), bytearray(open(sys.argv[2], "rb").read())
def crc32c(d):
    c = 0xFFFFFFFF
    for x in d:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFF
h = 0x20000 if struct.unpack_from("<Q", b, 0x20008) > struct.unpack_from("<Q", b, 0x10008) else 0x10000
ll, lo = struct.unpack_from("<IQ", b, h + 68)
for s in range(0x30000, len(before), 4096):
    if not lo <= s < lo + ll:
        b[s:s + 4096] = before[s:s + 4096]
b[h + 48:h + 64] = b[lo + 32:lo + 48]
b[h + 4:h + 8] = bytes(4)
b[h + 4:h + 8] = struct.pack("<I", crc32c(b[h:h + 4096]))
open(sys.argv[3], "wb").write(b)
PY
    patches "$T/dirty.vhdx" "$C/image_vhdx/dirty_log"
fi
