#!/usr/bin/env bash
# Copying a large file out of ext4: recover cp against Sleuth Kit's icat,
# in one run, on the same page-cached image, both writing to the same
# place (tmpfs when there is one), best of five each:
#   recover cp IMAGE --at d0/ext4:/large.bin -o OUT
#   icat IMAGE INODE > OUT
# and reports the ratio of their speeds (target: recover 2x or more).
# Both end up bound by the kernel's writes into the output (on tmpfs a
# single sendfile(2) of the same extents takes about as long as recover);
# recover reads the file's extents straight from the mapped image and
# writes them in parallel, icat reads and writes every block through a
# buffer.
# The image (2 GiB ext4, a 1.5 GiB file of random data, made by mke2fs -d)
# is built once under target/fixtures/bench-cp/.
# usage: benches/scripts/cp-vs-icat.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
command -v icat >/dev/null || { echo "icat (sleuthkit) is not installed" >&2; exit 1; }
dir=$root/target/fixtures/bench-cp
img=$dir/ext4-large.img
if [ ! -f "$img" ]; then
  mkdir -p "$dir"; t=$(mktemp -d "$dir/.build.XXXX"); trap 'rm -rf "$t"' EXIT
  mkdir "$t/tree"
  head -c 1536M /dev/urandom > "$t/tree/large.bin"
  truncate -s 2G "$t/img"
  mke2fs -q -F -t ext4 -d "$t/tree" "$t/img"
  mv "$t/img" "$img"
  rm -rf "$t"; trap - EXIT
fi
cargo build --release -q -p recover-cli
bin=$root/target/release/recover
out_dir=/dev/shm
[ -d "$out_dir" ] && [ -w "$out_dir" ] || out_dir=$dir
out=$out_dir/recover-bench-cp.$$
trap 'rm -f "$out" "$out.icat"' EXIT
ino=$(debugfs -R 'stat /large.bin' "$img" 2>/dev/null | sed -n 's/^Inode: \([0-9]*\).*/\1/p')
size=$(stat -c %s "$img")
cat "$img" > /dev/null
. "$root/benches/scripts/lib.sh"
before_run() { rm -f "$out" "$out.icat"; }
best() { best_of 5 "$@"; }
t_rec=$(best "$bin" cp "$img" --at d0/ext4:/large.bin -o "$out" --force)
t_icat=$(best sh -c "icat '$img' $ino > '$out.icat'")
# The same bytes, or the comparison means nothing.
"$bin" cp "$img" --at d0/ext4:/large.bin -o "$out" --force 2>/dev/null
icat "$img" "$ino" > "$out.icat"
cmp -s "$out" "$out.icat" || { echo "recover and icat wrote different bytes" >&2; exit 1; }
fsize=$(stat -c %s "$out")
echo "image: $img ($size bytes); file: /large.bin, inode $ino, $fsize bytes; output to $out_dir"
awk -v r="$t_rec" -v i="$t_icat" -v n="$fsize" 'BEGIN {
  printf "recover cp:             %.3f s  %.2f GB/s\n", r, n / r / 1e9
  printf "icat:                   %.3f s  %.2f GB/s\n", i, n / i / 1e9
  printf "ratio recover / icat (speed): %.2fx   (target >= 2)\n", i / r
}'
