#!/usr/bin/env bash
# Builds everything and runs every test: unit tests with fakes, black-box tests against the
# published static binaries (as PID 1, as non-root, in an empty root, under signals), and, as
# root, the end-to-end run of the examples in real containers (scripts/e2e-podman.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# Tools the black-box tests drive (Debian packages): unshare/setpriv (util-linux), busybox-static.
need=()
command -v unshare >/dev/null || need+=(util-linux)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v file >/dev/null || need+=(file)
if [ ${#need[@]} -gt 0 ]; then
  echo "test.sh: installing ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

scripts/build.sh
# As root (CI is), real containers are part of the tests: set podman up before the test run so
# the `emissary local --engine podman` tests run too, not only scripts/e2e-podman.sh.
if [ "$(id -u)" -eq 0 ] && [ "${EMISSARY_SKIP_E2E:-0}" != 1 ]; then
  scripts/podman-setup.sh
fi
log=$(mktemp); trap 'rm -f "$log"' EXIT
status=0
dotnet test src/Emissary.Tests/Emissary.Tests.csproj -c Release --nologo -v quiet \
  --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log" || status=$?

e2e=skipped
if [ "$(id -u)" -eq 0 ] && [ "${EMISSARY_SKIP_E2E:-0}" != 1 ]; then
  if scripts/e2e-podman.sh; then e2e=passed; else e2e=failed; status=1; fi
fi

passed=$(sed -n 's/.*Passed: *\([0-9]*\).*/\1/p' "$log" | tail -1)
failed=$(sed -n 's/.*Failed: *\([0-9]*\), Passed.*/\1/p' "$log" | tail -1)
echo "end-to-end (podman): $e2e"
echo "${passed:-0} passed, ${failed:-0} failed"
exit $status
