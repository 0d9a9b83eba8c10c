//! Meeting messages (iTIP, RFC 5546, carried in mail as iMIP, RFC 6047): invitations (REQUEST) and
//! cancellations (CANCEL) sent when an organizer creates, updates or deletes a meeting through EWS
//! (MS-OXWSCAL 3.1.4.x `SendMeetingInvitations`, `SendMeetingCancellations`), and replies (REPLY) from an
//! attendee. The message is built here ([`imip_message`], sans-IO) and submitted through the user's SMTP
//! submission server like any mail the user sends.

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::mime::MimePart;

use crate::backend::dav::ical;
use crate::ews::ops::{Ctx, Fail};
use crate::ews::store::MailStore;
use crate::model::calendar::{CalendarItem, Mailbox, Method};

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
    s.push_str(&format!("When: {}\n", ev.start.to_utc(chrono_tz::Tz::UTC).format("%Y-%m-%d %H:%M UTC")));
    if let Some(l) = ev.location.as_deref().filter(|l| !l.is_empty()) {
        s.push_str(&format!("Where: {l}\n"));
    }
    if let Some(b) = ev.body.as_deref().filter(|b| !b.is_empty()) {
        s.push_str(&format!("\n{b}\n"));
    }
    s
}

/// The attendees to write to: everyone but the user (the organizer).
fn recipients(ev: &CalendarItem, me: &str) -> Vec<Mailbox> {
    ev.attendees.iter().map(|a| a.mailbox.clone()).filter(|m| !m.email.eq_ignore_ascii_case(me)).collect()
}

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

/// Sends the invitation (iTIP REQUEST) of a meeting the user organizes to its attendees.
pub async fn send_invitations<S: MailStore>(cx: &mut Ctx<S>, ev: &CalendarItem) -> Result<(), Fail> {
    let to = recipients(ev, &cx.mailbox);
    let mut req = ev.clone();
    req.method = Some(Method::Request);
    let ics = ical::write_event(&req);
    let raw =
        imip_message(&me(cx), &to, &ev.subject, &summary(ev, "You are invited to a meeting."), &ics, Method::Request);
    submit(cx, &to, &raw).await
}

/// Sends the cancellation (iTIP CANCEL) of a meeting the user organizes (RFC 5546 3.2.5).
pub async fn send_cancellation<S: MailStore>(cx: &mut Ctx<S>, ev: &CalendarItem) -> Result<(), Fail> {
    let to = recipients(ev, &cx.mailbox);
    let mut c = ev.clone();
    c.method = Some(Method::Cancel);
    c.is_cancelled = true;
    c.sequence += 1;
    let ics = ical::write_event(&c);
    let subject = format!("Canceled: {}", ev.subject);
    let raw =
        imip_message(&me(cx), &to, &subject, &summary(ev, "This meeting has been canceled."), &ics, Method::Cancel);
    submit(cx, &to, &raw).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::calendar::Attendee;
    use crate::model::timezone::EventTime;

    #[test]
    fn imip_invitation_has_the_calendar_part_with_its_method() {
        let start = EventTime::Utc(chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap());
        let end = EventTime::Utc(chrono::DateTime::from_timestamp(1_800_003_600, 0).unwrap());
        let mut ev = CalendarItem::new("u-1", "Plan", start, end);
        ev.attendees.push(Attendee {
            mailbox: Mailbox { email: "bob@example.test".into(), name: Some("Bob".into()) },
            ..Default::default()
        });
        ev.method = Some(Method::Request);
        let ics = ical::write_event(&ev);
        let from = Mailbox { email: "alice@example.test".into(), name: Some("Alice".into()) };
        let raw = imip_message(&from, &recipients(&ev, "alice@example.test"), "Plan", "x", &ics, Method::Request);
        let text = String::from_utf8(raw).unwrap();
        assert!(text.contains("multipart/alternative"));
        assert!(
            text.to_ascii_lowercase().contains("text/calendar; method=request")
                || text.contains("method=\"REQUEST\"")
                || text.contains("method=REQUEST")
        );
        let msg = crate::model::message::Message::from_mime(text.as_bytes()).unwrap();
        assert_eq!(msg.subject.as_deref(), Some("Plan"));
        assert!(text.contains("bob@example.test"));
    }
}
