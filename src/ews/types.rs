//! Shared EWS schema pieces: response codes (MS-OXWSCDATA 2.2.5.24 ResponseCodeType), response shapes
//! (MS-OXWSCDATA 2.2.4.x ItemResponseShapeType / FolderResponseShapeType), property paths, and date-time
//! formatting (xs:dateTime in UTC).

use super::xml::{Element, NS_T, parse_bool};
use crate::error::{Error, Kind, Source};

/// `DefaultShapeNamesType` (MS-OXWSCDATA 2.2.5.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseShape {
    IdOnly,
    Default,
    AllProperties,
}

/// A property path from `AdditionalProperties` (MS-OXWSCDATA 2.2.4.x): `FieldURI`, `IndexedFieldURI`
/// (kept as `uri`) or `ExtendedFieldURI` (kept as `ext:<tag>` for tagged properties).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropPath {
    pub uri: String,
}

/// A response shape: which properties to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub base: BaseShape,
    pub additional: Vec<PropPath>,
    /// `BodyType`: Best, HTML or Text.
    pub body_type: Option<String>,
    pub include_mime: bool,
    /// `UniqueBodyType` and `NormalizedBodyType` (MS-OXWSCDATA 2.2.4.43, Exchange 2010 SP1 and 2013): the
    /// format of `UniqueBody` and `NormalizedBody`; Best when absent.
    pub unique_body_type: Option<String>,
    pub normalized_body_type: Option<String>,
    /// ExtendedFieldURI elements asked for, as (PropertyTag, PropertyType).
    pub extended: Vec<(String, String)>,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            base: BaseShape::Default,
            additional: Vec::new(),
            body_type: None,
            include_mime: false,
            unique_body_type: None,
            normalized_body_type: None,
            extended: Vec::new(),
        }
    }
}

impl Shape {
    /// Parses an `ItemShape` or `FolderShape` element.
    pub fn parse(el: Option<&Element>) -> Result<Shape, String> {
        let Some(el) = el else { return Ok(Shape::default()) };
        let base = match el.t_text("BaseShape") {
            Some("IdOnly") => BaseShape::IdOnly,
            Some("Default") => BaseShape::Default,
            Some("AllProperties") => BaseShape::AllProperties,
            Some(other) => return Err(format!("unknown BaseShape '{other}'")),
            None => return Err("BaseShape is required".into()),
        };
        let mut additional = Vec::new();
        let mut extended = Vec::new();
        if let Some(ap) = el.t("AdditionalProperties") {
            for p in &ap.children {
                match p.name.as_str() {
                    "FieldURI" => {
                        if let Some(u) = p.attr("FieldURI") {
                            additional.push(PropPath { uri: u.to_string() });
                        }
                    }
                    "IndexedFieldURI" => {
                        // One entry of a dictionary property (MS-OXWSCDATA 2.2.4.24 PathToIndexedFieldType):
                        // asks for the dictionary it belongs to (contacts:EmailAddress → EmailAddresses).
                        if let Some(u) = p.attr("FieldURI") {
                            additional.push(PropPath { uri: u.to_string() });
                            let dictionary = match u.split(':').take(2).collect::<Vec<_>>().as_slice() {
                                ["contacts", "EmailAddress"] => Some("contacts:EmailAddresses"),
                                ["contacts", "PhoneNumber"] => Some("contacts:PhoneNumbers"),
                                ["contacts", "ImAddress"] => Some("contacts:ImAddresses"),
                                ["contacts", "PhysicalAddress"] => Some("contacts:PhysicalAddresses"),
                                _ => None,
                            };
                            if let Some(d) = dictionary.filter(|d| !additional.iter().any(|p| p.uri == *d)) {
                                additional.push(PropPath { uri: d.to_string() });
                            }
                        }
                    }
                    "ExtendedFieldURI" => {
                        if let Some(tag) = p.attr("PropertyTag") {
                            let tag = normalise_tag(tag);
                            extended.push((tag.clone(), p.attr("PropertyType").unwrap_or("").to_string()));
                            additional.push(PropPath { uri: format!("ext:{tag}") });
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(Shape {
            base,
            additional,
            body_type: el.t_text("BodyType").map(str::to_string),
            include_mime: el.t_text("IncludeMimeContent").and_then(parse_bool).unwrap_or(false),
            unique_body_type: el.t_text("UniqueBodyType").map(str::to_string),
            normalized_body_type: el.t_text("NormalizedBodyType").map(str::to_string),
            extended,
        })
    }

    /// Whether the property `uri` (`item:Subject`, `folder:DisplayName`, ...) is to be returned, given the
    /// properties the base shape `Default` includes.
    pub fn wants(&self, uri: &str, in_default: bool) -> bool {
        match self.base {
            BaseShape::AllProperties => true,
            BaseShape::Default if in_default => true,
            _ => self.additional.iter().any(|p| p.uri == uri),
        }
    }

    /// Whether the MIME content is asked for: `IncludeMimeContent` or an explicit `item:MimeContent` path (as
    /// on Exchange, `AllProperties` does not include it).
    pub fn wants_mime(&self) -> bool {
        self.include_mime || self.additional.iter().any(|p| p.uri == "item:MimeContent")
    }

    /// Whether the shape asks for nothing about an item but its id and change key (and perhaps its MIME
    /// content): `IdOnly` without additional or extended properties other than `item:MimeContent`.
    pub fn ids_only(&self) -> bool {
        self.base == BaseShape::IdOnly
            && self.extended.is_empty()
            && self.additional.iter().all(|p| p.uri == "item:MimeContent")
    }

    /// Whether an extended property with this tag was asked for.
    pub fn wants_ext(&self, tag: &str) -> bool {
        self.extended.iter().any(|(t, _)| t == tag)
    }
}

/// The `DayOfWeekType` name of a weekday (MS-OXWSCDATA 2.2.5.x DayOfWeekType), as EWS writes it in
/// recurrence patterns, time zone transitions and working hours.
pub fn weekday_name(d: chrono::Weekday) -> &'static str {
    match d {
        chrono::Weekday::Mon => "Monday",
        chrono::Weekday::Tue => "Tuesday",
        chrono::Weekday::Wed => "Wednesday",
        chrono::Weekday::Thu => "Thursday",
        chrono::Weekday::Fri => "Friday",
        chrono::Weekday::Sat => "Saturday",
        chrono::Weekday::Sun => "Sunday",
    }
}

/// Normalises a property tag to `0x` + 4 lower-case hex digits (the property id).
pub fn normalise_tag(tag: &str) -> String {
    let t = tag.trim();
    let n = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u32::from_str_radix(h, 16).ok()
    } else {
        t.parse::<u32>().ok()
    };
    match n {
        // A full tag (id << 16 | type) is reduced to its id.
        Some(n) if n > 0xffff => format!("0x{:04x}", n >> 16),
        Some(n) => format!("0x{n:04x}"),
        None => t.to_ascii_lowercase(),
    }
}

/// The EWS response code for an error from a lower layer, given what the request was about.
pub fn code_for(e: &Error, not_found: &'static str) -> &'static str {
    match (e.kind, e.source) {
        (Kind::NotFound, _) => not_found,
        (Kind::AccessDenied, _) => "ErrorAccessDenied",
        (Kind::Malformed, Source::Client) => "ErrorInvalidRequest",
        (Kind::NotSupported, _) => "ErrorInvalidOperation",
        (Kind::Conflict, _) => "ErrorIrresolvableConflict",
        (Kind::TooLarge, _) => "ErrorMessageSizeExceeded",
        (Kind::Unavailable, _) => "ErrorMailboxStoreUnavailable",
        (Kind::AuthFailed, _) => "ErrorAccessDenied",
        _ => "ErrorInternalServerError",
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar (H. Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats seconds since the epoch as an xs:dateTime in UTC (`2024-05-01T12:00:00Z`).
pub fn format_datetime(t: i64) -> String {
    let (y, mo, d) = civil(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// Parses an xs:dateTime (`YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]`; no zone = UTC) to seconds since the epoch.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || (b[10] != b'T' && b[10] != b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        rest = &r[n..];
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + se - offset)
}

/// Whether an element is `t:FieldURI` etc. naming `uri`.
pub fn path_uri(el: &Element) -> Option<String> {
    for c in &el.children {
        if c.ns.as_deref() != Some(NS_T) {
            continue;
        }
        match c.name.as_str() {
            "FieldURI" | "IndexedFieldURI" => return c.attr("FieldURI").map(str::to_string),
            "ExtendedFieldURI" => return c.attr("PropertyTag").map(|t| format!("ext:{}", normalise_tag(t))),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes() {
        assert_eq!(format_datetime(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_datetime(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(parse_datetime("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(parse_datetime("2023-11-14T23:13:20.123+01:00"), Some(1_700_000_000));
        assert_eq!(parse_datetime("2023-11-14T22:13:20"), Some(1_700_000_000));
        assert_eq!(
            parse_datetime("2024-02-29T00:00:00Z").map(format_datetime).as_deref(),
            Some("2024-02-29T00:00:00Z")
        );
        assert_eq!(parse_datetime("yesterday"), None);
    }

    #[test]
    fn ids_only_shapes() {
        let shape = |base: BaseShape, uris: &[&str]| Shape {
            base,
            additional: uris.iter().map(|u| PropPath { uri: u.to_string() }).collect(),
            ..Shape::default()
        };
        assert!(shape(BaseShape::IdOnly, &[]).ids_only());
        assert!(shape(BaseShape::IdOnly, &["item:MimeContent"]).ids_only());
        assert!(!shape(BaseShape::IdOnly, &["item:Subject"]).ids_only());
        assert!(!shape(BaseShape::Default, &[]).ids_only());
        assert!(!shape(BaseShape::AllProperties, &[]).ids_only());
        let mut ext = shape(BaseShape::IdOnly, &[]);
        ext.extended.push(("0x1081".into(), "Integer".into()));
        assert!(!ext.ids_only());
    }

    #[test]
    fn tags() {
        assert_eq!(normalise_tag("0x1090"), "0x1090");
        assert_eq!(normalise_tag("4240"), "0x1090");
        assert_eq!(normalise_tag("0x10900003"), "0x1090");
    }
}
