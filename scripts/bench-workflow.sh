#!/usr/bin/env bash
# Workflow engine benchmarks: executions/s of a 3-step workflow of no-op
# actions triggered by events, event-to-first-step and event-to-completion
# latency at low load, and the raw Badger baseline doing the same durable
# transactions per execution without group commit. Each figure is printed
# with its ratio to the baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${BENCH_OUT:-scripts/out}
mkdir -p "$out"
n=${WORKFLOW_BENCH_N:-20000}
lat=${WORKFLOW_LATENCY_N:-2000}

metric() {
	awk -v b="$2" -v u="$3" '$1 ~ "^"b"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == u) print $i }' "$1" | tail -n 1
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

f="$out/workflow.txt"
go test -run '^$' -bench 'BenchmarkEngineThroughput|BenchmarkRawBadgerDurableWrites' -benchtime "${n}x" ./host/workflow | tee "$f"
go test -run '^$' -bench 'BenchmarkEngineLatency' -benchtime "${lat}x" ./host/workflow | tee -a "$f"

for mode in nosync sync; do
	e=$(metric "$f" "BenchmarkEngineThroughput/$mode" executions/s)
	r=$(metric "$f" "BenchmarkRawBadgerDurableWrites/$mode" executions/s)
	p50f=$(metric "$f" "BenchmarkEngineLatency/$mode" first-step-p50-µs)
	p99f=$(metric "$f" "BenchmarkEngineLatency/$mode" first-step-p99-µs)
	p50c=$(metric "$f" "BenchmarkEngineLatency/$mode" completion-p50-µs)
	p99c=$(metric "$f" "BenchmarkEngineLatency/$mode" completion-p99-µs)
	echo
	echo "workflow ($mode): ${e} executions/s; raw Badger, same transactions per execution: ${r} executions/s; engine/raw $(ratio "$e" "$r")"
	echo "workflow ($mode): event->first step p50 ${p50f} µs p99 ${p99f} µs; event->completion p50 ${p50c} µs p99 ${p99c} µs"
done
echo "goals: >= 2000 executions/s; event->completion p50 < 5000 µs"
