#!/usr/bin/env bash
# Builds everything and runs every test: unit tests with fakes, black-box tests against the
# published static binaries (as PID 1, as non-root, in an empty root, under signals), the
# black-box tests of the in-pod binaries again against the linux-arm64 build under qemu-user
# (docs/platforms.md), and, as root, the end-to-end run of the examples in real containers
# (scripts/e2e-podman.sh) and of the multi-arch images (scripts/images.sh --check).
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

# Both architectures, whatever EMISSARY_ARCHS says: the arm64 run below needs artifacts/linux-arm64.
EMISSARY_ARCHS="x64 arm64" scripts/build.sh

# qemu-user runs the arm64 build here: binfmt_misc hands every aarch64 ELF to qemu-aarch64-static
# (flag F: the emulator is opened now, so it also serves chroots and empty roots).
arm64=1
if [ "$(id -u)" -eq 0 ]; then
  need=()
  [ -x /usr/libexec/qemu-binfmt/aarch64-binfmt-P ] || command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
  command -v update-binfmts >/dev/null || need+=(binfmt-support)
  if [ ${#need[@]} -gt 0 ]; then
    echo "test.sh: installing ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable qemu-aarch64 2>/dev/null || true
fi
if ! artifacts/linux-arm64/testchild exit 0 2>/dev/null; then
  echo "test.sh: cannot run aarch64 binaries here (qemu-user-static and binfmt_misc need root): the arm64 run is left out" >&2
  arm64=0
fi
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
  EMISSARY_REQUIRE+=",arm64"
fi
export EMISSARY_REQUIRE
echo "test.sh: EMISSARY_REQUIRE=$EMISSARY_REQUIRE (a black-box test that would skip for want of one of these fails instead)" >&2

results=$(mktemp -d); trap 'rm -rf "$results"' EXIT
status=0
dotnet test src/Emissary.Tests/Emissary.Tests.csproj -c Release --nologo -v quiet \
  --logger "console;verbosity=normal" --logger "trx;LogFileName=tests.trx" \
  --results-directory "$results/x64" "$@" 2>&1 || status=1

# The black-box tests of the in-pod binaries again, against artifacts/linux-arm64 under qemu-user
# (EMISSARY_ARCH=arm64 points the tests there): PID 1 and reaping, signals, gates and sidecars,
# hand-off, results, streams, output and capture, the Tekton entrypoint, the file checks. Not the
# unit tests (the same IL), not the developer tools, webhook or podman tests. A test qemu-user
# cannot run faithfully is skipped there with its reason (Qemu in BlackBox/Requirements.cs).
# A --filter given to this script narrows this run too.
arm64_classes="InitTests ReapingTests EmptyRootTests UnprivilegedTests SignalForwardingTests SignalMaskTests
  OrderingTests SidecarTests RunPolicyTests HandoffTests ResultsTests StepResultReferenceTests StreamTests
  TektonEntrypointTests WritePathTests ExitCodeTests OutputTests CaptureTests SecurityTests DefectTests BinaryTests"
arm64_filter=$(printf 'FullyQualifiedName~Emissary.Tests.BlackBox.%s.|' $arm64_classes)
arm64_filter="(${arm64_filter%|})"
arm64_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --filter) arm64_filter+="&($2)"; shift 2;;
    --filter=*) arm64_filter+="&(${1#--filter=})"; shift;;
    *) arm64_args+=("$1"); shift;;
  esac
done
if [ "$arm64" -eq 1 ]; then
  arm64_start=$SECONDS
  EMISSARY_ARCH=arm64 dotnet test src/Emissary.Tests/Emissary.Tests.csproj -c Release --nologo -v quiet --no-build \
    --logger "console;verbosity=normal" --logger "trx;LogFileName=arm64.trx" \
    --results-directory "$results/arm64" --filter "$arm64_filter" "${arm64_args[@]}" 2>&1 || status=1
  echo "test.sh: the arm64 run (qemu-user) took $(( (SECONDS - arm64_start) / 60 )) min $(( (SECONDS - arm64_start) % 60 )) s" >&2
fi

e2e=skipped
images=skipped
if [ "$podman" -eq 1 ]; then
  if scripts/e2e-podman.sh; then e2e=passed; else e2e=failed; status=1; fi
  # The multi-arch images (scripts/images.sh): each architecture's image run, and an arm64 pod
  # of two gated steps under qemu-user.
  if [ "$arm64" -eq 1 ]; then
    if scripts/images.sh --check; then images="passed"; else images="failed"; status=1; fi
  fi

fi

# Count what ran from the TRX file (one <UnitTestResult ... outcome="..."> per test case run),
# not from console text whose format changes between test platforms.
count_run() { # results directory -> counted="N passed, N failed, N skipped"; status=1 when something failed
  local trx outcomes passed failed skipped other
  trx=$(find "$1" -name '*.trx' 2>/dev/null | head -1)
  if [ -z "$trx" ]; then status=1; counted="no results (the test run did not complete)"; return; fi
  outcomes=$(grep -o '<UnitTestResult [^>]*outcome="[A-Za-z]*"' "$trx" | sed 's/.*outcome="\([A-Za-z]*\)"/\1/' || true)
  count() { printf '%s\n' "$outcomes" | grep -cx "$1" || true; }
  passed=$(count Passed); failed=$(count Failed); skipped=$(count NotExecuted)
  other=$(printf '%s\n' "$outcomes" | grep -cvxE 'Passed|Failed|NotExecuted|' || true)
  [ "$failed" -eq 0 ] && [ "$other" -eq 0 ] || status=1
  counted="$passed passed, $failed failed, $skipped skipped"
  # Name what failed near the closing line: CI keeps only the tail of the output.
  grep -o '<UnitTestResult [^>]*outcome="Failed"' "$trx" | sed 's/.*testName="\([^"]*\)".*/\1/' |
    sed -e 's/&quot;/"/g' -e "s|^|test.sh: failed ($2): |" >&2 || true
  [ "$other" -eq 0 ] || counted+=", $other other (aborted, timed out, ...)"
}
count_run "$results/x64" x64
summary="tests: $counted"
if [ "$arm64" -eq 1 ]; then
  count_run "$results/arm64" "arm64, qemu"
  summary+="; arm64 (qemu): $counted"
else
  summary+="; arm64 (qemu): not run (cannot run aarch64 binaries here)"
  [ "$(id -u)" -ne 0 ] || status=1 # as root (CI) qemu-user was set up above: not running is a failure
fi
# A test that replaced a device node by a file would break the machine for everything after it.
if [ ! -c /dev/null ]; then
  echo "test.sh: /dev/null is no longer a character device: a test replaced it" >&2
  status=1
fi
echo "$summary; end-to-end (podman): $e2e; images amd64+arm64 (podman, qemu): $images"
exit $status
