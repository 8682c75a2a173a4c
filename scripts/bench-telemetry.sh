#!/usr/bin/env bash
# What step telemetry costs: start-up of `run -- /bin/true` and of a named step (which records
# status.json with its usage) with no endpoint set and while exporting spans to a local OTLP
# receiver (testchild http-sink), and a 20-step --after chain launched at once, both ways.
# Targets: within noise without an endpoint; under 1 ms per step when exporting.
#   RUNS=200 CHAIN_RUNS=5 scripts/bench-telemetry.sh [emissary]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
emissary=${1:-$root/artifacts/emissary}
testchild=$root/artifacts/testchild
runs=${RUNS:-200}
chain_runs=${CHAIN_RUNS:-5}
[ -x "$emissary" ] && [ -x "$testchild" ] || { echo "run scripts/build.sh first" >&2; exit 1; }
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null

shm=$(mktemp -d /dev/shm/bench-telemetry.XXXXXX)
port=$((20000 + RANDOM % 20000))
"$testchild" http-sink "$port" 100000000 > "$shm/sink.out" &
sink=$!
cleanup() { kill -9 "$sink" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$shm"; }
trap cleanup EXIT INT TERM
for _ in $(seq 50); do grep -q listening "$shm/sink.out" 2>/dev/null && break; sleep 0.1; done
endpoint="OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$port"

echo "== telemetry: start-up (hyperfine -N, $runs runs; both through env(1) so they differ only in the variable)"
hyperfine -N -w 20 -r "$runs" --export-json "$shm/start.json" \
    -n "no endpoint" "env $emissary run -- /bin/true" \
    -n "exporting" "env $endpoint $emissary run -- /bin/true" \
    -n "named, no endpoint" "env $emissary run --name s --control-dir $shm/ctl -- /bin/true" \
    -n "named, exporting" "env $endpoint $emissary run --name s --control-dir $shm/ctl -- /bin/true" >/dev/null
python3 - "$shm/start.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
for name in r:
    x = r[name]
    print(f"  {name:20s} median {x['median']*1000:6.2f} ms  mean {x['mean']*1000:6.2f} ± {x['stddev']*1000:5.2f} ms")
for a, b in (("no endpoint", "exporting"), ("named, no endpoint", "named, exporting")):
    d = (r[b]["median"] - r[a]["median"]) * 1000
    print(f"  export adds {d:+.2f} ms per step ({b} vs {a}; target < 1 ms): {'OK' if d < 1 else 'MISSED'}")
PY
requests=$(grep -c '^body ' "$shm/sink.out" || true)
echo "  the receiver got $requests requests (one per exporting run)"

# chain N: launches N steps at once, step i --after step i-1, each `/bin/true`; prints seconds.
chain() {
    local dir=$shm/chain.$RANDOM i pids=() start end
    start=$(date +%s.%N)
    for ((i = 0; i < 20; i++)); do
        if ((i == 0)); then "$emissary" run --name s0 --control-dir "$dir" -- /bin/true & else
            "$emissary" run --name "s$i" --control-dir "$dir" --after "s$((i - 1))" -- /bin/true & fi
        pids+=($!)
    done
    wait "${pids[@]}"
    end=$(date +%s.%N)
    rm -rf "$dir"
    awk -v s="$start" -v e="$end" 'BEGIN { print e - s }'
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "== telemetry: 20-step --after chain launched at once, median of $chain_runs"
plain=$(for _ in $(seq "$chain_runs"); do chain; done | median)
export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$port
exporting=$(for _ in $(seq "$chain_runs"); do chain; done | median)
unset OTEL_EXPORTER_OTLP_ENDPOINT
awk -v a="$plain" -v b="$exporting" 'BEGIN {
    printf "  no endpoint %.0f ms, exporting %.0f ms: %+.2f ms per step (target < 1 ms): %s\n", a * 1000, b * 1000, (b - a) * 1000 / 20, ((b - a) * 1000 / 20 < 1) ? "OK" : "MISSED" }'
