//! The internal mail message model (after MS-OXCMAIL: MIME ↔ message properties), MIME parsing into it
//! (mail-parser: charsets, RFC 2047 encoded words, RFC 2231 parameters) and MIME building from an outgoing
//! message (mail-builder) for sending and drafts.

use std::fmt;

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};

use crate::error::{Error, Kind, Result};

/// A point in time: seconds since the Unix epoch (UTC) and the zone offset it was written with, in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateTime {
    pub unix: i64,
    pub offset_minutes: i32,
}

impl DateTime {
    pub fn from_unix(unix: i64) -> DateTime {
        DateTime { unix, offset_minutes: 0 }
    }

    /// Now, in UTC.
    pub fn now() -> DateTime {
        let unix =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        DateTime::from_unix(unix)
    }

    fn from_parsed(d: &mail_parser::DateTime) -> Option<DateTime> {
        if !d.is_valid() {
            return None;
        }
        let offset = (i32::from(d.tz_hour) * 60 + i32::from(d.tz_minute)) * if d.tz_before_gmt { -1 } else { 1 };
        Some(DateTime { unix: d.to_timestamp(), offset_minutes: offset })
    }

    /// The UTC calendar date.
    pub fn date_utc(&self) -> Date {
        let (year, month, day) = civil_from_days(self.unix.div_euclid(86_400));
        Date { year, month, day }
    }

    /// `2024-01-31T09:05:00Z` (xs:dateTime in UTC, as EWS writes it).
    pub fn to_rfc3339_utc(&self) -> String {
        let d = self.date_utc();
        let secs = self.unix.rem_euclid(86_400);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            d.year,
            d.month,
            d.day,
            secs / 3600,
            (secs / 60) % 60,
            secs % 60
        )
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339_utc())
    }
}

/// A calendar date (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    pub fn new(year: i32, month: u32, day: u32) -> Date {
        Date { year, month, day }
    }
    /// Midnight UTC of this date.
    pub fn to_datetime(&self) -> DateTime {
        DateTime::from_unix(days_from_civil(self.year, self.month, self.day) * 86_400)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    ((y + i64::from(m <= 2)) as i32, m, d)
}

/// A mailbox in an address header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recipient {
    /// Display name, decoded; `None` when the header has only the address.
    pub name: Option<String>,
    pub address: String,
}

impl Recipient {
    pub fn new(name: Option<&str>, address: &str) -> Recipient {
        Recipient { name: name.map(str::to_string), address: address.to_string() }
    }
}

/// Every mailbox of an address header, groups flattened.
pub fn recipients(addr: Option<&Address<'_>>) -> Vec<Recipient> {
    let Some(addr) = addr else { return Vec::new() };
    addr.iter()
        .filter_map(|a| {
            let address = a.address()?.trim();
            let name = a.name().map(str::trim).filter(|n| !n.is_empty() && *n != address);
            Some(Recipient { name: name.map(str::to_string), address: address.to_string() })
        })
        .collect()
}

/// PidTagImportance (MS-OXCMAIL 2.2.3.2.5): from `Importance`, else `X-Priority`, else `Priority`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Importance {
    Low,
    #[default]
    Normal,
    High,
}

impl Importance {
    /// Maps the header values (any may be absent).
    pub fn from_headers(importance: Option<&str>, x_priority: Option<&str>, priority: Option<&str>) -> Importance {
        if let Some(v) = importance {
            match v.trim().to_ascii_lowercase().as_str() {
                "high" => return Importance::High,
                "low" => return Importance::Low,
                "normal" => return Importance::Normal,
                _ => {}
            }
        }
        if let Some(v) = x_priority {
            // "1 (Highest)", "2 (High)", "3 (Normal)", "4 (Low)", "5 (Lowest)".
            match v.trim().chars().next() {
                Some('1') | Some('2') => return Importance::High,
                Some('4') | Some('5') => return Importance::Low,
                Some('3') => return Importance::Normal,
                _ => {}
            }
        }
        if let Some(v) = priority {
            match v.trim().to_ascii_lowercase().as_str() {
                "urgent" => return Importance::High,
                "non-urgent" => return Importance::Low,
                _ => {}
            }
        }
        Importance::Normal
    }
}

/// An attachment of a parsed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentInfo {
    /// Position among the message's attachments (stable for the same MIME bytes): the key for
    /// [`attachment_bytes`].
    pub index: usize,
    /// File name (RFC 2231 / RFC 2047 decoded), or a name made up from the type when the part has none.
    pub name: String,
    /// `type/subtype`, lower-cased.
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: usize,
    /// Content-ID without angle brackets.
    pub content_id: Option<String>,
    /// Shown inside the body (an image referenced by `cid:` from the HTML body).
    pub is_inline: bool,
    /// The attachment is a message/rfc822 (an attached e-mail).
    pub is_message: bool,
    /// For an attached message, its Date header.
    pub message_date: Option<DateTime>,
}

/// A message as the front-ends see it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    pub subject: Option<String>,
    pub from: Option<Recipient>,
    pub sender: Option<Recipient>,
    pub to: Vec<Recipient>,
    pub cc: Vec<Recipient>,
    pub bcc: Vec<Recipient>,
    pub reply_to: Vec<Recipient>,
    /// The Date header.
    pub date_sent: Option<DateTime>,
    /// IMAP INTERNALDATE when known (set by the store), else the newest Received header's date.
    pub date_received: Option<DateTime>,
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub importance: Importance,
    pub is_read: bool,
    pub is_flagged: bool,
    pub is_draft: bool,
    pub is_answered: bool,
    /// IMAP keywords that are not system flags (Outlook categories).
    pub categories: Vec<String>,
    pub body_text: Option<String>,
    pub body_html: Option<String>,
    pub attachments: Vec<AttachmentInfo>,
    /// Every header as (name, unfolded raw value), in order.
    pub headers: Vec<(String, String)>,
    /// Size of the MIME message in bytes.
    pub size: usize,
}

/// The largest message [`Message::from_mime`] parses.
pub const MAX_MIME_SIZE: usize = 150 * 1024 * 1024;

fn parse(raw: &[u8]) -> Result<mail_parser::Message<'_>> {
    if raw.len() > MAX_MIME_SIZE {
        return Err(Error::client(Kind::TooLarge, format!("message of {} bytes is too large", raw.len())));
    }
    MessageParser::default().parse(raw).ok_or_else(|| Error::client(Kind::Malformed, "not a MIME message"))
}

fn first_id(value: &HeaderValue<'_>) -> Option<String> {
    match value {
        HeaderValue::Text(t) => Some(t.trim().to_string()),
        HeaderValue::TextList(l) => l.first().map(|t| t.trim().to_string()),
        _ => None,
    }
    .filter(|s| !s.is_empty())
}

fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => vec![t.trim().to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.trim().to_string()).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect()
}

fn header_text<'a>(msg: &'a mail_parser::Message<'a>, name: &'a str) -> Option<&'a str> {
    msg.header_raw(name).map(str::trim)
}

fn unfold(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for (i, line) in raw.split('\n').enumerate() {
        let line = line.trim_end_matches('\r');
        if i > 0 && !line.is_empty() {
            out.push(' ');
        }
        out.push_str(line.trim_start_matches([' ', '\t']).trim_end());
    }
    out.trim().to_string()
}

fn mime_type(part: &mail_parser::MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None => match &part.body {
            PartType::Text(_) => "text/plain".into(),
            PartType::Html(_) => "text/html".into(),
            PartType::Message(_) => "message/rfc822".into(),
            _ => "application/octet-stream".into(),
        },
    }
}

/// RFC 2231 parameter continuations whose charset is named only in the first segment
/// (`filename*0*=iso-8859-1''Pr%FCf; filename*1*=%E4rz.pdf`): mail-parser decodes each segment on its own, so
/// this re-reads the raw header when its result has replacement characters.
fn rfc2231_name(raw: &[u8], part: &mail_parser::MessagePart<'_>) -> Option<String> {
    for param in ["filename", "name"] {
        for h in part.headers.iter() {
            let hn = h.name().to_ascii_lowercase();
            if hn != "content-disposition" && hn != "content-type" {
                continue;
            }
            let value = raw.get(h.offset_start() as usize..h.offset_end() as usize)?;
            let value = String::from_utf8_lossy(value);
            let mut segments: Vec<(u32, bool, String)> = Vec::new();
            for piece in value.split(';').skip(1) {
                let Some((k, v)) = piece.split_once('=') else { continue };
                let k = k.trim().to_ascii_lowercase();
                let Some(rest) = k.strip_prefix(param).and_then(|r| r.strip_prefix('*')) else { continue };
                let (num, encoded) = match rest.strip_suffix('*') {
                    Some(n) => (n, true),
                    None => (rest, rest.is_empty()),
                };
                let n: u32 = if num.is_empty() { 0 } else { num.parse().ok()? };
                segments.push((n, encoded, v.trim().trim_matches('"').to_string()));
            }
            if segments.is_empty() {
                continue;
            }
            segments.sort_by_key(|s| s.0);
            let mut charset = String::new();
            let mut bytes = Vec::new();
            for (i, (_, encoded, v)) in segments.iter().enumerate() {
                let mut v = v.as_str();
                if i == 0 && *encoded {
                    let mut it = v.splitn(3, '\'');
                    let (c, _lang, rest) = (it.next()?, it.next()?, it.next()?);
                    charset = c.to_string();
                    v = rest;
                }
                if *encoded {
                    let b = v.as_bytes();
                    let mut j = 0;
                    while j < b.len() {
                        if b[j] == b'%'
                            && j + 2 < b.len()
                            && let Ok(x) = u8::from_str_radix(std::str::from_utf8(&b[j + 1..j + 3]).ok()?, 16)
                        {
                            bytes.push(x);
                            j += 3;
                            continue;
                        }
                        bytes.push(b[j]);
                        j += 1;
                    }
                } else {
                    bytes.extend_from_slice(v.as_bytes());
                }
            }
            let decoded = mail_parser::decoders::charsets::map::charset_decoder(charset.as_bytes())
                .map(|f| f(&bytes))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            return Some(decoded);
        }
    }
    None
}

fn attachment_info(index: usize, raw: &[u8], part: &mail_parser::MessagePart<'_>) -> AttachmentInfo {
    let content_type = mime_type(part);
    let is_message = matches!(part.body, PartType::Message(_));
    let parsed_name = match part.attachment_name() {
        Some(n) if n.contains('\u{fffd}') => rfc2231_name(raw, part).or_else(|| Some(n.to_string())),
        other => other.map(str::to_string),
    };
    let name = parsed_name.unwrap_or_else(|| {
        // An attached message is named after its subject, as Exchange names item attachments.
        if let PartType::Message(m) = &part.body {
            return match m.subject().map(str::trim).filter(|s| !s.is_empty()) {
                Some(s) => s.to_string(),
                None => format!("message-{}", index + 1),
            };
        }
        let ext = content_type.split('/').nth(1).unwrap_or("bin");
        format!("attachment-{}.{ext}", index + 1)
    });
    let content_id = part.content_id().map(|c| c.trim().trim_start_matches('<').trim_end_matches('>').to_string());
    // Inline means "shown in the body": referenced by cid from the HTML, not explicitly an attachment.
    let disposition_attachment = part.content_disposition().is_some_and(|d| d.is_attachment());
    let is_inline = !disposition_attachment && content_id.is_some();
    let size = match &part.body {
        PartType::Text(_) | PartType::Html(_) => {
            original_bytes(raw, part).map(|b| b.len()).unwrap_or(part.contents().len())
        }
        _ => part.contents().len(),
    };
    let message_date = match &part.body {
        PartType::Message(m) => m.date().and_then(DateTime::from_parsed),
        _ => None,
    };
    AttachmentInfo { index, name, content_type, size, content_id, is_inline, is_message, message_date }
}

impl Message {
    /// Parses a MIME message (RFC 5322 + MIME). Flags are not in the MIME: see [`Message::apply_flags`].
    pub fn from_mime(raw: &[u8]) -> Result<Message> {
        let msg = parse(raw)?;
        let importance = Importance::from_headers(
            header_text(&msg, "Importance"),
            header_text(&msg, "X-Priority"),
            header_text(&msg, "Priority"),
        );
        let body_text = msg.body_text(0).map(|c| c.into_owned());
        let body_html = if msg
            .html_body
            .iter()
            .any(|&id| matches!(msg.parts.get(id as usize).map(|p| &p.body), Some(PartType::Html(_))))
        {
            msg.body_html(0).map(|c| c.into_owned())
        } else {
            None
        };
        let attachments = msg
            .attachments
            .iter()
            .enumerate()
            .filter_map(|(i, &id)| msg.parts.get(id as usize).map(|p| attachment_info(i, raw, p)))
            .collect();
        let date_received = msg.received().and_then(|r| r.date()).and_then(|d| DateTime::from_parsed(&d));
        Ok(Message {
            subject: msg.subject().map(str::to_string),
            from: recipients(msg.from()).into_iter().next(),
            sender: recipients(msg.sender()).into_iter().next(),
            to: recipients(msg.to()),
            cc: recipients(msg.cc()),
            bcc: recipients(msg.bcc()),
            reply_to: recipients(msg.reply_to()),
            date_sent: msg.date().and_then(DateTime::from_parsed),
            date_received,
            message_id: msg.message_id().map(str::to_string),
            in_reply_to: first_id(msg.in_reply_to()),
            references: id_list(msg.references()),
            importance,
            is_read: false,
            is_flagged: false,
            is_draft: false,
            is_answered: false,
            categories: Vec::new(),
            body_text,
            body_html,
            attachments,
            headers: msg.headers_raw().map(|(n, v)| (n.to_string(), unfold(v))).collect(),
            size: raw.len(),
        })
    }

    /// Sets the read/flagged/draft/answered state and the categories from IMAP flags.
    pub fn apply_flags(&mut self, flags: &[String]) {
        let has = |f: &str| flags.iter().any(|x| x.eq_ignore_ascii_case(f));
        self.is_read = has("\\Seen");
        self.is_flagged = has("\\Flagged");
        self.is_draft = has("\\Draft");
        self.is_answered = has("\\Answered");
        self.categories = categories_from_flags(flags);
    }
}

/// IMAP keywords that are categories: every flag that is not a system flag (`\...`) nor a well-known
/// client keyword (`$Forwarded`, `$MDNSent`, `$Junk`, ...).
pub fn categories_from_flags(flags: &[String]) -> Vec<String> {
    const HIDDEN: &[&str] = &[
        "$forwarded",
        "$mdnsent",
        "$junk",
        "$notjunk",
        "$phishing",
        "junk",
        "nonjunk",
        "$submitpending",
        "$submitted",
        "$hasattachment",
        "$hasnoattachment",
    ];
    flags
        .iter()
        .filter(|f| !f.starts_with('\\') && !HIDDEN.contains(&f.to_ascii_lowercase().as_str()))
        .cloned()
        .collect()
}

/// The bytes of a part as sent, with only the transfer encoding undone (a text attachment keeps its charset:
/// it is a file, not text to display).
fn original_bytes(raw: &[u8], part: &mail_parser::MessagePart<'_>) -> Option<Vec<u8>> {
    use mail_parser::decoders::{base64::base64_decode, quoted_printable::quoted_printable_decode};
    let body = raw.get(part.offset_body as usize..part.offset_end as usize)?;
    match part.encoding {
        mail_parser::Encoding::Base64 => base64_decode(body),
        mail_parser::Encoding::QuotedPrintable => quoted_printable_decode(body),
        // The part ends before the CRLF that belongs to the next boundary (RFC 2046 5.1.1).
        mail_parser::Encoding::None => Some(body.to_vec()),
    }
}

/// The content of a part, taken out of the parsed message: decoded binary content (already a buffer of its
/// own after base64 or quoted-printable decoding) is moved, not copied, so a large attachment exists once.
fn part_bytes(raw: &[u8], part: mail_parser::MessagePart<'_>) -> Vec<u8> {
    if matches!(part.body, PartType::Text(_) | PartType::Html(_)) {
        return original_bytes(raw, &part).unwrap_or_else(|| part.contents().to_vec());
    }
    match part.body {
        // A nested message's buffer is the whole outer message: its own bytes are a slice of it.
        PartType::Message(m) => m.raw_message().to_vec(),
        PartType::Binary(b) | PartType::InlineBinary(b) => b.into_owned(),
        PartType::Text(t) | PartType::Html(t) => t.into_owned().into_bytes(),
        PartType::Multipart(_) => Vec::new(),
    }
}

/// The content of a leaf part with its transfer encoding undone (a text part keeps its charset; an attached
/// message is its MIME bytes): what IMAP's `BINARY[section]` returns. `raw` is the buffer the part's offsets
/// point into.
pub(crate) fn decoded_part(raw: &[u8], part: &mail_parser::MessagePart<'_>) -> Option<Vec<u8>> {
    match &part.body {
        PartType::Text(_) | PartType::Html(_) => original_bytes(raw, part),
        PartType::Message(m) => Some(m.raw_message().to_vec()),
        PartType::Binary(b) | PartType::InlineBinary(b) => Some(b.to_vec()),
        PartType::Multipart(_) => None,
    }
}

/// The attachment at `index` (as in [`Message::attachments`]) with its decoded content. For an attached
/// message (message/rfc822) the content is the message's MIME bytes; a text attachment keeps its charset.
pub fn attachment_bytes(raw: &[u8], index: usize) -> Option<(AttachmentInfo, Vec<u8>)> {
    let mut msg = parse(raw).ok()?;
    let id = *msg.attachments.get(index)? as usize;
    let part = msg.parts.get(id)?;
    let mut info = attachment_info(index, raw, part);
    let part = msg.parts.swap_remove(id);
    drop(msg);
    let bytes = part_bytes(raw, part);
    info.size = bytes.len();
    Some((info, bytes))
}

/// The attachment at `path` (an index among the message's attachments, then among the attachments of that
/// attached message, ...), as [`attachment_bytes`] for each step: the ids of attachments inside attached
/// messages are these paths. `None` when an index does not exist or a non-last step is not an attached message.
pub fn nested_attachment_bytes(raw: &[u8], path: &[u32]) -> Option<(AttachmentInfo, Vec<u8>)> {
    let (first, rest) = path.split_first()?;
    let mut found = attachment_bytes(raw, *first as usize)?;
    for idx in rest {
        if !found.0.is_message {
            return None;
        }
        found = attachment_bytes(&found.1, *idx as usize)?;
    }
    Some(found)
}

/// The metadata of the attachment at `index` from its part's MIME header block alone (IMAP `BODY[section.MIME]`)
/// and its decoded size: the same name (RFC 2231/2047 decoded, or made up from the index), type, Content-ID and
/// inline flag [`Message::from_mime`] gives it when it parses the whole message. `None` when it does not parse.
pub fn attachment_info_from_headers(index: usize, headers: &[u8], size: usize) -> Option<AttachmentInfo> {
    let msg = parse(headers).ok()?;
    let part = msg.parts.first()?;
    let mut info = attachment_info(index, headers, part);
    info.size = size;
    Some(info)
}

/// Whether a content type is an attached message (RFC 2046 5.2.1 message/rfc822).
pub fn is_message_type(content_type: &str) -> bool {
    content_type.trim().eq_ignore_ascii_case("message/rfc822")
}

/// An attachment to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingAttachment {
    pub name: String,
    /// `type/subtype`; `message/rfc822` attaches `data` as an embedded message (written unencoded, RFC 2046
    /// 5.2.1), anything else as a base64 file.
    pub content_type: String,
    pub data: Vec<u8>,
    /// Set for an inline attachment referenced by `cid:` from the HTML body.
    pub content_id: Option<String>,
}

/// A message to send or to save as a draft.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutgoingMessage {
    pub from: Recipient,
    pub sender: Option<Recipient>,
    pub to: Vec<Recipient>,
    pub cc: Vec<Recipient>,
    /// Used for the SMTP envelope only, never written into the headers.
    pub bcc: Vec<Recipient>,
    pub reply_to: Vec<Recipient>,
    pub subject: String,
    /// Defaults to now.
    pub date: Option<DateTime>,
    /// Without angle brackets; generated when absent (`<uuid@domain of from>`).
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub importance: Importance,
    pub body_text: Option<String>,
    pub body_html: Option<String>,
    pub attachments: Vec<OutgoingAttachment>,
    /// Extra headers (name, value); names with CR/LF/colon and values with CR/LF are dropped.
    pub extra_headers: Vec<(String, String)>,
}

impl OutgoingMessage {
    /// Every envelope recipient: To, Cc and Bcc addresses, deduplicated (case-insensitively), in order.
    pub fn envelope_recipients(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in self.to.iter().chain(&self.cc).chain(&self.bcc) {
            let a = r.address.trim();
            if !a.is_empty() && !out.iter().any(|x| x.eq_ignore_ascii_case(a)) {
                out.push(a.to_string());
            }
        }
        out
    }
}

fn builder_address(r: &Recipient) -> mail_builder::headers::address::Address<'static> {
    mail_builder::headers::address::Address::new_address(r.name.clone().filter(|n| !n.is_empty()), clean(&r.address))
}

fn builder_list(rs: &[Recipient]) -> mail_builder::headers::address::Address<'static> {
    mail_builder::headers::address::Address::new_list(rs.iter().map(builder_address).collect())
}

/// Removes CR, LF and NUL: header text must not break the header block.
fn clean(s: &str) -> String {
    s.chars().filter(|c| !matches!(c, '\r' | '\n' | '\0')).collect()
}

fn strip_id(s: &str) -> String {
    clean(s.trim().trim_start_matches('<').trim_end_matches('>'))
}

/// Builds the MIME message (RFC 5322; text and/or HTML, attachments, inline parts). Bcc is not written.
pub fn build_mime(msg: &OutgoingMessage) -> Vec<u8> {
    use mail_builder::MessageBuilder;
    use mail_builder::headers::message_id::MessageId;
    use mail_builder::headers::raw::Raw;

    let mut b = MessageBuilder::new().from(builder_address(&msg.from));
    if let Some(s) = &msg.sender {
        b = b.sender(builder_address(s));
    }
    if !msg.to.is_empty() {
        b = b.to(builder_list(&msg.to));
    }
    if !msg.cc.is_empty() {
        b = b.cc(builder_list(&msg.cc));
    }
    if !msg.reply_to.is_empty() {
        b = b.reply_to(builder_list(&msg.reply_to));
    }
    b = b.subject(clean(&msg.subject));
    b = b.date(msg.date.unwrap_or_else(DateTime::now).unix);
    let message_id = msg.message_id.as_deref().map(strip_id).filter(|s| !s.is_empty()).unwrap_or_else(|| {
        let domain = msg.from.address.rsplit_once('@').map(|(_, d)| d).unwrap_or("viaduc.invalid");
        format!("{}@{}", uuid::Uuid::new_v4().simple(), clean(domain))
    });
    b = b.message_id(MessageId::new(message_id));
    if let Some(irt) = &msg.in_reply_to {
        b = b.in_reply_to(MessageId::new(strip_id(irt)));
    }
    if !msg.references.is_empty() {
        b = b.references(MessageId::new_list(msg.references.iter().map(|r| strip_id(r))));
    }
    match msg.importance {
        Importance::High => {
            b = b.header("Importance", Raw::new("high")).header("X-Priority", Raw::new("1"));
        }
        Importance::Low => {
            b = b.header("Importance", Raw::new("low")).header("X-Priority", Raw::new("5"));
        }
        Importance::Normal => {}
    }
    for (name, value) in &msg.extra_headers {
        let bad_name = name.is_empty() || name.chars().any(|c| !c.is_ascii_graphic() || c == ':');
        let reserved = ["bcc", "from", "to", "cc", "subject", "date", "message-id", "mime-version", "content-type"]
            .contains(&name.to_ascii_lowercase().as_str());
        if bad_name || reserved || value.contains(['\r', '\n']) {
            continue;
        }
        b = b.header(name.clone(), mail_builder::headers::text::Text::new(value.clone()));
    }
    if msg.attachments.iter().any(|a| is_message_type(&a.content_type)) {
        // The builder base64-encodes every attachment, which RFC 2046 5.2.1 forbids for message/rfc822: build
        // the same structure (multipart/mixed of the body and the attachments) with the messages unencoded.
        b = b.body(mime_body(msg));
    } else {
        if let Some(t) = &msg.body_text {
            b = b.text_body(t.clone());
        }
        if let Some(h) = &msg.body_html {
            b = b.html_body(h.clone());
        }
        if msg.body_text.is_none() && msg.body_html.is_none() {
            b = b.text_body(String::new());
        }
        for a in &msg.attachments {
            let ct =
                if a.content_type.contains('/') { clean(&a.content_type) } else { "application/octet-stream".into() };
            b = match &a.content_id {
                Some(cid) => b.inline(ct, strip_id(cid), a.data.clone()),
                None => b.attachment(ct, clean(&a.name), a.data.clone()),
            };
        }
    }
    b.write_to_vec().unwrap_or_default()
}

/// The body of a message with attachments as one multipart/mixed part: the text and/or HTML body (in a
/// multipart/alternative when both), then each attachment; message/rfc822 attachments are written as they
/// are, with a `7bit` or `8bit` Content-Transfer-Encoding (RFC 2046 5.2.1 allows no other).
fn mime_body(msg: &OutgoingMessage) -> mail_builder::mime::MimePart<'static> {
    use mail_builder::mime::{BodyPart, MimePart};
    let text = msg.body_text.clone().map(|t| MimePart::new("text/plain", BodyPart::Text(t.into())));
    let html = msg.body_html.clone().map(|h| MimePart::new("text/html", BodyPart::Text(h.into())));
    let mut parts = Vec::with_capacity(msg.attachments.len() + 1);
    match (text, html) {
        (Some(t), Some(h)) => parts.push(MimePart::new("multipart/alternative", vec![t, h])),
        (Some(p), None) | (None, Some(p)) => parts.push(p),
        (None, None) => parts.push(MimePart::new("text/plain", BodyPart::Text(String::new().into()))),
    }
    for a in &msg.attachments {
        let ct = if a.content_type.contains('/') { clean(&a.content_type) } else { "application/octet-stream".into() };
        let part = if is_message_type(&a.content_type) {
            let seven_bit = a.data.is_ascii() && a.data.split(|b| *b == b'\n').all(|l| l.len() <= 998);
            MimePart::new("message/rfc822", BodyPart::Binary(a.data.clone().into()))
                .attachment(clean(&a.name))
                .transfer_encoding(if seven_bit { "7bit" } else { "8bit" })
        } else {
            match &a.content_id {
                Some(cid) => MimePart::new(ct, BodyPart::Binary(a.data.clone().into())).inline().cid(strip_id(cid)),
                None => MimePart::new(ct, BodyPart::Binary(a.data.clone().into())).attachment(clean(&a.name)),
            }
        };
        parts.push(part);
    }
    MimePart::new("multipart/mixed", parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/protocol-fixtures/mime/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn alternative_with_attachment() {
        let raw = fixture("alternative-attachment.eml");
        let m = Message::from_mime(&raw).unwrap();
        assert_eq!(m.subject.as_deref(), Some("Quarterly report"));
        assert_eq!(m.from, Some(Recipient::new(Some("Bob Example"), "bob@example.test")));
        assert_eq!(m.to, vec![Recipient::new(Some("Alice"), "alice@example.test")]);
        assert_eq!(m.cc, vec![Recipient::new(None, "carol@example.test")]);
        assert_eq!(m.message_id.as_deref(), Some("report-1@example.test"));
        assert_eq!(m.in_reply_to.as_deref(), Some("plan-7@example.test"));
        assert_eq!(m.references, vec!["plan-6@example.test".to_string(), "plan-7@example.test".to_string()]);
        assert_eq!(m.importance, Importance::High);
        assert!(m.body_text.as_deref().unwrap().contains("Please find the report attached."));
        assert!(m.body_html.as_deref().unwrap().contains("<b>report</b>"));
        assert_eq!(m.attachments.len(), 1);
        let a = &m.attachments[0];
        assert_eq!(a.name, "report.csv");
        assert_eq!(a.content_type, "text/csv");
        assert!(!a.is_inline);
        let (info, bytes) = attachment_bytes(&raw, 0).unwrap();
        assert_eq!(info, *a);
        assert_eq!(bytes, b"quarter,revenue\nQ1,100\nQ2,120\n");
        assert_eq!(a.size, bytes.len());
        assert!(attachment_bytes(&raw, 1).is_none());
        let date = m.date_sent.unwrap();
        assert_eq!(date.to_rfc3339_utc(), "2024-03-05T08:30:00Z");
        assert_eq!(date.offset_minutes, 60);
        assert!(m.headers.iter().any(|(n, v)| n == "X-Mailer" && v == "Fixture Mailer 1.0"));
    }

    #[test]
    fn rfc2047_subject_and_names() {
        let raw = fixture("rfc2047-subject.eml");
        let m = Message::from_mime(&raw).unwrap();
        assert_eq!(m.subject.as_deref(), Some("Grüße aus Köln – 日本語"));
        assert_eq!(m.from.as_ref().unwrap().name.as_deref(), Some("Jürgen Müller"));
        assert_eq!(m.body_text.as_deref().map(str::trim), Some("Hallo!"));
        assert_eq!(m.importance, Importance::Low);
    }

    #[test]
    fn latin1_body_and_rfc2231_filename() {
        let raw = fixture("latin1-body.eml");
        let m = Message::from_mime(&raw).unwrap();
        assert!(m.body_text.as_deref().unwrap().contains("Déjà vu, señor! Ça coûte 5 €"), "{:?}", m.body_text);
        assert_eq!(m.attachments.len(), 2);
        assert_eq!(m.attachments[0].name, "Prüfbericht März.pdf");
        assert_eq!(m.attachments[0].content_type, "application/pdf");
        assert_eq!(attachment_bytes(&raw, 0).unwrap().1, b"%PDF-1.4 fake\n");
        let img = &m.attachments[1];
        assert!(img.is_inline);
        assert_eq!(img.content_id.as_deref(), Some("logo@example.test"));
    }

    #[test]
    fn text_attachments_keep_their_bytes() {
        let raw = fixture("text-attachments.eml");
        let m = Message::from_mime(&raw).unwrap();
        assert_eq!(m.body_text.as_deref().map(str::trim), Some("Body."));
        let names: Vec<&str> = m.attachments.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["menu.txt", "prices.csv", "plain.txt"]);
        let expect: [&[u8]; 3] = [b"caf\xe9;cr\xe8me\r\n", b"caf\xe9;1\r\nth\xe9;20", b"line 1\r\nline 2\r\n"];
        for (i, want) in expect.iter().enumerate() {
            let (info, bytes) = attachment_bytes(&raw, i).unwrap();
            assert_eq!(bytes, *want, "{}", info.name);
            assert_eq!(info.size, want.len());
            assert_eq!(m.attachments[i].size, want.len());
        }
    }

    #[test]
    fn attached_message_fixture() {
        let raw = fixture("attached-message.eml");
        let m = Message::from_mime(&raw).unwrap();
        assert_eq!(m.body_text.as_deref().map(str::trim), Some("See the attached message."));
        assert_eq!(m.attachments.len(), 2);
        let a = &m.attachments[0];
        assert!(a.is_message && !a.is_inline);
        assert_eq!(a.name, "Original plan", "named after the inner subject");
        assert_eq!(a.content_type, "message/rfc822");
        assert_eq!(a.message_date.map(|d| d.to_rfc3339_utc()).as_deref(), Some("2023-11-15T07:30:00Z"));
        assert!(!m.attachments[1].is_message);
        assert_eq!(m.attachments[1].message_date, None);
        let (info, bytes) = attachment_bytes(&raw, 0).unwrap();
        assert_eq!(info.size, bytes.len());
        assert_eq!(a.size, bytes.len());
        let inner = Message::from_mime(&bytes).unwrap();
        assert_eq!(inner.subject.as_deref(), Some("Original plan"));
        assert_eq!(inner.from, Some(Recipient::new(Some("Erin Example"), "erin@example.test")));
        assert_eq!(inner.to.len(), 2);
        assert!(inner.body_html.as_deref().unwrap().contains("<blockquote>"));
        let names: Vec<&str> = inner.attachments.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["notes.txt", "Nested note"]);
        assert!(inner.attachments[1].is_message);
        assert_eq!(attachment_bytes(&raw, 1).unwrap().1, [0u8, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn embedded_messages_are_written_unencoded() {
        let inner = build_mime(&OutgoingMessage {
            from: Recipient::new(None, "a@example.test"),
            subject: "Inner".into(),
            body_text: Some("inner body".into()),
            ..Default::default()
        });
        let outer = OutgoingMessage {
            from: Recipient::new(None, "a@example.test"),
            subject: "Outer".into(),
            body_text: Some("text".into()),
            body_html: Some("<p>html</p>".into()),
            attachments: vec![
                OutgoingAttachment {
                    name: "Inner".into(),
                    content_type: "message/rfc822".into(),
                    data: inner.clone(),
                    content_id: None,
                },
                OutgoingAttachment {
                    name: "f.bin".into(),
                    content_type: "application/octet-stream".into(),
                    data: vec![0, 255],
                    content_id: None,
                },
                OutgoingAttachment {
                    name: "i.png".into(),
                    content_type: "image/png".into(),
                    data: vec![1],
                    content_id: Some("i@x".into()),
                },
            ],
            ..Default::default()
        };
        let raw = build_mime(&outer);
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("Content-Transfer-Encoding: 7bit"), "{text}");
        assert!(text.contains("Subject: Inner"), "the embedded message is readable as is:\n{text}");
        let m = Message::from_mime(&raw).unwrap();
        assert_eq!(m.body_text.as_deref(), Some("text"));
        assert!(m.body_html.as_deref().unwrap().contains("html"));
        assert_eq!(m.attachments.len(), 3);
        assert!(m.attachments[0].is_message);
        assert_eq!(m.attachments[0].name, "Inner");
        assert_eq!(attachment_bytes(&raw, 0).unwrap().1, inner);
        assert_eq!(attachment_bytes(&raw, 1).unwrap().1, vec![0, 255]);
        assert!(m.attachments[2].is_inline);
        // 8-bit content gets an 8bit encoding.
        let eight = OutgoingMessage {
            attachments: vec![OutgoingAttachment {
                name: "m".into(),
                content_type: "message/rfc822".into(),
                data: "Subject: ü\r\n\r\nü\r\n".as_bytes().to_vec(),
                content_id: None,
            }],
            ..Default::default()
        };
        let raw = build_mime(&eight);
        assert!(String::from_utf8_lossy(&raw).contains("Content-Transfer-Encoding: 8bit"));
        let m = Message::from_mime(&raw).unwrap();
        assert!(m.attachments[0].is_message);
    }

    #[test]
    fn flags_map_to_state_and_categories() {
        let mut m = Message::default();
        let flags: Vec<String> =
            ["\\Seen", "\\Flagged", "$Forwarded", "Project-X", "$label1"].map(String::from).to_vec();
        m.apply_flags(&flags);
        assert!(m.is_read && m.is_flagged && !m.is_draft);
        assert_eq!(m.categories, vec!["Project-X".to_string(), "$label1".to_string()]);
    }

    #[test]
    fn build_and_parse_back() {
        let out = OutgoingMessage {
            from: Recipient::new(Some("Alice Ä"), "alice@example.test"),
            to: vec![Recipient::new(Some("Bob"), "bob@example.test")],
            cc: vec![Recipient::new(None, "carol@example.test")],
            bcc: vec![Recipient::new(None, "secret@example.test")],
            subject: "Grüße\r\nBcc: injected@example.test".into(),
            date: Some(DateTime::from_unix(1_700_000_000)),
            message_id: Some("<fixed@example.test>".into()),
            in_reply_to: Some("<orig@example.test>".into()),
            references: vec!["<root@example.test>".into(), "orig@example.test".into()],
            importance: Importance::High,
            body_text: Some("Plain text ünïcode".into()),
            body_html: Some("<p>HTML <img src=\"cid:img1@x\"></p>".into()),
            attachments: vec![
                OutgoingAttachment {
                    name: "data.bin".into(),
                    content_type: "application/octet-stream".into(),
                    data: (0u8..=255).collect(),
                    content_id: None,
                },
                OutgoingAttachment {
                    name: "i.png".into(),
                    content_type: "image/png".into(),
                    data: vec![0x89, b'P', b'N', b'G'],
                    content_id: Some("img1@x".into()),
                },
            ],
            ..Default::default()
        };
        let raw = build_mime(&out);
        let text = String::from_utf8_lossy(&raw);
        assert!(!text.to_ascii_lowercase().contains("secret@example.test"), "Bcc leaked:\n{text}");
        assert!(!text.lines().any(|l| l.to_ascii_lowercase().starts_with("bcc:")));
        let m = Message::from_mime(&raw).unwrap();
        assert_eq!(m.subject.as_deref(), Some("GrüßeBcc: injected@example.test"));
        assert_eq!(m.from.as_ref().unwrap().name.as_deref(), Some("Alice Ä"));
        assert_eq!(m.to[0].address, "bob@example.test");
        assert_eq!(m.cc[0].address, "carol@example.test");
        assert!(m.bcc.is_empty());
        assert_eq!(m.message_id.as_deref(), Some("fixed@example.test"));
        assert_eq!(m.in_reply_to.as_deref(), Some("orig@example.test"));
        assert_eq!(m.references, vec!["root@example.test".to_string(), "orig@example.test".to_string()]);
        assert_eq!(m.importance, Importance::High);
        assert_eq!(m.date_sent.unwrap().unix, 1_700_000_000);
        assert_eq!(m.body_text.as_deref(), Some("Plain text ünïcode"));
        assert!(m.body_html.as_deref().unwrap().contains("cid:img1@x"));
        let bin = m.attachments.iter().find(|a| a.name == "data.bin").unwrap();
        assert_eq!(attachment_bytes(&raw, bin.index).unwrap().1, (0u8..=255).collect::<Vec<_>>());
        let img = m.attachments.iter().find(|a| a.content_id.as_deref() == Some("img1@x")).unwrap();
        assert!(img.is_inline);
        assert_eq!(out.envelope_recipients(), vec!["bob@example.test", "carol@example.test", "secret@example.test"]);
    }

    #[test]
    fn dates() {
        assert_eq!(DateTime::from_unix(0).to_rfc3339_utc(), "1970-01-01T00:00:00Z");
        assert_eq!(Date::new(2024, 2, 29).to_datetime().date_utc(), Date::new(2024, 2, 29));
        assert_eq!(DateTime::from_unix(-1).to_rfc3339_utc(), "1969-12-31T23:59:59Z");
    }
}
