#!/usr/bin/env python3
"""Seeds for fuzz target fs_btrfs: small mkfs.btrfs --rootdir images (a few
files, an inline and a compressible file, a symlink, a directory of many
entries), cut into the patches recover_fuzz::Patches reads (u32 offset,
u16 length, bytes) of their non-zero 4 KiB blocks, with path byte 0 and 1;
plus LZO and parser seeds from the images' own blocks."""
import os, subprocess, sys, tempfile, struct

here = os.path.dirname(os.path.abspath(__file__))
corpus = os.path.join(here, "corpus", "fs_btrfs")
os.makedirs(corpus, exist_ok=True)
if subprocess.call(["sh", "-c", "command -v mkfs.btrfs"], stdout=subprocess.DEVNULL) != 0:
    print("seed_btrfs.py: no mkfs.btrfs, skipping", file=sys.stderr)
    sys.exit(0)

def patches(img):
    out = bytearray()
    with open(img, "rb") as f:
        data = f.read()
    run = None
    for at in range(0, len(data), 4096):
        blk = data[at:at + 4096]
        if blk.count(0) == len(blk):
            if run is not None:
                out += struct.pack("<IH", run[0], len(run[1])) + run[1]
            run = None
            continue
        if run is not None and run[0] + len(run[1]) == at and len(run[1]) + 4096 <= 65535:
            run[1].extend(blk)
        else:
            if run is not None:
                out += struct.pack("<IH", run[0], len(run[1])) + run[1]
            run = [at, bytearray(blk)]
    if run is not None:
        out += struct.pack("<IH", run[0], len(run[1])) + run[1]
    return bytes(out)

with tempfile.TemporaryDirectory() as t:
    for name, nfiles, args in [("small", 3, []), ("many", 300, []), ("sha", 3, ["--csum", "xxhash"])]:
        src = os.path.join(t, "src-" + name)
        os.makedirs(os.path.join(src, "d"))
        for i in range(nfiles):
            with open(os.path.join(src, "d", f"entry-{i:04}"), "wb") as f:
                f.write(bytes([65 + i % 26]) * (i * 37 % 3000))
        with open(os.path.join(src, "text"), "w") as f:
            f.write("the quick brown fox\n" * 2000)
        os.symlink("d/entry-0001", os.path.join(src, "link"))
        img = os.path.join(t, name + ".img")
        with open(img, "wb") as f:
            f.truncate(128 << 20)
        subprocess.check_call(["mkfs.btrfs", "-q", "-f", "-m", "single", *args, "--rootdir", src, img])
        p = patches(img)
        for path in (0, 1):
            with open(os.path.join(corpus, f"{name}-{path}"), "wb") as f:
                f.write(bytes([path]) + p)
        with open(os.path.join(corpus, f"{name}-sb-3"), "wb") as f:
            with open(img, "rb") as g:
                g.seek(0x10000)
                f.write(bytes([3]) + g.read(4096))
# An LZO stream: literals "abcd", a match, the end marker, in Btrfs framing.
s = bytes([21]) + b"abcd" + bytes([38, 12, 0, 0x11, 0, 0])
with open(os.path.join(corpus, "lzo-2"), "wb") as f:
    f.write(bytes([2]) + struct.pack("<II", len(s) + 8, len(s)) + s)
