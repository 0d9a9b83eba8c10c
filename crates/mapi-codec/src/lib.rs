//! Sans-IO codec for the MAPI wire formats Outlook speaks to Viaduc.
//!
//! Nothing here does I/O: every function turns bytes into typed structures or
//! back. All decoders return [`Result`] with a typed [`Error`] and never panic,
//! whatever the input; counts and lengths read from the wire are checked against
//! the remaining input (and explicit caps) before anything is allocated.
//!
//! Modules:
//! - [`cursor`]: the little-endian [`Reader`]/[`Writer`] primitives.
//! - [`oxcdata`]: MS-OXCDATA property tags/values, rows, restrictions, sort
//!   orders, ids and EntryIDs.
//! - [`rpc`]: MS-OXCRPC RPC_HEADER_EXT chains with XOR obfuscation and
//!   MS-XCA plain LZ77 compression ([`lz77`]), and AUX buffers ([`aux`]).
//! - [`rops`]: MS-OXCROPS ROP request/response buffers.
//! - [`mapihttp`]: MS-OXCMAPIHTTP EMSMDB and NSPI request/response bodies.
//! - [`idset`]: MS-OXCFXICS IDSETs and GLOBSET encoding.
#![forbid(unsafe_code)]

pub mod cursor;
pub mod error;
pub mod oxcdata;

pub use cursor::{CountWidth, Reader, Writer};
pub use error::{Error, Result};
pub mod rpc;
pub use rpc::{aux, lz77};
pub mod rops;
pub mod mapihttp;
pub mod idset;
