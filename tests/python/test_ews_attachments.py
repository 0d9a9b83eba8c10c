"""EWS attachments end to end: exchangelib 5.6 against the real Viaduc + Dovecot + Postfix of the test stack.

What is covered: item attachments (MS-OXWSCORE ItemAttachmentType) built by exchangelib
(`ItemAttachment(item=Message(...))`, in CreateItem and through CreateAttachment on a draft) and sent to bob, who
reads `att.item` (subject, body, recipients) through GetAttachment; an attached message appended as raw MIME over
IMAP; UniqueBody of a reply (without the quoted original); a 25 MB file attachment uploaded with
CreateAttachment and read back with GetAttachment byte for byte (with the Viaduc process's peak RSS during
GetAttachment recorded when VIADUC_MEASURE_OUT names a file: docs/performance.md).

Every test removes what it creates.
"""
import base64
import hashlib
import os
import pathlib
import time
import uuid

import pytest

from test_ews_mail import account, ews, imap  # noqa: F401  (fixtures and helpers shared with the mail tests)

exchangelib = pytest.importorskip("exchangelib")
from exchangelib import FileAttachment, HTMLBody, ItemAttachment, Message  # noqa: E402

FIXTURE = pathlib.Path(__file__).resolve().parents[2] / "protocol-fixtures" / "mime" / "attached-message.eml"


@pytest.fixture(scope="module")
def alice(ews):  # noqa: F811
    return account(ews, user="alice")


@pytest.fixture(scope="module")
def bob(ews):  # noqa: F811
    return account(ews, user="bob")


def wait_for(folder, timeout=30, **filters):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if folder.filter(**filters).count():
            return folder.filter(**filters).get()
        time.sleep(0.5)
    raise AssertionError(f"no item matching {filters} in {folder.name}")


def item_attachments(item):
    return [a for a in (item.attachments or []) if isinstance(a, ItemAttachment)]


def test_item_attachment_sent_in_create_item_reaches_bob(ews, alice, bob):  # noqa: F811
    token = uuid.uuid4().hex[:8]
    m = Message(account=alice, folder=alice.sent, subject=f"With attached message {token}", body="See attached.",
                to_recipients=[f"bob@{ews.stack.domain}"])
    inner = Message(subject=f"Inner note {token}", body="The inner body text.",
                    to_recipients=[f"carol@{ews.stack.domain}"])
    m.attach(ItemAttachment(name=f"Inner note {token}", item=inner))
    m.send_and_save()  # CreateItem SendAndSaveCopy with t:Attachments/t:ItemAttachment
    try:
        got = wait_for(bob.inbox, subject=f"With attached message {token}")
        assert got.has_attachments is True
        atts = item_attachments(got)
        assert [a.name for a in atts] == [f"Inner note {token}"]
        item = atts[0].item  # GetAttachment
        assert isinstance(item, Message)
        assert item.subject == f"Inner note {token}"
        assert "The inner body text." in item.body
        assert [r.email_address for r in item.to_recipients] == [f"carol@{ews.stack.domain}"]
        assert item.author.email_address == alice.primary_smtp_address
        assert item.mime_content and f"Inner note {token}".encode() in item.mime_content
    finally:
        for it in bob.inbox.filter(subject__contains=token):
            it.delete()
        for it in alice.sent.filter(subject__contains=token):
            it.delete()


def test_create_attachment_with_an_item_on_a_draft(ews, alice, bob):  # noqa: F811
    token = uuid.uuid4().hex[:8]
    draft = Message(account=alice, folder=alice.drafts, subject=f"Draft with item {token}", body="draft body",
                    to_recipients=[f"bob@{ews.stack.domain}"])
    draft.save()
    inner = Message(subject=f"Agenda {token}", body=HTMLBody("<p>1. Budget</p><p>2. Plans</p>"))
    draft.attach(ItemAttachment(name="Agenda", item=inner))  # CreateAttachment
    try:
        fresh = alice.drafts.filter(subject=f"Draft with item {token}").get()
        atts = item_attachments(fresh)
        assert [a.name for a in atts] == ["Agenda"]
        assert atts[0].item.subject == f"Agenda {token}"
        assert "2. Plans" in atts[0].item.body
        fresh.send(save_copy=False)  # SendItem
        got = wait_for(bob.inbox, subject=f"Draft with item {token}")
        item = item_attachments(got)[0].item
        assert item.subject == f"Agenda {token}"
        assert "1. Budget" in item.body
    finally:
        for folder in (alice.drafts, bob.inbox):
            for it in folder.filter(subject__contains=token):
                it.delete()


def test_attached_message_appended_over_imap(ews, bob):  # noqa: F811
    token = uuid.uuid4().hex[:8]
    raw = FIXTURE.read_bytes().replace(b"Subject: Fwd: Original plan", f"Subject: Fwd: plan {token}".encode(), 1)
    m = imap(ews, user="bob")
    try:
        m.append("INBOX", None, None, raw)
    finally:
        m.logout()
    try:
        got = bob.inbox.filter(subject=f"Fwd: plan {token}").get()
        kinds = sorted(type(a).__name__ for a in got.attachments)
        assert kinds == ["FileAttachment", "ItemAttachment"]
        att = item_attachments(got)[0]
        assert att.name == "Original plan"
        item = att.item
        assert item.subject == "Original plan"
        assert "ship on" in item.body
        assert item.sender.email_address == "erin@example.test"
        assert sorted(r.email_address for r in item.to_recipients) == ["dave@example.test", "frank@example.test"]
        assert [r.email_address for r in item.cc_recipients] == ["grace@example.test"]
        assert item.message_id == "<plan-1@example.test>"
        assert item.has_attachments is True
        assert sorted(a.name for a in item.attachments) == ["Nested note", "notes.txt"]
        data = [a for a in got.attachments if isinstance(a, FileAttachment)][0]
        assert data.content == bytes(range(6))
    finally:
        for it in bob.inbox.filter(subject__contains=token):
            it.delete()


def test_unique_body_of_a_reply(ews, alice, bob):  # noqa: F811
    token = uuid.uuid4().hex[:8]
    subject = f"Lunch {token}"
    m = imap(ews, user="alice")
    try:
        m.append("INBOX", None, None, (
            f"From: Bob <bob@{ews.stack.domain}>\r\nTo: alice@{ews.stack.domain}\r\nSubject: {subject}\r\n"
            f"Message-ID: <lunch{token}@example.org>\r\n\r\nLunch tomorrow at noon?\r\n").encode())
    finally:
        m.logout()
    try:
        orig = alice.inbox.filter(subject=subject).get()
        orig.reply(subject=None, body="Noon is perfect.")  # a reply quoting the original
        got = wait_for(bob.inbox, subject=f"Re: {subject}")
        got = bob.inbox.filter(subject=f"Re: {subject}").only("body", "unique_body", "text_body").get()
        assert "Lunch tomorrow at noon?" in got.body  # the whole body quotes the original
        assert "Noon is perfect." in got.unique_body
        assert "Lunch tomorrow" not in got.unique_body
        assert "Original Message" not in got.unique_body
        assert "Lunch tomorrow at noon?" in got.text_body
    finally:
        for it in alice.inbox.filter(subject__contains=token):
            it.delete()
        for it in bob.inbox.filter(subject__contains=token):
            it.delete()
        for it in alice.sent.filter(subject__contains=token):
            it.delete()


def _peak_rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def test_25mb_file_attachment_round_trip(ews, alice):  # noqa: F811
    token = uuid.uuid4().hex[:8]
    data = os.urandom(25 * 1024 * 1024)
    draft = Message(account=alice, folder=alice.drafts, subject=f"Big file {token}", body="25 MB attached")
    draft.save()
    try:
        draft.attach(FileAttachment(name="big.bin", content=data))  # CreateAttachment, 34 MB of base64
        fresh = alice.drafts.filter(subject=f"Big file {token}").get()
        att = [a for a in fresh.attachments if a.name == "big.bin"][0]
        assert att.size == len(data)
        pid = ews.process.pid if ews.process else None
        if pid:
            pathlib.Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets the peak RSS (VmHWM)
            rss_before = _peak_rss_kib(pid)
        t0 = time.monotonic()
        content = att.content  # GetAttachment
        elapsed = time.monotonic() - t0
        assert len(content) == len(data)
        assert hashlib.sha256(content).digest() == hashlib.sha256(data).digest()
        if pid and os.environ.get("VIADUC_MEASURE_OUT"):
            peak = _peak_rss_kib(pid)
            with open(os.environ["VIADUC_MEASURE_OUT"], "a", encoding="utf-8") as f:
                f.write(f"GetAttachment 25 MiB: rss_before_kib={rss_before} peak_kib={peak} "
                        f"growth_mib={(peak - rss_before) / 1024:.1f} seconds={elapsed:.2f}\n")
    finally:
        for it in alice.drafts.filter(subject__contains=token):
            it.delete()


def _nested_mime(token, domain, payload):
    """A message with an attached message that itself has an attached message (with a file) and a file."""
    b64 = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    innermost = (
        f"From: Heidi <heidi@{domain}>\r\nTo: erin@{domain}\r\nSubject: Innermost {token}\r\n"
        f"Date: Mon, 13 Nov 2023 07:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: multipart/mixed; boundary=\"c3\"\r\n\r\n"
        f"--c3\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe innermost body.\r\n"
        f"--c3\r\nContent-Type: application/octet-stream; name=\"deep.bin\"\r\n"
        f"Content-Disposition: attachment; filename=\"deep.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + b64 + b"--c3--\r\n"
    middle = (
        f"From: Erin <erin@{domain}>\r\nTo: dave@{domain}\r\nSubject: Middle {token}\r\n"
        f"Date: Tue, 14 Nov 2023 07:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: multipart/mixed; boundary=\"c2\"\r\n\r\n"
        f"--c2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe middle body.\r\n"
        f"--c2\r\nContent-Type: text/plain; charset=us-ascii; name=\"mid.txt\"\r\n"
        f"Content-Disposition: attachment; filename=\"mid.txt\"\r\n\r\nmiddle notes\r\n"
        f"--c2\r\nContent-Type: message/rfc822\r\n\r\n"
    ).encode() + innermost + b"\r\n--c2--\r\n"
    return (
        f"From: Dave <dave@{domain}>\r\nTo: bob@{domain}\r\nSubject: Fwd: nest {token}\r\n"
        f"Date: Wed, 15 Nov 2023 07:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: multipart/mixed; boundary=\"c1\"\r\n\r\n"
        f"--c1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the forwarded chain.\r\n"
        f"--c1\r\nContent-Type: message/rfc822\r\n\r\n"
    ).encode() + middle + b"\r\n--c1--\r\n"


def _get_attachment_soap(ews, user, attachment_id):
    """A raw GetAttachment (requests), for what exchangelib does not send by itself."""
    import requests
    body = (
        '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
        'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header>'
        '<t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body><m:GetAttachment><m:AttachmentIds>'
        f'<t:AttachmentId Id="{attachment_id}"/></m:AttachmentIds></m:GetAttachment></s:Body></s:Envelope>')
    return requests.post(ews.url + "/EWS/Exchange.asmx", data=body.encode(), verify=str(ews.ca_file),
                         auth=(f"{user}@{ews.stack.domain}", ews.stack.password),
                         headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=60)


def test_message_attached_inside_an_attached_message(ews, bob):  # noqa: F811
    token = uuid.uuid4().hex[:8]
    payload = os.urandom(3000)
    m = imap(ews, user="bob")
    try:
        m.append("INBOX", None, None, _nested_mime(token, ews.stack.domain, payload))
    finally:
        m.logout()
    try:
        got = bob.inbox.filter(subject=f"Fwd: nest {token}").get()
        middle_att = item_attachments(got)[0]
        middle = middle_att.item  # GetAttachment of the attached message
        assert middle.subject == f"Middle {token}"
        kinds = sorted(type(a).__name__ for a in middle.attachments)
        assert kinds == ["FileAttachment", "ItemAttachment"], kinds
        assert all(a.attachment_id and a.attachment_id.id for a in middle.attachments)
        inner_att = item_attachments(middle)[0]
        if not (inner_att.parent_item and inner_att.parent_item.account):
            inner_att.parent_item = got  # exchangelib only needs an account to send the GetAttachment
        innermost = inner_att.item  # GetAttachment of the message inside the attached message
        assert innermost.subject == f"Innermost {token}"
        assert "The innermost body." in innermost.body
        deep = [a for a in innermost.attachments if a.name == "deep.bin"][0]
        if not (deep.parent_item and deep.parent_item.account):
            deep.parent_item = got
        assert deep.content == payload  # two levels down
        mid = [a for a in middle.attachments if isinstance(a, FileAttachment)][0]
        assert mid.name == "mid.txt"
        if not (mid.parent_item and mid.parent_item.account):
            mid.parent_item = got
        assert mid.content == b"middle notes"

        # A tampered nested id is refused in an HTTP 200 answer, not with a fault or a 500.
        good = inner_att.attachment_id.id
        raw = bytearray(base64.b64decode(good))
        raw[-20] ^= 0x01
        r = _get_attachment_soap(ews, "bob", base64.b64encode(bytes(raw)).decode())
        assert r.status_code == 200, r.text[:500]
        assert "ErrorInvalidIdMalformed" in r.text or "ErrorInvalidAttachmentId" in r.text, r.text[:800]
        r = _get_attachment_soap(ews, "bob", good)
        assert r.status_code == 200 and "NoError" in r.text and f"Innermost {token}" in r.text
    finally:
        for it in bob.inbox.filter(subject__contains=token):
            it.delete()


def test_20mib_delivered_attachment_is_streamed(ews, bob):  # noqa: F811
    """A delivered message with a 20 MiB attachment: GetAttachment's content is byte for byte the file, and the
    Viaduc process's peak RSS grows by far less than the attachment while it streams (docs/performance.md)."""
    token = uuid.uuid4().hex[:8]
    data = os.urandom(20 * 1024 * 1024)
    raw = (
        f"From: Dave <dave@{ews.stack.domain}>\r\nTo: bob@{ews.stack.domain}\r\nSubject: Huge {token}\r\n"
        f"Date: Wed, 15 Nov 2023 07:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: multipart/mixed; boundary=\"h1\"\r\n\r\n"
        f"--h1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n20 MiB attached.\r\n"
        f"--h1\r\nContent-Type: application/octet-stream; name=\"huge.bin\"\r\n"
        f"Content-Disposition: attachment; filename=\"huge.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + base64.encodebytes(data).replace(b"\n", b"\r\n") + b"--h1--\r\n"
    m = imap(ews, user="bob")
    try:
        m.append("INBOX", None, None, raw)
    finally:
        m.logout()
    del raw
    try:
        got = bob.inbox.filter(subject=f"Huge {token}").get()
        att = [a for a in got.attachments if a.name == "huge.bin"][0]
        assert att.size == len(data)
        pid = ews.process.pid if ews.process else None
        if pid:
            pathlib.Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets the peak RSS (VmHWM)
            rss_before = _peak_rss_kib(pid)
        t0 = time.monotonic()
        content = att.content  # GetAttachment, streamed
        elapsed = time.monotonic() - t0
        assert len(content) == len(data)
        assert hashlib.sha256(content).digest() == hashlib.sha256(data).digest()
        if pid:
            peak = _peak_rss_kib(pid)
            growth_mib = (peak - rss_before) / 1024
            if os.environ.get("VIADUC_MEASURE_OUT"):
                with open(os.environ["VIADUC_MEASURE_OUT"], "a", encoding="utf-8") as f:
                    f.write(f"GetAttachment 20 MiB (delivered, streamed): rss_before_kib={rss_before} "
                            f"peak_kib={peak} growth_mib={growth_mib:.1f} seconds={elapsed:.2f}\n")
            # Bounded by the chunk size, not the attachment: a quarter of it is a generous ceiling.
            assert growth_mib < 5, f"RSS grew by {growth_mib:.1f} MiB while streaming 20 MiB"
    finally:
        for it in bob.inbox.filter(subject__contains=token):
            it.delete()
