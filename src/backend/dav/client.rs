//! The CalDAV/CardDAV client Viaduc uses to read and write a user's calendars, task lists and address books
//! (RFC 4918 WebDAV, RFC 4791 CalDAV, RFC 6352 CardDAV, RFC 6578 sync-collection, RFC 5689 extended MKCOL).
//!
//! Every request is authenticated as the user (HTTP Basic with the principal's login and password). One
//! [`DavClient`] holds one `reqwest` client, so connections are pooled across users and requests.
//!
//! The multistatus parsing is pure (bytes in, typed values out) and bounded; it is tested with bodies recorded
//! from Radicale in `protocol-fixtures/dav/`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use reqwest::StatusCode;

use super::{NS_CALDAV, NS_CARDDAV, NS_DAV, parse_principal_multistatus};
use crate::auth::Principal;
use crate::config::DavConfig;
use crate::error::{Backend, Error, Kind, Result};
use crate::xml::{escape, resolve_reference};

const NS_CALSERVER: &[u8] = b"http://calendarserver.org/ns/";
const NS_APPLE_ICAL: &[u8] = b"http://apple.com/ns/ical/";

/// Largest response body read (a whole calendar in one REPORT can be big, but not unbounded).
pub const MAX_BODY: usize = 64 * 1024 * 1024;
/// Most `response` elements accepted in one multistatus.
const MAX_RESPONSES: usize = 200_000;
/// Deepest XML nesting accepted.
const MAX_DEPTH: usize = 64;
/// Hrefs per multiget request.
const MULTIGET_BATCH: usize = 200;
/// How long discovered homes are reused.
const HOMES_TTL: Duration = Duration::from_secs(600);
const HOMES_CACHE_MAX: usize = 4096;

// ---------------------------------------------------------------------------------------------------------------
// Typed values
// ---------------------------------------------------------------------------------------------------------------

/// Where a user's data lives on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Homes {
    pub principal: String,
    pub calendar_home: Option<String>,
    pub addressbook_home: Option<String>,
}

/// A calendar component type a calendar collection may hold (RFC 4791 5.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CalComponent {
    Event,
    Todo,
    Journal,
}

impl CalComponent {
    pub fn as_str(self) -> &'static str {
        match self {
            CalComponent::Event => "VEVENT",
            CalComponent::Todo => "VTODO",
            CalComponent::Journal => "VJOURNAL",
        }
    }
    pub fn parse(s: &str) -> Option<CalComponent> {
        match s.trim().to_ascii_uppercase().as_str() {
            "VEVENT" => Some(CalComponent::Event),
            "VTODO" => Some(CalComponent::Todo),
            "VJOURNAL" => Some(CalComponent::Journal),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectionKind {
    /// A calendar collection; `components` from supported-calendar-component-set (all of VEVENT, VTODO and
    /// VJOURNAL when the server does not say).
    Calendar {
        components: Vec<CalComponent>,
    },
    AddressBook,
}

/// A calendar or address book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    /// Path of the collection, with its trailing slash, as the server gave it.
    pub href: String,
    pub display_name: Option<String>,
    pub kind: CollectionKind,
    /// CalendarServer getctag: changes whenever anything in the collection changes.
    pub ctag: Option<String>,
    /// RFC 6578 sync token of the collection.
    pub sync_token: Option<String>,
    /// Apple calendar-color (`#rrggbb` or `#rrggbbaa`).
    pub color: Option<String>,
    /// The user may not write into it (current-user-privilege-set lacks write, write-content and all).
    pub read_only: bool,
}

impl Collection {
    pub fn holds(&self, c: CalComponent) -> bool {
        matches!(&self.kind, CollectionKind::Calendar { components } if components.contains(&c))
    }
}

/// A calendar object resource or vCard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavObject {
    pub href: String,
    /// The entity tag, with its quotes, as the server sent it.
    pub etag: Option<String>,
    pub data: String,
}

/// What a REPORT or multiget asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Calendar,
    AddressBook,
}

/// The precondition of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// No precondition: overwrite whatever is there.
    Any,
    /// `If-Match: <etag>`: only if unchanged since the client read it.
    Etag(String),
    /// `If-None-Match: *`: only create, never overwrite.
    None,
}

/// The result of a sync-collection REPORT (RFC 6578) or of its fallback.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncResult {
    /// The token for the next round; `None` when the server cannot sync (then every round is a full listing).
    pub new_token: Option<String>,
    /// Members added or changed since the token, with their etags.
    pub changed: Vec<(String, String)>,
    /// Members removed since the token.
    pub deleted: Vec<String>,
    /// `changed` lists every member (initial sync or fallback listing): members the caller knows that are
    /// not listed were deleted.
    pub full: bool,
    /// The server truncated the result (507 on the collection): ask again with `new_token`.
    pub truncated: bool,
}

// ---------------------------------------------------------------------------------------------------------------
// Generic multistatus parsing
// ---------------------------------------------------------------------------------------------------------------

/// An element nested inside a property value (e.g. `<C:calendar/>` inside `resourcetype`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropChild {
    pub ns: Vec<u8>,
    pub name: String,
    /// The `name` attribute (`<C:comp name="VEVENT"/>`).
    pub name_attr: Option<String>,
}

/// One property as returned in a propstat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prop {
    pub ns: Vec<u8>,
    pub name: String,
    /// The property's own text (calendar-data, getetag, displayname...), untrimmed.
    pub text: String,
    /// The text of every `DAV:href` inside the property.
    pub hrefs: Vec<String>,
    pub children: Vec<PropChild>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Propstat {
    pub status: u16,
    pub props: Vec<Prop>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DavResponse {
    pub href: String,
    /// The response's own status (members reported without properties: 404 in sync-collection and multiget).
    pub status: Option<u16>,
    pub propstats: Vec<Propstat>,
}

impl DavResponse {
    /// A property found in a 2xx propstat.
    pub fn prop(&self, ns: &[u8], name: &str) -> Option<&Prop> {
        self.propstats
            .iter()
            .filter(|ps| (200..300).contains(&ps.status))
            .flat_map(|ps| ps.props.iter())
            .find(|p| p.ns == ns && p.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Multistatus {
    pub responses: Vec<DavResponse>,
    /// The top-level `DAV:sync-token` (sync-collection).
    pub sync_token: Option<String>,
}

fn malformed(msg: impl Into<String>) -> Error {
    Error::backend(Backend::Dav, Kind::Refused, msg)
}

/// `HTTP/1.1 200 OK` → 200.
fn status_code(line: &str) -> Option<u16> {
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Parses a `DAV:multistatus` body (RFC 4918 14.16) into responses, propstats and properties.
pub fn parse_multistatus(body: &[u8]) -> Result<Multistatus> {
    let text = std::str::from_utf8(body).map_err(|_| malformed("multistatus is not UTF-8"))?;
    let mut reader = NsReader::from_str(text);
    let mut out = Multistatus::default();
    // (namespace, local name) of every open element, with the text collected directly inside it.
    let mut stack: Vec<(Vec<u8>, String)> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    let mut cur: Option<DavResponse> = None;
    let mut cur_ps: Option<Propstat> = None;
    let mut cur_prop: Option<Prop> = None;
    let mut saw_root = false;
    loop {
        let (ns, ev) = reader.read_resolved_event().map_err(|e| malformed(format!("bad multistatus XML: {e}")))?;
        let ns = match ns {
            ResolveResult::Bound(n) => n.into_inner().as_bytes().to_vec(),
            _ => Vec::new(),
        };
        let (start, empty) = match &ev {
            Event::Start(e) => (Some(e), false),
            Event::Empty(e) => (Some(e), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            let name = e.local_name().into_inner().to_string();
            let depth = stack.len();
            if depth == 0 {
                if ns != NS_DAV || name != "multistatus" {
                    return Err(malformed(format!("expected DAV:multistatus, got {name}")));
                }
                saw_root = true;
            }
            let parent = stack.last().map(|(n, l)| (n.as_slice(), l.as_str()));
            let is_dav = ns == NS_DAV;
            match (depth, parent) {
                (1, _) if is_dav && name == "response" => {
                    if out.responses.len() >= MAX_RESPONSES {
                        return Err(Error::backend(Backend::Dav, Kind::TooLarge, "too many responses in multistatus"));
                    }
                    cur = Some(DavResponse::default());
                }
                (2, Some((NS_DAV, "response"))) if is_dav && name == "propstat" => {
                    cur_ps = Some(Propstat { status: 0, props: Vec::new() });
                }
                (4, Some((NS_DAV, "prop"))) if cur_ps.is_some() => {
                    cur_prop = Some(Prop {
                        ns: ns.clone(),
                        name: name.clone(),
                        text: String::new(),
                        hrefs: Vec::new(),
                        children: Vec::new(),
                    });
                }
                (d, _) if d > 4 => {
                    if let Some(p) = cur_prop.as_mut()
                        && !(is_dav && name == "href")
                        && p.children.len() < 10_000
                    {
                        let name_attr =
                            e.attributes().flatten().find(|a| a.key.local_name().into_inner() == "name").and_then(
                                |a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok().map(|v| v.into_owned()),
                            );
                        p.children.push(PropChild { ns: ns.clone(), name: name.clone(), name_attr });
                    }
                }
                _ => {}
            }
            if empty {
                // An empty property (`<displayname/>`) is complete at once.
                if depth == 4
                    && let (Some(p), Some(ps)) = (cur_prop.take(), cur_ps.as_mut())
                {
                    ps.props.push(p);
                }
            } else {
                stack.push((ns, name));
                texts.push(String::new());
                if stack.len() > MAX_DEPTH {
                    return Err(malformed("multistatus nested too deeply"));
                }
            }
            continue;
        }
        match ev {
            Event::Text(t) => {
                if let Some(s) = texts.last_mut() {
                    s.push_str(&t.into_inner());
                }
            }
            Event::CData(t) => {
                if let Some(s) = texts.last_mut() {
                    s.push_str(&t.into_inner());
                }
            }
            Event::GeneralRef(r) => {
                let v = resolve_reference(&r).ok_or_else(|| malformed("unknown entity in multistatus"))?;
                if let Some(s) = texts.last_mut() {
                    s.push_str(&v);
                }
            }
            Event::End(_) => {
                let Some((ens, ename)) = stack.pop() else { return Err(malformed("unbalanced multistatus")) };
                let text = texts.pop().unwrap_or_default();
                let depth = stack.len();
                let parent = stack.last().map(|(n, l)| (n.as_slice(), l.as_str()));
                let is_dav = ens == NS_DAV;
                match (depth, parent) {
                    (1, _) if is_dav && ename == "response" => {
                        if let Some(r) = cur.take() {
                            out.responses.push(r);
                        }
                    }
                    (1, _) if is_dav && ename == "sync-token" => out.sync_token = Some(text.trim().to_string()),
                    (2, Some((NS_DAV, "response"))) if is_dav => match ename.as_str() {
                        "href" => {
                            if let Some(r) = cur.as_mut()
                                && r.href.is_empty()
                            {
                                r.href = text.trim().to_string();
                            }
                        }
                        "status" => {
                            if let Some(r) = cur.as_mut() {
                                r.status = status_code(&text);
                            }
                        }
                        "propstat" => {
                            if let (Some(ps), Some(r)) = (cur_ps.take(), cur.as_mut()) {
                                r.propstats.push(ps);
                            }
                        }
                        _ => {}
                    },
                    (3, Some((NS_DAV, "propstat"))) if is_dav && ename == "status" => {
                        if let Some(ps) = cur_ps.as_mut() {
                            ps.status = status_code(&text).unwrap_or(0);
                        }
                    }
                    (4, Some((NS_DAV, "prop"))) => {
                        if let Some(mut p) = cur_prop.take() {
                            p.text = text;
                            if let Some(ps) = cur_ps.as_mut() {
                                ps.props.push(p);
                            }
                        }
                    }
                    (d, _) if d > 4 && is_dav && ename == "href" => {
                        if let Some(p) = cur_prop.as_mut()
                            && p.hrefs.len() < 10_000
                        {
                            p.hrefs.push(text.trim().to_string());
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root || !stack.is_empty() {
        return Err(malformed("truncated multistatus"));
    }
    Ok(out)
}

/// The precondition/postcondition elements of a `DAV:error` body (RFC 4918 16), as (namespace, name).
pub fn parse_error_body(body: &[u8]) -> Vec<(Vec<u8>, String)> {
    let Ok(text) = std::str::from_utf8(body) else { return Vec::new() };
    let mut reader = NsReader::from_str(text);
    let mut depth = 0usize;
    let mut in_error = false;
    let mut out = Vec::new();
    while let Ok((ns, ev)) = reader.read_resolved_event() {
        let ns = match ns {
            ResolveResult::Bound(n) => n.into_inner().as_bytes().to_vec(),
            _ => Vec::new(),
        };
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) if depth <= 1 => {
                let name = e.local_name().into_inner().to_string();
                let is_start = matches!(ev, Event::Start(_));
                if depth == 0 {
                    in_error = ns == NS_DAV && name == "error";
                } else if in_error && out.len() < 32 {
                    out.push((ns, name));
                }
                if is_start {
                    depth += 1;
                }
            }
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// Decodes `%XX` escapes (for comparing hrefs; invalid escapes are kept as they are).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = ((b[i + 1] as char).to_digit(16), (b[i + 2] as char).to_digit(16))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path of an href (an absolute URL loses its scheme and authority).
pub fn href_path(href: &str) -> &str {
    if let Some(i) = href.find("://") {
        let rest = &href[i + 3..];
        return rest.find('/').map(|j| &rest[j..]).unwrap_or("/");
    }
    href
}

/// Whether two hrefs name the same resource (percent-encoding, absolute form and trailing slash aside).
/// Splits an object's href into its collection's path (with the trailing slash) and the resource name.
pub fn split_href(href: &str) -> (String, String) {
    let path = href_path(href);
    match path.rfind('/') {
        Some(i) => (path[..=i].to_string(), path[i + 1..].to_string()),
        None => (String::new(), path.to_string()),
    }
}

pub fn same_href(a: &str, b: &str) -> bool {
    let a = percent_decode(href_path(a));
    let b = percent_decode(href_path(b));
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Percent-encodes one path segment (RFC 3986 unreserved characters stay as they are).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The href for a new object named after `uid` in `collection` (`ext` such as `ics` or `vcf`).
pub fn object_href(collection: &str, uid: &str, ext: &str) -> String {
    let base = if collection.ends_with('/') { collection.to_string() } else { format!("{collection}/") };
    format!("{base}{}.{ext}", encode_segment(uid))
}

/// Calendars and address books among the members of a home (PROPFIND Depth 1).
pub fn parse_collections(body: &[u8]) -> Result<Vec<Collection>> {
    let ms = parse_multistatus(body)?;
    let mut out = Vec::new();
    for r in &ms.responses {
        let Some(rt) = r.prop(NS_DAV, "resourcetype") else { continue };
        let has = |ns: &[u8], n: &str| rt.children.iter().any(|c| c.ns == ns && c.name == n);
        let kind = if has(NS_CALDAV, "calendar") {
            let mut components: Vec<CalComponent> = r
                .prop(NS_CALDAV, "supported-calendar-component-set")
                .map(|p| {
                    p.children
                        .iter()
                        .filter(|c| c.ns == NS_CALDAV && c.name == "comp")
                        .filter_map(|c| c.name_attr.as_deref().and_then(CalComponent::parse))
                        .collect()
                })
                .unwrap_or_default();
            if components.is_empty() {
                components = vec![CalComponent::Event, CalComponent::Todo, CalComponent::Journal];
            }
            CollectionKind::Calendar { components }
        } else if has(NS_CARDDAV, "addressbook") {
            CollectionKind::AddressBook
        } else {
            continue;
        };
        let text = |ns: &[u8], n: &str| r.prop(ns, n).map(|p| p.text.trim().to_string()).filter(|s| !s.is_empty());
        let read_only = match r.prop(NS_DAV, "current-user-privilege-set") {
            Some(p) => !p
                .children
                .iter()
                .any(|c| c.ns == NS_DAV && matches!(c.name.as_str(), "write" | "write-content" | "all" | "bind")),
            None => false,
        };
        out.push(Collection {
            href: r.href.clone(),
            display_name: text(NS_DAV, "displayname"),
            kind,
            ctag: text(NS_CALSERVER, "getctag"),
            sync_token: text(NS_DAV, "sync-token"),
            color: text(NS_APPLE_ICAL, "calendar-color"),
            read_only,
        });
    }
    Ok(out)
}

/// Objects with their data (calendar-query, addressbook-query, multiget). Members reported missing are skipped.
pub fn parse_objects(body: &[u8]) -> Result<Vec<DavObject>> {
    let ms = parse_multistatus(body)?;
    let mut out = Vec::new();
    for r in &ms.responses {
        let data = r.prop(NS_CALDAV, "calendar-data").or_else(|| r.prop(NS_CARDDAV, "address-data"));
        let Some(data) = data else { continue };
        out.push(DavObject {
            href: r.href.clone(),
            etag: r.prop(NS_DAV, "getetag").map(|p| p.text.trim().to_string()).filter(|s| !s.is_empty()),
            data: data.text.clone(),
        });
    }
    Ok(out)
}

/// Members with their etags (PROPFIND Depth 1 getetag), without the collection itself and sub-collections.
pub fn parse_etags(body: &[u8], collection: &str) -> Result<Vec<(String, String)>> {
    let ms = parse_multistatus(body)?;
    let mut out = Vec::new();
    for r in &ms.responses {
        if same_href(&r.href, collection) {
            continue;
        }
        if r.prop(NS_DAV, "resourcetype")
            .is_some_and(|p| p.children.iter().any(|c| c.ns == NS_DAV && c.name == "collection"))
        {
            continue;
        }
        if let Some(e) = r.prop(NS_DAV, "getetag") {
            out.push((r.href.clone(), e.text.trim().to_string()));
        }
    }
    Ok(out)
}

/// A sync-collection multistatus (RFC 6578 3.5).
pub fn parse_sync(body: &[u8], collection: &str) -> Result<SyncResult> {
    let ms = parse_multistatus(body)?;
    let mut out = SyncResult { new_token: ms.sync_token.clone().filter(|t| !t.is_empty()), ..Default::default() };
    for r in &ms.responses {
        if same_href(&r.href, collection) {
            if r.status == Some(507) {
                out.truncated = true;
            }
            continue;
        }
        if r.status == Some(404) {
            out.deleted.push(r.href.clone());
            continue;
        }
        match r.prop(NS_DAV, "getetag") {
            Some(e) => out.changed.push((r.href.clone(), e.text.trim().to_string())),
            None if r.propstats.iter().any(|ps| ps.status == 404) && r.propstats.iter().all(|ps| ps.status >= 400) => {
                out.deleted.push(r.href.clone())
            }
            None => {}
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------------------------------------------

const COLLECTIONS_PROPFIND: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/" xmlns:ic="http://apple.com/ns/ical/">
  <d:prop><d:resourcetype/><d:displayname/><c:supported-calendar-component-set/><d:sync-token/><cs:getctag/><ic:calendar-color/><d:current-user-privilege-set/></d:prop>
</d:propfind>"#;

const ETAG_PROPFIND: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:resourcetype/></d:prop></d:propfind>"#;

const HOMES_PROPFIND: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:a="urn:ietf:params:xml:ns:carddav">
  <d:prop><d:current-user-principal/><c:calendar-home-set/><a:addressbook-home-set/></d:prop>
</d:propfind>"#;

fn ical_utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// REPORT calendar-query for one component type, optionally limited to a time range (RFC 4791 7.8).
pub fn calendar_query_body(component: CalComponent, time_range: Option<(DateTime<Utc>, DateTime<Utc>)>) -> String {
    let range = match time_range {
        Some((s, e)) => format!(r#"<c:time-range start="{}" end="{}"/>"#, ical_utc(s), ical_utc(e)),
        None => String::new(),
    };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:getetag/><c:calendar-data/></d:prop>
  <c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="{}">{range}</c:comp-filter></c:comp-filter></c:filter>
</c:calendar-query>"#,
        component.as_str()
    )
}

/// REPORT calendar-query for the events whose UID contains `uid` (RFC 4791 9.7.5 text-match is a substring
/// match: callers compare the UIDs of what comes back).
pub fn uid_query_body(uid: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:getetag/><c:calendar-data/></d:prop>
  <c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:prop-filter name="UID"><c:text-match collation="i;octet">{}</c:text-match></c:prop-filter></c:comp-filter></c:comp-filter></c:filter>
</c:calendar-query>"#,
        escape(uid)
    )
}

/// Whether a `DAV` response header (RFC 4918 10.1) announces RFC 6638 implicit scheduling
/// (`calendar-auto-schedule`, RFC 6638 2).
pub fn dav_header_auto_schedule(values: &[&str]) -> bool {
    values.iter().flat_map(|v| v.split(',')).any(|t| t.trim().eq_ignore_ascii_case("calendar-auto-schedule"))
}

fn multiget_body(kind: ObjectKind, hrefs: &[String]) -> String {
    let (root, ns, data) = match kind {
        ObjectKind::Calendar => ("calendar-multiget", "urn:ietf:params:xml:ns:caldav", "calendar-data"),
        ObjectKind::AddressBook => ("addressbook-multiget", "urn:ietf:params:xml:ns:carddav", "address-data"),
    };
    let mut s = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<x:{root} xmlns:d="DAV:" xmlns:x="{ns}"><d:prop><d:getetag/><x:{data}/></d:prop>"#
    );
    for h in hrefs {
        s.push_str(&format!("<d:href>{}</d:href>", escape(h)));
    }
    s.push_str(&format!("</x:{root}>"));
    s
}

fn sync_body(token: Option<&str>) -> String {
    let token = match token {
        Some(t) => format!("<d:sync-token>{}</d:sync-token>", escape(t)),
        None => "<d:sync-token/>".to_string(),
    };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<d:sync-collection xmlns:d="DAV:">{token}<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
    )
}

// ---------------------------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------------------------

/// A CalDAV/CardDAV client for every user of one server.
pub struct DavClient {
    http: reqwest::Client,
    base_url: String,
    homes: Mutex<HashMap<String, (Instant, Homes)>>,
    /// Whether the server schedules itself (RFC 6638), as last seen, and when.
    auto_schedule: Mutex<Option<(Instant, bool)>>,
}

struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

fn method(name: &str) -> reqwest::Method {
    reqwest::Method::from_bytes(name.as_bytes()).unwrap_or(reqwest::Method::GET)
}

/// Maps an unexpected HTTP status to an error.
fn status_error(what: &str, status: StatusCode) -> Error {
    let kind = match status.as_u16() {
        401 => Kind::AuthFailed,
        403 => Kind::AccessDenied,
        404 | 410 => Kind::NotFound,
        409 | 412 => Kind::Conflict,
        413 | 507 => Kind::TooLarge,
        415 | 422 => Kind::Malformed,
        501 => Kind::NotSupported,
        502..=504 => Kind::Unavailable,
        _ => Kind::Refused,
    };
    Error::backend(Backend::Dav, kind, format!("{what}: HTTP {status}"))
}

impl DavClient {
    pub fn new(config: &DavConfig) -> Result<DavClient> {
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            .connect_timeout(Duration::from_secs(config.timeout_secs.clamp(1, 30)))
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(32)
            .redirect(reqwest::redirect::Policy::limited(5));
        if let Some(ca) = &config.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| Error::backend(Backend::Dav, Kind::Other, format!("{}: {e}", ca.display())))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| Error::backend(Backend::Dav, Kind::Other, format!("{}: {e}", ca.display())))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| Error::internal(format!("HTTP client: {e}")))?;
        Ok(DavClient {
            http,
            base_url: config.base_url.clone(),
            homes: Mutex::new(HashMap::new()),
            auto_schedule: Mutex::new(None),
        })
    }

    /// The absolute URL of an href (a path is resolved against the server's origin).
    pub fn url(&self, href: &str) -> String {
        if href.starts_with("http://") || href.starts_with("https://") {
            return href.to_string();
        }
        let base = &self.base_url;
        let origin_end =
            base.find("://").map(|i| i + 3).and_then(|s| base[s..].find('/').map(|j| s + j)).unwrap_or(base.len());
        format!("{}{}", &base[..origin_end], href)
    }

    async fn request(
        &self,
        p: &Principal,
        m: &str,
        href: &str,
        depth: Option<&str>,
        headers: &[(&str, String)],
        body: Option<(&str, String)>,
    ) -> Result<Reply> {
        let url = self.url(href);
        let mut rq = self.http.request(method(m), &url).basic_auth(&p.login, Some(p.password()));
        if let Some(d) = depth {
            rq = rq.header("Depth", d);
        }
        for (k, v) in headers {
            rq = rq.header(*k, v.as_str());
        }
        if let Some((ctype, b)) = body {
            rq = rq.header("Content-Type", ctype).body(b);
        }
        let unavailable = |e: reqwest::Error| Error::unavailable(Backend::Dav, format!("{m} {url}: {e}"));
        let mut resp = rq.send().await.map_err(unavailable)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        if resp.content_length().is_some_and(|n| n as usize > MAX_BODY) {
            return Err(Error::backend(Backend::Dav, Kind::TooLarge, format!("{m} {url}: response too large")));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(unavailable)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(Error::backend(Backend::Dav, Kind::TooLarge, format!("{m} {url}: response too large")));
            }
            body.extend_from_slice(&chunk);
        }
        if status == StatusCode::UNAUTHORIZED {
            return Err(Error::backend(Backend::Dav, Kind::AuthFailed, format!("{m} {url}: credentials refused")));
        }
        Ok(Reply { status, headers, body })
    }

    /// A PROPFIND with the given depth and body; the caller reads the status (a missing resource is not an error
    /// for every caller).
    async fn propfind(&self, p: &Principal, href: &str, depth: &str, body: &str) -> Result<Reply> {
        self.request(p, "PROPFIND", href, Some(depth), &[], Some(("application/xml; charset=utf-8", body.to_string())))
            .await
    }

    async fn multistatus_request(
        &self,
        p: &Principal,
        m: &str,
        href: &str,
        depth: &str,
        body: String,
    ) -> Result<Vec<u8>> {
        let r = self.request(p, m, href, Some(depth), &[], Some(("application/xml; charset=utf-8", body))).await?;
        if r.status != StatusCode::MULTI_STATUS {
            return Err(status_error(&format!("{m} {href}"), r.status));
        }
        Ok(r.body)
    }

    /// The user's principal and homes, from a PROPFIND on the base URL (then on the principal when the homes
    /// are not given there). Remembered per login for a few minutes.
    pub async fn discover(&self, p: &Principal) -> Result<Homes> {
        let key = p.login.to_ascii_lowercase();
        if let Ok(cache) = self.homes.lock()
            && let Some((at, h)) = cache.get(&key)
            && at.elapsed() < HOMES_TTL
        {
            return Ok(h.clone());
        }
        let base = href_path(&self.base_url).to_string();
        let body = self.multistatus_request(p, "PROPFIND", &base, "0", HOMES_PROPFIND.to_string()).await?;
        let mut info = parse_principal_multistatus(&body)?;
        let principal = info.principal.clone().ok_or_else(|| {
            Error::backend(Backend::Dav, Kind::NotSupported, "server does not name the user's principal")
        })?;
        if info.calendar_home.is_none() && info.addressbook_home.is_none() {
            let body = self.multistatus_request(p, "PROPFIND", &principal, "0", HOMES_PROPFIND.to_string()).await?;
            info = parse_principal_multistatus(&body)?;
        }
        let homes = Homes {
            principal,
            calendar_home: info.calendar_home.map(|h| href_path(&h).to_string()),
            addressbook_home: info.addressbook_home.map(|h| href_path(&h).to_string()),
        };
        if let Ok(mut cache) = self.homes.lock() {
            if cache.len() >= HOMES_CACHE_MAX {
                cache.retain(|_, (at, _)| at.elapsed() < HOMES_TTL);
                if cache.len() >= HOMES_CACHE_MAX {
                    cache.clear();
                }
            }
            cache.insert(key, (Instant::now(), homes.clone()));
        }
        Ok(homes)
    }

    /// Forgets the cached homes of a user (after an authentication failure or a server change).
    pub fn forget(&self, p: &Principal) {
        if let Ok(mut cache) = self.homes.lock() {
            cache.remove(&p.login.to_ascii_lowercase());
        }
    }

    /// The user's calendars and address books (PROPFIND Depth 1 on each home).
    pub async fn list_collections(&self, p: &Principal) -> Result<Vec<Collection>> {
        let homes = self.discover(p).await?;
        let mut out: Vec<Collection> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for home in [homes.calendar_home.as_deref(), homes.addressbook_home.as_deref()].into_iter().flatten() {
            if seen.iter().any(|s| same_href(s, home)) {
                continue;
            }
            seen.push(home);
            let body = self.multistatus_request(p, "PROPFIND", home, "1", COLLECTIONS_PROPFIND.to_string()).await?;
            for c in parse_collections(&body)? {
                if !out.iter().any(|o| same_href(&o.href, &c.href)) {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }

    /// The calendars and address books directly below `home` (PROPFIND Depth 1), e.g. another user's calendar
    /// home for free/busy. `None` when the home does not exist (404); a refusal (403) is `Kind::AccessDenied`.
    pub async fn collections_in(&self, p: &Principal, home: &str) -> Result<Option<Vec<Collection>>> {
        let r = self.propfind(p, home, "1", COLLECTIONS_PROPFIND).await?;
        match r.status {
            StatusCode::MULTI_STATUS => Ok(Some(parse_collections(&r.body)?)),
            StatusCode::NOT_FOUND | StatusCode::GONE => Ok(None),
            s => Err(status_error(&format!("PROPFIND {home}"), s)),
        }
    }

    /// One collection's properties (PROPFIND Depth 0), e.g. another user's shared calendar.
    pub async fn collection(&self, p: &Principal, href: &str) -> Result<Option<Collection>> {
        let r = self.propfind(p, href, "0", COLLECTIONS_PROPFIND).await?;
        match r.status {
            StatusCode::MULTI_STATUS => Ok(parse_collections(&r.body)?.into_iter().next()),
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(status_error(&format!("PROPFIND {href}"), s)),
        }
    }

    /// Calendar objects holding `component`, optionally only those overlapping `[start, end)` (the server
    /// expands recurrences for the test; the objects come back whole).
    pub async fn calendar_query(
        &self,
        p: &Principal,
        collection: &str,
        component: CalComponent,
        time_range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> Result<Vec<DavObject>> {
        let body =
            self.multistatus_request(p, "REPORT", collection, "1", calendar_query_body(component, time_range)).await?;
        parse_objects(&body)
    }

    /// The calendar objects of `collection` holding an event with exactly this UID (RFC 4791 7.8 calendar-query
    /// with a UID prop-filter).
    pub async fn objects_with_uid(&self, p: &Principal, collection: &str, uid: &str) -> Result<Vec<DavObject>> {
        let body = self.multistatus_request(p, "REPORT", collection, "1", uid_query_body(uid)).await?;
        let mut objs = parse_objects(&body)?;
        objs.retain(|o| super::ical::parse_calendar(&o.data).is_ok_and(|c| c.events.iter().any(|e| e.uid == uid)));
        Ok(objs)
    }

    /// Whether the server does the scheduling itself (RFC 6638 implicit scheduling: `calendar-auto-schedule` in
    /// the `DAV` header of OPTIONS on the user's calendar home, RFC 6638 2). Then it delivers invitations and
    /// replies, and Viaduc must not do it a second time. Remembered for a few minutes (one server behind one
    /// client); a failed probe counts as "no".
    pub async fn auto_schedule(&self, p: &Principal) -> bool {
        if let Ok(g) = self.auto_schedule.lock()
            && let Some((at, v)) = *g
            && at.elapsed() < HOMES_TTL
        {
            return v;
        }
        let href = match self.discover(p).await {
            Ok(h) => h.calendar_home.unwrap_or(h.principal),
            Err(_) => return false,
        };
        let v = match self.request(p, "OPTIONS", &href, None, &[], None).await {
            Ok(r) => {
                let values: Vec<&str> = r.headers.get_all("dav").iter().filter_map(|v| v.to_str().ok()).collect();
                dav_header_auto_schedule(&values)
            }
            Err(e) => {
                tracing::debug!(error = %e, "DAV OPTIONS failed; taking the server for one without scheduling");
                return false;
            }
        };
        if let Ok(mut g) = self.auto_schedule.lock() {
            *g = Some((Instant::now(), v));
        }
        v
    }

    /// Every vCard of an address book.
    pub async fn addressbook_query(&self, p: &Principal, collection: &str) -> Result<Vec<DavObject>> {
        let q = r#"<?xml version="1.0" encoding="utf-8"?>
<a:addressbook-query xmlns:d="DAV:" xmlns:a="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><a:address-data/></d:prop></a:addressbook-query>"#;
        let body = self.multistatus_request(p, "REPORT", collection, "1", q.to_string()).await?;
        parse_objects(&body)
    }

    /// The named objects (calendar-multiget / addressbook-multiget); missing ones are left out.
    pub async fn multiget(
        &self,
        p: &Principal,
        collection: &str,
        kind: ObjectKind,
        hrefs: &[String],
    ) -> Result<Vec<DavObject>> {
        let mut out = Vec::new();
        for chunk in hrefs.chunks(MULTIGET_BATCH) {
            let body = self.multistatus_request(p, "REPORT", collection, "1", multiget_body(kind, chunk)).await?;
            out.extend(parse_objects(&body)?);
        }
        Ok(out)
    }

    /// One object; `None` when it does not exist.
    pub async fn get(&self, p: &Principal, href: &str) -> Result<Option<DavObject>> {
        let r = self.request(p, "GET", href, None, &[], None).await?;
        match r.status {
            s if s.is_success() => Ok(Some(DavObject {
                href: href.to_string(),
                etag: r.headers.get("etag").and_then(|v| v.to_str().ok()).map(str::to_string),
                data: String::from_utf8_lossy(&r.body).into_owned(),
            })),
            StatusCode::NOT_FOUND | StatusCode::GONE => Ok(None),
            s => Err(status_error(&format!("GET {href}"), s)),
        }
    }

    /// The current etag of an object (PROPFIND Depth 0), `None` when it does not exist.
    pub async fn etag(&self, p: &Principal, href: &str) -> Result<Option<String>> {
        let r = self.propfind(p, href, "0", ETAG_PROPFIND).await?;
        match r.status {
            StatusCode::MULTI_STATUS => {
                let ms = parse_multistatus(&r.body)?;
                Ok(ms.responses.iter().find_map(|x| x.prop(NS_DAV, "getetag").map(|e| e.text.trim().to_string())))
            }
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(status_error(&format!("PROPFIND {href}"), s)),
        }
    }

    /// Creates or replaces an object; returns its new etag. A failed precondition (412) is `Kind::Conflict`.
    pub async fn put(
        &self,
        p: &Principal,
        href: &str,
        data: &str,
        content_type: &str,
        if_match: IfMatch,
    ) -> Result<String> {
        let headers: Vec<(&str, String)> = match &if_match {
            IfMatch::Any => Vec::new(),
            IfMatch::Etag(e) => vec![("If-Match", e.clone())],
            IfMatch::None => vec![("If-None-Match", "*".to_string())],
        };
        let r = self.request(p, "PUT", href, None, &headers, Some((content_type, data.to_string()))).await?;
        if r.status == StatusCode::PRECONDITION_FAILED {
            let why = match if_match {
                IfMatch::None => "already exists",
                _ => "changed since it was read",
            };
            return Err(Error::backend(Backend::Dav, Kind::Conflict, format!("PUT {href}: {why}")));
        }
        if !r.status.is_success() {
            return Err(status_error(&format!("PUT {href}"), r.status));
        }
        if let Some(e) = r.headers.get("etag").and_then(|v| v.to_str().ok()) {
            return Ok(e.to_string());
        }
        // The server changed the data as it stored it and so gave no etag (RFC 4791 5.3.4): ask for it.
        self.etag(p, href)
            .await?
            .ok_or_else(|| Error::backend(Backend::Dav, Kind::Other, format!("PUT {href}: no etag after the write")))
    }

    /// Deletes an object (or a collection), only if its etag is still `if_match` when given.
    pub async fn delete(&self, p: &Principal, href: &str, if_match: Option<&str>) -> Result<()> {
        let headers: Vec<(&str, String)> = if_match.map(|e| vec![("If-Match", e.to_string())]).unwrap_or_default();
        let r = self.request(p, "DELETE", href, None, &headers, None).await?;
        match r.status {
            s if s.is_success() => Ok(()),
            StatusCode::PRECONDITION_FAILED => {
                Err(Error::backend(Backend::Dav, Kind::Conflict, format!("DELETE {href}: changed since it was read")))
            }
            StatusCode::MULTI_STATUS => {
                // Some member could not be deleted.
                let ms = parse_multistatus(&r.body)?;
                match ms.responses.iter().find_map(|x| x.status.filter(|s| *s >= 400)) {
                    Some(s) => Err(status_error(
                        &format!("DELETE {href}"),
                        StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    )),
                    None => Ok(()),
                }
            }
            s => Err(status_error(&format!("DELETE {href}"), s)),
        }
    }

    /// What changed in a collection since `token` (RFC 6578). A token the server no longer accepts is
    /// `Kind::Conflict`: start over with `None`. A server without the report gets a full listing of hrefs and
    /// etags (`full`, no token).
    pub async fn sync_collection(&self, p: &Principal, collection: &str, token: Option<&str>) -> Result<SyncResult> {
        let r = self
            .request(
                p,
                "REPORT",
                collection,
                Some("0"),
                &[],
                Some(("application/xml; charset=utf-8", sync_body(token))),
            )
            .await?;
        match r.status {
            StatusCode::MULTI_STATUS => {
                let mut s = parse_sync(&r.body, collection)?;
                s.full = token.is_none();
                Ok(s)
            }
            StatusCode::FORBIDDEN | StatusCode::CONFLICT => {
                let conds = parse_error_body(&r.body);
                if conds.iter().any(|(ns, n)| ns == NS_DAV && n == "valid-sync-token") {
                    return Err(Error::backend(
                        Backend::Dav,
                        Kind::Conflict,
                        format!("sync token of {collection} no longer valid"),
                    ));
                }
                if conds.iter().any(|(ns, n)| ns == NS_DAV && n == "supported-report") {
                    return self.list_etags_as_sync(p, collection).await;
                }
                Err(status_error(&format!("REPORT sync-collection {collection}"), r.status))
            }
            StatusCode::NOT_IMPLEMENTED
            | StatusCode::BAD_REQUEST
            | StatusCode::METHOD_NOT_ALLOWED
            | StatusCode::UNSUPPORTED_MEDIA_TYPE => self.list_etags_as_sync(p, collection).await,
            s => Err(status_error(&format!("REPORT sync-collection {collection}"), s)),
        }
    }

    /// Every member with its etag (PROPFIND Depth 1).
    pub async fn list_etags(&self, p: &Principal, collection: &str) -> Result<Vec<(String, String)>> {
        let body = self.multistatus_request(p, "PROPFIND", collection, "1", ETAG_PROPFIND.to_string()).await?;
        parse_etags(&body, collection)
    }

    async fn list_etags_as_sync(&self, p: &Principal, collection: &str) -> Result<SyncResult> {
        Ok(SyncResult { changed: self.list_etags(p, collection).await?, full: true, ..Default::default() })
    }

    fn new_collection_href(homes: &Homes, home: Option<&String>, name: &str) -> Result<String> {
        let name = name.trim_matches('/');
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(Error::client(Kind::Malformed, format!("invalid collection name {name:?}")));
        }
        let home = home.cloned().unwrap_or_else(|| homes.principal.clone());
        let home = if home.ends_with('/') { home } else { format!("{home}/") };
        Ok(format!("{home}{}/", encode_segment(name)))
    }

    fn created(what: &str, href: &str, status: StatusCode) -> Result<()> {
        match status {
            s if s.is_success() => Ok(()),
            StatusCode::METHOD_NOT_ALLOWED | StatusCode::CONFLICT | StatusCode::PRECONDITION_FAILED => {
                Err(Error::backend(Backend::Dav, Kind::Conflict, format!("{what} {href}: already exists")))
            }
            s => Err(status_error(&format!("{what} {href}"), s)),
        }
    }

    /// Creates a calendar `name` in the calendar home (MKCALENDAR, RFC 4791 5.3.1); returns its href.
    pub async fn mkcalendar(
        &self,
        p: &Principal,
        name: &str,
        display_name: &str,
        components: &[CalComponent],
    ) -> Result<String> {
        let homes = self.discover(p).await?;
        let href = Self::new_collection_href(&homes, homes.calendar_home.as_ref(), name)?;
        let comps: String = components.iter().map(|c| format!(r#"<c:comp name="{}"/>"#, c.as_str())).collect();
        let comps = if comps.is_empty() {
            String::new()
        } else {
            format!("<c:supported-calendar-component-set>{comps}</c:supported-calendar-component-set>")
        };
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:displayname>{}</d:displayname>{comps}</d:prop></d:set></c:mkcalendar>"#,
            escape(display_name)
        );
        let r = self.request(p, "MKCALENDAR", &href, None, &[], Some(("application/xml; charset=utf-8", body))).await?;
        Self::created("MKCALENDAR", &href, r.status)?;
        Ok(href)
    }

    /// Creates an address book `name` in the address-book home (extended MKCOL, RFC 5689 / RFC 6352 6.3.1).
    pub async fn mkaddressbook(&self, p: &Principal, name: &str, display_name: &str) -> Result<String> {
        let homes = self.discover(p).await?;
        let href = Self::new_collection_href(&homes, homes.addressbook_home.as_ref(), name)?;
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<d:mkcol xmlns:d="DAV:" xmlns:a="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><a:addressbook/></d:resourcetype><d:displayname>{}</d:displayname></d:prop></d:set></d:mkcol>"#,
            escape(display_name)
        );
        let r = self.request(p, "MKCOL", &href, None, &[], Some(("application/xml; charset=utf-8", body))).await?;
        Self::created("MKCOL", &href, r.status)?;
        Ok(href)
    }

    /// Renames a collection (PROPPATCH displayname).
    pub async fn proppatch_displayname(&self, p: &Principal, href: &str, display_name: &str) -> Result<()> {
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>{}</d:displayname></d:prop></d:set></d:propertyupdate>"#,
            escape(display_name)
        );
        let r = self.request(p, "PROPPATCH", href, None, &[], Some(("application/xml; charset=utf-8", body))).await?;
        match r.status {
            StatusCode::MULTI_STATUS => {
                let ms = parse_multistatus(&r.body)?;
                let failed =
                    ms.responses.iter().flat_map(|x| x.propstats.iter()).find(|ps| !(200..300).contains(&ps.status));
                match failed {
                    Some(ps) => Err(status_error(
                        &format!("PROPPATCH {href}"),
                        StatusCode::from_u16(ps.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    )),
                    None => Ok(()),
                }
            }
            s if s.is_success() => Ok(()),
            s => Err(status_error(&format!("PROPPATCH {href}"), s)),
        }
    }

    /// Deletes a calendar or address book with everything in it.
    pub async fn delete_collection(&self, p: &Principal, href: &str) -> Result<()> {
        let href = if href.ends_with('/') { href.to_string() } else { format!("{href}/") };
        self.delete(p, &href, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/protocol-fixtures/dav/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn principal_and_homes_from_radicale() {
        let i = parse_principal_multistatus(&fixture("propfind-root-principal.xml")).unwrap();
        assert_eq!(i.principal.as_deref(), Some("/alice/"));
        assert!(i.calendar_home.is_none());
        let i = parse_principal_multistatus(&fixture("propfind-principal-homes.xml")).unwrap();
        assert_eq!(i.calendar_home.as_deref(), Some("/alice/"));
        assert_eq!(i.addressbook_home.as_deref(), Some("/alice/"));
    }

    #[test]
    fn collections_from_radicale() {
        let cols = parse_collections(&fixture("propfind-home-collections.xml")).unwrap();
        assert_eq!(cols.len(), 3, "{cols:#?}");
        let cal = cols.iter().find(|c| c.href == "/alice/calendar/").unwrap();
        assert_eq!(cal.display_name.as_deref(), Some("Calendar"));
        assert_eq!(cal.kind, CollectionKind::Calendar { components: vec![CalComponent::Event] });
        assert!(cal.holds(CalComponent::Event) && !cal.holds(CalComponent::Todo));
        assert_eq!(cal.color.as_deref(), Some("#3366ccff"));
        assert!(cal.ctag.as_deref().is_some_and(|t| t.starts_with('"')));
        assert!(cal.sync_token.as_deref().is_some_and(|t| t.starts_with("http://radicale.org/ns/sync/")));
        assert!(!cal.read_only);
        let tasks = cols.iter().find(|c| c.href == "/alice/tasks/").unwrap();
        assert_eq!(tasks.kind, CollectionKind::Calendar { components: vec![CalComponent::Todo] });
        let ab = cols.iter().find(|c| c.href == "/alice/contacts/").unwrap();
        assert_eq!(ab.kind, CollectionKind::AddressBook);
        assert_eq!(ab.color, None);
        // bob's view of alice's calendar: read and read-free-busy only.
        let shared = parse_collections(&fixture("propfind-shared-calendar-bob.xml")).unwrap();
        assert_eq!(shared.len(), 1);
        assert!(shared[0].read_only);
    }

    #[test]
    fn calendar_query_objects_parse_with_ical() {
        let objs = parse_objects(&fixture("report-calendar-query.xml")).unwrap();
        assert_eq!(objs.len(), 2);
        let weekly = objs.iter().find(|o| o.href.ends_with("weekly-standup.ics")).unwrap();
        assert!(weekly.etag.as_deref().is_some_and(|e| e.starts_with('"') && e.ends_with('"')));
        assert!(weekly.data.starts_with("BEGIN:VCALENDAR"));
        let cal = super::super::ical::parse_calendar(&weekly.data).unwrap();
        assert_eq!(cal.events.len(), 1);
        assert_eq!(cal.events[0].subject, "Weekly standup");
        assert_eq!(cal.events[0].deleted_occurrences.len(), 1);
        assert_eq!(cal.events[0].modified_occurrences.len(), 1);
        // Folded lines and `\;` survive the XML layer.
        assert_eq!(cal.events[0].body.as_deref(), Some("Recurring every Monday; 13 Jan moved to 11:00"));
        assert_eq!(cal.events[0].attendees.len(), 2);
    }

    #[test]
    fn addressbook_and_multiget() {
        let cards = parse_objects(&fixture("report-addressbook-query.xml")).unwrap();
        assert_eq!(cards.len(), 2);
        assert!(cards.iter().all(|c| c.data.starts_with("BEGIN:VCARD")));
        let got = parse_objects(&fixture("report-calendar-multiget.xml")).unwrap();
        assert_eq!(got.len(), 1, "the missing href is left out");
        assert_eq!(got[0].href, "/alice/calendar/kickoff.ics");
    }

    #[test]
    fn sync_rounds() {
        let s = parse_sync(&fixture("report-sync-initial.xml"), "/alice/calendar/").unwrap();
        assert_eq!(s.changed.len(), 3);
        assert!(s.deleted.is_empty());
        assert!(s.new_token.as_deref().is_some_and(|t| t.starts_with("http://radicale.org/ns/sync/")));
        let s = parse_sync(&fixture("report-sync-changes.xml"), "/alice/fixture-scratch/").unwrap();
        assert_eq!(
            s.changed.iter().map(|(h, _)| h.as_str()).collect::<Vec<_>>(),
            ["/alice/fixture-scratch/a.ics", "/alice/fixture-scratch/b.ics"]
        );
        let s = parse_sync(&fixture("report-sync-deleted.xml"), "/alice/fixture-scratch/").unwrap();
        assert!(s.changed.is_empty());
        assert_eq!(s.deleted, ["/alice/fixture-scratch/a.ics"]);
        let conds = parse_error_body(&fixture("error-valid-sync-token.xml"));
        assert_eq!(conds, [(NS_DAV.to_vec(), "valid-sync-token".to_string())]);
    }

    #[test]
    fn etag_listing_skips_the_collection() {
        let e = parse_etags(&fixture("propfind-etags.xml"), "/alice/calendar/").unwrap();
        assert_eq!(e.len(), 3);
        assert!(e.iter().all(|(h, t)| h.starts_with("/alice/calendar/") && h.ends_with(".ics") && t.starts_with('"')));
    }

    #[test]
    fn proppatch_reply() {
        let ms = parse_multistatus(&fixture("proppatch-displayname.xml")).unwrap();
        assert_eq!(ms.responses[0].propstats[0].status, 200);
        assert_eq!(ms.responses[0].propstats[0].props[0].name, "displayname");
    }

    #[test]
    fn entities_cdata_and_absolute_hrefs() {
        let body = br#"<?xml version="1.0"?><D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:response><D:href>https://dav.example/cal/a%20b.ics</D:href><D:propstat><D:prop>
<D:getetag>&quot;1&quot;</D:getetag><C:calendar-data><![CDATA[BEGIN:VCALENDAR
X:<&>
END:VCALENDAR
]]></C:calendar-data></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>"#;
        let o = parse_objects(body).unwrap();
        assert_eq!(o[0].etag.as_deref(), Some("\"1\""));
        assert!(o[0].data.contains("X:<&>"));
        assert!(same_href(&o[0].href, "/cal/a b.ics"));
        assert_eq!(href_path("https://dav.example/cal/"), "/cal/");
    }

    #[test]
    fn refuses_bad_bodies() {
        assert!(parse_multistatus(b"<multistatus xmlns='DAV:'><response></multistatus>").is_err());
        assert!(parse_multistatus(b"<other xmlns='DAV:'/>").is_err());
        assert!(
            parse_multistatus(b"<multistatus xmlns='DAV:'><response><href>&bogus;</href></response></multistatus>")
                .is_err()
        );
        assert!(parse_multistatus(b"").is_err());
        let deep = format!("<multistatus xmlns='DAV:'>{}{}</multistatus>", "<a>".repeat(100), "</a>".repeat(100));
        assert!(parse_multistatus(deep.as_bytes()).is_err());
    }

    #[test]
    fn request_bodies() {
        let s = Utc.with_ymd_and_hms(2025, 1, 10, 0, 0, 0).unwrap();
        let e = Utc.with_ymd_and_hms(2025, 1, 25, 0, 0, 0).unwrap();
        let q = calendar_query_body(CalComponent::Event, Some((s, e)));
        assert!(q.contains(
            r#"<c:comp-filter name="VEVENT"><c:time-range start="20250110T000000Z" end="20250125T000000Z"/>"#
        ));
        let m = multiget_body(ObjectKind::AddressBook, &["/a/b&c.vcf".to_string()]);
        assert!(m.contains("<d:href>/a/b&amp;c.vcf</d:href>") && m.contains("addressbook-multiget"));
        assert!(sync_body(None).contains("<d:sync-token/>"));
        let u = uid_query_body("a<b>@x");
        assert!(
            u.contains(r#"<c:prop-filter name="UID"><c:text-match collation="i;octet">a&lt;b&gt;@x</c:text-match>"#)
        );
        assert!(dav_header_auto_schedule(&["1, 2, 3, calendar-access, calendar-auto-schedule"]));
        assert!(dav_header_auto_schedule(&["1, 2", "access-control, calendar-auto-schedule"]));
        assert!(!dav_header_auto_schedule(&["1, 2, 3, calendar-access, addressbook, extended-mkcol"]));
        assert_eq!(object_href("/alice/calendar", "a b/c@x", "ics"), "/alice/calendar/a%20b%2Fc@x.ics");
    }

    use chrono::TimeZone;
}
