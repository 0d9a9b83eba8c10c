//! Field codecs used by the ROP structure macros. Each submodule has
//! `dec(&mut Reader) -> Result<T>` and `enc(&T, &mut Writer) -> Result<()>`.

#![allow(dead_code)]

#![allow(clippy::ptr_arg)]

use crate::cursor::{CountWidth, Reader, Writer};
use crate::error::{Error, Result};
use crate::oxcdata::{
    decode_problems, encode_problems, Guid, LongTermId, ObjectId, PropTag, PropertyName, PropertyProblem, Restriction,
    SortOrderSet, TaggedPropertyValue,
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
