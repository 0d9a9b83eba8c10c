//! The one place the groupware operations meet the item codecs: one stored object ([`Gw`]) read from or
//! written to iCalendar/vCard (`backend::dav`), and rendered from or parsed into EWS XML (`calendar_xml`,
//! `contact_xml`, `task_xml`). Sans-IO.

use chrono::{DateTime, Utc};

use chrono_tz::Tz;

use super::folders::DavKind;
use super::{calendar_xml, contact_xml, task_xml};
use crate::backend::dav::{ical, vcard};
use crate::ews::types::Shape;
use crate::ews::xml::{Element, XmlWriter};
use crate::model::calendar::{AttendeeRole, CalendarItem, Mailbox, ResponseStatus};
use crate::model::contact::{Contact, ContactGroup};
use crate::model::task::Task;

/// One calendar object or vCard, as the model holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Gw {
    Event(CalendarItem),
    Task(Task),
    Contact(Contact),
    Group(ContactGroup),
}

impl Gw {
    /// The kind of folder this object belongs in.
    pub fn kind(&self) -> DavKind {
        match self {
            Gw::Event(_) => DavKind::Calendar,
            Gw::Task(_) => DavKind::Tasks,
            Gw::Contact(_) | Gw::Group(_) => DavKind::Contacts,
        }
    }

    pub fn uid(&self) -> &str {
        match self {
            Gw::Event(e) => &e.uid,
            Gw::Task(t) => &t.uid,
            Gw::Contact(c) => &c.uid,
            Gw::Group(g) => &g.uid,
        }
    }

    /// Gives a new object a UID (RFC 5545 3.8.4.7, RFC 6350 6.7.6) when the client sent none.
    pub fn ensure_uid(&mut self) {
        let uid = match self {
            Gw::Event(e) => &mut e.uid,
            Gw::Task(t) => &mut t.uid,
            Gw::Contact(c) => &mut c.uid,
            Gw::Group(g) => &mut g.uid,
        };
        if uid.trim().is_empty() {
            *uid = uuid::Uuid::new_v4().to_string();
        }
    }
}

/// Reads a stored object: a vCard (contact or group), or an iCalendar object with one event series or task.
pub fn parse_object(data: &str) -> Result<Gw, String> {
    if data.trim_start().get(..11).is_some_and(|s| s.eq_ignore_ascii_case("BEGIN:VCARD")) {
        let (card, warnings) = vcard::parse_vcard(data).map_err(|e| e.message)?;
        for w in warnings {
            tracing::debug!(warning = %w, "vCard mapping");
        }
        return Ok(match card {
            vcard::Card::Contact(c) => Gw::Contact(c),
            vcard::Card::Group(g) => Gw::Group(g),
        });
    }
    let mut cal = ical::parse_calendar(data).map_err(|e| e.message)?;
    for w in &cal.warnings {
        // Lossy mappings are logged, never silent (docs/mapping.md lists them).
        tracing::info!(warning = %w, "iCalendar mapping");
    }
    if !cal.events.is_empty() {
        return Ok(Gw::Event(cal.events.remove(0)));
    }
    if !cal.tasks.is_empty() {
        return Ok(Gw::Task(cal.tasks.remove(0)));
    }
    Err("the object holds no event, task or contact".into())
}

/// Writes an object for storing: (data, content type, file extension).
pub fn serialize(item: &Gw) -> (String, &'static str, &'static str) {
    const ICS: &str = "text/calendar; charset=utf-8";
    const VCF: &str = "text/vcard; charset=utf-8";
    match item {
        Gw::Event(e) => {
            // A stored object carries no iTIP method (RFC 4791 4.1).
            let mut e = e.clone();
            e.method = None;
            (ical::write_event(&e), ICS, "ics")
        }
        Gw::Task(t) => (ical::write_task(t), ICS, "ics"),
        Gw::Contact(c) => (vcard::write_contact(c, vcard::VcardVersion::V3), VCF, "vcf"),
        Gw::Group(g) => (vcard::write_group(g, vcard::VcardVersion::V3), VCF, "vcf"),
    }
}

/// What of an event to render: the whole item (a single appointment or a series' master), or one instance.
pub type EventView = super::calendar_xml::ItemView;

/// The encoded ids an item is rendered with.
#[derive(Debug, Clone, Default)]
pub struct RenderIds {
    pub item_id: String,
    pub change_key: String,
    pub parent_id: String,
    pub parent_change_key: String,
    /// For an occurrence: the id of its series.
    pub master_id: Option<String>,
    /// A contact's photo, as an attachment id.
    pub photo_attachment_id: Option<String>,
}

/// How list views sort: events by start, tasks by due date, contacts by name.
pub fn sort_key(item: &Gw, tz: Tz) -> (i64, String) {
    match item {
        Gw::Event(e) => (e.start.to_utc(tz).timestamp(), e.subject.to_lowercase()),
        Gw::Task(t) => (t.due.map(|d| d.to_utc(tz).timestamp()).unwrap_or(i64::MAX), t.subject.to_lowercase()),
        Gw::Contact(c) => (0, c.display_name.to_lowercase()),
        Gw::Group(g) => (0, g.display_name.to_lowercase()),
    }
}

/// Makes a new event the user's own: the user organizes a meeting they create (RFC 5546 organizer), and
/// attendees start with no answer and are asked for one when invitations go out.
pub fn prepare_new_event(ev: &mut CalendarItem, mailbox: &str, display_name: &str, send: &str) {
    ev.is_meeting = !ev.attendees.is_empty();
    if ev.is_meeting && ev.organizer.is_none() {
        ev.organizer = Some(Mailbox { email: mailbox.to_string(), name: Some(display_name.to_string()) });
    }
    for a in &mut ev.attendees {
        if a.role != AttendeeRole::Resource || a.response == ResponseStatus::NoResponse {
            a.rsvp = send != "SendToNone";
        }
    }
    ev.stamp(super::items::now());
}

/// Writes one object as its EWS item element. `full_default` is GetItem's Default shape (more than FindItem's).
#[allow(clippy::too_many_arguments)]
pub fn write_item(
    w: &mut XmlWriter,
    item: &Gw,
    view: EventView,
    shape: &Shape,
    ids: &RenderIds,
    me: &str,
    version: &str,
    tz: Tz,
    full_default: bool,
    occurrence_id: &dyn Fn(DateTime<Utc>) -> (String, String),
) {
    match item {
        Gw::Event(ev) => {
            let r = calendar_xml::RenderIds {
                item_id: &ids.item_id,
                change_key: &ids.change_key,
                parent_folder_id: &ids.parent_id,
                parent_change_key: &ids.parent_change_key,
                occurrence_id,
                size: None,
            };
            let opts = calendar_xml::RenderOptions { user: me, version, viewer_tz: tz, full_default };
            calendar_xml::write_calendar_item(w, ev, &view, shape, &r, &opts);
        }
        Gw::Task(t) => task_xml::write_task(w, t, shape, &contact_ids(ids), full_default, tz),
        Gw::Contact(c) => contact_xml::write_contact(w, c, shape, &contact_ids(ids), full_default),
        Gw::Group(g) => contact_xml::write_distribution_list(w, g, shape, &contact_ids(ids), full_default, &|_| None),
    }
}

fn contact_ids(ids: &RenderIds) -> contact_xml::RenderIds {
    contact_xml::RenderIds {
        item_id: ids.item_id.clone(),
        change_key: ids.change_key.clone(),
        parent_folder_id: ids.parent_id.clone(),
        parent_change_key: ids.parent_change_key.clone(),
        photo_attachment_id: ids.photo_attachment_id.clone(),
    }
}

fn task_context(tz_context: Option<&str>) -> task_xml::TaskContext {
    let tz = tz_context
        .and_then(crate::model::timezone::windows_to_iana)
        .and_then(|n| n.parse::<Tz>().ok())
        .unwrap_or(Tz::UTC);
    task_xml::TaskContext { tz, now: super::items::now() }
}

/// Parses a new item of CreateItem (`t:CalendarItem`, `t:Task`, `t:Contact`, `t:DistributionList`).
pub fn parse_new(el: &Element, tz_context: Option<&str>) -> Result<Gw, String> {
    match el.name.as_str() {
        "CalendarItem" => calendar_xml::parse_calendar_item(el, tz_context).map(Gw::Event),
        "Task" => task_xml::parse_task(el, &task_context(tz_context)).map(Gw::Task),
        "Contact" => contact_xml::parse_contact(el).map(Gw::Contact),
        // Members named by item id (contacts of the user's own) are not resolved yet: only by address.
        "DistributionList" => contact_xml::parse_distribution_list(el, &|_| None).map(Gw::Group),
        other => Err(format!("'{other}' items cannot be saved in a calendar, contacts or tasks folder")),
    }
}

/// Applies UpdateItem changes to a whole item.
pub fn update(item: &mut Gw, updates: &Element, tz_context: Option<&str>) -> Result<(), String> {
    match item {
        Gw::Event(ev) => {
            let ignored = calendar_xml::apply_updates(ev, updates, tz_context)?;
            log_ignored(&ignored);
            Ok(())
        }
        Gw::Task(t) => task_xml::apply_task_updates(t, updates, &task_context(tz_context)),
        Gw::Contact(c) => contact_xml::apply_contact_updates(c, updates),
        Gw::Group(g) => contact_xml::apply_distribution_list_updates(g, updates, &|_| None),
    }
}

fn log_ignored(paths: &[String]) {
    if !paths.is_empty() {
        tracing::info!(fields = ?paths, "EWS UpdateItem: fields without a place in the stored object were ignored");
    }
}

/// Applies UpdateItem changes to one occurrence of a series (as a RECURRENCE-ID override).
pub fn update_occurrence(
    item: &mut Gw,
    original_start: DateTime<Utc>,
    updates: &Element,
    tz_context: Option<&str>,
) -> Result<(), String> {
    match item {
        Gw::Event(ev) => {
            let ignored = calendar_xml::apply_occurrence_updates(ev, original_start, updates, tz_context)?;
            log_ignored(&ignored);
            Ok(())
        }
        _ => Err("only calendar items have occurrences".into()),
    }
}

/// Deletes one occurrence of a series (EXDATE), dropping its override if it had one.
pub fn delete_occurrence(
    ev: &mut CalendarItem,
    original_start: DateTime<Utc>,
    tz_context: Option<&str>,
) -> Result<(), String> {
    calendar_xml::delete_occurrence(ev, original_start, tz_context)
}
