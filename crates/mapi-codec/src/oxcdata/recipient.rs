//! RecipientRow (MS-OXCDATA 2.8.3): the recipient form used by RopOpenMessage,
//! RopReadRecipients, RopOpenEmbeddedMessage, RopReloadCachedInformation and
//! RopModifyRecipients. The ROP structures carry it as size-prefixed bytes;
//! [`RecipientRow::from_bytes`] / [`RecipientRow::to_bytes`] convert.

use crate::cursor::{CountWidth, Reader, Writer};
use crate::error::{Error, Result};
use crate::oxcdata::{PropTag, PropertyRow};

/// RecipientFlags bits (MS-OXCDATA 2.8.3.1).
pub mod recipient_flags {
    /// Mask of the 3-bit address Type.
    pub const TYPE_MASK: u16 = 0x0007;
    pub const TYPE_NONE: u16 = 0x0;
    pub const TYPE_X500DN: u16 = 0x1;
    pub const TYPE_MSMAIL: u16 = 0x2;
    pub const TYPE_SMTP: u16 = 0x3;
    pub const TYPE_FAX: u16 = 0x4;
    pub const TYPE_PROFESSIONAL_OFFICE_SYSTEM: u16 = 0x5;
    pub const TYPE_PERSONAL_DL1: u16 = 0x6;
    pub const TYPE_PERSONAL_DL2: u16 = 0x7;
    /// E: EmailAddress is present.
    pub const E: u16 = 0x0008;
    /// D: DisplayName is present.
    pub const D: u16 = 0x0010;
    /// T: TransmittableDisplayName is present.
    pub const T: u16 = 0x0020;
    /// S: TransmittableDisplayName equals DisplayName.
    pub const S: u16 = 0x0040;
    /// R: a different transport delivers to this recipient.
    pub const R: u16 = 0x0080;
    /// N: the recipient does not support rich text.
    pub const N: u16 = 0x0100;
    /// U: strings are UTF-16LE (otherwise 8-bit in the session code page).
    pub const U: u16 = 0x0200;
    /// I: SimpleDisplayName is present.
    pub const I: u16 = 0x0400;
    /// O: non-standard address type; AddressType is present.
    pub const O: u16 = 0x8000;
}

use recipient_flags as rf;

/// A string whose encoding follows a Unicode flag (RecipientRow U bit, One-Off EntryID U bit).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecipientString {
    Unicode(String),
    /// 8-bit bytes in the session code page, terminator excluded.
    String8(Vec<u8>),
}

impl RecipientString {
    fn decode(r: &mut Reader, unicode: bool) -> Result<Self> {
        Ok(if unicode { RecipientString::Unicode(r.utf16z()?) } else { RecipientString::String8(r.str8z()?) })
    }
    fn encode(&self, w: &mut Writer, unicode: bool) -> Result<()> {
        match (self, unicode) {
            (RecipientString::Unicode(s), true) => w.utf16z(s),
            (RecipientString::String8(s), false) => w.str8z(s),
            _ => {
                return Err(Error::Invalid {
                    what: "recipient string encoding differs from the U flag",
                    value: unicode as u64,
                });
            }
        }
        Ok(())
    }
}

/// X500 part, present when Type is X500DN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientX500 {
    pub address_prefix_used: u8,
    pub display_type: u8,
    /// The DN without the prefix the server elided (AddressPrefixUsed bytes).
    pub x500_dn: Vec<u8>,
}

/// RecipientRow (MS-OXCDATA 2.8.3.2).
#[derive(Debug, Clone, PartialEq)]
pub struct RecipientRow {
    /// RecipientFlags; presence of the optional fields must agree with it.
    pub flags: u16,
    pub x500: Option<RecipientX500>,
    /// EntryID and SearchKey, present when Type is PersonalDistributionList1/2.
    pub entry_id: Option<Vec<u8>>,
    pub search_key: Option<Vec<u8>>,
    pub address_type: Option<RecipientString>,
    pub email_address: Option<RecipientString>,
    pub display_name: Option<RecipientString>,
    pub simple_display_name: Option<RecipientString>,
    pub transmittable_display_name: Option<RecipientString>,
    /// RecipientProperties: a PropertyRow over the first RecipientColumnCount
    /// recipient columns of the enclosing ROP.
    pub properties: PropertyRow,
}

fn is_pdl(t: u16) -> bool {
    t == rf::TYPE_PERSONAL_DL1 || t == rf::TYPE_PERSONAL_DL2
}

impl RecipientRow {
    /// Decodes a RecipientRow; `columns` are the RecipientColumns of the ROP.
    pub fn decode(r: &mut Reader, columns: &[PropTag]) -> Result<Self> {
        let flags = r.u16()?;
        let t = flags & rf::TYPE_MASK;
        let unicode = flags & rf::U != 0;
        let x500 = if t == rf::TYPE_X500DN {
            Some(RecipientX500 { address_prefix_used: r.u8()?, display_type: r.u8()?, x500_dn: r.str8z()? })
        } else {
            None
        };
        let (entry_id, search_key) = if is_pdl(t) {
            let e = r.u16()? as usize;
            let e = r.bytes(e)?.to_vec();
            let s = r.u16()? as usize;
            (Some(e), Some(r.bytes(s)?.to_vec()))
        } else {
            (None, None)
        };
        let opt = |r: &mut Reader, present: bool| -> Result<Option<RecipientString>> {
            if present { Ok(Some(RecipientString::decode(r, unicode)?)) } else { Ok(None) }
        };
        let address_type = opt(r, t == rf::TYPE_NONE && flags & rf::O != 0)?;
        let email_address = opt(r, flags & rf::E != 0)?;
        let display_name = opt(r, flags & rf::D != 0)?;
        let simple_display_name = opt(r, flags & rf::I != 0)?;
        let transmittable_display_name = opt(r, flags & rf::T != 0)?;
        let count = r.u16()? as usize;
        if count > columns.len() {
            return Err(Error::Invalid {
                what: "RecipientColumnCount above the recipient columns",
                value: count as u64,
            });
        }
        let properties = PropertyRow::decode(r, &columns[..count], CountWidth::U16)?;
        Ok(RecipientRow {
            flags,
            x500,
            entry_id,
            search_key,
            address_type,
            email_address,
            display_name,
            simple_display_name,
            transmittable_display_name,
            properties,
        })
    }

    /// Encodes the row; `columns` are the RecipientColumns of the ROP (the row
    /// uses the first `properties.values.len()` of them).
    pub fn encode(&self, w: &mut Writer, columns: &[PropTag]) -> Result<()> {
        let t = self.flags & rf::TYPE_MASK;
        let unicode = self.flags & rf::U != 0;
        let check = |what: &'static str, ok: bool| {
            if ok { Ok(()) } else { Err(Error::Invalid { what, value: self.flags as u64 }) }
        };
        check("X500 part presence", self.x500.is_some() == (t == rf::TYPE_X500DN))?;
        check("EntryID presence", self.entry_id.is_some() == is_pdl(t) && self.search_key.is_some() == is_pdl(t))?;
        check("AddressType presence", self.address_type.is_some() == (t == rf::TYPE_NONE && self.flags & rf::O != 0))?;
        check("EmailAddress presence", self.email_address.is_some() == (self.flags & rf::E != 0))?;
        check("DisplayName presence", self.display_name.is_some() == (self.flags & rf::D != 0))?;
        check("SimpleDisplayName presence", self.simple_display_name.is_some() == (self.flags & rf::I != 0))?;
        check(
            "TransmittableDisplayName presence",
            self.transmittable_display_name.is_some() == (self.flags & rf::T != 0),
        )?;
        let count = self.properties.values.len();
        check("RecipientColumnCount", count <= columns.len())?;
        w.u16(self.flags);
        if let Some(x) = &self.x500 {
            w.u8(x.address_prefix_used);
            w.u8(x.display_type);
            w.str8z(&x.x500_dn);
        }
        if let (Some(e), Some(s)) = (&self.entry_id, &self.search_key) {
            w.len16(e.len(), "EntryIdSize")?;
            w.bytes(e);
            w.len16(s.len(), "SearchKeySize")?;
            w.bytes(s);
        }
        for s in [
            &self.address_type,
            &self.email_address,
            &self.display_name,
            &self.simple_display_name,
            &self.transmittable_display_name,
        ]
        .into_iter()
        .flatten()
        {
            s.encode(w, unicode)?;
        }
        w.len16(count, "RecipientColumnCount")?;
        self.properties.encode(w, &columns[..count], CountWidth::U16)
    }

    /// Decodes from the bytes of a RecipientRow field (no trailing bytes allowed).
    pub fn from_bytes(b: &[u8], columns: &[PropTag]) -> Result<Self> {
        let mut r = Reader::new(b);
        let v = Self::decode(&mut r, columns)?;
        r.finish()?;
        Ok(v)
    }

    /// Encodes to the bytes carried in a RecipientRow field.
    pub fn to_bytes(&self, columns: &[PropTag]) -> Result<Vec<u8>> {
        let mut w = Writer::new();
        self.encode(&mut w, columns)?;
        Ok(w.into_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oxcdata::{PropValue, RowValue};

    #[test]
    fn smtp_recipient_round_trip() {
        let cols = [PropTag(0x0C150003), PropTag(0x3001001F)];
        let row = RecipientRow {
            flags: rf::TYPE_SMTP | rf::U | rf::E | rf::D | rf::S,
            x500: None,
            entry_id: None,
            search_key: None,
            address_type: None,
            email_address: Some(RecipientString::Unicode("bob@example.org".into())),
            display_name: Some(RecipientString::Unicode("Bob".into())),
            simple_display_name: None,
            transmittable_display_name: None,
            properties: PropertyRow::from_values(vec![RowValue::Value(PropValue::Integer32(1))]),
        };
        let b = row.to_bytes(&cols).unwrap();
        assert_eq!(&b[..2], &(0x0003u16 | 0x0200 | 0x0008 | 0x0010 | 0x0040).to_le_bytes());
        assert_eq!(RecipientRow::from_bytes(&b, &cols).unwrap(), row);
        // Flags and fields must agree.
        let mut bad = row.clone();
        bad.display_name = None;
        assert!(bad.to_bytes(&cols).is_err());
    }

    #[test]
    fn x500_and_pdl_round_trip() {
        let cols: [PropTag; 0] = [];
        let row = RecipientRow {
            flags: rf::TYPE_X500DN | rf::D,
            x500: Some(RecipientX500 { address_prefix_used: 3, display_type: 0, x500_dn: b"cn=bob".to_vec() }),
            entry_id: None,
            search_key: None,
            address_type: None,
            email_address: None,
            display_name: Some(RecipientString::String8(b"Bob".to_vec())),
            simple_display_name: None,
            transmittable_display_name: None,
            properties: PropertyRow::from_values(vec![]),
        };
        assert_eq!(RecipientRow::from_bytes(&row.to_bytes(&cols).unwrap(), &cols).unwrap(), row);
        let pdl = RecipientRow {
            flags: rf::TYPE_PERSONAL_DL1,
            x500: None,
            entry_id: Some(vec![1, 2, 3]),
            search_key: Some(vec![]),
            address_type: None,
            email_address: None,
            display_name: None,
            simple_display_name: None,
            transmittable_display_name: None,
            properties: PropertyRow::from_values(vec![]),
        };
        assert_eq!(RecipientRow::from_bytes(&pdl.to_bytes(&cols).unwrap(), &cols).unwrap(), pdl);
    }
}
