//! MS-OXCMAPIHTTP request and response bodies for the EMSMDB endpoint
//! (2.2.4: Connect, Execute, Disconnect, NotificationWait) and the NSPI
//! endpoint (2.2.5: Bind, Unbind, CompareMIds, DNToMId, GetMatches,
//! GetPropList, GetProps, GetSpecialTable, GetTemplateInfo, ModLinkAtt,
//! ModProps, QueryColumns, QueryRows, ResolveNames, ResortRestriction,
//! SeekEntries, UpdateStat, GetMailboxUrl, GetAddressBookUrl).
//!
//! Every response body starts with StatusCode. When StatusCode is non-zero the
//! body holds only StatusCode, AuxiliaryBufferSize and AuxiliaryBuffer
//! (the common failure response); otherwise ErrorCode and the type's fields
//! follow. [`Response`] models both. AuxiliaryBuffer bytes are kept raw here;
//! decode them with [`crate::aux::decode_aux_buffer`]. On the wire a response
//! body is preceded by the meta-tag/header text prelude handled by [`framing`].

pub mod ab;
pub mod emsmdb;
pub mod framing;
pub mod nspi;

use crate::cursor::{Reader, Writer};
use crate::error::Result;

/// A body type that sits between ErrorCode and AuxiliaryBufferSize in a response.
pub trait ResponseFields: Sized {
    fn decode_fields(r: &mut Reader) -> Result<Self>;
    fn encode_fields(&self, w: &mut Writer) -> Result<()>;
}

/// A MAPI/HTTP response body.
#[derive(Debug, Clone, PartialEq)]
pub enum Response<T> {
    /// StatusCode 0: ErrorCode, the type's fields, then the auxiliary buffer.
    Success { error_code: u32, fields: T, aux: Vec<u8> },
    /// StatusCode non-zero: only the auxiliary buffer follows.
    Failure { status_code: u32, aux: Vec<u8> },
}

impl<T: ResponseFields> Response<T> {
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        let status_code = r.u32()?;
        let v = if status_code != 0 {
            let aux = crate::rops::codec::bytes32::dec(&mut r)?;
            Response::Failure { status_code, aux }
        } else {
            let error_code = r.u32()?;
            let fields = T::decode_fields(&mut r)?;
            let aux = crate::rops::codec::bytes32::dec(&mut r)?;
            Response::Success { error_code, fields, aux }
        };
        r.finish()?;
        Ok(v)
    }
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut w = Writer::new();
        match self {
            Response::Success { error_code, fields, aux } => {
                w.u32(0);
                w.u32(*error_code);
                fields.encode_fields(&mut w)?;
                crate::rops::codec::bytes32::enc(aux, &mut w)?;
            }
            Response::Failure { status_code, aux } => {
                if *status_code == 0 {
                    return Err(crate::Error::Invalid { what: "failure response with StatusCode 0", value: 0 });
                }
                w.u32(*status_code);
                crate::rops::codec::bytes32::enc(aux, &mut w)?;
            }
        }
        Ok(w.into_vec())
    }
}

/// Declares a request body: fields in wire order, the last being the auxiliary buffer.
macro_rules! request_body {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $f:ident : $t:ty => $c:ident),* $(,)? }) => {
        $crate::rops::codec::wire_struct! {
            $(#[$m])*
            $name { $($(#[$fm])* $f: $t => $c,)* aux: Vec<u8> => bytes32 }
        }
        impl $name {
            /// Decodes a complete request body (no trailing bytes allowed).
            pub fn from_bytes(b: &[u8]) -> $crate::error::Result<Self> {
                let mut r = $crate::cursor::Reader::new(b);
                let v = Self::decode(&mut r)?;
                r.finish()?;
                Ok(v)
            }
            /// Encodes the request body.
            pub fn to_bytes(&self) -> $crate::error::Result<Vec<u8>> {
                let mut w = $crate::cursor::Writer::new();
                self.encode(&mut w)?;
                Ok(w.into_vec())
            }
        }
    };
}

/// Declares the fields of a success response (between ErrorCode and the auxiliary buffer).
macro_rules! response_fields {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $f:ident : $t:ty => $c:ident),* $(,)? }) => {
        $crate::rops::codec::wire_struct! {
            $(#[$m])*
            $name { $($(#[$fm])* $f: $t => $c,)* }
        }
        impl $crate::mapihttp::ResponseFields for $name {
            fn decode_fields(r: &mut $crate::cursor::Reader) -> $crate::error::Result<Self> {
                Self::decode(r)
            }
            fn encode_fields(&self, w: &mut $crate::cursor::Writer) -> $crate::error::Result<()> {
                self.encode(w)
            }
        }
    };
}
pub(crate) use {request_body, response_fields};
