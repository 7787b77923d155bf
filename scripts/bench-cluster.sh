#!/usr/bin/env bash
# Cluster benchmark: executions/s of a 3-step workflow driven by events on a
# single server and on a 3-server Raft cluster on loopback (events sent to
# the three servers in turn), measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${BENCH_OUT:-scripts/out}
mkdir -p "$out"
if [ -z "${HEADY_BIN:-}" ]; then
	make build >/dev/null
	HEADY_BIN=$PWD/bin
fi
HEADY_BIN=$HEADY_BIN HEADY_CLUSTER_BENCH=1 CLUSTER_BENCH_N=${CLUSTER_BENCH_N:-5000} \
	go test -count=1 -run '^TestClusterBenchThroughput$' -v -timeout 15m ./host/e2e | tee "$out/cluster.txt" | grep -E '^(cluster-bench|--- |ok|FAIL)'
