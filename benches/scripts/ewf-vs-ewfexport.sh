#!/usr/bin/env bash
# Reading an EWF image's media data: recover against libewf's ewfexport,
# in one run, on the same page-cached E01, both writing to /dev/null, best
# of five each:
#   recover extract IMAGE.E01 --at d0 -o /dev/null
#   ewfexport -u -q -t - IMAGE.E01 > /dev/null      (raw to stdout, then
#   a status line)
# and reports the ratio of their speeds (target: recover 1x or more).
# recover inflates the chunks of each large read in parallel (rayon);
# ewfexport reads them one after the other.
# The image: 512 MiB of mixed data (1 MiB pieces of random bytes, zeros,
# text, and random 4 KiB blocks among zeros) acquired by ewfacquire as
# encase6 at fast compression, built once under target/fixtures/bench-ewf/.
# usage: benches/scripts/ewf-vs-ewfexport.sh [LEVEL]   (fast by default)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
command -v ewfexport >/dev/null || { echo "ewfexport (ewf-tools) is not installed" >&2; exit 1; }
level=${1:-fast}
dir=$root/target/fixtures/bench-ewf
img=$dir/disk-$level.E01
if [ ! -f "$img" ]; then
  mkdir -p "$dir"; t=$(mktemp -d "$dir/.build.XXXX"); trap 'rm -rf "$t"' EXIT
  python3 - "$t/raw" <<'PY'
import os, sys
text = (b"an EWF benchmark compresses this text; " * 30000)[: 1 << 20]
with open(sys.argv[1], "wb") as f:
    for k in range(512):
        m = k % 4
        if m == 0:
            f.write(os.urandom(1 << 20))
        elif m == 1:
            f.write(bytes(1 << 20))
        elif m == 2:
            f.write(text)
        else:
            f.write(b"".join(os.urandom(4096) if i % 3 == 0 else bytes(4096) for i in range(256)))
PY
  ewfacquire -u -q -f encase6 -c "$level" -t "$t/disk" "$t/raw" >/dev/null
  mv "$t/disk.E01" "$img"
  rm -rf "$t"; trap - EXIT
fi
cargo build --release -q -p recover-cli
bin=$root/target/release/recover
cat "$img" > /dev/null
. "$root/benches/scripts/lib.sh"
size=$(ewfinfo "$img" | sed -n 's/.*Media size:.*(\([0-9]*\) bytes).*/\1/p')
# ewfexport prints "ewfexport: SUCCESS" to stdout after the data: the
# media is the first SIZE bytes it writes.
a=$("$bin" extract "$img" --at d0 -o /dev/stdout 2>/dev/null | sha256sum)
b=$(ewfexport -u -q -t - "$img" 2>/dev/null | head -c "$size" | sha256sum || true)
[ "$a" = "$b" ] || { echo "recover and ewfexport read different bytes" >&2; exit 1; }
t_rec=$(best_of 5 "$bin" extract "$img" --at d0 -o /dev/null)
t_ewf=$(best_of 5 sh -c "ewfexport -u -q -t - '$img' > /dev/null")
awk -v r="$t_rec" -v e="$t_ewf" -v n="$size" -v f="$(stat -c %s "$img")" -v l="$level" 'BEGIN {
  printf "%s (%.0f-byte E01, %.0f-byte disk): recover %.3f s (%.2f GB/s), ewfexport %.3f s (%.2f GB/s), ratio %.2fx (target >= 1)\n", l, f, n, r, n / r / 1e9, e, n / e / 1e9, e / r
}'
