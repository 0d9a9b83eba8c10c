//! The MIME structure of a message without its content, and which of its parts are *attachments* and where
//! they are in IMAP's part numbering (RFC 3501 6.4.5 section specs: `1`, `2.1`, `3.2.1`, ...).
//!
//! What it is for: GetAttachment of a large file attachment streams the part from IMAP
//! (`BINARY.PEEK[section]<offset.length>`, RFC 3516) instead of fetching and parsing the whole message. The
//! client names the attachment by its *index* among the message's attachments, and those indexes were handed
//! out by [`crate::model::message::Message::from_mime`], i.e. in the order mail-parser lists attachments. So
//! [`attachment_sections`] replays mail-parser's classification (mail-parser 0.11 `parsers/message.rs`: which
//! parts become body parts and which attachments, depending on the part's type, disposition, `name`
//! parameter, its position and the enclosing multipart's subtype) over a [`MimeNode`] tree, which the IMAP
//! back-end builds from `BODYSTRUCTURE` (`backend::imap::bodystructure`) and tests build from mail-parser's own
//! parse ([`from_mime`]). The tests prove both give the same sections for the same message, for nested
//! multiparts and attached messages (`backend::imap::bodystructure` tests, with BODYSTRUCTUREs recorded from
//! Dovecot).
//!
//! Everything here is a pure function.

use mail_parser::{MessageParser, MimeHeaders, PartType};

/// Transfer encoding of a part (RFC 2045 6.1), as far as the classification and IMAP care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// 7bit, 8bit, binary, or anything unknown: the bytes are the content.
    #[default]
    Identity,
    Base64,
    QuotedPrintable,
}

/// One MIME part: a multipart with children, an attached message with the structure of its body, or a leaf.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MimeNode {
    /// Media type and subtype, lower-case (`text`, `plain`).
    pub ctype: String,
    pub subtype: String,
    /// The Content-Type has a `name` parameter.
    pub has_name: bool,
    /// Content-Disposition is `attachment`.
    pub disposition_attachment: bool,
    pub encoding: Encoding,
    /// Encoded size of the body in octets (BODYSTRUCTURE body size).
    pub size: u64,
    /// The parts of a multipart, in order.
    pub children: Vec<MimeNode>,
    /// For message/rfc822 (and message/global): the structure of the attached message's body (its top part).
    pub message: Option<Box<MimeNode>>,
}

impl MimeNode {
    pub fn is_multipart(&self) -> bool {
        self.ctype == "multipart"
    }
    /// An attached message (RFC 2046 5.2.1; RFC 6532 message/global).
    pub fn is_message(&self) -> bool {
        self.ctype == "message" && (self.subtype == "rfc822" || self.subtype == "global")
    }
}

/// How mail-parser classifies a part (its `MimeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mixed,
    Alternative,
    Related,
    Digest,
    Plain,
    Html,
    TextOther,
    Inline,
    Message,
    Other,
}

/// (is multipart, is inline, is text, kind) of a part inside a container of kind `parent`.
fn classify(n: &MimeNode, parent: Kind) -> (bool, bool, bool, Kind) {
    match n.ctype.as_str() {
        "multipart" => (
            true,
            false,
            false,
            match n.subtype.as_str() {
                "mixed" => Kind::Mixed,
                "alternative" => Kind::Alternative,
                "related" => Kind::Related,
                "digest" => Kind::Digest,
                _ => Kind::Other,
            },
        ),
        "text" => match n.subtype.as_str() {
            "plain" => (false, true, true, Kind::Plain),
            "html" => (false, true, true, Kind::Html),
            _ => (false, false, true, Kind::TextOther),
        },
        "image" | "audio" | "video" => (false, true, false, Kind::Inline),
        "message" if n.is_message() => (false, false, false, Kind::Message),
        // No Content-Type: text/plain, or message/rfc822 in a digest (RFC 2046 5.1.5). IMAP reports the
        // default it applied, so this arm only matters for trees built from mail-parser.
        "" if parent == Kind::Digest => (false, false, false, Kind::Message),
        "" => (false, true, true, Kind::Plain),
        _ => (false, false, false, Kind::Other),
    }
}

/// The state mail-parser keeps per container (message or multipart) while it walks the parts.
struct Level {
    kind: Kind,
    in_alternative: bool,
    need_html: bool,
    need_text: bool,
    parts: usize,
}

fn walk<'a>(n: &'a MimeNode, section: Vec<u32>, root: bool, st: &mut Level, out: &mut Vec<(Vec<u32>, &'a MimeNode)>) {
    st.parts += 1;
    let (is_multipart, is_inline, is_text, kind) = classify(n, st.kind);
    if is_multipart && !n.children.is_empty() {
        // A multipart starts a level of its own; what its parts change of the need-body flags is forgotten
        // when it ends (mail-parser restores the parent's state).
        let mut inner = Level {
            kind,
            in_alternative: st.in_alternative || kind == Kind::Alternative,
            need_html: st.need_html,
            need_text: st.need_text,
            parts: 0,
        };
        for (i, c) in n.children.iter().enumerate() {
            let mut s = section.clone();
            s.push(i as u32 + 1);
            walk(c, s, false, &mut inner, out);
        }
        return;
    }
    // A single-part message's body is its part 1 (RFC 3501 6.4.5).
    let section = if root { [section, vec![1]].concat() } else { section };
    // A multipart without parts is read as text by mail-parser.
    let (is_inline, is_text, kind) =
        if is_multipart { (false, true, Kind::TextOther) } else { (is_inline, is_text, kind) };
    if kind == Kind::Message {
        out.push((section, n));
        return;
    }
    let is_inline = is_inline
        && !n.disposition_attachment
        && (st.parts == 1 || st.kind != Kind::Related && (kind == Kind::Inline || !n.has_name));
    let (add_html, add_text) = if st.kind == Kind::Alternative {
        match kind {
            Kind::Html => (true, false),
            Kind::Plain => (false, true),
            _ => (false, false),
        }
    } else if is_inline {
        if st.in_alternative && (st.need_text || st.need_html) {
            match kind {
                Kind::Html => st.need_text = false,
                Kind::Plain => st.need_html = false,
                _ => {}
            }
        }
        (st.need_html, st.need_text)
    } else {
        (false, false)
    };
    if is_text {
        let is_html = kind == Kind::Html;
        if (!add_html && is_html) || (!add_text && !is_html) {
            out.push((section, n));
        }
    } else {
        out.push((section, n));
    }
}

/// The attachments of the message whose top part is `top`, in the order of [`Message::attachments`]
/// (mail-parser's), each with its IMAP section and its node. `prefix` is the section of the attached message
/// this body belongs to (empty for the stored message itself).
///
/// [`Message::attachments`]: crate::model::message::Message::attachments
pub fn attachment_sections<'a>(top: &'a MimeNode, prefix: &[u32]) -> Vec<(Vec<u32>, &'a MimeNode)> {
    let mut st = Level { kind: Kind::Message, in_alternative: false, need_html: true, need_text: true, parts: 0 };
    let mut out = Vec::new();
    walk(top, prefix.to_vec(), true, &mut st, &mut out);
    out
}

/// Follows an attachment path (the index of an attachment of the message, then the index of an attachment of
/// that attached message, ...) to the part's section and node. `None` when an index does not exist, when a
/// non-last step is not an attached message, or when the structure of an attached message is not known
/// (not given, or the message/rfc822 part is itself base64 or quoted-printable encoded, which IMAP part
/// numbers cannot look into).
pub fn resolve<'a>(top: &'a MimeNode, path: &[u32]) -> Option<(Vec<u32>, &'a MimeNode)> {
    let (first, rest) = path.split_first()?;
    let mut found = attachment_sections(top, &[]).into_iter().nth(*first as usize)?;
    for idx in rest {
        let (section, node) = found;
        if !node.is_message() || node.encoding != Encoding::Identity {
            return None;
        }
        let inner = node.message.as_deref()?;
        found = attachment_sections(inner, &section).into_iter().nth(*idx as usize)?;
    }
    Some(found)
}

/// A section as IMAP writes it (`2.1.3`).
pub fn section_text(section: &[u32]) -> String {
    section.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

// ------------------------------------------------------------------------------------------------ from MIME

fn node_of(msg: &mail_parser::Message<'_>, id: usize, parent_digest: bool, depth: usize) -> Option<MimeNode> {
    let part = msg.parts.get(id)?;
    let (ctype, subtype, has_name) = match part.content_type() {
        Some(ct) => (
            ct.ctype().to_ascii_lowercase(),
            ct.subtype().unwrap_or("").to_ascii_lowercase(),
            ct.attribute("name").is_some(),
        ),
        None if parent_digest => ("message".to_string(), "rfc822".to_string(), false),
        None => ("text".to_string(), "plain".to_string(), false),
    };
    let encoding = match part.encoding {
        mail_parser::Encoding::Base64 => Encoding::Base64,
        mail_parser::Encoding::QuotedPrintable => Encoding::QuotedPrintable,
        mail_parser::Encoding::None => Encoding::Identity,
    };
    let mut n = MimeNode {
        has_name,
        disposition_attachment: part.content_disposition().is_some_and(|d| d.is_attachment()),
        encoding,
        size: u64::from(part.offset_end.saturating_sub(part.offset_body)),
        ctype,
        subtype,
        ..MimeNode::default()
    };
    if depth > 32 {
        return Some(n);
    }
    match &part.body {
        PartType::Multipart(children) => {
            let digest = n.subtype == "digest";
            n.children = children.iter().filter_map(|&c| node_of(msg, c as usize, digest, depth + 1)).collect();
        }
        PartType::Message(inner) => n.message = node_of(inner, 0, false, depth + 1).map(Box::new),
        _ => {}
    }
    Some(n)
}

/// The structure of a MIME message as mail-parser sees it (for stores that hold whole messages, and for
/// tests). `None` when it does not parse.
pub fn from_mime(raw: &[u8]) -> Option<MimeNode> {
    let msg = MessageParser::default().parse(raw)?;
    node_of(&msg, 0, false, 0)
}

fn sections_of(
    msg: &mail_parser::Message<'_>,
    id: usize,
    section: Vec<u32>,
    root: bool,
    map: &mut Vec<(usize, Vec<u32>)>,
) {
    let Some(part) = msg.parts.get(id) else { return };
    if let PartType::Multipart(children) = &part.body {
        for (i, &c) in children.iter().enumerate() {
            let mut s = section.clone();
            s.push(i as u32 + 1);
            sections_of(msg, c as usize, s, false, map);
        }
    } else {
        map.push((id, if root { [section, vec![1]].concat() } else { section }));
    }
}

/// The IMAP sections of the attachments mail-parser lists for `raw`, in its order, computed from mail-parser's
/// own part tree (not from [`attachment_sections`]): the reference the tests compare against.
pub fn parser_attachment_sections(raw: &[u8]) -> Option<Vec<Vec<u32>>> {
    let msg = MessageParser::default().parse(raw)?;
    let mut map = Vec::new();
    sections_of(&msg, 0, Vec::new(), true, &mut map);
    msg.attachments.iter().map(|&a| map.iter().find(|(id, _)| *id == a as usize).map(|(_, s)| s.clone())).collect()
}

/// The content of the part at `section` of `raw` with its transfer encoding undone (what IMAP's `BINARY[section]`
/// returns), for stores that hold whole messages. `None` when there is no such leaf part.
pub fn part_content(raw: &[u8], section: &[u32]) -> Option<Vec<u8>> {
    let msg = MessageParser::default().parse(raw)?;
    let (buf, part) = locate(&msg, 0, section, true)?;
    crate::model::message::decoded_part(buf, part)
}

/// The MIME header block of the part at `section` (what IMAP's `BODY[section.MIME]` returns).
pub fn part_headers(raw: &[u8], section: &[u32]) -> Option<Vec<u8>> {
    let msg = MessageParser::default().parse(raw)?;
    let (buf, part) = locate(&msg, 0, section, true)?;
    buf.get(part.offset_header as usize..part.offset_body as usize).map(<[u8]>::to_vec)
}

/// The leaf part at `section` and the buffer its offsets point into.
fn locate<'m>(
    msg: &'m mail_parser::Message<'m>,
    id: usize,
    section: &[u32],
    root: bool,
) -> Option<(&'m [u8], &'m mail_parser::MessagePart<'m>)> {
    let part = msg.parts.get(id)?;
    match &part.body {
        PartType::Multipart(children) => {
            let (first, rest) = section.split_first()?;
            let child = *children.get((*first as usize).checked_sub(1)?)? as usize;
            locate(msg, child, rest, false)
        }
        _ if root => {
            // The single body part of a message is `1`.
            let (first, rest) = section.split_first()?;
            if *first != 1 {
                return None;
            }
            locate(msg, id, rest, false)
        }
        PartType::Message(inner) if !section.is_empty() => locate(inner, 0, section, true),
        _ if section.is_empty() => Some((msg.raw_message.as_ref(), part)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/protocol-fixtures/mime/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    pub const FIXTURES: &[&str] = &[
        "alternative-attachment.eml",
        "attached-message.eml",
        "imip-request-seed.eml",
        "latin1-body.eml",
        "nested-multipart.eml",
        "rfc2047-subject.eml",
        "text-attachments.eml",
    ];

    #[test]
    fn classification_agrees_with_mail_parser() {
        for name in FIXTURES {
            let raw = fixture(name);
            let tree = from_mime(&raw).unwrap();
            let ours: Vec<Vec<u32>> = attachment_sections(&tree, &[]).into_iter().map(|(s, _)| s).collect();
            assert_eq!(Some(ours), parser_attachment_sections(&raw), "{name}");
        }
    }

    #[test]
    fn nested_multipart_sections() {
        let raw = fixture("nested-multipart.eml");
        let tree = from_mime(&raw).unwrap();
        let got: Vec<String> = attachment_sections(&tree, &[]).iter().map(|(s, _)| section_text(s)).collect();
        // logo.png (inline, related), notes.txt, doc.pdf, the attached message, the calendar, the octet-stream.
        assert_eq!(got, ["1.2.2", "2", "3.1", "3.3", "5", "6"]);
        // Inside the attached message (3.3): its text body is not an attachment, inner.bin is.
        let (s, n) = resolve(&tree, &[3, 0]).unwrap();
        assert_eq!(section_text(&s), "3.3.2");
        assert_eq!((n.ctype.as_str(), n.subtype.as_str()), ("application", "octet-stream"));
        assert!(resolve(&tree, &[3, 1]).is_none());
        assert!(resolve(&tree, &[2, 0]).is_none(), "doc.pdf is not a message");
        assert_eq!(part_content(&raw, &[3, 3, 2]).unwrap(), (1u8..=255).rev().collect::<Vec<u8>>());
        assert_eq!(part_content(&raw, &[2]).unwrap(), b"Notes caf\xe9 end.".to_vec());
        assert!(part_content(&raw, &[9]).is_none());
        // A single-part message's body is part 1.
        let single = b"Subject: x\r\nContent-Type: application/pdf\r\n\r\nPDF";
        let t = from_mime(single).unwrap();
        assert_eq!(attachment_sections(&t, &[]).into_iter().map(|(s, _)| s).collect::<Vec<_>>(), vec![vec![1]]);
        assert_eq!(parser_attachment_sections(single), Some(vec![vec![1]]));
        assert_eq!(part_content(single, &[1]).unwrap(), b"PDF".to_vec());
    }
}
