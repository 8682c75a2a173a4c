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
#   4. 2,000 requests/s for 30 s (20 clients x 100/s), unpinned and pinned as in 3: p99 < 10 ms
#   5. capacity: as fast as 16 clients go for 10 s
# hey's -q paces each client by its own ticker, all started together: the 10 clients send in bursts
# of 10 every 1/50 s, so the last review of a burst waits for the nine before it.
#   6. limits (issue #22), each on a fresh server: one review of a chained pod of 100, 1,000 and
#      5,000 containers (each waits for the one before it): time, answer, peak RSS (VmHWM) and RSS
#      settled 5 s later; 1,000 idle TLS connections held; 48 bodies of 3 MiB - 1 byte held
#      before their last byte (how many are refused at once, how long the others are kept)
# Targets: p99 < 10 ms at 500 and at 2,000 requests/s; the limits' runs under the Deployment's 128 MiB.
# Numbers on a shared machine are indicative.
# Env: DURATION (default 60), RATE (default 500), WEBHOOK (default artifacts/emissary-webhook:
# another build, to compare), HIGH_RATE (default 2000), HIGH_DURATION (default 30), ONLY=limits (only step 6).
set -euo pipefail
cd "$(dirname "$0")/.."

WEBHOOK=${WEBHOOK:-artifacts/emissary-webhook}
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
HIGH_RATE=${HIGH_RATE:-2000}
HIGH_CLIENTS=20
HIGH_DURATION=${HIGH_DURATION:-30}
BODY=bench/webhook/review-5-containers.json
work=$(mktemp -d)
server=""
cleanup() { [ -z "$server" ] || kill "$server" 2>/dev/null || true; [ -z "${holder:-}" ] || kill "$holder" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=emissary-webhook \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="https://127.0.0.1:$port"

# A fresh server on $port with $server its pid (waits for /readyz).
start_server() {
  "$WEBHOOK" webhook --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" --listen "127.0.0.1:$port" --log-level warning "$@" 2>"$work/server.log" &
  server=$!
  until curl -skf "$url/readyz" >/dev/null 2>&1; do
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.01
  done
}
stop_server() { kill -TERM "$server"; wait "$server" || true; server=""; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$server/status"; }

# A chained pod of $1 containers in an AdmissionReview (each step waits for the one before it).
chain_review() {
  python3 - "$1" <<'PY'
import json, sys
n = int(sys.argv[1])
containers = [{"name": f"c{i}", "image": "busybox:1.36", "command": ["sh", "-c", f"echo step {i}"],
               "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
               "imagePullPolicy": "IfNotPresent"} for i in range(n)]
annotations = {f"emissary.dev/c{i}.waitForTermination": f"c{i-1}" for i in range(1, n)}
pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"chain-{n}", "namespace": "shop", "annotations": annotations},
       "spec": {"containers": containers, "restartPolicy": "Never"}}
json.dump({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
    "uid": f"chain-{n}", "kind": {"group": "", "version": "v1", "kind": "Pod"},
    "resource": {"group": "", "version": "v1", "resource": "pods"}, "namespace": "shop",
    "operation": "CREATE", "object": pod}}, sys.stdout, separators=(",", ":"))
PY
}

# Holds connections to 127.0.0.1:$port: "idle N" (TLS done, nothing sent) or "bodies N" (3 MiB - 1
# byte declared, all but the last byte sent); prints how many the server closed within 1 s, then
# (bodies) when the last one was closed; the caller samples RSS while it holds them.
hold_connections() {
  python3 - "$port" "$1" "$2" <<'PY'
import socket, ssl, sys, time, select
port, mode, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["http/1.1"])
conns, t0, body = [], time.monotonic(), b" " * (3 * 1024 * 1024 - 2)
for i in range(n):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1")
    if mode == "bodies":
        try:
            s.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (len(body) + 1) + body)
        except OSError:
            pass
    conns.append(s)
sent = time.monotonic()
print(f"  {n} connections {'opened' if mode == 'idle' else 'sent their bodies'} in {sent - t0:.1f} s", flush=True)
def closed(s):
    try:
        s.setblocking(False)
        return s.recv(65536) == b""
    except ssl.SSLWantReadError: return False
    except (OSError, ssl.SSLError): return True
time.sleep(1)
early = sum(closed(s) for s in conns)
print(f"  closed by the server within 1 s: {early}", flush=True)
sys.stdout.write("HOLDING\n"); sys.stdout.flush()
open_ = [s for s in conns]
deadline = time.monotonic() + (12 if mode == "bodies" else 3)
while open_ and time.monotonic() < deadline:
    time.sleep(0.25)
    open_ = [s for s in open_ if not closed(s)]
if mode == "bodies":
    print(f"  still open {time.monotonic() - sent:.1f} s after sending: {len(open_)}", flush=True)
PY
}

if [ "${ONLY:-}" = limits ]; then STEPS=limits; else STEPS=all; fi

if [ "$STEPS" = all ]; then
start=$(date +%s%N)
"$WEBHOOK" webhook --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" --listen "127.0.0.1:$port" --log-level warning 2>"$work/server.log" &
server=$!
until curl -skf "$url/readyz" >/dev/null 2>&1; do
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.002
done
ready=$(( ($(date +%s%N) - start) / 1000 ))
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

# Issue #29's rate: 2,000 reviews/s (20 clients x 100/s, bursts of 20 every 10 ms), then pinned
# as above; hey's own TLS work at this rate takes about one of the two cores.
paced() { # label, taskset prefix (or nothing), output file
  local out=$3
  echo "== $HIGH_RATE requests/s for ${HIGH_DURATION}s ($HIGH_CLIENTS clients, keep-alive)$1"
  before=$(cpu_ticks)
  $2 hey -z "${HIGH_DURATION}s" -c "$HIGH_CLIENTS" -q $((HIGH_RATE / HIGH_CLIENTS)) -m POST -T application/json -D "$BODY" "$url/mutate" >"$out"
  summary "$out"
  cpu_per_review "$before" "$(cpu_ticks)" "$out"
  awk -v p="$(awk '/  99% in/ {print $3*1000}' "$out")" -v r="$(awk '/Requests\/sec/ {print $2}' "$out")" -v want="$HIGH_RATE" \
    'BEGIN {printf "  target p99 < 10 ms at %d requests/s: %s\n", want, (p < 10 && r >= 0.95 * want ? "OK" : "MISSED")}'
}
paced "" "" "$work/high.txt"
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  taskset -a -p -c 1 "$server" >/dev/null
  paced ", pinned: server on cpu 1, hey on cpu 0" "taskset -c 0" "$work/high-pinned.txt"
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
fi # STEPS

echo "== limits: one review of a chained pod, each on a fresh server"
for n in 100 1000 5000; do
  chain_review "$n" >"$work/chain.json"
  start_server
  answer=$(curl -sk -o "$work/answer" -w '%{http_code} %{time_total}' --max-time 60 -H 'Content-Type: application/json' \
    --data-binary "@$work/chain.json" "$url/mutate" || true)
  peak=$(hwm)
  sleep 5
  verdict=$(python3 -c '
import base64, json, sys
try:
    r = json.load(open(sys.argv[1]))["response"]
    if r.get("patch"): print("patched, JSON Patch %d bytes" % len(base64.b64decode(r["patch"])))
    else: print("refused: " + (r.get("status") or {}).get("message", "")[:90])
except Exception: print("answer: " + open(sys.argv[1], errors="replace").read()[:90].strip())' "$work/answer")
  printf '  %5d containers (%s bytes): HTTP %s s, peak RSS %d KiB, settled %d KiB: %s\n' "$n" "$(stat -c %s "$work/chain.json")" "$answer" "$peak" "$(rss)" "$verdict"
  stop_server
done

echo "== limits: 1,000 idle TLS connections held"
start_server
before=$(rss)
hold_connections idle 1000 >"$work/hold.txt" & holder=$!
until grep -q HOLDING "$work/hold.txt"; do sleep 0.1; done
echo "  RSS idle $before KiB, holding $(rss) KiB (peak $(hwm) KiB)"
wait "$holder" || true; grep -v HOLDING "$work/hold.txt"
sleep 5; echo "  RSS 5 s after they closed: $(rss) KiB"
stop_server

echo "== limits: 48 bodies of 3 MiB - 1 byte held before their last byte"
start_server
hold_connections bodies 48 >"$work/hold.txt" & holder=$!
until grep -q HOLDING "$work/hold.txt"; do sleep 0.1; done
echo "  RSS holding $(rss) KiB (peak $(hwm) KiB)"
wait "$holder" || true; grep -v HOLDING "$work/hold.txt"
sleep 5; echo "  RSS 5 s later: $(rss) KiB (peak $(hwm) KiB)"
stop_server
