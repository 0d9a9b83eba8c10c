#!/usr/bin/env bash
# Print a Viaduc configuration for a running test stack.
#   testenv/gen-config.sh STATE_DIR [VIADUC_PORT] > viaduc.toml       (VIADUC_PORT default 8443)
# Viaduc listens on 127.0.0.1:VIADUC_PORT with HTTPS (the stack's leaf certificate) and talks to
# the stack's IMAP/submission/ManageSieve with STARTTLS (trusting the stack's CA), to Radicale over
# plain HTTP and to slapd anonymously. Ports come from STATE_DIR/ports.env.
set -euo pipefail
[ -n "${1:-}" ] && [ -s "$1/ports.env" ] || { echo "usage: $0 STATE_DIR [VIADUC_PORT] (stack started with testenv/start.sh)" >&2; exit 2; }
S="$(cd "$1" && pwd -P)"
PORT="${2:-8443}"
case "$PORT" in ''|*[!0-9]*) echo "ERROR: VIADUC_PORT must be a number, got '$PORT'" >&2; exit 2;; esac
# shellcheck disable=SC1091
. "$S/ports.env"
cat <<TOML
# Generated for the stack in $S
[server]
listen = "127.0.0.1:$PORT"
public_url = "https://127.0.0.1:$PORT"
tls_cert = "$S/tls/cert.pem"
tls_key = "$S/tls/key.pem"

[mail]
domains = ["$DOMAIN"]
organization = "Viaduc Demo"

[imap]
host = "127.0.0.1"
port = $IMAP_PORT
tls = "starttls"            # "none" | "starttls" | "tls"
ca_file = "$S/tls/ca.pem"
master_user = "$MASTER_USER"
master_password = "$MASTER_PW"
master_separator = "*"

[dav]
base_url = "http://127.0.0.1:$DAV_PORT/"
# Radicale's service account (testenv/start.sh rights: read/write on every collection), for free/busy
service_user = "$MASTER_USER"
service_password = "$MASTER_PW"

[smtp]
host = "127.0.0.1"
port = $SUBMISSION_PORT
tls = "starttls"
ca_file = "$S/tls/ca.pem"

[sieve]
host = "127.0.0.1"
port = $SIEVE_PORT
tls = "starttls"
ca_file = "$S/tls/ca.pem"

[ldap]
url = "ldap://127.0.0.1:$LDAP_PORT"
base_dn = "$LDAP_BASE"
bind_dn = ""
bind_password = ""
TOML
