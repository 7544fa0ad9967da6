#!/usr/bin/env bash
# Runs every fuzz target in the module, one after the other, each for
# FUZZTIME (default 4s): `go test -run=^$ -fuzz=^Name$ -fuzztime=... ./pkg/`.
# Targets are found by grepping for `func FuzzXxx(` in *_test.go files, so a
# new target is picked up without editing this script. Every target runs even
# after a failure; the script exits 1 if any target failed (a crasher is then
# saved under the package's testdata/fuzz/ by go test).
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime="${FUZZTIME:-4s}"

# "dir name" pairs, sorted, from every Go test file outside node_modules.
mapfile -t targets < <(
	grep -rE --include='*_test.go' --exclude-dir=node_modules --exclude-dir=.git --exclude-dir=vendor \
		'^func Fuzz[A-Za-z0-9_]*\(' . |
		sed -E 's#^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#\1 \2#' |
		sort -u
)
if [ "${#targets[@]}" -eq 0 ]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

passed=0
failed=()
for t in "${targets[@]}"; do
	dir="${t% *}"
	name="${t#* }"
	echo "== fuzz ${dir#./} ${name} (${fuzztime})"
	start=$SECONDS
	# go test sometimes ends a fuzz run on a loaded machine with "context
	# deadline exceeded" and no failing input (its workers still busy when
	# the time is up): that is not a finding, and the target is run once
	# more. A real failure always writes its input under testdata/fuzz/.
	for attempt in 1 2; do
		out=$(go test -run='^$' -fuzz="^${name}\$" -fuzztime="${fuzztime}" "${dir}/" 2>&1) && rc=0 || rc=$?
		printf '%s\n' "$out"
		if [ "$rc" -ne 0 ] && [ "$attempt" -eq 1 ] && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
			echo "   (stopped at the deadline with no failing input: running once more)"
			continue
		fi
		break
	done
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed+=("${dir#./} ${name}")
	fi
	echo "   $((SECONDS - start)) s"
done

if [ "${#failed[@]}" -gt 0 ]; then
	printf 'fuzz: FAILED: %s\n' "${failed[@]}" >&2
fi
echo "fuzz: ${passed} passed, ${#failed[@]} failed"
[ "${#failed[@]}" -eq 0 ]
