//! Autodiscover against the real stack: the `viaduc` binary answers POX (MS-OXDSCLI), SOAP (MS-OXWSADISC) and
//! JSON v2 requests sent by curl, with the display names and addresses of the stack's LDAP directory, and every
//! URL built from the generated configuration's `public_url`.

mod common;

use common::{Response, Stack, Viaduc};
use viaduc::autodiscover::pox::{OUTLOOK_RESPONSE_NS as R, RESPONSE_NS};
use viaduc::autodiscover::settings::mailbox_guid;
use viaduc::autodiscover::soap::{AUTODISCOVER_NS as A, SOAP11_NS};
use viaduc::autodiscover::xml::{Element, parse};

const ALICE: &str = "alice@example.test:viaduc-demo";

fn pox_body(mail: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>{mail}</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>"#
    )
}

fn post(v: &Viaduc, path: &str, creds: Option<&str>, headers: &[&str], body: &str) -> Response {
    let mut args = vec!["-X", "POST", "-H", "Content-Type: text/xml; charset=utf-8", "--data-binary", body];
    for h in headers {
        args.extend(["-H", h]);
    }
    if let Some(c) = creds {
        args.extend(["-u", c]);
    }
    v.curl(path, &args)
}

fn xml(r: &Response) -> Element {
    parse(r.body.as_bytes()).unwrap_or_else(|e| panic!("response is not XML ({e}): {r:?}"))
}

fn text<'a>(e: &'a Element, path: &[&str]) -> &'a str {
    let mut cur = e;
    for p in path {
        cur = cur.child_local(p).unwrap_or_else(|| panic!("no {p} under {}: {e:?}", cur.name));
    }
    cur.trimmed()
}

fn pox_error_code(r: &Response) -> String {
    assert_eq!(r.status, 200, "{r:?}");
    let root = xml(r);
    assert!(root.is(RESPONSE_NS, "Autodiscover"), "{r:?}");
    let resp = root.child_local("Response").expect("Response");
    text(resp, &["Error", "ErrorCode"]).to_string()
}

#[test]
fn pox_answers_outlook_with_and_without_mapi_http() {
    let stack = Stack::from_env();
    let v = Viaduc::start(&stack);
    let ews = format!("{}/EWS/Exchange.asmx", v.url);
    let guid = mailbox_guid("alice@example.test");

    // Without credentials: a Basic challenge, no settings.
    let r = post(&v, "/autodiscover/autodiscover.xml", None, &[], &pox_body("alice@example.test"));
    assert_eq!(r.status, 401, "{r:?}");
    assert!(r.header("www-authenticate").unwrap_or_default().starts_with("Basic"), "{r:?}");

    // Plain Outlook request: EXCH, EXPR, WEB; no mapiHttp.
    let r = post(&v, "/autodiscover/autodiscover.xml", Some(ALICE), &[], &pox_body("alice@example.test"));
    assert_eq!(r.status, 200, "{r:?}\n{}", v.log());
    assert!(r.header("content-type").unwrap_or_default().starts_with("text/xml"), "{r:?}");
    let root = xml(&r);
    let resp = root.child(R, "Response").unwrap_or_else(|| panic!("{r:?}"));
    assert_eq!(text(resp, &["User", "DisplayName"]), "Alice Anderson", "display name from LDAP");
    assert_eq!(text(resp, &["User", "AutoDiscoverSMTPAddress"]), "alice@example.test");
    assert_eq!(
        text(resp, &["User", "LegacyDN"]),
        "/o=Viaduc Demo/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=alice"
    );
    let account = resp.child(R, "Account").unwrap();
    assert_eq!(text(account, &["Action"]), "settings");
    let protos: Vec<&Element> = account.children_named(R, "Protocol").collect();
    assert!(protos.iter().all(|p| p.attr("Type").is_none()), "no mapiHttp without the header: {r:?}");
    let exch = protos.iter().find(|p| text(p, &["Type"]) == "EXCH").expect("EXCH");
    assert_eq!(text(exch, &["EwsUrl"]), ews);
    assert_eq!(text(exch, &["Server"]), format!("{guid}@example.test"));
    let expr = protos.iter().find(|p| text(p, &["Type"]) == "EXPR").expect("EXPR");
    assert_eq!(text(expr, &["Server"]), format!("127.0.0.1:{}", v.port));
    assert_eq!(text(expr, &["EwsUrl"]), ews);

    // With X-MapiHttpCapability: the mapiHttp section with the MailStore and AddressBook URLs.
    let r = post(
        &v,
        "/autodiscover/autodiscover.xml",
        Some(ALICE),
        &["X-MapiHttpCapability: 1"],
        &pox_body("alice@example.test"),
    );
    let root = xml(&r);
    let account = root.path(&[(R, "Response"), (R, "Account")]).unwrap_or_else(|| panic!("{r:?}"));
    let mapi = account
        .children_named(R, "Protocol")
        .find(|p| p.attr("Type") == Some("mapiHttp"))
        .unwrap_or_else(|| panic!("no mapiHttp: {r:?}"));
    assert_eq!(mapi.attr("Version"), Some("1"));
    assert_eq!(
        text(mapi, &["MailStore", "InternalUrl"]),
        format!("{}/mapi/emsmdb/?MailboxId={guid}@example.test", v.url)
    );
    assert_eq!(
        text(mapi, &["MailStore", "ExternalUrl"]),
        format!("{}/mapi/emsmdb/?MailboxId={guid}@example.test", v.url)
    );
    assert_eq!(
        text(mapi, &["AddressBook", "ExternalUrl"]),
        format!("{}/mapi/nspi/?MailboxId={guid}@example.test", v.url)
    );
}

#[test]
fn pox_answers_for_other_mailboxes_and_errors() {
    let stack = Stack::from_env();
    let v = Viaduc::start(&stack);

    // Another mailbox of the directory (a shared mailbox): its own settings.
    let r = post(&v, "/autodiscover/autodiscover.xml", Some(ALICE), &[], &pox_body("shared@example.test"));
    let root = xml(&r);
    let user = root.path(&[(R, "Response"), (R, "User")]).unwrap_or_else(|| panic!("{r:?}\n{}", v.log()));
    assert_eq!(text(user, &["DisplayName"]), "Shared Mailbox");
    assert_eq!(text(user, &["AutoDiscoverSMTPAddress"]), "shared@example.test");

    // Unknown address, foreign domain: 500; a distribution list: 501; garbage: 600; ActiveSync schema: 601.
    let unknown = post(&v, "/autodiscover/autodiscover.xml", Some(ALICE), &[], &pox_body("nobody@example.test"));
    assert_eq!(pox_error_code(&unknown), "500");
    let foreign = post(&v, "/autodiscover/autodiscover.xml", Some(ALICE), &[], &pox_body("dave@partner.example"));
    assert_eq!(pox_error_code(&foreign), "500");
    let list = post(&v, "/autodiscover/autodiscover.xml", Some(ALICE), &[], &pox_body("team@example.test"));
    assert_eq!(pox_error_code(&list), "501");
    let garbage = post(&v, "/autodiscover/autodiscover.xml", Some(ALICE), &[], "<Autodiscover><oops");
    assert_eq!(pox_error_code(&garbage), "600");
    let eas = pox_body("alice@example.test").replace("outlook/responseschema/2006a", "mobilesync/responseschema/2006");
    let r = post(&v, "/autodiscover/autodiscover.xml", Some(ALICE), &[], &eas);
    assert_eq!(pox_error_code(&r), "601");
}

fn soap_user_responses(r: &Response) -> Vec<Element> {
    assert_eq!(r.status, 200, "{r:?}");
    let root = xml(r);
    let msg =
        root.path(&[(SOAP11_NS, "Body"), (A, "GetUserSettingsResponseMessage")]).unwrap_or_else(|| panic!("{r:?}"));
    let info = root.path(&[(SOAP11_NS, "Header"), (A, "ServerVersionInfo")]).expect("ServerVersionInfo header");
    assert_eq!(text(info, &["MajorVersion"]), "15");
    assert_eq!(text(msg, &["Response", "ErrorCode"]), "NoError");
    msg.path(&[(A, "Response"), (A, "UserResponses")]).unwrap().children_named(A, "UserResponse").cloned().collect()
}

fn setting(ur: &Element, name: &str) -> Option<String> {
    ur.child(A, "UserSettings")?
        .children_named(A, "UserSetting")
        .find(|s| s.child(A, "Name").is_some_and(|n| n.trimmed() == name))
        .and_then(|s| s.child(A, "Value"))
        .map(|v| v.trimmed().to_string())
}

#[test]
fn soap_get_user_settings_and_domain_settings() {
    let stack = Stack::from_env();
    let v = Viaduc::start(&stack);
    let ews = format!("{}/EWS/Exchange.asmx", v.url);
    let request = std::fs::read_to_string(
        common::repo_root().join("protocol-fixtures/autodiscover/soap-getusersettings-exchangelib-request.xml"),
    )
    .unwrap();

    // exchangelib's request, as captured, for alice.
    let r = post(&v, "/autodiscover/autodiscover.svc", Some(ALICE), &[], &request);
    let urs = soap_user_responses(&r);
    assert_eq!(urs.len(), 1);
    assert_eq!(text(&urs[0], &["ErrorCode"]), "NoError");
    assert_eq!(setting(&urs[0], "ExternalEwsUrl").as_deref(), Some(ews.as_str()));
    assert_eq!(setting(&urs[0], "InternalEwsUrl").as_deref(), Some(ews.as_str()));
    assert_eq!(setting(&urs[0], "UserDisplayName").as_deref(), Some("Alice Anderson"));
    assert_eq!(setting(&urs[0], "AutoDiscoverSMTPAddress").as_deref(), Some("alice@example.test"));
    assert_eq!(setting(&urs[0], "MapiHttpEnabled").as_deref(), Some("True"));
    assert!(setting(&urs[0], "EwsSupportedSchemas").is_some_and(|s| s.contains("Exchange2016")));

    // An unknown user and a foreign one: InvalidUser, each in its own UserResponse.
    let two = request.replace(
        "<a:User><a:Mailbox>alice@example.test</a:Mailbox></a:User>",
        "<a:User><a:Mailbox>nobody@example.test</a:Mailbox></a:User><a:User><a:Mailbox>bob@example.test</a:Mailbox></a:User><a:User><a:Mailbox>x@foreign.example</a:Mailbox></a:User>",
    );
    let urs = soap_user_responses(&post(&v, "/autodiscover/autodiscover.svc", Some(ALICE), &[], &two));
    let codes: Vec<&str> = urs.iter().map(|u| text(u, &["ErrorCode"])).collect();
    assert_eq!(codes, ["InvalidUser", "NoError", "InvalidUser"]);
    assert_eq!(setting(&urs[1], "UserDisplayName").as_deref(), Some("Bob Brown"));

    // GetDomainSettings.
    let dom = std::fs::read_to_string(
        common::repo_root().join("protocol-fixtures/autodiscover/soap-getdomainsettings-request.xml"),
    )
    .unwrap();
    let r = post(&v, "/autodiscover/autodiscover.svc", Some(ALICE), &[], &dom);
    assert_eq!(r.status, 200, "{r:?}");
    let root = xml(&r);
    let drs: Vec<&Element> = root
        .path(&[(SOAP11_NS, "Body"), (A, "GetDomainSettingsResponseMessage"), (A, "Response"), (A, "DomainResponses")])
        .unwrap_or_else(|| panic!("{r:?}"))
        .children_named(A, "DomainResponse")
        .collect();
    assert_eq!(text(drs[0], &["ErrorCode"]), "NoError");
    assert_eq!(text(drs[0], &["DomainSettings", "DomainSetting", "Value"]), ews);
    assert_eq!(text(drs[1], &["ErrorCode"]), "InvalidDomain");

    // Malformed XML: a SOAP fault, never a crash; the server still answers afterwards.
    let r = post(
        &v,
        "/autodiscover/autodiscover.svc",
        Some(ALICE),
        &[],
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>",
    );
    assert_eq!(r.status, 500, "{r:?}");
    assert!(xml(&r).path(&[(SOAP11_NS, "Body"), (SOAP11_NS, "Fault")]).is_some(), "{r:?}");
    let r = post(&v, "/autodiscover/autodiscover.svc", None, &[], &request);
    assert_eq!(r.status, 401, "{r:?}");
}

#[test]
fn json_v2_is_anonymous_and_answers_ews_only() {
    let stack = Stack::from_env();
    let v = Viaduc::start(&stack);

    let r = v.curl("/autodiscover/autodiscover.json/v1.0/alice@example.test?Protocol=EWS", &[]);
    assert_eq!(r.status, 200, "{r:?}\n{}", v.log());
    assert!(r.header("content-type").unwrap_or_default().starts_with("application/json"), "{r:?}");
    let j: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(j["Protocol"], "EWS");
    assert_eq!(j["Url"], format!("{}/EWS/Exchange.asmx", v.url));

    let r = v.curl("/autodiscover/autodiscover.json?Email=alice%40example.test&Protocol=AutodiscoverV1", &[]);
    assert_eq!(r.status, 200, "{r:?}");
    let j: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(j["Url"], format!("{}/autodiscover/autodiscover.xml", v.url));

    let r = v.curl("/autodiscover/autodiscover.json/v1.0/alice@example.test?Protocol=ActiveSync", &[]);
    assert_eq!(r.status, 400, "{r:?}");
    let j: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(j["ErrorCode"], "ProtocolNotSupported");
    assert!(j["ErrorMessage"].as_str().is_some_and(|m| !m.is_empty()));

    let r = v.curl("/autodiscover/autodiscover.json/v1.0/eve@foreign.example?Protocol=EWS", &[]);
    assert_eq!(r.status, 404, "{r:?}");
    let j: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(j["ErrorCode"], "InvalidDomain");
}
