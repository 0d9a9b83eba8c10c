//! Modified UTF-7 for IMAP mailbox names (RFC 3501 section 5.1.3). Pure functions, no IO.
//!
//! Printable US-ASCII other than `&` stands for itself, `&` is written `&-`, and every other run of characters
//! is `&` + the modified BASE64 (alphabet `A-Za-z0-9+,`, no padding) of its UTF-16BE form + `-`.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn b64_value(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

fn flush_run(out: &mut String, run: &mut Vec<u16>) {
    if run.is_empty() {
        return;
    }
    let bytes: Vec<u8> = run.iter().flat_map(|u| u.to_be_bytes()).collect();
    out.push('&');
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1; // 1 byte -> 2 chars, 2 -> 3, 3 -> 4
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize] as char);
        }
    }
    out.push('-');
    run.clear();
}

/// Encodes a UTF-8 mailbox name into modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    let mut run: Vec<u16> = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush_run(&mut out, &mut run);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush_run(&mut out, &mut run);
    out
}

/// Decodes a modified UTF-7 mailbox name. `None` when the input is not valid modified UTF-7 (a server that
/// sends raw UTF-8 names, or a broken name): callers then use the name as it is.
pub fn decode(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c != b'&' {
            if !(0x20..=0x7e).contains(&c) {
                return None;
            }
            out.push(c as char);
            i += 1;
            continue;
        }
        let end = i + 1 + bytes[i + 1..].iter().position(|&b| b == b'-')?;
        let run = &bytes[i + 1..end];
        i = end + 1;
        if run.is_empty() {
            out.push('&');
            continue;
        }
        let mut bits: u32 = 0;
        let mut nbits = 0;
        let mut data = Vec::with_capacity(run.len() * 3 / 4);
        for &b in run {
            bits = (bits << 6) | b64_value(b)?;
            nbits += 6;
            if nbits >= 8 {
                nbits -= 8;
                data.push((bits >> nbits) as u8);
                bits &= (1 << nbits) - 1;
            }
        }
        // Leftover bits must be zero padding, and the run must hold whole UTF-16 units.
        if bits != 0 || data.len() % 2 != 0 {
            return None;
        }
        let units: Vec<u16> = data.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
        let text = String::from_utf16(&units).ok()?;
        // A run must not encode characters that stand for themselves (RFC 3501: "MUST NOT").
        if text.chars().any(|c| (' '..='~').contains(&c)) {
            return None;
        }
        out.push_str(&text);
    }
    Some(out)
}

/// An IMAP keyword for an Outlook category. Keywords are atoms (no spaces, no `(){%*"\]`, ASCII only), categories
/// are any text: characters that cannot appear in an atom, and `&`, are written as in modified UTF-7
/// (`Red Category` → `Red&ACA-Category`). A category that is already a valid atom stays as it is, so keywords set
/// by other clients (`$label1`, `Project-X`) read back unchanged.
pub fn category_to_keyword(category: &str) -> String {
    let mut out = String::with_capacity(category.len() + 8);
    let mut run: Vec<u16> = Vec::new();
    for c in category.chars() {
        if c.is_ascii() && atom_char(c as u8) && c != '&' {
            flush_run(&mut out, &mut run);
            out.push(c);
        } else if c == '&' && run.is_empty() {
            out.push_str("&-");
        } else {
            let mut units = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush_run(&mut out, &mut run);
    out
}

/// The category a keyword stands for (see [`category_to_keyword`]); a keyword that is not in that form is
/// the category's name as it is.
pub fn keyword_to_category(keyword: &str) -> String {
    decode_keyword(keyword).unwrap_or_else(|| keyword.to_string())
}

fn atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !b"(){%*\"\\]".contains(&b)
}

fn decode_keyword(keyword: &str) -> Option<String> {
    if !keyword.contains('&') {
        return None;
    }
    let bytes = keyword.as_bytes();
    let mut out = String::with_capacity(keyword.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'&' {
            out.push(bytes[i] as char);
            i += 1;
            continue;
        }
        let end = i + 1 + bytes[i + 1..].iter().position(|&b| b == b'-')?;
        let run = &bytes[i + 1..end];
        i = end + 1;
        if run.is_empty() {
            out.push('&');
            continue;
        }
        let mut bits: u32 = 0;
        let mut nbits = 0;
        let mut data = Vec::new();
        for &b in run {
            bits = (bits << 6) | b64_value(b)?;
            nbits += 6;
            if nbits >= 8 {
                nbits -= 8;
                data.push((bits >> nbits) as u8);
                bits &= (1 << nbits) - 1;
            }
        }
        if bits != 0 || data.len() % 2 != 0 {
            return None;
        }
        let units: Vec<u16> = data.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
        out.push_str(&String::from_utf16(&units).ok()?);
    }
    Some(out)
}

/// Decodes a name from the server, keeping it as it is when it is not valid modified UTF-7.
pub fn decode_lossy(name: &str) -> String {
    decode(name).unwrap_or_else(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3501_example() {
        // RFC 3501 5.1.3: "~peter/mail/日本語/台北" (the RFC's Japanese/Chinese example).
        let name = "~peter/mail/\u{65e5}\u{672c}\u{8a9e}/\u{53f0}\u{5317}";
        assert_eq!(encode(name), "~peter/mail/&ZeVnLIqe-/&U,BTFw-");
        assert_eq!(decode("~peter/mail/&ZeVnLIqe-/&U,BTFw-").unwrap(), name);
    }

    #[test]
    fn ampersand_and_ascii() {
        assert_eq!(encode("Tom & Jerry"), "Tom &- Jerry");
        assert_eq!(decode("Tom &- Jerry").unwrap(), "Tom & Jerry");
        assert_eq!(encode("INBOX"), "INBOX");
        assert_eq!(decode("INBOX").unwrap(), "INBOX");
    }

    #[test]
    fn european_and_astral() {
        for name in ["Entwürfe", "Éléments envoyés", "Корзина", "Archiv/2024 ✓", "emoji 😀 box", "ß&ü", "&&"]
        {
            let enc = encode(name);
            assert!(enc.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{enc}");
            assert_eq!(decode(&enc).as_deref(), Some(name), "{enc}");
        }
        assert_eq!(encode("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(encode("😀"), "&2D3eAA-");
    }

    #[test]
    fn category_keywords() {
        for (cat, kw) in [
            ("Red Category", "Red&ACA-Category"),
            ("Project-X", "Project-X"),
            ("$label1", "$label1"),
            ("Tom & Jerry", "Tom&ACAAJgAg-Jerry"),
            ("R&D", "R&-D"),
            ("Grün (wichtig)", "Gr&APw-n&ACAAKA-wichtig&ACk-"),
            ("a\"b\\c]d%e*f{g", "a&ACI-b&AFw-c&AF0-d&ACU-e&ACo-f&AHs-g"),
        ] {
            let enc = category_to_keyword(cat);
            assert_eq!(enc, kw, "{cat}");
            assert!(enc.bytes().all(atom_char), "{enc}");
            assert_eq!(keyword_to_category(&enc), cat);
        }
        // Keywords of other clients read back as they are, even broken ones.
        assert_eq!(keyword_to_category("$Forwarded"), "$Forwarded");
        assert_eq!(keyword_to_category("a&b"), "a&b");
    }

    #[test]
    fn invalid_input() {
        assert_eq!(decode("&ZeVnLIqe"), None); // unterminated
        assert_eq!(decode("&AGE-"), None); // encodes "a", which must stand for itself
        assert_eq!(decode("&Zé-"), None);
        assert_eq!(decode("caf\u{e9}"), None); // raw 8-bit
        assert_eq!(decode_lossy("caf\u{e9}"), "caf\u{e9}");
        assert_eq!(decode("&2D0-"), None); // lone surrogate
    }
}
