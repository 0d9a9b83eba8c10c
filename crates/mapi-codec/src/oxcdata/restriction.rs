//! Restrictions (MS-OXCDATA 2.12) and sort orders (MS-OXCDATA 2.13).

use crate::cursor::{CountWidth, Reader, Writer};
use crate::error::{Error, Result};
use crate::oxcdata::prop::{PropTag, TaggedPropertyValue};

/// Deepest nesting of restrictions accepted by the decoder.
pub const MAX_RESTRICTION_DEPTH: usize = 32;

/// Relational operator (MS-OXCDATA 2.12.5, RelOp).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RelOp {
    LessThan = 0x00,
    LessThanOrEqual = 0x01,
    GreaterThan = 0x02,
    GreaterThanOrEqual = 0x03,
    Equal = 0x04,
    NotEqual = 0x05,
    /// RELOP_RE: regular-expression match.
    Re = 0x06,
    /// RELOP_MEMBER_OF_DL.
    MemberOfDl = 0x64,
}

impl RelOp {
    pub fn from_u8(v: u8) -> Result<RelOp> {
        Ok(match v {
            0 => RelOp::LessThan,
            1 => RelOp::LessThanOrEqual,
            2 => RelOp::GreaterThan,
            3 => RelOp::GreaterThanOrEqual,
            4 => RelOp::Equal,
            5 => RelOp::NotEqual,
            6 => RelOp::Re,
            0x64 => RelOp::MemberOfDl,
            v => {
                return Err(Error::Invalid { what: "RelOp", value: v as u64 });
            }
        })
    }
}

/// A restriction (MS-OXCDATA 2.12). COUNT fields inside (RestrictCount of And/Or)
/// are 2 bytes in ROP buffers and 4 bytes in extended rules / address book.
#[derive(Debug, Clone, PartialEq)]
pub enum Restriction {
    /// 0x00 AndRestriction (2.12.1).
    And(Vec<Restriction>),
    /// 0x01 OrRestriction (2.12.2).
    Or(Vec<Restriction>),
    /// 0x02 NotRestriction (2.12.3).
    Not(Box<Restriction>),
    /// 0x03 ContentRestriction (2.12.4).
    Content { fuzzy_level_low: u16, fuzzy_level_high: u16, tag: PropTag, value: TaggedPropertyValue },
    /// 0x04 PropertyRestriction (2.12.5).
    Property { relop: RelOp, tag: PropTag, value: TaggedPropertyValue },
    /// 0x05 ComparePropertiesRestriction (2.12.6).
    CompareProps { relop: RelOp, tag1: PropTag, tag2: PropTag },
    /// 0x06 BitMaskRestriction (2.12.7). `bmr` 0x00 = BMR_EQZ, 0x01 = BMR_NEZ.
    BitMask { bmr: u8, tag: PropTag, mask: u32 },
    /// 0x07 SizeRestriction (2.12.8).
    Size { relop: RelOp, tag: PropTag, size: u32 },
    /// 0x08 ExistRestriction (2.12.9).
    Exist { tag: PropTag },
    /// 0x09 SubObjectRestriction (2.12.10).
    SubObject { subobject: PropTag, restriction: Box<Restriction> },
    /// 0x0A CommentRestriction (2.12.11).
    Comment { values: Vec<TaggedPropertyValue>, restriction: Option<Box<Restriction>> },
    /// 0x0B CountRestriction (2.12.12).
    Count { count: u32, restriction: Box<Restriction> },
}

impl Restriction {
    /// Decodes a restriction with the given COUNT width.
    pub fn decode(r: &mut Reader, w: CountWidth) -> Result<Self> {
        Self::decode_depth(r, w, 0)
    }

    pub(crate) fn decode_depth(r: &mut Reader, w: CountWidth, depth: usize) -> Result<Self> {
        if depth > MAX_RESTRICTION_DEPTH {
            return Err(Error::DepthExceeded { max: MAX_RESTRICTION_DEPTH });
        }
        let kind = r.u8()?;
        let sub = |r: &mut Reader| Restriction::decode_depth(r, w, depth + 1);
        Ok(match kind {
            0x00 | 0x01 => {
                let n = r.count(w)?;
                r.check_count("restriction count", n, 1)?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(sub(r)?);
                }
                if kind == 0 { Restriction::And(v) } else { Restriction::Or(v) }
            }
            0x02 => Restriction::Not(Box::new(sub(r)?)),
            0x03 => {
                let fuzzy_level_low = r.u16()?;
                let fuzzy_level_high = r.u16()?;
                let tag = PropTag::decode(r)?;
                let value = TaggedPropertyValue::decode_depth(r, w, depth + 1)?;
                Restriction::Content { fuzzy_level_low, fuzzy_level_high, tag, value }
            }
            0x04 => {
                let relop = RelOp::from_u8(r.u8()?)?;
                let tag = PropTag::decode(r)?;
                let value = TaggedPropertyValue::decode_depth(r, w, depth + 1)?;
                Restriction::Property { relop, tag, value }
            }
            0x05 => Restriction::CompareProps {
                relop: RelOp::from_u8(r.u8()?)?,
                tag1: PropTag::decode(r)?,
                tag2: PropTag::decode(r)?,
            },
            0x06 => Restriction::BitMask { bmr: r.u8()?, tag: PropTag::decode(r)?, mask: r.u32()? },
            0x07 => Restriction::Size { relop: RelOp::from_u8(r.u8()?)?, tag: PropTag::decode(r)?, size: r.u32()? },
            0x08 => Restriction::Exist { tag: PropTag::decode(r)? },
            0x09 => Restriction::SubObject { subobject: PropTag::decode(r)?, restriction: Box::new(sub(r)?) },
            0x0A => {
                let n = r.u8()? as usize;
                r.check_count("comment values", n, 4)?;
                let mut values = Vec::with_capacity(n);
                for _ in 0..n {
                    values.push(TaggedPropertyValue::decode_depth(r, w, depth + 1)?);
                }
                let present = r.u8()?;
                let restriction = if present != 0 { Some(Box::new(sub(r)?)) } else { None };
                Restriction::Comment { values, restriction }
            }
            0x0B => Restriction::Count { count: r.u32()?, restriction: Box::new(sub(r)?) },
            v => {
                return Err(Error::Invalid { what: "restriction type", value: v as u64 });
            }
        })
    }

    /// Encodes the restriction with the given COUNT width.
    pub fn encode(&self, wr: &mut Writer, w: CountWidth) -> Result<()> {
        match self {
            Restriction::And(v) | Restriction::Or(v) => {
                wr.u8(if matches!(self, Restriction::And(_)) { 0 } else { 1 });
                wr.count(w, v.len(), "restriction count")?;
                for x in v {
                    x.encode(wr, w)?;
                }
            }
            Restriction::Not(x) => {
                wr.u8(2);
                x.encode(wr, w)?;
            }
            Restriction::Content { fuzzy_level_low, fuzzy_level_high, tag, value } => {
                wr.u8(3);
                wr.u16(*fuzzy_level_low);
                wr.u16(*fuzzy_level_high);
                tag.encode(wr);
                value.encode(wr, w)?;
            }
            Restriction::Property { relop, tag, value } => {
                wr.u8(4);
                wr.u8(*relop as u8);
                tag.encode(wr);
                value.encode(wr, w)?;
            }
            Restriction::CompareProps { relop, tag1, tag2 } => {
                wr.u8(5);
                wr.u8(*relop as u8);
                tag1.encode(wr);
                tag2.encode(wr);
            }
            Restriction::BitMask { bmr, tag, mask } => {
                wr.u8(6);
                wr.u8(*bmr);
                tag.encode(wr);
                wr.u32(*mask);
            }
            Restriction::Size { relop, tag, size } => {
                wr.u8(7);
                wr.u8(*relop as u8);
                tag.encode(wr);
                wr.u32(*size);
            }
            Restriction::Exist { tag } => {
                wr.u8(8);
                tag.encode(wr);
            }
            Restriction::SubObject { subobject, restriction } => {
                wr.u8(9);
                subobject.encode(wr);
                restriction.encode(wr, w)?;
            }
            Restriction::Comment { values, restriction } => {
                wr.u8(0x0A);
                let n = u8::try_from(values.len())
                    .map_err(|_| Error::EncodeOverflow { what: "comment values", len: values.len() })?;
                wr.u8(n);
                for v in values {
                    v.encode(wr, w)?;
                }
                match restriction {
                    Some(x) => {
                        wr.u8(1);
                        x.encode(wr, w)?;
                    }
                    None => wr.u8(0),
                }
            }
            Restriction::Count { count, restriction } => {
                wr.u8(0x0B);
                wr.u32(*count);
                restriction.encode(wr, w)?;
            }
        }
        Ok(())
    }
}

/// SortOrder (MS-OXCDATA 2.13.1): PropertyType (2), PropertyId (2), Order (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortOrder {
    pub prop_type: u16,
    pub prop_id: u16,
    /// 0x00 ascending, 0x01 descending, 0x04 MaximumCategory.
    pub order: u8,
}

/// SortOrderSet (MS-OXCDATA 2.13.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SortOrderSet {
    pub categorized_count: u16,
    pub expanded_count: u16,
    pub sort_orders: Vec<SortOrder>,
}

impl SortOrderSet {
    pub fn decode(r: &mut Reader) -> Result<Self> {
        let n = r.u16()? as usize;
        let categorized_count = r.u16()?;
        let expanded_count = r.u16()?;
        r.check_count("SortOrderSet", n, 5)?;
        let mut sort_orders = Vec::with_capacity(n);
        for _ in 0..n {
            let prop_type = r.u16()?;
            let prop_id = r.u16()?;
            let order = r.u8()?;
            sort_orders.push(SortOrder { prop_type, prop_id, order });
        }
        Ok(SortOrderSet { categorized_count, expanded_count, sort_orders })
    }
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        w.len16(self.sort_orders.len(), "SortOrderSet")?;
        w.u16(self.categorized_count);
        w.u16(self.expanded_count);
        for s in &self.sort_orders {
            w.u16(s.prop_type);
            w.u16(s.prop_id);
            w.u8(s.order);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oxcdata::prop::PropValue;

    #[test]
    fn nested_round_trip() {
        let r = Restriction::And(vec![
            Restriction::Not(Box::new(Restriction::Exist { tag: PropTag(0x0037001F) })),
            Restriction::Content {
                fuzzy_level_low: 1,
                fuzzy_level_high: 0,
                tag: PropTag(0x0037001F),
                value: TaggedPropertyValue::new(PropTag(0x0037001F), PropValue::String("hi".into())),
            },
            Restriction::Comment { values: vec![], restriction: None },
        ]);
        for w in [CountWidth::U16, CountWidth::U32] {
            let mut wr = Writer::new();
            r.encode(&mut wr, w).unwrap();
            let b = wr.into_vec();
            let mut rd = Reader::new(&b);
            assert_eq!(Restriction::decode(&mut rd, w).unwrap(), r);
            assert!(rd.is_empty());
        }
    }

    #[test]
    fn depth_cap() {
        let b = vec![2u8; 10_000];
        assert_eq!(
            Restriction::decode(&mut Reader::new(&b), CountWidth::U16),
            Err(Error::DepthExceeded { max: MAX_RESTRICTION_DEPTH })
        );
    }
}
