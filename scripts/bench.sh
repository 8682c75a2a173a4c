#!/usr/bin/env bash
# Benchmarks against tini and dumb-init (Debian's packages), side by side in one run:
#   start-up  wall time of `SUPERVISOR -- /bin/true`, median of many runs (hyperfine -N)
#   memory    VmRSS of the supervisor while its child sleeps
#   size      bytes of the executable
#   capture   `emissary run --stdout-path F -- <writes 1 GiB>` vs `<same> | tee F` (when supported)
# Targets: start-up <= 1.5x tini, RSS <= 3 MiB, size <= 4 MiB, capture >= tee.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v tini >/dev/null || need+=(tini)
command -v dumb-init >/dev/null || need+=(dumb-init)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -x artifacts/emissary ] || scripts/build.sh
E=$PWD/artifacts/emissary
RUNS=${BENCH_RUNS:-1000}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

echo "== start-up: median wall time of SUPERVISOR -- /bin/true ($RUNS runs each)"
hyperfine -N -w 50 -r "$RUNS" --export-csv "$tmp/startup.csv" \
  -n emissary "$E run -- /bin/true" \
  -n tini "tini -s -- /bin/true" \
  -n dumb-init "dumb-init /bin/true" >/dev/null 2>&1
awk -F, 'NR>1 { med[$1]=$4*1000 } END {
  printf "  %-10s %8.3f ms\n  %-10s %8.3f ms\n  %-10s %8.3f ms\n", "emissary", med["emissary"], "tini", med["tini"], "dumb-init", med["dumb-init"];
  r=med["emissary"]/med["tini"]; printf "  ratio emissary/tini: %.2fx (target <= 1.50x) %s\n", r, (r<=1.5?"OK":"MISSED") }' "$tmp/startup.csv"

echo "== memory: VmRSS of the supervisor while its child sleeps (0.5 s and 2 s after start)"
# emissary unmaps its start-up code from its resident set after 1 s of supervision (README, "Memory").
rss() { "$@" & local pid=$!; sleep 0.5; local early; early=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
        sleep 1.5; echo "$early $(awk '/VmRSS/ {print $2}' /proc/$pid/status)"; kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true; }
read -r e_early e_rss < <(rss "$E" run -- sleep 5)
read -r t_early t_rss < <(rss tini -s -- sleep 5)
read -r d_early d_rss < <(rss dumb-init sleep 5)
printf "  %-10s %6s KiB at 0.5 s, %6s KiB at 2 s\n" emissary "$e_early" "$e_rss" tini "$t_early" "$t_rss" dumb-init "$d_early" "$d_rss"
awk -v e="$e_rss" 'BEGIN { printf "  emissary: %.2f MiB (target <= 3 MiB) %s\n", e/1024, (e<=3072?"OK":"MISSED") }'

echo "== size"
size=$(stat -c %s "$E")
printf "  emissary  %d bytes = %.2f MiB (target <= 4 MiB) %s\n" "$size" "$(awk -v s="$size" 'BEGIN{print s/1048576}')" "$(awk -v s="$size" 'BEGIN{print (s<=4194304?"OK":"MISSED")}')"
printf "  tini      %d bytes\n  dumb-init %d bytes\n" "$(stat -c %s "$(command -v tini)")" "$(stat -c %s "$(command -v dumb-init)")"

if "$E" run --help | grep -q -- --stdout-path; then
  echo "== capture: 1 GiB through emissary --stdout-path vs tee(1), output to /dev/null"
  gen="head -c 1073741824 /dev/zero"
  hyperfine -N -w 1 -r "${CAPTURE_RUNS:-5}" --export-csv "$tmp/capture.csv" \
    -n emissary "sh -c '$E run --stdout-path $tmp/out.e -- $gen > /dev/null'" \
    -n tee "sh -c '$gen | tee $tmp/out.t > /dev/null'" >/dev/null 2>&1
  awk -F, 'NR>1 { med[$1]=$4 } END {
    printf "  emissary %.3f s (%.0f MiB/s)\n  tee      %.3f s (%.0f MiB/s)\n", med["emissary"], 1024/med["emissary"], med["tee"], 1024/med["tee"];
    r=med["tee"]/med["emissary"]; printf "  speed emissary/tee: %.2fx (target >= 1.00x) %s\n", r, (r>=1?"OK":"MISSED") }' "$tmp/capture.csv"
  cmp -s "$tmp/out.e" "$tmp/out.t" && echo "  captured files identical" || { echo "  captured files DIFFER"; exit 1; }
fi
