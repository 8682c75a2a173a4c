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
podman=0
if [ "$(id -u)" -eq 0 ] && [ "${EMISSARY_SKIP_E2E:-0}" != 1 ]; then
  scripts/podman-setup.sh
  podman=1
fi
# kubectl (kustomize inside) for the test that runs `emissary rewrite` under the real kustomize;
# optional: where no package source has it, that test is skipped, not failed.
if ! command -v kubectl >/dev/null && [ "$(id -u)" -eq 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubectl >/dev/null 2>&1 || echo "test.sh: kubectl not installable here: the kustomize test is skipped" >&2
fi

# What this run must not skip: the black-box tests skip, saying how to run them, when a
# prerequisite is missing (plain `dotnet test` on a fresh clone); here the artifacts were just
# built, so a skip would only hide a failure. Root and podman are required when we have them.
if [ -z "${EMISSARY_REQUIRE+set}" ]; then
  EMISSARY_REQUIRE=artifacts
  [ "$(id -u)" -eq 0 ] && EMISSARY_REQUIRE+=",root"
  [ "$podman" -eq 1 ] && EMISSARY_REQUIRE+=",podman"
  command -v kubectl >/dev/null && EMISSARY_REQUIRE+=",kubectl"
fi
export EMISSARY_REQUIRE
echo "test.sh: EMISSARY_REQUIRE=$EMISSARY_REQUIRE (a black-box test that would skip for want of one of these fails instead)" >&2

results=$(mktemp -d); trap 'rm -rf "$results"' EXIT
status=0
dotnet test src/Emissary.Tests/Emissary.Tests.csproj -c Release --nologo -v quiet \
  --logger "console;verbosity=normal" --logger "trx;LogFileName=tests.trx" \
  --results-directory "$results" "$@" 2>&1 || status=1

e2e=skipped
if [ "$podman" -eq 1 ]; then
  if scripts/e2e-podman.sh; then e2e=passed; else e2e=failed; status=1; fi
fi

# Count what ran from the TRX file (one <UnitTestResult ... outcome="..."> per test case run),
# not from console text whose format changes between test platforms.
trx=$(find "$results" -name '*.trx' | head -1)
if [ -n "$trx" ]; then
  outcomes=$(grep -o '<UnitTestResult [^>]*outcome="[A-Za-z]*"' "$trx" | sed 's/.*outcome="\([A-Za-z]*\)"/\1/' || true)
  count() { printf '%s\n' "$outcomes" | grep -cx "$1" || true; }
  passed=$(count Passed); failed=$(count Failed); skipped=$(count NotExecuted)
  other=$(printf '%s\n' "$outcomes" | grep -cvxE 'Passed|Failed|NotExecuted|' || true)
  [ "$failed" -eq 0 ] && [ "$other" -eq 0 ] || status=1
  summary="tests: $passed passed, $failed failed, $skipped skipped"
  [ "$other" -eq 0 ] || summary+=", $other other (aborted, timed out, ...)"
else
  summary="tests: no results (the test run did not complete)"
  status=1
fi
# A test that replaced a device node by a file would break the machine for everything after it.
if [ ! -c /dev/null ]; then
  echo "test.sh: /dev/null is no longer a character device: a test replaced it" >&2
  status=1
fi
echo "$summary; end-to-end (podman): $e2e"
exit $status
