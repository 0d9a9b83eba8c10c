//! MS-OXCRPC extended buffers: RPC_HEADER_EXT chains (MS-OXCRPC 2.2.2.1),
//! XOR obfuscation (3.1.4.1.1.3), LZ77 compression (3.1.4.1.1.2, MS-XCA) and
//! auxiliary buffers (2.2.2.2).
//!
//! The same extended-buffer format carries ROP buffers in EMSMDB Execute
//! (MS-OXCMAPIHTTP 2.2.4.2) and the AUX payloads of every MAPI/HTTP request.

pub mod aux;
pub mod lz77;

use crate::cursor::{Reader, Writer};
use crate::error::{Error, Result};

/// RPC_HEADER_EXT flag: the payload is LZ77-compressed.
pub const FLAG_COMPRESSED: u16 = 0x0001;
/// RPC_HEADER_EXT flag: the payload is XORed with 0xA5.
pub const FLAG_XOR_MAGIC: u16 = 0x0002;
/// RPC_HEADER_EXT flag: no further header follows this payload.
pub const FLAG_LAST: u16 = 0x0004;

/// The obfuscation byte (MS-OXCRPC 3.1.4.1.1.3).
pub const XOR_MAGIC: u8 = 0xA5;

/// Largest total decoded size accepted from one extended-buffer chain.
pub const MAX_CHAIN_OUTPUT: usize = 64 * 1024 * 1024;

/// RPC_HEADER_EXT (MS-OXCRPC 2.2.2.1): Version, Flags, Size, SizeActual (2 bytes each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcHeaderExt {
    pub version: u16,
    pub flags: u16,
    /// Size of the payload on the wire (after compression).
    pub size: u16,
    /// Size of the payload once decompressed.
    pub size_actual: u16,
}

impl RpcHeaderExt {
    pub const SIZE: usize = 8;
    pub fn decode(r: &mut Reader) -> Result<Self> {
        Ok(RpcHeaderExt { version: r.u16()?, flags: r.u16()?, size: r.u16()?, size_actual: r.u16()? })
    }
    pub fn encode(&self, w: &mut Writer) {
        w.u16(self.version);
        w.u16(self.flags);
        w.u16(self.size);
        w.u16(self.size_actual);
    }
    pub fn is_last(&self) -> bool {
        self.flags & FLAG_LAST != 0
    }
}

/// XORs every byte with 0xA5 (the operation is its own inverse).
pub fn xor_obfuscate(data: &mut [u8]) {
    for b in data {
        *b ^= XOR_MAGIC;
    }
}

/// One decoded segment of an extended buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub header: RpcHeaderExt,
    /// The payload after de-obfuscation and decompression (SizeActual bytes).
    pub payload: Vec<u8>,
}

/// Decodes one header and its payload, undoing obfuscation and compression.
pub fn decode_segment(r: &mut Reader) -> Result<Segment> {
    let header = RpcHeaderExt::decode(r)?;
    if header.version != 0 {
        return Err(Error::Invalid { what: "RPC_HEADER_EXT version", value: header.version as u64 });
    }
    if header.flags & !(FLAG_COMPRESSED | FLAG_XOR_MAGIC | FLAG_LAST) != 0 {
        return Err(Error::Invalid { what: "RPC_HEADER_EXT flags", value: header.flags as u64 });
    }
    let mut data = r.bytes(header.size as usize)?.to_vec();
    if header.flags & FLAG_XOR_MAGIC != 0 {
        xor_obfuscate(&mut data);
    }
    let payload = if header.flags & FLAG_COMPRESSED != 0 {
        let out = lz77::decompress(&data, header.size_actual as usize)?;
        if out.len() != header.size_actual as usize {
            return Err(Error::Decompress("decompressed size differs from SizeActual"));
        }
        out
    } else {
        if header.size != header.size_actual {
            return Err(Error::Invalid {
                what: "SizeActual of uncompressed payload",
                value: header.size_actual as u64,
            });
        }
        data
    };
    Ok(Segment { header, payload })
}

/// Decodes a chain of RPC_HEADER_EXT segments up to and including the one
/// flagged Last. Bytes after the Last segment are an error.
pub fn decode_chain(buf: &[u8]) -> Result<Vec<Segment>> {
    let mut r = Reader::new(buf);
    let mut out = Vec::new();
    let mut total = 0usize;
    loop {
        let seg = decode_segment(&mut r)?;
        total += seg.payload.len();
        if total > MAX_CHAIN_OUTPUT {
            return Err(Error::TooLarge { what: "extended buffer chain", len: total, max: MAX_CHAIN_OUTPUT });
        }
        let last = seg.header.is_last();
        out.push(seg);
        if last {
            break;
        }
        if r.is_empty() {
            return Err(Error::Invalid { what: "extended buffer chain without Last flag", value: 0 });
        }
    }
    r.finish()?;
    Ok(out)
}

/// Options for encoding a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncodeOptions {
    /// Try LZ77; the Compressed flag is set only if it makes the payload smaller.
    pub compress: bool,
    /// Obfuscate with XorMagic.
    pub xor: bool,
}

/// Encodes one header + payload. `last` sets the Last flag. The payload must
/// be at most 0xFFFF bytes.
pub fn encode_segment(w: &mut Writer, payload: &[u8], opts: EncodeOptions, last: bool) -> Result<()> {
    let size_actual = u16::try_from(payload.len())
        .map_err(|_| Error::EncodeOverflow { what: "RPC_HEADER_EXT payload", len: payload.len() })?;
    let mut flags = if last { FLAG_LAST } else { 0 };
    let mut data = payload.to_vec();
    if opts.compress {
        let c = lz77::compress(payload);
        if c.len() < payload.len() {
            data = c;
            flags |= FLAG_COMPRESSED;
        }
    }
    if opts.xor {
        xor_obfuscate(&mut data);
        flags |= FLAG_XOR_MAGIC;
    }
    RpcHeaderExt { version: 0, flags, size: data.len() as u16, size_actual }.encode(w);
    w.bytes(&data);
    Ok(())
}

/// Encodes a chain of segments, the final one flagged Last.
pub fn encode_chain(payloads: &[&[u8]], opts: EncodeOptions) -> Result<Vec<u8>> {
    let mut w = Writer::new();
    if payloads.is_empty() {
        encode_segment(&mut w, &[], opts, true)?;
    }
    for (i, p) in payloads.iter().enumerate() {
        encode_segment(&mut w, p, opts, i + 1 == payloads.len())?;
    }
    Ok(w.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_round_trip() {
        let a = b"hello hello hello hello hello".to_vec();
        let b = vec![7u8; 1000];
        for compress in [false, true] {
            for xor in [false, true] {
                let buf = encode_chain(&[&a, &b], EncodeOptions { compress, xor }).unwrap();
                let segs = decode_chain(&buf).unwrap();
                assert_eq!(segs.len(), 2);
                assert_eq!(segs[0].payload, a);
                assert_eq!(segs[1].payload, b);
                assert!(!segs[0].header.is_last() && segs[1].header.is_last());
                assert_eq!(segs[1].header.flags & FLAG_COMPRESSED != 0, compress);
            }
        }
    }

    #[test]
    fn rejects_bad_headers() {
        assert!(decode_chain(&[1, 0, 4, 0, 0, 0, 0, 0]).is_err());
        assert!(decode_chain(&[0, 0, 4, 0, 2, 0, 3, 0, 1, 2]).is_err());
        assert!(decode_chain(&[0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(decode_chain(&[0, 0, 4, 0, 0, 0, 0, 0, 9]).is_err());
        assert_eq!(decode_chain(&[0, 0, 4, 0, 0, 0, 0, 0]).unwrap()[0].payload, b"");
        // Compressed flag with bogus data.
        assert!(decode_chain(&[0, 0, 5, 0, 2, 0, 10, 0, 0xFF, 0xFF]).is_err());
    }
}
