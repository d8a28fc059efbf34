#!/usr/bin/env python3
"""Seeds for the md, ddf, imsm and raid_group fuzz targets, cut from the
lab corpus (fixtures/lab; default ../target/lab):

  md:         the first 8 KiB of 1.1/1.2 members; the last 64 KiB of 0.90
              members (their superblock sits at the end)
  imsm:       the last 8 KiB of IMSM members (MPB two sectors from the end)
  ddf:        a compact DDF disk: a member's primary header and sections
              moved to the start of a 640 KiB image, the anchor (pointing
              at them, no secondary) in its last sector, CRCs recomputed
              the way mdadm computes them
  raid_group: one byte (member count - 1) then the first 8 KiB of every
              member of a 1.2 scenario
  scan_md, scan_imsm, scan_ddf: the md, imsm and ddf seeds again, for the
              deep scan's validators

usage: seed_raid.py [LABDIR]
"""
import glob, json, os, struct, sys, zlib

lab = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', 'target', 'lab')
out = os.path.join(os.path.dirname(__file__), 'corpus')


def put(target, name, data):
    for t in (target, 'scan_' + target) if target in ('md', 'imsm', 'ddf') else (target,):
        d = os.path.join(out, t)
        os.makedirs(d, exist_ok=True)
        open(os.path.join(d, name), 'wb').write(data)


def head(path, n):
    with open(path, 'rb') as f:
        return f.read(n)


def tail(path, n):
    size = os.path.getsize(path)
    with open(path, 'rb') as f:
        f.seek(max(0, size - n))
        return f.read()


def ddf_crc(buf):
    b = bytearray(buf)
    b[4:8] = b'\xff\xff\xff\xff'
    # raw register from 0, no final inversion == NOT(zlib.crc32 continuing from 0xFFFFFFFF)
    c = (~zlib.crc32(bytes(b), 0xFFFFFFFF)) & 0xFFFFFFFF
    b[4:8] = struct.pack('>I', c)
    return bytes(b)


for man in sorted(glob.glob(os.path.join(lab, 'scenarios', '*', 'manifest.json'))):
    sdir = os.path.dirname(man)
    name = os.path.basename(sdir)
    m = json.load(open(man))
    imgs = [os.path.join(sdir, x['image']) for x in m['members']]
    meta = m['requested'].get('metadata') or m['kind']
    if meta in ('1.1', '1.2') and not m['requested'].get('member_pt'):
        put('md', name + '-m0', head(imgs[0], 8192))
        put('raid_group', name, bytes([len(imgs) - 1]) + b''.join(head(p, 8192) for p in imgs))
    elif meta == '0.90' and not m['requested'].get('member_pt'):
        put('md', name + '-m0', tail(imgs[0], 65536 * 2))
    elif m['kind'] == 'imsm':
        put('imsm', name + '-m0', tail(imgs[0], 8192))
    elif m['kind'] == 'ddf':
        size = os.path.getsize(imgs[0])
        anchor = tail(imgs[0], 512)
        plba = struct.unpack('>Q', anchor[0x60:0x68])[0]
        with open(imgs[0], 'rb') as f:
            f.seek(plba * 512)
            region = f.read(620 * 512)
        img = bytearray(640 * 1024)
        img[:len(region)] = region
        hdr = bytearray(img[:512])
        hdr[0x60:0x68] = struct.pack('>Q', 0)
        hdr[0x68:0x70] = b'\xff' * 8
        img[:512] = ddf_crc(hdr)
        a = bytearray(anchor)
        a[0x60:0x68] = struct.pack('>Q', 0)
        a[0x68:0x70] = b'\xff' * 8
        img[-512:] = ddf_crc(a)
        put('ddf', name + '-compact', bytes(img))
print('seeds written to', out)
