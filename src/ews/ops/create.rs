//! CreateItem for messages (MS-OXWSCORE 3.1.4.2, MS-OXWSMSG 3.1.4.2 and 2.2.5.1 MessageDispositionType) and
//! SendItem (MS-OXWSMSG 3.1.4.3).
//!
//! - `SaveOnly`: the message is built as MIME and appended to Drafts (or `SavedItemFolderId`) with `\Draft`.
//! - `SendOnly`: submitted over SMTP as the user; nothing is stored.
//! - `SendAndSaveCopy`: submitted, then appended to Sent Items (or `SavedItemFolderId`) with `\Seen`.
//!
//! A `t:MimeContent` in the request is used as the message as is; otherwise it is built from Subject, Body,
//! recipients, importance, threading headers and `t:Attachments/t:FileAttachment` (model::message::build_mime).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::items::resolve_item;
use super::{Ctx, Fail, FolderNode};
use crate::ews::soap::ResponseMessage;
use crate::ews::store::MailStore;
use crate::ews::xml::{Element, XmlWriter, parse_bool};
use crate::ids::ItemId;
use crate::model::message::{Importance, Message, OutgoingAttachment, OutgoingMessage, Recipient, build_mime};

fn recipients(list: Option<&Element>) -> Vec<Recipient> {
    list.map(|l| {
        l.children
            .iter()
            .filter(|m| m.name == "Mailbox")
            .filter_map(|m| {
                let addr = m.t_text("EmailAddress").filter(|a| !a.is_empty())?;
                Some(Recipient::new(m.t_text("Name").filter(|n| !n.is_empty()), addr))
            })
            .collect()
    })
    .unwrap_or_default()
}

/// Builds the MIME message of a `t:Message` (or takes its `t:MimeContent`) and returns it with its envelope
/// recipients.
pub fn build_message<S>(cx: &Ctx<S>, m: &Element) -> Result<(Vec<u8>, Vec<String>, bool), Fail> {
    if let Some(mime) = m.t("MimeContent") {
        let raw = STANDARD
            .decode(mime.trimmed().replace(['\r', '\n', ' '], ""))
            .map_err(|_| Fail::new("ErrorInvalidRequest", "MimeContent is not base64."))?;
        let parsed = Message::from_mime(&raw).map_err(|e| Fail::new("ErrorMimeContentInvalid", e.message))?;
        let mut rcpts: Vec<String> = Vec::new();
        for r in parsed.to.iter().chain(&parsed.cc).chain(&parsed.bcc) {
            if !rcpts.iter().any(|x| x.eq_ignore_ascii_case(&r.address)) {
                rcpts.push(r.address.clone());
            }
        }
        let is_read = m.t_text("IsRead").and_then(parse_bool).unwrap_or(true);
        return Ok((raw, rcpts, is_read));
    }
    let mut out = OutgoingMessage {
        from: Recipient::new(Some(&cx.display_name), &cx.mailbox),
        subject: m.t_text("Subject").unwrap_or("").to_string(),
        to: recipients(m.t("ToRecipients")),
        cc: recipients(m.t("CcRecipients")),
        bcc: recipients(m.t("BccRecipients")),
        reply_to: recipients(m.t("ReplyTo")),
        in_reply_to: m.t_text("InReplyTo").map(str::to_string),
        references: m
            .t_text("References")
            .map(|r| r.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
        importance: match m.t_text("Importance") {
            Some("High") => Importance::High,
            Some("Low") => Importance::Low,
            _ => Importance::Normal,
        },
        ..Default::default()
    };
    if let Some(body) = m.t("Body") {
        match body.attr("BodyType") {
            Some("HTML") => out.body_html = Some(body.text.clone()),
            _ => out.body_text = Some(body.text.clone()),
        }
    }
    if let Some(atts) = m.t("Attachments") {
        for a in atts.children.iter().filter(|a| a.name == "FileAttachment") {
            let data = STANDARD
                .decode(a.t_text("Content").unwrap_or("").replace(['\r', '\n', ' '], ""))
                .map_err(|_| Fail::new("ErrorInvalidRequest", "Attachment content is not base64."))?;
            out.attachments.push(OutgoingAttachment {
                name: a.t_text("Name").unwrap_or("attachment").to_string(),
                content_type: a.t_text("ContentType").unwrap_or("application/octet-stream").to_string(),
                data,
                content_id: a.t_text("ContentId").map(str::to_string),
            });
        }
    }
    let rcpts = out.envelope_recipients();
    let is_read = m.t_text("IsRead").and_then(parse_bool).unwrap_or(true);
    // Drafts keep their Bcc recipients in a Bcc header; it is stripped again before submission.
    Ok((super::drafts::with_bcc(build_mime(&out), &out.bcc), rcpts, is_read))
}

async fn target_folder<S: MailStore>(cx: &mut Ctx<S>, op: &Element, default: &str) -> Result<FolderNode, Fail> {
    match op.m("SavedItemFolderId").and_then(|s| s.children.first()) {
        Some(el) => cx.resolve_folder(el).await,
        None => {
            cx.load().await?;
            let tree = cx.tree().await.map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
            tree.iter()
                .find(|n| n.distinguished == Some(default))
                .cloned()
                .ok_or_else(|| Fail::new("ErrorFolderNotFound", format!("This mailbox has no '{default}' folder.")))
        }
    }
}

async fn save<S: MailStore>(cx: &mut Ctx<S>, folder: &FolderNode, raw: &[u8], flags: &[&str]) -> Result<String, Fail> {
    let name =
        folder.name.clone().ok_or_else(|| Fail::new("ErrorInvalidRequest", "Items cannot be saved in this folder."))?;
    let flags: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
    let (uv, uid) =
        cx.store.append(&name, raw, &flags).await.map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
    let modseq = cx.store.summaries(&name, &[uid]).await.ok().and_then(|v| v.first().map(|s| s.modseq)).unwrap_or(0);
    let id = ItemId { mailbox: cx.mailbox.clone(), folder: folder.r.clone(), uid_validity: uv, uid };
    let mut w = XmlWriter::new();
    w.start("t:Message", &[]);
    w.empty("t:ItemId", &[("Id", &cx.ids.item_id(&id)), ("ChangeKey", &cx.ids.change_key(modseq))]);
    w.end();
    Ok(w.finish())
}

pub async fn create_item<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let disposition = op.attr("MessageDisposition").unwrap_or("SaveOnly").to_string();
    if !matches!(disposition.as_str(), "SaveOnly" | "SendOnly" | "SendAndSaveCopy") {
        return vec![ResponseMessage::error(
            "ErrorInvalidRequest",
            format!("Unknown MessageDisposition '{disposition}'."),
        )];
    }
    let Some(items) = op.m("Items") else {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "Items is required.")];
    };
    let mut out = Vec::new();
    for m in &items.children {
        let r = async {
            if m.name != "Message" {
                return Err(Fail::new(
                    "ErrorInvalidRequest",
                    format!("Creating '{}' items is not supported yet; only messages are.", m.name),
                ));
            }
            let (raw, rcpts, is_read) = build_message(cx, m)?;
            let mut content = String::new();
            match disposition.as_str() {
                "SaveOnly" => {
                    let folder = target_folder(cx, op, "drafts").await?;
                    let flags: &[&str] = if is_read { &["\\Draft", "\\Seen"] } else { &["\\Draft"] };
                    content = save(cx, &folder, &raw, flags).await?;
                }
                _ => {
                    if cx.delegate.is_some() {
                        return Err(Fail::new(
                            "ErrorAccessDenied",
                            "Sending as or on behalf of another mailbox is not supported.",
                        ));
                    }
                    if rcpts.is_empty() {
                        return Err(Fail::new("ErrorInvalidRecipients", "The message has no recipients."));
                    }
                    let from = cx.mailbox.clone();
                    let wire = super::drafts::strip_bcc(&raw);
                    cx.store
                        .submit(&from, &rcpts, &wire)
                        .await
                        .map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?;
                    if disposition == "SendAndSaveCopy" {
                        let folder = target_folder(cx, op, "sentitems").await?;
                        // The copy's id is not returned for sends (MS-OXWSCORE 3.1.4.2.3.2).
                        save(cx, &folder, &raw, &["\\Seen"]).await?;
                    }
                }
            }
            let mut w = XmlWriter::new();
            w.start("m:Items", &[]).raw_text(&content).end();
            Ok(w.finish())
        }
        .await;
        out.push(match r {
            Ok(c) => ResponseMessage::ok(c),
            Err(f) => f.message(),
        });
    }
    cx.invalidate();
    if out.is_empty() {
        out.push(ResponseMessage::error("ErrorInvalidRequest", "Items is empty."));
    }
    out
}

/// SendItem: sends saved drafts; with `SaveItemToFolder` the draft moves to Sent Items (or the given folder)
/// with `\Draft` cleared, otherwise it is deleted.
pub async fn send_item<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let save_copy = op.attr("SaveItemToFolder").and_then(parse_bool).unwrap_or(true);
    if cx.delegate.is_some() {
        return vec![ResponseMessage::error(
            "ErrorAccessDenied",
            "Sending as or on behalf of another mailbox is not supported.",
        )];
    }
    if let Err(f) = cx.load().await {
        return vec![f.message()];
    }
    let ids: Vec<Element> = op.m("ItemIds").map(|c| c.children.clone()).unwrap_or_default();
    let mut out = Vec::new();
    for el in ids {
        let r = async {
            let (id, node) = resolve_item(cx, &el).await?;
            let name = node.name.clone().ok_or_else(|| Fail::new("ErrorItemNotFound", "No such item."))?;
            let raw = cx
                .store
                .fetch_raw(&name, id.uid)
                .await
                .map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?
                .ok_or_else(|| {
                Fail::new("ErrorItemNotFound", "The specified object was not found in the store.")
            })?;
            let parsed = Message::from_mime(&raw).map_err(|e| Fail::new("ErrorMimeContentInvalid", e.message))?;
            let mut rcpts: Vec<String> = Vec::new();
            for r in parsed.to.iter().chain(&parsed.cc).chain(&parsed.bcc) {
                if !rcpts.iter().any(|x| x.eq_ignore_ascii_case(&r.address)) {
                    rcpts.push(r.address.clone());
                }
            }
            if rcpts.is_empty() {
                return Err(Fail::new("ErrorInvalidRecipients", "The message has no recipients."));
            }
            let from = cx.mailbox.clone();
            let wire = super::drafts::strip_bcc(&raw);
            cx.store.submit(&from, &rcpts, &wire).await.map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?;
            if save_copy {
                let folder = target_folder(cx, op, "sentitems").await?;
                save(cx, &folder, &raw, &["\\Seen"]).await?;
            }
            cx.store.delete_messages(&name, &[id.uid]).await.map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?;
            Ok::<(), Fail>(())
        }
        .await;
        out.push(match r {
            Ok(()) => ResponseMessage::ok(String::new()),
            Err(f) => f.message(),
        });
    }
    if out.is_empty() {
        out.push(ResponseMessage::error("ErrorInvalidRequest", "ItemIds is empty."));
    }
    out
}
