#!/bin/sh
# Auto-scaler and metrics store figures, each with its same-run baseline:
#  - one scaling policy evaluation (3 metrics, decision, record) over a week
#    of stored 10 s samples for 50 series, against the same evaluation over
#    a store holding only the last minute;
#  - a week of one series at hourly resolution from the roll-ups, against
#    the same answer computed from the raw samples;
#  - the space a week of 10 s samples for 50 series takes (3 024 000
#    samples with their roll-ups): disk after close, bytes per sample, heap.
# Usage: scripts/bench-scaling.sh [benchtime]   (default 2s)
set -eu
cd "$(dirname "$0")/.."
benchtime="${1:-2s}"

val() { # val OUTPUT BENCH UNIT
	echo "$1" | awk -v b="$2" -v u="$3" '$1 ~ "^"b"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == u) print $i }' | tail -n 1
}

ev=$(go test -run '^$' -bench '^BenchmarkEvaluate$' -benchtime "$benchtime" -count 1 ./host/scaling/)
echo "$ev"
rg=$(go test -run '^$' -bench '^BenchmarkRangeWeek$' -benchtime "$benchtime" -count 1 ./host/metrics/)
echo "$rg"
wk=$(go test -run '^$' -bench '^BenchmarkWeekOf50Series$' -benchtime 1x -count 1 ./host/metrics/)
echo "$wk"

week=$(val "$ev" BenchmarkEvaluate/week_of_50_series ns/op)
base=$(val "$ev" BenchmarkEvaluate/baseline_last_minute ns/op)
roll=$(val "$rg" BenchmarkRangeWeek/hourly_rollups ns/op)
raw=$(val "$rg" BenchmarkRangeWeek/raw_baseline ns/op)
disk=$(val "$wk" BenchmarkWeekOf50Series disk_MiB)
per=$(val "$wk" BenchmarkWeekOf50Series disk_B/sample)
heap=$(val "$wk" BenchmarkWeekOf50Series heap_MiB)
rate=$(val "$wk" BenchmarkWeekOf50Series samples/s)
awk -v w="$week" -v b="$base" -v r="$roll" -v x="$raw" -v d="$disk" -v p="$per" -v h="$heap" -v s="$rate" 'BEGIN {
	if (w == "" || b == "" || r == "" || x == "" || d == "") { print "bench-scaling: benchmark output not understood" > "/dev/stderr"; exit 1 }
	printf "policy evaluation over a week of 50 series: %.0f µs; over the last minute only: %.0f µs; ratio %.2f\n", w / 1000, b / 1000, w / b
	printf "a week of one series, hourly: %.0f µs from roll-ups; %.0f µs from raw samples; %.0fx faster\n", r / 1000, x / 1000, x / r
	printf "a week of 10 s samples for 50 series: %.1f MiB on disk (%.1f B/sample); process heap after GC, Badger caches included: %.1f MiB; recorded at %.0f samples/s\n", d, p, h, s
}'
