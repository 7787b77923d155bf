#!/usr/bin/env bash
# Intelligence benchmarks: the streaming anomaly detector's samples/s beside
# NAB's windowed Gaussian baseline in the same run, Holt-Winters fits/s, and
# a whole analysis of a 10,000-entry audit trail. When the NAB data is beside
# the repository (../shared/data/nab, or HEADY_NAB_DIR), it also prints the
# NAB scores and the forecast accuracy table.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${BENCH_OUT:-scripts/out}
mkdir -p "$out"
benchtime=${BENCHTIME:-2s}

metric() {
	awk -v b="$2" -v u="$3" '$1 ~ "^"b"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == u) print $i }' "$1" | tail -n 1
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

f="$out/intelligence.txt"
go test -run '^$' -bench 'BenchmarkDetector|BenchmarkFitHoltWinters|BenchmarkAnalyze' -benchtime "$benchtime" ./host/intelligence | tee "$f"
d=$(metric "$f" BenchmarkDetector/heady samples/s)
w=$(metric "$f" BenchmarkDetector/windowed-gaussian samples/s)
echo "anomaly detector: ${d} samples/s; windowed Gaussian baseline ${w} samples/s; ratio $(ratio "$d" "$w")"
echo "Holt-Winters fit (2 weeks hourly, auto season, 24h objective): $(metric "$f" BenchmarkFitHoltWinters fits/s) fits/s"
echo "analysis of 10,000 audit entries: $(metric "$f" BenchmarkAnalyze entries/s) entries/s"

nab=${HEADY_NAB_DIR:-../shared/data/nab}
if [ -f "$nab/labels/combined_windows.json" ]; then
	go run ./host/cmd/heady intel nab --data "$nab"
	go run ./host/cmd/heady intel forecast --data "$nab"
else
	echo "NAB data not found at $nab: skipping the NAB score and forecast tables"
fi
