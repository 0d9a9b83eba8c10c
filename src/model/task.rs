//! Tasks: EWS `TaskType` (MS-OXWSTASK), MAPI task objects (MS-OXOTASK), and iCalendar VTODO (RFC 5545 3.6.2) as
//! the DAV back-end reads and writes them.

use chrono::{DateTime, Utc};

use super::calendar::{Importance, Sensitivity};
use super::recurrence::Recurrence;
use super::timezone::EventTime;

/// EWS `TaskStatusType` / MAPI PidLidTaskStatus; VTODO STATUS (+ X-MICROSOFT-TASKSTATUS for the two values that
/// iCalendar has no word for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TaskStatus {
    #[default]
    NotStarted,
    InProgress,
    Completed,
    WaitingOnOthers,
    Deferred,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub uid: String,
    pub subject: String,
    pub body: Option<String>,
    /// DTSTART.
    pub start: Option<EventTime>,
    /// DUE.
    pub due: Option<EventTime>,
    pub status: TaskStatus,
    /// 0–100 (PERCENT-COMPLETE; EWS PercentComplete).
    pub percent_complete: u8,
    pub importance: Importance,
    pub sensitivity: Sensitivity,
    /// COMPLETED.
    pub completed: Option<DateTime<Utc>>,
    /// Minutes before the due date (or the start when there is no due date); VALARM TRIGGER.
    pub reminder_minutes: Option<i32>,
    /// Generated from `start` (RFC 5545 3.8.5.3), or from `due` when there is no start.
    pub recurrence: Option<Recurrence>,
    pub categories: Vec<String>,
    pub sequence: u32,
    pub dtstamp: Option<DateTime<Utc>>,
    pub created: Option<DateTime<Utc>>,
    pub last_modified: Option<DateTime<Utc>>,
}

impl Task {
    /// Marks the task as written now: DTSTAMP and LAST-MODIFIED become `now`, CREATED is set if missing.
    pub fn stamp(&mut self, now: DateTime<Utc>) {
        self.dtstamp = Some(now);
        self.last_modified = Some(now);
        self.created.get_or_insert(now);
    }

    pub fn new(uid: impl Into<String>, subject: impl Into<String>) -> Task {
        Task {
            uid: uid.into(),
            subject: subject.into(),
            body: None,
            start: None,
            due: None,
            status: TaskStatus::NotStarted,
            percent_complete: 0,
            importance: Importance::Normal,
            sensitivity: Sensitivity::Normal,
            completed: None,
            reminder_minutes: None,
            recurrence: None,
            categories: Vec::new(),
            sequence: 0,
            dtstamp: None,
            created: None,
            last_modified: None,
        }
    }
}
