"""The address book end to end: ResolveNames, ExpandDL and FindPeople through Viaduc against the real OpenLDAP
(the Global Address List) and Radicale (alice's contacts) of the test stack, driven by exchangelib 5.6 and,
for FindPeople (exchangelib has no call that sends a QueryString to the directory), by raw SOAP requests.

What is covered: bob and the seeded distribution list (cn=team, "Engineering Team") resolved from the directory
with full contact data; a contact created in alice's contacts resolved with the Contacts and
ContactsActiveDirectory scopes (MailboxType Contact, its item id, ContactSource Store) and not with
ActiveDirectory; the seeded "Dave External" (in the directory and in alice's contacts) returned from both
sources, the scope's first source first; a contact group resolved as a PrivateDL and expanded by its item id;
FindPeople on the directory and on the contacts folder, with paging.

Each test removes what it creates.
"""
import uuid
import xml.etree.ElementTree as ET

import pytest

from test_ews_mail import NS, account, ews, parse, post, soap  # noqa: F401  (ews: exchangelib trusts the CA)

exchangelib = pytest.importorskip("exchangelib")
from exchangelib import Contact, DistributionList  # noqa: E402
from exchangelib.indexed_properties import EmailAddress  # noqa: E402
from exchangelib.properties import DLMailbox, ItemId, Mailbox, Member  # noqa: E402


@pytest.fixture(scope="module")
def alice(ews):  # noqa: F811
    return account(ews, "alice")


@pytest.fixture()
def marked_contact(alice):
    """A contact in alice's contacts with a unique name and address; removed afterwards."""
    marker = uuid.uuid4().hex[:8]
    c = Contact(account=alice, folder=alice.contacts, given_name="Zora", surname=f"Quill{marker}",
                display_name=f"Zora Quill{marker}", company_name="Quill & Co", job_title="Cartographer",
                email_addresses=[EmailAddress(label="EmailAddress1", email=f"zora.{marker}@quill.example")])
    c.save()
    try:
        yield marker, c
    finally:
        alice.contacts.get(id=c.id).delete()


def errors_only(res):
    return len(res) == 1 and type(res[0]).__name__ == "ErrorNameResolutionNoResults"


def test_resolve_names_finds_bob_in_the_directory(ews, alice):  # noqa: F811
    d = ews.stack.domain
    res = alice.protocol.resolve_names(["bob"], return_full_contact_data=True)
    found = [(m, c) for m, c in res if m.email_address == f"bob@{d}"]
    assert len(found) == 1, res
    mailbox, contact = found[0]
    assert mailbox.name == "Bob Brown" and mailbox.mailbox_type == "Mailbox"
    assert contact.display_name == "Bob Brown"
    assert contact.job_title == "Software Engineer"


def test_resolve_names_finds_the_distribution_list(ews, alice):  # noqa: F811
    d = ews.stack.domain
    for query in ("team", "Engineering", f"SMTP:team@{d}"):
        res = alice.protocol.resolve_names([query])
        dl = [m for m in res if getattr(m, "email_address", None) == f"team@{d}"]
        assert len(dl) == 1, (query, res)
        assert dl[0].mailbox_type == "PublicDL" and dl[0].name == "Engineering Team"
    members = alice.protocol.expand_dl(f"team@{d}")
    assert sorted(m.email_address for m in members) == [f"{u}@{d}" for u in ("alice", "bob", "carol")]


def test_contact_is_resolved_with_the_contacts_scopes(alice, marked_contact):
    marker, c = marked_contact
    addr = f"zora.{marker}@quill.example"
    for scope in ("Contacts", "ContactsActiveDirectory", None):
        res = alice.protocol.resolve_names([f"Zora Quill{marker}"], return_full_contact_data=True,
                                           search_scope=scope)
        assert len(res) == 1, (scope, res)
        mailbox, contact = res[0]
        assert mailbox.email_address == addr and mailbox.mailbox_type == "Contact", scope
        assert mailbox.item_id is not None and mailbox.item_id.id == c.id, scope
        assert contact.display_name == f"Zora Quill{marker}" and contact.job_title == "Cartographer"
        assert contact.contact_source == "Store"
    # By address prefix, and exactly.
    assert alice.protocol.resolve_names([f"zora.{marker}"], search_scope="Contacts")[0].email_address == addr
    assert alice.protocol.resolve_names([f"SMTP:{addr}"], search_scope="Contacts")[0].email_address == addr
    # The directory alone does not know it.
    assert errors_only(alice.protocol.resolve_names([f"Zora Quill{marker}"], search_scope="ActiveDirectory"))
    # A named contacts folder is searched; so is the default one.
    res = alice.protocol.resolve_names([f"quill{marker}"], parent_folders=[alice.contacts], search_scope="Contacts")
    assert [m.email_address for m in res] == [addr]


def test_duplicates_come_from_both_sources_in_scope_order(alice):
    # "Dave External" is in the directory (ou=contacts) and in alice's seeded contacts.
    res = alice.protocol.resolve_names(["dave"], search_scope="ContactsActiveDirectory")
    assert [m.email_address for m in res] == ["dave@partner.example", "dave@partner.example"], res
    assert res[0].mailbox_type == "Contact"
    assert res[0].item_id is not None and res[1].item_id is None, "the store's contact first, then the directory's"
    res = alice.protocol.resolve_names(["dave"], search_scope="ActiveDirectoryContacts")
    assert res[0].item_id is None and res[1].item_id is not None


def test_contact_group_resolves_as_private_dl_and_expands(alice, marked_contact):
    marker, c = marked_contact
    name = f"Quill circle {marker}"
    dl = DistributionList(account=alice, folder=alice.contacts, display_name=name, members=[
        Member(mailbox=Mailbox(email_address=f"zora.{marker}@quill.example", name=f"Zora Quill{marker}")),
        Member(mailbox=Mailbox(email_address=f"ink.{marker}@quill.example", name="Ink")),
    ])
    dl.save()
    try:
        res = alice.protocol.resolve_names([name], search_scope="Contacts")
        assert len(res) == 1, res
        assert res[0].mailbox_type == "PrivateDL" and res[0].item_id.id == dl.id
        members = alice.protocol.expand_dl(DLMailbox(item_id=ItemId(id=dl.id), mailbox_type="PrivateDL"))
        assert sorted(m.email_address for m in members) == sorted(
            [f"zora.{marker}@quill.example", f"ink.{marker}@quill.example"])
        assert all(m.mailbox_type == "OneOff" for m in members)
    finally:
        alice.contacts.get(id=dl.id).delete()


def find_people(ews, parent, query=None, max_entries=10, offset=0, shape="Default"):  # noqa: F811
    q = f"<m:QueryString>{query}</m:QueryString>" if query else ""
    body = soap(f'<m:FindPeople><m:PersonaShape><t:BaseShape>{shape}</t:BaseShape></m:PersonaShape>'
                f'<m:IndexedPageItemView BasePoint="Beginning" Offset="{offset}" MaxEntriesReturned="{max_entries}"/>'
                f'<m:ParentFolderId>{parent}</m:ParentFolderId>{q}</m:FindPeople>', version="Exchange2013")
    r = post(ews, body)
    assert r.status_code == 200, r.text[:500]
    resp = parse(r).find("s:Body/m:FindPeopleResponse", NS)
    assert resp is not None, r.text[:1000]
    return resp


def test_find_people_in_the_directory(ews):  # noqa: F811
    d = ews.stack.domain
    resp = find_people(ews, '<t:DistinguishedFolderId Id="directory"/>', "bob")
    assert resp.get("ResponseClass") == "Success", ET.tostring(resp)
    assert resp.findtext("m:ResponseCode", namespaces=NS) == "NoError"
    people = resp.findall("m:People/t:Persona", NS)
    assert [p.findtext("t:DisplayName", namespaces=NS) for p in people] == ["Bob Brown"]
    assert people[0].findtext("t:EmailAddress/t:EmailAddress", namespaces=NS) == f"bob@{d}"
    assert people[0].find("t:PersonaId", NS).get("Id")
    assert resp.findtext("m:TotalNumberOfPeopleInView", namespaces=NS) == "1"
    # The whole directory, one page of two.
    resp = find_people(ews, '<t:DistinguishedFolderId Id="directory"/>', max_entries=2, offset=1)
    assert len(resp.findall("m:People/t:Persona", NS)) == 2
    assert int(resp.findtext("m:TotalNumberOfPeopleInView", namespaces=NS)) >= 5
    assert resp.findtext("m:FirstLoadedRowIndex", namespaces=NS) == "1"


def test_find_people_in_the_contacts_folder(ews, alice, marked_contact):  # noqa: F811
    marker, c = marked_contact
    resp = find_people(ews, '<t:DistinguishedFolderId Id="contacts"/>', f"Quill{marker}")
    assert resp.get("ResponseClass") == "Success", ET.tostring(resp)
    people = resp.findall("m:People/t:Persona", NS)
    assert [p.findtext("t:DisplayName", namespaces=NS) for p in people] == [f"Zora Quill{marker}"]
    assert people[0].find("t:PersonaId", NS).get("Id") == c.id
    assert people[0].findtext("t:CompanyName", namespaces=NS) == "Quill & Co"
    # exchangelib's own FindPeople (no query string) reads the personas.
    personas = list(alice.contacts.people())
    assert f"Zora Quill{marker}" in [p.display_name for p in personas]
    assert "Dave External" in [p.display_name for p in personas]
    # A folder that is not a contacts folder is refused with an EWS error (HTTP 200).
    resp = find_people(ews, '<t:DistinguishedFolderId Id="inbox"/>', "x")
    assert resp.get("ResponseClass") == "Error"
