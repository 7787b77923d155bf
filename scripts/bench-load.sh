#!/usr/bin/env bash
# Load on the whole host, over loopback, bounded in time and count.
#   1. sustained reads: GET /status and GET /workflows
#   2. sustained writes: POST /events (events no workflow listens to)
#   3. an event flood above what the workers drain: back-pressure must
#      answer 429 or 503 with Retry-After, memory must stay bounded, and
#      every accepted event must get its execution.
# Reads and writes use wrk (Debian package wrk) when it is installed and
# the Go load generator in scripts/loadgen otherwise; the flood always uses
# scripts/loadgen (it checks every execution). The same-run baseline is
# GET /healthz of the demo app (a bare net/http handler) under the same
# load generator. Figures go to $BENCH_OUT/load.txt as well.
#   LOAD_SECONDS  length of each phase (default 10)
#   LOAD_CONNS    requests in flight (default 32)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=${HEADY_BIN:-$root/bin}
out=${BENCH_OUT:-scripts/out}
mkdir -p "$out"
secs=${LOAD_SECONDS:-10}
conns=${LOAD_CONNS:-32}
report="$out/load.txt"
: >"$report"

if [ ! -x "$bin/heady" ] || [ ! -x "$bin/demoapp" ]; then
	echo "bench-load: $bin/heady or $bin/demoapp missing: run make build (or set HEADY_BIN)" >&2
	exit 1
fi
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/loadgen" ./scripts/loadgen

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
token=hdy_00000000000b0ad1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

bport=$(freeport)
"$bin/demoapp" --listen "127.0.0.1:$bport" --heady "" >"$work/demo.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$bport/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

# Default policies plus the flood's workflow: an HTTP call to the demo app
# and a built-in step, on 2 workers, so that the flood outruns them; at
# most 2000 events may wait for dispatch before the API pushes back.
mkdir -p "$work/policies" "$work/data"
cp policies/*.hcl "$work/policies/"
cat >"$work/policies/zz-load.hcl" <<EOF
host {
  workers     = 2
  event_queue = 2000
}

workflow "load" {
  trigger "event" {
    type = "load.*"
  }
  step "call" {
    action = "http.request"
    input {
      url = "http://127.0.0.1:$bport/healthz"
    }
  }
  step "record" {
    action     = "heady.noop"
    depends_on = ["call"]
    input {
      n = event.data.n
    }
  }
}
EOF
port=$(freeport)
addr=127.0.0.1:$port
start_ns=$(date +%s%N)
HEADY_BOOTSTRAP_TOKEN=$token "$bin/heady" run --policies "$work/policies" --data "$work/data" \
	--listen "$addr" --plugins "$bin/plugins" >"$work/heady.log" 2>&1 &
hpid=$!
pids+=("$hpid")
for _ in $(seq 1 300); do
	curl -fsS "http://$addr/api/v1/automation/status" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -fsS "http://$addr/api/v1/automation/status" >/dev/null || { cat "$work/heady.log"; exit 1; }
echo "host ready in $((($(date +%s%N) - start_ns) / 1000000)) ms (pid $hpid)" | tee -a "$report"

api="http://$addr/api/v1/automation"
# wrk_run NAME URL [LUA]: sustained load with wrk, printing req/s and p99.
wrk_run() {
	local name=$1 url=$2 lua=${3:-}
	local args=(-t2 -c"$conns" -d"${secs}s" --latency -H "Authorization: Bearer $token")
	[ -n "$lua" ] && args+=(-s "$lua")
	local o
	o=$(wrk "${args[@]}" "$url")
	echo "$o" >>"$report"
	local rps p99 non2xx
	rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$o")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$o")
	non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$o")
	echo "$name: ${rps} req/s, p99 ${p99}, non-2xx ${non2xx:-0} (wrk, ${conns} connections, ${secs}s)" | tee -a "$report"
}
peak() { awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' "/proc/$hpid/status"; }

cat >"$work/post.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"type":"bench.write","data":{"source":"wrk"}}'
EOF

if command -v wrk >/dev/null 2>&1; then
	wrk_run "baseline GET /healthz (bare net/http demo app)" "http://127.0.0.1:$bport/healthz"
	wrk_run "GET /status" "$api/status"
	wrk_run "GET /workflows" "$api/workflows"
	wrk_run "POST /events (durable accept)" "$api/events" "$work/post.lua"
else
	echo "wrk not installed (apt-get install -y wrk): using scripts/loadgen for reads and writes" | tee -a "$report"
	"$work/loadgen" -mode api -addr "127.0.0.1:$bport" -prefix "" -path /healthz -c "$conns" -d "${secs}s" | sed 's#^#baseline (bare net/http demo app) #' | tee -a "$report"
	"$work/loadgen" -mode api -addr "$addr" -token "$token" -path /status -c "$conns" -d "${secs}s" | tee -a "$report"
	"$work/loadgen" -mode api -addr "$addr" -token "$token" -path /workflows -c "$conns" -d "${secs}s" | tee -a "$report"
	"$work/loadgen" -mode api -addr "$addr" -token "$token" -method POST -path /events \
		-body '{"type":"bench.write","data":{"source":"loadgen"}}' -c "$conns" -d "${secs}s" | tee -a "$report"
fi
echo "host peak RSS so far (VmHWM): $(peak)" | tee -a "$report"

# The flood: 64 senders, no pacing, for the same time, at most 400k events.
"$work/loadgen" -mode flood -addr "$addr" -token "$token" -pid "$hpid" -c 64 -d "${secs}s" -n 400000 \
	-workflow load -drain 300s | tee -a "$report"
echo "host peak RSS over the whole run (VmHWM): $(peak)" | tee -a "$report"
