#!/usr/bin/env bash
# Self-healing benchmarks.
#  1. Time to recovery: a supervised HTTP service is killed with -9, 20
#     times, and timed until it answers again. It has restart = "never", so
#     only the HTTP health check (250 ms interval, unhealthy after one
#     failure, heal "restart") brings it back. Reported: min, median, p95;
#     the same-run baseline is a service with restart = "always" that the
#     supervisor restarts as soon as it sees the exit. Goal: median < 500 ms.
#  2. One check run through the engine (probe, flap protection, state) vs
#     the bare probe work (an HTTP GET, a store write and read).
# Uses the binaries in HEADY_BIN when set (make bench builds them).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${BENCH_OUT:-scripts/out}
mkdir -p "$out"
runs=${HEALING_BENCH_RUNS:-20}

metric() {
	awk -v b="$2" -v u="$3" '$1 ~ "^"b"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == u) print $i }' "$1" | tail -n 1
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

f="$out/healing.txt"
HEADY_BENCH_RUNS="$runs" go test -count=1 -v -run '^TestHealingTimeToRecovery$' ./host/e2e | grep -E '^time to recovery|^(--- |ok|FAIL)' | tee "$f"

go test -run '^$' -bench 'BenchmarkCheckRun' -benchtime "${HEALING_BENCH_N:-5000}x" ./host/healing | tee -a "$f"
for p in http store; do
	e=$(metric "$f" "BenchmarkCheckRun/$p" ns/op)
	r=$(metric "$f" "BenchmarkCheckRun/raw_$p" ns/op)
	echo "check run ($p): ${e} ns through the engine, ${r} ns bare probe; engine/bare $(ratio "$e" "$r")"
done
echo "goal: time to recovery median < 500 ms at a 250 ms check interval"
