//! Every request/response pair in `protocol-fixtures/ews/` read back. The pairs were recorded against the real
//! stack (by `tests/python/test_ews_fixtures.py` and the other Python tests, see the README there) or captured from
//! exchangelib, so ids and dates are from their run: what is checked here is what holds whatever the run.
//!
//! - every `*.request.xml` has its `*.response.xml` and the other way round;
//! - every request parses with [`soap::parse_request`] as an operation Viaduc implements (or the one unknown
//!   operation recorded on purpose), except the deliberately malformed one, which is refused with the fault code
//!   its response carries;
//! - every response is well-formed XML: an `s:Envelope` with `ServerVersionInfo` in its header and the
//!   operation's `m:{Op}Response` in its body, whose response messages carry the `ResponseClass`/`ResponseCode`
//!   the recording asserted ([`EXPECTED`]; all `Success`/`NoError` when not listed);
//! - every request replayed against the in-memory store of this module's parent answers with the same response
//!   element and as many response messages as the recorded answer (the ids are those of another mailbox and
//!   another key, so the codes differ, but the shape of the answer must not).

use super::*;
use crate::ews::soap::parse_request;

/// The operation recorded on purpose to show the answer to an operation Viaduc does not implement.
const UNKNOWN_OP: &str = "GetRoomLists";

/// Requests that are not EWS requests at all, and the fault code of their recorded answer.
const FAULTS: &[(&str, &str)] = &[("malformed-xml.viaduc", "ErrorSchemaValidation")];

/// The `ResponseCode`s, in document order, of the recorded answers that are not all `NoError` (`Code*N` repeats a
/// code N times). Every element with a `ResponseClass` attribute counts (GetMailTips and GetServiceConfiguration
/// carry one on the response element too).
const EXPECTED: &[(&str, &str)] = &[
    ("convertid-probe.exchangelib", "ErrorInvalidIdMalformed"),
    (
        "getfolder-distinguished-31.exchangelib",
        "ErrorFolderNotFound*4 NoError ErrorFolderNotFound NoError ErrorFolderNotFound*2 NoError ErrorFolderNotFound \
         NoError ErrorFolderNotFound NoError ErrorFolderNotFound*11 NoError ErrorFolderNotFound*5",
    ),
    ("getuseravailability-bob-nobody.exchangelib", "NoError ErrorMailRecipientNotFound"),
    ("getitem-tampered-id.exchangelib", "ErrorInvalidIdMalformed NoError"),
    ("resolvenames-nobody.exchangelib", "ErrorNameResolutionNoResults"),
    ("getroomlists-unknownoperation.exchangelib", "ErrorInvalidRequest"),
];

fn dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol-fixtures/ews")
}

/// The fixture stems (`name.exchangelib`, `name.viaduc`) of the `*.{suffix}` files.
fn stems(suffix: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir())
        .expect("protocol-fixtures/ews")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(suffix).map(str::to_string))
        .collect();
    out.sort();
    out
}

fn read(stem: &str, kind: &str) -> Vec<u8> {
    let path = dir().join(format!("{stem}.{kind}.xml"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn expand(spec: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in spec.split_whitespace() {
        let (code, n) = word.split_once('*').map(|(c, n)| (c, n.parse().unwrap())).unwrap_or((word, 1));
        out.extend(std::iter::repeat_n(code.to_string(), n));
    }
    out
}

/// (ResponseClass, ResponseCode) of every element that has a `ResponseClass`, in document order.
fn classes_and_codes(el: &Element, out: &mut Vec<(String, String)>) {
    if let Some(class) = el.attr("ResponseClass") {
        out.push((class.to_string(), el.m("ResponseCode").map(|c| c.trimmed().to_string()).unwrap_or_default()));
    }
    for c in &el.children {
        classes_and_codes(c, out);
    }
}

/// The name of the response element of an operation (`GetUserAvailabilityRequest` → `GetUserAvailabilityResponse`).
fn response_name(op: &str) -> String {
    format!("{}Response", op.strip_suffix("Request").unwrap_or(op))
}

fn implemented(op: &str) -> bool {
    IMPLEMENTED.contains(&op) || oof::is_oof_op(op) || availability::is_availability_op(op)
}

/// The operation's response element of a response envelope.
fn response_element<'a>(stem: &str, root: &'a Element) -> &'a Element {
    assert!(root.is(NS_SOAP, "Envelope"), "{stem}: the response is not a SOAP envelope");
    assert!(
        root.child(NS_SOAP, "Header").and_then(|h| h.t("ServerVersionInfo")).is_some(),
        "{stem}: no ServerVersionInfo in the header"
    );
    let body = root.child(NS_SOAP, "Body").unwrap_or_else(|| panic!("{stem}: no Body"));
    assert_eq!(body.children.len(), 1, "{stem}: one element in the Body");
    &body.children[0]
}

fn message_count(resp: &Element) -> usize {
    resp.m("ResponseMessages").map(|m| m.children.len()).unwrap_or(0)
}

#[test]
fn every_fixture_is_a_request_response_pair() {
    let requests = stems(".request.xml");
    let responses = stems(".response.xml");
    assert_eq!(requests, responses, "each *.request.xml needs its *.response.xml and the other way round");
    assert!(requests.len() >= 50, "{} fixtures", requests.len());
    for (stem, _) in EXPECTED.iter().chain(FAULTS) {
        assert!(requests.iter().any(|r| r == stem), "{stem} is listed here but has no fixture");
    }
    let ops: std::collections::BTreeSet<String> = requests
        .iter()
        .filter_map(|s| parse_request(&read(s, "request")).ok())
        .map(|r| r.op_name().to_string())
        .collect();
    // The operations of the EWS mail issue, each with at least one recorded exchange.
    for op in [
        "ConvertId",
        "GetFolder",
        "FindFolder",
        "CreateFolder",
        "UpdateFolder",
        "DeleteFolder",
        "MoveFolder",
        "CopyFolder",
        "EmptyFolder",
        "CreateFolderPath",
        "SyncFolderHierarchy",
        "FindItem",
        "GetItem",
        "UpdateItem",
        "DeleteItem",
        "MoveItem",
        "CopyItem",
        "CreateItem",
        "SendItem",
        "ArchiveItem",
        "MarkAllItemsAsRead",
        "MarkAsJunk",
        "SyncFolderItems",
        "GetAttachment",
        "CreateAttachment",
        "DeleteAttachment",
        "ResolveNames",
        "ExpandDL",
        "Subscribe",
        "GetEvents",
        "Unsubscribe",
        "GetMailTips",
        "GetServiceConfiguration",
        "GetServerTimeZones",
        "GetUserAvailabilityRequest",
    ] {
        assert!(ops.contains(op), "no recorded {op}");
    }
}

#[test]
fn recorded_requests_parse_as_implemented_operations() {
    for stem in stems(".request.xml") {
        let body = read(&stem, "request");
        let fault = FAULTS.iter().find(|(s, _)| *s == stem).map(|(_, c)| *c);
        match (parse_request(&body), fault) {
            (Ok(req), None) => {
                let op = req.op_name();
                if stem.contains("unknownoperation") {
                    assert_eq!(op, UNKNOWN_OP, "{stem}");
                    assert!(!implemented(op), "{stem}: {op} is implemented now: record it as a real case");
                } else {
                    assert!(implemented(op), "{stem}: {op} is not an implemented operation");
                }
                let lower = op.to_ascii_lowercase();
                assert!(stem.starts_with(lower.strip_suffix("request").unwrap_or(&lower)), "{stem}: named after {op}");
            }
            (Err(f), Some(code)) => assert_eq!(f.code, code, "{stem}"),
            (Ok(req), Some(_)) => panic!("{stem}: parsed as {}, a fault was recorded", req.op_name()),
            (Err(f), None) => panic!("{stem}: not an EWS request: {f:?}"),
        }
    }
}

#[test]
fn recorded_responses_carry_the_asserted_codes() {
    for stem in stems(".response.xml") {
        let body = read(&stem, "response");
        let root = parse(&body).unwrap_or_else(|e| panic!("{stem}: the response is not well-formed XML: {e}"));
        let resp = response_element(&stem, &root);
        if let Some((_, code)) = FAULTS.iter().find(|(s, _)| *s == stem) {
            assert!(resp.is(NS_SOAP, "Fault"), "{stem}: a SOAP fault");
            assert_eq!(resp.child_local("faultcode").map(|c| c.trimmed()), Some(format!("a:{code}").as_str()));
            continue;
        }
        let req = parse_request(&read(&stem, "request")).unwrap();
        assert!(resp.is(NS_M, &response_name(req.op_name())), "{stem}: answered with {}", resp.name);
        let mut got = Vec::new();
        classes_and_codes(resp, &mut got);
        assert!(!got.is_empty(), "{stem}: no response message");
        for (class, code) in &got {
            let want = if code == "NoError" { ["Success", "Success"] } else { ["Error", "Warning"] };
            assert!(want.contains(&class.as_str()), "{stem}: ResponseClass {class} with {code}");
        }
        let codes: Vec<String> = got.into_iter().map(|(_, c)| c).collect();
        let want = match EXPECTED.iter().find(|(s, _)| *s == stem) {
            Some((_, spec)) => expand(spec),
            None => vec!["NoError".to_string(); codes.len()],
        };
        assert_eq!(codes, want, "{stem}");
    }
}

#[tokio::test]
async fn recorded_requests_replayed_against_the_memory_store_answer_in_the_same_shape() {
    for stem in stems(".request.xml") {
        let req = read(&stem, "request");
        let (status, xml, _) = process(ids(), ME, &req, store()).await;
        let root = parse(xml.as_bytes()).unwrap_or_else(|e| panic!("{stem}: answer is not XML ({e}): {xml}"));
        let resp = response_element(&stem, &root);
        if FAULTS.iter().any(|(s, _)| *s == stem) {
            assert_eq!(status, 500, "{stem}");
            assert!(resp.is(NS_SOAP, "Fault"), "{stem}");
            continue;
        }
        assert_eq!(status, 200, "{stem}");
        let op = parse_request(&req).unwrap().op_name().to_string();
        if oof::is_oof_op(&op) || availability::is_availability_op(&op) {
            continue; // answered by their own modules, outside `process`
        }
        let recorded = parse(&read(&stem, "response")).unwrap();
        let recorded = response_element(&stem, &recorded);
        assert_eq!(resp.name, recorded.name, "{stem}");
        assert_eq!(message_count(resp), message_count(recorded), "{stem}: {xml}");
    }
}
