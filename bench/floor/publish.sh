#!/usr/bin/env bash
# Publishes the start-up floor (this directory's project) to artifacts/bench/floor when it is
# missing or older than its sources or than the publish settings it shares with the pod binaries
# (native-aot/). One rule for every script that measures against it: scripts/bench.sh,
# scripts/bench-memory.sh, scripts/startup-phases.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x artifacts/bench/floor/floor ] || [ -n "$(find bench/floor native-aot -newer artifacts/bench/floor/floor -type f)" ]; then
  dotnet publish bench/floor/Floor.csproj -c Release -r linux-x64 -p:PublishAot=true -o artifacts/bench/floor -nologo -v quiet
fi
