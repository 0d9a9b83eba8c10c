//! Known-answer tests from the byte examples of the Microsoft specifications,
//! stored under protocol-fixtures/mapi-codec/ (see its README for sources).

mod common;

use mapi_codec::oxcdata::{ObjectId, PropTag, PropValue};
use mapi_codec::rops::request::FlaggedString;
use mapi_codec::rops::{Body, RopContext, RopRequest, RopResponse};
use mapi_codec::{Reader, Writer, lz77};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../protocol-fixtures/mapi-codec/{name}", env!("CARGO_MANIFEST_DIR"));
    common::hex(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

#[test]
fn readme_lists_every_fixture() {
    let dir = format!("{}/../../protocol-fixtures/mapi-codec", env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(format!("{dir}/README.md")).unwrap();
    for e in std::fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".hex") {
            assert!(readme.contains(&name), "{name} missing from README");
        }
    }
}

/// MS-XCA 3.1: the alphabet as 26 literals.
#[test]
fn ms_xca_alphabet() {
    let c = fixture("ms-xca-3.1-plain-lz77-alphabet.compressed.hex");
    assert_eq!(lz77::decompress(&c, 26).unwrap(), b"abcdefghijklmnopqrstuvwxyz");
    assert_eq!(lz77::compress(b"abcdefghijklmnopqrstuvwxyz"), c);
}

/// MS-XCA 3.1: "abc" x 100 as three literals and one long match.
#[test]
fn ms_xca_abc300() {
    let c = fixture("ms-xca-3.1-plain-lz77-abc300.compressed.hex");
    let plain = b"abc".repeat(100);
    assert_eq!(lz77::decompress(&c, 300).unwrap(), plain);
    assert_eq!(lz77::compress(&plain), c);
    // The output cap (SizeActual) is enforced.
    assert!(lz77::decompress(&c, 299).is_err());
}

/// MS-OXCPRPT section 4 "Setting Properties": RopSetProperties request.
#[test]
fn ms_oxcprpt_set_properties_request() {
    let b = fixture("ms-oxcprpt-4-setting-properties-request.hex");
    let mut r = Reader::new(&b);
    let rop = RopRequest::decode(&mut r, &RopContext::default()).unwrap();
    assert!(r.is_empty());
    let RopRequest::SetProperties(sp) = &rop else { panic!("{rop:?}") };
    assert_eq!((sp.logon_id, sp.input_handle_index), (0, 0));
    assert_eq!(sp.property_values.len(), 2);
    assert_eq!(sp.property_values[0].tag, PropTag(0x003D001F));
    assert_eq!(sp.property_values[0].value, PropValue::String(String::new()));
    assert_eq!(sp.property_values[1].tag, PropTag(0x0E1D001F));
    assert_eq!(sp.property_values[1].value, PropValue::String("Hello World".into()));
    let mut w = Writer::new();
    rop.encode(&mut w).unwrap();
    assert_eq!(w.into_vec(), b);
}

fn request(name: &str) -> (Vec<u8>, RopRequest) {
    let b = fixture(name);
    let mut r = Reader::new(&b);
    let rop = RopRequest::decode(&mut r, &RopContext::default()).unwrap();
    assert!(r.is_empty(), "{name}: trailing bytes");
    // Round trip: every field of these requests is on the wire.
    let mut w = Writer::new();
    rop.encode(&mut w).unwrap();
    assert_eq!(w.into_vec(), b, "{name}: re-encoding differs");
    (b, rop)
}

fn response(name: &str) -> RopResponse {
    let b = fixture(name);
    let mut r = Reader::new(&b);
    let rop = RopResponse::decode(&mut r, &()).unwrap();
    assert!(r.is_empty(), "{name}: trailing bytes");
    let mut w = Writer::new();
    rop.encode(&mut w).unwrap();
    assert_eq!(w.into_vec(), b, "{name}: re-encoding differs");
    rop
}

/// MS-OXCFOLD 4.5.1: RopMoveFolder request moving folder 0001-00000E8EDF36
/// asynchronously, renamed "Folder1" (Unicode).
#[test]
fn ms_oxcfold_move_folder_request() {
    let (b, rop) = request("ms-oxcfold-4.5.1-movefolder-request.hex");
    assert_eq!(b.len(), 30);
    let RopRequest::MoveFolder(m) = &rop else { panic!("{rop:?}") };
    assert_eq!(rop.rop_id(), 0x35);
    assert_eq!(m.logon_id, 0);
    assert_eq!(m.source_handle_index, 1);
    assert_eq!(m.dest_handle_index, 2);
    assert!(m.want_asynchronous);
    assert_eq!(m.want_recursive, None);
    assert_eq!(m.folder_id, ObjectId::new(0x0001, 0x0000_0E8E_DF36));
    assert_eq!(m.new_folder_name, FlaggedString::Unicode("Folder1".into()));
}

/// MS-OXCTABL 4.5.3.1: RopQueryRows request, advance, forward, 50 rows.
#[test]
fn ms_oxctabl_query_rows_request() {
    let (_, rop) = request("ms-oxctabl-4.5.3.1-queryrows-request.hex");
    let RopRequest::QueryRows(q) = &rop else { panic!("{rop:?}") };
    assert_eq!((q.logon_id, q.input_handle_index), (0, 0));
    assert_eq!(q.query_rows_flags, 0x00);
    assert!(q.forward_read);
    assert_eq!(q.row_count, 50);
}

/// MS-OXCTABL 4.3.2: RopSortTable response, TableStatus TBLSTAT_COMPLETE.
#[test]
fn ms_oxctabl_sort_table_response() {
    let rop = response("ms-oxctabl-4.3.2-sorttable-response.hex");
    assert_eq!(rop, RopResponse::success(1, Body::TableStatus(0x13, 0x00)));
}

/// MS-OXORULE 4.2.2: RopGetRulesTable response (success, handle index 1).
#[test]
fn ms_oxorule_get_rules_table_response() {
    let rop = response("ms-oxorule-4.2.2-getrulestable-response.hex");
    assert_eq!(rop.rop_id(), 0x3F);
    assert_eq!(rop, RopResponse::success(1, Body::Empty(0x3F)));
}

/// MS-OXORULE 4.2.2: RopSetColumns response, TBLSTAT_COMPLETE.
#[test]
fn ms_oxorule_set_columns_response() {
    let rop = response("ms-oxorule-4.2.2-setcolumns-response.hex");
    assert_eq!(rop, RopResponse::success(1, Body::TableStatus(0x12, 0x00)));
}

/// MS-OXCPRPT 4.1.2: RopGetPropertyIdsFromNames response mapping two names
/// to 0x863E and 0x863F (16-bit IDs, whatever the example's prose says).
#[test]
fn ms_oxcprpt_get_property_ids_from_names_response() {
    let rop = response("ms-oxcprpt-4.1.2-getpropertyidsfromnames-response.hex");
    assert_eq!(rop, RopResponse::success(0, Body::GetPropertyIdsFromNames(vec![0x863E, 0x863F])));
}

/// MS-OXCPRPT 4.2.2: RopSetProperties response without property problems.
#[test]
fn ms_oxcprpt_set_properties_response() {
    let rop = response("ms-oxcprpt-4.2.2-setproperties-response.hex");
    assert_eq!(rop, RopResponse::success(0, Body::Problems(0x0A, vec![])));
}

/// MS-OXCPRPT 4.3.1: RopGetPropertiesSpecific request for two named
/// properties and PidTagChangeKey, Unicode strings wanted.
#[test]
fn ms_oxcprpt_get_properties_specific_request() {
    let (_, rop) = request("ms-oxcprpt-4.3.1-getpropertiesspecific-request.hex");
    let RopRequest::GetPropertiesSpecific(g) = &rop else { panic!("{rop:?}") };
    assert_eq!((g.logon_id, g.input_handle_index), (0, 0));
    assert_eq!(g.property_size_limit, 0);
    assert_eq!(g.want_unicode, 1);
    assert_eq!(g.property_tags, [PropTag(0x863E000B), PropTag(0x863F0003), PropTag(0x65E20102)]);
}

/// MS-OXCPRPT 4.4.1.1: RopOpenStream request on
/// PidTagExtendedRuleMessageCondition, ReadWrite.
#[test]
fn ms_oxcprpt_open_stream_request() {
    let (_, rop) = request("ms-oxcprpt-4.4.1.1-openstream-request.hex");
    let RopRequest::OpenStream(o) = &rop else { panic!("{rop:?}") };
    assert_eq!(o.logon_id, 1);
    assert_eq!(o.input_handle_index, 0);
    assert_eq!(o.output_handle_index, 1);
    assert_eq!(o.property_tag, PropTag(0x0E9A0102));
    assert_eq!(o.open_mode_flags, 0x01);
}

/// MS-OXCPRPT 4.5 "Asynchronous Progress": RopEmptyFolder (asynchronous),
/// then RopProgress request/response pairs reporting 29 and 59 of 729.
#[test]
fn ms_oxcprpt_asynchronous_progress() {
    use mapi_codec::rops::response::Progress;
    let (_, rop) = request("ms-oxcprpt-4.5-emptyfolder-request.hex");
    let RopRequest::EmptyFolder(e) = &rop else { panic!("{rop:?}") };
    assert_eq!((e.logon_id, e.input_handle_index), (0, 0));
    assert!(e.want_asynchronous);
    assert!(!e.want_delete_associated);

    let (_, rop) = request("ms-oxcprpt-4.5-progress-request.hex");
    let RopRequest::Progress(p) = &rop else { panic!("{rop:?}") };
    assert_eq!((p.logon_id, p.input_handle_index), (0, 0));
    assert!(!p.want_cancel);

    for (name, done) in
        [("ms-oxcprpt-4.5-progress-response-29.hex", 29), ("ms-oxcprpt-4.5-progress-response-59.hex", 59)]
    {
        assert_eq!(
            response(name),
            RopResponse::success(
                0,
                Body::Progress(Progress { logon_id: 0, completed_task_count: done, total_task_count: 729 })
            )
        );
    }
}

/// MS-OXCFOLD 4.1: RopCreateFolder request ("Folder1", Unicode) and its
/// response (new FID 0001-00000E915212, not an existing folder).
#[test]
fn ms_oxcfold_create_folder() {
    let (b, rop) = request("ms-oxcfold-4.1.1-createfolder-request.hex");
    assert_eq!(b.len(), 26);
    let RopRequest::CreateFolder(c) = &rop else { panic!("{rop:?}") };
    assert_eq!((c.logon_id, c.input_handle_index, c.output_handle_index), (0, 0, 1));
    assert_eq!(c.folder_type, 1);
    assert!(!c.open_existing);
    assert_eq!(c.reserved, 0);
    assert_eq!(c.display_name, FlaggedString::Unicode("Folder1".into()));
    assert_eq!(c.comment, FlaggedString::Unicode(String::new()));

    let rop = response("ms-oxcfold-4.1.2-createfolder-response.hex");
    assert_eq!(
        rop,
        RopResponse::success(
            1,
            Body::CreateFolder { folder_id: ObjectId::new(0x0001, 0x0000_0E91_5212), existing: None }
        )
    );
}

/// MS-OXCFOLD 4.2: RopDeleteFolder (DEL_MESSAGES | DEL_FOLDERS) and its
/// response (PartialCompletion FALSE).
#[test]
fn ms_oxcfold_delete_folder() {
    let (_, rop) = request("ms-oxcfold-4.2.1-deletefolder-request.hex");
    let RopRequest::DeleteFolder(d) = &rop else { panic!("{rop:?}") };
    assert_eq!((d.logon_id, d.input_handle_index), (0, 1));
    assert_eq!(d.delete_folder_flags, 0x01 | 0x04);
    assert_eq!(d.folder_id, ObjectId::new(0x0001, 0x0000_0E8E_DF36));
    assert_eq!(
        response("ms-oxcfold-4.2.2-deletefolder-response.hex"),
        RopResponse::success(1, Body::PartialCompletion(0x1D, false))
    );
}

/// MS-OXCFOLD 4.7.2: RopGetHierarchyTable response with 21 rows.
#[test]
fn ms_oxcfold_get_hierarchy_table_response() {
    assert_eq!(
        response("ms-oxcfold-4.7.2-gethierarchytable-response.hex"),
        RopResponse::success(2, Body::TableRowCount(0x04, 21))
    );
}

/// MS-OXCTABL 4.1.1: RopGetContentsTable request, standard table.
#[test]
fn ms_oxctabl_get_contents_table_request() {
    let (_, rop) = request("ms-oxctabl-4.1.1-getcontentstable-request.hex");
    let RopRequest::GetContentsTable(t) = &rop else { panic!("{rop:?}") };
    assert_eq!((t.logon_id, t.input_handle_index, t.output_handle_index), (0, 0, 1));
    assert_eq!(t.table_flags, 0x00);
}

/// MS-OXOMSG 4.1 and 4.3: RopSubmitMessage and RopAbortSubmit requests and
/// responses; 4.6.1.2 / 4.6.6.2: RopSetSpooler and RopSpoolerLockMessage
/// responses.
#[test]
fn ms_oxomsg_submit_and_spooler() {
    let (_, rop) = request("ms-oxomsg-4.1.1-submitmessage-request.hex");
    let RopRequest::SubmitMessage(s) = &rop else { panic!("{rop:?}") };
    assert_eq!((s.logon_id, s.input_handle_index, s.submit_flags), (0, 2, 0));
    assert_eq!(response("ms-oxomsg-4.1.2-submitmessage-response.hex"), RopResponse::success(2, Body::Empty(0x32)));

    let (_, rop) = request("ms-oxomsg-4.3.1-abortsubmit-request.hex");
    let RopRequest::AbortSubmit(a) = &rop else { panic!("{rop:?}") };
    assert_eq!((a.logon_id, a.input_handle_index), (0, 0));
    assert_eq!(a.folder_id, ObjectId::new(0x0001, 0x0003_b479_ca47));
    assert_eq!(a.message_id, ObjectId::new(0x0001, 0x0003_b7e6_5fa7));
    assert_eq!(response("ms-oxomsg-4.3.2-abortsubmit-response.hex"), RopResponse::success(0, Body::Empty(0x34)));

    assert_eq!(response("ms-oxomsg-4.6.1.2-setspooler-response.hex"), RopResponse::success(0, Body::Empty(0x47)));
    assert_eq!(
        response("ms-oxomsg-4.6.6.2-spoolerlockmessage-response.hex"),
        RopResponse::success(0, Body::Empty(0x48))
    );
}

/// MS-OXCFOLD 4.3.1: RopDeleteMessages request for two messages.
#[test]
fn ms_oxcfold_delete_messages_request() {
    let (b, rop) = request("ms-oxcfold-4.3.1-deletemessages-request.hex");
    assert_eq!(b.len(), 23);
    let RopRequest::DeleteMessages(d) = &rop else { panic!("{rop:?}") };
    assert_eq!((d.logon_id, d.input_handle_index), (0, 0));
    assert!(!d.want_asynchronous);
    assert!(d.notify_non_read);
    assert_eq!(d.message_ids, [ObjectId::new(0x0001, 0x0000_0E8E_F148), ObjectId::new(0x0001, 0x0000_0E8E_C302)]);
}

/// MS-OXCFOLD 4.6: RopCopyFolder request (asynchronous, recursive,
/// "Folder1") and its response.
#[test]
fn ms_oxcfold_copy_folder() {
    let (b, rop) = request("ms-oxcfold-4.6.1-copyfolder-request.hex");
    assert_eq!(b.len(), 31);
    let RopRequest::CopyFolder(c) = &rop else { panic!("{rop:?}") };
    assert_eq!(rop.rop_id(), 0x36);
    assert_eq!((c.logon_id, c.source_handle_index, c.dest_handle_index), (0, 0, 1));
    assert!(c.want_asynchronous);
    assert_eq!(c.want_recursive, Some(true));
    assert_eq!(c.folder_id, ObjectId::new(0x0001, 0x0000_0E8E_DF36));
    assert_eq!(c.new_folder_name, FlaggedString::Unicode("Folder1".into()));
    assert_eq!(
        response("ms-oxcfold-4.6.2-copyfolder-response.hex"),
        RopResponse::success(0, Body::PartialCompletion(0x36, false))
    );
}

/// MS-OXCTABL 4.2.1: RopSetColumns request with six columns.
#[test]
fn ms_oxctabl_set_columns_request() {
    let (_, rop) = request("ms-oxctabl-4.2.1-setcolumns-request.hex");
    let RopRequest::SetColumns(s) = &rop else { panic!("{rop:?}") };
    assert_eq!((s.logon_id, s.input_handle_index), (0, 1));
    assert_eq!(s.set_columns_flags, 0);
    assert_eq!(
        s.property_tags,
        [
            PropTag(0x67480014),
            PropTag(0x674a0014),
            PropTag(0x674d0014),
            PropTag(0x674e0003),
            PropTag(0x0037001f),
            PropTag(0x0e060040),
        ]
    );
}

/// MS-OXCTABL 4.3.1: RopSortTable request, one category, expanded.
#[test]
fn ms_oxctabl_sort_table_request() {
    use mapi_codec::oxcdata::SortOrder;
    let (_, rop) = request("ms-oxctabl-4.3.1-sorttable-request.hex");
    let RopRequest::SortTable(s) = &rop else { panic!("{rop:?}") };
    assert_eq!((s.logon_id, s.input_handle_index), (0, 0));
    assert_eq!(s.sort_table_flags, 0);
    let set = &s.sort_order_set;
    assert_eq!((set.categorized_count, set.expanded_count), (1, 1));
    assert_eq!(
        set.sort_orders,
        [
            SortOrder { prop_type: 0x301F, prop_id: 0x8008, order: 0x00 },
            SortOrder { prop_type: 0x0040, prop_id: 0x0E06, order: 0x01 },
        ]
    );
}

/// MS-OXCFOLD 4.4.1: RopMoveCopyMessages request (move one message).
#[test]
fn ms_oxcfold_move_copy_messages_request() {
    let (_, rop) = request("ms-oxcfold-4.4.1-movecopymessages-request.hex");
    let RopRequest::MoveCopyMessages(m) = &rop else { panic!("{rop:?}") };
    assert_eq!((m.logon_id, m.source_handle_index, m.dest_handle_index), (0, 0, 1));
    assert_eq!(m.message_ids, [ObjectId::new(0x0001, 0x0000_0E8E_EC5D)]);
    assert!(!m.want_asynchronous);
    assert!(!m.want_copy);
}

/// MS-OXCFOLD 4.5.2: RopMoveFolder response (PartialCompletion FALSE).
#[test]
fn ms_oxcfold_move_folder_response() {
    assert_eq!(
        response("ms-oxcfold-4.5.2-movefolder-response.hex"),
        RopResponse::success(1, Body::PartialCompletion(0x35, false))
    );
}

/// MS-OXORULE 4.2.1: the three ROPs that read the rules table, assembled
/// into a ROP input buffer with the example's handle table; 4.2.2: the
/// RopQueryRows response decoded against the requested columns.
#[test]
fn ms_oxorule_read_rules_table() {
    use mapi_codec::oxcdata::{PropertyRow, RowValue};
    use mapi_codec::rops::RopRequestBuffer;

    let (get, rop) = request("ms-oxorule-4.2.1-getrulestable-request.hex");
    let RopRequest::GetRulesTable(t) = &rop else { panic!("{rop:?}") };
    assert_eq!((t.logon_id, t.input_handle_index, t.output_handle_index), (0, 0, 1));
    assert_eq!(t.table_flags, 0x40);

    let (set, rop) = request("ms-oxorule-4.2.1-setcolumns-request.hex");
    let RopRequest::SetColumns(s) = &rop else { panic!("{rop:?}") };
    assert_eq!((s.input_handle_index, s.set_columns_flags), (1, 0));
    let columns = s.property_tags.clone();
    assert_eq!(columns, [PropTag(0x66740014), PropTag(0x66840102), PropTag(0x6682001F)]);

    let (query, rop) = request("ms-oxorule-4.2.1-queryrows-request.hex");
    let RopRequest::QueryRows(q) = &rop else { panic!("{rop:?}") };
    assert_eq!((q.input_handle_index, q.query_rows_flags), (1, 0));
    assert!(q.forward_read);
    assert_eq!(q.row_count, 50);

    // RopSize counts itself and the RopsList; the handle table follows.
    let rops_len = get.len() + set.len() + query.len();
    let mut input = ((rops_len + 2) as u16).to_le_bytes().to_vec();
    input.extend_from_slice(&get);
    input.extend_from_slice(&set);
    input.extend_from_slice(&query);
    input.extend_from_slice(&fixture("ms-oxorule-4.2.1-handle-table.hex"));
    let buf = RopRequestBuffer::decode(&input, &RopContext::default()).unwrap();
    assert_eq!(buf.rops.len(), 3);
    assert_eq!(buf.stopped, None);
    assert_eq!(buf.handles, [0x0000_0223, 0xFFFF_FFFF]);
    assert_eq!(buf.encode().unwrap(), input);

    let b = fixture("ms-oxorule-4.2.2-queryrows-response.hex");
    let cols = |rop: u8, hi: u8| (rop == 0x15 && hi == 1).then(|| columns.clone());
    let mut r = Reader::new(&b);
    let rop = RopResponse::decode(&mut r, &cols).unwrap();
    assert!(r.is_empty());
    let RopResponse::Success { handle_index: 1, body: Body::QueryRows { origin, rows } } = &rop else {
        panic!("{rop:?}")
    };
    assert_eq!(*origin, 0x02); // BOOKMARK_END
    assert_eq!(
        rows.rows,
        [PropertyRow {
            flagged: false,
            values: vec![
                RowValue::Value(PropValue::Integer64(0x56F8_3F01_0000_0001)),
                RowValue::Value(PropValue::Binary(vec![
                    0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x55, 0x55, 0x55, 0x55, 0xd1, 0x44, 0xe3, 0x40,
                ])),
                RowValue::Value(PropValue::String("Project X".into())),
            ],
        }]
    );
    let mut w = Writer::new();
    rop.encode(&mut w).unwrap();
    assert_eq!(w.into_vec(), b);
}
