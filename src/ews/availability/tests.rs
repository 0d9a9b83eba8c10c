//! Unit tests of GetUserAvailability: request parsing (an exchangelib-shaped request, SerializableTimeZone
//! against the tz database), MergedFreeBusy, suggestion rating, privacy of the detailed view, and the response
//! shape exchangelib reads.

use super::*;
use crate::ews::xml;
use chrono::{Offset, TimeZone};

const PARIS_ZONE: &str = "<t:TimeZone><t:Bias>-60</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>03:00:00</t:Time><t:DayOrder>5</t:DayOrder><t:Month>10</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:StandardTime><t:DaylightTime><t:Bias>-60</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>5</t:DayOrder><t:Month>3</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime></t:TimeZone>";

/// The shape exchangelib 5.6 sends from `protocol.get_free_busy_info(...)` (TimeZone from GetServerTimeZones,
/// TimeWindow with offsets, one MailboxData per account).
fn envelope(op_inner: &str) -> String {
    format!(
        r#"<?xml version='1.0' encoding='utf-8'?>
<s:Envelope xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body><m:GetUserAvailabilityRequest>{op_inner}</m:GetUserAvailabilityRequest></s:Body></s:Envelope>"#
    )
}

fn mailbox(addr: &str) -> String {
    format!(
        "<t:MailboxData><t:Email><t:Address>{addr}</t:Address></t:Email><t:AttendeeType>Required</t:AttendeeType><t:ExcludeConflicts>false</t:ExcludeConflicts></t:MailboxData>"
    )
}

fn exchangelib_request(view: &str) -> String {
    envelope(&format!(
        "{PARIS_ZONE}<m:MailboxDataArray>{}{}</m:MailboxDataArray><t:FreeBusyViewOptions><t:TimeWindow><t:StartTime>2031-03-03T08:00:00+01:00</t:StartTime><t:EndTime>2031-03-03T12:00:00+01:00</t:EndTime></t:TimeWindow><t:MergedFreeBusyIntervalInMinutes>30</t:MergedFreeBusyIntervalInMinutes><t:RequestedView>{view}</t:RequestedView></t:FreeBusyViewOptions>",
        mailbox("Bob@Example.Test"),
        mailbox("nobody@example.test")
    ))
}

fn parse(body: &str) -> Result<AvailabilityRequest, RequestError> {
    let r = soap::parse_request(body.as_bytes()).expect("envelope");
    assert!(is_availability_op(r.op_name()));
    parse_request(&r.op)
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn paris() -> RequestZone {
    parse(&exchangelib_request("FreeBusy")).unwrap().zone
}

#[test]
fn parses_an_exchangelib_request() {
    let r = parse(&exchangelib_request("DetailedMerged")).unwrap();
    assert_eq!(r.mailboxes.len(), 2);
    assert_eq!(r.mailboxes[0].email, "bob@example.test");
    assert_eq!(r.mailboxes[0].attendee_type, AttendeeType::Required);
    assert!(!r.mailboxes[0].exclude_conflicts);
    let fb = r.free_busy.unwrap();
    assert_eq!((fb.start, fb.end), (utc(2031, 3, 3, 7, 0), utc(2031, 3, 3, 11, 0)));
    assert_eq!(fb.interval_minutes, 30);
    assert_eq!(fb.view, View::DetailedMerged);
    assert!(r.suggestions.is_none());
    assert_eq!(r.zone.bias, -60);
    let d = r.zone.daylight.unwrap();
    assert_eq!((d.bias, d.month, d.day_order, d.weekday), (-60, 3, 5, Weekday::Sun));
    assert_eq!(r.fetch_window(), Some((fb.start, fb.end)));
}

#[test]
fn times_without_offset_are_local_to_the_request_zone() {
    let body = exchangelib_request("FreeBusy")
        .replace("2031-03-03T08:00:00+01:00", "2031-07-01T08:00:00")
        .replace("2031-03-03T12:00:00+01:00", "2031-07-01T12:00:00");
    let fb = parse(&body).unwrap().free_busy.unwrap();
    // July: Paris is on daylight time (UTC+2).
    assert_eq!((fb.start, fb.end), (utc(2031, 7, 1, 6, 0), utc(2031, 7, 1, 10, 0)));
}

/// The SerializableTimeZone rule agrees with the tz database for every hour of a year, north and south.
#[test]
fn serializable_time_zone_matches_the_tz_database() {
    let sydney = RequestZone {
        bias: -600,
        standard: Some(ZoneTransition {
            bias: 0,
            time: NaiveTime::from_hms_opt(3, 0, 0).unwrap(),
            day_order: 1,
            month: 4,
            weekday: Weekday::Sun,
        }),
        daylight: Some(ZoneTransition {
            bias: -60,
            time: NaiveTime::from_hms_opt(2, 0, 0).unwrap(),
            day_order: 1,
            month: 10,
            weekday: Weekday::Sun,
        }),
    };
    for (zone, tz) in [(paris(), Tz::Europe__Paris), (sydney, Tz::Australia__Sydney), (RequestZone::UTC, Tz::UTC)] {
        let mut t = utc(2031, 1, 1, 0, 30);
        while t < utc(2032, 1, 1, 0, 0) {
            let want = -tz.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc() / 60;
            assert_eq!(zone.bias_at(t), want, "{tz} at {t}");
            let local = zone.to_local(t);
            assert_eq!(local, t.with_timezone(&tz).naive_local());
            // Round trip except in the repeated hour, where the first instant is chosen.
            let back = zone.to_utc(local);
            assert!(back == t || back == t - Duration::hours(1), "{tz} {t} -> {local} -> {back}");
            t += Duration::hours(1);
        }
    }
    // The skipped hour of 30 March 2031 in Paris reads with the standard bias.
    let gap = NaiveDate::from_ymd_opt(2031, 3, 30).unwrap().and_hms_opt(2, 30, 0).unwrap();
    assert_eq!(paris().to_utc(gap), utc(2031, 3, 30, 1, 30));
}

#[test]
fn zone_without_daylight_and_bad_zones() {
    // exchangelib's UTC: both transitions present with bias 0.
    let utc_zone = "<t:TimeZone><t:Bias>0</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>00:00:00</t:Time><t:DayOrder>1</t:DayOrder><t:Month>1</t:Month><t:DayOfWeek>Monday</t:DayOfWeek></t:StandardTime><t:DaylightTime><t:Bias>0</t:Bias><t:Time>00:00:00</t:Time><t:DayOrder>5</t:DayOrder><t:Month>12</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime></t:TimeZone>";
    let body = exchangelib_request("FreeBusy").replace(PARIS_ZONE, utc_zone);
    let z = parse(&body).unwrap().zone;
    assert_eq!(z.bias_at(utc(2031, 7, 1, 0, 0)), 0);
    assert_eq!(z.bias_at(utc(2031, 12, 31, 12, 0)), 0);
    for bad in [
        PARIS_ZONE.replace(">-60</t:Bias><t:StandardTime>", ">x</t:Bias><t:StandardTime>"),
        PARIS_ZONE.replace("<t:Month>10</t:Month>", "<t:Month>13</t:Month>"),
        PARIS_ZONE.replace("Sunday</t:DayOfWeek></t:StandardTime>", "Sonntag</t:DayOfWeek></t:StandardTime>"),
        PARIS_ZONE.replace("03:00:00", "3am"),
        String::new(),
    ] {
        let e = parse(&exchangelib_request("FreeBusy").replace(PARIS_ZONE, &bad)).unwrap_err();
        assert_eq!(e.code, "ErrorInvalidRequest", "{bad}");
        assert_eq!(e.mailboxes, 2);
    }
}

#[test]
fn refuses_bad_requests_with_ews_codes() {
    let ok = exchangelib_request("FreeBusy");
    let cases = [
        (ok.replace("2031-03-03T12:00:00+01:00", "2031-03-03T07:00:00+01:00"), "ErrorInvalidTimeInterval"),
        (ok.replace("2031-03-03T12:00:00+01:00", "2031-09-03T07:00:00+01:00"), "ErrorTimeIntervalTooBig"),
        (ok.replace("2031-03-03T08:00:00+01:00", "yesterday"), "ErrorInvalidTimeInterval"),
        (ok.replace(">30<", ">3<"), "ErrorInvalidRequest"),
        (ok.replace(">FreeBusy<", ">Everything<"), "ErrorInvalidRequest"),
        (ok.replace(">Required<", ">Boss<"), "ErrorInvalidRequest"),
        (envelope(PARIS_ZONE), "ErrorInvalidRequest"),
        (
            envelope(&format!("{PARIS_ZONE}<m:MailboxDataArray>{}</m:MailboxDataArray>", mailbox("a@b"))),
            "ErrorInvalidRequest",
        ),
        (
            envelope(&format!("{PARIS_ZONE}<m:MailboxDataArray>{}</m:MailboxDataArray>", mailbox("a@b").repeat(101))),
            "ErrorInvalidRequest",
        ),
    ];
    for (body, code) in cases {
        let e = parse(&body).unwrap_err();
        assert_eq!(e.code, code, "{body}");
        let doc = error_document("Exchange2016", &e);
        let root = xml::parse(doc.as_bytes()).unwrap();
        let arr = root
            .child(NS_SOAP, "Body")
            .unwrap()
            .m("GetUserAvailabilityResponse")
            .unwrap()
            .m("FreeBusyResponseArray")
            .unwrap();
        assert!(arr.children.len() >= 1 && arr.children.len() <= MAX_MAILBOXES);
        for r in &arr.children {
            let m = r.m("ResponseMessage").unwrap();
            assert_eq!(m.attr("ResponseClass"), Some("Error"));
            assert_eq!(m.m("ResponseCode").unwrap().text, code);
        }
    }
}

// ------------------------------------------------------------------------------------------- calendar data

/// Bob's week as a DAV calendar would hold it: a weekly series (Mondays 09:00–10:00 Paris), a private
/// appointment, a free (transparent) one, a tentative one, an out-of-office one.
const BOB_CALENDAR: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VEVENT\r\nUID:series\r\nDTSTAMP:20310101T000000Z\r\nDTSTART;TZID=Europe/Paris:20310224T090000\r\nDTEND;TZID=Europe/Paris:20310224T100000\r\nRRULE:FREQ=WEEKLY;BYDAY=MO\r\nSUMMARY:Weekly sync\r\nLOCATION:Room 4\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:private\r\nDTSTAMP:20310101T000000Z\r\nDTSTART:20310303T093000Z\r\nDTEND:20310303T100000Z\r\nSUMMARY:Doctor\r\nCLASS:PRIVATE\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:free\r\nDTSTAMP:20310101T000000Z\r\nDTSTART:20310303T080000Z\r\nDTEND:20310303T083000Z\r\nSUMMARY:Focus\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:maybe\r\nDTSTAMP:20310101T000000Z\r\nDTSTART:20310303T100000Z\r\nDTEND:20310303T103000Z\r\nSUMMARY:Maybe lunch\r\nSTATUS:TENTATIVE\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:away\r\nDTSTAMP:20310101T000000Z\r\nDTSTART:20310304T080000Z\r\nDTEND:20310304T090000Z\r\nSUMMARY:Away\r\nX-MICROSOFT-CDO-BUSYSTATUS:OOF\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

fn bob(from: DateTime<Utc>, to: DateTime<Utc>, details: bool) -> Vec<BusyEvent> {
    let items = ical::parse_calendar(BOB_CALENDAR).unwrap().events;
    freebusy::busy_events(&items, owner_zone(&items), from, to, details)
}

#[test]
fn merged_string_of_bobs_morning() {
    let r = parse(&exchangelib_request("FreeBusyMerged")).unwrap();
    let fb = r.free_busy.unwrap();
    let ev = bob(fb.start, fb.end, false);
    // 07:00Z–11:00Z in 30-minute slots: free (08:00Z is transparent), series 08:00–09:00Z, private 09:30–10:00Z,
    // tentative 10:00–10:30Z, free again.
    assert_eq!(merged_string(&ev, &fb), "00220210");
    assert_eq!(merged_string(&ev, &FreeBusyOptions { interval_minutes: 60, ..fb }), "0221");
    assert_eq!(merged_string(&[], &fb), "00000000");
}

fn view_of(doc: &str, i: usize) -> xml::Element {
    let root = xml::parse(doc.as_bytes()).unwrap();
    let resp = root.child(NS_SOAP, "Body").unwrap().m("GetUserAvailabilityResponse").unwrap().clone();
    resp.m("FreeBusyResponseArray").unwrap().children[i].clone()
}

#[test]
fn detailed_view_hides_private_subjects_and_unknown_attendee_fails_alone() {
    let r = parse(&exchangelib_request("DetailedMerged")).unwrap();
    let fb = r.free_busy.unwrap();
    let results = vec![
        AttendeeResult::Found { events: bob(fb.start, fb.end, true), details_allowed: true },
        AttendeeResult::Failed { code: "ErrorMailRecipientNotFound", text: "No mailbox nobody@example.test".into() },
    ];
    let doc = response_document("Exchange2016", &r, &results);
    let bob_resp = view_of(&doc, 0);
    assert_eq!(bob_resp.m("ResponseMessage").unwrap().attr("ResponseClass"), Some("Success"));
    let view = bob_resp.m("FreeBusyView").unwrap();
    assert_eq!(view.t_text("FreeBusyViewType"), Some("DetailedMerged"));
    assert_eq!(view.t_text("MergedFreeBusy"), Some("00220210"));
    let events: Vec<_> = view.t("CalendarEventArray").unwrap().children.iter().collect();
    let got: Vec<(String, String, String, Option<String>)> = events
        .iter()
        .map(|e| {
            (
                e.t_text("StartTime").unwrap().to_string(),
                e.t_text("EndTime").unwrap().to_string(),
                e.t_text("BusyType").unwrap().to_string(),
                e.t("CalendarEventDetails").and_then(|d| d.t_text("Subject")).map(str::to_string),
            )
        })
        .collect();
    // Local Paris times without offset.
    assert_eq!(
        got,
        [
            ("2031-03-03T09:00:00".into(), "2031-03-03T10:00:00".into(), "Busy".into(), Some("Weekly sync".into())),
            ("2031-03-03T10:30:00".into(), "2031-03-03T11:00:00".into(), "Busy".into(), None),
            (
                "2031-03-03T11:00:00".into(),
                "2031-03-03T11:30:00".into(),
                "Tentative".into(),
                Some("Maybe lunch".into())
            ),
        ]
    );
    let series = events[0].t("CalendarEventDetails").unwrap();
    assert_eq!(series.t_text("Location"), Some("Room 4"));
    assert_eq!(series.t_text("IsRecurring"), Some("true"));
    assert!(!doc.contains("Doctor"), "a private subject never leaves the server");
    assert!(!doc.contains("Focus"), "free time is not listed");
    let wh = view.t("WorkingHours").unwrap();
    assert_eq!(wh.t("TimeZone").unwrap().t_text("Bias"), Some("-60"));
    let wp = wh.t("WorkingPeriodArray").unwrap().t("WorkingPeriod").unwrap();
    assert_eq!(wp.t_text("DayOfWeek"), Some("Monday Tuesday Wednesday Thursday Friday"));
    assert_eq!((wp.t_text("StartTimeInMinutes"), wp.t_text("EndTimeInMinutes")), (Some("480"), Some("1020")));

    let nobody = view_of(&doc, 1);
    let m = nobody.m("ResponseMessage").unwrap();
    assert_eq!(m.attr("ResponseClass"), Some("Error"));
    assert_eq!(m.m("ResponseCode").unwrap().text, "ErrorMailRecipientNotFound");
}

#[test]
fn without_read_rights_the_view_is_times_only() {
    let r = parse(&exchangelib_request("DetailedMerged")).unwrap();
    let fb = r.free_busy.unwrap();
    // As `attendee_events` builds it for a requester who may not read the calendar: no details computed.
    let results = vec![
        AttendeeResult::Found { events: bob(fb.start, fb.end, false), details_allowed: false },
        AttendeeResult::Found { events: vec![], details_allowed: false },
    ];
    let doc = response_document("Exchange2016", &r, &results);
    let view = view_of(&doc, 0).m("FreeBusyView").unwrap().clone();
    assert_eq!(view.t_text("FreeBusyViewType"), Some("FreeBusyMerged"));
    assert_eq!(view.t("CalendarEventArray").unwrap().children.len(), 3);
    assert!(!doc.contains("CalendarEventDetails") && !doc.contains("Weekly sync"));
    // Even if details were (wrongly) present, a view without rights does not write them.
    let leaky =
        vec![AttendeeResult::Found { events: bob(fb.start, fb.end, true), details_allowed: false }, results[1].clone()];
    let doc = response_document("Exchange2016", &r, &leaky);
    assert!(!doc.contains("Weekly sync"));
    // Detailed → FreeBusy; MergedOnly has no events.
    assert_eq!(View::Detailed.without_details(), View::FreeBusy);
    let merged_only = parse(&exchangelib_request("MergedOnly")).unwrap();
    let doc = response_document("Exchange2016", &merged_only, &results);
    let v = view_of(&doc, 0).m("FreeBusyView").unwrap().clone();
    assert!(v.t("CalendarEventArray").is_none() && v.t_text("MergedFreeBusy").is_some());
}

// ------------------------------------------------------------------------------------------- suggestions

#[test]
fn rating_follows_the_good_threshold() {
    assert_eq!(rate(0, 4, 25), Quality::Excellent);
    assert_eq!(rate(0, 0, 25), Quality::Excellent);
    assert_eq!(rate(1, 4, 25), Quality::Good);
    assert_eq!(rate(1, 3, 25), Quality::Fair);
    assert_eq!(rate(1, 3, 40), Quality::Good);
    assert_eq!(rate(2, 4, 25), Quality::Poor);
    assert_eq!(rate(3, 3, 25), Quality::Poor);
    assert!(is_conflict(FreeBusy::Tentative) && is_conflict(FreeBusy::Oof));
    assert!(!is_conflict(FreeBusy::WorkingElsewhere) && !is_conflict(FreeBusy::Free));
}

fn suggestions_request(extra: &str) -> AvailabilityRequest {
    parse(&envelope(&format!(
        "{PARIS_ZONE}<m:MailboxDataArray>{}{}{}</m:MailboxDataArray><t:SuggestionsViewOptions><t:GoodThreshold>25</t:GoodThreshold><t:MaximumResultsByDay>4</t:MaximumResultsByDay><t:MaximumNonWorkHourResultsByDay>0</t:MaximumNonWorkHourResultsByDay><t:MeetingDurationInMinutes>60</t:MeetingDurationInMinutes>{extra}<t:DetailedSuggestionsWindow><t:StartTime>2031-03-03T00:00:00</t:StartTime><t:EndTime>2031-03-05T00:00:00</t:EndTime></t:DetailedSuggestionsWindow></t:SuggestionsViewOptions>",
        mailbox("alice@example.test"),
        mailbox("bob@example.test"),
        mailbox("nobody@example.test"),
    )))
    .unwrap()
}

#[test]
fn suggestions_rate_slots_by_free_attendees() {
    let r = suggestions_request("<t:MinimumSuggestionQuality>Poor</t:MinimumSuggestionQuality>");
    let s = r.suggestions.unwrap();
    assert_eq!((s.start, s.end), (utc(2031, 3, 2, 23, 0), utc(2031, 3, 4, 23, 0)));
    assert_eq!((s.meeting_minutes, s.max_results_by_day, s.min_quality), (60, 4, Quality::Poor));
    let results = vec![
        AttendeeResult::Found { events: vec![], details_allowed: true },
        AttendeeResult::Found { events: bob(s.start, s.end, false), details_allowed: false },
        AttendeeResult::Failed { code: "ErrorMailRecipientNotFound", text: "no".into() },
    ];
    let days = suggest(&r, &s, &results);
    assert_eq!(days.len(), 2);
    assert_eq!(days[0].date, NaiveDate::from_ymd_opt(2031, 3, 3).unwrap());
    // Monday: the best four 60-minute slots between 08:00 and 17:00 local are the Excellent ones, earliest first
    // (08:00–09:00 local is 07:00–08:00Z: free).
    let times: Vec<String> = days[0].suggestions.iter().map(|x| local_text(&r.zone, x.start)).collect();
    assert_eq!(times, ["2031-03-03T08:00:00", "2031-03-03T11:30:00", "2031-03-03T12:00:00", "2031-03-03T12:30:00"]);
    assert!(days[0].suggestions.iter().all(|x| x.quality == Quality::Excellent && x.is_work_time));
    assert_eq!(days[0].quality, Quality::Excellent);
    let c = &days[0].suggestions[0].conflicts;
    assert_eq!(c, &[Conflict::Individual(FreeBusy::Free), Conflict::Individual(FreeBusy::Free), Conflict::Unknown]);

    // One busy attendee of two known ones is 50 %: Poor; a 09:00 local start overlaps the weekly sync.
    let all = suggest(&r, &SuggestionsOptions { max_results_by_day: 48, ..s }, &results);
    let nine = all[0].suggestions.iter().find(|x| local_text(&r.zone, x.start) == "2031-03-03T09:00:00").unwrap();
    assert_eq!(nine.quality, Quality::Poor);
    assert_eq!(nine.conflicts[1], Conflict::Individual(FreeBusy::Busy));
    // 08:00–17:00 work day, 60-minute meeting, 30-minute steps: starts 08:00 to 16:00, 17 candidates a day.
    assert_eq!(all[0].suggestions.len(), 17);
    // Tuesday 09:00 local is bob's out-of-office hour.
    let tue = all[1].suggestions.iter().find(|x| local_text(&r.zone, x.start) == "2031-03-04T09:00:00").unwrap();
    assert_eq!(tue.conflicts[1], Conflict::Individual(FreeBusy::Oof));

    // MinimumSuggestionQuality drops worse slots; ExcludeConflicts makes bob's conflicts not count.
    let good = suggest(&r, &SuggestionsOptions { min_quality: Quality::Good, max_results_by_day: 48, ..s }, &results);
    assert!(good[0].suggestions.iter().all(|x| x.quality <= Quality::Good));
    // Six starts (08:30 to 11:00) overlap one of bob's busy or tentative blocks.
    assert_eq!(good[0].suggestions.len(), 17 - 6);
    let mut excl = r.clone();
    excl.mailboxes[1].exclude_conflicts = true;
    let ex = suggest(&excl, &SuggestionsOptions { max_results_by_day: 48, ..s }, &results);
    assert!(ex[0].suggestions.iter().all(|x| x.quality == Quality::Excellent));

    // The response: SuggestionsResponse with one day result per day, conflicts per attendee in order.
    let doc = response_document("Exchange2016", &r, &results);
    assert!(!doc.contains("FreeBusyResponseArray"), "no free/busy was asked");
    let root = xml::parse(doc.as_bytes()).unwrap();
    let sr = root
        .child(NS_SOAP, "Body")
        .unwrap()
        .m("GetUserAvailabilityResponse")
        .unwrap()
        .m("SuggestionsResponse")
        .unwrap();
    assert_eq!(sr.m("ResponseMessage").unwrap().attr("ResponseClass"), Some("Success"));
    let days_xml: Vec<_> = sr.m("SuggestionDayResultArray").unwrap().children.iter().collect();
    assert_eq!(days_xml.len(), 2);
    assert_eq!(days_xml[0].t_text("Date"), Some("2031-03-03T00:00:00"));
    let first = &days_xml[0].t("SuggestionArray").unwrap().children[0];
    assert_eq!(first.t_text("MeetingTime"), Some("2031-03-03T08:00:00"));
    assert_eq!(first.t_text("SuggestionQuality"), Some("Excellent"));
    let conflicts = &first.t("AttendeeConflictDataArray").unwrap().children;
    assert_eq!(
        conflicts.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["IndividualAttendeeConflictData", "IndividualAttendeeConflictData", "UnknownAttendeeConflictData"]
    );
}

#[test]
fn weekends_have_no_suggestions() {
    let mut r = suggestions_request("");
    let mut s = r.suggestions.unwrap();
    s.start = utc(2031, 3, 8, 0, 0); // Saturday
    s.end = utc(2031, 3, 10, 0, 0);
    r.suggestions = Some(s);
    let results = vec![AttendeeResult::Found { events: vec![], details_allowed: true }; 3];
    let days = suggest(&r, &s, &results);
    assert!(days.iter().all(|d| d.suggestions.is_empty() && d.quality == Quality::Poor));
}

// ------------------------------------------------------------------------------------------- DAV layout

#[test]
fn sibling_homes_follow_the_server_layout() {
    assert_eq!(sibling_home("/master/", &["master"], "bob").as_deref(), Some("/bob/"));
    assert_eq!(sibling_home("/alice/", &own_names("alice@example.test"), "bob").as_deref(), Some("/bob/"));
    assert_eq!(
        sibling_home("/dav/calendars/user/master/", &["master"], "bob").as_deref(),
        Some("/dav/calendars/user/bob/")
    );
    assert_eq!(
        sibling_home("/SOGo/dav/master/Calendar/", &["master"], "bob").as_deref(),
        Some("/SOGo/dav/bob/Calendar/")
    );
    assert_eq!(sibling_home("/cal/x/", &["master"], "a b").as_deref(), Some("/cal/a%20b/"));
    assert_eq!(sibling_home("/", &["master"], "bob"), None);
}

#[test]
fn owner_zone_is_the_first_zoned_event() {
    let items = ical::parse_calendar(BOB_CALENDAR).unwrap().events;
    assert_eq!(owner_zone(&items), Tz::Europe__Paris);
    assert_eq!(owner_zone(&[]), Tz::UTC);
}

// ------------------------------------------------------------------------------------------- recorded pairs

fn fixture(name: &str) -> String {
    let path = format!("{}/protocol-fixtures/ews/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The request exchangelib 5.6 sent for `get_free_busy_info([bob, nobody], ..., 'DetailedMerged')`, and the
/// answer Viaduc gave against the test stack (recorded; see protocol-fixtures/ews/README.md).
#[test]
fn recorded_exchangelib_pair() {
    let r = parse(&fixture("getuseravailability-bob-nobody.exchangelib.request.xml")).unwrap();
    assert_eq!(r, parse(&exchangelib_request("DetailedMerged")).unwrap());
    let resp = fixture("getuseravailability-bob-nobody.exchangelib.response.xml");
    let bob = view_of(&resp, 0);
    assert_eq!(bob.m("FreeBusyView").unwrap().t_text("FreeBusyViewType"), Some("FreeBusyMerged"));
    let nobody = view_of(&resp, 1);
    assert_eq!(nobody.m("ResponseMessage").unwrap().m("ResponseCode").unwrap().text, "ErrorMailRecipientNotFound");
}

#[test]
fn recorded_suggestions_request() {
    let r = parse(&fixture("getuseravailability-suggestions.viaduc.request.xml")).unwrap();
    assert_eq!(
        r.mailboxes.iter().map(|m| m.attendee_type).collect::<Vec<_>>(),
        [AttendeeType::Organizer, AttendeeType::Required]
    );
    let s = r.suggestions.unwrap();
    assert_eq!((s.meeting_minutes, s.min_quality, s.good_threshold), (60, Quality::Poor, 25));
    assert_eq!((s.start, s.end), (utc(2031, 3, 2, 23, 0), utc(2031, 3, 3, 23, 0)));
    let resp = fixture("getuseravailability-suggestions.viaduc.response.xml");
    let root = xml::parse(resp.as_bytes()).unwrap();
    let sr = root
        .child(NS_SOAP, "Body")
        .unwrap()
        .m("GetUserAvailabilityResponse")
        .unwrap()
        .m("SuggestionsResponse")
        .unwrap();
    let day = &sr.m("SuggestionDayResultArray").unwrap().children[0];
    assert_eq!(day.t("SuggestionArray").unwrap().children.len(), 17);
}
