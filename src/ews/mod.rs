//! Exchange Web Services front-end (`/EWS/Exchange.asmx`).
//!
//! Request flow: [`soap::parse_request`] (bounded, namespace-aware, no DTD) → [`dispatch`] on the operation
//! element → the operation in [`ops`] runs against a [`store::MailStore`] → [`soap::response_xml`].
//! Every answer carries `ServerVersionInfo`. A well-formed request for an operation Viaduc does not implement
//! gets HTTP 200 with an `ErrorInvalidRequest` response message (never a 500, which Outlook takes for an
//! authentication failure); a body that is not a SOAP envelope gets a SOAP fault (`ErrorSchemaValidation`).

pub mod attachment_stream;
pub mod availability;
pub mod groupware;
pub mod imap_store;
pub mod oof;
pub mod ops;
pub mod soap;
pub mod store;
pub mod streaming;
pub mod types;
pub mod xml;

use http::{Method, Response, StatusCode};

use crate::auth::Principal;
use crate::ids::IdCodec;
use crate::server::{Body, Gateway, HttpRequest, full, text};
use ops::Ctx;
use soap::{Fault, ResponseMessage};
use store::MailStore;

const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// Operations Viaduc implements (the rest get an `ErrorInvalidRequest` response message).
pub const IMPLEMENTED: &[&str] = &[
    "GetServerTimeZones",
    "ExpandDL",
    "GetMailTips",
    "GetServiceConfiguration",
    "ArchiveItem",
    "CreateFolderPath",
    "ConvertId",
    "GetFolder",
    "FindFolder",
    "CreateFolder",
    "UpdateFolder",
    "DeleteFolder",
    "MoveFolder",
    "EmptyFolder",
    "SyncFolderHierarchy",
    "FindItem",
    "GetItem",
    "UpdateItem",
    "DeleteItem",
    "MoveItem",
    "CopyItem",
    "CreateItem",
    "SendItem",
    "SyncFolderItems",
    "GetAttachment",
    "MarkAllItemsAsRead",
    "MarkAsJunk",
    "CopyFolder",
    "ResolveNames",
    "GetUserConfiguration",
    "CreateAttachment",
    "DeleteAttachment",
    "Subscribe",
    "GetEvents",
    "Unsubscribe",
    "GetStreamingEvents",
    "GetUserAvailabilityRequest",
    "FindPeople",
    "GetPersona",
];

/// Handles one EWS SOAP request.
pub async fn handle(gw: &Gateway, req: &HttpRequest, principal: &Principal) -> Response<Body> {
    if req.method != Method::POST {
        return text(StatusCode::OK, "Viaduc Exchange Web Services: POST SOAP requests to this URL.\n");
    }
    let request = match soap::parse_request(&req.body) {
        Ok(r) => r,
        Err(fault) => return fault_response(&fault),
    };
    let op = request.op_name().to_string();
    tracing::debug!(user = %principal.mail, op = %op, "EWS request");
    let ids = IdCodec::new(gw.id_key);
    let version = request.echo_version().to_string();
    if let Some(target) = request.impersonate.as_deref().filter(|t| !t.eq_ignore_ascii_case(&principal.mail)) {
        // Impersonation (MS-OXWSCDATA 2.2.4.34 ExchangeImpersonation) is not granted to anyone yet: refuse it
        // rather than silently acting as the caller.
        tracing::info!(user = %principal.mail, target = %target, op = %op, "EWS impersonation refused");
        let msg = ResponseMessage::error(
            "ErrorImpersonateUserDenied",
            "The account does not have permission to impersonate the requested user.",
        );
        let body = soap::response_xml(&version, &op, &format!("{op}ResponseMessage"), &[msg]);
        return full(StatusCode::OK, CONTENT_TYPE, body);
    }
    if oof::is_oof_op(&op) {
        return oof::respond(gw, principal, &request).await;
    }
    if availability::is_availability_op(&op) {
        return availability::respond(gw, principal, &request).await;
    }
    if op == "GetStreamingEvents" {
        return streaming::respond(gw, principal, &request.op, ids, &version).await;
    }
    let messages = if IMPLEMENTED.contains(&op.as_str()) && op != "ConvertId" {
        match imap_store::ImapStore::open(gw, principal).await {
            Ok(store) => {
                let mut cx = Ctx::new(ids, &principal.mail, &principal.display_name, &version, store);
                cx.domains = gw.config.mail.domains.clone();
                cx.time_zone = request.time_zone.clone();
                let service = gw.config.dav.as_ref().and_then(|d| match (&d.service_user, &d.service_password) {
                    (Some(u), Some(p)) => Some(Principal::service(u, p)),
                    _ => None,
                });
                cx.groupware =
                    gw.dav.clone().map(|client| groupware::Groupware { client, principal: principal.clone(), service });
                if let Some(target) = ops::request_target(&request.op, &cx.ids, &principal.mail) {
                    cx.set_target(&target);
                }
                let out = dispatch(&mut cx, &request).await;
                if !cx.deferred.is_empty() {
                    // GetAttachment left large contents to stream: the envelope is rendered now, the contents
                    // are fetched from IMAP while the client reads (attachment_stream.rs).
                    let deferred = std::mem::take(&mut cx.deferred);
                    let body = render(&version, &op, &out);
                    if let Some(segments) = attachment_stream::split_at_markers(&body, &deferred) {
                        drop(body);
                        return attachment_stream::response(attachment_stream::body(cx.store, segments, deferred));
                    }
                    tracing::error!(op = %op, "EWS: a streamed attachment's marker is missing from the response");
                    let msg = ResponseMessage::error("ErrorInternalServerError", "The attachment could not be sent.");
                    return full(StatusCode::OK, CONTENT_TYPE, render(&version, &op, &vec![msg; out.len()]));
                }
                cx.store.release();
                out
            }
            Err(e) => {
                tracing::warn!(error = %e, op = %op, "EWS: mail store unavailable");
                vec![ResponseMessage::error(types::code_for(&e, "ErrorMailboxStoreUnavailable"), e.message.clone())]
            }
        }
    } else {
        // ConvertId and unknown operations need no store.
        let mut cx = Ctx::new(ids, &principal.mail, &principal.display_name, &version, store::MemStore::default());
        dispatch(&mut cx, &request).await
    };
    let body = render(&version, &op, &messages);
    full(StatusCode::OK, CONTENT_TYPE, body)
}

/// The response document of an operation. GetMailTips and GetServiceConfiguration name their messages
/// differently and carry a ResponseClass/ResponseCode of their own on the response element (MS-OXWSMTGS,
/// MS-OXWSCONFIG); FindPeople's and GetPersona's
/// responses are themselves the message (MS-OXWSPERS 3.1.4.1.2.2, 3.1.4.2.2.2).
pub fn render(version: &str, op: &str, messages: &[ResponseMessage]) -> String {
    if matches!(op, "FindPeople" | "GetPersona") {
        return ops::people::render_unwrapped(version, op, messages);
    }
    let msg_name = match op {
        "GetMailTips" => "MailTipsResponseMessageType".to_string(),
        "GetServiceConfiguration" => "ServiceConfigurationResponseMessageType".to_string(),
        _ => format!("{op}ResponseMessage"),
    };
    let body = soap::response_xml(version, op, &msg_name, messages);
    if matches!(op, "GetMailTips" | "GetServiceConfiguration") {
        let ok = messages.iter().all(|m| m.class == soap::ResponseClass::Success);
        let (class, code) = if ok { ("Success", "NoError") } else { ("Warning", "NoError") };
        let open = format!("<m:{op}Response ");
        if let Some(at) = body.find(&open) {
            let mut b = body.clone();
            b.insert_str(at + open.len(), &format!("ResponseClass=\"{class}\" "));
            if let Some(rm) = b.find("<m:ResponseMessages>") {
                b.insert_str(rm, &format!("<m:ResponseCode>{code}</m:ResponseCode>"));
            }
            return b;
        }
    }
    body
}

fn fault_response(fault: &Fault) -> Response<Body> {
    full(StatusCode::INTERNAL_SERVER_ERROR, CONTENT_TYPE, soap::fault_xml(fault))
}

/// How many response messages an operation owes: one per element of its batch container (MS-OXWSCDATA
/// 2.2.4.64 ArrayOfResponseMessagesType: one message per requested item or folder).
fn expected_messages(op: &xml::Element) -> usize {
    let container = match op.name.as_str() {
        "GetItem" | "DeleteItem" | "MoveItem" | "CopyItem" | "SendItem" | "MarkAsJunk" | "ArchiveItem" => "ItemIds",
        "GetMailTips" => "Recipients",
        "CreateFolderPath" => "RelativeFolderPath",
        "UpdateItem" => "ItemChanges",
        "CreateItem" => "Items",
        "GetAttachment" | "DeleteAttachment" => "AttachmentIds",
        "CreateAttachment" => "Attachments",
        "GetFolder" | "DeleteFolder" | "EmptyFolder" | "MoveFolder" | "CopyFolder" | "MarkAllItemsAsRead" => {
            "FolderIds"
        }
        "FindItem" | "FindFolder" => "ParentFolderIds",
        "CreateFolder" => "Folders",
        "UpdateFolder" => "FolderChanges",
        "ConvertId" => "SourceIds",
        _ => return 1,
    };
    op.m(container).map(|c| c.children.len()).unwrap_or(1).max(1)
}

/// Runs the operation of a parsed request. Unknown operations get one `ErrorInvalidRequest` message. A
/// failure that stops a batch operation before its items are looked at (the mailbox cannot be listed, access is
/// denied) is repeated for every item, so that clients can pair answers with what they asked for.
pub async fn dispatch<S: MailStore>(cx: &mut Ctx<S>, req: &soap::Request) -> Vec<ResponseMessage> {
    let mut out = run_op(cx, req).await;
    let n = expected_messages(&req.op);
    if out.len() == 1 && n > 1 && out[0].class == soap::ResponseClass::Error {
        let m = out[0].clone();
        out = vec![m; n];
    }
    out
}

/// Operations that use the folder tree only to resolve folder ids (and UIDVALIDITY), never to show counts:
/// they may take it from the store's short-lived cache.
const CACHED_TREE_OPS: &[&str] =
    &["GetItem", "FindItem", "SyncFolderItems", "UpdateItem", "DeleteItem", "GetAttachment", "MarkAsJunk"];

async fn run_op<S: MailStore>(cx: &mut Ctx<S>, req: &soap::Request) -> Vec<ResponseMessage> {
    let op = &req.op;
    cx.cached_tree = CACHED_TREE_OPS.contains(&req.op_name());
    if cx.groupware.is_some() && cx.delegate.is_none() {
        cx.include_dav =
            matches!(req.op_name(), "FindFolder" | "SyncFolderHierarchy") || groupware::touches_dav(op, &cx.ids);
    }
    if cx.include_dav
        && let Some(out) = groupware::items::dispatch(cx, req.op_name(), op).await
    {
        return out;
    }
    match req.op_name() {
        "ConvertId" => ops::convert_id::convert_id(cx, op).await,
        "GetFolder" => ops::folders::get_folder(cx, op).await,
        "FindFolder" => ops::folders::find_folder(cx, op).await,
        "CreateFolder" => ops::folders::create_folder(cx, op).await,
        "UpdateFolder" => ops::folders::update_folder(cx, op).await,
        "DeleteFolder" => ops::folders::delete_folder(cx, op).await,
        "MoveFolder" => ops::folders::move_folder(cx, op).await,
        "EmptyFolder" => ops::folders::empty_folder(cx, op).await,
        "SyncFolderHierarchy" => ops::sync::sync_folder_hierarchy(cx, op).await,
        "SyncFolderItems" => ops::sync::sync_folder_items(cx, op).await,
        "FindItem" => ops::items::find_item(cx, op).await,
        "GetItem" => ops::items::get_item(cx, op).await,
        "UpdateItem" => ops::items::update_item(cx, op).await,
        "DeleteItem" => ops::items::delete_item(cx, op).await,
        "MoveItem" => ops::items::move_or_copy_item(cx, op, false).await,
        "CopyItem" => ops::items::move_or_copy_item(cx, op, true).await,
        "GetAttachment" => ops::items::get_attachment(cx, op).await,
        "CreateItem" => ops::create::create_item(cx, op).await,
        "SendItem" => ops::create::send_item(cx, op).await,
        "MarkAsJunk" => ops::items::mark_as_junk(cx, op).await,
        "CreateAttachment" => ops::drafts::create_attachment(cx, op).await,
        "DeleteAttachment" => ops::drafts::delete_attachment(cx, op).await,
        "Subscribe" => ops::notify::subscribe(cx, op).await,
        "GetEvents" => ops::notify::get_events(cx, op).await,
        "Unsubscribe" => ops::notify::unsubscribe(cx, op).await,
        "CopyFolder" => ops::folders::copy_folder(cx, op).await,
        "ResolveNames" => ops::directory::resolve_names(cx, op).await,
        "FindPeople" => ops::people::find_people(cx, op).await,
        "GetPersona" => ops::people::get_persona(cx, op).await,
        // No user configuration objects are stored yet: "not found" is what Exchange answers for a missing
        // one, and clients (Outlook for Mac reads the category list this way) carry on without it.
        "GetUserConfiguration" => {
            vec![ResponseMessage::error("ErrorItemNotFound", "The specified object was not found in the store.")]
        }
        "MarkAllItemsAsRead" => ops::items::mark_all_items_as_read(cx, op).await,
        "GetServerTimeZones" => ops::misc::get_server_time_zones(cx, op).await,
        "ExpandDL" => ops::misc::expand_dl(cx, op).await,
        "GetMailTips" => {
            let domains = cx.domains.clone();
            ops::misc::get_mail_tips(cx, op, &domains).await
        }
        "GetServiceConfiguration" => ops::misc::get_service_configuration(op, &cx.domains),
        "ArchiveItem" => ops::misc::archive_item(cx, op).await,
        "CreateFolderPath" => ops::folders::create_folder_path(cx, op).await,
        other => vec![ResponseMessage::error(
            "ErrorInvalidRequest",
            format!("The operation '{other}' is not supported by this server (Viaduc)."),
        )],
    }
}

/// Runs a whole request body against a store and returns (HTTP status, response XML): the sans-IO core of
/// [`handle`], used by the tests.
pub async fn process<S: MailStore>(ids: IdCodec, mailbox: &str, body: &[u8], store: S) -> (u16, String, S) {
    match soap::parse_request(body) {
        Err(f) => (500, soap::fault_xml(&f), store),
        Ok(req) => {
            let version = req.echo_version().to_string();
            let mut cx = Ctx::new(ids, mailbox, mailbox, &version, store);
            cx.time_zone = req.time_zone.clone();
            if let Some(target) = ops::request_target(&req.op, &cx.ids, mailbox) {
                cx.set_target(&target);
            }
            let msgs = dispatch(&mut cx, &req).await;
            let op = req.op_name();
            let mut body = render(&version, op, &msgs);
            // Streamed attachment contents are filled in here in one piece, with the same chunked reads.
            for d in std::mem::take(&mut cx.deferred) {
                let mut content = String::new();
                if let Err(e) = attachment_stream::fill(&mut cx.store, &d, &mut content).await {
                    tracing::warn!(error = %e, "attachment content could not be read");
                }
                body = body.replacen(&d.marker, &content, 1);
            }
            (200, body, cx.store)
        }
    }
}

#[cfg(test)]
mod tests;
