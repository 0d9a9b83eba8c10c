//! The id encodings of ADR 0002 as pure functions: GlobalCounter layouts of FIDs, MIDs and change numbers,
//! SourceKey / ChangeKey / PredecessorChangeList, and the deterministic resolution of folder-slot claims.
//!
//! 48-bit GlobalCounter (MS-OXCDATA 2.2.1.1), top two bits select the kind; slots are 14 bits:
//!
//! | top bits | kind | rest |
//! |---|---|---|
//! | `00` | folder | slot |
//! | `10` | IMAP message | slot (14) · UID (32) |
//! | `01` | DAV item | slot (14) · item number (32) |
//! | `11` | change number | slot (14) · MODSEQ or ETag hash (32) |

use std::collections::{BTreeMap, BTreeSet};

use mapi_codec::oxcdata::{GlobalCounter, Guid, ObjectId};

use super::store::REPLICA_ID;

/// Largest folder slot.
pub const MAX_SLOT: u16 = 0x3FFF;
/// First slot handed to a folder that is not a special folder (0x01–0x3F are fixed, `store::slot`).
pub const FIRST_DYNAMIC_SLOT: u16 = 0x40;

const KIND_SHIFT: u32 = 46;
const SLOT_SHIFT: u32 = 32;
const KIND_FOLDER: u64 = 0b00;
const KIND_DAV: u64 = 0b01;
const KIND_IMAP: u64 = 0b10;
const KIND_CHANGE: u64 = 0b11;

fn counter(kind: u64, slot: u16, low: u32) -> u64 {
    (kind << KIND_SHIFT) | (u64::from(slot & MAX_SLOT) << SLOT_SHIFT) | u64::from(low)
}

/// The FID of a folder slot.
pub fn fid(slot: u16) -> ObjectId {
    ObjectId::new(REPLICA_ID, u64::from(slot & MAX_SLOT))
}

/// The MID of IMAP message `uid` in the folder of `slot`.
pub fn imap_mid(slot: u16, uid: u32) -> ObjectId {
    ObjectId::new(REPLICA_ID, counter(KIND_IMAP, slot, uid))
}

/// The MID of DAV item number `item` in the collection of `slot`.
pub fn dav_mid(slot: u16, item: u32) -> ObjectId {
    ObjectId::new(REPLICA_ID, counter(KIND_DAV, slot, item))
}

/// A change number: MODSEQ (IMAP) or a 32-bit ETag hash (DAV) within a folder slot. `None` when a MODSEQ does
/// not fit 32 bits (ADR 0002: the folder then gets a new slot).
pub fn change_number(slot: u16, value: u64) -> Option<u64> {
    u32::try_from(value).ok().map(|v| counter(KIND_CHANGE, slot, v))
}

/// What a GlobalCounter of this store names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    Folder {
        slot: u16,
    },
    ImapMessage {
        slot: u16,
        uid: u32,
    },
    DavItem {
        slot: u16,
        item: u32,
    },
    Change {
        slot: u16,
        value: u32,
    },
    /// A folder counter beyond the slot range: not one of ours.
    Unknown,
}

/// Decodes a GlobalCounter value.
pub fn decode(counter: u64) -> Decoded {
    let kind = (counter >> KIND_SHIFT) & 0b11;
    let slot = ((counter >> SLOT_SHIFT) & u64::from(MAX_SLOT)) as u16;
    let low = counter as u32;
    match kind {
        KIND_FOLDER if counter <= u64::from(MAX_SLOT) && counter != 0 => Decoded::Folder { slot: counter as u16 },
        KIND_FOLDER => Decoded::Unknown,
        KIND_IMAP => Decoded::ImapMessage { slot, uid: low },
        KIND_DAV => Decoded::DavItem { slot, item: low },
        _ => Decoded::Change { slot, value: low },
    }
}

/// PidTagSourceKey (MS-OXCFXICS 2.2.1.2.5): ReplicaGuid + the 6-byte GlobalCounter of the FID/MID.
pub fn source_key(replica: Guid, counter: u64) -> Vec<u8> {
    let mut v = replica.0.to_vec();
    v.extend_from_slice(&GlobalCounter::from_value(counter).0);
    v
}

/// PidTagChangeKey (MS-OXCFXICS 2.2.1.2.7): the XID of the change number (ReplicaGuid + 6-byte counter).
pub fn change_key(replica: Guid, cn: u64) -> Vec<u8> {
    source_key(replica, cn)
}

/// PidTagPredecessorChangeList (MS-OXCFXICS 2.2.1.2.8): one SizedXid (XidSize, XID) — the current change only.
pub fn predecessor_change_list(replica: Guid, cn: u64) -> Vec<u8> {
    let xid = change_key(replica, cn);
    let mut v = vec![xid.len() as u8];
    v.extend_from_slice(&xid);
    v
}

/// A folder-slot claim from the claim log in the hidden folder (ADR 0002 §1): the IMAP UID of the claim
/// message orders the claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub uid: u32,
    pub slot: u16,
    /// The folder's stable identity (X-GUID / MAILBOXID / DAV collection URL).
    pub folder: String,
}

/// Resolves the claim log: in UID order, a claim wins if its slot is free and its folder has no slot yet.
/// Every instance reading the same log reaches the same answer. Out-of-range and special slots never win.
pub fn resolve_claims(claims: &[Claim]) -> BTreeMap<String, u16> {
    let mut ordered: Vec<&Claim> = claims.iter().collect();
    ordered.sort_by_key(|c| c.uid);
    let mut taken = BTreeSet::new();
    let mut out = BTreeMap::new();
    for c in ordered {
        if !(FIRST_DYNAMIC_SLOT..=MAX_SLOT).contains(&c.slot) || taken.contains(&c.slot) || out.contains_key(&c.folder)
        {
            continue;
        }
        taken.insert(c.slot);
        out.insert(c.folder.clone(), c.slot);
    }
    out
}

/// The lowest free dynamic slot given the resolved assignments, `None` when the mailbox is full.
pub fn next_free_slot(assigned: &BTreeMap<String, u16>) -> Option<u16> {
    let used: BTreeSet<u16> = assigned.values().copied().collect();
    (FIRST_DYNAMIC_SLOT..=MAX_SLOT).find(|s| !used.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_round_trip() {
        assert_eq!(decode(fid(5).global_counter.value()), Decoded::Folder { slot: 5 });
        let m = imap_mid(0x41, 0xDEAD_BEEF).global_counter.value();
        assert_eq!(m, 0x8041_DEAD_BEEF);
        assert_eq!(decode(m), Decoded::ImapMessage { slot: 0x41, uid: 0xDEAD_BEEF });
        let d = dav_mid(0x3FFF, 7).global_counter.value();
        assert_eq!(decode(d), Decoded::DavItem { slot: 0x3FFF, item: 7 });
        let cn = change_number(0x42, 1234).unwrap();
        assert_eq!(decode(cn), Decoded::Change { slot: 0x42, value: 1234 });
        assert_eq!(change_number(1, 1 << 32), None);
        assert_eq!(decode(0), Decoded::Unknown);
        assert_eq!(decode(0x4000), Decoded::Unknown);
        // Kinds never collide.
        let all = [fid(0x41).global_counter.value(), m, d, cn];
        let set: BTreeSet<u64> = all.iter().copied().collect();
        assert_eq!(set.len(), 4);
    }

    #[test]
    fn keys() {
        let g = Guid([7; 16]);
        let sk = source_key(g, 0x8041_0000_0001);
        assert_eq!(sk.len(), 22);
        assert_eq!(&sk[16..], &[0x80, 0x41, 0, 0, 0, 1]);
        let pcl = predecessor_change_list(g, 9);
        assert_eq!(pcl[0], 22);
        assert_eq!(&pcl[1..], change_key(g, 9).as_slice());
    }

    #[test]
    fn claim_races_resolve_deterministically() {
        let c = |uid, slot, folder: &str| Claim { uid, slot, folder: folder.into() };
        // Two instances claimed 0x40 for different folders; the lower UID wins, the loser re-claims 0x41.
        let log = vec![c(12, 0x40, "B"), c(10, 0x40, "A"), c(13, 0x41, "B"), c(11, 0x41, "A"), c(14, 0x05, "C")];
        let r = resolve_claims(&log);
        assert_eq!(r.get("A"), Some(&0x40), "A keeps its first winning claim");
        assert_eq!(r.get("B"), Some(&0x41));
        assert_eq!(r.get("C"), None, "special slots cannot be claimed");
        // Order of reading does not matter.
        let mut rev = log.clone();
        rev.reverse();
        assert_eq!(resolve_claims(&rev), r);
        assert_eq!(next_free_slot(&r), Some(0x42));
    }
}
