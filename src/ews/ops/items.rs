//! Item operations on mail (MS-OXWSCORE, MS-OXWSMSG, MS-OXWSSRCH): FindItem (MS-OXWSSRCH 3.1.4.3),
//! GetItem (MS-OXWSCORE 3.1.4.4), UpdateItem (3.1.4.9), DeleteItem (3.1.4.3), MoveItem (3.1.4.7),
//! CopyItem (3.1.4.1), CreateItem (3.1.4.2, MS-OXWSMSG 3.1.4.2), MarkAllItemsAsRead (3.1.4.6),
//! GetAttachment (MS-OXWSATT 3.1.4.3).
//!
//! Attachments: a `message/rfc822` part is an item attachment (MS-OXWSCORE 2.2.4.33 ItemAttachmentType): GetItem
//! lists it as `t:ItemAttachment`, and GetAttachment returns the embedded message as a `t:Message` whose own
//! attachments have ids as well (a path of indexes, `ids::AttachmentId::nested`), so an attachment or a message
//! attached inside an attached message opens with GetAttachment too. Every other part is a `t:FileAttachment`;
//! GetAttachment writes its content base64-encoded into the response, and streams it from IMAP in chunks when
//! it is large (`ews::attachment_stream`).
//!
//! Bodies: besides `Body`, GetItem writes `UniqueBody` (the body without the quoted earlier messages of the
//! thread, after the heuristic of [`crate::model::unique_body`]), `TextBody` (the body as text) and
//! `NormalizedBody` (the body as HTML) when they are asked for (MS-OXWSCORE 2.2.4.24 ItemType).
//!
//! An item is an IMAP message: its id is (folder, UIDVALIDITY, UID), its change key its MODSEQ. Read state,
//! follow-up flag and categories are IMAP flags (`\Seen`, `\Flagged`, keywords), so they are visible to every
//! IMAP client at once.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::folders::page_bounds;
use super::{Ctx, Fail, FolderNode, parse_paging};
use crate::ews::attachment_stream;
use crate::ews::groupware::meetings;
use crate::ews::soap::ResponseMessage;
use crate::ews::store::{Addr, Filter, ListQuery, MailStore, MsgSummary, SortField};
use crate::ews::types::{Shape, format_datetime, parse_datetime, path_uri};
use crate::ews::xml::{Element, NS_T, XmlWriter, parse_bool};
use crate::ids::{AttachmentId, ItemId};
use crate::model::message::{
    AttachmentInfo, Importance, Message, Recipient, attachment_info_from_headers, categories_from_flags,
    nested_attachment_bytes,
};
use crate::model::mime_tree;
use crate::model::unique_body;

/// Most items one FindItem page returns when the client sets no limit.
pub const MAX_PAGE: u32 = 1000;

/// What is known about one message when its element is written.
pub struct ItemData<'a> {
    pub node: &'a FolderNode,
    pub uid_validity: u32,
    pub summary: &'a MsgSummary,
    pub msg: Option<&'a Message>,
    pub raw: Option<&'a [u8]>,
}

/// Whether writing the shape needs the whole message (body, MIME, attachments, headers, references).
/// `full_default` is GetItem (whose shapes include the body); FindItem and SyncFolderItems fetch whole messages
/// only for properties named explicitly, never because of `AllProperties` (a listing must not download every
/// message of the page).
pub fn needs_raw(shape: &Shape, full_default: bool) -> bool {
    let wants = |uri: &str, in_default: bool| {
        if full_default { shape.wants(uri, in_default) } else { shape.additional.iter().any(|p| p.uri == uri) }
    };
    shape.wants_mime()
        || wants("item:Body", true)
        || wants("item:Attachments", true)
        || wants("item:InternetMessageHeaders", false)
        || wants("item:UniqueBody", false)
        || wants("item:TextBody", false)
        || wants("item:NormalizedBody", false)
        || wants("message:References", false)
}

/// Whether the shape asks for anything read from the parsed MIME message (MimeContent alone needs only the
/// raw bytes).
pub fn needs_parsed(shape: &Shape, full_default: bool) -> bool {
    let wants = |uri: &str, in_default: bool| {
        if full_default { shape.wants(uri, in_default) } else { shape.additional.iter().any(|p| p.uri == uri) }
    };
    wants("item:Body", true)
        || wants("item:Attachments", true)
        || wants("item:InternetMessageHeaders", false)
        || wants("item:UniqueBody", false)
        || wants("item:TextBody", false)
        || wants("item:NormalizedBody", false)
        || wants("message:References", false)
}

fn write_mailbox(w: &mut XmlWriter, a: &Addr) {
    w.start("t:Mailbox", &[]);
    if let Some(n) = a.name.as_deref().filter(|n| !n.is_empty()) {
        w.leaf("t:Name", n);
    } else {
        w.leaf("t:Name", &a.email);
    }
    w.leaf("t:EmailAddress", &a.email);
    w.leaf("t:RoutingType", "SMTP");
    w.leaf("t:MailboxType", "OneOff");
    w.end();
}

fn write_single(w: &mut XmlWriter, el: &str, a: Option<&Addr>) {
    if let Some(a) = a {
        w.start(el, &[]);
        write_mailbox(w, a);
        w.end();
    }
}

fn write_list(w: &mut XmlWriter, el: &str, list: &[Addr]) {
    if list.is_empty() {
        return;
    }
    w.start(el, &[]);
    for a in list {
        write_mailbox(w, a);
    }
    w.end();
}

fn display_list(list: &[Addr]) -> String {
    list.iter()
        .map(|a| a.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| a.email.clone()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// PidTagFlagStatus (MS-OXPROPS 2.1125, 0x1090): 2 = flagged, 0 = not flagged. IMAP has no "complete" state.
fn flag_status(s: &MsgSummary) -> u32 {
    if s.has_flag("\\Flagged") { 2 } else { 0 }
}

/// PidTagLastVerbExecuted values (MS-OXOMSG 2.2.1.34): reply to sender, reply to all, forward.
const VERB_REPLY: u32 = 102;
const VERB_REPLY_ALL: u32 = 103;
const VERB_FORWARD: u32 = 104;

/// The tagged MAPI properties Viaduc derives from IMAP state, as (tag, type, value) for the ones asked for
/// (explicitly, or all of them with AllProperties) and set: PidTagMessageFlags 0x0E07 (MS-OXCMSG 2.2.1.6),
/// PidTagMessageSize 0x0E08, PidTagHasAttachments 0x0E1B, PidTagIconIndex 0x1080, PidTagLastVerbExecuted 0x1081,
/// PidTagFlagStatus 0x1090.
fn extended_properties<S>(cx: &Ctx<S>, d: &ItemData<'_>, shape: &Shape) -> Vec<(&'static str, &'static str, String)> {
    let s = d.summary;
    let all = matches!(shape.base, crate::ews::types::BaseShape::AllProperties);
    let want = |tag: &str| all || shape.wants_ext(tag);
    let has_att = d.msg.map(|m| m.attachments.iter().any(|a| !a.is_inline)).unwrap_or(s.has_attachments);
    let verb = if s.has_flag("$Forwarded") {
        Some(VERB_FORWARD)
    } else if s.has_flag("\\Answered") {
        Some(VERB_REPLY)
    } else {
        None
    };
    let mut out = Vec::new();
    if want("0x0e07") {
        // mfRead 0x1, mfUnsent 0x8 (drafts), mfHasAttach 0x10, mfFromMe 0x20.
        let mut f = 0u32;
        if s.has_flag("\\Seen") {
            f |= 0x1;
        }
        if s.has_flag("\\Draft") {
            f |= 0x8;
        }
        if has_att {
            f |= 0x10;
        }
        if s.from.as_ref().is_some_and(|a| a.email.eq_ignore_ascii_case(&cx.mailbox)) {
            f |= 0x20;
        }
        out.push(("0x0E07", "Integer", f.to_string()));
    }
    if want("0x0e08") {
        out.push(("0x0E08", "Integer", s.size.to_string()));
    }
    if want("0x0e1b") {
        out.push(("0x0E1B", "Boolean", if has_att { "true" } else { "false" }.to_string()));
    }
    if want("0x1080") {
        // MS-OXOMSG 2.2.1.10: 0x100 read mail, 0x101 unread, 0x105 replied, 0x106 forwarded.
        let icon = match verb {
            Some(VERB_FORWARD) => 0x106,
            Some(_) => 0x105,
            None if s.has_flag("\\Seen") => 0x100,
            None => 0x101,
        };
        out.push(("0x1080", "Integer", icon.to_string()));
    }
    if let Some(v) = verb.filter(|_| want("0x1081")) {
        out.push(("0x1081", "Integer", v.to_string()));
    }
    let st = flag_status(s);
    if st != 0 && want("0x1090") {
        out.push(("0x1090", "Integer", st.to_string()));
    }
    out
}

/// A very small HTML → text conversion for clients that ask for Text when only HTML exists.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    let mut tag = String::new();
    let mut skip = false;
    for c in html.chars() {
        match (in_tag, c) {
            (false, '<') => {
                in_tag = true;
                tag.clear();
            }
            (true, '>') => {
                in_tag = false;
                let t = tag.trim_start_matches('/').split_whitespace().next().unwrap_or("").to_ascii_lowercase();
                if t == "script" || t == "style" {
                    skip = !tag.starts_with('/');
                }
                if matches!(t.as_str(), "br" | "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3") {
                    out.push('\n');
                }
            }
            (true, c) => tag.push(c),
            (false, c) if !skip => out.push(c),
            _ => {}
        }
    }
    out.replace("&nbsp;", " ").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&")
}

/// The body in the format asked for (`Best`, `HTML` or `Text`, MS-OXWSCDATA 2.2.5.2 BodyTypeResponseType):
/// (BodyType, content). Best is HTML when the message has an HTML body, else text.
fn body_as(m: &Message, want: &str) -> (&'static str, String) {
    match (want, &m.body_html, &m.body_text) {
        ("Text", _, Some(t)) => ("Text", t.clone()),
        ("Text", Some(h), None) => ("Text", html_to_text(h)),
        ("HTML", None, Some(t)) => ("HTML", text_to_html(t)),
        (_, Some(h), _) => ("HTML", h.clone()),
        (_, None, Some(t)) => ("Text", t.clone()),
        (_, None, None) => ("Text", String::new()),
    }
}

/// `t:UniqueBody` (MS-OXWSCORE 2.2.4.24): the body without quoted earlier messages, in the format of
/// `UniqueBodyType` (Best when absent).
fn write_unique_body(w: &mut XmlWriter, m: &Message, shape: &Shape) {
    let (kind, body) = body_as(m, shape.unique_body_type.as_deref().unwrap_or("Best"));
    let unique = if kind == "HTML" { unique_body::unique_html(&body) } else { unique_body::unique_text(&body) };
    w.leaf_with("t:UniqueBody", &[("BodyType", kind), ("IsTruncated", "false")], &unique);
}

/// `t:NormalizedBody` (the body as HTML, or in `NormalizedBodyType`) and `t:TextBody` (the body as text), when
/// asked for; in ItemType's order (NormalizedBody before TextBody).
fn write_normalized_and_text_bodies(w: &mut XmlWriter, m: &Message, shape: &Shape) {
    if shape.wants("item:NormalizedBody", false) {
        let (kind, body) = body_as(m, shape.normalized_body_type.as_deref().unwrap_or("HTML"));
        w.leaf_with("t:NormalizedBody", &[("BodyType", kind), ("IsTruncated", "false")], &body);
    }
    if shape.wants("item:TextBody", false) {
        let (_, body) = body_as(m, "Text");
        w.leaf_with("t:TextBody", &[("BodyType", "Text"), ("IsTruncated", "false")], &body);
    }
}

/// Whose attachments [`write_attachments`] lists.
#[derive(Clone, Copy)]
pub enum AttachmentOwner<'a> {
    /// A message in the store: attachment ids are (item, index).
    Item(&'a ItemId),
    /// A message attached to another, reached by its own attachment id: ids are that id's path plus the index.
    Embedded(&'a AttachmentId),
}

/// `t:Attachments` of a message (MS-OXWSCORE 2.2.4.6 ArrayOfAttachmentsType; AttachmentType's element order:
/// AttachmentId, Name, ContentType, ContentId, Size, LastModifiedTime, IsInline). Every attachment gets its id and
/// an attached message is a `t:ItemAttachment` (MS-OXWSCORE 2.2.4.33), also inside an attached message: its id
/// carries the path of indexes, so GetAttachment can open a message attached to an attached message
/// (MS-OXWSATT 3.1.4.3 gets "attachments from an item", and an attached item is one).
fn write_attachments<S>(w: &mut XmlWriter, cx: &Ctx<S>, owner: AttachmentOwner<'_>, list: &[AttachmentInfo]) {
    if list.is_empty() {
        return;
    }
    w.start("t:Attachments", &[]);
    for a in list {
        let as_item = a.is_message;
        w.start(if as_item { "t:ItemAttachment" } else { "t:FileAttachment" }, &[]);
        let aid = match owner {
            AttachmentOwner::Item(item) => {
                AttachmentId { item: item.clone(), index: a.index as u32, nested: Vec::new() }
            }
            AttachmentOwner::Embedded(parent) => parent.child(a.index as u32),
        };
        w.empty("t:AttachmentId", &[("Id", &cx.ids.attachment_id(&aid))]);
        w.leaf("t:Name", &a.name);
        w.leaf("t:ContentType", &a.content_type);
        if let Some(cid) = &a.content_id {
            w.leaf("t:ContentId", cid);
        }
        w.leaf("t:Size", &a.size.to_string());
        if let Some(d) = a.message_date.filter(|_| as_item) {
            w.leaf("t:LastModifiedTime", &format_datetime(d.unix));
        }
        w.bool_leaf("t:IsInline", a.is_inline);
        if !as_item {
            w.bool_leaf("t:IsContactPhoto", false);
        }
        w.end();
    }
    w.end();
}

fn addr_of(r: &Recipient) -> Addr {
    Addr { name: r.name.clone(), email: r.address.clone() }
}

fn addrs_of(list: &[Recipient]) -> Vec<Addr> {
    list.iter().map(addr_of).collect()
}

/// The embedded message of an item attachment as a `t:Message` (MS-OXWSMSG 2.2.4.1) for GetAttachment: the
/// fields the MIME message has, in ItemType/MessageType order; `MimeContent` with `IncludeMimeContent`, the body
/// in the AttachmentShape's `BodyType`, UniqueBody/NormalizedBody/TextBody when named in its
/// AdditionalProperties. An embedded item has no ItemId (it is reached through its attachment id, `aid`); its
/// attachments get ids below `aid`.
pub fn write_embedded_message<S>(
    w: &mut XmlWriter,
    cx: &Ctx<S>,
    m: &Message,
    raw: &[u8],
    shape: &Shape,
    aid: &AttachmentId,
) {
    w.start("t:Message", &[]);
    if shape.wants_mime() {
        w.start("t:MimeContent", &[("CharacterSet", "UTF-8")]).base64_text(raw).end();
    }
    w.leaf("t:ItemClass", "IPM.Note");
    w.leaf("t:Subject", m.subject.as_deref().unwrap_or(""));
    w.leaf("t:Sensitivity", "Normal");
    let (kind, body) = body_as(m, shape.body_type.as_deref().unwrap_or("Best"));
    w.leaf_with("t:Body", &[("BodyType", kind), ("IsTruncated", "false")], &body);
    write_attachments(w, cx, AttachmentOwner::Embedded(aid), &m.attachments);
    let sent = m.date_sent.map(|d| format_datetime(d.unix));
    if let Some(d) = m.date_received.map(|d| format_datetime(d.unix)).or_else(|| sent.clone()) {
        w.leaf("t:DateTimeReceived", &d);
    }
    w.leaf("t:Size", &raw.len().to_string());
    w.leaf(
        "t:Importance",
        match m.importance {
            Importance::Low => "Low",
            Importance::Normal => "Normal",
            Importance::High => "High",
        },
    );
    if let Some(r) = &m.in_reply_to {
        w.leaf("t:InReplyTo", &format!("<{}>", r.trim_matches(['<', '>'])));
    }
    w.bool_leaf("t:IsSubmitted", true);
    w.bool_leaf("t:IsDraft", false);
    w.bool_leaf("t:IsFromMe", m.from.as_ref().is_some_and(|f| f.address.eq_ignore_ascii_case(&cx.mailbox)));
    if let Some(d) = &sent {
        w.leaf("t:DateTimeSent", d);
        w.leaf("t:DateTimeCreated", d);
    }
    w.leaf("t:DisplayCc", &display_list(&addrs_of(&m.cc)));
    w.leaf("t:DisplayTo", &display_list(&addrs_of(&m.to)));
    w.bool_leaf("t:HasAttachments", m.attachments.iter().any(|a| !a.is_inline));
    if shape.wants("item:UniqueBody", false) {
        write_unique_body(w, m, shape);
    }
    write_normalized_and_text_bodies(w, m, shape);
    // MessageType
    write_single(w, "t:Sender", m.sender.as_ref().or(m.from.as_ref()).map(addr_of).as_ref());
    write_list(w, "t:ToRecipients", &addrs_of(&m.to));
    write_list(w, "t:CcRecipients", &addrs_of(&m.cc));
    write_list(w, "t:BccRecipients", &addrs_of(&m.bcc));
    w.leaf("t:ConversationTopic", strip_prefixes(m.subject.as_deref().unwrap_or("")));
    write_single(w, "t:From", m.from.as_ref().map(addr_of).as_ref());
    if let Some(id) = &m.message_id {
        w.leaf("t:InternetMessageId", &format!("<{}>", id.trim_matches(['<', '>'])));
    }
    w.bool_leaf("t:IsRead", true);
    if !m.references.is_empty() {
        let refs: Vec<String> = m.references.iter().map(|r| format!("<{}>", r.trim_matches(['<', '>']))).collect();
        w.leaf("t:References", &refs.join(" "));
    }
    write_list(w, "t:ReplyTo", &addrs_of(&m.reply_to));
    w.end();
}

fn text_to_html(text: &str) -> String {
    format!(
        "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head><body><pre>{}</pre></body></html>",
        crate::ews::xml::escape(text)
    )
}

/// Writes one `t:Message` (MS-OXWSMSG 2.2.4.1 MessageType; element order of ItemType, MS-OXWSCORE
/// 2.2.4.24, then MessageType). `full_default` selects GetItem's Default shape (with body, attachments and
/// recipients) rather than FindItem's.
pub fn write_message<S: MailStore>(
    w: &mut XmlWriter,
    cx: &Ctx<S>,
    d: &ItemData<'_>,
    shape: &Shape,
    full_default: bool,
) {
    let s = d.summary;
    let item_id =
        ItemId { mailbox: cx.mailbox.clone(), folder: d.node.r.clone(), uid_validity: d.uid_validity, uid: s.uid };
    // A meeting message (iMIP, RFC 6047: a text/calendar part, known from BODYSTRUCTURE) is a MeetingRequest,
    // MeetingCancellation or MeetingResponse (MS-OXWSMTGS 2.2.4.x); its fields come from the calendar part when
    // the message was fetched (the callers fetch meeting messages whole).
    let meeting = if s.calendar_method.is_some() { d.raw.and_then(meetings::parse_meeting) } else { None };
    let meeting_kind = meeting
        .as_ref()
        .map(|m| m.kind)
        .or_else(|| s.calendar_method.as_deref().and_then(meetings::MeetingKind::of_method));
    w.start(meeting_kind.map(|k| k.element()).unwrap_or("t:Message"), &[]);
    if shape.wants_mime() && d.raw.is_some() {
        w.start("t:MimeContent", &[("CharacterSet", "UTF-8")]).base64_text(d.raw.unwrap_or_default()).end();
    }
    w.empty("t:ItemId", &[("Id", &cx.ids.item_id(&item_id)), ("ChangeKey", &cx.ids.change_key(s.modseq))]);
    if shape.wants("item:ParentFolderId", true) {
        w.empty("t:ParentFolderId", &[("Id", &cx.folder_id_text(&d.node.r)), ("ChangeKey", &cx.ids.change_key(0))]);
    }
    if shape.wants("item:ItemClass", true) {
        let class = match meeting_kind {
            Some(k) => meetings::item_class(k, meeting.as_ref().map(|m| &m.event)),
            None => "IPM.Note",
        };
        w.leaf("t:ItemClass", class);
    }
    if shape.wants("item:Subject", true) {
        w.leaf("t:Subject", s.subject.as_deref().unwrap_or(""));
    }
    if shape.wants("item:Sensitivity", true) {
        w.leaf("t:Sensitivity", "Normal");
    }
    if shape.wants("item:Body", full_default)
        && let Some(m) = d.msg
    {
        let (kind, body) = body_as(m, shape.body_type.as_deref().unwrap_or("Best"));
        w.leaf_with("t:Body", &[("BodyType", kind), ("IsTruncated", "false")], &body);
    }
    if shape.wants("item:Attachments", full_default)
        && let Some(m) = d.msg
    {
        write_attachments(w, cx, AttachmentOwner::Item(&item_id), &m.attachments);
    }
    if shape.wants("item:DateTimeReceived", true) {
        w.leaf("t:DateTimeReceived", &format_datetime(s.internal_date));
    }
    if shape.wants("item:Size", true) {
        w.leaf("t:Size", &s.size.to_string());
    }
    if shape.wants("item:Categories", true) {
        let cats = categories_from_flags(&s.flags);
        if !cats.is_empty() {
            w.start("t:Categories", &[]);
            for c in cats {
                w.leaf("t:String", &c);
            }
            w.end();
        }
    }
    if shape.wants("item:Importance", true) {
        let imp = match d.msg.map(|m| m.importance).unwrap_or(s.importance) {
            Importance::Low => "Low",
            Importance::Normal => "Normal",
            Importance::High => "High",
        };
        w.leaf("t:Importance", imp);
    }
    if shape.wants("item:InReplyTo", false)
        && let Some(r) = &s.in_reply_to
    {
        w.leaf("t:InReplyTo", r);
    }
    if shape.wants("item:IsSubmitted", true) {
        w.bool_leaf("t:IsSubmitted", false);
    }
    if shape.wants("item:IsDraft", true) {
        w.bool_leaf("t:IsDraft", s.has_flag("\\Draft"));
    }
    if shape.wants("item:IsFromMe", true) {
        w.bool_leaf("t:IsFromMe", s.from.as_ref().is_some_and(|f| f.email.eq_ignore_ascii_case(&cx.mailbox)));
    }
    if shape.wants("item:InternetMessageHeaders", false)
        && let Some(m) = d.msg
    {
        w.start("t:InternetMessageHeaders", &[]);
        for (k, v) in &m.headers {
            w.leaf_with("t:InternetMessageHeader", &[("HeaderName", k)], v);
        }
        w.end();
    }
    if shape.wants("item:DateTimeSent", true) {
        w.leaf("t:DateTimeSent", &format_datetime(s.date.unwrap_or(s.internal_date)));
    }
    if shape.wants("item:DateTimeCreated", true) {
        w.leaf("t:DateTimeCreated", &format_datetime(s.internal_date));
    }
    if shape.wants("item:DisplayCc", true) {
        w.leaf("t:DisplayCc", &display_list(&s.cc));
    }
    if shape.wants("item:DisplayTo", true) {
        w.leaf("t:DisplayTo", &display_list(&s.to));
    }
    if shape.wants("item:HasAttachments", true) {
        let has = d.msg.map(|m| m.attachments.iter().any(|a| !a.is_inline)).unwrap_or(s.has_attachments);
        w.bool_leaf("t:HasAttachments", has);
    }
    for (tag, ty, value) in extended_properties(cx, d, shape) {
        w.start("t:ExtendedProperty", &[]);
        w.empty("t:ExtendedFieldURI", &[("PropertyTag", tag), ("PropertyType", ty)]);
        w.leaf("t:Value", &value);
        w.end();
    }
    if shape.wants("item:LastModifiedTime", true) {
        w.leaf("t:LastModifiedTime", &format_datetime(s.internal_date));
    }
    if shape.wants("item:ConversationId", true) {
        w.empty("t:ConversationId", &[("Id", &conversation_id(s))]);
    }
    if shape.wants("item:UniqueBody", false)
        && let Some(m) = d.msg
    {
        write_unique_body(w, m, shape);
    }
    if shape.wants("item:Flag", true) {
        w.start("t:Flag", &[]);
        w.leaf("t:FlagStatus", if flag_status(s) == 2 { "Flagged" } else { "NotFlagged" });
        w.end();
    }
    if let Some(m) = d.msg {
        write_normalized_and_text_bodies(w, m, shape);
    }
    // MessageType
    if shape.wants("message:Sender", true) {
        write_single(w, "t:Sender", s.sender.as_ref().or(s.from.as_ref()));
    }
    if shape.wants("message:ToRecipients", full_default) {
        write_list(w, "t:ToRecipients", &s.to);
    }
    if shape.wants("message:CcRecipients", full_default) {
        write_list(w, "t:CcRecipients", &s.cc);
    }
    if shape.wants("message:BccRecipients", full_default) {
        write_list(w, "t:BccRecipients", &s.bcc);
    }
    if shape.wants("message:IsReadReceiptRequested", full_default) {
        w.bool_leaf("t:IsReadReceiptRequested", false);
    }
    if shape.wants("message:IsDeliveryReceiptRequested", full_default) {
        w.bool_leaf("t:IsDeliveryReceiptRequested", false);
    }
    if shape.wants("message:ConversationTopic", true) {
        let topic = s.subject.as_deref().unwrap_or("");
        w.leaf("t:ConversationTopic", strip_prefixes(topic));
    }
    if shape.wants("message:From", true) {
        write_single(w, "t:From", s.from.as_ref());
    }
    if shape.wants("message:InternetMessageId", true)
        && let Some(id) = &s.message_id
    {
        let id = if id.starts_with('<') { id.clone() } else { format!("<{id}>") };
        w.leaf("t:InternetMessageId", &id);
    }
    if shape.wants("message:IsRead", true) {
        w.bool_leaf("t:IsRead", s.has_flag("\\Seen"));
    }
    if shape.wants("message:References", false)
        && let Some(m) = d.msg.filter(|m| !m.references.is_empty())
    {
        w.leaf(
            "t:References",
            &m.references.iter().map(|r| format!("<{}>", r.trim_matches(['<', '>']))).collect::<Vec<_>>().join(" "),
        );
    }
    if shape.wants("message:ReplyTo", false) {
        write_list(w, "t:ReplyTo", &s.reply_to);
    }
    if let Some(k) = meeting_kind {
        let tz = meetings::viewer_zone(cx.time_zone.as_deref());
        let ev = meeting.as_ref().map(|m| &m.event);
        meetings::write_meeting_fields(w, k, ev, &cx.mailbox, s.has_flag("\\Answered"), shape, full_default, tz, None);
    }
    w.end();
}

/// A conversation id from the thread's root message id (RFC 5322 References, else In-Reply-To, else the
/// message's own id, else the base subject): every message of a thread gets the same, on every instance.
pub fn conversation_id(s: &MsgSummary) -> String {
    use sha2::Digest;
    let root = s
        .references
        .first()
        .or(s.in_reply_to.as_ref())
        .or(s.message_id.as_ref())
        .map(|id| id.trim().trim_matches(['<', '>']).to_ascii_lowercase())
        .unwrap_or_else(|| strip_prefixes(s.subject.as_deref().unwrap_or("")).to_lowercase());
    let mut h = sha2::Sha256::new();
    h.update(b"viaduc conversation\0");
    h.update(root.as_bytes());
    STANDARD.encode(&h.finalize()[..16])
}

fn strip_prefixes(subject: &str) -> &str {
    let mut s = subject.trim();
    loop {
        let lower = s.to_ascii_lowercase();
        let cut = ["re:", "fw:", "fwd:", "aw:", "wg:"].iter().find(|p| lower.starts_with(**p)).map(|p| p.len());
        match cut {
            Some(n) => s = s[n..].trim_start(),
            None => return s,
        }
    }
}

/// Resolves a `t:ItemId` element to its id and folder, checking ownership and UIDVALIDITY.
pub async fn resolve_item<S: MailStore>(cx: &mut Ctx<S>, el: &Element) -> Result<(ItemId, FolderNode), Fail> {
    if el.name != "ItemId" {
        return Err(Fail::new("ErrorInvalidIdMalformed", format!("'{}' ids are not supported.", el.name)));
    }
    let id = cx.ids.parse_item_id(el.attr("Id").unwrap_or("")).map_err(Fail::id)?;
    cx.check_mailbox(&id.mailbox)?;
    let node = match cx.node(&id.folder).await {
        Ok(Some(n)) => n,
        Ok(None) if cx.delegate.is_some() => {
            return Err(Fail::new("ErrorAccessDenied", "The item does not exist or is not shared with this user."));
        }
        Ok(None) => return Err(item_not_found()),
        Err(e) => return Err(Fail::from_error(&e, "ErrorItemNotFound")),
    };
    let valid = node.info.as_ref().map(|i| i.uid_validity);
    if valid != Some(id.uid_validity) {
        return Err(item_not_found());
    }
    if node.distinguished == Some("drafts") {
        // A draft rewritten by an edit has a new UID; older ids still name it (see ops::drafts).
        let uid = super::drafts::locate(cx, &node, &id).await?;
        return Ok((ItemId { uid, ..id }, node));
    }
    Ok((id, node))
}

fn item_not_found() -> Fail {
    Fail::new("ErrorItemNotFound", "The specified object was not found in the store.")
}

fn item_ids(op: &Element, container: &str) -> Vec<Element> {
    op.m(container).map(|c| c.children.clone()).unwrap_or_default()
}

/// Loads what an item element needs: its summary, and the parsed message when the shape asks for it.
async fn load_item<S: MailStore>(
    cx: &mut Ctx<S>,
    node: &FolderNode,
    uid: u32,
    need_raw: bool,
) -> Result<(MsgSummary, Option<Vec<u8>>, Option<Message>), Fail> {
    let name = node.name.clone().ok_or_else(item_not_found)?;
    let mut sums = cx.store.summaries(&name, &[uid]).await.map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?;
    let Some(summary) = sums.pop() else { return Err(item_not_found()) };
    if !need_raw {
        return Ok((summary, None, None));
    }
    let raw = cx.store.fetch_raw(&name, uid).await.map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?;
    let Some(raw) = raw else { return Err(item_not_found()) };
    let msg = Message::from_mime(&raw).ok();
    Ok((summary, Some(raw), msg))
}

// ------------------------------------------------------------------------------------------------ GetItem

/// A fetched item: its summary and, when the shape needs it, the whole message.
type Loaded = (MsgSummary, Option<Vec<u8>>);

pub async fn get_item<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let shape = match Shape::parse(op.m("ItemShape")) {
        Ok(s) => s,
        Err(e) => return vec![ResponseMessage::error("ErrorInvalidRequest", e)],
    };
    if let Err(f) = cx.load().await {
        return vec![f.message()];
    }
    let need = needs_raw(&shape, true);
    let els = item_ids(op, "ItemIds");
    if els.is_empty() {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "ItemIds is empty.")];
    }
    // Parsing MIME is only needed for the fields taken from it (not for MimeContent alone).
    let parse = needs_parsed(&shape, true);
    // Resolve every id, then fetch the summaries of each folder's items in one command (clients ask for
    // dozens of items per GetItem while syncing); when whole messages are needed, the same command brings
    // summaries and bodies together (a few dozen messages per UID FETCH).
    let mut resolved: Vec<Result<(ItemId, FolderNode), Fail>> = Vec::with_capacity(els.len());
    for el in &els {
        resolved.push(resolve_item(cx, el).await);
    }
    // (UIDVALIDITY checked by resolve_item, UIDs) per folder.
    let mut by_folder: std::collections::BTreeMap<String, (u32, Vec<u32>)> = std::collections::BTreeMap::new();
    let mut wanted: std::collections::HashMap<(String, u32), usize> = std::collections::HashMap::new();
    for (id, node) in resolved.iter().flatten() {
        if let Some(n) = &node.name {
            *wanted.entry((n.clone(), id.uid)).or_default() += 1;
            by_folder.entry(n.clone()).or_insert_with(|| (id.uid_validity, Vec::new())).1.push(id.uid);
        }
    }
    // Ids and change keys (and MIME content) only: no headers to fetch.
    let ids_only = shape.ids_only();
    let mut sums: std::collections::HashMap<(String, u32), Loaded> = std::collections::HashMap::new();
    let mut folder_errors: std::collections::HashMap<String, Fail> = std::collections::HashMap::new();
    for (folder, (uid_validity, uids)) in by_folder {
        let got = if need {
            cx.store
                .fetch_full_many_in(&folder, uid_validity, &uids, ids_only)
                .await
                .map(|v| v.into_iter().map(|(s, r)| (s, Some(r))).collect())
        } else {
            cx.store
                .summaries_in(&folder, uid_validity, &uids, ids_only)
                .await
                .map(|v| v.into_iter().map(|s| (s, None)).collect::<Vec<_>>())
        };
        match got {
            Ok(v) => {
                for (m, raw) in v {
                    sums.insert((folder.clone(), m.uid), (m, raw));
                }
            }
            Err(e) => {
                folder_errors.insert(folder, Fail::from_error(&e, "ErrorItemNotFound"));
            }
        }
    }
    let mut out = Vec::with_capacity(resolved.len());
    for r in resolved {
        let r = async {
            let (id, node) = r?;
            let name = node.name.clone().ok_or_else(item_not_found)?;
            if let Some(f) = folder_errors.get(&name) {
                return Err(f.clone());
            }
            // Taken out of the map at its last mention: each message's bytes are dropped once its answer is
            // written (an id asked for twice is answered twice).
            let key = (name.clone(), id.uid);
            let left = wanted.get_mut(&key).map(|n| {
                *n -= 1;
                *n
            });
            let (summary, raw) =
                if left == Some(0) { sums.remove(&key) } else { sums.get(&key).cloned() }.ok_or_else(item_not_found)?;
            // Meeting messages are shown with their meeting's fields, read from the calendar part.
            let raw = match raw {
                None if summary.calendar_method.is_some() => cx.store.fetch_raw(&name, id.uid).await.ok().flatten(),
                r => r,
            };
            let msg = match &raw {
                Some(r) if parse => Message::from_mime(r).ok(),
                _ => None,
            };
            let mut w = XmlWriter::new();
            w.start("m:Items", &[]);
            let d = ItemData {
                node: &node,
                uid_validity: id.uid_validity,
                summary: &summary,
                msg: msg.as_ref(),
                raw: raw.as_deref(),
            };
            write_message(&mut w, cx, &d, &shape, true);
            w.end();
            Ok::<_, Fail>(w.finish())
        }
        .await;
        out.push(match r {
            Ok(c) => ResponseMessage::ok(c),
            Err(f) => f.message(),
        });
    }
    out
}

// ------------------------------------------------------------------------------------------------ FindItem

/// Parses a restriction (MS-OXWSSRCH 2.2.4.x RestrictionType) into a store filter. Unsupported paths or
/// operators are an error (`ErrorUnsupportedPathForQuery` / `ErrorUnsupportedQueryFilter`), never ignored.
pub fn parse_restriction(el: &Element) -> Result<Filter, Fail> {
    let unsupported =
        |what: &str| Fail::new("ErrorUnsupportedQueryFilter", format!("The restriction '{what}' is not supported."));
    let constant = |e: &Element| -> Option<String> {
        e.t("FieldURIOrConstant").and_then(|c| c.t("Constant")).and_then(|c| c.attr("Value")).map(str::to_string)
    };
    match el.name.as_str() {
        "Restriction" => {
            let inner = el.children.first().ok_or_else(|| unsupported("empty"))?;
            parse_restriction(inner)
        }
        "And" => Ok(Filter::And(el.children.iter().map(parse_restriction).collect::<Result<_, _>>()?)),
        "Or" => Ok(Filter::Or(el.children.iter().map(parse_restriction).collect::<Result<_, _>>()?)),
        "Not" => Ok(Filter::Not(Box::new(parse_restriction(el.children.first().ok_or_else(|| unsupported("Not"))?)?))),
        "Contains" => {
            let uri = path_uri(el).unwrap_or_default();
            let v = el.t("Constant").and_then(|c| c.attr("Value")).unwrap_or("").to_string();
            match uri.as_str() {
                "item:Subject" | "message:ConversationTopic" => Ok(Filter::Subject(v)),
                "message:From" | "message:Sender" => Ok(Filter::From(v)),
                "item:Body" => Ok(Filter::Body(v)),
                _ => Err(Fail::new("ErrorUnsupportedPathForQuery", format!("Searching '{uri}' is not supported."))),
            }
        }
        "IsEqualTo"
        | "IsNotEqualTo"
        | "IsGreaterThan"
        | "IsGreaterThanOrEqualTo"
        | "IsLessThan"
        | "IsLessThanOrEqualTo" => {
            let uri = path_uri(el).unwrap_or_default();
            let v = constant(el).ok_or_else(|| unsupported("comparison without a constant"))?;
            let op = el.name.as_str();
            let f = match (uri.as_str(), op) {
                ("message:IsRead", "IsEqualTo" | "IsNotEqualTo") => {
                    let b = parse_bool(&v).ok_or_else(|| unsupported("IsRead value"))?;
                    Filter::Seen(b)
                }
                ("ext:0x1090", "IsEqualTo" | "IsNotEqualTo") => Filter::Flagged(v.trim() == "2"),
                ("item:Flag" | "item:FlagStatus", "IsEqualTo" | "IsNotEqualTo") => Filter::Flagged(v == "Flagged"),
                ("item:Subject", "IsEqualTo" | "IsNotEqualTo") => Filter::Subject(v),
                ("item:DateTimeReceived", "IsGreaterThan" | "IsGreaterThanOrEqualTo") => {
                    Filter::ReceivedSince(parse_datetime(&v).ok_or_else(|| unsupported("date value"))?)
                }
                ("item:DateTimeReceived", "IsLessThan" | "IsLessThanOrEqualTo") => {
                    Filter::ReceivedBefore(parse_datetime(&v).ok_or_else(|| unsupported("date value"))?)
                }
                _ => {
                    return Err(Fail::new(
                        "ErrorUnsupportedPathForQuery",
                        format!("Comparing '{uri}' with {op} is not supported."),
                    ));
                }
            };
            Ok(if op == "IsNotEqualTo" { Filter::Not(Box::new(f)) } else { f })
        }
        other => Err(unsupported(other)),
    }
}

fn parse_sort(op: &Element) -> Result<(SortField, bool), Fail> {
    let Some(fo) = op.m("SortOrder").and_then(|s| s.t("FieldOrder")) else {
        return Ok((SortField::Received, true));
    };
    let desc = fo.attr("Order") != Some("Ascending");
    let field = match path_uri(fo).as_deref() {
        Some("item:DateTimeReceived") | Some("item:DateTimeCreated") => SortField::Received,
        Some("item:DateTimeSent") => SortField::Sent,
        Some("item:Subject") | Some("message:ConversationTopic") => SortField::Subject,
        Some("message:From") | Some("message:Sender") => SortField::From,
        Some("item:Size") => SortField::Size,
        other => {
            return Err(Fail::new(
                "ErrorUnsupportedPathForSortGroup",
                format!("Sorting by '{}' is not supported.", other.unwrap_or("")),
            ));
        }
    };
    Ok((field, desc))
}

pub async fn find_item<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let shape = match Shape::parse(op.m("ItemShape")) {
        Ok(s) => s,
        Err(e) => return vec![ResponseMessage::error("ErrorInvalidRequest", e)],
    };
    let traversal = op.attr("Traversal").unwrap_or("Shallow");
    let filter = match op.m("Restriction") {
        Some(r) => match parse_restriction(r) {
            Ok(f) => Some(f),
            Err(f) => return vec![f.message()],
        },
        None => None,
    };
    let (sort, descending) = match parse_sort(op) {
        Ok(s) => s,
        Err(f) => return vec![f.message()],
    };
    if op.m("CalendarView").is_some() || op.m("ContactsView").is_some() {
        return vec![ResponseMessage::error(
            "ErrorInvalidRequest",
            "CalendarView and ContactsView are for calendar and contacts folders.",
        )];
    }
    let fraction = match op.m("FractionalPageItemView").map(parse_fraction).transpose() {
        Ok(f) => f,
        Err(f) => return vec![f.message()],
    };
    let (max, offset, from_end) = match fraction {
        Some((max, ..)) => (max, 0, false),
        None => match parse_paging(op.m("IndexedPageItemView")) {
            Ok(p) => p,
            Err(f) => return vec![f.message()],
        },
    };
    let max = max.unwrap_or(MAX_PAGE).min(MAX_PAGE);
    let need = needs_raw(&shape, false);
    let parents: Vec<Element> = item_ids(op, "ParentFolderIds");
    if parents.is_empty() {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "ParentFolderIds is empty.")];
    }
    let mut out = Vec::new();
    for el in parents {
        let r = async {
            let node = cx.resolve_folder(&el).await?;
            let mut w = XmlWriter::new();
            // Virtual roots and associated (FAI) items hold no messages.
            let Some(name) = node
                .name
                .clone()
                .filter(|_| traversal == "Shallow" && node.info.as_ref().is_some_and(|i| i.selectable))
            else {
                w.start(
                    "m:RootFolder",
                    &[("IndexedPagingOffset", "0"), ("TotalItemsInView", "0"), ("IncludesLastItemInRange", "true")],
                );
                w.empty("t:Items", &[]);
                w.end();
                return Ok::<_, Fail>(w.finish());
            };
            // FractionalPageItemView (MS-OXWSSRCH 2.2.4.x FractionalPageViewType): the page starts at
            // Numerator/Denominator of the view, so the view's size is needed first.
            let offset = match fraction {
                Some((_, num, den)) => {
                    let probe = ListQuery { offset: 0, limit: 0, sort, descending, filter: filter.clone() };
                    let (total, _) = cx
                        .store
                        .list_messages(&name, &probe)
                        .await
                        .map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
                    (u64::from(total) * u64::from(num) / u64::from(den)) as u32
                }
                None => offset,
            };
            // BasePoint=End: the page counted from the end of the view is the first page of the reversed view.
            let q = ListQuery { offset, limit: max, sort, descending: descending ^ from_end, filter: filter.clone() };
            let (total, mut page) =
                cx.store.list_messages(&name, &q).await.map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
            if from_end {
                page.reverse();
            }
            let (_, end) = page_bounds(total, Some(max), offset, from_end);
            let next =
                if from_end { end.saturating_sub(page.len() as u32) } else { offset.saturating_add(page.len() as u32) };
            let last = if from_end { next == 0 } else { next >= total };
            let uv = node.info.as_ref().map(|i| i.uid_validity).unwrap_or(0);
            let (next_s, total_s) = (next.to_string(), total.to_string());
            let last_s = if last { "true" } else { "false" };
            if fraction.is_some() {
                // The next page's numerator over the view's size (NumeratorOffset / AbsoluteDenominator).
                w.start(
                    "m:RootFolder",
                    &[
                        ("NumeratorOffset", &next_s),
                        ("AbsoluteDenominator", &total_s),
                        ("TotalItemsInView", &total_s),
                        ("IncludesLastItemInRange", last_s),
                    ],
                );
            } else {
                w.start(
                    "m:RootFolder",
                    &[
                        ("IndexedPagingOffset", &next_s),
                        ("TotalItemsInView", &total_s),
                        ("IncludesLastItemInRange", last_s),
                    ],
                );
            }
            w.start("t:Items", &[]);
            for s in &page {
                // Meeting messages are fetched whole for their meeting's fields (only they pay for it).
                let (raw, msg) = if need || s.calendar_method.is_some() {
                    match cx.store.fetch_raw(&name, s.uid).await {
                        Ok(Some(raw)) => {
                            let m = if need { Message::from_mime(&raw).ok() } else { None };
                            (Some(raw), m)
                        }
                        _ => (None, None),
                    }
                } else {
                    (None, None)
                };
                let d = ItemData { node: &node, uid_validity: uv, summary: s, msg: msg.as_ref(), raw: raw.as_deref() };
                write_message(&mut w, cx, &d, &shape, false);
            }
            w.end().end();
            Ok(w.finish())
        }
        .await;
        out.push(match r {
            Ok(c) => ResponseMessage::ok(c),
            Err(f) => f.message(),
        });
    }
    out
}

/// Reads a `FractionalPageItemView`: (max entries, numerator, denominator).
fn parse_fraction(v: &Element) -> Result<(Option<u32>, u32, u32), Fail> {
    let num = |name: &str| -> Result<Option<u32>, Fail> {
        v.attr(name)
            .map(|x| {
                x.trim()
                    .parse::<u32>()
                    .map_err(|_| Fail::new("ErrorInvalidRequest", format!("{name} is not a number.")))
            })
            .transpose()
    };
    let (max, n, d) = (num("MaxEntriesReturned")?, num("Numerator")?, num("Denominator")?);
    match (n, d) {
        (Some(n), Some(d)) if d > 0 && n <= d => Ok((max, n, d)),
        _ => Err(Fail::new(
            "ErrorInvalidRequest",
            "FractionalPageItemView needs a Numerator no larger than a Denominator above zero.",
        )),
    }
}

// ------------------------------------------------------------------------------------------------ UpdateItem

/// Flag changes one UpdateItem change asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FlagChange {
    /// Content changes, allowed on drafts only.
    pub draft: super::drafts::DraftEdit,
    pub add: Vec<String>,
    pub remove: Vec<String>,
    /// Replace every category keyword with these.
    pub categories: Option<Vec<String>>,
}

/// Whether a category can be an IMAP keyword (RFC 3501 flag-keyword = atom).
fn keyword_ok(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 128
        && !k.starts_with('\\')
        && k.bytes().all(|b| b > 0x20 && b < 0x7f && !b"(){%*\"\\]".contains(&b))
}

/// Parses the `t:Updates` of one `t:ItemChange` into flag changes (MS-OXWSCORE 2.2.4.x SetItemField,
/// AppendToItemField, DeleteItemField).
pub fn parse_updates(updates: &Element) -> Result<FlagChange, Fail> {
    let mut ch = FlagChange::default();
    let set = |ch: &mut FlagChange, flag: &str, on: bool| {
        let f = flag.to_string();
        ch.add.retain(|x| x != &f);
        ch.remove.retain(|x| x != &f);
        if on { ch.add.push(f) } else { ch.remove.push(f) }
    };
    for u in &updates.children {
        let uri = path_uri(u).unwrap_or_default();
        let item =
            u.children.iter().find(|c| c.ns.as_deref() == Some(NS_T) && matches!(c.name.as_str(), "Message" | "Item"));
        let kind = u.name.as_str();
        match (kind, uri.as_str()) {
            ("SetItemField", "message:IsRead") => {
                let v = item.and_then(|i| i.t_text("IsRead")).and_then(parse_bool);
                let v = v.ok_or_else(|| Fail::new("ErrorInvalidPropertySet", "IsRead needs a boolean value."))?;
                set(&mut ch, "\\Seen", v);
            }
            ("DeleteItemField", "message:IsRead") => set(&mut ch, "\\Seen", false),
            ("SetItemField", "item:Flag") => {
                let st = item.and_then(|i| i.t("Flag")).and_then(|f| f.t_text("FlagStatus")).unwrap_or("NotFlagged");
                set(&mut ch, "\\Flagged", st == "Flagged");
            }
            ("DeleteItemField", "item:Flag") | ("DeleteItemField", "ext:0x1090") => set(&mut ch, "\\Flagged", false),
            ("SetItemField", "ext:0x1090") => {
                let v = item
                    .and_then(|i| i.t("ExtendedProperty"))
                    .and_then(|p| p.t_text("Value"))
                    .ok_or_else(|| Fail::new("ErrorInvalidPropertySet", "PidTagFlagStatus needs a value."))?;
                set(&mut ch, "\\Flagged", v.trim() == "2");
            }
            ("SetItemField" | "AppendToItemField", "item:Categories") => {
                let cats: Vec<String> = item
                    .and_then(|i| i.t("Categories"))
                    .map(|c| c.children.iter().map(|s| s.trimmed().to_string()).filter(|s| !s.is_empty()).collect())
                    .unwrap_or_default();
                if let Some(bad) = cats.iter().find(|c| !keyword_ok(c)) {
                    return Err(Fail::new(
                        "ErrorInvalidPropertySet",
                        format!(
                            "The category '{bad}' cannot be stored as an IMAP keyword (no spaces or special characters)."
                        ),
                    ));
                }
                if kind == "AppendToItemField" {
                    ch.add.extend(cats);
                } else {
                    ch.categories = Some(cats);
                }
            }
            ("DeleteItemField", "item:Categories") => ch.categories = Some(Vec::new()),
            ("SetItemField", "ext:0x1081") => {
                // PidTagLastVerbExecuted: replies set \Answered, forwards $Forwarded (the IMAP keywords clients
                // share, RFC 5788 registry).
                let v = item
                    .and_then(|i| i.t("ExtendedProperty"))
                    .and_then(|p| p.t_text("Value"))
                    .and_then(|v| v.parse::<u32>().ok())
                    .ok_or_else(|| Fail::new("ErrorInvalidPropertySet", "PidTagLastVerbExecuted needs an integer."))?;
                match v {
                    VERB_REPLY | VERB_REPLY_ALL => set(&mut ch, "\\Answered", true),
                    VERB_FORWARD => set(&mut ch, "$Forwarded", true),
                    _ => {}
                }
            }
            ("DeleteItemField", "ext:0x1081") => {
                set(&mut ch, "\\Answered", false);
                set(&mut ch, "$Forwarded", false);
            }
            (k, u) if super::drafts::draft_update(&mut ch.draft, k, u, item) => {}
            _ => {
                return Err(Fail::new(
                    "ErrorInvalidPropertySet",
                    format!(
                        "{kind} of '{uri}' is not supported on mail items (IsRead, Flag, PidTagFlagStatus and Categories are)."
                    ),
                ));
            }
        }
    }
    Ok(ch)
}

pub async fn update_item<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let resolution = op.attr("ConflictResolution").unwrap_or("AutoResolve").to_string();
    if let Err(f) = cx.load().await {
        return vec![f.message()];
    }
    let changes: Vec<Element> = item_ids(op, "ItemChanges");
    let mut out = Vec::new();
    for ch in changes.iter().filter(|c| c.name == "ItemChange") {
        let r = async {
            let id_el =
                ch.t("ItemId").ok_or_else(|| Fail::new("ErrorInvalidRequest", "ItemChange without an ItemId."))?;
            let (mut id, node) = resolve_item(cx, id_el).await?;
            let upd = parse_updates(
                ch.t("Updates").ok_or_else(|| Fail::new("ErrorInvalidRequest", "ItemChange without Updates."))?,
            )?;
            let name = node.name.clone().ok_or_else(item_not_found)?;
            if !upd.draft.is_empty() {
                if resolution == "NeverOverwrite"
                    && let Some(ck) = id_el.attr("ChangeKey")
                {
                    let since = cx.ids.parse_change_key(ck).map_err(Fail::id)?;
                    let (cur, _, _) = load_item(cx, &node, id.uid, false).await?;
                    if cur.modseq > since {
                        return Err(Fail::new(
                            "ErrorIrresolvableConflict",
                            "The item was changed since the client last read it.",
                        ));
                    }
                }
                id = super::drafts::rewrite(cx, &node, &id, &upd.draft).await?.0;
            }
            let (summary, _, _) = load_item(cx, &node, id.uid, false).await?;
            let unchanged_since = match (resolution.as_str(), id_el.attr("ChangeKey")) {
                ("NeverOverwrite", Some(ck)) => Some(cx.ids.parse_change_key(ck).map_err(Fail::id)?),
                _ => None,
            };
            let mut add = upd.add.clone();
            let mut remove = upd.remove.clone();
            if let Some(cats) = &upd.categories {
                remove.extend(categories_from_flags(&summary.flags).into_iter().filter(|c| !cats.contains(c)));
                add.extend(cats.iter().cloned());
            }
            let failed = cx
                .store
                .set_flags(&name, &[id.uid], &add, &remove, unchanged_since)
                .await
                .map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?;
            if !failed.is_empty() {
                return Err(Fail::new(
                    "ErrorIrresolvableConflict",
                    "The item was changed since the client last read it.",
                ));
            }
            let (after, _, _) = load_item(cx, &node, id.uid, false).await?;
            let mut w = XmlWriter::new();
            w.start("m:Items", &[]).start("t:Message", &[]);
            // The id the client sent still names the item (a rewritten draft answers to its earlier ids), and
            // clients expect UpdateItem to return it unchanged.
            let id_text = id_el.attr("Id").map(str::to_string).unwrap_or_else(|| cx.ids.item_id(&id));
            w.empty("t:ItemId", &[("Id", &id_text), ("ChangeKey", &cx.ids.change_key(after.modseq))]);
            w.end().end();
            w.start("m:ConflictResults", &[]).leaf("t:Count", "0").end();
            Ok::<_, Fail>(w.finish())
        }
        .await;
        out.push(match r {
            Ok(c) => ResponseMessage::ok(c),
            Err(f) => f.message(),
        });
    }
    if out.is_empty() {
        out.push(ResponseMessage::error("ErrorInvalidRequest", "ItemChanges is empty."));
    }
    out
}

// ------------------------------------------------------------------------------------------------ Delete / Move / Copy

pub async fn delete_item<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let delete_type = op.attr("DeleteType").unwrap_or("MoveToDeletedItems").to_string();
    if let Err(f) = cx.load().await {
        return vec![f.message()];
    }
    let trash = cx
        .tree()
        .await
        .ok()
        .and_then(|t| t.iter().find(|n| n.distinguished == Some("deleteditems")).and_then(|n| n.name.clone()));
    let mut out = Vec::new();
    for el in item_ids(op, "ItemIds") {
        let r = async {
            let (id, node) = resolve_item(cx, &el).await?;
            let name = node.name.clone().ok_or_else(item_not_found)?;
            if cx
                .store
                .summaries(&name, &[id.uid])
                .await
                .map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?
                .is_empty()
            {
                return Err(item_not_found());
            }
            let res = match (&trash, delete_type.as_str()) {
                (Some(t), "MoveToDeletedItems") if *t != name => {
                    cx.store.move_messages(&name, &[id.uid], t).await.map(|_| ())
                }
                _ => cx.store.delete_messages(&name, &[id.uid]).await,
            };
            res.map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))
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

/// MoveItem and CopyItem: each item gets a response message with its new id (from COPYUID).
pub async fn move_or_copy_item<S: MailStore>(cx: &mut Ctx<S>, op: &Element, copy: bool) -> Vec<ResponseMessage> {
    let Some(to_el) = op.m("ToFolderId").and_then(|t| t.children.first()) else {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "ToFolderId is required.")];
    };
    let target = match cx.resolve_folder(to_el).await {
        Ok(n) => n,
        Err(f) => return vec![f.message()],
    };
    let Some(target_name) = target.name.clone() else {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "Items cannot be placed in this folder.")];
    };
    let mut out = Vec::new();
    for el in item_ids(op, "ItemIds") {
        let r = async {
            let (id, node) = resolve_item(cx, &el).await?;
            let name = node.name.clone().ok_or_else(item_not_found)?;
            if cx
                .store
                .summaries(&name, &[id.uid])
                .await
                .map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?
                .is_empty()
            {
                return Err(item_not_found());
            }
            let (uv, map) = if copy {
                cx.store.copy_messages(&name, &[id.uid], &target_name).await
            } else {
                cx.store.move_messages(&name, &[id.uid], &target_name).await
            }
            .map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?;
            let mut w = XmlWriter::new();
            w.start("m:Items", &[]);
            if let Some((_, new_uid)) = map.iter().find(|(o, _)| *o == id.uid) {
                let nid =
                    ItemId { mailbox: cx.mailbox.clone(), folder: target.r.clone(), uid_validity: uv, uid: *new_uid };
                let modseq = cx
                    .store
                    .summaries(&target_name, &[*new_uid])
                    .await
                    .ok()
                    .and_then(|v| v.first().map(|s| s.modseq))
                    .unwrap_or(0);
                w.start("t:Message", &[]);
                w.empty("t:ItemId", &[("Id", &cx.ids.item_id(&nid)), ("ChangeKey", &cx.ids.change_key(modseq))]);
                w.end();
            }
            w.end();
            Ok::<_, Fail>(w.finish())
        }
        .await;
        out.push(match r {
            Ok(c) => ResponseMessage::ok(c),
            Err(f) => f.message(),
        });
    }
    if out.is_empty() {
        out.push(ResponseMessage::error("ErrorInvalidRequest", "ItemIds is empty."));
    }
    out
}

// ------------------------------------------------------------------------------------------------ MarkAllItemsAsRead

pub async fn mark_all_items_as_read<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let read = op.m("ReadFlag").and_then(|r| parse_bool(&r.text)).unwrap_or(true);
    let ids: Vec<Element> = item_ids(op, "FolderIds");
    let mut out = Vec::new();
    for el in ids {
        let r = async {
            let node = cx.resolve_folder(&el).await?;
            let Some(name) = node.name.clone() else { return Ok(()) };
            let uids = cx.store.uids(&name).await.map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
            if !uids.is_empty() {
                let seen = vec!["\\Seen".to_string()];
                let (add, remove) = if read { (seen, Vec::new()) } else { (Vec::new(), seen) };
                cx.store
                    .set_flags(&name, &uids, &add, &remove, None)
                    .await
                    .map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
            }
            Ok::<(), Fail>(())
        }
        .await;
        out.push(match r {
            Ok(()) => ResponseMessage::ok(String::new()),
            Err(f) => f.message(),
        });
    }
    if out.is_empty() {
        out.push(ResponseMessage::error("ErrorInvalidRequest", "FolderIds is empty."));
    }
    out
}

// ------------------------------------------------------------------------------------------------ GetAttachment

/// The AttachmentShape of a GetAttachment (MS-OXWSCORE 2.2.4.5 AttachmentResponseShapeType): IncludeMimeContent,
/// BodyType and AdditionalProperties, which shape an embedded item.
fn attachment_shape(op: &Element) -> Shape {
    let Some(el) = op.m("AttachmentShape") else { return Shape::default() };
    let additional = el
        .t("AdditionalProperties")
        .map(|ap| {
            ap.children
                .iter()
                .filter_map(|p| p.attr("FieldURI").map(|u| crate::ews::types::PropPath { uri: u.to_string() }))
                .collect()
        })
        .unwrap_or_default();
    Shape {
        base: crate::ews::types::BaseShape::Default,
        additional,
        body_type: el.t_text("BodyType").map(str::to_string),
        include_mime: el.t_text("IncludeMimeContent").and_then(parse_bool).unwrap_or(false),
        ..Shape::default()
    }
}

/// GetAttachment (MS-OXWSATT 3.1.4.3): one response message per AttachmentId, in order.
///
/// A file attachment is a `t:FileAttachment` with its `t:Content` (MS-OXWSCORE 2.2.4.22 FileAttachmentType); a
/// message/rfc822 part a `t:ItemAttachment` with the attached `t:Message` (MS-OXWSCORE 2.2.4.33
/// ItemAttachmentType), whose own attachments carry ids too, so an attachment of an attached message (and a
/// message attached to that) can be opened with the same operation.
///
/// Large file attachments are not read into memory: when the store knows the message's MIME structure
/// ([`MailStore::mime_structure`], IMAP BODYSTRUCTURE) and the part is at least
/// [`attachment_stream::STREAM_THRESHOLD`] bytes, the response message carries a marker where the content goes
/// and the part is streamed into the HTTP body afterwards (see [`crate::ews::attachment_stream`]). Everything
/// else (item attachments, small files, stores without structure) is read from the whole message.
pub async fn get_attachment<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let shape = attachment_shape(op);
    if let Err(f) = cx.load().await {
        return vec![f.message()];
    }
    let mut out = Vec::new();
    for el in item_ids(op, "AttachmentIds") {
        let r = async {
            let aid = cx.ids.parse_attachment_id(el.attr("Id").unwrap_or("")).map_err(Fail::id)?;
            cx.check_mailbox(&aid.item.mailbox)?;
            let node = cx.node(&aid.item.folder).await.ok().flatten().ok_or_else(item_not_found)?;
            if node.info.as_ref().map(|i| i.uid_validity) != Some(aid.item.uid_validity) {
                return Err(item_not_found());
            }
            let name = node.name.clone().ok_or_else(item_not_found)?;
            let uid = super::drafts::locate(cx, &node, &aid.item).await?;
            if let Some(content) = streamed_attachment(cx, &name, uid, &aid).await? {
                return Ok(content);
            }
            let raw = cx.store.fetch_raw(&name, uid).await.map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?;
            let raw = raw.ok_or_else(item_not_found)?;
            let (info, bytes) = nested_attachment_bytes(&raw, &aid.path()).ok_or_else(no_attachment)?;
            // The message is no longer needed: only the attachment's bytes are kept while the answer is written.
            drop(raw);
            let embedded = if info.is_message { Message::from_mime(&bytes).ok() } else { None };
            let aid_text = cx.ids.attachment_id(&aid);
            let mut w = XmlWriter::new();
            w.start("m:Attachments", &[])
                .start(if embedded.is_some() { "t:ItemAttachment" } else { "t:FileAttachment" }, &[]);
            w.empty("t:AttachmentId", &[("Id", &aid_text)]);
            w.leaf("t:Name", &info.name);
            w.leaf("t:ContentType", &info.content_type);
            if let Some(cid) = &info.content_id {
                w.leaf("t:ContentId", cid);
            }
            w.leaf("t:Size", &bytes.len().to_string());
            match &embedded {
                Some(m) => {
                    if let Some(d) = info.message_date {
                        w.leaf("t:LastModifiedTime", &format_datetime(d.unix));
                    }
                    w.bool_leaf("t:IsInline", info.is_inline);
                    write_embedded_message(&mut w, cx, m, &bytes, &shape, &aid);
                }
                None => {
                    w.bool_leaf("t:IsInline", info.is_inline);
                    w.bool_leaf("t:IsContactPhoto", false);
                    // Base64 straight into the response buffer (room reserved once): see docs/performance.md.
                    w.reserve(base64::encoded_len(bytes.len(), true).unwrap_or(0) + 64);
                    w.start("t:Content", &[]).base64_text(&bytes).end();
                }
            }
            w.end().end();
            Ok::<_, Fail>(w.finish())
        }
        .await;
        out.push(match r {
            Ok(c) => ResponseMessage::ok(c),
            Err(f) => f.message(),
        });
    }
    if out.is_empty() {
        out.push(ResponseMessage::error("ErrorInvalidRequest", "AttachmentIds is empty."));
    }
    out
}

fn no_attachment() -> Fail {
    Fail::new("ErrorInvalidAttachmentId", "The attachment does not exist.")
}

/// The response content for a large file attachment whose `t:Content` is streamed, with a [`Deferred`] recorded
/// in the context; `None` when this attachment is not streamed (then the caller reads the whole message).
///
/// Everything that can fail as an EWS error is checked here, before any byte is sent: the part exists at the
/// attachment's index (the index → IMAP section mapping is mail-parser's, replayed over BODYSTRUCTURE by
/// [`mime_tree::attachment_sections`]), it is a file (not an attached message), and the server tells its
/// decoded size and MIME headers (so it can decode its transfer encoding). Whatever the structure cannot
/// decide (an index it does not have, an attached message that is itself encoded) falls back to the whole
/// message, which gives the authoritative answer.
async fn streamed_attachment<S: MailStore>(
    cx: &mut Ctx<S>,
    folder: &str,
    uid: u32,
    aid: &AttachmentId,
) -> Result<Option<String>, Fail> {
    let uv = aid.item.uid_validity;
    let tree = match cx.store.mime_structure(folder, uv, uid).await {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(None),
        Err(e) => return Err(Fail::from_error(&e, "ErrorItemNotFound")),
    };
    let Some((section, part)) = mime_tree::resolve(&tree, &aid.path()) else { return Ok(None) };
    if part.is_message() || part.is_multipart() || part.size < cx.store.stream_threshold() {
        return Ok(None);
    }
    let meta = match cx.store.part_meta(folder, uv, uid, &section).await {
        Ok(Some(m)) => m,
        // The server cannot decode this part (RFC 3516 UNKNOWN-CTE) or does not know it: read the whole message.
        Ok(None) | Err(_) => return Ok(None),
    };
    let index = aid.nested.last().copied().unwrap_or(aid.index) as usize;
    let Some(info) = attachment_info_from_headers(index, &meta.mime_headers, meta.size as usize) else {
        return Ok(None);
    };
    let marker = attachment_stream::new_marker(cx.deferred.len());
    let mut w = XmlWriter::new();
    w.start("m:Attachments", &[]).start("t:FileAttachment", &[]);
    w.empty("t:AttachmentId", &[("Id", &cx.ids.attachment_id(aid))]);
    w.leaf("t:Name", &info.name);
    w.leaf("t:ContentType", &info.content_type);
    if let Some(cid) = &info.content_id {
        w.leaf("t:ContentId", cid);
    }
    w.leaf("t:Size", &meta.size.to_string());
    w.bool_leaf("t:IsInline", info.is_inline);
    w.bool_leaf("t:IsContactPhoto", false);
    w.start("t:Content", &[]).raw_text(&marker).end();
    w.end().end();
    cx.deferred.push(attachment_stream::Deferred {
        marker,
        folder: folder.to_string(),
        uid_validity: uv,
        uid,
        section,
        size: meta.size,
    });
    Ok(Some(w.finish()))
}

// ------------------------------------------------------------------------------------------------ MarkAsJunk

/// MarkAsJunk (MS-OXWSCORE 3.1.4.8 in Exchange 2013+): sets the `$Junk` / `$NotJunk` keywords (the IMAP
/// convention Thunderbird and Dovecot's antispam plugins share) and, with `MoveItem`, moves the item to Junk
/// Email (or, when marked not junk, to the Inbox). Each item's response carries its `MovedItemId`.
pub async fn mark_as_junk<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let junk = op.attr("IsJunk").and_then(parse_bool).unwrap_or(true);
    let mv = op.attr("MoveItem").and_then(parse_bool).unwrap_or(true);
    if let Err(f) = cx.load().await {
        return vec![f.message()];
    }
    let target =
        cx.tree().await.ok().and_then(|t| {
            t.iter().find(|n| n.distinguished == Some(if junk { "junkemail" } else { "inbox" })).cloned()
        });
    let mut out = Vec::new();
    for el in item_ids(op, "ItemIds") {
        let r = async {
            let (id, node) = resolve_item(cx, &el).await?;
            let name = node.name.clone().ok_or_else(item_not_found)?;
            let (add, remove) = if junk { ("$Junk", "$NotJunk") } else { ("$NotJunk", "$Junk") };
            let failed = cx
                .store
                .set_flags(&name, &[id.uid], &[add.to_string()], &[remove.to_string()], None)
                .await
                .map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?;
            if !failed.is_empty() {
                return Err(item_not_found());
            }
            let mut new_id = id.clone();
            let mut new_folder = name.clone();
            if let Some(t) = target.as_ref().filter(|t| mv && t.r != node.r) {
                let tname = t.name.clone().ok_or_else(item_not_found)?;
                let (uv, map) = cx
                    .store
                    .move_messages(&name, &[id.uid], &tname)
                    .await
                    .map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?;
                if let Some((_, nu)) = map.iter().find(|(o, _)| *o == id.uid) {
                    new_id = ItemId { mailbox: cx.mailbox.clone(), folder: t.r.clone(), uid_validity: uv, uid: *nu };
                    new_folder = tname;
                }
            }
            let modseq = cx
                .store
                .summaries(&new_folder, &[new_id.uid])
                .await
                .ok()
                .and_then(|v| v.first().map(|s| s.modseq))
                .unwrap_or(0);
            let mut w = XmlWriter::new();
            w.empty("m:MovedItemId", &[("Id", &cx.ids.item_id(&new_id)), ("ChangeKey", &cx.ids.change_key(modseq))]);
            Ok::<_, Fail>(w.finish())
        }
        .await;
        out.push(match r {
            Ok(c) => ResponseMessage::ok(c),
            Err(f) => f.message(),
        });
    }
    if out.is_empty() {
        out.push(ResponseMessage::error("ErrorInvalidRequest", "ItemIds is empty."));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_to_text_strips_tags() {
        assert_eq!(html_to_text("<p>A <b>b</b> &amp; c</p><style>x{}</style>d"), "\nA b & c\nd");
        assert_eq!(strip_prefixes("Re: Fwd: hello"), "hello");
        assert!(keyword_ok("Work"));
        assert!(!keyword_ok("Red category"));
    }

    #[test]
    fn verbs_and_flags_as_mapi_properties() {
        let ids = crate::ids::IdCodec::new([1; 32]);
        let cx = Ctx::new(ids, "me@x", "Me", "Exchange2016", crate::ews::store::MemStore::default());
        let node = super::super::build_tree(Vec::new()).remove(0);
        let s = MsgSummary {
            flags: vec!["\\Seen".into(), "\\Answered".into(), "\\Flagged".into()],
            size: 42,
            has_attachments: true,
            ..Default::default()
        };
        let d = ItemData { node: &node, uid_validity: 1, summary: &s, msg: None, raw: None };
        let shape = Shape { base: crate::ews::types::BaseShape::AllProperties, ..Shape::default() };
        let props = extended_properties(&cx, &d, &shape);
        let get = |t: &str| props.iter().find(|p| p.0 == t).map(|p| p.2.clone());
        assert_eq!(get("0x0E07").as_deref(), Some("17"));
        assert_eq!(get("0x0E08").as_deref(), Some("42"));
        assert_eq!(get("0x1080").as_deref(), Some("261"));
        assert_eq!(get("0x1081").as_deref(), Some("102"));
        assert_eq!(get("0x1090").as_deref(), Some("2"));
        let xml = r#"<t:Updates xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:SetItemField><t:ExtendedFieldURI PropertyTag="0x1081" PropertyType="Integer"/><t:Message><t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x1081" PropertyType="Integer"/><t:Value>104</t:Value></t:ExtendedProperty></t:Message></t:SetItemField></t:Updates>"#;
        let ch = parse_updates(&crate::ews::xml::parse(xml.as_bytes()).unwrap()).unwrap();
        assert_eq!(ch.add, vec!["$Forwarded".to_string()]);
    }

    #[test]
    fn threads_share_a_conversation_id() {
        let root = MsgSummary { message_id: Some("<a@x>".into()), ..Default::default() };
        let reply =
            MsgSummary { in_reply_to: Some("<a@x>".into()), message_id: Some("<b@x>".into()), ..Default::default() };
        let deep = MsgSummary { references: vec!["<A@x>".into(), "<b@x>".into()], ..Default::default() };
        let other = MsgSummary { message_id: Some("<c@x>".into()), ..Default::default() };
        assert_eq!(conversation_id(&root), conversation_id(&reply));
        assert_eq!(conversation_id(&root), conversation_id(&deep));
        assert_ne!(conversation_id(&root), conversation_id(&other));
    }
}
