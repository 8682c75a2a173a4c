#!/usr/bin/env bash
# What `emissary rewrite` costs as a pod grows: time, peak RSS and output size for generated pods
# of N containers chained (each waits for the previous one; the last reads the first one's result,
# a sidecar watches them all), JSON in and out as the webhook sees them.
#   scripts/bench-rewrite.sh [TOOLS] [N...]   (default: artifacts/emissary-tools, 100 1000 5000)
# A pod over the per-pod limits is refused with one line: that is reported, not an error here.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=${1:-artifacts/emissary-tools}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100 1000 5000)
command -v /usr/bin/time >/dev/null || { echo "bench-rewrite.sh: needs GNU time (apt-get install time)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

pod() { # N: a Pod of N containers as JSON
  awk -v n="$1" 'BEGIN {
    printf "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"chain\"},\"spec\":{\"containers\":["
    printf "{\"name\":\"db\",\"image\":\"postgres:16\",\"command\":[\"postgres\"],\"sidecar\":true}"
    for (i = 0; i < n - 1; i++) {
      printf ",{\"name\":\"s%d\",\"image\":\"busybox:1.36\",\"command\":[\"sh\",\"-c\",\"echo %d\"]", i, i
      if (i > 0) printf ",\"waitForTermination\":[\"s%d\"]", i - 1
      if (i == n - 2 && i > 0) printf ",\"env\":[{\"name\":\"FIRST\",\"value\":\"$(steps.s0.results.out)\"}]"
      printf "}"
    }
    printf "]}}\n"
  }'
}

printf '%-7s %10s %10s %12s %12s  %s\n' containers input_B wall_s peak_RSS_KB output_B exit
for n in "${sizes[@]}"; do
  pod "$n" > "$dir/in.json"
  set +e
  /usr/bin/time -f '%e %M' -o "$dir/time" "$tools" rewrite "$dir/in.json" > "$dir/out.json" 2> "$dir/err"
  code=$?
  set -e
  read -r wall rss < <(tail -n 1 "$dir/time")
  printf '%-7s %10s %10s %12s %12s  %s\n' "$n" "$(stat -c %s "$dir/in.json")" "$wall" "$rss" "$(stat -c %s "$dir/out.json")" \
    "$code$( [ "$code" -eq 0 ] || echo ": $(head -c 200 "$dir/err")")"
done
