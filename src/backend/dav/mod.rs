//! The CalDAV/CardDAV back-end (RFC 4791, RFC 6352, RFC 6578). This part discovers what the server offers
//! (`viaduc check`): the DAV compliance classes, the user's principal, calendar and address-book homes, and
//! whether sync-collection and scheduling are available.

pub mod client;
pub mod ical;
pub mod vcard;

use std::time::Duration;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::config::DavConfig;
use crate::error::{Backend, Error, Kind, Result};

pub const NS_DAV: &[u8] = b"DAV:";
pub const NS_CALDAV: &[u8] = b"urn:ietf:params:xml:ns:caldav";
pub const NS_CARDDAV: &[u8] = b"urn:ietf:params:xml:ns:carddav";

/// What a PROPFIND on the user's principal revealed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrincipalInfo {
    pub principal: Option<String>,
    pub calendar_home: Option<String>,
    pub addressbook_home: Option<String>,
    pub schedule_outbox: Option<String>,
    pub schedule_inbox: Option<String>,
    pub sync_collection: bool,
}

/// Extracts principal and home hrefs and the sync-collection report from a PROPFIND multistatus body.
/// Pure: bytes in, values out. Bounded by the caller's body limit.
pub fn parse_principal_multistatus(body: &[u8]) -> Result<PrincipalInfo> {
    let mut reader = NsReader::from_reader(body);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut info = PrincipalInfo::default();
    let mut stack: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    loop {
        let (ns, ev) = reader
            .read_resolved_event_into(&mut buf)
            .map_err(|e| Error::backend(Backend::Dav, Kind::Refused, format!("bad multistatus XML: {e}")))?;
        let ns = match ns {
            ResolveResult::Bound(n) => n.into_inner().as_bytes().to_vec(),
            _ => Vec::new(),
        };
        match ev {
            Event::Start(e) => {
                stack.push((ns, e.local_name().into_inner().as_bytes().to_vec()));
                if stack.len() > 64 {
                    return Err(Error::backend(Backend::Dav, Kind::Refused, "multistatus nested too deeply"));
                }
            }
            Event::Empty(e) => {
                if ns == NS_DAV && e.local_name().into_inner() == "sync-collection" {
                    info.sync_collection = true;
                }
            }
            Event::Text(t) => {
                let Some((pns, pname)) = stack.last() else { continue };
                if pns.as_slice() != NS_DAV || pname.as_slice() != b"href" {
                    continue;
                }
                let href = t.into_inner().into_owned();
                let Some((gns, gname)) = stack.iter().rev().nth(1) else { continue };
                match (gns.as_slice(), gname.as_slice()) {
                    (NS_DAV, b"current-user-principal") => info.principal = Some(href),
                    (NS_CALDAV, b"calendar-home-set") => info.calendar_home = Some(href),
                    (NS_CARDDAV, b"addressbook-home-set") => info.addressbook_home = Some(href),
                    (NS_CALDAV, b"schedule-outbox-URL") => info.schedule_outbox = Some(href),
                    (NS_CALDAV, b"schedule-inbox-URL") => info.schedule_inbox = Some(href),
                    _ => {}
                }
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(info)
}

/// What `viaduc check` learns from the DAV server.
#[derive(Debug, Clone, Default)]
pub struct DavProbe {
    /// The `DAV:` header of OPTIONS (compliance classes such as `calendar-access`, `addressbook`).
    pub dav_header: String,
    /// Present when credentials were given.
    pub principal: Option<PrincipalInfo>,
}

fn client(config: &DavConfig) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(config.timeout_secs.max(1)))
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
    builder.build().map_err(|e| Error::internal(format!("HTTP client: {e}")))
}

fn join(base: &str, href: &str) -> String {
    if href.starts_with("http://") || href.starts_with("https://") {
        return href.to_string();
    }
    let origin_end =
        base.find("://").map(|i| i + 3).and_then(|s| base[s..].find('/').map(|j| s + j)).unwrap_or(base.len());
    format!("{}{}", &base[..origin_end], href)
}

const PRINCIPAL_PROPFIND: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:a="urn:ietf:params:xml:ns:carddav">
  <d:prop><d:current-user-principal/><c:calendar-home-set/><a:addressbook-home-set/><c:schedule-outbox-URL/><c:schedule-inbox-URL/><d:supported-report-set/></d:prop>
</d:propfind>"#;

/// OPTIONS on the base URL, then (with credentials) PROPFIND for the principal and its homes.
pub async fn probe(config: &DavConfig, credentials: Option<(&str, &str)>) -> Result<DavProbe> {
    let http = client(config)?;
    let unavailable = |e: reqwest::Error| Error::unavailable(Backend::Dav, format!("{}: {e}", config.base_url));
    let options = http.request(reqwest::Method::OPTIONS, &config.base_url).send().await.map_err(unavailable)?;
    let mut probe = DavProbe {
        dav_header: options.headers().get("dav").and_then(|v| v.to_str().ok()).unwrap_or("").to_string(),
        principal: None,
    };
    let Some((user, password)) = credentials else { return Ok(probe) };
    let propfind = reqwest::Method::from_bytes(b"PROPFIND").map_err(|e| Error::internal(e.to_string()))?;
    let ask = |url: String| {
        http.request(propfind.clone(), url)
            .basic_auth(user, Some(password))
            .header("Depth", "0")
            .header("Content-Type", "application/xml; charset=utf-8")
            .body(PRINCIPAL_PROPFIND)
            .send()
    };
    let r = ask(config.base_url.clone()).await.map_err(unavailable)?;
    if r.status() == reqwest::StatusCode::UNAUTHORIZED {
        return Err(Error::backend(Backend::Dav, Kind::AuthFailed, "credentials refused"));
    }
    let body = r.bytes().await.map_err(unavailable)?;
    let mut info = parse_principal_multistatus(&body)?;
    if let Some(p) = info.principal.clone()
        && info.calendar_home.is_none()
    {
        let r = ask(join(&config.base_url, &p)).await.map_err(unavailable)?;
        let body = r.bytes().await.map_err(unavailable)?;
        let mut more = parse_principal_multistatus(&body)?;
        more.principal = Some(p);
        info = more;
    }
    if let Some(home) = info.calendar_home.clone()
        && !info.sync_collection
    {
        let r = ask(join(&config.base_url, &home)).await.map_err(unavailable)?;
        let body = r.bytes().await.map_err(unavailable)?;
        info.sync_collection = parse_principal_multistatus(&body)?.sync_collection;
    }
    probe.principal = Some(info);
    Ok(probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_principal_and_homes() {
        let body = br#"<?xml version="1.0"?>
<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CR="urn:ietf:params:xml:ns:carddav">
 <response><href>/alice/</href><propstat><prop>
  <current-user-principal><href>/alice/</href></current-user-principal>
  <C:calendar-home-set><href>/alice/</href></C:calendar-home-set>
  <CR:addressbook-home-set><href>/alice/</href></CR:addressbook-home-set>
  <supported-report-set><supported-report><report><sync-collection/></report></supported-report></supported-report-set>
 </prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>"#;
        let i = parse_principal_multistatus(body).unwrap();
        assert_eq!(i.principal.as_deref(), Some("/alice/"));
        assert_eq!(i.calendar_home.as_deref(), Some("/alice/"));
        assert_eq!(i.addressbook_home.as_deref(), Some("/alice/"));
        assert!(i.sync_collection);
        assert!(i.schedule_outbox.is_none());
    }

    #[test]
    fn rejects_broken_xml() {
        assert!(parse_principal_multistatus(b"<multistatus xmlns='DAV:'><response></multistatus>").is_err());
    }

    #[test]
    fn joins_hrefs() {
        assert_eq!(join("http://127.0.0.1:5232/", "/alice/"), "http://127.0.0.1:5232/alice/");
        assert_eq!(join("http://h/dav/x", "/a/"), "http://h/a/");
        assert_eq!(join("http://h", "/a/"), "http://h/a/");
    }
}
