#!/usr/bin/env bash
# Where start-up's time goes: `emissary run -- /bin/true` beside the floor (bench/floor, the empty
# NativeAOT program spawning /bin/true), phase by phase, medians over ROUNDS runs of each taken in
# alternation (docs/benchmarks.md, "Start-up"). bench.sh says how far emissary is from the floor;
# this says in which phase the difference lives, before anyone changes anything to close it.
#
# How: the released binaries (artifacts/emissary as scripts/build.sh publishes it, the floor as
# scripts/bench.sh does) run from copies written just now (emissary's by `emissary init`, as in a
# pod), and perf places uprobes in them at the runtime's and the program's landmarks, found by name
# in their .dbg files: libc's `main`, `RhInitialize`, the module and static-base initialisation, the
# managed `Main`; for emissary also `RunCommand.ExecuteStep` and `StepRunner.Run`. The scheduler's
# tracepoints add exec, the runtime's first thread, the command's clone and exit. Every uprobe hit
# costs a trap (~1-3 us) and placing one copies a page of code, so the phases with probes in them
# read a little long: compare the two columns, not the figures with bench.sh's.
#   scripts/startup-phases.sh [ROUNDS]    (default 300; root, perf and python3; installs
#                                          linux-perf when missing)
# Exit codes: 0 the table was printed, 1 it could not be measured here, 2 a bad ROUNDS.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-300}
[[ $rounds =~ ^[1-9][0-9]{0,5}$ ]] || { echo "startup-phases: ROUNDS must be a whole number from 1 to 999999, not '$rounds'" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "startup-phases: uprobes need root" >&2; exit 1; }
command -v python3 >/dev/null || { echo "startup-phases: needs python3" >&2; exit 1; }
if ! command -v perf >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf >/dev/null \
    || { echo "startup-phases: needs perf (Debian's linux-perf), which could not be installed" >&2; exit 1; }
fi

group=emissary_phases
tmp=$(mktemp -d)
cleanup() { perf probe -q -d "$group:*" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
perf probe -q -d "$group:*" >/dev/null 2>&1 || true

# The binaries and their symbols, built the way bench.sh builds them when missing or stale.
[ -x artifacts/emissary ] || EMISSARY_ARCHS=x64 scripts/build.sh
bench/floor/publish.sh >/dev/null
E_DBG=artifacts/publish/linux-x64/emissary/emissary.dbg
F_DBG=artifacts/bench/floor/floor.dbg
build_id() { readelf -n "$1" 2>/dev/null | sed -n 's/.*Build ID: //p'; }
for pair in "artifacts/emissary $E_DBG" "artifacts/bench/floor/floor $F_DBG"; do
  set -- $pair
  [ -f "$2" ] && [ "$(build_id "$1")" = "$(build_id "$2")" ] \
    || { echo "startup-phases: $2 does not belong to $1: run scripts/build.sh" >&2; exit 1; }
done
E=$tmp/emissary
F=$tmp/floor
artifacts/emissary init "$E"
cp artifacts/bench/floor/floor "$F"

# probe BINARY DBG PREFIX NAME=SYMBOL[%return]...: one uprobe per landmark, named PREFIX_NAME, at
# the symbol's file offset in the stripped BINARY (its address from DBG, through the binary's
# loadable segments).
probe() {
  local binary=$1 dbg=$2 prefix=$3 spec name symbol suffix address offset
  shift 3
  for spec in "$@"; do
    name=${spec%%=*}
    symbol=${spec#*=}
    suffix=""
    [[ $symbol == *%return ]] && { suffix=%return; symbol=${symbol%\%return}; }
    address=$(nm "$dbg" | awk -v s="$symbol" '$3 == s && !found { print $1; found = 1 }')
    offset=""
    if [ -n "$address" ]; then
      local type off va pa filesz rest a=$((16#$address))
      while read -r type off va pa filesz rest; do
        [ "$type" = LOAD ] && ((a >= va && a < va + filesz)) && { offset=$(printf '0x%x' $((a - va + off))); break; }
      done < <(readelf -lW "$binary")
    fi
    { [ -n "$address" ] && [ -n "$offset" ] \
      && perf probe -q -x "$binary" -a "$group:${prefix}_$name=$offset$suffix" >/dev/null 2>&1; } \
      || { echo "startup-phases: cannot place a uprobe at $symbol in $binary" >&2; exit 1; }
  done
}
common=(main=main runtime=RhInitialize modules=S_P_CoreLib_Internal_Runtime_CompilerHelpers_StartupCodeHelpers__InitializeModules
        statics=S_P_CoreLib_Internal_Runtime_CompilerHelpers_StartupCodeHelpers__InitializeStatics%return)
probe "$E" "$E_DBG" e "${common[@]}" managed=emissary_Emissary_Program__Main \
  step=Emissary_Core_Emissary_Commands_RunCommand__ExecuteStep runner=Emissary_Core_Emissary_Supervision_StepRunner__Run
probe "$F" "$F_DBG" f "${common[@]}" managed=floor_Floor_Program__Main

echo "startup-phases: $rounds rounds of each, in alternation" >&2
perf record -q -a -o "$tmp/perf.data" -e "$group:*" -e sched:sched_process_exec -e sched:sched_process_fork \
  -e sched:sched_process_exit -- sh -c 'i=0; while [ $i -lt "$1" ]; do "$2" run -- /bin/true; "$3" /bin/true; i=$((i+1)); done' \
  sh "$rounds" "$E" "$F" >/dev/null 2>"$tmp/record.err" \
  || { echo "startup-phases: perf record failed: $(tail -1 "$tmp/record.err")" >&2; exit 1; }
perf script -i "$tmp/perf.data" -F comm,pid,time,event >"$tmp/events.txt" 2>/dev/null

python3 - "$tmp/events.txt" "$rounds" <<'EOF'
import re, statistics, sys
from collections import defaultdict

events = defaultdict(list)   # pid -> [(time, event, comm)]
for line in open(sys.argv[1]):
    m = re.match(r'\s*(.+?)\s+(\d+)\s+([\d.]+):\s+(\S+):', line)
    if m:
        events[int(m.group(2))].append((float(m.group(3)), m.group(4), m.group(1)))

def timeline(evs, name, prefix):
    """Microseconds from exec to each landmark of one run; None if the run is incomplete."""
    evs.sort()
    t0 = evs[0][0]
    marks, forks = {}, 0
    for t, ev, comm in evs:
        kind = ev.split(':', 1)[1]
        if kind == 'sched_process_fork':
            forks += 1
            marks.setdefault('thread' if forks == 1 else 'spawn', (t - t0) * 1e6)
        elif kind == 'sched_process_exit':
            if comm == name:
                marks['exit'] = (t - t0) * 1e6
        elif kind.startswith(prefix + '_'):
            marks.setdefault(kind[len(prefix) + 1:].replace('__return', ''), (t - t0) * 1e6)
    needed = ['main', 'runtime', 'thread', 'modules', 'statics', 'managed', 'spawn', 'exit']
    return marks if all(k in marks for k in needed) else None

runs = {'emissary': [], 'floor': []}
for pid, evs in events.items():
    first = sorted(evs)[0]
    if first[1] != 'sched:sched_process_exec' or first[2] not in runs:
        continue
    marks = timeline(evs, first[2], 'e' if first[2] == 'emissary' else 'f')
    if marks:
        runs[first[2]].append(marks)

if not runs['emissary'] or not runs['floor']:
    print('startup-phases: no complete run was recorded (were the uprobes hit?)', file=sys.stderr)
    sys.exit(1)

phases = [
    ('exec -> main (kernel exec, libc start)', None, 'main'),
    ('main -> RhInitialize', 'main', 'runtime'),
    ("RhInitialize -> the runtime's first thread (PAL, GC)", 'runtime', 'thread'),
    ('first thread -> module initialisation', 'thread', 'modules'),
    ('static bases (InitializeStatics)', 'modules', 'statics'),
    ('eager class constructors -> managed Main', 'statics', 'managed'),
    ('managed Main -> the command is cloned', 'managed', 'spawn'),
    ('  of which Main -> RunCommand.ExecuteStep', 'managed', 'step'),
    ('  of which ExecuteStep -> StepRunner.Run', 'step', 'runner'),
    ('  of which StepRunner.Run -> the clone', 'runner', 'spawn'),
    ("the clone -> the supervisor's exit (the command runs)", 'spawn', 'exit'),
    ('total: exec -> exit', None, 'exit'),
]
def median(kind, start, end):
    values = [m[end] - (m[start] if start else 0) for m in runs[kind] if end in m and (start is None or start in m)]
    return statistics.median(values) if values else None

n = min(len(runs['emissary']), len(runs['floor']))
print(f"== start-up phases of `run -- /bin/true` against the floor, medians of {len(runs['emissary'])} / {len(runs['floor'])} runs (us from exec; uprobes add ~1-3 us each)")
print(f"  {'phase':<56} {'emissary':>9} {'floor':>9} {'diff':>7}")
for label, start, end in phases:
    e, f = median('emissary', start, end), median('floor', start, end)
    if e is None:
        continue
    if f is None:
        print(f"  {label:<56} {e:9.0f} {'':>9} {'':>7}")
    else:
        print(f"  {label:<56} {e:9.0f} {f:9.0f} {e - f:+7.0f}")
EOF
