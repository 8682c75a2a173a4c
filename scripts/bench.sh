#!/usr/bin/env bash
# Benchmarks, each figure beside its peer (tini, dumb-init: Debian's packages) or floor, in one run:
#   start-up  `SUPERVISOR -- /bin/true`, median of many runs (hyperfine -N, all commands interleaved
#             in one invocation), beside the floor: an empty static NativeAOT program built with
#             emissary's publish flags (bench/floor), alone and posix_spawn'ing /bin/true
#   syscalls  strace -f -c of the same commands, total and per syscall for the most frequent ones
#   size      bytes of the executable
#   signals   each catchable standard signal sent with kill(2) to the supervisor: how many its
#             child receives (dumb-init's fixture: 1..31 except KILL STOP CHLD TSTP TTIN TTOU = 25)
# then every scripts/bench-*.sh (hand-off, capture, memory, ...).
# Targets: start-up <= 1.2x tini, size <= 3 MiB, signals 25/25.
# Runs unattended from a clean clone; leaves no process and no temporary file behind.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v tini >/dev/null || need+=(tini)
command -v dumb-init >/dev/null || need+=(dumb-init)
command -v strace >/dev/null || need+=(strace)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -x artifacts/emissary ] && [ -x artifacts/testchild ] || scripts/build.sh
if [ ! -x artifacts/bench/floor/floor ] || [ -n "$(find bench/floor native-aot -newer artifacts/bench/floor/floor -type f)" ]; then
  dotnet publish bench/floor/Floor.csproj -c Release -r linux-x64 -p:PublishAot=true -o artifacts/bench/floor -nologo -v quiet
fi
E=$PWD/artifacts/emissary
F=$PWD/artifacts/bench/floor/floor
T=$PWD/artifacts/testchild
RUNS=${BENCH_RUNS:-1000}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
verdict() { awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN { print ((dir=="le" ? v<=t : v>=t) ? "OK" : "MISSED") }'; }

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
# What a page fault costs here: start-up and hand-off are mostly page faults and process creation,
# and a VM can make a fault ten times dearer than bare metal does (README, "Start-up").
cc=$(command -v cc || command -v clang || true)
if [ -n "$cc" ]; then
  cat > "$tmp/faults.c" <<'C'
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
extern char **environ;
/* faults FILE: the median cost, in microseconds, of the first write to a fresh anonymous page, and
 * of the first read of a page of FILE (in the page cache; one such fault maps up to 16 pages). */
enum { N = 256 };
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
static double median(double *t, int n) { qsort(t, n, sizeof t[0], cmp); return t[n / 2]; }
/* faults count CMD ARGS...: page faults of CMD and the children it waited for (as perf stat counts
 * them), the median of 21 runs. */
static int count(char **argv) {
    long v[21];
    for (int i = 0; i < 21; i++) {
        struct rusage before, after;
        getrusage(RUSAGE_CHILDREN, &before);
        pid_t pid;
        if (posix_spawn(&pid, argv[0], 0, 0, argv, environ) != 0) return 1;
        int status;
        waitpid(pid, &status, 0);
        getrusage(RUSAGE_CHILDREN, &after);
        v[i] = (after.ru_minflt + after.ru_majflt) - (before.ru_minflt + before.ru_majflt);
    }
    for (int i = 0; i < 21; i++) for (int j = i + 1; j < 21; j++) if (v[j] < v[i]) { long x = v[i]; v[i] = v[j]; v[j] = x; }
    printf("%ld\n", v[10]);
    return 0;
}
int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "count") == 0) return count(argv + 2);
    double t[N];
    volatile char *p = mmap(0, N * 4096L, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < N; i++) { double t0 = now(); p[i * 4096L] = 1; t[i] = now() - t0; }
    printf("page fault: %.1f us (first write to a fresh page)", median(t, N));
    int fd = argc > 1 ? open(argv[1], O_RDONLY) : -1;
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size >= 65536) {
        volatile char *q = mmap(0, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        int n = st.st_size / 65536 < N ? (int)(st.st_size / 65536) : N;
        for (int i = 0; i < n; i++) { double t0 = now(); (void)q[i * 65536L]; t[i] = now() - t0; }
        printf(", %.1f us (first read of a cached page of emissary)", median(t, n));
    }
    printf("\n");
    return 0;
}
C
  "$cc" -O2 -o "$tmp/faults" "$tmp/faults.c" 2>/dev/null && echo "machine: $("$tmp/faults" "$E")"
fi

echo "== start-up: median wall time of SUPERVISOR -- /bin/true ($RUNS runs each, interleaved)"
hyperfine -N -w 50 -r "$RUNS" --export-json "$tmp/startup.json" \
  -n emissary "$E run -- /bin/true" \
  -n tini "tini -s -- /bin/true" \
  -n dumb-init "dumb-init /bin/true" \
  -n floor "$F" \
  -n floor+spawn "$F /bin/true" >/dev/null 2>&1
# median and the interquartile range, in ms, from the per-run times
python3 - "$tmp/startup.json" <<'EOF'
import json, statistics, sys
res = {r["command"]: sorted(r["times"]) for r in json.load(open(sys.argv[1]))["results"]}
def q(ts, f): return ts[min(len(ts) - 1, int(f * len(ts)))] * 1000
med = {n: statistics.median(ts) * 1000 for n, ts in res.items()}
notes = {"tini": "peer", "dumb-init": "peer", "floor": "empty static NativeAOT, same flags",
         "floor+spawn": "floor + posix_spawn /bin/true + waitpid"}
for n, ts in res.items():
    print(f"  {n:<12} {med[n]:7.3f} ms  (p25 {q(ts, .25):.3f}, p75 {q(ts, .75):.3f})  {notes.get(n, '')}")
r = med["emissary"] / med["tini"]
print(f"  emissary/tini {r:.2f}x  (floor+spawn/tini {med['floor+spawn'] / med['tini']:.2f}x, floor/tini {med['floor'] / med['tini']:.2f}x)  target <= 1.20x  {'OK' if r <= 1.2 else 'MISSED'}")
EOF

if [ -x "$tmp/faults" ]; then
  echo "== page faults of SUPERVISOR -- /bin/true, its child's included (median of 21; does not depend on load)"
  printf '  emissary %s  tini %s  dumb-init %s  floor %s  floor+spawn %s\n' "$("$tmp/faults" count "$E" run -- /bin/true)" \
    "$("$tmp/faults" count "$(command -v tini)" -s -- /bin/true)" "$("$tmp/faults" count "$(command -v dumb-init)" /bin/true)" \
    "$("$tmp/faults" count "$F")" "$("$tmp/faults" count "$F" /bin/true)"
fi

echo "== syscalls (strace -f -c): total, and per syscall for the most frequent ones in emissary"
count() { strace -f -c -o "$tmp/strace.$1" "${@:2}" >/dev/null 2>&1 || true; }
count emissary "$E" run -- /bin/true
count floor "$F"
count floor+spawn "$F" /bin/true
count tini tini -s -- /bin/true
awk '
  FNR == 1 { file++; split(FILENAME, a, "strace."); name[file] = a[2] }
  $1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { calls[file, $NF] = $4; if (file == 1) order[$NF] = $4 }
  $NF == "total" { total[file] = $4 }
  END {
    printf "  %-18s", "syscall"; for (f = 1; f <= file; f++) printf " %12s", name[f]; printf "\n"
    printf "  %-18s", "total"; for (f = 1; f <= file; f++) printf " %12d", total[f]; printf "\n"
    n = 0; for (s in order) list[++n] = s
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (order[list[j]] + 0 > order[list[i]] + 0) { t = list[i]; list[i] = list[j]; list[j] = t }
    for (i = 1; i <= n && i <= 12; i++) {
      printf "  %-18s", list[i]; for (f = 1; f <= file; f++) printf " %12d", calls[f, list[i]] + 0; printf "\n"
    }
  }' "$tmp/strace.emissary" "$tmp/strace.floor" "$tmp/strace.floor+spawn" "$tmp/strace.tini"

echo "== size"
size=$(stat -c %s "$E")
printf "  emissary  %d bytes = %.2f MiB  (floor %d bytes; tini %d, dumb-init %d)  target <= 3 MiB (3145728)  %s\n" \
  "$size" "$(awk -v s="$size" 'BEGIN{print s/1048576}')" "$(stat -c %s "$F")" \
  "$(stat -c %s "$(command -v tini)")" "$(stat -c %s "$(command -v dumb-init)")" "$(verdict "$size" 3145728 le)"

echo "== signals sent with kill(2) to the supervisor, received by its child (of 25)"
# One supervisor per signal (a supervisor that dies of one must not cost the others), started
# through testchild exec-sigs so that it begins with every signal at its default action (a shell's
# background job would otherwise start with INT and QUIT ignored).
fixture=(HUP INT QUIT ILL TRAP ABRT BUS FPE USR1 SEGV USR2 PIPE ALRM TERM STKFLT CONT URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS)
one_signal() { # signal, supervisor argv...: 0 when the child printed "got SIGNAL"
  local sig=$1; shift
  local out="$tmp/signal.out" pid child i got=1
  : >"$out"
  "$T" exec-sigs - - -- "$@" "$T" signals 10 >"$out" 2>/dev/null &
  pid=$!
  pids+=("$pid")
  for i in $(seq 200); do grep -q '^ready' "$out" && break; sleep 0.01; done
  child=$(cat /proc/"$pid"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -m1 . || true)
  [ -z "$child" ] || pids+=("$child")
  kill -s "$sig" "$pid" 2>/dev/null || true
  for i in $(seq 100); do grep -qx "got $sig" "$out" && { got=0; break; }; kill -0 "$pid" 2>/dev/null || break; sleep 0.01; done
  [ "$got" -eq 0 ] || { sleep 0.1; grep -qx "got $sig" "$out" && got=0; }
  kill -s TERM "$pid" 2>/dev/null || true
  [ -z "$child" ] || kill -s TERM "$child" 2>/dev/null || true
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.01; done
  kill -KILL "$pid" 2>/dev/null || true
  [ -z "$child" ] || kill -KILL "$child" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return "$got"
}
signals_to() { # name, supervisor argv...
  local name=$1; shift
  local got=0 missed="" s
  for s in "${fixture[@]}"; do
    if one_signal "$s" "$@"; then got=$((got + 1)); else missed="$missed $s"; fi
  done
  printf "  %-10s %2d/25%s\n" "$name" "$got" "${missed:+  missed:$missed}"
  [ "$name" != emissary ] || printf "  %-10s target 25/25  %s\n" "" "$( [ "$got" -eq 25 ] && echo OK || echo MISSED)"
}
signals_to emissary "$E" run -- 2>/dev/null
signals_to tini tini -s -- 2>/dev/null
signals_to dumb-init dumb-init 2>/dev/null

# Every figure in one run: a benchmark that misses its target (exit 1) does not stop the others;
# the run's exit status says whether any did.
failed=()
for script in scripts/bench-*.sh; do
  [ -e "$script" ] || continue
  echo "== $script"
  bash "$script" || failed+=("$script")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "bench.sh: missed a target or failed: ${failed[*]}"
  exit 1
fi
