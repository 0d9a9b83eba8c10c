//! FindItem restrictions (MS-OXWSSRCH 2.2.4.x RestrictionType) on calendar, contacts and tasks folders. DAV
//! servers can only filter by time range and text in their own REPORT dialects, so the restriction is evaluated
//! here, on the model of each object, after the folder is listed. Sans-IO.
//!
//! Supported: `And`, `Or`, `Not`, `Exists`, the six comparisons (`IsEqualTo` … `IsLessThanOrEqualTo`) against a
//! `Constant`, and `Contains` (substring or prefix, case-insensitive unless `ContainmentComparison="Exact"`), on
//! the properties listed in [`value_of`]. Anything else is refused with the EWS code for it, never ignored.

use std::cmp::Ordering;

use chrono_tz::Tz;

use super::codec::Gw;
use crate::ews::ops::Fail;
use crate::ews::types::{parse_datetime, path_uri};
use crate::ews::xml::{Element, parse_bool};

/// A property value the restriction compares.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    /// Seconds since the Unix epoch.
    Time(i64),
    Number(f64),
    Bool(bool),
    /// A multi-valued property (categories, e-mail addresses): matches when one value does.
    List(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Restriction {
    And(Vec<Restriction>),
    Or(Vec<Restriction>),
    Not(Box<Restriction>),
    Exists(String),
    Compare { uri: String, op: Ordering, negate_eq: bool, or_equal: bool, value: String },
    Contains { uri: String, value: String, prefix: bool, exact_case: bool },
}

fn unsupported(what: &str) -> Fail {
    Fail::new("ErrorUnsupportedQueryFilter", format!("The restriction '{what}' is not supported."))
}

/// Parses a `Restriction` element (or one of its children).
pub fn parse(el: &Element) -> Result<Restriction, Fail> {
    let all = |el: &Element| el.children.iter().map(parse).collect::<Result<Vec<_>, _>>();
    let uri = |el: &Element| path_uri(el).ok_or_else(|| unsupported("a property path that is not a FieldURI"));
    Ok(match el.name.as_str() {
        "Restriction" => parse(el.children.first().ok_or_else(|| unsupported("empty"))?)?,
        "And" => Restriction::And(all(el)?),
        "Or" => Restriction::Or(all(el)?),
        "Not" => Restriction::Not(Box::new(parse(el.children.first().ok_or_else(|| unsupported("empty Not"))?)?)),
        "Exists" => Restriction::Exists(uri(el)?),
        "Contains" => Restriction::Contains {
            uri: uri(el)?,
            value: el.t("Constant").and_then(|c| c.attr("Value")).unwrap_or("").to_string(),
            prefix: matches!(el.attr("ContainmentMode"), Some("Prefixed" | "FullString")),
            exact_case: el.attr("ContainmentComparison") == Some("Exact"),
        },
        op @ ("IsEqualTo"
        | "IsNotEqualTo"
        | "IsGreaterThan"
        | "IsGreaterThanOrEqualTo"
        | "IsLessThan"
        | "IsLessThanOrEqualTo") => {
            let value = el
                .t("FieldURIOrConstant")
                .and_then(|c| c.t("Constant"))
                .and_then(|c| c.attr("Value"))
                .ok_or_else(|| unsupported("a comparison with another property"))?
                .to_string();
            let (ord, or_equal) = match op {
                "IsGreaterThan" => (Ordering::Greater, false),
                "IsGreaterThanOrEqualTo" => (Ordering::Greater, true),
                "IsLessThan" => (Ordering::Less, false),
                "IsLessThanOrEqualTo" => (Ordering::Less, true),
                _ => (Ordering::Equal, true),
            };
            Restriction::Compare { uri: uri(el)?, op: ord, negate_eq: op == "IsNotEqualTo", or_equal, value }
        }
        other => return Err(unsupported(other)),
    })
}

/// Checks that every property the restriction names is one [`value_of`] knows, so that an
/// unknown path is an error (`ErrorUnsupportedPathForQuery`) rather than a restriction that matches nothing.
pub fn check_paths(r: &Restriction) -> Result<(), Fail> {
    let known = |uri: &str| {
        if KNOWN.contains(&uri) {
            Ok(())
        } else {
            Err(Fail::new("ErrorUnsupportedPathForQuery", format!("Restrictions on '{uri}' are not supported here.")))
        }
    };
    match r {
        Restriction::And(v) | Restriction::Or(v) => v.iter().try_for_each(check_paths),
        Restriction::Not(x) => check_paths(x),
        Restriction::Exists(u) | Restriction::Compare { uri: u, .. } | Restriction::Contains { uri: u, .. } => known(u),
    }
}

/// Every path [`value_of`] can answer for some object (an object may lack a value, e.g. a contact without a
/// company).
const KNOWN: &[&str] = &[
    "item:Subject",
    "item:Categories",
    "item:Body",
    "item:Importance",
    "item:Sensitivity",
    "item:DateTimeCreated",
    "item:LastModifiedTime",
    "calendar:Start",
    "calendar:End",
    "calendar:Location",
    "calendar:IsAllDayEvent",
    "calendar:IsRecurring",
    "calendar:IsMeeting",
    "calendar:IsCancelled",
    "calendar:UID",
    "calendar:Organizer",
    "calendar:LegacyFreeBusyStatus",
    "calendar:CalendarItemType",
    "contacts:DisplayName",
    "contacts:GivenName",
    "contacts:Surname",
    "contacts:MiddleName",
    "contacts:Nickname",
    "contacts:CompanyName",
    "contacts:Department",
    "contacts:JobTitle",
    "contacts:FileAs",
    "contacts:EmailAddress",
    "contacts:EmailAddresses",
    "contacts:Birthday",
    "task:Status",
    "task:PercentComplete",
    "task:IsComplete",
    "task:DueDate",
    "task:StartDate",
    "task:CompleteDate",
];

/// The value of a property of an object, as EWS would show it (`None`: the object has no such value).
pub fn value_of(item: &Gw, uri: &str, tz: Tz) -> Option<Value> {
    let text = |s: &str| Some(Value::Text(s.to_string()));
    let opt = |s: &Option<String>| s.as_deref().map(|s| Value::Text(s.to_string()));
    match item {
        Gw::Event(e) => match uri {
            "item:Subject" => text(&e.subject),
            "item:Body" => opt(&e.body),
            "item:Categories" => Some(Value::List(e.categories.clone())),
            "item:Importance" => text(&format!("{:?}", e.importance)),
            "item:Sensitivity" => text(&format!("{:?}", e.sensitivity)),
            "item:DateTimeCreated" => e.created.map(|t| Value::Time(t.timestamp())),
            "item:LastModifiedTime" => e.last_modified.map(|t| Value::Time(t.timestamp())),
            "calendar:Start" => Some(Value::Time(e.start.to_utc(tz).timestamp())),
            "calendar:End" => Some(Value::Time(e.end.to_utc(tz).timestamp())),
            "calendar:Location" => opt(&e.location),
            "calendar:IsAllDayEvent" => Some(Value::Bool(e.is_all_day)),
            "calendar:IsRecurring" => Some(Value::Bool(e.recurrence.is_some())),
            "calendar:IsMeeting" => Some(Value::Bool(e.is_meeting)),
            "calendar:IsCancelled" => Some(Value::Bool(e.is_cancelled)),
            "calendar:UID" => text(&e.uid),
            "calendar:Organizer" => e.organizer.as_ref().map(|o| Value::List(vec![o.email.clone()])),
            "calendar:LegacyFreeBusyStatus" => text(&format!("{:?}", e.free_busy)),
            "calendar:CalendarItemType" => text(if e.recurrence.is_some() { "RecurringMaster" } else { "Single" }),
            _ => None,
        },
        Gw::Task(t) => match uri {
            "item:Subject" => text(&t.subject),
            "item:Body" => opt(&t.body),
            "item:Categories" => Some(Value::List(t.categories.clone())),
            "item:Importance" => text(&format!("{:?}", t.importance)),
            "item:Sensitivity" => text(&format!("{:?}", t.sensitivity)),
            "item:DateTimeCreated" => t.created.map(|x| Value::Time(x.timestamp())),
            "item:LastModifiedTime" => t.last_modified.map(|x| Value::Time(x.timestamp())),
            "task:Status" => text(&format!("{:?}", t.status)),
            "task:PercentComplete" => Some(Value::Number(f64::from(t.percent_complete))),
            "task:IsComplete" => Some(Value::Bool(t.status == crate::model::task::TaskStatus::Completed)),
            "task:DueDate" => t.due.map(|d| Value::Time(d.to_utc(tz).timestamp())),
            "task:StartDate" => t.start.map(|d| Value::Time(d.to_utc(tz).timestamp())),
            "task:CompleteDate" => t.completed.map(|x| Value::Time(x.timestamp())),
            _ => None,
        },
        Gw::Contact(c) => match uri {
            "item:Subject" | "contacts:DisplayName" | "contacts:FileAs" => text(&c.display_name),
            "item:Body" => opt(&c.notes),
            "item:Categories" => Some(Value::List(c.categories.clone())),
            "contacts:GivenName" => opt(&c.given_name),
            "contacts:Surname" => opt(&c.surname),
            "contacts:MiddleName" => opt(&c.middle_name),
            "contacts:Nickname" => opt(&c.nickname),
            "contacts:CompanyName" => opt(&c.company),
            "contacts:Department" => opt(&c.department),
            "contacts:JobTitle" => opt(&c.job_title),
            "contacts:EmailAddress" | "contacts:EmailAddresses" => {
                Some(Value::List(c.emails.iter().map(|e| e.address.clone()).collect()))
            }
            "contacts:Birthday" => {
                c.birthday.and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| Value::Time(t.and_utc().timestamp()))
            }
            _ => None,
        },
        Gw::Group(g) => match uri {
            "item:Subject" | "contacts:DisplayName" | "contacts:FileAs" => text(&g.display_name),
            _ => None,
        },
    }
}

fn fold(s: &str, exact: bool) -> String {
    if exact { s.to_string() } else { s.to_lowercase() }
}

/// Compares a property value with the constant of the request (read as the value's type).
fn compare(v: &Value, constant: &str) -> Option<Ordering> {
    match v {
        Value::Text(s) => Some(s.to_lowercase().cmp(&constant.to_lowercase())),
        Value::Time(t) => parse_datetime(constant).map(|c| t.cmp(&c)),
        Value::Number(n) => constant.trim().parse::<f64>().ok().and_then(|c| n.partial_cmp(&c)),
        Value::Bool(b) => parse_bool(constant).map(|c| b.cmp(&c)),
        Value::List(_) => None,
    }
}

/// Whether an object matches.
pub fn matches(r: &Restriction, item: &Gw, tz: Tz) -> bool {
    match r {
        Restriction::And(v) => v.iter().all(|x| matches(x, item, tz)),
        Restriction::Or(v) => v.iter().any(|x| matches(x, item, tz)),
        Restriction::Not(x) => !matches(x, item, tz),
        Restriction::Exists(uri) => match value_of(item, uri, tz) {
            Some(Value::List(l)) => !l.is_empty(),
            Some(_) => true,
            None => false,
        },
        Restriction::Contains { uri, value, prefix, exact_case } => {
            let needle = fold(value, *exact_case);
            let hit = |s: &str| {
                let s = fold(s, *exact_case);
                if *prefix { s.starts_with(&needle) } else { s.contains(&needle) }
            };
            match value_of(item, uri, tz) {
                Some(Value::Text(s)) => hit(&s),
                Some(Value::List(l)) => l.iter().any(|s| hit(s)),
                _ => false,
            }
        }
        Restriction::Compare { uri, op, negate_eq, or_equal, value } => {
            let result = match value_of(item, uri, tz) {
                Some(Value::List(l)) => l.iter().any(|s| s.eq_ignore_ascii_case(value)).then_some(Ordering::Equal),
                Some(v) => compare(&v, value),
                None => None,
            };
            let hit = match result {
                Some(o) => o == *op || (*or_equal && o == Ordering::Equal),
                None => false,
            };
            if *negate_eq { !hit } else { hit }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::calendar::CalendarItem;
    use crate::model::contact::{Contact, Email};
    use crate::model::timezone::EventTime;

    fn el(xml: &str) -> Element {
        let doc = format!(
            r#"<m:Restriction xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">{xml}</m:Restriction>"#
        );
        crate::ews::xml::parse(doc.as_bytes()).unwrap()
    }

    fn event(subject: &str, start: i64) -> Gw {
        let s = EventTime::Utc(chrono::DateTime::from_timestamp(start, 0).unwrap());
        let e = EventTime::Utc(chrono::DateTime::from_timestamp(start + 3600, 0).unwrap());
        Gw::Event(CalendarItem::new("u", subject, s, e))
    }

    #[test]
    fn time_windows_and_subjects_on_events() {
        // exchangelib's calendar.filter(start__lt=…, end__gt=…, subject__contains='plan')
        let r = parse(&el(r#"<t:And><t:IsLessThan><t:FieldURI FieldURI="calendar:Start"/><t:FieldURIOrConstant><t:Constant Value="2027-01-02T00:00:00Z"/></t:FieldURIOrConstant></t:IsLessThan><t:IsGreaterThan><t:FieldURI FieldURI="calendar:End"/><t:FieldURIOrConstant><t:Constant Value="2027-01-01T00:00:00Z"/></t:FieldURIOrConstant></t:IsGreaterThan><t:Contains ContainmentMode="Substring" ContainmentComparison="IgnoreCase"><t:FieldURI FieldURI="item:Subject"/><t:Constant Value="PLAN"/></t:Contains></t:And>"#)).unwrap();
        let jan1 = 1_798_761_600; // 2027-01-01T00:00:00Z
        assert!(matches(&r, &event("Planning", jan1 + 9 * 3600), Tz::UTC));
        assert!(!matches(&r, &event("Planning", jan1 + 2 * 86400), Tz::UTC));
        assert!(!matches(&r, &event("Lunch", jan1 + 9 * 3600), Tz::UTC));
        check_paths(&r).unwrap();
    }

    #[test]
    fn contacts_by_address_and_unknown_paths() {
        let mut c = Contact { display_name: "Ada Lovelace".into(), ..Default::default() };
        c.emails.push(Email { address: "ada@example.org".into(), display_name: None });
        let c = Gw::Contact(c);
        let r = parse(&el(r#"<t:IsEqualTo><t:IndexedFieldURI FieldURI="contacts:EmailAddress" FieldIndex="EmailAddress1"/><t:FieldURIOrConstant><t:Constant Value="ADA@example.org"/></t:FieldURIOrConstant></t:IsEqualTo>"#)).unwrap();
        assert!(matches(&r, &c, Tz::UTC));
        let r = parse(&el(r#"<t:Not><t:Contains ContainmentMode="Prefixed" ContainmentComparison="IgnoreCase"><t:FieldURI FieldURI="contacts:DisplayName"/><t:Constant Value="ada"/></t:Contains></t:Not>"#)).unwrap();
        assert!(!matches(&r, &c, Tz::UTC));
        let r = parse(&el(r#"<t:Exists><t:FieldURI FieldURI="message:IsRead"/></t:Exists>"#)).unwrap();
        assert_eq!(check_paths(&r).unwrap_err().code, "ErrorUnsupportedPathForQuery");
        let bad = parse(&el(r#"<t:Excludes><t:FieldURI FieldURI="item:Subject"/></t:Excludes>"#)).unwrap_err();
        assert_eq!(bad.code, "ErrorUnsupportedQueryFilter");
    }
}
