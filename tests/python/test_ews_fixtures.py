"""One exchange per EWS operation, driven by exchangelib against the real stack, with every result checked.

Each operation is sent by exchangelib 5.6 (the real client: its request bytes are captured from the HTTP adapter)
and its effect is checked over IMAP (or CalDAV/CardDAV, or a second EWS call): CreateFolder, UpdateFolder,
MoveFolder, EmptyFolder, DeleteFolder, SyncFolderHierarchy (two rounds), GetItem (MimeContent; attachments;
a tampered id), GetAttachment, UpdateItem (IsRead, follow-up flag, categories, a draft's subject), CopyItem,
MoveItem, DeleteItem (HardDelete, SoftDelete, MoveToDeletedItems), MarkAsJunk, CreateItem (SaveOnly,
SendAndSaveCopy with a FileAttachment, ReplyAllToItem, ForwardItem, a CalendarItem, a Contact, a Task),
CreateAttachment, DeleteAttachment, SendItem, SyncFolderItems (two rounds), Subscribe/GetEvents/Unsubscribe,
ResolveNames (a match, no match), FindItem with a CalendarView, an operation Viaduc does not implement
(GetRoomLists). What exchangelib cannot send goes as raw SOAP: MarkAllItemsAsRead, CopyFolder and a body that
is not XML.

With VIADUC_RECORD_FIXTURES=1 each exchange is written to protocol-fixtures/ews/ as
`<operation>-<case>.exchangelib.request.xml` / `.response.xml` (exchangelib's request and Viaduc's answer, bytes
as on the wire) or `<operation>-<case>.viaduc.*.xml` (raw requests). `ews::tests::fixtures` reads them back:
every request must parse as an implemented operation and every response must carry the codes asserted here.

Every test uses its own folders and subjects (a random token) and removes what it created.
"""
import base64
import email
import io
import os
import pathlib
import re
import time
import uuid
import xml.etree.ElementTree as ET
from email import policy

import pytest

exchangelib = pytest.importorskip("exchangelib")
from exchangelib import (  # noqa: E402
    CalendarItem, Contact, EWSDateTime, EWSTimeZone, FileAttachment, Folder, Message, Task)
from exchangelib.indexed_properties import EmailAddress  # noqa: E402
from exchangelib.protocol import BaseProtocol, close_connections  # noqa: E402

from test_ews_groupware import dav, find_ics  # noqa: E402
from test_ews_mail import NS, CAAdapter, account, ews, imap, post, soap  # noqa: E402,F401

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "protocol-fixtures" / "ews"
RECORD = os.environ.get("VIADUC_RECORD_FIXTURES") == "1"
UTC = EWSTimeZone("UTC")
OK = ("Success", "NoError")


class RecordingAdapter(CAAdapter):
    """CAAdapter that also keeps (request body, response body) of every POST while `log` is a list."""

    log = None

    def send(self, request, **kwargs):
        resp = super().send(request, **kwargs)
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        if RecordingAdapter.log is None or request.method != "POST" or b"GetStreamingEvents" in body:
            return resp
        content = resp.raw.read(decode_content=True) if kwargs.get("stream") else resp.content
        if kwargs.get("stream"):
            # exchangelib parses streamed answers (GetAttachment) from resp.raw: give it the bytes read here.
            resp.raw = io.BytesIO(content)
        RecordingAdapter.log.append((body, content))
        return resp


@pytest.fixture(scope="module")
def alice(ews):  # noqa: F811
    """alice's account, whose HTTP goes through RecordingAdapter (new sessions: the protocol cache is cleared)."""
    BaseProtocol.HTTP_ADAPTER_CLS = RecordingAdapter
    close_connections()
    yield account(ews, "alice")
    RecordingAdapter.log = None
    BaseProtocol.HTTP_ADAPTER_CLS = CAAdapter
    close_connections()


def codes(body):
    """(ResponseClass, ResponseCode) of every response message of a response body, in document order."""
    root = ET.fromstring(body)
    return [(el.get("ResponseClass"), el.findtext("m:ResponseCode", namespaces=NS))
            for el in root.iter() if el.get("ResponseClass") is not None]


def save(name, request, response):
    if RECORD:
        (FIXTURES / f"{name}.request.xml").write_bytes(request)
        (FIXTURES / f"{name}.response.xml").write_bytes(response)


class captured:
    """`with captured("getitem-mimecontent", "GetItem") as c:` runs exchangelib calls and keeps the one request
    of operation `op` they sent (exactly one) with Viaduc's answer: c.request, c.response, c.codes. Stored as
    `<name>.exchangelib.*.xml` when recording."""

    def __init__(self, name, op):
        self.name, self.op = name, op

    def __enter__(self):
        RecordingAdapter.log = []
        return self

    def __exit__(self, exc_type, exc, tb):
        log, RecordingAdapter.log = RecordingAdapter.log, None
        if exc_type is not None:
            return False
        pat = re.compile(rb"<m:" + self.op.encode() + rb"[\s/>]")
        pairs = [(q, r) for q, r in log if pat.search(q)]
        assert len(pairs) == 1, f"{self.name}: {len(pairs)} {self.op} requests among {len(log)}"
        self.request, self.response = pairs[0]
        self.codes = codes(self.response)
        save(f"{self.name}.exchangelib", self.request, self.response)
        return False


def raw(ews, name, op_xml, status=200):  # noqa: F811
    """A raw SOAP request as alice (`op_xml` is the operation element, or bytes for the whole body); stored as
    `<name>.viaduc.*.xml` when recording. Returns the response."""
    body = op_xml if isinstance(op_xml, bytes) else soap(op_xml)
    resp = post(ews, body)
    assert resp.status_code == status, resp.text
    save(f"{name}.viaduc", body, resp.content)
    return resp


# ---------------------------------------------------------------------------------------------- IMAP helpers

def imap_uids(ews, folder, subject, user="alice"):  # noqa: F811
    m = imap(ews, user=user)
    try:
        typ, _ = m.select(f'"{folder}"', readonly=True)
        assert typ == "OK", f"cannot select {folder!r}"
        typ, d = m.uid("SEARCH", "SUBJECT", f'"{subject}"')
        return d[0].split()
    finally:
        m.logout()


def imap_flags(ews, folder, subject):  # noqa: F811
    m = imap(ews)
    try:
        m.select(f'"{folder}"', readonly=True)
        typ, d = m.uid("SEARCH", "SUBJECT", f'"{subject}"')
        uids = d[0].split()
        assert len(uids) == 1, (folder, subject, uids)
        typ, d = m.uid("FETCH", uids[0], "(FLAGS)")
        return d[0].decode()
    finally:
        m.logout()


def imap_folders(ews):  # noqa: F811
    """alice's IMAP folder names (with '/' as the separator of the test stack)."""
    m = imap(ews)
    try:
        typ, d = m.list()
        names = []
        for line in d:
            mt = re.match(rb'\(.*?\) (?:"[^"]*"|NIL) (.*)$', line)
            names.append(mt.group(1).decode().strip('"'))
        return names
    finally:
        m.logout()


def imap_count(ews, folder):  # noqa: F811
    m = imap(ews)
    try:
        typ, d = m.status(f'"{folder}"', "(MESSAGES)")
        return int(re.search(rb"MESSAGES (\d+)", d[0]).group(1))
    finally:
        m.logout()


def append(ews, folder, raw_msg, flags=None):  # noqa: F811
    m = imap(ews)
    try:
        typ, d = m.append(f'"{folder}"', flags, None, raw_msg.encode())
        assert typ == "OK", d
    finally:
        m.logout()


def short(subject, frm="Bob <bob@example.test>", extra=""):
    return (f"From: {frm}\r\nTo: alice@example.test\r\n{extra}Subject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@example.test>\r\nDate: Mon, 3 Mar 2031 09:00:00 +0000\r\n\r\n"
            "A short message.\r\n")


def with_attachment(subject):
    return (f"From: Carol <carol@example.test>\r\nTo: alice@example.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@example.test>\r\nDate: Mon, 3 Mar 2031 10:00:00 +0000\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
            "Content-Type: text/plain\r\n\r\nSee the notes.\r\n--b\r\nContent-Type: text/plain; name=notes.txt\r\n"
            "Content-Disposition: attachment; filename=notes.txt\r\n\r\nfixture notes\r\n--b--\r\n")


def remove_imap(ews, user, folder, token):  # noqa: F811
    """Expunges the messages of `folder` whose subject contains `token`."""
    m = imap(ews, user=user)
    try:
        if m.select(f'"{folder}"')[0] != "OK":
            return
        typ, d = m.uid("SEARCH", "SUBJECT", f'"{token}"')
        for u in d[0].split():
            m.uid("STORE", u, "+FLAGS.SILENT", "(\\Deleted)")
        m.expunge()
    finally:
        m.logout()


def delete_folders(ews, token):  # noqa: F811
    m = imap(ews)
    try:
        for name in sorted((n for n in imap_folders(ews) if token in n), key=len, reverse=True):
            m.delete(f'"{name}"')
    finally:
        m.logout()


def wait_for(ews, user, folder, subject, timeout=30):  # noqa: F811
    deadline = time.time() + timeout
    while True:
        uids = imap_uids(ews, folder, subject, user=user)
        if uids or time.time() > deadline:
            return uids
        time.sleep(0.3)


def new_folder(acct, name):
    f = Folder(parent=acct.msg_folder_root, name=name)
    f.save()
    return f


# ---------------------------------------------------------------------------------------------- folders

def test_folder_operations(ews, alice):  # noqa: F811
    token = uuid.uuid4().hex[:8]
    name = f"Fixtures-{token}"
    try:
        with captured("syncfolderhierarchy-round1", "SyncFolderHierarchy") as c:
            first = list(alice.root.sync_hierarchy())
        assert c.codes == [OK]
        assert "Inbox" in {f.name for kind, f in first if kind == "create"}
        state = alice.root.folder_sync_state

        with captured("createfolder", "CreateFolder") as c:
            f = new_folder(alice, name)
        assert c.codes == [OK] and f.id
        assert name in imap_folders(ews)

        with captured("syncfolderhierarchy-round2", "SyncFolderHierarchy") as c:
            second = list(alice.root.sync_hierarchy(sync_state=state))
        assert c.codes == [OK]
        assert [(kind, f.name) for kind, f in second] == [("create", name)], second

        with captured("updatefolder-rename", "UpdateFolder") as c:
            f.name = f"{name}-renamed"
            f.save(update_fields=["name"])
        assert c.codes == [OK]
        names = imap_folders(ews)
        assert f"{name}-renamed" in names and name not in names

        target = new_folder(alice, f"{name}-target")
        with captured("movefolder", "MoveFolder") as c:
            f.move(to_folder=target)
        assert c.codes == [OK]
        moved = f"{name}-target/{name}-renamed"
        assert moved in imap_folders(ews) and f"{name}-renamed" not in imap_folders(ews)

        append(ews, moved, short(f"empty me 1 {token}"))
        append(ews, moved, short(f"empty me 2 {token}"))
        r = raw(ews, "copyfolder", f'<m:CopyFolder><m:ToFolderId><t:DistinguishedFolderId Id="msgfolderroot"/>'
                                   f'</m:ToFolderId><m:FolderIds><t:FolderId Id="{f.id}"/></m:FolderIds></m:CopyFolder>')
        assert codes(r.content) == [OK], r.text
        assert ET.fromstring(r.content).find(".//t:FolderId", NS) is not None
        assert imap_count(ews, f"{name}-renamed") == 2, "the copy has the messages"
        assert imap_count(ews, moved) == 2

        with captured("emptyfolder", "EmptyFolder") as c:
            f.empty()
        assert c.codes == [OK]
        assert imap_count(ews, moved) == 0

        with captured("deletefolder", "DeleteFolder") as c:
            f.delete()
        assert c.codes == [OK]
        assert moved not in imap_folders(ews)
    finally:
        delete_folders(ews, token)


# ---------------------------------------------------------------------------------------------- reading, updating

def test_get_and_update_items(ews, alice):  # noqa: F811
    token = uuid.uuid4().hex[:8]
    name = f"Fixtures-items-{token}"
    folder = new_folder(alice, name)
    try:
        plain, attached = f"Fixture plain {token}", f"Fixture attachment {token}"
        append(ews, name, short(plain))
        append(ews, name, with_attachment(attached))
        by_subject = {i.subject: i for i in folder.all().only("subject")}

        with captured("getitem-mimecontent", "GetItem") as c:
            [item] = alice.fetch(ids=[by_subject[plain]], only_fields=["mime_content"])
        assert c.codes == [OK]
        assert f"Subject: {plain}".encode() in item.mime_content
        assert f"Subject: {plain}".encode() in base64.b64decode(
            ET.fromstring(c.response).findtext(".//t:MimeContent", namespaces=NS))

        with captured("getitem-attachments", "GetItem") as c:
            [item] = alice.fetch(ids=[by_subject[attached]],
                                 only_fields=["subject", "body", "has_attachments", "attachments"])
        assert c.codes == [OK]
        assert item.has_attachments is True and "See the notes." in item.body
        [att] = item.attachments
        assert att.name == "notes.txt"

        with captured("getattachment", "GetAttachment") as c:
            content = att.content
        assert c.codes == [OK]
        assert content == b"fixture notes"

        [item] = alice.fetch(ids=[by_subject[plain]], only_fields=["subject", "is_read"])
        assert item.is_read is False
        with captured("updateitem-isread", "UpdateItem") as c:
            item.is_read = True
            item.save(update_fields=["is_read"])
        assert c.codes == [OK]
        assert "\\Seen" in imap_flags(ews, name, plain)

        with captured("updateitem-flag", "UpdateItem") as c:
            item.flag_status = 2  # PidTagFlagStatus, registered on Message by test_ews_mail's `ews` fixture
            item.save(update_fields=["flag_status"])
        assert c.codes == [OK]
        assert "\\Flagged" in imap_flags(ews, name, plain)

        with captured("updateitem-categories", "UpdateItem") as c:
            item.categories = ["Fixture", "Red"]
            item.save(update_fields=["categories"])
        assert c.codes == [OK]
        flags = imap_flags(ews, name, plain)
        assert "Fixture" in flags and "Red" in flags, flags
        again = list(alice.fetch(ids=[item], only_fields=["is_read", "flag_status", "categories"]))[0]
        assert again.is_read is True and again.flag_status == 2 and sorted(again.categories) == ["Fixture", "Red"]

        assert "\\Seen" not in imap_flags(ews, name, attached)
        r = raw(ews, "markallitemsasread", '<m:MarkAllItemsAsRead><m:ReadFlag>true</m:ReadFlag>'
                '<m:SuppressReadReceipts>true</m:SuppressReadReceipts><m:FolderIds>'
                f'<t:FolderId Id="{folder.id}"/></m:FolderIds></m:MarkAllItemsAsRead>')
        assert codes(r.content) == [OK], r.text
        assert "\\Seen" in imap_flags(ews, name, attached)

        # A tampered id (one bit of the UID changed) next to a good one: one error, one item.
        good = by_subject[plain]
        buf = bytearray(base64.b64decode(good.id))
        buf[-3] ^= 0x40
        bad = base64.b64encode(bytes(buf)).decode()
        with captured("getitem-tampered-id", "GetItem") as c:
            got = list(alice.fetch(ids=[(bad, good.changekey), good], only_fields=["subject"]))
        assert c.codes == [("Error", "ErrorInvalidIdMalformed"), OK]
        assert type(got[0]).__name__ == "ErrorInvalidIdMalformed" and got[1].subject == plain
    finally:
        delete_folders(ews, token)


# ---------------------------------------------------------------------------------------------- moving, deleting

def test_copy_move_delete_junk(ews, alice):  # noqa: F811
    token = uuid.uuid4().hex[:8]
    a_name, b_name = f"Fixtures-a-{token}", f"Fixtures-b-{token}"
    a, b = new_folder(alice, a_name), new_folder(alice, b_name)
    subjects = {k: f"Fixture {k} {token}" for k in ("copy", "hard", "soft", "trash", "junk")}
    try:
        for s in subjects.values():
            append(ews, a_name, short(s))
        items = {i.subject: i for i in a.all().only("subject")}

        with captured("copyitem", "CopyItem") as c:
            items[subjects["copy"]].copy(to_folder=b)
        assert c.codes == [OK]
        assert len(imap_uids(ews, a_name, subjects["copy"])) == 1
        assert len(imap_uids(ews, b_name, subjects["copy"])) == 1

        with captured("moveitem", "MoveItem") as c:
            items[subjects["hard"]].move(to_folder=b)
        assert c.codes == [OK]
        assert imap_uids(ews, a_name, subjects["hard"]) == []
        assert len(imap_uids(ews, b_name, subjects["hard"])) == 1

        moved = b.get(subject=subjects["hard"])
        with captured("deleteitem-harddelete", "DeleteItem") as c:
            moved.delete()
        assert c.codes == [OK]
        assert imap_uids(ews, b_name, subjects["hard"]) == []
        assert imap_uids(ews, "Trash", subjects["hard"]) == []

        with captured("deleteitem-softdelete", "DeleteItem") as c:
            # Item.soft_delete() then looks for the recoverable-items folder, which IMAP has not: the bulk call.
            assert alice.bulk_delete(ids=[items[subjects["soft"]]], delete_type="SoftDelete") == [True]
        assert c.codes == [OK]
        assert imap_uids(ews, a_name, subjects["soft"]) == []

        with captured("deleteitem-movetodeleteditems", "DeleteItem") as c:
            items[subjects["trash"]].move_to_trash()
        assert c.codes == [OK]
        assert imap_uids(ews, a_name, subjects["trash"]) == []
        assert len(imap_uids(ews, "Trash", subjects["trash"])) == 1

        with captured("markasjunk", "MarkAsJunk") as c:
            items[subjects["junk"]].mark_as_junk(is_junk=True, move_item=True)
        assert c.codes == [OK]
        assert imap_uids(ews, a_name, subjects["junk"]) == []
        assert "$Junk" in imap_flags(ews, "Junk", subjects["junk"])
    finally:
        delete_folders(ews, token)
        for folder in ("Trash", "Junk"):
            remove_imap(ews, "alice", folder, token)


# ---------------------------------------------------------------------------------------------- creating, sending

def test_create_send_reply_forward(ews, alice):  # noqa: F811
    token = uuid.uuid4().hex[:8]
    d = ews.stack.domain
    bob, carol = f"bob@{d}", f"carol@{d}"
    name = f"Fixtures-send-{token}"
    folder = new_folder(alice, name)
    try:
        with captured("createitem-saveonly", "CreateItem") as c:
            draft = Message(account=alice, folder=alice.drafts, subject=f"Fixture draft {token}", body="v1",
                            to_recipients=[bob])
            draft.save()
        assert c.codes == [OK]
        assert "\\Draft" in imap_flags(ews, "Drafts", f"Fixture draft {token}")

        with captured("createattachment", "CreateAttachment") as c:
            draft.attach(FileAttachment(name="fixture.txt", content=b"attached to the draft"))
        assert c.codes == [OK]

        with captured("updateitem-draft-subject", "UpdateItem") as c:
            draft.subject = f"Fixture draft v2 {token}"
            draft.save(update_fields=["subject"])
        assert c.codes == [OK]
        assert imap_uids(ews, "Drafts", f"Fixture draft v2 {token}")
        assert imap_uids(ews, "Drafts", f"Fixture draft {token}") == []

        fresh = alice.drafts.get(subject=f"Fixture draft v2 {token}")
        assert [(x.name, x.content) for x in fresh.attachments] == [("fixture.txt", b"attached to the draft")]
        with captured("deleteattachment", "DeleteAttachment") as c:
            fresh.detach(fresh.attachments[0])
        assert c.codes == [OK]
        fresh = alice.drafts.get(subject=f"Fixture draft v2 {token}")
        assert not fresh.attachments

        with captured("senditem", "SendItem") as c:
            fresh.send()  # the draft, saved to Sent
        assert c.codes == [OK]
        assert imap_uids(ews, "Drafts", f"Fixture draft v2 {token}") == []

        with captured("createitem-sendandsavecopy-fileattachment", "CreateItem") as c:
            m = Message(account=alice, folder=alice.sent, subject=f"Fixture sent {token}", body="With a file.",
                        to_recipients=[bob])
            m.attach(FileAttachment(name="numbers.csv", content=b"a,b\n1,2\n", content_type="text/csv"))
            m.send_and_save()
        assert c.codes == [OK]
        assert len(imap_uids(ews, "Sent", f"Fixture sent {token}")) == 1

        question = f"Fixture question {token}"
        append(ews, name, short(question, frm=f"Bob <{bob}>", extra=f"Cc: carol@{d}\r\n"))
        orig = folder.get(subject=question)
        with captured("createitem-replyalltoitem", "CreateItem") as c:
            orig.reply_all(subject=f"Re: {question}", body="Fine by me.")
        assert c.codes == [OK]
        assert "\\Answered" in imap_flags(ews, name, question)
        orig.refresh()
        with captured("createitem-forwarditem", "CreateItem") as c:
            orig.forward(subject=f"Fw: {question}", body="FYI", to_recipients=[bob])
        assert c.codes == [OK]
        assert "$Forwarded" in imap_flags(ews, name, question)

        # What was sent reached bob (and carol, on the reply to all) through Postfix.
        for subject in (f"Fixture draft v2 {token}", f"Fixture sent {token}", f"Re: {question}", f"Fw: {question}"):
            assert wait_for(ews, "bob", "INBOX", subject), f"{subject!r} never reached bob"
        assert wait_for(ews, "carol", "INBOX", f"Re: {question}")
        m = imap(ews, user="bob")
        try:
            m.select("INBOX", readonly=True)
            typ, dd = m.uid("SEARCH", "SUBJECT", f'"Fixture sent {token}"')
            typ, dd = m.uid("FETCH", dd[0].split()[0], "(BODY.PEEK[])")
            got = email.message_from_bytes(dd[0][1], policy=policy.default)
        finally:
            m.logout()
        assert {p.get_filename(): p.get_content() for p in got.iter_attachments()}.get("numbers.csv") in (
            "a,b\n1,2\n", b"a,b\n1,2\n")
    finally:
        delete_folders(ews, token)
        for folder_name in ("Drafts", "Sent"):
            remove_imap(ews, "alice", folder_name, token)
        remove_imap(ews, "bob", "INBOX", token)
        remove_imap(ews, "carol", "INBOX", token)


# ---------------------------------------------------------------------------------------------- sync, notifications

def test_sync_folder_items_two_rounds_and_pull_events(ews, alice):  # noqa: F811
    token = uuid.uuid4().hex[:8]
    name = f"Fixtures-sync-{token}"
    folder = new_folder(alice, name)
    try:
        append(ews, name, short(f"s0 {token}"))
        append(ews, name, short(f"s1 {token}"))
        with captured("syncfolderitems-round1", "SyncFolderItems") as c:
            first = list(folder.sync_items(only_fields=["subject", "is_read"]))
        assert c.codes == [OK]
        assert sorted((k, i.subject) for k, i in first) == [("create", f"s0 {token}"), ("create", f"s1 {token}")]
        state = folder.item_sync_state

        # Another IMAP client: s0 read, s1 expunged, s2 delivered.
        m = imap(ews)
        try:
            m.select(f'"{name}"')
            typ, d = m.uid("SEARCH", "SUBJECT", f'"s0 {token}"')
            m.uid("STORE", d[0].split()[0], "+FLAGS", "(\\Seen)")
            typ, d = m.uid("SEARCH", "SUBJECT", f'"s1 {token}"')
            m.uid("STORE", d[0].split()[0], "+FLAGS.SILENT", "(\\Deleted)")
            m.expunge()
        finally:
            m.logout()
        append(ews, name, short(f"s2 {token}"))
        with captured("syncfolderitems-round2", "SyncFolderItems") as c:
            second = list(folder.sync_items(sync_state=state, only_fields=["subject", "is_read"]))
        assert c.codes == [OK]
        kinds = sorted(k for k, _ in second)
        # s0 only became read: ReadFlagChange (ItemId, IsRead), not a whole Update.
        assert kinds == ["create", "delete", "read_flag_change"], second
        assert [i.subject for k, i in second if k == "create"] == [f"s2 {token}"]
        assert [i[1] for k, i in second if k == "read_flag_change"] == [True]

        with captured("subscribe-pull", "Subscribe") as c:
            sub_id, watermark = folder.subscribe_to_pull(event_types=["NewMailEvent", "CreatedEvent"])
        assert c.codes == [OK]
        append(ews, name, short(f"s3 {token}"))
        with captured("getevents", "GetEvents") as c:
            events = [e for n in folder.get_events(sub_id, watermark) for e in n.events]
        assert c.codes == [OK]
        new = [e for e in events if type(e).__name__ == "NewMailEvent"]
        assert new, events
        assert list(alice.fetch(ids=[new[0].item_id], only_fields=["subject"]))[0].subject == f"s3 {token}"
        with captured("unsubscribe", "Unsubscribe") as c:
            folder.unsubscribe(sub_id)
        assert c.codes == [OK]
    finally:
        delete_folders(ews, token)


# ---------------------------------------------------------------------------------------------- directory, errors

def test_resolve_names_and_errors(ews, alice):  # noqa: F811
    d = ews.stack.domain
    with captured("resolvenames-carol", "ResolveNames") as c:
        [(mailbox, contact)] = alice.protocol.resolve_names(["carol"], return_full_contact_data=True)
    assert c.codes == [OK]
    assert mailbox.email_address == f"carol@{d}" and contact.display_name

    with captured("resolvenames-nobody", "ResolveNames") as c:
        [none] = alice.protocol.resolve_names(["no-such-person-xyz"])
    assert c.codes == [("Error", "ErrorNameResolutionNoResults")]
    assert type(none).__name__ == "ErrorNameResolutionNoResults"

    # An operation Viaduc does not implement: an EWS error, HTTP 200 (exchangelib raises it).
    with captured("getroomlists-unknownoperation", "GetRoomLists") as c:
        with pytest.raises(exchangelib.errors.ErrorInvalidRequest):
            list(alice.protocol.get_roomlists())
    assert c.codes == [("Error", "ErrorInvalidRequest")]

    # A body that is not XML: a SOAP fault (HTTP 500) naming ErrorSchemaValidation.
    r = raw(ews, "malformed-xml", b'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="'
            + NS["s"].encode() + b'"><s:Body><m:GetFolder', status=500)
    fault = ET.fromstring(r.content).find("s:Body/s:Fault", NS)
    assert fault is not None and fault.findtext("faultcode") == "a:ErrorSchemaValidation", r.text
    assert ET.fromstring(r.content).find("s:Header/t:ServerVersionInfo", NS) is not None


# ---------------------------------------------------------------------------------------------- groupware

def test_calendar_contacts_tasks(ews, alice):  # noqa: F811
    token = uuid.uuid4().hex[:8]
    stack = ews.stack
    start = EWSDateTime(2032, 5, 10, 9, 0, tzinfo=UTC)
    end = EWSDateTime(2032, 5, 10, 10, 0, tzinfo=UTC)
    created = []
    try:
        with captured("createitem-calendaritem", "CreateItem") as c:
            ev = CalendarItem(account=alice, folder=alice.calendar, subject=f"Fixture event {token}", start=start,
                              end=end, location="Room 1", body="Agenda")
            ev.save()
        created.append(ev)
        assert c.codes == [OK]
        ics = find_ics(stack, f"Fixture event {token}")
        assert ics and "DTSTART:20320510T090000Z" in ics.replace(";VALUE=DATE-TIME", ""), ics

        with captured("finditem-calendarview", "FindItem") as c:
            view = list(alice.calendar.view(start=start - (end - start), end=end + (end - start)))
        assert c.codes == [OK]
        assert [v.subject for v in view if token in v.subject] == [f"Fixture event {token}"]

        with captured("deleteitem-calendaritem", "DeleteItem") as c:
            ev.delete()
        created.remove(ev)
        assert c.codes == [OK]
        assert find_ics(stack, f"Fixture event {token}") is None

        with captured("createitem-contact", "CreateItem") as c:
            ct = Contact(account=alice, folder=alice.contacts, given_name="Fixture", surname=f"Person{token}",
                         display_name=f"Fixture Person{token}",
                         email_addresses=[EmailAddress(label="EmailAddress1", email=f"f{token}@example.org")])
            ct.save()
        created.append(ct)
        assert c.codes == [OK]
        body = ('<?xml version="1.0"?><a:addressbook-query xmlns:d="DAV:" xmlns:a="urn:ietf:params:xml:ns:carddav">'
                '<d:prop><a:address-data/></d:prop></a:addressbook-query>')
        r = dav(stack, "alice", "REPORT", "/alice/contacts/", body, {"Depth": "1", "Content-Type": "application/xml"})
        assert r.status_code == 207 and f"Person{token}" in r.text and f"f{token}@example.org" in r.text

        with captured("createitem-task", "CreateItem") as c:
            task = Task(account=alice, folder=alice.tasks, subject=f"Fixture task {token}", body="Do it")
            task.save()
        created.append(task)
        assert c.codes == [OK]
        assert find_ics(stack, f"Fixture task {token}", name="tasks")
        assert alice.tasks.get(id=task.id).subject == f"Fixture task {token}"
    finally:
        for it in created:
            it.delete()
