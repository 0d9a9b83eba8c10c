#![no_main]
//! MAPI/HTTP request and response bodies; the first byte picks the body type.
use libfuzzer_sys::fuzz_target;
use mapi_codec::mapihttp::{emsmdb, nspi, Response};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, b)) = data.split_first() else { return };
    match sel % 16 {
        0 => drop(emsmdb::ConnectRequest::from_bytes(b)),
        1 => drop(emsmdb::ExecuteRequest::from_bytes(b)),
        2 => drop(Response::<emsmdb::ConnectResponse>::decode(b)),
        3 => drop(Response::<emsmdb::ExecuteResponse>::decode(b)),
        4 => drop(nspi::BindRequest::from_bytes(b)),
        5 => drop(nspi::GetMatchesRequest::from_bytes(b)),
        6 => drop(nspi::QueryRowsRequest::from_bytes(b)),
        7 => drop(nspi::ResolveNamesRequest::from_bytes(b)),
        8 => drop(nspi::SeekEntriesRequest::from_bytes(b)),
        9 => drop(nspi::ModPropsRequest::from_bytes(b)),
        10 => drop(Response::<nspi::GetMatchesResponse>::decode(b)),
        11 => drop(Response::<nspi::QueryRowsResponse>::decode(b)),
        12 => drop(Response::<nspi::GetPropsResponse>::decode(b)),
        13 => drop(Response::<nspi::GetSpecialTableResponse>::decode(b)),
        14 => drop(nspi::GetTemplateInfoRequest::from_bytes(b)),
        _ => drop(Response::<nspi::ResolveNamesResponse>::decode(b)),
    }
});
