#!/usr/bin/env bash
# Check the test stack itself (not Viaduc; see stacktool.py).   testenv/verify.sh STATE_DIR [--quick]
# Prints one PASS/FAIL line per check and "N passed, N failed"; exits 1 when any check failed.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ -n "${1:-}" ] && [ -s "$1/ports.env" ] || { echo "usage: $0 STATE_DIR (started with testenv/start.sh)" >&2; exit 2; }
exec "${PYTHON:-python3}" "$HERE/stacktool.py" verify "$@"
