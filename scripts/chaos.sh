#!/usr/bin/env bash
# The long chaos run: for DURATION (a Go duration, default 10m) kill -9 at
# random the host (restarted on the same data directory), its plugins and
# a supervised service while events, signed webhooks and API calls keep
# arriving; then check that every accepted event has exactly one finished
# execution, no execution is stuck, the audit chain verifies, no process
# of a killed host is left, and the host is healthy again. It is the
# end-to-end test TestChaos (host/e2e/chaos_test.go) run for longer; CI
# runs it for 30 s.
#   scripts/chaos.sh 10m
# Uses the binaries in HEADY_BIN when set (make chaos sets it), otherwise
# builds them from the working tree. The summary line (kills by kind,
# events sent/accepted/executed, losses) is also written to
# $BENCH_OUT/chaos.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10m}
out=${BENCH_OUT:-scripts/out}
mkdir -p "$out"
secs=$(python3 -c '
import re, sys
d = sys.argv[1]; t = 0
for n, u in re.findall(r"([0-9.]+)(h|m|s|ms)", d):
    t += float(n) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[u]
print(int(t))' "$dur")
timeout=$((secs + 600))
log="$out/chaos.log"
echo "chaos run for $dur (test timeout ${timeout}s); full log in $log"
set +e
HEADY_CHAOS_DURATION=$dur go test -count=1 -run '^TestChaos$' -timeout "${timeout}s" -v ./host/e2e >"$log" 2>&1
rc=$?
set -e
grep -E '^chaos summary' "$log" | tail -n 1 | tee "$out/chaos.txt"
grep -E '^\s*--- (PASS|FAIL)' "$log" || true
if [ $rc -ne 0 ]; then
	echo "chaos run FAILED (exit $rc); see $log" >&2
	tail -n 60 "$log" >&2
fi
exit $rc
