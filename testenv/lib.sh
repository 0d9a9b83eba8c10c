# Shared helpers for the Viaduc test-stack scripts (testenv/*.sh). Source it; do not execute.
# Adapted from the verified backend recipe (Debian 12, loopback only, no systemd).
# shellcheck shell=bash

die()  { echo "ERROR: $*" >&2; exit 1; }
info() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# now_ms: wall clock in milliseconds
now_ms() { date +%s%3N; }

# state_dir ARG: absolute path of the state directory (created).
state_dir() {
  [ -n "${1:-}" ] || die "usage: $0 STATE_DIR"
  mkdir -p "$1"
  (cd "$1" && pwd -P)
}

# Every path component must be traversable by the unprivileged daemon users
# (dovenull, dovecot, vmail, cyrus, postfix). /root is 0700 -> do not put the state there.
check_traversable() {
  runuser -u nobody -- test -x "$1" 2>/dev/null ||
    die "$1 is not traversable by unprivileged users (a parent dir like /root is 0700); use a state dir under /tmp or /var/tmp"
}

# wait_tcp PORT [TIMEOUT_S] [HOST]: wait until something accepts TCP on HOST:PORT
wait_tcp() {
  local port="$1" t="${2:-30}" host="${3:-127.0.0.1}" end
  end=$(( $(date +%s) + t ))
  while [ "$(date +%s)" -lt "$end" ]; do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

# wait_banner PORT REGEX [TIMEOUT_S]: wait until the server on 127.0.0.1:PORT sends a greeting matching REGEX
wait_banner() {
  local port="$1" re="$2" t="${3:-30}" end line
  end=$(( $(date +%s) + t ))
  while [ "$(date +%s)" -lt "$end" ]; do
    line=$( (exec 3<>"/dev/tcp/127.0.0.1/$port" && timeout 2 head -n1 <&3) 2>/dev/null || true)
    if printf '%s' "$line" | grep -Eq "$re"; then return 0; fi
    sleep 0.05
  done
  return 1
}

# wait_http URL [TIMEOUT_S]: wait until URL answers with any HTTP status
wait_http() {
  local url="$1" t="${2:-30}" end code
  end=$(( $(date +%s) + t ))
  while [ "$(date +%s)" -lt "$end" ]; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null || true)
    if [ -n "$code" ] && [ "$code" != 000 ]; then return 0; fi
    sleep 0.05
  done
  return 1
}

# port_free PORT: true when nothing listens on 127.0.0.1:PORT
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid_alive PIDFILE: true if the pid in PIDFILE is a live process
pid_alive() { [ -s "$1" ] && kill -0 "$(head -n1 "$1" | tr -d ' ')" 2>/dev/null; }

# stop_pidfile NAME PIDFILE [TIMEOUT_S] [CMDLINE_REGEX]: SIGTERM the pid in PIDFILE, wait, then
# SIGKILL. With CMDLINE_REGEX, a pid whose command line does not match (a stale pid file whose pid
# was reused by some other process) is left alone.
stop_pidfile() {
  local name="$1" f="$2" t="${3:-20}" re="${4:-}" pid i
  if ! [ -s "$f" ]; then info "$name: no pid file"; return 0; fi
  pid=$(head -n1 "$f" | tr -d ' ')
  if ! kill -0 "$pid" 2>/dev/null; then info "$name: not running (stale pid $pid)"; rm -f "$f"; return 0; fi
  if [ -n "$re" ] && ! tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -Eq "$re"; then
    info "$name: pid $pid is not ours (stale pid file), not killing it"; rm -f "$f"; return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < t * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || { info "$name: stopped (pid $pid)"; rm -f "$f"; return 0; }
    sleep 0.1
  done
  info "$name: did not stop in ${t}s, SIGKILL $pid"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$f"
}

# make_tls DIR: a small local CA (ca.pem/ca.key, v3, CA:TRUE, keyCertSign) and a leaf certificate
# signed by it (cert.pem/key.pem: CN=localhost, SAN DNS:localhost + IP:127.0.0.1, CA:FALSE,
# EKU serverAuth). rustls/webpki reject self-signed leaves and v1 CAs: keep the extensions.
# Created once per state dir; clients trust DIR/ca.pem.
make_tls() {
  local d="$1" serial
  if [ -s "$d/cert.pem" ] && [ -s "$d/key.pem" ] && [ -s "$d/ca.pem" ]; then return 0; fi
  mkdir -p "$d"
  cat > "$d/openssl.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = localhost
[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
CNF
  {
    openssl req -x509 -new -config "$d/openssl.cnf" -extensions v3_ca -newkey rsa:2048 -nodes -sha256 \
      -days 3650 -subj "/O=Viaduc Test/CN=Viaduc Test CA $(date +%Y%m%d%H%M%S)" -keyout "$d/ca.key" -out "$d/ca.pem" &&
    openssl req -new -config "$d/openssl.cnf" -newkey rsa:2048 -nodes -sha256 \
      -subj "/O=Viaduc Test/CN=localhost" -keyout "$d/key.pem" -out "$d/leaf.csr" &&
    serial="0x$(openssl rand -hex 16)" &&
    openssl x509 -req -in "$d/leaf.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -set_serial "$serial" -sha256 \
      -days 825 -extfile "$d/openssl.cnf" -extensions v3_leaf -out "$d/cert.pem" &&
    openssl verify -x509_strict -purpose sslserver -CAfile "$d/ca.pem" "$d/cert.pem"
  } > "$d/openssl.log" 2>&1 || { cat "$d/openssl.log" >&2; die "TLS certificate generation failed"; }
  rm -f "$d/leaf.csr"
  chmod 0644 "$d/cert.pem" "$d/ca.pem"; chmod 0600 "$d/key.pem" "$d/ca.key"
}

# write_postfix_conf STATE_DIR SMTP_PORT LMTP_PORT DOMAIN "USERS"
# A private Postfix instance: config_directory=$S/postfix/etc, queue in $S/postfix/spool,
# smtpd on 127.0.0.1:SMTP_PORT only, DOMAIN delivered to LMTP on 127.0.0.1:LMTP_PORT,
# every other destination bounced (never relayed off the machine).
write_postfix_conf() {
  local S="$1" SMTP_PORT="$2" LMTP_PORT="$3" DOMAIN="$4" USERS="$5" u
  mkdir -p "$S/postfix/etc" "$S/log"
: > "$S/postfix/etc/vmailboxes"
for u in $USERS postmaster; do echo "$u@$DOMAIN OK" >> "$S/postfix/etc/vmailboxes"; done
cat > "$S/postfix/etc/main.cf" <<EOF
# Postfix test instance (generated by testenv/lib.sh write_postfix_conf). Loopback only, never delivers off-box.
compatibility_level = 3.6
queue_directory = $S/postfix/spool
data_directory = $S/postfix/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.$DOMAIN
mydomain = $DOMAIN
myorigin = \$mydomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = \$myhostname ESMTP Postfix (test stack)
biff = no
append_dot_mydomain = no
alias_maps =
alias_database =
local_recipient_maps =
maillog_file = $S/log/postfix.log
maillog_file_prefixes = $S/log
# local domain: delivered to Dovecot LMTP
virtual_mailbox_domains = $DOMAIN
virtual_mailbox_maps = texthash:$S/postfix/etc/vmailboxes
virtual_transport = lmtp:inet:127.0.0.1:$LMTP_PORT
# everything else is bounced, never sent to the network
default_transport = error:5.7.1 outbound delivery disabled in this test stack
relay_transport = error:5.7.1 outbound delivery disabled in this test stack
local_transport = error:5.7.1 local delivery disabled in this test stack
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_tls_cert_file = $S/tls/cert.pem
smtpd_tls_key_file = $S/tls/key.pem
smtpd_tls_security_level = may
smtp_dns_support_level = disabled
disable_dns_lookups = yes
message_size_limit = 52428800
smtputf8_enable = yes
# fast retries for tests
queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 60s
EOF
cat > "$S/postfix/etc/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
  # Postfix waits (~2 s, in 300 ms sleeps) before reading a main.cf modified within the last ~2 s
  # (protection against half-written files). We regenerate it on every start: backdate it.
  touch -d "@$(( $(date +%s) - 10 ))" "$S/postfix/etc/main.cf" "$S/postfix/etc/master.cf" "$S/postfix/etc/vmailboxes"
}

# start_postfix STATE_DIR SMTP_PORT READY_TIMEOUT  (uses timing() of the caller)
start_postfix() {
  local S="$1" SMTP_PORT="$2" READY_TIMEOUT="$3" t
  if pid_alive "$S/postfix/spool/pid/master.pid"; then info "postfix already running"; return 0; fi
  port_free "$SMTP_PORT" || die "port $SMTP_PORT busy"
  t=$(now_ms)
  # data_directory must be owned by mail_owner; queue_directory must exist (post-install fills it)
  mkdir -p "$S/postfix/spool" "$S/postfix/data"; chown postfix: "$S/postfix/data"
  # NB: without a tty and without /dev/log, postfix(1) prints nothing on errors -> show its log
  # file. Redirect all std fds so no daemon keeps the caller's pipes open.
  # 'postfix start' runs its own integrity checks (post-install create-missing, ~2 s). On a
  # warm restart the queue is already laid out: Postfix's own quick-start flag skips them.
  [ -d "$S/postfix/spool/pid" ] && touch "$S/postfix/spool/quick-start"
  postfix -c "$S/postfix/etc" start < /dev/null >> "$S/log/postfix.log" 2>&1 || { tail -5 "$S/log/postfix.log" >&2; die "postfix start failed"; }
  wait_banner "$SMTP_PORT" '^220 ' "$READY_TIMEOUT" || { tail -20 "$S/log/postfix.log" >&2; die "postfix not ready"; }
  timing postfix "$t"
}

# stop_postfix STATE_DIR: SIGTERM to the master (what 'postfix stop' does, minus its 1 s sleeps);
# the master takes all its children down with it.
stop_postfix() {
  stop_pidfile postfix "$1/postfix/spool/pid/master.pid" 15 'master|postfix' 
}

PY=${PYTHON:-python3}
