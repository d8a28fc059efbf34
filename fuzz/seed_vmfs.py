#!/usr/bin/env python3
"""Seeds for fs_vmfs from ESXi's own volumes (the fixture cache's
dissect-*.bin, which the VMFS tests fetch): every non-zero 4 KiB page of the
first 64 MiB of each datastore, as the patches the target reads, for the
filesystem path (0) and, with the LVM header, the gathering path (1); the
descriptor alone for the parsers (2). File data past 64 MiB is left out."""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "target", "fixtures")
OUT = os.path.join(HERE, "corpus", "fs_vmfs")
LV = 0x1100000  # where the samples' single extent starts on the device
PAGE = 4096


def patches(f, base, length):
    out = bytearray()
    f.seek(base)
    left = length
    off = 0
    while left > 0:
        page = f.read(min(PAGE, left))
        if not page:
            break
        if any(page):
            out += struct.pack("<IH", off, len(page)) + page
        off += len(page)
        left -= len(page)
    return bytes(out)


os.makedirs(OUT, exist_ok=True)
n = 0
for name in ("vmfs5", "vmfs6", "vmfs6-resource-optimized", "zero5"):
    path = os.path.join(CACHE, f"dissect-{name}.bin")
    if not os.path.exists(path):
        continue
    with open(path, "rb") as f:
        fs = patches(f, LV, 64 << 20)
        with open(os.path.join(OUT, f"{name}-fs"), "wb") as o:
            o.write(b"\0" + fs)
        dev = patches(f, 0, 2 << 20)
        with open(os.path.join(OUT, f"{name}-lvm"), "wb") as o:
            o.write(b"\1" + dev + dev)
        f.seek(LV + 0x200000)
        with open(os.path.join(OUT, f"{name}-desc"), "wb") as o:
            o.write(b"\2" + f.read(0x200))
        n += 3
print(n)
