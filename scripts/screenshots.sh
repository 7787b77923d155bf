#!/usr/bin/env bash
# Screenshots of every dashboard page at 1280x800 and 390x844, taken in
# headless Chromium against a real host. Output: screenshots/ (or $1).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-screenshots}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
HEADY_SCREENSHOTS="$out" go test -count=1 -run 'TestDashboardScreenshots$' -v ./host/e2e/ | grep -E 'dashboard_render|--- |^ok|FAIL' || true
ls "$out"/*.png >/dev/null 2>&1 || { echo "no screenshots were written (is chromium installed?)" >&2; exit 1; }
echo "screenshots in $out"
