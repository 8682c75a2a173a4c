#!/usr/bin/env bash
# Regenerates the option tables of docs/commands.md (the blocks between "BEGIN GENERATED" and
# "END GENERATED") from the option tables in code: RunCli, ControlCli, InitCli, the Cli classes
# of emissary-tools and emissary-webhook, OptionValues.Global and Tekton's flag table. The prose
# around the blocks is hand-written and left alone. The test that does the writing is the one
# that fails when the committed page is stale (Unit/Docs/DocsTests.cs), so the page and the
# check can never disagree.
set -euo pipefail
cd "$(dirname "$0")/.."
EMISSARY_WRITE_DOCS=1 dotnet test src/Emissary.Tests/Emissary.Tests.csproj -c Release --nologo -v quiet \
  --filter "FullyQualifiedName~Unit.Docs.DocsTests.The_committed_command_reference" >&2
git --no-pager diff --stat -- docs/commands.md >&2 || true
