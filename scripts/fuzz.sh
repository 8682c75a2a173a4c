#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers of bytes someone else wrote (docs/fuzzing.md):
#   scripts/fuzz.sh --list             the targets, one a line
#   scripts/fuzz.sh [TARGET] [SECONDS] afl-fuzz on TARGET (default: every target; a,b,c: those), one
#                                      after the other, SECONDS each (default 60), seeded from fuzz/TARGET/
# Installs afl++ (Debian) and the sharpfuzz tool (NuGet, into artifacts/fuzz/tools) when missing,
# builds src/Emissary.Fuzz (JIT, not NativeAOT) into artifacts/fuzz/bin and instruments the Emissary
# assemblies there (and YamlDotNet, which the manifest targets parse with). New crashes and hangs are
# copied to fuzz/findings/TARGET/ (git-ignored); the exit status is 1 when there is one.
# Runs on one core at low priority (nice); afl-fuzz's working directory is capped at FUZZ_OUT_MB
# (default 256) per target: afl-fuzz is stopped when it is reached.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=artifacts/fuzz/bin
tools=artifacts/fuzz/tools
work=artifacts/fuzz/out
cap_mb=${FUZZ_OUT_MB:-256}

if [ "${1:-}" = "--list" ]; then
  # The table lives in src/Emissary.Fuzz/FuzzTargets.cs; listing it needs no instrumented build.
  dotnet run --project src/Emissary.Fuzz -c Release -v quiet -- --list
  exit 0
fi
target=${1:-all}
seconds=${2:-60}
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not '$seconds'" >&2; exit 2;; esac

if ! command -v afl-fuzz >/dev/null; then
  echo "fuzz.sh: installing afl++" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq afl++ >/dev/null
fi
if [ ! -x "$tools/sharpfuzz" ]; then
  echo "fuzz.sh: installing the sharpfuzz tool" >&2
  dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" >/dev/null
fi

# A fresh output each time: sharpfuzz refuses an assembly it has instrumented already.
rm -rf "$bin"
dotnet publish src/Emissary.Fuzz/Emissary.Fuzz.csproj -c Release -o "$bin" -nologo -v quiet >&2
for dll in Emissary.Core.dll emissary-tools.dll emissary-webhook.dll YamlDotNet.dll; do
  "$tools/sharpfuzz" "$bin/$dll" >/dev/null
done

if [ "$target" = all ]; then
  mapfile -t targets < <("$bin/Emissary.Fuzz" --list)
else
  IFS=, read -ra targets <<<"$target"
  for t in "${targets[@]}"; do
    "$bin/Emissary.Fuzz" --list | grep -qx "$t" || { echo "fuzz.sh: no target '$t' (see: scripts/fuzz.sh --list)" >&2; exit 2; }
  done
fi

export AFL_SKIP_BIN_CHECK=1          # a .NET app: no AFL instrumentation in the ELF, SharpFuzz reports coverage
export AFL_NO_UI=1 AFL_QUIET=1
export AFL_SKIP_CPUFREQ=1
export AFL_NO_AFFINITY=1             # nice'd and unbound: the machine is shared
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_AUTORESUME=0

summary=artifacts/fuzz/summary.tsv
mkdir -p "$work"
[ -f "$summary" ] || printf 'target\tseconds\texecs_done\texecs_per_sec\tbitmap_cvg\tedges_found\tcorpus_count\tcrashes\thangs\n' > "$summary"
found=0
for t in "${targets[@]}"; do
  out="$work/$t"
  rm -rf "$out"
  echo "fuzz.sh: $t for ${seconds}s (seeds: fuzz/$t/)" >&2
  # -t: an input that takes over 2 s is a hang (a parse is microseconds; the JIT's first run is not counted by afl).
  nice -n 15 afl-fuzz -i "fuzz/$t" -o "$out" -V "$seconds" -t 2000 -m none -- "$bin/Emissary.Fuzz" "$t" >"$work/$t.log" 2>&1 &
  afl=$!
  # The cap on disk: afl-fuzz writes each new path and finding; past the cap it is stopped.
  while kill -0 "$afl" 2>/dev/null; do
    sleep 5
    if [ "$(du -sm "$out" 2>/dev/null | cut -f1)" -gt "$cap_mb" ]; then
      echo "fuzz.sh: $t: $out is over ${cap_mb} MiB: stopping afl-fuzz" >&2
      kill "$afl" 2>/dev/null || true
    fi
  done
  wait "$afl" || { echo "fuzz.sh: afl-fuzz failed for $t (log: $work/$t.log):" >&2; tail -20 "$work/$t.log" >&2; found=1; continue; }

  stats="$out/default/fuzzer_stats"
  stat() { sed -n "s/^$1 *: *//p" "$stats" | head -1; }
  crashes=0; hangs=0
  for kind in crashes hangs; do
    for f in "$out/default/$kind"/id:*; do
      [ -e "$f" ] || continue
      mkdir -p "fuzz/findings/$t"
      cp "$f" "fuzz/findings/$t/$kind-$(basename "$f" | cut -d, -f1 | tr ':' '-')"
      if [ "$kind" = crashes ]; then crashes=$((crashes + 1)); else hangs=$((hangs + 1)); fi
    done
  done
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$seconds" "$(stat execs_done)" "$(stat execs_per_sec)" "$(stat bitmap_cvg)" \
    "$(stat edges_found)" "$(stat corpus_count)" "$crashes" "$hangs" | tee -a "$summary" >&2
  if [ $((crashes + hangs)) -gt 0 ]; then
    echo "fuzz.sh: $t: $crashes crash(es), $hangs hang(s) in fuzz/findings/$t/ (replay: $bin/Emissary.Fuzz $t FILE)" >&2
    found=1
  fi
done
exit $found
