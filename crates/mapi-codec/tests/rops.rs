//! Known-answer tests for the ROPs Outlook sends at session start and while
//! browsing, with bytes laid out by hand from the MS-OXCROPS field tables.

mod common;

use common::hex;
use mapi_codec::cursor::CountWidth;
use mapi_codec::mapihttp::Response;
use mapi_codec::mapihttp::emsmdb::{ExecuteRequest, ExecuteResponse};
use mapi_codec::oxcdata::*;
use mapi_codec::rops::request as rq;
use mapi_codec::rops::response::{Body, LogonPrivate, LogonTime, RowSet};
use mapi_codec::rops::{RopContext, RopRequest, RopRequestBuffer, RopResponse, RopResponseBuffer, response};
use mapi_codec::{Error, Reader, Writer, rpc};

fn enc_req(r: &RopRequest) -> Vec<u8> {
    let mut w = Writer::new();
    r.encode(&mut w).unwrap();
    w.into_vec()
}

fn enc_resp(r: &RopResponse) -> Vec<u8> {
    let mut w = Writer::new();
    r.encode(&mut w).unwrap();
    w.into_vec()
}

/// MS-OXCROPS 2.2.3.1.1: RopId, LogonId, OutputHandleIndex, LogonFlags,
/// OpenFlags, StoreState, EssdnSize, Essdn.
#[test]
fn logon_request() {
    let b = hex("FE 00 00 01 0C 04 00 01 00 00 00 00 05 00 2F 6F 3D 61 00");
    let rop = RopRequest::decode(&mut Reader::new(&b), &RopContext::default()).unwrap();
    let RopRequest::Logon(l) = &rop else { panic!() };
    assert_eq!(l.logon_flags, 0x01);
    assert_eq!(l.open_flags, 0x0100_040C);
    assert_eq!(l.essdn.as_deref(), Some("/o=a"));
    assert_eq!(enc_req(&rop), b);
    // EssdnSize 0: no Essdn.
    let b = hex("FE 01 00 00 00 00 00 00 00 00 00 00 00 00");
    let RopRequest::Logon(l) = RopRequest::decode(&mut Reader::new(&b), &RopContext::default()).unwrap() else {
        panic!()
    };
    assert_eq!(l.essdn, None);
}

/// MS-OXCROPS 2.2.3.1.2: private mailbox success response is 166 bytes.
#[test]
fn logon_private_response() {
    let mut ids = [ObjectId::default(); 13];
    for (i, id) in ids.iter_mut().enumerate() {
        *id = ObjectId::new(1, i as u64 + 1);
    }
    let resp = RopResponse::success(
        0,
        Body::Logon(response::Logon::Private(LogonPrivate {
            logon_flags: 0x01,
            folder_ids: ids,
            response_flags: 0x07,
            mailbox_guid: Guid([0xAA; 16]),
            replica_id: 1,
            replica_guid: Guid([0xBB; 16]),
            logon_time: LogonTime { seconds: 1, minutes: 2, hour: 3, day_of_week: 4, day: 5, month: 6, year: 2026 },
            gwart_time: 0,
            store_state: 0,
        })),
    );
    let b = enc_resp(&resp);
    assert_eq!(b.len(), 166);
    assert_eq!(&b[..7], &[0xFE, 0x00, 0, 0, 0, 0, 0x01]);
    // First folder id: ReplicaId 0x0001, GlobalCounter 00 00 00 00 00 01.
    assert_eq!(&b[7..15], &[1, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(RopResponse::decode(&mut Reader::new(&b), &()).unwrap(), resp);
}

/// MS-OXCROPS 2.2.3.1.4: redirect response with ecWrongServer.
#[test]
fn logon_redirect_response() {
    let b = hex("FE 00 78 04 00 00 01 06 68 6F 73 74 31 00");
    let r = RopResponse::decode(&mut Reader::new(&b), &()).unwrap();
    assert_eq!(r, RopResponse::LogonRedirect { output_handle_index: 0, logon_flags: 1, server_name: "host1".into() });
    assert_eq!(enc_resp(&r), b);
}

/// Any ROP failing: RopId, handle index, ReturnValue only.
#[test]
fn generic_error_response() {
    let r = RopResponse::error(0x02, 1, 0x8004010F);
    assert_eq!(enc_resp(&r), hex("02 01 0F 01 04 80"));
    assert_eq!(RopResponse::decode(&mut Reader::new(&hex("02 01 0F 01 04 80")), &()).unwrap(), r);
}

#[test]
fn open_folder_and_tables() {
    // RopOpenFolder request (2.2.4.1.1).
    let b = hex("02 00 00 01 01 00 00 00 00 00 00 05 00");
    let RopRequest::OpenFolder(o) = RopRequest::decode(&mut Reader::new(&b), &RopContext::default()).unwrap() else {
        panic!()
    };
    assert_eq!(o.folder_id, ObjectId::new(1, 5));
    // Success response: HasRules 0, IsGhosted 0.
    let r = RopResponse::success(1, Body::OpenFolder { has_rules: false, ghost: None });
    assert_eq!(enc_resp(&r), hex("02 01 00 00 00 00 00 00"));
    // RopGetContentsTable response: RowCount.
    assert_eq!(enc_resp(&RopResponse::success(2, Body::TableRowCount(0x05, 3))), hex("05 02 00 00 00 00 03 00 00 00"));
    // RopSetColumns request with two tags.
    let b = hex("12 00 02 00 02 00 1F 00 37 00 40 00 06 0E");
    let RopRequest::SetColumns(s) = RopRequest::decode(&mut Reader::new(&b), &RopContext::default()).unwrap() else {
        panic!()
    };
    assert_eq!(s.property_tags, vec![PropTag(0x0037001F), PropTag(0x0E060040)]);
}

/// RopQueryRows response rows decoded with the table's column set.
#[test]
fn query_rows_response_with_columns() {
    let cols = vec![PropTag(0x0037001F), PropTag(0x0E080003)];
    let rows = RowSet {
        columns: cols.clone(),
        rows: vec![
            PropertyRow::from_values(vec![
                RowValue::Value(PropValue::String("Hi".into())),
                RowValue::Value(PropValue::Integer32(42)),
            ]),
            PropertyRow::from_values(vec![RowValue::Value(PropValue::String("".into())), RowValue::Error(0x8004010F)]),
        ],
    };
    let r = RopResponse::success(1, Body::QueryRows { origin: 0x01, rows });
    let b = enc_resp(&r);
    assert_eq!(b, hex("15 01 00 00 00 00 01 02 00  00 48 00 69 00 00 00 2A 00 00 00  01 00 00 00 0A 0F 01 04 80"));
    let cols2 = cols.clone();
    let src = move |_rop: u8, _hi: u8| Some(cols2.clone());
    assert_eq!(RopResponse::decode(&mut Reader::new(&b), &src).unwrap(), r);
    // Without columns the response cannot be decoded.
    assert!(RopResponse::decode(&mut Reader::new(&b), &()).is_err());
}

/// An unknown RopId stops parsing; earlier ROPs are kept and the failing
/// ROP's LogonId/InputHandleIndex are reported for the error response.
#[test]
fn unknown_rop_stops_buffer() {
    let list = hex("7B 00 00  28 00 01 99 99");
    let mut b = ((list.len() + 2) as u16).to_le_bytes().to_vec();
    b.extend(&list);
    b.extend(hex("01 00 00 00 FF FF FF FF"));
    let buf = RopRequestBuffer::decode(&b, &RopContext::default()).unwrap();
    assert_eq!(buf.rops.len(), 1);
    assert!(matches!(buf.rops[0], RopRequest::GetStoreState(_)));
    assert_eq!(buf.handles, vec![1, 0xFFFF_FFFF]);
    let stop = buf.stopped.as_ref().unwrap();
    assert_eq!((stop.rop_id, stop.logon_id, stop.handle_index, stop.offset), (0x28, Some(0), Some(1), 3));
    assert_eq!(stop.error, Error::UnknownRop(0x28));
    assert_eq!(stop.error_response(0x8004_0102), RopResponse::error(0x28, 1, 0x8004_0102));
    assert_eq!(buf.encode().unwrap(), b);
    assert_eq!(RopRequestBuffer::decode_strict(&b, &RopContext::default()), Err(Error::UnknownRop(0x28)));
    // Ragged handle tables and bad RopSize are framing errors.
    assert!(RopRequestBuffer::decode(&hex("05 00 7B 00 00 01"), &RopContext::default()).is_err());
    assert!(RopRequestBuffer::decode(&hex("01 00"), &RopContext::default()).is_err());
}

/// MS-OXCROPS 2.2.15.1 and 2.2.15.2.
#[test]
fn buffer_too_small_and_backoff() {
    let r = RopResponse::BufferTooSmall { size_needed: 0x1000, request_buffers: hex("15 00 01 00 01 32 00") };
    assert_eq!(enc_resp(&r), hex("FF 00 10 15 00 01 00 01 32 00"));
    let r = RopResponse::Backoff { logon_id: 0, duration: 1000, rops: vec![(0x15, 500)], additional_data: vec![] };
    let b = enc_resp(&r);
    assert_eq!(b, hex("F9 00 E8 03 00 00 01 15 F4 01 00 00 00 00"));
    assert_eq!(RopResponse::decode(&mut Reader::new(&b), &()).unwrap(), r);
}

/// Release has no response; the buffer carries the rest.
#[test]
fn release_and_properties_specific() {
    let b = hex("01 00 03");
    let r = RopRequest::decode(&mut Reader::new(&b), &RopContext::default()).unwrap();
    assert_eq!(r, RopRequest::Release(rq::Basic { logon_id: 0, input_handle_index: 3 }));
    assert!(RopResponse::decode(&mut Reader::new(&[0x01, 0, 0, 0, 0, 0]), &()).is_err());

    let tags = vec![PropTag(0x3001001F), PropTag(0x36010003)];
    let rows = RowSet {
        columns: tags.clone(),
        rows: vec![PropertyRow::from_values(vec![
            RowValue::Value(PropValue::String("Inbox".into())),
            RowValue::NotPresent,
        ])],
    };
    let resp = RopResponse::success(0, Body::GetPropertiesSpecific(rows));
    let b = enc_resp(&resp);
    assert_eq!(&b[..7], &[0x07, 0, 0, 0, 0, 0, 0x01]);
    let t2 = tags.clone();
    assert_eq!(RopResponse::decode(&mut Reader::new(&b), &move |_: u8, _: u8| Some(t2.clone())).unwrap(), resp);
}

/// Execute request → RPC_HEADER_EXT → ROP buffer, and the response path back.
#[test]
fn execute_pipeline() {
    let reqs = RopRequestBuffer {
        rops: vec![
            RopRequest::Logon(rq::Logon {
                logon_id: 0,
                output_handle_index: 0,
                logon_flags: 1,
                open_flags: 0x0100_0000,
                store_state: 0,
                essdn: Some("/o=Viaduc/cn=alice".into()),
            }),
            RopRequest::GetReceiveFolder(rq::GetReceiveFolder {
                logon_id: 0,
                input_handle_index: 0,
                message_class: "IPM".into(),
            }),
        ],
        handles: vec![0xFFFF_FFFF],
        stopped: None,
    };
    let rop_bytes = reqs.encode().unwrap();
    let ext = rpc::encode_chain(&[&rop_bytes], rpc::EncodeOptions { compress: true, xor: true }).unwrap();
    let body = ExecuteRequest { flags: 0, rop_buffer: ext, max_rop_out: 0x10008, aux: vec![] }.to_bytes().unwrap();

    let parsed = ExecuteRequest::from_bytes(&body).unwrap();
    let segs = rpc::decode_chain(&parsed.rop_buffer).unwrap();
    assert_eq!(segs.len(), 1);
    let decoded = RopRequestBuffer::decode_strict(&segs[0].payload, &RopContext::default()).unwrap();
    assert_eq!(decoded, reqs);

    let out = RopResponseBuffer {
        rops: vec![
            RopResponse::error(0xFE, 0, 0x8004_0111),
            RopResponse::success(
                0,
                Body::GetReceiveFolder(response::GetReceiveFolder {
                    folder_id: ObjectId::new(1, 5),
                    explicit_message_class: "".into(),
                }),
            ),
        ],
        handles: vec![0xFFFF_FFFF],
    };
    let out_bytes = out.encode().unwrap();
    let ext = rpc::encode_chain(&[&out_bytes], rpc::EncodeOptions::default()).unwrap();
    let resp = Response::Success { error_code: 0, fields: ExecuteResponse { flags: 0, rop_buffer: ext }, aux: vec![] };
    let b = resp.encode().unwrap();
    let Response::Success { fields, .. } = Response::<ExecuteResponse>::decode(&b).unwrap() else { panic!() };
    let segs = rpc::decode_chain(&fields.rop_buffer).unwrap();
    assert_eq!(RopResponseBuffer::decode(&segs[0].payload, &()).unwrap(), out);
}

/// Property values inside ROPs use 2-byte COUNTs; a Binary longer than 0xFFFF cannot be encoded.
#[test]
fn rop_binary_count_overflow() {
    let v = TaggedPropertyValue::new(PropTag(0x0FFF0102), PropValue::Binary(vec![0; 70_000]));
    assert!(v.encode(&mut Writer::new(), CountWidth::U16).is_err());
    assert!(v.encode(&mut Writer::new(), CountWidth::U32).is_ok());
}

/// MS-OXCRPC 4.2 ("Issue ROP Commands to the Server"): an rgbIn of one
/// RPC_HEADER_EXT {Version 0x0000, Flags 0x0004 (Last), Size 0x0152,
/// SizeActual 0x0152} carrying RopSize 0x0142 (320 bytes of ROPs) and a
/// 16-byte server object handle table; cbIn 0x015A.
#[test]
fn ms_oxcrpc_4_2_extended_buffer_shape() {
    let mut rops = Vec::new();
    for _ in 0..101 {
        rops.push(RopRequest::Release(rq::Basic { logon_id: 0, input_handle_index: 1 }));
    }
    rops.push(RopRequest::QueryRows(rq::QueryRows {
        logon_id: 0,
        input_handle_index: 2,
        query_rows_flags: 0,
        forward_read: true,
        row_count: 0x32,
    }));
    rops.push(RopRequest::GetReceiveFolder(rq::GetReceiveFolder {
        logon_id: 0,
        input_handle_index: 0,
        message_class: "IPM.No".into(),
    }));
    let buf = RopRequestBuffer { rops, handles: vec![1, 2, 3, 4], stopped: None };
    let payload = buf.encode().unwrap();
    let rgb_in = rpc::encode_chain(&[&payload], rpc::EncodeOptions::default()).unwrap();
    assert_eq!(rgb_in.len(), 0x15A);
    assert_eq!(&rgb_in[..10], &hex("00 00 04 00 52 01 52 01 42 01")[..]);
    let segs = rpc::decode_chain(&rgb_in).unwrap();
    assert_eq!(RopRequestBuffer::decode_strict(&segs[0].payload, &RopContext::default()).unwrap(), buf);
}

#[test]
fn response_handle_indexes() {
    let ctx = RopContext::default();
    let dec = |b: &str| RopRequest::decode(&mut Reader::new(&hex(b)), &ctx).unwrap();
    // RopOpenFolder: LogonId 0, InputHandleIndex 1, OutputHandleIndex 2.
    let open = dec("02 00 01 02 01 00 00 00 00 00 00 05 00");
    assert_eq!(open.output_handle_index(), Some(2));
    assert_eq!(open.error_response(0x8004010F), Some(RopResponse::error(0x02, 2, 0x8004010F)));
    // RopLogon: OutputHandleIndex is the third byte.
    let logon = dec("FE 03 04 01 00 00 00 01 00 00 00 00 00 00");
    assert_eq!((logon.logon_id(), logon.output_handle_index()), (3, Some(4)));
    // RopSaveChangesMessage answers on ResponseHandleIndex.
    let save = dec("0C 00 05 01 0A");
    assert_eq!((save.output_handle_index(), save.response_handle_index()), (None, 5));
    // RopRelease has no response.
    assert_eq!(dec("01 00 03").error_response(1), None);
}
