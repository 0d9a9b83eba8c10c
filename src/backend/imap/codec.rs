//! A small sans-IO IMAP codec (RFC 3501 section 9 grammar, with the extensions Viaduc uses): command building
//! with safe quoting and literals, response framing (lines plus `{n}` literals) and a generic response tree.
//!
//! The mail store layer uses this instead of async-imap's parser because that parser rejects responses it does
//! not know (`STATUS (X-GUID ...)`, `LIST ... RETURN (STATUS ...)` data, ESEARCH) and a rejected response leaves
//! the connection unusable. Here every response is tokenised generically and interpreted by the caller.

use crate::error::{Backend, Error, Kind, Result};
use crate::model::message::days_from_civil;

/// Largest response (including literals) accepted from the server.
pub const MAX_RESPONSE: usize = 256 * 1024 * 1024;

/// One token of a response: an atom (also numbers, flags, `BODY[...]` section names), a string (quoted or
/// literal, raw bytes), NIL, or a parenthesised list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Atom(String),
    Str(Vec<u8>),
    Nil,
    List(Vec<Value>),
}

impl Value {
    pub fn as_atom(&self) -> Option<&str> {
        match self {
            Value::Atom(a) => Some(a),
            _ => None,
        }
    }
    /// An atom or string as text (lossy UTF-8); `None` for NIL and lists.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Atom(a) => Some(a.clone()),
            Value::Str(s) => Some(String::from_utf8_lossy(s).into_owned()),
            _ => None,
        }
    }
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Atom(a) => Some(a.as_bytes()),
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    pub fn as_u32(&self) -> Option<u32> {
        self.as_atom()?.parse().ok()
    }
    pub fn as_u64(&self) -> Option<u64> {
        self.as_atom()?.parse().ok()
    }
    /// True for an atom equal to `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.as_atom().is_some_and(|a| a.eq_ignore_ascii_case(name))
    }
}

/// The status word of a status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
    Bye,
    Preauth,
}

impl Status {
    fn parse(word: &str) -> Option<Status> {
        Some(match word.to_ascii_uppercase().as_str() {
            "OK" => Status::Ok,
            "NO" => Status::No,
            "BAD" => Status::Bad,
            "BYE" => Status::Bye,
            "PREAUTH" => Status::Preauth,
            _ => return None,
        })
    }
}

/// A response code (`[APPENDUID 38505 3955]`): the name upper-cased and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub name: String,
    pub args: Vec<Value>,
}

/// `resp-text`: an optional code and the human-readable text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RespText {
    pub code: Option<Code>,
    pub text: String,
}

/// One server response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `+ text`: the server waits for a literal or an authentication step.
    Continue(String),
    /// `* OK|NO|BAD|BYE|PREAUTH [code] text`.
    UntaggedStatus(Status, RespText),
    /// `* ...` data: every token after the `*`, e.g. `[Atom("3"), Atom("FETCH"), List(..)]`.
    Data(Vec<Value>),
    /// `tag OK|NO|BAD [code] text`.
    Tagged { tag: String, status: Status, text: RespText },
}

fn malformed(msg: impl Into<String>) -> Error {
    Error::backend(Backend::Imap, Kind::Refused, format!("malformed IMAP response: {}", msg.into()))
}

/// Finds the end of the first complete response in `buf` (a line, with every `{n}` literal and the line that
/// continues after it). `Ok(None)` when more bytes are needed.
pub fn frame(buf: &[u8]) -> Result<Option<usize>> {
    let mut pos = 0;
    // Status responses and continuation requests end in free text, which has no literals: a server message
    // that happens to end in `{5}` (echoing a client's input, say) must not be taken for one.
    let free_text = is_free_text_line(buf);
    loop {
        let Some(nl) = buf[pos..].windows(2).position(|w| w == b"\r\n") else {
            if buf.len() > MAX_RESPONSE {
                return Err(Error::backend(Backend::Imap, Kind::TooLarge, "IMAP response too large"));
            }
            return Ok(None);
        };
        let line_end = pos + nl; // index of \r
        let announced = if free_text { None } else { literal_len(&buf[pos..line_end]) };
        match announced {
            Some(n) => {
                let start = line_end + 2;
                if n > MAX_RESPONSE || start + n > MAX_RESPONSE {
                    return Err(Error::backend(Backend::Imap, Kind::TooLarge, "IMAP literal too large"));
                }
                if buf.len() < start + n {
                    return Ok(None);
                }
                pos = start + n;
            }
            None => return Ok(Some(line_end + 2)),
        }
    }
}

/// Whether the response starting at `buf` is `+ ...` or `tag OK|NO|BAD|BYE|PREAUTH ...`.
fn is_free_text_line(buf: &[u8]) -> bool {
    if buf.starts_with(b"+") {
        return true;
    }
    let mut words = buf.splitn(3, |&b| b == b' ');
    let _tag = words.next();
    let Some(word) = words.next() else { return false };
    let word = word.strip_suffix(b"\r\n").unwrap_or(word);
    [&b"OK"[..], b"NO", b"BAD", b"BYE", b"PREAUTH"].iter().any(|s| word.eq_ignore_ascii_case(s))
}

/// The length of a `{n}` (or `~{n}`) literal announced at the end of `line`.
fn literal_len(line: &[u8]) -> Option<usize> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let digits = &body[open + 1..];
    if digits.is_empty() || digits.len() > 12 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }
    fn at_end(&self) -> bool {
        self.pos >= self.buf.len() || self.buf[self.pos..].starts_with(b"\r\n")
    }
    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }
    /// A word up to the next space (tags, `*`, status words).
    fn word(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c == b' ' || c == b'\r' {
                break;
            }
            self.pos += 1;
        }
        std::str::from_utf8(&self.buf[start..self.pos]).unwrap_or("")
    }
    fn rest_of_line(&mut self) -> String {
        let start = self.pos;
        while !self.at_end() {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.buf[start..self.pos]).into_owned()
    }

    fn values(&mut self, depth: usize) -> Result<Vec<Value>> {
        if depth > 64 {
            return Err(malformed("nesting too deep"));
        }
        let mut out = Vec::new();
        loop {
            self.skip_spaces();
            if self.at_end() {
                if depth > 0 {
                    return Err(malformed("unclosed list"));
                }
                return Ok(out);
            }
            match self.peek() {
                Some(b')') => {
                    if depth == 0 {
                        return Err(malformed("unbalanced ')'"));
                    }
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'(') => {
                    self.pos += 1;
                    out.push(Value::List(self.values(depth + 1)?));
                }
                Some(b'"') => out.push(self.quoted()?),
                Some(b'{') => out.push(self.literal()?),
                Some(b'~') if self.buf.get(self.pos + 1) == Some(&b'{') => {
                    self.pos += 1;
                    out.push(self.literal()?);
                }
                _ => out.push(self.atom()?),
            }
        }
    }

    fn quoted(&mut self) -> Result<Value> {
        self.pos += 1;
        let mut s = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\r') | Some(b'\n') => return Err(malformed("unterminated quoted string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Value::Str(s));
                }
                Some(b'\\') => {
                    let c = self.buf.get(self.pos + 1).copied().ok_or_else(|| malformed("bad escape"))?;
                    s.push(c);
                    self.pos += 2;
                }
                Some(c) => {
                    s.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn literal(&mut self) -> Result<Value> {
        let close = self.buf[self.pos..].iter().position(|&b| b == b'}').ok_or_else(|| malformed("bad literal"))?;
        let digits = &self.buf[self.pos + 1..self.pos + close];
        let digits = digits.strip_suffix(b"+").unwrap_or(digits);
        let n: usize = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| malformed("bad literal length"))?;
        let start = self.pos + close + 1;
        if !self.buf[start..].starts_with(b"\r\n") || self.buf.len() < start.saturating_add(2).saturating_add(n) {
            return Err(malformed("truncated literal"));
        }
        let data = self.buf[start + 2..start + 2 + n].to_vec();
        self.pos = start + 2 + n;
        Ok(Value::Str(data))
    }

    fn atom(&mut self) -> Result<Value> {
        let start = self.pos;
        let mut bracket = 0usize;
        while let Some(c) = self.peek() {
            match c {
                b'[' => bracket += 1,
                b']' => bracket = bracket.saturating_sub(1),
                b'\r' | b'\n' => break,
                b' ' | b'(' | b')' | b'"' if bracket == 0 => break,
                _ => {}
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(malformed(format!("unexpected byte {:?}", self.peek().map(char::from))));
        }
        let atom = std::str::from_utf8(&self.buf[start..self.pos]).map_err(|_| malformed("8-bit atom"))?;
        Ok(if atom.eq_ignore_ascii_case("NIL") { Value::Nil } else { Value::Atom(atom.to_string()) })
    }

    fn resp_text(&mut self) -> Result<RespText> {
        self.skip_spaces();
        let mut code = None;
        if self.peek() == Some(b'[') {
            let close = self.buf[self.pos..]
                .iter()
                .position(|&b| b == b']' || b == b'\r')
                .filter(|&i| self.buf[self.pos + i] == b']')
                .ok_or_else(|| malformed("unterminated response code"))?;
            let inner = &self.buf[self.pos + 1..self.pos + close];
            let mut p = Parser { buf: inner, pos: 0 };
            let name = p.word().to_ascii_uppercase();
            let args = p.values(0).unwrap_or_default();
            code = Some(Code { name, args });
            self.pos += close + 1;
            self.skip_spaces();
        }
        Ok(RespText { code, text: self.rest_of_line() })
    }
}

/// Parses one complete response (as delimited by [`frame`]).
pub fn parse_response(buf: &[u8]) -> Result<Response> {
    let mut p = Parser { buf, pos: 0 };
    if buf.starts_with(b"+") {
        p.pos = 1;
        p.skip_spaces();
        return Ok(Response::Continue(p.rest_of_line()));
    }
    let tag = p.word().to_string();
    if tag.is_empty() {
        return Err(malformed("empty line"));
    }
    p.skip_spaces();
    if tag == "*" {
        let save = p.pos;
        let word = p.word();
        if let Some(status) = Status::parse(word) {
            return Ok(Response::UntaggedStatus(status, p.resp_text()?));
        }
        p.pos = save;
        return Ok(Response::Data(p.values(0)?));
    }
    let word = p.word();
    let status = Status::parse(word).ok_or_else(|| malformed(format!("tagged response without status: {word:?}")))?;
    Ok(Response::Tagged { tag, status, text: p.resp_text()? })
}

/// One piece of a command: text sent as is, or a literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Literal(Vec<u8>),
}

/// A command under construction (without its tag). Every argument that comes from a user goes through
/// [`Command::string`] (or [`Command::mailbox`]), which quotes or sends a literal: user text is never
/// concatenated into the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    pub parts: Vec<Part>,
}

impl Command {
    pub fn new(verb: &str) -> Command {
        Command { parts: vec![Part::Text(verb.to_string())] }
    }
    fn text(&mut self, s: &str) {
        if let Some(Part::Text(t)) = self.parts.last_mut() {
            t.push_str(s);
        } else {
            self.parts.push(Part::Text(s.to_string()));
        }
    }
    /// Appends protocol syntax written by Viaduc itself (atoms, numbers, parentheses). Never user text.
    pub fn raw(mut self, s: &str) -> Command {
        self.text(s);
        self
    }
    /// In-place form of [`Command::raw`].
    pub fn push_raw(&mut self, s: &str) {
        self.text(s);
    }
    /// Appends a space and a string argument: a quoted string when it is short printable ASCII, a literal
    /// otherwise (8-bit, CR, LF, NUL or long).
    pub fn string(mut self, s: impl AsRef<[u8]>) -> Command {
        self.push_string(s.as_ref());
        self
    }
    pub fn push_string(&mut self, s: &[u8]) {
        self.text(" ");
        let quotable = s.len() <= 1024 && s.iter().all(|&b| (0x20..=0x7e).contains(&b));
        if quotable {
            let mut q = String::with_capacity(s.len() + 2);
            q.push('"');
            for &b in s {
                if b == b'"' || b == b'\\' {
                    q.push('\\');
                }
                q.push(b as char);
            }
            q.push('"');
            self.text(&q);
        } else {
            self.parts.push(Part::Literal(s.to_vec()));
        }
    }
    /// Appends a space and a mailbox name, encoded in modified UTF-7 and quoted.
    pub fn mailbox(self, name: &str) -> Command {
        let encoded = if name.eq_ignore_ascii_case("INBOX") { "INBOX".to_string() } else { super::utf7::encode(name) };
        self.string(encoded)
    }
    /// Appends a space and a literal (for message bodies).
    pub fn literal(mut self, data: &[u8]) -> Command {
        self.text(" ");
        self.parts.push(Part::Literal(data.to_vec()));
        self
    }
    /// The wire bytes with every literal as a non-synchronizing `{n+}` (RFC 7888 LITERAL+), for logs and tests;
    /// the connection sends synchronizing literals when the server lacks LITERAL+.
    pub fn to_bytes(&self, tag: &str) -> Vec<u8> {
        let mut out = format!("{tag} ").into_bytes();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.extend_from_slice(t.as_bytes()),
                Part::Literal(l) => {
                    out.extend_from_slice(format!("{{{}+}}\r\n", l.len()).as_bytes());
                    out.extend_from_slice(l);
                }
            }
        }
        out.extend_from_slice(b"\r\n");
        out
    }
    /// A redacted form for logs: literals as their length only.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => s.push_str(t),
                Part::Literal(l) => s.push_str(&format!("{{{} bytes}}", l.len())),
            }
        }
        s
    }
}

/// Formats UIDs as a compact sequence set (`1:3,7,9:10`). Empty input gives an empty string.
pub fn sequence_set(uids: &[u32]) -> String {
    let mut sorted: Vec<u32> = uids.iter().copied().filter(|&u| u > 0).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// Like [`sequence_set`], split so that no set is longer than `max_len` characters (servers limit the command
/// line: Dovecot to 64 KiB by default). Empty input gives no set.
pub fn sequence_sets(uids: &[u32], max_len: usize) -> Vec<String> {
    let full = sequence_set(uids);
    if full.len() <= max_len {
        return if full.is_empty() { Vec::new() } else { vec![full] };
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    for piece in full.split(',') {
        if !cur.is_empty() && cur.len() + 1 + piece.len() > max_len {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(',');
        }
        cur.push_str(piece);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parses a sequence set from the server (`1:3,7`), in order, ranges expanded. `*` is not allowed here.
pub fn parse_sequence_set(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for piece in s.split(',') {
        if let Some((a, b)) = piece.split_once(':') {
            let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            if hi - lo > 10_000_000 {
                return None;
            }
            // COPYUID sets keep the order of the source set: a descending range stays descending.
            if a <= b {
                out.extend(lo..=hi);
            } else {
                out.extend((lo..=hi).rev());
            }
        } else {
            out.push(piece.parse().ok()?);
        }
    }
    Some(out)
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// An IMAP `date` (`1-Feb-1994`, RFC 3501 section 9) for SEARCH.
pub fn imap_date(year: i32, month: u32, day: u32) -> String {
    format!("{day}-{}-{year}", MONTHS[(month.clamp(1, 12) - 1) as usize])
}

/// Formats an INTERNALDATE (`05-Mar-2024 09:30:00 +0100`) for APPEND.
pub fn format_internal_date(unix: i64, offset_minutes: i32) -> String {
    let offset_minutes = offset_minutes.clamp(-(23 * 60 + 59), 23 * 60 + 59);
    let local = unix + i64::from(offset_minutes) * 60;
    let (y, m, d) = crate::model::message::civil_from_days(local.div_euclid(86_400));
    let secs = local.rem_euclid(86_400);
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let off = offset_minutes.abs();
    format!(
        "{d:02}-{}-{y:04} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        MONTHS[(m - 1) as usize],
        secs / 3600,
        (secs / 60) % 60,
        secs % 60,
        off / 60,
        off % 60
    )
}

/// Parses an INTERNALDATE (`29-Nov-2026 07:00:03 +0000`) into unix seconds and the zone offset in minutes.
pub fn parse_internal_date(s: &str) -> Option<(i64, i32)> {
    let s = s.trim();
    let (date, rest) = s.split_once(' ')?;
    let (time, zone) = rest.trim().split_once(' ')?;
    let mut d = date.trim().split('-');
    let day: u32 = d.next()?.trim().parse().ok()?;
    let mon = d.next()?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(mon))? as u32 + 1;
    let year: i32 = d.next()?.parse().ok()?;
    let mut t = time.split(':');
    let (h, m, sec): (i64, i64, i64) = (t.next()?.parse().ok()?, t.next()?.parse().ok()?, t.next()?.parse().ok()?);
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let zh: i32 = zone.get(1..3)?.parse().ok()?;
    let zm: i32 = zone.get(3..5)?.parse().ok()?;
    let offset = sign * (zh * 60 + zm);
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + h * 3600 + m * 60 + sec - i64::from(offset) * 60, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(mut buf: &[u8]) -> Vec<Response> {
        let mut out = Vec::new();
        while let Some(n) = frame(buf).unwrap() {
            out.push(parse_response(&buf[..n]).unwrap());
            buf = &buf[n..];
        }
        assert!(buf.is_empty(), "left over: {:?}", String::from_utf8_lossy(buf));
        out
    }

    #[test]
    fn framing_waits_for_literals() {
        let full = b"* 1 FETCH (UID 7 BODY[] {5}\r\nab\r\nc FLAGS (\\Seen))\r\nA1 OK done\r\n";
        assert_eq!(frame(&full[..10]).unwrap(), None);
        assert_eq!(frame(&full[..30]).unwrap(), None);
        let n = frame(full).unwrap().unwrap();
        assert_eq!(&full[n..], b"A1 OK done\r\n");
        let r = parse_response(&full[..n]).unwrap();
        let Response::Data(v) = r else { panic!() };
        assert_eq!(v[0], Value::Atom("1".into()));
        assert!(v[1].is("fetch"));
        let items = v[2].as_list().unwrap();
        assert_eq!(items[2], Value::Atom("BODY[]".into()));
        assert_eq!(items[3], Value::Str(b"ab\r\nc".to_vec()));
        assert_eq!(items[5], Value::List(vec![Value::Atom("\\Seen".into())]));
    }

    #[test]
    fn dovecot_list_status_and_codes() {
        // Recorded from Dovecot 2.3.19 on the test stack: `LIST "" "*" RETURN (SPECIAL-USE CHILDREN STATUS
        // (MESSAGES UNSEEN UIDVALIDITY UIDNEXT HIGHESTMODSEQ X-GUID))`.
        let text = concat!(
            "* LIST (\\HasNoChildren \\Drafts) \"/\" Drafts\r\n",
            "* STATUS Drafts (MESSAGES 1 UIDNEXT 2 UIDVALIDITY 1795935605 UNSEEN 1 HIGHESTMODSEQ 2 X-GUID 4865de0574cd0b6b9774000083ecc375)\r\n",
            "* LIST (\\NonExistent \\HasChildren) \"/\" shared\r\n",
            "c OK List completed (0.044 + 0.000 + 0.043 secs).\r\n"
        );
        let rs = parse_all(text.as_bytes());
        let Response::Data(list) = &rs[0] else { panic!() };
        assert!(list[0].is("LIST"));
        assert_eq!(list[2], Value::Str(b"/".to_vec()));
        let Response::Data(status) = &rs[1] else { panic!() };
        let items = status[2].as_list().unwrap();
        assert!(items.iter().any(|v| v.is("X-GUID")));
        let Response::Tagged { status, text, .. } = rs.last().unwrap() else { panic!() };
        assert_eq!(*status, Status::Ok);
        assert_eq!(text.text, "List completed (0.044 + 0.000 + 0.043 secs).");
        let rs = parse_all(b"A3 OK [APPENDUID 1795935603 7] Append completed.\r\n* OK [HIGHESTMODSEQ 8] Highest\r\n+ OK\r\nA4 NO [NONEXISTENT] Mailbox doesn't exist: x\r\n");
        let Response::Tagged { text, .. } = &rs[0] else { panic!() };
        let code = text.code.as_ref().unwrap();
        assert_eq!(code.name, "APPENDUID");
        assert_eq!(code.args, vec![Value::Atom("1795935603".into()), Value::Atom("7".into())]);
        assert!(
            matches!(&rs[1], Response::UntaggedStatus(Status::Ok, t) if t.code.as_ref().unwrap().name == "HIGHESTMODSEQ")
        );
        assert_eq!(rs[2], Response::Continue("OK".into()));
        assert!(
            matches!(&rs[3], Response::Tagged { status: Status::No, text, .. } if text.code.as_ref().unwrap().name == "NONEXISTENT")
        );
    }

    #[test]
    fn status_text_ending_in_braces_is_not_a_literal() {
        let rs = parse_all(b"V7 BAD Error in IMAP command: unknown {5}\r\n* OK still {12}\r\n+ go {3}\r\n");
        assert_eq!(rs.len(), 3);
        assert!(matches!(&rs[0], Response::Tagged { status: Status::Bad, text, .. } if text.text.ends_with("{5}")));
        // Data responses still have literals.
        assert_eq!(frame(b"* 1 FETCH (BODY[] {3}\r\n").unwrap(), None);
    }

    #[test]
    fn section_names_with_spaces_stay_one_atom() {
        let rs = parse_all(b"* 2 FETCH (BODY[HEADER.FIELDS (SUBJECT FROM)] {4}\r\nS: x MODSEQ (12))\r\n");
        let Response::Data(v) = &rs[0] else { panic!() };
        let items = v[2].as_list().unwrap();
        assert_eq!(items[0], Value::Atom("BODY[HEADER.FIELDS (SUBJECT FROM)]".into()));
        assert_eq!(items[1], Value::Str(b"S: x".to_vec()));
        assert_eq!(items[3], Value::List(vec![Value::Atom("12".into())]));
    }

    #[test]
    fn quoted_strings_and_nil() {
        let rs = parse_all(b"* METADATA \"\" (/private/comment NIL /shared/x \"a \\\"b\\\\\")\r\n");
        let Response::Data(v) = &rs[0] else { panic!() };
        let kv = v[2].as_list().unwrap();
        assert_eq!(kv[1], Value::Nil);
        assert_eq!(kv[3], Value::Str(b"a \"b\\".to_vec()));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [&b"* (\r\n"[..], b"* )\r\n", b"* \"abc\r\n", b"A1 MAYBE\r\n", b"* {99}\r\nab\r\n", b"\r\n"] {
            assert!(parse_response(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn random_input_never_panics() {
        // A cheap stand-in for the fuzz target: mutated real responses and random bytes.
        let seeds: [&[u8]; 4] = [
            b"* 1 FETCH (UID 7 BODY[] {5}\r\nab\r\nc FLAGS (\\Seen))\r\n",
            b"A1 OK [APPENDUID 1 2] done\r\n",
            b"* LIST (\\HasNoChildren) \"/\" \"a\\\"b\"\r\n",
            b"* 2 FETCH (BODY[HEADER.FIELDS (A)] {99999999999999999999}\r\n",
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = b"(){}[]\"\\ \r\n*+0123456789ABCNIL~%";
        for round in 0..20_000 {
            let mut buf = seeds[round % seeds.len()].to_vec();
            for _ in 0..(next() % 6) {
                let i = (next() as usize) % (buf.len() + 1);
                let c = alphabet[(next() as usize) % alphabet.len()];
                match next() % 3 {
                    0 if i < buf.len() => buf[i] = c,
                    1 if i < buf.len() => {
                        buf.remove(i);
                    }
                    _ => buf.insert(i.min(buf.len()), c),
                }
            }
            let _ = parse_response(&buf);
            if let Ok(Some(n)) = frame(&buf) {
                let _ = parse_response(&buf[..n]);
            }
        }
    }

    #[test]
    fn strings_are_quoted_or_literal_never_raw() {
        let c = Command::new("UID SEARCH").raw(" SUBJECT").string("a\"b\\c");
        assert_eq!(c.to_bytes("V1"), b"V1 UID SEARCH SUBJECT \"a\\\"b\\\\c\"\r\n");
        // CR/LF cannot break out of the command: it becomes a literal.
        let c = Command::new("UID SEARCH").raw(" SUBJECT").string("x\r\nV2 DELETE INBOX");
        assert_eq!(c.parts.len(), 2);
        assert_eq!(c.parts[1], Part::Literal(b"x\r\nV2 DELETE INBOX".to_vec()));
        assert_eq!(c.to_bytes("V1"), b"V1 UID SEARCH SUBJECT {18+}\r\nx\r\nV2 DELETE INBOX\r\n");
        // Non-ASCII goes as a literal of UTF-8 bytes.
        let c = Command::new("X").string("Grüße");
        assert_eq!(c.parts[1], Part::Literal("Grüße".as_bytes().to_vec()));
        // Mailbox names are modified UTF-7, hence always quotable.
        let c = Command::new("SELECT").mailbox("Entwürfe \"x\"");
        assert_eq!(c.to_bytes("V1"), b"V1 SELECT \"Entw&APw-rfe \\\"x\\\"\"\r\n");
    }

    #[test]
    fn sequence_set_formats() {
        assert_eq!(sequence_set(&[5, 1, 2, 3, 9, 10, 3]), "1:3,5,9:10");
        assert_eq!(sequence_set(&[]), "");
        assert_eq!(sequence_sets(&[1, 2, 3, 5, 9, 10], 100), vec!["1:3,5,9:10".to_string()]);
        assert_eq!(sequence_sets(&[1, 2, 3, 5, 9, 10], 5), vec!["1:3,5".to_string(), "9:10".to_string()]);
        assert!(sequence_sets(&[], 5).is_empty());
        let sparse: Vec<u32> = (0..20_000).map(|i| i * 2 + 1).collect();
        let sets = sequence_sets(&sparse, 8000);
        assert!(sets.len() > 1 && sets.iter().all(|s| s.len() <= 8000));
        let back: Vec<u32> = sets.iter().flat_map(|s| parse_sequence_set(s).unwrap()).collect();
        assert_eq!(back, sparse);
        assert_eq!(parse_sequence_set("1:3,5").unwrap(), vec![1, 2, 3, 5]);
        assert_eq!(parse_sequence_set("5:3").unwrap(), vec![5, 4, 3]);
        assert!(parse_sequence_set("1:*").is_none());
    }

    #[test]
    fn dates() {
        assert_eq!(imap_date(1994, 2, 1), "1-Feb-1994");
        let (t0, off0) = parse_internal_date("05-Mar-2024 09:30:00 -0130").unwrap();
        assert_eq!(format_internal_date(t0, off0), "05-Mar-2024 09:30:00 -0130");
        assert_eq!(format_internal_date(0, 0), "01-Jan-1970 00:00:00 +0000");
        let (t, off) = parse_internal_date("29-Nov-2026 07:00:03 +0100").unwrap();
        assert_eq!(off, 60);
        assert_eq!(t, days_from_civil(2026, 11, 29) * 86400 + 6 * 3600 + 3);
        assert_eq!(crate::model::message::civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }
}
