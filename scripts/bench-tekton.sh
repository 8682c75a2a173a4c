#!/usr/bin/env bash
# Tekton hand-off: a Task of N no-op steps (default 20) with Emissary's entrypoint (artifacts/entrypoint,
# the Tekton mode) versus Tekton's own waiting, modelled from its code: cmd/entrypoint/waiter.go
# stat()s the wait file (and FILE.err), and if it is not there sleeps defaultWaitPollingInterval
# (main.go: time.Second) before looking again, first check immediate. The model is that loop in sh
# (`[ -e FILE ] || { [ -e FILE.err ] && exit 1; sleep 1; }`), then the no-op command, then the post
# file, which is the whole of a no-op step for the hand-off. (Go is not on this machine, so Tekton's
# binary itself is not built; its start-up and the kubelet's container start are left out on both
# sides: only waiting is compared.)
# Both run the same N processes at once in a temp /tekton layout, each after a random 0-999 ms
# start-up delay (the kubelet starts containers one after another, so a poller's phase is random
# relative to the step before it), then the "controller" fills /tekton/downward/ready and the
# clock runs until the last step's post file exists. Hand-off = (total - first step) / (N - 1).
#   N=20 ROUNDS=3 scripts/bench-tekton.sh
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-20}
rounds=${ROUNDS:-3}
[ -x artifacts/entrypoint ] || scripts/build.sh
ep=$PWD/artifacts/entrypoint
work=$(mktemp -d /dev/shm/bench-tekton.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# tekton_poll_step I ROOT: waiter.go's loop, then the command and the post file.
tekton_poll_step() {
  local i=$1 root=$2 file content=0
  if [ "$i" -eq 0 ]; then file=$root/downward/ready; content=1; else file=$root/run/$((i - 1))/out; fi
  while :; do
    if [ -e "$file" ] && { [ $content -eq 0 ] || [ -s "$file" ]; }; then break; fi
    if [ -e "$file.err" ]; then : > "$root/run/$i/out.err"; exit 1; fi
    sleep 1
  done
  /bin/true
  : > "$root/run/$i/out"
}

emissary_step() {
  local i=$1 root=$2
  local wait=(-wait_file "$root/run/$((i - 1))/out")
  [ "$i" -eq 0 ] && wait=(-wait_file "$root/downward/ready" -wait_file_content)
  exec "$ep" "${wait[@]}" -post_file "$root/run/$i/out" -termination_path "$root/termination-$i" \
    -step_metadata_dir "$root/run/$i/status" -entrypoint /bin/true -- 2>/dev/null
}

# one_run KIND: prints "total_ms first_ms".
one_run() {
  local kind=$1 root i t0 first=""
  root=$(mktemp -d "$work/run.XXXXXX")
  mkdir -p "$root/downward"; : > "$root/downward/ready"
  for ((i = 0; i < n; i++)); do mkdir -p "$root/run/$i"; done
  pids=()
  for ((i = 0; i < n; i++)); do
    delay=$(printf '0.%03d' $((RANDOM % 1000)))
    if [ "$kind" = emissary ]; then (sleep "$delay"; emissary_step "$i" "$root") & else (sleep "$delay"; tekton_poll_step "$i" "$root") & fi
    pids+=($!)
  done
  sleep 1.2   # every step is up and waiting
  t0=$(now_ms)
  printf READY > "$root/downward/.ready" && mv "$root/downward/.ready" "$root/downward/ready"
  while [ ! -e "$root/run/$((n - 1))/out" ]; do
    [ -z "$first" ] && [ -e "$root/run/0/out" ] && first=$(( $(now_ms) - t0 ))
    sleep 0.005
  done
  total=$(( $(now_ms) - t0 ))
  [ -z "$first" ] && first=0
  wait "${pids[@]}" 2>/dev/null || true
  pids=()
  echo "$total $first"
}

echo "bench-tekton: $n no-op steps, $rounds rounds each (tmpfs)" >&2
for kind in emissary tekton-1s-poll; do
  totals=(); handoffs=()
  for ((r = 0; r < rounds; r++)); do
    read -r total first < <(one_run "$kind")
    totals+=("$total"); handoffs+=($(( (total - first) / (n - 1) )))
  done
  printf '%-15s %2d-step Task: %s ms (rounds: %s); mean hand-off: %s ms\n' "$kind" "$n" \
    "$(printf '%s\n' "${totals[@]}" | sort -n | sed -n "$(( (rounds + 1) / 2 ))p")" "${totals[*]}" \
    "$(printf '%s\n' "${handoffs[@]}" | sort -n | sed -n "$(( (rounds + 1) / 2 ))p")"
done
