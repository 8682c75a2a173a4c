#!/usr/bin/env bash
# Builds everything and runs every test: unit tests with fakes and black-box tests against the
# published static binary (as PID 1, as non-root, in an empty root, under signals).
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
dotnet test src/Emissary.Tests/Emissary.Tests.csproj -c Release --nologo -v quiet \
  --logger "console;verbosity=normal" "$@"
