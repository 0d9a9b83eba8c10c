//! Typed decoding errors. Every decoder in this crate returns [`Result`]; none panics.

use core::fmt;

/// Everything that can go wrong while decoding (or, rarely, encoding) a wire structure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before the structure did.
    Truncated { needed: usize, remaining: usize },
    /// A length or count exceeds an explicit cap of this crate or of the protocol.
    TooLarge { what: &'static str, len: usize, max: usize },
    /// A field holds a value the specification does not allow.
    Invalid { what: &'static str, value: u64 },
    /// A property type (MS-OXCDATA 2.11.1) that is unknown or not allowed in this context.
    UnknownPropertyType(u16),
    /// A ROP id not known to this codec (MS-OXCROPS 2.2). Parsing of the ROP list
    /// cannot continue past it because its length is unknown.
    UnknownRop(u8),
    /// A recursive structure (restriction, rule action) is nested deeper than allowed.
    DepthExceeded { max: usize },
    /// The compressed payload is malformed (MS-XCA plain LZ77).
    Decompress(&'static str),
    /// A UTF-16LE string is not valid UTF-16.
    InvalidUtf16,
    /// A structure was decoded but bytes were left over where none are allowed.
    TrailingBytes(usize),
    /// A value cannot be represented in the field it must be written to.
    EncodeOverflow { what: &'static str, len: usize },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { needed, remaining } => {
                write!(f, "input truncated: needed {needed} bytes, {remaining} remaining")
            }
            Error::TooLarge { what, len, max } => write!(f, "{what} too large: {len} > {max}"),
            Error::Invalid { what, value } => write!(f, "invalid {what}: {value:#x}"),
            Error::UnknownPropertyType(t) => write!(f, "unknown property type {t:#06x}"),
            Error::UnknownRop(r) => write!(f, "unknown ROP id {r:#04x}"),
            Error::DepthExceeded { max } => write!(f, "nesting deeper than {max}"),
            Error::Decompress(m) => write!(f, "LZ77 decompression failed: {m}"),
            Error::InvalidUtf16 => write!(f, "invalid UTF-16 string"),
            Error::TrailingBytes(n) => write!(f, "{n} unexpected trailing bytes"),
            Error::EncodeOverflow { what, len } => {
                write!(f, "cannot encode {what}: length {len} does not fit its count field")
            }
        }
    }
}

impl std::error::Error for Error {}

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;
