#!/usr/bin/env python3
"""Seed and verify the Viaduc test stack (Dovecot + Postfix + slapd + Radicale; stdlib only, Python >= 3.9).

    stacktool.py seed   STATE_DIR          # idempotent: re-running does not duplicate mail
    stacktool.py verify STATE_DIR [--quick]
    stacktool.py caps   STATE_DIR          # print IMAP/ManageSieve/LMTP/SMTP capability lines

STATE_DIR/ports.env (written by testenv/start.sh) holds the ports, the password and the CA file.
Every TLS connection is verified against STATE_DIR/tls/ca.pem. Only 127.0.0.1 is ever contacted.
"""
import base64
import email.utils
import http.client
import imaplib
import os
import re
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import uuid
from email.message import EmailMessage

HOST = "127.0.0.1"
TLS = None  # ssl.SSLContext trusting the stack's CA (set in main())


def tls_context(ca_file):
    """Client context that trusts only the stack's CA and checks the name (127.0.0.1 is in the SAN)."""
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx

# IMAP commands imaplib does not know
for _c in ("GETMETADATA", "SETMETADATA", "NOTIFY", "ENABLE", "ID", "ESEARCH", "MYRIGHTS",
           "GETACL", "SETACL", "LISTRIGHTS", "GETQUOTAROOT", "IDLE", "UID", "MOVE", "NAMESPACE"):
    imaplib.Commands.setdefault(_c, ("AUTH", "SELECTED"))


def load_env(state):
    env = {}
    with open(os.path.join(state, "ports.env")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "=" in line:
                k, v = line.split("=", 1)
                env[k.strip()] = v.strip().strip('"')
    env["STATE_DIR"] = state
    return env


class Stack:
    def __init__(self, state):
        self.env = load_env(state)
        e = self.env
        self.kind = e["STACK"]
        self.domain = e.get("DOMAIN", "example.test")
        self.users = e.get("USERS", "alice bob carol shared").split()
        self.imap_port = int(e["IMAP_PORT"])
        self.imaps_port = int(e["IMAPS_PORT"])
        self.lmtp_port = int(e["LMTP_PORT"])
        self.sieve_port = int(e["SIEVE_PORT"])
        self.smtp_port = int(e["SMTP_PORT"]) if e.get("SMTP_PORT") else None
        self.submission_port = int(e["SUBMISSION_PORT"]) if e.get("SUBMISSION_PORT") else None
        self.dav_port = int(e["DAV_PORT"])
        self.ldap_port = int(e["LDAP_PORT"]) if e.get("LDAP_PORT") else None
        self.master = (e.get("MASTER_USER"), e.get("MASTER_PW"))
        self.password = e.get("PASSWORD", "viaduc-demo")
        self.ca_file = e.get("CA_FILE") or os.path.join(state, "tls", "ca.pem")

    def pw(self, user):
        return self.password

    def addr(self, user):
        return f"{user}@{self.domain}"

    # ----- DAV layout
    def cal_home(self, user):
        return f"/{user}/" if self.kind == "a" else f"/dav/calendars/user/{user}/"

    def card_home(self, user):
        return f"/{user}/" if self.kind == "a" else f"/dav/addressbooks/user/{user}/"

    def cal_url(self, user, name="calendar"):
        return self.cal_home(user) + name + "/"

    def book_url(self, user, name="contacts"):
        return self.card_home(user) + name + "/"

    # Cyrus hierarchy: "Other Users/alice/Projects"; Dovecot: "shared/alice/Projects"
    def other_user_folder(self, owner, folder):
        return (f"shared/{owner}/{folder}" if self.kind == "a" else f"Other Users/{owner}/{folder}")


# ---------------------------------------------------------------------------- IMAP
def imap_login(st, user, pw=None, tls="starttls"):
    if tls == "ssl":
        m = imaplib.IMAP4_SSL(HOST, st.imaps_port, ssl_context=TLS, timeout=20)
    else:
        m = imaplib.IMAP4(HOST, st.imap_port, timeout=20)
        if tls == "starttls":
            m.starttls(ssl_context=TLS)
    m.login(user, pw if pw is not None else st.pw(user))
    return m


def imap_caps(m):
    typ, dat = m._simple_command("CAPABILITY")
    caps = m.untagged_responses.pop("CAPABILITY", [b""])[-1].decode()
    return caps


def cmd(m, name, *args):
    typ, dat = m._simple_command(name, *args)
    if typ != "OK":
        raise RuntimeError(f"{name} {args} -> {typ} {dat}")
    return dat


def flat(resp):
    """imaplib untagged data (bytes or (bytes, literal) tuples) -> one bytes string"""
    out = b""
    for x in resp:
        if isinstance(x, tuple):
            out += b" ".join(x)
        elif isinstance(x, bytes):
            out += x
    return out


def untagged(m, name):
    return m.untagged_responses.pop(name, [])


class RawIMAP:
    """Tiny line-based IMAP client for IDLE/NOTIFY tests."""

    def __init__(self, port):
        self.s = socket.create_connection((HOST, port), timeout=20)
        self.f = self.s.makefile("rb")
        self.n = 0
        self.readline()

    def readline(self):
        line = self.f.readline()
        if not line:
            raise RuntimeError("connection closed")
        return line.decode(errors="replace").rstrip("\r\n")

    def send(self, text):
        self.s.sendall(text.encode() + b"\r\n")

    def command(self, text):
        self.n += 1
        tag = f"r{self.n}"
        self.send(f"{tag} {text}")
        lines = []
        while True:
            line = self.readline()
            lines.append(line)
            if line.startswith(tag + " "):
                return line, lines

    def close(self):
        try:
            self.command("LOGOUT")
        except Exception:
            pass
        self.s.close()


# ---------------------------------------------------------------------------- delivery
def make_messages(st, rcpt, sender):
    """A few realistic messages for rcpt: plain, html, attachment, thread reply, invitation.
    Message-IDs are fixed per recipient (seed() uses them to stay idempotent)."""
    msgs = []
    now = time.time()
    base_id = rcpt.split("@")[0]

    m = EmailMessage()
    m["From"] = f"Bob Brown <{sender}>"
    m["To"] = rcpt
    m["Subject"] = "Welcome to the test stack"
    m["Date"] = email.utils.formatdate(now - 86400 * 3)
    m["Message-ID"] = f"<welcome-{base_id}@{st.domain}>"
    m.set_content("Hello!\n\nThis is a plain text message seeded by stacktool.py.\n")
    msgs.append(m)

    m2 = EmailMessage()
    m2["From"] = f"Carol Clark <carol@{st.domain}>"
    m2["To"] = rcpt
    m2["Cc"] = f"bob@{st.domain}"
    m2["Subject"] = "Quarterly report (with attachment)"
    m2["Date"] = email.utils.formatdate(now - 86400 * 2)
    m2["Message-ID"] = f"<report-{base_id}@{st.domain}>"
    m2.set_content("Please find the quarterly report attached.\n")
    m2.add_alternative("<html><body><p>Please find the <b>quarterly report</b> attached.</p></body></html>",
                       subtype="html")
    pdf = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
           b"trailer<</Root 1 0 R>>\n%%EOF\n")
    m2.add_attachment(pdf, maintype="application", subtype="pdf", filename="report-q1.pdf")
    m2.add_attachment("id,value\n1,42\n2,43\n", subtype="csv", filename="numbers.csv")
    msgs.append(m2)

    m3 = EmailMessage()
    m3["From"] = f"Bob Brown <{sender}>"
    m3["To"] = rcpt
    m3["Subject"] = "Re: Welcome to the test stack"
    m3["Date"] = email.utils.formatdate(now - 86400)
    m3["Message-ID"] = f"<reply-{base_id}@{st.domain}>"
    m3["In-Reply-To"] = m["Message-ID"]
    m3["References"] = m["Message-ID"]
    m3.set_content("A reply in the same thread.\n")
    m3.add_alternative("<html><body><p>A <i>reply</i> in the same thread. \u00e9\u00e8\u00fc</p></body></html>",
                       subtype="html")
    msgs.append(m3)

    m4 = EmailMessage()
    m4["From"] = f"Alice Anderson <alice@{st.domain}>"
    m4["To"] = rcpt
    m4["Subject"] = "Meeting invitation: Design review"
    m4["Date"] = email.utils.formatdate(now - 3600)
    m4["Message-ID"] = f"<invite-{base_id}@{st.domain}>"
    m4.set_content("You are invited to the design review.\n")
    m4.add_attachment(INVITE_ICS.replace("{domain}", st.domain).encode(), maintype="text",
                      subtype="calendar", params={"method": "REQUEST"}, filename="invite.ics")
    msgs.append(m4)
    return msgs


def lmtp_deliver(st, rcpt, msg):
    with smtplib.LMTP(HOST, st.lmtp_port, timeout=20) as l:
        l.send_message(msg, from_addr=msg["From"] and email.utils.parseaddr(msg["From"])[1], to_addrs=[rcpt])


def wait_for_message(st, user, msgid, folder="INBOX", timeout=30.0, subject_re=None):
    end = time.time() + timeout
    while time.time() < end:
        m = imap_login(st, user, tls=None)
        try:
            m.select(f'"{folder}"', readonly=True)
            if subject_re:
                typ, d = m.uid("SEARCH", "SUBJECT", f'"{subject_re}"')
            else:
                typ, d = m.uid("SEARCH", "HEADER", "Message-ID", f'"{msgid}"')
            if typ == "OK" and d and d[0].strip():
                return True
        finally:
            m.logout()
        time.sleep(0.3)
    return False


# ---------------------------------------------------------------------------- ManageSieve
class Sieve:
    def __init__(self, st):
        self.s = socket.create_connection((HOST, st.sieve_port), timeout=20)
        self.f = self.s.makefile("rb")
        self.caps = self._resp()[1]

    def _resp(self):
        lines = []
        while True:
            line = self.f.readline().decode().rstrip("\r\n")
            if not line and not lines:
                raise RuntimeError("sieve: connection closed")
            m = re.search(r"\{(\d+)\+?\}$", line)
            if m:
                lit = self.f.read(int(m.group(1))).decode()
                line = line + lit + self.f.readline().decode().rstrip("\r\n")
            if re.match(r"^(OK|NO|BYE)\b", line):
                return line, lines
            lines.append(line)

    def cmd(self, text, literal=None):
        if literal is not None:
            b = literal.encode()
            self.s.sendall(text.encode() + b" {%d+}\r\n" % len(b) + b + b"\r\n")
        else:
            self.s.sendall(text.encode() + b"\r\n")
        st, lines = self._resp()
        if not st.startswith("OK"):
            raise RuntimeError(f"sieve {text[:40]} -> {st}")
        return lines

    def login(self, user, pw):
        tok = base64.b64encode(f"\0{user}\0{pw}".encode()).decode()
        return self.cmd(f'AUTHENTICATE "PLAIN" "{tok}"')

    def close(self):
        try:
            self.cmd("LOGOUT")
        except Exception:
            pass
        self.s.close()


VACATION_SCRIPT = '''require ["vacation"];
vacation :days 1 :subject "Out of office" "I am out of the office (seeded by stacktool).";
'''

# ---------------------------------------------------------------------------- DAV
def dav(st, method, path, user, body=None, headers=None, pw=None):
    c = http.client.HTTPConnection(HOST, st.dav_port, timeout=30)
    h = {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw or st.pw(user)}".encode()).decode()}
    if body is not None:
        h["Content-Type"] = "application/xml; charset=utf-8"
    if headers:
        h.update(headers)
    c.request(method, path, body=body.encode() if isinstance(body, str) else body, headers=h)
    r = c.getresponse()
    data = r.read().decode(errors="replace")
    c.close()
    hdrs = dict(r.getheaders())
    if r.msg.get_all("DAV"):  # Cyrus sends several DAV: headers
        hdrs["DAV"] = ", ".join(r.msg.get_all("DAV"))
    return r.status, data, hdrs


def dav_follow(st, method, path, user, body=None, headers=None):
    """dav() that follows one redirect (Cyrus 301s other users' collections into the caller's home)"""
    s, data, h = dav(st, method, path, user, body, headers)
    if s in (301, 302, 307, 308) and h.get("Location"):
        s, data, h = dav(st, method, h["Location"], user, body, headers)
    return s, data, h


MKCALENDAR_BODY = """<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:I="http://apple.com/ns/ical/">
  <D:set><D:prop>
    <D:displayname>{name}</D:displayname>
    <I:calendar-color>{color}</I:calendar-color>
    <C:supported-calendar-component-set><C:comp name="{comp}"/></C:supported-calendar-component-set>
  </D:prop></D:set>
</C:mkcalendar>"""

MKCOL_BOOK_BODY = """<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">
  <D:set><D:prop>
    <D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>
    <D:displayname>{name}</D:displayname>
  </D:prop></D:set>
</D:mkcol>"""

VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Europe/Paris
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE"""

RECURRING_ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//gateway-tests//stacktool//EN
{tz}
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20250101T000000Z
CREATED:20250101T000000Z
LAST-MODIFIED:20250101T000000Z
SEQUENCE:0
SUMMARY:Weekly standup
LOCATION:Room 1
DESCRIPTION:Recurring every Monday; 13 Jan moved to 11:00, 20 Jan cancelled.
DTSTART;TZID=Europe/Paris:20250106T093000
DTEND;TZID=Europe/Paris:20250106T094500
RRULE:FREQ=WEEKLY;BYDAY=MO
EXDATE;TZID=Europe/Paris:20250120T093000
ORGANIZER;CN=Alice Anderson:mailto:alice@{domain}
ATTENDEE;CN=Bob Brown;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:mailto:bob@{domain}
ATTENDEE;CN=Carol Clark;PARTSTAT=NEEDS-ACTION;ROLE=OPT-PARTICIPANT:mailto:carol@{domain}
BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:Standup
TRIGGER:-PT10M
END:VALARM
END:VEVENT
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20250101T000000Z
RECURRENCE-ID;TZID=Europe/Paris:20250113T093000
SEQUENCE:1
SUMMARY:Weekly standup (moved)
LOCATION:Room 2
DTSTART;TZID=Europe/Paris:20250113T110000
DTEND;TZID=Europe/Paris:20250113T111500
ORGANIZER;CN=Alice Anderson:mailto:alice@{domain}
ATTENDEE;CN=Bob Brown;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:mailto:bob@{domain}
END:VEVENT
END:VCALENDAR
"""

SINGLE_ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//gateway-tests//stacktool//EN
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20250101T000000Z
SUMMARY:{summary}
DTSTART:{start}
DTEND:{end}
TRANSP:OPAQUE
CLASS:PUBLIC
END:VEVENT
END:VCALENDAR
"""

ALLDAY_ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//gateway-tests//stacktool//EN
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20250101T000000Z
SUMMARY:Company holiday
DTSTART;VALUE=DATE:20250501
DTEND;VALUE=DATE:20250502
TRANSP:TRANSPARENT
END:VEVENT
END:VCALENDAR
"""

TASK_ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//gateway-tests//stacktool//EN
BEGIN:VTODO
UID:{uid}
DTSTAMP:20250101T000000Z
SUMMARY:Prepare quarterly report
DUE;VALUE=DATE:20250331
PRIORITY:1
STATUS:NEEDS-ACTION
PERCENT-COMPLETE:0
END:VTODO
END:VCALENDAR
"""

INVITE_ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//gateway-tests//stacktool//EN
METHOD:REQUEST
BEGIN:VEVENT
UID:design-review@{domain}
DTSTAMP:20250101T000000Z
DTSTART:20250210T130000Z
DTEND:20250210T140000Z
SUMMARY:Design review
ORGANIZER;CN=Alice Anderson:mailto:alice@{domain}
ATTENDEE;CN=Bob Brown;RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:bob@{domain}
END:VEVENT
END:VCALENDAR
"""

VCARD = """BEGIN:VCARD
VERSION:3.0
UID:{uid}
FN:Dave External
N:External;Dave;;;
ORG:Partner Inc.
TITLE:Account Manager
EMAIL;TYPE=INTERNET,WORK:dave@partner.example
TEL;TYPE=WORK,VOICE:+1 555 0199
TEL;TYPE=CELL:+1 555 0299
ADR;TYPE=WORK:;;1 Partner Way;Springfield;;12345;USA
NOTE:Seeded contact
END:VCARD
"""

VCARD2 = """BEGIN:VCARD
VERSION:3.0
UID:{uid}
FN:Erin Example
N:Example;Erin;;;
ORG:Supplier GmbH
EMAIL;TYPE=INTERNET,HOME:erin@supplier.example
TEL;TYPE=HOME,VOICE:+49 30 5550123
BDAY:1985-04-12
END:VCARD
"""


def seed_dav(st, user, out):
    # collections
    cols = [("calendar", "VEVENT", "Calendar", "#3366ccff"),
            ("tasks", "VTODO", "Tasks", "#33aa33ff")]
    for name, comp, disp, color in cols:
        url = st.cal_url(user, name)
        s, body, _ = dav(st, "PROPFIND", url, user, headers={"Depth": "0"})
        if s == 207:
            out.append(f"{user}: {url} exists")
            continue
        s, body, _ = dav(st, "MKCALENDAR", url, user, MKCALENDAR_BODY.format(name=disp, comp=comp, color=color))
        if s not in (201,):
            raise RuntimeError(f"MKCALENDAR {url} -> {s} {body[:300]}")
        out.append(f"{user}: MKCALENDAR {url} -> {s}")
    url = st.book_url(user, "contacts")
    s, body, _ = dav(st, "PROPFIND", url, user, headers={"Depth": "0"})
    if s != 207:
        s, body, _ = dav(st, "MKCOL", url, user, MKCOL_BOOK_BODY.format(name="Contacts"))
        if s != 201:
            raise RuntimeError(f"MKCOL {url} -> {s} {body[:300]}")
        out.append(f"{user}: MKCOL(addressbook) {url} -> {s}")
    # items
    ical = {"Content-Type": "text/calendar; charset=utf-8"}
    items = [
        (st.cal_url(user) + "weekly-standup.ics",
         RECURRING_ICS.format(uid=f"weekly-standup-{user}@{st.domain}", domain=st.domain, tz=VTIMEZONE)),
        (st.cal_url(user) + "kickoff.ics",
         SINGLE_ICS.format(uid=f"kickoff-{user}@{st.domain}", summary="Project kickoff",
                           start="20250115T140000Z", end="20250115T150000Z")),
        (st.cal_url(user) + "holiday.ics", ALLDAY_ICS.format(uid=f"holiday-{user}@{st.domain}")),
        (st.cal_url(user, "tasks") + "report-task.ics", TASK_ICS.format(uid=f"task-{user}@{st.domain}")),
    ]
    for url, data in items:
        s, body, _ = dav(st, "PUT", url, user, data.replace("\n", "\r\n"), headers=ical)
        if s not in (201, 204):
            raise RuntimeError(f"PUT {url} -> {s} {body[:300]}")
    for name, card in (("dave.vcf", VCARD.format(uid=f"dave-{user}@{st.domain}")),
                       ("erin.vcf", VCARD2.format(uid=f"erin-{user}@{st.domain}"))):
        s, body, _ = dav(st, "PUT", st.book_url(user) + name, user, card.replace("\n", "\r\n"),
                         headers={"Content-Type": "text/vcard; charset=utf-8"})
        if s not in (201, 204):
            raise RuntimeError(f"PUT {name} -> {s} {body[:300]}")
    out.append(f"{user}: PUT 3 events (1 recurring w/ exception+EXDATE), 1 task, 2 vCards")


# ---------------------------------------------------------------------------- seed
def seed(st):
    out = []
    # 0. already seeded? (the first seeded message of each user has a fixed Message-ID)
    todo = []
    for u in st.users:
        m = imap_login(st, u, tls=None)
        try:
            m.select("INBOX", readonly=True)
            typ, d = m.uid("SEARCH", "HEADER", "Message-ID", f'"<welcome-{u}@{st.domain}>"')
            if typ == "OK" and d and d[0].strip():
                out.append(f"{u}: mail already seeded, skipped")
            else:
                todo.append(u)
        finally:
            m.logout()
    # 1. mail: 4 messages into each INBOX over LMTP
    for u in todo:
        for msg in make_messages(st, st.addr(u), st.addr("bob") if u != "bob" else st.addr("alice")):
            lmtp_deliver(st, st.addr(u), msg)
        out.append(f"{u}: 4 messages delivered to INBOX via LMTP (plain, html+2 attachments, reply, invite)")
    # 2. Sent/Drafts/Projects, flags, ACL sharing, METADATA
    for u in todo:
        m = imap_login(st, u, tls=None)
        try:
            sent = EmailMessage()
            sent["From"] = st.addr(u)
            sent["To"] = st.addr("carol")
            sent["Subject"] = f"Sent item from {u}"
            sent["Date"] = email.utils.formatdate()
            sent["Message-ID"] = email.utils.make_msgid(domain=st.domain)
            sent.set_content("This message sits in Sent.\n")
            m.append("Sent", r"(\Seen)", imaplib.Time2Internaldate(time.time()), sent.as_bytes())
            draft = EmailMessage()
            draft["From"] = st.addr(u)
            draft["Subject"] = "Unfinished draft"
            draft.set_content("Draft body\n")
            m.append("Drafts", r"(\Draft)", imaplib.Time2Internaldate(time.time()), draft.as_bytes())
            typ, _ = m.create("Projects")
            m.create("Projects/Gateway")
            m.subscribe("Projects")
            proj = EmailMessage()
            proj["From"] = st.addr("carol")
            proj["To"] = st.addr(u)
            proj["Subject"] = "Project notes"
            proj.set_content("Filed into Projects.\n")
            m.append("Projects", None, imaplib.Time2Internaldate(time.time()), proj.as_bytes())
            m.select("INBOX")
            m.store("1", "+FLAGS", r"(\Seen \Flagged)")
            try:
                cmd(m, "SETMETADATA", "INBOX", '(/private/comment "seeded inbox")')
            except Exception as e:  # noqa
                out.append(f"{u}: SETMETADATA failed: {e}")
            if u == "alice":
                cmd(m, "SETACL", "Projects", "bob", "lrs")
            if u == "shared":
                cmd(m, "SETACL", "INBOX", "alice", "lrswipkxtea")
                cmd(m, "SETACL", "INBOX", "bob", "lrs")
        finally:
            m.logout()
    if todo:
        out.append(f"{' '.join(todo)}: Sent(1,\\Seen), Drafts(1,\\Draft), Projects(1)+Projects/Gateway; INBOX #1 \\Seen\\Flagged; "
                   "alice shares Projects with bob (lrs); 'shared' INBOX granted to alice (all) and bob (lrs)")
    # 3. sieve: an inactive vacation script for alice
    sv = Sieve(st)
    try:
        sv.login("alice", st.pw("alice"))
        sv.cmd('PUTSCRIPT "vacation"', VACATION_SCRIPT)
        out.append("alice: ManageSieve PUTSCRIPT vacation (inactive)")
    finally:
        sv.close()
    # 4. calendars / contacts / tasks
    for u in st.users:
        seed_dav(st, u, out)
    # 5. bob may read alice's calendar: granted by the Radicale rights file (start.sh)
    out.append("alice/calendar: bob may read it (Radicale rights file)")
    print("\n".join(out))


# ---------------------------------------------------------------------------- verify
class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, fn):
        t = time.time()
        try:
            detail = fn()
            self.passed += 1
            print(f"PASS {name} ({(time.time() - t) * 1000:.0f} ms){': ' + detail if detail else ''}")
        except Exception as e:
            self.failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")


def need(cond, msg):
    if not cond:
        raise AssertionError(msg)


REQUIRED_CAPS = {
    "a": ["IMAP4rev1", "IDLE", "CONDSTORE", "QRESYNC", "METADATA", "ACL", "SPECIAL-USE", "NOTIFY", "MOVE",
          "UIDPLUS", "ESEARCH", "SORT", "THREAD=REFERENCES", "NAMESPACE", "LIST-EXTENDED", "LIST-STATUS",
          "QUOTA", "ENABLE", "LITERAL+"],
}


def verify(st, quick=False):
    c = Checks()
    caps_seen = {}

    def imap_caps_check():
        m = imap_login(st, "alice", tls="starttls")
        caps = imap_caps(m)
        m.logout()
        caps_seen["imap"] = caps
        missing = [x for x in REQUIRED_CAPS[st.kind] if x not in caps.split()]
        need(not missing, f"missing {missing} in {caps}")
        return caps

    c.run("imap: STARTTLS login + post-login CAPABILITY", imap_caps_check)

    def imaps():
        m = imap_login(st, "bob", tls="ssl")
        cert = m.sock.getpeercert()
        m.logout()
        subj = dict(x[0] for x in cert["subject"])
        issuer = dict(x[0] for x in cert["issuer"])
        need(subj != issuer, "leaf certificate is self-signed")
        return f"leaf CN={subj.get('commonName')} issued by CN={issuer.get('commonName')}, verified against {st.ca_file}"
    c.run("imaps: implicit TLS login, certificate chain verified against the stack CA", imaps)

    def all_users():
        for u in st.users:
            m = imap_login(st, u, tls=None)
            m.logout()
        m = imap_login(st, st.addr("carol"), pw=st.pw("carol"), tls=None)
        m.logout()
        return f"{len(st.users)} users + login with full address"
    c.run("imap: every user logs in", all_users)

    def bad_password():
        t0 = time.time()
        for _ in range(4):
            try:
                m = imap_login(st, "alice", pw="wrong-password", tls=None)
                m.logout()
                raise AssertionError("bad password accepted")
            except imaplib.IMAP4.error:
                pass
        t_bad = time.time() - t0
        t0 = time.time()
        m = imap_login(st, st.addr("alice"), tls=None)
        m.logout()
        t_good = time.time() - t0
        need(t_bad < 3 and t_good < 1.5, f"auth delays: 4 bad logins {t_bad:.2f}s, then good login {t_good:.2f}s")
        return f"4 bad logins refused in {t_bad * 1000:.0f} ms, next good login {t_good * 1000:.0f} ms (no penalty)"
    c.run("imap: bad passwords refused at once, no auth penalty afterwards", bad_password)

    def full_address_logins():
        sv = Sieve(st)
        sv.login(st.addr("alice"), st.pw("alice"))
        sv.close()
        s, body, _ = dav(st, "PROPFIND", "/alice/", st.addr("alice"), CUR_USER_PRINCIPAL, headers={"Depth": "0"})
        need(s == 207 and "/alice/" in body, f"Radicale PROPFIND as {st.addr('alice')}: {s} {body[:200]}")
        s2, _, _ = dav(st, "PROPFIND", "/alice/", st.addr("alice"), CUR_USER_PRINCIPAL, headers={"Depth": "0"},
                       pw="wrong-password")
        need(s2 == 401, f"Radicale accepted a bad password: {s2}")
        return "ManageSieve + Radicale accept alice@example.test; Radicale rejects a bad password (401)"
    c.run("auth: user@domain logins on ManageSieve and Radicale", full_address_logins)

    def starttls_everywhere():
        done = []
        for name, port in (("submission", st.submission_port), ("postfix", st.smtp_port)):
            with smtplib.SMTP(HOST, port, timeout=20) as s:
                s.starttls(context=TLS)
                s.ehlo("client.test")
                done.append(f"{name} {s.sock.version()}")
        raw = socket.create_connection((HOST, st.sieve_port), timeout=20)
        f = raw.makefile("rb")
        while not f.readline().startswith(b"OK"):
            pass
        raw.sendall(b"STARTTLS\r\n")
        line = f.readline()
        need(line.startswith(b"OK"), f"ManageSieve STARTTLS: {line!r}")
        tls = TLS.wrap_socket(raw, server_hostname=HOST)
        tf = tls.makefile("rb")
        caps = []
        while True:
            line = tf.readline()
            if not line or line.startswith(b"OK"):
                break
            caps.append(line)
        need(any(b"SASL" in x for x in caps), f"no SASL after STARTTLS: {caps}")
        done.append(f"managesieve {tls.version()}")
        tls.close()
        return ", ".join(done) + " (all verified against the CA)"
    c.run("tls: STARTTLS on submission, Postfix and ManageSieve with the stack CA", starttls_everywhere)

    if st.master[0]:
        def master():
            m = imap_login(st, f"alice*{st.master[0]}", pw=st.master[1], tls=None)
            typ, d = m.select("INBOX", readonly=True)
            need(typ == "OK" and int(d[0]) >= 4, f"select INBOX as alice via master: {typ} {d}")
            m.logout()
            return f"alice*{st.master[0]} sees {int(d[0])} msgs in alice's INBOX"
        c.run("imap: master-user login (delegation)", master)

    def specialuse():
        m = imap_login(st, "alice", tls=None)
        typ, d = m._simple_command("LIST", '""', '"*"', "RETURN", "(SPECIAL-USE STATUS (MESSAGES UIDNEXT))")
        lines = [x.decode() for x in m.untagged_responses.pop("LIST", [])]
        m.logout()
        # case-insensitive: Cyrus reports "\\drafts" for flags set with xlist-drafts
        found = {u for u in ("\\Drafts", "\\Sent", "\\Trash", "\\Junk", "\\Archive")
                 if any(u.lower() in l.lower() for l in lines)}
        need(len(found) == 5, f"special-use folders: {found} in {lines}")
        return "Drafts Sent Trash Junk Archive flagged"
    c.run("imap: SPECIAL-USE folders auto-created (LIST-EXTENDED RETURN SPECIAL-USE STATUS)", specialuse)

    def condstore():
        m = imap_login(st, "alice", tls=None)
        cmd(m, "ENABLE", "QRESYNC")
        typ, d = m._simple_command("SELECT", "INBOX", "(CONDSTORE)")
        need(typ == "OK", "SELECT CONDSTORE")
        m.state = "SELECTED"
        hms = m.untagged_responses.get("HIGHESTMODSEQ", [b"0"])[-1]
        uidv = m.untagged_responses.get("UIDVALIDITY", [b"0"])[-1]
        typ, d = m.uid("FETCH", "1:*", "(FLAGS MODSEQ)")
        need(typ == "OK" and b"MODSEQ" in d[0], f"FETCH MODSEQ {d}")
        # toggle a keyword: always produces a new MODSEQ, also on re-runs
        m.uid("STORE", "1:*", "+FLAGS.SILENT", "($Probe)")
        m.uid("STORE", "1:*", "-FLAGS.SILENT", "($Probe)")
        typ, d = m.uid("FETCH", "1:*", "(FLAGS)", f"(CHANGEDSINCE {int(hms)})")
        need(typ == "OK" and d and d[0], "CHANGEDSINCE returned nothing")
        m.close()
        # QRESYNC select with known uidvalidity/modseq
        typ, d = m._simple_command("SELECT", "INBOX", f"(QRESYNC ({int(uidv)} {int(hms)}))")
        need(typ == "OK", f"SELECT QRESYNC {typ} {d}")
        m.state = "SELECTED"
        vanished = m.untagged_responses.pop("VANISHED", [])
        fetched = m.untagged_responses.pop("FETCH", [])
        need(fetched, "QRESYNC SELECT reported no changed messages (expected the $Probe flag change)")
        m.logout()
        return f"HIGHESTMODSEQ={int(hms)} UIDVALIDITY={int(uidv)}; QRESYNC SELECT returned {fetched[-1]!r}"
    c.run("imap: CONDSTORE/QRESYNC (ENABLE, SELECT (QRESYNC ..), CHANGEDSINCE)", condstore)

    def esearch_sort_thread():
        m = imap_login(st, "alice", tls=None)
        m.select("INBOX")
        typ, d = m.uid("SEARCH", "RETURN", "(ALL COUNT MIN MAX)", "ALL")
        es = m.untagged_responses.pop("ESEARCH", [])
        need(es and b"COUNT" in es[-1], f"ESEARCH {typ} {d} {es}")
        typ, d = m.uid("SORT", "(REVERSE ARRIVAL)", "UTF-8", "ALL")
        need(typ == "OK" and d[0], f"SORT {d}")
        typ, d = m.uid("THREAD", "REFERENCES", "UTF-8", "ALL")
        need(typ == "OK" and d[0] and b"(" in d[0], f"THREAD {d}")
        m.logout()
        return f"ESEARCH {es[-1].decode()}; THREAD {d[0].decode()}"
    c.run("imap: ESEARCH / SORT / THREAD=REFERENCES", esearch_sort_thread)

    def move_uidplus():
        m = imap_login(st, "alice", tls=None)
        m.create("TmpMove")
        msg = b"From: a@x\r\nSubject: move me\r\n\r\nbody\r\n"
        typ, d = m.append("INBOX", None, None, msg)
        need(b"APPENDUID" in d[0], f"APPENDUID missing: {d}")
        uid = re.search(rb"APPENDUID \d+ (\d+)", d[0]).group(1).decode()
        m.select("INBOX")
        typ, d = m.uid("MOVE", uid, "TmpMove")
        need(typ == "OK", f"UID MOVE {typ} {d}")
        copyuid = m.untagged_responses.pop("OK", [])
        m.close()
        m.delete("TmpMove")
        m.logout()
        return f"APPENDUID uid={uid}; COPYUID {copyuid[-1].decode() if copyuid else d}"
    c.run("imap: UIDPLUS (APPENDUID/COPYUID) + MOVE", move_uidplus)

    def metadata():
        m = imap_login(st, "alice", tls=None)
        cmd(m, "SETMETADATA", "INBOX", '(/private/vendor/vendor.gateway/test "v1")')
        typ, d = m._simple_command("GETMETADATA", "INBOX", "(/private/vendor/vendor.gateway/test /private/comment)")
        md = flat(m.untagged_responses.pop("METADATA", []))
        need(typ == "OK" and b"v1" in md, f"GETMETADATA {typ} {md}")
        cmd(m, "SETMETADATA", '""', '(/private/vendor/vendor.gateway/server "s1")')
        typ, d = m._simple_command("GETMETADATA", '""', "/private/vendor/vendor.gateway/server")
        md2 = flat(m.untagged_responses.pop("METADATA", []))
        need(b"s1" in md2, f"server metadata {md2}")
        m.logout()
        return (md + b" ; " + md2).decode()
    c.run("imap: METADATA (SETMETADATA/GETMETADATA mailbox + server)", metadata)

    def acl():
        m = imap_login(st, "alice", tls=None)
        typ, d = m._simple_command("MYRIGHTS", "INBOX")
        mr = m.untagged_responses.pop("MYRIGHTS", [])
        typ, d = m._simple_command("GETACL", "Projects")
        ga = m.untagged_responses.pop("ACL", [])
        need(ga and b"bob" in ga[-1], f"GETACL Projects {ga}")
        m.logout()
        # bob sees alice's shared folder in the shared namespace
        m = imap_login(st, "bob", tls=None)
        folder = st.other_user_folder("alice", "Projects")
        typ, d = m.list('""', "*")
        names = [x.decode() for x in d if x]
        need(any(folder in n for n in names), f"bob LIST: {folder} not in {names}")
        typ, d = m.select(f'"{folder}"', readonly=True)
        need(typ == "OK", f"bob SELECT {folder}: {typ} {d}")
        typ2, d2 = m.select(f'"{st.other_user_folder("alice", "INBOX")}"', readonly=True)
        need(typ2 != "OK", "bob must not open alice's INBOX")
        shared_inbox = st.other_user_folder("shared", "INBOX") if st.kind == "a" else "Other Users/shared"
        typ3, d3 = m.select(f'"{shared_inbox}"', readonly=True)
        need(typ3 == "OK", f"bob SELECT {shared_inbox}: {typ3} {d3}")
        m.logout()
        return f"MYRIGHTS {mr[-1].decode() if mr else '?'}; GETACL {ga[-1].decode()}; bob LIST sees {folder}"
    c.run("imap: ACL (MYRIGHTS/GETACL, other users' shared folders, shared mailbox)", acl)

    def quota():
        m = imap_login(st, "alice", tls=None)
        typ, d = m._simple_command("GETQUOTAROOT", "INBOX")
        q = m.untagged_responses.pop("QUOTA", [])
        m.logout()
        need(typ == "OK", f"GETQUOTAROOT {typ} {d}")
        return q[-1].decode() if q else "(no quota resource)"
    c.run("imap: QUOTA (GETQUOTAROOT)", quota)

    def idle():
        r = RawIMAP(st.imap_port)
        r.command(f"LOGIN alice {st.pw('alice')}")
        r.command("SELECT INBOX")
        r.n += 1
        r.send(f"r{r.n} IDLE")
        need(r.readline().startswith("+"), "no IDLE continuation")
        msg = EmailMessage()
        msg["From"] = st.addr("bob")
        msg["To"] = st.addr("alice")
        msg["Subject"] = "idle test"
        msg["Message-ID"] = email.utils.make_msgid(domain=st.domain)
        msg.set_content("x")
        t0 = time.time()
        lmtp_deliver(st, st.addr("alice"), msg)
        got = None
        r.s.settimeout(35)
        while time.time() - t0 < 35:
            line = r.readline()
            if "EXISTS" in line:
                got = line
                break
        r.send("DONE")
        r.readline()
        r.close()
        need(got, "no EXISTS during IDLE")
        return f"{got} after {(time.time() - t0) * 1000:.0f} ms"
    c.run("imap: IDLE push on LMTP delivery", idle)

    if st.kind == "a":
        def notify():
            r = RawIMAP(st.imap_port)
            r.command(f"LOGIN alice {st.pw('alice')}")
            tagged, lines = r.command("NOTIFY SET (selected (MessageNew MessageExpunge FlagChange)) "
                                      "(personal (MessageNew MessageExpunge MailboxName SubscriptionChange))")
            need(" OK" in tagged, f"NOTIFY SET: {tagged}")
            r.close()
            return tagged
        c.run("imap: NOTIFY SET", notify)

    # ---- SMTP
    def smtp_submission():
        port = st.submission_port or st.smtp_port
        msg = EmailMessage()
        msg["From"] = st.addr("alice")
        msg["To"] = st.addr("bob")
        msg["Subject"] = "submission test"
        mid = email.utils.make_msgid(domain=st.domain)
        msg["Message-ID"] = mid
        msg.set_content("sent through the submission service")
        with smtplib.SMTP(HOST, port, timeout=20) as s:
            s.ehlo("client.test")
            ehlo = s.ehlo_resp.decode().replace("\n", " | ")
            s.starttls(context=TLS)
            s.ehlo("client.test")
            if st.submission_port:
                s.login(st.addr("alice"), st.pw("alice"))
            s.send_message(msg)
        need(wait_for_message(st, "bob", mid, timeout=30), f"{mid} not in bob's INBOX")
        return f"port {port}: {ehlo}"
    c.run("smtp: " + ("authenticated submission" if st.submission_port else "Postfix (no AUTH, trusted 127.0.0.1)")
          + " alice -> bob arrives in bob's INBOX", smtp_submission)

    if st.smtp_port and st.submission_port:
        def smtp_mta():
            msg = EmailMessage()
            msg["From"] = st.addr("carol")
            msg["To"] = st.addr("alice")
            msg["Subject"] = "postfix direct test"
            mid = email.utils.make_msgid(domain=st.domain)
            msg["Message-ID"] = mid
            msg.set_content("via postfix smtpd -> lmtp")
            with smtplib.SMTP(HOST, st.smtp_port, timeout=20) as s:
                s.send_message(msg)
            need(wait_for_message(st, "alice", mid, timeout=30), "not delivered")
            return f"port {st.smtp_port}"
        c.run("smtp: Postfix smtpd -> LMTP delivery carol -> alice", smtp_mta)

    def smtp_offbox():
        # must never leave the machine: Postfix bounces it, the bounce lands in alice's INBOX
        msg = EmailMessage()
        msg["From"] = st.addr("alice")
        msg["To"] = "someone@elsewhere.invalid"
        msg["Subject"] = "off-box test"
        msg.set_content("must bounce")
        try:
            with smtplib.SMTP(HOST, st.smtp_port, timeout=20) as s:
                s.send_message(msg)
        except smtplib.SMTPRecipientsRefused as e:
            code, text = list(e.recipients.values())[0]
            need(code >= 500, str(e))
            return f"rejected at RCPT: {code} {text.decode()}"
        need(wait_for_message(st, "alice", None, timeout=30, subject_re="Undelivered Mail"),
             "no bounce for off-box recipient")
        return "accepted, then bounced locally (default_transport=error)"

    if st.smtp_port:
        if not quick:
            c.run("smtp: off-box recipient is bounced, never relayed", smtp_offbox)

    # ---- ManageSieve + vacation
    def sieve():
        sv = Sieve(st)
        caps = sv.caps
        caps_seen["sieve"] = caps
        sieve_line = next((l for l in caps if l.upper().startswith('"SIEVE"')), "")
        need("vacation" in sieve_line, f"no vacation in {sieve_line}")
        sv.login("carol", st.pw("carol"))
        token = uuid.uuid4().hex[:8]  # unique subject => new vacation handle on every run
        script = ('require ["vacation"];\n'
                  f'vacation :days 1 :addresses ["carol@{st.domain}"] :subject "Out of office {token}" '
                  f':handle "{token}" "I am out of the office ({token}).";\n')
        sv.cmd('PUTSCRIPT "oof"', script)
        sv.cmd('SETACTIVE "oof"')
        lst = sv.cmd("LISTSCRIPTS")
        sv.close()
        # deliver bob -> carol through the MTA path; expect an auto-reply in bob's INBOX
        msg = EmailMessage()
        msg["From"] = st.addr("bob")
        msg["To"] = st.addr("carol")
        msg["Subject"] = "are you there?"
        msg["Message-ID"] = email.utils.make_msgid(domain=st.domain)
        msg.set_content("ping")
        if st.smtp_port:
            with smtplib.SMTP(HOST, st.smtp_port, timeout=20) as s:
                s.send_message(msg)
        else:
            lmtp_deliver(st, st.addr("carol"), msg)
        ok = wait_for_message(st, "bob", None, timeout=40, subject_re=f"Out of office {token}")
        sv = Sieve(st)
        sv.login("carol", st.pw("carol"))
        sv.cmd('SETACTIVE ""')
        sv.close()
        need(ok, "no vacation auto-reply in bob's INBOX")
        return f"{sieve_line}; scripts={lst}"
    c.run("managesieve: vacation ext, PUTSCRIPT+SETACTIVE, auto-reply delivered", sieve)

    # ---- CalDAV / CardDAV
    def dav_discovery():
        s, body, h = dav(st, "PROPFIND", "/.well-known/caldav", "alice", headers={"Depth": "0"})
        need(s in (207, 301, 302, 303, 307, 308), f"well-known caldav {s}")
        s, body, h = dav(st, "OPTIONS", st.cal_url("alice"), "alice")
        davh = h.get("DAV") or h.get("Dav") or ""
        need("calendar-access" in davh, f"DAV header {davh}")
        s, body, h = dav(st, "PROPFIND", st.cal_home("alice"), "alice", CUR_USER_PRINCIPAL, headers={"Depth": "1"})
        need(s == 207 and "calendar" in body, f"PROPFIND home {s} {body[:300]}")
        return f"DAV: {davh}"
    c.run("dav: discovery (well-known, OPTIONS DAV header, PROPFIND home)", dav_discovery)

    def caldav_query():
        body = TIME_RANGE_QUERY.format(start="20250113T000000Z", end="20250114T000000Z")
        s, data, _ = dav(st, "REPORT", st.cal_url("alice"), "alice", body, headers={"Depth": "1"})
        need(s == 207 and "weekly-standup" in data, f"time-range 13 Jan: {s} {data[:400]}")
        s2, data2, _ = dav(st, "REPORT", st.cal_url("alice"), "alice",
                           TIME_RANGE_QUERY.format(start="20250120T000000Z", end="20250121T000000Z"),
                           headers={"Depth": "1"})
        excluded = "weekly-standup" not in data2
        s3, data3, _ = dav(st, "REPORT", st.cal_url("alice"), "alice",
                           TIME_RANGE_QUERY.format(start="20300101T000000Z", end="20300108T000000Z"),
                           headers={"Depth": "1"})
        need("weekly-standup" in data3, "open-ended RRULE not expanded into 2030")
        return (f"13 Jan window hits the moved instance; 20 Jan (EXDATE) window "
                f"{'excludes' if excluded else 'STILL RETURNS'} it; 2030 window hits the RRULE")
    c.run("caldav: REPORT calendar-query with time-range (RRULE, RECURRENCE-ID, EXDATE)", caldav_query)

    def caldav_expand():
        s, data, _ = dav(st, "REPORT", st.cal_url("alice"), "alice",
                         EXPAND_QUERY.format(start="20250106T000000Z", end="20250128T000000Z"),
                         headers={"Depth": "1"})
        need(s == 207, f"expand {s} {data[:300]}")
        m = re.search(r"weekly-standup\.ics</[^>]*href>.*?(BEGIN:VCALENDAR.*?END:VCALENDAR)", data, re.S)
        need(m, f"weekly-standup not in expand result {data[:300]}")
        events = re.findall(r"BEGIN:VEVENT(.*?)END:VEVENT", m.group(1), re.S)
        starts = sorted(re.search(r"DTSTART[^:\r\n]*:(\d{8}T\d{6}Z?)", e).group(1) for e in events)
        no_rid = sum(1 for e in events if "RECURRENCE-ID" not in e)
        need([x[:8] for x in starts] == ["20250106", "20250113", "20250127"],
             f"expanded instances {starts} (want 6, 13 moved, 27 Jan)")
        need(not any("RRULE" in e or "EXDATE" in e for e in events), "expanded instances still carry RRULE/EXDATE")
        return (f"instances DTSTART {starts}; 20 Jan excluded by EXDATE; "
                f"{no_rid} instance(s) without RECURRENCE-ID")
    c.run("caldav: REPORT calendar-query with <expand>", caldav_expand)

    def sync_collection():
        url = st.cal_url("alice")
        s, data, _ = dav(st, "REPORT", url, "alice", SYNC_QUERY.format(token=""), headers={"Depth": "1"})
        need(s == 207, f"sync-collection initial {s} {data[:300]}")
        m = re.search(r"<[^>]*sync-token>([^<]+)<", data)
        need(m, f"no sync-token in {data[:500]}")
        tok = m.group(1)
        n0 = data.count("<D:href>") + data.count("<href>") + data.count(":href>") // 2
        uid = f"sync-{uuid.uuid4().hex[:8]}"
        s, _, _ = dav(st, "PUT", url + uid + ".ics", "alice",
                      SINGLE_ICS.format(uid=uid, summary="sync probe", start="20250301T100000Z",
                                        end="20250301T110000Z").replace("\n", "\r\n"),
                      headers={"Content-Type": "text/calendar; charset=utf-8"})
        need(s in (201, 204), f"PUT {s}")
        s, data2, _ = dav(st, "REPORT", url, "alice", SYNC_QUERY.format(token=tok), headers={"Depth": "1"})
        need(s == 207 and uid in data2, f"incremental sync {s} {data2[:500]}")
        tok2 = re.search(r"<[^>]*sync-token>([^<]+)<", data2).group(1)
        changed = len(re.findall(r"<(?!/)[^>]*response>", data2))
        s, _, _ = dav(st, "DELETE", url + uid + ".ics", "alice")
        s, data3, _ = dav(st, "REPORT", url, "alice", SYNC_QUERY.format(token=tok2), headers={"Depth": "1"})
        need(s == 207 and "404" in data3, f"deletion not reported {s} {data3[:500]}")
        return f"token {tok[:60]} -> incremental report lists {changed} response(s); delete reported as 404"
    c.run("caldav: sync-collection (RFC 6578) initial + incremental + delete", sync_collection)

    def carddav():
        s, data, _ = dav(st, "REPORT", st.book_url("alice"), "alice", CARD_QUERY, headers={"Depth": "1"})
        need(s == 207 and "Dave External" in data, f"addressbook-query {s} {data[:400]}")
        s, data, _ = dav(st, "REPORT", st.book_url("alice"), "alice", SYNC_QUERY.format(token=""),
                         headers={"Depth": "1"})
        need(s == 207 and "sync-token" in data, f"carddav sync {s}")
        return "addressbook-query by EMAIL + sync-collection"
    c.run("carddav: addressbook-query + sync-collection", carddav)

    def tasks():
        s, data, _ = dav(st, "REPORT", st.cal_url("alice", "tasks"), "alice", TODO_QUERY, headers={"Depth": "1"})
        need(s == 207 and "VTODO" in data, f"VTODO query {s} {data[:300]}")
        return "VTODO found in tasks"
    c.run("caldav: task list (VTODO calendar-query)", tasks)

    def sharing():
        url = st.cal_url("alice")
        s, data, h = dav(st, "REPORT", url, "bob",
                         TIME_RANGE_QUERY.format(start="20250113T000000Z", end="20250114T000000Z"),
                         headers={"Depth": "1"})
        note = ""
        if s in (301, 302, 307, 308) and h.get("Location"):
            # Cyrus serves a shared calendar inside the sharee's home: /dav/calendars/user/bob/alice.calendar/
            url = h["Location"]
            note = f" (redirected to {url})"
            s, data, h = dav(st, "REPORT", url, "bob",
                             TIME_RANGE_QUERY.format(start="20250113T000000Z", end="20250114T000000Z"),
                             headers={"Depth": "1"})
        need(s == 207 and "weekly-standup" in data, f"bob reading alice/calendar: {s} {data[:300]}")
        s2, _, _ = dav(st, "PUT", url + "bob-was-here.ics", "bob",
                       SINGLE_ICS.format(uid="bob-x", summary="x", start="20250101T100000Z",
                                         end="20250101T110000Z").replace("\n", "\r\n"),
                       headers={"Content-Type": "text/calendar"})
        need(s2 in (401, 403), f"bob must not write alice/calendar: {s2}")
        s3, _, _ = dav_follow(st, "PROPFIND", st.book_url("alice"), "bob", headers={"Depth": "1"})
        need(s3 in (401, 403, 404), f"bob must not read alice/contacts: {s3}")
        s4, _, _ = dav_follow(st, "PROPFIND", st.cal_url("alice"), "carol", headers={"Depth": "1"})
        need(s4 in (401, 403, 404), f"carol must not read alice/calendar: {s4}")
        return f"bob read 207{note}, bob PUT {s2}, bob contacts {s3}, carol calendar {s4}"
    c.run("caldav: bob reads alice's calendar (read-only), others denied", sharing)

    if st.kind == "a" and st.env.get("RADICALE_AUTH", "htpasswd") == "htpasswd":
        def service_account():
            s1, data, _ = dav(st, "REPORT", st.cal_url("alice"), "master",
                              TIME_RANGE_QUERY.format(start="20250113T000000Z", end="20250114T000000Z"),
                              headers={"Depth": "1"}, pw=st.master[1])
            need(s1 == 207 and "weekly-standup" in data, f"master REPORT alice/calendar {s1}")
            s2, _, _ = dav(st, "PUT", st.book_url("carol") + "svc-probe.vcf", "master",
                           VCARD.format(uid="svc-probe").replace("\n", "\r\n"),
                           headers={"Content-Type": "text/vcard"}, pw=st.master[1])
            need(s2 in (201, 204), f"master PUT carol/contacts {s2}")
            dav(st, "DELETE", st.book_url("carol") + "svc-probe.vcf", "master", pw=st.master[1])
            return "service account 'master' read alice/calendar (207), wrote carol/contacts (%d)" % s2
        c.run("dav: gateway service account reads/writes any user's collections", service_account)

    # ---- LDAP
    if st.ldap_port:
        def ldap():
            base = st.env["LDAP_BASE"]
            out = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", f"ldap://{HOST}:{st.ldap_port}", "-b", base,
                                  "(mail=alice@%s)" % st.domain, "cn", "mail", "telephoneNumber"],
                                 capture_output=True, text=True, timeout=20)
            need(out.returncode == 0 and "telephoneNumber" in out.stdout, out.stdout + out.stderr)
            out2 = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", f"ldap://{HOST}:{st.ldap_port}", "-b", base,
                                   "(&(objectClass=groupOfNames)(mail=team@%s))" % st.domain, "member"],
                                  capture_output=True, text=True, timeout=20)
            need(out2.stdout.count("member:") == 3, out2.stdout + out2.stderr)
            out3 = subprocess.run(["ldapwhoami", "-x", "-H", f"ldap://{HOST}:{st.ldap_port}", "-D",
                                   f"uid=alice,ou=people,{base}", "-w", st.pw("alice")],
                                  capture_output=True, text=True, timeout=20)
            need(out3.returncode == 0, out3.stderr)
            out4 = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", f"ldap://{HOST}:{st.ldap_port}", "-b", base,
                                   "-E", "pr=2/noprompt", "(objectClass=inetOrgPerson)", "mail"],
                                  capture_output=True, text=True, timeout=20)
            need(out4.returncode == 0 and out4.stdout.count("mail:") == 5, out4.stdout + out4.stderr)
            out5 = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", f"ldap://{HOST}:{st.ldap_port}", "-b", base,
                                   "(uid=bob)", "manager", "physicalDeliveryOfficeName", "ou", "givenName",
                                   "mobile", "title", "userPassword"],
                                  capture_output=True, text=True, timeout=20)
            need(f"manager: uid=alice,ou=people,{base}" in out5.stdout, "bob has no manager: " + out5.stdout)
            for attr in ("physicalDeliveryOfficeName:", "ou:", "givenName:", "mobile:", "title:"):
                need(attr in out5.stdout, f"bob lacks {attr} " + out5.stdout)
            need("userPassword" not in out5.stdout, "anonymous can read userPassword")
            return (f"GAL entry ok; DL team has 3 members; bind as alice -> {out3.stdout.strip()}; "
                    f"paged search (pr=2) returned 5 people; bob's manager is alice; userPassword hidden")
        c.run("ldap: GAL search, distribution list, user bind, paged results", ldap)

    print(f"{c.passed} passed, {c.failed} failed")
    return c.failed == 0


CUR_USER_PRINCIPAL = """<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:current-user-principal/><D:resourcetype/><D:displayname/></D:prop></D:propfind>"""

TIME_RANGE_QUERY = """<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
    <C:time-range start="{start}" end="{end}"/>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"""

EXPAND_QUERY = """<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data><C:expand start="{start}" end="{end}"/></C:calendar-data></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
    <C:time-range start="{start}" end="{end}"/>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"""

TODO_QUERY = """<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"/></C:comp-filter></C:filter>
</C:calendar-query>"""

SYNC_QUERY = """<?xml version="1.0" encoding="utf-8"?>
<D:sync-collection xmlns:D="DAV:">
  <D:sync-token>{token}</D:sync-token>
  <D:sync-level>1</D:sync-level>
  <D:prop><D:getetag/></D:prop>
</D:sync-collection>"""

CARD_QUERY = """<?xml version="1.0" encoding="utf-8"?>
<CR:addressbook-query xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">
  <D:prop><D:getetag/><CR:address-data/></D:prop>
  <CR:filter><CR:prop-filter name="EMAIL"><CR:text-match collation="i;unicode-casemap" match-type="contains">partner.example</CR:text-match></CR:prop-filter></CR:filter>
</CR:addressbook-query>"""


def caps(st):
    m = imaplib.IMAP4(HOST, st.imap_port, timeout=20)
    print("IMAP greeting:", m.welcome.decode())
    m.starttls(ssl_context=TLS)
    m.login("alice", st.pw("alice"))
    print("IMAP post-login CAPABILITY:", imap_caps(m))
    m.logout()
    sv = Sieve(st)
    print("ManageSieve:", " | ".join(sv.caps))
    sv.close()
    with smtplib.LMTP(HOST, st.lmtp_port, timeout=10) as l:
        l.ehlo("client.test")
        print("LMTP LHLO:", l.ehlo_resp.decode().replace("\n", " | "))
    for name, port in (("submission", st.submission_port), ("smtp", st.smtp_port)):
        if port:
            with smtplib.SMTP(HOST, port, timeout=10) as s:
                s.ehlo("client.test")
                print(f"{name} EHLO ({port}):", s.ehlo_resp.decode().replace("\n", " | "))
    s, body, h = dav(st, "OPTIONS", st.cal_url("alice"), "alice")
    print("DAV OPTIONS:", h.get("DAV") or h.get("Dav"))


def main():
    global TLS
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    st = Stack(os.path.abspath(sys.argv[2]))
    TLS = tls_context(st.ca_file)
    if sys.argv[1] == "seed":
        seed(st)
    elif sys.argv[1] == "verify":
        sys.exit(0 if verify(st, quick="--quick" in sys.argv) else 1)
    elif sys.argv[1] == "caps":
        caps(st)
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
