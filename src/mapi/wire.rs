//! MS-OXCMAPIHTTP request and response bodies (EMSMDB 2.2.4, NSPI 2.2.5) and the address-book value
//! encodings (2.2.1), as a sans-IO decode/encode layer.
//!
//! MOVE TO mapi-codec: `crates/mapi-codec` will grow a `mapihttp` module with these structures (it is listed in
//! its crate docs but not written yet). Until then this private copy lets the MAPI front-end work; it uses only
//! the codec's cursor and MS-OXCDATA types, so moving it is a cut-and-paste plus `pub`.

use mapi_codec::oxcdata::{PropTag, PropType, PropValue, Restriction};
use mapi_codec::{CountWidth, Error, Reader, Result, Writer};

/// Largest number of entries accepted in one array from a client (MIds, tags, names).
pub const MAX_ARRAY: usize = 100_000;

fn aux(r: &mut Reader) -> Result<Vec<u8>> {
    let n = r.u32()? as usize;
    Ok(r.bytes(n)?.to_vec())
}

fn write_aux(w: &mut Writer, aux: &[u8]) -> Result<()> {
    w.len32(aux.len(), "AuxiliaryBuffer")?;
    w.bytes(aux);
    Ok(())
}

fn flag(r: &mut Reader) -> Result<bool> {
    Ok(r.u8()? != 0)
}

// ---------------------------------------------------------------------------------------------------------
// EMSMDB (MS-OXCMAPIHTTP 2.2.4)

/// Connect request body (MS-OXCMAPIHTTP 2.2.4.1.1). The two LCIDs are read in the order of EcDoConnectEx
/// (MS-OXCRPC 3.1.4.1: ulLcidString, then ulLcidSort), as interoperable servers do; Outlook sends the same
/// value in both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    pub user_dn: String,
    pub flags: u32,
    pub default_code_page: u32,
    pub lcid_string: u32,
    pub lcid_sort: u32,
    pub aux: Vec<u8>,
}

impl ConnectRequest {
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        let v = ConnectRequest {
            user_dn: r.asciiz()?,
            flags: r.u32()?,
            default_code_page: r.u32()?,
            lcid_string: r.u32()?,
            lcid_sort: r.u32()?,
            aux: aux(&mut r)?,
        };
        r.finish()?;
        Ok(v)
    }
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut w = Writer::new();
        w.str8z(self.user_dn.as_bytes());
        w.u32(self.flags);
        w.u32(self.default_code_page);
        w.u32(self.lcid_string);
        w.u32(self.lcid_sort);
        write_aux(&mut w, &self.aux)?;
        Ok(w.into_vec())
    }
}

/// Connect response body (MS-OXCMAPIHTTP 2.2.4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectResponse {
    pub status_code: u32,
    pub error_code: u32,
    /// Milliseconds between polls (MaximumPollingInterval).
    pub max_polling_interval: u32,
    pub retry_count: u32,
    /// Milliseconds between retries.
    pub retry_delay: u32,
    pub dn_prefix: String,
    pub display_name: String,
    pub aux: Vec<u8>,
}

impl ConnectResponse {
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut w = Writer::new();
        w.u32(self.status_code);
        w.u32(self.error_code);
        w.u32(self.max_polling_interval);
        w.u32(self.retry_count);
        w.u32(self.retry_delay);
        w.str8z(self.dn_prefix.as_bytes());
        w.utf16z(&self.display_name);
        write_aux(&mut w, &self.aux)?;
        Ok(w.into_vec())
    }
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        let v = ConnectResponse {
            status_code: r.u32()?,
            error_code: r.u32()?,
            max_polling_interval: r.u32()?,
            retry_count: r.u32()?,
            retry_delay: r.u32()?,
            dn_prefix: r.asciiz()?,
            display_name: r.utf16z()?,
            aux: aux(&mut r)?,
        };
        r.finish()?;
        Ok(v)
    }
}

/// Execute request flags (MS-OXCMAPIHTTP 2.2.4.2.1, same values as EcDoRpcExt2 pulFlags, MS-OXCRPC 3.1.4.2).
pub const EXECUTE_NO_COMPRESSION: u32 = 0x0000_0001;
pub const EXECUTE_NO_XOR_MAGIC: u32 = 0x0000_0002;
pub const EXECUTE_CHAIN: u32 = 0x0000_0004;

/// Execute request body (MS-OXCMAPIHTTP 2.2.4.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecuteRequest {
    pub flags: u32,
    /// The extended buffer (RPC_HEADER_EXT + ROP request buffer(s)), as sent.
    pub rop_buffer: Vec<u8>,
    pub max_rop_out: u32,
    pub aux: Vec<u8>,
}

impl ExecuteRequest {
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        let flags = r.u32()?;
        let n = r.u32()? as usize;
        let v = ExecuteRequest { flags, rop_buffer: r.bytes(n)?.to_vec(), max_rop_out: r.u32()?, aux: aux(&mut r)? };
        r.finish()?;
        Ok(v)
    }
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut w = Writer::new();
        w.u32(self.flags);
        w.len32(self.rop_buffer.len(), "RopBuffer")?;
        w.bytes(&self.rop_buffer);
        w.u32(self.max_rop_out);
        write_aux(&mut w, &self.aux)?;
        Ok(w.into_vec())
    }
}

/// Execute response body (MS-OXCMAPIHTTP 2.2.4.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecuteResponse {
    pub status_code: u32,
    pub error_code: u32,
    pub flags: u32,
    pub rop_buffer: Vec<u8>,
    pub aux: Vec<u8>,
}

impl ExecuteResponse {
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut w = Writer::new();
        w.u32(self.status_code);
        w.u32(self.error_code);
        w.u32(self.flags);
        w.len32(self.rop_buffer.len(), "RopBuffer")?;
        w.bytes(&self.rop_buffer);
        write_aux(&mut w, &self.aux)?;
        Ok(w.into_vec())
    }
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        let status_code = r.u32()?;
        let error_code = r.u32()?;
        let flags = r.u32()?;
        let n = r.u32()? as usize;
        let v = ExecuteResponse { status_code, error_code, flags, rop_buffer: r.bytes(n)?.to_vec(), aux: aux(&mut r)? };
        r.finish()?;
        Ok(v)
    }
}

/// A request body that holds only an auxiliary buffer (Disconnect, MS-OXCMAPIHTTP 2.2.4.3.1) or Flags + aux
/// (NotificationWait 2.2.4.4.1, `with_flags`).
pub fn decode_aux_only(buf: &[u8], with_flags: bool) -> Result<(u32, Vec<u8>)> {
    let mut r = Reader::new(buf);
    let flags = if with_flags { r.u32()? } else { 0 };
    let a = aux(&mut r)?;
    r.finish()?;
    Ok((flags, a))
}

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
// NSPI (MS-OXCMAPIHTTP 2.2.5, MS-OXNSPI 2.2)

/// STAT (MS-OXNSPI 2.2.8): the client's position in an address book table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stat {
    pub sort_type: u32,
    pub container_id: u32,
    pub cur_rec: u32,
    pub delta: i32,
    pub num_pos: u32,
    pub total_rec: u32,
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
            cur_rec: r.u32()?,
            delta: r.i32()?,
            num_pos: r.u32()?,
            total_rec: r.u32()?,
            code_page: r.u32()?,
            template_locale: r.u32()?,
            sort_locale: r.u32()?,
        })
    }
    pub fn encode(&self, w: &mut Writer) {
        w.u32(self.sort_type);
        w.u32(self.container_id);
        w.u32(self.cur_rec);
        w.i32(self.delta);
        w.u32(self.num_pos);
        w.u32(self.total_rec);
        w.u32(self.code_page);
        w.u32(self.template_locale);
        w.u32(self.sort_locale);
    }
}

fn opt<T>(r: &mut Reader, f: impl FnOnce(&mut Reader) -> Result<T>) -> Result<Option<T>> {
    if flag(r)? { Ok(Some(f(r)?)) } else { Ok(None) }
}

fn u32_array(r: &mut Reader) -> Result<Vec<u32>> {
    let n = r.u32()? as usize;
    if n > MAX_ARRAY {
        return Err(Error::TooLarge { what: "array", len: n, max: MAX_ARRAY });
    }
    r.check_count("array", n, 4)?;
    (0..n).map(|_| r.u32()).collect()
}

fn tag_array(r: &mut Reader) -> Result<Vec<PropTag>> {
    Ok(u32_array(r)?.into_iter().map(PropTag).collect())
}

fn string_array(r: &mut Reader, wide: bool) -> Result<Vec<String>> {
    let n = r.u32()? as usize;
    if n > MAX_ARRAY {
        return Err(Error::TooLarge { what: "string array", len: n, max: MAX_ARRAY });
    }
    r.check_count("string array", n, if wide { 2 } else { 1 })?;
    (0..n)
        .map(|_| if wide { r.utf16z() } else { r.str8z().map(|b| String::from_utf8_lossy(&b).into_owned()) })
        .collect()
}

/// One decoded NSPI request (MS-OXCMAPIHTTP 2.2.5.x.1). Auxiliary buffers are read and dropped.
#[derive(Debug, Clone, PartialEq)]
pub enum NspiRequest {
    Bind { flags: u32, stat: Option<Stat> },
    Unbind,
    CompareMIds { stat: Option<Stat>, mid1: u32, mid2: u32 },
    DnToMId { names: Vec<String> },
    GetMatches {
        stat: Option<Stat>,
        in_mids: Option<Vec<u32>>,
        filter: Option<Restriction>,
        prop_name: Option<([u8; 16], u32)>,
        row_count: u32,
        columns: Option<Vec<PropTag>>,
    },
    GetPropList { flags: u32, mid: u32, code_page: u32 },
    GetProps { flags: u32, stat: Option<Stat>, tags: Option<Vec<PropTag>> },
    GetSpecialTable { flags: u32, stat: Option<Stat>, version: Option<u32> },
    GetTemplateInfo { flags: u32, display_type: u32, dn: Option<String>, code_page: u32, locale_id: u32 },
    ModLinkAtt,
    ModProps,
    QueryColumns { flags: u32 },
    QueryRows { flags: u32, stat: Option<Stat>, explicit_table: Vec<u32>, count: u32, columns: Option<Vec<PropTag>> },
    ResolveNames { stat: Option<Stat>, tags: Option<Vec<PropTag>>, names: Vec<String> },
    ResortRestriction { stat: Option<Stat>, in_mids: Option<Vec<u32>> },
    SeekEntries {
        stat: Option<Stat>,
        target: Option<(PropTag, Option<PropValue>)>,
        explicit_table: Option<Vec<u32>>,
        columns: Option<Vec<PropTag>>,
    },
    UpdateStat { stat: Option<Stat>, delta_requested: bool },
    GetMailboxUrl { flags: u32, user_dn: String },
    GetAddressBookUrl { flags: u32, user_dn: String },
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
    /// Decodes the body of request type `kind` (one of [`NSPI_REQUEST_TYPES`], exact spelling).
    pub fn decode(kind: &str, buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        let r = &mut r;
        let stat = |r: &mut Reader| opt(r, Stat::decode);
        let v = match kind {
            "Bind" => NspiRequest::Bind { flags: r.u32()?, stat: stat(r)? },
            "Unbind" => {
                r.u32()?;
                NspiRequest::Unbind
            }
            "CompareMIds" => {
                r.u32()?;
                NspiRequest::CompareMIds { stat: stat(r)?, mid1: r.u32()?, mid2: r.u32()? }
            }
            "DNToMId" => {
                r.u32()?;
                NspiRequest::DnToMId { names: opt(r, |r| string_array(r, false))?.unwrap_or_default() }
            }
            "GetMatches" => {
                r.u32()?;
                let stat = stat(r)?;
                let in_mids = opt(r, u32_array)?;
                r.u32()?;
                let filter = opt(r, |r| Restriction::decode(r, CountWidth::U32))?;
                let prop_name = opt(r, |r| Ok((r.array::<16>()?, r.u32()?)))?;
                let row_count = r.u32()?;
                let columns = opt(r, tag_array)?;
                NspiRequest::GetMatches { stat, in_mids, filter, prop_name, row_count, columns }
            }
            "GetPropList" => NspiRequest::GetPropList { flags: r.u32()?, mid: r.u32()?, code_page: r.u32()? },
            "GetProps" => NspiRequest::GetProps { flags: r.u32()?, stat: stat(r)?, tags: opt(r, tag_array)? },
            "GetSpecialTable" => {
                NspiRequest::GetSpecialTable { flags: r.u32()?, stat: stat(r)?, version: opt(r, |r| r.u32())? }
            }
            "GetTemplateInfo" => NspiRequest::GetTemplateInfo {
                flags: r.u32()?,
                display_type: r.u32()?,
                dn: opt(r, |r| r.str8z().map(|b| String::from_utf8_lossy(&b).into_owned()))?,
                code_page: r.u32()?,
                locale_id: r.u32()?,
            },
            "ModLinkAtt" => {
                r.rest();
                return Ok(NspiRequest::ModLinkAtt);
            }
            "ModProps" => {
                r.rest();
                return Ok(NspiRequest::ModProps);
            }
            "QueryColumns" => {
                r.u32()?;
                NspiRequest::QueryColumns { flags: r.u32()? }
            }
            "QueryRows" => NspiRequest::QueryRows {
                flags: r.u32()?,
                stat: stat(r)?,
                explicit_table: u32_array(r)?,
                count: r.u32()?,
                columns: opt(r, tag_array)?,
            },
            "ResolveNames" => {
                r.u32()?;
                NspiRequest::ResolveNames {
                    stat: stat(r)?,
                    tags: opt(r, tag_array)?,
                    names: opt(r, |r| string_array(r, true))?.unwrap_or_default(),
                }
            }
            "ResortRestriction" => {
                r.u32()?;
                NspiRequest::ResortRestriction { stat: stat(r)?, in_mids: opt(r, u32_array)? }
            }
            "SeekEntries" => {
                r.u32()?;
                NspiRequest::SeekEntries {
                    stat: stat(r)?,
                    target: opt(r, decode_abk_tagged)?,
                    explicit_table: opt(r, u32_array)?,
                    columns: opt(r, tag_array)?,
                }
            }
            "UpdateStat" => {
                r.u32()?;
                NspiRequest::UpdateStat { stat: stat(r)?, delta_requested: flag(r)? }
            }
            "GetMailboxUrl" => NspiRequest::GetMailboxUrl { flags: r.u32()?, user_dn: r.utf16z()? },
            "GetAddressBookUrl" => NspiRequest::GetAddressBookUrl { flags: r.u32()?, user_dn: r.utf16z()? },
            _ => return Err(Error::Invalid { what: "NSPI request type", value: 0 }),
        };
        aux(r)?;
        r.finish()?;
        Ok(v)
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
    fn connect_round_trip() {
        let c = ConnectRequest {
            user_dn: "/o=X/cn=alice".into(),
            flags: 0,
            default_code_page: 1252,
            lcid_sort: 1033,
            lcid_string: 1033,
            aux: vec![],
        };
        assert_eq!(ConnectRequest::decode(&c.encode().unwrap()).unwrap(), c);
        assert!(ConnectRequest::decode(&c.encode().unwrap()[..10]).is_err());
        let r = ConnectResponse {
            status_code: 0,
            error_code: 0,
            max_polling_interval: 60000,
            retry_count: 6,
            retry_delay: 10000,
            dn_prefix: "/o=X".into(),
            display_name: "Alice".into(),
            aux: vec![],
        };
        assert_eq!(ConnectResponse::decode(&r.encode().unwrap()).unwrap(), r);
    }

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
            let _ = ConnectRequest::decode(&buf);
            let _ = ExecuteRequest::decode(&buf);
            let _ = decode_aux_only(&buf, true);
            let _ = decode_abk_tagged(&mut Reader::new(&buf));
        }
    }
}
