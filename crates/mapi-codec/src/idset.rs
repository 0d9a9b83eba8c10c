//! IDSETs and GLOBSETs (MS-OXCFXICS 2.2.2.4 IDSET, 2.2.2.5 GLOBCNT, 2.2.2.6
//! GLOBSET and its commands, 3.1.5.4.3 encoding and decoding), used by ICS
//! state properties such as
//! PidTagIdsetGiven and PidTagCnsetSeen.
//!
//! A GLOBSET is a set of 48-bit GLOBCNT values encoded as a little program of
//! commands over a "common byte stack" of at most 6 bytes (GLOBCNTs are
//! big-endian, so shared high bytes are pushed once):
//! Push (0x01..=0x06, then that many bytes), Pop (0x50), Bitmask (0x42,
//! StartingValue, Bitmask; needs 5 stacked bytes), Range (0x52, low and high
//! of 6 − stacked bytes each) and End (0x00).

use crate::cursor::{Reader, Writer};
use crate::error::{Error, Result};
use crate::oxcdata::Guid;

/// Largest GLOBCNT value (48 bits).
pub const GLOBCNT_MAX: u64 = (1 << 48) - 1;

/// A set of u64 values stored as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RangeSet {
    ranges: Vec<(u64, u64)>,
}

impl RangeSet {
    pub fn new() -> Self {
        RangeSet::default()
    }
    /// The ranges, sorted and merged.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
    /// Number of values in the set (saturating).
    pub fn len(&self) -> u64 {
        self.ranges.iter().fold(0u64, |a, (l, h)| a.saturating_add((h - l).saturating_add(1)))
    }
    pub fn contains(&self, v: u64) -> bool {
        self.ranges
            .binary_search_by(|&(l, h)| {
                if h < v {
                    core::cmp::Ordering::Less
                } else if l > v {
                    core::cmp::Ordering::Greater
                } else {
                    core::cmp::Ordering::Equal
                }
            })
            .is_ok()
    }
    pub fn insert(&mut self, v: u64) {
        self.insert_range(v, v);
    }
    /// Inserts `low..=high` (ignored if `low > high`).
    pub fn insert_range(&mut self, low: u64, high: u64) {
        if low > high {
            return;
        }
        // First range that could touch [low, high]: its high + 1 >= low.
        let start = self.ranges.partition_point(|&(_, h)| h.saturating_add(1) < low);
        let mut end = start;
        let (mut nl, mut nh) = (low, high);
        while end < self.ranges.len() && self.ranges[end].0 <= nh.saturating_add(1) {
            nl = nl.min(self.ranges[end].0);
            nh = nh.max(self.ranges[end].1);
            end += 1;
        }
        self.ranges.splice(start..end, [(nl, nh)]);
    }
    /// Adds every value of `other`.
    pub fn union(&mut self, other: &RangeSet) {
        for &(l, h) in &other.ranges {
            self.insert_range(l, h);
        }
    }
    /// Iterates the values (beware of huge ranges).
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.ranges.iter().flat_map(|&(l, h)| l..=h)
    }
}

impl FromIterator<u64> for RangeSet {
    fn from_iter<I: IntoIterator<Item = u64>>(iter: I) -> Self {
        let mut s = RangeSet::new();
        for v in iter {
            s.insert(v);
        }
        s
    }
}

fn be48(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |a, &b| (a << 8) | b as u64)
}

/// Decodes one GLOBSET (through its End command) into a range set.
pub fn decode_globset(r: &mut Reader) -> Result<RangeSet> {
    let mut set = RangeSet::new();
    let mut stack: Vec<u8> = Vec::with_capacity(6);
    let mut groups: Vec<usize> = Vec::with_capacity(6);
    loop {
        let cmd = r.u8()?;
        match cmd {
            // End. Bytes still on the stack are discarded (accepted leniently).
            0x00 => return Ok(set),
            0x01..=0x06 => {
                let n = cmd as usize;
                if stack.len() + n > 6 {
                    return Err(Error::Invalid { what: "GLOBSET push beyond 6 bytes", value: cmd as u64 });
                }
                stack.extend_from_slice(r.bytes(n)?);
                if stack.len() == 6 {
                    set.insert(be48(&stack));
                    stack.truncate(6 - n);
                } else {
                    groups.push(n);
                }
            }
            0x50 => {
                let n = groups.pop().ok_or(Error::Invalid { what: "GLOBSET pop on empty stack", value: 0x50 })?;
                stack.truncate(stack.len() - n);
            }
            0x42 => {
                if stack.len() != 5 {
                    return Err(Error::Invalid {
                        what: "GLOBSET bitmask needs 5 stacked bytes",
                        value: stack.len() as u64,
                    });
                }
                let start = r.u8()?;
                let mask = r.u8()?;
                let base = be48(&stack) << 8;
                set.insert(base | start as u64);
                for bit in 0..8u64 {
                    if mask & (1 << bit) != 0 {
                        let v = start as u64 + bit + 1;
                        if v > 0xFF {
                            return Err(Error::Invalid { what: "GLOBSET bitmask overflows the low byte", value: v });
                        }
                        set.insert(base | v);
                    }
                }
            }
            0x52 => {
                let k = 6 - stack.len();
                if k == 0 {
                    return Err(Error::Invalid { what: "GLOBSET range with full stack", value: 0x52 });
                }
                let mut lo = stack.clone();
                lo.extend_from_slice(r.bytes(k)?);
                let mut hi = stack.clone();
                hi.extend_from_slice(r.bytes(k)?);
                let (l, h) = (be48(&lo), be48(&hi));
                if l > h {
                    return Err(Error::Invalid { what: "GLOBSET range low above high", value: l });
                }
                set.insert_range(l, h);
            }
            other => {
                return Err(Error::Invalid { what: "GLOBSET command", value: other as u64 });
            }
        }
    }
}

/// Encodes a range set as a GLOBSET. Values above 48 bits are an error.
/// Singletons are pushed whole; ranges push their common high bytes, emit a
/// Range command and pop.
pub fn encode_globset(w: &mut Writer, set: &RangeSet) -> Result<()> {
    for &(l, h) in set.ranges() {
        if h > GLOBCNT_MAX {
            return Err(Error::EncodeOverflow { what: "GLOBCNT above 48 bits", len: 6 });
        }
        let lb = &l.to_be_bytes()[2..];
        let hb = &h.to_be_bytes()[2..];
        if l == h {
            w.u8(6);
            w.bytes(lb);
            continue;
        }
        let p = lb.iter().zip(hb).take(5).take_while(|(a, b)| a == b).count();
        if p > 0 {
            w.u8(p as u8);
            w.bytes(&lb[..p]);
        }
        w.u8(0x52);
        w.bytes(&lb[p..]);
        w.bytes(&hb[p..]);
        if p > 0 {
            w.u8(0x50);
        }
    }
    w.u8(0x00);
    Ok(())
}

/// The replica identification preceding each GLOBSET of an IDSET.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Replica {
    /// IDSET with REPLID (2 bytes).
    Id(u16),
    /// IDSET with REPLGUID (16 bytes).
    Guid(Guid),
}

/// An IDSET (MS-OXCFXICS 2.2.2.4): per replica, a set of GLOBCNTs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdSet {
    pub entries: Vec<(Replica, RangeSet)>,
}

/// Which replica form an IDSET uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaForm {
    ReplId,
    ReplGuid,
}

impl IdSet {
    /// Decodes a whole IDSET buffer.
    pub fn decode(buf: &[u8], form: ReplicaForm) -> Result<Self> {
        let mut r = Reader::new(buf);
        let mut entries = Vec::new();
        while !r.is_empty() {
            let replica = match form {
                ReplicaForm::ReplId => Replica::Id(r.u16()?),
                ReplicaForm::ReplGuid => Replica::Guid(Guid(r.array()?)),
            };
            entries.push((replica, decode_globset(&mut r)?));
        }
        Ok(IdSet { entries })
    }
    /// Encodes the IDSET; every replica must be of the same form.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut w = Writer::new();
        let mut form = None;
        for (rep, set) in &self.entries {
            let f = matches!(rep, Replica::Id(_));
            if *form.get_or_insert(f) != f {
                return Err(Error::Invalid { what: "IDSET mixes REPLID and REPLGUID", value: 0 });
            }
            match rep {
                Replica::Id(id) => w.u16(*id),
                Replica::Guid(g) => w.bytes(&g.0),
            }
            encode_globset(&mut w, set)?;
        }
        Ok(w.into_vec())
    }
    /// The set for a replica, if present.
    pub fn get(&self, replica: &Replica) -> Option<&RangeSet> {
        self.entries.iter().find(|(r, _)| r == replica).map(|(_, s)| s)
    }
    /// Adds a GLOBCNT for a replica (creating the entry when needed).
    pub fn insert(&mut self, replica: Replica, globcnt: u64) {
        match self.entries.iter_mut().find(|(r, _)| *r == replica) {
            Some((_, s)) => s.insert(globcnt),
            None => {
                let mut s = RangeSet::new();
                s.insert(globcnt);
                self.entries.push((replica, s));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_set_merges() {
        let mut s = RangeSet::new();
        s.insert_range(10, 20);
        s.insert(22);
        s.insert(21);
        s.insert_range(1, 3);
        s.insert_range(5, 9);
        assert_eq!(s.ranges(), &[(1, 3), (5, 22)]);
        assert!(s.contains(7) && !s.contains(4) && !s.contains(23));
        assert_eq!(s.len(), 21);
        s.insert_range(0, 100);
        assert_eq!(s.ranges(), &[(0, 100)]);
    }

    #[test]
    fn globset_commands() {
        // Push 5 bytes 00 00 00 00 01, bitmask start 0x02 mask 0b101, pop,
        // push 6 bytes singleton, range with empty stack, end.
        let b = [
            0x05, 0, 0, 0, 0, 1, 0x42, 0x02, 0b101, 0x50, 0x06, 0, 0, 0, 0, 2, 0, 0x52, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0,
            3, 0x10, 0x00,
        ];
        let s = decode_globset(&mut Reader::new(&b)).unwrap();
        assert_eq!(s.ranges(), &[(0x102, 0x103), (0x105, 0x105), (0x200, 0x200), (0x300, 0x310)]);
        let mut w = Writer::new();
        encode_globset(&mut w, &s).unwrap();
        assert_eq!(decode_globset(&mut Reader::new(w.as_slice())).unwrap(), s);
    }

    #[test]
    fn globset_rejects_bad_programs() {
        for b in [
            &[0x50u8][..],
            &[0x42, 1, 1],
            &[0x07],
            &[0x04, 1, 2, 3, 4, 0x04, 1, 2, 3, 4],
            &[0x52, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0],
        ] {
            assert!(decode_globset(&mut Reader::new(b)).is_err(), "{b:?}");
        }
    }

    #[test]
    fn idset_round_trip() {
        let mut ids = IdSet::default();
        for v in [1u64, 2, 3, 10, 0xFFFF_FFFF_FFFF, 0x1_0000_0000] {
            ids.insert(Replica::Id(1), v);
        }
        ids.insert(Replica::Id(5), 7);
        let b = ids.encode().unwrap();
        assert_eq!(IdSet::decode(&b, ReplicaForm::ReplId).unwrap(), ids);
        let mut g = IdSet::default();
        g.insert(Replica::Guid(Guid([9; 16])), 42);
        let b = g.encode().unwrap();
        assert_eq!(b.len(), 16 + 7 + 1);
        assert_eq!(IdSet::decode(&b, ReplicaForm::ReplGuid).unwrap(), g);
    }
}
