#!/usr/bin/env python3
"""Seeds for the nbd target in corpus/nbd/: what real clients send (the
client flags, then options, then requests), in the shapes nbdinfo, nbdcopy
and qemu-nbd's clients use, so the fuzzer starts past the magics."""
import os
import struct

C = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "nbd")
os.makedirs(C, exist_ok=True)

IHAVEOPT = b"IHAVEOPT"


def opt(code, data=b""):
    return IHAVEOPT + struct.pack(">II", code, len(data)) + data


def s32(b):
    return struct.pack(">I", len(b)) + b


def go(name, infos=()):
    return s32(name) + struct.pack(">H", len(infos)) + b"".join(struct.pack(">H", i) for i in infos)


def meta(name, queries):
    return s32(name) + struct.pack(">I", len(queries)) + b"".join(s32(q) for q in queries)


def req(cmd, off, length, flags=0, cookie=1, payload=b""):
    return struct.pack(">IHHQQI", 0x25609513, flags, cmd, cookie, off, length) + payload


seeds = {
    "list-info": struct.pack(">I", 3) + opt(3) + opt(6, go(b"d0/qcow2", (0, 1, 2, 3))) + opt(2),
    "go-simple-reads": struct.pack(">I", 3)
    + opt(7, go(b"", (3,)))
    + req(0, 0, 4096)
    + req(0, 100, 7)
    + req(3, 0, 0)
    + req(1, 0, 16, payload=b"\x42" * 16)
    + req(4, 0, 512)
    + req(2, 0, 0),
    "structured-block-status": struct.pack(">I", 1)
    + opt(8)
    + opt(9, meta(b"d0/qcow2", []))
    + opt(10, meta(b"d0/qcow2", [b"base:allocation"]))
    + opt(7, go(b"d0/qcow2", (1, 3)))
    + req(7, 0, 1 << 20)
    + req(7, 8000, 600, flags=8)
    + req(0, 4096, 65536)
    + req(0, 0, 1 << 20)
    + req(5, 0, 4096)
    + req(2, 0, 0),
    "export-name": struct.pack(">I", 1) + opt(1, b"d0/gpt/p1") + req(0, 0, 16) + req(2, 0, 0),
    "unsupported": struct.pack(">I", 3) + opt(5) + opt(99, b"xx") + opt(3, b"x") + opt(2),
}
for name, data in seeds.items():
    with open(os.path.join(C, name), "wb") as f:
        f.write(data)
print(f"seed_nbd.py: {len(seeds)} seeds in {C}")
