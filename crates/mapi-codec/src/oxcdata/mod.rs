//! MS-OXCDATA data structures: property tags and values, property rows,
//! named-property names, recipient rows, restrictions, sort orders and
//! identifiers (folder and message ids, long-term ids, entry ids).

pub mod ids;
pub mod prop;
pub mod recipient;
pub mod restriction;

pub use ids::*;
pub use prop::*;
pub use recipient::{RecipientRow, RecipientString, RecipientX500};
pub use restriction::*;

use core::fmt;

/// A GUID in its 16-byte wire form (MS-DTYP 2.3.4.2: Data1, Data2, Data3 little-endian, Data4 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// Builds a GUID from its textual fields, e.g. `Guid::from_fields(0x00020329, 0, 0, [0xC0,0,0,0,0,0,0,0x46])`.
    pub const fn from_fields(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Guid {
        let a = d1.to_le_bytes();
        let b = d2.to_le_bytes();
        let c = d3.to_le_bytes();
        Guid([a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4], d4[5], d4[6], d4[7]])
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = &self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            u32::from_le_bytes([g[0], g[1], g[2], g[3]]),
            u16::from_le_bytes([g[4], g[5]]),
            u16::from_le_bytes([g[6], g[7]]),
            g[8],
            g[9],
            g[10],
            g[11],
            g[12],
            g[13],
            g[14],
            g[15]
        )
    }
}

/// The address book provider UID (MS-OXNSPI 2.2.1.1 / MS-OXCDATA 2.2.5.2):
/// {C840A7DC-42C0-1A10-B4B9-08002B2FE182}.
pub const NSPI_PROVIDER_UID: Guid =
    Guid([0xDC, 0xA7, 0x40, 0xC8, 0xC0, 0x42, 0x10, 0x1A, 0xB4, 0xB9, 0x08, 0x00, 0x2B, 0x2F, 0xE1, 0x82]);

/// PS_MAPI {00020328-0000-0000-C000-000000000046} (MS-OXPROPS 1.3.2).
pub const PS_MAPI: Guid = Guid::from_fields(0x00020328, 0, 0, [0xC0, 0, 0, 0, 0, 0, 0, 0x46]);
/// PS_PUBLIC_STRINGS {00020329-0000-0000-C000-000000000046} (MS-OXPROPS 1.3.2).
pub const PS_PUBLIC_STRINGS: Guid = Guid::from_fields(0x00020329, 0, 0, [0xC0, 0, 0, 0, 0, 0, 0, 0x46]);

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn guid_display() {
        assert_eq!(PS_PUBLIC_STRINGS.to_string(), "00020329-0000-0000-c000-000000000046");
        assert_eq!(NSPI_PROVIDER_UID.to_string(), "c840a7dc-42c0-1a10-b4b9-08002b2fe182");
    }
}
