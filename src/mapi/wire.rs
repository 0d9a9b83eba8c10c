//! MS-OXCMAPIHTTP bodies as the MAPI front-end uses them. Requests and the EMSMDB bodies are the codec's
//! (`mapi_codec::mapihttp`); NSPI requests are gathered into one enum ([`NspiRequest`]).
//!
//! MOVE TO mapi-codec: the address-book *response* encoders below ([`encode_abk_value`], [`encode_abk_row`],
//! [`encode_rowset`] …) stay private for now because they write a HasValue byte before every element of a
//! multi-valued string/binary property (as deployed servers that interoperate with Outlook do), which
//! `mapi_codec::mapihttp::ab` does not; once the codec settles that point these should go.

use mapi_codec::oxcdata::{PropTag, PropType, PropValue, Restriction};
use mapi_codec::{CountWidth, Error, Reader, Result, Writer};

/// Largest number of entries accepted in one array from a client (MIds, tags, names).
pub const MAX_ARRAY: usize = 100_000;

// ---------------------------------------------------------------------------------------------------------
// EMSMDB (MS-OXCMAPIHTTP 2.2.4): the codec's bodies.

pub use mapi_codec::mapihttp::Response;
pub use mapi_codec::mapihttp::ab::Stat;
pub use mapi_codec::mapihttp::emsmdb::{
    ConnectRequest, ConnectResponse, DisconnectRequest, ExecuteRequest, ExecuteResponse, NotificationWaitRequest,
};

/// Execute request flags (MS-OXCMAPIHTTP 2.2.4.2.1, same values as EcDoRpcExt2 pulFlags, MS-OXCRPC 3.1.4.2).
pub const EXECUTE_NO_COMPRESSION: u32 = 0x0000_0001;
pub const EXECUTE_NO_XOR_MAGIC: u32 = 0x0000_0002;
pub const EXECUTE_CHAIN: u32 = 0x0000_0004;

/// StatusCode, ErrorCode, then optional fixed fields, then an empty auxiliary buffer: the Disconnect (2.2.4.3.2),
/// NotificationWait (2.2.4.4.2, `extra` = EventPending) and Unbind (2.2.5.2.2) responses.
pub fn encode_simple_response(status_code: u32, error_code: u32, extra: &[u32]) -> Vec<u8> {
    let mut w = Writer::new();
    w.u32(status_code);
    w.u32(error_code);
    for x in extra {
        w.u32(*x);
    }
    w.u32(0);
    w.into_vec()
}

// ---------------------------------------------------------------------------------------------------------
// NSPI (MS-OXCMAPIHTTP 2.2.5, MS-OXNSPI 2.2): requests decoded by the codec, gathered in one enum.

/// One decoded NSPI request (MS-OXCMAPIHTTP 2.2.5.x.1). Auxiliary buffers are read and dropped.
#[derive(Debug, Clone, PartialEq)]
pub enum NspiRequest {
    Bind {
        flags: u32,
        stat: Option<Stat>,
    },
    Unbind,
    CompareMIds {
        stat: Option<Stat>,
        mid1: u32,
        mid2: u32,
    },
    DnToMId {
        names: Vec<String>,
    },
    GetMatches {
        stat: Option<Stat>,
        in_mids: Option<Vec<u32>>,
        filter: Option<Restriction>,
        prop_name: Option<([u8; 16], u32)>,
        row_count: u32,
        columns: Option<Vec<PropTag>>,
    },
    GetPropList {
        flags: u32,
        mid: u32,
        code_page: u32,
    },
    GetProps {
        flags: u32,
        stat: Option<Stat>,
        tags: Option<Vec<PropTag>>,
    },
    GetSpecialTable {
        flags: u32,
        stat: Option<Stat>,
        version: Option<u32>,
    },
    GetTemplateInfo {
        flags: u32,
        display_type: u32,
        dn: Option<String>,
        code_page: u32,
        locale_id: u32,
    },
    ModLinkAtt,
    ModProps,
    QueryColumns {
        flags: u32,
    },
    QueryRows {
        flags: u32,
        stat: Option<Stat>,
        explicit_table: Vec<u32>,
        count: u32,
        columns: Option<Vec<PropTag>>,
    },
    ResolveNames {
        stat: Option<Stat>,
        tags: Option<Vec<PropTag>>,
        names: Vec<String>,
    },
    ResortRestriction {
        stat: Option<Stat>,
        in_mids: Option<Vec<u32>>,
    },
    SeekEntries {
        stat: Option<Stat>,
        target: Option<(PropTag, Option<PropValue>)>,
        explicit_table: Option<Vec<u32>>,
        columns: Option<Vec<PropTag>>,
    },
    UpdateStat {
        stat: Option<Stat>,
        delta_requested: bool,
    },
    GetMailboxUrl {
        flags: u32,
        user_dn: String,
    },
    GetAddressBookUrl {
        flags: u32,
        user_dn: String,
    },
}

/// The NSPI request types (X-RequestType values, MS-OXCMAPIHTTP 2.2.3.3.1).
pub const NSPI_REQUEST_TYPES: &[&str] = &[
    "Bind",
    "Unbind",
    "CompareMIds",
    "DNToMId",
    "GetMatches",
    "GetPropList",
    "GetProps",
    "GetSpecialTable",
    "GetTemplateInfo",
    "ModLinkAtt",
    "ModProps",
    "QueryColumns",
    "QueryRows",
    "ResolveNames",
    "ResortRestriction",
    "SeekEntries",
    "UpdateStat",
    "GetMailboxUrl",
    "GetAddressBookUrl",
];

impl NspiRequest {
    /// Decodes the body of request type `kind` (one of [`NSPI_REQUEST_TYPES`], exact spelling) with the codec's
    /// MS-OXCMAPIHTTP 2.2.5.x.1 structures. Auxiliary buffers are dropped.
    pub fn decode(kind: &str, buf: &[u8]) -> Result<Self> {
        use mapi_codec::mapihttp::nspi as n;
        let too_many = |len: usize| Error::TooLarge { what: "array", len, max: MAX_ARRAY };
        let check = |v: &Option<Vec<u32>>| match v {
            Some(v) if v.len() > MAX_ARRAY => Err(too_many(v.len())),
            _ => Ok(()),
        };
        Ok(match kind {
            "Bind" => {
                let r = n::BindRequest::from_bytes(buf)?;
                NspiRequest::Bind { flags: r.flags, stat: r.state }
            }
            "Unbind" => {
                n::UnbindRequest::from_bytes(buf)?;
                NspiRequest::Unbind
            }
            "CompareMIds" => {
                let r = n::CompareMIdsRequest::from_bytes(buf)?;
                NspiRequest::CompareMIds { stat: r.state, mid1: r.minimal_id1, mid2: r.minimal_id2 }
            }
            "DNToMId" => {
                let r = n::DnToMIdRequest::from_bytes(buf)?;
                NspiRequest::DnToMId { names: r.names.unwrap_or_default() }
            }
            "GetMatches" => {
                let r = n::GetMatchesRequest::from_bytes(buf)?;
                check(&r.minimal_ids)?;
                NspiRequest::GetMatches {
                    stat: r.state,
                    in_mids: r.minimal_ids,
                    filter: r.filter,
                    prop_name: r.property_name.map(|(g, id)| (g.0, id)),
                    row_count: r.row_count,
                    columns: r.columns,
                }
            }
            "GetPropList" => {
                let r = n::GetPropListRequest::from_bytes(buf)?;
                NspiRequest::GetPropList { flags: r.flags, mid: r.minimal_id, code_page: r.code_page }
            }
            "GetProps" => {
                let r = n::GetPropsRequest::from_bytes(buf)?;
                NspiRequest::GetProps { flags: r.flags, stat: r.state, tags: r.property_tags }
            }
            "GetSpecialTable" => {
                let r = n::GetSpecialTableRequest::from_bytes(buf)?;
                NspiRequest::GetSpecialTable { flags: r.flags, stat: r.state, version: r.version }
            }
            "GetTemplateInfo" => {
                let r = n::GetTemplateInfoRequest::from_bytes(buf)?;
                NspiRequest::GetTemplateInfo {
                    flags: r.flags,
                    display_type: r.display_type,
                    dn: r.template_dn,
                    code_page: r.code_page,
                    locale_id: r.locale_id,
                }
            }
            "ModLinkAtt" => {
                n::ModLinkAttRequest::from_bytes(buf)?;
                NspiRequest::ModLinkAtt
            }
            "ModProps" => {
                n::ModPropsRequest::from_bytes(buf)?;
                NspiRequest::ModProps
            }
            "QueryColumns" => {
                let r = n::QueryColumnsRequest::from_bytes(buf)?;
                NspiRequest::QueryColumns { flags: r.mapi_flags }
            }
            "QueryRows" => {
                let r = n::QueryRowsRequest::from_bytes(buf)?;
                if r.explicit_table.len() > MAX_ARRAY {
                    return Err(too_many(r.explicit_table.len()));
                }
                NspiRequest::QueryRows {
                    flags: r.flags,
                    stat: r.state,
                    explicit_table: r.explicit_table,
                    count: r.row_count,
                    columns: r.columns,
                }
            }
            "ResolveNames" => {
                let r = n::ResolveNamesRequest::from_bytes(buf)?;
                NspiRequest::ResolveNames { stat: r.state, tags: r.property_tags, names: r.names.unwrap_or_default() }
            }
            "ResortRestriction" => {
                let r = n::ResortRestrictionRequest::from_bytes(buf)?;
                check(&r.minimal_ids)?;
                NspiRequest::ResortRestriction { stat: r.state, in_mids: r.minimal_ids }
            }
            "SeekEntries" => {
                let r = n::SeekEntriesRequest::from_bytes(buf)?;
                check(&r.explicit_table)?;
                NspiRequest::SeekEntries {
                    stat: r.state,
                    target: r.target.map(|t| (t.tag, t.value)),
                    explicit_table: r.explicit_table,
                    columns: r.columns,
                }
            }
            "UpdateStat" => {
                let r = n::UpdateStatRequest::from_bytes(buf)?;
                NspiRequest::UpdateStat { stat: r.state, delta_requested: r.delta_requested }
            }
            "GetMailboxUrl" => {
                let r = n::GetMailboxUrlRequest::from_bytes(buf)?;
                NspiRequest::GetMailboxUrl { flags: r.flags, user_dn: r.server_dn }
            }
            "GetAddressBookUrl" => {
                let r = n::GetAddressBookUrlRequest::from_bytes(buf)?;
                NspiRequest::GetAddressBookUrl { flags: r.flags, user_dn: r.user_dn }
            }
            _ => return Err(Error::Invalid { what: "NSPI request type", value: 0 }),
        })
    }
}

/// AddressBookTaggedPropertyValue (MS-OXCMAPIHTTP 2.2.1.3): PropertyTag, then an AddressBookPropertyValue
/// (2.2.1.1). `None` as value means HasValue was zero.
pub fn decode_abk_tagged(r: &mut Reader) -> Result<(PropTag, Option<PropValue>)> {
    let tag = PropTag(r.u32()?);
    let ty = tag.prop_type()?;
    Ok((tag, decode_abk_value(r, ty)?))
}

fn has_value_field(ty: PropType) -> bool {
    matches!(ty, PropType::String | PropType::String8 | PropType::Binary) || ty.is_multi()
}

/// AddressBookPropertyValue (MS-OXCMAPIHTTP 2.2.1.1): a HasValue byte precedes strings, binaries and
/// multi-valued properties; COUNT fields are 4 bytes.
pub fn decode_abk_value(r: &mut Reader, ty: PropType) -> Result<Option<PropValue>> {
    if has_value_field(ty) && r.u8()? == 0 {
        return Ok(None);
    }
    match ty {
        PropType::MultipleString | PropType::MultipleString8 | PropType::MultipleBinary => {
            let n = r.u32()? as usize;
            if n > MAX_ARRAY {
                return Err(Error::TooLarge { what: "multi-valued property", len: n, max: MAX_ARRAY });
            }
            r.check_count("multi-valued property", n, 1)?;
            let mut s = Vec::new();
            let mut s8 = Vec::new();
            let mut b = Vec::new();
            for _ in 0..n {
                let present = r.u8()? != 0;
                match ty {
                    PropType::MultipleString => s.push(if present { r.utf16z()? } else { String::new() }),
                    PropType::MultipleString8 => s8.push(if present { r.str8z()? } else { Vec::new() }),
                    _ => b.push(if present {
                        let len = r.u32()? as usize;
                        r.bytes(len)?.to_vec()
                    } else {
                        Vec::new()
                    }),
                }
            }
            Ok(Some(match ty {
                PropType::MultipleString => PropValue::MultipleString(s),
                PropType::MultipleString8 => PropValue::MultipleString8(s8),
                _ => PropValue::MultipleBinary(b),
            }))
        }
        _ => Ok(Some(PropValue::decode(r, ty, CountWidth::U32)?)),
    }
}

/// Encodes an AddressBookPropertyValue (MS-OXCMAPIHTTP 2.2.1.1) of the value's own type.
pub fn encode_abk_value(w: &mut Writer, v: &PropValue) -> Result<()> {
    let ty = v.prop_type();
    if has_value_field(ty) {
        w.u8(0xFF);
    }
    match v {
        PropValue::MultipleString(items) => {
            w.len32(items.len(), "multi-valued property")?;
            for s in items {
                w.u8(0xFF);
                w.utf16z(s);
            }
        }
        PropValue::MultipleString8(items) => {
            w.len32(items.len(), "multi-valued property")?;
            for s in items {
                w.u8(0xFF);
                w.str8z(s);
            }
        }
        PropValue::MultipleBinary(items) => {
            w.len32(items.len(), "multi-valued property")?;
            for b in items {
                w.u8(0xFF);
                w.len32(b.len(), "binary value")?;
                w.bytes(b);
            }
        }
        other => other.encode(w, CountWidth::U32)?,
    }
    Ok(())
}

/// AddressBookPropertyValueList (MS-OXCMAPIHTTP 2.2.1.2): PropertyValueCount (4) + tagged values.
pub fn encode_abk_value_list(w: &mut Writer, values: &[(PropTag, PropValue)]) -> Result<()> {
    w.len32(values.len(), "property value list")?;
    for (tag, v) in values {
        w.u32(tag.0);
        encode_abk_value(w, v)?;
    }
    Ok(())
}

/// A value in a row: present, or an error code (ecNotFound for a missing property).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Value(PropValue),
    Error(u32),
}

/// AddressBookPropertyRow (MS-OXCMAPIHTTP 2.2.1.7). The flagged form (Flags 0x01,
/// AddressBookFlaggedPropertyValue 2.2.1.5) is used when a cell is an error; a column of type PtypUnspecified
/// gets the type written before the value (2.2.1.6).
pub fn encode_abk_row(w: &mut Writer, columns: &[PropTag], cells: &[Cell]) -> Result<()> {
    let flagged = cells.iter().any(|c| matches!(c, Cell::Error(_)));
    w.u8(if flagged { 0x01 } else { 0x00 });
    for (tag, cell) in columns.iter().zip(cells) {
        let unspecified = tag.type_raw() == PropType::Unspecified.as_u16();
        match cell {
            Cell::Value(v) => {
                if unspecified {
                    w.u16(v.prop_type().as_u16());
                }
                if flagged {
                    w.u8(0x00);
                }
                encode_abk_value(w, v)?;
            }
            Cell::Error(code) => {
                if unspecified {
                    w.u16(PropType::ErrorCode.as_u16());
                }
                w.u8(0x0A);
                w.u32(*code);
            }
        }
    }
    Ok(())
}

/// LargePropTagArray (MS-OXCDATA 2.10.2 as used by MS-OXCMAPIHTTP): Count (4) + tags.
pub fn encode_tags(w: &mut Writer, tags: &[PropTag]) -> Result<()> {
    w.len32(tags.len(), "property tag array")?;
    for t in tags {
        w.u32(t.0);
    }
    Ok(())
}

/// A MId array (MS-OXNSPI PropertyTagArray_r of MIds): Count (4) + MIds.
pub fn encode_mids(w: &mut Writer, mids: &[u32]) -> Result<()> {
    w.len32(mids.len(), "MId array")?;
    for m in mids {
        w.u32(*m);
    }
    Ok(())
}

/// Column set + row count + rows, the RowSet form of QueryRows/SeekEntries/GetMatches/ResolveNames responses
/// (MS-OXCMAPIHTTP 2.2.5.x.2: Columns, RowCount, RowData).
pub fn encode_rowset(w: &mut Writer, columns: &[PropTag], rows: &[Vec<Cell>]) -> Result<()> {
    encode_tags(w, columns)?;
    w.len32(rows.len(), "row count")?;
    for row in rows {
        encode_abk_row(w, columns, row)?;
    }
    Ok(())
}

/// Appends HasX (0x00 / 0xFF) + the optional part.
pub fn put_opt<T>(w: &mut Writer, v: Option<T>, f: impl FnOnce(&mut Writer, T) -> Result<()>) -> Result<()> {
    match v {
        None => {
            w.u8(0);
            Ok(())
        }
        Some(x) => {
            w.u8(0xFF);
            f(w, x)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nspi_bind_and_stat() {
        let mut w = Writer::new();
        w.u32(0);
        w.u8(0xFF);
        Stat { code_page: 1252, ..Default::default() }.encode(&mut w);
        w.u32(0);
        let req = NspiRequest::decode("Bind", w.as_slice()).unwrap();
        assert!(matches!(req, NspiRequest::Bind { flags: 0, stat: Some(Stat { code_page: 1252, .. }) }));
        assert!(NspiRequest::decode("Bind", &w.as_slice()[..20]).is_err());
        assert!(NspiRequest::decode("Nope", w.as_slice()).is_err());
    }

    #[test]
    fn abk_values() {
        let mut w = Writer::new();
        encode_abk_value(&mut w, &PropValue::String("A".into())).unwrap();
        assert_eq!(w.as_slice(), &[0xFF, b'A', 0, 0, 0]);
        let mut r = Reader::new(w.as_slice());
        assert_eq!(decode_abk_value(&mut r, PropType::String).unwrap(), Some(PropValue::String("A".into())));
        let mut w = Writer::new();
        encode_abk_value(&mut w, &PropValue::Integer32(7)).unwrap();
        assert_eq!(w.as_slice(), &[7, 0, 0, 0]);
        let mut w = Writer::new();
        encode_abk_value(&mut w, &PropValue::MultipleString(vec!["S".into()])).unwrap();
        assert_eq!(w.as_slice(), &[0xFF, 1, 0, 0, 0, 0xFF, b'S', 0, 0, 0]);
        let mut r = Reader::new(w.as_slice());
        assert_eq!(
            decode_abk_value(&mut r, PropType::MultipleString).unwrap(),
            Some(PropValue::MultipleString(vec!["S".into()]))
        );
    }
}

#[cfg(test)]
mod robustness {
    use super::*;

    /// Random and truncated input never panics any decoder that reads client bytes.
    #[test]
    fn decoders_never_panic() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..3000 {
            let len = (next() % 160) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Bias some inputs towards small counts and present-flags so decoding goes deeper.
            if next() % 2 == 0 {
                for b in buf.iter_mut().step_by(3) {
                    *b &= 0x03;
                }
            }
            for kind in NSPI_REQUEST_TYPES {
                let _ = NspiRequest::decode(kind, &buf);
            }
            let _ = ConnectRequest::from_bytes(&buf);
            let _ = ExecuteRequest::from_bytes(&buf);
            let _ = NotificationWaitRequest::from_bytes(&buf);
            let _ = decode_abk_tagged(&mut Reader::new(&buf));
        }
    }
}
