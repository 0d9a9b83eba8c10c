"""EWS mail end to end: exchangelib 5.6 (the client) against the real Viaduc + Dovecot of the test stack.

What is covered: version discovery (the unauthenticated/authenticated ConvertId probe), the folder tree,
distinguished folders, inbox listing and paging, GetItem (subject, body, recipients, attachments, MIME),
UpdateItem (read state and follow-up flag, checked over IMAP directly), folder create/rename/delete,
move/copy/delete of items, SyncFolderItems/SyncFolderHierarchy, and the error paths (unknown operation,
malformed body, tampered ids) with raw requests; the read path's folder-tree cache (other clients' changes seen
at once), GetItem of many items with MimeContent; ReplyToItem/ReplyAllToItem/ForwardItem (bob receives them, the
original is flagged); GetServerTimeZones, ExpandDL, GetMailTips, GetServiceConfiguration, ArchiveItem,
CreateFolderPath.

Every test restores what it changes, so the seeded mailbox stays as stack seeding left it.
"""
import base64
import imaplib
import re
import ssl
import time
import uuid

import pytest
import requests.adapters

exchangelib = pytest.importorskip("exchangelib")
from exchangelib import (  # noqa: E402
    BASIC, DELEGATE, Account, Configuration, Credentials, ExtendedProperty, Folder, Message, Version)
from exchangelib.protocol import BaseProtocol  # noqa: E402
from exchangelib.version import EXCHANGE_2016  # noqa: E402

USER = "alice"
NS = {
    "s": "http://schemas.xmlsoap.org/soap/envelope/",
    "m": "http://schemas.microsoft.com/exchange/services/2006/messages",
    "t": "http://schemas.microsoft.com/exchange/services/2006/types",
}


class FlagStatus(ExtendedProperty):
    """PidTagFlagStatus (0x1090): 2 = flagged."""
    property_tag = 0x1090
    property_type = "Integer"


_CA = {"file": None}


class CAAdapter(requests.adapters.HTTPAdapter):
    """Verifies Viaduc's certificate with the test stack's CA (exchangelib builds its own sessions)."""

    def send(self, request, **kwargs):
        kwargs["verify"] = _CA["file"]
        return super().send(request, **kwargs)


@pytest.fixture(scope="module")
def ews(viaduc):
    _CA["file"] = str(viaduc.ca_file)
    BaseProtocol.HTTP_ADAPTER_CLS = CAAdapter
    try:
        Message.register("flag_status", FlagStatus)
    except ValueError:
        pass  # already registered
    yield viaduc
    try:
        Message.deregister("flag_status")
    except ValueError:
        pass


def account(viaduc, user=USER, pinned=True):
    addr = f"{user}@{viaduc.stack.domain}"
    kwargs = dict(service_endpoint=viaduc.url + "/EWS/Exchange.asmx",
                  credentials=Credentials(addr, viaduc.stack.password), auth_type=BASIC)
    if pinned:
        kwargs["version"] = Version(build=EXCHANGE_2016)
    config = Configuration(**kwargs)
    return Account(primary_smtp_address=addr, config=config, autodiscover=False, access_type=DELEGATE)


@pytest.fixture(scope="module")
def acct(ews):
    return account(ews)


def imap(viaduc, user=USER):
    ctx = ssl.create_default_context(cafile=str(viaduc.ca_file))
    m = imaplib.IMAP4("127.0.0.1", viaduc.ports["IMAP_PORT"])
    m.starttls(ssl_context=ctx)
    m.login(f"{user}@{viaduc.stack.domain}", viaduc.stack.password)
    return m


def imap_flags(viaduc, folder, subject):
    m = imap(viaduc)
    try:
        m.select(f'"{folder}"', readonly=True)
        typ, d = m.uid("SEARCH", "SUBJECT", f'"{subject}"')
        uids = d[0].split()
        assert uids, f"{subject!r} not found in {folder} over IMAP"
        typ, d = m.uid("FETCH", uids[0], "(FLAGS)")
        return d[0].decode()
    finally:
        m.logout()


def soap(op_xml, version="Exchange2016"):
    return (f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{NS["s"]}" xmlns:m="{NS["m"]}" '
            f'xmlns:t="{NS["t"]}"><s:Header><t:RequestServerVersion Version="{version}"/></s:Header>'
            f'<s:Body>{op_xml}</s:Body></s:Envelope>').encode()


def post(viaduc, body, user=USER):
    s = viaduc.session(f"{user}@{viaduc.stack.domain}")
    return s.post(viaduc.url + "/EWS/Exchange.asmx", data=body,
                  headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30)


def parse(resp):
    import xml.etree.ElementTree as ET
    return ET.fromstring(resp.content)


# ---------------------------------------------------------------------------------------------- discovery

def test_version_is_guessed_from_the_convertid_probe(ews):
    a = account(ews, pinned=False)
    v = a.version
    assert v.build.major_version == 15
    assert v.api_version.startswith("Exchange2016") or v.api_version.startswith("Exchange2015")
    assert a.inbox.total_count >= 4


def test_server_version_info_is_in_every_answer(ews):
    for body in (soap('<m:ConvertId DestinationFormat="EntryId"><m:SourceIds><t:AlternateId Id="DUMMY" '
                      'Format="EwsId" Mailbox="DUMMY"/></m:SourceIds></m:ConvertId>'),
                 soap("<m:NoSuchOperation/>", version="Exchange2013_SP1"),
                 b"this is not xml"):
        r = post(ews, body)
        root = parse(r)
        svi = root.find("s:Header/t:ServerVersionInfo", NS)
        assert svi is not None, r.text
        assert svi.get("MajorVersion") == "15"


# ---------------------------------------------------------------------------------------------- folders

def test_folder_tree(acct):
    root = acct.root
    top = acct.msg_folder_root
    names = {f.name for f in top.children}
    assert {"Inbox", "Drafts", "Sent", "Trash", "Junk", "Archive", "Projects"} <= names, names
    assert "shared" not in names, "other users' namespace (IMAP NAMESPACE) is not part of alice's own tree"
    projects = top / "Projects"
    assert {f.name for f in projects.children} >= {"Gateway"}
    assert acct.inbox.name == "Inbox"
    assert acct.inbox.total_count >= 4
    assert acct.sent.total_count >= 1
    assert acct.drafts.total_count >= 1
    assert acct.trash.name == "Trash"
    walked = {f.name for f in root.walk()}
    assert "Gateway" in walked and "Inbox" in walked


def test_folder_create_rename_delete(ews, acct):
    name = f"ews-test-{uuid.uuid4().hex[:8]}"
    f = Folder(parent=acct.msg_folder_root, name=name)
    f.save()
    m = imap(ews)
    try:
        assert name.encode() in b"".join(m.list()[1])
        f.name = name + "-renamed"
        f.save(update_fields=["name"])
        listing = b"".join(m.list()[1])
        assert (name + "-renamed").encode() in listing and f'"{name}"'.encode() not in listing
        f.delete()
        assert name.encode() not in b"".join(m.list()[1])
    finally:
        m.logout()


def test_sync_folder_hierarchy(acct):
    changes = list(acct.root.sync_hierarchy())
    assert len(changes) >= 8
    again = list(acct.root.sync_hierarchy())
    assert again == []


# ---------------------------------------------------------------------------------------------- items

def test_inbox_items(acct):
    subjects = [i.subject for i in acct.inbox.all().order_by("-datetime_received")]
    for s in ("Welcome to the test stack", "Quarterly report (with attachment)", "Re: Welcome to the test stack",
              "Meeting invitation: Design review"):
        assert s in subjects, subjects
    page = list(acct.inbox.all().order_by("subject").only("subject")[:2])
    assert len(page) == 2
    assert [p.subject for p in page] == sorted(subjects, key=str.lower)[:2]  # IMAP SORT: case-insensitive


def test_get_item_body_recipients_attachments(acct):
    item = acct.inbox.filter(subject__contains="Quarterly report").get()
    assert item.subject == "Quarterly report (with attachment)"
    assert "quarterly report" in item.body.lower()
    assert item.sender.email_address == f"carol@{acct.primary_smtp_address.split('@')[1]}"
    assert any(r.email_address.startswith("bob@") for r in item.cc_recipients)
    names = sorted(a.name for a in item.attachments)
    assert names == ["numbers.csv", "report-q1.pdf"], names
    csv = [a for a in item.attachments if a.name == "numbers.csv"][0]
    assert b"1,42" in csv.content
    assert item.has_attachments is True
    mime = acct.inbox.filter(subject__contains="Quarterly report").only("mime_content").get().mime_content
    assert b"report-q1.pdf" in mime


def test_mark_read_and_flag_visible_over_imap(ews, acct):
    subject = "Re: Welcome to the test stack"
    item = acct.inbox.filter(subject__contains=subject).get()
    was_read = item.is_read
    try:
        item.is_read = True
        item.flag_status = 2
        item.save(update_fields=["is_read", "flag_status"])
        flags = imap_flags(ews, "INBOX", subject)
        assert "\\Seen" in flags and "\\Flagged" in flags, flags
        fresh = acct.inbox.filter(subject__contains=subject).get()
        assert fresh.is_read is True and fresh.flag_status == 2
        item = fresh
        item.is_read = False
        item.flag_status = 0
        item.save(update_fields=["is_read", "flag_status"])
        flags = imap_flags(ews, "INBOX", subject)
        assert "\\Seen" not in flags and "\\Flagged" not in flags, flags
    finally:
        item = acct.inbox.filter(subject__contains=subject).get()
        item.is_read = was_read
        item.save(update_fields=["is_read"])


def test_copy_move_delete_items(ews, acct):
    name = f"ews-items-{uuid.uuid4().hex[:8]}"
    target = Folder(parent=acct.msg_folder_root, name=name)
    target.save()
    try:
        item = acct.inbox.filter(subject__contains="Welcome to the test stack").order_by("datetime_received")[0]
        copied_id = item.copy(to_folder=target)
        copies = list(target.all())
        assert len(copies) == 1 and copies[0].subject == item.subject
        moved = copies[0]
        archive = acct.msg_folder_root / "Archive"
        moved.move(to_folder=archive)
        assert target.all().count() == 0
        in_archive = archive.filter(subject=item.subject)
        assert in_archive.count() >= 1
        for i in in_archive:
            i.delete()
        assert archive.filter(subject=item.subject).count() == 0
        assert copied_id is not None
    finally:
        target.delete()


def test_sync_folder_items(acct):
    changes = list(acct.inbox.sync_items(max_changes_returned=2, only_fields=["subject", "is_read"]))
    creates = [i for c, i in changes if c == "create"]
    assert len(creates) == acct.inbox.total_count
    assert list(acct.inbox.sync_items()) == []


def test_sync_folder_items_read_flag_change(ews, acct):
    """A message only marked read or unread elsewhere comes back as ReadFlagChange; one whose other flags
    changed as well comes back as a whole Update (MS-OXWSSYNC)."""
    token = uuid.uuid4().hex[:8]
    _deliver(ews, f"rfc {token} a")
    _deliver(ews, f"rfc {token} b")
    try:
        list(acct.inbox.sync_items(only_fields=["subject", "is_read"]))
        state = acct.inbox.item_sync_state
        m = imap(ews)
        try:
            m.select("INBOX")
            typ, a = m.uid("SEARCH", "SUBJECT", f'"rfc {token} a"')
            typ, b = m.uid("SEARCH", "SUBJECT", f'"rfc {token} b"')
            m.uid("STORE", a[0].split()[0], "+FLAGS", "(\\Seen)")
            m.uid("STORE", b[0].split()[0], "+FLAGS", "(\\Seen \\Flagged)")
        finally:
            m.logout()
        changes = list(acct.inbox.sync_items(sync_state=state, only_fields=["subject", "is_read"]))
        kinds = sorted(k for k, _ in changes)
        assert kinds == ["read_flag_change", "update"], changes
        (item_id, is_read), = [i for k, i in changes if k == "read_flag_change"]
        assert is_read is True
        assert list(acct.fetch(ids=[item_id], only_fields=["subject"]))[0].subject == f"rfc {token} a"
        assert [i.subject for k, i in changes if k == "update"] == [f"rfc {token} b"]
        # Unread again: IsRead false.
        state = acct.inbox.item_sync_state
        m = imap(ews)
        try:
            m.select("INBOX")
            m.uid("STORE", a[0].split()[0], "-FLAGS", "(\\Seen)")
        finally:
            m.logout()
        changes = list(acct.inbox.sync_items(sync_state=state, only_fields=["subject", "is_read"]))
        assert [(k, i[1]) for k, i in changes] == [("read_flag_change", False)], changes
    finally:
        for i in acct.inbox.filter(subject__startswith=f"rfc {token}"):
            i.delete()


# ---------------------------------------------------------------------------------------------- errors

def test_unknown_operation_is_an_ews_error(ews):
    r = post(ews, soap("<m:GetUserPhoto><m:Email>alice@example.test</m:Email></m:GetUserPhoto>"))
    assert r.status_code == 200, r.text
    root = parse(r)
    msg = root.find(".//m:GetUserPhotoResponseMessage", NS)
    assert msg is not None and msg.get("ResponseClass") == "Error", r.text
    assert msg.find("m:ResponseCode", NS).text == "ErrorInvalidRequest"


def test_malformed_request_is_a_soap_fault(ews):
    for body in (b"<s:Envelope", b"<html/>", b'<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>'):
        r = post(ews, body)
        assert r.status_code == 500, r.text
        fault = parse(r).find("s:Body/s:Fault", NS)
        assert fault is not None and fault.find("faultcode").text.endswith("ErrorSchemaValidation"), r.text


def test_tampered_item_id(ews, acct):
    item = acct.inbox.all().only("subject")[0]
    raw = bytearray(base64.b64decode(item.id))
    raw[-3] ^= 0x40
    bad = base64.b64encode(bytes(raw)).decode()
    body = soap('<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds>'
                f'<t:ItemId Id="{bad}"/><t:ItemId Id="{item.id}"/></m:ItemIds></m:GetItem>')
    r = post(ews, body)
    assert r.status_code == 200
    codes = [m.find("m:ResponseCode", NS).text for m in parse(r).findall(".//m:GetItemResponseMessage", NS)]
    assert codes == ["ErrorInvalidIdMalformed", "NoError"], r.text


def test_ids_of_another_mailbox_are_refused(ews, acct):
    item = acct.inbox.all().only("subject")[0]
    body = soap('<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds>'
                f'<t:ItemId Id="{item.id}"/></m:ItemIds></m:GetItem>')
    r = post(ews, body, user="bob")
    codes = [m.find("m:ResponseCode", NS).text for m in parse(r).findall(".//m:GetItemResponseMessage", NS)]
    assert codes == ["ErrorAccessDenied"], r.text


def test_missing_distinguished_folders_fail_one_by_one(ews):
    ids = "".join(f'<t:DistinguishedFolderId Id="{d}"/>' for d in ("inbox", "voicemail", "sentitems", "notes"))
    r = post(ews, soap('<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>'
                       f'<m:FolderIds>{ids}</m:FolderIds></m:GetFolder>'))
    codes = [m.find("m:ResponseCode", NS).text for m in parse(r).findall(".//m:GetFolderResponseMessage", NS)]
    assert codes == ["NoError", "ErrorFolderNotFound", "NoError", "ErrorFolderNotFound"], r.text


# ---------------------------------------------------------------------------------------------- create / send

def test_save_draft_and_send_to_bob(ews, acct):
    token = uuid.uuid4().hex[:8]
    bob = f"bob@{ews.stack.domain}"
    draft = Message(account=acct, folder=acct.drafts, subject=f"EWS draft {token}", body="Draft body from exchangelib",
                    to_recipients=[bob])
    draft.save()
    try:
        assert acct.drafts.filter(subject=f"EWS draft {token}").count() == 1
        flags = imap_flags(ews, "Drafts", f"EWS draft {token}")
        assert "\\Draft" in flags
    finally:
        draft.delete()
    assert acct.drafts.filter(subject=f"EWS draft {token}").count() == 0

    sent = Message(account=acct, folder=acct.sent, subject=f"EWS sent {token}", body="Sent through Viaduc",
                   to_recipients=[bob])
    sent.send_and_save()
    # The copy is in Sent; the message reaches bob's INBOX through Postfix.
    assert acct.sent.filter(subject=f"EWS sent {token}").count() == 1
    bob_acct = account(ews, user="bob")
    deadline = time.time() + 30
    while time.time() < deadline and bob_acct.inbox.filter(subject=f"EWS sent {token}").count() == 0:
        time.sleep(0.5)
    got = bob_acct.inbox.filter(subject=f"EWS sent {token}").get()
    assert got.sender.email_address == acct.primary_smtp_address
    got.delete()
    for m in acct.sent.filter(subject=f"EWS sent {token}"):
        m.delete()


def test_folder_id_survives_rename_with_xguid(ews, acct):
    name = f"ews-rename-{uuid.uuid4().hex[:8]}"
    f = Folder(parent=acct.msg_folder_root, name=name)
    f.save()
    try:
        fid = f.id
        f.name = name + "-b"
        f.save(update_fields=["name"])
        assert f.id == fid, "Dovecot X-GUID keeps the folder id across a rename"
        again = acct.msg_folder_root / (name + "-b")
        assert again.id == fid
    finally:
        f.delete()


def test_resolve_names_from_ldap(ews, acct):
    domain = ews.stack.domain
    res = acct.protocol.resolve_names(["carol"], return_full_contact_data=True)
    assert res, res
    mailbox, contact = res[0]
    assert mailbox.email_address == f"carol@{domain}"
    assert contact.display_name
    assert acct.protocol.resolve_names([f"SMTP:bob@{domain}"])[0].email_address == f"bob@{domain}"
    none = acct.protocol.resolve_names(["no-such-person-xyz"])
    assert len(none) == 1 and type(none[0]).__name__ == "ErrorNameResolutionNoResults", none


def test_mark_as_junk_moves_and_tags(ews, acct):
    token = uuid.uuid4().hex[:8]
    m = imap(ews)
    try:
        msg = f"From: x@example.org\r\nTo: alice@{ews.stack.domain}\r\nSubject: junk test {token}\r\n\r\nbuy now\r\n"
        m.append("INBOX", None, None, msg.encode())
    finally:
        m.logout()
    item = acct.inbox.filter(subject=f"junk test {token}").get()
    item.mark_as_junk(is_junk=True, move_item=True)
    junk = acct.junk.filter(subject=f"junk test {token}")
    assert junk.count() == 1
    assert "$Junk" in imap_flags(ews, "Junk", f"junk test {token}")
    for i in junk:
        i.delete()


def test_draft_edit_attach_detach_send(ews, acct):
    from exchangelib import FileAttachment
    token = uuid.uuid4().hex[:8]
    bob = f"bob@{ews.stack.domain}"
    draft = Message(account=acct, folder=acct.drafts, subject=f"draft v1 {token}", body="v1", to_recipients=[bob])
    draft.save()
    att = FileAttachment(name="notes.txt", content=b"hello attachment")
    draft.attach(att)  # CreateAttachment; exchangelib keeps the old item id
    draft.subject = f"draft v2 {token}"
    draft.save(update_fields=["subject"])  # UpdateItem with the id from before the attachment
    fresh = acct.drafts.filter(subject=f"draft v2 {token}").get()
    assert [a.name for a in fresh.attachments] == ["notes.txt"]
    assert fresh.attachments[0].content == b"hello attachment"
    assert acct.drafts.filter(subject__contains=token).count() == 1
    fresh.attachments[0].detach()
    fresh = acct.drafts.filter(subject=f"draft v2 {token}").get()
    assert fresh.attachments == [] or fresh.attachments is None
    fresh.send(save_copy=False)  # SendItem
    assert acct.drafts.filter(subject__contains=token).count() == 0
    bob_acct = account(ews, user="bob")
    deadline = time.time() + 30
    while time.time() < deadline and bob_acct.inbox.filter(subject=f"draft v2 {token}").count() == 0:
        time.sleep(0.5)
    got = bob_acct.inbox.filter(subject=f"draft v2 {token}").get()
    got.delete()


def test_ids_are_the_same_on_another_instance(ews, acct):
    """A second Viaduc (another process, same deployment) issues and accepts the same ids: no affinity needed."""
    import subprocess
    import conftest
    port = conftest.free_port()
    config = ews.stack.dir / f"viaduc-pytest-{port}.toml"
    out = subprocess.run([str(conftest.TESTENV / "gen-config.sh"), str(ews.stack.dir), str(port)],
                         capture_output=True, text=True, check=True)
    config.write_text(out.stdout)
    v2 = conftest.Viaduc(ews.stack, port, ews.binary, config, ews.stack.dir / "log" / f"viaduc-pytest-{port}.log")
    v2.start(60)
    try:
        acct2 = account(v2)
        assert acct2.inbox.id == acct.inbox.id
        item = acct.inbox.all().only("subject")[0]
        fetched = list(acct2.fetch(ids=[(item.id, item.changekey)], only_fields=["subject"]))
        assert fetched[0].subject == item.subject
        assert fetched[0].id == item.id and fetched[0].changekey == item.changekey
    finally:
        v2.stop()


def _deliver(ews, subject):
    m = imap(ews)
    try:
        msg = f"From: n@example.org\r\nTo: alice@{ews.stack.domain}\r\nSubject: {subject}\r\n\r\nhello\r\n"
        m.append("INBOX", None, None, msg.encode())
    finally:
        m.logout()


def test_pull_notifications(ews, acct):
    token = uuid.uuid4().hex[:8]
    sub_id, watermark = acct.inbox.subscribe_to_pull(event_types=["NewMailEvent", "DeletedEvent"])
    try:
        _deliver(ews, f"pull {token}")
        events = [e for n in acct.inbox.get_events(sub_id, watermark) for e in n.events]
        kinds = [type(e).__name__ for e in events]
        assert "NewMailEvent" in kinds, kinds
        new = [e for e in events if type(e).__name__ == "NewMailEvent"][0]
        item = list(acct.fetch(ids=[new.item_id], only_fields=["subject"]))[0]
        assert item.subject == f"pull {token}"
        item.delete()
        watermark = events[-1].watermark
        events = [e for n in acct.inbox.get_events(sub_id, watermark) for e in n.events]
        assert "DeletedEvent" in [type(e).__name__ for e in events], events
    finally:
        acct.inbox.unsubscribe(sub_id)
        for i in acct.inbox.filter(subject=f"pull {token}"):
            i.delete()


def test_streaming_notifications(ews, acct):
    import threading
    token = uuid.uuid4().hex[:8]
    sub_id = acct.inbox.subscribe_to_streaming(event_types=["NewMailEvent"])
    timer = threading.Timer(2.0, _deliver, args=(ews, f"stream {token}"))
    timer.start()
    try:
        started = time.time()
        notes = list(acct.inbox.get_streaming_events(sub_id, connection_timeout=1, max_notifications_returned=1))
        assert time.time() - started < 30
        events = [e for n in notes for e in n.events]
        assert any(type(e).__name__ == "NewMailEvent" for e in events), notes
    finally:
        timer.join()
        acct.inbox.unsubscribe(sub_id)
        for i in acct.inbox.filter(subject=f"stream {token}"):
            i.delete()


def _deliver_timed(ews, subject):
    """APPENDs a message to alice's INBOX; returns the monotonic time the server confirmed it."""
    m = imap(ews)
    try:
        msg = f"From: n@example.org\r\nTo: alice@{ews.stack.domain}\r\nSubject: {subject}\r\n\r\nhello\r\n"
        m.append("INBOX", None, None, msg.encode())
        return time.monotonic()
    finally:
        m.logout()


def _log_count(viaduc, text):
    with open(viaduc.log_file, encoding="utf-8", errors="replace") as f:
        return f.read().count(text)


def test_streaming_notifications_are_pushed(ews, acct):
    """New mail reaches the stream as soon as Dovecot reports it on the watch connection (NOTIFY/IDLE), not at
    the next 3-second poll. Each message after the first is appended right after the previous event arrived,
    i.e. right after a check: a 3-second poll would report it about 3 s later."""
    import threading
    token = uuid.uuid4().hex[:8]
    sub_id = acct.inbox.subscribe_to_streaming(event_types=["NewMailEvent"])
    closed_before = _log_count(ews, "watch connection closed")
    appended = []
    latencies = []
    first = threading.Timer(1.5, lambda: appended.append(_deliver_timed(ews, f"push {token} 0")))
    first.start()
    try:
        for note in acct.inbox.get_streaming_events(sub_id, connection_timeout=1, max_notifications_returned=3):
            if not any(type(e).__name__ == "NewMailEvent" for e in note.events):
                continue
            got = time.monotonic()
            first.join()
            latencies.append(max(0.0, got - appended[len(latencies)]))
            if len(latencies) == 3:
                break
            appended.append(_deliver_timed(ews, f"push {token} {len(latencies)}"))
        print(f"streaming push latencies (s): {[round(x, 3) for x in latencies]}")
        assert len(latencies) == 3, latencies
        # Dovecot reports in about 0.5 s; generous for a loaded machine, still below a 3-second poll.
        assert max(latencies) < 2.5, latencies
        # Leaving the stream closes the HTTP response; the watch connection goes with it (LOGOUT).
        deadline = time.monotonic() + 40
        while _log_count(ews, "watch connection closed") <= closed_before and time.monotonic() < deadline:
            time.sleep(0.2)
        print(f"watch connection closed {time.monotonic() - got:.1f} s after the last event")
        assert _log_count(ews, "watch connection closed") > closed_before, ews.log_tail(60)
    finally:
        first.join()
        acct.inbox.unsubscribe(sub_id)
        for i in acct.inbox.filter(subject__startswith=f"push {token}"):
            i.delete()


def _doveadm(ews, *args):
    import shutil
    import subprocess
    conf = ews.stack.dir / "dovecot" / "dovecot.conf"
    exe = shutil.which("doveadm") or "/usr/bin/doveadm"
    return subprocess.run([exe, "-c", str(conf), *args], capture_output=True, text=True, timeout=30)


def test_streaming_survives_a_lost_watch_connection(ews, acct):
    """`doveadm kick` ends every IMAP connection of the user, the watch connection included: the stream goes on
    (falling back to its poll) and still reports new mail."""
    import threading
    probe = _doveadm(ews, "who")
    if probe.returncode != 0:
        pytest.skip(f"doveadm cannot reach the stack's Dovecot: {probe.stderr.strip()}")
    token = uuid.uuid4().hex[:8]
    sub_id = acct.inbox.subscribe_to_streaming(event_types=["NewMailEvent"])
    lost_before = _log_count(ews, "watch connection lost")
    appended = []

    def kick_then_deliver():
        kicked = _doveadm(ews, "kick", f"alice@{ews.stack.domain}")
        if "alice" not in (kicked.stdout + kicked.stderr):
            kicked = _doveadm(ews, "kick", "alice")
        appended.append((kicked, None))
        time.sleep(0.5)
        appended.append((None, _deliver_timed(ews, f"kicked {token}")))

    timer = threading.Timer(1.5, kick_then_deliver)
    timer.start()
    try:
        started = time.monotonic()
        got = None
        for note in acct.inbox.get_streaming_events(sub_id, connection_timeout=1, max_notifications_returned=1):
            if any(type(e).__name__ == "NewMailEvent" for e in note.events):
                got = time.monotonic()
                break
        timer.join()
        kicked = appended[0][0]
        assert kicked.returncode == 0, (kicked.stdout, kicked.stderr)
        assert got is not None, "no NewMailEvent after the kick"
        latency = got - appended[1][1]
        print(f"after doveadm kick ({kicked.stdout.strip()!r}): event {latency:.3f} s after the append")
        assert got - started < 30
        assert latency < 10, latency
        assert _log_count(ews, "watch connection lost") > lost_before, ews.log_tail(60)
    finally:
        timer.join()
        acct.inbox.unsubscribe(sub_id)
        for i in acct.inbox.filter(subject=f"kicked {token}"):
            i.delete()


def test_unicode_folder_names(ews, acct):
    name = f"Über Ordner ✓ {uuid.uuid4().hex[:6]}"
    f = Folder(parent=acct.msg_folder_root, name=name)
    f.save()
    try:
        again = acct.msg_folder_root / name
        assert again.name == name and again.id == f.id
        m = imap(ews)
        try:
            listing = b"".join(m.list()[1])
            assert b"&ANw-ber Ordner &JxM-" in listing, listing  # RFC 3501 modified UTF-7 on the wire
        finally:
            m.logout()
    finally:
        f.delete()


# ---------------------------------------------------------------------------------------------- delegation

def delegate_account(viaduc, user, owner):
    addr = f"{user}@{viaduc.stack.domain}"
    config = Configuration(service_endpoint=viaduc.url + "/EWS/Exchange.asmx",
                           credentials=Credentials(addr, viaduc.stack.password), auth_type=BASIC,
                           version=Version(build=EXCHANGE_2016))
    return Account(primary_smtp_address=f"{owner}@{viaduc.stack.domain}", config=config, autodiscover=False,
                   access_type=DELEGATE)


def test_delegate_access_follows_imap_acls(ews):
    # 'shared' granted alice all rights on its INBOX (seed): alice reads it through EWS.
    team = delegate_account(ews, "alice", "shared")
    assert team.inbox.total_count >= 4
    subjects = [i.subject for i in team.inbox.all().only("subject")]
    assert "Welcome to the test stack" in subjects
    item = team.inbox.all().only("subject")[0]
    got = list(team.fetch(ids=[(item.id, item.changekey)], only_fields=["subject"]))[0]
    assert got.subject == item.subject
    # alice shared only Projects with bob (lrs).
    bob_view = delegate_account(ews, "bob", "alice")
    assert "Projects" in {f.name for f in bob_view.msg_folder_root.children}
    # carol shared nothing with bob.
    r = post(ews, soap('<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds>'
                       f'<t:DistinguishedFolderId Id="inbox"><t:Mailbox><t:EmailAddress>carol@{ews.stack.domain}'
                       '</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:FolderIds></m:GetFolder>'), user="bob")
    codes = [m.find("m:ResponseCode", NS).text for m in parse(r).findall(".//m:GetFolderResponseMessage", NS)]
    assert codes == ["ErrorAccessDenied"], r.text


# ---------------------------------------------------------------------------------------------- read path

def _find_inbox_ids(ews):
    body = soap('<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>'
                '<m:IndexedPageItemView MaxEntriesReturned="1000" Offset="0" BasePoint="Beginning"/>'
                '<m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>')
    root = parse(post(ews, body))
    view = root.find(".//m:RootFolder", NS)
    return int(view.get("TotalItemsInView")), [i.get("Id") for i in root.iterfind(".//t:ItemId", NS)]


def test_cached_folder_tree_still_sees_other_clients(ews, acct):
    """The folder tree is cached for a few seconds for the item operations; counts and new folders made by
    other clients are still seen at once."""
    total, _ = _find_inbox_ids(ews)
    subject = f"read path {uuid.uuid4().hex[:8]}"
    _deliver(ews, subject)
    total2, ids = _find_inbox_ids(ews)  # within the cache lifetime
    assert total2 == total + 1
    # A folder created over IMAP just now is found by an item operation (the cache is refreshed on a miss).
    name = f"RP {uuid.uuid4().hex[:6]}"
    m = imap(ews)
    try:
        m.create(f'"{name}"')
        m.append(f'"{name}"', None, None, f"Subject: {subject}\r\n\r\nx\r\n".encode())
        body = soap('<m:FindFolder Traversal="Shallow"><m:FolderShape><t:BaseShape>Default</t:BaseShape>'
                    '</m:FolderShape><m:ParentFolderIds><t:DistinguishedFolderId Id="msgfolderroot"/>'
                    '</m:ParentFolderIds></m:FindFolder>')
        fid = next(f.find("t:FolderId", NS).get("Id") for f in parse(post(ews, body)).iterfind(".//t:Folder", NS)
                   if f.findtext("t:DisplayName", namespaces=NS) == name)
        body = soap('<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>'
                    f'<m:ParentFolderIds><t:FolderId Id="{fid}"/></m:ParentFolderIds></m:FindItem>')
        root = parse(post(ews, body))
        assert root.find(".//m:RootFolder", NS).get("TotalItemsInView") == "1"
        # GetItem with only MimeContent (no MIME parsing on the server) returns the message bytes.
        iid = root.find(".//t:ItemId", NS).get("Id")
        body = soap('<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>'
                    '<t:IncludeMimeContent>true</t:IncludeMimeContent></m:ItemShape>'
                    f'<m:ItemIds><t:ItemId Id="{iid}"/></m:ItemIds></m:GetItem>')
        resp = post(ews, body)
        mime = parse(resp).find(".//t:MimeContent", NS)
        assert mime is not None, resp.text
        mime = mime.text
        assert subject.encode() in base64.b64decode(mime)
    finally:
        m.delete(f'"{name}"')
        m.select("INBOX")
        typ, d = m.uid("SEARCH", "SUBJECT", f'"{subject}"')
        for u in d[0].split():
            m.uid("STORE", u, "+FLAGS.SILENT", "(\\Deleted)")
        m.expunge()
        m.logout()


# ---------------------------------------------------------------------------------------------- reply / forward

def _bob_fetch(ews, subject, timeout=30):
    """The raw message with `subject` in bob's INBOX over IMAP (waits for delivery), then deletes it."""
    m = imap(ews, user="bob")
    try:
        deadline = time.time() + timeout
        while True:
            m.select("INBOX")
            typ, d = m.uid("SEARCH", "SUBJECT", f'"{subject}"')
            uids = d[0].split()
            if uids or time.time() > deadline:
                break
            time.sleep(0.5)
        assert uids, f"{subject!r} never reached bob"
        typ, d = m.uid("FETCH", uids[-1], "(BODY.PEEK[])")
        raw = d[0][1]
        for u in uids:
            m.uid("STORE", u, "+FLAGS.SILENT", "(\\Deleted)")
        m.expunge()
        return raw
    finally:
        m.logout()


def test_reply_and_forward_reach_bob_and_flag_the_original(ews, acct):
    import email
    from email import policy
    from exchangelib import FileAttachment
    token = uuid.uuid4().hex[:8]
    subject = f"Question {token}"
    mid = f"<q{token}@example.org>"
    bob = f"bob@{ews.stack.domain}"
    m = imap(ews)
    try:
        msg = (f"From: Bob <{bob}>\r\nTo: alice@{ews.stack.domain}\r\nSubject: {subject}\r\nMessage-ID: {mid}\r\n"
               "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
               "Content-Type: text/plain\r\n\r\nWhat about Tuesday?\r\n--b\r\nContent-Type: text/plain; name=a.txt\r\n"
               "Content-Disposition: attachment; filename=a.txt\r\n\r\nattached text\r\n--b--\r\n")
        m.append("INBOX", None, None, msg.encode())
    finally:
        m.logout()
    orig = acct.inbox.filter(subject=subject).get()
    try:
        orig.reply(subject=None, body="Tuesday is fine.")
        raw = _bob_fetch(ews, f"Re: {subject}")
        got = email.message_from_bytes(raw, policy=policy.default)
        assert got["Subject"] == f"Re: {subject}"
        assert got["In-Reply-To"].strip() == mid
        assert mid in got["References"]
        assert got["From"].addresses[0].addr_spec == acct.primary_smtp_address
        text = got.get_body(("plain",)).get_content()
        assert "Tuesday is fine." in text and "What about Tuesday?" in text
        assert "\\Answered" in imap_flags(ews, "INBOX", subject)

        orig.refresh()
        orig.forward(subject=None, body="FYI", to_recipients=[bob])
        raw = _bob_fetch(ews, f"Fw: {subject}")
        got = email.message_from_bytes(raw, policy=policy.default)
        assert got["Subject"] == f"Fw: {subject}"
        names = [p.get_filename() for p in got.iter_attachments()]
        assert "a.txt" in names
        assert "$Forwarded" in imap_flags(ews, "INBOX", subject)

        # Reply-all to a message sent to alice and carol goes to bob (the sender) and carol, never to alice.
        orig.refresh()
        orig.reply_all(subject=f"Re: {subject} all", body="all of you")
        raw = _bob_fetch(ews, f"Re: {subject} all")
        got = email.message_from_bytes(raw, policy=policy.default)
        assert acct.primary_smtp_address not in str(got["To"]) + str(got.get("Cc", ""))
    finally:
        for it in acct.inbox.filter(subject=subject):
            it.delete()
        for it in acct.sent.filter(subject__contains=token):
            it.delete()


# ---------------------------------------------------------------------------------------------- smaller operations

def test_get_server_time_zones(ews, acct):
    zones = list(acct.protocol.get_timezones(return_full_timezone_data=True))
    ids = {z.id for z in zones}
    assert {"Pacific Standard Time", "W. Europe Standard Time", "UTC"} <= ids
    pst = next(z for z in zones if z.id == "Pacific Standard Time")
    assert pst.name
    assert pst.periods and pst.transitions_groups and pst.transitions
    # With an Id filter and without full data, only the names come back.
    body = soap('<m:GetServerTimeZones ReturnFullTimeZoneData="false"><m:Ids><t:Id>Tokyo Standard Time</t:Id>'
                '<t:Id>No Such Zone</t:Id></m:Ids></m:GetServerTimeZones>')
    root = parse(post(ews, body))
    defs = root.findall(".//t:TimeZoneDefinition", NS)
    assert [d.get("Id") for d in defs] == ["Tokyo Standard Time"]
    assert defs[0].find("t:Periods", NS) is None
    # Full data for W. Europe: a Standard period of -PT1H and a Daylight one of -PT2H in the current rules.
    body = soap('<m:GetServerTimeZones ReturnFullTimeZoneData="true"><m:Ids><t:Id>W. Europe Standard Time</t:Id>'
                '</m:Ids></m:GetServerTimeZones>')
    root = parse(post(ews, body))
    periods = [(p.get("Name"), p.get("Bias")) for p in root.iterfind(".//t:Period", NS)]
    assert ("Standard", "-PT1H") in periods and ("Daylight", "-PT2H") in periods
    # The current rules (the last group): last Sunday of March and of October.
    last = root.findall(".//t:TransitionsGroup", NS)[-1]
    recs = [(r.findtext("t:Month", namespaces=NS), r.findtext("t:DayOfWeek", namespaces=NS),
             r.findtext("t:Occurrence", namespaces=NS)) for r in last.iterfind("t:RecurringDayTransition", NS)]
    assert sorted(recs) == [("10", "Sunday", "-1"), ("3", "Sunday", "-1")], recs


def test_expand_dl(ews, acct):
    members = acct.protocol.expand_dl(f"team@{ews.stack.domain}")
    addrs = sorted(m.email_address for m in members)
    assert addrs == [f"{u}@{ews.stack.domain}" for u in ("alice", "bob", "carol")]
    body = soap(f'<m:ExpandDL><m:Mailbox><t:EmailAddress>nobody@{ews.stack.domain}</t:EmailAddress></m:Mailbox>'
                '</m:ExpandDL>')
    root = parse(post(ews, body))
    assert root.findtext(".//m:ResponseCode", namespaces=NS) == "ErrorNameResolutionNoResults"


def test_get_mail_tips(ews):
    d = ews.stack.domain
    body = soap(f'<m:GetMailTips><m:SendingAs><t:EmailAddress>alice@{d}</t:EmailAddress></m:SendingAs>'
                f'<m:Recipients><t:Mailbox><t:EmailAddress>bob@{d}</t:EmailAddress></t:Mailbox>'
                f'<t:Mailbox><t:EmailAddress>team@{d}</t:EmailAddress></t:Mailbox>'
                f'<t:Mailbox><t:EmailAddress>nobody@{d}</t:EmailAddress></t:Mailbox></m:Recipients>'
                '<m:MailTipsRequested>All</m:MailTipsRequested></m:GetMailTips>')
    root = parse(post(ews, body))
    resp = root.find(".//m:GetMailTipsResponse", NS)
    assert resp.get("ResponseClass") == "Success"
    tips = root.findall(".//m:MailTipsResponseMessageType/m:MailTips", NS)
    assert len(tips) == 3
    by = {t.findtext("t:RecipientAddress/t:EmailAddress", namespaces=NS): t for t in tips}
    bob = by[f"bob@{d}"]
    assert bob.findtext("t:MailboxFull", namespaces=NS) == "false"
    assert bob.findtext("t:InvalidRecipient", namespaces=NS) == "false"
    assert int(bob.findtext("t:MaxMessageSize", namespaces=NS)) > 0
    assert bob.find("t:OutOfOffice/t:ReplyBody/t:Message", NS).text in (None, "")
    assert by[f"team@{d}"].findtext("t:TotalMemberCount", namespaces=NS) == "3"
    assert by[f"nobody@{d}"].findtext("t:InvalidRecipient", namespaces=NS) == "true"


def test_get_service_configuration(ews):
    body = soap('<m:GetServiceConfiguration><m:RequestedConfiguration><m:ConfigurationName>MailTips'
                '</m:ConfigurationName><m:ConfigurationName>UnifiedMessagingConfiguration</m:ConfigurationName>'
                '<m:ConfigurationName>ProtectionRules</m:ConfigurationName></m:RequestedConfiguration>'
                '</m:GetServiceConfiguration>')
    root = parse(post(ews, body))
    msg = root.find(".//m:ServiceConfigurationResponseMessageType", NS)
    assert msg.get("ResponseClass") == "Success"
    mt = msg.find("m:MailTipsConfiguration", NS)
    assert mt.findtext("t:MailTipsEnabled", namespaces=NS) == "true"
    assert ews.stack.domain in [x.get("Name") for x in mt.iterfind("t:InternalDomains/t:Domain", NS)]
    assert msg.find("m:UnifiedMessagingConfiguration/t:UmEnabled", NS).text == "false"
    rules = msg.find("m:ProtectionRulesConfiguration/t:Rules", NS)
    assert rules is not None and len(rules) == 0


def test_archive_item(ews, acct):
    subject = f"archive me {uuid.uuid4().hex[:8]}"
    _deliver(ews, subject)
    item = acct.inbox.filter(subject=subject).get()
    body = soap('<m:ArchiveItem><m:ArchiveSourceFolderId><t:DistinguishedFolderId Id="inbox"/>'
                f'</m:ArchiveSourceFolderId><m:ItemIds><t:ItemId Id="{item.id}"/></m:ItemIds></m:ArchiveItem>')
    root = parse(post(ews, body))
    assert root.findtext(".//m:ResponseCode", namespaces=NS) == "NoError", post(ews, body).text
    assert acct.inbox.filter(subject=subject).count() == 0
    m = imap(ews)
    try:
        m.select("Archive")
        typ, d = m.uid("SEARCH", "SUBJECT", f'"{subject}"')
        uids = d[0].split()
        assert len(uids) == 1
        m.uid("STORE", uids[0], "+FLAGS.SILENT", "(\\Deleted)")
        m.expunge()
    finally:
        m.logout()


def test_create_folder_path(ews, acct):
    top = f"Path {uuid.uuid4().hex[:6]}"
    body = soap('<m:CreateFolderPath><m:ParentFolderId><t:DistinguishedFolderId Id="msgfolderroot"/>'
                f'</m:ParentFolderId><m:RelativeFolderPath><t:Folder><t:DisplayName>{top}</t:DisplayName></t:Folder>'
                '<t:Folder><t:DisplayName>Sub</t:DisplayName></t:Folder>'
                '<t:Folder><t:DisplayName>Leaf</t:DisplayName></t:Folder></m:RelativeFolderPath>'
                '</m:CreateFolderPath>')
    root = parse(post(ews, body))
    msgs = root.findall(".//m:CreateFolderPathResponseMessage", NS)
    assert [x.get("ResponseClass") for x in msgs] == ["Success"] * 3
    assert all(x.find(".//t:FolderId", NS) is not None for x in msgs)
    m = imap(ews)
    try:
        typ, d = m.list(f'"{top}"', "*")
        names = b" ".join(d).decode()
        assert "Sub" in names and "Leaf" in names
        # Again: the existing folders are reused.
        root = parse(post(ews, body))
        assert [x.get("ResponseClass") for x in root.findall(".//m:CreateFolderPathResponseMessage", NS)] == \
            ["Success"] * 3
    finally:
        for sub in ("/Sub/Leaf", "/Sub", ""):
            m.delete(f'"{top}{sub}"')
        m.logout()


def test_get_item_many_with_mime_in_one_request(ews, acct):
    """Several items of two folders with MimeContent and Body in one GetItem (fetched per folder), one id twice,
    one missing: one answer per id, in order."""
    items = list(acct.inbox.all().only("subject")[:3])
    assert len(items) == 3
    sent = list(acct.sent.all().only("subject")[:1])
    ids = [i.id for i in items] + [items[0].id]
    missing = items[1].id[:-6] + ("AAAAAA" if not items[1].id.endswith("AAAAAA") else "BBBBBB")
    body = soap('<m:GetItem><m:ItemShape><t:BaseShape>Default</t:BaseShape>'
                '<t:IncludeMimeContent>true</t:IncludeMimeContent></m:ItemShape><m:ItemIds>'
                + "".join(f'<t:ItemId Id="{i}"/>' for i in ids) + f'<t:ItemId Id="{missing}"/>'
                + "".join(f'<t:ItemId Id="{s.id}"/>' for s in sent) + '</m:ItemIds></m:GetItem>')
    root = parse(post(ews, body))
    msgs = root.findall(".//m:GetItemResponseMessage", NS)
    assert len(msgs) == len(ids) + 1 + len(sent)
    for i, it in enumerate(items + [items[0]]):
        assert msgs[i].get("ResponseClass") == "Success"
        mime = base64.b64decode(msgs[i].find(".//t:MimeContent", NS).text)
        assert msgs[i].findtext(".//t:Subject", namespaces=NS) == it.subject
        assert b"Subject:" in mime
    assert msgs[len(ids)].get("ResponseClass") == "Error"
    for m, s in zip(msgs[len(ids) + 1:], sent):
        assert m.findtext(".//t:Subject", namespaces=NS) == s.subject
