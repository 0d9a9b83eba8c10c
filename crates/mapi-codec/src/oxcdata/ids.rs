//! Identifiers: Folder ID / Message ID (MS-OXCDATA 2.2.1.1, 2.2.1.2),
//! LongTermID (2.2.1.3.1), folder and message EntryIDs (2.2.4), address-book
//! EntryIDs (MS-OXCDATA 2.2.5.2, MS-OXNSPI 2.2.9.2 / 2.2.9.3), XID
//! (MS-OXCFXICS 2.2.2.2) and ServerId (MS-OXCDATA 2.11.1.4).

use crate::cursor::{Reader, Writer};
use crate::error::{Error, Result};
use crate::oxcdata::{Guid, NSPI_PROVIDER_UID};

/// A 48-bit GlobalCounter, stored in wire byte order (big-endian counter value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct GlobalCounter(pub [u8; 6]);

impl GlobalCounter {
    /// Builds a counter from its numeric value (must fit 48 bits; higher bits are dropped).
    pub fn from_value(v: u64) -> Self {
        let b = v.to_be_bytes();
        GlobalCounter([b[2], b[3], b[4], b[5], b[6], b[7]])
    }
    /// The numeric value (the bytes read as a big-endian integer, which keeps
    /// counters ordered the way they are allocated).
    pub fn value(self) -> u64 {
        let g = self.0;
        u64::from_be_bytes([0, 0, g[0], g[1], g[2], g[3], g[4], g[5]])
    }
}

/// Folder ID / Message ID: ReplicaId (2 bytes) + GlobalCounter (6 bytes)
/// (MS-OXCDATA 2.2.1.1 / 2.2.1.2). 8 bytes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ObjectId {
    pub replica_id: u16,
    pub global_counter: GlobalCounter,
}

/// A Folder ID (MS-OXCDATA 2.2.1.1).
pub type FolderId = ObjectId;
/// A Message ID (MS-OXCDATA 2.2.1.2).
pub type MessageId = ObjectId;

impl ObjectId {
    pub fn new(replica_id: u16, counter: u64) -> Self {
        ObjectId { replica_id, global_counter: GlobalCounter::from_value(counter) }
    }
    pub fn decode(r: &mut Reader) -> Result<Self> {
        Ok(ObjectId { replica_id: r.u16()?, global_counter: GlobalCounter(r.array()?) })
    }
    pub fn encode(&self, w: &mut Writer) {
        w.u16(self.replica_id);
        w.bytes(&self.global_counter.0);
    }
    /// The 8 wire bytes read as a little-endian u64 (how the id appears in PtypInteger64 properties).
    pub fn to_u64(self) -> u64 {
        let mut w = Writer::with_capacity(8);
        self.encode(&mut w);
        let mut a = [0u8; 8];
        a.copy_from_slice(w.as_slice());
        u64::from_le_bytes(a)
    }
    pub fn from_u64(v: u64) -> Self {
        let b = v.to_le_bytes();
        ObjectId {
            replica_id: u16::from_le_bytes([b[0], b[1]]),
            global_counter: GlobalCounter([b[2], b[3], b[4], b[5], b[6], b[7]]),
        }
    }
}

/// LongTermID (MS-OXCDATA 2.2.1.3.1): DatabaseGuid (16), GlobalCounter (6), Pad (2). 24 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LongTermId {
    pub database_guid: Guid,
    pub global_counter: GlobalCounter,
    pub pad: u16,
}

impl LongTermId {
    pub const SIZE: usize = 24;
    pub fn decode(r: &mut Reader) -> Result<Self> {
        Ok(LongTermId { database_guid: Guid(r.array()?), global_counter: GlobalCounter(r.array()?), pad: r.u16()? })
    }
    pub fn encode(&self, w: &mut Writer) {
        w.bytes(&self.database_guid.0);
        w.bytes(&self.global_counter.0);
        w.u16(self.pad);
    }
}

/// Folder EntryID (MS-OXCDATA 2.2.4.1). 46 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FolderEntryId {
    pub flags: u32,
    pub provider_uid: Guid,
    /// 0x0001 private folder, 0x0003 public folder, ... (eitLTPrivateFolder etc.).
    pub folder_type: u16,
    pub database_guid: Guid,
    pub global_counter: GlobalCounter,
    pub pad: u16,
}

impl FolderEntryId {
    pub const SIZE: usize = 46;
    pub fn decode(r: &mut Reader) -> Result<Self> {
        Ok(FolderEntryId {
            flags: r.u32()?,
            provider_uid: Guid(r.array()?),
            folder_type: r.u16()?,
            database_guid: Guid(r.array()?),
            global_counter: GlobalCounter(r.array()?),
            pad: r.u16()?,
        })
    }
    pub fn encode(&self, w: &mut Writer) {
        w.u32(self.flags);
        w.bytes(&self.provider_uid.0);
        w.u16(self.folder_type);
        w.bytes(&self.database_guid.0);
        w.bytes(&self.global_counter.0);
        w.u16(self.pad);
    }
    /// Decodes from a complete EntryID byte string (no trailing bytes allowed).
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let mut r = Reader::new(b);
        let v = Self::decode(&mut r)?;
        r.finish()?;
        Ok(v)
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::SIZE);
        self.encode(&mut w);
        w.into_vec()
    }
}

/// Message EntryID (MS-OXCDATA 2.2.4.2). 70 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MessageEntryId {
    pub flags: u32,
    pub provider_uid: Guid,
    /// 0x0007 private message, 0x0009 public message, ...
    pub message_type: u16,
    pub folder_database_guid: Guid,
    pub folder_global_counter: GlobalCounter,
    pub pad1: u16,
    pub message_database_guid: Guid,
    pub message_global_counter: GlobalCounter,
    pub pad2: u16,
}

impl MessageEntryId {
    pub const SIZE: usize = 70;
    pub fn decode(r: &mut Reader) -> Result<Self> {
        Ok(MessageEntryId {
            flags: r.u32()?,
            provider_uid: Guid(r.array()?),
            message_type: r.u16()?,
            folder_database_guid: Guid(r.array()?),
            folder_global_counter: GlobalCounter(r.array()?),
            pad1: r.u16()?,
            message_database_guid: Guid(r.array()?),
            message_global_counter: GlobalCounter(r.array()?),
            pad2: r.u16()?,
        })
    }
    pub fn encode(&self, w: &mut Writer) {
        w.u32(self.flags);
        w.bytes(&self.provider_uid.0);
        w.u16(self.message_type);
        w.bytes(&self.folder_database_guid.0);
        w.bytes(&self.folder_global_counter.0);
        w.u16(self.pad1);
        w.bytes(&self.message_database_guid.0);
        w.bytes(&self.message_global_counter.0);
        w.u16(self.pad2);
    }
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let mut r = Reader::new(b);
        let v = Self::decode(&mut r)?;
        r.finish()?;
        Ok(v)
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::SIZE);
        self.encode(&mut w);
        w.into_vec()
    }
}

/// ProviderUID of a Store Object EntryID (MUIDSTOREWRAP), {10BBA138-E505-1A10-A1BB-08002B2A56C2}.
pub const STORE_WRAP_PROVIDER_UID: Guid =
    Guid([0x38, 0xA1, 0xBB, 0x10, 0x05, 0xE5, 0x10, 0x1A, 0xA1, 0xBB, 0x08, 0x00, 0x2B, 0x2A, 0x56, 0xC2]);
/// WrappedProvider UID of a private mailbox store, {20FA551B-66AA-CD11-9BC8-00AA002FC45A}.
pub const STORE_PRIVATE_PROVIDER_UID: Guid =
    Guid([0x1B, 0x55, 0xFA, 0x20, 0xAA, 0x66, 0x11, 0xCD, 0x9B, 0xC8, 0x00, 0xAA, 0x00, 0x2F, 0xC4, 0x5A]);
/// WrappedProvider UID of a public folder store, {1002831C-66AA-CD11-9BC8-00AA002FC45A}.
pub const STORE_PUBLIC_PROVIDER_UID: Guid =
    Guid([0x1C, 0x83, 0x02, 0x10, 0xAA, 0x66, 0x11, 0xCD, 0x9B, 0xC8, 0x00, 0xAA, 0x00, 0x2F, 0xC4, 0x5A]);
/// WrappedType of a private mailbox store.
pub const STORE_TYPE_PRIVATE: u32 = 0x0000_000C;
/// WrappedType of a public folder store.
pub const STORE_TYPE_PUBLIC: u32 = 0x0000_0006;

/// Store Object EntryID (MS-OXCDATA 2.2.4.3): Flags (4), ProviderUID (16),
/// Version (1), Flag (1), DLLFileName (14, "emsmdb.dll" NUL-padded),
/// WrappedFlags (4), WrappedProvider UID (16), WrappedType (4), ServerShortname
/// (NUL-terminated ASCII), MailboxDN (NUL-terminated ASCII, private stores only).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoreObjectEntryId {
    pub flags: u32,
    pub provider_uid: Guid,
    pub version: u8,
    pub flag: u8,
    /// The 14-byte DLLFileName field as sent.
    pub dll_file_name: [u8; 14],
    pub wrapped_flags: u32,
    pub wrapped_provider_uid: Guid,
    pub wrapped_type: u32,
    pub server_short_name: String,
    /// Present for mailbox stores; absent (no bytes) for public stores.
    pub mailbox_dn: Option<String>,
}

impl StoreObjectEntryId {
    /// The DLLFileName value "emsmdb.dll" padded with NULs to 14 bytes.
    pub const EMSMDB_DLL: [u8; 14] = *b"emsmdb.dll\0\0\0\0";

    /// A private-mailbox store EntryID with the constants of MS-OXCDATA 2.2.4.3.
    pub fn private_mailbox(server_short_name: impl Into<String>, mailbox_dn: impl Into<String>) -> Self {
        StoreObjectEntryId {
            flags: 0,
            provider_uid: STORE_WRAP_PROVIDER_UID,
            version: 0,
            flag: 0,
            dll_file_name: Self::EMSMDB_DLL,
            wrapped_flags: 0,
            wrapped_provider_uid: STORE_PRIVATE_PROVIDER_UID,
            wrapped_type: STORE_TYPE_PRIVATE,
            server_short_name: server_short_name.into(),
            mailbox_dn: Some(mailbox_dn.into()),
        }
    }

    /// Decodes a complete Store Object EntryID.
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let mut r = Reader::new(b);
        let v = StoreObjectEntryId {
            flags: r.u32()?,
            provider_uid: Guid(r.array()?),
            version: r.u8()?,
            flag: r.u8()?,
            dll_file_name: r.array()?,
            wrapped_flags: r.u32()?,
            wrapped_provider_uid: Guid(r.array()?),
            wrapped_type: r.u32()?,
            server_short_name: r.asciiz()?,
            mailbox_dn: None,
        };
        let mailbox_dn = if r.is_empty() { None } else { Some(r.asciiz()?) };
        r.finish()?;
        Ok(StoreObjectEntryId { mailbox_dn, ..v })
    }

    /// Encodes the EntryID.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut w = Writer::new();
        w.u32(self.flags);
        w.bytes(&self.provider_uid.0);
        w.u8(self.version);
        w.u8(self.flag);
        w.bytes(&self.dll_file_name);
        w.u32(self.wrapped_flags);
        w.bytes(&self.wrapped_provider_uid.0);
        w.u32(self.wrapped_type);
        for s in std::iter::once(&self.server_short_name).chain(self.mailbox_dn.as_ref()) {
            if !s.is_ascii() || s.as_bytes().contains(&0) {
                return Err(Error::Invalid { what: "Store Object EntryID string", value: 0 });
            }
            w.str8z(s.as_bytes());
        }
        Ok(w.into_vec())
    }
}

/// ProviderUID of a One-Off EntryID, {A41F2B81-A3BE-1910-9D6E-00DD010F5402}.
pub const ONE_OFF_PROVIDER_UID: Guid =
    Guid([0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19, 0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54, 0x02]);
/// One-Off EntryID flag U: the strings are UTF-16LE.
pub const ONE_OFF_UNICODE: u16 = 0x8000;
/// One-Off EntryID flag: the recipient does not take rich text (TNEF).
pub const ONE_OFF_NO_RICH_INFO: u16 = 0x0001;

/// One-Off EntryID (MS-OXCDATA 2.2.5.1): a recipient that is not in any
/// address book (e.g. a bare SMTP address). Flags (4), ProviderUID (16),
/// Version (2), Flags (2; the U bit selects UTF-16 strings), DisplayName,
/// AddressType, EmailAddress (NUL-terminated).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OneOffEntryId {
    pub flags: u32,
    pub version: u16,
    /// The 16-bit flags (U = 0x8000, no-rich-info = 0x0001, MAE and format bits).
    pub entry_flags: u16,
    pub display_name: crate::oxcdata::RecipientString,
    pub address_type: crate::oxcdata::RecipientString,
    pub email_address: crate::oxcdata::RecipientString,
}

impl OneOffEntryId {
    /// A Unicode SMTP one-off EntryID, as Outlook writes for unresolved addresses.
    pub fn smtp(display_name: &str, email: &str) -> Self {
        use crate::oxcdata::RecipientString as S;
        OneOffEntryId {
            flags: 0,
            version: 0,
            entry_flags: ONE_OFF_UNICODE | ONE_OFF_NO_RICH_INFO,
            display_name: S::Unicode(display_name.to_owned()),
            address_type: S::Unicode("SMTP".to_owned()),
            email_address: S::Unicode(email.to_owned()),
        }
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        use crate::oxcdata::RecipientString as S;
        let mut r = Reader::new(b);
        let flags = r.u32()?;
        let uid = Guid(r.array()?);
        if uid != ONE_OFF_PROVIDER_UID {
            return Err(Error::Invalid { what: "One-Off EntryID ProviderUID", value: uid.0[0] as u64 });
        }
        let version = r.u16()?;
        let entry_flags = r.u16()?;
        let unicode = entry_flags & ONE_OFF_UNICODE != 0;
        let s = |r: &mut Reader| -> Result<S> {
            Ok(if unicode { S::Unicode(r.utf16z()?) } else { S::String8(r.str8z()?) })
        };
        let display_name = s(&mut r)?;
        let address_type = s(&mut r)?;
        let email_address = s(&mut r)?;
        r.finish()?;
        Ok(OneOffEntryId { flags, version, entry_flags, display_name, address_type, email_address })
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        use crate::oxcdata::RecipientString as S;
        let unicode = self.entry_flags & ONE_OFF_UNICODE != 0;
        let mut w = Writer::new();
        w.u32(self.flags);
        w.bytes(&ONE_OFF_PROVIDER_UID.0);
        w.u16(self.version);
        w.u16(self.entry_flags);
        for v in [&self.display_name, &self.address_type, &self.email_address] {
            match (v, unicode) {
                (S::Unicode(x), true) => w.utf16z(x),
                (S::String8(x), false) => w.str8z(x),
                _ => {
                    return Err(Error::Invalid { what: "One-Off string encoding differs from the U flag", value: 0 });
                }
            }
        }
        Ok(w.into_vec())
    }
}

/// PermanentEntryID (MS-OXNSPI 2.2.9.3), also the Address Book EntryID of
/// MS-OXCDATA 2.2.5.2: IDType 0x00, R1..R3, ProviderUID (GUID_NSPI),
/// R4 = 0x00000001, DisplayType, DN (NUL-terminated 8-bit string).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PermanentEntryId {
    pub id_type: u8,
    pub r1: u8,
    pub r2: u8,
    pub r3: u8,
    pub provider_uid: Guid,
    pub r4: u32,
    pub display_type: u32,
    /// The X500 distinguished name, ASCII.
    pub dn: String,
}

impl PermanentEntryId {
    /// A permanent entry id with the defaults of MS-OXNSPI 2.2.9.3.
    pub fn new(display_type: u32, dn: impl Into<String>) -> Self {
        PermanentEntryId {
            id_type: 0,
            r1: 0,
            r2: 0,
            r3: 0,
            provider_uid: NSPI_PROVIDER_UID,
            r4: 1,
            display_type,
            dn: dn.into(),
        }
    }
    pub fn decode(r: &mut Reader) -> Result<Self> {
        let id_type = r.u8()?;
        if id_type != 0x00 {
            return Err(Error::Invalid { what: "PermanentEntryID IDType", value: id_type as u64 });
        }
        Ok(PermanentEntryId {
            id_type,
            r1: r.u8()?,
            r2: r.u8()?,
            r3: r.u8()?,
            provider_uid: Guid(r.array()?),
            r4: r.u32()?,
            display_type: r.u32()?,
            dn: r.asciiz()?,
        })
    }
    pub fn encode(&self, w: &mut Writer) {
        w.u8(self.id_type);
        w.u8(self.r1);
        w.u8(self.r2);
        w.u8(self.r3);
        w.bytes(&self.provider_uid.0);
        w.u32(self.r4);
        w.u32(self.display_type);
        w.str8z(self.dn.as_bytes());
    }
}

/// EphemeralEntryID (MS-OXNSPI 2.2.9.2): IDType 0x87, R1..R3, ProviderUID
/// (the server's), R4 = 0x00000001, DisplayType, Mid. 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EphemeralEntryId {
    pub id_type: u8,
    pub r1: u8,
    pub r2: u8,
    pub r3: u8,
    pub provider_uid: Guid,
    pub r4: u32,
    pub display_type: u32,
    pub mid: u32,
}

impl EphemeralEntryId {
    pub const SIZE: usize = 32;
    pub fn decode(r: &mut Reader) -> Result<Self> {
        let id_type = r.u8()?;
        if id_type != 0x87 {
            return Err(Error::Invalid { what: "EphemeralEntryID IDType", value: id_type as u64 });
        }
        Ok(EphemeralEntryId {
            id_type,
            r1: r.u8()?,
            r2: r.u8()?,
            r3: r.u8()?,
            provider_uid: Guid(r.array()?),
            r4: r.u32()?,
            display_type: r.u32()?,
            mid: r.u32()?,
        })
    }
    pub fn encode(&self, w: &mut Writer) {
        w.u8(self.id_type);
        w.u8(self.r1);
        w.u8(self.r2);
        w.u8(self.r3);
        w.bytes(&self.provider_uid.0);
        w.u32(self.r4);
        w.u32(self.display_type);
        w.u32(self.mid);
    }
}

/// Either address-book EntryID form, chosen by the first byte.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddressBookEntryId {
    Permanent(PermanentEntryId),
    Ephemeral(EphemeralEntryId),
}

impl AddressBookEntryId {
    pub fn decode(r: &mut Reader) -> Result<Self> {
        match r.peek_u8()? {
            0x00 => Ok(AddressBookEntryId::Permanent(PermanentEntryId::decode(r)?)),
            0x87 => Ok(AddressBookEntryId::Ephemeral(EphemeralEntryId::decode(r)?)),
            v => Err(Error::Invalid { what: "address book EntryID type", value: v as u64 }),
        }
    }
    pub fn encode(&self, w: &mut Writer) {
        match self {
            AddressBookEntryId::Permanent(p) => p.encode(w),
            AddressBookEntryId::Ephemeral(e) => e.encode(w),
        }
    }
}

/// XID (MS-OXCFXICS 2.2.2.2): NamespaceGuid (16) + LocalId (1..=8 bytes). Its
/// total size is given by the enclosing structure.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Xid {
    pub namespace_guid: Guid,
    pub local_id: Vec<u8>,
}

impl Xid {
    /// Decodes an XID of `size` bytes (17..=24).
    pub fn decode(r: &mut Reader, size: usize) -> Result<Self> {
        if !(17..=24).contains(&size) {
            return Err(Error::Invalid { what: "XID size", value: size as u64 });
        }
        Ok(Xid { namespace_guid: Guid(r.array()?), local_id: r.bytes(size - 16)?.to_vec() })
    }
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        if !(1..=8).contains(&self.local_id.len()) {
            return Err(Error::EncodeOverflow { what: "XID LocalId", len: self.local_id.len() });
        }
        w.bytes(&self.namespace_guid.0);
        w.bytes(&self.local_id);
        Ok(())
    }
    pub fn size(&self) -> usize {
        16 + self.local_id.len()
    }
}

/// ServerId (MS-OXCDATA 2.11.1.4), the payload of PtypServerId
/// (also called a server EntryID): Ours (1 byte), then either FolderId,
/// MessageId, Instance (Ours = 0x01) or client data (Ours = 0x00).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServerId {
    Ours { folder_id: FolderId, message_id: MessageId, instance: u32 },
    Client(Vec<u8>),
}

/// Alias: the ServerId is what MS-OXORULE calls the server EntryID.
pub type ServerEntryId = ServerId;

impl ServerId {
    /// Decodes from the bytes of a PtypServerId value (after its COUNT).
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let mut r = Reader::new(b);
        let ours = r.u8()?;
        let v = match ours {
            0x01 => ServerId::Ours {
                folder_id: ObjectId::decode(&mut r)?,
                message_id: ObjectId::decode(&mut r)?,
                instance: r.u32()?,
            },
            0x00 => ServerId::Client(r.rest().to_vec()),
            v => {
                return Err(Error::Invalid { what: "ServerId Ours", value: v as u64 });
            }
        };
        r.finish()?;
        Ok(v)
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        match self {
            ServerId::Ours { folder_id, message_id, instance } => {
                w.u8(1);
                folder_id.encode(&mut w);
                message_id.encode(&mut w);
                w.u32(*instance);
            }
            ServerId::Client(b) => {
                w.u8(0);
                w.bytes(b);
            }
        }
        w.into_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_off_entry_id() {
        let e = OneOffEntryId::smtp("Rina", "rina@example.com");
        let b = e.to_bytes().unwrap();
        assert_eq!(&b[20..24], &[0, 0, 0x01, 0x80]);
        assert_eq!(&b[24..34], &[b'R', 0, b'i', 0, b'n', 0, b'a', 0, 0, 0]);
        assert_eq!(OneOffEntryId::from_bytes(&b).unwrap(), e);
    }

    #[test]
    fn store_entry_id() {
        let e = StoreObjectEntryId::private_mailbox("mail", "/o=Viaduc/cn=alice");
        let b = e.to_bytes().unwrap();
        assert_eq!(&b[..4], &[0, 0, 0, 0]);
        assert_eq!(&b[4..8], &[0x38, 0xA1, 0xBB, 0x10]);
        assert_eq!(&b[22..36], b"emsmdb.dll\0\0\0\0");
        assert_eq!(&b[56..60], &[0x0C, 0, 0, 0]);
        assert_eq!(StoreObjectEntryId::from_bytes(&b).unwrap(), e);
        let mut public = e.clone();
        public.mailbox_dn = None;
        assert_eq!(StoreObjectEntryId::from_bytes(&public.to_bytes().unwrap()).unwrap(), public);
    }

    #[test]
    fn object_id_u64() {
        let id = ObjectId::new(1, 0x1234);
        assert_eq!(id.to_u64(), 0x3412_0000_0000_0001);
        assert_eq!(ObjectId::from_u64(id.to_u64()), id);
        assert_eq!(id.global_counter.value(), 0x1234);
    }

    #[test]
    fn entry_ids_round_trip() {
        let f = FolderEntryId {
            provider_uid: Guid([1; 16]),
            folder_type: 1,
            database_guid: Guid([2; 16]),
            global_counter: GlobalCounter::from_value(9),
            ..Default::default()
        };
        let b = f.to_bytes();
        assert_eq!(b.len(), FolderEntryId::SIZE);
        assert_eq!(FolderEntryId::from_bytes(&b).unwrap(), f);
        let m = MessageEntryId { message_type: 7, ..Default::default() };
        assert_eq!(MessageEntryId::from_bytes(&m.to_bytes()).unwrap(), m);
        let p = PermanentEntryId::new(0, "/o=Viaduc/ou=x/cn=Recipients/cn=bob");
        let mut w = Writer::new();
        p.encode(&mut w);
        let ab = AddressBookEntryId::decode(&mut Reader::new(w.as_slice())).unwrap();
        assert_eq!(ab, AddressBookEntryId::Permanent(p));
        let s = ServerId::Ours { folder_id: ObjectId::new(1, 2), message_id: ObjectId::new(1, 3), instance: 0 };
        assert_eq!(ServerId::from_bytes(&s.to_bytes()).unwrap(), s);
    }
}
