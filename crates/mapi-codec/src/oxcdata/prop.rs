//! Property tags, property types and property values (MS-OXCDATA 2.9, 2.11).

use crate::cursor::{CountWidth, Reader, Writer};
use crate::error::{Error, Result};
use crate::oxcdata::Guid;
use crate::oxcdata::restriction::{MAX_RESTRICTION_DEPTH, Restriction};

/// Largest number of values accepted in one multi-valued property.
pub const MAX_MULTI_VALUES: usize = 1 << 20;

macro_rules! prop_types {
    ($($name:ident = $val:expr),* $(,)?) => {
        /// A property type (MS-OXCDATA 2.11.1).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum PropType { $($name = $val),* }
        impl PropType {
            /// Maps a wire value to a known type.
            pub fn from_u16(v: u16) -> Result<PropType> {
                match v { $($val => Ok(PropType::$name),)* _ => Err(Error::UnknownPropertyType(v)) }
            }
            /// All known property types.
            pub const ALL: &'static [PropType] = &[$(PropType::$name),*];
        }
    };
}

prop_types! {
    Unspecified = 0x0000,
    Null = 0x0001,
    Integer16 = 0x0002,
    Integer32 = 0x0003,
    Floating32 = 0x0004,
    Floating64 = 0x0005,
    Currency = 0x0006,
    FloatingTime = 0x0007,
    ErrorCode = 0x000A,
    Boolean = 0x000B,
    Object = 0x000D,
    Integer64 = 0x0014,
    String8 = 0x001E,
    String = 0x001F,
    Time = 0x0040,
    Guid = 0x0048,
    ServerId = 0x00FB,
    Restriction = 0x00FD,
    RuleAction = 0x00FE,
    Binary = 0x0102,
    MultipleInteger16 = 0x1002,
    MultipleInteger32 = 0x1003,
    MultipleFloating32 = 0x1004,
    MultipleFloating64 = 0x1005,
    MultipleCurrency = 0x1006,
    MultipleFloatingTime = 0x1007,
    MultipleInteger64 = 0x1014,
    MultipleString8 = 0x101E,
    MultipleString = 0x101F,
    MultipleTime = 0x1040,
    MultipleGuid = 0x1048,
    MultipleBinary = 0x1102,
}

impl PropType {
    /// The wire value.
    pub fn as_u16(self) -> u16 {
        self as u16
    }
    /// True for the `PtypMultiple*` types.
    pub fn is_multi(self) -> bool {
        (self as u16) & 0x1000 != 0
    }
}

/// A property tag: property id in the high 16 bits, property type in the low 16
/// bits (MS-OXCDATA 2.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PropTag(pub u32);

impl PropTag {
    pub const fn new(id: u16, ty: u16) -> PropTag {
        PropTag(((id as u32) << 16) | ty as u32)
    }
    pub const fn id(self) -> u16 {
        (self.0 >> 16) as u16
    }
    pub const fn type_raw(self) -> u16 {
        self.0 as u16
    }
    /// The property type, if known.
    pub fn prop_type(self) -> Result<PropType> {
        PropType::from_u16(self.type_raw())
    }
    /// Same id with another type.
    pub const fn with_type(self, ty: u16) -> PropTag {
        PropTag::new(self.id(), ty)
    }
    pub fn decode(r: &mut Reader) -> Result<PropTag> {
        Ok(PropTag(r.u32()?))
    }
    pub fn encode(self, w: &mut Writer) {
        w.u32(self.0);
    }
}

/// An opaque RuleAction value (MS-OXORULE 2.2.5, PtypRuleAction). This codec
/// keeps the action blocks as raw bytes: NoOfActions, then each ActionBlock
/// prefixed by its ActionLength, both of the context's COUNT width.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleActions {
    /// Each ActionBlock's bytes after its ActionLength field.
    pub blocks: Vec<Vec<u8>>,
}

/// A property value (MS-OXCDATA 2.11.1). The variant determines the property type.
#[derive(Debug, Clone, PartialEq)]
pub enum PropValue {
    Null,
    Integer16(i16),
    Integer32(i32),
    Floating32(f32),
    Floating64(f64),
    /// A 64-bit signed integer in units of 1/10000.
    Currency(i64),
    /// An OLE automation date (days since 1899-12-30) as f64.
    FloatingTime(f64),
    ErrorCode(u32),
    Boolean(bool),
    /// PtypObject / PtypEmbeddedTable: carried as a 32-bit value on the wire.
    Object(u32),
    Integer64(i64),
    /// PtypString8: raw bytes in the negotiated code page, terminator excluded.
    String8(Vec<u8>),
    /// PtypString: UTF-16LE on the wire, terminator excluded.
    String(String),
    /// PtypTime: a FILETIME (100 ns intervals since 1601-01-01 UTC).
    Time(u64),
    Guid(Guid),
    /// PtypServerId: the bytes of the ServerId structure (MS-OXCDATA 2.11.1.4).
    ServerId(Vec<u8>),
    Restriction(Box<Restriction>),
    RuleAction(RuleActions),
    Binary(Vec<u8>),
    MultipleInteger16(Vec<i16>),
    MultipleInteger32(Vec<i32>),
    MultipleFloating32(Vec<f32>),
    MultipleFloating64(Vec<f64>),
    MultipleCurrency(Vec<i64>),
    MultipleFloatingTime(Vec<f64>),
    MultipleInteger64(Vec<i64>),
    MultipleString8(Vec<Vec<u8>>),
    MultipleString(Vec<String>),
    MultipleTime(Vec<u64>),
    MultipleGuid(Vec<Guid>),
    MultipleBinary(Vec<Vec<u8>>),
}

fn read_multi<T>(
    r: &mut Reader,
    w: CountWidth,
    min: usize,
    mut f: impl FnMut(&mut Reader) -> Result<T>,
) -> Result<Vec<T>> {
    let n = r.count(w)?;
    if n > MAX_MULTI_VALUES {
        return Err(Error::TooLarge { what: "multi-valued property", len: n, max: MAX_MULTI_VALUES });
    }
    r.check_count("multi-valued property", n, min)?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(f(r)?);
    }
    Ok(v)
}

fn read_binary(r: &mut Reader, w: CountWidth) -> Result<Vec<u8>> {
    let n = r.count(w)?;
    Ok(r.bytes(n)?.to_vec())
}

fn write_binary(wr: &mut Writer, w: CountWidth, b: &[u8]) -> Result<()> {
    wr.count(w, b.len(), "binary value")?;
    wr.bytes(b);
    Ok(())
}

impl PropValue {
    /// The property type this value has on the wire.
    pub fn prop_type(&self) -> PropType {
        use PropValue as V;
        match self {
            V::Null => PropType::Null,
            V::Integer16(_) => PropType::Integer16,
            V::Integer32(_) => PropType::Integer32,
            V::Floating32(_) => PropType::Floating32,
            V::Floating64(_) => PropType::Floating64,
            V::Currency(_) => PropType::Currency,
            V::FloatingTime(_) => PropType::FloatingTime,
            V::ErrorCode(_) => PropType::ErrorCode,
            V::Boolean(_) => PropType::Boolean,
            V::Object(_) => PropType::Object,
            V::Integer64(_) => PropType::Integer64,
            V::String8(_) => PropType::String8,
            V::String(_) => PropType::String,
            V::Time(_) => PropType::Time,
            V::Guid(_) => PropType::Guid,
            V::ServerId(_) => PropType::ServerId,
            V::Restriction(_) => PropType::Restriction,
            V::RuleAction(_) => PropType::RuleAction,
            V::Binary(_) => PropType::Binary,
            V::MultipleInteger16(_) => PropType::MultipleInteger16,
            V::MultipleInteger32(_) => PropType::MultipleInteger32,
            V::MultipleFloating32(_) => PropType::MultipleFloating32,
            V::MultipleFloating64(_) => PropType::MultipleFloating64,
            V::MultipleCurrency(_) => PropType::MultipleCurrency,
            V::MultipleFloatingTime(_) => PropType::MultipleFloatingTime,
            V::MultipleInteger64(_) => PropType::MultipleInteger64,
            V::MultipleString8(_) => PropType::MultipleString8,
            V::MultipleString(_) => PropType::MultipleString,
            V::MultipleTime(_) => PropType::MultipleTime,
            V::MultipleGuid(_) => PropType::MultipleGuid,
            V::MultipleBinary(_) => PropType::MultipleBinary,
        }
    }

    /// Decodes a PropertyValue (MS-OXCDATA 2.11.2.1) of known type `ty`, using
    /// `w` as the COUNT context (see [`CountWidth`]).
    pub fn decode(r: &mut Reader, ty: PropType, w: CountWidth) -> Result<PropValue> {
        Self::decode_depth(r, ty, w, 0)
    }

    pub(crate) fn decode_depth(r: &mut Reader, ty: PropType, w: CountWidth, depth: usize) -> Result<PropValue> {
        use PropValue as V;
        let cw = match w {
            CountWidth::U16 => 2,
            CountWidth::U32 => 4,
        };
        Ok(match ty {
            PropType::Unspecified => return Err(Error::UnknownPropertyType(0)),
            PropType::Null => V::Null,
            PropType::Integer16 => V::Integer16(r.i16()?),
            PropType::Integer32 => V::Integer32(r.i32()?),
            PropType::Floating32 => V::Floating32(r.f32()?),
            PropType::Floating64 => V::Floating64(r.f64()?),
            PropType::Currency => V::Currency(r.i64()?),
            PropType::FloatingTime => V::FloatingTime(r.f64()?),
            PropType::ErrorCode => V::ErrorCode(r.u32()?),
            PropType::Boolean => V::Boolean(r.bool8()?),
            PropType::Object => V::Object(r.u32()?),
            PropType::Integer64 => V::Integer64(r.i64()?),
            PropType::String8 => V::String8(r.str8z()?),
            PropType::String => V::String(r.utf16z()?),
            PropType::Time => V::Time(r.u64()?),
            PropType::Guid => V::Guid(Guid(r.array()?)),
            PropType::ServerId => V::ServerId(read_binary(r, w)?),
            PropType::Restriction => V::Restriction(Box::new(Restriction::decode_depth(r, w, depth + 1)?)),
            PropType::RuleAction => {
                if depth > MAX_RESTRICTION_DEPTH {
                    return Err(Error::DepthExceeded { max: MAX_RESTRICTION_DEPTH });
                }
                V::RuleAction(RuleActions { blocks: read_multi(r, w, cw, |r| read_binary(r, w))? })
            }
            PropType::Binary => V::Binary(read_binary(r, w)?),
            PropType::MultipleInteger16 => V::MultipleInteger16(read_multi(r, CountWidth::U32, 2, |r| r.i16())?),
            PropType::MultipleInteger32 => V::MultipleInteger32(read_multi(r, CountWidth::U32, 4, |r| r.i32())?),
            PropType::MultipleFloating32 => V::MultipleFloating32(read_multi(r, CountWidth::U32, 4, |r| r.f32())?),
            PropType::MultipleFloating64 => V::MultipleFloating64(read_multi(r, CountWidth::U32, 8, |r| r.f64())?),
            PropType::MultipleCurrency => V::MultipleCurrency(read_multi(r, CountWidth::U32, 8, |r| r.i64())?),
            PropType::MultipleFloatingTime => V::MultipleFloatingTime(read_multi(r, CountWidth::U32, 8, |r| r.f64())?),
            PropType::MultipleInteger64 => V::MultipleInteger64(read_multi(r, CountWidth::U32, 8, |r| r.i64())?),
            PropType::MultipleString8 => V::MultipleString8(read_multi(r, CountWidth::U32, 1, |r| r.str8z())?),
            PropType::MultipleString => V::MultipleString(read_multi(r, CountWidth::U32, 2, |r| r.utf16z())?),
            PropType::MultipleTime => V::MultipleTime(read_multi(r, CountWidth::U32, 8, |r| r.u64())?),
            PropType::MultipleGuid => V::MultipleGuid(read_multi(r, CountWidth::U32, 16, |r| Ok(Guid(r.array()?)))?),
            PropType::MultipleBinary => V::MultipleBinary(read_multi(r, CountWidth::U32, cw, |r| read_binary(r, w))?),
        })
    }

    /// Encodes the value (without type or tag) using `w` for COUNT fields.
    pub fn encode(&self, wr: &mut Writer, w: CountWidth) -> Result<()> {
        use PropValue as V;
        macro_rules! multi {
            ($cw:expr, $v:expr, $f:expr) => {{
                wr.count($cw, $v.len(), "multi-valued property")?;
                for x in $v.iter() {
                    #[allow(clippy::redundant_closure_call)]
                    ($f)(&mut *wr, x)?;
                }
            }};
        }
        match self {
            V::Null => {}
            V::Integer16(v) => wr.i16(*v),
            V::Integer32(v) => wr.i32(*v),
            V::Floating32(v) => wr.f32(*v),
            V::Floating64(v) => wr.f64(*v),
            V::Currency(v) => wr.i64(*v),
            V::FloatingTime(v) => wr.f64(*v),
            V::ErrorCode(v) => wr.u32(*v),
            V::Boolean(v) => wr.bool8(*v),
            V::Object(v) => wr.u32(*v),
            V::Integer64(v) => wr.i64(*v),
            V::String8(v) => wr.str8z(v),
            V::String(v) => wr.utf16z(v),
            V::Time(v) => wr.u64(*v),
            V::Guid(g) => wr.bytes(&g.0),
            V::ServerId(b) => write_binary(wr, w, b)?,
            V::Restriction(res) => res.encode(wr, w)?,
            V::RuleAction(ra) => multi!(w, ra.blocks, |wr: &mut Writer, b: &Vec<u8>| write_binary(wr, w, b)),
            V::Binary(b) => write_binary(wr, w, b)?,
            V::MultipleInteger16(v) => multi!(CountWidth::U32, v, |wr: &mut Writer, x: &i16| -> Result<()> {
                wr.i16(*x);
                Ok(())
            }),
            V::MultipleInteger32(v) => multi!(CountWidth::U32, v, |wr: &mut Writer, x: &i32| -> Result<()> {
                wr.i32(*x);
                Ok(())
            }),
            V::MultipleFloating32(v) => multi!(CountWidth::U32, v, |wr: &mut Writer, x: &f32| -> Result<()> {
                wr.f32(*x);
                Ok(())
            }),
            V::MultipleFloating64(v) => multi!(CountWidth::U32, v, |wr: &mut Writer, x: &f64| -> Result<()> {
                wr.f64(*x);
                Ok(())
            }),
            V::MultipleCurrency(v) => multi!(CountWidth::U32, v, |wr: &mut Writer, x: &i64| -> Result<()> {
                wr.i64(*x);
                Ok(())
            }),
            V::MultipleFloatingTime(v) => multi!(CountWidth::U32, v, |wr: &mut Writer, x: &f64| -> Result<()> {
                wr.f64(*x);
                Ok(())
            }),
            V::MultipleInteger64(v) => multi!(CountWidth::U32, v, |wr: &mut Writer, x: &i64| -> Result<()> {
                wr.i64(*x);
                Ok(())
            }),
            V::MultipleString8(v) => multi!(CountWidth::U32, v, |wr: &mut Writer, x: &Vec<u8>| -> Result<()> {
                wr.str8z(x);
                Ok(())
            }),
            V::MultipleString(v) => multi!(CountWidth::U32, v, |wr: &mut Writer, x: &String| -> Result<()> {
                wr.utf16z(x);
                Ok(())
            }),
            V::MultipleTime(v) => multi!(CountWidth::U32, v, |wr: &mut Writer, x: &u64| -> Result<()> {
                wr.u64(*x);
                Ok(())
            }),
            V::MultipleGuid(v) => multi!(CountWidth::U32, v, |wr: &mut Writer, x: &Guid| -> Result<()> {
                wr.bytes(&x.0);
                Ok(())
            }),
            V::MultipleBinary(v) => {
                multi!(CountWidth::U32, v, |wr: &mut Writer, x: &Vec<u8>| { write_binary(wr, w, x) })
            }
        }
        Ok(())
    }
}

/// TypedPropertyValue (MS-OXCDATA 2.11.3): PropertyType (2 bytes) then the value.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedPropertyValue(pub PropValue);

impl TypedPropertyValue {
    pub fn decode(r: &mut Reader, w: CountWidth) -> Result<Self> {
        let ty = PropType::from_u16(r.u16()?)?;
        Ok(TypedPropertyValue(PropValue::decode(r, ty, w)?))
    }
    pub fn encode(&self, wr: &mut Writer, w: CountWidth) -> Result<()> {
        wr.u16(self.0.prop_type().as_u16());
        self.0.encode(wr, w)
    }
}

/// TaggedPropertyValue (MS-OXCDATA 2.11.4): PropertyTag (4 bytes) then the value
/// whose type is given by the tag.
#[derive(Debug, Clone, PartialEq)]
pub struct TaggedPropertyValue {
    pub tag: PropTag,
    pub value: PropValue,
}

impl TaggedPropertyValue {
    pub fn new(tag: PropTag, value: PropValue) -> Self {
        TaggedPropertyValue { tag, value }
    }
    pub fn decode(r: &mut Reader, w: CountWidth) -> Result<Self> {
        Self::decode_depth(r, w, 0)
    }
    pub(crate) fn decode_depth(r: &mut Reader, w: CountWidth, depth: usize) -> Result<Self> {
        let tag = PropTag::decode(r)?;
        let value = PropValue::decode_depth(r, tag.prop_type()?, w, depth)?;
        Ok(TaggedPropertyValue { tag, value })
    }
    /// Encodes the tag and value. The tag's type is written as stored; the
    /// value's encoding follows its own variant.
    pub fn encode(&self, wr: &mut Writer, w: CountWidth) -> Result<()> {
        if self.tag.type_raw() != self.value.prop_type().as_u16() {
            return Err(Error::Invalid { what: "tag type differs from value type", value: self.tag.0 as u64 });
        }
        self.tag.encode(wr);
        self.value.encode(wr, w)
    }
}

/// One value inside a PropertyRow (MS-OXCDATA 2.8.1).
#[derive(Debug, Clone, PartialEq)]
pub enum RowValue {
    /// The value is present (PropertyValue, FlaggedPropertyValue with Flag 0x00).
    Value(PropValue),
    /// FlaggedPropertyValue Flag 0x01: no value.
    NotPresent,
    /// FlaggedPropertyValue Flag 0x0A: a PtypErrorCode value in place of the value.
    Error(u32),
}

/// The multi-valued-instance flag of a column's property type (MS-OXCTABL
/// 2.2.1.2 / MS-OXCDATA 2.11.1): such a column yields one row per value, each
/// row holding a single value of the matching single-valued type.
pub const MV_INSTANCE: u16 = 0x2000;

/// The type of the value a column of type `raw` carries in a row: for a
/// multi-valued-instance column (0x3000 bits set) the single-valued type.
pub fn row_value_type(raw: u16) -> u16 {
    if raw & MV_INSTANCE != 0 { raw & !(MV_INSTANCE | 0x1000) } else { raw }
}

/// PropertyRow (MS-OXCDATA 2.8.1): StandardPropertyRow (Flag 0x00) or
/// FlaggedPropertyRow (Flag 0x01). Decoding needs the column set, since the
/// values carry no tags. A column of type PtypUnspecified carries its type
/// inline (TypedPropertyValue / FlaggedPropertyValueWithType).
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyRow {
    pub flagged: bool,
    pub values: Vec<RowValue>,
}

impl PropertyRow {
    /// Builds a row, choosing the flagged form only when a value is missing or an error.
    pub fn from_values(values: Vec<RowValue>) -> Self {
        let flagged = values.iter().any(|v| !matches!(v, RowValue::Value(_)));
        PropertyRow { flagged, values }
    }

    pub fn decode(r: &mut Reader, columns: &[PropTag], w: CountWidth) -> Result<Self> {
        let flag = r.u8()?;
        let flagged = match flag {
            0 => false,
            1 => true,
            v => {
                return Err(Error::Invalid { what: "PropertyRow flag", value: v as u64 });
            }
        };
        let mut values = Vec::with_capacity(columns.len().min(r.remaining()));
        for col in columns {
            let raw = row_value_type(col.type_raw());
            let read_val = |r: &mut Reader| -> Result<PropValue> {
                if raw == PropType::Unspecified as u16 {
                    Ok(TypedPropertyValue::decode(r, w)?.0)
                } else {
                    PropValue::decode(r, PropType::from_u16(raw)?, w)
                }
            };
            if flagged {
                let f = r.u8()?;
                values.push(match f {
                    0x00 => RowValue::Value(read_val(r)?),
                    0x01 => RowValue::NotPresent,
                    0x0A => RowValue::Error(r.u32()?),
                    v => {
                        return Err(Error::Invalid { what: "FlaggedPropertyValue flag", value: v as u64 });
                    }
                });
            } else {
                values.push(RowValue::Value(read_val(r)?));
            }
        }
        Ok(PropertyRow { flagged, values })
    }

    pub fn encode(&self, wr: &mut Writer, columns: &[PropTag], w: CountWidth) -> Result<()> {
        if columns.len() != self.values.len() {
            return Err(Error::Invalid { what: "PropertyRow value count", value: self.values.len() as u64 });
        }
        wr.u8(self.flagged as u8);
        for (col, v) in columns.iter().zip(&self.values) {
            let unspecified = col.type_raw() == PropType::Unspecified as u16;
            let put = |wr: &mut Writer, pv: &PropValue| -> Result<()> {
                if unspecified {
                    TypedPropertyValue(pv.clone()).encode(wr, w)
                } else {
                    if pv.prop_type().as_u16() != row_value_type(col.type_raw()) {
                        return Err(Error::Invalid { what: "row value type", value: pv.prop_type().as_u16() as u64 });
                    }
                    pv.encode(wr, w)
                }
            };
            match (self.flagged, v) {
                (false, RowValue::Value(pv)) => put(wr, pv)?,
                (false, _) => {
                    return Err(Error::Invalid { what: "standard row with missing value", value: 0 });
                }
                (true, RowValue::Value(pv)) => {
                    wr.u8(0);
                    put(wr, pv)?
                }
                (true, RowValue::NotPresent) => wr.u8(1),
                (true, RowValue::Error(e)) => {
                    wr.u8(0x0A);
                    wr.u32(*e)
                }
            }
        }
        Ok(())
    }
}

/// PropertyTagArray (MS-OXCDATA 2.10.1): Count (2 bytes) then property tags.
pub fn decode_tag_array(r: &mut Reader) -> Result<Vec<PropTag>> {
    decode_tag_array_w(r, CountWidth::U16)
}

/// A property tag array with a COUNT of the given width.
pub fn decode_tag_array_w(r: &mut Reader, w: CountWidth) -> Result<Vec<PropTag>> {
    let n = r.count(w)?;
    r.check_count("PropertyTagArray", n, 4)?;
    (0..n).map(|_| PropTag::decode(r)).collect()
}

/// Encodes a PropertyTagArray with a 2-byte count.
pub fn encode_tag_array(wr: &mut Writer, tags: &[PropTag]) -> Result<()> {
    encode_tag_array_w(wr, tags, CountWidth::U16)
}

/// Encodes a property tag array with a COUNT of the given width.
pub fn encode_tag_array_w(wr: &mut Writer, tags: &[PropTag], w: CountWidth) -> Result<()> {
    wr.count(w, tags.len(), "PropertyTagArray")?;
    for t in tags {
        t.encode(wr);
    }
    Ok(())
}

/// Decodes `n` property tags with no count prefix.
pub fn decode_tags(r: &mut Reader, n: usize) -> Result<Vec<PropTag>> {
    r.check_count("property tags", n, 4)?;
    (0..n).map(|_| PropTag::decode(r)).collect()
}

/// Decodes `n` property ids (2 bytes each) with no count prefix.
pub fn decode_prop_ids(r: &mut Reader, n: usize) -> Result<Vec<u16>> {
    r.check_count("property ids", n, 2)?;
    (0..n).map(|_| r.u16()).collect()
}

/// Decodes `n` TaggedPropertyValues (ROP 16-bit counts) with no count prefix.
pub fn decode_tagged_values(r: &mut Reader, n: usize) -> Result<Vec<TaggedPropertyValue>> {
    r.check_count("property values", n, 4)?;
    (0..n).map(|_| TaggedPropertyValue::decode(r, CountWidth::U16)).collect()
}

/// Encodes TaggedPropertyValues (ROP 16-bit counts) with no count prefix.
pub fn encode_tagged_values(wr: &mut Writer, v: &[TaggedPropertyValue]) -> Result<()> {
    for t in v {
        t.encode(wr, CountWidth::U16)?;
    }
    Ok(())
}

/// PropertyProblem (MS-OXCDATA 2.7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropertyProblem {
    pub index: u16,
    pub tag: PropTag,
    pub error_code: u32,
}

impl PropertyProblem {
    pub fn decode(r: &mut Reader) -> Result<Self> {
        Ok(PropertyProblem { index: r.u16()?, tag: PropTag::decode(r)?, error_code: r.u32()? })
    }
    pub fn encode(&self, w: &mut Writer) {
        w.u16(self.index);
        self.tag.encode(w);
        w.u32(self.error_code);
    }
}

/// PropertyProblemArray (MS-OXCDATA 2.7.2): Count (2 bytes) then problems.
pub fn decode_problems(r: &mut Reader) -> Result<Vec<PropertyProblem>> {
    let n = r.u16()? as usize;
    r.check_count("PropertyProblemArray", n, 10)?;
    (0..n).map(|_| PropertyProblem::decode(r)).collect()
}

/// Encodes a PropertyProblemArray.
pub fn encode_problems(w: &mut Writer, p: &[PropertyProblem]) -> Result<()> {
    w.len16(p.len(), "PropertyProblemArray")?;
    for x in p {
        x.encode(w);
    }
    Ok(())
}

/// The name part of a [`PropertyName`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NameKind {
    /// Kind 0x00: a 32-bit long id (LID).
    Lid(u32),
    /// Kind 0x01: a string name.
    Name(String),
    /// Kind 0xFF: no name.
    None,
}

/// PropertyName (MS-OXCDATA 2.6.1): Kind (1 byte), GUID (16 bytes), then LID
/// (4 bytes) for kind 0x00, or NameSize (1 byte) + NUL-terminated UTF-16LE Name
/// for kind 0x01.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PropertyName {
    pub guid: Guid,
    pub kind: NameKind,
}

impl PropertyName {
    pub fn decode(r: &mut Reader) -> Result<Self> {
        let kind = r.u8()?;
        let guid = Guid(r.array()?);
        let kind = match kind {
            0x00 => NameKind::Lid(r.u32()?),
            0x01 => {
                let size = r.u8()? as usize;
                let mut sub = r.sub(size)?;
                let name = sub.utf16z()?;
                NameKind::Name(name)
            }
            0xFF => NameKind::None,
            v => {
                return Err(Error::Invalid { what: "PropertyName kind", value: v as u64 });
            }
        };
        Ok(PropertyName { guid, kind })
    }
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        match &self.kind {
            NameKind::Lid(l) => {
                w.u8(0);
                w.bytes(&self.guid.0);
                w.u32(*l);
            }
            NameKind::Name(n) => {
                w.u8(1);
                w.bytes(&self.guid.0);
                let size = crate::cursor::utf16z_len(n);
                let size =
                    u8::try_from(size).map_err(|_| Error::EncodeOverflow { what: "PropertyName name", len: size })?;
                w.u8(size);
                w.utf16z(n);
            }
            NameKind::None => {
                w.u8(0xFF);
                w.bytes(&self.guid.0);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(v: PropValue, w: CountWidth) {
        let mut wr = Writer::new();
        v.encode(&mut wr, w).unwrap();
        let b = wr.into_vec();
        let mut r = Reader::new(&b);
        let d = PropValue::decode(&mut r, v.prop_type(), w).unwrap();
        assert!(r.is_empty());
        assert_eq!(d, v);
    }

    #[test]
    fn values_round_trip() {
        for w in [CountWidth::U16, CountWidth::U32] {
            rt(PropValue::Integer32(-5), w);
            rt(PropValue::String("Inbox".into()), w);
            rt(PropValue::String8(b"abc".to_vec()), w);
            rt(PropValue::Binary(vec![1, 2, 3]), w);
            rt(PropValue::MultipleString(vec!["a".into(), "".into()]), w);
            rt(PropValue::MultipleBinary(vec![vec![], vec![9]]), w);
            rt(PropValue::Boolean(true), w);
            rt(PropValue::Time(0x01D0_0000_0000_0000), w);
            rt(PropValue::RuleAction(RuleActions { blocks: vec![vec![1, 2], vec![]] }), w);
        }
    }

    #[test]
    fn tagged_binary_uses_16bit_count_in_rops() {
        let t = TaggedPropertyValue::new(PropTag(0x0FFF0102), PropValue::Binary(vec![0xAA, 0xBB]));
        let mut w = Writer::new();
        t.encode(&mut w, CountWidth::U16).unwrap();
        assert_eq!(w.as_slice(), &[0x02, 0x01, 0xFF, 0x0F, 0x02, 0x00, 0xAA, 0xBB]);
    }

    #[test]
    fn multi_value_counts_are_32bit_even_in_rops() {
        // MS-OXCDATA 2.11.1.1: value counts of PtypMultiple* are 32 bits wide in ROP buffers,
        // while each PtypBinary inside keeps its 16-bit byte count.
        let mut w = Writer::new();
        PropValue::MultipleInteger16(vec![7]).encode(&mut w, CountWidth::U16).unwrap();
        assert_eq!(w.as_slice(), &[1, 0, 0, 0, 7, 0]);
        let mut w = Writer::new();
        PropValue::MultipleBinary(vec![vec![9]]).encode(&mut w, CountWidth::U16).unwrap();
        assert_eq!(w.as_slice(), &[1, 0, 0, 0, 1, 0, 9]);
        let mut w = Writer::new();
        PropValue::MultipleBinary(vec![vec![9]]).encode(&mut w, CountWidth::U32).unwrap();
        assert_eq!(w.as_slice(), &[1, 0, 0, 0, 1, 0, 0, 0, 9]);
    }

    #[test]
    fn flagged_row() {
        let cols = [PropTag(0x3001001F), PropTag(0x0E080003), PropTag(0x12340000)];
        let row = PropertyRow::from_values(vec![
            RowValue::Value(PropValue::String("x".into())),
            RowValue::Error(0x8004010F),
            RowValue::Value(PropValue::Integer16(7)),
        ]);
        assert!(row.flagged);
        let mut w = Writer::new();
        row.encode(&mut w, &cols, CountWidth::U16).unwrap();
        let b = w.into_vec();
        assert_eq!(b, [1, 0, b'x', 0, 0, 0, 0x0A, 0x0F, 0x01, 0x04, 0x80, 0, 0x02, 0, 7, 0]);
        let d = PropertyRow::decode(&mut Reader::new(&b), &cols, CountWidth::U16).unwrap();
        assert_eq!(d, row);
    }

    #[test]
    fn mv_instance_columns_carry_single_values() {
        // PidTagKeywords-like column as multi-valued instance: 0x301F.
        let cols = [PropTag(0x8001301F)];
        let row = PropertyRow::from_values(vec![RowValue::Value(PropValue::String("Red".into()))]);
        let mut w = Writer::new();
        row.encode(&mut w, &cols, CountWidth::U16).unwrap();
        assert_eq!(w.as_slice(), &[0, b'R', 0, b'e', 0, b'd', 0, 0, 0]);
        assert_eq!(PropertyRow::decode(&mut Reader::new(w.as_slice()), &cols, CountWidth::U16).unwrap(), row);
    }

    #[test]
    fn property_name() {
        let n = PropertyName { guid: Guid([7; 16]), kind: NameKind::Name("Keywords".into()) };
        let mut w = Writer::new();
        n.encode(&mut w).unwrap();
        let b = w.into_vec();
        assert_eq!(b[17], 18);
        assert_eq!(PropertyName::decode(&mut Reader::new(&b)).unwrap(), n);
    }

    #[test]
    fn huge_counts_rejected_without_allocating() {
        let b = [0xFF, 0xFF, 0xFF, 0x7F];
        assert!(PropValue::decode(&mut Reader::new(&b), PropType::MultipleInteger64, CountWidth::U32).is_err());
    }
}
