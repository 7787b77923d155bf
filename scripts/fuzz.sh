#!/usr/bin/env bash
# Runs every Go fuzz target in the repository for a bounded time each.
#   scripts/fuzz.sh 5s      the short run make test does
#   scripts/fuzz.sh 10m     a longer hunt (make fuzz)
# A crasher is written by go test under the package's testdata/fuzz and
# fails the run; commit it as a regression case once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-10s}
fail=0
while IFS=: read -r file name; do
	pkg=./$(dirname "$file")
	echo "== $pkg $name ($t)"
	if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$t" "$pkg"; then
		fail=1
	fi
done < <(grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' host plugins sdk | sed 's/:func /:/' | sort -u)
exit $fail
