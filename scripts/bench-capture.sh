#!/usr/bin/env bash
# Capture throughput: 1 GiB through `emissary run --stdout-path F -- WRITER` versus
# `WRITER | tee F`, with 8 KiB and 64 KiB writes, F on tmpfs (/dev/shm) and on disk.
#
# Fair console: emissary's stdout and tee's stdout both go through a pipe into `cat > /dev/null`,
# which is what a container runtime's log reader is (a pipe with a reader). Pointing both at
# /dev/null directly would favour emissary, whose splice(2) into /dev/null copies nothing.
# The writer is a tiny C program built here: it writes a numbered block pattern (so a reordered
# or lost block shows) with one write(2) per block and does nothing else.
# A/B alternate within each round (the order flips every round); medians and spread are printed.
# Each captured file is checked byte for byte once per case, then deleted after every run.
#
# Environment: CAPTURE_ROUNDS (default 9: with 5, two slow rounds, which both sides have on a
# disk under writeback, decided a median), CAPTURE_DISK_DIR (default: a directory under /var/tmp),
# EMISSARY_BIN (default artifacts/emissary), CAPTURE_MIB (default 1024).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${CAPTURE_ROUNDS:-9}
SIZE=$((${CAPTURE_MIB:-1024} * 1024 * 1024))
[ -x artifacts/emissary ] || scripts/build.sh
E=${EMISSARY_BIN:-$PWD/artifacts/emissary}
command -v cc >/dev/null || { echo "bench-capture: needs a C compiler (cc) for the writer; skipped"; exit 0; }

tmp=$(mktemp -d)
disk=$(mktemp -d "${CAPTURE_DISK_DIR:-/var/tmp}/emissary-capture.XXXXXX")
shm=$(mktemp -d /dev/shm/emissary-capture.XXXXXX)
trap 'rm -rf "$tmp" "$disk" "$shm"' EXIT

cat > "$tmp/writer.c" <<'C'
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* writer BLOCK TOTAL: TOTAL bytes to stdout in BLOCK-sized write(2)s; each block starts with its number. */
int main(int argc, char **argv) {
    size_t block = strtoull(argv[1], 0, 10), total = strtoull(argv[2], 0, 10);
    char *buf = malloc(block);
    for (size_t i = 0; i < block; i++) buf[i] = (char)(i * 31 + 7);
    for (unsigned long long n = 0; total > 0; n++) {
        size_t len = total < block ? total : block;
        if (len >= sizeof n) memcpy(buf, &n, sizeof n);
        for (size_t off = 0; off < len;) {
            ssize_t w = write(1, buf + off, len - off);
            if (w <= 0) return 1;
            off += (size_t)w;
        }
        total -= len;
    }
    return 0;
}
C
cc -O2 -static -o "$tmp/writer" "$tmp/writer.c" 2>/dev/null || cc -O2 -o "$tmp/writer" "$tmp/writer.c"
W=$tmp/writer

now() { date +%s%N; }
run_emissary() { # DIR BLOCK -> seconds
  local f=$1/out t0 t1
  t0=$(now); "$E" run --stdout-path "$f" -- "$W" "$2" "$SIZE" | cat > /dev/null; t1=$(now)
  echo "$(( (t1 - t0) / 1000000 ))"
}
run_tee() {
  local f=$1/out t0 t1
  t0=$(now); "$W" "$2" "$SIZE" | tee "$f" | cat > /dev/null; t1=$(now)
  echo "$(( (t1 - t0) / 1000000 ))"
}
check() { # DIR BLOCK WHO
  if ! "$W" "$2" "$SIZE" | cmp -s - "$1/out"; then echo "  $3: captured file DIFFERS from what was written"; exit 1; fi
}
median() { sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%d %d %d\n", m, v[1], v[NR] }'; }

echo "== capture: $((SIZE >> 20)) MiB, emissary --stdout-path F vs WRITER | tee F; both consoles piped into cat > /dev/null"
echo "   tmpfs: $(df -T "$shm" | awk 'NR==2 {print $2}') $shm; disk: $(df -T "$disk" | awk 'NR==2 {print $2}') $disk; $ROUNDS rounds; load:$(uptime | sed 's/.*load average://')"
status=0
for place in tmpfs disk; do
  dir=$shm; [ $place = disk ] && dir=$disk
  for block in 8192 65536; do
    # One checked run each (also a warm-up), then the timed rounds.
    run_emissary "$dir" $block >/dev/null; check "$dir" $block emissary; rm -f "$dir/out"
    run_tee "$dir" $block >/dev/null; check "$dir" $block tee; rm -f "$dir/out"
    : > "$tmp/e"; : > "$tmp/t"
    for ((r = 0; r < ROUNDS; r++)); do
      if ((r % 2 == 0)); then
        run_emissary "$dir" $block >> "$tmp/e"; rm -f "$dir/out"; run_tee "$dir" $block >> "$tmp/t"; rm -f "$dir/out"
      else
        run_tee "$dir" $block >> "$tmp/t"; rm -f "$dir/out"; run_emissary "$dir" $block >> "$tmp/e"; rm -f "$dir/out"
      fi
    done
    read -r em elo ehi < <(median < "$tmp/e")
    read -r tm tlo thi < <(median < "$tmp/t")
    ok=OK; ((em <= tm)) || { ok=MISSED; status=1; }
    awk -v p=$place -v b=$((block / 1024)) -v em="$em" -v elo="$elo" -v ehi="$ehi" -v tm="$tm" -v tlo="$tlo" -v thi="$thi" -v ok=$ok 'BEGIN {
      printf "  %-5s %2d KiB writes  emissary %5.2f s [%.2f-%.2f]  (tee %5.2f s [%.2f-%.2f])  target <= tee  %s\n", p, b, em/1000, elo/1000, ehi/1000, tm/1000, tlo/1000, thi/1000, ok }'
  done
done
exit $status
