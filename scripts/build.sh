#!/usr/bin/env bash
# Publishes, into artifacts/ (linux-x64) and artifacts/linux-arm64/ (the same five, for arm64 nodes;
# docs/platforms.md):
#   emissary        the in-pod binary (init, run, commandlets): NativeAOT, fully static (static-pie)
#   emissary-tools  the developer verbs (rewrite, local), exec'd by `emissary rewrite|local`
#   entrypoint      Tekton's entrypoint, drop-in (the -entrypoint-image slot): Tekton's command line only
#   emissary-webhook the admission webhook server (Kestrel), exec'd by `emissary webhook`: static-pie too, OpenSSL linked in
#   testchild       the static C helper the black-box tests run as a child
# Installs its own prerequisites (clang, lld, zlib1g-dev, cmake, libssl-dev; for arm64 the cross
# toolchain, Debian's static aarch64 glibc and libssl-dev:arm64) when missing.
# EMISSARY_ARCHS="x64" publishes linux-x64 only (a quicker local build); CI and scripts/test.sh
# build both.
set -euo pipefail
cd "$(dirname "$0")/.."

archs=${EMISSARY_ARCHS:-x64 arm64}
for arch in $archs; do
  case $arch in x64|arm64) ;; *) echo "build.sh: EMISSARY_ARCHS: unknown architecture '$arch' (x64, arm64)" >&2; exit 2;; esac
done
wants() { [[ " $archs " == *" $1 "* ]]; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

need=()
command -v clang >/dev/null || need+=(clang)
command -v ld.lld >/dev/null || need+=(lld)
[ -e /usr/include/zlib.h ] || need+=(zlib1g-dev)
command -v file >/dev/null || need+=(file)
# emissary-webhook links OpenSSL statically: the ILCompiler package builds its crypto shim with cmake against libssl.a.
command -v cmake >/dev/null || need+=(cmake)
[ -e /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
if wants arm64; then
  # linux-arm64 from this x64 host (native-aot/StaticNativeAot.targets, cross/aarch64-linux-gnu-clang):
  # the aarch64 gcc runtime objects and binutils, the static aarch64 glibc, llvm-objcopy to strip,
  # and the webhook's static OpenSSL for arm64 (a multiarch package: the arm64 architecture is added).
  command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
  command -v aarch64-linux-gnu-objcopy >/dev/null || need+=(binutils-aarch64-linux-gnu)
  [ -e /usr/aarch64-linux-gnu/lib/libc.a ] || need+=(libc6-dev-arm64-cross)
  command -v llvm-objcopy >/dev/null || need+=(llvm)
  if [ ! -e /usr/lib/aarch64-linux-gnu/libssl.a ]; then
    need+=(libssl-dev:arm64)
    dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
  fi
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "build.sh: installing ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-remove "${need[@]}" >/dev/null
fi

# publish RID DIR PROJECT NAME: a static, stripped NativeAOT executable DIR/NAME for RID.
publish() {
  local rid=$1 dir=$2 project=$3 name=$4 machine
  case $rid in linux-x64) machine=x86-64;; linux-arm64) machine="ARM aarch64";; esac
  dotnet publish "$project" -c Release -r "$rid" -p:PublishAot=true -o "artifacts/publish/$rid/$name" -nologo -v quiet
  install -m 0755 "artifacts/publish/$rid/$name/$name" "$dir/$name"
  check_static "$dir/$name" "$machine" "static-pie linked"
  echo "build.sh: $dir/$name ($(stat -c %s "$dir/$name") bytes)" >&2
}
# check_static FILE MACHINE LINKAGE: file(1) says FILE is a stripped ELF executable for MACHINE, LINKAGE
# ("static-pie linked", "statically linked"): no loader, no libc to find, so it runs in FROM scratch.
check_static() {
  local what; what=$(file -b "$1")
  [[ $what == *"$2"* && $what == *"$3"* && $what == *", stripped"* ]] ||
    { echo "build.sh: $1 is not a stripped $3 $2 executable: $what" >&2; exit 1; }
}
publish_all() { # RID DIR
  mkdir -p "$2"
  publish "$1" "$2" src/Emissary/Emissary.csproj emissary
  publish "$1" "$2" src/Emissary.Tools/Emissary.Tools.csproj emissary-tools
  publish "$1" "$2" src/Emissary.Tekton/Emissary.Tekton.csproj entrypoint
  publish "$1" "$2" src/Emissary.Webhook/Emissary.Webhook.csproj emissary-webhook
}

if wants x64; then
  start=$SECONDS
  publish_all linux-x64 artifacts
  clang -static -O2 -Wall -Werror -o artifacts/testchild tests/testchild/testchild.c
  echo "build.sh: linux-x64 in $((SECONDS - start)) s" >&2
fi
if wants arm64; then
  start=$SECONDS
  publish_all linux-arm64 artifacts/linux-arm64
  native-aot/cross/aarch64-linux-gnu-clang -static -O2 -Wall -Werror -fuse-ld=lld -s \
    -o artifacts/linux-arm64/testchild tests/testchild/testchild.c
  check_static artifacts/linux-arm64/testchild "ARM aarch64" "statically linked"
  echo "build.sh: linux-arm64 in $((SECONDS - start)) s" >&2
fi
