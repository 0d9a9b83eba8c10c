//! POX ("plain old XML") Autodiscover, MS-OXDSCLI: what Outlook (and Thunderbird's Exchange support) POSTs to
//! `/autodiscover/autodiscover.xml`. Sans-IO: [`parse_request`] reads the body, the caller resolves the address,
//! [`render_settings`] / [`render_error`] write the answer.

use std::time::{SystemTime, UNIX_EPOCH};

use super::settings::{UserSettings, pox_server_version};
use super::xml::{self, XmlWriter};

/// Request namespace (MS-OXDSCLI 2.2.3).
pub const REQUEST_NS: &str = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
/// Request namespace of Exchange ActiveSync clients (MS-ASCMD 2.2.1.1), accepted so they get a proper error.
pub const MOBILESYNC_REQUEST_NS: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006";
/// Namespace of the outer `Autodiscover` element of every response (MS-OXDSCLI 2.2.4.1).
pub const RESPONSE_NS: &str = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";
/// The Outlook response schema, the only one served (MS-OXDSCLI 2.2.4.1.1).
pub const OUTLOOK_RESPONSE_NS: &str = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";
/// The ActiveSync response schema (MS-ASCMD 2.2.3.1), refused with error 601.
pub const MOBILESYNC_RESPONSE_NS: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006";

/// Which mailbox a request asks about (MS-OXDSCLI 2.2.3.1.1: `EMailAddress` or `LegacyDN`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Email(String),
    LegacyDn(String),
}

/// A well-formed Outlook-schema request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoxRequest {
    pub target: Target,
}

/// The POX error codes (MS-OXDSCLI 2.2.4.1.1.3.x ErrorCode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 500: the e-mail address cannot be found.
    AddressNotFound,
    /// 501: the address is known but has no configuration (a distribution list, a contact).
    BadAddress,
    /// 600: the XML request was improperly formatted.
    InvalidRequest,
    /// 601: configuration of the requested type (AcceptableResponseSchema) cannot be provided.
    ProviderUnavailable,
    /// 603: internal error (the directory could not be asked).
    InternalError,
}

impl ErrorCode {
    pub fn number(self) -> u32 {
        match self {
            ErrorCode::AddressNotFound => 500,
            ErrorCode::BadAddress => 501,
            ErrorCode::InvalidRequest => 600,
            ErrorCode::ProviderUnavailable => 601,
            ErrorCode::InternalError => 603,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::AddressNotFound => "The e-mail address cannot be found.",
            ErrorCode::BadAddress => "The e-mail address has no mailbox configuration.",
            ErrorCode::InvalidRequest => "Invalid Request",
            ErrorCode::ProviderUnavailable => "Provider is not available",
            ErrorCode::InternalError => "The Autodiscover server encountered an internal error.",
        }
    }
}

/// Why a request could not be answered with settings; `mobilesync` says which response schema the client reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoxFailure {
    pub code: ErrorCode,
    pub mobilesync: bool,
    /// Diagnostic text for the `DebugData` element (empty in most cases).
    pub debug: String,
}

impl PoxFailure {
    fn invalid(debug: impl Into<String>) -> PoxFailure {
        PoxFailure { code: ErrorCode::InvalidRequest, mobilesync: false, debug: debug.into() }
    }
}

/// Namespaces compared without regard to the `http`/`https` scheme: published examples (and so some clients)
/// write the schema names with `https://`.
fn same_ns(a: &str, b: &str) -> bool {
    let strip = |s: &str| s.trim().trim_start_matches("https://").trim_start_matches("http://").to_ascii_lowercase();
    strip(a) == strip(b)
}

/// Parses a POX request body (MS-OXDSCLI 2.2.3): `Autodiscover/Request` with `EMailAddress` (or `LegacyDN`) and
/// `AcceptableResponseSchema`.
pub fn parse_request(body: &[u8]) -> Result<PoxRequest, PoxFailure> {
    let root = xml::parse(body).map_err(|e| PoxFailure::invalid(e.0))?;
    let ns = root.ns.clone().unwrap_or_default();
    let mobilesync_request = same_ns(&ns, MOBILESYNC_REQUEST_NS);
    if root.name != "Autodiscover" || !(same_ns(&ns, REQUEST_NS) || mobilesync_request) {
        return Err(PoxFailure::invalid("not an Autodiscover request"));
    }
    let request = root
        .children
        .iter()
        .find(|c| c.name == "Request" && c.ns == root.ns)
        .ok_or_else(|| PoxFailure::invalid("no Request element"))?;
    let field = |name: &str| {
        request.children.iter().find(|c| c.name == name && c.ns == root.ns).map(|c| c.trimmed().to_string())
    };
    let schema = field("AcceptableResponseSchema").unwrap_or_default();
    if !same_ns(&schema, OUTLOOK_RESPONSE_NS) {
        let mobilesync = mobilesync_request || same_ns(&schema, MOBILESYNC_RESPONSE_NS);
        let code =
            if schema.is_empty() && !mobilesync { ErrorCode::InvalidRequest } else { ErrorCode::ProviderUnavailable };
        return Err(PoxFailure { code, mobilesync, debug: String::new() });
    }
    if mobilesync_request {
        return Err(PoxFailure { code: ErrorCode::ProviderUnavailable, mobilesync: true, debug: String::new() });
    }
    if let Some(mail) = field("EMailAddress").filter(|m| !m.is_empty()) {
        let mail = mail.to_ascii_lowercase();
        let valid = mail.split_once('@').is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'));
        if !valid || mail.len() > 320 {
            return Err(PoxFailure::invalid("EMailAddress is not an address"));
        }
        return Ok(PoxRequest { target: Target::Email(mail) });
    }
    if let Some(dn) = field("LegacyDN").filter(|d| !d.is_empty()) {
        return Ok(PoxRequest { target: Target::LegacyDn(dn) });
    }
    Err(PoxFailure::invalid("neither EMailAddress nor LegacyDN"))
}

/// The MAPI/HTTP protocol version to offer for an `X-MapiHttpCapability` header (MS-OXDSCLI 2.2.2.1,
/// 3.1.4): none without the header or with a value below 1; otherwise version 1, the only one defined, which
/// is within the "greater than zero and at most the header value" rule of 2.2.4.1.1.2.6.
pub fn mapi_http_version(header: Option<&str>) -> Option<u32> {
    let v: u32 = header?.trim().parse().ok()?;
    (v >= 1).then_some(1)
}

/// Per-response values that do not come from the mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// Offer the `mapiHttp` Protocol section with this version.
    pub mapi_http: Option<u32>,
    /// Time of day for `Error Time`, `HH:MM:SS.fffffff` (UTC).
    pub time: String,
    /// Number naming this deployment, for `Error Id`.
    pub server_id: u32,
}

/// Formats a time of day as the `Error Time` attribute wants it (`hours ":" minutes ":" seconds "." fraction`).
pub fn time_of_day(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let s = d.as_secs() % 86_400;
    format!("{:02}:{:02}:{:02}.{:07}", s / 3600, (s / 60) % 60, s % 60, d.subsec_nanos() / 100)
}

/// The settings response (MS-OXDSCLI 2.2.4.1.1: `User`, `Account` with `Protocol` sections).
///
/// - `mapiHttp` (2.2.4.1.1.2.6 with `Type`/`Version` attributes): MailStore and AddressBook URLs, only when the
///   client sent `X-MapiHttpCapability`.
/// - `EXCH`: the mailbox "server" (`<guid>@<domain>`), its DNs, version and the EWS URLs (Thunderbird reads
///   `EwsUrl` here).
/// - `EXPR`: the public host, for Outlook Anywhere clients and again the EWS URLs.
/// - `WEB`: the web client URL.
pub fn render_settings(s: &UserSettings, ctx: &Context) -> String {
    let ews = s.ews_url();
    let owa = s.owa_url();
    let mut w = XmlWriter::indented();
    w.start("Autodiscover", &[("xmlns", RESPONSE_NS)]);
    w.start("Response", &[("xmlns", OUTLOOK_RESPONSE_NS)]);

    w.start("User", &[]);
    w.leaf("DisplayName", &s.display_name);
    w.leaf("LegacyDN", &s.legacy_dn);
    w.leaf("AutoDiscoverSMTPAddress", &s.mail);
    w.leaf("DeploymentId", &s.deployment_id);
    w.end();

    w.start("Account", &[]);
    w.leaf("AccountType", "email");
    w.leaf("Action", "settings");
    w.leaf("MicrosoftOnline", "False");

    if let Some(version) = ctx.mapi_http {
        let version = version.to_string();
        w.start("Protocol", &[("Type", "mapiHttp"), ("Version", &version)]);
        w.start("MailStore", &[]);
        w.leaf("InternalUrl", &s.emsmdb_url());
        w.leaf("ExternalUrl", &s.emsmdb_url());
        w.end();
        w.start("AddressBook", &[]);
        w.leaf("InternalUrl", &s.nspi_url());
        w.leaf("ExternalUrl", &s.nspi_url());
        w.end();
        w.end();
    }

    w.start("Protocol", &[]);
    w.leaf("Type", "EXCH");
    w.leaf("Server", &s.mailbox_server);
    w.leaf("ServerDN", &s.server_dn);
    w.leaf("ServerVersion", &pox_server_version());
    w.leaf("MdbDN", &s.mdb_dn);
    w.leaf("AuthPackage", "Basic");
    w.leaf("ASUrl", &ews);
    w.leaf("EwsUrl", &ews);
    w.leaf("EmwsUrl", &ews);
    w.leaf("OOFUrl", &ews);
    w.leaf("ServerExclusiveConnect", "Off");
    w.end();

    w.start("Protocol", &[]);
    w.leaf("Type", "EXPR");
    w.leaf("Server", &s.public_host);
    w.leaf("SSL", if s.ssl { "On" } else { "Off" });
    w.leaf("AuthPackage", "Basic");
    w.leaf("ASUrl", &ews);
    w.leaf("EwsUrl", &ews);
    w.leaf("OOFUrl", &ews);
    w.leaf("ServerExclusiveConnect", "On");
    w.leaf("CertPrincipalName", "none");
    w.leaf("GroupingInformation", s.grouping_information());
    w.end();

    w.start("Protocol", &[]);
    w.leaf("Type", "WEB");
    for side in ["Internal", "External"] {
        w.start(side, &[]);
        w.leaf_with("OWAUrl", &[("AuthenticationMethod", "Basic")], &owa);
        w.start("Protocol", &[]);
        w.leaf("Type", if side == "Internal" { "EXCH" } else { "EXPR" });
        w.leaf("ASUrl", &ews);
        w.end();
        w.end();
    }
    w.end();

    w.end(); // Account
    w.finish()
}

/// An error response (MS-OXDSCLI 2.2.4.1.1.3 Error, child of Response, with `Time` and `Id` attributes and
/// `ErrorCode`, `Message`, `DebugData`). For ActiveSync clients the Response is in their schema, as MS-ASCMD
/// 2.2.3.63 shows.
pub fn render_error(failure: &PoxFailure, ctx: &Context) -> String {
    let id = ctx.server_id.to_string();
    let mut w = XmlWriter::indented();
    w.start("Autodiscover", &[("xmlns", RESPONSE_NS)]);
    if failure.mobilesync {
        w.start("Response", &[("xmlns", MOBILESYNC_RESPONSE_NS)]);
    } else {
        w.start("Response", &[]);
    }
    w.start("Error", &[("Time", &ctx.time), ("Id", &id)]);
    w.leaf("ErrorCode", &failure.code.number().to_string());
    w.leaf("Message", failure.code.message());
    if failure.debug.is_empty() {
        w.empty("DebugData", &[]);
    } else {
        w.leaf("DebugData", &failure.debug);
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::super::settings::tests::config;
    use super::super::settings::{UserSettings, mailbox_guid};
    use super::*;
    use crate::autodiscover::xml::{Element, parse};

    const OUTLOOK_REQ: &str = include_str!("../../protocol-fixtures/autodiscover/pox-outlook-request.xml");

    fn ctx(mapi: Option<u32>) -> Context {
        Context { mapi_http: mapi, time: "07:15:00.0000000".into(), server_id: 42 }
    }

    fn text<'a>(e: &'a Element, path: &[&str]) -> &'a str {
        let mut cur = e;
        for p in path {
            cur = cur.child_local(p).unwrap_or_else(|| panic!("no {p} under {}", cur.name));
        }
        cur.trimmed()
    }

    fn protocols(account: &Element) -> Vec<&Element> {
        account.children_named(OUTLOOK_RESPONSE_NS, "Protocol").collect()
    }

    #[test]
    fn parses_outlook_request() {
        let r = parse_request(OUTLOOK_REQ.as_bytes()).unwrap();
        assert_eq!(r.target, Target::Email("alice@example.test".into()));
        let https = OUTLOOK_REQ.replace("http://", "https://");
        assert_eq!(parse_request(https.as_bytes()).unwrap(), r);
        let by_dn = r#"<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><LegacyDN>/o=X/cn=alice</LegacyDN><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>"#;
        assert_eq!(parse_request(by_dn.as_bytes()).unwrap().target, Target::LegacyDn("/o=X/cn=alice".into()));
    }

    #[test]
    fn refuses_bad_requests_with_the_right_codes() {
        let code = |body: &str| parse_request(body.as_bytes()).unwrap_err();
        assert_eq!(code("garbage").code, ErrorCode::InvalidRequest);
        assert_eq!(code("").code, ErrorCode::InvalidRequest);
        assert_eq!(code("<Autodiscover xmlns=\"urn:other\"/>").code, ErrorCode::InvalidRequest);
        assert_eq!(code(&OUTLOOK_REQ.replace("alice@example.test", "not-an-address")).code, ErrorCode::InvalidRequest);
        let mobile = OUTLOOK_REQ.replace("outlook/responseschema/2006a", "mobilesync/responseschema/2006");
        let f = code(&mobile);
        assert_eq!((f.code, f.mobilesync), (ErrorCode::ProviderUnavailable, true));
        let eas = include_str!("../../protocol-fixtures/autodiscover/pox-mobilesync-request.xml");
        let f = code(eas);
        assert_eq!((f.code, f.mobilesync), (ErrorCode::ProviderUnavailable, true));
    }

    #[test]
    fn mapi_http_header() {
        assert_eq!(mapi_http_version(None), None);
        assert_eq!(mapi_http_version(Some("0")), None);
        assert_eq!(mapi_http_version(Some("x")), None);
        assert_eq!(mapi_http_version(Some("1")), Some(1));
        assert_eq!(mapi_http_version(Some(" 2 ")), Some(1));
    }

    #[test]
    fn settings_response_field_by_field() {
        let c = config();
        let s = UserSettings::new(&c, "alice@example.test", "Alice Anderson");
        let guid = mailbox_guid("alice@example.test");
        let root = parse(render_settings(&s, &ctx(None)).as_bytes()).unwrap();
        assert!(root.is(RESPONSE_NS, "Autodiscover"));
        let resp = root.child(OUTLOOK_RESPONSE_NS, "Response").unwrap();
        let user = resp.child(OUTLOOK_RESPONSE_NS, "User").unwrap();
        assert_eq!(text(user, &["DisplayName"]), "Alice Anderson");
        assert_eq!(text(user, &["LegacyDN"]), s.legacy_dn);
        assert_eq!(text(user, &["AutoDiscoverSMTPAddress"]), "alice@example.test");
        assert_eq!(text(user, &["DeploymentId"]), c.deployment_id());
        let account = resp.child(OUTLOOK_RESPONSE_NS, "Account").unwrap();
        assert_eq!(text(account, &["AccountType"]), "email");
        assert_eq!(text(account, &["Action"]), "settings");
        assert_eq!(text(account, &["MicrosoftOnline"]), "False");

        let protos = protocols(account);
        let types: Vec<&str> = protos.iter().map(|p| text(p, &["Type"])).collect();
        assert_eq!(types, ["EXCH", "EXPR", "WEB"], "no mapiHttp without the header");
        let ews = "https://mail.example.test/EWS/Exchange.asmx";
        let exch = protos[0];
        assert_eq!(text(exch, &["Server"]), format!("{guid}@example.test"));
        assert_eq!(text(exch, &["ServerDN"]), s.server_dn);
        assert_eq!(text(exch, &["ServerVersion"]), "73C189CB");
        assert_eq!(text(exch, &["MdbDN"]), format!("{}/cn=Microsoft Private MDB", s.server_dn));
        assert_eq!(text(exch, &["EwsUrl"]), ews);
        assert_eq!(text(exch, &["ASUrl"]), ews);
        assert_eq!(text(exch, &["OOFUrl"]), ews);
        let expr = protos[1];
        assert_eq!(text(expr, &["Server"]), "mail.example.test");
        assert_eq!(text(expr, &["SSL"]), "On");
        assert_eq!(text(expr, &["AuthPackage"]), "Basic");
        assert_eq!(text(expr, &["EwsUrl"]), ews);
        assert_eq!(text(expr, &["CertPrincipalName"]), "none");
        let web = protos[2];
        assert_eq!(text(web, &["Internal", "OWAUrl"]), "https://mail.example.test/owa/");
        assert_eq!(
            web.path(&[(OUTLOOK_RESPONSE_NS, "External"), (OUTLOOK_RESPONSE_NS, "OWAUrl")])
                .unwrap()
                .attr("AuthenticationMethod"),
            Some("Basic")
        );
    }

    #[test]
    fn mapi_http_section_when_asked() {
        let s = UserSettings::new(&config(), "alice@example.test", "Alice Anderson");
        let guid = mailbox_guid("alice@example.test");
        let root = parse(render_settings(&s, &ctx(Some(1))).as_bytes()).unwrap();
        let account = root.path(&[(OUTLOOK_RESPONSE_NS, "Response"), (OUTLOOK_RESPONSE_NS, "Account")]).unwrap();
        let protos = protocols(account);
        let mapi = protos[0];
        assert_eq!(mapi.attr("Type"), Some("mapiHttp"));
        assert_eq!(mapi.attr("Version"), Some("1"));
        let emsmdb = format!("https://mail.example.test/mapi/emsmdb/?MailboxId={guid}@example.test");
        let nspi = format!("https://mail.example.test/mapi/nspi/?MailboxId={guid}@example.test");
        assert_eq!(text(mapi, &["MailStore", "InternalUrl"]), emsmdb);
        assert_eq!(text(mapi, &["MailStore", "ExternalUrl"]), emsmdb);
        assert_eq!(text(mapi, &["AddressBook", "InternalUrl"]), nspi);
        assert_eq!(text(mapi, &["AddressBook", "ExternalUrl"]), nspi);
        assert_eq!(protos.len(), 4);
    }

    #[test]
    fn escapes_values() {
        let s = UserSettings::new(&config(), "alice@example.test", "A <&> \"B\"");
        let root = parse(render_settings(&s, &ctx(None)).as_bytes()).unwrap();
        let user = root.path(&[(OUTLOOK_RESPONSE_NS, "Response"), (OUTLOOK_RESPONSE_NS, "User")]).unwrap();
        assert_eq!(text(user, &["DisplayName"]), "A <&> \"B\"");
    }

    #[test]
    fn error_response_shape() {
        let f = PoxFailure { code: ErrorCode::AddressNotFound, mobilesync: false, debug: String::new() };
        let root = parse(render_error(&f, &ctx(None)).as_bytes()).unwrap();
        let err = root.path(&[(RESPONSE_NS, "Response"), (RESPONSE_NS, "Error")]).unwrap();
        assert_eq!(err.attr("Time"), Some("07:15:00.0000000"));
        assert_eq!(err.attr("Id"), Some("42"));
        assert_eq!(text(err, &["ErrorCode"]), "500");
        assert_eq!(text(err, &["Message"]), "The e-mail address cannot be found.");
        assert!(err.child(RESPONSE_NS, "DebugData").is_some());

        let f = PoxFailure { code: ErrorCode::ProviderUnavailable, mobilesync: true, debug: String::new() };
        let root = parse(render_error(&f, &ctx(None)).as_bytes()).unwrap();
        let err = root.path(&[(MOBILESYNC_RESPONSE_NS, "Response"), (MOBILESYNC_RESPONSE_NS, "Error")]).unwrap();
        assert_eq!(text(err, &["ErrorCode"]), "601");
    }

    #[test]
    fn time_format() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(86_400_000 * 3 + 3_723_456);
        assert_eq!(time_of_day(t), "01:02:03.4560000");
    }
}
