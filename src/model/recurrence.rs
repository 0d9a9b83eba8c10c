//! Recurrence: the patterns Exchange can express (MS-OXWSCAL 2.2.4 `RecurrenceType`: DailyRecurrence,
//! WeeklyRecurrence, AbsoluteMonthlyRecurrence, RelativeMonthlyRecurrence, AbsoluteYearlyRecurrence,
//! RelativeYearlyRecurrence; ranges NoEndRecurrence, EndDateRecurrence, NumberedRecurrence; MS-OXOCAL 2.2.1.44.1
//! RecurrencePattern for MAPI), their RRULE form (RFC 5545 3.3.10) in both directions, and occurrence expansion.
//!
//! An RRULE that none of these shapes can carry exactly (BYHOUR, FREQ=HOURLY, BYSETPOS combinations, "every
//! Monday of the month", …) is refused with [`NotRepresentable`] so that the caller can log it, list it and fall
//! back (for example show the first instance only) — never silently approximate.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

use super::timezone::{EventTime, days_in_month, local_to_utc};

/// Which week of the month a relative pattern picks (MS-OXWSCAL `DayOfWeekIndexType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeekIndex {
    First,
    Second,
    Third,
    Fourth,
    Last,
}

impl WeekIndex {
    /// The RRULE ordinal: 1–4, or -1 for the last.
    pub fn ordinal(self) -> i32 {
        match self {
            WeekIndex::First => 1,
            WeekIndex::Second => 2,
            WeekIndex::Third => 3,
            WeekIndex::Fourth => 4,
            WeekIndex::Last => -1,
        }
    }
    pub fn from_ordinal(n: i32) -> Option<WeekIndex> {
        Some(match n {
            1 => WeekIndex::First,
            2 => WeekIndex::Second,
            3 => WeekIndex::Third,
            4 => WeekIndex::Fourth,
            -1 => WeekIndex::Last,
            _ => return None,
        })
    }
}

/// The repeating part of a recurrence. Day sets are kept sorted Monday-first without duplicates
/// ([`normalize_days`]). A relative pattern with several days picks the n-th day of the month that is any of them
/// (EWS `Weekday` = Monday–Friday, `WeekendDay` = Saturday+Sunday, `Day` = all seven).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// Every `interval` days.
    Daily { interval: u32 },
    /// Every `interval` weeks on `days`; weeks start on `first_day_of_week` (RRULE WKST).
    Weekly { interval: u32, days: Vec<Weekday>, first_day_of_week: Weekday },
    /// Day `day` (1–31) every `interval` months; in shorter months, the last day (MS-OXOCAL 2.2.1.44.1 RecurrencePattern, Month pattern; Outlook DayOfMonth 31 = last day).
    AbsoluteMonthly { interval: u32, day: u32 },
    /// The `index`-th of `days` every `interval` months.
    RelativeMonthly { interval: u32, days: Vec<Weekday>, index: WeekIndex },
    /// `month`/`day` every `interval` years (EWS has no interval for yearly patterns: interval > 1 is sent as a
    /// monthly pattern with interval 12 × n); Feb 29 falls on Feb 28 in common years.
    AbsoluteYearly { interval: u32, month: u32, day: u32 },
    /// The `index`-th of `days` in `month` every `interval` years.
    RelativeYearly { interval: u32, month: u32, days: Vec<Weekday>, index: WeekIndex },
}

/// How a recurrence ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Range {
    NoEnd,
    /// The last occurrence is on or before this date (local to the series' zone).
    EndDate(NaiveDate),
    /// This many occurrences, deleted ones included (RFC 5545 COUNT; EWS NumberOfOccurrences).
    Count(u32),
}

/// A recurrence rule. The first occurrence and the time of day come from the item's start.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Recurrence {
    pub pattern: Pattern,
    pub range: Range,
}

/// Why an RRULE (or a set of recurrence properties) cannot be carried by [`Recurrence`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotRepresentable {
    pub reason: String,
}

impl NotRepresentable {
    pub fn new(reason: impl Into<String>) -> NotRepresentable {
        NotRepresentable { reason: reason.into() }
    }
}

impl fmt::Display for NotRepresentable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "recurrence not representable: {}", self.reason)
    }
}

impl std::error::Error for NotRepresentable {}

impl From<NotRepresentable> for crate::error::Error {
    fn from(e: NotRepresentable) -> Self {
        crate::error::Error::backend(crate::error::Backend::Dav, crate::error::Kind::NotSupported, e.to_string())
    }
}

/// Sorts a day set Monday-first and removes duplicates.
pub fn normalize_days(days: &mut Vec<Weekday>) {
    days.sort_by_key(|d| d.num_days_from_monday());
    days.dedup();
}

const ALL_DAYS: [Weekday; 7] =
    [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];

/// RFC 5545 two-letter weekday.
pub fn weekday_code(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

pub fn parse_weekday_code(s: &str) -> Option<Weekday> {
    Some(match s.to_ascii_uppercase().as_str() {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    })
}

/// The largest interval accepted (Outlook offers at most 999 days/weeks/months).
pub const MAX_INTERVAL: u32 = 999;

// ---------------------------------------------------------------------------------------------------------------
// RRULE → model
// ---------------------------------------------------------------------------------------------------------------

#[derive(Default)]
struct Parts {
    freq: Option<String>,
    interval: Option<u32>,
    count: Option<u32>,
    until: Option<String>,
    byday: Vec<(Option<i32>, Weekday)>,
    bymonthday: Vec<i32>,
    bymonth: Vec<u32>,
    bysetpos: Vec<i32>,
    wkst: Option<Weekday>,
}

fn nr<T>(reason: impl Into<String>) -> Result<T, NotRepresentable> {
    Err(NotRepresentable::new(reason))
}

fn parse_parts(rule: &str) -> Result<Parts, NotRepresentable> {
    let rule = rule.trim();
    let rule = rule.strip_prefix("RRULE:").or_else(|| rule.strip_prefix("rrule:")).unwrap_or(rule);
    let mut p = Parts::default();
    let mut seen: Vec<String> = Vec::new();
    for part in rule.split(';').filter(|s| !s.trim().is_empty()) {
        let Some((k, v)) = part.split_once('=') else { return nr(format!("malformed rule part {part:?}")) };
        let k = k.trim().to_ascii_uppercase();
        let v = v.trim();
        if seen.contains(&k) {
            return nr(format!("{k} given twice"));
        }
        seen.push(k.clone());
        let ints = |v: &str| -> Result<Vec<i32>, NotRepresentable> {
            v.split(',')
                .map(|x| x.trim().parse::<i32>().map_err(|_| NotRepresentable::new(format!("bad number in {k}={v}"))))
                .collect()
        };
        match k.as_str() {
            "FREQ" => p.freq = Some(v.to_ascii_uppercase()),
            "INTERVAL" => {
                p.interval = Some(v.parse().map_err(|_| NotRepresentable::new(format!("bad INTERVAL {v:?}")))?)
            }
            "COUNT" => p.count = Some(v.parse().map_err(|_| NotRepresentable::new(format!("bad COUNT {v:?}")))?),
            "UNTIL" => p.until = Some(v.to_string()),
            "BYDAY" => {
                for d in v.split(',') {
                    let d = d.trim();
                    if d.len() < 2 || !d.is_char_boundary(d.len() - 2) {
                        return nr(format!("bad BYDAY value {d:?}"));
                    }
                    let (num, code) = d.split_at(d.len() - 2);
                    let wd = parse_weekday_code(code)
                        .ok_or_else(|| NotRepresentable::new(format!("bad BYDAY value {d:?}")))?;
                    let n = if num.is_empty() {
                        None
                    } else {
                        Some(
                            num.trim_start_matches('+')
                                .parse::<i32>()
                                .map_err(|_| NotRepresentable::new(format!("bad BYDAY value {d:?}")))?,
                        )
                    };
                    p.byday.push((n, wd));
                }
            }
            "BYMONTHDAY" => p.bymonthday = ints(v)?,
            "BYMONTH" => {
                p.bymonth = ints(v)?
                    .into_iter()
                    .map(|m| if (1..=12).contains(&m) { Ok(m as u32) } else { nr(format!("bad BYMONTH {m}")) })
                    .collect::<Result<_, _>>()?
            }
            "BYSETPOS" => p.bysetpos = ints(v)?,
            "WKST" => {
                p.wkst = Some(parse_weekday_code(v).ok_or_else(|| NotRepresentable::new(format!("bad WKST {v:?}")))?)
            }
            "BYSECOND" | "BYMINUTE" | "BYHOUR" | "BYYEARDAY" | "BYWEEKNO" | "RSCALE" | "SKIP" => {
                return nr(format!("{k} has no Exchange equivalent"));
            }
            other => return nr(format!("unknown rule part {other}")),
        }
    }
    Ok(p)
}

/// The relative (n-th day) part of a MONTHLY or YEARLY rule: `BYDAY=-1FR`, or `BYDAY=MO,TU,…;BYSETPOS=n`.
fn relative_days(p: &Parts) -> Result<(Vec<Weekday>, WeekIndex), NotRepresentable> {
    if !p.bysetpos.is_empty() {
        if p.bysetpos.len() != 1 {
            return nr("BYSETPOS with several positions");
        }
        if p.byday.iter().any(|(n, _)| n.is_some()) {
            return nr("BYSETPOS combined with numbered BYDAY");
        }
        let idx = WeekIndex::from_ordinal(p.bysetpos[0])
            .ok_or_else(|| NotRepresentable::new(format!("BYSETPOS={} (only 1–4 and -1)", p.bysetpos[0])))?;
        let mut days: Vec<Weekday> = p.byday.iter().map(|(_, d)| *d).collect();
        normalize_days(&mut days);
        return Ok((days, idx));
    }
    if p.byday.len() != 1 {
        return nr("several numbered BYDAY values without BYSETPOS");
    }
    let (n, d) = p.byday[0];
    let Some(n) = n else { return nr(format!("every {} of the month (BYDAY without ordinal)", weekday_code(d))) };
    let idx = WeekIndex::from_ordinal(n)
        .ok_or_else(|| NotRepresentable::new(format!("BYDAY ordinal {n} (only 1–4 and -1)")))?;
    Ok((vec![d], idx))
}

/// The absolute day of a MONTHLY or YEARLY rule: `BYMONTHDAY=d`, `BYMONTHDAY=-1` (= day 31, i.e. the last day),
/// or the clamped form this module writes for days 29–31: `BYMONTHDAY=28,29,30;BYSETPOS=-1` (= day 30).
fn absolute_day(p: &Parts) -> Result<u32, NotRepresentable> {
    if !p.byday.is_empty() {
        return nr("BYMONTHDAY combined with BYDAY");
    }
    let mut v = p.bymonthday.clone();
    if !p.bysetpos.is_empty() {
        v.sort();
        let consecutive = v.windows(2).all(|w| w[1] == w[0] + 1);
        if p.bysetpos == [-1]
            && consecutive
            && v.first().is_some_and(|f| (1..=28).contains(f))
            && v.last().is_some_and(|l| *l >= 28 && *l <= 31)
        {
            return Ok(*v.last().unwrap() as u32);
        }
        return nr("BYSETPOS combined with BYMONTHDAY");
    }
    match v.as_slice() {
        [d] if (1..=31).contains(d) => Ok(*d as u32),
        [-1] => Ok(31),
        [d] => nr(format!("BYMONTHDAY={d} (counting from the month's end)")),
        _ => nr("several BYMONTHDAY values"),
    }
}

/// The date on which a series with `UNTIL` ends, in the series' zone: the last day whose occurrence starts at or
/// before UNTIL.
fn until_to_end_date(until: &str, dtstart: &EventTime) -> Result<NaiveDate, NotRepresentable> {
    let bad = || NotRepresentable::new(format!("bad UNTIL {until:?}"));
    let ok_year = |d: NaiveDate| (1..=9999).contains(&d.year());
    let u = until.trim();
    if u.len() == 8 {
        return NaiveDate::parse_from_str(u, "%Y%m%d").ok().filter(|d| ok_year(*d)).ok_or_else(bad);
    }
    let (body, utc) = match u.strip_suffix('Z').or_else(|| u.strip_suffix('z')) {
        Some(b) => (b, true),
        None => (u, false),
    };
    let naive =
        NaiveDateTime::parse_from_str(body, "%Y%m%dT%H%M%S").ok().filter(|n| ok_year(n.date())).ok_or_else(bad)?;
    let local = if utc {
        let at = DateTime::<Utc>::from_naive_utc_and_offset(naive, Utc);
        match dtstart {
            EventTime::Zoned(_, tz) => at.with_timezone(tz).naive_local(),
            _ => naive,
        }
    } else {
        naive
    };
    let start_time = dtstart.local().time();
    Ok(if local.time() < start_time { local.date().pred_opt().ok_or_else(bad)? } else { local.date() })
}

impl Recurrence {
    /// Reads an RRULE value (RFC 5545 3.3.10; with or without the `RRULE:` prefix) for a series starting at
    /// `dtstart`.
    pub fn from_rrule(rule: &str, dtstart: &EventTime) -> Result<Recurrence, NotRepresentable> {
        let p = parse_parts(rule)?;
        let interval = p.interval.unwrap_or(1);
        if interval == 0 || interval > MAX_INTERVAL {
            return nr(format!("INTERVAL={interval} (1–{MAX_INTERVAL})"));
        }
        let range = match (p.count, &p.until) {
            (Some(_), Some(_)) => return nr("both COUNT and UNTIL"),
            (Some(0), None) => return nr("COUNT=0"),
            (Some(c), None) => Range::Count(c),
            (None, Some(u)) => Range::EndDate(until_to_end_date(u, dtstart)?),
            (None, None) => Range::NoEnd,
        };
        let first = dtstart.local().date();
        let freq = p.freq.clone().ok_or_else(|| NotRepresentable::new("no FREQ"))?;
        let pattern = match freq.as_str() {
            "DAILY" => {
                if !p.bymonthday.is_empty() || !p.bymonth.is_empty() || !p.bysetpos.is_empty() {
                    return nr("FREQ=DAILY with BYMONTHDAY/BYMONTH/BYSETPOS");
                }
                if p.byday.is_empty() {
                    Pattern::Daily { interval }
                } else if interval == 1 && p.byday.iter().all(|(n, _)| n.is_none()) {
                    // "Every weekday": a weekly pattern in Exchange.
                    let mut days: Vec<Weekday> = p.byday.iter().map(|(_, d)| *d).collect();
                    normalize_days(&mut days);
                    Pattern::Weekly { interval: 1, days, first_day_of_week: p.wkst.unwrap_or(Weekday::Mon) }
                } else {
                    return nr("FREQ=DAILY with BYDAY and an interval or ordinals");
                }
            }
            "WEEKLY" => {
                if !p.bymonthday.is_empty() || !p.bymonth.is_empty() || !p.bysetpos.is_empty() {
                    return nr("FREQ=WEEKLY with BYMONTHDAY/BYMONTH/BYSETPOS");
                }
                if p.byday.iter().any(|(n, _)| n.is_some()) {
                    return nr("FREQ=WEEKLY with numbered BYDAY");
                }
                let mut days: Vec<Weekday> = p.byday.iter().map(|(_, d)| *d).collect();
                if days.is_empty() {
                    days.push(first.weekday());
                }
                normalize_days(&mut days);
                Pattern::Weekly { interval, days, first_day_of_week: p.wkst.unwrap_or(Weekday::Mon) }
            }
            "MONTHLY" => {
                if !p.bymonth.is_empty() {
                    return nr("FREQ=MONTHLY with BYMONTH");
                }
                if !p.bymonthday.is_empty() {
                    Pattern::AbsoluteMonthly { interval, day: absolute_day(&p)? }
                } else if !p.byday.is_empty() {
                    let (days, index) = relative_days(&p)?;
                    Pattern::RelativeMonthly { interval, days, index }
                } else if !p.bysetpos.is_empty() {
                    return nr("BYSETPOS without BYDAY or BYMONTHDAY");
                } else {
                    Pattern::AbsoluteMonthly { interval, day: first.day() }
                }
            }
            "YEARLY" => {
                let month = match p.bymonth.as_slice() {
                    [] => first.month(),
                    [m] => *m,
                    _ => return nr("several BYMONTH values"),
                };
                if !p.bymonthday.is_empty() {
                    let day = absolute_day(&p)?;
                    if day > days_in_month(2000, month) {
                        return nr(format!("day {day} never occurs in month {month}"));
                    }
                    Pattern::AbsoluteYearly { interval, month, day }
                } else if !p.byday.is_empty() {
                    if p.bymonth.is_empty() {
                        return nr("FREQ=YEARLY with BYDAY but no BYMONTH (n-th weekday of the year)");
                    }
                    let (days, index) = relative_days(&p)?;
                    Pattern::RelativeYearly { interval, month, days, index }
                } else if !p.bysetpos.is_empty() {
                    return nr("BYSETPOS without BYDAY or BYMONTHDAY");
                } else {
                    Pattern::AbsoluteYearly { interval, month, day: first.day() }
                }
            }
            other => return nr(format!("FREQ={other}")),
        };
        Ok(Recurrence { pattern, range })
    }

    /// Reads a series' recurrence properties as a whole: exactly one RRULE, and no RDATE or EXRULE (RFC 5545
    /// 3.8.5), which Exchange cannot hold.
    pub fn from_properties(
        rrules: &[&str],
        rdate_count: usize,
        exrule_count: usize,
        dtstart: &EventTime,
    ) -> Result<Recurrence, NotRepresentable> {
        if rrules.len() > 1 {
            return nr(format!("{} RRULE properties", rrules.len()));
        }
        if rdate_count > 0 {
            return nr("RDATE (extra occurrence dates)");
        }
        if exrule_count > 0 {
            return nr("EXRULE");
        }
        match rrules.first() {
            Some(r) => Recurrence::from_rrule(r, dtstart),
            None => nr("no RRULE"),
        }
    }

    /// Writes the RRULE value (without the `RRULE:` name) for a series starting at `dtstart`.
    pub fn to_rrule(&self, dtstart: &EventTime) -> String {
        let mut out: Vec<String> = Vec::new();
        let (freq, interval) = match &self.pattern {
            Pattern::Daily { interval } => ("DAILY", *interval),
            Pattern::Weekly { interval, .. } => ("WEEKLY", *interval),
            Pattern::AbsoluteMonthly { interval, .. } | Pattern::RelativeMonthly { interval, .. } => {
                ("MONTHLY", *interval)
            }
            Pattern::AbsoluteYearly { interval, .. } | Pattern::RelativeYearly { interval, .. } => {
                ("YEARLY", *interval)
            }
        };
        out.push(format!("FREQ={freq}"));
        match self.range {
            Range::NoEnd => {}
            Range::Count(c) => out.push(format!("COUNT={c}")),
            Range::EndDate(d) => out.push(format!("UNTIL={}", until_value(d, dtstart))),
        }
        if interval > 1 {
            out.push(format!("INTERVAL={interval}"));
        }
        let days_list = |days: &[Weekday]| days.iter().map(|d| weekday_code(*d)).collect::<Vec<_>>().join(",");
        let relative = |out: &mut Vec<String>, days: &[Weekday], index: WeekIndex| {
            if days.len() == 1 {
                out.push(format!("BYDAY={}{}", index.ordinal(), weekday_code(days[0])));
            } else {
                out.push(format!("BYDAY={}", days_list(days)));
                out.push(format!("BYSETPOS={}", index.ordinal()));
            }
        };
        // Days 29–31 written so that shorter months get their last day, as in Exchange.
        let absolute = |out: &mut Vec<String>, day: u32, month_max: u32| {
            if day <= 28 || (day == month_max && day < 31 && month_max != 29) {
                out.push(format!("BYMONTHDAY={day}"));
            } else if day >= 31 && month_max >= 31 {
                out.push("BYMONTHDAY=-1".to_string());
            } else {
                out.push(format!("BYMONTHDAY={}", (28..=day).map(|d| d.to_string()).collect::<Vec<_>>().join(",")));
                out.push("BYSETPOS=-1".to_string());
            }
        };
        match &self.pattern {
            Pattern::Daily { .. } => {}
            Pattern::Weekly { days, first_day_of_week, .. } => {
                out.push(format!("BYDAY={}", days_list(days)));
                if *first_day_of_week != Weekday::Mon {
                    out.push(format!("WKST={}", weekday_code(*first_day_of_week)));
                }
            }
            Pattern::AbsoluteMonthly { day, .. } => absolute(&mut out, *day, 31),
            Pattern::RelativeMonthly { days, index, .. } => relative(&mut out, days, *index),
            Pattern::AbsoluteYearly { month, day, .. } => {
                out.push(format!("BYMONTH={month}"));
                // Feb 29 → Feb 28 in common years; other months always have their days.
                let max = if *month == 2 { 29 } else { days_in_month(2001, *month) };
                if *month == 2 && *day == 29 {
                    absolute(&mut out, 29, 29);
                } else {
                    absolute(&mut out, (*day).min(max), max.max(30));
                }
            }
            Pattern::RelativeYearly { month, days, index, .. } => {
                out.push(format!("BYMONTH={month}"));
                relative(&mut out, days, *index);
            }
        }
        out.join(";")
    }

    fn interval(&self) -> u32 {
        match &self.pattern {
            Pattern::Daily { interval }
            | Pattern::Weekly { interval, .. }
            | Pattern::AbsoluteMonthly { interval, .. }
            | Pattern::RelativeMonthly { interval, .. }
            | Pattern::AbsoluteYearly { interval, .. }
            | Pattern::RelativeYearly { interval, .. } => (*interval).max(1),
        }
    }

    /// The dates of the occurrences of a series whose first instance is on or after `first`, in order, bounded by
    /// the range. Exchange semantics: only dates that match the pattern occur (a start that does not match is not
    /// an extra occurrence).
    pub fn dates(&self, first: NaiveDate) -> Dates<'_> {
        Dates { rec: self, first, period: 0, buf: Vec::new(), emitted: 0, done: false }
    }

    /// The dates of period `k` (the k-th day/week/month/year block counted in intervals from `first`).
    fn period_dates(&self, first: NaiveDate, k: i64) -> Option<Vec<NaiveDate>> {
        let n = k * self.interval() as i64;
        let month_shift = |months: i64| -> Option<(i32, u32)> {
            let m0 = first.year() as i64 * 12 + first.month0() as i64 + months;
            let y = m0.div_euclid(12);
            if y > 9999 {
                return None;
            }
            Some((y as i32, (m0.rem_euclid(12) + 1) as u32))
        };
        let nth_of = |y: i32, m: u32, days: &[Weekday], index: WeekIndex| -> Option<NaiveDate> {
            let dim = days_in_month(y, m);
            let all: Vec<NaiveDate> = (1..=dim)
                .filter_map(|d| NaiveDate::from_ymd_opt(y, m, d))
                .filter(|d| days.contains(&d.weekday()))
                .collect();
            match index {
                WeekIndex::Last => all.last().copied(),
                i => all.get(i.ordinal() as usize - 1).copied(),
            }
        };
        Some(match &self.pattern {
            Pattern::Daily { .. } => vec![first.checked_add_signed(Duration::try_days(n)?)?],
            Pattern::Weekly { days, first_day_of_week, .. } => {
                let back = (first.weekday().num_days_from_monday() + 7 - first_day_of_week.num_days_from_monday()) % 7;
                let week_start = first
                    .checked_sub_signed(Duration::days(back as i64))?
                    .checked_add_signed(Duration::try_weeks(n)?)?;
                let days: Vec<Weekday> = if days.is_empty() { vec![first.weekday()] } else { days.clone() };
                let mut v: Vec<NaiveDate> = days
                    .iter()
                    .filter_map(|d| {
                        let off = (d.num_days_from_monday() + 7 - first_day_of_week.num_days_from_monday()) % 7;
                        week_start.checked_add_signed(Duration::days(off as i64))
                    })
                    .collect();
                v.sort();
                v
            }
            Pattern::AbsoluteMonthly { day, .. } => {
                let (y, m) = month_shift(n)?;
                vec![NaiveDate::from_ymd_opt(y, m, (*day).clamp(1, days_in_month(y, m)))?]
            }
            Pattern::RelativeMonthly { days, index, .. } => {
                let (y, m) = month_shift(n)?;
                nth_of(y, m, if days.is_empty() { &ALL_DAYS } else { days }, *index).into_iter().collect()
            }
            Pattern::AbsoluteYearly { month, day, .. } => {
                let y = first.year() as i64 + n;
                if y > 9999 {
                    return None;
                }
                let y = y as i32;
                vec![NaiveDate::from_ymd_opt(y, *month, (*day).clamp(1, days_in_month(y, *month)))?]
            }
            Pattern::RelativeYearly { month, days, index, .. } => {
                let y = first.year() as i64 + n;
                if y > 9999 {
                    return None;
                }
                nth_of(y as i32, *month, if days.is_empty() { &ALL_DAYS } else { days }, *index).into_iter().collect()
            }
        })
    }

    /// The occurrences of a series that overlap `window` (start inclusive, end exclusive).
    ///
    /// `start` is the series' first start and `duration` the length of one occurrence. Times are wall-clock in
    /// the start's zone, so a 09:00 Europe/Paris meeting stays at 09:00 local across DST changes; dates and
    /// floating times are read in `floating_tz`. Deleted occurrences (`exdates`, RFC 5545 EXDATE: instants, or
    /// dates for all-day series) are left out; `overrides` (RECURRENCE-ID → new start/end) replace the
    /// occurrence they name and appear where they were moved to.
    pub fn expand(
        &self,
        start: &EventTime,
        duration: Duration,
        floating_tz: Tz,
        window: std::ops::Range<DateTime<Utc>>,
        exdates: &[EventTime],
        overrides: &[OverrideTimes],
    ) -> Vec<Occurrence> {
        let (window_start, window_end) = (window.start, window.end);
        let first = start.local().date();
        let time = start.local().time();
        let instance_start = |d: NaiveDate| -> DateTime<Utc> {
            match start {
                EventTime::Date(_) => local_to_utc(floating_tz, d.and_time(NaiveTime::MIN)),
                EventTime::Utc(_) => DateTime::<Utc>::from_naive_utc_and_offset(d.and_time(time), Utc),
                EventTime::Zoned(_, tz) => local_to_utc(*tz, d.and_time(time)),
                EventTime::Floating(_) => local_to_utc(floating_tz, d.and_time(time)),
            }
        };
        let instance_end = |d: NaiveDate, s: DateTime<Utc>| -> DateTime<Utc> {
            match start {
                // All-day: whole local days, whatever the DST shifts in between.
                EventTime::Date(_) => {
                    let days = duration.num_days().max(1);
                    let end = d.checked_add_signed(Duration::days(days)).unwrap_or(NaiveDate::MAX);
                    local_to_utc(floating_tz, end.and_time(NaiveTime::MIN))
                }
                _ => s.checked_add_signed(duration).unwrap_or(DateTime::<Utc>::MAX_UTC),
            }
        };
        let is_deleted = |d: NaiveDate, s: DateTime<Utc>| {
            exdates.iter().any(|x| match x {
                EventTime::Date(xd) => *xd == d,
                other => other.to_utc(floating_tz) == s,
            })
        };
        let override_ids: Vec<(DateTime<Utc>, Option<NaiveDate>)> = overrides
            .iter()
            .map(|o| {
                (
                    o.recurrence_id.to_utc(floating_tz),
                    if let EventTime::Date(d) = o.recurrence_id { Some(d) } else { None },
                )
            })
            .collect();
        let mut out = Vec::new();
        for d in self.dates(first) {
            let s = instance_start(d);
            if s >= window_end {
                break;
            }
            if is_deleted(d, s) || override_ids.iter().any(|(u, od)| *u == s || *od == Some(d)) {
                continue;
            }
            let e = instance_end(d, s);
            if e > window_start || (e == s && s >= window_start) {
                out.push(Occurrence { original_start: s, start: s, end: e, override_index: None });
            }
        }
        for (i, o) in overrides.iter().enumerate() {
            let (orig, od) = override_ids[i];
            if let Some(d) = od {
                if is_deleted(d, orig) {
                    continue;
                }
            } else if exdates.iter().any(|x| !x.is_date() && x.to_utc(floating_tz) == orig) {
                continue;
            }
            let s = o.start.to_utc(floating_tz);
            let e = o.end.to_utc(floating_tz);
            if s < window_end && (e > window_start || (e == s && s >= window_start)) {
                out.push(Occurrence { original_start: orig, start: s, end: e, override_index: Some(i) });
            }
        }
        out.sort_by_key(|o| (o.start, o.original_start));
        out
    }
}

fn until_value(d: NaiveDate, dtstart: &EventTime) -> String {
    match dtstart {
        EventTime::Date(_) => d.format("%Y%m%d").to_string(),
        EventTime::Utc(u) => d.and_time(u.time()).format("%Y%m%dT%H%M%SZ").to_string(),
        // RFC 5545 3.3.10: with a TZID start, UNTIL is given in UTC.
        EventTime::Zoned(l, tz) => local_to_utc(*tz, d.and_time(l.time())).format("%Y%m%dT%H%M%SZ").to_string(),
        EventTime::Floating(l) => d.and_time(l.time()).format("%Y%m%dT%H%M%S").to_string(),
    }
}

/// Iterator over occurrence dates (see [`Recurrence::dates`]).
pub struct Dates<'a> {
    rec: &'a Recurrence,
    first: NaiveDate,
    period: i64,
    buf: Vec<NaiveDate>,
    emitted: u32,
    done: bool,
}

impl Iterator for Dates<'_> {
    type Item = NaiveDate;
    fn next(&mut self) -> Option<NaiveDate> {
        loop {
            if self.done {
                return None;
            }
            if let Range::Count(c) = self.rec.range
                && self.emitted >= c
            {
                self.done = true;
                return None;
            }
            if !self.buf.is_empty() {
                let d = self.buf.remove(0);
                // RFC 5545 years have four digits; stopping there also keeps the arithmetic far from chrono's limits.
                if d.year() > 9999 {
                    self.done = true;
                    return None;
                }
                if let Range::EndDate(end) = self.rec.range
                    && d > end
                {
                    self.done = true;
                    return None;
                }
                self.emitted += 1;
                return Some(d);
            }
            // Every pattern yields a date in every period, so this only stops at year 9999.
            match self.rec.period_dates(self.first, self.period) {
                Some(v) => {
                    self.buf = v.into_iter().filter(|d| *d >= self.first).collect();
                    self.period += 1;
                }
                None => {
                    self.done = true;
                }
            }
        }
    }
}

/// An override's times for [`Recurrence::expand`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverrideTimes {
    pub recurrence_id: EventTime,
    pub start: EventTime,
    pub end: EventTime,
}

/// One occurrence of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    /// Where the pattern put it (its RECURRENCE-ID; EWS OriginalStart).
    pub original_start: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The override that changed it, as an index into the overrides given to [`Recurrence::expand`].
    pub override_index: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn paris(y: i32, m: u32, d: u32, h: u32, mi: u32) -> EventTime {
        EventTime::Zoned(NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(h, mi, 0).unwrap(), Tz::Europe__Paris)
    }
    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }
    fn rt(rule: &str, start: &EventTime) -> (Recurrence, String) {
        let r = Recurrence::from_rrule(rule, start).unwrap_or_else(|e| panic!("{rule}: {e}"));
        let s = r.to_rrule(start);
        let back = Recurrence::from_rrule(&s, start).unwrap();
        assert_eq!(back, r, "{rule} → {s}");
        (r, s)
    }

    #[test]
    fn rrule_shapes_round_trip() {
        let st = paris(2026, 1, 5, 9, 0); // a Monday
        let (r, s) = rt("FREQ=DAILY;INTERVAL=2;COUNT=10", &st);
        assert_eq!(r.pattern, Pattern::Daily { interval: 2 });
        assert_eq!(r.range, Range::Count(10));
        assert_eq!(s, "FREQ=DAILY;COUNT=10;INTERVAL=2");
        let (r, _) = rt("FREQ=WEEKLY", &st);
        assert_eq!(
            r.pattern,
            Pattern::Weekly { interval: 1, days: vec![Weekday::Mon], first_day_of_week: Weekday::Mon }
        );
        let (r, s) = rt("FREQ=WEEKLY;INTERVAL=2;BYDAY=FR,MO;WKST=SU;UNTIL=20260331T080000Z", &st);
        assert_eq!(
            r.pattern,
            Pattern::Weekly { interval: 2, days: vec![Weekday::Mon, Weekday::Fri], first_day_of_week: Weekday::Sun }
        );
        assert_eq!(r.range, Range::EndDate(date(2026, 3, 31)));
        assert_eq!(s, "FREQ=WEEKLY;UNTIL=20260331T070000Z;INTERVAL=2;BYDAY=MO,FR;WKST=SU");
        let (r, _) = rt("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", &st);
        assert!(matches!(r.pattern, Pattern::Weekly { interval: 1, ref days, .. } if days.len() == 5));
        let (r, s) = rt("FREQ=MONTHLY;BYMONTHDAY=15", &st);
        assert_eq!(r.pattern, Pattern::AbsoluteMonthly { interval: 1, day: 15 });
        assert_eq!(s, "FREQ=MONTHLY;BYMONTHDAY=15");
        let (r, s) = rt("FREQ=MONTHLY;BYMONTHDAY=-1", &st);
        assert_eq!(r.pattern, Pattern::AbsoluteMonthly { interval: 1, day: 31 });
        assert_eq!(s, "FREQ=MONTHLY;BYMONTHDAY=-1");
        let (r, s) = rt("FREQ=MONTHLY;BYMONTHDAY=28,29,30;BYSETPOS=-1", &st);
        assert_eq!(r.pattern, Pattern::AbsoluteMonthly { interval: 1, day: 30 });
        assert_eq!(s, "FREQ=MONTHLY;BYMONTHDAY=28,29,30;BYSETPOS=-1");
        let (r, s) = rt("FREQ=MONTHLY;BYDAY=-1FR", &st);
        assert_eq!(
            r.pattern,
            Pattern::RelativeMonthly { interval: 1, days: vec![Weekday::Fri], index: WeekIndex::Last }
        );
        assert_eq!(s, "FREQ=MONTHLY;BYDAY=-1FR");
        let (r, _) = rt("FREQ=MONTHLY;BYDAY=FR;BYSETPOS=-1", &st);
        assert_eq!(
            r.pattern,
            Pattern::RelativeMonthly { interval: 1, days: vec![Weekday::Fri], index: WeekIndex::Last }
        );
        let (r, s) = rt("FREQ=MONTHLY;INTERVAL=3;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1", &st);
        assert!(matches!(r.pattern, Pattern::RelativeMonthly { interval: 3, index: WeekIndex::First, .. }));
        assert_eq!(s, "FREQ=MONTHLY;INTERVAL=3;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1");
        let (r, s) = rt("FREQ=YEARLY;BYMONTH=7;BYMONTHDAY=14", &st);
        assert_eq!(r.pattern, Pattern::AbsoluteYearly { interval: 1, month: 7, day: 14 });
        assert_eq!(s, "FREQ=YEARLY;BYMONTH=7;BYMONTHDAY=14");
        let (r, _) = rt("FREQ=YEARLY", &st);
        assert_eq!(r.pattern, Pattern::AbsoluteYearly { interval: 1, month: 1, day: 5 });
        let (r, s) = rt("FREQ=YEARLY;BYMONTH=11;BYDAY=4TH", &st);
        assert_eq!(
            r.pattern,
            Pattern::RelativeYearly { interval: 1, month: 11, days: vec![Weekday::Thu], index: WeekIndex::Fourth }
        );
        assert_eq!(s, "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH");
        let (r, s) = rt("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", &st);
        assert_eq!(r.pattern, Pattern::AbsoluteYearly { interval: 1, month: 2, day: 29 });
        assert_eq!(s, "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=28,29;BYSETPOS=-1");
        let (_, s) = rt("FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=30", &st);
        assert_eq!(s, "FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=30");
        let (_, s) = rt("freq=yearly;interval=2;bymonth=12;bymonthday=31", &st);
        assert_eq!(s, "FREQ=YEARLY;INTERVAL=2;BYMONTH=12;BYMONTHDAY=-1");
    }

    #[test]
    fn until_forms() {
        let st = paris(2026, 1, 5, 9, 0);
        // UNTIL before the start time on its day: that day has no occurrence.
        let r = Recurrence::from_rrule("FREQ=DAILY;UNTIL=20260110T070000Z", &st).unwrap();
        assert_eq!(r.range, Range::EndDate(date(2026, 1, 9)));
        let r = Recurrence::from_rrule("FREQ=DAILY;UNTIL=20260110T080000Z", &st).unwrap();
        assert_eq!(r.range, Range::EndDate(date(2026, 1, 10)));
        let all_day = EventTime::Date(date(2026, 1, 5));
        let r = Recurrence::from_rrule("FREQ=DAILY;UNTIL=20260110", &all_day).unwrap();
        assert_eq!(r.range, Range::EndDate(date(2026, 1, 10)));
        assert_eq!(r.to_rrule(&all_day), "FREQ=DAILY;UNTIL=20260110");
    }

    #[test]
    fn not_representable_rules() {
        let st = paris(2026, 1, 5, 9, 0);
        for rule in [
            "FREQ=HOURLY",
            "FREQ=MINUTELY;INTERVAL=15",
            "FREQ=SECONDLY",
            "FREQ=DAILY;BYHOUR=9,17",
            "FREQ=WEEKLY;BYDAY=MO;BYMINUTE=30",
            "FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=1,-1",
            "FREQ=MONTHLY;BYDAY=2MO,4MO",
            "FREQ=MONTHLY;BYDAY=MO",
            "FREQ=MONTHLY;BYDAY=5FR",
            "FREQ=MONTHLY;BYDAY=-2FR",
            "FREQ=MONTHLY;BYMONTHDAY=1,15",
            "FREQ=MONTHLY;BYMONTHDAY=-3",
            "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13",
            "FREQ=MONTHLY;BYMONTHDAY=10;BYSETPOS=1",
            "FREQ=YEARLY;BYDAY=20MO",
            "FREQ=YEARLY;BYWEEKNO=20",
            "FREQ=YEARLY;BYYEARDAY=100",
            "FREQ=YEARLY;BYMONTH=1,7",
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
            "FREQ=WEEKLY;BYMONTH=3",
            "FREQ=WEEKLY;BYDAY=1MO",
            "FREQ=DAILY;INTERVAL=2;BYDAY=MO",
            "FREQ=DAILY;COUNT=3;UNTIL=20260101T000000Z",
            "FREQ=DAILY;INTERVAL=0",
            "FREQ=DAILY;INTERVAL=1000",
            "FREQ=DAILY;COUNT=0",
            "FREQ=DAILY;FREQ=WEEKLY",
            "FREQ=YEARLY;RSCALE=HEBREW",
            "INTERVAL=2",
            "FREQ=DAILY;X-FOO=1",
        ] {
            let e = Recurrence::from_rrule(rule, &st).expect_err(rule);
            assert!(!e.reason.is_empty());
        }
        assert!(Recurrence::from_properties(&["FREQ=DAILY", "FREQ=WEEKLY"], 0, 0, &st).is_err());
        assert!(Recurrence::from_properties(&["FREQ=DAILY"], 1, 0, &st).is_err());
        assert!(Recurrence::from_properties(&["FREQ=DAILY"], 0, 1, &st).is_err());
        assert!(Recurrence::from_properties(&["FREQ=DAILY"], 0, 0, &st).is_ok());
        let err: crate::error::Error = Recurrence::from_rrule("FREQ=HOURLY", &st).unwrap_err().into();
        assert_eq!(err.kind, crate::error::Kind::NotSupported);
    }

    #[test]
    fn weekly_paris_keeps_0900_across_both_dst_changes() {
        // Every Monday 09:00 Europe/Paris from 2 March 2026; DST starts Sunday 29 March and ends Sunday 25 October.
        let start = paris(2026, 3, 2, 9, 0);
        let r = Recurrence::from_rrule("FREQ=WEEKLY;BYDAY=MO", &start).unwrap();
        let occ = r.expand(
            &start,
            Duration::hours(1),
            Tz::UTC,
            Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()..Utc.with_ymd_and_hms(2026, 11, 10, 0, 0, 0).unwrap(),
            &[],
            &[],
        );
        assert_eq!(occ.len(), 37);
        for o in &occ {
            let local = o.start.with_timezone(&Tz::Europe__Paris);
            assert_eq!(local.format("%H:%M %a").to_string(), "09:00 Mon", "{o:?}");
        }
        // UTC hour: 08:00 in winter, 07:00 in summer.
        assert_eq!(occ[3].start, Utc.with_ymd_and_hms(2026, 3, 23, 8, 0, 0).unwrap());
        assert_eq!(occ[4].start, Utc.with_ymd_and_hms(2026, 3, 30, 7, 0, 0).unwrap());
        let oct19 = occ.iter().find(|o| o.start.date_naive() == date(2026, 10, 19)).unwrap();
        assert_eq!(oct19.start, Utc.with_ymd_and_hms(2026, 10, 19, 7, 0, 0).unwrap());
        let oct26 = occ.iter().find(|o| o.start.date_naive() == date(2026, 10, 26)).unwrap();
        assert_eq!(oct26.start, Utc.with_ymd_and_hms(2026, 10, 26, 8, 0, 0).unwrap());
    }

    #[test]
    fn expansion_with_exdate_and_override() {
        let start = paris(2026, 3, 2, 9, 0);
        let r = Recurrence::from_rrule("FREQ=WEEKLY;BYDAY=MO;COUNT=6", &start).unwrap();
        let ex = [paris(2026, 3, 9, 9, 0)];
        let ov = [OverrideTimes {
            recurrence_id: paris(2026, 3, 16, 9, 0),
            start: paris(2026, 3, 17, 14, 0),
            end: paris(2026, 3, 17, 15, 0),
        }];
        let occ = r.expand(
            &start,
            Duration::hours(1),
            Tz::UTC,
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()..Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
            &ex,
            &ov,
        );
        let starts: Vec<String> =
            occ.iter().map(|o| o.start.with_timezone(&Tz::Europe__Paris).format("%m-%d %H:%M").to_string()).collect();
        // COUNT=6 counts the deleted occurrence too (RFC 5545 3.3.10).
        assert_eq!(starts, ["03-02 09:00", "03-17 14:00", "03-23 09:00", "03-30 09:00", "04-06 09:00"]);
        assert_eq!(occ[1].override_index, Some(0));
        assert_eq!(occ[1].original_start, Utc.with_ymd_and_hms(2026, 3, 16, 8, 0, 0).unwrap());
        // A window that only holds the moved override's new time still finds it.
        let occ = r.expand(
            &start,
            Duration::hours(1),
            Tz::UTC,
            Utc.with_ymd_and_hms(2026, 3, 17, 0, 0, 0).unwrap()..Utc.with_ymd_and_hms(2026, 3, 18, 0, 0, 0).unwrap(),
            &ex,
            &ov,
        );
        assert_eq!(occ.len(), 1);
    }

    #[test]
    fn monthly_and_yearly_dates() {
        let last_friday =
            Recurrence::from_rrule("FREQ=MONTHLY;BYDAY=-1FR;COUNT=4", &paris(2026, 1, 30, 10, 0)).unwrap();
        let d: Vec<NaiveDate> = last_friday.dates(date(2026, 1, 30)).collect();
        assert_eq!(d, [date(2026, 1, 30), date(2026, 2, 27), date(2026, 3, 27), date(2026, 4, 24)]);
        let day31 = Recurrence { pattern: Pattern::AbsoluteMonthly { interval: 1, day: 31 }, range: Range::Count(4) };
        let d: Vec<NaiveDate> = day31.dates(date(2026, 1, 31)).collect();
        assert_eq!(d, [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]);
        let leap =
            Recurrence { pattern: Pattern::AbsoluteYearly { interval: 1, month: 2, day: 29 }, range: Range::Count(3) };
        let d: Vec<NaiveDate> = leap.dates(date(2028, 2, 29)).collect();
        assert_eq!(d, [date(2028, 2, 29), date(2029, 2, 28), date(2030, 2, 28)]);
        let first_weekday = Recurrence {
            pattern: Pattern::RelativeMonthly { interval: 1, days: ALL_DAYS[..5].to_vec(), index: WeekIndex::First },
            range: Range::EndDate(date(2026, 4, 30)),
        };
        let d: Vec<NaiveDate> = first_weekday.dates(date(2026, 1, 1)).collect();
        assert_eq!(d, [date(2026, 1, 1), date(2026, 2, 2), date(2026, 3, 2), date(2026, 4, 1)]);
        let thanksgiving =
            Recurrence::from_rrule("FREQ=YEARLY;BYMONTH=11;BYDAY=4TH;COUNT=2", &paris(2026, 11, 26, 12, 0)).unwrap();
        let d: Vec<NaiveDate> = thanksgiving.dates(date(2026, 11, 26)).collect();
        assert_eq!(d, [date(2026, 11, 26), date(2027, 11, 25)]);
        let biweekly =
            Recurrence::from_rrule("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;WKST=SU;COUNT=5", &paris(2026, 1, 6, 9, 0))
                .unwrap();
        let d: Vec<NaiveDate> = biweekly.dates(date(2026, 1, 6)).collect();
        assert_eq!(d, [date(2026, 1, 6), date(2026, 1, 8), date(2026, 1, 20), date(2026, 1, 22), date(2026, 2, 3)]);
    }

    /// Random RRULEs built from real and broken parts: reading never panics, what is read writes back to the same
    /// rule, and its expansion over two years stays inside the window and in order.
    #[test]
    fn random_rules_never_panic_and_round_trip() {
        let mut x: u64 = 0x1234_5678_9abc_def1;
        let mut next = move |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        const PARTS: &[&str] = &[
            "FREQ=DAILY",
            "FREQ=WEEKLY",
            "FREQ=MONTHLY",
            "FREQ=YEARLY",
            "FREQ=HOURLY",
            "INTERVAL=2",
            "INTERVAL=0",
            "INTERVAL=13",
            "COUNT=5",
            "COUNT=0",
            "UNTIL=20270101T000000Z",
            "UNTIL=20261231",
            "UNTIL=bad",
            "BYDAY=MO",
            "BYDAY=MO,WE,FR",
            "BYDAY=-1FR",
            "BYDAY=2TU",
            "BYDAY=5SU",
            "BYDAY=+1MO",
            "BYDAY=XX",
            "BYMONTHDAY=15",
            "BYMONTHDAY=-1",
            "BYMONTHDAY=31",
            "BYMONTHDAY=28,29,30",
            "BYMONTHDAY=0",
            "BYMONTH=2",
            "BYMONTH=13",
            "BYMONTH=6,7",
            "BYSETPOS=-1",
            "BYSETPOS=1",
            "BYSETPOS=2,3",
            "WKST=SU",
            "WKST=ZZ",
            "BYHOUR=9",
            "X-Y=1",
            "=",
            "FREQ",
            "BYDAY=é",
            ";",
        ];
        let from = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2028, 1, 1, 0, 0, 0).unwrap();
        let mut ok = 0;
        for _ in 0..5000 {
            let mut rule: Vec<&str> = vec![PARTS[next(5)]];
            rule.extend((0..next(4)).map(|_| PARTS[next(PARTS.len())]));
            let rule = rule.join(";");
            let start = match next(3) {
                0 => EventTime::Date(date(2026, 1 + next(12) as u32, 1 + next(28) as u32)),
                1 => paris(2026, 1 + next(12) as u32, 1 + next(28) as u32, next(24) as u32, 0),
                _ => EventTime::Utc(Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap()),
            };
            let Ok(r) = Recurrence::from_rrule(&rule, &start) else { continue };
            ok += 1;
            assert_eq!(Recurrence::from_rrule(&r.to_rrule(&start), &start).as_ref(), Ok(&r), "{rule}");
            let occ = r.expand(&start, Duration::hours(1), Tz::Europe__Paris, from..to, &[], &[]);
            assert!(occ.windows(2).all(|w| w[0].start <= w[1].start), "{rule}");
            assert!(occ.iter().all(|o| o.start < to && o.end > from), "{rule}");
        }
        assert!(ok > 500, "only {ok} rules were readable");
    }

    #[test]
    fn all_day_expansion_is_whole_local_days() {
        let start = EventTime::Date(date(2026, 3, 28));
        let r = Recurrence::from_rrule("FREQ=DAILY;COUNT=3", &start).unwrap();
        let occ = r.expand(
            &start,
            Duration::days(1),
            Tz::Europe__Paris,
            Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()..Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap(),
            &[EventTime::Date(date(2026, 3, 30))],
            &[],
        );
        assert_eq!(occ.len(), 2);
        // 29 March (DST start) is 23 hours long.
        assert_eq!(occ[1].end - occ[1].start, Duration::hours(23));
    }
}
