#!/usr/bin/env bash
# Dashboard render time: navigation to content shown, per page, in headless
# Chromium against a real host holding HEADY_DASHBOARD_SEED executions
# (default 10000) stored through the API. Reported, not asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${HEADY_DASHBOARD_SEED:-10000}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "== dashboard render time with $n executions stored (ms, navigation to content visible)"
HEADY_DASHBOARD_SEED="$n" HEADY_SCREENSHOTS="$tmp" go test -count=1 -timeout 20m -run 'TestDashboardScreenshots$' -v ./host/e2e/ \
  | grep -E '^dashboard_(render|seed)|--- (FAIL|SKIP)' || true
