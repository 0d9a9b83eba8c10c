//! SOAP Autodiscover, MS-OXWSADISC: `/autodiscover/autodiscover.svc`, used by EWS clients (exchangelib, the EWS
//! Managed API, Outlook for Mac). Sans-IO: [`parse_request`] reads the envelope, the caller resolves the
//! mailboxes, the `render_*` functions write the envelope back.
//!
//! Served: `GetUserSettings` (3.1.4.2) and `GetDomainSettings` (3.1.4.1). Any other operation gets its response
//! message with `ErrorCode` `InvalidRequest`; a body that is not a SOAP envelope gets a SOAP fault.

use super::Lookup;
use super::settings::{
    EWS_SUPPORTED_SCHEMAS, SERVER_BUILD, SERVER_MAJOR, SERVER_MINOR, SERVER_REVISION, SOAP_SERVER_VERSION_NAME,
    UserSettings, server_version_string,
};
use super::xml::{self, Element, XmlWriter};

pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
/// The Autodiscover messages namespace (MS-OXWSADISC 2.2.1).
pub const AUTODISCOVER_NS: &str = "http://schemas.microsoft.com/exchange/2010/Autodiscover";
pub const WSA_NS: &str = "http://www.w3.org/2005/08/addressing";
pub const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
const ACTION_BASE: &str = "http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/";

/// Most mailboxes or domains answered in one request (Exchange's limit is 100 as well).
pub const MAX_ENTRIES: usize = 100;

/// The SOAP version of the request; the response uses the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapVersion {
    V11,
    V12,
}

impl SoapVersion {
    fn ns(self) -> &'static str {
        match self {
            SoapVersion::V11 => SOAP11_NS,
            SoapVersion::V12 => SOAP12_NS,
        }
    }

    /// The Content-Type of a response in this version.
    pub fn content_type(self) -> &'static str {
        match self {
            SoapVersion::V11 => "text/xml; charset=utf-8",
            SoapVersion::V12 => "application/soap+xml; charset=utf-8",
        }
    }
}

/// What the request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// MS-OXWSADISC 3.1.4.2: settings of one or more mailboxes.
    GetUserSettings { users: Vec<String>, settings: Vec<String> },
    /// MS-OXWSADISC 3.1.4.1: settings of one or more domains.
    GetDomainSettings { domains: Vec<String>, settings: Vec<String> },
    /// Any other operation (the local name of the body element), or a served one that is malformed.
    Invalid { name: String, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapRequest {
    pub version: SoapVersion,
    pub op: Operation,
}

/// A request that is not a SOAP envelope: answered with a fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub version: SoapVersion,
    pub message: String,
}

fn texts(parent: Option<&Element>, name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in parent.into_iter().flat_map(|p| p.children_named(AUTODISCOVER_NS, name)) {
        let v = e.trimmed().to_string();
        if !v.is_empty() && !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// Parses a SOAP 1.1 or 1.2 envelope carrying an Autodiscover request.
pub fn parse_request(body: &[u8]) -> Result<SoapRequest, Fault> {
    let root = xml::parse(body).map_err(|e| Fault { version: SoapVersion::V11, message: e.0 })?;
    let version = match root.ns.as_deref() {
        Some(SOAP11_NS) if root.name == "Envelope" => SoapVersion::V11,
        Some(SOAP12_NS) if root.name == "Envelope" => SoapVersion::V12,
        _ => return Err(Fault { version: SoapVersion::V11, message: "not a SOAP envelope".into() }),
    };
    let fault = |m: &str| Fault { version, message: m.to_string() };
    let body = root.child(version.ns(), "Body").ok_or_else(|| fault("no SOAP Body"))?;
    let msg = body.children.first().ok_or_else(|| fault("empty SOAP Body"))?;
    let invalid = |reason: &str| Operation::Invalid { name: msg.name.clone(), reason: reason.to_string() };
    if msg.ns.as_deref() != Some(AUTODISCOVER_NS) {
        return Ok(SoapRequest { version, op: invalid("not an Autodiscover operation") });
    }
    let request = msg.child(AUTODISCOVER_NS, "Request");
    let settings = texts(request.and_then(|r| r.child(AUTODISCOVER_NS, "RequestedSettings")), "Setting");
    let op = match msg.name.as_str() {
        "GetUserSettingsRequestMessage" => {
            let users: Vec<String> = request
                .and_then(|r| r.child(AUTODISCOVER_NS, "Users"))
                .into_iter()
                .flat_map(|u| u.children_named(AUTODISCOVER_NS, "User"))
                .filter_map(|u| u.child(AUTODISCOVER_NS, "Mailbox"))
                .map(|m| m.trimmed().to_string())
                .collect();
            if users.is_empty() {
                invalid("no users were requested")
            } else if users.len() > MAX_ENTRIES {
                invalid("too many users were requested")
            } else if settings.is_empty() {
                invalid("no settings were requested")
            } else {
                Operation::GetUserSettings { users, settings }
            }
        }
        "GetDomainSettingsRequestMessage" => {
            let domains = texts(request.and_then(|r| r.child(AUTODISCOVER_NS, "Domains")), "Domain");
            if domains.is_empty() {
                invalid("no domains were requested")
            } else if domains.len() > MAX_ENTRIES {
                invalid("too many domains were requested")
            } else if settings.is_empty() {
                invalid("no settings were requested")
            } else {
                Operation::GetDomainSettings { domains, settings }
            }
        }
        _ => invalid("the operation is not supported"),
    };
    Ok(SoapRequest { version, op })
}

/// Every user setting name MS-OXWSADISC (2.2.4.x `UserSettingName`, and the Setting element's list) defines.
/// A known name Viaduc has no value for is left out of the response, as Exchange does; any other name gets an
/// `InvalidSetting` error.
pub const KNOWN_USER_SETTINGS: &[&str] = &[
    "UserDisplayName",
    "UserDN",
    "UserDeploymentId",
    "InternalMailboxServer",
    "InternalRpcClientServer",
    "InternalMailboxServerDN",
    "InternalEcpUrl",
    "InternalEcpVoicemailUrl",
    "InternalEcpEmailSubscriptionsUrl",
    "InternalEcpTextMessagingUrl",
    "InternalEcpDeliveryReportUrl",
    "InternalEcpRetentionPolicyTagsUrl",
    "InternalEcpPublishingUrl",
    "InternalEcpPhotoUrl",
    "InternalEcpConnectUrl",
    "InternalEcpTeamMailboxUrl",
    "InternalEcpTeamMailboxCreatingUrl",
    "InternalEcpTeamMailboxEditingUrl",
    "InternalEcpTeamMailboxHidingUrl",
    "InternalEcpExtensionInstallationUrl",
    "InternalEwsUrl",
    "InternalEmwsUrl",
    "InternalOABUrl",
    "InternalPhotosUrl",
    "InternalUMUrl",
    "InternalWebClientUrls",
    "MailboxDN",
    "PublicFolderServer",
    "ActiveDirectoryServer",
    "ExternalMailboxServer",
    "ExternalMailboxServerRequiresSSL",
    "ExternalMailboxServerAuthenticationMethods",
    "EcpVoicemailUrlFragment",
    "EcpEmailSubscriptionsUrlFragment",
    "EcpTextMessagingUrlFragment",
    "EcpDeliveryReportUrlFragment",
    "EcpRetentionPolicyTagsUrlFragment",
    "EcpPublishingUrlFragment",
    "EcpPhotoUrlFragment",
    "EcpConnectUrlFragment",
    "EcpTeamMailboxUrlFragment",
    "EcpTeamMailboxCreatingUrlFragment",
    "EcpTeamMailboxEditingUrlFragment",
    "EcpTeamMailboxHidingUrlFragment",
    "EcpExtensionInstallationUrlFragment",
    "ExternalEcpUrl",
    "ExternalEcpVoicemailUrl",
    "ExternalEcpEmailSubscriptionsUrl",
    "ExternalEcpTextMessagingUrl",
    "ExternalEcpDeliveryReportUrl",
    "ExternalEcpRetentionPolicyTagsUrl",
    "ExternalEcpPublishingUrl",
    "ExternalEcpPhotoUrl",
    "ExternalEcpConnectUrl",
    "ExternalEcpTeamMailboxUrl",
    "ExternalEcpTeamMailboxCreatingUrl",
    "ExternalEcpTeamMailboxEditingUrl",
    "ExternalEcpTeamMailboxHidingUrl",
    "ExternalEcpExtensionInstallationUrl",
    "ExternalEwsUrl",
    "ExternalEmwsUrl",
    "ExternalOABUrl",
    "ExternalPhotosUrl",
    "ExternalUMUrl",
    "ExternalWebClientUrls",
    "CrossOrganizationSharingEnabled",
    "AlternateMailboxes",
    "CasVersion",
    "EwsSupportedSchemas",
    "InternalPop3Connections",
    "ExternalPop3Connections",
    "InternalImap4Connections",
    "ExternalImap4Connections",
    "InternalSmtpConnections",
    "ExternalSmtpConnections",
    "InternalServerExclusiveConnect",
    "ExternalEwsVersion",
    "ExternalServerExclusiveConnect",
    "ExchangeRpcUrl",
    "ShowGalAsDefaultView",
    "AutoDiscoverSMTPAddress",
    "InteropExternalEwsUrl",
    "InteropExternalEwsVersion",
    "PublicFolderInformation",
    "RedirectUrl",
    "EwsPartnerUrl",
    "CertPrincipalName",
    "GroupingInformation",
    "MapiHttpEnabled",
    "MobileMailboxPolicyInterop",
    "UserMSOnline",
    "InternalRpcHttpServer",
    "ExternalRpcHttpServer",
    "InternalRpcHttpAuthenticationMethods",
    "ExternalRpcHttpAuthenticationMethods",
];

/// The value of one user setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingValue {
    /// `StringSetting` (booleans are the strings `True`/`False`, as Exchange writes them).
    Str(String),
    /// `WebClientUrlCollectionSetting`: (authentication methods, URL).
    WebClientUrls(Vec<(String, String)>),
}

/// The value of `name` for the mailbox `s`, or `None` when Viaduc has none (the setting is then left out).
pub fn user_setting(name: &str, s: &UserSettings) -> Option<SettingValue> {
    let str = |v: &str| Some(SettingValue::Str(v.to_string()));
    match name {
        "UserDisplayName" => str(&s.display_name),
        "UserDN" => str(&s.legacy_dn),
        "UserDeploymentId" => str(&s.deployment_id),
        "AutoDiscoverSMTPAddress" => str(&s.mail),
        "InternalEwsUrl" | "ExternalEwsUrl" | "InternalEmwsUrl" | "ExternalEmwsUrl" => str(&s.ews_url()),
        "InternalMailboxServer" | "InternalRpcClientServer" => str(&s.mailbox_server),
        "InternalMailboxServerDN" => str(&s.server_dn),
        "MailboxDN" => str(&s.mdb_dn),
        "ExternalMailboxServer" => str(&s.public_host),
        "ExternalMailboxServerRequiresSSL" => str(if s.ssl { "True" } else { "False" }),
        "ExternalMailboxServerAuthenticationMethods" => str("Basic"),
        "CasVersion" | "ExternalEwsVersion" => str(&server_version_string()),
        "EwsSupportedSchemas" => str(EWS_SUPPORTED_SCHEMAS),
        "MapiHttpEnabled" => str("True"),
        "UserMSOnline" | "CrossOrganizationSharingEnabled" | "ShowGalAsDefaultView" => str("False"),
        "InternalServerExclusiveConnect" => str("Off"),
        "ExternalServerExclusiveConnect" => str("On"),
        "CertPrincipalName" => str("none"),
        "GroupingInformation" => str(s.grouping_information()),
        "InternalWebClientUrls" | "ExternalWebClientUrls" => {
            Some(SettingValue::WebClientUrls(vec![("Basic".to_string(), s.owa_url())]))
        }
        _ => None,
    }
}

/// The domain setting names MS-OXWSADISC defines (`DomainSettingName`); Viaduc answers both.
pub const KNOWN_DOMAIN_SETTINGS: &[&str] = &["ExternalEwsUrl", "ExternalEwsVersion"];

fn envelope(w: &mut XmlWriter, version: SoapVersion, action: &str) {
    w.start("s:Envelope", &[("xmlns:s", version.ns()), ("xmlns:a", WSA_NS)]);
    w.start("s:Header", &[]);
    w.leaf("a:Action", &format!("{ACTION_BASE}{action}"));
    // MS-OXWSADISC 2.2.4.x ServerVersionInfo header: the server's build and schema version.
    w.start("h:ServerVersionInfo", &[("xmlns:h", AUTODISCOVER_NS), ("xmlns:i", XSI_NS)]);
    w.leaf("h:MajorVersion", &SERVER_MAJOR.to_string());
    w.leaf("h:MinorVersion", &SERVER_MINOR.to_string());
    w.leaf("h:MajorBuildNumber", &SERVER_BUILD.to_string());
    w.leaf("h:MinorBuildNumber", &SERVER_REVISION.to_string());
    w.leaf("h:Version", SOAP_SERVER_VERSION_NAME);
    w.end();
    w.end();
    w.start("s:Body", &[]);
}

/// `GetUserSettingsResponseMessage` (MS-OXWSADISC 3.1.4.2.2.2): one `UserResponse` per requested mailbox, in
/// request order, with the requested settings it has a value for and an `InvalidSetting` error for each name
/// the protocol does not define.
pub fn render_user_settings(version: SoapVersion, settings: &[String], users: &[(String, Lookup)]) -> String {
    let mut w = XmlWriter::indented();
    envelope(&mut w, version, "GetUserSettingsResponse");
    w.start("GetUserSettingsResponseMessage", &[("xmlns", AUTODISCOVER_NS)]);
    w.start("Response", &[("xmlns:i", XSI_NS)]);
    w.leaf("ErrorCode", "NoError");
    w.empty("ErrorMessage", &[]);
    w.start("UserResponses", &[]);
    for (mailbox, lookup) in users {
        w.start("UserResponse", &[]);
        let (code, message) = match lookup {
            Lookup::Found(_) => ("NoError", "No error.".to_string()),
            Lookup::NotFound | Lookup::NotMailbox => ("InvalidUser", format!("Invalid user: '{mailbox}'")),
            Lookup::Failed => ("InternalServerError", "The directory could not be reached.".to_string()),
        };
        w.leaf("ErrorCode", code);
        w.leaf("ErrorMessage", &message);
        w.empty("RedirectTarget", &[("i:nil", "true")]);
        let Lookup::Found(s) = lookup else {
            w.empty("UserSettingErrors", &[]);
            w.empty("UserSettings", &[]);
            w.end();
            continue;
        };
        let invalid: Vec<&String> = settings.iter().filter(|n| !KNOWN_USER_SETTINGS.contains(&n.as_str())).collect();
        if invalid.is_empty() {
            w.empty("UserSettingErrors", &[]);
        } else {
            w.start("UserSettingErrors", &[]);
            for name in invalid {
                w.start("UserSettingError", &[]);
                w.leaf("ErrorCode", "InvalidSetting");
                w.leaf("ErrorMessage", &format!("The requested setting '{name}' is not valid."));
                w.leaf("SettingName", name);
                w.end();
            }
            w.end();
        }
        w.start("UserSettings", &[]);
        for name in settings {
            match user_setting(name, s) {
                Some(SettingValue::Str(v)) => {
                    w.start("UserSetting", &[("i:type", "StringSetting")]);
                    w.leaf("Name", name);
                    w.leaf("Value", &v);
                    w.end();
                }
                Some(SettingValue::WebClientUrls(urls)) => {
                    w.start("UserSetting", &[("i:type", "WebClientUrlCollectionSetting")]);
                    w.leaf("Name", name);
                    w.start("WebClientUrls", &[]);
                    for (auth, url) in urls {
                        w.start("WebClientUrl", &[]);
                        w.leaf("AuthenticationMethods", &auth);
                        w.leaf("Url", &url);
                        w.end();
                    }
                    w.end();
                    w.end();
                }
                None => {}
            }
        }
        w.end(); // UserSettings
        w.end(); // UserResponse
    }
    w.finish()
}

/// `GetDomainSettingsResponseMessage` (MS-OXWSADISC 3.1.4.1.2.2): `ExternalEwsUrl` and `ExternalEwsVersion`
/// for a served domain, `InvalidDomain` for any other. `domains` pairs each requested domain with whether it is
/// served; `ews_url` is the EWS endpoint.
pub fn render_domain_settings(
    version: SoapVersion,
    settings: &[String],
    domains: &[(String, bool)],
    ews_url: &str,
) -> String {
    let mut w = XmlWriter::indented();
    envelope(&mut w, version, "GetDomainSettingsResponse");
    w.start("GetDomainSettingsResponseMessage", &[("xmlns", AUTODISCOVER_NS)]);
    w.start("Response", &[("xmlns:i", XSI_NS)]);
    w.leaf("ErrorCode", "NoError");
    w.empty("ErrorMessage", &[]);
    w.start("DomainResponses", &[]);
    for (domain, served) in domains {
        w.start("DomainResponse", &[]);
        if !served {
            w.leaf("ErrorCode", "InvalidDomain");
            w.leaf("ErrorMessage", &format!("The domain '{domain}' is not served here."));
            w.empty("DomainSettingErrors", &[]);
            w.empty("DomainSettings", &[]);
            w.empty("RedirectTarget", &[("i:nil", "true")]);
            w.end();
            continue;
        }
        w.leaf("ErrorCode", "NoError");
        w.leaf("ErrorMessage", "No error.");
        let invalid: Vec<&String> = settings.iter().filter(|n| !KNOWN_DOMAIN_SETTINGS.contains(&n.as_str())).collect();
        if invalid.is_empty() {
            w.empty("DomainSettingErrors", &[]);
        } else {
            w.start("DomainSettingErrors", &[]);
            for name in invalid {
                w.start("DomainSettingError", &[]);
                w.leaf("ErrorCode", "InvalidSetting");
                w.leaf("ErrorMessage", &format!("The requested setting '{name}' is not valid."));
                w.leaf("SettingName", name);
                w.end();
            }
            w.end();
        }
        w.start("DomainSettings", &[]);
        for name in settings {
            let value = match name.as_str() {
                "ExternalEwsUrl" => ews_url.to_string(),
                "ExternalEwsVersion" => server_version_string(),
                _ => continue,
            };
            w.start("DomainSetting", &[("i:type", "DomainStringSetting")]);
            w.leaf("Name", name);
            w.leaf("Value", &value);
            w.end();
        }
        w.end(); // DomainSettings
        w.empty("RedirectTarget", &[("i:nil", "true")]);
        w.end(); // DomainResponse
    }
    w.finish()
}

/// The response to an operation Viaduc does not serve (or a malformed served one): `<Op>ResponseMessage` with a
/// `Response` whose `ErrorCode` is `InvalidRequest` (MS-OXWSADISC 2.2.4.x ErrorCode).
pub fn render_invalid_request(version: SoapVersion, request_name: &str, reason: &str) -> String {
    let base = request_name.strip_suffix("RequestMessage").unwrap_or(request_name);
    let base: String = base.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    let base = if base.is_empty() { "Autodiscover".to_string() } else { base };
    let mut w = XmlWriter::indented();
    envelope(&mut w, version, &format!("{base}Response"));
    w.start(&format!("{base}ResponseMessage"), &[("xmlns", AUTODISCOVER_NS)]);
    w.start("Response", &[("xmlns:i", XSI_NS)]);
    w.leaf("ErrorCode", "InvalidRequest");
    w.leaf("ErrorMessage", reason);
    w.finish()
}

/// A SOAP fault (SOAP 1.1 section 4.4 / SOAP 1.2 part 1 section 5.4) blaming the client.
pub fn render_fault(fault: &Fault) -> String {
    let mut w = XmlWriter::indented();
    w.start("s:Envelope", &[("xmlns:s", fault.version.ns())]);
    w.start("s:Body", &[]);
    w.start("s:Fault", &[]);
    match fault.version {
        SoapVersion::V11 => {
            w.leaf("faultcode", "s:Client");
            w.leaf_with(
                "faultstring",
                &[("xml:lang", "en-US")],
                &format!("The request is not a valid Autodiscover SOAP request: {}", fault.message),
            );
        }
        SoapVersion::V12 => {
            w.start("s:Code", &[]);
            w.leaf("s:Value", "s:Sender");
            w.end();
            w.start("s:Reason", &[]);
            w.leaf_with(
                "s:Text",
                &[("xml:lang", "en-US")],
                &format!("The request is not a valid Autodiscover SOAP request: {}", fault.message),
            );
            w.end();
        }
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::super::settings::mailbox_guid;
    use super::super::settings::tests::config;
    use super::*;
    use crate::autodiscover::xml::parse;

    const EXCHANGELIB_REQ: &str =
        include_str!("../../protocol-fixtures/autodiscover/soap-getusersettings-exchangelib-request.xml");
    const A: &str = AUTODISCOVER_NS;

    /// The UserSettings of a UserResponse as name -> value (string settings) or name -> "url|url" (collections).
    fn settings_of(ur: &Element) -> std::collections::BTreeMap<String, String> {
        let mut out = std::collections::BTreeMap::new();
        for s in ur.child(A, "UserSettings").unwrap().children_named(A, "UserSetting") {
            let name = s.child(A, "Name").unwrap().trimmed().to_string();
            let value = match s.child(A, "Value") {
                Some(v) => v.trimmed().to_string(),
                None => s
                    .child(A, "WebClientUrls")
                    .unwrap()
                    .children_named(A, "WebClientUrl")
                    .map(|u| u.child(A, "Url").unwrap().trimmed().to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            };
            assert!(out.insert(name, value).is_none(), "setting listed twice");
        }
        out
    }

    fn body_message(doc: &str, version: SoapVersion) -> Element {
        let root = parse(doc.as_bytes()).unwrap();
        assert!(root.is(version.ns(), "Envelope"));
        let info = root.path(&[(version.ns(), "Header"), (A, "ServerVersionInfo")]).unwrap();
        assert_eq!(info.child(A, "MajorVersion").unwrap().trimmed(), "15");
        assert_eq!(info.child(A, "MinorVersion").unwrap().trimmed(), "1");
        assert_eq!(info.child(A, "MajorBuildNumber").unwrap().trimmed(), "2507");
        assert_eq!(info.child(A, "Version").unwrap().trimmed(), "Exchange2015");
        root.child(version.ns(), "Body").unwrap().children[0].clone()
    }

    #[test]
    fn parses_exchangelib_request() {
        let r = parse_request(EXCHANGELIB_REQ.as_bytes()).unwrap();
        assert_eq!(r.version, SoapVersion::V11);
        let Operation::GetUserSettings { users, settings } = r.op else { panic!("{:?}", r.op) };
        assert_eq!(users, ["alice@example.test"]);
        assert_eq!(settings.len(), 62);
        assert!(
            settings.iter().all(|s| KNOWN_USER_SETTINGS.contains(&s.as_str())),
            "exchangelib asks only known names"
        );
    }

    #[test]
    fn user_settings_response_field_by_field() {
        let c = config();
        let s = UserSettings::new(&c, "alice@example.test", "Alice Anderson");
        let guid = mailbox_guid("alice@example.test");
        let Operation::GetUserSettings { settings, .. } = parse_request(EXCHANGELIB_REQ.as_bytes()).unwrap().op else {
            panic!()
        };
        let doc = render_user_settings(
            SoapVersion::V11,
            &settings,
            &[("alice@example.test".into(), Lookup::Found(Box::new(s.clone())))],
        );
        let msg = body_message(&doc, SoapVersion::V11);
        assert!(msg.is(A, "GetUserSettingsResponseMessage"));
        let resp = msg.child(A, "Response").unwrap();
        assert_eq!(resp.child(A, "ErrorCode").unwrap().trimmed(), "NoError");
        let urs: Vec<&Element> = resp.child(A, "UserResponses").unwrap().children_named(A, "UserResponse").collect();
        assert_eq!(urs.len(), 1);
        assert_eq!(urs[0].child(A, "ErrorCode").unwrap().trimmed(), "NoError");
        assert_eq!(urs[0].child(A, "RedirectTarget").unwrap().attr_ns(XSI_NS, "nil"), Some("true"));
        assert!(urs[0].child(A, "UserSettingErrors").unwrap().children.is_empty());
        let got = settings_of(urs[0]);
        let ews = "https://mail.example.test/EWS/Exchange.asmx";
        let expect = [
            ("UserDisplayName", "Alice Anderson".to_string()),
            ("UserDN", s.legacy_dn.clone()),
            ("UserDeploymentId", c.deployment_id()),
            ("AutoDiscoverSMTPAddress", "alice@example.test".into()),
            ("InternalEwsUrl", ews.into()),
            ("ExternalEwsUrl", ews.into()),
            ("InternalMailboxServer", format!("{guid}@example.test")),
            ("InternalRpcClientServer", format!("{guid}@example.test")),
            ("InternalMailboxServerDN", s.server_dn.clone()),
            ("MailboxDN", s.mdb_dn.clone()),
            ("ExternalMailboxServer", "mail.example.test".into()),
            ("ExternalMailboxServerRequiresSSL", "True".into()),
            ("ExternalMailboxServerAuthenticationMethods", "Basic".into()),
            ("CasVersion", "15.01.2507.006".into()),
            ("ExternalEwsVersion", "15.01.2507.006".into()),
            ("EwsSupportedSchemas", EWS_SUPPORTED_SCHEMAS.into()),
            ("MapiHttpEnabled", "True".into()),
            ("UserMSOnline", "False".into()),
            ("CrossOrganizationSharingEnabled", "False".into()),
            ("ShowGalAsDefaultView", "False".into()),
            ("InternalServerExclusiveConnect", "Off".into()),
            ("ExternalServerExclusiveConnect", "On".into()),
            ("GroupingInformation", "mail.example.test".into()),
            ("InternalWebClientUrls", "https://mail.example.test/owa/".into()),
            ("ExternalWebClientUrls", "https://mail.example.test/owa/".into()),
        ];
        for (name, value) in &expect {
            assert_eq!(got.get(*name), Some(value), "{name}");
        }
        assert_eq!(got.len(), expect.len(), "only settings with a value: {:?}", got.keys());
        assert!(!got.contains_key("ActiveDirectoryServer"));
    }

    #[test]
    fn only_requested_settings_and_invalid_names_reported() {
        let s = UserSettings::new(&config(), "alice@example.test", "Alice");
        let settings = vec!["ExternalEwsUrl".to_string(), "NoSuchSetting".to_string()];
        let doc = render_user_settings(
            SoapVersion::V11,
            &settings,
            &[("alice@example.test".into(), Lookup::Found(Box::new(s)))],
        );
        let msg = body_message(&doc, SoapVersion::V11);
        let ur = msg.path(&[(A, "Response"), (A, "UserResponses"), (A, "UserResponse")]).unwrap();
        let got = settings_of(ur);
        assert_eq!(got.keys().collect::<Vec<_>>(), ["ExternalEwsUrl"]);
        let errs: Vec<&Element> =
            ur.child(A, "UserSettingErrors").unwrap().children_named(A, "UserSettingError").collect();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].child(A, "ErrorCode").unwrap().trimmed(), "InvalidSetting");
        assert_eq!(errs[0].child(A, "SettingName").unwrap().trimmed(), "NoSuchSetting");
    }

    #[test]
    fn invalid_user_and_several_users() {
        let s = UserSettings::new(&config(), "alice@example.test", "Alice");
        let users = vec![
            ("nobody@example.test".to_string(), Lookup::NotFound),
            ("alice@example.test".to_string(), Lookup::Found(Box::new(s))),
            ("x@foreign.example".to_string(), Lookup::NotFound),
        ];
        let doc = render_user_settings(SoapVersion::V12, &["UserDisplayName".into()], &users);
        let msg = body_message(&doc, SoapVersion::V12);
        let urs: Vec<&Element> =
            msg.path(&[(A, "Response"), (A, "UserResponses")]).unwrap().children_named(A, "UserResponse").collect();
        let codes: Vec<&str> = urs.iter().map(|u| u.child(A, "ErrorCode").unwrap().trimmed()).collect();
        assert_eq!(codes, ["InvalidUser", "NoError", "InvalidUser"]);
        assert!(urs[0].child(A, "UserSettings").unwrap().children.is_empty());
        assert_eq!(settings_of(urs[1]).get("UserDisplayName").map(String::as_str), Some("Alice"));
    }

    #[test]
    fn domain_settings() {
        let req = include_str!("../../protocol-fixtures/autodiscover/soap-getdomainsettings-request.xml");
        let r = parse_request(req.as_bytes()).unwrap();
        let Operation::GetDomainSettings { domains, settings } = r.op else { panic!("{:?}", r.op) };
        assert_eq!(domains, ["example.test", "foreign.example"]);
        let c = config();
        let pairs: Vec<(String, bool)> = domains.iter().map(|d| (d.clone(), c.serves_domain(d))).collect();
        let doc = render_domain_settings(r.version, &settings, &pairs, "https://mail.example.test/EWS/Exchange.asmx");
        let msg = body_message(&doc, SoapVersion::V11);
        assert!(msg.is(A, "GetDomainSettingsResponseMessage"));
        let drs: Vec<&Element> =
            msg.path(&[(A, "Response"), (A, "DomainResponses")]).unwrap().children_named(A, "DomainResponse").collect();
        assert_eq!(drs[0].child(A, "ErrorCode").unwrap().trimmed(), "NoError");
        let values: Vec<(String, String)> = drs[0]
            .child(A, "DomainSettings")
            .unwrap()
            .children_named(A, "DomainSetting")
            .map(|s| (s.child(A, "Name").unwrap().text.clone(), s.child(A, "Value").unwrap().text.clone()))
            .collect();
        assert_eq!(
            values,
            [
                ("ExternalEwsUrl".to_string(), "https://mail.example.test/EWS/Exchange.asmx".to_string()),
                ("ExternalEwsVersion".to_string(), "15.01.2507.006".to_string())
            ]
        );
        assert_eq!(drs[1].child(A, "ErrorCode").unwrap().trimmed(), "InvalidDomain");
    }

    #[test]
    fn other_operations_and_faults() {
        let other = EXCHANGELIB_REQ.replace("GetUserSettingsRequestMessage", "GetFederationInformationRequestMessage");
        let r = parse_request(other.as_bytes()).unwrap();
        let Operation::Invalid { name, reason } = &r.op else { panic!() };
        assert_eq!(name, "GetFederationInformationRequestMessage");
        let doc = render_invalid_request(r.version, name, reason);
        let msg = body_message(&doc, SoapVersion::V11);
        assert!(msg.is(A, "GetFederationInformationResponseMessage"));
        assert_eq!(msg.path(&[(A, "Response"), (A, "ErrorCode")]).unwrap().trimmed(), "InvalidRequest");

        let no_settings = EXCHANGELIB_REQ.split("<a:RequestedSettings>").next().unwrap().to_string()
            + "</a:Request></a:GetUserSettingsRequestMessage></s:Body></s:Envelope>";
        assert!(matches!(parse_request(no_settings.as_bytes()).unwrap().op, Operation::Invalid { .. }));

        for bad in ["", "<x/>", "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">", "\u{0}"] {
            let f = parse_request(bad.as_bytes()).unwrap_err();
            let root = parse(render_fault(&f).as_bytes()).unwrap();
            let fault = root.path(&[(SOAP11_NS, "Body"), (SOAP11_NS, "Fault")]).unwrap();
            assert_eq!(fault.child_local("faultcode").unwrap().trimmed(), "s:Client");
        }
        let f = Fault { version: SoapVersion::V12, message: "x".into() };
        let root = parse(render_fault(&f).as_bytes()).unwrap();
        assert!(root.path(&[(SOAP12_NS, "Body"), (SOAP12_NS, "Fault"), (SOAP12_NS, "Code")]).is_some());
    }
}
