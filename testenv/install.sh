#!/usr/bin/env bash
# Install everything the Viaduc test/demo stack needs on Debian 12 (run as root). Idempotent and
# fast when everything is already there (no apt-get update, no pip run).
#
#   testenv/install.sh
#
# Installs:
#   - Debian packages: Dovecot 2.3 (imapd, lmtpd, managesieved, sieve, submissiond), Postfix,
#     OpenLDAP slapd + ldap-utils, openssl, curl, python3 + venv, swaks
#   - /opt/radicale-venv        Radicale ${RADICALE_VERSION:-3.9.0} from PyPI
#   - /opt/viaduc-test-venv     test clients from tests/python/requirements.txt (exchangelib, pytest, requests)
#   - system user/group vmail   owner of the test mailboxes
# Never starts or configures a system-wide service: testenv/start.sh runs private instances.
#
# Knobs: APT_UPDATE=0 skips apt-get update (only run when a package is missing anyway);
#        RADICALE_VERSION=3.9.0; PYTHON=/usr/bin/python3 (interpreter for the venvs).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "ERROR: run as root" >&2; exit 1; }
log() { echo "[install] $*" >&2; }
T0=$(date +%s%3N)

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=900 -y -q)
PKGS=(dovecot-core dovecot-imapd dovecot-lmtpd dovecot-managesieved dovecot-sieve dovecot-submissiond
      postfix slapd ldap-utils openssl curl ca-certificates procps iproute2 util-linux
      python3 python3-venv swaks libnet-ssleay-perl libio-socket-ssl-perl
      haproxy)   # haproxy: the multi-instance test (tests/python/test_haproxy.py)

missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  log "installing: ${missing[*]}"
  # Keep package maintainer scripts from starting daemons (on a machine without systemd,
  # invoke-rc.d would otherwise run /etc/init.d/* and bind 0.0.0.0:25/143/389/...).
  CREATED_POLICY=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; CREATED_POLICY=1
  fi
  trap 'if [ "$CREATED_POLICY" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
  # Postfix: no system configuration (we ship our own config_directory).
  # slapd: skip the postinst-created database (we ship our own slapd.d).
  if command -v debconf-set-selections >/dev/null; then
    debconf-set-selections <<'EOF'
postfix postfix/main_mailer_type select No configuration
postfix postfix/mailname string localhost
slapd slapd/no_configuration boolean true
EOF
  fi
  # a fresh machine has no (or stale) package lists: update first
  if [ "${APT_UPDATE:-1}" = 1 ]; then "${APT[@]}" update; fi
  "${APT[@]}" install --no-install-recommends "${missing[@]}"
else
  log "all ${#PKGS[@]} Debian packages present"
fi

# Unprivileged owner of all mail files (Dovecot mail_uid/mail_gid).
getent group vmail >/dev/null || groupadd --system vmail
getent passwd vmail >/dev/null || useradd --system --gid vmail --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin vmail

PY=${PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3

# Radicale 3.9 from PyPI (Debian's 3.1.8 does not expand recurring events with overrides).
RV=${RADICALE_VERSION:-3.9.0}
have=$(/opt/radicale-venv/bin/python -c 'import radicale; print(radicale.VERSION)' 2>/dev/null || true)
if [ "$have" != "$RV" ]; then
  log "Radicale $RV -> /opt/radicale-venv (had: ${have:-none})"
  [ -x /opt/radicale-venv/bin/pip ] || "$PY" -m venv /opt/radicale-venv
  /opt/radicale-venv/bin/pip install -q --disable-pip-version-check "radicale==$RV"
else
  log "Radicale $have present"
fi

# Test clients. The venv is re-synced only when the requirements file changed.
REQ="$REPO/tests/python/requirements.txt"
V=/opt/viaduc-test-venv
want=$(sha256sum "$REQ" | cut -c1-64)
if [ "$(cat "$V/.viaduc-requirements.sha256" 2>/dev/null || true)" != "$want" ] || ! [ -x "$V/bin/python" ]; then
  log "test venv -> $V ($REQ)"
  [ -x "$V/bin/pip" ] || "$PY" -m venv "$V"
  "$V/bin/pip" install -q --disable-pip-version-check -r "$REQ"
  "$V/bin/python" -c 'import exchangelib, pytest, requests' || { echo "ERROR: test venv incomplete" >&2; exit 1; }
  echo "$want" > "$V/.viaduc-requirements.sha256"
else
  log "test venv $V up to date"
fi

log "done in $(( $(date +%s%3N) - T0 )) ms"
