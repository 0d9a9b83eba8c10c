//! NSPI endpoint bodies (MS-OXCMAPIHTTP 2.2.5). Optional fields are modelled
//! as `Option<T>` and carry their one-byte Has* flag on the wire.

use super::ab::{AbRowSet, AbTaggedValue, Stat};
use super::{request_body, response_fields};
use crate::oxcdata::{Guid, PropTag, Restriction};

request_body! {
    /// Bind request body (MS-OXCMAPIHTTP 2.2.5.1.1).
    BindRequest { flags: u32 => u32, state: Option<Stat> => opt_stat }
}
response_fields! {
    /// Bind success response fields (MS-OXCMAPIHTTP 2.2.5.1.2).
    BindResponse { server_guid: Guid => guid }
}
request_body! {
    /// Unbind request body (MS-OXCMAPIHTTP 2.2.5.2.1).
    UnbindRequest { reserved: u32 => u32 }
}
response_fields! {
    /// Unbind success response fields (MS-OXCMAPIHTTP 2.2.5.2.2): none.
    UnbindResponse {}
}
request_body! {
    /// CompareMIds request body (MS-OXCMAPIHTTP 2.2.5.3.1).
    CompareMIdsRequest { reserved: u32 => u32, state: Option<Stat> => opt_stat, minimal_id1: u32 => u32, minimal_id2: u32 => u32 }
}
response_fields! {
    /// CompareMIds success response fields (MS-OXCMAPIHTTP 2.2.5.3.2).
    CompareMIdsResponse { result: i32 => i32 }
}
request_body! {
    /// DNToMId request body (MS-OXCMAPIHTTP 2.2.5.4.1).
    DnToMIdRequest { reserved: u32 => u32, names: Option<Vec<String>> => opt_strings8 }
}
response_fields! {
    /// DNToMId success response fields (MS-OXCMAPIHTTP 2.2.5.4.2).
    DnToMIdResponse { minimal_ids: Option<Vec<u32>> => opt_u32s32 }
}
request_body! {
    /// GetMatches request body (MS-OXCMAPIHTTP 2.2.5.5.1). The Filter restriction
    /// is decoded with 4-byte counts.
    GetMatchesRequest {
        reserved: u32 => u32, state: Option<Stat> => opt_stat, minimal_ids: Option<Vec<u32>> => opt_u32s32,
        interface_option_flags: u32 => u32, filter: Option<Restriction> => opt_restriction32,
        property_name: Option<(Guid, u32)> => opt_guid_id, row_count: u32 => u32, columns: Option<Vec<PropTag>> => opt_tags32,
    }
}
response_fields! {
    /// GetMatches success response fields (MS-OXCMAPIHTTP 2.2.5.5.2).
    GetMatchesResponse {
        state: Option<Stat> => opt_stat, minimal_ids: Option<Vec<u32>> => opt_u32s32,
        columns_and_rows: Option<AbRowSet> => opt_ab_rowset,
    }
}
request_body! {
    /// GetPropList request body (MS-OXCMAPIHTTP 2.2.5.6.1).
    GetPropListRequest { flags: u32 => u32, minimal_id: u32 => u32, code_page: u32 => u32 }
}
response_fields! {
    /// GetPropList success response fields (MS-OXCMAPIHTTP 2.2.5.6.2).
    GetPropListResponse { property_tags: Option<Vec<PropTag>> => opt_tags32 }
}
request_body! {
    /// GetProps request body (MS-OXCMAPIHTTP 2.2.5.7.1).
    GetPropsRequest { flags: u32 => u32, state: Option<Stat> => opt_stat, property_tags: Option<Vec<PropTag>> => opt_tags32 }
}
response_fields! {
    /// GetProps success response fields (MS-OXCMAPIHTTP 2.2.5.7.2).
    GetPropsResponse { code_page: u32 => u32, property_values: Option<Vec<AbTaggedValue>> => opt_ab_values }
}
request_body! {
    /// GetSpecialTable request body (MS-OXCMAPIHTTP 2.2.5.8.1).
    GetSpecialTableRequest { flags: u32 => u32, state: Option<Stat> => opt_stat, version: Option<u32> => opt_u32 }
}
response_fields! {
    /// GetSpecialTable success response fields (MS-OXCMAPIHTTP 2.2.5.8.2).
    GetSpecialTableResponse {
        code_page: u32 => u32, version: Option<u32> => opt_u32, rows: Option<Vec<Vec<AbTaggedValue>>> => opt_ab_value_lists,
    }
}
request_body! {
    /// GetTemplateInfo request body (MS-OXCMAPIHTTP 2.2.5.9.1).
    GetTemplateInfoRequest {
        flags: u32 => u32, display_type: u32 => u32, template_dn: Option<String> => opt_asciiz,
        code_page: u32 => u32, locale_id: u32 => u32,
    }
}
response_fields! {
    /// GetTemplateInfo success response fields (MS-OXCMAPIHTTP 2.2.5.9.2).
    GetTemplateInfoResponse { code_page: u32 => u32, row: Option<Vec<AbTaggedValue>> => opt_ab_values }
}
request_body! {
    /// ModLinkAtt request body (MS-OXCMAPIHTTP 2.2.5.10.1).
    ModLinkAttRequest {
        flags: u32 => u32, property_tag: PropTag => tag, minimal_id: u32 => u32, entry_ids: Option<Vec<Vec<u8>>> => opt_entry_ids32,
    }
}
response_fields! {
    /// ModLinkAtt success response fields (MS-OXCMAPIHTTP 2.2.5.10.2): none.
    ModLinkAttResponse {}
}
request_body! {
    /// ModProps request body (MS-OXCMAPIHTTP 2.2.5.11.1).
    ModPropsRequest {
        reserved: u32 => u32, state: Option<Stat> => opt_stat, property_tags_to_remove: Option<Vec<PropTag>> => opt_tags32,
        property_values: Option<Vec<AbTaggedValue>> => opt_ab_values,
    }
}
response_fields! {
    /// ModProps success response fields (MS-OXCMAPIHTTP 2.2.5.11.2): none.
    ModPropsResponse {}
}
request_body! {
    /// QueryColumns request body (MS-OXCMAPIHTTP 2.2.5.12.1).
    QueryColumnsRequest { reserved: u32 => u32, mapi_flags: u32 => u32 }
}
response_fields! {
    /// QueryColumns success response fields (MS-OXCMAPIHTTP 2.2.5.12.2).
    QueryColumnsResponse { columns: Option<Vec<PropTag>> => opt_tags32 }
}
request_body! {
    /// QueryRows request body (MS-OXCMAPIHTTP 2.2.5.13.1).
    QueryRowsRequest {
        flags: u32 => u32, state: Option<Stat> => opt_stat, explicit_table: Vec<u32> => u32s32,
        row_count: u32 => u32, columns: Option<Vec<PropTag>> => opt_tags32,
    }
}
response_fields! {
    /// QueryRows success response fields (MS-OXCMAPIHTTP 2.2.5.13.2).
    QueryRowsResponse { state: Option<Stat> => opt_stat, columns_and_rows: Option<AbRowSet> => opt_ab_rowset }
}
request_body! {
    /// ResolveNames request body (MS-OXCMAPIHTTP 2.2.5.14.1).
    ResolveNamesRequest {
        reserved: u32 => u32, state: Option<Stat> => opt_stat, property_tags: Option<Vec<PropTag>> => opt_tags32,
        names: Option<Vec<String>> => opt_wstrings,
    }
}
response_fields! {
    /// ResolveNames success response fields (MS-OXCMAPIHTTP 2.2.5.14.2).
    ResolveNamesResponse {
        code_page: u32 => u32, minimal_ids: Option<Vec<u32>> => opt_u32s32, rows_and_columns: Option<AbRowSet> => opt_ab_rowset,
    }
}
request_body! {
    /// ResortRestriction request body (MS-OXCMAPIHTTP 2.2.5.15.1).
    ResortRestrictionRequest { reserved: u32 => u32, state: Option<Stat> => opt_stat, minimal_ids: Option<Vec<u32>> => opt_u32s32 }
}
response_fields! {
    /// ResortRestriction success response fields (MS-OXCMAPIHTTP 2.2.5.15.2).
    ResortRestrictionResponse { state: Option<Stat> => opt_stat, minimal_ids: Option<Vec<u32>> => opt_u32s32 }
}
request_body! {
    /// SeekEntries request body (MS-OXCMAPIHTTP 2.2.5.16.1).
    SeekEntriesRequest {
        reserved: u32 => u32, state: Option<Stat> => opt_stat, target: Option<AbTaggedValue> => opt_ab_tagged,
        explicit_table: Option<Vec<u32>> => opt_u32s32, columns: Option<Vec<PropTag>> => opt_tags32,
    }
}
response_fields! {
    /// SeekEntries success response fields (MS-OXCMAPIHTTP 2.2.5.16.2).
    SeekEntriesResponse { state: Option<Stat> => opt_stat, columns_and_rows: Option<AbRowSet> => opt_ab_rowset }
}
request_body! {
    /// UpdateStat request body (MS-OXCMAPIHTTP 2.2.5.17.1).
    UpdateStatRequest { reserved: u32 => u32, state: Option<Stat> => opt_stat, delta_requested: bool => bool8 }
}
response_fields! {
    /// UpdateStat success response fields (MS-OXCMAPIHTTP 2.2.5.17.2).
    UpdateStatResponse { state: Option<Stat> => opt_stat, delta: Option<u32> => opt_u32 }
}
request_body! {
    /// GetMailboxUrl request body (MS-OXCMAPIHTTP 2.2.5.18.1).
    GetMailboxUrlRequest { flags: u32 => u32, server_dn: String => utf16z }
}
response_fields! {
    /// GetMailboxUrl success response fields (MS-OXCMAPIHTTP 2.2.5.18.2).
    GetMailboxUrlResponse { server_url: String => utf16z }
}
request_body! {
    /// GetAddressBookUrl request body (MS-OXCMAPIHTTP 2.2.5.19.1).
    GetAddressBookUrlRequest { flags: u32 => u32, user_dn: String => utf16z }
}
response_fields! {
    /// GetAddressBookUrl success response fields (MS-OXCMAPIHTTP 2.2.5.19.2).
    GetAddressBookUrlResponse { server_url: String => utf16z }
}
