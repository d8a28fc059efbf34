#!/usr/bin/env bash
# Copying a tree of many small files out of ext4: recover cp -R against
# Sleuth Kit's tsk_recover -e, in one run, on the same page-cached image,
# both into the same place (tmpfs when there is one), best of three each:
#   recover cp IMAGE --at d0/ext4:/ -o OUT
#   tsk_recover -e IMAGE OUT
# and reports the ratio of their speeds (target: recover 1x or more), and
# recover's peak RSS. Listing too: recover ls -R against fls -r.
# The image: 200 directories of 1,000 files of 0 to 6 KB (Python
# random.Random(5)), made by mke2fs -d, built once under
# target/fixtures/bench-small/ (1.6 GiB sparse).
# usage: benches/scripts/small-files.sh [DIRS]   (200 by default)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
command -v tsk_recover >/dev/null || { echo "tsk_recover (sleuthkit) is not installed" >&2; exit 1; }
dirs=${1:-200}
dir=$root/target/fixtures/bench-small
img=$dir/ext4-$dirs.img
if [ ! -f "$img" ]; then
  mkdir -p "$dir"; t=$(mktemp -d "$dir/.build.XXXX"); trap 'rm -rf "$t"' EXIT
  python3 - "$t/tree" "$dirs" <<'PY'
import os, random, sys
r = random.Random(5)
for d in range(int(sys.argv[2])):
    p = os.path.join(sys.argv[1], 'd%03d' % d)
    os.makedirs(p)
    for f in range(1000):
        with open(os.path.join(p, 'f%04d' % f), 'wb') as fh:
            fh.write(r.randbytes(r.randrange(0, 6000)))
PY
  mke2fs -q -F -t ext4 -N $((dirs * 1000 + 10000)) -d "$t/tree" "$t/img" $((dirs * 8 + 64))M
  mv "$t/img" "$img"
  rm -rf "$t"; trap - EXIT
fi
cargo build --release -q -p recover-cli
bin=$root/target/release/recover
out_dir=/dev/shm
[ -d "$out_dir" ] && [ -w "$out_dir" ] || out_dir=$dir
out=$out_dir/recover-bench-small.$$
trap 'rm -rf "$out"' EXIT
cat "$img" > /dev/null
. "$root/benches/scripts/lib.sh"
before_run() { rm -rf "$out"; mkdir -p "$out"; }
# The same files, byte for byte, before any timing.
before_run
"$bin" cp "$img" --at d0/ext4:/ -o "$out/r" 2>/dev/null
tsk_recover -e "$img" "$out/t" >/dev/null
# tsk_recover leaves out empty files (and lost+found): the others must match.
sums() { (cd "$1" && find . -type f -size +0 -print0 | sort -z | xargs -0 sha256sum); }
[ "$(sums "$out/r")" = "$(sums "$out/t")" ] || { echo "recover and tsk_recover copied different files" >&2; exit 1; }
t_rec=$(best_of 3 "$bin" cp "$img" --at d0/ext4:/ -o "$out/r")
t_tsk=$(best_of 3 tsk_recover -e "$img" "$out/t")
before_run
/usr/bin/time -f %M -o "$out.rss" "$bin" cp "$img" --at d0/ext4:/ -o "$out/r" >/dev/null 2>&1
rss=$(tail -1 "$out.rss"); rm -f "$out.rss"
rm -rf "$out"
unset -f before_run
t_ls=$(best_of 3 "$bin" ls "$img" --at d0/ext4:/ -R)
t_fls=$(best_of 3 fls -r "$img")
awk -v r="$t_rec" -v t="$t_tsk" -v n="$((dirs * 1000))" -v m="$rss" -v l="$t_ls" -v f="$t_fls" 'BEGIN {
  printf "cp -R of %d files: recover %.2f s, tsk_recover -e %.2f s, ratio %.2fx (target >= 1); recover peak RSS %.0f MiB\n", n, r, t, t / r, m / 1024
  printf "ls -R: recover %.2f s, fls -r %.2f s, ratio %.2fx\n", l, f, f / l
}'
