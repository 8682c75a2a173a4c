#!/usr/bin/env bash
# Regenerates native-aot/order/BINARY.order for the binaries that start in every container
# (emissary, entrypoint) and for the start-up floor they are measured against: the managed
# methods each one runs on its start-up and hand-off paths, in the order they first run. ILC lays
# those methods out first and together (IlcOrderFile in native-aot/StaticNativeAot.targets), so
# start-up touches a few pages of code instead of most of them (docs/benchmarks.md, "Start-up").
#
# How: each binary is published without an order file, run under valgrind's lackey tool (which
# reports every block of code entered), and the addresses are mapped to method symbols through the
# binary's .dbg file. Scenarios: `run -- /bin/true`; a step released by its upstream (`--after`,
# both sides traced) and `status`; Tekton's entrypoint with its usual flags; the floor spawning
# /bin/true.
#
# Run it after changing what start-up or a hand-off executes, and commit the files it writes.
# A stale file costs page faults, nothing else: ILC ignores names that no longer exist, and
# methods missing from the file are laid out after the listed ones, as before. Two runs may differ
# by a few methods of ~700 (seen: 4); either file serves.
#   scripts/startup-order.sh     (needs valgrind and python3; installs valgrind when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

command -v valgrind >/dev/null || {
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq valgrind >/dev/null
}
command -v python3 >/dev/null || { echo "startup-order: needs python3" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

# publish PROJECT NAME: the binary without an order file, with its .dbg, under $tmp/NAME.
publish() {
  dotnet publish "$1" -c Release -r linux-x64 -p:PublishAot=true -p:EmissaryStartupOrder=false \
    -o "$tmp/$2" -nologo -v quiet >/dev/null
}
# trace NAME OUT ARGS...: runs NAME ARGS under $tool. lackey reports every block of code entered,
# in order (OUT.lackey); it misses small methods valgrind merged into their caller's block, which
# callgrind's list of functions entered has (OUT.callgrind). The binary runs from a directory of
# its own: valgrind gives up on NativeAOT's .dbg file when it finds it.
trace() {
  local name=$1 out=$2
  shift 2
  mkdir -p "$tmp/bare"
  [ -x "$tmp/bare/$name" ] || cp "$tmp/$name/$name" "$tmp/bare/$name"
  if [ "$tool" = lackey ]; then
    valgrind --tool=lackey --trace-superblocks=yes --log-file="$out.lackey" "$tmp/bare/$name" "$@" >/dev/null 2>&1 || true
  else
    valgrind --tool=callgrind --callgrind-out-file="$out.callgrind" "$tmp/bare/$name" "$@" >/dev/null 2>&1 || true
  fi
}
state_of() { sed -n 's/.*"state":"\([a-z]*\)".*/\1/p' "$1/$2/status.json" 2>/dev/null; }
until_state() { # DIR STEP STATE: waits up to 60 s (valgrind runs the binary ~50x slower)
  local t
  for ((t = 0; t < 600; t++)); do [ "$(state_of "$1" "$2")" = "$3" ] && return 0; sleep 0.1; done
  echo "startup-order: step $2 never reached '$3'" >&2; exit 1
}

echo "startup-order: publishing without order files" >&2
publish src/Emissary/Emissary.csproj emissary
publish src/Emissary.Tekton/Emissary.Tekton.csproj entrypoint
publish bench/floor/Floor.csproj floor

for tool in lackey callgrind; do
  echo "startup-order: tracing emissary ($tool)" >&2
  trace emissary "$tmp/e1" run -- /bin/true
  ctl=$tmp/control-$tool
  mkdir -p "$ctl"
  rm -f "$tmp/go"
  mkfifo "$tmp/go"
  trace emissary "$tmp/e2" run --control-dir "$ctl" --name a -- /bin/sh -c 'read x < "$0"' "$tmp/go" &
  pids+=($!)
  until_state "$ctl" a running
  trace emissary "$tmp/e3" run --control-dir "$ctl" --name b --after a -- /bin/true &
  pids+=($!)
  until_state "$ctl" b waiting
  # b opens a's alive FIFO and then sleeps in epoll: give it that moment under valgrind.
  for ((t = 0; t < 100; t++)); do ls -l "/proc/$(pgrep -f -n 'name b --after a')/fd" 2>/dev/null | grep -q '/a/alive$' && break; sleep 0.1; done
  sleep 1
  echo go > "$tmp/go"
  wait "${pids[@]}"
  pids=()
  [ "$(state_of "$ctl" b)" = succeeded ] || { echo "startup-order: the traced hand-off did not succeed" >&2; exit 1; }
  trace emissary "$tmp/e4" status --control-dir "$ctl"

  echo "startup-order: tracing entrypoint and the floor ($tool)" >&2
  tk=$tmp/tekton-$tool
  mkdir -p "$tk/status"
  echo ready > "$tk/ready"
  trace entrypoint "$tmp/t1" -wait_file "$tk/ready" -wait_file_content -post_file "$tk/out" \
    -termination_path "$tk/termination" -step_metadata_dir "$tk/status" -entrypoint /bin/true --
  trace floor "$tmp/f1" /bin/true
done

mkdir -p native-aot/order
python3 - "$tmp" "$root/native-aot/order" <<'EOF'
import bisect, re, subprocess, sys
tmp, out = sys.argv[1], sys.argv[2]

def order(name, traces):
    # Method symbols of the managed code section, from the binary's .dbg file.
    listing = subprocess.run(["nm", "-n", f"{tmp}/{name}/{name}.dbg"], capture_output=True, text=True, check=True).stdout
    symbols, start, stop = [], None, None
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        address = int(parts[0], 16)
        if parts[2] == "__start___managedcode":
            start = address
        elif parts[2] == "__stop___managedcode":
            stop = address
        elif parts[1] in "tT":
            symbols.append((address, parts[2]))
    # Identical methods share one body under several names, and ILC orders by its own name for
    # it: every name of a body that ran goes into the file.
    bodies = {}
    for address, symbol in symbols:
        if start <= address < stop:
            bodies.setdefault(address, []).append(symbol)
    addresses = sorted(bodies)
    seen, names = set(), []
    def ran(address):
        if start <= address < stop:
            i = bisect.bisect_right(addresses, address) - 1
            if i >= 0 and addresses[i] not in seen:
                seen.add(addresses[i])
                names.extend(bodies[addresses[i]])
    for trace in traces:
        # In the order they first ran, then the ones only callgrind saw (small methods merged
        # into their caller's block under lackey), in address order, after their scenario's.
        for line in open(f"{trace}.lackey"):
            if line.startswith("SB "):
                ran(int(line.split()[1], 16))
        entered = {int(m.group(1), 16) for line in open(f"{trace}.callgrind")
                   if line.startswith("fn=") and (m := re.search(r" 0x([0-9a-f]+)", line))}
        for address in sorted(entered):
            ran(address)
    if len(seen) < 50:
        sys.exit(f"startup-order: only {len(seen)} methods traced for {name}: did the trace run?")
    with open(f"{out}/{name}.order", "w") as f:
        f.write("".join(n + "\n" for n in names))
    print(f"startup-order: native-aot/order/{name}.order: {len(seen)} methods ({len(names)} names)", file=sys.stderr)

order("emissary", [f"{tmp}/e1", f"{tmp}/e2", f"{tmp}/e3", f"{tmp}/e4"])
order("entrypoint", [f"{tmp}/t1"])
order("floor", [f"{tmp}/f1"])
EOF
