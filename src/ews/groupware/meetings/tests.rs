//! Meeting messages, sans-IO: building invitations and replies, recording a reply in the organizer's copy, and
//! showing a recorded iMIP invitation (the one `testenv/seed.sh` delivers) as a MeetingRequest through GetItem
//! and FindItem against the in-memory store.

use super::*;
use crate::ews::store::MemStore;
use crate::ews::xml::{NS_M, NS_SOAP, NS_T, parse};
use crate::ids::IdCodec;
use crate::model::timezone::EventTime;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/protocol-fixtures/mime/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn mb(email: &str, name: &str) -> Mailbox {
    Mailbox { email: email.into(), name: Some(name.into()) }
}

fn attendee(email: &str, name: &str, response: ResponseStatus) -> Attendee {
    Attendee { mailbox: mb(email, name), role: AttendeeRole::Required, response, rsvp: true }
}

fn meeting() -> CalendarItem {
    let start = EventTime::Utc(chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap());
    let end = EventTime::Utc(chrono::DateTime::from_timestamp(1_800_003_600, 0).unwrap());
    let mut ev = CalendarItem::new("u-1@example.test", "Plan", start, end);
    ev.organizer = Some(mb("alice@example.test", "Alice"));
    ev.attendees.push(attendee("bob@example.test", "Bob", ResponseStatus::NoResponse));
    ev.attendees.push(attendee("carol@example.test", "Carol", ResponseStatus::NoResponse));
    ev.sequence = 2;
    ev.reminder_minutes = Some(15);
    ev.body = Some("Agenda".into());
    ev.is_meeting = true;
    ev
}

#[test]
fn imip_invitation_has_the_calendar_part_with_its_method() {
    let mut ev = meeting();
    ev.method = Some(Method::Request);
    let ics = ical::write_event(&ev);
    let from = mb("alice@example.test", "Alice");
    let raw = imip_message(&from, &recipients(&ev, "alice@example.test"), "Plan", "x", &ics, Method::Request);
    let text = String::from_utf8(raw.clone()).unwrap();
    assert!(text.contains("multipart/alternative"));
    let msg = crate::model::message::Message::from_mime(text.as_bytes()).unwrap();
    assert_eq!(msg.subject.as_deref(), Some("Plan"));
    assert!(text.contains("bob@example.test"));
    // What the receiving side reads back from it.
    let (method, part) = calendar_part(&raw).unwrap();
    assert_eq!(method, "REQUEST");
    assert!(part.contains("BEGIN:VEVENT"));
    let m = parse_meeting(&raw).unwrap();
    assert_eq!(m.kind, MeetingKind::Request);
    assert_eq!(m.event.uid, "u-1@example.test");
    assert_eq!(m.event.attendees.len(), 2);
}

#[test]
fn reply_carries_only_the_replying_attendee() {
    let ev = meeting();
    let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    let bob = mb("bob@example.test", "Bob");
    let reply = build_reply(&ev, &bob, ResponseStatus::Accepted, now);
    assert_eq!(reply.attendees.len(), 1);
    assert_eq!(reply.attendees[0].response, ResponseStatus::Accepted);
    assert!(!reply.attendees[0].rsvp);
    assert_eq!(reply.sequence, 2, "a REPLY keeps the SEQUENCE it answers (RFC 5546 3.2.3)");
    let ics = ical::write_event(&reply);
    let unfolded = ics.replace("\r\n ", "");
    assert!(ics.contains("METHOD:REPLY"), "{ics}");
    assert!(ics.contains("UID:u-1@example.test"));
    assert!(ics.contains("SEQUENCE:2"));
    assert!(ics.contains("ORGANIZER"));
    let attendee_lines: Vec<&str> = unfolded.lines().filter(|l| l.starts_with("ATTENDEE")).collect();
    assert_eq!(attendee_lines.len(), 1, "{ics}");
    assert!(attendee_lines[0].contains("PARTSTAT=ACCEPTED") && attendee_lines[0].contains("bob@example.test"));
    assert!(!ics.contains("carol@example.test"));
    assert!(!ics.contains("BEGIN:VALARM") && !ics.contains("DESCRIPTION"));
    // As mail: a MeetingResponse whose class says the answer.
    let raw = imip_message(&bob, &[mb("alice@example.test", "Alice")], "Accepted: Plan", "ok", &ics, Method::Reply);
    let m = parse_meeting(&raw).unwrap();
    assert_eq!(m.kind, MeetingKind::Response);
    assert_eq!(item_class(m.kind, Some(&m.event)), "IPM.Schedule.Meeting.Resp.Pos");
    let declined = build_reply(&ev, &bob, ResponseStatus::Declined, now);
    assert_eq!(item_class(MeetingKind::Response, Some(&declined)), "IPM.Schedule.Meeting.Resp.Neg");
    // Someone not on the list (invited through a group) replies as themselves.
    let dave = mb("dave@example.test", "Dave");
    let r = build_reply(&ev, &dave, ResponseStatus::Tentative, now);
    assert_eq!(r.attendees[0].mailbox.email, "dave@example.test");
}

#[test]
fn organizer_copy_records_the_answer() {
    let mut stored = meeting();
    let bob = mb("bob@example.test", "Bob");
    let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    let reply = build_reply(&meeting(), &bob, ResponseStatus::Accepted, now);
    assert!(apply_reply(&mut stored, &reply));
    assert_eq!(stored.attendees[0].response, ResponseStatus::Accepted);
    assert!(!stored.attendees[0].rsvp);
    assert_eq!(stored.attendees[1].response, ResponseStatus::NoResponse, "carol's answer is untouched");
    assert!(!apply_reply(&mut stored, &reply), "the same answer twice changes nothing");
    // Written and read back as the organizer's calendar object: bob ACCEPTED.
    let back = ical::parse_calendar(&ical::write_event(&stored)).unwrap().events.remove(0);
    assert_eq!(
        back.attendees.iter().find(|a| a.mailbox.email == "bob@example.test").unwrap().response,
        ResponseStatus::Accepted
    );
    // A reply to an older version is ignored (RFC 5546 3.2.3), one to another meeting too.
    let mut old = build_reply(&meeting(), &bob, ResponseStatus::Declined, now);
    old.sequence = 1;
    assert!(!apply_reply(&mut stored, &old));
    let mut other = reply.clone();
    other.uid = "other".into();
    assert!(!apply_reply(&mut stored, &other));
    // Uninvited attendees are added.
    let crasher = build_reply(&meeting(), &mb("dave@example.test", "Dave"), ResponseStatus::Tentative, now);
    assert!(apply_reply(&mut stored, &crasher));
    assert_eq!(stored.attendees.len(), 3);
    assert_eq!(stored.attendees[2].role, AttendeeRole::Optional);
}

#[test]
fn attendee_copy_gets_the_partstat() {
    let mut ev = meeting();
    ev.modified_occurrences.push(crate::model::calendar::Exception {
        attendees: Some(vec![attendee("bob@example.test", "Bob", ResponseStatus::NoResponse)]),
        ..Default::default()
    });
    set_partstat(&mut ev, &mb("BOB@example.test", "Bob"), ResponseStatus::Tentative);
    assert_eq!(ev.attendees[0].response, ResponseStatus::Tentative);
    assert_eq!(ev.modified_occurrences[0].attendees.as_ref().unwrap()[0].response, ResponseStatus::Tentative);
    set_partstat(&mut ev, &mb("erin@example.test", "Erin"), ResponseStatus::Accepted);
    assert_eq!(ev.attendees.len(), 3);
}

#[test]
fn recorded_seed_invitation_is_a_meeting_request() {
    let raw = fixture("imip-request-seed.eml");
    let (method, _) = calendar_part(&raw).unwrap();
    assert_eq!(method, "REQUEST");
    let m = parse_meeting(&raw).unwrap();
    assert_eq!(m.kind, MeetingKind::Request);
    assert_eq!(m.event.uid, "design-review@example.test");
    assert_eq!(m.event.subject, "Design review");
    assert_eq!(m.event.organizer.as_ref().unwrap().email, "alice@example.test");
    assert_eq!(calendar_part(b"From: a@b\r\nSubject: x\r\n\r\nplain\r\n"), None);
    assert_eq!(MeetingKind::of_method("PUBLISH"), None);
}

const ME: &str = "bob@example.test";

fn envelope(op: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="{NS_M}" xmlns:t="{NS_T}"><s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body>{op}</s:Body></s:Envelope>"#
    )
}

async fn run(store: MemStore, op: &str) -> (crate::ews::xml::Element, MemStore) {
    let (status, xml, store) = crate::ews::process(IdCodec::new([7u8; 32]), ME, envelope(op).as_bytes(), store).await;
    assert_eq!(status, 200);
    (parse(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}: {xml}")), store)
}

fn find<'a>(el: &'a crate::ews::xml::Element, name: &str) -> Option<&'a crate::ews::xml::Element> {
    if el.name == name {
        return Some(el);
    }
    el.children.iter().find_map(|c| find(c, name))
}

#[tokio::test]
async fn inbox_shows_the_invitation_as_meeting_request() {
    let mut s = MemStore::standard();
    s.append("INBOX", &fixture("imip-request-seed.eml"), &[]).await.unwrap();
    s.append("INBOX", b"From: a@example.test\r\nSubject: plain\r\n\r\nplain\r\n", &[]).await.unwrap();
    // FindItem, as exchangelib lists a folder: IdOnly with the fields it wants.
    let (root, s) = run(
        s,
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/><t:FieldURI FieldURI="item:ItemClass"/><t:FieldURI FieldURI="calendar:Start"/><t:FieldURI FieldURI="calendar:UID"/></t:AdditionalProperties></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#,
    )
    .await;
    let body = root.child(NS_SOAP, "Body").unwrap();
    let req = find(body, "MeetingRequest").unwrap_or_else(|| panic!("no MeetingRequest: {body:?}"));
    assert_eq!(req.t_text("ItemClass"), Some("IPM.Schedule.Meeting.Request"));
    assert_eq!(req.t_text("Start"), Some("2025-02-10T13:00:00Z"));
    assert_eq!(req.t_text("UID"), Some("design-review@example.test"));
    assert!(find(body, "Message").is_some(), "plain mail stays a Message");
    let id = req.t("ItemId").unwrap().attr("Id").unwrap().to_string();
    // GetItem with the Default shape: the meeting fields in schema order.
    let (root, _) = run(
        s,
        &format!(r#"<m:GetItem><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#),
    )
    .await;
    let req = find(&root, "MeetingRequest").expect("MeetingRequest");
    assert_eq!(req.t_text("Subject"), Some("Meeting invitation: Design review"));
    assert_eq!(req.t_text("ResponseType"), Some("NoResponseReceived"));
    assert_eq!(req.t_text("MeetingRequestType"), Some("NewMeetingRequest"));
    assert_eq!(req.t_text("End"), Some("2025-02-10T14:00:00Z"));
    assert_eq!(req.t_text("IsMeeting"), Some("true"));
    assert_eq!(req.t_text("MyResponseType"), Some("NoResponseReceived"));
    assert_eq!(
        req.t("Organizer").and_then(|o| o.t("Mailbox")).and_then(|m| m.t_text("EmailAddress")),
        Some("alice@example.test")
    );
    let att = req.t("RequiredAttendees").and_then(|r| r.t("Attendee")).and_then(|a| a.t("Mailbox")).unwrap();
    assert_eq!(att.t_text("EmailAddress"), Some("bob@example.test"));
    let names: Vec<&str> = req.children.iter().map(|c| c.name.as_str()).collect();
    let pos = |n: &str| names.iter().position(|x| *x == n).unwrap_or_else(|| panic!("{n} missing: {names:?}"));
    assert!(
        pos("IsRead") < pos("ResponseType")
            && pos("ResponseType") < pos("UID")
            && pos("UID") < pos("MeetingRequestType")
    );
    assert!(pos("Start") < pos("Organizer") && pos("Organizer") < pos("RequiredAttendees"));
}

#[test]
fn addresses_compare_without_mailto_and_case() {
    assert!(same_address("MAILTO:Bob@Example.test", "bob@example.test"));
    assert!(!same_address("mailtö:bob@example.test", "bob@example.test"), "no panic on a multi-byte prefix");
    assert!(!same_address("é", "e"));
}

/// Without a DAV server the answer is still mailed: AcceptItem on the invitation in the Inbox sends the REPLY to
/// the organizer, saves a copy in Sent Items, marks the request answered; SaveOnly sends nothing.
#[tokio::test]
async fn accepting_the_invitation_mails_the_reply() {
    let mut s = MemStore::standard();
    s.append("INBOX", &fixture("imip-request-seed.eml"), &[]).await.unwrap();
    let (root, s) = run(
        s,
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#,
    )
    .await;
    let id = find(&root, "MeetingRequest").and_then(|m| m.t("ItemId")).and_then(|i| i.attr("Id")).unwrap().to_string();
    let (root, s) = run(
        s,
        &format!(
            r#"<m:CreateItem MessageDisposition="SendAndSaveCopy" SendMeetingInvitations="SendToNone"><m:SavedItemFolderId><t:DistinguishedFolderId Id="sentitems"/></m:SavedItemFolderId><m:Items><t:AcceptItem><t:ReferenceItemId Id="{id}"/><t:Body BodyType="Text">See you there</t:Body></t:AcceptItem></m:Items></m:CreateItem>"#
        ),
    )
    .await;
    assert_eq!(find(&root, "ResponseCode").map(|c| c.trimmed()), Some("NoError"), "{root:?}");
    assert_eq!(s.submitted.len(), 1);
    let (from, rcpts, raw) = &s.submitted[0];
    assert_eq!(from, ME);
    assert_eq!(rcpts, &["alice@example.test".to_string()]);
    let m = parse_meeting(raw).unwrap();
    assert_eq!(m.kind, MeetingKind::Response);
    assert_eq!(m.event.uid, "design-review@example.test");
    assert_eq!(m.event.attendees.len(), 1);
    assert_eq!(m.event.attendees[0].response, ResponseStatus::Accepted);
    let text = String::from_utf8_lossy(raw);
    assert!(text.contains("Accepted: Design review") && text.contains("See you there"));
    let sent = s.folders.values().find(|f| f.info.special == Some(crate::ews::store::Special::Sent)).unwrap();
    assert_eq!(sent.messages.len(), 1);
    let inbox = &s.folders["INBOX"];
    assert!(inbox.messages.values().next().unwrap().summary.has_flag("\\Answered"));
    // SaveOnly: the reply waits in Drafts, nothing is sent.
    let (root, s) = run(
        s,
        &format!(
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:DeclineItem><t:ReferenceItemId Id="{id}"/></t:DeclineItem></m:Items></m:CreateItem>"#
        ),
    )
    .await;
    assert_eq!(find(&root, "ResponseCode").map(|c| c.trimmed()), Some("NoError"));
    assert_eq!(s.submitted.len(), 1);
    let drafts = s.folders.values().find(|f| f.info.special == Some(crate::ews::store::Special::Drafts)).unwrap();
    assert_eq!(drafts.messages.len(), 1);
    // A malformed reference is an EWS error code, not a failure of the request.
    let (root, _) = run(
        s,
        r#"<m:CreateItem MessageDisposition="SendOnly"><m:Items><t:AcceptItem><t:ReferenceItemId Id="garbage"/></t:AcceptItem></m:Items></m:CreateItem>"#,
    )
    .await;
    assert_eq!(find(&root, "ResponseCode").map(|c| c.trimmed()), Some("ErrorInvalidIdMalformed"));
}
