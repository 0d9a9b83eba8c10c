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

/// The subject of a response: the prefix unless the original already has one (case-insensitively, with the
/// usual variants).
fn response_subject(prefix: &str, original: &str) -> String {
    let t = original.trim_start();
    let lower = t.to_ascii_lowercase();
    let already = match prefix {
        "Re:" => lower.starts_with("re:"),
        _ => lower.starts_with("fw:") || lower.starts_with("fwd:"),
    };
    if already { t.to_string() } else { format!("{prefix} {t}") }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn show(r: &Recipient) -> String {
    match r.name.as_deref().filter(|n| !n.is_empty()) {
        Some(n) => format!("{n} <{}>", r.address),
        None => r.address.clone(),
    }
}

/// Builds the message of a ReplyToItem / ReplyAllToItem / ForwardItem response object (MS-OXWSMSG 2.2.4.x
/// SmartResponseType): the new body content, then the original under a header block; subject with Re:/Fw:;
/// In-Reply-To and References from the original; recipients from the request or, for replies, from the
/// original (Reply-To or From; reply-all adds To and Cc without the user). A forward carries the original's
/// attachments. Returns the MIME, the envelope recipients and the original's id and folder.
async fn build_response<S: MailStore>(
    cx: &mut Ctx<S>,
    m: &Element,
) -> Result<(Vec<u8>, Vec<String>, ItemId, FolderNode), Fail> {
    let kind = m.name.as_str();
    let ref_el = m
        .t("ReferenceItemId")
        .ok_or_else(|| Fail::new("ErrorInvalidRequest", "ReferenceItemId is required for a response object."))?;
    let mut as_item = ref_el.clone();
    as_item.name = "ItemId".into();
    cx.load().await?;
    let (id, node) = resolve_item(cx, &as_item).await?;
    let name = node.name.clone().ok_or_else(|| Fail::new("ErrorItemNotFound", "No such item."))?;
    let (_, raw) = cx
        .store
        .fetch_full(&name, id.uid)
        .await
        .map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?
        .ok_or_else(|| Fail::new("ErrorItemNotFound", "The specified object was not found in the store."))?;
    let orig = Message::from_mime(&raw).map_err(|e| Fail::new("ErrorMimeContentInvalid", e.message))?;
    let me = cx.mailbox.clone();
    let not_me = |r: &&Recipient| !r.address.eq_ignore_ascii_case(&me);
    let given_to = recipients(m.t("ToRecipients"));
    let to = if !given_to.is_empty() || kind == "ForwardItem" {
        given_to
    } else {
        let mut v: Vec<Recipient> =
            if orig.reply_to.is_empty() { orig.from.iter().cloned().collect() } else { orig.reply_to.clone() };
        if kind == "ReplyAllToItem" {
            for r in orig.to.iter().filter(not_me) {
                if !v.iter().any(|x| x.address.eq_ignore_ascii_case(&r.address)) {
                    v.push(r.clone());
                }
            }
        }
        v
    };
    let given_cc = recipients(m.t("CcRecipients"));
    let cc = if !given_cc.is_empty() || kind != "ReplyAllToItem" {
        given_cc
    } else {
        orig.cc
            .iter()
            .filter(not_me)
            .filter(|r| !to.iter().any(|x| x.address.eq_ignore_ascii_case(&r.address)))
            .cloned()
            .collect()
    };
    let orig_subject = orig.subject.clone().unwrap_or_default();
    let subject = match m.t_text("Subject").filter(|s| !s.trim().is_empty()) {
        Some(s) => s.to_string(),
        None => response_subject(if kind == "ForwardItem" { "Fw:" } else { "Re:" }, &orig_subject),
    };
    // The header block of the original, as Outlook writes it.
    let mut head = vec![
        format!("From: {}", orig.from.as_ref().map(show).unwrap_or_default()),
        format!("Sent: {}", orig.date_sent.as_ref().map(|d| d.to_rfc3339_utc()).unwrap_or_default()),
        format!("To: {}", orig.to.iter().map(show).collect::<Vec<_>>().join("; ")),
    ];
    if !orig.cc.is_empty() {
        head.push(format!("Cc: {}", orig.cc.iter().map(show).collect::<Vec<_>>().join("; ")));
    }
    head.push(format!("Subject: {orig_subject}"));
    let new = m.t("NewBodyContent").or_else(|| m.t("Body"));
    let new_html = new.is_some_and(|b| b.attr("BodyType") == Some("HTML"));
    let new_text = new.map(|b| b.text.clone()).unwrap_or_default();
    let mut out = OutgoingMessage {
        from: Recipient::new(Some(&cx.display_name), &cx.mailbox),
        subject,
        to,
        cc,
        bcc: recipients(m.t("BccRecipients")),
        importance: orig.importance,
        ..Default::default()
    };
    if let Some(mid) = &orig.message_id {
        let mut refs = orig.references.clone();
        if refs.is_empty()
            && let Some(irt) = &orig.in_reply_to
        {
            refs.push(irt.clone());
        }
        refs.push(mid.clone());
        out.references = refs;
        if kind != "ForwardItem" {
            out.in_reply_to = Some(mid.clone());
        }
    }
    if new_html || orig.body_html.is_some() {
        let new_part = if new_html {
            new_text.clone()
        } else {
            format!("<p>{}</p>", html_escape(&new_text).replace('\n', "<br>"))
        };
        let head_html = head.iter().map(|l| html_escape(l)).collect::<Vec<_>>().join("<br>");
        let orig_html = match &orig.body_html {
            Some(h) => h.clone(),
            None => format!("<pre>{}</pre>", html_escape(orig.body_text.as_deref().unwrap_or(""))),
        };
        out.body_html = Some(format!("<div>{new_part}</div><hr><div>{head_html}</div><br>{orig_html}"));
    }
    if !new_html {
        let orig_text = orig.body_text.clone().unwrap_or_default();
        out.body_text =
            Some(format!("{new_text}\r\n\r\n-----Original Message-----\r\n{}\r\n\r\n{orig_text}", head.join("\r\n")));
    }
    if kind == "ForwardItem" {
        for a in &orig.attachments {
            if let Some((info, data)) = crate::model::message::attachment_bytes(&raw, a.index) {
                out.attachments.push(OutgoingAttachment {
                    name: info.name,
                    content_type: info.content_type,
                    data,
                    content_id: if info.is_inline { info.content_id } else { None },
                });
            }
        }
    }
    if out.to.is_empty() && out.cc.is_empty() && out.bcc.is_empty() {
        return Err(Fail::new("ErrorInvalidRecipients", "The response has no recipients."));
    }
    let rcpts = out.envelope_recipients();
    Ok((super::drafts::with_bcc(build_mime(&out), &out.bcc), rcpts, id, node))
}

pub(crate) async fn target_folder<S: MailStore>(
    cx: &mut Ctx<S>,
    op: &Element,
    default: &str,
) -> Result<FolderNode, Fail> {
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

pub(crate) async fn save<S: MailStore>(
    cx: &mut Ctx<S>,
    folder: &FolderNode,
    raw: &[u8],
    flags: &[&str],
) -> Result<String, Fail> {
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
    // Meeting responses (accept, decline, cancel) are served by the meetings module, with or without a DAV
    // server (MS-OXWSMTGS 3.1.4.x).
    if items.children.iter().any(|c| crate::ews::groupware::MEETING_RESPONSES.contains(&c.name.as_str())) {
        return crate::ews::groupware::meetings::create_items(cx, op).await;
    }
    let mut out = Vec::new();
    for m in &items.children {
        let r = async {
            let responding = matches!(m.name.as_str(), "ReplyToItem" | "ReplyAllToItem" | "ForwardItem");
            if m.name != "Message" && !responding {
                return Err(Fail::new(
                    "ErrorInvalidRequest",
                    format!("Creating '{}' items is not supported yet; only messages are.", m.name),
                ));
            }
            let mut original: Option<(ItemId, FolderNode)> = None;
            let (raw, rcpts, is_read) = if responding {
                let (raw, rcpts, id, node) = build_response(cx, m).await?;
                original = Some((id, node));
                (raw, rcpts, true)
            } else {
                build_message(cx, m)?
            };
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
                    // The original is marked answered / forwarded once the response is sent (MS-OXOMSG
                    // PidTagLastVerbExecuted; IMAP \Answered and $Forwarded as other IMAP clients do).
                    if let Some((id, node)) = &original
                        && let Some(name) = node.name.clone()
                    {
                        let flag = if m.name == "ForwardItem" { "$Forwarded" } else { "\\Answered" };
                        if let Err(e) = cx.store.set_flags(&name, &[id.uid], &[flag.to_string()], &[], None).await {
                            tracing::debug!(error = %e, "EWS: could not flag the original of a response");
                        }
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
