#!/usr/bin/env bash
# The project's test command (the README's, and what CI runs): vet, the
# whole suite under the race detector, every fuzz target for a short fixed
# time (FUZZTIME, default 4s each), then the end-to-end test in which the
# official MCP TypeScript SDK client (e2e/ts, pinned by its lockfile) drives
# the built binary. Needs go, node and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 ./...

echo "== fuzz (${FUZZTIME:-4s} per target)"
bash scripts/fuzz.sh

echo "== TypeScript SDK end-to-end"
(cd e2e/ts && npm ci --no-audit --no-fund)
MCP_KEYS_REQUIRE_E2E=1 go test -count=1 -v -run '^TestTypeScriptSDK$' ./cmd/mcp-keys/

echo "== scripts/test.sh took $((SECONDS - start)) s"
