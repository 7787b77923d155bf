#!/usr/bin/env bash
# Resource footprint of an idle host: start-up time to ready, then, with the
# default policies and every built-in plugin started once, the RSS of the
# host and of each plugin process and their CPU time per minute at idle.
#   scripts/footprint.sh [IDLE_SECONDS]   (default 60)
# Plugins start on first use, so a small policy file uses each of them
# once: a workflow with a step per action plugin, a check that fails once
# (the heal plugin), a scaling policy with the exec backend (the scale
# plugin) and a discovery source served by the discover plugin. Everything runs on
# loopback. Figures go to $BENCH_OUT/footprint.txt as well.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=${HEADY_BIN:-$root/bin}
out=${BENCH_OUT:-scripts/out}
mkdir -p "$out"
idle=${1:-${FOOTPRINT_IDLE_SECONDS:-60}}
report="$out/footprint.txt"
: >"$report"
say() { echo "$*" | tee -a "$report"; }

if [ ! -x "$bin/heady" ]; then
	echo "footprint: $bin/heady missing: run make build (or set HEADY_BIN)" >&2
	exit 1
fi
work=$(mktemp -d)
hpid=
cleanup() {
	[ -n "$hpid" ] && kill "$hpid" 2>/dev/null && wait "$hpid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
token=hdy_00000000000f0071_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
hz=$(getconf CLK_TCK)

# rss PID: VmRSS in KiB.  cpu PID: utime+stime in clock ticks.
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat" 2>/dev/null || echo 0; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

# 1. Start-up time to ready: fresh data directory, default policies only.
mkdir -p "$work/data0"
port=$(freeport)
t0=$(date +%s%N)
HEADY_BOOTSTRAP_TOKEN=$token "$bin/heady" run --policies policies --data "$work/data0" \
	--listen "127.0.0.1:$port" --plugins "$bin/plugins" >"$work/heady0.log" 2>&1 &
hpid=$!
until curl -fsS -o /dev/null "http://127.0.0.1:$port/api/v1/automation/status" 2>/dev/null; do
	kill -0 "$hpid" 2>/dev/null || { cat "$work/heady0.log"; exit 1; }
	[ $((($(date +%s%N) - t0) / 1000000000)) -lt 60 ] || { echo "not ready within 60s" >&2; exit 1; }
	sleep 0.005
done
ready_ms=$((($(date +%s%N) - t0) / 1000000))
say "start-up, fresh data directory, default policies: exec -> GET /status answers in ${ready_ms} ms; RSS at ready $(mib "$(rss "$hpid")")"
kill "$hpid"
wait "$hpid" 2>/dev/null || true
t0=$(date +%s%N)
HEADY_BOOTSTRAP_TOKEN=$token "$bin/heady" run --policies policies --data "$work/data0" \
	--listen "127.0.0.1:$port" --plugins "$bin/plugins" >>"$work/heady0.log" 2>&1 &
hpid=$!
until curl -fsS -o /dev/null "http://127.0.0.1:$port/api/v1/automation/status" 2>/dev/null; do
	kill -0 "$hpid" 2>/dev/null || { cat "$work/heady0.log"; exit 1; }
	sleep 0.005
done
say "start-up, existing data directory (restart): $((($(date +%s%N) - t0) / 1000000)) ms"
kill "$hpid"
wait "$hpid" 2>/dev/null || true
hpid=

# 2. Every plugin started once, then idle.
port=$(freeport)
api="http://127.0.0.1:$port/api/v1/automation"
mkdir -p "$work/policies" "$work/data"
cp policies/*.hcl "$work/policies/"
cat >"$work/policies/zz-footprint.hcl" <<EOF
webhook "footprint" {
  secret = "footprint-secret"
}

workflow "footprint_touch" {
  step "noop" {
    action = "noop.ok"
  }
  step "event" {
    action = "event.emit"
    input {
      type = "footprint.touched"
    }
  }
  step "exec" {
    action = "exec.run"
    input {
      command = ["true"]
    }
  }
  step "http" {
    action = "http.request"
    input {
      url = "$api/health"
    }
  }
  step "notify" {
    action = "notify.send"
    input {
      title   = "footprint"
      message = "every plugin is started once"
    }
  }
  step "webhook" {
    action = "webhook.deliver"
    input {
      url     = "$api/hooks/footprint"
      secret  = "footprint-secret"
      event   = "footprint.hook"
      payload = { ok = true }
    }
  }
  step "store" {
    action = "store.expire_tokens"
  }
}

# email.send has no server to talk to here: the step fails, the plugin ran.
workflow "footprint_email" {
  step "email" {
    action = "email.send"
    input {
      to      = "nobody@example.test"
      subject = "footprint"
      body    = "-"
    }
  }
}

check "footprint_heal" {
  type                      = "exec"
  command                   = ["sh", "-c", "test -e $work/healed || { touch $work/healed; exit 1; }"]
  interval                  = "30s"
  failures_before_unhealthy = 1
  heal "wait_retry" {}
}

scaling "footprint" {
  min                 = 1
  max                 = 1
  evaluation_interval = "1h"
  metric "cpu" {
    scale_up   = 99
    scale_down = 1
  }
  backend "exec" {
    command = ["sh", "-c", "echo 1", "scale"]
  }
}

discovery "footprint_plugin" {
  protocol = "discover.http"
  targets  = ["127.0.0.1"]
  ports    = [$port]
  interval = "1h"
}
EOF
t0=$(date +%s%N)
HEADY_BOOTSTRAP_TOKEN=$token "$bin/heady" run --policies "$work/policies" --data "$work/data" \
	--listen "127.0.0.1:$port" --plugins "$bin/plugins" >"$work/heady.log" 2>&1 &
hpid=$!
until curl -fsS -o /dev/null "$api/status" 2>/dev/null; do
	kill -0 "$hpid" 2>/dev/null || { cat "$work/heady.log"; exit 1; }
	sleep 0.005
done
auth=(-H "Authorization: Bearer $token" -H "Content-Type: application/json")
for wf in footprint_touch footprint_email health_check auto_backup; do
	curl -fsS "${auth[@]}" -X POST -d '{"context":{}}' "$api/workflows/$wf/execute" >/dev/null || true
done
curl -fsS "${auth[@]}" -X POST "$api/scaling/policies/footprint/evaluate" >/dev/null || true
curl -fsS "${auth[@]}" -X POST -d '{"source":"footprint_plugin"}' "$api/discovery/scan" >/dev/null || true
sleep 8

plugins_json=$(curl -fsS "${auth[@]}" "$api/plugins")
mapfile -t plugins < <(python3 -c '
import json, sys
for p in json.load(sys.stdin)["items"]:
    print(p["name"], p.get("pid") or 0, p.get("state", ""))' <<<"$plugins_json")

say "idle for ${idle}s with the default policies and every plugin started once ..."
declare -A c0
c0[host]=$(cpu "$hpid")
for line in "${plugins[@]}"; do
	read -r name pid state <<<"$line"
	[ "$pid" -gt 0 ] && c0[$name]=$(cpu "$pid")
done
sleep "$idle"
host_rss=$(rss "$hpid")
host_cpu=$(($(cpu "$hpid") - c0[host]))
total_rss=$host_rss
say "$(printf '%-22s %8s %12s %18s' process pid RSS 'CPU ms per minute')"
say "$(printf '%-22s %8s %12s %18s' heady "$hpid" "$(mib "$host_rss")" "$(awk -v t="$host_cpu" -v hz="$hz" -v s="$idle" 'BEGIN { printf "%.0f", t * 1000 / hz * 60 / s }')")"
started=0
for line in "${plugins[@]}"; do
	read -r name pid state <<<"$line"
	if [ "$pid" -gt 0 ] && [ -e "/proc/$pid" ]; then
		r=$(rss "$pid")
		total_rss=$((total_rss + r))
		started=$((started + 1))
		d=$(($(cpu "$pid") - ${c0[$name]:-0}))
		say "$(printf '%-22s %8s %12s %18s' "heady-plugin-$name" "$pid" "$(mib "$r")" "$(awk -v t="$d" -v hz="$hz" -v s="$idle" 'BEGIN { printf "%.0f", t * 1000 / hz * 60 / s }')")"
	else
		say "$(printf '%-22s %8s %12s %18s' "heady-plugin-$name" - "not running ($state)" -)"
	fi
done
say "total RSS, host and ${started} of ${#plugins[@]} plugins: $(mib "$total_rss")"
