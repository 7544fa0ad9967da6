#!/usr/bin/env bash
# The project's test command (the README's, and what CI runs): vet, then the
# whole suite under the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 ./...
