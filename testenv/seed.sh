#!/usr/bin/env bash
# Seed the test stack (see stacktool.py).   testenv/seed.sh STATE_DIR
# Mail (LMTP/IMAP), folders, ACL sharing, METADATA, a sieve script, calendars/tasks/contacts (DAV)
# for every user. Re-runnable: mail is only delivered once per user, DAV items are overwritten.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ -n "${1:-}" ] && [ -s "$1/ports.env" ] || { echo "usage: $0 STATE_DIR (started with testenv/start.sh)" >&2; exit 2; }
exec "${PYTHON:-python3}" "$HERE/stacktool.py" seed "$@"
