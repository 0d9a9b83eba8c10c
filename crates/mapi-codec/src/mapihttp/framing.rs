//! The text prelude in front of every MAPI/HTTP response body (MS-OXCMAPIHTTP
//! 2.2.7 response meta-tags and 2.2.3.3 additional headers): meta-tag lines
//! (`PROCESSING`, any number of `PENDING`, then `DONE`), each ending in CRLF,
//! then `Name: value` header lines (X-StartTime, X-ElapsedTime, ...), an empty
//! line, and only then the binary response body.

use crate::error::{Error, Result};

/// Largest prelude accepted by [`split_response`].
pub const MAX_PRELUDE: usize = 64 * 1024;

/// The parsed prelude of a response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Prelude {
    /// Meta-tags in order, the final `DONE` included.
    pub meta_tags: Vec<String>,
    /// Additional headers as (name, value), value with surrounding spaces trimmed.
    pub headers: Vec<(String, String)>,
}

/// Splits a response into its prelude and the binary body that follows.
pub fn split_response(buf: &[u8]) -> Result<(Prelude, &[u8])> {
    let mut pos = 0;
    let mut prelude = Prelude::default();
    let mut in_headers = false;
    loop {
        if pos > MAX_PRELUDE {
            return Err(Error::TooLarge { what: "MAPI/HTTP response prelude", len: pos, max: MAX_PRELUDE });
        }
        let rest = &buf[pos..];
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or(Error::Truncated { needed: rest.len() + 2, remaining: rest.len() })?;
        let line = &rest[..end];
        pos += end + 2;
        if !line.is_ascii() {
            return Err(Error::Invalid { what: "non-ASCII prelude line", value: pos as u64 });
        }
        let line = String::from_utf8_lossy(line).into_owned();
        if !in_headers {
            let done = line == "DONE";
            prelude.meta_tags.push(line);
            if done {
                in_headers = true;
            }
            if prelude.meta_tags.len() > 4096 {
                return Err(Error::TooLarge { what: "meta-tag lines", len: prelude.meta_tags.len(), max: 4096 });
            }
        } else if line.is_empty() {
            return Ok((prelude, &buf[pos..]));
        } else {
            let (name, value) = line
                .split_once(':')
                .ok_or(Error::Invalid { what: "additional header without colon", value: pos as u64 })?;
            prelude.headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
}

/// Writes the opening meta-tag (`PROCESSING\r\n`), sent as soon as a request is accepted.
pub fn processing() -> &'static [u8] {
    b"PROCESSING\r\n"
}

/// Writes a keep-alive meta-tag (`PENDING\r\n`).
pub fn pending() -> &'static [u8] {
    b"PENDING\r\n"
}

/// Writes `DONE`, the additional headers and the empty line that precede the body.
pub fn done(headers: &[(&str, &str)]) -> Result<Vec<u8>> {
    let mut v = b"DONE\r\n".to_vec();
    for (n, val) in headers {
        if !n.is_ascii() || !val.is_ascii() || n.contains(['\r', '\n', ':']) || val.contains(['\r', '\n']) {
            return Err(Error::Invalid { what: "additional header", value: 0 });
        }
        v.extend_from_slice(n.as_bytes());
        v.extend_from_slice(b": ");
        v.extend_from_slice(val.as_bytes());
        v.extend_from_slice(b"\r\n");
    }
    v.extend_from_slice(b"\r\n");
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prelude_round_trip() {
        let mut b = processing().to_vec();
        b.extend_from_slice(pending());
        b.extend(done(&[("X-ElapsedTime", "2"), ("X-StartTime", "Sun, 29 Nov 2026 07:00:00 GMT")]).unwrap());
        b.extend_from_slice(&[0, 0, 0, 0, 0xAB]);
        let (p, body) = split_response(&b).unwrap();
        assert_eq!(p.meta_tags, ["PROCESSING", "PENDING", "DONE"]);
        assert_eq!(p.headers[0], ("X-ElapsedTime".into(), "2".into()));
        assert_eq!(p.headers[1].1, "Sun, 29 Nov 2026 07:00:00 GMT");
        assert_eq!(body, &[0, 0, 0, 0, 0xAB]);
        assert!(split_response(b"PROCESSING\r\nDONE\r\nX: 1\r\n").is_err());
        assert!(split_response(b"DONE\r\nbad header\r\n\r\n").is_err());
        assert!(done(&[("X-Evil", "a\r\nb")]).is_err());
    }
}
