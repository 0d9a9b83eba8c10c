//! The SOAP 1.1 envelope of EWS requests and responses (sans-IO).
//!
//! - Request: `s:Envelope/s:Header` carries `t:RequestServerVersion` (MS-OXWSCDATA 2.2.4.53
//!   RequestServerVersion, values of `ExchangeVersionType` 2.2.5.7), `t:TimeZoneContext` (MS-OXWSCDATA
//!   2.2.4.71), `t:ExchangeImpersonation` and `t:MailboxCulture`; `s:Body` holds exactly one operation element
//!   in the messages namespace.
//! - Response: every answer, including faults, carries `h:ServerVersionInfo` (MS-OXWSCDATA 2.2.4.58) in its
//!   header, which exchangelib reads to pick the API version even from an error response. Operation results are
//!   `m:{Op}Response/m:ResponseMessages/m:{Op}ResponseMessage` with a `ResponseClass` attribute and the
//!   `MessageText`, `ResponseCode` elements of `ResponseMessageType` (MS-OXWSCDATA 2.2.4.65).
//! - Faults: a request that is not a well-formed SOAP envelope is answered with a SOAP 1.1 fault whose detail
//!   names the EWS code (`ErrorSchemaValidation`), carried with HTTP 500 as SOAP 1.1 over HTTP requires
//!   (SOAP 1.1 section 6.2) and as Exchange does.

use super::xml::{self, Element, NS_M, NS_SOAP, NS_SOAP12, NS_T, XmlWriter};

/// Server build reported in `ServerVersionInfo`: Exchange 2016 CU23 (15.1.2507.6), whose schema Viaduc follows.
pub const MAJOR_VERSION: u32 = 15;
pub const MINOR_VERSION: u32 = 1;
pub const MAJOR_BUILD: u32 = 2507;
pub const MINOR_BUILD: u32 = 6;
/// The version assumed and echoed when a request names none.
pub const DEFAULT_VERSION: &str = "Exchange2016";

/// `ExchangeVersionType` values accepted in `RequestServerVersion/@Version` (MS-OXWSCDATA 2.2.5.7).
pub const KNOWN_VERSIONS: &[&str] = &[
    "Exchange2007",
    "Exchange2007_SP1",
    "Exchange2010",
    "Exchange2010_SP1",
    "Exchange2010_SP2",
    "Exchange2013",
    "Exchange2013_SP1",
    "Exchange2015",
    "Exchange2016",
    "Exchange2019",
];

/// Whether `v` is a version string Viaduc accepts: a known `ExchangeVersionType`, or one of the dated
/// `V2015_10_05`-style values newer servers and Office 365 use (`V` + year `_` month `_` day).
pub fn version_accepted(v: &str) -> bool {
    if KNOWN_VERSIONS.contains(&v) {
        return true;
    }
    let b = v.as_bytes();
    b.len() == 11
        && b[0] == b'V'
        && b[5] == b'_'
        && b[8] == b'_'
        && b[1..5].iter().chain(&b[6..8]).chain(&b[9..11]).all(u8::is_ascii_digit)
}

/// A parsed EWS request envelope.
#[derive(Debug)]
pub struct Request {
    /// The `RequestServerVersion` named by the client, if any.
    pub version: Option<String>,
    /// `TimeZoneContext/TimeZoneDefinition/@Id` (a Windows time zone id), if present.
    pub time_zone: Option<String>,
    /// `ExchangeImpersonation/ConnectingSID/PrimarySmtpAddress` (or `SmtpAddress`), if present.
    pub impersonate: Option<String>,
    /// The operation element (first child of `s:Body`).
    pub op: Element,
}

impl Request {
    /// The operation's local name (`GetFolder`, `FindItem`, ...).
    pub fn op_name(&self) -> &str {
        &self.op.name
    }

    /// The version to echo in `ServerVersionInfo`.
    pub fn echo_version(&self) -> &str {
        self.version.as_deref().unwrap_or(DEFAULT_VERSION)
    }
}

/// A request that cannot be processed as EWS: answered with a SOAP fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The EWS response code in the fault detail (`ErrorSchemaValidation`, `ErrorInvalidServerVersion`, ...).
    pub code: &'static str,
    pub message: String,
    /// The version to echo (when the header was readable).
    pub version: Option<String>,
}

impl Fault {
    fn schema(message: impl Into<String>) -> Fault {
        Fault { code: "ErrorSchemaValidation", message: message.into(), version: None }
    }
}

/// Whether `name` may be used as an element name in a response (operation names echoed in error answers).
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphabetic()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Parses an EWS request body.
pub fn parse_request(body: &[u8]) -> Result<Request, Fault> {
    let root = xml::parse(body).map_err(|e| Fault::schema(format!("The request is not well-formed XML: {e}")))?;
    if !(root.is(NS_SOAP, "Envelope") || root.is(NS_SOAP12, "Envelope")) {
        return Err(Fault::schema("The request is not a SOAP envelope."));
    }
    let env_ns = root.ns.clone().unwrap_or_default();
    let mut version = None;
    let mut time_zone = None;
    let mut impersonate = None;
    if let Some(header) = root.child(&env_ns, "Header") {
        if let Some(rsv) = header.t("RequestServerVersion") {
            let v = rsv.attr("Version").map(str::trim).unwrap_or("");
            if !version_accepted(v) {
                return Err(Fault {
                    code: "ErrorInvalidServerVersion",
                    message: format!("The specified server version '{v}' is invalid."),
                    version: None,
                });
            }
            version = Some(v.to_string());
        }
        if let Some(tz) = header.t("TimeZoneContext").and_then(|t| t.t("TimeZoneDefinition")) {
            time_zone = tz.attr("Id").map(str::to_string);
        }
        if let Some(imp) = header.t("ExchangeImpersonation").and_then(|i| i.t("ConnectingSID")) {
            impersonate = imp
                .t_text("PrimarySmtpAddress")
                .or_else(|| imp.t_text("SmtpAddress"))
                .or_else(|| imp.t_text("PrincipalName"))
                .map(str::to_string);
        }
    }
    let body = root.child(&env_ns, "Body").ok_or_else(|| Fault::schema("The SOAP envelope has no Body."))?;
    let op = body.children.first().ok_or_else(|| Fault::schema("The SOAP Body is empty."))?;
    if op.ns.as_deref() != Some(NS_M) || !is_safe_name(&op.name) {
        return Err(Fault {
            version: version.clone(),
            ..Fault::schema(format!(
                "The element '{}' is not an EWS operation.",
                op.name.chars().take(64).collect::<String>()
            ))
        });
    }
    let mut body = body.clone();
    let op = body.children.swap_remove(0);
    Ok(Request { version, time_zone, impersonate, op })
}

pub(crate) fn write_server_version_info(w: &mut XmlWriter, version: &str) {
    let (maj, min, mb, nb) =
        (MAJOR_VERSION.to_string(), MINOR_VERSION.to_string(), MAJOR_BUILD.to_string(), MINOR_BUILD.to_string());
    w.empty(
        "h:ServerVersionInfo",
        &[
            ("MajorVersion", &maj),
            ("MinorVersion", &min),
            ("MajorBuildNumber", &mb),
            ("MinorBuildNumber", &nb),
            ("Version", version),
            ("xmlns:h", NS_T),
            ("xmlns", NS_T),
            ("xmlns:xsd", "http://www.w3.org/2001/XMLSchema"),
            ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
        ],
    );
}

/// Renders a SOAP fault (with `ServerVersionInfo` in the header).
pub fn fault_xml(fault: &Fault) -> String {
    let version = fault.version.as_deref().unwrap_or(DEFAULT_VERSION);
    let mut w = XmlWriter::with_decl();
    w.start("s:Envelope", &[("xmlns:s", NS_SOAP)]);
    w.start("s:Header", &[]);
    write_server_version_info(&mut w, version);
    w.end();
    w.start("s:Body", &[]).start("s:Fault", &[]);
    w.leaf_with("faultcode", &[("xmlns:a", NS_T)], &format!("a:{}", fault.code));
    w.leaf_with("faultstring", &[("xml:lang", "en-US")], &fault.message);
    w.start("detail", &[]);
    let e_ns = "http://schemas.microsoft.com/exchange/services/2006/errors";
    w.leaf_with("e:ResponseCode", &[("xmlns:e", e_ns)], fault.code);
    w.leaf_with("e:Message", &[("xmlns:e", e_ns)], &fault.message);
    w.finish()
}

/// `ResponseClassType` (MS-OXWSCDATA 2.2.5.26).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseClass {
    Success,
    Warning,
    Error,
}

/// One `{Op}ResponseMessage`: its class, code, text and the operation-specific content after the code
/// (already rendered with the `m:`/`t:` prefixes).
#[derive(Debug, Clone)]
pub struct ResponseMessage {
    pub class: ResponseClass,
    pub code: &'static str,
    pub text: Option<String>,
    /// Extra attributes on the message element (none for most operations).
    pub attrs: Vec<(&'static str, String)>,
    pub content: String,
}

impl ResponseMessage {
    /// A successful message with content.
    pub fn ok(content: String) -> ResponseMessage {
        ResponseMessage { class: ResponseClass::Success, code: "NoError", text: None, attrs: Vec::new(), content }
    }

    /// An error message (`ResponseClass="Error"`).
    pub fn error(code: &'static str, text: impl Into<String>) -> ResponseMessage {
        ResponseMessage {
            class: ResponseClass::Error,
            code,
            text: Some(text.into()),
            attrs: Vec::new(),
            content: String::new(),
        }
    }

    /// An error message that still carries content (e.g. an empty `m:Folders` as Exchange sends).
    pub fn error_with(code: &'static str, text: impl Into<String>, content: String) -> ResponseMessage {
        ResponseMessage { content, ..ResponseMessage::error(code, text) }
    }
}

/// Renders a complete response envelope for operation `op` with the given messages. `message_name` is the
/// element name of each message (normally `{op}ResponseMessage`).
pub fn response_xml(version: &str, op: &str, message_name: &str, messages: &[ResponseMessage]) -> String {
    let mut w = XmlWriter::with_decl();
    // One allocation for the whole answer, however large the messages' content (whole messages in GetItem).
    w.reserve(messages.iter().map(|m| m.content.len() + 256).sum::<usize>() + 1024);
    w.start("s:Envelope", &[("xmlns:s", NS_SOAP)]);
    w.start("s:Header", &[]);
    write_server_version_info(&mut w, version);
    w.end();
    w.start(
        "s:Body",
        &[
            ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
            ("xmlns:xsd", "http://www.w3.org/2001/XMLSchema"),
        ],
    );
    let response = format!("m:{op}Response");
    let msg_name = format!("m:{message_name}");
    w.start(&response, &[("xmlns:m", NS_M), ("xmlns:t", NS_T)]);
    w.start("m:ResponseMessages", &[]);
    for m in messages {
        let class = match m.class {
            ResponseClass::Success => "Success",
            ResponseClass::Warning => "Warning",
            ResponseClass::Error => "Error",
        };
        let mut attrs: Vec<(&str, &str)> = vec![("ResponseClass", class)];
        for (k, v) in &m.attrs {
            attrs.push((k, v));
        }
        w.start(&msg_name, &attrs);
        if let Some(t) = &m.text {
            w.leaf("m:MessageText", t);
        }
        w.leaf("m:ResponseCode", m.code);
        if m.class != ResponseClass::Success {
            w.leaf("m:DescriptiveLinkKey", "0");
        }
        w.raw_text(&m.content);
        w.end();
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONVERT_ID: &str = r#"<?xml version='1.0' encoding='utf-8'?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:RequestServerVersion Version="Exchange2016"/><t:TimeZoneContext><t:TimeZoneDefinition Id="UTC"/></t:TimeZoneContext></s:Header><s:Body><m:ConvertId DestinationFormat="EntryId"><m:SourceIds><t:AlternateId Id="DUMMY" Format="EwsId" Mailbox="DUMMY"/></m:SourceIds></m:ConvertId></s:Body></s:Envelope>"#;

    #[test]
    fn parses_header_and_operation() {
        let r = parse_request(CONVERT_ID.as_bytes()).unwrap();
        assert_eq!(r.version.as_deref(), Some("Exchange2016"));
        assert_eq!(r.time_zone.as_deref(), Some("UTC"));
        assert_eq!(r.op_name(), "ConvertId");
        assert_eq!(r.op.attr("DestinationFormat"), Some("EntryId"));
    }

    #[test]
    fn versions() {
        assert!(version_accepted("Exchange2007_SP1"));
        assert!(version_accepted("Exchange2016"));
        assert!(version_accepted("V2015_10_05"));
        assert!(version_accepted("V2017_07_11"));
        assert!(!version_accepted("V2017_7_11"));
        assert!(!version_accepted("Exchange1999"));
        let bad = CONVERT_ID.replace("Exchange2016", "Exchange1999");
        let f = parse_request(bad.as_bytes()).unwrap_err();
        assert_eq!(f.code, "ErrorInvalidServerVersion");
        let dated = CONVERT_ID.replace("Exchange2016", "V2016_10_10");
        assert_eq!(parse_request(dated.as_bytes()).unwrap().echo_version(), "V2016_10_10");
    }

    #[test]
    fn refuses_non_envelopes() {
        for body in [
            &b"garbage"[..],
            b"<x/>",
            b"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"/>",
            b"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body/></s:Envelope>",
            b"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><x:Op xmlns:x=\"urn:x\"/></s:Body></s:Envelope>",
        ] {
            let f = parse_request(body).unwrap_err();
            assert_eq!(f.code, "ErrorSchemaValidation");
        }
    }

    #[test]
    fn fault_and_response_are_well_formed() {
        let f = fault_xml(&Fault { code: "ErrorSchemaValidation", message: "bad <xml>".into(), version: None });
        let root = xml::parse(f.as_bytes()).unwrap();
        let header = root.child(NS_SOAP, "Header").unwrap();
        assert_eq!(header.t("ServerVersionInfo").unwrap().attr("Version"), Some("Exchange2016"));
        let fault = root.child(NS_SOAP, "Body").unwrap().child(NS_SOAP, "Fault").unwrap();
        assert_eq!(fault.child_local("faultcode").unwrap().text, "a:ErrorSchemaValidation");

        let msgs =
            vec![ResponseMessage::ok("<m:Folders/>".into()), ResponseMessage::error("ErrorFolderNotFound", "nope")];
        let r = response_xml("Exchange2013", "GetFolder", "GetFolderResponseMessage", &msgs);
        let root = xml::parse(r.as_bytes()).unwrap();
        let svi = root.child(NS_SOAP, "Header").unwrap().t("ServerVersionInfo").unwrap();
        assert_eq!(svi.attr("Version"), Some("Exchange2013"));
        assert_eq!(svi.attr("MajorVersion"), Some("15"));
        let rm = root.child(NS_SOAP, "Body").unwrap().m("GetFolderResponse").unwrap().m("ResponseMessages").unwrap();
        let all: Vec<_> = rm.children_named(NS_M, "GetFolderResponseMessage").collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].attr("ResponseClass"), Some("Success"));
        assert_eq!(all[0].m("ResponseCode").unwrap().text, "NoError");
        assert_eq!(all[1].attr("ResponseClass"), Some("Error"));
        assert_eq!(all[1].m("ResponseCode").unwrap().text, "ErrorFolderNotFound");
        assert_eq!(all[1].m("MessageText").unwrap().text, "nope");
    }
}
