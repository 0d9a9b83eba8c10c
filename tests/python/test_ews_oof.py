"""Out-of-office through EWS (GetUserOofSettings / SetUserOofSettings, MS-OXWSOOF) with exchangelib as the
client: the settings become a Sieve vacation script on Dovecot's ManageSieve server, read back equal, and the
mail server itself answers a message while OOF is on."""
import base64
import datetime
import imaplib
import smtplib
import socket
import time
import uuid

import pytest

from test_ews_mail import account, ews  # noqa: F401  (fixture: exchangelib trusts the stack CA)

exchangelib = pytest.importorskip("exchangelib")
from exchangelib.settings import OofSettings  # noqa: E402

USER = "carol"
SENDER = "bob"


class ManageSieve:
    """A minimal ManageSieve (RFC 5804) client: STARTTLS, AUTHENTICATE PLAIN, LISTSCRIPTS, GETSCRIPT."""

    def __init__(self, stack, user):
        self.sock = socket.create_connection(("127.0.0.1", stack.ports["SIEVE_PORT"]), timeout=10)
        self.f = self.sock.makefile("rb")
        self._until_ok()
        self._cmd(b"STARTTLS")
        self.sock = stack.ssl_context().wrap_socket(self.sock, server_hostname="127.0.0.1")
        self.f = self.sock.makefile("rb")
        self._until_ok()  # capabilities again after TLS
        creds = base64.b64encode(f"\0{stack.addr(user)}\0{stack.password}".encode()).decode()
        self._cmd(f'AUTHENTICATE "PLAIN" "{creds}"'.encode())

    def _line(self):
        line = self.f.readline()
        assert line, "connection closed"
        return line.rstrip(b"\r\n")

    def _until_ok(self):
        lines = []
        while True:
            line = self._line()
            if line.startswith(b"OK"):
                return lines
            assert not line.startswith((b"NO", b"BYE")), line
            if line.endswith(b"}"):  # literal
                n = int(line[line.rindex(b"{") + 1:-1].rstrip(b"+"))
                lines.append(self.f.read(n))
                continue
            lines.append(line)

    def _cmd(self, command):
        self.sock.sendall(command + b"\r\n")
        return self._until_ok()

    def scripts(self):
        out = {}
        for line in self._cmd(b"LISTSCRIPTS"):
            name = line.split(b'"')[1].decode()
            out[name] = line.endswith(b"ACTIVE")
        return out

    def get(self, name):
        data = self._cmd(f'GETSCRIPT "{name}"'.encode())
        return data[0].decode() if data else ""

    def close(self):
        try:
            self.sock.sendall(b"LOGOUT\r\n")
        finally:
            self.sock.close()


def test_oof_set_read_back_and_stored_as_sieve(ews, stack):  # noqa: F811
    acct = account(ews, user=USER)
    tag = uuid.uuid4().hex[:8]
    acct.oof_settings = OofSettings(state=OofSettings.ENABLED, external_audience="All",
                                    internal_reply=f"Back on Monday ({tag})", external_reply=f"Away ({tag})")
    got = acct.oof_settings
    assert got.state == OofSettings.ENABLED
    assert got.internal_reply == f"Back on Monday ({tag})"
    assert got.external_reply == f"Away ({tag})"
    assert got.external_audience == "All"

    # On the ManageSieve server: an active vacation script with the reply.
    ms = ManageSieve(stack, USER)
    try:
        scripts = ms.scripts()
        assert "viaduc-oof" in scripts, scripts
        assert any(scripts.values()), scripts
        text = ms.get("viaduc-oof")
        assert "vacation" in text and f"Back on Monday ({tag})" in text, text
    finally:
        ms.close()

    # The mail server answers by itself: bob writes to carol and gets the auto-reply.
    subject = f"OOF probe {tag}"
    with smtplib.SMTP("127.0.0.1", stack.ports["SUBMISSION_PORT"], timeout=20) as s:
        s.starttls(context=stack.ssl_context())
        s.login(stack.addr(SENDER), stack.password)
        s.sendmail(stack.addr(SENDER), [stack.addr(USER)],
                   f"From: {stack.addr(SENDER)}\r\nTo: {stack.addr(USER)}\r\nSubject: {subject}\r\n"
                   f"Message-ID: <{tag}@example.test>\r\n\r\nAre you there?\r\n")
    deadline = time.time() + 20
    found = False
    while time.time() < deadline and not found:
        m = imaplib.IMAP4("127.0.0.1", stack.ports["IMAP_PORT"])
        m.starttls(ssl_context=stack.ssl_context())
        m.login(stack.addr(SENDER), stack.password)
        m.select("INBOX", readonly=True)
        typ, data = m.search(None, "BODY", tag)
        found = typ == "OK" and bool(data[0].split())
        m.logout()
        if not found:
            time.sleep(0.5)
    assert found, "no automatic reply reached the sender"

    # Scheduled, then disabled: read back as set.
    start = datetime.datetime.now(tz=datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(days=1)
    end = start + datetime.timedelta(days=3)
    acct.oof_settings = OofSettings(state=OofSettings.SCHEDULED, start=start, end=end, external_audience="None",
                                    internal_reply="Conference", external_reply="Away")
    got = acct.oof_settings
    assert got.state == OofSettings.SCHEDULED
    assert (got.start, got.end) == (start, end)
    assert got.external_audience == "None"
    acct.oof_settings = OofSettings(state=OofSettings.DISABLED, internal_reply="", external_reply="")
    assert acct.oof_settings.state == OofSettings.DISABLED


def test_oof_of_another_mailbox_is_refused(ews, stack):  # noqa: F811
    import requests

    body = ('<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
            'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header>'
            '<t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body><m:GetUserOofSettingsRequest>'
            '<t:Mailbox><t:Address>alice@example.test</t:Address></t:Mailbox></m:GetUserOofSettingsRequest>'
            '</s:Body></s:Envelope>')
    s = ews.session("carol@example.test")
    r = s.post(ews.url + "/EWS/Exchange.asmx", data=body, headers={"Content-Type": "text/xml"}, timeout=30)
    assert r.status_code == 200, r.text
    assert "<m:ResponseCode>ErrorAccessDenied</m:ResponseCode>" in r.text, r.text
    assert "ServerVersionInfo" in r.text


def test_mail_tips_show_a_colleagues_automatic_reply(ews, stack):  # noqa: F811
    """carol turns her automatic reply on through EWS; alice's GetMailTips for carol shows it (read from carol's
    Sieve script through the master user), and shows nothing once it is off."""
    import requests
    import xml.etree.ElementTree as ET
    from test_ews_mail import NS, soap

    carol = account(ews, user="carol")
    tag = uuid.uuid4().hex[:8]
    carol.oof_settings = OofSettings(state=OofSettings.ENABLED, external_audience="All",
                                     internal_reply=f"On leave ({tag})", external_reply="Away")

    def tip():
        d = stack.domain
        body = soap(f'<m:GetMailTips><m:SendingAs><t:EmailAddress>alice@{d}</t:EmailAddress></m:SendingAs>'
                    f'<m:Recipients><t:Mailbox><t:EmailAddress>carol@{d}</t:EmailAddress></t:Mailbox>'
                    f'<t:Mailbox><t:EmailAddress>bob@{d}</t:EmailAddress></t:Mailbox></m:Recipients>'
                    '<m:MailTipsRequested>OutOfOfficeMessage</m:MailTipsRequested></m:GetMailTips>')
        r = requests.post(ews.url + "/EWS/Exchange.asmx", data=body, auth=(f"alice@{d}", stack.password),
                          headers={"Content-Type": "text/xml; charset=utf-8"}, verify=str(ews.ca_file), timeout=30)
        assert r.status_code == 200, r.text
        tips = ET.fromstring(r.content).findall(".//m:MailTips", NS)
        return [(t.find("t:OutOfOffice/t:ReplyBody/t:Message", NS).text or "") for t in tips]

    try:
        carol_tip, bob_tip = tip()
        assert f"On leave ({tag})" in carol_tip
        assert bob_tip == ""
    finally:
        carol.oof_settings = OofSettings(state=OofSettings.DISABLED, internal_reply="", external_reply="")
    assert tip()[0] == ""
