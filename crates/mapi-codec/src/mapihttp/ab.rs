//! Address-book value forms of MS-OXCMAPIHTTP 2.2.1 (AddressBookPropertyValue
//! with its HasValue byte, tagged/typed/flagged forms, property rows and value
//! lists) and the STAT structure of MS-OXNSPI 2.2.8.

use crate::cursor::{CountWidth, Reader, Writer};
use crate::error::{Error, Result};
use crate::oxcdata::{PropTag, PropType, PropValue};

/// STAT (MS-OXNSPI 2.2.8): nine 32-bit fields, 36 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stat {
    pub sort_type: u32,
    pub container_id: u32,
    pub current_rec: u32,
    pub delta: i32,
    pub num_pos: u32,
    pub total_recs: u32,
    pub code_page: u32,
    pub template_locale: u32,
    pub sort_locale: u32,
}

impl Stat {
    pub const SIZE: usize = 36;
    pub fn decode(r: &mut Reader) -> Result<Self> {
        Ok(Stat {
            sort_type: r.u32()?,
            container_id: r.u32()?,
            current_rec: r.u32()?,
            delta: r.i32()?,
            num_pos: r.u32()?,
            total_recs: r.u32()?,
            code_page: r.u32()?,
            template_locale: r.u32()?,
            sort_locale: r.u32()?,
        })
    }
    pub fn encode(&self, w: &mut Writer) {
        w.u32(self.sort_type);
        w.u32(self.container_id);
        w.u32(self.current_rec);
        w.i32(self.delta);
        w.u32(self.num_pos);
        w.u32(self.total_recs);
        w.u32(self.code_page);
        w.u32(self.template_locale);
        w.u32(self.sort_locale);
    }
}

/// True for the types that carry a HasValue byte in AddressBookPropertyValue
/// (MS-OXCMAPIHTTP 2.2.1.1): PtypString, PtypString8, PtypBinary and PtypMultiple*.
pub fn has_value_byte(ty: PropType) -> bool {
    matches!(ty, PropType::String | PropType::String8 | PropType::Binary) || ty.is_multi()
}

/// AddressBookPropertyValue (MS-OXCMAPIHTTP 2.2.1.1). `None` is a value whose
/// HasValue byte is zero. COUNT fields are 32-bit.
pub fn decode_ab_value(r: &mut Reader, ty: PropType) -> Result<Option<PropValue>> {
    if has_value_byte(ty) && r.u8()? == 0 {
        return Ok(None);
    }
    Ok(Some(PropValue::decode(r, ty, CountWidth::U32)?))
}

/// Encodes an AddressBookPropertyValue of type `ty`.
pub fn encode_ab_value(w: &mut Writer, ty: PropType, v: &Option<PropValue>) -> Result<()> {
    match v {
        None => {
            if !has_value_byte(ty) {
                return Err(Error::Invalid {
                    what: "absent value for a type without HasValue",
                    value: ty.as_u16() as u64,
                });
            }
            w.u8(0);
        }
        Some(v) => {
            if v.prop_type() != ty {
                return Err(Error::Invalid { what: "address book value type", value: v.prop_type().as_u16() as u64 });
            }
            if has_value_byte(ty) {
                w.u8(0xFF);
            }
            v.encode(w, CountWidth::U32)?;
        }
    }
    Ok(())
}

/// AddressBookTaggedPropertyValue (MS-OXCMAPIHTTP 2.2.1.2): PropertyType, PropertyId, value.
#[derive(Debug, Clone, PartialEq)]
pub struct AbTaggedValue {
    pub tag: PropTag,
    pub value: Option<PropValue>,
}

impl AbTaggedValue {
    pub fn decode(r: &mut Reader) -> Result<Self> {
        let ty = r.u16()?;
        let id = r.u16()?;
        let tag = PropTag::new(id, ty);
        let value = decode_ab_value(r, tag.prop_type()?)?;
        Ok(AbTaggedValue { tag, value })
    }
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        w.u16(self.tag.type_raw());
        w.u16(self.tag.id());
        encode_ab_value(w, self.tag.prop_type()?, &self.value)
    }
}

/// AddressBookPropertyValueList (MS-OXCMAPIHTTP 2.2.1.3): PropertyValueCount (4) then tagged values.
pub fn decode_ab_value_list(r: &mut Reader) -> Result<Vec<AbTaggedValue>> {
    let n = r.u32()? as usize;
    r.check_count("PropertyValueCount", n, 4)?;
    (0..n).map(|_| AbTaggedValue::decode(r)).collect()
}

/// Encodes an AddressBookPropertyValueList.
pub fn encode_ab_value_list(w: &mut Writer, v: &[AbTaggedValue]) -> Result<()> {
    w.len32(v.len(), "PropertyValueCount")?;
    for x in v {
        x.encode(w)?;
    }
    Ok(())
}

/// One cell of an AddressBookPropertyRow.
#[derive(Debug, Clone, PartialEq)]
pub enum AbRowValue {
    /// A value (or, for HasValue types, an absent value).
    Value(Option<PropValue>),
    /// Flag 0x1: the property has no value.
    NotPresent,
    /// Flag 0xA: an error code in place of the value.
    Error(u32),
}

/// AddressBookPropertyRow (MS-OXCMAPIHTTP 2.2.1.7). Columns of type
/// PtypUnspecified carry their type inline (AddressBookTypedPropertyValue /
/// AddressBookFlaggedPropertyValueWithType).
#[derive(Debug, Clone, PartialEq)]
pub struct AbPropertyRow {
    pub flagged: bool,
    pub values: Vec<AbRowValue>,
}

impl AbPropertyRow {
    pub fn decode(r: &mut Reader, columns: &[PropTag]) -> Result<Self> {
        let flagged = match r.u8()? {
            0 => false,
            1 => true,
            v => {
                return Err(Error::Invalid { what: "AddressBookPropertyRow Flags", value: v as u64 });
            }
        };
        let mut values = Vec::with_capacity(columns.len().min(r.remaining()));
        for col in columns {
            let unspecified = col.type_raw() == 0;
            let mut ty = if unspecified { None } else { Some(col.prop_type()?) };
            if flagged {
                if unspecified {
                    ty = Some(PropType::from_u16(r.u16()?)?);
                }
                let f = r.u8()?;
                values.push(match f {
                    0x0 => AbRowValue::Value(decode_ab_value(r, ty.unwrap_or(PropType::Null))?),
                    0x1 => AbRowValue::NotPresent,
                    0xA => AbRowValue::Error(r.u32()?),
                    v => {
                        return Err(Error::Invalid { what: "AddressBookFlaggedPropertyValue Flag", value: v as u64 });
                    }
                });
            } else {
                if unspecified {
                    ty = Some(PropType::from_u16(r.u16()?)?);
                }
                values.push(AbRowValue::Value(decode_ab_value(r, ty.unwrap_or(PropType::Null))?));
            }
        }
        Ok(AbPropertyRow { flagged, values })
    }

    pub fn encode(&self, w: &mut Writer, columns: &[PropTag]) -> Result<()> {
        if columns.len() != self.values.len() {
            return Err(Error::Invalid { what: "AddressBookPropertyRow value count", value: self.values.len() as u64 });
        }
        w.u8(self.flagged as u8);
        for (col, v) in columns.iter().zip(&self.values) {
            let unspecified = col.type_raw() == 0;
            let ty = |v: &Option<PropValue>| -> Result<PropType> {
                if unspecified {
                    v.as_ref().map(|x| x.prop_type()).ok_or(Error::Invalid { what: "untyped absent value", value: 0 })
                } else {
                    col.prop_type()
                }
            };
            match (self.flagged, v) {
                (false, AbRowValue::Value(x)) => {
                    let t = ty(x)?;
                    if unspecified {
                        w.u16(t.as_u16());
                    }
                    encode_ab_value(w, t, x)?;
                }
                (false, _) => {
                    return Err(Error::Invalid { what: "unflagged row with flagged value", value: 0 });
                }
                (true, v) => {
                    let t = match v {
                        AbRowValue::Value(x) => ty(x)?,
                        _ if unspecified => PropType::ErrorCode,
                        _ => col.prop_type()?,
                    };
                    if unspecified {
                        w.u16(t.as_u16());
                    }
                    match v {
                        AbRowValue::Value(x) => {
                            w.u8(0);
                            encode_ab_value(w, t, x)?;
                        }
                        AbRowValue::NotPresent => w.u8(1),
                        AbRowValue::Error(e) => {
                            w.u8(0xA);
                            w.u32(*e);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Columns + rows as sent by GetMatches, QueryRows, ResolveNames, SeekEntries:
/// Columns (LargePropertyTagArray), RowCount (4), RowData.
#[derive(Debug, Clone, PartialEq)]
pub struct AbRowSet {
    pub columns: Vec<PropTag>,
    pub rows: Vec<AbPropertyRow>,
}

impl AbRowSet {
    pub fn decode(r: &mut Reader) -> Result<Self> {
        let columns = crate::oxcdata::decode_tag_array_w(r, CountWidth::U32)?;
        let n = r.u32()? as usize;
        r.check_count("RowCount", n, 1)?;
        let rows = (0..n).map(|_| AbPropertyRow::decode(r, &columns)).collect::<Result<_>>()?;
        Ok(AbRowSet { columns, rows })
    }
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        crate::oxcdata::encode_tag_array_w(w, &self.columns, CountWidth::U32)?;
        w.len32(self.rows.len(), "RowCount")?;
        for row in &self.rows {
            row.encode(w, &self.columns)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip() {
        let cols = vec![PropTag(0x3001001F), PropTag(0x0FFF0102), PropTag(0x39000003), PropTag(0x12340000)];
        let rs = AbRowSet {
            columns: cols.clone(),
            rows: vec![
                AbPropertyRow {
                    flagged: false,
                    values: vec![
                        AbRowValue::Value(Some(PropValue::String("Alice".into()))),
                        AbRowValue::Value(None),
                        AbRowValue::Value(Some(PropValue::Integer32(0))),
                        AbRowValue::Value(Some(PropValue::Boolean(true))),
                    ],
                },
                AbPropertyRow {
                    flagged: true,
                    values: vec![
                        AbRowValue::NotPresent,
                        AbRowValue::Value(Some(PropValue::Binary(vec![1, 2]))),
                        AbRowValue::Error(0x8004010F),
                        AbRowValue::Error(0x8004010F),
                    ],
                },
            ],
        };
        let mut w = Writer::new();
        rs.encode(&mut w).unwrap();
        let b = w.into_vec();
        let mut r = Reader::new(&b);
        assert_eq!(AbRowSet::decode(&mut r).unwrap(), rs);
        assert!(r.is_empty());
    }
}
