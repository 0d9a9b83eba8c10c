//! EWS tasks ↔ the internal model, sans-IO.
//!
//! `t:Task` is `TaskType` (MS-OXWSTASK 2.2.4.6), an extension of `ItemType` (MS-OXWSCORE 2.2.4.24); it becomes a
//! [`Task`]. Its recurrence is `TaskRecurrenceType` (MS-OXWSTASK 2.2.4.5): one of the six calendar patterns
//! (MS-OXWSCDATA `DailyRecurrence` … `RelativeYearlyRecurrence`) or a regenerating pattern, and a range
//! (`NoEndRecurrence`, `EndDateRecurrence`, `NumberedRecurrence`).
//!
//! The codec has no clock and no zone of its own: [`TaskContext`] gives the requester's zone (from the request's
//! `TimeZoneContext`, else the mailbox's; UTC when neither is known) and the time "now".
//!
//! Conventions:
//! * Task dates are dates (MS-OXOTASK PidLidTaskStartDate / PidLidTaskDueDate). `StartDate` and `DueDate` are
//!   read as the date, in the requester's zone, of the instant rounded to the nearest midnight: exchangelib
//!   sends midnight UTC, Outlook local midnight, and both give the intended day for zones between UTC−12 and
//!   UTC+12. They become [`EventTime::Date`] (VTODO `DUE;VALUE=DATE`). They are written as local midnight
//!   with the zone's offset (`2024-05-01T00:00:00+02:00`), which every client reads as the intended day;
//!   a back-end value with a time of day is written as that instant in UTC.
//! * The model keeps the reminder relative to the due date (else the start): `ReminderDueBy` is read as
//!   minutes before local midnight of that date and written back from it. A reminder on a task with neither
//!   date is refused. Moving the due date later moves the reminder with it.
//! * Status, percentage and completion date are kept consistent as Exchange does (MS-OXOTASK 2.2.2.2.2,
//!   2.2.2.2.20): `Completed` means 100 % and a `CompleteDate` (now, unless the client gave one); 100 % means
//!   `Completed`; `NotStarted` means 0 %; a percentage between 1 and 99 turns `NotStarted` or `Completed`
//!   into `InProgress`. When a request sets both the status and the percentage, the status wins.
//! * Regenerating recurrences (`DailyRegeneration` …) have no RRULE form (docs/mapping.md) and are refused.
//!   `IsComplete`, `IsRecurring` and the other read-only or delegation fields are not read.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, SecondsFormat, TimeZone as _, Utc};
use chrono_tz::Tz;

use super::calendar_xml;
use super::contact_xml::{
    ChangeKind, RenderIds, changes, merge_categories, read_body, read_categories, write_body, write_categories,
    write_ids,
};
use crate::ews::types::{Shape, format_datetime, parse_datetime};
use crate::ews::xml::{Element, NS_T, XmlWriter, parse_bool};
use crate::model::calendar::{Importance, Sensitivity};
use crate::model::recurrence::Recurrence;
use crate::model::task::{Task, TaskStatus};
use crate::model::timezone::{EventTime, local_to_utc};

/// What the codec needs to know about the request (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskContext {
    /// The requester's zone: dates are local dates there.
    pub tz: Tz,
    /// The current time, for `CompleteDate` when a task is completed.
    pub now: DateTime<Utc>,
}

/// What a create or update touched, to settle the derived fields afterwards.
#[derive(Debug, Default)]
struct Touched {
    status: bool,
    percent: bool,
    complete_date: bool,
    reminder_is_set: Option<bool>,
    reminder_due_by: Option<DateTime<Utc>>,
    reminder_minutes: Option<i32>,
    recurrence_start: Option<NaiveDate>,
}

// ---------------------------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------------------------

/// Parses a `t:Task` from CreateItem (MS-OXWSTASK 2.2.4.6) into a [`Task`] with an empty `uid` (the caller
/// assigns one and stamps it). Elements without a model field are skipped; [`ignored_task_fields`] names them.
pub fn parse_task(el: &Element, cx: &TaskContext) -> Result<Task, String> {
    if el.name != "Task" {
        return Err(format!("expected a Task element, found '{}'", el.name));
    }
    let mut t = Task::new("", "");
    let mut touched = Touched::default();
    for child in el.children.iter().filter(|c| c.ns.as_deref() == Some(NS_T)) {
        set_task_element(&mut t, child, false, &mut touched, cx)?;
    }
    finish(&mut t, &touched, cx)?;
    Ok(t)
}

/// Elements of an item that are identity, computed or read-only values.
const TASK_READ_ONLY: &[&str] = &[
    "MimeContent",
    "ItemId",
    "ParentFolderId",
    "ItemClass",
    "DateTimeReceived",
    "Size",
    "DateTimeSent",
    "DateTimeCreated",
    "LastModifiedTime",
    "LastModifiedName",
    "HasAttachments",
    "IsAssociated",
    "ConversationId",
    "EffectiveRights",
    "Culture",
    "IsComplete",
    "IsRecurring",
    "ChangeCount",
    "DelegationState",
    "Delegator",
    "Owner",
    "StatusDescription",
    "AssignedTime",
    "IsAssignmentEditable",
    "IsTeamTask",
];

/// Names of the `t:Task` children that [`parse_task`] does not carry into the model (`ActualWork`,
/// `BillingInformation`, `Companies`, `Mileage`, …), for the caller to log.
pub fn ignored_task_fields(el: &Element, cx: &TaskContext) -> Vec<String> {
    let mut scratch = Task::new("", "");
    let mut touched = Touched::default();
    el.children
        .iter()
        .filter(|c| c.ns.as_deref() == Some(NS_T) && !TASK_READ_ONLY.contains(&c.name.as_str()))
        .filter(|c| matches!(set_task_element(&mut scratch, c, false, &mut touched, cx), Ok(false)))
        .map(|c| c.name.clone())
        .collect()
}

/// Sets the model field one `TaskType` element stands for; `append` appends to Body and Categories.
/// `Ok(false)`: the model has no such field.
fn set_task_element(
    t: &mut Task,
    el: &Element,
    append: bool,
    touched: &mut Touched,
    cx: &TaskContext,
) -> Result<bool, String> {
    match el.name.as_str() {
        "Subject" => t.subject = el.trimmed().to_string(),
        "Body" => {
            t.body = match (append, t.body.take(), read_body(el)) {
                (true, Some(old), Some(new)) => Some(old + &new),
                (true, old, None) => old,
                (_, _, new) => new,
            }
        }
        "Categories" if append => merge_categories(&mut t.categories, read_categories(el)),
        "Categories" => t.categories = read_categories(el),
        "Importance" => t.importance = importance(el.trimmed())?,
        "Sensitivity" => t.sensitivity = sensitivity(el.trimmed())?,
        "ReminderIsSet" => touched.reminder_is_set = Some(boolean(el)?),
        "ReminderDueBy" => touched.reminder_due_by = Some(instant(el)?),
        "ReminderMinutesBeforeStart" => {
            touched.reminder_minutes = Some(
                el.trimmed()
                    .parse()
                    .map_err(|_| format!("ReminderMinutesBeforeStart '{}' is not an integer", el.trimmed()))?,
            )
        }
        "StartDate" => t.start = optional_date(el, cx.tz)?,
        "DueDate" => t.due = optional_date(el, cx.tz)?,
        "CompleteDate" => {
            t.completed = if el.trimmed().is_empty() { None } else { Some(instant(el)?) };
            touched.complete_date = true;
        }
        "Status" => {
            t.status = status(el.trimmed())?;
            touched.status = true;
        }
        "PercentComplete" => {
            t.percent_complete = percent(el.trimmed())?;
            touched.percent = true;
        }
        "Recurrence" => {
            let (r, start) = read_recurrence(el)?;
            t.recurrence = Some(r);
            touched.recurrence_start = Some(start);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn boolean(el: &Element) -> Result<bool, String> {
    parse_bool(&el.text).ok_or_else(|| format!("{} '{}' is not a boolean", el.name, el.trimmed()))
}

fn instant(el: &Element) -> Result<DateTime<Utc>, String> {
    parse_datetime(&el.text)
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or_else(|| format!("{} '{}' is not a date and time", el.name, el.trimmed()))
}

/// A task date (module documentation): the local date in `tz` of the instant rounded to the nearest
/// midnight; an `xs:date` is taken as it is.
fn optional_date(el: &Element, tz: Tz) -> Result<Option<EventTime>, String> {
    let s = el.trimmed();
    if s.is_empty() {
        return Ok(None);
    }
    if s.len() >= 19 {
        let at = instant(el)?.with_timezone(&tz).naive_local();
        let d = at.checked_add_signed(Duration::hours(12)).map(|a| a.date());
        return d.map(|d| Some(EventTime::Date(d))).ok_or_else(|| format!("{} '{s}' is out of range", el.name));
    }
    xs_date(s).map(|d| Some(EventTime::Date(d))).map_err(|e| format!("{}: {e}", el.name))
}

/// An `xs:date`, with or without a zone suffix (`2006-01-09+01:00`, as Exchange writes recurrence dates).
fn xs_date(s: &str) -> Result<NaiveDate, String> {
    s.trim()
        .get(..10)
        .and_then(|p| NaiveDate::parse_from_str(p, "%Y-%m-%d").ok())
        .ok_or_else(|| format!("'{}' is not a date", s.trim()))
}

fn importance(s: &str) -> Result<Importance, String> {
    Ok(match s {
        "Low" => Importance::Low,
        "Normal" => Importance::Normal,
        "High" => Importance::High,
        _ => return Err(format!("unknown Importance '{s}' (Low, Normal or High)")),
    })
}

fn importance_name(i: Importance) -> &'static str {
    match i {
        Importance::Low => "Low",
        Importance::Normal => "Normal",
        Importance::High => "High",
    }
}

fn sensitivity(s: &str) -> Result<Sensitivity, String> {
    Ok(match s {
        "Normal" => Sensitivity::Normal,
        "Personal" => Sensitivity::Personal,
        "Private" => Sensitivity::Private,
        "Confidential" => Sensitivity::Confidential,
        _ => return Err(format!("unknown Sensitivity '{s}' (Normal, Personal, Private or Confidential)")),
    })
}

fn sensitivity_name(s: Sensitivity) -> &'static str {
    match s {
        Sensitivity::Normal => "Normal",
        Sensitivity::Personal => "Personal",
        Sensitivity::Private => "Private",
        Sensitivity::Confidential => "Confidential",
    }
}

/// `TaskStatusType` (MS-OXWSTASK 2.2.5.1).
fn status(s: &str) -> Result<TaskStatus, String> {
    Ok(match s {
        "NotStarted" => TaskStatus::NotStarted,
        "InProgress" => TaskStatus::InProgress,
        "Completed" => TaskStatus::Completed,
        "WaitingOnOthers" => TaskStatus::WaitingOnOthers,
        "Deferred" => TaskStatus::Deferred,
        _ => return Err(format!("unknown task Status '{s}'")),
    })
}

fn status_name(s: TaskStatus) -> &'static str {
    match s {
        TaskStatus::NotStarted => "NotStarted",
        TaskStatus::InProgress => "InProgress",
        TaskStatus::Completed => "Completed",
        TaskStatus::WaitingOnOthers => "WaitingOnOthers",
        TaskStatus::Deferred => "Deferred",
    }
}

/// `PercentComplete` is an `xs:double` from 0 to 100 (MS-OXWSTASK 2.2.4.6); kept as a whole number.
fn percent(s: &str) -> Result<u8, String> {
    match s.parse::<f64>() {
        Ok(p) if p.is_finite() && (0.0..=100.0).contains(&p) => Ok(p.round() as u8),
        _ => Err(format!("PercentComplete '{s}' is not a number from 0 to 100")),
    }
}

/// Settles what depends on several fields once every element or change has been applied.
fn finish(t: &mut Task, touched: &Touched, cx: &TaskContext) -> Result<(), String> {
    if let Some(d) = touched.recurrence_start
        && t.start.is_none()
        && t.due.is_none()
    {
        t.start = Some(EventTime::Date(d));
    }
    settle_reminder(t, touched, cx)?;
    if t.reminder_minutes.is_some() && anchor(t, cx.tz).is_none() {
        return Err("a task reminder needs a StartDate or DueDate (the CalDAV back-end keeps it relative)".into());
    }
    settle_status(t, touched, cx.now);
    Ok(())
}

/// The reminder's anchor: local midnight of the due date (else the start) in `tz`, or its instant.
fn anchor(t: &Task, tz: Tz) -> Option<DateTime<Utc>> {
    t.due.as_ref().or(t.start.as_ref()).map(|e| e.to_utc(tz))
}

/// `ReminderIsSet`, `ReminderDueBy` and `ReminderMinutesBeforeStart` → `reminder_minutes` (before the anchor).
fn settle_reminder(t: &mut Task, touched: &Touched, cx: &TaskContext) -> Result<(), String> {
    let on = match touched.reminder_is_set {
        Some(on) => on,
        None => {
            t.reminder_minutes.is_some() && (touched.reminder_due_by.is_some() || touched.reminder_minutes.is_some())
        }
    };
    if !on {
        if touched.reminder_is_set == Some(false) {
            t.reminder_minutes = None;
        }
        return Ok(());
    }
    let minutes = match (touched.reminder_due_by, touched.reminder_minutes) {
        (Some(by), _) => {
            let at = anchor(t, cx.tz)
                .ok_or("a task reminder needs a StartDate or DueDate (the CalDAV back-end keeps it relative)")?;
            let m = (at - by).num_minutes();
            i32::try_from(m).map_err(|_| format!("ReminderDueBy is {m} minutes away from the due date"))?
        }
        (None, Some(m)) => m,
        (None, None) => t.reminder_minutes.unwrap_or(0),
    };
    t.reminder_minutes = Some(minutes);
    Ok(())
}

/// Status, percentage and completion date (module documentation).
fn settle_status(t: &mut Task, touched: &Touched, now: DateTime<Utc>) {
    if touched.complete_date && t.completed.is_some() && !touched.status {
        t.status = TaskStatus::Completed;
    }
    if touched.status || (touched.complete_date && t.completed.is_some()) {
        match t.status {
            TaskStatus::Completed => t.percent_complete = 100,
            TaskStatus::NotStarted => t.percent_complete = 0,
            _ if t.percent_complete >= 100 => t.percent_complete = 0,
            _ => {}
        }
    } else if touched.percent {
        t.status = match (t.percent_complete, t.status) {
            (100.., _) => TaskStatus::Completed,
            (0, TaskStatus::Completed) => TaskStatus::NotStarted,
            (_, TaskStatus::Completed | TaskStatus::NotStarted) if t.percent_complete > 0 => TaskStatus::InProgress,
            (_, s) => s,
        };
    } else if t.status == TaskStatus::Completed {
        t.percent_complete = 100;
    }
    if t.status == TaskStatus::Completed {
        t.completed.get_or_insert(now);
    } else {
        t.completed = None;
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Recurrence
// ---------------------------------------------------------------------------------------------------------------

/// `TaskRecurrenceType` (MS-OXWSTASK 2.2.4.5) → the recurrence and the range's start date. The patterns and
/// ranges are those of calendar items (read by [`calendar_xml::parse_recurrence`]); the regenerating patterns
/// only tasks have are refused.
fn read_recurrence(el: &Element) -> Result<(Recurrence, NaiveDate), String> {
    if let Some(p) = el.children.iter().find(|c| c.ns.as_deref() == Some(NS_T) && c.name.ends_with("Regeneration")) {
        return Err(format!(
            "{}: regenerating task recurrences cannot be stored (iCalendar RRULE has no equivalent)",
            p.name
        ));
    }
    let (rec, start) = calendar_xml::parse_recurrence(el)?;
    Ok((rec, start.ok_or("Recurrence has no StartDate")?))
}

/// Writes `t:Recurrence` (TaskRecurrenceType): the same patterns and ranges as calendar items.
fn write_recurrence(w: &mut XmlWriter, r: &Recurrence, start: NaiveDate) {
    calendar_xml::write_recurrence(w, r, start);
}

// ---------------------------------------------------------------------------------------------------------------
// Updates
// ---------------------------------------------------------------------------------------------------------------

/// Applies UpdateItem's `t:Updates` (MS-OXWSCORE 2.2.4.x) to a task: `item:Subject`, `item:Body`,
/// `item:Categories`, `item:Importance`, `item:Sensitivity`, `item:ReminderIsSet`, `item:ReminderDueBy`,
/// `item:ReminderMinutesBeforeStart`, `task:StartDate`, `task:DueDate`, `task:CompleteDate`, `task:Status`,
/// `task:PercentComplete`, `task:Recurrence`; then settles status, percentage, completion date and reminder.
/// Anything else is an error naming the field; on error the caller discards `t`.
pub fn apply_task_updates(t: &mut Task, updates: &Element, cx: &TaskContext) -> Result<(), String> {
    let mut touched = Touched::default();
    for ch in changes(updates)? {
        let name = ch
            .uri
            .strip_prefix("item:")
            .or_else(|| ch.uri.strip_prefix("task:"))
            .filter(|_| ch.index.is_none())
            .ok_or_else(|| unsupported(&ch.uri))?;
        if matches!(name, "IsComplete" | "IsRecurring" | "ChangeCount" | "StatusDescription" | "Owner") {
            return Err(format!("'{}' is read-only", ch.uri));
        }
        match ch.kind {
            ChangeKind::Delete => {
                delete_task_field(t, name, &mut touched).then_some(()).ok_or_else(|| unsupported(&ch.uri))?
            }
            ChangeKind::Append if !matches!(name, "Body" | "Categories") => {
                return Err(format!("AppendToItemField is not valid for '{}' (only Body and Categories)", ch.uri));
            }
            kind => {
                let el = ch.value(name)?;
                if !set_task_element(t, el, kind == ChangeKind::Append, &mut touched, cx)? {
                    return Err(unsupported(&ch.uri));
                }
            }
        }
    }
    finish(t, &touched, cx)
}

fn unsupported(uri: &str) -> String {
    format!("'{uri}' is not supported on tasks (the CalDAV back-end has no field for it)")
}

/// DeleteItemField of a task field; `false` when the model has no such field.
fn delete_task_field(t: &mut Task, name: &str, touched: &mut Touched) -> bool {
    match name {
        "Subject" => t.subject.clear(),
        "Body" => t.body = None,
        "Categories" => t.categories.clear(),
        "Importance" => t.importance = Importance::Normal,
        "Sensitivity" => t.sensitivity = Sensitivity::Normal,
        "ReminderIsSet" | "ReminderDueBy" | "ReminderMinutesBeforeStart" => {
            touched.reminder_is_set = Some(false);
        }
        "StartDate" => t.start = None,
        "DueDate" => t.due = None,
        "CompleteDate" => {
            t.completed = None;
            touched.complete_date = true;
        }
        "Status" => {
            t.status = TaskStatus::NotStarted;
            touched.status = true;
        }
        "PercentComplete" => {
            t.percent_complete = 0;
            touched.percent = true;
        }
        "Recurrence" => t.recurrence = None,
        _ => return false,
    }
    true
}

// ---------------------------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------------------------

/// A task date for EWS (module documentation): a date as local midnight in `tz` with its offset, other values
/// as their instant in UTC.
fn format_task_date(e: &EventTime, tz: Tz) -> String {
    match e {
        EventTime::Date(d) => {
            let local = local_to_utc(tz, d.and_time(NaiveTime::MIN)).with_timezone(&tz);
            local.to_rfc3339_opts(SecondsFormat::Secs, true)
        }
        other => format_datetime(other.to_utc(tz).timestamp()),
    }
}

/// The local date of a task date in `tz`.
fn local_date(e: &EventTime, tz: Tz) -> NaiveDate {
    match e {
        EventTime::Date(d) => *d,
        other => tz.from_utc_datetime(&other.to_utc(tz).naive_utc()).date_naive(),
    }
}

/// Writes one `t:Task` (MS-OXWSTASK 2.2.4.6) in schema order: the `ItemType` part (MS-OXWSCORE 2.2.4.24), then
/// `TaskType`. `full_default` selects GetItem's Default shape (with the body) rather than FindItem's; `tz` is
/// the requester's zone (module documentation).
pub fn write_task(w: &mut XmlWriter, t: &Task, shape: &Shape, ids: &RenderIds, full_default: bool, tz: Tz) {
    w.start("t:Task", &[]);
    write_ids(w, ids, shape);
    if shape.wants("item:ItemClass", true) {
        w.leaf("t:ItemClass", "IPM.Task");
    }
    if shape.wants("item:Subject", true) {
        w.leaf("t:Subject", &t.subject);
    }
    if shape.wants("item:Sensitivity", true) {
        w.leaf("t:Sensitivity", sensitivity_name(t.sensitivity));
    }
    if shape.wants("item:Body", full_default)
        && let Some(b) = &t.body
    {
        write_body(w, b, shape);
    }
    if shape.wants("item:Categories", true) {
        write_categories(w, &t.categories);
    }
    if shape.wants("item:Importance", true) {
        w.leaf("t:Importance", importance_name(t.importance));
    }
    if let Some(c) = t.created
        && shape.wants("item:DateTimeCreated", true)
    {
        w.leaf("t:DateTimeCreated", &format_datetime(c.timestamp()));
    }
    write_reminder(w, t, shape, tz);
    if let Some(m) = t.last_modified
        && shape.wants("item:LastModifiedTime", true)
    {
        w.leaf("t:LastModifiedTime", &format_datetime(m.timestamp()));
    }
    write_task_part(w, t, shape, tz);
    w.end();
}

/// ReminderDueBy, ReminderIsSet, ReminderMinutesBeforeStart.
fn write_reminder(w: &mut XmlWriter, t: &Task, shape: &Shape, tz: Tz) {
    let due_by = t.reminder_minutes.zip(anchor(t, tz)).map(|(m, at)| at - Duration::minutes(i64::from(m)));
    if let Some(by) = due_by
        && shape.wants("item:ReminderDueBy", true)
    {
        w.leaf("t:ReminderDueBy", &format_datetime(by.timestamp()));
    }
    if shape.wants("item:ReminderIsSet", true) {
        w.bool_leaf("t:ReminderIsSet", due_by.is_some());
    }
    if shape.wants("item:ReminderMinutesBeforeStart", true) {
        w.leaf("t:ReminderMinutesBeforeStart", &t.reminder_minutes.unwrap_or(0).to_string());
    }
}

/// CompleteDate … Status.
fn write_task_part(w: &mut XmlWriter, t: &Task, shape: &Shape, tz: Tz) {
    if let Some(c) = t.completed
        && shape.wants("task:CompleteDate", true)
    {
        w.leaf("t:CompleteDate", &format_datetime(c.timestamp()));
    }
    if let Some(d) = &t.due
        && shape.wants("task:DueDate", true)
    {
        w.leaf("t:DueDate", &format_task_date(d, tz));
    }
    if shape.wants("task:IsComplete", true) {
        w.bool_leaf("t:IsComplete", t.status == TaskStatus::Completed);
    }
    if shape.wants("task:IsRecurring", true) {
        w.bool_leaf("t:IsRecurring", t.recurrence.is_some());
    }
    if shape.wants("task:PercentComplete", true) {
        w.leaf("t:PercentComplete", &t.percent_complete.min(100).to_string());
    }
    if let Some(r) = &t.recurrence
        && let Some(first) = t.start.as_ref().or(t.due.as_ref())
        && shape.wants("task:Recurrence", true)
    {
        write_recurrence(w, r, local_date(first, tz));
    }
    if let Some(s) = &t.start
        && shape.wants("task:StartDate", true)
    {
        w.leaf("t:StartDate", &format_task_date(s, tz));
    }
    if shape.wants("task:Status", true) {
        w.leaf("t:Status", status_name(t.status));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::types::BaseShape;
    use crate::model::recurrence::{Pattern, Range, WeekIndex};
    use chrono::Weekday;

    const T: &str = "http://schemas.microsoft.com/exchange/services/2006/types";

    fn el(inner: &str) -> Element {
        let doc = format!(r#"<w xmlns:t="{T}">{inner}</w>"#);
        let root = crate::ews::xml::parse(doc.as_bytes()).expect("test XML parses");
        root.children.into_iter().next().expect("one child")
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_717_200_000, 0).expect("valid") // 2024-06-01T00:00:00Z
    }

    fn paris() -> TaskContext {
        TaskContext { tz: chrono_tz::Europe::Paris, now: now() }
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    fn ids() -> RenderIds {
        RenderIds { item_id: "TASK=".into(), change_key: "CK".into(), ..RenderIds::default() }
    }

    /// An Outlook-style task: local midnight of Paris in UTC, reminder at 09:00 local on the due date.
    const FULL: &str = r#"<t:Task>
        <t:Subject>File the report</t:Subject>
        <t:Sensitivity>Private</t:Sensitivity>
        <t:Body BodyType="Text">Quarterly numbers.</t:Body>
        <t:Categories><t:String>Work</t:String></t:Categories>
        <t:Importance>High</t:Importance>
        <t:ReminderDueBy>2024-05-10T07:00:00Z</t:ReminderDueBy>
        <t:ReminderIsSet>true</t:ReminderIsSet>
        <t:BillingInformation>ACME-42</t:BillingInformation>
        <t:DueDate>2024-05-09T22:00:00Z</t:DueDate>
        <t:PercentComplete>50</t:PercentComplete>
        <t:Recurrence>
          <t:WeeklyRecurrence><t:Interval>2</t:Interval><t:DaysOfWeek>Monday Friday</t:DaysOfWeek><t:FirstDayOfWeek>Monday</t:FirstDayOfWeek></t:WeeklyRecurrence>
          <t:NumberedRecurrence><t:StartDate>2024-05-03+02:00</t:StartDate><t:NumberOfOccurrences>10</t:NumberOfOccurrences></t:NumberedRecurrence>
        </t:Recurrence>
        <t:StartDate>2024-05-02T22:00:00Z</t:StartDate>
        <t:Status>InProgress</t:Status>
      </t:Task>"#;

    #[test]
    fn parses_a_full_task() {
        let t = parse_task(&el(FULL), &paris()).expect("parses");
        assert_eq!(t.subject, "File the report");
        assert_eq!(t.body.as_deref(), Some("Quarterly numbers."));
        assert_eq!(t.categories, ["Work"]);
        assert_eq!(t.importance, Importance::High);
        assert_eq!(t.sensitivity, Sensitivity::Private);
        assert_eq!(t.start, Some(EventTime::Date(d(2024, 5, 3))));
        assert_eq!(t.due, Some(EventTime::Date(d(2024, 5, 10))));
        assert_eq!(t.status, TaskStatus::InProgress);
        assert_eq!(t.percent_complete, 50);
        assert_eq!(t.completed, None);
        // 09:00 local (UTC+2) on the due date: 9 hours after midnight.
        assert_eq!(t.reminder_minutes, Some(-540));
        assert_eq!(
            t.recurrence,
            Some(Recurrence {
                pattern: Pattern::Weekly {
                    interval: 2,
                    days: vec![Weekday::Mon, Weekday::Fri],
                    first_day_of_week: Weekday::Mon
                },
                range: Range::Count(10),
            })
        );
        assert_eq!(ignored_task_fields(&el(FULL), &paris()), ["BillingInformation"]);
    }

    #[test]
    fn exchangelib_midnight_utc_dates_give_the_same_day_west_and_east() {
        let x = el(r#"<t:Task><t:Subject>x</t:Subject><t:DueDate>2024-05-10T00:00:00Z</t:DueDate></t:Task>"#);
        for tz in [chrono_tz::America::Los_Angeles, chrono_tz::Asia::Tokyo, chrono_tz::UTC] {
            let t = parse_task(&x, &TaskContext { tz, now: now() }).expect("parses");
            assert_eq!(t.due, Some(EventTime::Date(d(2024, 5, 10))), "{tz}");
        }
    }

    fn render(t: &Task, shape: &Shape, tz: Tz) -> String {
        let mut w = XmlWriter::new();
        w.start("w", &[("xmlns:t", T)]);
        write_task(&mut w, t, shape, &ids(), true, tz);
        w.finish()
    }

    fn all() -> Shape {
        Shape { base: BaseShape::AllProperties, ..Shape::default() }
    }

    fn round_trip(t: &Task, cx: &TaskContext) -> (Task, String) {
        let xml = render(t, &all(), cx.tz);
        let root = crate::ews::xml::parse(xml.as_bytes()).expect("rendered XML parses");
        (parse_task(&root.children[0], cx).expect("parses back"), xml)
    }

    #[test]
    fn render_then_parse_keeps_every_field() {
        let t = parse_task(&el(FULL), &paris()).expect("parses");
        let (back, xml) = round_trip(&t, &paris());
        assert_eq!(back, t, "{xml}");
        assert!(xml.contains("<t:ItemClass>IPM.Task</t:ItemClass>"));
        assert!(xml.contains("<t:DueDate>2024-05-10T00:00:00+02:00</t:DueDate>"), "{xml}");
        assert!(xml.contains("<t:ReminderDueBy>2024-05-10T07:00:00Z</t:ReminderDueBy>"), "{xml}");
        assert!(xml.contains("<t:StartDate>2024-05-03</t:StartDate>"), "recurrence range start: {xml}");
        let pos = |s: &str| xml.find(s).unwrap_or_else(|| panic!("{s} missing in {xml}"));
        let order = [
            "<t:ItemId",
            "<t:ItemClass",
            "<t:Subject",
            "<t:Sensitivity",
            "<t:Body",
            "<t:Categories",
            "<t:Importance",
            "<t:ReminderDueBy",
            "<t:ReminderIsSet",
            "<t:ReminderMinutesBeforeStart",
            "<t:DueDate",
            "<t:IsComplete",
            "<t:IsRecurring",
            "<t:PercentComplete",
            "<t:Recurrence",
            "<t:StartDate>2024-05-03T",
            "<t:Status",
        ];
        for pair in order.windows(2) {
            assert!(pos(pair[0]) < pos(pair[1]), "{} before {}", pair[0], pair[1]);
        }
        let completed = Task {
            status: TaskStatus::Completed,
            percent_complete: 100,
            completed: Some(now() - Duration::days(3)),
            ..t.clone()
        };
        assert_eq!(round_trip(&completed, &paris()).0, completed);
    }

    #[test]
    fn every_recurrence_pattern_round_trips() {
        use Weekday::*;
        let patterns = [
            Pattern::Daily { interval: 3 },
            Pattern::AbsoluteMonthly { interval: 2, day: 31 },
            Pattern::RelativeMonthly { interval: 1, days: vec![Mon, Tue, Wed, Thu, Fri], index: WeekIndex::Last },
            Pattern::RelativeMonthly { interval: 1, days: vec![Sat, Sun], index: WeekIndex::First },
            Pattern::AbsoluteYearly { interval: 1, month: 2, day: 29 },
            Pattern::RelativeYearly { interval: 1, month: 11, days: vec![Thu], index: WeekIndex::Fourth },
        ];
        let ranges = [Range::NoEnd, Range::EndDate(d(2030, 1, 1)), Range::Count(5)];
        for (p, r) in patterns.into_iter().zip(ranges.into_iter().cycle()) {
            let mut t = Task::new("", "recurring");
            t.start = Some(EventTime::Date(d(2024, 2, 29)));
            t.recurrence = Some(Recurrence { pattern: p, range: r });
            let (back, xml) = round_trip(&t, &paris());
            assert_eq!(back, t, "{xml}");
        }
        // Yearly every two years travels as monthly every 24 months.
        let mut t = Task::new("", "biennial");
        t.due = Some(EventTime::Date(d(2024, 3, 15)));
        t.recurrence = Some(Recurrence {
            pattern: Pattern::AbsoluteYearly { interval: 2, month: 3, day: 15 },
            range: Range::NoEnd,
        });
        let (back, _) = round_trip(&t, &paris());
        assert_eq!(back.recurrence.map(|r| r.pattern), Some(Pattern::AbsoluteMonthly { interval: 24, day: 15 }));
    }

    #[test]
    fn recurrence_start_becomes_the_start_when_there_is_no_date() {
        let t = parse_task(
            &el(r#"<t:Task><t:Subject>x</t:Subject><t:Recurrence><t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence><t:NoEndRecurrence><t:StartDate>2024-07-01</t:StartDate></t:NoEndRecurrence></t:Recurrence></t:Task>"#),
            &paris(),
        )
        .expect("parses");
        assert_eq!(t.start, Some(EventTime::Date(d(2024, 7, 1))));
    }

    #[test]
    fn status_percent_and_completion_stay_consistent() {
        let cx = paris();
        let t = parse_task(&el("<t:Task><t:Subject>x</t:Subject><t:Status>Completed</t:Status></t:Task>"), &cx)
            .expect("parses");
        assert_eq!((t.percent_complete, t.completed), (100, Some(now())));
        let t =
            parse_task(&el("<t:Task><t:Subject>x</t:Subject><t:PercentComplete>100</t:PercentComplete></t:Task>"), &cx)
                .expect("parses");
        assert_eq!((t.status, t.completed), (TaskStatus::Completed, Some(now())));
        let t = parse_task(
            &el("<t:Task><t:Subject>x</t:Subject><t:PercentComplete>25.4</t:PercentComplete></t:Task>"),
            &cx,
        )
        .expect("parses");
        assert_eq!((t.status, t.percent_complete), (TaskStatus::InProgress, 25));
        // Status wins over a contradicting percentage in the same request.
        let t = parse_task(
            &el("<t:Task><t:Subject>x</t:Subject><t:PercentComplete>40</t:PercentComplete><t:Status>NotStarted</t:Status></t:Task>"),
            &cx,
        )
        .expect("parses");
        assert_eq!((t.status, t.percent_complete), (TaskStatus::NotStarted, 0));

        let mut t = parse_task(&el(FULL), &cx).expect("parses");
        let set_status = |s: &str| {
            el(&format!(
                r#"<t:Updates><t:SetItemField><t:FieldURI FieldURI="task:Status"/><t:Task><t:Status>{s}</t:Status></t:Task></t:SetItemField></t:Updates>"#
            ))
        };
        apply_task_updates(&mut t, &set_status("Completed"), &cx).expect("applies");
        assert_eq!((t.status, t.percent_complete, t.completed), (TaskStatus::Completed, 100, Some(now())));
        apply_task_updates(&mut t, &set_status("InProgress"), &cx).expect("applies");
        assert_eq!((t.status, t.percent_complete, t.completed), (TaskStatus::InProgress, 0, None));
        let u = el(
            r#"<t:Updates><t:SetItemField><t:FieldURI FieldURI="task:PercentComplete"/><t:Task><t:PercentComplete>100</t:PercentComplete></t:Task></t:SetItemField></t:Updates>"#,
        );
        apply_task_updates(&mut t, &u, &cx).expect("applies");
        assert_eq!((t.status, t.completed), (TaskStatus::Completed, Some(now())));
        let u = el(
            r#"<t:Updates><t:SetItemField><t:FieldURI FieldURI="task:PercentComplete"/><t:Task><t:PercentComplete>30</t:PercentComplete></t:Task></t:SetItemField></t:Updates>"#,
        );
        apply_task_updates(&mut t, &u, &cx).expect("applies");
        assert_eq!((t.status, t.completed), (TaskStatus::InProgress, None));
    }

    #[test]
    fn updates_apply_and_delete() {
        let cx = paris();
        let mut t = parse_task(&el(FULL), &cx).expect("parses");
        let u = el(r#"<t:Updates>
            <t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:Task><t:Subject>Renamed</t:Subject></t:Task></t:SetItemField>
            <t:AppendToItemField><t:FieldURI FieldURI="item:Body"/><t:Task><t:Body BodyType="Text"> More.</t:Body></t:Task></t:AppendToItemField>
            <t:SetItemField><t:FieldURI FieldURI="task:DueDate"/><t:Task><t:DueDate>2024-05-20T00:00:00+02:00</t:DueDate></t:Task></t:SetItemField>
            <t:SetItemField><t:FieldURI FieldURI="item:ReminderDueBy"/><t:Task><t:ReminderDueBy>2024-05-19T16:00:00Z</t:ReminderDueBy></t:Task></t:SetItemField>
            <t:DeleteItemField><t:FieldURI FieldURI="task:Recurrence"/></t:DeleteItemField>
            <t:DeleteItemField><t:FieldURI FieldURI="item:Categories"/></t:DeleteItemField>
            <t:SetItemField><t:FieldURI FieldURI="item:Importance"/><t:Task><t:Importance>Low</t:Importance></t:Task></t:SetItemField>
            <t:DeleteItemField><t:FieldURI FieldURI="task:StartDate"/></t:DeleteItemField>
          </t:Updates>"#);
        apply_task_updates(&mut t, &u, &cx).expect("applies");
        assert_eq!(t.subject, "Renamed");
        assert_eq!(t.body.as_deref(), Some("Quarterly numbers. More."));
        assert_eq!(t.due, Some(EventTime::Date(d(2024, 5, 20))));
        // 18:00 local the day before: 6 hours before midnight.
        assert_eq!(t.reminder_minutes, Some(360));
        assert_eq!(t.recurrence, None);
        assert!(t.categories.is_empty());
        assert_eq!(t.importance, Importance::Low);
        assert_eq!(t.start, None);
        let off = el(
            r#"<t:Updates><t:SetItemField><t:FieldURI FieldURI="item:ReminderIsSet"/><t:Task><t:ReminderIsSet>false</t:ReminderIsSet></t:Task></t:SetItemField></t:Updates>"#,
        );
        apply_task_updates(&mut t, &off, &cx).expect("applies");
        assert_eq!(t.reminder_minutes, None);
    }

    #[test]
    fn bad_input_is_an_error() {
        let cx = paris();
        let bad = [
            "<t:Message/>",
            "<t:Task><t:Status>Done</t:Status></t:Task>",
            "<t:Task><t:PercentComplete>150</t:PercentComplete></t:Task>",
            "<t:Task><t:PercentComplete>NaN</t:PercentComplete></t:Task>",
            "<t:Task><t:DueDate>tomorrow</t:DueDate></t:Task>",
            "<t:Task><t:Importance>Urgent</t:Importance></t:Task>",
            "<t:Task><t:ReminderIsSet>true</t:ReminderIsSet><t:ReminderDueBy>2024-05-01T08:00:00Z</t:ReminderDueBy></t:Task>",
            "<t:Task><t:ReminderIsSet>maybe</t:ReminderIsSet></t:Task>",
            "<t:Task><t:Recurrence><t:DailyRegeneration><t:Interval>2</t:Interval></t:DailyRegeneration><t:NoEndRecurrence><t:StartDate>2024-01-01</t:StartDate></t:NoEndRecurrence></t:Recurrence></t:Task>",
            "<t:Task><t:Recurrence><t:DailyRecurrence><t:Interval>0</t:Interval></t:DailyRecurrence><t:NoEndRecurrence><t:StartDate>2024-01-01</t:StartDate></t:NoEndRecurrence></t:Recurrence></t:Task>",
            "<t:Task><t:Recurrence><t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence></t:Recurrence></t:Task>",
            "<t:Task><t:Recurrence><t:NoEndRecurrence><t:StartDate>2024-01-01</t:StartDate></t:NoEndRecurrence></t:Recurrence></t:Task>",
            "<t:Task><t:Recurrence><t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Funday</t:DaysOfWeek></t:WeeklyRecurrence><t:NoEndRecurrence><t:StartDate>2024-01-01</t:StartDate></t:NoEndRecurrence></t:Recurrence></t:Task>",
            "<t:Task><t:Recurrence><t:AbsoluteYearlyRecurrence><t:DayOfMonth>1</t:DayOfMonth><t:Month>Smarch</t:Month></t:AbsoluteYearlyRecurrence><t:NoEndRecurrence><t:StartDate>2024-01-01</t:StartDate></t:NoEndRecurrence></t:Recurrence></t:Task>",
            "<t:Task><t:Recurrence><t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence><t:EndDateRecurrence><t:StartDate>2024-01-01</t:StartDate><t:EndDate>soon</t:EndDate></t:EndDateRecurrence></t:Recurrence></t:Task>",
        ];
        for b in bad {
            assert!(parse_task(&el(b), &cx).is_err(), "{b}");
        }
        let bad_updates = [
            r#"<t:SetItemField><t:FieldURI FieldURI="task:IsComplete"/><t:Task><t:IsComplete>true</t:IsComplete></t:Task></t:SetItemField>"#,
            r#"<t:SetItemField><t:FieldURI FieldURI="task:Mileage"/><t:Task><t:Mileage>5</t:Mileage></t:Task></t:SetItemField>"#,
            r#"<t:SetItemField><t:FieldURI FieldURI="task:Status"/><t:Task/></t:SetItemField>"#,
            r#"<t:AppendToItemField><t:FieldURI FieldURI="item:Subject"/><t:Task><t:Subject>x</t:Subject></t:Task></t:AppendToItemField>"#,
            r#"<t:SetItemField><t:IndexedFieldURI FieldURI="contacts:EmailAddress" FieldIndex="EmailAddress1"/><t:Task/></t:SetItemField>"#,
            r#"<t:DeleteItemField><t:FieldURI FieldURI="task:DueDate"/></t:DeleteItemField><t:DeleteItemField><t:FieldURI FieldURI="task:StartDate"/></t:DeleteItemField>"#,
        ];
        for b in bad_updates {
            let mut t = parse_task(&el(FULL), &cx).expect("parses");
            let u = el(&format!("<t:Updates>{b}</t:Updates>"));
            assert!(apply_task_updates(&mut t, &u, &cx).is_err(), "{b}");
        }
    }

    #[test]
    fn id_only_and_back_end_times() {
        let mut t = Task::new("u", "x");
        assert_eq!(
            render(&t, &Shape { base: BaseShape::IdOnly, ..Shape::default() }, chrono_tz::UTC),
            format!(r#"<w xmlns:t="{T}"><t:Task><t:ItemId Id="TASK=" ChangeKey="CK"/></t:Task></w>"#)
        );
        // A due time from a CalDAV client is written as its instant.
        t.due = Some(EventTime::Zoned(d(2024, 5, 10).and_hms_opt(15, 0, 0).expect("valid"), chrono_tz::Europe::Berlin));
        assert!(render(&t, &all(), chrono_tz::UTC).contains("<t:DueDate>2024-05-10T13:00:00Z</t:DueDate>"));
    }
}
