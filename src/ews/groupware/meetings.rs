//! Meetings through EWS (MS-OXWSMTGS): iTIP (RFC 5546) messages carried in mail as iMIP (RFC 6047).
//!
//! What the organizer does:
//! - CreateItem / UpdateItem with `SendMeetingInvitations(OrCancellations)` sends the invitation (iTIP REQUEST,
//!   [`send_invitations`]); DeleteItem with `SendMeetingCancellations` and CreateItem with
//!   `t:CancelCalendarItem` (MS-OXWSMTGS 2.2.4.4 CancelCalendarItemType) send the cancellation (iTIP CANCEL,
//!   RFC 5546 3.2.5, [`send_cancellation`]); a cancelled meeting is removed from the organizer's calendar, as
//!   Outlook does.
//! - Attendees that are local users (an address in a domain Viaduc serves) also get the meeting put into their
//!   calendar at once, unanswered (PARTSTAT=NEEDS-ACTION), as Exchange does; a cancellation marks their copy
//!   STATUS:CANCELLED ([`deliver_to_local_attendees`]).
//!
//! What the attendee does:
//! - an iMIP message in a mail folder is shown as `t:MeetingRequest`, `t:MeetingCancellation` or
//!   `t:MeetingResponse` (MS-OXWSMTGS 2.2.4.17, 2.2.4.14, 2.2.4.18) with the meeting's fields
//!   ([`write_meeting_fields`]; the mail side calls it from `ops::items::write_message` for messages whose
//!   BODYSTRUCTURE has a `text/calendar` part, so plain mail pays nothing);
//! - CreateItem with `t:AcceptItem`, `t:TentativelyAcceptItem` or `t:DeclineItem` (MS-OXWSMTGS 3.1.4.x, the
//!   `ReferenceItemId` naming the meeting request mail or the calendar item) records the answer in the
//!   attendee's calendar (a declined meeting is removed from it, as Outlook does), mails the iTIP REPLY
//!   (RFC 5546 3.2.3: only the replying ATTENDEE with its PARTSTAT) to the organizer, honouring
//!   `MessageDisposition` (SaveOnly puts the reply in Drafts and sends nothing), and — the DAV server having no
//!   scheduling of its own — records the answer in the organizer's copy when the organizer is a local user and
//!   a DAV service account is configured, so the organizer sees it without any client processing the REPLY.
//!
//! Servers that schedule themselves (RFC 6638, `calendar-auto-schedule` in the DAV header) deliver
//! invitations, replies and cancellations on their own when the organizer's or attendee's copy is written:
//! there Viaduc only writes the user's own copy and sends nothing, so nothing goes out twice.
//!
//! The message building and the iCalendar changes are sans-IO ([`imip_message`], [`parse_meeting`],
//! [`build_reply`], [`apply_reply`], [`set_partstat`]); the rest is thin glue over the mail store, the SMTP
//! submission server and the DAV client.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::mime::MimePart;
use mail_parser::MimeHeaders;

use super::Groupware;
use super::codec::{self, EventView, Gw};
use super::items;
use crate::auth::Principal;
use crate::backend::dav::client::{CalComponent, IfMatch};
use crate::backend::dav::ical;
use crate::error::Kind;
use crate::ews::ops::{Ctx, Fail, FolderNode};
use crate::ews::soap::ResponseMessage;
use crate::ews::store::MailStore;
use crate::ews::types::Shape;
use crate::ews::xml::{Element, XmlWriter};
use crate::ids::ItemId;
use crate::model::calendar::{Attendee, AttendeeRole, CalendarItem, FreeBusy, Mailbox, Method, ResponseStatus};

// ---------------------------------------------------------------------------------------------------------------
// Building iMIP messages (sans-IO)
// ---------------------------------------------------------------------------------------------------------------

/// An iMIP message: `multipart/alternative` with a plain-text summary and the iCalendar object as
/// `text/calendar; method=...` (RFC 6047 2.4), which Outlook, Thunderbird and Evolution all recognise.
pub fn imip_message(
    from: &Mailbox,
    to: &[Mailbox],
    subject: &str,
    summary: &str,
    ics: &str,
    method: Method,
) -> Vec<u8> {
    let addr = |m: &Mailbox| Address::new_address(m.name.clone().filter(|n| !n.is_empty()), m.email.clone());
    let calendar = ContentType::new("text/calendar").attribute("method", method.as_str()).attribute("charset", "utf-8");
    let body = MimePart::new(
        "multipart/alternative",
        vec![MimePart::new("text/plain", summary.to_string()), MimePart::new(calendar, ics.to_string())],
    );
    let domain = from.email.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_else(|| "viaduc.invalid".into());
    MessageBuilder::new()
        .from(addr(from))
        .to(Address::new_list(to.iter().map(addr).collect()))
        .subject(subject.replace(['\r', '\n'], " "))
        .message_id(format!("{}@{domain}", uuid::Uuid::new_v4().simple()))
        .body(body)
        .write_to_vec()
        .unwrap_or_default()
}

/// A short text of the meeting for mail readers that do not understand iCalendar.
fn summary(ev: &CalendarItem, intro: &str) -> String {
    let mut s = format!("{intro}\n\n{}\n", ev.subject);
    s.push_str(&format!("When: {}\n", ev.start.to_utc(Tz::UTC).format("%Y-%m-%d %H:%M UTC")));
    if let Some(l) = ev.location.as_deref().filter(|l| !l.is_empty()) {
        s.push_str(&format!("Where: {l}\n"));
    }
    if let Some(b) = ev.body.as_deref().filter(|b| !b.is_empty()) {
        s.push_str(&format!("\n{b}\n"));
    }
    s
}

/// Whether two calendar addresses are the same (`mailto:` and case aside).
fn same_address(a: &str, b: &str) -> bool {
    let strip = |s: &str| {
        let s = s.trim();
        match (s.get(..7), s.get(7..)) {
            (Some(p), Some(rest)) if p.eq_ignore_ascii_case("mailto:") => rest.to_string(),
            _ => s.to_string(),
        }
    };
    strip(a).eq_ignore_ascii_case(&strip(b))
}

/// The attendees to write to: everyone but the user (the organizer).
fn recipients(ev: &CalendarItem, me: &str) -> Vec<Mailbox> {
    ev.attendees.iter().map(|a| a.mailbox.clone()).filter(|m| !same_address(&m.email, me)).collect()
}

/// The EWS answer of a response object (MS-OXWSMTGS AcceptItem, TentativelyAcceptItem, DeclineItem).
pub fn response_of(element: &str) -> Option<ResponseStatus> {
    match element {
        "AcceptItem" => Some(ResponseStatus::Accepted),
        "TentativelyAcceptItem" => Some(ResponseStatus::Tentative),
        "DeclineItem" => Some(ResponseStatus::Declined),
        _ => None,
    }
}

/// Sets the user's answer on the user's copy of a meeting (PARTSTAT, no RSVP asked any more), on the series and
/// on every modified occurrence that lists its own attendees. A user missing from the list (invited through a
/// list, or under another address) is added.
pub fn set_partstat(ev: &mut CalendarItem, me: &Mailbox, status: ResponseStatus) {
    fn set(list: &mut Vec<Attendee>, me: &Mailbox, status: ResponseStatus, add: bool) {
        match list.iter_mut().find(|a| same_address(&a.mailbox.email, &me.email)) {
            Some(a) => {
                a.response = status;
                a.rsvp = false;
            }
            None if add => {
                list.push(Attendee { mailbox: me.clone(), role: AttendeeRole::Required, response: status, rsvp: false })
            }
            None => {}
        }
    }
    set(&mut ev.attendees, me, status, true);
    for x in &mut ev.modified_occurrences {
        if let Some(list) = x.attendees.as_mut() {
            set(list, me, status, false);
        }
    }
    ev.is_meeting = true;
}

/// The iTIP REPLY of an attendee (RFC 5546 3.2.3): the meeting's UID, SEQUENCE, ORGANIZER and times, a new
/// DTSTAMP, and as the only ATTENDEE the one replying, with its PARTSTAT. Reminders and the description stay out
/// (they are the attendee's own); modified occurrences are not replied to one by one (the answer covers the
/// series).
pub fn build_reply(ev: &CalendarItem, me: &Mailbox, status: ResponseStatus, now: DateTime<Utc>) -> CalendarItem {
    let mut r = ev.clone();
    let mine = ev.attendees.iter().find(|a| same_address(&a.mailbox.email, &me.email)).cloned();
    let mut a = mine.unwrap_or(Attendee { mailbox: me.clone(), ..Default::default() });
    a.response = status;
    a.rsvp = false;
    r.attendees = vec![a];
    r.modified_occurrences.clear();
    r.reminder_minutes = None;
    r.body = None;
    r.body_html = None;
    r.method = Some(Method::Reply);
    r.dtstamp = Some(now);
    r.is_meeting = true;
    r
}

/// Records a REPLY in the organizer's copy (RFC 5546 3.2.3): each replying attendee's PARTSTAT is set (an
/// attendee the organizer did not invite is added, as RFC 5546 lets the organizer accept them). A reply to an
/// older version of the meeting (lower SEQUENCE) or to another meeting is ignored. Returns whether anything
/// changed.
pub fn apply_reply(stored: &mut CalendarItem, reply: &CalendarItem) -> bool {
    if stored.uid != reply.uid || reply.sequence < stored.sequence {
        return false;
    }
    let mut changed = false;
    for ra in &reply.attendees {
        match stored.attendees.iter_mut().find(|a| same_address(&a.mailbox.email, &ra.mailbox.email)) {
            Some(a) => {
                if a.response != ra.response || a.rsvp {
                    a.response = ra.response;
                    a.rsvp = false;
                    changed = true;
                }
            }
            None => {
                stored.attendees.push(Attendee { role: AttendeeRole::Optional, rsvp: false, ..ra.clone() });
                changed = true;
            }
        }
        for x in &mut stored.modified_occurrences {
            if let Some(a) = x
                .attendees
                .as_mut()
                .and_then(|l| l.iter_mut().find(|a| same_address(&a.mailbox.email, &ra.mailbox.email)))
                && a.response != ra.response
            {
                a.response = ra.response;
                a.rsvp = false;
                changed = true;
            }
        }
    }
    changed
}

// ---------------------------------------------------------------------------------------------------------------
// Reading meeting messages (sans-IO)
// ---------------------------------------------------------------------------------------------------------------

/// The first `text/calendar` part of a MIME message (attached messages are not looked into): its iTIP method
/// (upper-case; from the part's `method` parameter, RFC 6047 2.4, else from the object's METHOD, else empty)
/// and its text.
pub fn calendar_part(raw: &[u8]) -> Option<(String, String)> {
    if raw.len() > crate::model::message::MAX_MIME_SIZE {
        return None;
    }
    let msg = mail_parser::MessageParser::default().parse(raw)?;
    for part in &msg.parts {
        let Some(ct) = part.content_type() else { continue };
        let is_calendar =
            ct.ctype().eq_ignore_ascii_case("text") && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("calendar"));
        if !is_calendar {
            continue;
        }
        let text = String::from_utf8_lossy(part.contents()).into_owned();
        let method = match ct.attribute("method").map(|m| m.trim().to_ascii_uppercase()).filter(|m| !m.is_empty()) {
            Some(m) => m,
            None => ical::parse_calendar(&text)
                .ok()
                .and_then(|c| c.method)
                .map(|m| m.as_str().to_string())
                .unwrap_or_default(),
        };
        return Some((method, text));
    }
    None
}

/// What a meeting message is, as EWS shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeetingKind {
    /// REQUEST or ADD: `t:MeetingRequest` (MS-OXWSMTGS 2.2.4.17 MeetingRequestMessageType).
    Request,
    /// CANCEL: `t:MeetingCancellation` (2.2.4.14 MeetingCancellationMessageType).
    Cancellation,
    /// REPLY or COUNTER: `t:MeetingResponse` (2.2.4.18 MeetingResponseMessageType).
    Response,
}

impl MeetingKind {
    /// The kind of an iTIP method; PUBLISH, REFRESH and DECLINECOUNTER messages stay plain messages.
    pub fn of_method(method: &str) -> Option<MeetingKind> {
        match method.trim().to_ascii_uppercase().as_str() {
            "REQUEST" | "ADD" => Some(MeetingKind::Request),
            "CANCEL" => Some(MeetingKind::Cancellation),
            "REPLY" | "COUNTER" => Some(MeetingKind::Response),
            _ => None,
        }
    }

    /// The EWS element.
    pub fn element(self) -> &'static str {
        match self {
            MeetingKind::Request => "t:MeetingRequest",
            MeetingKind::Cancellation => "t:MeetingCancellation",
            MeetingKind::Response => "t:MeetingResponse",
        }
    }
}

/// A meeting message read from mail.
#[derive(Debug, Clone, PartialEq)]
pub struct MeetingMessage {
    pub kind: MeetingKind,
    /// The (first) event of the calendar object, with the method it came with.
    pub event: CalendarItem,
}

/// Reads the meeting a message carries, when it is an iMIP REQUEST, CANCEL or REPLY with an event.
pub fn parse_meeting(raw: &[u8]) -> Option<MeetingMessage> {
    let (method, text) = calendar_part(raw)?;
    let cal = ical::parse_calendar(&text).ok()?;
    let kind = MeetingKind::of_method(&method)?;
    let mut event = cal.events.into_iter().next()?;
    event.method = Method::parse(&method);
    event.is_meeting = true;
    Some(MeetingMessage { kind, event })
}

/// The message class (MS-OXOCAL 2.2.6.1, 2.2.6.2, 2.2.6.3): a REPLY's class says the answer of its (only)
/// attendee.
pub fn item_class(kind: MeetingKind, event: Option<&CalendarItem>) -> &'static str {
    match kind {
        MeetingKind::Request => "IPM.Schedule.Meeting.Request",
        MeetingKind::Cancellation => "IPM.Schedule.Meeting.Canceled",
        MeetingKind::Response => match event.and_then(|e| e.attendees.first()).map(|a| a.response) {
            Some(ResponseStatus::Tentative) => "IPM.Schedule.Meeting.Resp.Tent",
            Some(ResponseStatus::Declined) => "IPM.Schedule.Meeting.Resp.Neg",
            _ => "IPM.Schedule.Meeting.Resp.Pos",
        },
    }
}

fn response_type(r: ResponseStatus) -> &'static str {
    match r {
        ResponseStatus::NoResponse => "NoResponseReceived",
        ResponseStatus::Accepted => "Accept",
        ResponseStatus::Tentative => "Tentative",
        ResponseStatus::Declined => "Decline",
        ResponseStatus::Delegated => "Unknown",
    }
}

fn free_busy_type(f: FreeBusy) -> &'static str {
    match f {
        FreeBusy::Free => "Free",
        FreeBusy::Tentative => "Tentative",
        FreeBusy::Busy => "Busy",
        FreeBusy::Oof => "OOF",
        FreeBusy::WorkingElsewhere => "WorkingElsewhere",
    }
}

fn fmt_utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn write_mailbox(w: &mut XmlWriter, m: &Mailbox) {
    w.start("t:Mailbox", &[]);
    w.leaf("t:Name", m.name.as_deref().filter(|n| !n.is_empty()).unwrap_or(&m.email));
    w.leaf("t:EmailAddress", &m.email);
    w.leaf("t:RoutingType", "SMTP");
    w.leaf("t:MailboxType", "OneOff");
    w.end();
}

/// The zone all-day meetings are read in: the request's TimeZoneContext, else UTC.
pub fn viewer_zone(time_zone: Option<&str>) -> Tz {
    time_zone.and_then(crate::model::timezone::windows_to_iana).and_then(|n| n.parse::<Tz>().ok()).unwrap_or(Tz::UTC)
}

/// Writes the meeting elements of a meeting message, after its MessageType elements: those of
/// MeetingMessageType (MS-OXWSMTGS 2.2.4.15: AssociatedCalendarItemId, IsDelegated, IsOutOfDate,
/// HasBeenProcessed, ResponseType, UID, RecurrenceId, DateTimeStamp) and, for a request, of
/// MeetingRequestMessageType (2.2.4.17: MeetingRequestType, IntendedFreeBusyStatus, Start, End, ...), in schema
/// order. `event` is `None` when the calendar part could not be read (then only what needs no event is written).
/// `answered`: the user has answered (IMAP `\Answered` on the message).
#[allow(clippy::too_many_arguments)]
pub fn write_meeting_fields(
    w: &mut XmlWriter,
    kind: MeetingKind,
    event: Option<&CalendarItem>,
    user: &str,
    answered: bool,
    shape: &Shape,
    full_default: bool,
    tz: Tz,
    associated: Option<(&str, &str)>,
) {
    if let Some((id, ck)) = associated
        && shape.wants("meeting:AssociatedCalendarItemId", true)
    {
        w.empty("t:AssociatedCalendarItemId", &[("Id", id), ("ChangeKey", ck)]);
    }
    if shape.wants("meeting:IsDelegated", true) {
        w.bool_leaf("t:IsDelegated", false);
    }
    if shape.wants("meeting:IsOutOfDate", true) {
        w.bool_leaf("t:IsOutOfDate", false);
    }
    if shape.wants("meeting:HasBeenProcessed", true) {
        w.bool_leaf("t:HasBeenProcessed", answered);
    }
    let Some(ev) = event else { return };
    let mine = ev.attendees.iter().find(|a| same_address(&a.mailbox.email, user));
    let is_organizer = ev.organizer.as_ref().is_some_and(|o| same_address(&o.email, user));
    if shape.wants("meeting:ResponseType", true) {
        let r = match kind {
            // A response says the answer it carries.
            MeetingKind::Response => ev.attendees.first().map(|a| response_type(a.response)).unwrap_or("Unknown"),
            _ if is_organizer => "Organizer",
            _ => mine.map(|a| response_type(a.response)).unwrap_or("Unknown"),
        };
        w.leaf("t:ResponseType", r);
    }
    if shape.wants("calendar:UID", true) {
        w.leaf("t:UID", &ev.uid);
    }
    if shape.wants("calendar:DateTimeStamp", true)
        && let Some(d) = ev.dtstamp
    {
        w.leaf("t:DateTimeStamp", &fmt_utc(d));
    }
    if kind != MeetingKind::Request {
        return;
    }
    let (start, end) = (ev.start.to_utc(tz), ev.end.to_utc(tz));
    if shape.wants("meetingRequest:MeetingRequestType", true) {
        w.leaf("t:MeetingRequestType", if ev.sequence == 0 { "NewMeetingRequest" } else { "FullUpdate" });
    }
    if shape.wants("meetingRequest:IntendedFreeBusyStatus", true) {
        w.leaf("t:IntendedFreeBusyStatus", free_busy_type(ev.free_busy));
    }
    if shape.wants("calendar:Start", true) {
        w.leaf("t:Start", &fmt_utc(start));
    }
    if shape.wants("calendar:End", true) {
        w.leaf("t:End", &fmt_utc(end));
    }
    if shape.wants("calendar:IsAllDayEvent", true) {
        w.bool_leaf("t:IsAllDayEvent", ev.is_all_day);
    }
    if shape.wants("calendar:LegacyFreeBusyStatus", true) {
        // Until answered, the meeting holds the time tentatively (MS-OXOCAL 3.1.4.7.1).
        w.leaf("t:LegacyFreeBusyStatus", "Tentative");
    }
    if shape.wants("calendar:Location", true)
        && let Some(l) = ev.location.as_deref().filter(|l| !l.is_empty())
    {
        w.leaf("t:Location", l);
    }
    if shape.wants("calendar:IsMeeting", true) {
        w.bool_leaf("t:IsMeeting", true);
    }
    if shape.wants("calendar:IsCancelled", true) {
        w.bool_leaf("t:IsCancelled", ev.is_cancelled);
    }
    if shape.wants("calendar:IsRecurring", true) {
        w.bool_leaf("t:IsRecurring", ev.recurrence.is_some());
    }
    if shape.wants("calendar:MeetingRequestWasSent", true) {
        w.bool_leaf("t:MeetingRequestWasSent", false);
    }
    if shape.wants("calendar:CalendarItemType", true) {
        w.leaf("t:CalendarItemType", if ev.recurrence.is_some() { "RecurringMaster" } else { "Single" });
    }
    if shape.wants("calendar:MyResponseType", true) {
        let r = if is_organizer { "Organizer" } else { mine.map(|a| response_type(a.response)).unwrap_or("Unknown") };
        w.leaf("t:MyResponseType", r);
    }
    if shape.wants("calendar:Organizer", true)
        && let Some(o) = &ev.organizer
    {
        w.start("t:Organizer", &[]);
        write_mailbox(w, o);
        w.end();
    }
    for (name, role) in [
        ("RequiredAttendees", AttendeeRole::Required),
        ("OptionalAttendees", AttendeeRole::Optional),
        ("Resources", AttendeeRole::Resource),
    ] {
        let list: Vec<&Attendee> = ev.attendees.iter().filter(|a| a.role == role).collect();
        if list.is_empty() || !shape.wants(&format!("calendar:{name}"), full_default) {
            continue;
        }
        w.start(&format!("t:{name}"), &[]);
        for a in list {
            w.start("t:Attendee", &[]);
            write_mailbox(w, &a.mailbox);
            w.leaf("t:ResponseType", response_type(a.response));
            w.end();
        }
        w.end();
    }
    if shape.wants("calendar:Duration", true) {
        let mins = (end - start).num_minutes().max(0);
        w.leaf("t:Duration", &format!("PT{}H{}M", mins / 60, mins % 60));
    }
    if shape.wants("calendar:AppointmentSequenceNumber", true) {
        w.leaf("t:AppointmentSequenceNumber", &ev.sequence.to_string());
    }
    if shape.wants("calendar:AppointmentState", true) {
        // MS-OXOCAL PidLidAppointmentStateFlags: 1 meeting, 2 received, 4 cancelled.
        let state = 1 | if is_organizer { 0 } else { 2 } | if ev.is_cancelled { 4 } else { 0 };
        w.leaf("t:AppointmentState", &state.to_string());
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Sending (organizer side)
// ---------------------------------------------------------------------------------------------------------------

async fn submit<S: MailStore>(cx: &mut Ctx<S>, to: &[Mailbox], raw: &[u8]) -> Result<(), Fail> {
    if to.is_empty() {
        return Ok(());
    }
    let rcpts: Vec<String> = to.iter().map(|m| m.email.clone()).collect();
    let from = cx.mailbox.clone();
    cx.store.submit(&from, &rcpts, raw).await.map_err(|e| {
        // The item is saved; only the mail failed. EWS reports it on the item (MS-OXWSCDATA ErrorMessageSubmissionBlocked
        // is for policy; a transport refusal is reported as a send failure).
        Fail::from_error(&e, "ErrorMessageSubmissionBlocked")
    })
}

fn me<S: MailStore>(cx: &Ctx<S>) -> Mailbox {
    Mailbox { email: cx.mailbox.clone(), name: Some(cx.display_name.clone()).filter(|n| !n.is_empty()) }
}

/// Whether the DAV server schedules itself (RFC 6638): then Viaduc sends no iTIP message of its own.
async fn server_schedules<S: MailStore>(cx: &Ctx<S>) -> bool {
    match &cx.groupware {
        Some(g) => g.client.auto_schedule(&g.principal).await,
        None => false,
    }
}

/// Sends the invitation (iTIP REQUEST) of a meeting the user organizes to its attendees.
pub async fn send_invitations<S: MailStore>(cx: &mut Ctx<S>, ev: &CalendarItem) -> Result<(), Fail> {
    if server_schedules(cx).await {
        return Ok(());
    }
    let to = recipients(ev, &cx.mailbox);
    let mut req = ev.clone();
    req.method = Some(Method::Request);
    let ics = ical::write_event(&req);
    let raw =
        imip_message(&me(cx), &to, &ev.subject, &summary(ev, "You are invited to a meeting."), &ics, Method::Request);
    submit(cx, &to, &raw).await
}

/// The cancellation (iTIP CANCEL, RFC 5546 3.2.5) of a meeting the user organizes: recipients and message.
fn cancellation<S: MailStore>(cx: &Ctx<S>, ev: &CalendarItem, note: Option<&str>) -> (Vec<Mailbox>, Vec<u8>) {
    let to = recipients(ev, &cx.mailbox);
    let mut c = ev.clone();
    c.method = Some(Method::Cancel);
    c.is_cancelled = true;
    c.sequence += 1;
    let ics = ical::write_event(&c);
    let subject = format!("Canceled: {}", ev.subject);
    let mut text = summary(ev, "This meeting has been canceled.");
    if let Some(n) = note.filter(|n| !n.trim().is_empty()) {
        text = format!("{n}\n\n{text}");
    }
    let raw = imip_message(&me(cx), &to, &subject, &text, &ics, Method::Cancel);
    (to, raw)
}

/// Sends the cancellation (iTIP CANCEL) of a meeting the user organizes (RFC 5546 3.2.5).
pub async fn send_cancellation<S: MailStore>(cx: &mut Ctx<S>, ev: &CalendarItem) -> Result<(), Fail> {
    if server_schedules(cx).await {
        return Ok(());
    }
    let (to, raw) = cancellation(cx, ev, None);
    submit(cx, &to, &raw).await
}

// ---------------------------------------------------------------------------------------------------------------
// Other local users' calendars (through the DAV service account)
// ---------------------------------------------------------------------------------------------------------------

/// The DAV user name of a local address: the directory's login for a mailbox user, else the local part of an
/// address in a served domain (the convention `GetUserAvailability` follows too). `None` for anyone else.
async fn local_user<S: MailStore>(cx: &mut Ctx<S>, email: &str) -> Option<String> {
    let (local, domain) = email.trim().split_once('@')?;
    if local.is_empty() || !cx.domains.iter().any(|d| d.eq_ignore_ascii_case(domain)) {
        return None;
    }
    if cx.store.has_directory() {
        match cx.store.resolve_names(email).await {
            Ok(entries) => {
                let e = entries.into_iter().find(|e| {
                    e.mail.eq_ignore_ascii_case(email) && e.kind == crate::model::directory::EntryKind::Mailbox
                })?;
                return Some(e.login.unwrap_or_else(|| local.to_string()));
            }
            Err(e) => tracing::debug!(error = %e, "meetings: directory lookup failed; using the local part"),
        }
    }
    Some(local.to_string())
}

/// The writable event calendars of another user, through the service account: the default one (named
/// `calendar`, else the first) first.
async fn calendars_of(g: &Groupware, service: &Principal, user: &str) -> crate::error::Result<Vec<String>> {
    let homes = g.client.discover(service).await?;
    let own = homes.calendar_home.unwrap_or(homes.principal);
    let names = crate::ews::availability::own_names(&service.login);
    let Some(home) = crate::ews::availability::sibling_home(&own, &names, user) else { return Ok(Vec::new()) };
    let cols = g.client.collections_in(service, &home).await?.unwrap_or_default();
    Ok(default_first(
        cols.into_iter().filter(|c| c.holds(CalComponent::Event) && !c.read_only).map(|c| c.href).collect(),
    ))
}

/// Orders calendar hrefs with the default calendar (last segment `calendar`) first.
fn default_first(mut hrefs: Vec<String>) -> Vec<String> {
    let is_default =
        |h: &String| h.trim_end_matches('/').rsplit('/').next().is_some_and(|s| s.eq_ignore_ascii_case("calendar"));
    hrefs.sort_by_key(|h| !is_default(h));
    hrefs
}

/// A stored copy of a meeting: where it is, its ETag and the event.
struct Copy {
    collection: String,
    resource: String,
    etag: String,
    event: CalendarItem,
}

/// Finds the object holding `uid` in `calendars` (read as `p`): under Viaduc's own resource name first (one GET),
/// then by a calendar-query on the UID.
async fn find_copy(
    g: &Groupware,
    p: &Principal,
    calendars: &[String],
    uid: &str,
) -> crate::error::Result<Option<Copy>> {
    let make = |href: &str, etag: Option<String>, data: &str| -> Option<Copy> {
        let Ok(Gw::Event(event)) = codec::parse_object(data) else { return None };
        if event.uid != uid {
            return None;
        }
        let path = crate::backend::dav::client::href_path(href);
        let (collection, resource) = path.rsplit_once('/').map(|(c, r)| (format!("{c}/"), r.to_string()))?;
        Some(Copy { collection, resource, etag: etag.unwrap_or_default(), event })
    };
    let name = items::resource_name(uid, "ics");
    for c in calendars {
        if let Some(o) = g.client.get(p, &format!("{c}{name}")).await?
            && let Some(copy) = make(&o.href, o.etag, &o.data)
        {
            return Ok(Some(copy));
        }
    }
    for c in calendars {
        for o in g.client.objects_with_uid(p, c, uid).await? {
            if let Some(copy) = make(&o.href, o.etag, &o.data) {
                return Ok(Some(copy));
            }
        }
    }
    Ok(None)
}

/// Writes an event (as a stored object, without method) to `collection/resource`.
async fn put_event(
    g: &Groupware,
    p: &Principal,
    collection: &str,
    resource: &str,
    ev: &CalendarItem,
    if_match: IfMatch,
) -> crate::error::Result<String> {
    let (data, ctype, _) = codec::serialize(&Gw::Event(ev.clone()));
    g.client.put(p, &format!("{collection}{resource}"), &data, ctype, if_match).await
}

/// Puts a meeting the user organizes into the calendars of its local attendees (unanswered, as Exchange does),
/// or marks their copies cancelled — only on DAV servers without scheduling of their own and with a service
/// account. Failures are logged: the invitation mail went out anyway.
pub async fn deliver_to_local_attendees<S: MailStore>(cx: &mut Ctx<S>, ev: &CalendarItem, cancel: bool) {
    let Some(g) = cx.groupware.clone() else { return };
    let Some(service) = g.service.clone() else { return };
    if g.client.auto_schedule(&g.principal).await {
        return;
    }
    for a in ev.attendees.clone() {
        if same_address(&a.mailbox.email, &cx.mailbox) || (!cancel && a.response == ResponseStatus::Declined) {
            continue;
        }
        let Some(user) = local_user(cx, &a.mailbox.email).await else { continue };
        if let Err(e) = deliver_one(&g, &service, &user, ev, cancel).await {
            tracing::warn!(error = %e, attendee = %a.mailbox.email, uid = %ev.uid, "meetings: attendee's calendar not updated");
        }
    }
}

async fn deliver_one(
    g: &Groupware,
    service: &Principal,
    user: &str,
    ev: &CalendarItem,
    cancel: bool,
) -> crate::error::Result<()> {
    let calendars = calendars_of(g, service, user).await?;
    let Some(default) = calendars.first().cloned() else {
        tracing::info!(user = %user, "meetings: the attendee has no calendar to put the meeting in");
        return Ok(());
    };
    let mut copy = ev.clone();
    copy.method = None;
    copy.is_meeting = true;
    match find_copy(g, service, &calendars, &ev.uid).await? {
        Some(found) => {
            if cancel {
                copy = found.event;
                copy.is_cancelled = true;
                copy.sequence = copy.sequence.max(ev.sequence + 1);
            } else if ev.sequence < found.event.sequence {
                // An older version than the attendee has (RFC 5546 2.1.5).
                return Ok(());
            }
            put_event(g, service, &found.collection, &found.resource, &copy, IfMatch::Etag(found.etag)).await?;
        }
        None if cancel => {}
        None => {
            let resource = items::resource_name(&ev.uid, "ics");
            put_event(g, service, &default, &resource, &copy, IfMatch::None).await?;
        }
    }
    Ok(())
}

/// Records an attendee's REPLY in the organizer's copy, when the organizer is a local user: found by UID in
/// the organizer's calendars through the service account, PARTSTAT set, written back with If-Match (once more
/// after a conflict). Failures are logged: the REPLY mail went out anyway.
async fn update_organizer_copy<S: MailStore>(cx: &mut Ctx<S>, g: &Groupware, reply: &CalendarItem) {
    let Some(service) = g.service.clone() else { return };
    let Some(organizer) = reply.organizer.as_ref().map(|o| o.email.clone()) else { return };
    let Some(user) = local_user(cx, &organizer).await else { return };
    let run = async {
        let calendars = calendars_of(g, &service, &user).await?;
        for _ in 0..2 {
            let Some(mut found) = find_copy(g, &service, &calendars, &reply.uid).await? else {
                tracing::info!(organizer = %organizer, uid = %reply.uid, "meetings: the organizer's copy was not found");
                return Ok(());
            };
            if !apply_reply(&mut found.event, reply) {
                return Ok(());
            }
            found.event.last_modified = Some(items::now());
            match put_event(g, &service, &found.collection, &found.resource, &found.event, IfMatch::Etag(found.etag))
                .await
            {
                Err(e) if e.kind == Kind::Conflict => continue,
                r => return r.map(|_| ()),
            }
        }
        Ok::<(), crate::error::Error>(())
    };
    if let Err(e) = run.await {
        tracing::warn!(error = %e, organizer = %organizer, uid = %reply.uid, "meetings: the organizer's copy was not updated");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// CreateItem with meeting response objects
// ---------------------------------------------------------------------------------------------------------------

/// CreateItem whose items are AcceptItem, TentativelyAcceptItem, DeclineItem or CancelCalendarItem.
pub async fn create_items<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let disposition = op.attr("MessageDisposition").unwrap_or("SendAndSaveCopy").to_string();
    if !matches!(disposition.as_str(), "SaveOnly" | "SendOnly" | "SendAndSaveCopy") {
        return vec![ResponseMessage::error(
            "ErrorInvalidRequest",
            format!("Unknown MessageDisposition '{disposition}'."),
        )];
    }
    let mut out = Vec::new();
    for el in op.m("Items").map(|c| c.children.clone()).unwrap_or_default() {
        let r = if cx.delegate.is_some() {
            Err(Fail::new("ErrorAccessDenied", "Answering meetings on behalf of another mailbox is not supported."))
        } else if let Some(status) = response_of(&el.name) {
            respond(cx, op, &el, status, &disposition).await
        } else if el.name == "CancelCalendarItem" {
            cancel_meeting(cx, op, &el, &disposition).await
        } else {
            Err(Fail::new("ErrorInvalidRequest", "Meeting responses cannot be created together with other items."))
        };
        out.push(match r {
            Ok(content) => ResponseMessage::ok(content),
            Err(f) => f.message(),
        });
    }
    cx.invalidate();
    if out.is_empty() {
        out.push(ResponseMessage::error("ErrorInvalidRequest", "Items is empty."));
    }
    out
}

/// The text of a response object's `t:Body`, as plain text.
fn note_of(el: &Element) -> Option<String> {
    let b = el.t("Body")?;
    let text =
        if b.attr("BodyType") == Some("HTML") { crate::ews::ops::items::html_to_text(&b.text) } else { b.text.clone() };
    Some(text).filter(|t| !t.trim().is_empty())
}

fn reference_as_item_id(el: &Element) -> Result<Element, Fail> {
    let r = el
        .t("ReferenceItemId")
        .ok_or_else(|| Fail::new("ErrorInvalidRequest", "ReferenceItemId is required for a meeting response."))?;
    let mut as_item = r.clone();
    as_item.name = "ItemId".into();
    Ok(as_item)
}

/// The user's own copy of a meeting named by a calendar item id.
async fn own_copy_by_id<S: MailStore>(cx: &mut Ctx<S>, id_el: &Element) -> Result<Copy, Fail> {
    let g = items::groupware(cx)?;
    let t = items::parse_target(cx, id_el)?;
    let o = items::read_object(&g, &t.collection, &t.resource).await?;
    match o.item {
        Gw::Event(event) => Ok(Copy { collection: o.collection, resource: o.resource, etag: o.etag, event }),
        _ => Err(Fail::new("ErrorInvalidOperation", "The item is not a meeting.")),
    }
}

/// The user's default calendar collection (created on first use, like the calendar folder).
async fn default_calendar<S: MailStore>(cx: &mut Ctx<S>) -> Result<String, Fail> {
    let el = Element {
        name: "DistinguishedFolderId".into(),
        ns: Some(crate::ews::xml::NS_T.into()),
        attrs: vec![(None, "Id".into(), "calendar".into())],
        ..Default::default()
    };
    cx.include_dav = true;
    let node = cx.resolve_folder(&el).await?;
    node.dav.map(|d| d.href).ok_or_else(|| Fail::new("ErrorFolderNotFound", "The calendar folder cannot be found."))
}

/// AcceptItem, TentativelyAcceptItem, DeclineItem (MS-OXWSMTGS 3.1.4.x): see the module documentation.
async fn respond<S: MailStore>(
    cx: &mut Ctx<S>,
    op: &Element,
    el: &Element,
    status: ResponseStatus,
    disposition: &str,
) -> Result<String, Fail> {
    let id_el = reference_as_item_id(el)?;
    let ref_id = id_el.attr("Id").unwrap_or("").to_string();
    // The meeting: the user's calendar item, or the invitation in a mail folder.
    let mut stored: Option<Copy> = None;
    let mut request_mail: Option<(ItemId, FolderNode)> = None;
    let invitation = if cx.ids.is_dav_item_id(&ref_id) {
        let c = own_copy_by_id(cx, &id_el).await?;
        let ev = c.event.clone();
        stored = Some(c);
        ev
    } else {
        cx.load().await?;
        let (id, node) = crate::ews::ops::items::resolve_item(cx, &id_el).await?;
        let name = node.name.clone().ok_or_else(|| Fail::new("ErrorItemNotFound", "No such item."))?;
        let raw = cx
            .store
            .fetch_raw(&name, id.uid)
            .await
            .map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?
            .ok_or_else(|| Fail::new("ErrorItemNotFound", "The specified object was not found in the store."))?;
        let m = parse_meeting(&raw)
            .filter(|m| m.kind == MeetingKind::Request)
            .ok_or_else(|| Fail::new("ErrorInvalidOperation", "The item is not a meeting request."))?;
        request_mail = Some((id, node));
        m.event
    };
    let me = me(cx);
    let organizer = invitation
        .organizer
        .clone()
        .ok_or_else(|| Fail::new("ErrorInvalidOperation", "The meeting has no organizer to answer."))?;
    if same_address(&organizer.email, &me.email) {
        return Err(Fail::new("ErrorInvalidOperation", "You are the organizer of this meeting."));
    }
    let scheduling = server_schedules(cx).await;
    let mut answered = invitation.clone();
    set_partstat(&mut answered, &me, status);

    // 1. The attendee's own calendar (before any mail, so that a failure leaves nothing half done).
    let mut content = String::new();
    if let Some(g) = cx.groupware.clone() {
        let existing = match stored {
            Some(c) => Some(c),
            None => {
                let cals = g
                    .client
                    .list_collections(&g.principal)
                    .await
                    .map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
                let hrefs = default_first(
                    cals.into_iter().filter(|c| c.holds(CalComponent::Event) && !c.read_only).map(|c| c.href).collect(),
                );
                find_copy(&g, &g.principal, &hrefs, &invitation.uid)
                    .await
                    .map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?
            }
        };
        if status == ResponseStatus::Declined {
            // Outlook removes a declined meeting from the attendee's calendar; so does Viaduc.
            if let Some(c) = existing {
                let href = format!("{}{}", c.collection, c.resource);
                match g.client.delete(&g.principal, &href, None).await {
                    Err(e) if e.kind != Kind::NotFound => return Err(Fail::from_error(&e, "ErrorItemNotFound")),
                    _ => {}
                }
            }
        } else {
            let (collection, resource, if_match, mut ev) = match existing {
                Some(c) => {
                    // A newer invitation than the stored copy replaces it (RFC 5546 2.1.5, SEQUENCE).
                    let ev = if invitation.sequence > c.event.sequence { invitation.clone() } else { c.event };
                    (c.collection, c.resource, IfMatch::Etag(c.etag), ev)
                }
                None => {
                    let col = default_calendar(cx).await?;
                    (col, items::resource_name(&invitation.uid, "ics"), IfMatch::None, invitation.clone())
                }
            };
            set_partstat(&mut ev, &me, status);
            ev.method = None;
            ev.free_busy = match (status, ev.free_busy) {
                (ResponseStatus::Tentative, FreeBusy::Busy) => FreeBusy::Tentative,
                (ResponseStatus::Accepted, FreeBusy::Tentative) => FreeBusy::Busy,
                (_, f) => f,
            };
            ev.stamp(items::now());
            let etag =
                put_event(&g, &g.principal, &collection, &resource, &ev, if_match).await.map_err(|e| match e.kind {
                    Kind::Conflict => {
                        Fail::new("ErrorIrresolvableConflict", "The calendar item was changed meanwhile; retry.")
                    }
                    _ => Fail::from_error(&e, "ErrorItemSave"),
                })?;
            let o = items::Object { collection, resource, etag, item: Gw::Event(ev) };
            let mut w = XmlWriter::new();
            items::render(&mut w, cx, &o, EventView::Whole, &items::id_only(), false);
            content = w.finish();
        }
    }

    // 2. The REPLY to the organizer (RFC 5546 3.2.3, RFC 6047).
    let reply = build_reply(&answered, &me, status, items::now());
    let ics = ical::write_event(&reply);
    let (prefix, verb) = match status {
        ResponseStatus::Tentative => ("Tentative", "tentatively accepted"),
        ResponseStatus::Declined => ("Declined", "declined"),
        _ => ("Accepted", "accepted"),
    };
    let subject = format!("{prefix}: {}", invitation.subject);
    let who = me.name.clone().unwrap_or_else(|| me.email.clone());
    let mut text = format!("{who} has {verb} this meeting.\n\n{}", summary(&invitation, ""));
    if let Some(n) = note_of(el) {
        text = format!("{n}\n\n{text}");
    }
    let raw = imip_message(&me, std::slice::from_ref(&organizer), &subject, &text, &ics, Method::Reply);
    match disposition {
        "SaveOnly" => {
            let folder = crate::ews::ops::create::target_folder(cx, op, "drafts").await?;
            crate::ews::ops::create::save(cx, &folder, &raw, &["\\Draft", "\\Seen"]).await?;
        }
        _ => {
            if !scheduling {
                submit(cx, std::slice::from_ref(&organizer), &raw).await?;
            }
            if disposition == "SendAndSaveCopy" {
                let folder = crate::ews::ops::create::target_folder(cx, op, "sentitems").await?;
                crate::ews::ops::create::save(cx, &folder, &raw, &["\\Seen"]).await?;
            }
            // 3. The organizer's copy, when the organizer is local and nobody else delivers the reply.
            if !scheduling && let Some(g) = cx.groupware.clone() {
                update_organizer_copy(cx, &g, &reply).await;
            }
        }
    }

    // 4. The request is answered (IMAP \Answered, as for replied mail; MeetingRequest HasBeenProcessed).
    if let Some((id, node)) = request_mail
        && let Some(name) = node.name.clone()
    {
        let flags = ["\\Seen".to_string(), "\\Answered".to_string()];
        if let Err(e) = cx.store.set_flags(&name, &[id.uid], &flags, &[], None).await {
            tracing::debug!(error = %e, "meetings: could not flag the answered request");
        }
    }
    let mut w = XmlWriter::new();
    w.start("m:Items", &[]).raw_text(&content).end();
    Ok(w.finish())
}

/// CancelCalendarItem (MS-OXWSMTGS 2.2.4.4): the organizer cancels a meeting — the cancellation goes to the
/// attendees (unless SaveOnly), local attendees' copies are marked cancelled, and the organizer's item is
/// deleted, as Outlook does.
async fn cancel_meeting<S: MailStore>(
    cx: &mut Ctx<S>,
    op: &Element,
    el: &Element,
    disposition: &str,
) -> Result<String, Fail> {
    let id_el = reference_as_item_id(el)?;
    if !id_el.attr("Id").is_some_and(|i| cx.ids.is_dav_item_id(i)) {
        return Err(Fail::new("ErrorInvalidOperation", "Only calendar items can be cancelled."));
    }
    let g = items::groupware(cx)?;
    let c = own_copy_by_id(cx, &id_el).await?;
    let ev = c.event.clone();
    if ev.organizer.as_ref().is_some_and(|o| !same_address(&o.email, &cx.mailbox)) {
        return Err(Fail::new("ErrorInvalidOperation", "Only the organizer can cancel a meeting."));
    }
    if disposition != "SaveOnly" && !ev.attendees.is_empty() {
        if !server_schedules(cx).await {
            let (to, raw) = cancellation(cx, &ev, note_of(el).as_deref());
            submit(cx, &to, &raw).await?;
            if disposition == "SendAndSaveCopy" {
                let folder = crate::ews::ops::create::target_folder(cx, op, "sentitems").await?;
                crate::ews::ops::create::save(cx, &folder, &raw, &["\\Seen"]).await?;
            }
        }
        deliver_to_local_attendees(cx, &ev, true).await;
    }
    let href = format!("{}{}", c.collection, c.resource);
    g.client.delete(&g.principal, &href, Some(&c.etag).filter(|e| !e.is_empty()).map(|e| e.as_str())).await.map_err(
        |e| match e.kind {
            Kind::Conflict => Fail::new("ErrorIrresolvableConflict", "The meeting was changed meanwhile; retry."),
            _ => Fail::from_error(&e, "ErrorItemNotFound"),
        },
    )?;
    let mut w = XmlWriter::new();
    w.empty("m:Items", &[]);
    Ok(w.finish())
}

#[cfg(test)]
mod tests;
