#!/usr/bin/env bash
# Part of make bench: the idle footprint (scripts/footprint.sh), 60 s idle
# unless FOOTPRINT_IDLE_SECONDS says otherwise.
set -euo pipefail
exec bash "$(dirname "$0")/footprint.sh" "${FOOTPRINT_IDLE_SECONDS:-60}"
