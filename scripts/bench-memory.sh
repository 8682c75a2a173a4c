#!/usr/bin/env bash
# Memory as the kubelet counts it: the container's cgroup charge (memory.current on cgroup v2,
# memory.usage_in_bytes on v1) and its working set (charge minus inactive_file, the figure the
# kubelet reports and evicts on), for one container image run three ways:
#   emissary  emissary run -- sleep 30 as the entrypoint (PID 1)
#   tini      tini -- sleep 30 as the entrypoint (Debian's tini-static)
#   floor     an empty NativeAOT program with the pod binaries' publish flags (bench/floor) that
#             posix_spawns sleep 30 and waits: what any NativeAOT supervisor pays, the runtime
#   bare      sleep 30 as PID 1 (no supervisor: the floor of the floor)
# read from the host's cgroup files 0.5 s and 2 s after the container started, plus VmRSS of the
# supervisor itself, and at 2 s the charge's two stable parts: anonymous memory (cgroup v1 `rss`, v2
# `anon`) and kernel memory (v1 `memory.kmem.usage_in_bytes`, v2 `kernel`: page tables, stacks,
# slab). The charge itself moves by up to ~256 KiB between identical runs (the kernel charges in
# per-CPU batches), so the summary compares anon + kernel. Medians of MEMORY_ROUNDS (default 5)
# runs, the kinds alternated.
# Skips with one line when podman is unavailable. Removes the containers and image it made.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v podman >/dev/null || ! podman info >/dev/null 2>&1; then
  echo "== memory under podman: skipped (podman is not available; scripts/podman-setup.sh installs it)"
  exit 0
fi
TINI=$(command -v tini-static || true)
BUSYBOX=$(command -v busybox || true)
if [ -z "$TINI" ] || [ -z "$BUSYBOX" ] || ! file -L "$BUSYBOX" | grep -q static; then
  echo "== memory under podman: installing tini and busybox-static" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tini busybox-static >/dev/null
  TINI=$(command -v tini-static); BUSYBOX=/bin/busybox
fi
[ -x artifacts/emissary ] || scripts/build.sh
bench/floor/publish.sh
ROUNDS=${MEMORY_ROUNDS:-5}
tag=localhost/emissary-bench-memory:$$
ctx=$(mktemp -d)
names=()
cleanup() {
  for n in "${names[@]}"; do podman rm -f -t 0 "$n" >/dev/null 2>&1 || true; done
  podman rmi -f "$tag" >/dev/null 2>&1 || true
  rm -rf "$ctx"
}
trap cleanup EXIT

cp artifacts/emissary artifacts/bench/floor/floor "$TINI" "$BUSYBOX" "$ctx/"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nCOPY emissary /emissary\nCOPY floor /floor\nCOPY %s /tini\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n' "$(basename "$TINI")" > "$ctx/Containerfile"
buildah bud --isolation chroot -q -f "$ctx/Containerfile" -t "$tag" "$ctx" >/dev/null

# The container's memory cgroup directory on the host, for cgroup v2 or v1.
cgroup_dir() {
  local pid=$1 rel
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    rel=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup"); echo "/sys/fs/cgroup$rel"
  else
    rel=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' "/proc/$pid/cgroup"); echo "/sys/fs/cgroup/memory$rel"
  fi
}
# KiB charged and KiB working set (charge - inactive_file)
charge() {
  local d=$1 usage inactive
  if [ -f "$d/memory.current" ]; then
    usage=$(cat "$d/memory.current"); inactive=$(awk '$1 == "inactive_file" { print $2 }' "$d/memory.stat")
  else
    usage=$(cat "$d/memory.usage_in_bytes"); inactive=$(awk '$1 == "total_inactive_file" { print $2 }' "$d/memory.stat")
  fi
  echo "$((usage / 1024)) $(((usage - inactive) / 1024))"
}
# KiB of anonymous memory and KiB of kernel memory charged
parts() {
  local d=$1 anon kernel
  if [ -f "$d/memory.current" ]; then
    anon=$(awk '$1 == "anon" { print $2 }' "$d/memory.stat"); kernel=$(awk '$1 == "kernel" { print $2 }' "$d/memory.stat")
  else
    anon=$(awk '$1 == "rss" { print $2 }' "$d/memory.stat"); kernel=$(cat "$d/memory.kmem.usage_in_bytes" 2>/dev/null || echo 0)
  fi
  echo "$((anon / 1024)) $((${kernel:-0} / 1024))"
}

measure() { # KIND -> "charge05 ws05 rss05 charge2 ws2 rss2 anon2 kernel2"
  local kind=$1 name=emissary-bench-memory-$$-$RANDOM cmd pid dir t0 a b
  case $kind in
    emissary) cmd=(/emissary run -- /bin/sleep 30) ;;
    tini) cmd=(/tini -- /bin/sleep 30) ;;
    floor) cmd=(/floor /bin/sleep 30) ;;
    bare) cmd=(/bin/sleep 30) ;;
  esac
  names+=("$name")
  t0=$(date +%s%N)
  podman run -d --name "$name" --network none "$tag" "${cmd[@]}" >/dev/null
  pid=$(podman inspect --format '{{.State.Pid}}' "$name")
  dir=$(cgroup_dir "$pid")
  sleep "$(awk -v t0="$t0" -v now="$(date +%s%N)" 'BEGIN { s = 0.5 - (now - t0) / 1e9; print (s > 0 ? s : 0) }')"
  a="$(charge "$dir") $(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")"
  sleep "$(awk -v t0="$t0" -v now="$(date +%s%N)" 'BEGIN { s = 2 - (now - t0) / 1e9; print (s > 0 ? s : 0) }')"
  b="$(charge "$dir") $(awk '/VmRSS/ { print $2 }' "/proc/$pid/status") $(parts "$dir")"
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  echo "$a $b"
}

echo "== memory under podman: container cgroup charge and working set (KiB), medians of $ROUNDS; load:$(uptime | sed 's/.*load average://')"
kinds=(emissary floor tini bare)
for kind in "${kinds[@]}"; do : > "$ctx/$kind"; done
for ((r = 0; r < ROUNDS; r++)); do
  for kind in "${kinds[@]}"; do measure $kind >> "$ctx/$kind"; done
done
med() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
declare -A M
for kind in "${kinds[@]}"; do
  for col in 1 2 3 4 5 6 7 8; do M[$kind.$col]=$(awk -v c=$col '{ print $c }' "$ctx/$kind" | med); done
  printf "  %-9s 0.5 s: charged %6d, working set %6d, PID 1 VmRSS %5d   2 s: charged %6d, working set %6d, PID 1 VmRSS %5d; anon %4d + kernel %4d\n" \
    $kind "${M[$kind.1]}" "${M[$kind.2]}" "${M[$kind.3]}" "${M[$kind.4]}" "${M[$kind.5]}" "${M[$kind.6]}" "${M[$kind.7]}" "${M[$kind.8]}"
done
over() { echo $((M[$1.7] + M[$1.8] - M[bare.7] - M[bare.8])); }
printf "  %-28s %6d KiB  (tini %6d KiB over bare sleep)\n" "emissary's working set over bare sleep at 2 s" \
  $((M[emissary.5] - M[bare.5])) $((M[tini.5] - M[bare.5]))
e=$(over emissary); f=$(over floor)
printf "  anon + kernel over bare sleep at 2 s: emissary %d KiB, floor (empty NativeAOT spawning sleep) %d KiB, tini %d KiB; emissary - floor %+d KiB\n" \
  "$e" "$f" "$(over tini)" $((e - f))
awk -v e="$e" -v f="$f" 'BEGIN { printf "  target <= +256 KiB over bare sleep: %s\n", (e <= 256 ? "OK" : (f > 256 ? "MISSED (below the floor: an empty NativeAOT program already costs +" f " KiB)" : "MISSED")) }'
