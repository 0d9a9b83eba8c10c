//! Autodiscover: tells Outlook, Thunderbird and EWS clients where the mailbox services are.
//!
//! Three flavours, each split into sans-IO parsing/rendering (unit-tested against the fixtures in
//! `protocol-fixtures/autodiscover/`) and a thin async wrapper here that only looks addresses up:
//! - [`pox`]: POX Autodiscover (MS-OXDSCLI), `/autodiscover/autodiscover.xml`, authenticated.
//! - [`soap`]: SOAP Autodiscover (MS-OXWSADISC), `/autodiscover/autodiscover.svc`, authenticated.
//! - [`json`]: Autodiscover v2, `/autodiscover/autodiscover.json...`, anonymous.
//!
//! [`settings`] computes what is handed out for a mailbox; every value derives from the configuration and the
//! address, so all instances of a deployment answer alike.

pub mod json;
pub mod pox;
pub mod settings;
pub mod soap;
pub mod xml;

use std::time::SystemTime;

use http::{Response, StatusCode};

use crate::auth::Principal;
use crate::model::directory::{EntryKind, legacy_dn};
use crate::server::{Body, Gateway, HttpRequest, full};
pub use settings::UserSettings;

/// What is known about a requested mailbox address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A mailbox of this deployment.
    Found(Box<UserSettings>),
    /// Not in a served domain, or unknown to the directory (or, without a directory, not the caller).
    NotFound,
    /// Known, but a distribution list or contact: no mailbox to configure.
    NotMailbox,
    /// The directory could not be asked.
    Failed,
}

/// Finds the mailbox `mail` (lower-cased address) is, on behalf of `principal`:
/// - outside the served domains: not found;
/// - the caller's own address: the caller (their directory entry when there is one);
/// - any other address: the directory's entry for it (a shared mailbox, a colleague), when a directory is
///   configured; without one only the caller can be answered for.
pub async fn resolve(gw: &Gateway, principal: &Principal, mail: &str) -> Lookup {
    let config = &gw.config;
    let mail = mail.trim().to_ascii_lowercase();
    let Some((_, domain)) = mail.rsplit_once('@') else { return Lookup::NotFound };
    if !config.serves_domain(domain) {
        return Lookup::NotFound;
    }
    if mail == principal.mail {
        let name = principal.entry.as_ref().map(|e| e.display_name.as_str()).unwrap_or(&principal.display_name);
        return Lookup::Found(Box::new(UserSettings::new(config, &principal.mail, name)));
    }
    let Some(directory) = &gw.directory else { return Lookup::NotFound };
    match directory.find_by_mail(&mail).await {
        Ok(Some(entry)) if entry.kind == EntryKind::Mailbox => {
            Lookup::Found(Box::new(UserSettings::new(config, &entry.mail, &entry.display_name)))
        }
        Ok(Some(_)) => Lookup::NotMailbox,
        Ok(None) => Lookup::NotFound,
        Err(e) => {
            gw.metrics.backend_error("ldap");
            tracing::warn!(error = %e.message, "autodiscover: directory lookup failed");
            Lookup::Failed
        }
    }
}

/// The addresses a POX `LegacyDN` (MS-OXDSCLI 2.2.3.1.1.2) may stand for: `<last cn>@<domain>` for each served
/// domain, kept only when its legacy DN is exactly the one asked for.
pub fn legacy_dn_candidates(config: &crate::config::Config, dn: &str) -> Vec<String> {
    let dn = dn.trim();
    let lower = dn.to_ascii_lowercase();
    let Some(i) = lower.rfind("/cn=") else { return Vec::new() };
    let local = lower[i + 4..].to_string();
    if local.is_empty() || local.contains('@') {
        return Vec::new();
    }
    config
        .mail
        .domains
        .iter()
        .map(|d| format!("{local}@{d}"))
        .filter(|m| legacy_dn(&config.mail.organization, m).eq_ignore_ascii_case(dn))
        .collect()
}

/// Finds the mailbox a POX `LegacyDN` names: the caller's, or the first served domain's entry with that local part.
async fn resolve_legacy_dn(gw: &Gateway, principal: &Principal, dn: &str) -> Lookup {
    if legacy_dn(&gw.config.mail.organization, &principal.mail).eq_ignore_ascii_case(dn.trim()) {
        return resolve(gw, principal, &principal.mail).await;
    }
    for candidate in legacy_dn_candidates(&gw.config, dn) {
        match resolve(gw, principal, &candidate).await {
            Lookup::NotFound => continue,
            other => return other,
        }
    }
    Lookup::NotFound
}

const XML_CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// POX Autodiscover (MS-OXDSCLI), `/autodiscover/autodiscover.xml`. Always HTTP 200 with either the settings or an
/// `Error` element (section 2.2.4.1.1.3), as Exchange answers.
pub async fn pox(gw: &Gateway, req: &HttpRequest, principal: &Principal) -> Response<Body> {
    let ctx = pox::Context {
        mapi_http: pox::mapi_http_version(req.header("x-mapihttpcapability")),
        time: pox::time_of_day(SystemTime::now()),
        server_id: settings::server_id(&gw.config),
    };
    let failure = |code| pox::PoxFailure { code, mobilesync: false, debug: String::new() };
    let body = match pox::parse_request(&req.body) {
        Ok(request) => {
            let lookup = match &request.target {
                pox::Target::Email(mail) => resolve(gw, principal, mail).await,
                pox::Target::LegacyDn(dn) => resolve_legacy_dn(gw, principal, dn).await,
            };
            match lookup {
                Lookup::Found(s) => pox::render_settings(&s, &ctx),
                Lookup::NotFound => pox::render_error(&failure(pox::ErrorCode::AddressNotFound), &ctx),
                Lookup::NotMailbox => pox::render_error(&failure(pox::ErrorCode::BadAddress), &ctx),
                Lookup::Failed => pox::render_error(&failure(pox::ErrorCode::InternalError), &ctx),
            }
        }
        Err(f) => {
            tracing::debug!(code = f.code.number(), debug = %f.debug, "autodiscover: POX request refused");
            pox::render_error(&f, &ctx)
        }
    };
    full(StatusCode::OK, XML_CONTENT_TYPE, body)
}

/// SOAP Autodiscover (MS-OXWSADISC), `/autodiscover/autodiscover.svc`. HTTP 200 for every well-formed envelope
/// (errors are in the response's `ErrorCode`s); HTTP 500 with a SOAP fault for anything else.
pub async fn soap(gw: &Gateway, req: &HttpRequest, principal: &Principal) -> Response<Body> {
    let request = match soap::parse_request(&req.body) {
        Ok(r) => r,
        Err(fault) => {
            tracing::debug!(reason = %fault.message, "autodiscover: SOAP request refused");
            return full(StatusCode::INTERNAL_SERVER_ERROR, fault.version.content_type(), soap::render_fault(&fault));
        }
    };
    let body = match &request.op {
        soap::Operation::GetUserSettings { users, settings } => {
            let mut answers = Vec::with_capacity(users.len());
            for user in users {
                answers.push((user.clone(), resolve(gw, principal, user).await));
            }
            soap::render_user_settings(request.version, settings, &answers)
        }
        soap::Operation::GetDomainSettings { domains, settings } => {
            let pairs: Vec<(String, bool)> = domains.iter().map(|d| (d.clone(), gw.config.serves_domain(d))).collect();
            let ews = format!("{}/EWS/Exchange.asmx", gw.config.server.public_url.trim_end_matches('/'));
            soap::render_domain_settings(request.version, settings, &pairs, &ews)
        }
        soap::Operation::Invalid { name, reason } => soap::render_invalid_request(request.version, name, reason),
    };
    full(StatusCode::OK, request.version.content_type(), body)
}

/// JSON Autodiscover v2, `/autodiscover/autodiscover.json/v1.0/{address}?Protocol=...` (anonymous).
pub async fn json(gw: &Gateway, req: &HttpRequest) -> Response<Body> {
    let (status, body) = json::respond(&gw.config, &req.method, &req.path, req.query.as_deref());
    full(status, "application/json; charset=utf-8", body)
}

/// The stored request/response pairs of `protocol-fixtures/autodiscover/`: each request is run through the
/// sans-IO code with the configuration of [`settings::tests::config`] and the output compared with the stored
/// response, after normalising the only volatile part (the POX `Error Time` attribute). Set
/// `VIADUC_UPDATE_FIXTURES=1` to rewrite the stored responses after an intended change.
#[cfg(test)]
mod fixture_tests {
    use std::path::PathBuf;

    use http::Method;

    use super::settings::tests::config;
    use super::*;

    fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("protocol-fixtures/autodiscover")
    }

    fn read(name: &str) -> String {
        std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// Replaces the value of every `Time="..."` attribute.
    fn normalise(s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find(" Time=\"") {
            out.push_str(&rest[..i + 7]);
            rest = &rest[i + 7..];
            let end = rest.find('"').unwrap_or(rest.len());
            out.push_str("TIME");
            rest = &rest[end..];
        }
        out.push_str(rest);
        out
    }

    fn check(name: &str, live: &str) {
        if std::env::var_os("VIADUC_UPDATE_FIXTURES").is_some() {
            std::fs::write(dir().join(name), live).unwrap();
        }
        let stored = read(name);
        assert_eq!(normalise(live), normalise(&stored), "{name} differs from the live output");
    }

    fn ctx(mapi: Option<&str>) -> pox::Context {
        pox::Context {
            mapi_http: pox::mapi_http_version(mapi),
            time: pox::time_of_day(SystemTime::now()),
            server_id: settings::server_id(&config()),
        }
    }

    /// The directory of the fixtures: alice is a mailbox, team@ a list, everything else unknown.
    fn lookup(mail: &str) -> Lookup {
        let c = config();
        match mail {
            "alice@example.test" => Lookup::Found(Box::new(UserSettings::new(&c, mail, "Alice Anderson"))),
            "team@example.test" => Lookup::NotMailbox,
            _ => Lookup::NotFound,
        }
    }

    fn pox_answer(request: &str, mapi: Option<&str>) -> String {
        let ctx = ctx(mapi);
        match pox::parse_request(request.as_bytes()) {
            Ok(r) => {
                let pox::Target::Email(mail) = r.target else { panic!("fixtures ask by address") };
                match lookup(&mail) {
                    Lookup::Found(s) => pox::render_settings(&s, &ctx),
                    Lookup::NotMailbox => pox::render_error(
                        &pox::PoxFailure { code: pox::ErrorCode::BadAddress, mobilesync: false, debug: String::new() },
                        &ctx,
                    ),
                    _ => pox::render_error(
                        &pox::PoxFailure {
                            code: pox::ErrorCode::AddressNotFound,
                            mobilesync: false,
                            debug: String::new(),
                        },
                        &ctx,
                    ),
                }
            }
            Err(f) => pox::render_error(&f, &ctx),
        }
    }

    fn soap_answer(request: &str) -> String {
        let c = config();
        match soap::parse_request(request.as_bytes()) {
            Ok(r) => match &r.op {
                soap::Operation::GetUserSettings { users, settings } => {
                    let answers: Vec<(String, Lookup)> = users.iter().map(|u| (u.clone(), lookup(u))).collect();
                    soap::render_user_settings(r.version, settings, &answers)
                }
                soap::Operation::GetDomainSettings { domains, settings } => {
                    let pairs: Vec<(String, bool)> = domains.iter().map(|d| (d.clone(), c.serves_domain(d))).collect();
                    soap::render_domain_settings(
                        r.version,
                        settings,
                        &pairs,
                        "https://mail.example.test/EWS/Exchange.asmx",
                    )
                }
                soap::Operation::Invalid { name, reason } => soap::render_invalid_request(r.version, name, reason),
            },
            Err(f) => soap::render_fault(&f),
        }
    }

    #[test]
    fn pox_pairs() {
        let outlook = read("pox-outlook-request.xml");
        check("pox-outlook-response.xml", &pox_answer(&outlook, None));
        check("pox-outlook-mapihttp-response.xml", &pox_answer(&outlook, Some("1")));
        let unknown = outlook.replace("alice@example.test", "nobody@example.test");
        check("pox-unknown-user-response.xml", &pox_answer(&unknown, None));
        check("pox-mobilesync-response.xml", &pox_answer(&read("pox-mobilesync-request.xml"), None));
        check("pox-malformed-response.xml", &pox_answer("<Autodiscover><Request>", None));
    }

    #[test]
    fn soap_pairs() {
        check(
            "soap-getusersettings-exchangelib-response.xml",
            &soap_answer(&read("soap-getusersettings-exchangelib-request.xml")),
        );
        check("soap-getdomainsettings-response.xml", &soap_answer(&read("soap-getdomainsettings-request.xml")));
    }

    #[test]
    fn json_pairs() {
        let c = config();
        let (status, body) = json::respond(
            &c,
            &Method::GET,
            "/autodiscover/autodiscover.json/v1.0/alice@example.test",
            Some("Protocol=EWS"),
        );
        assert_eq!(status, StatusCode::OK);
        check("json-ews-response.json", &format!("{body}\n"));
        let (status, body) = json::respond(
            &c,
            &Method::GET,
            "/autodiscover/autodiscover.json/v1.0/alice@example.test",
            Some("Protocol=ActiveSync"),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST);
        check("json-activesync-response.json", &format!("{body}\n"));
    }

    #[test]
    fn legacy_dn_names_an_address_per_served_domain() {
        let c = config();
        let dn = "/o=Viaduc Demo/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=Alice";
        assert_eq!(legacy_dn_candidates(&c, dn), ["alice@example.test", "alice@other.example"]);
        assert!(legacy_dn_candidates(&c, "/o=Other Org/ou=x/cn=Recipients/cn=alice").is_empty());
        assert!(legacy_dn_candidates(&c, "no dn at all").is_empty());
        assert!(legacy_dn_candidates(&c, "/o=Viaduc Demo/cn=").is_empty());
    }
}
