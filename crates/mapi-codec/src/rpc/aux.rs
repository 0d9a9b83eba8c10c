//! Auxiliary buffers (MS-OXCRPC 2.2.2.2): a sequence of AUX_HEADER blocks, each
//! Size (2, header included), Version (1), Type (1), then the block payload.
//! Unknown block types are kept as raw bytes so they can be skipped safely.

use crate::cursor::{Reader, Writer};
use crate::error::{Error, Result};

/// AUX_HEADER Version 1.
pub const AUX_VERSION_1: u8 = 0x01;
/// AUX_HEADER Version 2.
pub const AUX_VERSION_2: u8 = 0x02;

/// Some AUX_HEADER Type values (MS-OXCRPC 2.2.2.2).
pub mod aux_type {
    pub const PERF_REQUESTID: u8 = 0x01;
    pub const PERF_CLIENTDESC: u8 = 0x02;
    pub const PERF_SERVERINFO: u8 = 0x03;
    pub const PERF_SESSIONINFO: u8 = 0x04;
    pub const PERF_DEFMDB_SUCCESS: u8 = 0x05;
    pub const PERF_DEFGC_SUCCESS: u8 = 0x06;
    pub const PERF_MDB_SUCCESS: u8 = 0x07;
    pub const PERF_GC_SUCCESS: u8 = 0x08;
    pub const PERF_FAILURE: u8 = 0x09;
    pub const CLIENT_CONTROL: u8 = 0x0A;
    pub const PERF_PROCESSINFO: u8 = 0x0B;
    pub const PERF_BG_DEFMDB_SUCCESS: u8 = 0x0C;
    pub const PERF_BG_DEFGC_SUCCESS: u8 = 0x0D;
    pub const PERF_BG_MDB_SUCCESS: u8 = 0x0E;
    pub const PERF_BG_GC_SUCCESS: u8 = 0x0F;
    pub const PERF_BG_FAILURE: u8 = 0x10;
    pub const PERF_FG_DEFMDB_SUCCESS: u8 = 0x11;
    pub const PERF_FG_DEFGC_SUCCESS: u8 = 0x12;
    pub const PERF_FG_MDB_SUCCESS: u8 = 0x13;
    pub const PERF_FG_GC_SUCCESS: u8 = 0x14;
    pub const PERF_FG_FAILURE: u8 = 0x15;
    pub const OSVERSIONINFO: u8 = 0x16;
    pub const EXORGINFO: u8 = 0x17;
    pub const PERF_ACCOUNTINFO: u8 = 0x18;
    pub const ENDPOINT_CAPABILITIES: u8 = 0x48;
    pub const EXCEPTION_TRACE: u8 = 0x49;
    pub const CLIENT_CONNECTION_INFO: u8 = 0x4A;
    pub const SERVER_SESSION_INFO: u8 = 0x4B;
    pub const PROTOCOL_DEVICE_IDENTIFICATION: u8 = 0x4E;
}

/// One AUX block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuxBlock {
    pub version: u8,
    pub aux_type: u8,
    /// The block bytes after the 4-byte AUX_HEADER.
    pub payload: Vec<u8>,
}

/// AUX_ENDPOINT_CAPABILITIES EndpointCapabilityFlag: the EMSMDB and NSPI
/// services share one endpoint.
pub const ENDPOINT_CAPABILITY_SINGLE_ENDPOINT: u32 = 0x0000_0001;

impl AuxBlock {
    /// An AUX_ENDPOINT_CAPABILITIES block (version 1) with the given flags.
    pub fn endpoint_capabilities(flags: u32) -> Self {
        AuxBlock {
            version: AUX_VERSION_1,
            aux_type: aux_type::ENDPOINT_CAPABILITIES,
            payload: flags.to_le_bytes().to_vec(),
        }
    }

    /// For AUX_TYPE_PERF_REQUESTID (SessionID, RequestID) blocks: the two ids.
    pub fn request_id(&self) -> Option<(u16, u16)> {
        if self.aux_type != aux_type::PERF_REQUESTID || self.payload.len() < 4 {
            return None;
        }
        let p = &self.payload;
        Some((u16::from_le_bytes([p[0], p[1]]), u16::from_le_bytes([p[2], p[3]])))
    }
}

/// Decodes every AUX block in `buf` (the payload after the RPC_HEADER_EXT).
pub fn decode_aux_blocks(buf: &[u8]) -> Result<Vec<AuxBlock>> {
    let mut r = Reader::new(buf);
    let mut out = Vec::new();
    while !r.is_empty() {
        let size = r.u16()? as usize;
        if size < 4 {
            return Err(Error::Invalid { what: "AUX_HEADER size", value: size as u64 });
        }
        let version = r.u8()?;
        let aux_type = r.u8()?;
        let payload = r.bytes(size - 4)?.to_vec();
        out.push(AuxBlock { version, aux_type, payload });
    }
    Ok(out)
}

/// Encodes AUX blocks back to back.
pub fn encode_aux_blocks(blocks: &[AuxBlock]) -> Result<Vec<u8>> {
    let mut w = Writer::new();
    for b in blocks {
        w.len16(b.payload.len() + 4, "AUX block")?;
        w.u8(b.version);
        w.u8(b.aux_type);
        w.bytes(&b.payload);
    }
    Ok(w.into_vec())
}

/// Decodes a full auxiliary buffer: RPC_HEADER_EXT chain, then AUX blocks.
/// An empty buffer means no auxiliary data.
pub fn decode_aux_buffer(buf: &[u8]) -> Result<Vec<AuxBlock>> {
    if buf.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for seg in super::decode_chain(buf)? {
        out.extend(decode_aux_blocks(&seg.payload)?);
    }
    Ok(out)
}

/// Encodes a full auxiliary buffer (single segment). No blocks → empty buffer.
pub fn encode_aux_buffer(blocks: &[AuxBlock], opts: super::EncodeOptions) -> Result<Vec<u8>> {
    if blocks.is_empty() {
        return Ok(Vec::new());
    }
    let payload = encode_aux_blocks(blocks)?;
    super::encode_chain(&[&payload], opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aux_round_trip_and_skip_unknown() {
        let blocks = vec![
            AuxBlock { version: 1, aux_type: aux_type::PERF_REQUESTID, payload: vec![1, 0, 2, 0] },
            AuxBlock { version: 1, aux_type: 0xEE, payload: vec![9; 7] },
        ];
        let b = encode_aux_buffer(&blocks, Default::default()).unwrap();
        let d = decode_aux_buffer(&b).unwrap();
        assert_eq!(d, blocks);
        assert_eq!(d[0].request_id(), Some((1, 2)));
        assert!(decode_aux_blocks(&[2, 0, 1, 1]).is_err());
        assert!(decode_aux_blocks(&[9, 0, 1, 1, 0]).is_err());
    }
}
