//! Editing drafts: UpdateItem on Subject/Body/recipients/importance of a draft, CreateAttachment
//! (MS-OXWSATT 3.1.4.1) and DeleteAttachment (MS-OXWSATT 3.1.4.2).
//!
//! CreateAttachment takes file attachments (`t:FileAttachment`, base64 content) and item attachments
//! (`t:ItemAttachment` holding a `t:Message`, MS-OXWSCORE 2.2.4.33): the embedded message is built to MIME from
//! its fields (or taken from its `t:MimeContent`) as CreateItem builds messages, with the user as its sender,
//! and attached as a `message/rfc822` part, which GetItem then lists as an item attachment again.
//!
//! IMAP messages are immutable, so an edit rebuilds the draft's MIME (model::message::build_mime), appends it
//! with the same flags and expunges the old one: the draft gets a new UID. So that the ids clients already hold
//! keep working (exchangelib keeps the item id after CreateAttachment; Outlook saves drafts repeatedly), the new
//! message records the UIDs it supersedes in an `X-Viaduc-Supersedes` header, and an item id whose UID is gone
//! from a Drafts folder is looked up there (see [`locate`]). Edits are only allowed on `\Draft` messages
//! (`ErrorInvalidPropertyUpdateSentMessage` otherwise), as on Exchange where sent items are read-only.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::items::resolve_item;
use super::{Ctx, Fail, FolderNode};
use crate::ews::soap::ResponseMessage;
use crate::ews::store::MailStore;
use crate::ews::xml::{Element, NS_T, XmlWriter};
use crate::ids::{AttachmentId, ItemId};
use crate::model::message::{
    Importance, Message, OutgoingAttachment, OutgoingMessage, Recipient, attachment_bytes, build_mime, is_message_type,
};

/// The header that lists the UIDs a rewritten draft supersedes, as `u<uid>.` tokens.
pub const SUPERSEDES: &str = "X-Viaduc-Supersedes";

fn token(uid: u32) -> String {
    format!("u{uid}.")
}

/// The current UID of an item: its own if it still exists, else (in a Drafts folder) the draft that
/// superseded it.
pub async fn locate<S: MailStore>(cx: &mut Ctx<S>, node: &FolderNode, id: &ItemId) -> Result<u32, Fail> {
    let name = node.name.clone().ok_or_else(not_found)?;
    let exists = cx.store.summaries(&name, &[id.uid]).await.map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?;
    if !exists.is_empty() {
        return Ok(id.uid);
    }
    if node.distinguished != Some("drafts") {
        return Err(not_found());
    }
    let found = cx
        .store
        .find_header(&name, SUPERSEDES, &token(id.uid))
        .await
        .map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?;
    found.into_iter().max().ok_or_else(not_found)
}

fn not_found() -> Fail {
    Fail::new("ErrorItemNotFound", "The specified object was not found in the store.")
}

/// Changes to a draft's content.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DraftEdit {
    pub subject: Option<String>,
    /// (is HTML, text)
    pub body: Option<(bool, String)>,
    pub to: Option<Vec<Recipient>>,
    pub cc: Option<Vec<Recipient>>,
    pub bcc: Option<Vec<Recipient>>,
    pub reply_to: Option<Vec<Recipient>>,
    pub importance: Option<Importance>,
    pub add_attachments: Vec<OutgoingAttachment>,
    /// Attachment positions (in the current message) to remove.
    pub remove_attachments: Vec<usize>,
}

impl DraftEdit {
    pub fn is_empty(&self) -> bool {
        *self == DraftEdit::default()
    }
}

pub fn recipients(list: Option<&Element>) -> Vec<Recipient> {
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

/// Applies one SetItemField/AppendToItemField/DeleteItemField on a draft field; `false` if `uri` is not a
/// draft field.
pub fn draft_update(edit: &mut DraftEdit, kind: &str, uri: &str, item: Option<&Element>) -> bool {
    let list = |name: &str| recipients(item.and_then(|i| i.t(name)));
    let append = kind == "AppendToItemField";
    let delete = kind == "DeleteItemField";
    let merge = |cur: &mut Option<Vec<Recipient>>, new: Vec<Recipient>| {
        if append {
            cur.get_or_insert_with(Vec::new).extend(new);
        } else {
            *cur = Some(new);
        }
    };
    match uri {
        "item:Subject" => {
            edit.subject = Some(if delete {
                String::new()
            } else {
                item.and_then(|i| i.t("Subject")).map(|s| s.text.clone()).unwrap_or_default()
            })
        }
        "item:Body" => {
            let b = item.and_then(|i| i.t("Body"));
            let html = b.and_then(|b| b.attr("BodyType")) == Some("HTML");
            edit.body =
                Some((html, if delete { String::new() } else { b.map(|b| b.text.clone()).unwrap_or_default() }));
        }
        "message:ToRecipients" => merge(&mut edit.to, if delete { Vec::new() } else { list("ToRecipients") }),
        "message:CcRecipients" => merge(&mut edit.cc, if delete { Vec::new() } else { list("CcRecipients") }),
        "message:BccRecipients" => merge(&mut edit.bcc, if delete { Vec::new() } else { list("BccRecipients") }),
        "message:ReplyTo" => merge(&mut edit.reply_to, if delete { Vec::new() } else { list("ReplyTo") }),
        "item:Importance" => {
            edit.importance = Some(match item.and_then(|i| i.t_text("Importance")) {
                Some("High") => Importance::High,
                Some("Low") => Importance::Low,
                _ => Importance::Normal,
            })
        }
        _ => return false,
    }
    true
}

/// Adds a `Bcc:` header (addresses only) in front of a built message: drafts keep their Bcc recipients.
pub fn with_bcc(raw: Vec<u8>, bcc: &[Recipient]) -> Vec<u8> {
    let addrs: Vec<&str> = bcc
        .iter()
        .map(|r| r.address.trim())
        .filter(|a| !a.is_empty() && !a.contains(['\r', '\n', ',', '<', '>']))
        .collect();
    if addrs.is_empty() {
        return raw;
    }
    let mut out = format!("Bcc: {}\r\n", addrs.join(", ")).into_bytes();
    out.extend_from_slice(&raw);
    out
}

/// Removes the top-level `Bcc:` and `X-Viaduc-Supersedes:` headers (and their continuation lines) before a
/// message is submitted.
pub fn strip_bcc(raw: &[u8]) -> Vec<u8> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|p| p + 1));
    let Some(end) = end else { return raw.to_vec() };
    let (head, body) = raw.split_at(end);
    let mut out = Vec::with_capacity(raw.len());
    let mut skipping = false;
    for line in head.split_inclusive(|b| *b == b'\n') {
        let cont = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if cont && skipping {
            continue;
        }
        let starts = |p: &[u8]| line.len() >= p.len() && line[..p.len()].eq_ignore_ascii_case(p);
        skipping = starts(b"bcc:") || starts(b"x-viaduc-supersedes:");
        if !skipping {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(body);
    out
}

/// The draft as an outgoing message (with its attachments' content), ready to edit and rebuild.
fn outgoing_of(raw: &[u8], msg: &Message) -> OutgoingMessage {
    let bcc_header: Vec<Recipient> = msg.bcc.clone();
    OutgoingMessage {
        from: msg.from.clone().unwrap_or_default(),
        sender: msg.sender.clone(),
        to: msg.to.clone(),
        cc: msg.cc.clone(),
        bcc: bcc_header,
        reply_to: msg.reply_to.clone(),
        subject: msg.subject.clone().unwrap_or_default(),
        date: None,
        message_id: msg.message_id.clone(),
        in_reply_to: msg.in_reply_to.clone(),
        references: msg.references.clone(),
        importance: msg.importance,
        body_text: msg.body_text.clone(),
        body_html: msg.body_html.clone(),
        attachments: msg
            .attachments
            .iter()
            .filter_map(|a| {
                let (info, data) = attachment_bytes(raw, a.index)?;
                Some(OutgoingAttachment {
                    name: info.name,
                    content_type: info.content_type,
                    data,
                    content_id: if info.is_inline { info.content_id } else { None },
                })
            })
            .collect(),
        extra_headers: Vec::new(),
    }
}

/// Rewrites a draft with `edit`; returns the new item id, its MODSEQ and how many attachments it had before
/// the edit (new attachments are appended after them).
pub async fn rewrite<S: MailStore>(
    cx: &mut Ctx<S>,
    node: &FolderNode,
    id: &ItemId,
    edit: &DraftEdit,
) -> Result<(ItemId, u64, usize), Fail> {
    let name = node.name.clone().ok_or_else(not_found)?;
    let uid = locate(cx, node, id).await?;
    let summary = cx.store.summaries(&name, &[uid]).await.map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?;
    let summary = summary.into_iter().next().ok_or_else(not_found)?;
    if !summary.has_flag("\\Draft") {
        return Err(Fail::new(
            "ErrorInvalidPropertyUpdateSentMessage",
            "Only drafts can be changed; this message was sent or received.",
        ));
    }
    let raw = cx
        .store
        .fetch_raw(&name, uid)
        .await
        .map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?
        .ok_or_else(not_found)?;
    let msg = Message::from_mime(&raw).map_err(|e| Fail::new("ErrorItemCorrupt", e.message))?;
    let mut out = outgoing_of(&raw, &msg);
    let before = out.attachments.len();
    if let Some(s) = &edit.subject {
        out.subject = s.clone();
    }
    if let Some((html, text)) = &edit.body {
        if *html {
            out.body_html = Some(text.clone());
            out.body_text = None;
        } else {
            out.body_text = Some(text.clone());
            out.body_html = None;
        }
    }
    for (field, new) in [
        (&mut out.to, &edit.to),
        (&mut out.cc, &edit.cc),
        (&mut out.bcc, &edit.bcc),
        (&mut out.reply_to, &edit.reply_to),
    ] {
        if let Some(v) = new {
            *field = v.clone();
        }
    }
    if let Some(i) = edit.importance {
        out.importance = i;
    }
    let mut remove = edit.remove_attachments.clone();
    remove.sort_unstable();
    remove.dedup();
    for i in remove.iter().rev() {
        if *i >= out.attachments.len() {
            return Err(Fail::new("ErrorInvalidAttachmentId", "The attachment does not exist."));
        }
        out.attachments.remove(*i);
    }
    out.attachments.extend(edit.add_attachments.iter().cloned());
    if out.from.address.is_empty() {
        out.from = Recipient::new(Some(&cx.display_name), &cx.mailbox);
    }
    // Record every UID this draft replaces, so ids of earlier versions still find it.
    let mut chain: Vec<String> = msg
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(SUPERSEDES))
        .flat_map(|(_, v)| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect();
    chain.push(token(uid));
    if id.uid != uid && !chain.contains(&token(id.uid)) {
        chain.push(token(id.uid));
    }
    chain.dedup();
    out.extra_headers.push((SUPERSEDES.to_string(), chain.join(" ")));
    let bcc = out.bcc.clone();
    let new_raw = with_bcc(build_mime(&out), &bcc);
    let flags: Vec<String> = summary.flags.iter().filter(|f| !f.eq_ignore_ascii_case("\\Recent")).cloned().collect();
    let (uv, new_uid) =
        cx.store.append(&name, &new_raw, &flags).await.map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?;
    cx.store.delete_messages(&name, &[uid]).await.map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?;
    let modseq =
        cx.store.summaries(&name, &[new_uid]).await.ok().and_then(|v| v.first().map(|s| s.modseq)).unwrap_or(0);
    Ok((ItemId { mailbox: cx.mailbox.clone(), folder: node.r.clone(), uid_validity: uv, uid: new_uid }, modseq, before))
}

/// One attachment of a CreateAttachment request: a file, or a message to embed.
fn new_attachment<S>(cx: &Ctx<S>, a: &Element) -> Result<OutgoingAttachment, Fail> {
    match a.name.as_str() {
        "FileAttachment" => file_attachment(a),
        "ItemAttachment" => item_attachment(cx, a),
        other => Err(Fail::new("ErrorInvalidRequest", format!("'{other}' is not an attachment type."))),
    }
}

/// An item attachment: its `t:Message` as MIME (message/rfc822). Other item types cannot be embedded yet.
pub fn item_attachment<S>(cx: &Ctx<S>, a: &Element) -> Result<OutgoingAttachment, Fail> {
    let item = a
        .children
        .iter()
        .find(|c| c.ns.as_deref() == Some(NS_T) && !ATTACHMENT_FIELDS.contains(&c.name.as_str()))
        .ok_or_else(|| Fail::new("ErrorInvalidRequest", "The item attachment holds no item."))?;
    if item.name != "Message" {
        return Err(Fail::new(
            "ErrorInvalidRequest",
            format!("Only messages can be attached as items ('{}' cannot yet).", item.name),
        ));
    }
    let (raw, _, _) = super::create::build_message(cx, item)?;
    // A draft keeps Bcc in a header; an embedded message has no envelope, so it keeps none.
    let data = if item.t("MimeContent").is_some() { raw } else { strip_bcc(&raw) };
    let name = a
        .t_text("Name")
        .or_else(|| item.t_text("Subject"))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("Attached message")
        .to_string();
    Ok(OutgoingAttachment { name, content_type: "message/rfc822".into(), data, content_id: None })
}

/// The elements of AttachmentType (MS-OXWSCORE 2.2.4.4) that precede the item in an ItemAttachment.
const ATTACHMENT_FIELDS: &[&str] = &[
    "AttachmentId",
    "Name",
    "ContentType",
    "ContentId",
    "ContentLocation",
    "AttachmentOriginalUrl",
    "Size",
    "LastModifiedTime",
    "IsInline",
];

fn file_attachment(a: &Element) -> Result<OutgoingAttachment, Fail> {
    let data = STANDARD
        .decode(a.t_text("Content").unwrap_or("").replace(['\r', '\n', ' '], ""))
        .map_err(|_| Fail::new("ErrorInvalidRequest", "Attachment content is not base64."))?;
    let inline = a.t_text("IsInline").is_some_and(|v| v == "true" || v == "1");
    Ok(OutgoingAttachment {
        name: a.t_text("Name").unwrap_or("attachment").to_string(),
        content_type: a.t_text("ContentType").unwrap_or("application/octet-stream").to_string(),
        data,
        content_id: if inline { a.t_text("ContentId").map(str::to_string) } else { None },
    })
}

/// CreateAttachment: adds file and item attachments to a draft; each gets its own response message with its id and the
/// draft's new root id and change key.
pub async fn create_attachment<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    if let Err(f) = cx.load().await {
        return vec![f.message()];
    }
    let Some(parent) = op.m("ParentItemId") else {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "ParentItemId is required.")];
    };
    let mut parent_el = parent.clone();
    parent_el.name = "ItemId".into();
    parent_el.ns = Some(NS_T.into());
    let atts: Vec<&Element> = op.m("Attachments").map(|a| a.children.iter().collect()).unwrap_or_default();
    if atts.is_empty() {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "Attachments is empty.")];
    }
    let parsed: Vec<Result<OutgoingAttachment, Fail>> = atts.iter().map(|a| new_attachment(cx, a)).collect();
    let good: Vec<OutgoingAttachment> = parsed.iter().filter_map(|p| p.as_ref().ok().cloned()).collect();
    let result = async {
        let (id, node) = resolve_item(cx, &parent_el).await?;
        let edit = DraftEdit { add_attachments: good.clone(), ..Default::default() };
        rewrite(cx, &node, &id, &edit).await
    }
    .await;
    let (new_id, modseq, before) = match result {
        Ok(r) => r,
        Err(f) => return atts.iter().map(|_| f.message()).collect(),
    };
    // The parent id the client sent keeps naming the draft; return it as the root id.
    let root_id = parent.attr("Id").map(str::to_string).unwrap_or_else(|| cx.ids.item_id(&new_id));
    let root_ck = cx.ids.change_key(modseq);
    let mut next = before;
    parsed
        .into_iter()
        .map(|p| match p {
            Err(f) => f.message(),
            Ok(a) => {
                let aid = cx.ids.attachment_id(&AttachmentId {
                    item: new_id.clone(),
                    index: next as u32,
                    nested: Vec::new(),
                });
                next += 1;
                let mut w = XmlWriter::new();
                let el = if is_message_type(&a.content_type) { "t:ItemAttachment" } else { "t:FileAttachment" };
                w.start("m:Attachments", &[]).start(el, &[]);
                w.empty("t:AttachmentId", &[("Id", &aid), ("RootItemId", &root_id), ("RootItemChangeKey", &root_ck)]);
                w.leaf("t:Name", &a.name);
                w.end().end();
                ResponseMessage::ok(w.finish())
            }
        })
        .collect()
}

/// DeleteAttachment: removes attachments from drafts (one rewrite per draft); each response carries the
/// draft's new root id and change key.
pub async fn delete_attachment<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    if let Err(f) = cx.load().await {
        return vec![f.message()];
    }
    let els: Vec<Element> = op.m("AttachmentIds").map(|a| a.children.clone()).unwrap_or_default();
    if els.is_empty() {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "AttachmentIds is empty.")];
    }
    let ids: Vec<Result<AttachmentId, Fail>> = els
        .iter()
        .map(|e| {
            let a = cx.ids.parse_attachment_id(e.attr("Id").unwrap_or("")).map_err(Fail::id)?;
            cx.check_mailbox(&a.item.mailbox)?;
            if !a.nested.is_empty() {
                // An attached message is part of the item's MIME: its own attachments are read-only.
                return Err(Fail::new(
                    "ErrorInvalidAttachmentId",
                    "An attachment of an attached message cannot be deleted on its own.",
                ));
            }
            Ok(a)
        })
        .collect();
    // Group by item (same folder, UIDVALIDITY and UID).
    let mut groups: Vec<(ItemId, Vec<usize>)> = Vec::new();
    for a in ids.iter().flatten() {
        match groups.iter_mut().find(|(i, _)| *i == a.item) {
            Some((_, v)) => v.push(a.index as usize),
            None => groups.push((a.item.clone(), vec![a.index as usize])),
        }
    }
    type Outcome = Result<(ItemId, u64), Fail>;
    let mut results: Vec<(ItemId, Outcome)> = Vec::new();
    for (item, indexes) in groups {
        let r = async {
            let node = cx.node(&item.folder).await.ok().flatten().ok_or_else(not_found)?;
            if node.info.as_ref().map(|i| i.uid_validity) != Some(item.uid_validity) {
                return Err(not_found());
            }
            let edit = DraftEdit { remove_attachments: indexes, ..Default::default() };
            rewrite(cx, &node, &item, &edit).await.map(|(id, m, _)| (id, m))
        }
        .await;
        results.push((item, r));
    }
    ids.into_iter()
        .map(|a| match a {
            Err(f) => f.message(),
            Ok(a) => match results.iter().find(|(i, _)| *i == a.item).map(|(_, r)| r) {
                Some(Ok((_, modseq))) => {
                    let mut w = XmlWriter::new();
                    w.empty(
                        "m:RootItemId",
                        &[("RootItemId", &cx.ids.item_id(&a.item)), ("RootItemChangeKey", &cx.ids.change_key(*modseq))],
                    );
                    ResponseMessage::ok(w.finish())
                }
                Some(Err(f)) => f.message(),
                None => not_found().message(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcc_is_added_and_stripped() {
        let raw = b"From: a@x\r\nSubject: s\r\n\r\nbody\r\nBcc: not-a-header\r\n".to_vec();
        let with = with_bcc(raw.clone(), &[Recipient::new(None, "b@x"), Recipient::new(None, "c@x")]);
        assert!(with.starts_with(b"Bcc: b@x, c@x\r\nFrom: a@x"));
        assert_eq!(strip_bcc(&with), raw);
        let folded = b"From: a@x\r\nBcc: b@x,\r\n c@x\r\nSubject: s\r\n\r\nbody".to_vec();
        assert_eq!(strip_bcc(&folded), b"From: a@x\r\nSubject: s\r\n\r\nbody".to_vec());
    }
}
