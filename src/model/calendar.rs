//! Calendar items: appointments and meetings as EWS `CalendarItemType` (MS-OXWSCAL) and MAPI appointment objects
//! (MS-OXOCAL) present them, and as the DAV back-end reads them from VEVENTs (MS-OXCICAL). A recurring series is
//! one [`CalendarItem`] (the master) with its deleted occurrences and its modified occurrences ([`Exception`]).

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::recurrence::{Occurrence, OverrideTimes, Recurrence};
use super::timezone::EventTime;

/// How the time shows in free/busy (EWS `LegacyFreeBusyType`, MAPI PidLidBusyStatus; iCalendar TRANSP plus
/// X-MICROSOFT-CDO-BUSYSTATUS, MS-OXCICAL 2.1.3.1.1.20, property X-MICROSOFT-CDO-BUSYSTATUS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FreeBusy {
    Free,
    Tentative,
    #[default]
    Busy,
    /// Out of office.
    Oof,
    WorkingElsewhere,
}

/// EWS `SensitivityChoicesType`, MAPI PidTagSensitivity; iCalendar CLASS (MS-OXCICAL 2.1.3.1.1.20, property CLASS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Sensitivity {
    #[default]
    Normal,
    Personal,
    Private,
    Confidential,
}

/// EWS `ImportanceChoicesType`, MAPI PidTagImportance; iCalendar PRIORITY and X-MICROSOFT-CDO-IMPORTANCE
/// (MS-OXCICAL 2.1.3.1.1.20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Importance {
    Low,
    #[default]
    Normal,
    High,
}

/// A person or resource, by address (EWS `EmailAddressType`; iCalendar cal-address with CN).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Mailbox {
    pub email: String,
    pub name: Option<String>,
}

/// How an attendee takes part (EWS RequiredAttendees/OptionalAttendees/Resources; iCalendar ROLE and CUTYPE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AttendeeRole {
    #[default]
    Required,
    Optional,
    /// A room or equipment (CUTYPE=RESOURCE or ROOM).
    Resource,
}

/// An attendee's answer (EWS `ResponseTypeType`; iCalendar PARTSTAT, MS-OXCICAL 2.1.3.1.1.20, property ATTENDEE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ResponseStatus {
    /// NEEDS-ACTION (EWS NoResponseReceived).
    #[default]
    NoResponse,
    Accepted,
    Tentative,
    Declined,
    /// DELEGATED (EWS has no such answer; shown as Unknown).
    Delegated,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Attendee {
    pub mailbox: Mailbox,
    pub role: AttendeeRole,
    pub response: ResponseStatus,
    /// Whether a reply is requested (RSVP=TRUE).
    pub rsvp: bool,
}

/// The iTIP method of the calendar object (RFC 5546; VCALENDAR METHOD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Publish,
    Request,
    Reply,
    Add,
    Cancel,
    Refresh,
    Counter,
    DeclineCounter,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Publish => "PUBLISH",
            Method::Request => "REQUEST",
            Method::Reply => "REPLY",
            Method::Add => "ADD",
            Method::Cancel => "CANCEL",
            Method::Refresh => "REFRESH",
            Method::Counter => "COUNTER",
            Method::DeclineCounter => "DECLINECOUNTER",
        }
    }
    pub fn parse(s: &str) -> Option<Method> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "PUBLISH" => Method::Publish,
            "REQUEST" => Method::Request,
            "REPLY" => Method::Reply,
            "ADD" => Method::Add,
            "CANCEL" => Method::Cancel,
            "REFRESH" => Method::Refresh,
            "COUNTER" => Method::Counter,
            "DECLINECOUNTER" => Method::DeclineCounter,
            _ => return None,
        })
    }
}

/// Recurrence properties kept verbatim because the model cannot carry them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedRecurrence {
    /// Why (the [`super::recurrence::NotRepresentable`] reason).
    pub reason: String,
    /// The unfolded content lines (`RRULE:...`, `RDATE;...`, `EXRULE:...`).
    pub properties: Vec<String>,
}

/// A modified occurrence of a series (an iCalendar VEVENT with RECURRENCE-ID; EWS `ModifiedOccurrences`, MAPI
/// exception attachment, MS-OXOCAL 2.2.10). Fields left `None` are the master's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exception {
    /// The occurrence's original start, as the pattern placed it.
    pub recurrence_id: Option<EventTime>,
    pub start: Option<EventTime>,
    pub end: Option<EventTime>,
    pub subject: Option<String>,
    /// `Some("")`: this occurrence has no body while the master has one (likewise for `location`).
    pub body: Option<String>,
    pub location: Option<String>,
    pub free_busy: Option<FreeBusy>,
    pub importance: Option<Importance>,
    pub sensitivity: Option<Sensitivity>,
    pub categories: Option<Vec<String>>,
    /// `Some(None)`: the reminder is switched off for this occurrence.
    pub reminder_minutes: Option<Option<i32>>,
    pub attendees: Option<Vec<Attendee>>,
    pub is_cancelled: Option<bool>,
    pub sequence: Option<u32>,
    pub dtstamp: Option<DateTime<Utc>>,
    pub last_modified: Option<DateTime<Utc>>,
}

/// An appointment or meeting; for a series, the master with its exceptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarItem {
    pub uid: String,
    pub subject: String,
    pub body: Option<String>,
    /// The HTML form of the body, when the source has one (iCalendar `X-ALT-DESC;FMTTYPE=text/html`).
    pub body_html: Option<String>,
    pub location: Option<String>,
    /// Start and end with their zones. For all-day items both are dates and the end is exclusive (the day after).
    pub start: EventTime,
    pub end: EventTime,
    pub is_all_day: bool,
    pub free_busy: FreeBusy,
    pub sensitivity: Sensitivity,
    pub importance: Importance,
    pub categories: Vec<String>,
    /// Minutes before the start (VALARM TRIGGER); `None` when no reminder is set.
    pub reminder_minutes: Option<i32>,
    pub organizer: Option<Mailbox>,
    pub attendees: Vec<Attendee>,
    pub recurrence: Option<Recurrence>,
    /// A recurrence read from the back-end that [`Recurrence`] cannot carry (see
    /// [`super::recurrence::NotRepresentable`]): kept verbatim so that writing the item back does not lose it.
    /// Front-ends show such an item as a single occurrence and list it as not representable.
    pub unsupported_recurrence: Option<UnsupportedRecurrence>,
    /// Deleted occurrences (EXDATE), as the occurrence's original start.
    pub deleted_occurrences: Vec<EventTime>,
    pub modified_occurrences: Vec<Exception>,
    /// The meeting was cancelled by its organizer (STATUS:CANCELLED; EWS IsCancelled).
    pub is_cancelled: bool,
    pub sequence: u32,
    pub dtstamp: Option<DateTime<Utc>>,
    pub created: Option<DateTime<Utc>>,
    pub last_modified: Option<DateTime<Utc>>,
    /// A meeting (has attendees or an organizer) rather than a plain appointment.
    pub is_meeting: bool,
    /// iTIP method of the object this item was read from or is to be sent in.
    pub method: Option<Method>,
}

impl CalendarItem {
    /// A new single appointment with default values.
    pub fn new(uid: impl Into<String>, subject: impl Into<String>, start: EventTime, end: EventTime) -> CalendarItem {
        CalendarItem {
            uid: uid.into(),
            subject: subject.into(),
            body: None,
            body_html: None,
            location: None,
            is_all_day: start.is_date(),
            start,
            end,
            free_busy: FreeBusy::Busy,
            sensitivity: Sensitivity::Normal,
            importance: Importance::Normal,
            categories: Vec::new(),
            reminder_minutes: None,
            organizer: None,
            attendees: Vec::new(),
            recurrence: None,
            unsupported_recurrence: None,
            deleted_occurrences: Vec::new(),
            modified_occurrences: Vec::new(),
            is_cancelled: false,
            sequence: 0,
            dtstamp: None,
            created: None,
            last_modified: None,
            is_meeting: false,
            method: None,
        }
    }

    /// Marks the item as written now: DTSTAMP and LAST-MODIFIED become `now`, CREATED is set if missing.
    pub fn stamp(&mut self, now: DateTime<Utc>) {
        self.dtstamp = Some(now);
        self.last_modified = Some(now);
        self.created.get_or_insert(now);
    }

    /// The length of one occurrence.
    pub fn duration(&self, floating_tz: Tz) -> Duration {
        match (self.start, self.end) {
            (EventTime::Date(s), EventTime::Date(e)) => e - s,
            _ => self.end.to_utc(floating_tz) - self.start.to_utc(floating_tz),
        }
    }

    /// The occurrences that overlap `[from, to)`: for a single item, itself; for a series, the expansion with
    /// deleted occurrences removed and modified ones at their new times. Dates and floating times are read in
    /// `floating_tz` (the viewer's zone).
    pub fn occurrences(&self, floating_tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Occurrence> {
        let Some(rec) = &self.recurrence else {
            let s = self.start.to_utc(floating_tz);
            let e = self.end.to_utc(floating_tz);
            return if s < to && (e > from || (e == s && s >= from)) {
                vec![Occurrence { original_start: s, start: s, end: e, override_index: None }]
            } else {
                Vec::new()
            };
        };
        let duration = self.duration(floating_tz);
        let overrides: Vec<OverrideTimes> = self
            .modified_occurrences
            .iter()
            .filter_map(|x| {
                let rid = x.recurrence_id?;
                let start = x.start.unwrap_or(rid);
                let end = x.end.unwrap_or_else(|| match start {
                    EventTime::Date(d) => EventTime::Date(d + Duration::days(duration.num_days().max(1))),
                    other => EventTime::Utc(other.to_utc(floating_tz) + duration),
                });
                Some(OverrideTimes { recurrence_id: rid, start, end })
            })
            .collect();
        rec.expand(&self.start, duration, floating_tz, from..to, &self.deleted_occurrences, &overrides)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    #[test]
    fn single_item_occurrence_and_series_overrides() {
        let start = EventTime::Zoned(
            NaiveDate::from_ymd_opt(2026, 3, 2).unwrap().and_hms_opt(9, 0, 0).unwrap(),
            Tz::Europe__Paris,
        );
        let end = EventTime::Zoned(
            NaiveDate::from_ymd_opt(2026, 3, 2).unwrap().and_hms_opt(10, 0, 0).unwrap(),
            Tz::Europe__Paris,
        );
        let mut item = CalendarItem::new("u1", "Standup", start, end);
        let from = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap();
        assert_eq!(item.occurrences(Tz::UTC, from, to).len(), 1);
        item.recurrence = Some(Recurrence::from_rrule("FREQ=WEEKLY;COUNT=4", &start).unwrap());
        // An override that only changes the subject keeps the original time.
        item.modified_occurrences.push(Exception {
            recurrence_id: Some(EventTime::Utc(Utc.with_ymd_and_hms(2026, 3, 9, 8, 0, 0).unwrap())),
            subject: Some("Moved? no, renamed".into()),
            ..Default::default()
        });
        let occ = item.occurrences(Tz::UTC, from, to);
        assert_eq!(occ.len(), 4);
        assert_eq!(occ[1].override_index, Some(0));
        assert_eq!(occ[1].end - occ[1].start, Duration::hours(1));
    }
}
