"""Free/busy and meeting suggestions through EWS GetUserAvailability (MS-OXWAVLS) with exchangelib as the client.

Viaduc computes free/busy from the attendees' Radicale calendars (Radicale has no scheduling free-busy query):
bob's events are written straight into his calendar over CalDAV (a weekly series, a private appointment, a
tentative one, a transparent one), then alice asks for bob's free/busy: the busy intervals, the MergedFreeBusy
string, no subject at all (alice may not read bob's calendar, so the view is downgraded to FreeBusyMerged), and
an unknown attendee's error in its own response while bob's answer is still there. bob may read alice's calendar
(testenv rights), so his detailed view of alice shows subjects, except for her private appointment. Suggestions
are asked with a raw request (exchangelib does not send SuggestionsViewOptions).

Everything happens in a week of March 2031 with per-run UIDs, removed at the end.

With VIADUC_RECORD_FIXTURES=1 the raw request/response pair is written to protocol-fixtures/ews/
(`getuseravailability-suggestions.viaduc.*.xml`).
"""
import datetime
import os
import pathlib
import uuid

import pytest
import requests

from test_ews_mail import NS, account, ews, parse, post, soap  # noqa: F401  (fixture: exchangelib trusts the CA)

exchangelib = pytest.importorskip("exchangelib")
from exchangelib import EWSDateTime, EWSTimeZone  # noqa: E402

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "protocol-fixtures" / "ews"
PARIS = EWSTimeZone("Europe/Paris")


def ics(uid, summary, start, end, extra=""):
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//viaduc-test//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:20310101T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\n"
            f"SUMMARY:{summary}\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n")


class Dav:
    """CalDAV as one user of the stack (plain HTTP on loopback)."""

    def __init__(self, stack, user):
        self.base = stack.dav_url.rstrip("/")
        self.s = requests.Session()
        self.s.trust_env = False
        self.s.auth = (stack.addr(user), stack.password)
        self.user = user
        self.created = []

    def put(self, uid, body):
        url = f"{self.base}/{self.user}/calendar/{uid}.ics"
        r = self.s.put(url, data=body.encode(), headers={"Content-Type": "text/calendar; charset=utf-8"}, timeout=10)
        assert r.status_code in (200, 201, 204), (r.status_code, r.text)
        self.created.append(url)

    def cleanup(self):
        for url in self.created:
            self.s.delete(url, timeout=10)


@pytest.fixture(scope="module")
def calendars(ews, stack):  # noqa: F811
    tag = uuid.uuid4().hex[:8]
    bob, alice = Dav(stack, "bob"), Dav(stack, "alice")
    # Monday 3 March 2031; Paris is UTC+1 then.
    bob.put(f"avail-series-{tag}", ics(f"avail-series-{tag}", f"Bob weekly {tag}", "20310224T080000Z",
                                       "20310224T090000Z", "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10\r\n"))
    bob.put(f"avail-private-{tag}", ics(f"avail-private-{tag}", f"Bob doctor {tag}", "20310303T093000Z",
                                        "20310303T100000Z", "CLASS:PRIVATE\r\n"))
    bob.put(f"avail-tentative-{tag}", ics(f"avail-tentative-{tag}", f"Bob maybe {tag}", "20310303T100000Z",
                                          "20310303T103000Z", "STATUS:TENTATIVE\r\n"))
    bob.put(f"avail-free-{tag}", ics(f"avail-free-{tag}", f"Bob focus {tag}", "20310303T070000Z",
                                     "20310303T073000Z", "TRANSP:TRANSPARENT\r\n"))
    alice.put(f"avail-alice-{tag}", ics(f"avail-alice-{tag}", f"Alice review {tag}", "20310303T080000Z",
                                        "20310303T090000Z", "LOCATION:Room 7\r\n"))
    alice.put(f"avail-alice-private-{tag}", ics(f"avail-alice-private-{tag}", f"Alice secret {tag}",
                                                "20310303T100000Z", "20310303T110000Z", "CLASS:CONFIDENTIAL\r\n"))
    yield tag
    bob.cleanup()
    alice.cleanup()


def window():
    return (EWSDateTime(2031, 3, 3, 8, 0, tzinfo=PARIS), EWSDateTime(2031, 3, 3, 12, 0, tzinfo=PARIS))


def local(h, m):
    return EWSDateTime(2031, 3, 3, h, m, tzinfo=PARIS)


def test_free_busy_of_bob_as_seen_by_alice(ews, stack, calendars):  # noqa: F811
    alice = account(ews, user="alice")
    start, end = window()
    views = list(alice.protocol.get_free_busy_info(
        accounts=[(stack.addr("bob"), "Required", False), ("nobody@" + stack.domain, "Required", False)],
        start=start, end=end, merged_free_busy_interval=30, requested_view="DetailedMerged"))
    assert len(views) == 2
    bob_view, nobody = views
    # The unknown attendee fails alone, in its own response.
    assert isinstance(nobody, exchangelib.errors.ErrorMailRecipientNotFound), nobody
    assert not isinstance(bob_view, Exception), bob_view
    # alice may not read bob's calendar: times only.
    assert bob_view.view_type == "FreeBusyMerged"
    # 08:00-12:00 Paris in 30-minute slots: free (the 08:00 block is transparent), the weekly occurrence 09:00-10:00
    # (the seeded Monday standup 09:30-09:45 inside it), free, the private appointment 10:30-11:00, tentative
    # 11:00-11:30, free.
    assert bob_view.merged == "00220210"
    got = [(e.start, e.end, e.busy_type, e.details) for e in bob_view.calendar_events]
    assert got == [
        (local(9, 0), local(10, 0), "Busy", None),
        (local(9, 30), local(9, 45), "Busy", None),
        (local(10, 30), local(11, 0), "Busy", None),
        (local(11, 0), local(11, 30), "Tentative", None),
    ]
    assert [p.weekdays for p in bob_view.working_hours] == [[1, 2, 3, 4, 5]]
    assert bob_view.working_hours[0].start == datetime.time(8, 0)
    assert bob_view.working_hours_timezone.bias == -60


def test_recurrence_is_expanded_on_later_mondays(ews, stack, calendars):  # noqa: F811
    alice = account(ews, user="alice")
    start = EWSDateTime(2031, 3, 10, 0, 0, tzinfo=PARIS)
    end = EWSDateTime(2031, 3, 15, 0, 0, tzinfo=PARIS)
    [view] = list(alice.protocol.get_free_busy_info(
        accounts=[(stack.addr("bob"), "Required", False)], start=start, end=end,
        merged_free_busy_interval=60, requested_view="FreeBusy"))
    # Our weekly series and the seeded Monday standup (09:30-09:45 Paris, no end), nothing else that week.
    assert [(e.start, e.end, e.busy_type) for e in view.calendar_events] == [
        (EWSDateTime(2031, 3, 10, 9, 0, tzinfo=PARIS), EWSDateTime(2031, 3, 10, 10, 0, tzinfo=PARIS), "Busy"),
        (EWSDateTime(2031, 3, 10, 9, 30, tzinfo=PARIS), EWSDateTime(2031, 3, 10, 9, 45, tzinfo=PARIS), "Busy")]
    assert view.merged is None


def test_detailed_view_for_a_reader_hides_private_subjects(ews, stack, calendars):  # noqa: F811
    tag = calendars
    bob = account(ews, user="bob")
    start, end = window()
    [view] = list(bob.protocol.get_free_busy_info(
        accounts=[(stack.addr("alice"), "Required", False)],
        start=start, end=end, merged_free_busy_interval=30, requested_view="DetailedMerged"))
    # bob may read alice's calendar (Radicale rights): the detailed view is his.
    assert view.view_type == "DetailedMerged"
    mine = [e for e in view.calendar_events if e.start.date() == start.date()]
    review = [e for e in mine if e.details is not None and e.details.subject == f"Alice review {tag}"]
    assert len(review) == 1 and review[0].details.location == "Room 7"
    assert (review[0].start, review[0].end) == (local(9, 0), local(10, 0))
    secret = [e for e in mine if (e.start, e.end) == (local(11, 0), local(12, 0))]
    assert len(secret) == 1 and secret[0].details is None, "a confidential item never shows its subject"
    assert all(e.details is None or "secret" not in (e.details.subject or "") for e in view.calendar_events)


def test_own_free_busy_is_detailed(ews, stack, calendars):  # noqa: F811
    tag = calendars
    alice = account(ews, user="alice")
    start, end = window()
    [view] = list(alice.protocol.get_free_busy_info(
        accounts=[(stack.addr("alice"), "Organizer", False)],
        start=start, end=end, merged_free_busy_interval=30, requested_view="Detailed"))
    assert view.view_type == "Detailed"
    assert any(e.details and e.details.subject == f"Alice review {tag}" for e in view.calendar_events)


SUGGESTIONS_TZ = ("<t:TimeZone><t:Bias>-60</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>03:00:00</t:Time>"
                  "<t:DayOrder>5</t:DayOrder><t:Month>10</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:StandardTime>"
                  "<t:DaylightTime><t:Bias>-60</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>5</t:DayOrder>"
                  "<t:Month>3</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime></t:TimeZone>")


def mailbox_data(addr, kind="Required"):
    return (f"<t:MailboxData><t:Email><t:Address>{addr}</t:Address></t:Email><t:AttendeeType>{kind}</t:AttendeeType>"
            "<t:ExcludeConflicts>false</t:ExcludeConflicts></t:MailboxData>")


def test_suggestions_for_alice_and_bob(ews, stack, calendars):  # noqa: F811
    body = soap(
        "<m:GetUserAvailabilityRequest>" + SUGGESTIONS_TZ
        + "<m:MailboxDataArray>" + mailbox_data(stack.addr("alice"), "Organizer") + mailbox_data(stack.addr("bob"))
        + "</m:MailboxDataArray>"
        "<t:FreeBusyViewOptions><t:TimeWindow><t:StartTime>2031-03-03T00:00:00</t:StartTime>"
        "<t:EndTime>2031-03-04T00:00:00</t:EndTime></t:TimeWindow>"
        "<t:MergedFreeBusyIntervalInMinutes>60</t:MergedFreeBusyIntervalInMinutes>"
        "<t:RequestedView>FreeBusyMerged</t:RequestedView></t:FreeBusyViewOptions>"
        "<t:SuggestionsViewOptions><t:GoodThreshold>25</t:GoodThreshold><t:MaximumResultsByDay>48</t:MaximumResultsByDay>"
        "<t:MaximumNonWorkHourResultsByDay>0</t:MaximumNonWorkHourResultsByDay>"
        "<t:MeetingDurationInMinutes>60</t:MeetingDurationInMinutes>"
        "<t:MinimumSuggestionQuality>Poor</t:MinimumSuggestionQuality>"
        "<t:DetailedSuggestionsWindow><t:StartTime>2031-03-03T00:00:00</t:StartTime>"
        "<t:EndTime>2031-03-04T00:00:00</t:EndTime></t:DetailedSuggestionsWindow></t:SuggestionsViewOptions>"
        "</m:GetUserAvailabilityRequest>")
    resp = post(ews, body, user="alice")
    if os.environ.get("VIADUC_RECORD_FIXTURES") == "1":
        (FIXTURES / "getuseravailability-suggestions.viaduc.request.xml").write_bytes(body)
        (FIXTURES / "getuseravailability-suggestions.viaduc.response.xml").write_bytes(resp.content)
    assert resp.status_code == 200
    root = parse(resp)
    r = root.find(".//m:GetUserAvailabilityResponse", NS)
    fb = r.findall("m:FreeBusyResponseArray/m:FreeBusyResponse", NS)
    assert len(fb) == 2
    assert [x.find("m:ResponseMessage", NS).get("ResponseClass") for x in fb] == ["Success", "Success"]
    # Full day in 60-minute slots: bob is busy 09:00-10:00 and 10:30-11:00, tentative 11:00-11:30 (local time).
    assert fb[1].find("m:FreeBusyView/t:MergedFreeBusy", NS).text == "000000000221000000000000"
    sr = r.find("m:SuggestionsResponse", NS)
    assert sr.find("m:ResponseMessage", NS).get("ResponseClass") == "Success"
    days = sr.findall("m:SuggestionDayResultArray/t:SuggestionDayResult", NS)
    assert [d.find("t:Date", NS).text for d in days] == ["2031-03-03T00:00:00"]
    slots = {s.find("t:MeetingTime", NS).text: s for s in days[0].findall("t:SuggestionArray/t:Suggestion", NS)}
    assert len(slots) == 17  # 08:00 to 16:00 every 30 minutes
    assert days[0].find("t:DayQuality", NS).text == "Excellent"

    def quality(t):
        return slots[f"2031-03-03T{t}:00"].find("t:SuggestionQuality", NS).text

    def busy(t):
        return [c.find("t:BusyType", NS).text
                for c in slots[f"2031-03-03T{t}:00"].find("t:AttendeeConflictDataArray", NS)]

    # alice is busy 09:00-10:00 (her review) and 11:00-12:00 (confidential); bob as above.
    assert quality("08:00") == "Excellent" and busy("08:00") == ["Free", "Free"]
    assert quality("09:00") == "Poor" and busy("09:00") == ["Busy", "Busy"]
    assert quality("12:00") == "Excellent"
    assert quality("10:00") == "Poor"  # alice free, bob busy 10:30: 1 of 2 attendees = 50 %


def test_bad_request_is_an_ews_error_not_a_fault(ews, stack):  # noqa: F811
    body = soap("<m:GetUserAvailabilityRequest>" + SUGGESTIONS_TZ + "<m:MailboxDataArray>"
                + mailbox_data(stack.addr("bob")) + "</m:MailboxDataArray><t:FreeBusyViewOptions><t:TimeWindow>"
                "<t:StartTime>2031-03-04T00:00:00</t:StartTime><t:EndTime>2031-03-03T00:00:00</t:EndTime>"
                "</t:TimeWindow><t:RequestedView>FreeBusy</t:RequestedView></t:FreeBusyViewOptions>"
                "</m:GetUserAvailabilityRequest>")
    resp = post(ews, body, user="alice")
    assert resp.status_code == 200
    m = parse(resp).find(".//m:FreeBusyResponse/m:ResponseMessage", NS)
    assert m.get("ResponseClass") == "Error"
    assert m.find("m:ResponseCode", NS).text == "ErrorInvalidTimeInterval"


@pytest.fixture(scope="module")
def viaduc_without_service_account(ews, stack):  # noqa: F811
    """A second Viaduc for the same stack whose [dav] has no service account: free/busy is read with the
    requester's own DAV credentials."""
    import conftest

    port = conftest.free_port()
    text = ews.config_file.read_text()
    lines = [ln for ln in text.splitlines() if not ln.startswith(("service_user", "service_password"))]
    config = stack.dir / f"viaduc-pytest-{port}-noservice.toml"
    config.write_text("\n".join(lines).replace(f"127.0.0.1:{ews.port}", f"127.0.0.1:{port}") + "\n")
    v = conftest.Viaduc(stack, port, ews.binary, config, stack.dir / "log" / f"viaduc-pytest-{port}.log")
    try:
        v.start(60)
    except Exception as e:  # noqa: BLE001
        v.stop()
        pytest.fail(f"{e}\n{v.log_tail()}", pytrace=False)
    yield v
    v.stop()
    config.unlink(missing_ok=True)


def test_without_a_service_account_the_requesters_rights_decide(viaduc_without_service_account, stack, calendars):
    v = viaduc_without_service_account
    start, end = window()
    # alice may not read bob's calendar: ErrorNoFreeBusyAccess for bob only, her own answer is still there. (exchangelib
    # raises that code instead of returning it per attendee, so the pair is checked on the raw response.)
    body = soap("<m:GetUserAvailabilityRequest>" + SUGGESTIONS_TZ + "<m:MailboxDataArray>"
                + mailbox_data(stack.addr("bob")) + mailbox_data(stack.addr("alice")) + "</m:MailboxDataArray>"
                "<t:FreeBusyViewOptions><t:TimeWindow><t:StartTime>2031-03-03T08:00:00</t:StartTime>"
                "<t:EndTime>2031-03-03T12:00:00</t:EndTime></t:TimeWindow>"
                "<t:MergedFreeBusyIntervalInMinutes>30</t:MergedFreeBusyIntervalInMinutes>"
                "<t:RequestedView>FreeBusyMerged</t:RequestedView></t:FreeBusyViewOptions>"
                "</m:GetUserAvailabilityRequest>")
    resp = post(v, body, user="alice")
    assert resp.status_code == 200
    fb = parse(resp).findall(".//m:FreeBusyResponse", NS)
    assert [x.find("m:ResponseMessage/m:ResponseCode", NS).text for x in fb] == ["ErrorNoFreeBusyAccess", "NoError"]
    assert fb[1].find("m:FreeBusyView/t:MergedFreeBusy", NS).text == "00220022"
    alice = account(v, user="alice")
    with pytest.raises(exchangelib.errors.ErrorNoFreeBusyAccess):
        list(alice.protocol.get_free_busy_info(accounts=[(stack.addr("bob"), "Required", False)],
                                               start=start, end=end, requested_view="FreeBusy"))
    # bob may read alice's calendar: he gets her free/busy, in detail.
    bob = account(v, user="bob")
    [view] = list(bob.protocol.get_free_busy_info(
        accounts=[(stack.addr("alice"), "Required", False)],
        start=start, end=end, merged_free_busy_interval=30, requested_view="DetailedMerged"))
    assert view.view_type == "DetailedMerged"
    assert view.merged == "00220022"
    assert any(e.details and e.details.subject == f"Alice review {calendars}" for e in view.calendar_events)
