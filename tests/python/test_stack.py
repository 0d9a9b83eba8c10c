"""Smoke tests of the backend stack itself (no Viaduc needed): the clients the other tests use
can reach Dovecot and Radicale with the stack's CA and the demo credentials."""
import imaplib

import requests

REQUIRED_IMAP_CAPS = ("CONDSTORE", "QRESYNC", "METADATA", "ACL", "SPECIAL-USE")


def test_imap_starttls_login_and_capabilities(stack):
    m = imaplib.IMAP4("127.0.0.1", stack.ports["IMAP_PORT"], timeout=20)
    try:
        m.starttls(ssl_context=stack.ssl_context())  # verifies the leaf against ca.pem
        typ, _ = m.login(stack.addr("alice"), stack.password)
        assert typ == "OK"
        typ, data = m.capability()
        assert typ == "OK"
        caps = data[0].decode().upper().split()
        missing = [c for c in REQUIRED_IMAP_CAPS if c not in caps]
        assert not missing, f"missing {missing} in {caps}"
    finally:
        try:
            m.logout()
        except Exception:  # noqa: BLE001
            pass


def test_radicale_propfind_as_alice(stack):
    body = ('<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
            '<D:current-user-principal/><D:resourcetype/></D:prop></D:propfind>')
    s = requests.Session()
    s.trust_env = False  # never via a proxy: loopback only
    for login in ("alice", stack.addr("alice")):
        r = s.request("PROPFIND", stack.dav_url + "alice/", data=body, timeout=20,
                      auth=(login, stack.password),
                      headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"})
        assert r.status_code == 207, (login, r.status_code, r.text[:300])
        assert "/alice/calendar/" in r.text
