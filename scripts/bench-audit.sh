#!/bin/sh
# Measures audit append throughput against raw Badger batched writes of
# records of the same size, in one run, and prints the ratio.
# Usage: scripts/bench-audit.sh [benchtime]   (default 3s)
set -eu
cd "$(dirname "$0")/.."
benchtime="${1:-3s}"
out=$(go test -run '^$' -bench '^Benchmark(AuditAppend|AuditAppendSync|RawBadgerBatch)$' \
	-benchtime "$benchtime" -count 1 ./host/audit/)
echo "$out"
echo "$out" | awk '
	/^BenchmarkAuditAppend-|^BenchmarkAuditAppend /     { for (i = 1; i <= NF; i++) if ($(i+1) == "ns/op") a = 1e9 / $i }
	/^BenchmarkAuditAppendSync/                          { for (i = 1; i <= NF; i++) if ($(i+1) == "ns/op") s = 1e9 / $i }
	/^BenchmarkRawBadgerBatch/                           { for (i = 1; i <= NF; i++) if ($(i+1) == "ns/op") r = 1e9 / $i }
	END {
		if (a == 0 || r == 0) { print "bench-audit: benchmark output not understood" > "/dev/stderr"; exit 1 }
		printf "audit append: %.0f entries/s; raw badger batch: %.0f records/s; ratio %.3f\n", a, r, a / r
		if (s > 0) printf "audit append (sync writes): %.0f entries/s; ratio to raw batch %.3f\n", s, s / r
	}'
