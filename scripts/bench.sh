#!/usr/bin/env bash
# Runs Heady's benchmarks. Every figure is printed next to a baseline
# measured in the same run (raw Badger, raw gRPC, bare Fiber), as a ratio,
# because the machines this runs on are shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${BENCH_OUT:-scripts/out}
mkdir -p "$out"
benchtime=${BENCHTIME:-3s}

section() { printf '\n== %s ==\n' "$1"; }

# metric FILE BENCH UNIT: the value reported for UNIT by benchmark BENCH.
metric() {
	awk -v b="$2" -v u="$3" '$1 ~ "^"b"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == u) print $i }' "$1" | tail -n 1
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

section "API: GET /status on a full host vs a bare Fiber handler"
go test -run '^$' -bench 'BenchmarkStatus' -benchtime "$benchtime" ./host/app | tee "$out/api.txt"
h=$(metric "$out/api.txt" BenchmarkStatusHost req/s)
f=$(metric "$out/api.txt" BenchmarkStatusBareFiber req/s)
echo "GET /status: host ${h} req/s, bare Fiber ${f} req/s, ratio $(ratio "$h" "$f")"

for s in scripts/bench-*.sh; do
	[ -f "$s" ] || continue
	section "$(basename "$s" .sh)"
	bash "$s"
done
