//! The private mailbox as a MAPI store: ReplicaGuid, special folder ids and store properties, all derived from
//! the mailbox address as ADR 0002 decides, so every instance hands out the same values.

use mapi_codec::oxcdata::{FolderEntryId, GlobalCounter, Guid, ObjectId, PermanentEntryId, PropTag, PropValue};
use uuid::Uuid;

use super::props as p;

/// The replica id of the (only) replica of a private mailbox (ADR 0002 §1).
pub const REPLICA_ID: u16 = 0x0001;

/// Special folder slots (ADR 0002 §1; MS-OXCSTOR 2.2.1.1.3 order for the first 13).
pub mod slot {
    pub const ROOT: u64 = 0x01;
    pub const DEFERRED_ACTION: u64 = 0x02;
    pub const SPOOLER_QUEUE: u64 = 0x03;
    pub const IPM_SUBTREE: u64 = 0x04;
    pub const INBOX: u64 = 0x05;
    pub const OUTBOX: u64 = 0x06;
    pub const SENT_ITEMS: u64 = 0x07;
    pub const DELETED_ITEMS: u64 = 0x08;
    pub const COMMON_VIEWS: u64 = 0x09;
    pub const SCHEDULE: u64 = 0x0A;
    pub const FINDER: u64 = 0x0B;
    pub const VIEWS: u64 = 0x0C;
    pub const SHORTCUTS: u64 = 0x0D;
}

/// A GUID in MS-DTYP wire order from a `Uuid`.
pub fn guid(u: Uuid) -> Guid {
    Guid(u.to_bytes_le())
}

/// The mailbox's ReplicaGuid: UUIDv5(URL namespace, "viaduc:replica:" + lower-cased address).
pub fn replica_guid(mail: &str) -> Guid {
    guid(Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("viaduc:replica:{}", mail.trim().to_ascii_lowercase()).as_bytes()))
}

/// The FID of a folder slot.
pub fn fid(slot: u64) -> ObjectId {
    ObjectId::new(REPLICA_ID, slot)
}

/// The 13 FolderIds of a private-mailbox RopLogon response (MS-OXCSTOR 2.2.1.1.3).
pub fn logon_folder_ids() -> [ObjectId; 13] {
    let mut a = [ObjectId::default(); 13];
    for (i, f) in a.iter_mut().enumerate() {
        *f = fid(i as u64 + 1);
    }
    a
}

/// Folder EntryID (MS-OXCDATA 2.2.4.1) of a folder slot in this mailbox: ProviderUID is the mailbox GUID,
/// FolderType eitLTPrivateFolder, DatabaseGuid the ReplicaGuid.
pub fn folder_entry_id(mailbox_guid: Guid, replica: Guid, slot: u64) -> Vec<u8> {
    FolderEntryId {
        flags: 0,
        provider_uid: mailbox_guid,
        folder_type: 0x0001,
        database_guid: replica,
        global_counter: GlobalCounter::from_value(slot),
        pad: 0,
    }
    .to_bytes()
}

/// The address-book PermanentEntryID of a mail user (MS-OXNSPI 2.2.9.3).
pub fn user_entry_id(legacy_dn: &str) -> Vec<u8> {
    let mut w = mapi_codec::Writer::new();
    PermanentEntryId::new(p::DT_MAILUSER, legacy_dn).encode(&mut w);
    w.into_vec()
}

/// pbExchangeProviderPrimaryUserGuid {5494A1C0-297F-101B-A587-08002B2A2517} (the private store provider,
/// MS-OXCSTOR 2.2.2.1.1.x PidTagMdbProvider).
pub const PRIVATE_STORE_PROVIDER: Guid =
    Guid([0x54, 0x94, 0xA1, 0xC0, 0x29, 0x7F, 0x10, 0x1B, 0xA5, 0x87, 0x08, 0x00, 0x2B, 0x2A, 0x25, 0x17]);

/// STORE_* bits of PidTagStoreSupportMask (MS-OXCSTOR 2.2.2.1.1.x): entry ids unique, search, modify, create,
/// attachments, OLE, notifications, multi-valued properties, categories, RTF, restrictions, sorting, HTML,
/// Unicode.
pub const STORE_SUPPORT_MASK: i32 = 0x0000_0001
    | 0x0000_0004
    | 0x0000_0008
    | 0x0000_0010
    | 0x0000_0020
    | 0x0000_0040
    | 0x0000_0100
    | 0x0000_0200
    | 0x0000_0400
    | 0x0000_0800
    | 0x0000_1000
    | 0x0000_2000
    | 0x0001_0000
    | 0x0004_0000;

/// Everything the logon object answers to RopGetPropertiesSpecific / RopGetPropertiesAll.
pub struct StoreInfo {
    pub mail: String,
    pub display_name: String,
    pub legacy_dn: String,
    pub mailbox_guid: Guid,
    pub replica_guid: Guid,
    pub code_page: u32,
    pub locale: u32,
}

impl StoreInfo {
    /// The store properties (MS-OXCSTOR 2.2.2.1), in tag order.
    pub fn properties(&self) -> Vec<(PropTag, PropValue)> {
        let fe = |slot| PropValue::Binary(folder_entry_id(self.mailbox_guid, self.replica_guid, slot));
        let user = PropValue::Binary(user_entry_id(&self.legacy_dn));
        let mut v = vec![
            (p::MESSAGE_SIZE_EXTENDED, PropValue::Integer64(0)),
            (p::STORE_RECORD_KEY, PropValue::Binary(self.mailbox_guid.0.to_vec())),
            (p::DISPLAY_NAME, PropValue::String(self.display_name.clone())),
            (p::STORE_SUPPORT_MASK, PropValue::Integer32(STORE_SUPPORT_MASK)),
            (p::STORE_STATE, PropValue::Integer32(0)),
            (p::MDB_PROVIDER, PropValue::Binary(PRIVATE_STORE_PROVIDER.0.to_vec())),
            (p::IPM_SUBTREE_ENTRY_ID, fe(slot::IPM_SUBTREE)),
            (p::IPM_OUTBOX_ENTRY_ID, fe(slot::OUTBOX)),
            (p::IPM_WASTEBASKET_ENTRY_ID, fe(slot::DELETED_ITEMS)),
            (p::IPM_SENTMAIL_ENTRY_ID, fe(slot::SENT_ITEMS)),
            (p::VIEWS_ENTRY_ID, fe(slot::VIEWS)),
            (p::COMMON_VIEWS_ENTRY_ID, fe(slot::COMMON_VIEWS)),
            (p::FINDER_ENTRY_ID, fe(slot::FINDER)),
            (p::USER_ENTRY_ID, user.clone()),
            (p::MAILBOX_OWNER_ENTRY_ID, user),
            (p::MAILBOX_OWNER_NAME, PropValue::String(self.display_name.clone())),
            (p::OUT_OF_OFFICE_STATE, PropValue::Boolean(false)),
            (p::MAX_SUBMIT_MESSAGE_SIZE, PropValue::Integer32(35 * 1024)),
            (p::LOCALE_ID, PropValue::Integer32(self.locale as i32)),
            (p::CODE_PAGE_ID, PropValue::Integer32(self.code_page as i32)),
        ];
        v.sort_by_key(|(t, _)| t.0);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable() {
        assert_eq!(replica_guid("Alice@Example.test"), replica_guid("alice@example.test"));
        assert_ne!(replica_guid("alice@example.test"), replica_guid("bob@example.test"));
        let ids = logon_folder_ids();
        assert_eq!(ids[0], fid(slot::ROOT));
        assert_eq!(ids[4], fid(slot::INBOX));
        assert_eq!(ids[12], fid(slot::SHORTCUTS));
        assert_eq!(ids[4].to_u64(), ObjectId::new(1, 5).to_u64());
        let e = folder_entry_id(Guid([1; 16]), Guid([2; 16]), slot::INBOX);
        assert_eq!(e.len(), FolderEntryId::SIZE);
        assert_eq!(&e[22..38], &[2; 16]);
        assert_eq!(&e[38..44], &[0, 0, 0, 0, 0, 5]);
    }
}
