"""EWS scenarios the issue asks for, end to end against the real stack (exchangelib + direct IMAP):

- alice sends bob a message with an attachment; it arrives in bob's Inbox, seen through EWS and over IMAP;
- categories are IMAP keywords, visible over IMAP;
- SyncFolderItems across two rounds sees what another IMAP client did in between (flag change, APPEND,
  expunge → Update, Create, Delete);
- paging over a folder of 1,000 messages, 100 at a time (count, order, no duplicates, IncludesLastItemInRange).

With VIADUC_RECORD_FIXTURES=1 the raw request/response pairs of the operations used here are written to
protocol-fixtures/ews/ (`*.viaduc.request.xml` / `*.viaduc.response.xml`).
"""
import email
import os
import pathlib
import time
import uuid
from email import policy

import pytest

exchangelib = pytest.importorskip("exchangelib")
from exchangelib import FileAttachment, Message  # noqa: E402

from test_ews_mail import NS, account, acct, ews, imap, parse, post, soap  # noqa: E402,F401

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "protocol-fixtures" / "ews"


def recorded(ews, name, body, user="alice"):
    """POSTs a raw EWS request; with VIADUC_RECORD_FIXTURES=1 also stores the pair as fixtures."""
    resp = post(ews, body, user=user)
    if os.environ.get("VIADUC_RECORD_FIXTURES") == "1":
        (FIXTURES / f"{name}.viaduc.request.xml").write_bytes(body)
        (FIXTURES / f"{name}.viaduc.response.xml").write_bytes(resp.content)
    return resp


def _wait_imap(ews, user, folder, subject, timeout=30):
    m = imap(ews, user=user)
    try:
        deadline = time.time() + timeout
        while True:
            m.select(f'"{folder}"')
            typ, d = m.uid("SEARCH", "SUBJECT", f'"{subject}"')
            if d[0].split() or time.time() > deadline:
                return d[0].split()
            time.sleep(0.5)
    finally:
        m.logout()


def test_send_with_attachment_arrives_in_bobs_inbox(ews, acct):
    token = uuid.uuid4().hex[:8]
    subject = f"To bob with attachment {token}"
    bob = f"bob@{ews.stack.domain}"
    msg = Message(account=acct, folder=acct.sent, subject=subject, body="See the attached numbers.",
                  to_recipients=[bob])
    msg.attach(FileAttachment(name="numbers.csv", content=b"a,b\n1,2\n", content_type="text/csv"))
    msg.send_and_save()
    bob_acct = account(ews, user="bob")
    try:
        # Over IMAP directly.
        uids = _wait_imap(ews, "bob", "INBOX", subject)
        assert len(uids) == 1
        m = imap(ews, user="bob")
        try:
            m.select("INBOX", readonly=True)
            typ, d = m.uid("FETCH", uids[0], "(BODY.PEEK[])")
            got = email.message_from_bytes(d[0][1], policy=policy.default)
        finally:
            m.logout()
        assert got["From"].addresses[0].addr_spec == acct.primary_smtp_address
        atts = {p.get_filename(): p.get_content() for p in got.iter_attachments()}
        assert atts.get("numbers.csv") in ("a,b\n1,2\n", b"a,b\n1,2\n")
        # Through EWS as bob, with the attachment.
        item = bob_acct.inbox.filter(subject=subject).get()
        assert item.sender.email_address == acct.primary_smtp_address
        assert item.has_attachments
        [att] = [a for a in item.attachments if a.name == "numbers.csv"]
        assert att.content == b"a,b\n1,2\n"
        assert "attached numbers" in item.body
    finally:
        for it in bob_acct.inbox.filter(subject=subject):
            it.delete()
        for it in acct.sent.filter(subject=subject):
            it.delete()


def folder_named(ews, name):
    """The exchangelib folder `name`, through a new Account (exchangelib keeps the folder tree it read once,
    `root.refresh()` does not show folders created elsewhere since)."""
    return next(f for f in account(ews).root.walk() if f.name == name)


def _deliver(ews, subject, folder="INBOX"):
    m = imap(ews)
    try:
        raw = f"From: n@example.org\r\nTo: alice@{ews.stack.domain}\r\nSubject: {subject}\r\n\r\nhello\r\n"
        m.append(f'"{folder}"', None, None, raw.encode())
    finally:
        m.logout()


def test_categories_are_imap_keywords(ews, acct):
    subject = f"categorize {uuid.uuid4().hex[:8]}"
    _deliver(ews, subject)
    try:
        item = acct.inbox.filter(subject=subject).get()
        item.categories = ["Projects", "Red"]
        item.save(update_fields=["categories"])
        m = imap(ews)
        try:
            m.select("INBOX", readonly=True)
            typ, d = m.uid("SEARCH", "SUBJECT", f'"{subject}"')
            typ, d = m.uid("FETCH", d[0].split()[0], "(FLAGS)")
            flags = d[0].decode()
        finally:
            m.logout()
        assert "Projects" in flags and "Red" in flags, flags
        assert sorted(acct.inbox.filter(subject=subject).get().categories) == ["Projects", "Red"]
        # A keyword set over IMAP shows as a category.
        m = imap(ews)
        try:
            m.select("INBOX")
            typ, d = m.uid("SEARCH", "SUBJECT", f'"{subject}"')
            m.uid("STORE", d[0].split()[0], "+FLAGS", "(Blue)")
        finally:
            m.logout()
        assert "Blue" in acct.inbox.filter(subject=subject).get().categories
    finally:
        for it in acct.inbox.filter(subject=subject):
            it.delete()


def test_sync_folder_items_sees_other_imap_clients(ews, acct):
    name = f"sync-{uuid.uuid4().hex[:6]}"
    m = imap(ews)
    m.create(f'"{name}"')
    try:
        for i in range(3):
            m.append(f'"{name}"', None, None, f"Subject: s{i}\r\n\r\nbody {i}\r\n".encode())
        folder = folder_named(ews, name)
        first = list(folder.sync_items())
        assert sorted(c for c, _ in first) == ["create"] * 3
        state = folder.item_sync_state
        # Another client: flag s0, expunge s1, append s3.
        m.select(f'"{name}"')
        typ, d = m.uid("SEARCH", "ALL")
        u0, u1, _ = d[0].split()
        m.uid("STORE", u0, "+FLAGS", "(\\Flagged)")
        m.uid("STORE", u1, "+FLAGS.SILENT", "(\\Deleted)")
        m.expunge()
        m.append(f'"{name}"', None, None, b"Subject: s3\r\n\r\nbody 3\r\n")
        folder.item_sync_state = state
        second = list(folder.sync_items())
        kinds = sorted(c for c, _ in second)
        assert kinds == ["create", "delete", "update"], second
        created = [i for c, i in second if c == "create"][0]
        assert created.subject == "s3"
        updated = [i for c, i in second if c == "update"][0]
        assert updated.subject == "s0"
        # Nothing more after that.
        assert list(folder.sync_items()) == []
    finally:
        m.logout()
        m = imap(ews)
        m.delete(f'"{name}"')
        m.logout()


def _multiappend(m, folder, messages):
    """One MULTIAPPEND (RFC 3502) with non-synchronising literals (RFC 7888): one round trip."""
    tag = m._new_tag()
    parts = [tag + f' APPEND "{folder}"'.encode()]
    for raw in messages:
        parts.append(f" (\\Seen) {{{len(raw)}+}}\r\n".encode() + raw)
    m.send(b"".join(parts) + b"\r\n")
    typ, data = m._command_complete("APPEND", tag)
    assert typ == "OK", data


def test_paging_over_1000_messages(ews, acct):
    name = f"paging-{uuid.uuid4().hex[:6]}"
    m = imap(ews)
    m.create(f'"{name}"')
    try:
        msgs = [f"Subject: page {i:04d}\r\nMessage-ID: <p{i}.{name}@example.org>\r\n\r\n{i}\r\n".encode()
                for i in range(1000)]
        _multiappend(m, name, msgs)
        typ, d = m.status(f'"{name}"', "(MESSAGES)")
        assert b"MESSAGES 1000" in d[0], d
        folder = folder_named(ews, name)
        assert folder.total_count == 1000
        qs = folder.all().order_by("subject").only("subject")
        qs.page_size = 100
        subjects = [i.subject for i in qs]
        assert len(subjects) == 1000
        assert len(set(subjects)) == 1000
        assert subjects == [f"page {i:04d}" for i in range(1000)]
        # The raw paging: IncludesLastItemInRange only on the last page, offsets advance by 100.
        seen = []
        for offset in range(0, 1000, 100):
            body = soap('<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>'
                        '<t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties>'
                        f'</m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="100" Offset="{offset}" '
                        'BasePoint="Beginning"/><m:SortOrder><t:FieldOrder Order="Ascending">'
                        '<t:FieldURI FieldURI="item:Subject"/></t:FieldOrder></m:SortOrder>'
                        f'<m:ParentFolderIds><t:FolderId Id="{folder.id}"/></m:ParentFolderIds></m:FindItem>')
            resp = recorded(ews, "finditem-paging-1000", body) if offset == 900 else post(ews, body)
            rf = parse(resp).find(".//m:RootFolder", NS)
            assert rf.get("TotalItemsInView") == "1000"
            assert rf.get("IncludesLastItemInRange") == ("true" if offset == 900 else "false")
            if offset < 900:
                assert rf.get("IndexedPagingOffset") == str(offset + 100)
            page = [s.text for s in rf.iterfind(".//t:Subject", NS)]
            assert len(page) == 100
            seen += page
        assert seen == [f"page {i:04d}" for i in range(1000)]
    finally:
        m.logout()
        m = imap(ews)
        m.delete(f'"{name}"')
        m.logout()


def test_record_fixtures_of_smaller_operations(ews, acct):
    """The request/response pairs of the smaller operations (also checks each answers NoError)."""
    d = ews.stack.domain
    cases = {
        "getservertimezones-filtered": '<m:GetServerTimeZones ReturnFullTimeZoneData="true"><m:Ids>'
                                       '<t:Id>W. Europe Standard Time</t:Id></m:Ids></m:GetServerTimeZones>',
        "expanddl-team": f'<m:ExpandDL><m:Mailbox><t:EmailAddress>team@{d}</t:EmailAddress></m:Mailbox></m:ExpandDL>',
        "getmailtips": f'<m:GetMailTips><m:SendingAs><t:EmailAddress>alice@{d}</t:EmailAddress></m:SendingAs>'
                       f'<m:Recipients><t:Mailbox><t:EmailAddress>bob@{d}</t:EmailAddress></t:Mailbox>'
                       f'<t:Mailbox><t:EmailAddress>team@{d}</t:EmailAddress></t:Mailbox>'
                       f'<t:Mailbox><t:EmailAddress>nobody@{d}</t:EmailAddress></t:Mailbox></m:Recipients>'
                       '<m:MailTipsRequested>All</m:MailTipsRequested></m:GetMailTips>',
        "getserviceconfiguration": '<m:GetServiceConfiguration><m:RequestedConfiguration>'
                                   '<m:ConfigurationName>MailTips</m:ConfigurationName>'
                                   '<m:ConfigurationName>UnifiedMessagingConfiguration</m:ConfigurationName>'
                                   '<m:ConfigurationName>ProtectionRules</m:ConfigurationName>'
                                   '</m:RequestedConfiguration></m:GetServiceConfiguration>',
    }
    for name, op in cases.items():
        resp = recorded(ews, name, soap(op))
        codes = [c.text for c in parse(resp).iterfind(".//m:ResponseCode", NS)]
        assert codes and all(c == "NoError" for c in codes), (name, resp.text)
    # ReplyToItem and ArchiveItem on a delivered message; CreateFolderPath.
    subject = f"fixture {uuid.uuid4().hex[:6]}"
    _deliver(ews, subject)
    item = acct.inbox.filter(subject=subject).get()
    body = soap('<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:ReplyToItem>'
                f'<t:ReferenceItemId Id="{item.id}" ChangeKey="{item.changekey}"/>'
                '<t:NewBodyContent BodyType="Text">Thanks!</t:NewBodyContent></t:ReplyToItem></m:Items>'
                '</m:CreateItem>')
    resp = recorded(ews, "createitem-replytoitem-saveonly", body)
    assert parse(resp).findtext(".//m:ResponseCode", namespaces=NS) == "NoError", resp.text
    body = soap('<m:ArchiveItem><m:ArchiveSourceFolderId><t:DistinguishedFolderId Id="inbox"/>'
                f'</m:ArchiveSourceFolderId><m:ItemIds><t:ItemId Id="{item.id}"/></m:ItemIds></m:ArchiveItem>')
    resp = recorded(ews, "archiveitem", body)
    assert parse(resp).findtext(".//m:ResponseCode", namespaces=NS) == "NoError", resp.text
    top = f"FixturePath{uuid.uuid4().hex[:4]}"
    body = soap('<m:CreateFolderPath><m:ParentFolderId><t:DistinguishedFolderId Id="msgfolderroot"/>'
                f'</m:ParentFolderId><m:RelativeFolderPath><t:Folder><t:DisplayName>{top}</t:DisplayName>'
                '</t:Folder><t:Folder><t:DisplayName>Sub</t:DisplayName></t:Folder></m:RelativeFolderPath>'
                '</m:CreateFolderPath>')
    resp = recorded(ews, "createfolderpath", body)
    assert [c.text for c in parse(resp).iterfind(".//m:ResponseCode", NS)] == ["NoError"] * 2, resp.text
    m = imap(ews)
    try:
        m.delete(f'"{top}/Sub"')
        m.delete(f'"{top}"')
        for folder in ("Archive", "Drafts"):
            m.select(folder)
            typ, d = m.uid("SEARCH", "SUBJECT", f'"{subject}"')
            for u in d[0].split():
                m.uid("STORE", u, "+FLAGS.SILENT", "(\\Deleted)")
            m.expunge()
    finally:
        m.logout()
