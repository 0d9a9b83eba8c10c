//! XML shared by every codec: a bounded, namespace-resolving element-tree reader on quick-xml's event API and a
//! small writer, used by the EWS and Autodiscover front-ends (each with its own [`Limits`]), plus the entity
//! reference helper the streaming WebDAV parsers use.
//!
//! Reading is strict: UTF-8 only, no DTD (a `<!DOCTYPE` is an error, so no entity can ever be declared or
//! expanded), only the five predefined entities and character references are resolved, and input size, nesting
//! depth and element count are bounded. Writing escapes every text and attribute value and drops characters
//! XML 1.0 cannot carry.

use std::fmt::Write as _;

use quick_xml::NsReader;
use quick_xml::events::{BytesRef, Event};
use quick_xml::name::ResolveResult;

/// EWS messages namespace (`m:`).
pub const NS_EWS_MESSAGES: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
/// EWS types namespace (`t:`).
pub const NS_EWS_TYPES: &str = "http://schemas.microsoft.com/exchange/services/2006/types";

/// The text a reference stands for, for streaming parsers that see quick-xml's `GeneralRef` events: the five
/// predefined entities (XML 1.0 section 4.6) and character references. Anything else (an undeclared entity) is
/// `None`, which callers treat as malformed input.
pub fn resolve_reference(r: &BytesRef<'_>) -> Option<String> {
    let name = r.clone().into_inner();
    expand_ref(&name).ok().map(|c| c.to_string())
}

/// One element of a parsed document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// Namespace URI, if the name is bound to one.
    pub ns: Option<String>,
    /// Local name (without prefix).
    pub name: String,
    /// Attributes as (namespace URI, local name, value); namespace declarations are left out.
    pub attrs: Vec<(Option<String>, String, String)>,
    pub children: Vec<Element>,
    /// Character data directly inside this element (all text pieces concatenated).
    pub text: String,
}

impl Element {
    /// Whether the element has this namespace and local name.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.name == name && self.ns.as_deref() == Some(ns)
    }

    /// The first child with this namespace and local name.
    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    /// The first child in the EWS messages namespace with this name.
    pub fn m(&self, name: &str) -> Option<&Element> {
        self.child(NS_EWS_MESSAGES, name)
    }

    /// The first child in the EWS types namespace with this name.
    pub fn t(&self, name: &str) -> Option<&Element> {
        self.child(NS_EWS_TYPES, name)
    }

    /// Every child with this namespace and local name.
    pub fn children_named<'a>(&'a self, ns: &'a str, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    /// The first child with this local name, whatever its namespace.
    pub fn child_local(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// An unqualified attribute's value.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(ns, n, _)| ns.is_none() && n == name).map(|(_, _, v)| v.as_str())
    }

    /// A namespace-qualified attribute's value.
    pub fn attr_ns(&self, ns: &str, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(n_ns, n, _)| n_ns.as_deref() == Some(ns) && n == name).map(|(_, _, v)| v.as_str())
    }

    /// The text content with surrounding whitespace removed.
    pub fn trimmed(&self) -> &str {
        self.text.trim()
    }

    /// Follows a path of (namespace, local name) steps, taking the first match at each step.
    pub fn path(&self, steps: &[(&str, &str)]) -> Option<&Element> {
        let mut cur = self;
        for (ns, name) in steps {
            cur = cur.child(ns, name)?;
        }
        Some(cur)
    }

    /// Text of the first child `t:name`, trimmed.
    pub fn t_text(&self, name: &str) -> Option<&str> {
        self.t(name).map(|e| e.trimmed())
    }
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError(pub String);

impl std::fmt::Display for XmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(msg: impl Into<String>) -> XmlError {
    XmlError(msg.into())
}

fn bound_ns(r: &ResolveResult<'_>) -> Result<Option<String>, XmlError> {
    match r {
        ResolveResult::Bound(ns) => Ok(Some(ns.as_ref().to_string())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(p) => Err(err(format!("undeclared namespace prefix {p:?}"))),
    }
}

/// Expands a general reference: the five predefined entities (XML 1.0 section 4.6) and character references.
fn expand_ref(name: &str) -> Result<char, XmlError> {
    match name {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ => {
            let num = name.strip_prefix('#').ok_or_else(|| err(format!("undeclared entity &{name};")))?;
            let code = match num.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16),
                None => num.parse::<u32>(),
            }
            .map_err(|_| err(format!("bad character reference &{name};")))?;
            char::from_u32(code).filter(|c| *c != '\0').ok_or_else(|| err(format!("bad character reference &{name};")))
        }
    }
}

/// Bounds a parse: each front-end sets its own (an Autodiscover request is a few kilobytes; an EWS CreateItem
/// carries whole messages).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest document, in bytes.
    pub max_input: usize,
    /// Deepest element nesting.
    pub max_depth: usize,
    /// Most elements in one document.
    pub max_elements: usize,
}

/// Parses a whole document into its root element, within `limits`.
pub fn parse(input: &[u8], limits: &Limits) -> Result<Element, XmlError> {
    if input.len() > limits.max_input {
        return Err(err(format!("document larger than {} bytes", limits.max_input)));
    }
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let text = std::str::from_utf8(input).map_err(|_| err("document is not UTF-8"))?;
    let mut reader = NsReader::from_str(text);
    reader.resolver_mut().set_max_namespace_bindings(256);

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;

    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(|e| err(format!("not well-formed: {e}")))?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                if root.is_some() {
                    return Err(err("content after the root element"));
                }
                count += 1;
                if count > limits.max_elements {
                    return Err(err("too many elements"));
                }
                if stack.len() >= limits.max_depth {
                    return Err(err("elements nested too deeply"));
                }
                let ns = bound_ns(&resolved)?;
                let name = start.local_name().as_ref().to_string();
                let mut attrs = Vec::new();
                for a in start.attributes() {
                    let a = a.map_err(|e| err(format!("bad attribute: {e}")))?;
                    if a.key.as_namespace_binding().is_some() {
                        continue;
                    }
                    let (ans, local) = reader.resolver().resolve_attribute(a.key);
                    let ans = bound_ns(&ans)?;
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| err(format!("bad attribute value: {e}")))?;
                    attrs.push((ans, local.as_ref().to_string(), value.into_owned()));
                }
                let el = Element { ns, name, attrs, children: Vec::new(), text: String::new() };
                if matches!(event, Event::Empty(_)) {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => root = Some(el),
                    }
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| err("unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => return Err(err("text outside the root element")),
                }
            }
            Event::CData(t) => {
                let content = t.xml10_content();
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&content),
                    None => return Err(err("text outside the root element")),
                }
            }
            Event::GeneralRef(r) => {
                let c = expand_ref(&r)?;
                match stack.last_mut() {
                    Some(el) => el.text.push(c),
                    None => return Err(err("reference outside the root element")),
                }
            }
            Event::DocType(_) => return Err(err("DTDs are not accepted")),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(err("document ends inside an element"));
    }
    root.ok_or_else(|| err("no root element"))
}

/// Escapes text for element content or a double-quoted attribute value, dropping characters XML 1.0 cannot
/// carry (control characters other than tab, CR, LF; U+FFFE, U+FFFF).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    escape_into(&mut out, s);
    out
}

fn escape_into(out: &mut String, s: &str) {
    // Runs of bytes that need nothing are copied whole. Every byte looked at below is ASCII or the lead byte
    // of U+FFFE/U+FFFF (EF BF BE/BF), so `start..i` always falls on character boundaries.
    let bytes = s.as_bytes();
    out.reserve(bytes.len());
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        let (replacement, width) = match bytes[i] {
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'&' => ("&amp;", 1),
            b'"' => ("&quot;", 1),
            b'\'' => ("&apos;", 1),
            b'\r' => ("&#13;", 1),
            b'\t' | b'\n' => {
                i += 1;
                continue;
            }
            // Other control characters and the non-characters U+FFFE/U+FFFF are not allowed in XML 1.0: dropped.
            0..=0x1f => ("", 1),
            0xEF if bytes.get(i + 1) == Some(&0xBF) && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)) => ("", 3),
            _ => {
                i += 1;
                continue;
            }
        };
        out.push_str(&s[start..i]);
        out.push_str(replacement);
        i += width;
        start = i;
    }
    out.push_str(&s[start..]);
}

/// Input bytes per [`base64_block`] call in [`XmlWriter::base64_text`] (a multiple of 3, so only the last block
/// of a text is padded) and the encoded size of such a block.
const BASE64_BLOCK_IN: usize = 3 * 1024;
const BASE64_BLOCK_OUT: usize = 4 * 1024;

/// The standard base64 alphabet (RFC 4648 section 4).
const BASE64_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The two base64 characters of every 12-bit value, first character in the low byte: three input bytes become
/// four characters with two table reads instead of four (8 KiB, built at compile time).
static BASE64_PAIRS: [u16; 4096] = {
    let mut table = [0u16; 4096];
    let mut i = 0;
    while i < 4096 {
        table[i] = (BASE64_ALPHABET[i >> 6] as u16) | ((BASE64_ALPHABET[i & 63] as u16) << 8);
        i += 1;
    }
    table
};

/// Encodes `src` (at most [`BASE64_BLOCK_IN`] bytes) into `dst` as standard base64 with padding (RFC 4648
/// section 4); returns the number of characters written. Six input bytes at a time become one 8-byte store
/// (about twice the speed of the `base64` crate's general-purpose engine here, measured in docs/performance.md).
fn base64_block(src: &[u8], dst: &mut [u8; BASE64_BLOCK_OUT]) -> usize {
    let pair = |v: u64| u64::from(BASE64_PAIRS[(v & 0xfff) as usize]);
    let sixes = src.len() / 6;
    for (i, o) in src.chunks_exact(6).zip(dst.chunks_exact_mut(8)) {
        let n = u64::from_be_bytes([0, 0, i[0], i[1], i[2], i[3], i[4], i[5]]);
        let v = pair(n >> 36) | (pair(n >> 24) << 16) | (pair(n >> 12) << 32) | (pair(n) << 48);
        o.copy_from_slice(&v.to_le_bytes());
    }
    let mut n = sixes * 8;
    let rest = &src[sixes * 6..];
    for i in rest.chunks(3) {
        let b = |k: usize| i.get(k).copied().map_or(0u64, u64::from);
        let v = (b(0) << 16) | (b(1) << 8) | b(2);
        let [c0, c1] = BASE64_PAIRS[(v >> 12) as usize & 0xfff].to_le_bytes();
        let [c2, c3] = BASE64_PAIRS[v as usize & 0xfff].to_le_bytes();
        let quad = match i.len() {
            1 => [c0, c1, b'=', b'='],
            2 => [c0, c1, c2, b'='],
            _ => [c0, c1, c2, c3],
        };
        dst[n..n + 4].copy_from_slice(&quad);
        n += 4;
    }
    n
}

/// Builds an XML document. Element names are trusted (constants, or names read from a parsed document); every
/// text and attribute value is escaped. Compact by default (EWS text content such as bodies is significant);
/// [`XmlWriter::indented`] writes one element per line for documents people read (Autodiscover).
#[derive(Debug, Default)]
pub struct XmlWriter {
    buf: String,
    open: Vec<String>,
    indent: bool,
}

impl XmlWriter {
    pub fn new() -> XmlWriter {
        XmlWriter { buf: String::with_capacity(4096), open: Vec::new(), indent: false }
    }

    /// Starts a document with the XML declaration.
    pub fn with_decl() -> XmlWriter {
        let mut w = XmlWriter::new();
        w.buf.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
        w
    }

    /// Starts an indented document with the XML declaration.
    pub fn indented() -> XmlWriter {
        let mut w = XmlWriter::with_decl();
        w.buf.push('\n');
        w.indent = true;
        w
    }

    fn pad(&mut self) {
        if self.indent {
            for _ in 0..self.open.len() {
                self.buf.push_str("  ");
            }
        }
    }

    fn newline(&mut self) {
        if self.indent {
            self.buf.push('\n');
        }
    }

    fn tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.buf.push('<');
        self.buf.push_str(name);
        for (k, v) in attrs {
            let _ = write!(self.buf, " {k}=\"");
            escape_into(&mut self.buf, v);
            self.buf.push('"');
        }
    }

    /// Opens an element; close it with [`XmlWriter::end`].
    pub fn start(&mut self, name: &str, attrs: &[(&str, &str)]) -> &mut Self {
        self.pad();
        self.tag(name, attrs);
        self.buf.push('>');
        self.newline();
        self.open.push(name.to_string());
        self
    }

    /// Closes the innermost open element.
    pub fn end(&mut self) -> &mut Self {
        if let Some(name) = self.open.pop() {
            self.pad();
            let _ = write!(self.buf, "</{name}>");
            self.newline();
        }
        self
    }

    /// An element with text content (escaped).
    pub fn leaf(&mut self, name: &str, text: &str) -> &mut Self {
        self.leaf_with(name, &[], text)
    }

    /// An element with attributes and text content.
    pub fn leaf_with(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) -> &mut Self {
        self.pad();
        self.tag(name, attrs);
        self.buf.push('>');
        escape_into(&mut self.buf, text);
        let _ = write!(self.buf, "</{name}>");
        self.newline();
        self
    }

    /// An `xs:boolean` leaf.
    pub fn bool_leaf(&mut self, name: &str, v: bool) -> &mut Self {
        self.leaf(name, if v { "true" } else { "false" })
    }

    /// An empty element.
    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) -> &mut Self {
        self.pad();
        self.tag(name, attrs);
        self.buf.push_str(if self.indent { " />" } else { "/>" });
        self.newline();
        self
    }

    /// Appends already-escaped text (base64 content, for instance). The caller guarantees it needs no escaping.
    pub fn raw_text(&mut self, s: &str) -> &mut Self {
        self.buf.push_str(s);
        self
    }

    /// Appends `data` base64-encoded (RFC 4648 section 4, with padding), encoded straight into the document
    /// rather than into a string of its own first.
    ///
    /// Room is reserved for the encoded text and the element's closing tag, so a large body is written without
    /// the document being copied to a bigger allocation. The encoding is [`base64_block`] through a stack buffer
    /// that stays in the L1 cache (the hottest loop of a GetItem with MimeContent: docs/performance.md).
    pub fn base64_text(&mut self, data: &[u8]) -> &mut Self {
        self.buf.reserve(data.len().div_ceil(3) * 4 + 128);
        let mut block = [0u8; BASE64_BLOCK_OUT];
        for part in data.chunks(BASE64_BLOCK_IN) {
            let n = base64_block(part, &mut block);
            // Base64 output is ASCII, so this conversion never fails.
            self.buf.push_str(std::str::from_utf8(&block[..n]).unwrap_or_default());
        }
        self
    }

    /// Makes room for `additional` more bytes (for callers that know a large part is coming).
    pub fn reserve(&mut self, additional: usize) {
        self.buf.reserve(additional);
    }

    /// Closes whatever is still open and returns the document.
    pub fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.end();
        }
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_reference_encoder() {
        use base64::Engine as _;
        let data: Vec<u8> = (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for len in (0..40).chain([3071, 3072, 3073, 6144, 6145, 6146, 19_999, 20_000]) {
            let mut w = XmlWriter::new();
            w.base64_text(&data[..len]);
            assert_eq!(w.finish(), base64::engine::general_purpose::STANDARD.encode(&data[..len]), "length {len}");
        }
        let every_byte: Vec<u8> = (0..=255u8).collect();
        let mut w = XmlWriter::new();
        w.base64_text(&every_byte);
        assert_eq!(w.finish(), base64::engine::general_purpose::STANDARD.encode(&every_byte));
    }

    /// The escaping as first written, one character at a time: the reference for the faster one.
    fn escape_reference(s: &str) -> String {
        let mut out = String::new();
        for c in s.chars() {
            match c {
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '&' => out.push_str("&amp;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&apos;"),
                '\r' => out.push_str("&#13;"),
                '\t' | '\n' => out.push(c),
                c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
                c => out.push(c),
            }
        }
        out
    }

    #[test]
    fn escaping_matches_the_reference() {
        let pieces = [
            "a", "<", ">", "&", "\"", "'", "\r", "\n", "\t", "\u{1}", "\u{1f}", "é", "€", "\u{FFFE}", "\u{FFFF}",
            "\u{FFFD}", "\u{EFFF}", "😀", "xyz",
        ];
        let mut seed = 7u64;
        for _ in 0..2000 {
            let mut s = String::new();
            for _ in 0..(seed % 12) {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                s.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            seed = seed.wrapping_add(1);
            let mut fast = String::new();
            escape_into(&mut fast, &s);
            assert_eq!(fast, escape_reference(&s), "{s:?}");
        }
    }

    const LIMITS: Limits = Limits { max_input: 4096, max_depth: 16, max_elements: 100 };

    #[test]
    fn parses_namespaces_entities_and_cdata() {
        let doc = br#"<?xml version="1.0"?><a:R xmlns:a="urn:a" xmlns="urn:d" k="v&amp;w" a:q="z"><x>1 &lt; 2 &#x41;&#66;</x><a:y><![CDATA[<raw>]]></a:y><z/></a:R>"#;
        let root = parse(doc, &LIMITS).unwrap();
        assert!(root.is("urn:a", "R"));
        assert_eq!(root.attr("k"), Some("v&w"));
        assert_eq!(root.attr_ns("urn:a", "q"), Some("z"));
        assert_eq!(root.child("urn:d", "x").unwrap().text, "1 < 2 AB");
        assert_eq!(root.child("urn:a", "y").unwrap().text, "<raw>");
        assert!(root.path(&[("urn:d", "z")]).is_some());
    }

    #[test]
    fn refuses_dtd_entities_garbage_and_oversize() {
        for bad in [
            &b"<!DOCTYPE x [<!ENTITY e \"boom\">]><x>&e;</x>"[..],
            b"<x>&e;</x>",
            b"<x a=\"&e;\"/>",
            b"<x><y></x>",
            b"<x>",
            b"",
            b"not xml",
            b"<x/><y/>",
            b"<p:x/>",
            b"\xff\xfe<\0x\0/\0>\0",
        ] {
            assert!(parse(bad, &LIMITS).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let deep = "<a>".repeat(17) + &"</a>".repeat(17);
        assert!(parse(deep.as_bytes(), &LIMITS).is_err());
        let many = format!("<a>{}</a>", "<b/>".repeat(100));
        assert!(parse(many.as_bytes(), &LIMITS).is_err());
        assert!(parse(&vec![b' '; 4097], &LIMITS).is_err());
    }

    #[test]
    fn resolves_references_for_streaming_parsers() {
        use quick_xml::reader::Reader;
        let mut r = Reader::from_str("<a>x &amp; &#65;&custom;</a>");
        let mut seen = Vec::new();
        loop {
            match r.read_event().unwrap() {
                Event::GeneralRef(g) => seen.push(resolve_reference(&g)),
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(seen, vec![Some("&".to_string()), Some("A".to_string()), None]);
    }

    #[test]
    fn writers_escape_and_round_trip() {
        for mut w in [XmlWriter::with_decl(), XmlWriter::indented()] {
            w.start("R", &[("xmlns", "urn:r"), ("q", "a\"<b")]).leaf("N", "x & <y> \u{1} 'z'\r\n").empty("E", &[]);
            let s = w.finish();
            let root = parse(s.as_bytes(), &LIMITS).unwrap();
            assert_eq!(root.attr("q"), Some("a\"<b"));
            assert_eq!(root.child("urn:r", "N").unwrap().text, "x & <y>  'z'\r\n");
            assert!(root.child("urn:r", "E").is_some());
        }
        let mut w = XmlWriter::indented();
        w.start("A", &[]).leaf("B", "c");
        assert!(w.finish().contains("\n  <B>c</B>\n"));
    }
}
