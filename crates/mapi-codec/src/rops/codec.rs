//! Field codecs used by the ROP structure macros. Each submodule has
//! `dec(&mut Reader) -> Result<T>` and `enc(&T, &mut Writer) -> Result<()>`.

#![allow(dead_code)]
#![allow(clippy::ptr_arg)]

use crate::cursor::{CountWidth, Reader, Writer};
use crate::error::{Error, Result};
use crate::oxcdata::{
    Guid, LongTermId, ObjectId, PropTag, PropertyName, PropertyProblem, Restriction, SortOrderSet, TaggedPropertyValue,
    decode_problems, encode_problems,
};

macro_rules! prim {
    ($name:ident, $t:ty, $rd:ident) => {
        pub mod $name {
            use super::*;
            pub fn dec(r: &mut Reader) -> Result<$t> {
                r.$rd()
            }
            pub fn enc(v: &$t, w: &mut Writer) -> Result<()> {
                w.$rd(*v);
                Ok(())
            }
        }
    };
}
prim!(u8, u8, u8);
prim!(u16, u16, u16);
prim!(u32, u32, u32);
prim!(u64, u64, u64);
prim!(i32, i32, i32);
prim!(bool8, bool, bool8);

pub mod guid {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<Guid> {
        Ok(Guid(r.array()?))
    }
    pub fn enc(v: &Guid, w: &mut Writer) -> Result<()> {
        w.bytes(&v.0);
        Ok(())
    }
}

pub mod tag {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<PropTag> {
        PropTag::decode(r)
    }
    pub fn enc(v: &PropTag, w: &mut Writer) -> Result<()> {
        v.encode(w);
        Ok(())
    }
}

pub mod oid {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<ObjectId> {
        ObjectId::decode(r)
    }
    pub fn enc(v: &ObjectId, w: &mut Writer) -> Result<()> {
        v.encode(w);
        Ok(())
    }
}

pub mod ltid {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<LongTermId> {
        LongTermId::decode(r)
    }
    pub fn enc(v: &LongTermId, w: &mut Writer) -> Result<()> {
        v.encode(w);
        Ok(())
    }
}

/// 6-byte global counter.
pub mod gc6 {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<[u8; 6]> {
        r.array()
    }
    pub fn enc(v: &[u8; 6], w: &mut Writer) -> Result<()> {
        w.bytes(v);
        Ok(())
    }
}

/// 24-byte opaque block (ClientData).
pub mod b24 {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<[u8; 24]> {
        r.array()
    }
    pub fn enc(v: &[u8; 24], w: &mut Writer) -> Result<()> {
        w.bytes(v);
        Ok(())
    }
}

/// Three u16 (RopTellVersion Version).
pub mod ver6 {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<[u16; 3]> {
        Ok([r.u16()?, r.u16()?, r.u16()?])
    }
    pub fn enc(v: &[u16; 3], w: &mut Writer) -> Result<()> {
        for x in v {
            w.u16(*x);
        }
        Ok(())
    }
}

/// Bytes with a 2-byte size prefix.
pub mod bytes16 {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<Vec<u8>> {
        let n = r.u16()? as usize;
        Ok(r.bytes(n)?.to_vec())
    }
    pub fn enc(v: &Vec<u8>, w: &mut Writer) -> Result<()> {
        w.len16(v.len(), "byte array")?;
        w.bytes(v);
        Ok(())
    }
}

/// Bytes with a 4-byte size prefix.
pub mod bytes32 {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<Vec<u8>> {
        let n = r.u32()? as usize;
        Ok(r.bytes(n)?.to_vec())
    }
    pub fn enc(v: &Vec<u8>, w: &mut Writer) -> Result<()> {
        w.len32(v.len(), "byte array")?;
        w.bytes(v);
        Ok(())
    }
}

/// NUL-terminated ASCII string.
pub mod asciiz {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<String> {
        r.asciiz()
    }
    pub fn enc(v: &String, w: &mut Writer) -> Result<()> {
        if !v.is_ascii() || v.as_bytes().contains(&0) {
            return Err(Error::Invalid { what: "ASCII string", value: 0 });
        }
        w.str8z(v.as_bytes());
        Ok(())
    }
}

/// NUL-terminated UTF-16LE string.
pub mod utf16z {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<String> {
        r.utf16z()
    }
    pub fn enc(v: &String, w: &mut Writer) -> Result<()> {
        w.utf16z(v);
        Ok(())
    }
}

macro_rules! list16 {
    ($name:ident, $t:ty, $min:expr, |$r:ident| $dec:expr, |$v:ident, $w:ident| $enc:expr) => {
        pub mod $name {
            use super::*;
            pub fn dec($r: &mut Reader) -> Result<Vec<$t>> {
                let n = $r.u16()? as usize;
                $r.check_count(stringify!($name), n, $min)?;
                let mut out = Vec::with_capacity(n);
                for _ in 0..n {
                    out.push($dec);
                }
                Ok(out)
            }
            pub fn enc(v: &Vec<$t>, $w: &mut Writer) -> Result<()> {
                $w.len16(v.len(), stringify!($name))?;
                for $v in v {
                    $enc;
                }
                Ok(())
            }
        }
    };
}

list16!(tags16, PropTag, 4, |r| PropTag::decode(r)?, |x, w| x.encode(w));
list16!(oids16, ObjectId, 8, |r| ObjectId::decode(r)?, |x, w| x.encode(w));
list16!(ltids16, LongTermId, 24, |r| LongTermId::decode(r)?, |x, w| x.encode(w));
list16!(prop_ids16, u16, 2, |r| r.u16()?, |x, w| w.u16(*x));
list16!(u32s16, u32, 4, |r| r.u32()?, |x, w| w.u32(*x));
list16!(names16, PropertyName, 17, |r| PropertyName::decode(r)?, |x, w| x.encode(w)?);
list16!(values16, TaggedPropertyValue, 4, |r| TaggedPropertyValue::decode(r, CountWidth::U16)?, |x, w| x
    .encode(w, CountWidth::U16)?);

pub mod problems16 {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<Vec<PropertyProblem>> {
        decode_problems(r)
    }
    pub fn enc(v: &Vec<PropertyProblem>, w: &mut Writer) -> Result<()> {
        encode_problems(w, v)
    }
}

/// PropertyValueSize (2, covering count + values), PropertyValueCount (2), values.
pub mod sized_values16 {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<Vec<TaggedPropertyValue>> {
        let size = r.u16()? as usize;
        let mut sub = r.sub(size)?;
        let v = values16::dec(&mut sub)?;
        sub.finish()?;
        Ok(v)
    }
    pub fn enc(v: &Vec<TaggedPropertyValue>, w: &mut Writer) -> Result<()> {
        let mut inner = Writer::new();
        values16::enc(v, &mut inner)?;
        w.len16(inner.len(), "PropertyValueSize")?;
        w.bytes(inner.as_slice());
        Ok(())
    }
}

/// RestrictionDataSize (2) + RestrictionData; size 0 means no restriction.
pub mod restriction16 {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<Option<Restriction>> {
        let size = r.u16()? as usize;
        if size == 0 {
            return Ok(None);
        }
        let mut sub = r.sub(size)?;
        let v = Restriction::decode(&mut sub, CountWidth::U16)?;
        sub.finish()?;
        Ok(Some(v))
    }
    pub fn enc(v: &Option<Restriction>, w: &mut Writer) -> Result<()> {
        match v {
            None => w.u16(0),
            Some(res) => {
                let mut inner = Writer::new();
                res.encode(&mut inner, CountWidth::U16)?;
                w.len16(inner.len(), "RestrictionDataSize")?;
                w.bytes(inner.as_slice());
            }
        }
        Ok(())
    }
}

pub mod sort_orders {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<SortOrderSet> {
        SortOrderSet::decode(r)
    }
    pub fn enc(v: &SortOrderSet, w: &mut Writer) -> Result<()> {
        v.encode(w)
    }
}

/// Generates a plain struct whose fields are encoded in order by the given codecs.
macro_rules! wire_struct {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $f:ident : $t:ty => $c:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name { $($(#[$fm])* pub $f: $t),* }
        impl $name {
            /// Decodes the fields in wire order.
            #[allow(unused_variables)]
            pub fn decode(r: &mut $crate::cursor::Reader) -> $crate::error::Result<Self> {
                Ok($name { $($f: $crate::rops::codec::$c::dec(r)?),* })
            }
            /// Encodes the fields in wire order.
            #[allow(unused_variables)]
            pub fn encode(&self, w: &mut $crate::cursor::Writer) -> $crate::error::Result<()> {
                $($crate::rops::codec::$c::enc(&self.$f, w)?;)*
                Ok(())
            }
        }
    };
}
pub(crate) use wire_struct;

// ---- codecs for the MAPI/HTTP address book bodies ----

use crate::mapihttp::ab::{AbRowSet, AbTaggedValue, Stat, decode_ab_value_list, encode_ab_value_list};

pub mod stat {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<Stat> {
        Stat::decode(r)
    }
    pub fn enc(v: &Stat, w: &mut Writer) -> Result<()> {
        v.encode(w);
        Ok(())
    }
}

/// LargePropertyTagArray (MS-OXCMAPIHTTP 2.2.1.8): 4-byte count.
pub mod tags32 {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<Vec<PropTag>> {
        crate::oxcdata::decode_tag_array_w(r, CountWidth::U32)
    }
    pub fn enc(v: &Vec<PropTag>, w: &mut Writer) -> Result<()> {
        crate::oxcdata::encode_tag_array_w(w, v, CountWidth::U32)
    }
}

/// Count (4) + 32-bit values (minimal ids, explicit tables).
pub mod u32s32 {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<Vec<u32>> {
        let n = r.u32()? as usize;
        r.check_count("u32 array", n, 4)?;
        (0..n).map(|_| r.u32()).collect()
    }
    pub fn enc(v: &Vec<u32>, w: &mut Writer) -> Result<()> {
        w.len32(v.len(), "u32 array")?;
        v.iter().for_each(|x| w.u32(*x));
        Ok(())
    }
}

/// StringArray_r: Count (4) + NUL-terminated 8-bit strings.
pub mod strings8 {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<Vec<String>> {
        let n = r.u32()? as usize;
        r.check_count("StringArray", n, 1)?;
        (0..n).map(|_| r.asciiz()).collect()
    }
    pub fn enc(v: &Vec<String>, w: &mut Writer) -> Result<()> {
        w.len32(v.len(), "StringArray")?;
        for s in v {
            asciiz::enc(s, w)?;
        }
        Ok(())
    }
}

/// WStringArray_r: Count (4) + NUL-terminated UTF-16LE strings.
pub mod wstrings {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<Vec<String>> {
        let n = r.u32()? as usize;
        r.check_count("WStringArray", n, 2)?;
        (0..n).map(|_| r.utf16z()).collect()
    }
    pub fn enc(v: &Vec<String>, w: &mut Writer) -> Result<()> {
        w.len32(v.len(), "WStringArray")?;
        v.iter().for_each(|s| w.utf16z(s));
        Ok(())
    }
}

/// AddressBookPropertyValueList.
pub mod ab_values {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<Vec<AbTaggedValue>> {
        decode_ab_value_list(r)
    }
    pub fn enc(v: &Vec<AbTaggedValue>, w: &mut Writer) -> Result<()> {
        encode_ab_value_list(w, v)
    }
}

pub mod ab_tagged {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<AbTaggedValue> {
        AbTaggedValue::decode(r)
    }
    pub fn enc(v: &AbTaggedValue, w: &mut Writer) -> Result<()> {
        v.encode(w)
    }
}

pub mod ab_rowset {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<AbRowSet> {
        AbRowSet::decode(r)
    }
    pub fn enc(v: &AbRowSet, w: &mut Writer) -> Result<()> {
        v.encode(w)
    }
}

/// RowsCount (4) + AddressBookPropertyValueList per row (GetSpecialTable).
pub mod ab_value_lists {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<Vec<Vec<AbTaggedValue>>> {
        let n = r.u32()? as usize;
        r.check_count("RowsCount", n, 4)?;
        (0..n).map(|_| decode_ab_value_list(r)).collect()
    }
    pub fn enc(v: &Vec<Vec<AbTaggedValue>>, w: &mut Writer) -> Result<()> {
        w.len32(v.len(), "RowsCount")?;
        for x in v {
            encode_ab_value_list(w, x)?;
        }
        Ok(())
    }
}

/// EntryIdCount (4) + (size (4) + bytes) per EntryID (ModLinkAtt).
pub mod entry_ids32 {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<Vec<Vec<u8>>> {
        let n = r.u32()? as usize;
        r.check_count("EntryIdCount", n, 4)?;
        (0..n).map(|_| bytes32::dec(r)).collect()
    }
    pub fn enc(v: &Vec<Vec<u8>>, w: &mut Writer) -> Result<()> {
        w.len32(v.len(), "EntryIdCount")?;
        for x in v {
            bytes32::enc(x, w)?;
        }
        Ok(())
    }
}

/// A restriction with 4-byte counts (NSPI GetMatches Filter).
pub mod restriction32 {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<Restriction> {
        Restriction::decode(r, CountWidth::U32)
    }
    pub fn enc(v: &Restriction, w: &mut Writer) -> Result<()> {
        v.encode(w, CountWidth::U32)
    }
}

/// PropertyName_r of GetMatches: GUID (16) + ID (4).
pub mod guid_id {
    use super::*;
    pub fn dec(r: &mut Reader) -> Result<(Guid, u32)> {
        Ok((Guid(r.array()?), r.u32()?))
    }
    pub fn enc(v: &(Guid, u32), w: &mut Writer) -> Result<()> {
        w.bytes(&v.0.0);
        w.u32(v.1);
        Ok(())
    }
}

/// Builds `opt_x`: a one-byte Has* flag (non-zero = present) followed by `x`.
macro_rules! opt_codec {
    ($name:ident, $t:ty, $inner:ident) => {
        pub mod $name {
            use super::*;
            pub fn dec(r: &mut Reader) -> Result<Option<$t>> {
                Ok(if r.u8()? != 0 { Some($inner::dec(r)?) } else { None })
            }
            pub fn enc(v: &Option<$t>, w: &mut Writer) -> Result<()> {
                match v {
                    Some(x) => {
                        w.u8(0xFF);
                        $inner::enc(x, w)
                    }
                    None => {
                        w.u8(0);
                        Ok(())
                    }
                }
            }
        }
    };
}
opt_codec!(opt_stat, Stat, stat);
opt_codec!(opt_tags32, Vec<PropTag>, tags32);
opt_codec!(opt_u32s32, Vec<u32>, u32s32);
opt_codec!(opt_u32, u32, u32);
opt_codec!(opt_strings8, Vec<String>, strings8);
opt_codec!(opt_wstrings, Vec<String>, wstrings);
opt_codec!(opt_ab_values, Vec<AbTaggedValue>, ab_values);
opt_codec!(opt_ab_tagged, AbTaggedValue, ab_tagged);
opt_codec!(opt_ab_rowset, AbRowSet, ab_rowset);
opt_codec!(opt_ab_value_lists, Vec<Vec<AbTaggedValue>>, ab_value_lists);
opt_codec!(opt_entry_ids32, Vec<Vec<u8>>, entry_ids32);
opt_codec!(opt_restriction32, Restriction, restriction32);
opt_codec!(opt_guid_id, (Guid, u32), guid_id);
opt_codec!(opt_asciiz, String, asciiz);
