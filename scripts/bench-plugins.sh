#!/bin/sh
# Benchmarks a no-op plugin call through the plugin host against a raw gRPC
# unary call to another process over a Unix socket, in the same run, at
# concurrency 1, 8 and 32, and prints the ratio (goal: within 1.5x).
#
# Usage: scripts/bench-plugins.sh [BENCHTIME]   (default 2s)
set -eu
cd "$(dirname "$0")/.."
benchtime=${1:-2s}
out=$(go test -run '^$' -bench 'BenchmarkPluginCall' -benchtime "$benchtime" ./host/pluginhost)
printf '%s\n' "$out" | grep '^Benchmark'
printf '%s\n' "$out" | awk '
/^BenchmarkPluginCall\// {
	split($1, parts, "/")
	mode = parts[2]; c = parts[3]; sub(/-[0-9]+$/, "", c); sub(/^c=/, "", c)
	for (i = 2; i <= NF; i++) {
		if ($i == "calls/s") cps[mode, c] = $(i-1)
		if ($i == "p50-µs") p50[mode, c] = $(i-1)
		if ($i == "ns/op") nsop[mode, c] = $(i-1)
	}
	modes[mode] = 1
}
END {
	printf "\n%-14s %12s %10s %12s %12s %12s\n", "mode", "p50 c=1 µs", "ratio", "calls/s c=1", "calls/s c=8", "calls/s c=32"
	split("raw plugin-plain plugin-mtls", order, " ")
	for (k = 1; k <= 3; k++) {
		m = order[k]
		if (!(m in modes)) continue
		r = (p50["raw", 1] > 0) ? p50[m, 1] / p50["raw", 1] : 0
		printf "%-14s %12.1f %9.2fx %12.0f %12.0f %12.0f\n", m, p50[m, 1], r, cps[m, 1], cps[m, 8], cps[m, 32]
	}
	for (k = 2; k <= 3; k++) {
		m = order[k]
		printf "%s throughput ratio vs raw: c=1 %.2fx  c=8 %.2fx  c=32 %.2fx (raw/plugin; lower is better)\n", m,
			cps["raw", 1] / cps[m, 1], cps["raw", 8] / cps[m, 8], cps["raw", 32] / cps[m, 32]
	}
}'
