#!/usr/bin/env bash
# Memory as the kubelet counts it: the container's cgroup charge (memory.current on cgroup v2,
# memory.usage_in_bytes on v1) and its working set (charge minus inactive_file, the figure the
# kubelet reports and evicts on), for one container image run three ways:
#   emissary  emissary run -- sleep 30 as the entrypoint (PID 1)
#   tini      tini -- sleep 30 as the entrypoint (Debian's tini-static)
#   bare      sleep 30 as PID 1 (no supervisor: the floor)
# read from the host's cgroup files 0.5 s and 2 s after the container started, plus VmRSS of the
# supervisor itself. Medians of MEMORY_ROUNDS (default 5) runs, the three kinds alternated.
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

cp artifacts/emissary "$TINI" "$BUSYBOX" "$ctx/"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nCOPY emissary /emissary\nCOPY %s /tini\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n' "$(basename "$TINI")" > "$ctx/Containerfile"
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

measure() { # KIND -> "charge05 ws05 rss05 charge2 ws2 rss2"
  local kind=$1 name=emissary-bench-memory-$$-$RANDOM cmd pid dir t0 a b
  case $kind in
    emissary) cmd=(/emissary run -- /bin/sleep 30) ;;
    tini) cmd=(/tini -- /bin/sleep 30) ;;
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
  b="$(charge "$dir") $(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")"
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  echo "$a $b"
}

echo "== memory under podman: container cgroup charge and working set (KiB), medians of $ROUNDS; load:$(uptime | sed 's/.*load average://')"
for kind in emissary tini bare; do : > "$ctx/$kind"; done
for ((r = 0; r < ROUNDS; r++)); do
  for kind in emissary tini bare; do measure $kind >> "$ctx/$kind"; done
done
med() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
declare -A M
for kind in emissary tini bare; do
  for col in 1 2 3 4 5 6; do M[$kind.$col]=$(awk -v c=$col '{ print $c }' "$ctx/$kind" | med); done
  printf "  %-9s 0.5 s: charged %6d, working set %6d, PID 1 VmRSS %5d   2 s: charged %6d, working set %6d, PID 1 VmRSS %5d\n" \
    $kind "${M[$kind.1]}" "${M[$kind.2]}" "${M[$kind.3]}" "${M[$kind.4]}" "${M[$kind.5]}" "${M[$kind.6]}"
done
printf "  %-28s %6d KiB  (tini %6d KiB over bare sleep)\n" "emissary's working set over bare sleep at 2 s" \
  $((M[emissary.5] - M[bare.5])) $((M[tini.5] - M[bare.5]))
