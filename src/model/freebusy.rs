//! Free/busy computed from calendar items (EWS GetUserAvailability, MS-OXWSAVAIL; the DAV back-end has no
//! scheduling server to ask). Series are expanded with their deleted and modified occurrences
//! ([`CalendarItem::occurrences`]); free and transparent time, and cancelled meetings, do not count.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::calendar::{CalendarItem, FreeBusy, Sensitivity};

/// One occurrence that makes the owner unavailable (EWS `CalendarEvent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusyEvent {
    /// Clipped to the asked window.
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: FreeBusy,
    /// The detailed view: `None` when details were not asked for or the item is private.
    pub details: Option<BusyDetails>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusyDetails {
    pub uid: String,
    pub subject: String,
    pub location: Option<String>,
    pub is_meeting: bool,
    pub is_recurring: bool,
    /// A modified occurrence of a series.
    pub is_exception: bool,
    pub is_private: bool,
}

/// A merged stretch of time with one status (the strongest of the items that overlap it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusyInterval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: FreeBusy,
}

/// How strongly a status blocks time: OOF over Busy over Tentative over WorkingElsewhere; Free not at all.
fn rank(s: FreeBusy) -> u8 {
    match s {
        FreeBusy::Free => 0,
        FreeBusy::WorkingElsewhere => 1,
        FreeBusy::Tentative => 2,
        FreeBusy::Busy => 3,
        FreeBusy::Oof => 4,
    }
}

const BY_RANK: [FreeBusy; 5] =
    [FreeBusy::Free, FreeBusy::WorkingElsewhere, FreeBusy::Tentative, FreeBusy::Busy, FreeBusy::Oof];

/// The occurrences of `items` that overlap `[from, to)` and are not free, in start order. Dates and floating
/// times are read in `floating_tz` (the owner's zone). With `details`, subject and location are filled in,
/// except for private items.
pub fn busy_events(
    items: &[CalendarItem],
    floating_tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    details: bool,
) -> Vec<BusyEvent> {
    let mut out = Vec::new();
    if from >= to {
        return out;
    }
    for item in items {
        if item.is_cancelled {
            continue;
        }
        for occ in item.occurrences(floating_tz, from, to) {
            let ex = occ.override_index.and_then(|i| item.modified_occurrences.get(i));
            if ex.and_then(|x| x.is_cancelled).unwrap_or(false) {
                continue;
            }
            let status = ex.and_then(|x| x.free_busy).unwrap_or(item.free_busy);
            if status == FreeBusy::Free {
                continue;
            }
            let (start, end) = (occ.start.max(from), occ.end.min(to));
            if end <= start {
                continue;
            }
            let sensitivity = ex.and_then(|x| x.sensitivity).unwrap_or(item.sensitivity);
            let is_private = matches!(sensitivity, Sensitivity::Private | Sensitivity::Confidential);
            let details = (details && !is_private).then(|| BusyDetails {
                uid: item.uid.clone(),
                subject: ex.and_then(|x| x.subject.clone()).unwrap_or_else(|| item.subject.clone()),
                location: match ex.and_then(|x| x.location.clone()) {
                    Some(l) if l.is_empty() => None,
                    Some(l) => Some(l),
                    None => item.location.clone(),
                },
                is_meeting: item.is_meeting,
                is_recurring: item.recurrence.is_some(),
                is_exception: ex.is_some(),
                is_private,
            });
            out.push(BusyEvent { start, end, status, details });
        }
    }
    out.sort_by_key(|e| (e.start, e.end));
    out
}

/// Merges events into non-overlapping intervals in UTC; where several overlap, the strongest status wins.
/// Adjacent intervals with the same status are joined.
pub fn merge(events: &[BusyEvent]) -> Vec<BusyInterval> {
    // Sweep over the boundaries with a count of open events per status.
    let mut points: Vec<(DateTime<Utc>, i32, u8)> = Vec::with_capacity(events.len() * 2);
    for e in events.iter().filter(|e| e.end > e.start && rank(e.status) > 0) {
        points.push((e.start, 1, rank(e.status)));
        points.push((e.end, -1, rank(e.status)));
    }
    points.sort_by_key(|p| (p.0, p.1));
    let mut open = [0i32; 5];
    let mut out: Vec<BusyInterval> = Vec::new();
    let mut i = 0;
    let mut prev: Option<DateTime<Utc>> = None;
    while i < points.len() {
        let t = points[i].0;
        if let Some(p) = prev
            && let Some(r) = (1..5).rev().find(|r| open[*r] > 0)
            && t > p
        {
            let status = BY_RANK[r];
            match out.last_mut() {
                Some(last) if last.end == p && last.status == status => last.end = t,
                _ => out.push(BusyInterval { start: p, end: t, status }),
            }
        }
        while i < points.len() && points[i].0 == t {
            open[points[i].2 as usize] += points[i].1;
            i += 1;
        }
        prev = Some(t);
    }
    out
}

/// Merged busy intervals of `items` in `[from, to)`.
pub fn free_busy(items: &[CalendarItem], floating_tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<BusyInterval> {
    merge(&busy_events(items, floating_tz, from, to, false))
}

/// EWS `MergedFreeBusy`: one digit per slot of `slot` from `from` to `to` (0 free, 1 tentative, 2 busy, 3 OOF,
/// 4 working elsewhere; MS-OXWSAVAIL 2.2.4.12), the strongest status overlapping the slot.
pub fn merged_free_busy_string(
    intervals: &[BusyInterval],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    slot: Duration,
) -> String {
    let mut s = String::new();
    if slot <= Duration::zero() {
        return s;
    }
    let mut t = from;
    while t < to && s.len() < 100_000 {
        let e = (t + slot).min(to);
        let best = intervals
            .iter()
            .filter(|iv| iv.start < e && iv.end > t)
            .map(|iv| iv.status)
            .max_by_key(|st| rank(*st))
            .unwrap_or(FreeBusy::Free);
        s.push(match best {
            FreeBusy::Free => '0',
            FreeBusy::Tentative => '1',
            FreeBusy::Busy => '2',
            FreeBusy::Oof => '3',
            FreeBusy::WorkingElsewhere => '4',
        });
        t = e;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::calendar::Exception;
    use crate::model::recurrence::Recurrence;
    use crate::model::timezone::EventTime;
    use chrono::{NaiveDate, TimeZone};

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }
    fn paris(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> EventTime {
        EventTime::Zoned(NaiveDate::from_ymd_opt(y, mo, d).unwrap().and_hms_opt(h, mi, 0).unwrap(), Tz::Europe__Paris)
    }
    fn single(uid: &str, s: DateTime<Utc>, e: DateTime<Utc>, fb: FreeBusy) -> CalendarItem {
        let mut i = CalendarItem::new(uid, uid, EventTime::Utc(s), EventTime::Utc(e));
        i.free_busy = fb;
        i
    }

    #[test]
    fn weekly_series_with_exdate_and_override() {
        // The test stack's seeded standup: Mondays 09:30-09:45 Paris from 6 Jan 2025, 20 Jan deleted,
        // 13 Jan moved to 11:00 and marked tentative.
        let start = paris(2025, 1, 6, 9, 30);
        let mut item = CalendarItem::new("standup", "Weekly standup", start, paris(2025, 1, 6, 9, 45));
        item.location = Some("Room 1".into());
        item.recurrence = Some(Recurrence::from_rrule("FREQ=WEEKLY;BYDAY=MO", &start).unwrap());
        item.deleted_occurrences.push(paris(2025, 1, 20, 9, 30));
        item.modified_occurrences.push(Exception {
            recurrence_id: Some(paris(2025, 1, 13, 9, 30)),
            start: Some(paris(2025, 1, 13, 11, 0)),
            end: Some(paris(2025, 1, 13, 11, 15)),
            location: Some("Room 2".into()),
            free_busy: Some(FreeBusy::Tentative),
            ..Default::default()
        });
        let (from, to) = (utc(2025, 1, 1, 0, 0), utc(2025, 2, 1, 0, 0));
        let ev = busy_events(&[item.clone()], Tz::UTC, from, to, true);
        let starts: Vec<_> = ev.iter().map(|e| (e.start, e.status)).collect();
        assert_eq!(
            starts,
            [
                (utc(2025, 1, 6, 8, 30), FreeBusy::Busy),
                (utc(2025, 1, 13, 10, 0), FreeBusy::Tentative),
                (utc(2025, 1, 27, 8, 30), FreeBusy::Busy),
            ]
        );
        let d = ev[1].details.as_ref().unwrap();
        assert_eq!((d.location.as_deref(), d.is_exception, d.is_recurring), (Some("Room 2"), true, true));
        assert_eq!(ev[0].details.as_ref().unwrap().location.as_deref(), Some("Room 1"));
        assert!(busy_events(&[item], Tz::UTC, from, to, false).iter().all(|e| e.details.is_none()));
    }

    #[test]
    fn merging_keeps_the_strongest_status() {
        let items = vec![
            single("a", utc(2026, 3, 2, 9, 0), utc(2026, 3, 2, 10, 0), FreeBusy::Tentative),
            single("b", utc(2026, 3, 2, 9, 30), utc(2026, 3, 2, 11, 0), FreeBusy::Busy),
            single("c", utc(2026, 3, 2, 11, 0), utc(2026, 3, 2, 12, 0), FreeBusy::Busy),
            single("d", utc(2026, 3, 2, 13, 0), utc(2026, 3, 2, 14, 0), FreeBusy::Free),
            single("e", utc(2026, 3, 2, 10, 0), utc(2026, 3, 2, 10, 30), FreeBusy::Oof),
            single("f", utc(2026, 3, 2, 15, 0), utc(2026, 3, 2, 16, 0), FreeBusy::WorkingElsewhere),
        ];
        let mut cancelled = single("g", utc(2026, 3, 2, 16, 0), utc(2026, 3, 2, 17, 0), FreeBusy::Busy);
        cancelled.is_cancelled = true;
        let mut all = items.clone();
        all.push(cancelled);
        let (from, to) = (utc(2026, 3, 2, 0, 0), utc(2026, 3, 3, 0, 0));
        let m = free_busy(&all, Tz::UTC, from, to);
        let got: Vec<_> = m.iter().map(|i| (i.start, i.end, i.status)).collect();
        assert_eq!(
            got,
            [
                (utc(2026, 3, 2, 9, 0), utc(2026, 3, 2, 9, 30), FreeBusy::Tentative),
                (utc(2026, 3, 2, 9, 30), utc(2026, 3, 2, 10, 0), FreeBusy::Busy),
                (utc(2026, 3, 2, 10, 0), utc(2026, 3, 2, 10, 30), FreeBusy::Oof),
                (utc(2026, 3, 2, 10, 30), utc(2026, 3, 2, 12, 0), FreeBusy::Busy),
                (utc(2026, 3, 2, 15, 0), utc(2026, 3, 2, 16, 0), FreeBusy::WorkingElsewhere),
            ]
        );
        let s = merged_free_busy_string(&m, utc(2026, 3, 2, 8, 0), utc(2026, 3, 2, 17, 0), Duration::minutes(60));
        assert_eq!(s, "023200040");
    }

    #[test]
    fn clipping_all_day_private_and_empty_windows() {
        let mut day = CalendarItem::new(
            "holiday",
            "Holiday",
            EventTime::Date(NaiveDate::from_ymd_opt(2025, 5, 1).unwrap()),
            EventTime::Date(NaiveDate::from_ymd_opt(2025, 5, 2).unwrap()),
        );
        day.free_busy = FreeBusy::Oof;
        day.sensitivity = Sensitivity::Private;
        // Read in Paris: 30 Apr 22:00Z to 1 May 22:00Z, clipped to the window.
        let ev = busy_events(&[day.clone()], Tz::Europe__Paris, utc(2025, 5, 1, 0, 0), utc(2025, 5, 3, 0, 0), true);
        assert_eq!(ev.len(), 1);
        assert_eq!((ev[0].start, ev[0].end), (utc(2025, 5, 1, 0, 0), utc(2025, 5, 1, 22, 0)));
        assert!(ev[0].details.is_none(), "private items show no details");
        assert!(busy_events(&[day.clone()], Tz::UTC, utc(2025, 5, 3, 0, 0), utc(2025, 5, 1, 0, 0), true).is_empty());
        assert!(free_busy(&[day], Tz::UTC, utc(2025, 6, 1, 0, 0), utc(2025, 6, 2, 0, 0)).is_empty());
        assert!(merge(&[]).is_empty());
    }

    #[test]
    fn adjacent_same_status_joins() {
        let items = vec![
            single("a", utc(2026, 1, 1, 9, 0), utc(2026, 1, 1, 10, 0), FreeBusy::Busy),
            single("b", utc(2026, 1, 1, 10, 0), utc(2026, 1, 1, 11, 0), FreeBusy::Busy),
            single("c", utc(2026, 1, 1, 9, 15), utc(2026, 1, 1, 9, 45), FreeBusy::Busy),
        ];
        let m = free_busy(&items, Tz::UTC, utc(2026, 1, 1, 0, 0), utc(2026, 1, 2, 0, 0));
        assert_eq!(
            m,
            [BusyInterval { start: utc(2026, 1, 1, 9, 0), end: utc(2026, 1, 1, 11, 0), status: FreeBusy::Busy }]
        );
    }
}
