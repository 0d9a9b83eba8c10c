//! GetUserAvailability (MS-OXWAVLS, the Availability Web Service Protocol; the issue calls it MS-OXWSAVAIL):
//! free/busy of one or many attendees and meeting time suggestions, computed by Viaduc from the attendees'
//! CalDAV calendars (Radicale and most DAV servers have no scheduling free-busy query to ask).
//!
//! The module has three parts:
//!
//! - **Request** ([`parse_request`], sans-IO): `GetUserAvailabilityRequest` with its `t:TimeZone`
//!   (SerializableTimeZone, turned into a fixed yearly rule, [`RequestZone`]), `m:MailboxDataArray`,
//!   `t:FreeBusyViewOptions` and `t:SuggestionsViewOptions`. Times without an offset are local times of the
//!   request's zone (MS-OXWAVLS: the TimeZone element names the zone the request's dateTimes are in).
//! - **Computation and response** (sans-IO): busy events come from `model::freebusy`; [`merged_string`] builds
//!   `MergedFreeBusy`, [`suggest`] rates candidate slots, [`response_document`] writes the whole answer with one
//!   `FreeBusyResponse` per `MailboxData`, in order, each with its own `ResponseMessage`, so an unknown attendee
//!   does not fail the others. Response times are local times of the request's zone without an offset, as
//!   Exchange writes them.
//! - **Fetching** ([`respond`], async, thin): resolves each attendee's DAV user name (LDAP `login` attribute,
//!   else the address's local part), finds the attendee's calendar home by the server's convention (the
//!   service account's discovered home with its user segment replaced), runs a time-range calendar-query on
//!   every VEVENT calendar there, and decides per calendar whether the requester may see details (a PROPFIND
//!   Depth 0 on that calendar as the requester: 207 → subjects allowed; anything else → times only).
//!
//! Privacy: the free/busy view (times and busy types) is given to every authenticated user, as Exchange's
//! default permission does. Subjects, locations and flags (`Detailed`, `DetailedMerged`) only appear for calendars
//! the requester may read themselves, and never for private or confidential items (CLASS:PRIVATE/CONFIDENTIAL).
//! When no detail is allowed, the view type answered is downgraded (`DetailedMerged` → `FreeBusyMerged`,
//! `Detailed` → `FreeBusy`), as MS-OXWAVLS describes for a requester with fewer rights.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use http::{Response, StatusCode};

use super::soap::{self, Request};
use super::xml::{Element, NS_M, NS_SOAP, NS_T, XmlWriter, parse_bool};
use crate::auth::Principal;
use crate::backend::dav::client::{CalComponent, DavClient};
use crate::backend::dav::ical;
use crate::error::Kind;
use crate::ews::types::weekday_name;
use crate::model::calendar::{CalendarItem, FreeBusy};
use crate::model::freebusy::{self, BusyEvent};
use crate::model::timezone::{EventTime, nth_weekday_of_month};
use crate::server::{Body, Gateway, full};

const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// Most `MailboxData` entries in one request (Exchange's own limit is 100).
pub const MAX_MAILBOXES: usize = 100;
/// Longest free/busy window, in days (Exchange refuses windows longer than 42 days with ErrorTimeIntervalTooBig).
pub const MAX_WINDOW_DAYS: i64 = 62;
/// Default working hours (MS-OXWAVLS `WorkingHours`): Monday to Friday, 08:00–17:00 in the request's zone. Viaduc
/// stores no per-user working hours.
pub const WORK_START_MIN: u32 = 8 * 60;
pub const WORK_END_MIN: u32 = 17 * 60;
pub const WORK_DAYS: [Weekday; 5] = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri];

/// Whether `op` is this operation's request element.
pub fn is_availability_op(op: &str) -> bool {
    op == "GetUserAvailabilityRequest"
}

// ---------------------------------------------------------------------------------------------------------------
// The request's time zone
// ---------------------------------------------------------------------------------------------------------------

/// One transition of a `SerializableTimeZoneTime` (MS-OXWAVLS SerializableTimeZoneTime): in `month`, the
/// `day_order`-th (1–4, 5 = last) `weekday`, at `time` local time; `bias` is added to the zone's bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneTransition {
    pub bias: i32,
    pub time: NaiveTime,
    pub day_order: u32,
    pub month: u32,
    pub weekday: Weekday,
}

impl ZoneTransition {
    /// The local date-time of the transition in `year`.
    fn local_in(&self, year: i32) -> Option<NaiveDateTime> {
        nth_weekday_of_month(year, self.month, self.weekday, self.day_order).map(|d| d.and_time(self.time))
    }
}

/// The request's `t:TimeZone` (MS-OXWAVLS SerializableTimeZone) as a fixed yearly rule. Biases are minutes with
/// UTC = local + bias (UTC+1 has bias −60).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestZone {
    pub bias: i32,
    pub standard: Option<ZoneTransition>,
    pub daylight: Option<ZoneTransition>,
}

impl RequestZone {
    pub const UTC: RequestZone = RequestZone { bias: 0, standard: None, daylight: None };

    fn std_bias(&self) -> i32 {
        self.bias + self.standard.map(|s| s.bias).unwrap_or(0)
    }

    /// Both transitions, when the zone observes daylight time (a different bias in the two periods).
    fn dst_rule(&self) -> Option<(ZoneTransition, ZoneTransition)> {
        match (self.standard, self.daylight) {
            (Some(s), Some(d)) if s.bias != d.bias && s.month != d.month => Some((s, d)),
            _ => None,
        }
    }

    /// The bias in force at `utc`.
    pub fn bias_at(&self, utc: DateTime<Utc>) -> i32 {
        let std_bias = self.std_bias();
        let Some((s, d)) = self.dst_rule() else { return std_bias };
        let dst_bias = self.bias + d.bias;
        let year = (utc - Duration::minutes(std_bias as i64)).year();
        // The daylight transition happens in standard time, the standard one in daylight time.
        let (Some(dst_local), Some(std_local)) = (d.local_in(year), s.local_in(year)) else { return std_bias };
        let dst_start = dst_local.and_utc() + Duration::minutes(std_bias as i64);
        let std_start = std_local.and_utc() + Duration::minutes(dst_bias as i64);
        let in_dst = if dst_start < std_start {
            dst_start <= utc && utc < std_start
        } else {
            // Southern hemisphere: daylight time spans the turn of the year.
            !(std_start <= utc && utc < dst_start)
        };
        if in_dst { dst_bias } else { std_bias }
    }

    /// The local (wall-clock) time of `utc` in this zone.
    pub fn to_local(&self, utc: DateTime<Utc>) -> NaiveDateTime {
        utc.naive_utc() - Duration::minutes(self.bias_at(utc) as i64)
    }

    /// The instant of a local time. An ambiguous time (the hour repeated when daylight time ends) is the first
    /// one; a time in the skipped hour is read with the standard bias.
    pub fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        let std_bias = self.std_bias();
        let as_std = local.and_utc() + Duration::minutes(std_bias as i64);
        let Some((_, d)) = self.dst_rule() else { return as_std };
        let dst_bias = self.bias + d.bias;
        let as_dst = local.and_utc() + Duration::minutes(dst_bias as i64);
        let std_ok = self.bias_at(as_std) == std_bias;
        let dst_ok = self.bias_at(as_dst) == dst_bias;
        match (std_ok, dst_ok) {
            (true, true) => as_std.min(as_dst),
            (false, true) => as_dst,
            _ => as_std,
        }
    }
}

fn parse_weekday(s: &str) -> Option<Weekday> {
    Some(match s.trim() {
        "Sunday" => Weekday::Sun,
        "Monday" => Weekday::Mon,
        "Tuesday" => Weekday::Tue,
        "Wednesday" => Weekday::Wed,
        "Thursday" => Weekday::Thu,
        "Friday" => Weekday::Fri,
        "Saturday" => Weekday::Sat,
        _ => return None,
    })
}

fn int(e: &Element, name: &str) -> Result<Option<i64>, String> {
    match e.t_text(name) {
        None | Some("") => Ok(None),
        Some(v) => v.parse::<i64>().map(Some).map_err(|_| format!("{name} is not an integer: {v:?}")),
    }
}

fn parse_transition(e: &Element, what: &str) -> Result<Option<ZoneTransition>, String> {
    let bias = int(e, "Bias")?.unwrap_or(0);
    let month = int(e, "Month")?.unwrap_or(0);
    if month == 0 {
        // A zero month is Windows' "no transition" (TIME_ZONE_INFORMATION with wMonth 0).
        return Ok(None);
    }
    if !(1..=12).contains(&month) || bias.abs() > 24 * 60 {
        return Err(format!("{what}: Month or Bias out of range"));
    }
    let time = e
        .t_text("Time")
        .and_then(|t| NaiveTime::parse_from_str(t, "%H:%M:%S").ok())
        .ok_or_else(|| format!("{what}/Time is not hh:mm:ss"))?;
    // DayOrder 1–4, 5 (or −1, which some servers write) = last.
    let day_order = match int(e, "DayOrder")?.unwrap_or(1) {
        n @ 1..=5 => n as u32,
        -1 => 5,
        _ => return Err(format!("{what}/DayOrder out of range")),
    };
    let weekday =
        e.t_text("DayOfWeek").and_then(parse_weekday).ok_or_else(|| format!("{what}/DayOfWeek is not a day name"))?;
    // `Year` (an absolute-date rule for one year) is not honoured: the rule is taken as recurring.
    Ok(Some(ZoneTransition { bias: bias as i32, time, day_order, month: month as u32, weekday }))
}

/// Reads a `SerializableTimeZone` element (MS-OXWAVLS: Bias, StandardTime, DaylightTime).
pub fn parse_zone(e: &Element) -> Result<RequestZone, String> {
    let bias = int(e, "Bias")?.ok_or("TimeZone/Bias is missing")?;
    if bias.abs() > 24 * 60 {
        return Err("TimeZone/Bias out of range".into());
    }
    let standard = match e.t("StandardTime") {
        Some(s) => parse_transition(s, "StandardTime")?,
        None => None,
    };
    let daylight = match e.t("DaylightTime") {
        Some(d) => parse_transition(d, "DaylightTime")?,
        None => None,
    };
    Ok(RequestZone { bias: bias as i32, standard, daylight })
}

fn write_transition(w: &mut XmlWriter, name: &str, t: &ZoneTransition) {
    w.start(name, &[]);
    w.leaf("t:Bias", &t.bias.to_string());
    w.leaf("t:Time", &t.time.format("%H:%M:%S").to_string());
    w.leaf("t:DayOrder", &t.day_order.to_string());
    w.leaf("t:Month", &t.month.to_string());
    w.leaf("t:DayOfWeek", weekday_name(t.weekday));
    w.end();
}

fn write_zone(w: &mut XmlWriter, z: &RequestZone) {
    w.start("t:TimeZone", &[]);
    w.leaf("t:Bias", &z.bias.to_string());
    if let Some(s) = &z.standard {
        write_transition(w, "t:StandardTime", s);
    }
    if let Some(d) = &z.daylight {
        write_transition(w, "t:DaylightTime", d);
    }
    w.end();
}

// ---------------------------------------------------------------------------------------------------------------
// The request
// ---------------------------------------------------------------------------------------------------------------

/// `MeetingAttendeeType` (MS-OXWAVLS MailboxData/AttendeeType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttendeeType {
    Organizer,
    Required,
    Optional,
    Room,
    Resource,
}

/// One `t:MailboxData`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxData {
    /// `Email/Address`, lower-cased.
    pub email: String,
    pub attendee_type: AttendeeType,
    /// The attendee's conflicts do not lower a suggestion's quality.
    pub exclude_conflicts: bool,
}

/// `FreeBusyViewType` as requested (MS-OXWAVLS FreeBusyViewOptions/RequestedView).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    MergedOnly,
    FreeBusy,
    FreeBusyMerged,
    Detailed,
    DetailedMerged,
}

impl View {
    fn parse(s: &str) -> Option<View> {
        Some(match s.trim() {
            "MergedOnly" => View::MergedOnly,
            "FreeBusy" => View::FreeBusy,
            "FreeBusyMerged" => View::FreeBusyMerged,
            "Detailed" => View::Detailed,
            "DetailedMerged" => View::DetailedMerged,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            View::MergedOnly => "MergedOnly",
            View::FreeBusy => "FreeBusy",
            View::FreeBusyMerged => "FreeBusyMerged",
            View::Detailed => "Detailed",
            View::DetailedMerged => "DetailedMerged",
        }
    }
    pub fn merged(self) -> bool {
        matches!(self, View::MergedOnly | View::FreeBusyMerged | View::DetailedMerged)
    }
    pub fn events(self) -> bool {
        self != View::MergedOnly
    }
    pub fn detailed(self) -> bool {
        matches!(self, View::Detailed | View::DetailedMerged)
    }
    /// The view answered when details are not allowed.
    pub fn without_details(self) -> View {
        match self {
            View::Detailed => View::FreeBusy,
            View::DetailedMerged => View::FreeBusyMerged,
            v => v,
        }
    }
}

/// `t:FreeBusyViewOptions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreeBusyOptions {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// MergedFreeBusyIntervalInMinutes (5–1440).
    pub interval_minutes: i64,
    pub view: View,
}

/// `SuggestionQuality` (MS-OXWAVLS 3.1.4.1.4.3), best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Quality {
    Excellent,
    Good,
    Fair,
    Poor,
}

impl Quality {
    fn parse(s: &str) -> Option<Quality> {
        Some(match s.trim() {
            "Excellent" => Quality::Excellent,
            "Good" => Quality::Good,
            "Fair" => Quality::Fair,
            "Poor" => Quality::Poor,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Excellent => "Excellent",
            Quality::Good => "Good",
            Quality::Fair => "Fair",
            Quality::Poor => "Poor",
        }
    }
}

/// `t:SuggestionsViewOptions` (MS-OXWAVLS 3.1.4.1.3.24), with the defaults Exchange applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuggestionsOptions {
    /// Highest conflict percentage still rated Good (default 25).
    pub good_threshold: u32,
    pub max_results_by_day: usize,
    pub meeting_minutes: i64,
    pub min_quality: Quality,
    /// `DetailedSuggestionsWindow`, else the free/busy window.
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Step between candidate starts (SuggestionIntervalInMinutes of older schemas; default 30).
    pub interval_minutes: i64,
}

/// A parsed GetUserAvailabilityRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailabilityRequest {
    pub zone: RequestZone,
    pub mailboxes: Vec<MailboxData>,
    pub free_busy: Option<FreeBusyOptions>,
    pub suggestions: Option<SuggestionsOptions>,
}

impl AvailabilityRequest {
    /// The span of calendar data the answer needs (both windows).
    pub fn fetch_window(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let a = self.free_busy.map(|f| (f.start, f.end));
        let b = self.suggestions.map(|s| (s.start, s.end));
        match (a, b) {
            (Some(x), Some(y)) => Some((x.0.min(y.0), x.1.max(y.1))),
            (x, y) => x.or(y),
        }
    }
}

/// Why a request was refused as a whole: an EWS code and a text, answered in every response message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub code: &'static str,
    pub text: String,
    /// How many mailboxes the request named (one error message each).
    pub mailboxes: usize,
    pub wants_suggestions: bool,
}

/// Reads an xs:dateTime: with an offset (or `Z`) as that instant, without one as a local time of `zone`.
pub fn parse_time(s: &str, zone: &RequestZone) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|n| zone.to_utc(n))
}

fn window(e: &Element, zone: &RequestZone, what: &str) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let start = e
        .t_text("StartTime")
        .and_then(|s| parse_time(s, zone))
        .ok_or_else(|| format!("{what}/StartTime is not a dateTime"))?;
    let end = e
        .t_text("EndTime")
        .and_then(|s| parse_time(s, zone))
        .ok_or_else(|| format!("{what}/EndTime is not a dateTime"))?;
    if end <= start {
        return Err(format!("{what}: EndTime must be after StartTime"));
    }
    Ok((start, end))
}

/// Parses the operation element of a GetUserAvailabilityRequest.
pub fn parse_request(op: &Element) -> Result<AvailabilityRequest, RequestError> {
    let mailbox_elems: Vec<&Element> =
        op.m("MailboxDataArray").map(|a| a.children_named(NS_T, "MailboxData").collect()).unwrap_or_default();
    let wants_suggestions = op.t("SuggestionsViewOptions").is_some();
    let fail = |code: &'static str, text: String| RequestError {
        code,
        text,
        mailboxes: mailbox_elems.len().clamp(1, MAX_MAILBOXES),
        wants_suggestions,
    };
    let invalid = |text: String| fail("ErrorInvalidRequest", text);
    let zone = match op.t("TimeZone") {
        Some(z) => parse_zone(z).map_err(invalid)?,
        None => return Err(invalid("TimeZone is missing".into())),
    };
    if mailbox_elems.is_empty() {
        return Err(invalid("MailboxDataArray names no mailbox".into()));
    }
    if mailbox_elems.len() > MAX_MAILBOXES {
        return Err(invalid(format!("at most {MAX_MAILBOXES} mailboxes may be asked at once")));
    }
    let mut mailboxes = Vec::with_capacity(mailbox_elems.len());
    for m in &mailbox_elems {
        let email = m.t("Email").and_then(|e| e.t_text("Address")).unwrap_or("").to_ascii_lowercase();
        let attendee_type = match m.t_text("AttendeeType") {
            None | Some("Required") => AttendeeType::Required,
            Some("Organizer") => AttendeeType::Organizer,
            Some("Optional") => AttendeeType::Optional,
            Some("Room") => AttendeeType::Room,
            Some("Resource") => AttendeeType::Resource,
            Some(other) => return Err(invalid(format!("AttendeeType {other:?} is not valid"))),
        };
        let exclude_conflicts = m.t_text("ExcludeConflicts").and_then(parse_bool).unwrap_or(false);
        mailboxes.push(MailboxData { email, attendee_type, exclude_conflicts });
    }
    let max = Duration::days(MAX_WINDOW_DAYS);
    let free_busy = match op.t("FreeBusyViewOptions") {
        None => None,
        Some(f) => {
            let tw = f.t("TimeWindow").ok_or_else(|| invalid("FreeBusyViewOptions/TimeWindow is missing".into()))?;
            let (start, end) = window(tw, &zone, "TimeWindow").map_err(|t| fail("ErrorInvalidTimeInterval", t))?;
            if end - start > max {
                return Err(fail(
                    "ErrorTimeIntervalTooBig",
                    format!("the time window is longer than {MAX_WINDOW_DAYS} days"),
                ));
            }
            let interval_minutes = int(f, "MergedFreeBusyIntervalInMinutes").map_err(invalid)?.unwrap_or(30);
            if !(5..=1440).contains(&interval_minutes) {
                return Err(invalid("MergedFreeBusyIntervalInMinutes must be 5 to 1440".into()));
            }
            let view = match f.t_text("RequestedView") {
                None => View::FreeBusy,
                Some(v) => View::parse(v).ok_or_else(|| invalid(format!("RequestedView {v:?} is not valid")))?,
            };
            Some(FreeBusyOptions { start, end, interval_minutes, view })
        }
    };
    let suggestions = match op.t("SuggestionsViewOptions") {
        None => None,
        Some(s) => {
            let (start, end) = match (s.t("DetailedSuggestionsWindow"), free_busy) {
                (Some(w), _) => {
                    window(w, &zone, "DetailedSuggestionsWindow").map_err(|t| fail("ErrorInvalidTimeInterval", t))?
                }
                (None, Some(f)) => (f.start, f.end),
                (None, None) => return Err(invalid("SuggestionsViewOptions needs a DetailedSuggestionsWindow".into())),
            };
            if end - start > max {
                return Err(fail(
                    "ErrorTimeIntervalTooBig",
                    format!("the time window is longer than {MAX_WINDOW_DAYS} days"),
                ));
            }
            let good_threshold = int(s, "GoodThreshold").map_err(invalid)?.unwrap_or(25);
            if !(1..=49).contains(&good_threshold) {
                return Err(invalid("GoodThreshold must be 1 to 49".into()));
            }
            let max_results_by_day = int(s, "MaximumResultsByDay").map_err(invalid)?.unwrap_or(10);
            if !(0..=48).contains(&max_results_by_day) {
                return Err(invalid("MaximumResultsByDay must be 0 to 48".into()));
            }
            let meeting_minutes = int(s, "MeetingDurationInMinutes").map_err(invalid)?.unwrap_or(30);
            if !(5..=1440).contains(&meeting_minutes) {
                return Err(invalid("MeetingDurationInMinutes must be 5 to 1440".into()));
            }
            let min_quality = match s.t_text("MinimumSuggestionQuality") {
                None => Quality::Fair,
                Some(q) => {
                    Quality::parse(q).ok_or_else(|| invalid(format!("MinimumSuggestionQuality {q:?} is not valid")))?
                }
            };
            let interval_minutes = int(s, "SuggestionIntervalInMinutes").map_err(invalid)?.unwrap_or(30);
            if !(5..=1440).contains(&interval_minutes) {
                return Err(invalid("SuggestionIntervalInMinutes must be 5 to 1440".into()));
            }
            Some(SuggestionsOptions {
                good_threshold: good_threshold as u32,
                max_results_by_day: max_results_by_day as usize,
                meeting_minutes,
                min_quality,
                start,
                end,
                interval_minutes,
            })
        }
    };
    if free_busy.is_none() && suggestions.is_none() {
        return Err(invalid("neither FreeBusyViewOptions nor SuggestionsViewOptions is given".into()));
    }
    Ok(AvailabilityRequest { zone, mailboxes, free_busy, suggestions })
}

// ---------------------------------------------------------------------------------------------------------------
// Per-attendee results and the computations on them
// ---------------------------------------------------------------------------------------------------------------

/// What Viaduc found for one attendee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttendeeResult {
    /// The busy occurrences over the fetch window; `details` set only where the requester may see them.
    Found { events: Vec<BusyEvent>, details_allowed: bool },
    /// An error for this attendee only (ErrorMailRecipientNotFound, ErrorNoFreeBusyAccess,
    /// ErrorFreeBusyGenerationFailed).
    Failed { code: &'static str, text: String },
}

/// `MergedFreeBusy` (MS-OXWAVLS FreeBusyView): one digit per interval from the window's start (0 Free,
/// 1 Tentative, 2 Busy, 3 OOF, 4 WorkingElsewhere), the strongest status overlapping the interval.
pub fn merged_string(events: &[BusyEvent], opts: &FreeBusyOptions) -> String {
    let intervals = freebusy::merge(events);
    freebusy::merged_free_busy_string(&intervals, opts.start, opts.end, Duration::minutes(opts.interval_minutes))
}

/// The strongest status of `events` overlapping `[start, end)`, if any.
fn status_in(events: &[BusyEvent], start: DateTime<Utc>, end: DateTime<Utc>) -> FreeBusy {
    let rank = |s: FreeBusy| match s {
        FreeBusy::Free => 0,
        FreeBusy::WorkingElsewhere => 1,
        FreeBusy::Tentative => 2,
        FreeBusy::Busy => 3,
        FreeBusy::Oof => 4,
    };
    events
        .iter()
        .filter(|e| e.start < end && e.end > start)
        .map(|e| e.status)
        .max_by_key(|s| rank(*s))
        .unwrap_or(FreeBusy::Free)
}

/// Whether a status keeps the attendee from a meeting: Tentative, Busy and OOF do; Free and WorkingElsewhere
/// (the person works, elsewhere) do not.
pub fn is_conflict(s: FreeBusy) -> bool {
    matches!(s, FreeBusy::Tentative | FreeBusy::Busy | FreeBusy::Oof)
}

/// Rates a slot by the share of counted attendees with a conflict (MS-OXWAVLS 3.1.4.1.4.3 SuggestionQuality):
/// none → Excellent; at most `good_threshold` percent → Good; under 50 percent → Fair; else Poor.
pub fn rate(conflicts: usize, counted: usize, good_threshold: u32) -> Quality {
    if conflicts == 0 || counted == 0 {
        return Quality::Excellent;
    }
    let pct = conflicts * 100 / counted;
    if pct <= good_threshold as usize {
        Quality::Good
    } else if pct < 50 {
        Quality::Fair
    } else {
        Quality::Poor
    }
}

/// One attendee's state in a suggested slot (MS-OXWAVLS AttendeeConflictData).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// IndividualAttendeeConflictData with its BusyType.
    Individual(FreeBusy),
    /// UnknownAttendeeConflictData: no availability for this attendee.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub start: DateTime<Utc>,
    pub quality: Quality,
    pub is_work_time: bool,
    /// One entry per requested mailbox, in order.
    pub conflicts: Vec<Conflict>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuggestionDay {
    /// The local date.
    pub date: NaiveDate,
    pub quality: Quality,
    pub suggestions: Vec<Suggestion>,
}

/// Meeting suggestions: for each day of the window (local dates of the request's zone), candidate starts every
/// `interval_minutes` within the working hours (Monday–Friday 08:00–17:00) such that the whole meeting fits in
/// them and in the window; each is rated by how many counted attendees (known, not ExcludeConflicts) have a
/// conflict. Per day the best `max_results_by_day` slots of at least `min_quality` are kept, in time order; the
/// day's quality is that of its best slot (Poor when it has none).
pub fn suggest(req: &AvailabilityRequest, opts: &SuggestionsOptions, results: &[AttendeeResult]) -> Vec<SuggestionDay> {
    let zone = &req.zone;
    let duration = Duration::minutes(opts.meeting_minutes);
    let step = Duration::minutes(opts.interval_minutes.max(5));
    let first = zone.to_local(opts.start).date();
    let last = zone.to_local(opts.end - Duration::seconds(1)).date();
    let mut days = Vec::new();
    let mut day = first;
    while day <= last && days.len() <= MAX_WINDOW_DAYS as usize {
        let mut slots: Vec<Suggestion> = Vec::new();
        if WORK_DAYS.contains(&day.weekday()) {
            let work_end = day.and_time(NaiveTime::MIN) + Duration::minutes(WORK_END_MIN as i64);
            let mut local = day.and_time(NaiveTime::MIN) + Duration::minutes(WORK_START_MIN as i64);
            while local + duration <= work_end {
                let start = zone.to_utc(local);
                let end = start + duration;
                if start >= opts.start && end <= opts.end {
                    let mut counted = 0;
                    let mut busy = 0;
                    let conflicts: Vec<Conflict> = req
                        .mailboxes
                        .iter()
                        .zip(results)
                        .map(|(m, r)| match r {
                            AttendeeResult::Found { events, .. } => {
                                let s = status_in(events, start, end);
                                if !m.exclude_conflicts {
                                    counted += 1;
                                    if is_conflict(s) {
                                        busy += 1;
                                    }
                                }
                                Conflict::Individual(s)
                            }
                            AttendeeResult::Failed { .. } => Conflict::Unknown,
                        })
                        .collect();
                    let quality = rate(busy, counted, opts.good_threshold);
                    if quality <= opts.min_quality {
                        slots.push(Suggestion { start, quality, is_work_time: true, conflicts });
                    }
                }
                local += step;
            }
        }
        let best = slots.iter().map(|s| s.quality).min().unwrap_or(Quality::Poor);
        // The best slots (quality first, then earliest), shown in time order.
        slots.sort_by_key(|s| (s.quality, s.start));
        slots.truncate(opts.max_results_by_day);
        slots.sort_by_key(|s| s.start);
        days.push(SuggestionDay { date: day, quality: best, suggestions: slots });
        match day.succ_opt() {
            Some(d) => day = d,
            None => break,
        }
    }
    days
}

// ---------------------------------------------------------------------------------------------------------------
// Writing the response
// ---------------------------------------------------------------------------------------------------------------

fn local_text(zone: &RequestZone, t: DateTime<Utc>) -> String {
    zone.to_local(t).format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn busy_type(s: FreeBusy) -> &'static str {
    match s {
        FreeBusy::Free => "Free",
        FreeBusy::Tentative => "Tentative",
        FreeBusy::Busy => "Busy",
        FreeBusy::Oof => "OOF",
        FreeBusy::WorkingElsewhere => "WorkingElsewhere",
    }
}

fn response_message(w: &mut XmlWriter, error: Option<(&str, &str)>) {
    match error {
        None => {
            w.start("m:ResponseMessage", &[("ResponseClass", "Success")]);
            w.leaf("m:ResponseCode", "NoError");
            w.end();
        }
        Some((code, text)) => {
            w.start("m:ResponseMessage", &[("ResponseClass", "Error")]);
            w.leaf("m:MessageText", text);
            w.leaf("m:ResponseCode", code);
            w.leaf("m:DescriptiveLinkKey", "0");
            w.end();
        }
    }
}

fn write_working_hours(w: &mut XmlWriter, zone: &RequestZone) {
    w.start("t:WorkingHours", &[]);
    write_zone(w, zone);
    w.start("t:WorkingPeriodArray", &[]).start("t:WorkingPeriod", &[]);
    let days: Vec<&str> = WORK_DAYS.iter().map(|d| weekday_name(*d)).collect();
    w.leaf("t:DayOfWeek", &days.join(" "));
    w.leaf("t:StartTimeInMinutes", &WORK_START_MIN.to_string());
    w.leaf("t:EndTimeInMinutes", &WORK_END_MIN.to_string());
    w.end().end().end();
}

/// Writes one `m:FreeBusyView` (MS-OXWAVLS FreeBusyView: FreeBusyViewType, MergedFreeBusy, CalendarEventArray,
/// WorkingHours in this order).
fn write_view(
    w: &mut XmlWriter,
    zone: &RequestZone,
    opts: &FreeBusyOptions,
    events: &[BusyEvent],
    details_allowed: bool,
) {
    let view = if details_allowed { opts.view } else { opts.view.without_details() };
    // Only the events overlapping the free/busy window (the fetch window may be wider for suggestions).
    let shown: Vec<BusyEvent> = events
        .iter()
        .filter(|e| e.start < opts.end && e.end > opts.start)
        .map(|e| BusyEvent { start: e.start.max(opts.start), end: e.end.min(opts.end), ..e.clone() })
        .collect();
    w.start("m:FreeBusyView", &[]);
    w.leaf("t:FreeBusyViewType", view.as_str());
    if view.merged() {
        w.leaf("t:MergedFreeBusy", &merged_string(&shown, opts));
    }
    if view.events() {
        w.start("t:CalendarEventArray", &[]);
        for e in &shown {
            w.start("t:CalendarEvent", &[]);
            w.leaf("t:StartTime", &local_text(zone, e.start));
            w.leaf("t:EndTime", &local_text(zone, e.end));
            w.leaf("t:BusyType", busy_type(e.status));
            // `details` is None for private items and when the requester may not see details.
            if let Some(d) = e.details.as_ref().filter(|_| view.detailed()) {
                w.start("t:CalendarEventDetails", &[]);
                w.leaf("t:Subject", &d.subject);
                if let Some(l) = &d.location {
                    w.leaf("t:Location", l);
                }
                w.bool_leaf("t:IsMeeting", d.is_meeting);
                w.bool_leaf("t:IsRecurring", d.is_recurring);
                w.bool_leaf("t:IsException", d.is_exception);
                w.bool_leaf("t:IsReminderSet", false);
                w.bool_leaf("t:IsPrivate", d.is_private);
                w.end();
            }
            w.end();
        }
        w.end();
    }
    write_working_hours(w, zone);
    w.end();
}

fn write_suggestions(w: &mut XmlWriter, zone: &RequestZone, days: &[SuggestionDay]) {
    w.start("m:SuggestionDayResultArray", &[]);
    for d in days {
        w.start("t:SuggestionDayResult", &[]);
        w.leaf("t:Date", &d.date.and_time(NaiveTime::MIN).format("%Y-%m-%dT%H:%M:%S").to_string());
        w.leaf("t:DayQuality", d.quality.as_str());
        w.start("t:SuggestionArray", &[]);
        for s in &d.suggestions {
            w.start("t:Suggestion", &[]);
            w.leaf("t:MeetingTime", &local_text(zone, s.start));
            w.bool_leaf("t:IsWorkTime", s.is_work_time);
            w.leaf("t:SuggestionQuality", s.quality.as_str());
            w.start("t:AttendeeConflictDataArray", &[]);
            for c in &s.conflicts {
                match c {
                    Conflict::Individual(b) => {
                        w.start("t:IndividualAttendeeConflictData", &[]);
                        w.leaf("t:BusyType", busy_type(*b));
                        w.end();
                    }
                    Conflict::Unknown => {
                        w.empty("t:UnknownAttendeeConflictData", &[]);
                    }
                }
            }
            w.end().end();
        }
        w.end().end();
    }
    w.end();
}

fn document(version: &str, body: impl FnOnce(&mut XmlWriter)) -> String {
    let mut w = XmlWriter::with_decl();
    w.start("s:Envelope", &[("xmlns:s", NS_SOAP)]);
    w.start("s:Header", &[]);
    soap::write_server_version_info(&mut w, version);
    w.end();
    w.start("s:Body", &[]);
    w.start("m:GetUserAvailabilityResponse", &[("xmlns:m", NS_M), ("xmlns:t", NS_T)]);
    body(&mut w);
    w.finish()
}

/// The answer to a valid request: `FreeBusyResponseArray` (when free/busy was asked) with one `FreeBusyResponse`
/// per mailbox in request order, then `SuggestionsResponse` (when suggestions were asked).
pub fn response_document(version: &str, req: &AvailabilityRequest, results: &[AttendeeResult]) -> String {
    document(version, |w| {
        if let Some(opts) = &req.free_busy {
            w.start("m:FreeBusyResponseArray", &[]);
            for r in results {
                w.start("m:FreeBusyResponse", &[]);
                match r {
                    AttendeeResult::Found { events, details_allowed } => {
                        response_message(w, None);
                        write_view(w, &req.zone, opts, events, *details_allowed);
                    }
                    AttendeeResult::Failed { code, text } => {
                        response_message(w, Some((code, text)));
                        w.start("m:FreeBusyView", &[]).leaf("t:FreeBusyViewType", "None").end();
                    }
                }
                w.end();
            }
            w.end();
        }
        if let Some(opts) = &req.suggestions {
            w.start("m:SuggestionsResponse", &[]);
            response_message(w, None);
            write_suggestions(w, &req.zone, &suggest(req, opts, results));
            w.end();
        }
    })
}

/// The answer to a request refused as a whole: the error in every `FreeBusyResponse` (and the
/// `SuggestionsResponse`), with HTTP 200 like every EWS error that is not a malformed envelope.
pub fn error_document(version: &str, e: &RequestError) -> String {
    document(version, |w| {
        w.start("m:FreeBusyResponseArray", &[]);
        for _ in 0..e.mailboxes.max(1) {
            w.start("m:FreeBusyResponse", &[]);
            response_message(w, Some((e.code, &e.text)));
            w.end();
        }
        w.end();
        if e.wants_suggestions {
            w.start("m:SuggestionsResponse", &[]);
            response_message(w, Some((e.code, &e.text)));
            w.end();
        }
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Fetching (async)
// ---------------------------------------------------------------------------------------------------------------

/// The calendar home of `user` by the server's layout: `home` (the credential's own calendar home) with the
/// segment that names the credential's user replaced by `user` (`/master/` → `/bob/`,
/// `/dav/calendars/user/master/` → `/dav/calendars/user/bob/`). Without such a segment the last one is replaced.
pub fn sibling_home(home: &str, own_names: &[&str], user: &str) -> Option<String> {
    let segments: Vec<&str> = home.split('/').collect();
    let named = segments.iter().rposition(|s| !s.is_empty() && own_names.iter().any(|n| s.eq_ignore_ascii_case(n)));
    let idx = named.or_else(|| segments.iter().rposition(|s| !s.is_empty()))?;
    let encoded = crate::backend::dav::client::encode_segment(user);
    let mut out: Vec<String> = segments.iter().map(|s| s.to_string()).collect();
    out[idx] = encoded;
    let mut path = out.join("/");
    if !path.ends_with('/') {
        path.push('/');
    }
    Some(path)
}

/// The names a credential's own home may carry: its login and the login without the domain.
pub fn own_names(login: &str) -> Vec<&str> {
    let mut v = vec![login];
    if let Some((local, _)) = login.split_once('@') {
        v.push(local);
    }
    v
}

/// The zone dates and floating times of an attendee's calendar are read in: the zone of their first zoned event
/// (the owner's zone is not known otherwise), else UTC.
fn owner_zone(items: &[CalendarItem]) -> Tz {
    items.iter().find_map(|i| if let EventTime::Zoned(_, tz) = i.start { Some(tz) } else { None }).unwrap_or(Tz::UTC)
}

fn failed(code: &'static str, text: impl Into<String>) -> AttendeeResult {
    AttendeeResult::Failed { code, text: text.into() }
}

/// The DAV user name of an attendee: the directory's login for a mailbox user, else the local part of an address
/// in one of the served domains (the IMAP/DAV login convention of a deployment without a directory).
async fn dav_user(gw: &Gateway, email: &str) -> Result<String, AttendeeResult> {
    let not_found = || failed("ErrorMailRecipientNotFound", format!("No mailbox with the address {email} was found."));
    let (local, domain) = email.split_once('@').ok_or_else(not_found)?;
    if local.is_empty() {
        return Err(not_found());
    }
    if let Some(dir) = &gw.directory {
        match dir.find_by_mail(email).await {
            Ok(Some(e)) if e.kind == crate::model::directory::EntryKind::Mailbox => {
                return Ok(e.login.unwrap_or_else(|| local.to_string()));
            }
            Ok(Some(_)) => {
                return Err(failed(
                    "ErrorFreeBusyGenerationFailed",
                    format!("{email} is not a mailbox user (distribution lists are not expanded)."),
                ));
            }
            Ok(None) => return Err(not_found()),
            Err(e) => tracing::warn!(error = %e, "GetUserAvailability: directory lookup failed; using the local part"),
        }
    }
    if gw.config.serves_domain(domain) { Ok(local.to_string()) } else { Err(not_found()) }
}

/// Busy events of one attendee over `[from, to)`, read with `credential` (the service account, else the
/// requester); details where `requester` may read the calendar and `want_details`.
async fn attendee_events(
    gw: &Gateway,
    dav: &DavClient,
    requester: &Principal,
    credential: &Principal,
    email: &str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    want_details: bool,
) -> AttendeeResult {
    let is_self = email.eq_ignore_ascii_case(&requester.mail);
    let user = if is_self {
        None
    } else {
        match dav_user(gw, email).await {
            Ok(u) => Some(u),
            Err(r) => return r,
        }
    };
    // The requester's own calendars are read with the requester's credentials; without a service account every
    // calendar is read as the requester, so whatever could be read may be shown in detail.
    let as_requester = is_self || std::ptr::eq(credential, requester);
    let credential = if is_self { requester } else { credential };
    let generation_failed = |e: &crate::error::Error| {
        gw.metrics.backend_error("dav");
        tracing::warn!(error = %e, attendee = %email, "GetUserAvailability: calendar not readable");
        match e.kind {
            Kind::AccessDenied | Kind::AuthFailed => {
                let who = if as_requester { "your account" } else { "the configured DAV service account" };
                failed("ErrorNoFreeBusyAccess", format!("The calendar of {email} cannot be read with {who}."))
            }
            _ => failed(
                "ErrorFreeBusyGenerationFailed",
                format!("Free/busy of {email} could not be computed: {}", e.message),
            ),
        }
    };
    let homes = match dav.discover(credential).await {
        Ok(h) => h,
        Err(e) => return generation_failed(&e),
    };
    let Some(own_home) = homes.calendar_home else {
        return failed("ErrorFreeBusyGenerationFailed", "The DAV server names no calendar home.");
    };
    let home = match &user {
        None => own_home,
        Some(u) => match sibling_home(&own_home, &own_names(&credential.login), u) {
            Some(h) => h,
            None => return failed("ErrorFreeBusyGenerationFailed", "The attendee's calendar home cannot be derived."),
        },
    };
    let collections = match dav.collections_in(credential, &home).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return failed("ErrorMailRecipientNotFound", format!("No calendars were found for {email}."));
        }
        Err(e) => return generation_failed(&e),
    };
    let mut events = Vec::new();
    let mut any_details = false;
    for c in collections.iter().filter(|c| c.holds(CalComponent::Event)) {
        let objects = match dav.calendar_query(credential, &c.href, CalComponent::Event, Some((from, to))).await {
            Ok(o) => o,
            Err(e) => return generation_failed(&e),
        };
        let mut items = Vec::new();
        for o in &objects {
            match ical::parse_calendar(&o.data) {
                Ok(p) => items.extend(p.events),
                Err(e) => {
                    tracing::warn!(error = %e, href = %o.href, "GetUserAvailability: unreadable calendar object skipped")
                }
            }
        }
        // Details only where the requester may read this calendar themselves: their own, or one the server lets
        // them PROPFIND (207). Anything else (403, 404, an error) means times only.
        let details = want_details && (as_requester || matches!(dav.collection(requester, &c.href).await, Ok(Some(_))));
        any_details |= details;
        events.extend(freebusy::busy_events(&items, owner_zone(&items), from, to, details));
    }
    events.sort_by_key(|e| (e.start, e.end));
    AttendeeResult::Found { events, details_allowed: !want_details || as_requester || any_details }
}

/// Answers GetUserAvailabilityRequest.
pub async fn respond(gw: &Gateway, principal: &Principal, request: &Request) -> Response<Body> {
    let version = request.echo_version();
    let req = match parse_request(&request.op) {
        Ok(r) => r,
        Err(e) => return full(StatusCode::OK, CONTENT_TYPE, error_document(version, &e)),
    };
    let results: Vec<AttendeeResult> = match (&gw.dav, gw.config.dav.as_ref(), req.fetch_window()) {
        (Some(dav), Some(cfg), Some(window)) => {
            let service = match (&cfg.service_user, &cfg.service_password) {
                (Some(u), Some(p)) => Some(Principal::service(u, p)),
                _ => None,
            };
            let credential = service.as_ref().unwrap_or(principal);
            let want_details = req.free_busy.is_some_and(|f| f.view.detailed());
            // Eight attendees at a time, answers kept in request order.
            let mut out = Vec::with_capacity(req.mailboxes.len());
            for chunk in req.mailboxes.chunks(8) {
                let mut futures = Vec::with_capacity(chunk.len());
                for m in chunk {
                    futures.push(attendee_events(gw, dav, principal, credential, &m.email, window, want_details));
                }
                out.extend(futures_util::future::join_all(futures).await);
            }
            out
        }
        _ => req
            .mailboxes
            .iter()
            .map(|_| failed("ErrorFreeBusyGenerationFailed", "Free/busy needs a CalDAV server ([dav])."))
            .collect(),
    };
    full(StatusCode::OK, CONTENT_TYPE, response_document(version, &req, &results))
}

#[cfg(test)]
mod tests;
