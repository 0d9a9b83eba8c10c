//! Sans-IO codec for the MAPI wire formats Outlook speaks to Viaduc.
//!
//! Nothing here does I/O: every function turns bytes into typed structures or
//! back. All decoders return [`Result`] with a typed [`Error`] and never panic,
//! whatever the input; counts and lengths read from the wire are checked against
//! the remaining input (and explicit caps) before anything is allocated, and
//! recursive structures have a depth cap.
//!
//! Modules:
//! - [`cursor`]: the little-endian [`Reader`]/[`Writer`] primitives.
//! - [`oxcdata`]: MS-OXCDATA property tags/values, rows, restrictions, sort
//!   orders, ids and EntryIDs.
//! - [`rpc`]: MS-OXCRPC RPC_HEADER_EXT chains with XOR obfuscation and
//!   MS-XCA plain LZ77 compression ([`lz77`]), and AUX buffers ([`aux`]).
//! - [`rops`]: MS-OXCROPS ROP request/response structures and ROP buffers.
//! - [`mapihttp`]: MS-OXCMAPIHTTP EMSMDB and NSPI request/response bodies.
//! - [`idset`]: MS-OXCFXICS IDSETs and GLOBSET encoding, with a range set.
//!
//! A typical Execute round trip on the server side:
//!
//! ```
//! use mapi_codec::mapihttp::emsmdb::{ExecuteRequest, ExecuteResponse};
//! use mapi_codec::mapihttp::Response;
//! use mapi_codec::rops::{RopContext, RopRequest, RopRequestBuffer, RopResponse, RopResponseBuffer};
//! use mapi_codec::rpc;
//!
//! # fn main() -> mapi_codec::Result<()> {
//! # let body = ExecuteRequest { flags: 0, max_rop_out: 0x10008, aux: vec![],
//! #     rop_buffer: rpc::encode_chain(&[&[5, 0, 0x7B, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]], Default::default())? }.to_bytes()?;
//! let req = ExecuteRequest::from_bytes(&body)?;
//! let mut responses = Vec::new();
//! let mut handles = Vec::new();
//! for segment in rpc::decode_chain(&req.rop_buffer)? {
//!     let buf = RopRequestBuffer::decode(&segment.payload, &RopContext::default())?;
//!     handles = buf.handles.clone();
//!     for rop in &buf.rops {
//!         // ... execute; here every ROP fails with ecNotSupported.
//!         if let RopRequest::Release(_) = rop { continue }
//!         responses.push(RopResponse::error(rop.rop_id(), 0, 0x8004_0102));
//!     }
//! }
//! let out = RopResponseBuffer { rops: responses, handles }.encode()?;
//! let reply = Response::Success {
//!     error_code: 0,
//!     fields: ExecuteResponse { flags: 0, rop_buffer: rpc::encode_chain(&[&out], Default::default())? },
//!     aux: vec![],
//! }
//! .encode()?;
//! assert_eq!(&reply[..4], &[0, 0, 0, 0]);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod cursor;
pub mod error;
pub mod idset;
pub mod mapihttp;
pub mod oxcdata;
pub mod rops;
pub mod rpc;

pub use cursor::{CountWidth, Reader, Writer};
pub use error::{Error, Result};
pub use rpc::{aux, lz77};
