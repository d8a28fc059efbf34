#!/usr/bin/env bash
# Seeds for image_ewf: first segments written by libewf's ewfacquire
# (Debian's ewf-tools) of a small raw disk (random, zeros, text), in six
# formats, uncompressed and compressed.
set -euo pipefail
cd "$(dirname "$0")"
command -v ewfacquire >/dev/null || { echo "seed_ewf.sh: no ewfacquire (apt-get install ewf-tools)" >&2; exit 0; }
C=corpus/image_ewf
mkdir -p "$C"
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
{ head -c 65536 /dev/urandom; head -c 131072 /dev/zero; for _ in $(seq 1000); do printf 'hello world'; done; } > "$t/raw.img"
for f in encase6 encase1 smart ftk linen6 ewfx; do
  for c in none fast; do
    rm -rf "$t/o"; mkdir "$t/o"
    ewfacquire -u -q -f "$f" -c "$c" -b 64 -t "$t/o/img" "$t/raw.img" > /dev/null 2>&1 || continue
    first=$(ls "$t/o" | head -1)
    [ -n "$first" ] && cp "$t/o/$first" "$C/$f-$c"
  done
done
ls "$C" | wc -l
