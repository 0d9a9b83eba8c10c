//! ROP input and output buffers (MS-OXCROPS 2.2.1): RopSize (2 bytes, counting
//! itself and the RopsList), RopsList, then the ServerObjectHandleTable (4 bytes
//! per handle) filling the rest of the buffer.

use super::{ColumnSourceRef, RopContext, RopRequest, RopResponse};
use crate::cursor::{Reader, Writer};
use crate::error::{Error, Result};

/// Why request parsing stopped before the end of RopsList.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseStop {
    /// Offset of the failing ROP within RopsList.
    pub offset: usize,
    /// Its RopId byte.
    pub rop_id: u8,
    /// The second and third bytes of the failing ROP (LogonId and, for most
    /// ROPs, InputHandleIndex), when present; enough for an error response.
    pub logon_id: Option<u8>,
    pub handle_index: Option<u8>,
    pub error: Error,
    /// The unparsed bytes of RopsList from the failing ROP on.
    pub remaining: Vec<u8>,
}

impl ParseStop {
    /// The generic failure response for the ROP that could not be decoded
    /// (RopId, the byte in the handle-index position, `return_value`), e.g.
    /// with ecNotSupported (0x80040102) for an unknown RopId.
    pub fn error_response(&self, return_value: u32) -> RopResponse {
        RopResponse::error(self.rop_id, self.handle_index.unwrap_or(0), return_value)
    }
}

/// A decoded ROP request buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct RopRequestBuffer {
    pub rops: Vec<RopRequest>,
    pub handles: Vec<u32>,
    /// Set when a ROP could not be decoded (unknown RopId or malformed); the ROPs
    /// before it are in `rops`. Nothing after it can be parsed.
    pub stopped: Option<ParseStop>,
}

/// Largest ROP count accepted from one buffer (each ROP is at least 3 bytes).
pub const MAX_HANDLES: usize = 256;

fn split(buf: &[u8]) -> Result<(&[u8], Vec<u32>)> {
    let mut r = Reader::new(buf);
    let rop_size = r.u16()? as usize;
    if rop_size < 2 {
        return Err(Error::Invalid { what: "RopSize", value: rop_size as u64 });
    }
    let list = r.bytes(rop_size - 2)?;
    let rest = r.rest();
    if !rest.len().is_multiple_of(4) {
        return Err(Error::Invalid { what: "ServerObjectHandleTable length", value: rest.len() as u64 });
    }
    if rest.len() / 4 > MAX_HANDLES {
        return Err(Error::TooLarge { what: "ServerObjectHandleTable", len: rest.len() / 4, max: MAX_HANDLES });
    }
    let handles = rest.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    Ok((list, handles))
}

fn join(list: &[u8], handles: &[u32]) -> Result<Vec<u8>> {
    let mut w = Writer::with_capacity(2 + list.len() + handles.len() * 4);
    w.len16(list.len() + 2, "RopSize")?;
    w.bytes(list);
    for h in handles {
        w.u32(*h);
    }
    Ok(w.into_vec())
}

impl RopRequestBuffer {
    /// Decodes a request buffer. Framing errors (bad RopSize, ragged handle
    /// table) fail the whole call; a ROP that cannot be decoded ends the ROP list
    /// and is reported in [`RopRequestBuffer::stopped`].
    pub fn decode(buf: &[u8], ctx: &RopContext) -> Result<Self> {
        let (list, handles) = split(buf)?;
        let mut r = Reader::new(list);
        let mut rops = Vec::new();
        let mut stopped = None;
        while !r.is_empty() {
            let offset = r.position();
            let mut attempt = r.clone();
            match RopRequest::decode(&mut attempt, ctx) {
                Ok(rop) => {
                    rops.push(rop);
                    r = attempt;
                }
                Err(error) => {
                    let rest = r.peek_rest();
                    stopped = Some(ParseStop {
                        offset,
                        rop_id: rest[0],
                        logon_id: rest.get(1).copied(),
                        handle_index: rest.get(2).copied(),
                        error,
                        remaining: rest.to_vec(),
                    });
                    break;
                }
            }
        }
        Ok(RopRequestBuffer { rops, handles, stopped })
    }

    /// Like [`RopRequestBuffer::decode`] but any undecodable ROP is an error.
    pub fn decode_strict(buf: &[u8], ctx: &RopContext) -> Result<Self> {
        let b = Self::decode(buf, ctx)?;
        match b.stopped {
            Some(s) => Err(s.error),
            None => Ok(b),
        }
    }

    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut w = Writer::new();
        for rop in &self.rops {
            rop.encode(&mut w)?;
        }
        if let Some(s) = &self.stopped {
            w.bytes(&s.remaining);
        }
        join(w.as_slice(), &self.handles)
    }
}

/// A ROP response buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct RopResponseBuffer {
    pub rops: Vec<RopResponse>,
    pub handles: Vec<u32>,
}

impl RopResponseBuffer {
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut w = Writer::new();
        for rop in &self.rops {
            rop.encode(&mut w)?;
        }
        join(w.as_slice(), &self.handles)
    }

    /// Decodes a response buffer. RopBufferTooSmall consumes the rest of
    /// RopsList (its RequestBuffers field runs to the end by definition).
    pub fn decode(buf: &[u8], cols: ColumnSourceRef<'_>) -> Result<Self> {
        let (list, handles) = split(buf)?;
        let mut r = Reader::new(list);
        let mut rops = Vec::new();
        while !r.is_empty() {
            rops.push(RopResponse::decode(&mut r, cols)?);
        }
        Ok(RopResponseBuffer { rops, handles })
    }

    /// Size of the encoded buffer, for checking against the client's limit.
    pub fn encoded_len(&self) -> Result<usize> {
        Ok(self.encode()?.len())
    }
}
