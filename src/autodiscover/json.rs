//! Autodiscover v2 (the JSON flavour Outlook 2016+ and Exchange Online clients try first):
//! `GET /autodiscover/autodiscover.json/v1.0/{address}?Protocol={protocol}` or
//! `GET /autodiscover/autodiscover.json?Email={address}&Protocol={protocol}`. Anonymous, so it says nothing
//! about users: only whether the domain is served and where the protocol's endpoint is.
//!
//! - `Protocol=EWS` → 200 `{"Protocol":"EWS","Url":"{public_url}/EWS/Exchange.asmx"}`
//! - `Protocol=AutodiscoverV1` → 200 `{"Protocol":"AutodiscoverV1","Url":"{public_url}/autodiscover/autodiscover.xml"}`
//! - a protocol Exchange knows but Viaduc does not serve (ActiveSync, Rest, ...) → 400
//!   `{"ErrorCode":"ProtocolNotSupported",...}`; an unknown or missing one → 400 `{"ErrorCode":"InvalidProtocol",...}`
//!   (Exchange Online's code for an unknown name)
//! - a missing or malformed address → 400 `{"ErrorCode":"InvalidRequest",...}`
//! - an address in a domain not served → 404 `{"ErrorCode":"InvalidDomain",...}`, so the client moves on to its
//!   next discovery method
//! - another method than GET/HEAD → 405 `{"ErrorCode":"MethodNotAllowed",...}`; another path → 404
//!   `{"ErrorCode":"NotFound",...}`

use http::{Method, StatusCode};
use serde_json::json;

use crate::config::Config;

/// Protocol names Exchange's Autodiscover v2 knows that Viaduc has no endpoint for.
const NOT_SUPPORTED: &[&str] = &[
    "ActiveSync",
    "Rest",
    "Substrate",
    "SubstrateSearchService",
    "SubstrateNotificationService",
    "OutlookMeetingScheduler",
    "OutlookPay",
    "Actions",
    "Connectors",
    "ConnectorsProcessors",
    "ConnectorsWebhook",
    "NotesClient",
    "OwaPoweredExperience",
    "OutlookTailoredExperiences",
    "OutlookLocationsService",
    "MapiHttp",
    "Owa",
    "Ecp",
    "OAB",
    "XrmApi",
    "AutodiscoverV2",
];

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`); `None` for a malformed escape or non-UTF-8.
fn percent_decode(s: &str, plus_is_space: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The value of a query parameter (name compared without case), decoded.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| percent_decode(v, true))
}

fn error(status: StatusCode, code: &str, message: String) -> (StatusCode, String) {
    (status, json!({ "ErrorCode": code, "ErrorMessage": message }).to_string())
}

/// Answers one Autodiscover v2 request: the status and the JSON body.
pub fn respond(config: &Config, method: &Method, path: &str, query: Option<&str>) -> (StatusCode, String) {
    if method != Method::GET && method != Method::HEAD {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{method} is not supported; use GET"),
        );
    }
    const PREFIX: &str = "/autodiscover/autodiscover.json";
    let rest = match path.get(..PREFIX.len()) {
        Some(p) if p.eq_ignore_ascii_case(PREFIX) => &path[PREFIX.len()..],
        _ => return error(StatusCode::NOT_FOUND, "NotFound", "no such resource".into()),
    };
    let rest = rest.trim_end_matches('/');
    let address = if rest.is_empty() {
        query_param(query, "Email")
    } else {
        match rest.get(..5) {
            Some(v) if v.eq_ignore_ascii_case("/v1.0") && rest[5..].is_empty() => None,
            Some(v) if v.eq_ignore_ascii_case("/v1.0") && rest[5..].starts_with('/') => {
                percent_decode(&rest[6..], false)
            }
            _ => return error(StatusCode::NOT_FOUND, "NotFound", "no such resource".into()),
        }
    };
    let address = address.map(|a| a.trim().to_ascii_lowercase()).unwrap_or_default();
    let domain = match address.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') && address.len() <= 320 =>
        {
            domain.to_string()
        }
        _ => return error(StatusCode::BAD_REQUEST, "InvalidRequest", "an e-mail address is required".into()),
    };

    let protocol = query_param(query, "Protocol").unwrap_or_default();
    let public = config.server.public_url.trim_end_matches('/');
    let (name, url) = if protocol.eq_ignore_ascii_case("EWS") {
        ("EWS", format!("{public}/EWS/Exchange.asmx"))
    } else if protocol.eq_ignore_ascii_case("AutodiscoverV1") {
        ("AutodiscoverV1", format!("{public}/autodiscover/autodiscover.xml"))
    } else if let Some(known) = NOT_SUPPORTED.iter().find(|p| p.eq_ignore_ascii_case(&protocol)) {
        return error(
            StatusCode::BAD_REQUEST,
            "ProtocolNotSupported",
            format!(
                "The protocol '{known}' is not supported by this server. Supported values are 'EWS,AutodiscoverV1'."
            ),
        );
    } else {
        let shown: String = protocol.chars().filter(|c| !c.is_control()).take(64).collect();
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidProtocol",
            format!("The given protocol value '{shown}' is invalid. Supported values are 'EWS,AutodiscoverV1'."),
        );
    };

    if !config.serves_domain(&domain) {
        return error(StatusCode::NOT_FOUND, "InvalidDomain", format!("The domain '{domain}' is not served here."));
    }
    (StatusCode::OK, json!({ "Protocol": name, "Url": url }).to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::super::settings::tests::config;
    use super::*;

    fn get(path: &str, query: Option<&str>) -> (StatusCode, Value) {
        let (status, body) = respond(&config(), &Method::GET, path, query);
        (status, serde_json::from_str(&body).expect("JSON body"))
    }

    #[test]
    fn ews_and_autodiscover_v1() {
        let (s, v) = get("/autodiscover/autodiscover.json/v1.0/alice@example.test", Some("Protocol=EWS"));
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v, json!({"Protocol": "EWS", "Url": "https://mail.example.test/EWS/Exchange.asmx"}));
        let (s, v) = get("/AutoDiscover/AutoDiscover.json/V1.0/Alice%40Example.Test/", Some("protocol=ews"));
        assert_eq!((s, &v["Url"]), (StatusCode::OK, &json!("https://mail.example.test/EWS/Exchange.asmx")));
        let (s, v) = get(
            "/autodiscover/autodiscover.json",
            Some("Email=alice%40other.example&Protocol=AutodiscoverV1&RedirectCount=1"),
        );
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            v,
            json!({"Protocol": "AutodiscoverV1", "Url": "https://mail.example.test/autodiscover/autodiscover.xml"})
        );
    }

    #[test]
    fn errors_are_json_with_code_and_message() {
        let cases = [
            (
                "/autodiscover/autodiscover.json/v1.0/alice@example.test",
                Some("Protocol=ActiveSync"),
                StatusCode::BAD_REQUEST,
                "ProtocolNotSupported",
            ),
            (
                "/autodiscover/autodiscover.json/v1.0/alice@example.test",
                Some("Protocol=Bogus"),
                StatusCode::BAD_REQUEST,
                "InvalidProtocol",
            ),
            (
                "/autodiscover/autodiscover.json/v1.0/alice@example.test",
                None,
                StatusCode::BAD_REQUEST,
                "InvalidProtocol",
            ),
            (
                "/autodiscover/autodiscover.json/v1.0/eve@foreign.example",
                Some("Protocol=EWS"),
                StatusCode::NOT_FOUND,
                "InvalidDomain",
            ),
            ("/autodiscover/autodiscover.json/v1.0/", Some("Protocol=EWS"), StatusCode::BAD_REQUEST, "InvalidRequest"),
            (
                "/autodiscover/autodiscover.json/v1.0/%zz",
                Some("Protocol=EWS"),
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
            ),
            ("/autodiscover/autodiscover.json", Some("Protocol=EWS"), StatusCode::BAD_REQUEST, "InvalidRequest"),
            (
                "/autodiscover/autodiscover.json/v2.0/alice@example.test",
                Some("Protocol=EWS"),
                StatusCode::NOT_FOUND,
                "NotFound",
            ),
            ("/autodiscover/autodiscover.jsonx", Some("Protocol=EWS"), StatusCode::NOT_FOUND, "NotFound"),
        ];
        for (path, query, status, code) in cases {
            let (s, v) = get(path, query);
            assert_eq!((s, v["ErrorCode"].as_str()), (status, Some(code)), "{path} {query:?}");
            assert!(v["ErrorMessage"].as_str().is_some_and(|m| !m.is_empty()));
        }
        let (s, body) = respond(&config(), &Method::POST, "/autodiscover/autodiscover.json", None);
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
        assert!(body.contains("MethodNotAllowed"));
    }
}
