//! Streaming the content of large file attachments in GetAttachment (MS-OXWSATT 3.1.4.3) instead of holding them
//! in memory.
//!
//! How it works: `ops::items::get_attachment` resolves every requested id first (id, mailbox, folder, UID, the
//! part from `BODYSTRUCTURE`, its decoded size from `BINARY.SIZE`) and, for a file attachment of at least
//! [`STREAM_THRESHOLD`] encoded bytes, writes its `t:FileAttachment` with a *marker* in place of the `t:Content`
//! text and records a [`Deferred`] in the context. The response envelope is then rendered as usual (all response
//! messages, errors included) and split at the markers ([`split_at_markers`]); the HTTP body is the segments with,
//! in place of each marker, the part fetched from IMAP in chunks of [`CHUNK`] bytes
//! (`UID FETCH uid BINARY.PEEK[section]<offset.length>`, RFC 3516) and base64-encoded chunk by chunk
//! ([`Base64Stream`]). Memory per download is bounded by the chunk size, whatever the attachment's size.
//!
//! Errors: everything that can turn into an EWS error is decided before the first byte is sent (so a bad or
//! tampered id, a missing part, a changed folder still answer `ErrorInvalidIdMalformed`,
//! `ErrorInvalidAttachmentId`, `ErrorItemNotFound` in an HTTP 200 response as before). Once the body has
//! started, a failure of the IMAP server (connection lost, the message expunged under us, fewer bytes than
//! `BINARY.SIZE` said) cannot become an EWS error any more: the body is *aborted* (the chunked transfer ends
//! without its last chunk and the connection is closed), so the client sees a failed download, never a
//! well-formed response with wrong content.
//!
//! The encoding and the splitting are pure functions; the only I/O is [`MailStore::fetch_part_range`].

use std::collections::VecDeque;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

use super::imap_store::ImapStore;
use super::store::MailStore;
use crate::server::{Body, BoxError};

/// File attachments whose encoded part is at least this large are streamed.
pub const STREAM_THRESHOLD: u64 = 1024 * 1024;
/// Bytes fetched from IMAP per round trip: a multiple of 3, so that each chunk's base64 stands on its own.
pub const CHUNK: u32 = 192 * 1024;

/// A `t:Content` whose text is streamed: the marker that stands for it in the rendered response, and where the
/// part is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferred {
    pub marker: String,
    pub folder: String,
    pub uid_validity: u32,
    pub uid: u32,
    /// The IMAP section of the part (`[3, 1]` for `3.1`).
    pub section: Vec<u32>,
    /// Decoded size (`BINARY.SIZE`): how many bytes the stream must deliver.
    pub size: u64,
}

/// A marker that cannot occur in rendered XML otherwise: XML text and attribute values never contain U+0001
/// (the writer escapes what it writes, and control characters are not allowed in XML 1.0), and the random part
/// keeps two requests' markers apart.
pub fn new_marker(n: usize) -> String {
    format!("\u{1}viaduc-content-{:032x}-{n}\u{1}", rand::random::<u128>())
}

/// Base64 (RFC 4648 section 4, padded) of a byte stream that arrives in pieces of any length: whole 3-byte
/// groups are encoded as they come, up to two bytes wait for the next piece, and [`Base64Stream::finish`]
/// encodes (and pads) the rest. The concatenation of the output equals the base64 of the whole stream.
#[derive(Debug, Default)]
pub struct Base64Stream {
    carry: Vec<u8>,
    /// Bytes consumed so far.
    pub total: u64,
}

impl Base64Stream {
    /// Encodes what it can of `data` (after what was carried over) and appends it to `out`.
    pub fn push(&mut self, data: &[u8], out: &mut String) {
        use base64::Engine as _;
        self.total += data.len() as u64;
        let mut data = data;
        if !self.carry.is_empty() {
            let need = 3 - self.carry.len();
            let take = need.min(data.len());
            self.carry.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.carry.len() < 3 {
                return;
            }
            base64::engine::general_purpose::STANDARD.encode_string(&self.carry, out);
            self.carry.clear();
        }
        let whole = data.len() / 3 * 3;
        base64::engine::general_purpose::STANDARD.encode_string(&data[..whole], out);
        self.carry.extend_from_slice(&data[whole..]);
    }

    /// Encodes the last 0–2 bytes, with padding.
    pub fn finish(self, out: &mut String) {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode_string(&self.carry, out);
    }
}

/// The rendered response split at the markers, in order: `deferred.len() + 1` segments, or `None` when a marker
/// is missing (a bug: then the caller must not stream).
pub fn split_at_markers(body: &str, deferred: &[Deferred]) -> Option<Vec<Bytes>> {
    let mut out = Vec::with_capacity(deferred.len() + 1);
    let mut rest = body;
    for d in deferred {
        let at = rest.find(&d.marker)?;
        out.push(Bytes::copy_from_slice(rest[..at].as_bytes()));
        rest = &rest[at + d.marker.len()..];
    }
    out.push(Bytes::copy_from_slice(rest.as_bytes()));
    Some(out)
}

/// The next chunk to fetch of a part of `size` bytes when `done` were delivered: (offset, length), or `None` at
/// the end. Lengths are [`CHUNK`] (a multiple of 3) except the last.
pub fn next_chunk(done: u64, size: u64) -> Option<(u64, u32)> {
    (done < size).then(|| (done, (size - done).min(u64::from(CHUNK)) as u32))
}

/// Why a stream stopped early.
fn failure(d: &Deferred, what: String) -> BoxError {
    tracing::warn!(folder = %d.folder, uid = d.uid, section = ?d.section, "GetAttachment stream aborted: {what}");
    what.into()
}

/// Fetches the next chunk of `d` after `enc.total` bytes and returns its base64 (with the final padding when it
/// was the last), or why the stream cannot go on. An empty string means the part is complete.
async fn step<S: MailStore>(store: &mut S, d: &Deferred, enc: &mut Base64Stream) -> Result<Option<String>, BoxError> {
    let Some((offset, len)) = next_chunk(enc.total, d.size) else { return Ok(None) };
    let chunk = match store.fetch_part_range(&d.folder, d.uid_validity, d.uid, &d.section, offset, len).await {
        Ok(Some(c)) if !c.is_empty() => c,
        Ok(_) => return Err(failure(d, format!("part ended at {offset} of {} bytes", d.size))),
        Err(e) => return Err(failure(d, format!("IMAP: {e}"))),
    };
    // Never more than the size announced in t:Size.
    let chunk = &chunk[..chunk.len().min(len as usize)];
    let mut out = String::with_capacity(chunk.len().div_ceil(3) * 4 + 4);
    enc.push(chunk, &mut out);
    Ok(Some(out))
}

/// The whole content of `d`, base64-encoded, appended to `out`: for stores and tests that answer in one piece
/// ([`crate::ews::process`]). The same chunking as the stream.
pub async fn fill<S: MailStore>(store: &mut S, d: &Deferred, out: &mut String) -> Result<(), BoxError> {
    let mut enc = Base64Stream::default();
    while let Some(s) = step(store, d, &mut enc).await? {
        out.push_str(&s);
    }
    enc.finish(out);
    Ok(())
}

/// `segments` interleaved with the deferred contents, fetched from IMAP and encoded as the client reads.
pub fn body(store: ImapStore, segments: Vec<Bytes>, deferred: Vec<Deferred>) -> Body {
    struct State {
        store: ImapStore,
        segments: VecDeque<Bytes>,
        deferred: VecDeque<Deferred>,
        current: Option<(Deferred, Base64Stream)>,
        failed: bool,
    }
    let state = State { store, segments: segments.into(), deferred: deferred.into(), current: None, failed: false };
    let frames = futures_util::stream::unfold(state, |mut st| async move {
        if st.failed {
            return None;
        }
        if let Some((d, mut enc)) = st.current.take() {
            return match step(&mut st.store, &d, &mut enc).await {
                Ok(Some(text)) => {
                    st.current = Some((d, enc));
                    Some((Ok(Frame::data(Bytes::from(text))), st))
                }
                Ok(None) => {
                    // The last bytes with their padding, then the XML that follows.
                    let mut text = String::new();
                    enc.finish(&mut text);
                    let next = st.segments.pop_front().unwrap_or_default();
                    st.current = st.deferred.pop_front().map(|d| (d, Base64Stream::default()));
                    let mut b = bytes::BytesMut::with_capacity(text.len() + next.len());
                    b.extend_from_slice(text.as_bytes());
                    b.extend_from_slice(&next);
                    Some((Ok(Frame::data(b.freeze())), st))
                }
                Err(e) => {
                    st.failed = true;
                    Some((Err(e), st))
                }
            };
        }
        let seg = st.segments.pop_front()?;
        st.current = st.deferred.pop_front().map(|d| (d, Base64Stream::default()));
        Some((Ok(Frame::data(seg)), st))
    });
    BodyExt::boxed(StreamBody::new(frames))
}

/// The HTTP response of a GetAttachment with streamed contents.
pub fn response(body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/xml; charset=utf-8"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn base64_in_pieces_equals_base64_of_the_whole() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let whole = base64::engine::general_purpose::STANDARD.encode(&data);
        for sizes in [vec![1], vec![2], vec![3], vec![4, 5], vec![CHUNK as usize], vec![1, 2, 3, 7, 11]] {
            let mut enc = Base64Stream::default();
            let mut out = String::new();
            let mut at = 0;
            let mut i = 0;
            while at < data.len() {
                let n = sizes[i % sizes.len()].min(data.len() - at);
                enc.push(&data[at..at + n], &mut out);
                at += n;
                i += 1;
            }
            assert_eq!(enc.total, data.len() as u64);
            enc.finish(&mut out);
            assert_eq!(out, whole, "{sizes:?}");
        }
        // Chunks that are multiples of 3 never carry anything over: each chunk's output is complete base64.
        let mut enc = Base64Stream::default();
        let mut out = String::new();
        enc.push(&data[..999], &mut out);
        assert_eq!(out.len(), 999 / 3 * 4);
        assert!(enc.carry.is_empty());
        let mut empty = String::new();
        Base64Stream::default().finish(&mut empty);
        assert_eq!(empty, "");
    }

    #[test]
    fn chunks_cover_the_part_in_multiples_of_three() {
        assert_eq!(CHUNK % 3, 0);
        let size = u64::from(CHUNK) * 2 + 5;
        let mut done = 0;
        let mut got = Vec::new();
        while let Some((off, len)) = next_chunk(done, size) {
            assert_eq!(off, done);
            got.push(len);
            done += u64::from(len);
        }
        assert_eq!(got, vec![CHUNK, CHUNK, 5]);
        assert_eq!(next_chunk(0, 0), None);
    }

    /// A part that ends before the size announced (or a store that fails) stops the stream with an error, never
    /// with short content that would look complete.
    #[tokio::test]
    async fn a_short_part_fails_the_stream() {
        let mut store = crate::ews::store::MemStore::standard();
        let raw = b"Subject: x\r\nContent-Type: application/octet-stream\r\n\r\n0123456789";
        let uid = store.add_message("INBOX", Default::default(), raw);
        let uv = store.folders["INBOX"].info.uid_validity;
        let mut d = Deferred {
            marker: new_marker(0),
            folder: "INBOX".into(),
            uid_validity: uv,
            uid,
            section: vec![1],
            size: 10,
        };
        let mut out = String::new();
        fill(&mut store, &d, &mut out).await.unwrap();
        assert_eq!(out, base64::engine::general_purpose::STANDARD.encode(b"0123456789"));
        d.size = 11;
        assert!(fill(&mut store, &d, &mut String::new()).await.is_err());
        d.size = 10;
        d.uid += 1;
        assert!(fill(&mut store, &d, &mut String::new()).await.is_err());
    }

    #[test]
    fn split_at_markers_in_order() {
        let d = |m: &str| Deferred {
            marker: m.to_string(),
            folder: String::new(),
            uid_validity: 0,
            uid: 0,
            section: vec![1],
            size: 0,
        };
        let (a, b) = (new_marker(0), new_marker(1));
        assert_ne!(a, b);
        let body = format!("<x>{a}</x><y>{b}</y>");
        let parts = split_at_markers(&body, &[d(&a), d(&b)]).unwrap();
        assert_eq!(parts, vec![Bytes::from("<x>"), Bytes::from("</x><y>"), Bytes::from("</y>")]);
        assert!(split_at_markers("<x/>", &[d(&a)]).is_none());
    }
}
