//! vCard ↔ model: 3.0 (RFC 2426) and 4.0 (RFC 6350) read, 3.0 written by default and 4.0 on request, mapped to
//! [`Contact`] following MS-OXVCARD; contact groups as vCard 4.0 `KIND:group` + `MEMBER` and as the 3.0
//! `X-ADDRESSBOOKSERVER-KIND:group` + `X-ADDRESSBOOKSERVER-MEMBER` form (Apple, Radicale, Nextcloud). Sans-IO.

use base64::Engine;
use chrono::NaiveDate;

use super::ical::{Component, Property, escape_text, parse_components, split_unescaped, unescape_text, write_components};
use crate::error::{Backend, Error, Kind, Result};
use crate::model::contact::{
    Address, AddressKind, Contact, ContactGroup, Email, GroupMember, MAX_EMAILS, Phone, PhoneKind, Photo, PostalAddress,
};

pub const PRODID: &str = "-//Viaduc//Viaduc Gateway//EN";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VcardVersion {
    /// vCard 3.0 (RFC 2426), the default: every CardDAV server and client reads it.
    #[default]
    V3,
    /// vCard 4.0 (RFC 6350).
    V4,
}

/// One vCard: a contact or a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Card {
    Contact(Contact),
    Group(ContactGroup),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedCards {
    pub cards: Vec<Card>,
    /// What could not be mapped (more than three e-mail addresses, photos by URL, dates without a year, …).
    pub warnings: Vec<String>,
}

fn malformed(msg: impl Into<String>) -> Error {
    Error::backend(Backend::Dav, Kind::Malformed, msg)
}

// ---------------------------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------------------------

/// Parses one or more vCards.
pub fn parse_vcards(text: &str) -> Result<ParsedCards> {
    let comps = parse_components(text)?;
    let mut out = ParsedCards::default();
    for c in comps.iter().filter(|c| c.name == "VCARD") {
        out.cards.push(read_card(c, &mut out.warnings)?);
    }
    if out.cards.is_empty() {
        return Err(malformed("no VCARD"));
    }
    Ok(out)
}

/// Parses a text that must hold exactly one vCard.
pub fn parse_vcard(text: &str) -> Result<(Card, Vec<String>)> {
    let mut p = parse_vcards(text)?;
    if p.cards.len() != 1 {
        return Err(malformed(format!("{} vCards where one was expected", p.cards.len())));
    }
    Ok((p.cards.remove(0), p.warnings))
}

fn types(p: &Property) -> Vec<String> {
    p.param_values("TYPE").iter().flat_map(|v| v.split(',')).map(|t| t.trim().to_ascii_lowercase()).filter(|t| !t.is_empty()).collect()
}

/// Preference rank: v4 `PREF=n` (1 = most preferred), v3 `TYPE=pref` = 1, none = 100.
fn pref(p: &Property) -> u32 {
    if let Some(n) = p.get_param("PREF").and_then(|v| v.trim().parse::<u32>().ok()) {
        return n;
    }
    if types(p).iter().any(|t| t == "pref") { 1 } else { 100 }
}

/// A property's text value, decoding vCard 2.1 QUOTED-PRINTABLE when it is declared.
fn value_text(p: &Property) -> String {
    if p.get_param("ENCODING").is_some_and(|e| e.eq_ignore_ascii_case("QUOTED-PRINTABLE")) {
        return unescape_text(&decode_qp(&p.value));
    }
    p.text()
}

fn decode_qp(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            if let Ok(x) = u8::from_str_radix(&v[i + 1..i + 3], 16) {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The components of a structured value (N, ADR, ORG), each unescaped.
fn structured(p: &Property) -> Vec<String> {
    let raw = if p.get_param("ENCODING").is_some_and(|e| e.eq_ignore_ascii_case("QUOTED-PRINTABLE")) { decode_qp(&p.value) } else { p.value.clone() };
    split_unescaped(&raw, ';').into_iter().map(|s| unescape_text(&s)).collect()
}

fn non_empty(s: Option<&String>) -> Option<String> {
    s.map(|x| x.trim().to_string()).filter(|x| !x.is_empty())
}

/// A vCard date: `YYYY-MM-DD`, `YYYYMMDD`, optionally followed by a time (`T...`), which is ignored.
fn parse_date(v: &str) -> Option<NaiveDate> {
    let d = v.trim().split('T').next()?;
    NaiveDate::parse_from_str(d, "%Y-%m-%d").or_else(|_| NaiveDate::parse_from_str(d, "%Y%m%d")).ok()
}

fn phone_kind(t: &[String], taken: &[PhoneKind]) -> PhoneKind {
    let has = |x: &str| t.iter().any(|y| y == x);
    let work = has("work");
    let home = has("home");
    if has("fax") {
        return if work {
            PhoneKind::BusinessFax
        } else if home {
            PhoneKind::HomeFax
        } else {
            PhoneKind::OtherFax
        };
    }
    for (ty, k) in [
        ("cell", PhoneKind::Mobile),
        ("pager", PhoneKind::Pager),
        ("car", PhoneKind::Car),
        ("isdn", PhoneKind::Isdn),
        ("textphone", PhoneKind::Tty),
        ("x-tty", PhoneKind::Tty),
        ("x-assistant", PhoneKind::Assistant),
        ("x-callback", PhoneKind::Callback),
        ("x-company", PhoneKind::Company),
        ("x-radio", PhoneKind::Radio),
        ("x-telex", PhoneKind::Telex),
        ("x-other", PhoneKind::Other),
    ] {
        if has(ty) {
            return k;
        }
    }
    if work {
        return if taken.contains(&PhoneKind::Business) { PhoneKind::Business2 } else { PhoneKind::Business };
    }
    if home {
        return if taken.contains(&PhoneKind::Home) { PhoneKind::Home2 } else { PhoneKind::Home };
    }
    if has("pref") || has("x-primary") {
        return PhoneKind::Primary;
    }
    PhoneKind::Other
}

fn read_card(c: &Component, warnings: &mut Vec<String>) -> Result<Card> {
    let uid = c.prop("UID").map(value_text).unwrap_or_default();
    let display_name = c.prop("FN").map(value_text).unwrap_or_default();
    let kind = c.prop("KIND").or_else(|| c.prop("X-ADDRESSBOOKSERVER-KIND")).map(|p| p.value.trim().to_ascii_lowercase());
    let categories: Vec<String> = c
        .props_named("CATEGORIES")
        .flat_map(|p| split_unescaped(&p.value, ',').into_iter().map(|s| unescape_text(&s)))
        .filter(|s| !s.is_empty())
        .collect();
    let notes = c.prop("NOTE").map(value_text);
    if kind.as_deref() == Some("group") {
        let mut members = Vec::new();
        for p in c.props_named("MEMBER").chain(c.props_named("X-ADDRESSBOOKSERVER-MEMBER")) {
            let v = p.value.trim();
            let lower = v.to_ascii_lowercase();
            if lower.starts_with("urn:uuid:") {
                members.push(GroupMember::Contact(v[9..].to_string()));
            } else if lower.starts_with("mailto:") {
                members.push(GroupMember::Email { address: v[7..].to_string(), name: p.get_param("CN").map(str::to_string) });
            } else {
                // RFC 6350 allows any URI; a bare UID is what some servers write.
                members.push(GroupMember::Contact(v.to_string()));
            }
        }
        return Ok(Card::Group(ContactGroup { uid, display_name, members, notes, categories }));
    }
    if let Some(k) = kind.as_deref().filter(|k| *k != "individual") {
        warnings.push(format!("vCard {uid:?}: KIND:{k} read as a contact"));
    }
    let mut ct = Contact { uid: uid.clone(), display_name, notes, categories, ..Default::default() };
    if let Some(n) = c.prop("N") {
        let v = structured(n);
        ct.surname = non_empty(v.first());
        ct.given_name = non_empty(v.get(1));
        ct.middle_name = non_empty(v.get(2));
        ct.prefix = non_empty(v.get(3));
        ct.suffix = non_empty(v.get(4));
    }
    ct.nickname = c.prop("NICKNAME").map(value_text).filter(|s| !s.is_empty());
    if let Some(o) = c.prop("ORG") {
        let v = structured(o);
        ct.company = non_empty(v.first());
        ct.department = non_empty(v.get(1));
        if v.len() > 2 && v[2..].iter().any(|s| !s.is_empty()) {
            // More organisational units than Exchange has fields for: kept in the department.
            ct.department = Some(v[1..].iter().filter(|s| !s.is_empty()).cloned().collect::<Vec<_>>().join("; "));
        }
    }
    ct.job_title = c.prop("TITLE").map(value_text).filter(|s| !s.is_empty());
    // E-mail: preferred first (stable), at most three (EmailAddress1–3).
    let mut emails: Vec<(u32, Email)> = c
        .props_named("EMAIL")
        .map(|p| (pref(p), Email { address: value_text(p).trim().to_string(), display_name: p.get_param("X-DISPLAY-NAME").map(str::to_string) }))
        .filter(|(_, e)| !e.address.is_empty())
        .collect();
    emails.sort_by_key(|(p, _)| *p);
    if emails.len() > MAX_EMAILS {
        let dropped: Vec<String> = emails[MAX_EMAILS..].iter().map(|(_, e)| e.address.clone()).collect();
        warnings.push(format!("vCard {uid:?}: more than {MAX_EMAILS} e-mail addresses, not mapped: {}", dropped.join(", ")));
        emails.truncate(MAX_EMAILS);
    }
    ct.emails = emails.into_iter().map(|(_, e)| e).collect();
    for p in c.props_named("TEL") {
        let number = value_text(p);
        let number = number.strip_prefix("tel:").unwrap_or(&number).trim().to_string();
        if number.is_empty() {
            continue;
        }
        let taken: Vec<PhoneKind> = ct.phones.iter().map(|p| p.kind).collect();
        let kind = phone_kind(&types(p), &taken);
        ct.phones.push(Phone { kind, number });
    }
    for p in c.props_named("ADR") {
        let v = structured(p);
        let t = types(p);
        let kind = if t.iter().any(|x| x == "work") {
            AddressKind::Business
        } else if t.iter().any(|x| x == "home") {
            AddressKind::Home
        } else {
            AddressKind::Other
        };
        let street = match (non_empty(v.get(2)), non_empty(v.get(1))) {
            (Some(s), Some(ext)) => Some(format!("{s}\n{ext}")),
            (s, e) => s.or(e),
        };
        ct.addresses.push(Address {
            kind,
            address: PostalAddress {
                po_box: non_empty(v.first()),
                street,
                city: non_empty(v.get(3)),
                state: non_empty(v.get(4)),
                postal_code: non_empty(v.get(5)),
                country: non_empty(v.get(6)),
            },
        });
    }
    let date_prop = |names: &[&str], warnings: &mut Vec<String>| -> Option<NaiveDate> {
        let p = names.iter().find_map(|n| c.prop(n))?;
        let v = p.value.trim();
        let d = parse_date(v);
        if d.is_none() {
            warnings.push(format!("vCard {uid:?}: {} {v:?} (no year or not a date) not mapped", p.name));
        }
        d
    };
    ct.birthday = date_prop(&["BDAY"], warnings);
    ct.anniversary = date_prop(&["ANNIVERSARY", "X-MS-ANNIVERSARY", "X-ANNIVERSARY", "X-EVOLUTION-ANNIVERSARY"], warnings);
    ct.web_page = c.prop("URL").map(value_text).filter(|s| !s.is_empty());
    if let Some(p) = c.prop("PHOTO") {
        ct.photo = read_photo(p);
        if ct.photo.is_none() {
            warnings.push(format!("vCard {uid:?}: PHOTO by reference or undecodable, not mapped"));
        }
    }
    Ok(Card::Contact(ct))
}

fn read_photo(p: &Property) -> Option<Photo> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let v = p.value.trim();
    if let Some(rest) = v.strip_prefix("data:") {
        // RFC 2397 data URI (vCard 4.0).
        let (meta, data) = rest.split_once(',')?;
        let media_type = meta.split(';').next().filter(|m| !m.is_empty()).unwrap_or("application/octet-stream").to_string();
        if !meta.to_ascii_lowercase().ends_with(";base64") {
            return None;
        }
        return Some(Photo { media_type, data: b64.decode(data.trim()).ok()? });
    }
    let enc = p.get_param("ENCODING").map(str::to_ascii_lowercase);
    if matches!(enc.as_deref(), Some("b") | Some("base64")) {
        let clean: String = v.chars().filter(|c| !c.is_whitespace()).collect();
        let sub = types(p).into_iter().find(|t| !t.is_empty()).unwrap_or_else(|| "jpeg".into());
        let media_type = if sub.contains('/') { sub } else { format!("image/{sub}") };
        return Some(Photo { media_type, data: b64.decode(clean).ok()? });
    }
    None
}

// ---------------------------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------------------------

fn ty(version: VcardVersion, values: &[&str]) -> String {
    match version {
        VcardVersion::V3 => values.iter().map(|v| v.to_ascii_uppercase()).collect::<Vec<_>>().join(","),
        VcardVersion::V4 => values.iter().map(|v| v.to_ascii_lowercase()).collect::<Vec<_>>().join(","),
    }
}

fn structured_value(parts: &[Option<&str>]) -> String {
    parts.iter().map(|p| escape_text(p.unwrap_or(""))).collect::<Vec<_>>().join(";")
}

fn phone_types(k: PhoneKind) -> &'static [&'static str] {
    match k {
        PhoneKind::Business | PhoneKind::Business2 => &["work", "voice"],
        PhoneKind::BusinessFax => &["work", "fax"],
        PhoneKind::Home | PhoneKind::Home2 => &["home", "voice"],
        PhoneKind::HomeFax => &["home", "fax"],
        PhoneKind::Mobile => &["cell", "voice"],
        PhoneKind::Pager => &["pager"],
        PhoneKind::Car => &["car", "voice"],
        PhoneKind::Assistant => &["x-assistant", "voice"],
        PhoneKind::Callback => &["x-callback", "voice"],
        PhoneKind::Company => &["x-company", "voice"],
        PhoneKind::Isdn => &["isdn"],
        PhoneKind::OtherFax => &["fax"],
        PhoneKind::Radio => &["x-radio", "voice"],
        PhoneKind::Telex => &["x-telex"],
        PhoneKind::Tty => &["textphone"],
        PhoneKind::Primary => &["x-primary", "voice"],
        PhoneKind::Other => &["x-other", "voice"],
    }
}

fn begin(version: VcardVersion, uid: &str, display_name: &str) -> Component {
    let mut c = Component::new("VCARD");
    c.push(Property::new("VERSION", if version == VcardVersion::V4 { "4.0" } else { "3.0" }));
    c.push(Property::new("PRODID", PRODID));
    c.push(Property::new("UID", escape_text(uid)));
    c.push(Property::new("FN", escape_text(display_name)));
    c
}

fn push_common(c: &mut Component, notes: &Option<String>, categories: &[String]) {
    if let Some(n) = notes {
        c.push(Property::new("NOTE", escape_text(n)));
    }
    if !categories.is_empty() {
        c.push(Property::new("CATEGORIES", categories.iter().map(|s| escape_text(s)).collect::<Vec<_>>().join(",")));
    }
}

/// Writes a contact as a vCard of the given version.
pub fn write_contact(ct: &Contact, version: VcardVersion) -> String {
    let v4 = version == VcardVersion::V4;
    let mut c = begin(version, &ct.uid, &ct.display_name);
    c.push(Property::new(
        "N",
        structured_value(&[
            ct.surname.as_deref(),
            ct.given_name.as_deref(),
            ct.middle_name.as_deref(),
            ct.prefix.as_deref(),
            ct.suffix.as_deref(),
        ]),
    ));
    if let Some(n) = &ct.nickname {
        c.push(Property::new("NICKNAME", escape_text(n)));
    }
    if ct.company.is_some() || ct.department.is_some() {
        let mut parts = vec![ct.company.as_deref()];
        if ct.department.is_some() {
            parts.push(ct.department.as_deref());
        }
        c.push(Property::new("ORG", structured_value(&parts)));
    }
    if let Some(t) = &ct.job_title {
        c.push(Property::new("TITLE", escape_text(t)));
    }
    for (i, e) in ct.emails.iter().take(MAX_EMAILS).enumerate() {
        let mut p = Property::new("EMAIL", escape_text(&e.address));
        if v4 {
            p = p.param("TYPE", "internet").param("PREF", (i + 1).to_string());
        } else {
            p = p.param("TYPE", if i == 0 { "INTERNET,PREF" } else { "INTERNET" });
        }
        if let Some(n) = &e.display_name {
            p = p.param("X-DISPLAY-NAME", n.clone());
        }
        c.push(p);
    }
    for ph in &ct.phones {
        c.push(Property::new("TEL", escape_text(&ph.number)).param("TYPE", ty(version, phone_types(ph.kind))));
    }
    for a in &ct.addresses {
        let t = match a.kind {
            AddressKind::Business => "work",
            AddressKind::Home => "home",
            AddressKind::Other => "x-other",
        };
        let x = &a.address;
        c.push(
            Property::new(
                "ADR",
                structured_value(&[
                    x.po_box.as_deref(),
                    None,
                    x.street.as_deref(),
                    x.city.as_deref(),
                    x.state.as_deref(),
                    x.postal_code.as_deref(),
                    x.country.as_deref(),
                ]),
            )
            .param("TYPE", ty(version, &[t])),
        );
    }
    if let Some(b) = ct.birthday {
        c.push(Property::new("BDAY", if v4 { b.format("%Y%m%d") } else { b.format("%Y-%m-%d") }.to_string()));
    }
    if let Some(a) = ct.anniversary {
        if v4 {
            c.push(Property::new("ANNIVERSARY", a.format("%Y%m%d").to_string()));
        } else {
            c.push(Property::new("X-MS-ANNIVERSARY", a.format("%Y-%m-%d").to_string()));
            c.push(Property::new("X-ANNIVERSARY", a.format("%Y-%m-%d").to_string()));
        }
    }
    if let Some(u) = &ct.web_page {
        c.push(Property::new("URL", u.clone()));
    }
    push_common(&mut c, &ct.notes, &ct.categories);
    if let Some(ph) = &ct.photo {
        let data = base64::engine::general_purpose::STANDARD.encode(&ph.data);
        if v4 {
            c.push(Property::new("PHOTO", format!("data:{};base64,{data}", ph.media_type)));
        } else {
            let sub = ph.media_type.split('/').nth(1).unwrap_or("jpeg").to_ascii_uppercase();
            c.push(Property::new("PHOTO", data).param("ENCODING", "b").param("TYPE", sub));
        }
    }
    write_components(&[c])
}

/// Writes a contact group: `KIND:group` + `MEMBER` (4.0) or the `X-ADDRESSBOOKSERVER-*` form (3.0).
pub fn write_group(g: &ContactGroup, version: VcardVersion) -> String {
    let v4 = version == VcardVersion::V4;
    let mut c = begin(version, &g.uid, &g.display_name);
    if v4 {
        c.push(Property::new("KIND", "group"));
    } else {
        c.push(Property::new("N", structured_value(&[Some(&g.display_name), None, None, None, None])));
        c.push(Property::new("X-ADDRESSBOOKSERVER-KIND", "group"));
    }
    let name = if v4 { "MEMBER" } else { "X-ADDRESSBOOKSERVER-MEMBER" };
    for m in &g.members {
        match m {
            GroupMember::Contact(uid) => c.push(Property::new(name, format!("urn:uuid:{uid}"))),
            GroupMember::Email { address, name: cn } => {
                let mut p = Property::new(name, format!("mailto:{address}"));
                if let Some(n) = cn {
                    p = p.param("CN", n.clone());
                }
                c.push(p);
            }
        }
    }
    push_common(&mut c, &g.notes, &g.categories);
    write_components(&[c])
}

/// Writes either kind of card.
pub fn write_card(card: &Card, version: VcardVersion) -> String {
    match card {
        Card::Contact(c) => write_contact(c, version),
        Card::Group(g) => write_group(g, version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_types_read_back_to_their_kind() {
        for k in PhoneKind::ALL {
            let t: Vec<String> = phone_types(k).iter().map(|s| s.to_string()).collect();
            let taken: Vec<PhoneKind> = match k {
                PhoneKind::Business2 => vec![PhoneKind::Business],
                PhoneKind::Home2 => vec![PhoneKind::Home],
                _ => vec![],
            };
            assert_eq!(phone_kind(&t, &taken), k);
        }
        assert_eq!(phone_kind(&["work".into(), "voice".into(), "pref".into()], &[]), PhoneKind::Business);
        assert_eq!(phone_kind(&["cell".into(), "pref".into()], &[]), PhoneKind::Mobile);
        assert_eq!(phone_kind(&["voice".into()], &[]), PhoneKind::Other);
    }

    #[test]
    fn vcard21_quoted_printable_and_bare_types() {
        let text = "BEGIN:VCARD\r\nVERSION:2.1\r\nN;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen\r\nFN:J\r\nTEL;WORK;VOICE:+49 1\r\nEND:VCARD\r\n";
        let (card, _) = parse_vcard(text).unwrap();
        let Card::Contact(c) = card else { panic!() };
        assert_eq!(c.surname.as_deref(), Some("Müller"));
        assert_eq!(c.given_name.as_deref(), Some("Jürgen"));
        assert_eq!(c.phone(PhoneKind::Business), Some("+49 1"));
    }
}
