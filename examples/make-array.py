#!/usr/bin/env python3
"""Rebuilds examples/array/: three of the four members of a RAID5 made by the
real md driver and mdadm, the fourth left out, as the drives of a failed
server arrive. The README's first commands run on them.

Inside the array (md metadata 1.0, left-symmetric, 16 KiB chunks, 4
members of 1000 KiB): an MBR (sfdisk) with one Linux partition holding ext2
(mkfs.ext2 -d in the guest) with a few files and a VM disk image,
vm/guest.qcow2 (qemu-img convert of a 512 KiB raw disk: GPT by sfdisk, one
partition, ext2 by mkfs.ext2 -d with the guest's files).

The md driver runs in the lab's user-mode Linux guest (fixtures/lab: its
guest-init.sh and mdlab.py's runner). Writes examples/array/m0.img,
m1.img, m3.img (each under 1 MiB, committed) and SHA256SUMS: the SHA-256
of the array as the md driver served it (/dev/md0, before a member was
taken away), of the guest's virtual disk, and of every file, the oracle of
recover-cli/tests/example.rs.

usage (as root, from the repository):
    eval "$(fixtures/lab/uml.sh target/uml)"
    python3 examples/make-array.py
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'fixtures', 'lab'))
import mdlab  # noqa: E402

MEMBER = 1000 * 1024          # under 1 MiB, a multiple of 4 KiB
LEFT_OUT = 2                  # the member that "failed"
HOST_FILES = {
    'README.txt': b'Shipped from the failed file server. The VM disk is in vm/.\n',
    'docs/inventory.txt': b''.join(b'rack 4, slot %d: disk %02d\n' % (i % 12, i) for i in range(200)),
    'docs/chunk-edge.bin': bytes((i * 7 + 3) % 251 for i in range(40 * 1024)),
}
GUEST_FILES = {
    'etc/hostname': b'web01\n',
    'home/admin/notes.txt': b'The backup job stopped in March. Nobody noticed.\n',
    'var/www/index.html': b'<html><body>It works, from inside a rebuilt RAID5.</body></html>\n',
}


def sh(*args, **kw):
    print('+', ' '.join(args), flush=True)
    subprocess.run(args, check=True, **kw)


def tree(d, files):
    for rel, data in files.items():
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, 'wb') as f:
            f.write(data)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def guest_disk(work):
    """vm/guest.qcow2: GPT, one partition, ext2 with GUEST_FILES."""
    raw = os.path.join(work, 'guest.raw')
    with open(raw, 'wb') as f:
        f.truncate(512 * 1024)
    sh('sfdisk', '-q', raw, input=b'label: gpt\nlabel-id: 5EC0E5ED-0000-4000-8000-00000000A001\n'
       b'start=40, size=940, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="guest root"\n')
    fs = os.path.join(work, 'guest.ext2')
    with open(fs, 'wb') as f:
        f.truncate(940 * 512 // 1024 * 1024)
    gt = os.path.join(work, 'guest-tree')
    tree(gt, GUEST_FILES)
    sh('mkfs.ext2', '-q', '-b', '1024', '-N', '32', '-L', 'web01-root', '-U',
       '5ec0e5ed-0000-4000-8000-00000000a002', '-E', 'root_owner=0:0', '-d', gt, fs)
    sh('dd', 'if=' + fs, 'of=' + raw, 'bs=512', 'seek=40', 'conv=notrunc', 'status=none')
    q = os.path.join(work, 'host-tree', 'vm', 'guest.qcow2')
    os.makedirs(os.path.dirname(q), exist_ok=True)
    sh('qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', '-o', 'cluster_size=4096', raw, q)
    return sha(open(raw, 'rb').read()), sha(open(q, 'rb').read())


JOB = r'''#!/bin/bash
. {lab}/guest-lib.sh
set -x
yes | mdadm --create /dev/md0 --metadata=1.0 --level=5 --layout=left-symmetric --chunk=16 \
  --raid-devices=4 --run /dev/ubda /dev/ubdb /dev/ubdc /dev/ubdd || fail "mdadm --create"
wait_sync /dev/md0
printf 'label: dos\nlabel-id: 0x5ec0e5ed\nstart=64, type=83\n' | sfdisk -q /dev/md0 || fail sfdisk
wait_node /dev/md0p1 || fail "no /dev/md0p1"
mkfs.ext2 -q -b 1024 -L fileserver -U 5ec0e5ed-0000-4000-8000-00000000b001 -E root_owner=0:0 \
  -d {work}/host-tree /dev/md0p1 || fail mkfs.ext2
sync
sha256sum /dev/md0 | cut -d' ' -f1 > {work}/array.sha256
cat /proc/mdstat
mdadm --detail /dev/md0
mdadm --stop /dev/md0 || fail "mdadm --stop"
echo done > {work}/STATUS
'''


def main():
    out = os.path.join(HERE, 'array')
    # Not under /tmp: the guest mounts its own tmpfs there.
    work = tempfile.mkdtemp(prefix='make-array-', dir=os.path.join(ROOT, 'target'))
    try:
        os.makedirs(os.path.join(work, 'host-tree'), exist_ok=True)
        tree(os.path.join(work, 'host-tree'), HOST_FILES)
        raw_sha, qcow_sha = guest_disk(work)
        members = []
        for i in range(4):
            p = os.path.join(work, 'm%d.img' % i)
            with open(p, 'wb') as f:
                f.truncate(MEMBER)
            members.append(p)
        job = os.path.join(work, 'job.sh')
        with open(job, 'w') as f:
            f.write(JOB.format(lab=mdlab.LAB, work=work))
        mdlab.prepare_modroot(work)
        rc, secs = mdlab.run_uml(work, job, dict(enumerate(members)), os.path.join(work, 'console.log'))
        status = os.path.join(work, 'STATUS')
        if not os.path.exists(status):
            sys.stdout.write(open(os.path.join(work, 'console.log')).read()[-4000:])
            sys.exit('the guest did not finish (rc %s); its console is above' % rc)
        array_sha = open(os.path.join(work, 'array.sha256')).read().strip()
        os.makedirs(out, exist_ok=True)
        for name in os.listdir(out):
            if name.endswith('.img'):
                os.unlink(os.path.join(out, name))
        for i, p in enumerate(members):
            if i != LEFT_OUT:
                shutil.copyfile(p, os.path.join(out, 'm%d.img' % i))
        with open(os.path.join(out, 'SHA256SUMS'), 'w') as f:
            f.write('# The oracle of recover-cli/tests/example.rs (examples/make-array.py).\n')
            f.write('%s  md0 (the whole array, as the md driver served it)\n' % array_sha)
            f.write('%s  vm/guest.qcow2 (its virtual disk, raw)\n' % raw_sha)
            f.write('%s  vm/guest.qcow2\n' % qcow_sha)
            for rel, data in sorted(HOST_FILES.items()):
                f.write('%s  %s\n' % (sha(data), rel))
            for rel, data in sorted(GUEST_FILES.items()):
                f.write('%s  guest:%s\n' % (sha(data), rel))
        print('wrote %s (md0 %s, %.0f s in the guest)' % (out, array_sha, secs))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
