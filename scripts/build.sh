#!/usr/bin/env bash
# Publishes, into artifacts/:
#   emissary        the in-pod binary (init, run, commandlets): NativeAOT, fully static (static-pie)
#   emissary-tools  the developer verbs (rewrite, local), exec'd by `emissary rewrite|local`
#   entrypoint      Tekton's entrypoint, drop-in (the -entrypoint-image slot): Tekton's command line only
#   emissary-webhook the admission webhook server (Kestrel), exec'd by `emissary webhook`: static-pie too, OpenSSL linked in
#   testchild       the static C helper the black-box tests run as a child
# Installs its own prerequisites (clang, lld, zlib1g-dev, cmake, libssl-dev) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v clang >/dev/null || need+=(clang)
command -v ld.lld >/dev/null || need+=(lld)
[ -e /usr/include/zlib.h ] || need+=(zlib1g-dev)
command -v file >/dev/null || need+=(file)
# emissary-webhook links OpenSSL statically: the ILCompiler package builds its crypto shim with cmake against libssl.a.
command -v cmake >/dev/null || need+=(cmake)
[ -e /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "build.sh: installing ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

mkdir -p artifacts
publish() { # project, binary name
  dotnet publish "$1" -c Release -r linux-x64 -p:PublishAot=true -o "artifacts/publish/$2" -nologo -v quiet
  install -m 0755 "artifacts/publish/$2/$2" "artifacts/$2"
  file "artifacts/$2" | grep -q 'static-pie linked' || { echo "build.sh: artifacts/$2 is not a static-pie executable" >&2; exit 1; }
  echo "build.sh: artifacts/$2 ($(stat -c %s "artifacts/$2") bytes)" >&2
}
publish src/Emissary/Emissary.csproj emissary
publish src/Emissary.Tools/Emissary.Tools.csproj emissary-tools
publish src/Emissary.Tekton/Emissary.Tekton.csproj entrypoint
publish src/Emissary.Webhook/Emissary.Webhook.csproj emissary-webhook

clang -static -O2 -Wall -Werror -o artifacts/testchild tests/testchild/testchild.c
