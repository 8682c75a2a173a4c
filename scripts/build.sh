#!/usr/bin/env bash
# Publishes artifacts/emissary: a NativeAOT, fully static (static-pie) linux-x64 executable,
# and artifacts/testchild, the static C helper the black-box tests run as a child.
# Installs its own prerequisites (clang, lld, zlib1g-dev) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v clang >/dev/null || need+=(clang)
command -v ld.lld >/dev/null || need+=(lld)
[ -e /usr/include/zlib.h ] || need+=(zlib1g-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "build.sh: installing ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

mkdir -p artifacts
dotnet publish src/Emissary/Emissary.csproj -c Release -r linux-x64 \
  -p:PublishAot=true -o artifacts/publish -nologo -v quiet "$@"
install -m 0755 artifacts/publish/emissary artifacts/emissary

clang -static -O2 -Wall -Werror -o artifacts/testchild tests/testchild/testchild.c

file artifacts/emissary 2>/dev/null | grep -q 'static-pie linked' || {
  echo "build.sh: artifacts/emissary is not a static-pie executable" >&2; exit 1; }
echo "build.sh: artifacts/emissary ($(stat -c %s artifacts/emissary) bytes)" >&2
