//! Time zones: Windows time-zone ids ↔ IANA names (CLDR windowsZones, generated into `timezone_table.rs`), the
//! Windows rule form of a zone for one year (bias plus standard/daylight transitions as month / week of month /
//! day of week / time, as EWS `TimeZoneDefinition` (MS-OXWSCDATA TimeZoneDefinitionType: Periods, TransitionsGroups, RecurringDayTransition) and MAPI
//! `PidLidTimeZoneStruct` (MS-OXOCAL 2.2.1.39) need it), VTIMEZONE data for an IANA zone (RFC 5545 3.6.5), and
//! [`EventTime`], the way calendar items hold their times.
//!
//! Rules are computed from the IANA database compiled into chrono-tz, so they follow political changes with the
//! crate; nothing here reads the system's zoneinfo.

use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

#[rustfmt::skip]
#[path = "timezone_table.rs"]
mod table;

pub use table::CLDR_VERSION;

/// The IANA tz database release compiled in (chrono-tz).
pub const IANA_TZDB_VERSION: &str = chrono_tz::IANA_TZDB_VERSION;

// ---------------------------------------------------------------------------------------------------------------
// Windows ↔ IANA names
// ---------------------------------------------------------------------------------------------------------------

/// The IANA zone for a Windows time-zone id, for CLDR territory `001` (the "golden" zone). Case-insensitive.
pub fn windows_to_iana(windows_id: &str) -> Option<&'static str> {
    windows_to_iana_for_territory(windows_id, "001")
}

/// The IANA zone for a Windows id in a territory (ISO 3166 region such as `"CA"`), falling back to `001`.
pub fn windows_to_iana_for_territory(windows_id: &str, territory: &str) -> Option<&'static str> {
    let rows = table::WINDOWS_TO_IANA.iter().filter(|(w, _, _)| w.eq_ignore_ascii_case(windows_id.trim()));
    let mut golden = None;
    for (_, terr, names) in rows {
        if terr.eq_ignore_ascii_case(territory) {
            return names.first().copied();
        }
        if *terr == "001" {
            golden = names.first().copied();
        }
    }
    golden
}

/// The canonical spelling of a Windows id (`"w. europe standard time"` → `"W. Europe Standard Time"`).
pub fn canonical_windows_id(windows_id: &str) -> Option<&'static str> {
    table::WINDOWS_TO_IANA.iter().find(|(w, _, _)| w.eq_ignore_ascii_case(windows_id.trim())).map(|(w, _, _)| *w)
}

fn iana_row(name: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    let lower = name.trim().to_ascii_lowercase();
    table::IANA_NAMES.binary_search_by(|(n, _, _)| (*n).cmp(lower.as_str())).ok().map(|i| &table::IANA_NAMES[i])
}

/// The Windows id for an IANA zone or alias: the row of the zone's own territory first, then the `001` row
/// (decided when the table was generated). `None` for zones Windows has no id for.
pub fn iana_to_windows(iana: &str) -> Option<&'static str> {
    iana_row(iana).map(|(_, _, w)| *w).filter(|w| !w.is_empty())
}

/// The IANA-preferred name for any IANA name or alias CLDR knows (`Asia/Calcutta` → `Asia/Kolkata`).
pub fn canonical_iana(name: &str) -> Option<&'static str> {
    iana_row(name).map(|(_, p, _)| *p)
}

/// Resolves a time-zone name as it appears in a TZID parameter or an EWS request: an IANA name or alias (any
/// case), a Windows id, a prefixed IANA name (`/mozilla.org/20050126_1/Europe/Paris`,
/// `/freeassociation.sourceforge.net/Tzfile/Europe/Paris`), or `UTC`/`GMT`/`Z`.
pub fn resolve_zone_name(name: &str) -> Option<Tz> {
    let name = name.trim().trim_matches('"');
    if name.is_empty() {
        return None;
    }
    if let Ok(tz) = Tz::from_str(name) {
        return Some(tz);
    }
    if let Some(p) = canonical_iana(name)
        && let Ok(tz) = Tz::from_str(p)
    {
        return Some(tz);
    }
    if let Some(iana) = windows_to_iana(name) {
        return Tz::from_str(iana).ok();
    }
    if matches!(name.to_ascii_uppercase().as_str(), "Z" | "GMT" | "UT" | "UTC" | "ETC/UTC") {
        return Some(Tz::UTC);
    }
    // Prefixed names: try the last three, then two, then one path segments.
    let parts: Vec<&str> = name.split('/').filter(|s| !s.is_empty()).collect();
    for take in [3usize, 2, 1] {
        if parts.len() > take {
            let tail = parts[parts.len() - take..].join("/");
            if let Some(tz) =
                Tz::from_str(&tail).ok().or_else(|| canonical_iana(&tail).and_then(|p| Tz::from_str(p).ok()))
            {
                return Some(tz);
            }
        }
    }
    None
}

/// Resolves a Windows/Outlook display name used as a TZID, such as
/// `(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna` or `(UTC-05:00) Eastern Time (US & Canada)`:
/// the first city named whose zone has the stated standard offset, else a few region names Windows uses.
pub fn zone_from_display_name(name: &str) -> Option<Tz> {
    let lower = name.trim().to_ascii_lowercase();
    let rest = lower.strip_prefix("(utc").or_else(|| lower.strip_prefix("(gmt"))?;
    let close = rest.find(')')?;
    let (off, text) = (&rest[..close], &rest[close + 1..]);
    let offset = if off.is_empty() {
        0
    } else {
        let sign = match off.as_bytes()[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (h, m) = off[1..].split_once(':').unwrap_or((&off[1..], "0"));
        sign * (h.trim().parse::<i32>().ok()? * 3600 + m.trim().parse::<i32>().ok()? * 60)
    };
    let standard_offset = |tz: Tz| {
        let jan = offset_at(tz, Utc.with_ymd_and_hms(2025, 1, 15, 12, 0, 0).unwrap());
        let jul = offset_at(tz, Utc.with_ymd_and_hms(2025, 7, 15, 12, 0, 0).unwrap());
        jan.min(jul)
    };
    let is_word_at = |hay: &str, at: usize, len: usize| {
        let before = hay[..at].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
        let after = hay[at + len..].chars().next().is_none_or(|c| !c.is_alphanumeric());
        before && after
    };
    const REGIONS: &[(&str, &str)] = &[
        ("eastern time", "America/New_York"),
        ("central time", "America/Chicago"),
        ("mountain time", "America/Denver"),
        ("pacific time", "America/Los_Angeles"),
        ("atlantic time", "America/Halifax"),
        ("alaska", "America/Anchorage"),
        ("hawaii", "Pacific/Honolulu"),
        ("arizona", "America/Phoenix"),
        ("newfoundland", "America/St_Johns"),
        ("saskatchewan", "America/Regina"),
        ("indiana (east)", "America/Indiana/Indianapolis"),
        ("central america", "America/Guatemala"),
        ("coordinated universal time", "Etc/UTC"),
    ];
    // Region names first: `Eastern Time (US & Canada)` must not match the alias Canada/Eastern.
    let region = REGIONS
        .iter()
        .filter(|(k, _)| text.contains(k))
        .filter_map(|(_, z)| Tz::from_str(z).ok())
        .find(|tz| standard_offset(*tz) == offset);
    if region.is_some() {
        return region;
    }
    let mut best: Option<(usize, Tz)> = None;
    for (n, preferred, _) in table::IANA_NAMES {
        let city = n.rsplit('/').next().unwrap_or(n).replace('_', " ");
        if city.len() < 3 {
            continue;
        }
        let Some(at) = text.match_indices(city.as_str()).map(|(i, _)| i).find(|i| is_word_at(text, *i, city.len()))
        else {
            continue;
        };
        if best.is_some_and(|(b, _)| b <= at) {
            continue;
        }
        if let Ok(tz) = Tz::from_str(preferred)
            && standard_offset(tz) == offset
        {
            best = Some((at, tz));
        }
    }
    best.map(|(_, tz)| tz)
}

/// The Windows id for a chrono-tz zone (via its IANA name).
pub fn windows_id_of(tz: Tz) -> Option<&'static str> {
    iana_to_windows(tz.name())
}

/// Exchange 2000/2003 CDO time-zone ids (the `X-MICROSOFT-CDO-TZID` property of a VTIMEZONE; CdoTimeZoneId enum,
/// Exchange 2000 SDK) for which the Windows zone is unambiguous. Ids whose description mixes zones with different
/// rules (18: "Brisbane, Melbourne, Sydney") and unknown ids are left to the VTIMEZONE's offsets; callers check
/// the answer against the VTIMEZONE ([`observances_agree`]) in any case.
pub fn cdo_tzid_to_windows(id: u32) -> Option<&'static str> {
    Some(match id {
        0 => "UTC",
        1 => "GMT Standard Time",
        2 => "Central European Standard Time",
        3 => "Romance Standard Time",
        4 => "W. Europe Standard Time",
        5 => "E. Europe Standard Time",
        6 => "Central Europe Standard Time",
        7 => "GTB Standard Time",
        8 => "E. South America Standard Time",
        9 => "Atlantic Standard Time",
        10 => "Eastern Standard Time",
        11 => "Central Standard Time",
        12 => "Mountain Standard Time",
        13 => "Pacific Standard Time",
        14 => "Alaskan Standard Time",
        15 => "Hawaiian Standard Time",
        16 => "UTC-11",
        17 => "New Zealand Standard Time",
        19 => "Cen. Australia Standard Time",
        20 => "Tokyo Standard Time",
        21 => "Singapore Standard Time",
        22 => "SE Asia Standard Time",
        23 => "India Standard Time",
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------------------------
// EventTime
// ---------------------------------------------------------------------------------------------------------------

/// A time as a calendar or task item holds it (RFC 5545 3.3.4 DATE and 3.3.5 DATE-TIME forms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventTime {
    /// A calendar date without a time (all-day items).
    Date(NaiveDate),
    /// An absolute time, written in UTC (`...Z`).
    Utc(DateTime<Utc>),
    /// A wall-clock time in a named zone (`TZID=...`).
    Zoned(NaiveDateTime, Tz),
    /// A floating wall-clock time, the same in every zone.
    Floating(NaiveDateTime),
}

impl EventTime {
    /// The instant, reading dates and floating times in `default_tz` (dates at local midnight).
    pub fn to_utc(&self, default_tz: Tz) -> DateTime<Utc> {
        match *self {
            EventTime::Date(d) => local_to_utc(default_tz, d.and_time(NaiveTime::MIN)),
            EventTime::Utc(u) => u,
            EventTime::Zoned(l, tz) => local_to_utc(tz, l),
            EventTime::Floating(l) => local_to_utc(default_tz, l),
        }
    }

    /// The wall-clock time in the item's own zone (UTC for `Utc`, midnight for dates).
    pub fn local(&self) -> NaiveDateTime {
        match *self {
            EventTime::Date(d) => d.and_time(NaiveTime::MIN),
            EventTime::Utc(u) => u.naive_utc(),
            EventTime::Zoned(l, _) | EventTime::Floating(l) => l,
        }
    }

    /// The zone the time is expressed in: the named zone, UTC for `Utc`, none for dates and floating times.
    pub fn tz(&self) -> Option<Tz> {
        match *self {
            EventTime::Zoned(_, tz) => Some(tz),
            EventTime::Utc(_) => Some(Tz::UTC),
            _ => None,
        }
    }

    pub fn is_date(&self) -> bool {
        matches!(self, EventTime::Date(_))
    }

    /// The same instant (or date) expressed like `like`: in its zone, as UTC, or as a date.
    pub fn in_shape_of(&self, like: &EventTime, default_tz: Tz) -> EventTime {
        match *like {
            EventTime::Date(_) => EventTime::Date(self.local().date()),
            EventTime::Utc(_) => EventTime::Utc(self.to_utc(default_tz)),
            EventTime::Zoned(_, tz) => EventTime::Zoned(self.to_utc(default_tz).with_timezone(&tz).naive_local(), tz),
            EventTime::Floating(_) => match self {
                EventTime::Floating(l) => EventTime::Floating(*l),
                _ => EventTime::Floating(self.to_utc(default_tz).with_timezone(&default_tz).naive_local()),
            },
        }
    }
}

/// Converts a wall-clock time in `tz` to UTC the RFC 5545 3.3.5 way: a time in a DST gap is read with the offset
/// in force before the gap; an ambiguous time (DST end) is the first of the two.
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(a, b) => a.with_timezone(&Utc).min(b.with_timezone(&Utc)),
        chrono::LocalResult::None => {
            // Offset before the gap: the offset three hours earlier (no zone has two transitions that close).
            let before = local - Duration::hours(3);
            let off = match tz.from_local_datetime(&before) {
                chrono::LocalResult::Single(t) => t.offset().fix().local_minus_utc(),
                chrono::LocalResult::Ambiguous(a, _) => a.offset().fix().local_minus_utc(),
                chrono::LocalResult::None => 0,
            };
            Utc.from_utc_datetime(&(local - Duration::seconds(off as i64)))
        }
    }
}

/// Total UTC offset (seconds east) of `tz` at `utc`.
pub fn offset_at(tz: Tz, utc: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&utc.naive_utc()).fix().local_minus_utc()
}

// ---------------------------------------------------------------------------------------------------------------
// Windows rule form
// ---------------------------------------------------------------------------------------------------------------

/// A yearly transition in the Windows form (SYSTEMTIME "day-in-month" format, MS-OXOCAL 2.2.1.39; EWS
/// `RecurringDayTransition`, MS-OXWSCDATA): in `month`, the `week`-th (1–4, 5 = last) `day_of_week`, at `time`
/// in the local time in force before the transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub month: u32,
    pub week: u32,
    pub day_of_week: Weekday,
    pub time: NaiveTime,
}

/// A zone's rule for one year in the Windows form. Biases are minutes with UTC = local + bias (Pacific standard
/// time has `bias = 480`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowsRule {
    pub year: i32,
    pub bias: i32,
    pub standard_bias: i32,
    pub daylight_bias: i32,
    /// Transition to standard time; `None` for a zone without DST that year.
    pub standard: Option<Transition>,
    /// Transition to daylight time; `None` for a zone without DST that year.
    pub daylight: Option<Transition>,
    /// True when the year had transitions that the two-transition Windows form cannot carry (more than one DST
    /// period in a year, or a change of standard offset); the rule then describes the first DST period only.
    pub approximate: bool,
}

/// A UTC-offset change found in a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetChange {
    pub at: DateTime<Utc>,
    /// Offsets in seconds east of UTC, before and after.
    pub from: i32,
    pub to: i32,
    /// Whether the zone is on DST after the change.
    pub to_dst: bool,
}

fn dst_at(tz: Tz, utc: DateTime<Utc>) -> bool {
    tz.offset_from_utc_datetime(&utc.naive_utc()).dst_offset() != Duration::zero()
}

/// Every UTC-offset change of `tz` in calendar year `year` (UTC), found by scanning in 6-hour steps and
/// bisecting to the second.
pub fn offset_changes(tz: Tz, year: i32) -> Vec<OffsetChange> {
    let start = Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).unwrap();
    let end = Utc.with_ymd_and_hms(year + 1, 1, 1, 0, 0, 0).unwrap();
    let step = Duration::hours(6);
    let mut out = Vec::new();
    let mut t = start;
    let mut off = offset_at(tz, t);
    let mut dst = dst_at(tz, t);
    while t < end {
        let n = (t + step).min(end);
        let noff = offset_at(tz, n);
        let ndst = dst_at(tz, n);
        if noff != off || ndst != dst {
            // Bisect on whole seconds: transitions fall on a second.
            let (mut lo, mut hi) = (t.timestamp(), n.timestamp());
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                let m = DateTime::<Utc>::from_timestamp(mid, 0).unwrap_or(t);
                if offset_at(tz, m) == off && dst_at(tz, m) == dst {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let hi = DateTime::<Utc>::from_timestamp(hi, 0).unwrap_or(n);
            out.push(OffsetChange { at: hi, from: off, to: offset_at(tz, hi), to_dst: dst_at(tz, hi) });
            off = noff;
            dst = ndst;
        }
        t = n;
    }
    out
}

fn transition_of(change: &OffsetChange) -> Transition {
    // Windows gives the time in the local time in force before the change.
    let local = change.at.naive_utc() + Duration::seconds(change.from as i64);
    let d = local.date();
    let dim = days_in_month(d.year(), d.month());
    let week = if d.day() + 7 > dim { 5 } else { (d.day() - 1) / 7 + 1 };
    Transition { month: d.month(), week, day_of_week: d.weekday(), time: local.time() }
}

/// The Windows rule of `tz` for `year`. A per-year rule is exact for that year: the week index is chosen so that
/// it names that year's date (5 = last whenever the date is in the month's last seven days).
pub fn windows_rule(tz: Tz, year: i32) -> WindowsRule {
    let changes = offset_changes(tz, year);
    // "Daylight" is the period with the larger offset, whatever the tz database flags: Europe/Dublin models its
    // winter as negative DST, Windows (GMT Standard Time) as standard time.
    let up = changes.iter().find(|c| c.to > c.from);
    let down = changes.iter().find(|c| c.to < c.from);
    match (up, down) {
        (Some(d), Some(s)) => {
            let std_off = s.to;
            let dst_off = d.to;
            let approximate = changes.len() > 2 || d.from != s.to || s.from != d.to;
            WindowsRule {
                year,
                bias: -std_off / 60,
                standard_bias: 0,
                daylight_bias: -(dst_off - std_off) / 60,
                standard: Some(transition_of(s)),
                daylight: Some(transition_of(d)),
                approximate,
            }
        }
        _ => {
            // No DST period in the year: the offset at year end (after any permanent change).
            let end_off = offset_at(tz, Utc.with_ymd_and_hms(year, 12, 31, 12, 0, 0).unwrap());
            WindowsRule {
                year,
                bias: -end_off / 60,
                standard_bias: 0,
                daylight_bias: 0,
                standard: None,
                daylight: None,
                approximate: !changes.is_empty(),
            }
        }
    }
}

/// The Windows rules of `tz` for each year of `from_year..=to_year`, merged where consecutive years share a rule:
/// `(first year, rule)`. This is the shape of EWS `TransitionsGroups` with per-year `AbsoluteDateTransition`s and
/// of the TZRULEs of a MAPI TZDEFINITION (MS-OXOCAL 2.2.1.41); zones whose rules changed (Moscow 2011/2014, Cairo,
/// …) get one entry per change.
pub fn windows_rules(tz: Tz, from_year: i32, to_year: i32) -> Vec<(i32, WindowsRule)> {
    let mut out: Vec<(i32, WindowsRule)> = Vec::new();
    for year in from_year..=to_year {
        let r = windows_rule(tz, year);
        let same = out.last().is_some_and(|(_, p)| {
            (p.bias, p.standard_bias, p.daylight_bias, p.standard, p.daylight, p.approximate)
                == (r.bias, r.standard_bias, r.daylight_bias, r.standard, r.daylight, r.approximate)
        });
        if !same {
            out.push((year, r));
        }
    }
    out
}

impl WindowsRule {
    /// The 48-byte little-endian TZREG blob of `PidLidTimeZoneStruct` (MS-OXOCAL 2.2.1.39): lBias, lStandardBias,
    /// lDaylightBias, wStandardYear, stStandardDate (SYSTEMTIME), wDaylightYear, stDaylightDate. The SYSTEMTIME
    /// dates use the "day-in-month" form (wYear 0, wDay = week 1–5).
    pub fn to_tzreg(&self) -> [u8; 48] {
        let mut b = Vec::with_capacity(48);
        b.extend_from_slice(&self.bias.to_le_bytes());
        b.extend_from_slice(&self.standard_bias.to_le_bytes());
        b.extend_from_slice(&self.daylight_bias.to_le_bytes());
        let systemtime = |t: Option<Transition>, b: &mut Vec<u8>| {
            let v: [u16; 8] = match t {
                Some(t) => [
                    0,
                    t.month as u16,
                    t.day_of_week.num_days_from_sunday() as u16,
                    t.week as u16,
                    t.time.hour() as u16,
                    t.time.minute() as u16,
                    t.time.second() as u16,
                    0,
                ],
                None => [0; 8],
            };
            for x in v {
                b.extend_from_slice(&x.to_le_bytes());
            }
        };
        b.extend_from_slice(&0u16.to_le_bytes());
        systemtime(self.standard, &mut b);
        b.extend_from_slice(&0u16.to_le_bytes());
        systemtime(self.daylight, &mut b);
        let mut out = [0u8; 48];
        out.copy_from_slice(&b);
        out
    }

    /// Reads a TZREG blob back (the inverse of [`WindowsRule::to_tzreg`]); `year` is not stored in it.
    pub fn from_tzreg(b: &[u8], year: i32) -> Option<WindowsRule> {
        if b.len() < 48 {
            return None;
        }
        let i32_at = |o: usize| i32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as u32;
        let st = |o: usize| -> Option<Transition> {
            let month = u16_at(o + 2);
            if month == 0 {
                return None;
            }
            Some(Transition {
                month,
                week: u16_at(o + 6),
                day_of_week: weekday_from_sunday0(u16_at(o + 4))?,
                time: NaiveTime::from_hms_opt(u16_at(o + 8), u16_at(o + 10), u16_at(o + 12))?,
            })
        };
        Some(WindowsRule {
            year,
            bias: i32_at(0),
            standard_bias: i32_at(4),
            daylight_bias: i32_at(8),
            standard: st(14),
            daylight: st(32),
            approximate: false,
        })
    }
}

/// TZRule flag: the rule matches `PidLidTimeZoneStruct` of a recurring series (MS-OXOCAL 2.2.1.41.1).
pub const TZRULE_FLAG_RECUR_CURRENT_TZREG: u16 = 0x0001;
/// TZRule flag: the rule in effect (exactly one rule carries it).
pub const TZRULE_FLAG_EFFECTIVE_TZREG: u16 = 0x0002;

/// A MAPI TZDEFINITION blob (MS-OXOCAL 2.2.1.41 `PidLidAppointmentTimeZoneDefinitionRecur`, also
/// `…StartDisplay`/`…EndDisplay` 2.2.1.42/43): a header with the Windows key name, then one 66-byte TZRule per
/// `(first year, rule)`. The rule in force in `effective_year` gets TZRULE_FLAG_EFFECTIVE_TZREG, and also
/// TZRULE_FLAG_RECUR_CURRENT_TZREG when `recurring` (it is then the rule written to `PidLidTimeZoneStruct`).
pub fn tzdefinition(key_name: &str, rules: &[(i32, WindowsRule)], effective_year: i32, recurring: bool) -> Vec<u8> {
    let key: Vec<u16> = key_name.encode_utf16().collect();
    let effective = rules.iter().rposition(|(y, _)| *y <= effective_year).unwrap_or(0);
    let mut b = vec![0x02, 0x01];
    b.extend_from_slice(&((6 + 2 * key.len()) as u16).to_le_bytes()); // cbHeader: what follows it in the header
    b.extend_from_slice(&0x0002u16.to_le_bytes()); // Reserved
    b.extend_from_slice(&(key.len() as u16).to_le_bytes());
    for u in &key {
        b.extend_from_slice(&u.to_le_bytes());
    }
    b.extend_from_slice(&(rules.len() as u16).to_le_bytes());
    for (i, (year, r)) in rules.iter().enumerate() {
        b.extend_from_slice(&[0x02, 0x01]);
        b.extend_from_slice(&0x003Eu16.to_le_bytes());
        let mut flags = 0u16;
        if i == effective {
            flags |= TZRULE_FLAG_EFFECTIVE_TZREG;
            if recurring {
                flags |= TZRULE_FLAG_RECUR_CURRENT_TZREG;
            }
        }
        b.extend_from_slice(&flags.to_le_bytes());
        b.extend_from_slice(&(*year as u16).to_le_bytes());
        b.extend_from_slice(&[0u8; 14]);
        // lBias … stDaylightDate: the TZREG fields without the two year words.
        let reg = r.to_tzreg();
        b.extend_from_slice(&reg[0..12]);
        b.extend_from_slice(&reg[14..30]);
        b.extend_from_slice(&reg[32..48]);
    }
    b
}

/// One TZRule of a TZDEFINITION.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TzRuleEntry {
    pub flags: u16,
    /// The year from which the rule applies.
    pub year: i32,
    pub rule: WindowsRule,
}

/// Reads a TZDEFINITION blob: the key name (Windows id) and its TZRules. `None` when malformed.
pub fn parse_tzdefinition(b: &[u8]) -> Option<(String, Vec<TzRuleEntry>)> {
    let u16_at = |o: usize| -> Option<u16> { Some(u16::from_le_bytes([*b.get(o)?, *b.get(o + 1)?])) };
    if b.first() != Some(&0x02) {
        return None;
    }
    let cb_header = u16_at(2)? as usize;
    let cch = u16_at(6)? as usize;
    let key: Vec<u16> = (0..cch).map(|i| u16_at(8 + 2 * i)).collect::<Option<_>>()?;
    let key = String::from_utf16(&key).ok()?;
    let mut o = 4 + cb_header;
    let count = u16_at(o - 2)? as usize;
    let mut rules = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let rule = b.get(o..o + 66)?;
        let flags = u16::from_le_bytes([rule[4], rule[5]]);
        let year = u16::from_le_bytes([rule[6], rule[7]]) as i32;
        let mut reg = [0u8; 48];
        reg[0..12].copy_from_slice(&rule[22..34]);
        reg[14..30].copy_from_slice(&rule[34..50]);
        reg[32..48].copy_from_slice(&rule[50..66]);
        rules.push(TzRuleEntry { flags, year, rule: WindowsRule::from_tzreg(&reg, year)? });
        o += 66;
    }
    Some((key, rules))
}

/// Weekday from a 0 = Sunday number (SYSTEMTIME wDayOfWeek).
pub fn weekday_from_sunday0(n: u32) -> Option<Weekday> {
    Some(match n {
        0 => Weekday::Sun,
        1 => Weekday::Mon,
        2 => Weekday::Tue,
        3 => Weekday::Wed,
        4 => Weekday::Thu,
        5 => Weekday::Fri,
        6 => Weekday::Sat,
        _ => return None,
    })
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    NaiveDate::from_ymd_opt(ny, nm, 1).and_then(|d| d.pred_opt()).map(|d| d.day()).unwrap_or(31)
}

/// The `week`-th (1–4, 5 = last) `weekday` of a month.
pub fn nth_weekday_of_month(year: i32, month: u32, weekday: Weekday, week: u32) -> Option<NaiveDate> {
    if week >= 5 {
        let last = NaiveDate::from_ymd_opt(year, month, days_in_month(year, month))?;
        let back = (last.weekday().num_days_from_monday() + 7 - weekday.num_days_from_monday()) % 7;
        return last.checked_sub_signed(Duration::days(back as i64));
    }
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let fwd = (weekday.num_days_from_monday() + 7 - first.weekday().num_days_from_monday()) % 7;
    first.checked_add_signed(Duration::days((fwd + 7 * (week.max(1) - 1)) as i64))
}

// ---------------------------------------------------------------------------------------------------------------
// EWS TimeZoneDefinition (MS-OXWSGTZ 2.2.4.12), as data
// ---------------------------------------------------------------------------------------------------------------

/// A `Period`: a named offset. `bias` is EWS's (minutes, UTC = local + bias: `-PT1H` for UTC+1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TzPeriod {
    pub id: String,
    /// `Standard` or `Daylight`.
    pub name: String,
    pub bias: i32,
}

/// One transition inside a `TransitionsGroup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TzGroupTransition {
    /// `RecurringDayTransition`: to `period` on the `occurrence`-th (1–4, -1 = last) `day_of_week` of `month`, at
    /// `time_offset` (local time before the change).
    RecurringDay { to_period: String, time_offset: NaiveTime, month: u32, day_of_week: Weekday, occurrence: i32 },
    /// `Transition`: the period in force for the whole group (no DST).
    Period { to_period: String },
}

/// A `TransitionsGroup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TzTransitionsGroup {
    pub id: String,
    pub transitions: Vec<TzGroupTransition>,
}

/// A top-level transition to a group: the first has no date (`Transition`), the others start at a local date-time
/// (`AbsoluteDateTransition`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TzTransition {
    pub to_group: String,
    pub from: Option<NaiveDateTime>,
}

/// The content of an EWS `TimeZoneDefinition` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZoneDefinition {
    /// The Windows id, or the IANA name for zones Windows has no id for.
    pub id: String,
    pub name: String,
    pub periods: Vec<TzPeriod>,
    pub groups: Vec<TzTransitionsGroup>,
    pub transitions: Vec<TzTransition>,
}

fn fmt_utc_offset(bias: i32) -> String {
    let off = -bias;
    format!("(UTC{}{:02}:{:02})", if off < 0 { '-' } else { '+' }, off.abs() / 60, off.abs() % 60)
}

impl TimeZoneDefinition {
    /// The definition of `tz` for the years `from_year..=to_year`, one group per distinct Windows rule (period ids
    /// in Exchange's `trule:Microsoft/Registry/<id>/<year>-Standard` form).
    pub fn for_zone(tz: Tz, from_year: i32, to_year: i32) -> TimeZoneDefinition {
        let id = windows_id_of(tz).map(str::to_string).unwrap_or_else(|| tz.name().to_string());
        let rules = windows_rules(tz, from_year, to_year.max(from_year));
        let mut def = TimeZoneDefinition {
            name: format!("{} {}", fmt_utc_offset(rules.last().map(|(_, r)| r.bias).unwrap_or(0)), tz.name()),
            id: id.clone(),
            periods: Vec::new(),
            groups: Vec::new(),
            transitions: Vec::new(),
        };
        for (i, (year, r)) in rules.iter().enumerate() {
            let std_id = format!("trule:Microsoft/Registry/{id}/{year}-Standard");
            def.periods.push(TzPeriod { id: std_id.clone(), name: "Standard".into(), bias: r.bias + r.standard_bias });
            let transitions = match (r.standard, r.daylight) {
                (Some(s), Some(d)) => {
                    let dst_id = format!("trule:Microsoft/Registry/{id}/{year}-Daylight");
                    def.periods.push(TzPeriod {
                        id: dst_id.clone(),
                        name: "Daylight".into(),
                        bias: r.bias + r.daylight_bias,
                    });
                    let rec = |t: Transition, to: String| TzGroupTransition::RecurringDay {
                        to_period: to,
                        time_offset: t.time,
                        month: t.month,
                        day_of_week: t.day_of_week,
                        occurrence: if t.week >= 5 { -1 } else { t.week as i32 },
                    };
                    vec![rec(d, dst_id), rec(s, std_id)]
                }
                _ => vec![TzGroupTransition::Period { to_period: std_id }],
            };
            def.groups.push(TzTransitionsGroup { id: i.to_string(), transitions });
            let from = (i > 0).then(|| NaiveDate::from_ymd_opt(*year, 1, 1).unwrap().and_time(NaiveTime::MIN));
            def.transitions.push(TzTransition { to_group: i.to_string(), from });
        }
        def
    }

    /// The rule in force in `year`, in the Windows form.
    pub fn rule_for_year(&self, year: i32) -> Option<WindowsRule> {
        let start = NaiveDate::from_ymd_opt(year, 7, 1)?.and_time(NaiveTime::MIN);
        let tr = self.transitions.iter().rfind(|t| t.from.is_none_or(|f| f <= start))?;
        let group = self.groups.iter().find(|g| g.id == tr.to_group)?;
        let period = |id: &str| self.periods.iter().find(|p| p.id == id);
        let mut rule = WindowsRule {
            year,
            bias: 0,
            standard_bias: 0,
            daylight_bias: 0,
            standard: None,
            daylight: None,
            approximate: false,
        };
        let mut std_bias = None;
        let mut dst_bias = None;
        for t in &group.transitions {
            match t {
                TzGroupTransition::Period { to_period } => std_bias = Some(period(to_period)?.bias),
                TzGroupTransition::RecurringDay { to_period, time_offset, month, day_of_week, occurrence } => {
                    let p = period(to_period)?;
                    let tr = Transition {
                        month: *month,
                        week: if *occurrence < 0 { 5 } else { *occurrence as u32 },
                        day_of_week: *day_of_week,
                        time: *time_offset,
                    };
                    if p.name.eq_ignore_ascii_case("Daylight") {
                        dst_bias = Some(p.bias);
                        rule.daylight = Some(tr);
                    } else {
                        std_bias = Some(p.bias);
                        rule.standard = Some(tr);
                    }
                }
            }
        }
        rule.bias = std_bias.or(dst_bias)?;
        rule.daylight_bias = dst_bias.map(|d| d - rule.bias).unwrap_or(0);
        Some(rule)
    }

    /// The IANA zone for this definition: by its id (a Windows id or an IANA name), else the zone whose offsets
    /// match the rule in force in `year` (a client-made definition with an unknown id).
    pub fn resolve(&self, year: i32) -> Option<Tz> {
        resolve_zone_name(&self.id).or_else(|| {
            let rule = self.rule_for_year(year)?;
            match_observances(&rule.observances(year), year, &format!("{} {}", self.id, self.name))
        })
    }
}

impl WindowsRule {
    /// The rule as VTIMEZONE-style observances with onsets from the year before `from_year`.
    pub fn observances(&self, from_year: i32) -> Vec<ZoneObservance> {
        let std_off = -(self.bias + self.standard_bias) * 60;
        match (self.standard, self.daylight) {
            (Some(s), Some(d)) => {
                let dst_off = -(self.bias + self.daylight_bias) * 60;
                let onset = |t: Transition| {
                    nth_weekday_of_month(from_year - 1, t.month, t.day_of_week, t.week)
                        .map(|date| date.and_time(t.time))
                        .unwrap_or_default()
                };
                vec![
                    ZoneObservance {
                        daylight: false,
                        dtstart: onset(s),
                        offset_from: dst_off,
                        offset_to: std_off,
                        name: None,
                        rule: Some(s),
                        until: None,
                    },
                    ZoneObservance {
                        daylight: true,
                        dtstart: onset(d),
                        offset_from: std_off,
                        offset_to: dst_off,
                        name: None,
                        rule: Some(d),
                        until: None,
                    },
                ]
            }
            _ => vec![ZoneObservance {
                daylight: false,
                dtstart: NaiveDate::from_ymd_opt(1970, 1, 1).unwrap().and_time(NaiveTime::MIN),
                offset_from: std_off,
                offset_to: std_off,
                name: None,
                rule: None,
                until: None,
            }],
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// VTIMEZONE data
// ---------------------------------------------------------------------------------------------------------------

/// One STANDARD or DAYLIGHT sub-component of a VTIMEZONE (RFC 5545 3.6.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneObservance {
    pub daylight: bool,
    /// Local time (in the offset before) of the first onset.
    pub dtstart: NaiveDateTime,
    /// Seconds east of UTC.
    pub offset_from: i32,
    pub offset_to: i32,
    pub name: Option<String>,
    /// Yearly rule of the onset, `None` for a single onset.
    pub rule: Option<Transition>,
    /// The rule's last onset is at or before this instant (RRULE UNTIL); `None`: it goes on.
    pub until: Option<DateTime<Utc>>,
}

/// The year of the compiled tz database (`2025b` → 2025): rules after it are the last rule continued.
fn tzdb_year() -> i32 {
    IANA_TZDB_VERSION.get(..4).and_then(|y| y.parse().ok()).unwrap_or(2025)
}

/// The content of a VTIMEZONE for `tz` that is right from `from_year` on (RFC 5545 3.6.5): for each period with
/// one yearly rule (see [`windows_rules`]), a STANDARD and a DAYLIGHT observance with that rule, bounded by UNTIL
/// when a later rule replaces it, or one STANDARD observance for a period without DST. Zones whose rules have not
/// changed since `from_year` (most of them) get two observances, or one.
pub fn vtimezone_observances(tz: Tz, from_year: i32) -> Vec<ZoneObservance> {
    let abbr = |utc: DateTime<Utc>| {
        let o = tz.offset_from_utc_datetime(&utc.naive_utc());
        o.abbreviation().filter(|a| !a.starts_with('+') && !a.starts_with('-')).map(str::to_string)
    };
    let groups = windows_rules(tz, from_year, from_year.max(tzdb_year() + 1));
    let mut out = Vec::new();
    for (i, (year, rule)) in groups.iter().enumerate() {
        let first = i == 0;
        let until = groups
            .get(i + 1)
            .map(|(next, _)| Utc.with_ymd_and_hms(*next, 1, 1, 0, 0, 0).unwrap() - Duration::seconds(1));
        match (rule.standard, rule.daylight) {
            (Some(s), Some(d)) => {
                let std_off = -rule.bias * 60;
                let dst_off = std_off - rule.daylight_bias * 60;
                // The first period starts its onsets the year before, so that all of `from_year` is covered.
                let onset_year = if first { year - 1 } else { *year };
                for (t, daylight) in [(s, false), (d, true)] {
                    let dtstart = nth_weekday_of_month(onset_year, t.month, t.day_of_week, t.week)
                        .map(|date| date.and_time(t.time))
                        .unwrap_or_default();
                    let (from, to) = if daylight { (std_off, dst_off) } else { (dst_off, std_off) };
                    out.push(ZoneObservance {
                        daylight,
                        dtstart,
                        offset_from: from,
                        offset_to: to,
                        name: abbr(local_to_utc(tz, dtstart) + Duration::days(1)),
                        rule: Some(t),
                        until,
                    });
                }
            }
            _ => {
                let off = -rule.bias * 60;
                // A period without DST starts at its year's last offset change (Moscow, 26 October 2014), or on
                // 1 January; the first one since 1970.
                let change = offset_changes(tz, *year).into_iter().last();
                let (dtstart, from) = match change {
                    Some(c) => (c.at.naive_utc() + Duration::seconds(c.from as i64), c.from),
                    None if first => (NaiveDate::from_ymd_opt(1970, 1, 1).unwrap().and_time(NaiveTime::MIN), off),
                    None => {
                        let jan = Utc.with_ymd_and_hms(*year, 1, 1, 0, 0, 0).unwrap();
                        let before = offset_at(tz, jan - Duration::seconds(1));
                        (jan.naive_utc() + Duration::seconds(before as i64), before)
                    }
                };
                out.push(ZoneObservance {
                    daylight: false,
                    dtstart,
                    offset_from: from,
                    offset_to: off,
                    name: abbr(Utc.with_ymd_and_hms(*year, 12, 31, 12, 0, 0).unwrap()),
                    rule: None,
                    until: None,
                });
            }
        }
    }
    out
}

/// The offset (seconds east) a set of observances gives at a UTC instant, or `None` when none has started.
pub fn observances_offset_at(obs: &[ZoneObservance], utc: DateTime<Utc>) -> Option<i32> {
    // The latest onset at or before `utc` wins.
    let mut best: Option<(DateTime<Utc>, i32)> = None;
    for o in obs {
        let candidates: Vec<NaiveDateTime> = match o.rule {
            Some(r) => {
                let y = utc.year();
                [y - 1, y]
                    .iter()
                    .filter_map(|&yy| {
                        nth_weekday_of_month(yy, r.month, r.day_of_week, r.week).map(|d| d.and_time(r.time))
                    })
                    .filter(|l| *l >= o.dtstart)
                    .collect()
            }
            None => vec![o.dtstart],
        };
        for local in candidates {
            let at = Utc.from_utc_datetime(&(local - Duration::seconds(o.offset_from as i64)));
            if o.until.is_some_and(|u| at > u) {
                continue;
            }
            if at <= utc && best.is_none_or(|(b, _)| at > b) {
                best = Some((at, o.offset_to));
            }
        }
    }
    // Before the first onset the zone is at that onset's TZOFFSETFROM.
    best.map(|(_, off)| off).or_else(|| obs.iter().min_by_key(|o| o.dtstart).map(|o| o.offset_from))
}

/// Whether `tz` has the offsets of a VTIMEZONE's observances throughout `year` (sampled every third day).
pub fn observances_agree(obs: &[ZoneObservance], tz: Tz, year: i32) -> bool {
    (0..365)
        .step_by(3)
        .map(|d| Utc.with_ymd_and_hms(year, 1, 1, 12, 0, 0).unwrap() + Duration::days(d))
        .all(|s| observances_offset_at(obs, s).is_none_or(|w| offset_at(tz, s) == w))
}

/// Finds an IANA zone whose offsets agree with a VTIMEZONE's observances through `year` (sampled each day at
/// noon UTC). Zones that Windows has an id for are tried first (CLDR territory 001 rows), so the answer is a
/// well-known zone. Used when a TZID is neither IANA nor Windows (Outlook's display names, custom ids).
///
/// `hint` is the TZID text: among zones with matching offsets, one whose city name it contains wins (Outlook's
/// `(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna` → Europe/Berlin).
pub fn match_observances(obs: &[ZoneObservance], year: i32, hint: &str) -> Option<Tz> {
    let samples: Vec<DateTime<Utc>> =
        (0..365).step_by(3).map(|d| Utc.with_ymd_and_hms(year, 1, 1, 12, 0, 0).unwrap() + Duration::days(d)).collect();
    let want: Vec<Option<i32>> = samples.iter().map(|s| observances_offset_at(obs, *s)).collect();
    if want.iter().all(Option::is_none) {
        return None;
    }
    let golden = table::WINDOWS_TO_IANA.iter().filter(|(_, t, _)| *t == "001").filter_map(|(_, _, n)| n.first());
    let mut matches = Vec::new();
    for name in golden {
        let Ok(tz) = Tz::from_str(name) else { continue };
        if samples.iter().zip(&want).all(|(s, w)| w.is_none_or(|w| offset_at(tz, *s) == w)) {
            matches.push((*name, tz));
        }
    }
    // Zones whose changes fall on exactly the observances' instants beat zones that only agree at the samples
    // (America/Havana changes at 00:00/01:00, America/New_York at 02:00).
    let mut want_changes: Vec<DateTime<Utc>> = obs
        .iter()
        .filter(|o| o.offset_from != o.offset_to)
        .filter_map(|o| {
            let local = match o.rule {
                Some(r) => nth_weekday_of_month(year, r.month, r.day_of_week, r.week)?.and_time(r.time),
                None if o.dtstart.year() == year => o.dtstart,
                None => return None,
            };
            Some(Utc.from_utc_datetime(&(local - Duration::seconds(o.offset_from as i64))))
        })
        .collect();
    want_changes.sort();
    let exact: Vec<(&str, Tz)> = matches
        .iter()
        .filter(|(_, tz)| offset_changes(*tz, year).iter().map(|c| c.at).collect::<Vec<_>>() == want_changes)
        .copied()
        .collect();
    let pool = if exact.is_empty() { matches } else { exact };
    let hint = hint.to_ascii_lowercase();
    let city = |name: &str| name.rsplit('/').next().unwrap_or(name).replace('_', " ").to_ascii_lowercase();
    pool.iter().find(|(n, _)| hint.contains(&city(n))).or(pool.first()).map(|(_, tz)| *tz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_cldr_version_recorded() {
        assert_eq!(CLDR_VERSION, "48");
        assert!(table::IANA_NAMES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn windows_to_iana_golden_and_territory() {
        assert_eq!(windows_to_iana("W. Europe Standard Time"), Some("Europe/Berlin"));
        assert_eq!(windows_to_iana("romance standard time"), Some("Europe/Paris"));
        assert_eq!(windows_to_iana("Pacific Standard Time"), Some("America/Los_Angeles"));
        assert_eq!(windows_to_iana_for_territory("Eastern Standard Time", "CA"), Some("America/Toronto"));
        assert_eq!(windows_to_iana_for_territory("W. Europe Standard Time", "CH"), Some("Europe/Zurich"));
        assert_eq!(windows_to_iana_for_territory("W. Europe Standard Time", "XX"), Some("Europe/Berlin"));
        assert_eq!(windows_to_iana("India Standard Time"), Some("Asia/Kolkata"));
        assert_eq!(windows_to_iana("FLE Standard Time"), Some("Europe/Kyiv"));
        assert_eq!(windows_to_iana("No Such Standard Time"), None);
    }

    #[test]
    fn iana_to_windows_all_territories_and_aliases() {
        assert_eq!(iana_to_windows("Europe/Paris"), Some("Romance Standard Time"));
        assert_eq!(iana_to_windows("Europe/Zurich"), Some("W. Europe Standard Time"));
        assert_eq!(iana_to_windows("Europe/Berlin"), Some("W. Europe Standard Time"));
        assert_eq!(iana_to_windows("America/Toronto"), Some("Eastern Standard Time"));
        assert_eq!(iana_to_windows("Asia/Kolkata"), Some("India Standard Time"));
        assert_eq!(iana_to_windows("Asia/Calcutta"), Some("India Standard Time"));
        assert_eq!(iana_to_windows("europe/kiev"), Some("FLE Standard Time"));
        assert_eq!(iana_to_windows("UTC"), Some("UTC"));
        assert_eq!(iana_to_windows("Etc/GMT+5"), Some("SA Pacific Standard Time"));
        assert_eq!(canonical_iana("Asia/Calcutta"), Some("Asia/Kolkata"));
    }

    #[test]
    fn every_table_zone_is_known_to_chrono_tz_and_round_trips() {
        for (win, _, names) in table::WINDOWS_TO_IANA {
            for n in *names {
                assert!(Tz::from_str(n).is_ok() || resolve_zone_name(n).is_some(), "{n} unknown to chrono-tz");
                assert!(iana_to_windows(n).is_some(), "{n} has no Windows id");
            }
            // The golden zone of every Windows id maps back to that id.
            if let Some(g) = windows_to_iana(win) {
                assert_eq!(iana_to_windows(g), Some(*win), "golden zone {g} of {win}");
            }
        }
    }

    #[test]
    fn resolve_names() {
        assert_eq!(resolve_zone_name("Europe/Paris"), Some(Tz::Europe__Paris));
        assert_eq!(resolve_zone_name("W. Europe Standard Time"), Some(Tz::Europe__Berlin));
        assert_eq!(resolve_zone_name("/mozilla.org/20050126_1/Europe/Paris"), Some(Tz::Europe__Paris));
        assert_eq!(
            resolve_zone_name("/freeassociation.sourceforge.net/Tzfile/America/New_York"),
            Some(Tz::America__New_York)
        );
        assert_eq!(resolve_zone_name("EUROPE/PARIS"), Some(Tz::Europe__Paris));
        assert_eq!(resolve_zone_name("Z"), Some(Tz::UTC));
        assert_eq!(resolve_zone_name("(UTC+01:00) Brussels"), None);
    }

    #[test]
    fn display_names() {
        let z = |s| zone_from_display_name(s);
        assert_eq!(z("(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna"), Some(Tz::Europe__Amsterdam));
        assert_eq!(z("(UTC+01:00) Brussels, Copenhagen, Madrid, Paris"), Some(Tz::Europe__Brussels));
        assert_eq!(z("(UTC-05:00) Eastern Time (US & Canada)"), Some(Tz::America__New_York));
        assert_eq!(z("(UTC+05:30) Chennai, Kolkata, Mumbai, New Delhi"), Some(Tz::Asia__Kolkata));
        assert_eq!(z("(UTC+10:00) Canberra, Melbourne, Sydney"), Some(Tz::Australia__Sydney));
        assert_eq!(z("(UTC) Coordinated Universal Time"), Some(Tz::Etc__UTC));
        assert_eq!(z("(UTC+00:00) Dublin, Edinburgh, Lisbon, London"), Some(Tz::Europe__Dublin));
        // A city with the wrong offset is not taken.
        assert_eq!(z("(UTC+03:00) Paris"), None);
        assert_eq!(z("Europe/Paris"), None);
    }

    #[test]
    fn windows_rule_paris_and_new_york() {
        let r = windows_rule(Tz::Europe__Paris, 2026);
        assert_eq!((r.bias, r.standard_bias, r.daylight_bias, r.approximate), (-60, 0, -60, false));
        let t = |m, w, d, h| {
            Some(Transition { month: m, week: w, day_of_week: d, time: NaiveTime::from_hms_opt(h, 0, 0).unwrap() })
        };
        assert_eq!(r.daylight, t(3, 5, Weekday::Sun, 2));
        assert_eq!(r.standard, t(10, 5, Weekday::Sun, 3));
        let r = windows_rule(Tz::America__New_York, 2026);
        assert_eq!(r.bias, 300);
        assert_eq!(r.daylight, t(3, 2, Weekday::Sun, 2));
        assert_eq!(r.standard, t(11, 1, Weekday::Sun, 2));
        let r = windows_rule(Tz::Australia__Sydney, 2026);
        assert_eq!(r.bias, -600);
        assert_eq!(r.standard, t(4, 1, Weekday::Sun, 3));
        assert_eq!(r.daylight, t(10, 1, Weekday::Sun, 2));
        let r = windows_rule(Tz::Asia__Tokyo, 2026);
        assert_eq!((r.bias, r.standard, r.daylight, r.approximate), (-540, None, None, false));
        let r = windows_rule(Tz::Asia__Kolkata, 2026);
        assert_eq!(r.bias, -330);
        // Dublin: the tz database's negative winter DST comes out as Windows' GMT Standard Time rule.
        let r = windows_rule(Tz::Europe__Dublin, 2026);
        assert_eq!((r.bias, r.daylight_bias, r.approximate), (0, -60, false));
        assert_eq!(r.daylight, t(3, 5, Weekday::Sun, 1));
        assert_eq!(r.standard, t(10, 5, Weekday::Sun, 2));
        let obs = vtimezone_observances(Tz::Europe__Dublin, 2026);
        assert!(obs.iter().any(|o| o.daylight && o.offset_to == 3600));
    }

    #[test]
    fn rule_changes_over_years() {
        // Moscow: DST until 2010, permanent +04 in 2011–2014, +03 since 26 October 2014.
        let r = windows_rules(Tz::Europe__Moscow, 2009, 2016);
        let biases: Vec<(i32, i32, bool)> = r.iter().map(|(y, w)| (*y, w.bias, w.daylight.is_some())).collect();
        assert_eq!(biases.first(), Some(&(2009, -180, true)));
        assert_eq!(biases.last(), Some(&(2015, -180, false)));
        assert!(biases.iter().any(|(_, b, _)| *b == -240), "{biases:?}");
        // Europe/Paris has had the same rule since 1996.
        assert_eq!(windows_rules(Tz::Europe__Paris, 2000, 2030).len(), 1);
    }

    #[test]
    fn ews_time_zone_definition() {
        let def = TimeZoneDefinition::for_zone(Tz::Europe__Paris, 2026, 2026);
        assert_eq!(def.id, "Romance Standard Time");
        assert_eq!(def.name, "(UTC+01:00) Europe/Paris");
        assert_eq!(def.periods.len(), 2);
        assert_eq!((def.periods[0].name.as_str(), def.periods[0].bias), ("Standard", -60));
        assert_eq!((def.periods[1].name.as_str(), def.periods[1].bias), ("Daylight", -120));
        assert_eq!(def.periods[1].id, "trule:Microsoft/Registry/Romance Standard Time/2026-Daylight");
        assert_eq!(
            def.groups[0].transitions[0],
            TzGroupTransition::RecurringDay {
                to_period: def.periods[1].id.clone(),
                time_offset: NaiveTime::from_hms_opt(2, 0, 0).unwrap(),
                month: 3,
                day_of_week: Weekday::Sun,
                occurrence: -1
            }
        );
        assert_eq!(def.transitions, [TzTransition { to_group: "0".into(), from: None }]);
        assert_eq!(def.rule_for_year(2026), Some(windows_rule(Tz::Europe__Paris, 2026)));
        assert_eq!(def.resolve(2026), Some(Tz::Europe__Paris));
        // A definition with an unknown id resolves by its rules.
        let mut anon = TimeZoneDefinition::for_zone(Tz::America__New_York, 2026, 2026);
        anon.id = "Custom".into();
        anon.name = "My zone".into();
        let tz = anon.resolve(2026).unwrap();
        assert_eq!(windows_rule(tz, 2026), windows_rule(Tz::America__New_York, 2026));
        // Moscow over its rule changes: one group per rule, dated transitions after the first.
        let msk = TimeZoneDefinition::for_zone(Tz::Europe__Moscow, 2010, 2016);
        assert!(msk.groups.len() >= 3);
        assert!(msk.transitions[1..].iter().all(|t| t.from.is_some()));
        assert_eq!(msk.rule_for_year(2016).map(|r| r.bias), Some(-180));
        assert_eq!(msk.rule_for_year(2012).map(|r| r.bias), Some(-240));
        // Tokyo: no DST, a single period.
        let tyo = TimeZoneDefinition::for_zone(Tz::Asia__Tokyo, 2026, 2026);
        assert_eq!(tyo.periods.len(), 1);
        assert_eq!(tyo.rule_for_year(2026).unwrap().bias, -540);
    }

    #[test]
    fn vtimezone_follows_rule_changes() {
        // New York changed its DST rule in 2007, Moscow dropped DST in 2011 and moved to +03 in October 2014.
        for (tz, from, to) in
            [(Tz::America__New_York, 2005, 2010), (Tz::Europe__Moscow, 2009, 2016), (Tz::Europe__Paris, 2026, 2030)]
        {
            let obs = vtimezone_observances(tz, from);
            let start = Utc.with_ymd_and_hms(from, 1, 1, 0, 0, 0).unwrap();
            let mut t = start;
            while t < Utc.with_ymd_and_hms(to, 12, 31, 0, 0, 0).unwrap() {
                assert_eq!(observances_offset_at(&obs, t), Some(offset_at(tz, t)), "{tz} at {t}");
                t += Duration::hours(11);
            }
        }
        assert_eq!(vtimezone_observances(Tz::Europe__Paris, 2026).len(), 2);
        assert_eq!(vtimezone_observances(Tz::Asia__Tokyo, 2026).len(), 1);
    }

    #[test]
    fn tzdefinition_round_trip() {
        let rules = windows_rules(Tz::Europe__Moscow, 2010, 2016);
        let blob = tzdefinition("Russian Standard Time", &rules, 2016, true);
        assert_eq!(&blob[..4], &[0x02, 0x01, 6 + 2 * 21, 0]);
        assert_eq!(blob.len(), 4 + 6 + 2 * 21 + 66 * rules.len());
        let (key, back) = parse_tzdefinition(&blob).unwrap();
        assert_eq!(key, "Russian Standard Time");
        assert_eq!(back.len(), rules.len());
        for (TzRuleEntry { flags, year, rule: r }, (y, orig)) in back.iter().zip(&rules) {
            assert_eq!(
                (*year, r.bias, r.daylight_bias, r.standard, r.daylight),
                (*y, orig.bias, orig.daylight_bias, orig.standard, orig.daylight)
            );
            let effective = *y == rules.last().unwrap().0;
            assert_eq!(
                *flags,
                if effective { TZRULE_FLAG_EFFECTIVE_TZREG | TZRULE_FLAG_RECUR_CURRENT_TZREG } else { 0 }
            );
        }
        assert!(parse_tzdefinition(&blob[..blob.len() - 1]).is_none());
        assert!(parse_tzdefinition(&[]).is_none());
    }

    #[test]
    fn tzreg_round_trip() {
        let r = windows_rule(Tz::Europe__Paris, 2026);
        let b = r.to_tzreg();
        assert_eq!(&b[0..4], &(-60i32).to_le_bytes());
        // stStandardDate.wMonth = 10, wDayOfWeek = 0 (Sunday), wDay = 5, wHour = 3.
        assert_eq!(&b[14..30], &[0, 0, 10, 0, 0, 0, 5, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(WindowsRule::from_tzreg(&b, 2026), Some(r));
    }

    #[test]
    fn dst_gap_and_overlap() {
        let paris = Tz::Europe__Paris;
        let gap = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap().and_hms_opt(2, 30, 0).unwrap();
        // Read with the offset before the gap (+01:00): 01:30 UTC, shown as 03:30 CEST.
        assert_eq!(local_to_utc(paris, gap), Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap());
        let overlap = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap().and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(local_to_utc(paris, overlap), Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap());
    }

    #[test]
    fn observances_match_back_to_a_zone() {
        for tz in [Tz::Europe__Paris, Tz::America__New_York, Tz::Australia__Sydney, Tz::Asia__Tokyo] {
            let obs = vtimezone_observances(tz, 2026);
            let m = match_observances(&obs, 2026, "").expect("a match");
            for d in 0..365 {
                let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::days(d) + Duration::hours(7);
                assert_eq!(offset_at(m, t), offset_at(tz, t), "{tz} day {d}");
                assert_eq!(observances_offset_at(&obs, t), Some(offset_at(tz, t)), "{tz} day {d}");
            }
        }
        let cet = vtimezone_observances(Tz::Europe__Berlin, 2026);
        assert_eq!(
            match_observances(&cet, 2026, "(UTC+01:00) Brussels, Copenhagen, Madrid, Paris"),
            Some(Tz::Europe__Paris)
        );
        assert_eq!(
            match_observances(&cet, 2026, "(UTC+01:00) Amsterdam, Berlin, Bern, Rome"),
            Some(Tz::Europe__Berlin)
        );
        let paris = vtimezone_observances(Tz::Europe__Paris, 2026);
        assert_eq!(paris[0].name.as_deref(), Some("CET"));
        assert_eq!(paris[1].name.as_deref(), Some("CEST"));
    }
}
