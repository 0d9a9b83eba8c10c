"""Meetings through EWS end to end (MS-OXWSMTGS over iMIP/iTIP): exchangelib as alice and bob against Viaduc, the
test stack's Postfix → Dovecot for the mail and Radicale (no RFC 6638 scheduling) for the calendars.

- alice invites bob (SendToAllAndSaveCopy): bob's Inbox shows a MeetingRequest with the subject and start, and
  bob's calendar already holds the meeting, unanswered (Viaduc puts it there through the DAV service account);
- bob accepts (`req.accept()`): alice's copy shows bob with response 'Accept' at once (Viaduc records the REPLY
  in the organizer's copy), bob's calendar item is accepted, and the REPLY mail reaches alice's Inbox as a
  MeetingResponse;
- bob declines a second meeting: alice's copy shows 'Decline', bob's calendar no longer has it;
- alice cancels a third meeting (`item.cancel()`): bob's Inbox gets a MeetingCancellation, alice's item is gone
  and bob's copy is marked cancelled.

Each test uses its own subjects and removes what it created.
"""
import datetime
import time
import uuid

import pytest

from test_ews_mail import account, ews  # noqa: F401  (fixture: exchangelib trusts the stack CA)
from test_ews_groupware import find_ics

exchangelib = pytest.importorskip("exchangelib")
from exchangelib import CalendarItem, EWSDateTime, EWSTimeZone  # noqa: E402
from exchangelib.items import (  # noqa: E402
    SEND_TO_ALL_AND_SAVE_COPY, MeetingCancellation, MeetingRequest, MeetingResponse)
from exchangelib.properties import Attendee, Mailbox  # noqa: E402

UTC = EWSTimeZone("UTC")
DELIVERY_TIMEOUT = 25  # seconds for Postfix → Dovecot
HOUR = datetime.timedelta(hours=1)


@pytest.fixture(scope="module")
def alice(ews):  # noqa: F811
    return account(ews, "alice")


@pytest.fixture(scope="module")
def bob(ews):  # noqa: F811
    return account(ews, "bob")


def wait_for(folder, cls, marker, timeout=DELIVERY_TIMEOUT):
    """The first item of `cls` in `folder` whose subject contains `marker`, polling until it arrives."""
    end = time.time() + timeout
    seen = []
    while time.time() < end:
        seen = list(folder.filter(subject__contains=marker))
        for it in seen:
            if isinstance(it, cls):
                return it
        time.sleep(0.5)
    pytest.fail(f"no {cls.__name__} with {marker!r} in {folder.name} within {timeout}s; saw {seen!r}")


def invite(alice, bob, marker, start):
    item = CalendarItem(
        account=alice, folder=alice.calendar, subject=f"Meeting {marker}", body="Agenda", location="Room 1",
        start=start, end=start + HOUR,
        required_attendees=[Attendee(mailbox=Mailbox(email_address=bob.primary_smtp_address),
                                     response_type="Unknown")])
    item.save(send_meeting_invitations=SEND_TO_ALL_AND_SAVE_COPY)
    return item


def attendee_response(item, address):
    for a in (item.required_attendees or []) + (item.optional_attendees or []):
        if a.mailbox.email_address.lower() == address.lower():
            return a.response_type
    return None


def cleanup(*items):
    for it in items:
        try:
            it.delete()
        except Exception:  # noqa: BLE001  (already gone)
            pass


def test_alice_invites_bob_and_bob_accepts(alice, bob, stack):
    marker = uuid.uuid4().hex[:10]
    start = EWSDateTime(2027, 3, 3, 10, 0, tzinfo=UTC)
    item = invite(alice, bob, marker, start)
    uid = alice.calendar.get(id=item.id).uid
    try:
        req = wait_for(bob.inbox, MeetingRequest, marker)
        assert req.subject == f"Meeting {marker}"
        assert req.start == start
        assert req.organizer.email_address == alice.primary_smtp_address
        assert req.item_class == "IPM.Schedule.Meeting.Request"
        # Like Exchange, the meeting is in bob's calendar before he answers.
        ics = find_ics(stack, uid, user="bob")
        assert ics is not None, "the invitation was not put into bob's calendar"
        assert "PARTSTAT=NEEDS-ACTION" in ics

        req.accept()

        # alice's copy shows the acceptance without any client processing the REPLY.
        mine = alice.calendar.get(id=item.id)
        assert attendee_response(mine, bob.primary_smtp_address) == "Accept"
        # bob's calendar item is accepted.
        theirs = [i for i in bob.calendar.view(start=start, end=start + 2 * HOUR) if i.uid == uid]
        assert len(theirs) == 1, theirs
        assert theirs[0].my_response_type == "Accept"
        # The iTIP REPLY reached alice as a MeetingResponse.
        resp = wait_for(alice.inbox, MeetingResponse, marker)
        assert resp.subject.startswith("Accepted:")
        assert resp.item_class == "IPM.Schedule.Meeting.Resp.Pos"
        assert resp.response_type == "Accept"
        # The answered request is marked processed; the reply was saved in bob's Sent Items.
        assert wait_for(bob.sent, MeetingResponse, marker) is not None
        cleanup(resp, req, *theirs)
    finally:
        cleanup(alice.calendar.get(id=item.id))


def test_bob_declines(alice, bob, stack):
    marker = uuid.uuid4().hex[:10]
    start = EWSDateTime(2027, 3, 4, 14, 0, tzinfo=UTC)
    item = invite(alice, bob, marker, start)
    uid = alice.calendar.get(id=item.id).uid
    try:
        req = wait_for(bob.inbox, MeetingRequest, marker)
        req.decline()
        mine = alice.calendar.get(id=item.id)
        assert attendee_response(mine, bob.primary_smtp_address) == "Decline"
        # Declined meetings leave the attendee's calendar (as in Outlook).
        assert find_ics(stack, uid, user="bob") is None
        resp = wait_for(alice.inbox, MeetingResponse, marker)
        assert resp.subject.startswith("Declined:")
        assert resp.item_class == "IPM.Schedule.Meeting.Resp.Neg"
        cleanup(resp, req)
    finally:
        cleanup(alice.calendar.get(id=item.id))


def test_tentative_from_the_calendar_item(alice, bob, stack):
    marker = uuid.uuid4().hex[:10]
    start = EWSDateTime(2027, 3, 5, 8, 0, tzinfo=UTC)
    item = invite(alice, bob, marker, start)
    uid = alice.calendar.get(id=item.id).uid
    try:
        # Answer from bob's calendar item rather than from the mail.
        theirs = [i for i in bob.calendar.view(start=start, end=start + 2 * HOUR) if i.uid == uid]
        assert len(theirs) == 1
        theirs[0].tentatively_accept()
        mine = alice.calendar.get(id=item.id)
        assert attendee_response(mine, bob.primary_smtp_address) == "Tentative"
        again = [i for i in bob.calendar.view(start=start, end=start + 2 * HOUR) if i.uid == uid]
        assert again[0].my_response_type == "Tentative"
        cleanup(wait_for(alice.inbox, MeetingResponse, marker), wait_for(bob.inbox, MeetingRequest, marker), *again)
    finally:
        cleanup(alice.calendar.get(id=item.id))


def test_alice_cancels(alice, bob, stack):
    marker = uuid.uuid4().hex[:10]
    start = EWSDateTime(2027, 3, 6, 9, 0, tzinfo=UTC)
    item = invite(alice, bob, marker, start)
    uid = alice.calendar.get(id=item.id).uid
    req = wait_for(bob.inbox, MeetingRequest, marker)
    alice.calendar.get(id=item.id).cancel()
    cancellation = wait_for(bob.inbox, MeetingCancellation, marker)
    assert cancellation.subject.startswith("Canceled:")
    assert cancellation.item_class == "IPM.Schedule.Meeting.Canceled"
    # The organizer's item is gone; bob's copy is marked cancelled until he removes it.
    assert not [i for i in alice.calendar.view(start=start, end=start + 2 * HOUR) if i.uid == uid]
    theirs = [i for i in bob.calendar.view(start=start, end=start + 2 * HOUR) if i.uid == uid]
    assert len(theirs) == 1 and theirs[0].is_cancelled
    cleanup(cancellation, req, *theirs)
