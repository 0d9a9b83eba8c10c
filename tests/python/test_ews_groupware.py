"""EWS calendar, contacts and tasks end to end: exchangelib against Viaduc + the real Radicale of the test stack.

What is covered (issue 4): the groupware folders in the tree with their classes; a weekly Europe/Paris meeting
with a modified and a deleted occurrence, read back through EWS and directly over CalDAV (RRULE, EXDATE,
RECURRENCE-ID); an event PUT over CalDAV by another client read through EWS; a CalendarView across the March DST
change (every occurrence at 09:00 Paris time); contacts and tasks round-tripped both ways (EWS → vCard/VTODO on
the server → EWS, and server → EWS); SyncFolderItems on a calendar across two rounds with a change made over
CalDAV; creating, renaming and deleting a calendar folder.

Each test uses its own UIDs/subjects and removes what it creates.
"""
import datetime
from decimal import Decimal
import re
import uuid

import pytest
import requests

from test_ews_mail import account, ews  # noqa: F401  (fixture: exchangelib trusts the stack CA)

exchangelib = pytest.importorskip("exchangelib")
from exchangelib import (  # noqa: E402
    CalendarItem, Contact, EWSDate, EWSDateTime, EWSTimeZone, Task)
from exchangelib.fields import MONDAY, TUESDAY  # noqa: E402
from exchangelib.indexed_properties import EmailAddress, PhoneNumber, PhysicalAddress  # noqa: E402
from exchangelib.properties import Attendee, Mailbox  # noqa: E402
from exchangelib.recurrence import Recurrence, WeeklyPattern  # noqa: E402

PARIS = EWSTimeZone("Europe/Paris")
UTC = EWSTimeZone("UTC")


@pytest.fixture(scope="module")
def alice(ews):  # noqa: F811
    return account(ews, "alice")


def dav(stack, user, method, path, body=None, headers=None):
    """A request straight to Radicale as `user` (another CalDAV/CardDAV client)."""
    url = stack.dav_url.rstrip("/") + path
    h = {"Content-Type": "text/calendar; charset=utf-8"}
    h.update(headers or {})
    r = requests.request(method, url, data=body.encode() if isinstance(body, str) else body, headers=h,
                         auth=(f"{user}@{stack.domain}", stack.password), timeout=30)
    return r


def calendar_path(stack, user="alice", name="calendar"):
    return f"/{user}/{name}/"


def find_ics(stack, uid_or_subject, user="alice", name="calendar"):
    """The .ics text of the object in the user's calendar whose data contains the marker."""
    body = ('<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            '<d:prop><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter>'
            '</c:calendar-query>')
    r = dav(stack, user, "REPORT", calendar_path(stack, user, name), body,
            {"Depth": "1", "Content-Type": "application/xml"})
    assert r.status_code == 207, r.text[:500]
    import html
    for data in re.findall(r"<[^>]*calendar-data[^>]*>(.*?)</[^>]*calendar-data>", r.text, re.S):
        data = html.unescape(data)
        if uid_or_subject in data:
            return data.replace("\r\n ", "").replace("\n ", "")
    return None


def test_groupware_folders_are_in_the_tree(alice):
    assert alice.calendar.folder_class == "IPF.Appointment"
    assert alice.contacts.folder_class == "IPF.Contact"
    assert alice.tasks.folder_class == "IPF.Task"
    classes = {f.folder_class for f in alice.msg_folder_root.children}
    assert {"IPF.Appointment", "IPF.Contact", "IPF.Task", "IPF.Note"} <= classes


def test_weekly_paris_meeting_with_exception_and_deleted_occurrence(alice, stack):
    subject = f"Weekly sync {uuid.uuid4().hex[:8]}"
    start = EWSDateTime(2027, 1, 4, 9, 0, tzinfo=PARIS)  # a Monday
    item = CalendarItem(
        account=alice, folder=alice.calendar, subject=subject, body="Agenda", location="Salle 1",
        start=start, end=start + datetime.timedelta(hours=1),
        recurrence=Recurrence(pattern=WeeklyPattern(interval=1, weekdays=[MONDAY]), start=start.date(), number=6),
    )
    item.save()
    try:
        master = alice.calendar.get(id=item.id)
        assert master.type == "RecurringMaster"
        assert master.recurrence.boundary.number == 6
        assert master.start.astimezone(PARIS).hour == 9

        # Second occurrence: moved one hour later and renamed. Third: deleted.
        second = master.occurrence(index=2)
        second.refresh()
        assert second.type == "Occurrence"
        second.subject = subject + " (moved)"
        second.start = second.start + datetime.timedelta(hours=1)
        second.end = second.end + datetime.timedelta(hours=1)
        second.save(update_fields=["subject", "start", "end"])
        third = master.occurrence(index=3)
        third.refresh()
        third.delete()

        # Instance indexes count the deleted occurrence: the 4th is still 25 January.
        fourth = master.occurrence(index=4)
        fourth.refresh()
        assert fourth.start.astimezone(PARIS) == EWSDateTime(2027, 1, 25, 9, 0, tzinfo=PARIS)

        master = alice.calendar.get(id=item.id)
        assert len(master.modified_occurrences or []) == 1
        assert len(master.deleted_occurrences or []) == 1
        assert master.deleted_occurrences[0].start.astimezone(PARIS) == EWSDateTime(2027, 1, 18, 9, 0, tzinfo=PARIS)

        # Through CalDAV directly: RRULE, EXDATE and the RECURRENCE-ID override are all there.
        ics = find_ics(stack, subject)
        assert ics, "the series is not on the CalDAV server"
        assert re.search(r"RRULE:.*FREQ=WEEKLY", ics), ics
        assert "COUNT=6" in ics
        assert re.search(r"EXDATE[^:]*:20270118T", ics), ics
        assert re.search(r"RECURRENCE-ID[^:]*:20270111T", ics), ics
        assert "(moved)" in ics

        # A calendar view over the six weeks shows five occurrences, the moved one at 10:00 Paris time.
        view = list(alice.calendar.view(start=EWSDateTime(2027, 1, 1, tzinfo=UTC),
                                        end=EWSDateTime(2027, 2, 28, tzinfo=UTC)))
        mine = [v for v in view if v.subject.startswith(subject)]
        assert len(mine) == 5, [(v.subject, v.start) for v in mine]
        moved = [v for v in mine if v.subject.endswith("(moved)")]
        assert len(moved) == 1 and moved[0].start.astimezone(PARIS).hour == 10
        assert moved[0].type == "Exception"
        assert all(v.start.astimezone(PARIS).hour == 9 for v in mine if v not in moved)
    finally:
        alice.calendar.get(id=item.id).delete()
    assert find_ics(stack, subject) is None


def test_event_put_over_caldav_is_read_through_ews(alice, stack):
    uid = f"other-client-{uuid.uuid4().hex}"
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other client//EN\r\n"
        "BEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20270101T000000Z\r\n"
        "DTSTART;TZID=Europe/Paris:20270210T140000\r\nDTEND;TZID=Europe/Paris:20270210T153000\r\n"
        "SUMMARY:Planned elsewhere\r\nLOCATION:Lyon\r\nDESCRIPTION:Made over CalDAV\r\n"
        "CATEGORIES:Travel\r\nTRANSP:OPAQUE\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n")
    path = calendar_path(stack) + f"{uid}.ics"
    r = dav(stack, "alice", "PUT", path, ics)
    assert r.status_code in (201, 204), r.text
    try:
        view = list(alice.calendar.view(start=EWSDateTime(2027, 2, 10, tzinfo=UTC),
                                        end=EWSDateTime(2027, 2, 11, tzinfo=UTC)))
        ev = [v for v in view if v.subject == "Planned elsewhere"]
        assert len(ev) == 1
        ev = alice.calendar.get(id=ev[0].id)
        assert ev.location == "Lyon"
        assert "Made over CalDAV" in (ev.text_body or ev.body or "")
        assert ev.categories == ["Travel"]
        assert ev.start.astimezone(PARIS) == EWSDateTime(2027, 2, 10, 14, 0, tzinfo=PARIS)
        assert ev.end - ev.start == datetime.timedelta(minutes=90)
        assert ev.uid == uid
        assert ev.legacy_free_busy_status == "Busy"
    finally:
        dav(stack, "alice", "DELETE", path)


def test_calendar_view_across_dst_keeps_local_time(alice):
    subject = f"DST standup {uuid.uuid4().hex[:8]}"
    start = EWSDateTime(2027, 3, 16, 9, 0, tzinfo=PARIS)  # a Tuesday, CET (UTC+1)
    item = CalendarItem(
        account=alice, folder=alice.calendar, subject=subject,
        start=start, end=start + datetime.timedelta(minutes=30),
        recurrence=Recurrence(pattern=WeeklyPattern(interval=1, weekdays=[TUESDAY]), start=start.date(), number=4),
    )
    item.save()
    try:
        view = [v for v in alice.calendar.view(start=EWSDateTime(2027, 3, 15, tzinfo=UTC),
                                               end=EWSDateTime(2027, 4, 15, tzinfo=UTC))
                if v.subject == subject]
        assert len(view) == 4
        # Europe/Paris moves to CEST on 28 March 2027: UTC hours go from 8 to 7, local stays 9:00.
        assert [v.start.astimezone(UTC).hour for v in view] == [8, 8, 7, 7]
        assert all(v.start.astimezone(PARIS).hour == 9 for v in view)
        assert all(v.type == "Occurrence" for v in view)
    finally:
        alice.calendar.get(id=item.id).delete()


def test_contact_round_trips_both_ways(alice, stack):
    marker = uuid.uuid4().hex[:8]
    c = Contact(
        account=alice, folder=alice.contacts,
        given_name="Ada", surname=f"Lovelace{marker}", middle_name="King", nickname="Countess",
        display_name=f"Ada Lovelace {marker}", company_name="Analytical Engines", job_title="Programmer",
        department="Research", manager="Babbage", assistant_name="Mary",
        email_addresses=[EmailAddress(label="EmailAddress1", email=f"ada{marker}@example.org"),
                         EmailAddress(label="EmailAddress2", email=f"countess{marker}@example.org")],
        phone_numbers=[PhoneNumber(label="BusinessPhone", phone_number="+44 20 1234 5678"),
                       PhoneNumber(label="MobilePhone", phone_number="+44 7700 900123")],
        physical_addresses=[PhysicalAddress(label="Business", street="12 St James's Square", city="London",
                                            state="", zipcode="SW1Y 4JH", country="United Kingdom")],
        birthday=datetime.date(1815, 12, 10), body="Notes about Ada", categories=["VIP"],
        business_homepage="https://example.org/ada",
    )
    c.save()
    try:
        got = alice.contacts.get(id=c.id)
        assert got.given_name == "Ada" and got.surname == f"Lovelace{marker}"
        assert got.company_name == "Analytical Engines" and got.job_title == "Programmer"
        assert got.department == "Research"
        emails = {e.label: e.email for e in got.email_addresses}
        assert emails["EmailAddress1"] == f"ada{marker}@example.org"
        assert emails["EmailAddress2"] == f"countess{marker}@example.org"
        phones = {p.label: p.phone_number for p in got.phone_numbers}
        assert phones["BusinessPhone"] == "+44 20 1234 5678" and phones["MobilePhone"] == "+44 7700 900123"
        addr = [a for a in got.physical_addresses if a.label == "Business"][0]
        assert addr.city == "London" and addr.zipcode == "SW1Y 4JH"
        assert got.birthday == datetime.date(1815, 12, 10) or str(got.birthday).startswith("1815-12-10")
        assert got.categories == ["VIP"]
        assert got.nickname == "Countess"
        # Stored as a vCard on the CardDAV server, readable by any other client.
        body = ('<?xml version="1.0"?><a:addressbook-query xmlns:d="DAV:" xmlns:a="urn:ietf:params:xml:ns:carddav">'
                '<d:prop><a:address-data/></d:prop></a:addressbook-query>')
        r = dav(stack, "alice", "REPORT", "/alice/contacts/", body,
                {"Depth": "1", "Content-Type": "application/xml"})
        assert r.status_code == 207
        assert f"Lovelace{marker}" in r.text and "Analytical Engines" in r.text
        assert re.search(r"TEL;[^:\n]*(WORK|work)[^:\n]*:\+44 20 1234 5678", r.text), r.text[:2000]
        # An update through EWS reaches the server.
        got.job_title = "Mathematician"
        got.save(update_fields=["job_title"])
        assert alice.contacts.get(id=c.id).job_title == "Mathematician"
    finally:
        alice.contacts.get(id=c.id).delete()


def test_contact_written_over_carddav_is_read_through_ews(alice, stack):
    uid = f"card-{uuid.uuid4().hex}"
    vcf = ("BEGIN:VCARD\r\nVERSION:3.0\r\n"
           f"UID:{uid}\r\nFN:Grace Hopper\r\nN:Hopper;Grace;Brewster;;\r\nORG:US Navy\r\nTITLE:Rear Admiral\r\n"
           "EMAIL;TYPE=INTERNET,WORK:grace@example.org\r\nTEL;TYPE=CELL:+1 555 0100\r\n"
           "ADR;TYPE=HOME:;;1 Navy Way;Arlington;VA;22202;USA\r\nBDAY:1906-12-09\r\nNOTE:Compilers\r\n"
           "END:VCARD\r\n")
    path = f"/alice/contacts/{uid}.vcf"
    r = dav(stack, "alice", "PUT", path, vcf, {"Content-Type": "text/vcard; charset=utf-8"})
    assert r.status_code in (201, 204), r.text
    try:
        found = [c for c in alice.contacts.all() if getattr(c, "display_name", None) == "Grace Hopper"]
        assert len(found) == 1
        c = alice.contacts.get(id=found[0].id)
        assert c.given_name == "Grace" and c.surname == "Hopper" and c.middle_name == "Brewster"
        assert c.company_name == "US Navy" and c.job_title == "Rear Admiral"
        assert [e.email for e in c.email_addresses] == ["grace@example.org"]
        assert {p.label: p.phone_number for p in c.phone_numbers}.get("MobilePhone") == "+1 555 0100"
        home = [a for a in c.physical_addresses if a.label == "Home"][0]
        assert home.city == "Arlington" and home.zipcode == "22202"
    finally:
        dav(stack, "alice", "DELETE", path)


def test_task_round_trips_both_ways(alice, stack):
    subject = f"Write report {uuid.uuid4().hex[:8]}"
    t = Task(account=alice, folder=alice.tasks, subject=subject, body="Quarterly numbers",
             start_date=EWSDate(2027, 5, 3), due_date=EWSDate(2027, 5, 7),
             status="InProgress", percent_complete=Decimal(40), importance="High", categories=["Work"])
    t.save()
    try:
        got = alice.tasks.get(id=t.id)
        assert got.subject == subject and got.status == "InProgress" and got.percent_complete == 40
        assert got.importance == "High" and got.categories == ["Work"]
        assert got.due_date is not None and str(got.due_date).startswith("2027-05-07")
        ics = find_ics(stack, subject, name="tasks")
        assert ics and "BEGIN:VTODO" in ics and "PERCENT-COMPLETE:40" in ics and "STATUS:IN-PROCESS" in ics
        got.status = "Completed"
        got.save(update_fields=["status"])
        done = alice.tasks.get(id=t.id)
        assert done.status == "Completed" and done.percent_complete == 100
        assert done.complete_date is not None
        ics = find_ics(stack, subject, name="tasks")
        assert "STATUS:COMPLETED" in ics and "COMPLETED:" in ics
    finally:
        alice.tasks.get(id=t.id).delete()
    assert find_ics(stack, subject, name="tasks") is None


def test_sync_folder_items_on_a_calendar_sees_caldav_changes(alice, stack):
    # First round: everything there is; second round: nothing; then another client adds and removes events.
    state = None
    for change in alice.calendar.sync_items(sync_state=None, only_fields=["subject"]):
        pass
    state = alice.calendar.item_sync_state
    assert state
    assert list(alice.calendar.sync_items(sync_state=state, only_fields=["subject"])) == []
    state = alice.calendar.item_sync_state
    uid = f"sync-{uuid.uuid4().hex}"
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other client//EN\r\nBEGIN:VEVENT\r\n"
           f"UID:{uid}\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:20270301T100000Z\r\nDTEND:20270301T110000Z\r\n"
           "SUMMARY:Synced in\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    path = calendar_path(stack) + f"{uid}.ics"
    assert dav(stack, "alice", "PUT", path, ics).status_code in (201, 204)
    try:
        changes = list(alice.calendar.sync_items(sync_state=state, only_fields=["subject"]))
        creates = [c for c in changes if c[0] == "create"]
        assert [c[1].subject for c in creates] == ["Synced in"], changes
        state = alice.calendar.item_sync_state
    finally:
        dav(stack, "alice", "DELETE", path)
    changes = list(alice.calendar.sync_items(sync_state=state, only_fields=["subject"]))
    assert [c[0] for c in changes] == ["delete"], changes


def test_calendar_folder_create_rename_delete(alice, stack):
    from exchangelib.folders import Calendar
    name = f"Team {uuid.uuid4().hex[:6]}"
    f = Calendar(parent=alice.msg_folder_root, name=name)
    f.save()
    try:
        assert f.id
        r = dav(stack, "alice", "PROPFIND", "/alice/", None, {"Depth": "1"})
        assert name in r.text
        f.name = name + " renamed"
        f.save(update_fields=["name"])
        names = [c.name for c in alice.msg_folder_root.children if c.folder_class == "IPF.Appointment"]
        assert name + " renamed" in names
    finally:
        f.delete()
    names = [c.name for c in alice.msg_folder_root.refresh().children if c.folder_class == "IPF.Appointment"]
    assert not any(n.startswith(name) for n in names)


def test_bad_groupware_requests_get_ews_errors(alice, ews):  # noqa: F811
    from test_ews_mail import parse, post, soap, NS
    # A calendar item without a start, a tampered calendar item id, an unknown occurrence index.
    body = soap('<m:CreateItem SendMeetingInvitations="SendToNone"><m:SavedItemFolderId>'
                '<t:DistinguishedFolderId Id="calendar"/></m:SavedItemFolderId><m:Items><t:CalendarItem>'
                '<t:Subject>No start</t:Subject></t:CalendarItem></m:Items></m:CreateItem>')
    r = post(ews, body)
    assert r.status_code == 200
    msg = parse(r).find(".//m:CreateItemResponseMessage", NS)
    assert msg.get("ResponseClass") == "Error"
    assert msg.find("m:ResponseCode", NS).text == "ErrorInvalidRequest"

    start = EWSDateTime(2027, 6, 1, 9, 0, tzinfo=PARIS)
    item = CalendarItem(account=alice, folder=alice.calendar, subject="Tamper target", start=start,
                        end=start + datetime.timedelta(hours=1))
    item.save()
    try:
        bad = item.id[:-6] + ("AAAAAA" if not item.id.endswith("AAAAAA") else "BBBBBB")
        body = soap(f'<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds>'
                    f'<t:ItemId Id="{bad}"/><t:ItemId Id="{item.id}"/>'
                    f'<t:OccurrenceItemId RecurringMasterId="{item.id}" InstanceIndex="2"/></m:ItemIds></m:GetItem>')
        r = post(ews, body)
        assert r.status_code == 200
        msgs = parse(r).findall(".//m:GetItemResponseMessage", NS)
        assert [m.find("m:ResponseCode", NS).text for m in msgs] == [
            "ErrorInvalidIdMalformed", "NoError", "ErrorItemNotFound"]
    finally:
        item.delete()


def test_restrictions_on_calendar_and_contacts(alice):
    tag = uuid.uuid4().hex[:8]
    start = EWSDateTime(2027, 7, 5, 10, 0, tzinfo=PARIS)
    items = [CalendarItem(account=alice, folder=alice.calendar, subject=f"Filter {tag} {n}",
                          start=start + datetime.timedelta(days=n), end=start + datetime.timedelta(days=n, hours=1))
             for n in range(3)]
    for i in items:
        i.save()
    c = Contact(account=alice, folder=alice.contacts, display_name=f"Filter Person {tag}", given_name="Filter",
                email_addresses=[EmailAddress(label="EmailAddress1", email=f"filter-{tag}@example.org")])
    c.save()
    try:
        # Evaluated by Viaduc on each object (DAV REPORTs cannot express EWS restrictions).
        found = list(alice.calendar.filter(subject__contains=tag))
        assert sorted(i.subject for i in found) == [f"Filter {tag} {n}" for n in range(3)]
        later = list(alice.calendar.filter(subject__contains=tag, start__gte=start + datetime.timedelta(days=1)))
        assert sorted(i.subject for i in later) == [f"Filter {tag} 1", f"Filter {tag} 2"]
        people = list(alice.contacts.filter(display_name__startswith="Filter Person"))
        assert [p.display_name for p in people] == [f"Filter Person {tag}"]
    finally:
        for i in items:
            i.delete()
        c.delete()


def test_move_and_copy_between_calendars(alice, stack):
    from exchangelib.folders import Calendar
    tag = uuid.uuid4().hex[:8]
    other = Calendar(parent=alice.msg_folder_root, name=f"Other {tag}")
    other.save()
    start = EWSDateTime(2027, 8, 2, 9, 0, tzinfo=PARIS)
    item = CalendarItem(account=alice, folder=alice.calendar, subject=f"Moving {tag}", start=start,
                        end=start + datetime.timedelta(hours=1))
    item.save()
    try:
        uid = alice.calendar.get(id=item.id).uid
        old_id = item.id
        item.move(other)
        assert [i.subject for i in other.all()] == [f"Moving {tag}"]
        assert not list(alice.calendar.filter(subject__contains=tag))
        moved = list(other.all())[0]
        assert moved.id != old_id, "the moved item has an id in its new folder"
        moved = other.get(id=moved.id)
        assert moved.uid == uid, "a move keeps the UID"
        moved.copy(alice.calendar)
        copies = list(alice.calendar.filter(subject__contains=tag))
        assert len(copies) == 1 and len(list(other.all())) == 1
        assert alice.calendar.get(id=copies[0].id).uid != uid, "a copy is a new event"
        # Not into a contacts folder.
        from exchangelib.errors import ErrorInvalidOperation
        with pytest.raises(ErrorInvalidOperation):
            list(alice.bulk_move(ids=[copies[0]], to_folder=alice.contacts))
    finally:
        for i in alice.calendar.filter(subject__contains=tag):
            i.delete()
        other.delete()


def test_contact_photo_as_attachment(alice, stack):
    from exchangelib import FileAttachment
    import base64 as b64
    png = b64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
    tag = uuid.uuid4().hex[:8]
    c = Contact(account=alice, folder=alice.contacts, display_name=f"Photo Person {tag}", given_name="Photo")
    c.save()
    try:
        c.attach(FileAttachment(name="ContactPicture.jpg", content=png, is_contact_photo=True))
        got = alice.contacts.get(id=c.id)
        assert got.has_picture
        photos = [a for a in got.attachments if a.is_contact_photo]
        assert len(photos) == 1 and photos[0].content == png
        # Stored as the vCard's PHOTO, which other CardDAV clients show.
        body = ('<?xml version="1.0"?><a:addressbook-query xmlns:d="DAV:" xmlns:a="urn:ietf:params:xml:ns:carddav">'
                '<d:prop><a:address-data/></d:prop></a:addressbook-query>')
        r = dav(stack, "alice", "REPORT", "/alice/contacts/", body, {"Depth": "1", "Content-Type": "application/xml"})
        card = [x for x in r.text.split("BEGIN:VCARD") if f"Photo Person {tag}" in x][0]
        assert "PHOTO" in card
        got.detach(photos[0])
        assert not alice.contacts.get(id=c.id).has_picture
    finally:
        alice.contacts.get(id=c.id).delete()
