#!/usr/bin/env bash
# Stop every process started by testenv/start.sh for STATE_DIR (by PID, from their pid files).
#   testenv/stop.sh STATE_DIR [--purge]     --purge also deletes the state directory afterwards
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib.sh"
[ -n "${1:-}" ] || die "usage: $0 STATE_DIR [--purge]"
[ -d "$1" ] || { info "no state dir $1"; exit 0; }
S="$(cd "$1" && pwd -P)"

# the four servers are independent: stop them in parallel
stop_pidfile radicale "$S/radicale/radicale.pid" 15 radicale &
stop_pidfile slapd "$S/ldap/slapd.pid" 15 slapd &
stop_postfix "$S" &
# Dovecot master.pid: SIGTERM makes the master stop all its children.
stop_pidfile dovecot "$S/dovecot/run/master.pid" 20 dovecot &
wait

# Anything still bound to our ports is a leak: report it (do not kill unknown processes).
if [ -s "$S/ports.env" ]; then
  . "$S/ports.env"
  for p in $IMAP_PORT $IMAPS_PORT $LMTP_PORT $SIEVE_PORT $SUBMISSION_PORT $SMTP_PORT $LDAP_PORT $DAV_PORT; do
    port_free "$p" || info "WARNING: port $p still in use"
  done
fi
if [ "${2:-}" = --purge ]; then
  # only ever delete something that looks like a stack state dir
  if [ "$S" != / ] && { [ -e "$S/ports.env" ] || [ -d "$S/dovecot" ] || [ -z "$(ls -A "$S")" ]; }; then
    rm -rf "$S"; info "purged $S"
  else
    info "not purging $S: does not look like a stack state dir"
  fi
fi
exit 0
