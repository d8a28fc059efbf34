#!/usr/bin/env bash
# Scale: a million small files (issue 19, item 4). For each filesystem
# asked for (ext4, xfs, ntfs), an image holding N files of 0 to 4 KB
# (1,000 per directory, d0000/f000, content from Python random.Random(19),
# so the same N gives the same tree), built once into target/bench-million/
# from a tree written on tmpfs:
#   ext4  mke2fs -d TREE
#   xfs   mkfs.xfs, loop mount, cp -a TREE/. in, umount   (needs root)
#   ntfs  mkntfs -Q, ntfs-3g (FUSE) mount, cp -a in, umount  (needs root)
# ntfs-3g copies about 700 files a second here (4 min for 200,000), so NTFS gets
# NTFS_N files (default: N, capped at 200000; the output says how many).
# Then, in one run, on the same page-cached image, best of RUNS (3) each:
#   recover ls IMAGE --at d0/FS:/ -R        against  fls -r -l IMAGE
#   recover cp IMAGE --at d0/FS:/ -o OUT     against  tsk_recover -e IMAGE OUT
# both copies into the same tmpfs directory (/dev/shm), printing the times,
# the ratios (peer time / recover time: above 1, recover is faster) and
# recover's peak RSS (/usr/bin/time -f %M) for both commands. Before any
# timing, recover's copy is checked against the tree: the number of files
# and one sha256 over the sorted sha256sums of every file (empty ones too).
# Sleuth Kit before 4.12 has no XFS: fls/tsk_recover print n/a there.
# usage: benches/scripts/million-files.sh [N] [FS...]   (1000000; ext4 xfs ntfs)
# env: RUNS (3), NTFS_N, NO_BUILD=1 (use target/release/recover as built),
#      BUILD_ONLY=1 (only build the images)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
n=${1:-1000000}
shift || true
fss=("$@")
[ ${#fss[@]} -gt 0 ] || fss=(ext4 xfs ntfs)
runs=${RUNS:-3}
ntfs_n=${NTFS_N:-$((n < 200000 ? n : 200000))}
dir=$root/target/bench-million
mkdir -p "$dir"
tmp=/dev/shm
[ -d "$tmp" ] && [ -w "$tmp" ] || tmp=$dir
work=$(mktemp -d "$tmp/recover-bench-million.XXXX")
mnt=
cleanup() {
  if [ -n "$mnt" ] && mountpoint -q "$mnt"; then umount "$mnt" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# make_tree N DIR: the deterministic tree.
make_tree() {
  python3 - "$2" "$1" <<'PY'
import os, random, sys
out, n = sys.argv[1], int(sys.argv[2])
r = random.Random(19)
for i in range(n):
    if i % 1000 == 0:
        d = os.path.join(out, 'd%04d' % (i // 1000))
        os.makedirs(d)
    with open(os.path.join(d, 'f%03d' % (i % 1000)), 'wb') as fh:
        fh.write(r.randbytes(r.randrange(0, 4097)))
PY
}
# manifest DIR: "FILES SHA256" over the d*/ files under DIR.
manifest() {
  (cd "$1" && find . -path './d*' -type f -print0 | sort -z | xargs -0 -r sha256sum) > "$work/sums"
  echo "$(wc -l < "$work/sums") $(sha256sum < "$work/sums" | cut -c1-64)"
}

# image FS COUNT: the cached image's path, built when missing.
image() {
  local fs=$1 count=$2 img=$dir/$1-$2.img t mib
  if [ ! -f "$img" ]; then
    t=$work/build
    rm -rf "$t"; mkdir -p "$t"
    echo "building $img ..." >&2
    if [ ! -d "$work/tree-$count" ]; then
      make_tree "$count" "$work/tree-$count"
      manifest "$work/tree-$count" > "$dir/tree-$count.manifest"
    fi
    # about 4 KiB a file for its block, its inode and its entry, and slack
    mib=$(( count * 6 / 1024 + 128 ))
    case $fs in
      ext4)
        mke2fs -q -F -t ext4 -N $(( count + count / 10 + 10000 )) -d "$work/tree-$count" "$t/img" "${mib}M" ;;
      xfs|ntfs)
        truncate -s "${mib}M" "$t/img"
        mnt=$t/mnt; mkdir -p "$mnt"
        if [ "$fs" = xfs ]; then
          mkfs.xfs -q -f "$t/img"
          mount -o loop "$t/img" "$mnt"
        else
          mkntfs -q -F -Q "$t/img" > /dev/null 2>&1
          ntfs-3g -o big_writes "$t/img" "$mnt"
        fi
        cp -a "$work/tree-$count/." "$mnt/"
        sync
        umount "$mnt"; mnt=
        ;;
    esac
    mv "$t/img" "$img"
    rm -rf "$t"
  fi
  echo "$img"
}

count_of() { if [ "$1" = ntfs ]; then echo "$ntfs_n"; else echo "$n"; fi; }
for fs in "${fss[@]}"; do image "$fs" "$(count_of "$fs")" > /dev/null; done
rm -rf "$work"/tree-*
[ "${BUILD_ONLY:-0}" = 0 ] || exit 0
[ "${NO_BUILD:-0}" = 1 ] || cargo build --release -q -p recover-cli
bin=$root/target/release/recover
. "$root/benches/scripts/lib.sh"
have_tsk=1
command -v tsk_recover >/dev/null || { have_tsk=0; echo "sleuthkit is not installed: peer times are n/a" >&2; }
echo "load: $(uptime | sed 's/.*load average: //') on $(nproc) CPUs"
out=$work/out
for fs in "${fss[@]}"; do
  count=$(count_of "$fs")
  img=$(image "$fs" "$count")
  [ -f "$dir/tree-$count.manifest" ] || { make_tree "$count" "$work/tree"; manifest "$work/tree" > "$dir/tree-$count.manifest"; rm -rf "$work/tree"; }
  want=$(cat "$dir/tree-$count.manifest")
  at=d0/$fs:/
  cat "$img" > /dev/null
  # recover's copy, checked before any timing
  rm -rf "$out"; mkdir -p "$out"
  "$bin" cp "$img" --at "$at" -o "$out/r" > /dev/null 2>"$work/cp.err" || { echo "$fs: recover cp failed:" >&2; tail -5 "$work/cp.err" >&2; exit 1; }
  got=$(manifest "$out/r")
  [ "$got" = "$want" ] || { echo "$fs: recover cp copied $got, the tree is $want (files sha256)" >&2; exit 1; }
  peer_ok=0
  if [ $have_tsk = 1 ] && tsk_recover -e "$img" "$out/t" > /dev/null 2>&1 && fls -r -l "$img" > /dev/null 2>&1; then peer_ok=1; fi
  before_run() { rm -rf "$out"; mkdir -p "$out"; }
  t_cp=$(best_of "$runs" "$bin" cp "$img" --at "$at" -o "$out/r")
  t_tsk=n/a
  [ $peer_ok = 0 ] || t_tsk=$(best_of "$runs" tsk_recover -e "$img" "$out/t")
  before_run
  /usr/bin/time -f %M -o "$work/rss" "$bin" cp "$img" --at "$at" -o "$out/r" > /dev/null 2>&1
  rss_cp=$(tail -1 "$work/rss")
  rm -rf "$out"
  unset -f before_run
  t_ls=$(best_of "$runs" "$bin" ls "$img" --at "$at" -R)
  t_fls=n/a
  [ $peer_ok = 0 ] || t_fls=$(best_of "$runs" fls -r -l "$img")
  /usr/bin/time -f %M -o "$work/rss" "$bin" ls "$img" --at "$at" -R > /dev/null 2>&1
  rss_ls=$(tail -1 "$work/rss")
  awk -v fs="$fs" -v n="$count" -v c="$t_cp" -v t="$t_tsk" -v l="$t_ls" -v f="$t_fls" \
      -v mc="$rss_cp" -v ml="$rss_ls" -v sz="$(du -k "$img" | cut -f1)" 'BEGIN {
    rc = (t == "n/a") ? "n/a" : sprintf("%.2fx", t / c)
    rl = (f == "n/a") ? "n/a" : sprintf("%.2fx", f / l)
    if (t != "n/a") t = sprintf("%.2f", t)
    if (f != "n/a") f = sprintf("%.2f", f)
    printf "%s, %d files (image %.0f MiB used): ls -R recover %.2f s, fls -r -l %s s, ratio %s; recover peak RSS %.0f MiB\n", fs, n, sz / 1024, l, f, rl, ml / 1024
    printf "%s, %d files: cp recover %.2f s, tsk_recover -e %s s, ratio %s; recover peak RSS %.0f MiB (copy checked: same files, same bytes)\n", fs, n, c, t, rc, mc / 1024
  }'
done
