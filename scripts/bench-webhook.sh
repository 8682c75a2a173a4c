#!/usr/bin/env bash
# The admission webhook under load (issue #16), on loopback only: a typical 5-container pod's
# AdmissionReview (bench/webhook/review-5-containers.json, the API server's shape) POSTed over
# HTTPS with keep-alive, as the API server does, by `hey` (Debian's HTTP load generator).
#   1. start-up: exec to the first 200 from /readyz
#   2. 500 requests/s for 60 s (10 clients x 50/s): p50/p99 latency, requests/s, and the
#      server's resident memory every 5 s (flat = no growth per request)
#   3. the same rate again with the server pinned to cpu 1 and hey to cpu 0 (taskset): on a 2-core
#      machine hey's own TLS work competes with the server for the same cores in step 2; this shows
#      the server's latency without that (step 2 stays the honest same-machine figure)
#   4. capacity: as fast as 16 clients go for 10 s
# hey's -q paces each client by its own ticker, all started together: the 10 clients send in bursts
# of 10 every 1/50 s, so the last review of a burst waits for the nine before it.
# Target: p99 < 10 ms at 500 requests/s. Numbers on a shared machine are indicative.
# Env: DURATION (default 60), RATE (default 500).
set -euo pipefail
cd "$(dirname "$0")/.."

WEBHOOK=artifacts/emissary-webhook
[ -x "$WEBHOOK" ] || { echo "bench-webhook.sh: $WEBHOOK missing: run scripts/build.sh" >&2; exit 1; }
need=()
command -v hey >/dev/null || need+=(hey)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

DURATION=${DURATION:-60}
RATE=${RATE:-500}
CLIENTS=10
BODY=bench/webhook/review-5-containers.json
work=$(mktemp -d)
server=""
cleanup() { [ -z "$server" ] || kill "$server" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=emissary-webhook \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="https://127.0.0.1:$port"

start=$(date +%s%N)
"$WEBHOOK" webhook --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" --listen "127.0.0.1:$port" --log-level warning 2>"$work/server.log" &
server=$!
until curl -skf "$url/readyz" >/dev/null 2>&1; do
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.002
done
ready=$(( ($(date +%s%N) - start) / 1000 ))
rss() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; } # utime + stime
# The server's own CPU time per review: unlike latency, it does not depend on what else the machine runs.
cpu_per_review() { # ticks before, ticks after, hey output file
  awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK)" '/responses/ {n += $2} END {if (n > 0) printf "  server CPU %.3f ms per review (%d reviews)\n", (b - a) * 1000 / hz / n, n}' "$3"
}

echo "emissary-webhook: $(stat -c %s "$WEBHOOK") bytes, ready (exec to /readyz 200, curl polling) in $((ready / 1000)).$(( (ready % 1000) / 100 )) ms, RSS idle $(rss) KiB"
# The patch must be there before timing anything.
curl -skf -H 'Content-Type: application/json' --data-binary "@$BODY" "$url/mutate" | grep -q '"patchType":"JSONPatch"' \
  || { echo "bench-webhook.sh: the review got no patch" >&2; exit 1; }
hey -n 2000 -c 4 -m POST -T application/json -D "$BODY" "$url/mutate" >/dev/null # warm-up (JIT-free, but caches and pools)
echo "after warm-up RSS $(rss) KiB"

summary() { # hey output file
  awk '/Requests\/sec/ {rps=$2} /  50% in/ {p50=$3*1000} /  90% in/ {p90=$3*1000} /  99% in/ {p99=$3*1000} /Slowest/ {max=$2*1000}
       /^  \[[0-9]+\]/ {codes=codes $0}
       END {printf "  requests/s %.0f   p50 %.2f ms   p90 %.2f ms   p99 %.2f ms   max %.2f ms   status:%s\n", rps, p50, p90, p99, max, codes}' "$1"
}

echo "== $RATE requests/s for ${DURATION}s ($CLIENTS clients, keep-alive)"
samples=()
before=$(cpu_ticks)
hey -z "${DURATION}s" -c "$CLIENTS" -q $((RATE / CLIENTS)) -m POST -T application/json -D "$BODY" "$url/mutate" >"$work/rate.txt" &
load=$!
for ((t = 0; t < DURATION; t += 5)); do samples+=("$(rss)"); sleep 5; done
wait "$load"
samples+=("$(rss)")
summary "$work/rate.txt"
cpu_per_review "$before" "$(cpu_ticks)" "$work/rate.txt"
p99=$(awk '/  99% in/ {print $3*1000}' "$work/rate.txt")
awk -v p="$p99" 'BEGIN {printf "  target p99 < 10 ms: %s\n", (p < 10 ? "OK" : "MISSED")}'
echo "  RSS every 5 s (KiB): ${samples[*]}"
printf '%s\n' "${samples[@]}" | awk 'NR==1 {first=$1} {if ($1>max) max=$1; last=$1} END {printf "  RSS first %d KiB, last %d KiB, max %d KiB, growth %+d KiB\n", first, last, max, last-first}'

if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  echo "== $RATE requests/s for ${DURATION}s, pinned: server on cpu 1, hey on cpu 0"
  taskset -a -p -c 1 "$server" >/dev/null
  before=$(cpu_ticks)
  taskset -c 0 hey -z "${DURATION}s" -c "$CLIENTS" -q $((RATE / CLIENTS)) -m POST -T application/json -D "$BODY" "$url/mutate" >"$work/pinned.txt"
  summary "$work/pinned.txt"
  cpu_per_review "$before" "$(cpu_ticks)" "$work/pinned.txt"
  taskset -a -p -c "0-$(( $(nproc) - 1 ))" "$server" >/dev/null
fi

echo "== capacity: 16 clients as fast as they go for 10s"
before=$(cpu_ticks)
hey -z 10s -c 16 -m POST -T application/json -D "$BODY" "$url/mutate" >"$work/max.txt"
summary "$work/max.txt"
cpu_per_review "$before" "$(cpu_ticks)" "$work/max.txt"
echo "  RSS after $(rss) KiB"

kill -TERM "$server"
wait "$server" && echo "SIGTERM: exited 0" || echo "SIGTERM: exited $?"
server=""
