//! Round-trip tests (decode → encode → decode) for every structure, driven by
//! hand-rolled deterministic generators: structured values where a generator
//! exists, and biased random bytes (kept when they decode) everywhere else.

mod common;

use common::Rng;
use mapi_codec::cursor::CountWidth;
use mapi_codec::idset::{IdSet, RangeSet, Replica, ReplicaForm, decode_globset, encode_globset};
use mapi_codec::mapihttp::{self, ab, emsmdb, nspi};
use mapi_codec::oxcdata::*;
use mapi_codec::rops::response::ColumnSource;
use mapi_codec::rops::{RopContext, RopRequest, RopRequestBuffer, RopResponse, RopResponseBuffer, rop_name};
use mapi_codec::{Reader, Writer, aux, lz77, rpc};

fn gen_value(rng: &mut Rng, ty: PropType, depth: usize) -> PropValue {
    use PropValue as V;
    let n = rng.below(4);
    let small = |rng: &mut Rng| rng.below(2000) as i64 - 1000;
    match ty {
        PropType::Unspecified | PropType::Null => V::Null,
        PropType::Integer16 => V::Integer16(small(rng) as i16),
        PropType::Integer32 => V::Integer32(rng.next_u64() as i32),
        PropType::Floating32 => V::Floating32(small(rng) as f32 / 4.0),
        PropType::Floating64 => V::Floating64(small(rng) as f64 / 8.0),
        PropType::Currency => V::Currency(rng.next_u64() as i64),
        PropType::FloatingTime => V::FloatingTime(45000.5),
        PropType::ErrorCode => V::ErrorCode(0x8004010F),
        PropType::Boolean => V::Boolean(rng.below(2) == 1),
        PropType::Object => V::Object(rng.next_u64() as u32),
        PropType::Integer64 => V::Integer64(rng.next_u64() as i64),
        PropType::String8 => V::String8(rng.ascii(12).into_bytes()),
        PropType::String => V::String(rng.unicode(12)),
        PropType::Time => V::Time(rng.next_u64()),
        PropType::Guid => V::Guid(Guid([rng.byte(); 16])),
        PropType::ServerId => V::ServerId(rng.uniform_bytes(21)),
        PropType::Restriction => V::Restriction(Box::new(gen_restriction(rng, depth + 1))),
        PropType::RuleAction => V::RuleAction(RuleActions { blocks: (0..n).map(|_| rng.uniform_bytes(8)).collect() }),
        PropType::Binary => V::Binary(rng.uniform_bytes(20)),
        PropType::MultipleInteger16 => V::MultipleInteger16((0..n).map(|_| small(rng) as i16).collect()),
        PropType::MultipleInteger32 => V::MultipleInteger32((0..n).map(|_| rng.next_u64() as i32).collect()),
        PropType::MultipleFloating32 => V::MultipleFloating32((0..n).map(|_| 1.5).collect()),
        PropType::MultipleFloating64 => V::MultipleFloating64((0..n).map(|_| -2.25).collect()),
        PropType::MultipleCurrency => V::MultipleCurrency((0..n).map(|_| rng.next_u64() as i64).collect()),
        PropType::MultipleFloatingTime => V::MultipleFloatingTime((0..n).map(|_| 1.0).collect()),
        PropType::MultipleInteger64 => V::MultipleInteger64((0..n).map(|_| rng.next_u64() as i64).collect()),
        PropType::MultipleString8 => V::MultipleString8((0..n).map(|_| rng.ascii(6).into_bytes()).collect()),
        PropType::MultipleString => V::MultipleString((0..n).map(|_| rng.unicode(6)).collect()),
        PropType::MultipleTime => V::MultipleTime((0..n).map(|_| rng.next_u64()).collect()),
        PropType::MultipleGuid => V::MultipleGuid((0..n).map(|_| Guid([rng.byte(); 16])).collect()),
        PropType::MultipleBinary => V::MultipleBinary((0..n).map(|_| rng.uniform_bytes(6)).collect()),
    }
}

fn gen_type(rng: &mut Rng, depth: usize) -> PropType {
    loop {
        let t = PropType::ALL[rng.below(PropType::ALL.len())];
        let nested = matches!(t, PropType::Restriction);
        if t != PropType::Unspecified && (!nested || depth < 3) {
            return t;
        }
    }
}

fn gen_tagged(rng: &mut Rng, depth: usize) -> TaggedPropertyValue {
    let ty = gen_type(rng, depth);
    TaggedPropertyValue::new(PropTag::new(0x8000 + rng.below(100) as u16, ty.as_u16()), gen_value(rng, ty, depth))
}

fn gen_restriction(rng: &mut Rng, depth: usize) -> Restriction {
    let tag = PropTag(0x0037001F);
    let leaf = depth >= 4;
    let kind = if leaf { 3 + rng.below(6) } else { rng.below(12) };
    let sub = |rng: &mut Rng| Box::new(gen_restriction(rng, depth + 1));
    match kind {
        0 => Restriction::And((0..rng.below(3)).map(|_| gen_restriction(rng, depth + 1)).collect()),
        1 => Restriction::Or((0..rng.below(3)).map(|_| gen_restriction(rng, depth + 1)).collect()),
        2 => Restriction::Not(sub(rng)),
        3 => Restriction::Content { fuzzy_level_low: 1, fuzzy_level_high: 0, tag, value: gen_tagged(rng, depth + 1) },
        4 => Restriction::Property { relop: RelOp::Equal, tag, value: gen_tagged(rng, depth + 1) },
        5 => Restriction::CompareProps { relop: RelOp::Re, tag1: tag, tag2: PropTag(0x0E1D001F) },
        6 => Restriction::BitMask { bmr: 1, tag: PropTag(0x0E070003), mask: 1 },
        7 => Restriction::Size { relop: RelOp::LessThan, tag, size: 100 },
        8 => Restriction::Exist { tag },
        9 => Restriction::SubObject { subobject: PropTag(0x0E12000D), restriction: sub(rng) },
        10 => Restriction::Comment {
            values: (0..rng.below(3)).map(|_| gen_tagged(rng, depth + 1)).collect(),
            restriction: if rng.below(2) == 0 { None } else { Some(sub(rng)) },
        },
        _ => Restriction::Count { count: 5, restriction: sub(rng) },
    }
}

/// Asserts the canonical round trip: encode(x) decodes to something that encodes identically.
fn check_bytes(first: Vec<u8>, again: impl FnOnce(&[u8]) -> Vec<u8>) {
    let second = again(&first);
    assert_eq!(first, second);
}

#[test]
fn property_values_all_types_both_widths() {
    let mut rng = Rng::new(1);
    for &ty in PropType::ALL {
        if ty == PropType::Unspecified {
            continue;
        }
        for w in [CountWidth::U16, CountWidth::U32] {
            for _ in 0..30 {
                let v = gen_value(&mut rng, ty, 0);
                let mut wr = Writer::new();
                v.encode(&mut wr, w).unwrap();
                let b = wr.into_vec();
                let mut r = Reader::new(&b);
                let d = PropValue::decode(&mut r, ty, w).unwrap();
                assert!(r.is_empty(), "{ty:?}");
                assert_eq!(d, v);
                // Typed and tagged forms.
                let t = TypedPropertyValue(v.clone());
                let mut wr = Writer::new();
                t.encode(&mut wr, w).unwrap();
                assert_eq!(TypedPropertyValue::decode(&mut Reader::new(wr.as_slice()), w).unwrap(), t);
            }
        }
    }
}

#[test]
fn restrictions_round_trip() {
    let mut rng = Rng::new(2);
    for _ in 0..500 {
        let res = gen_restriction(&mut rng, 0);
        for w in [CountWidth::U16, CountWidth::U32] {
            let mut wr = Writer::new();
            res.encode(&mut wr, w).unwrap();
            let b = wr.into_vec();
            let mut r = Reader::new(&b);
            assert_eq!(Restriction::decode(&mut r, w).unwrap(), res);
            assert!(r.is_empty());
        }
    }
}

#[test]
fn property_rows_round_trip() {
    let mut rng = Rng::new(3);
    for _ in 0..300 {
        let ncols = rng.below(6);
        let mut cols = Vec::new();
        let mut vals = Vec::new();
        for _ in 0..ncols {
            let ty = gen_type(&mut rng, 3);
            let unspecified = rng.below(4) == 0;
            cols.push(PropTag::new(0x3001, if unspecified { 0 } else { ty.as_u16() }));
            vals.push(match rng.below(5) {
                0 => RowValue::NotPresent,
                1 => RowValue::Error(0x8004010F),
                _ => RowValue::Value(gen_value(&mut rng, ty, 3)),
            });
        }
        let row = PropertyRow::from_values(vals);
        let mut w = Writer::new();
        row.encode(&mut w, &cols, CountWidth::U16).unwrap();
        let b = w.into_vec();
        let mut r = Reader::new(&b);
        assert_eq!(PropertyRow::decode(&mut r, &cols, CountWidth::U16).unwrap(), row);
        assert!(r.is_empty());
    }
}

#[test]
fn names_sort_orders_tag_arrays() {
    let mut rng = Rng::new(4);
    for _ in 0..200 {
        let n = PropertyName {
            guid: Guid([rng.byte(); 16]),
            kind: match rng.below(3) {
                0 => NameKind::Lid(rng.next_u64() as u32),
                1 => NameKind::Name(rng.unicode(20)),
                _ => NameKind::None,
            },
        };
        let mut w = Writer::new();
        n.encode(&mut w).unwrap();
        assert_eq!(PropertyName::decode(&mut Reader::new(w.as_slice())).unwrap(), n);

        let s = SortOrderSet {
            categorized_count: 0,
            expanded_count: 0,
            sort_orders: (0..rng.below(4)).map(|i| SortOrder { prop_type: 3, prop_id: i as u16, order: 1 }).collect(),
        };
        let mut w = Writer::new();
        s.encode(&mut w).unwrap();
        assert_eq!(SortOrderSet::decode(&mut Reader::new(w.as_slice())).unwrap(), s);

        let tags: Vec<PropTag> = (0..rng.below(5)).map(|_| PropTag(rng.next_u64() as u32)).collect();
        let mut w = Writer::new();
        encode_tag_array(&mut w, &tags).unwrap();
        assert_eq!(decode_tag_array(&mut Reader::new(w.as_slice())).unwrap(), tags);
    }
}

#[test]
fn fixed_size_ids_round_trip_exactly() {
    let mut rng = Rng::new(5);
    for _ in 0..200 {
        let b: Vec<u8> = (0..70).map(|_| rng.byte()).collect();
        let f = FolderEntryId::from_bytes(&b[..46]).unwrap();
        assert_eq!(f.to_bytes(), &b[..46]);
        let m = MessageEntryId::from_bytes(&b).unwrap();
        assert_eq!(m.to_bytes(), b);
        let l = LongTermId::decode(&mut Reader::new(&b[..24])).unwrap();
        let mut w = Writer::new();
        l.encode(&mut w);
        assert_eq!(w.as_slice(), &b[..24]);
        let o = ObjectId::decode(&mut Reader::new(&b[..8])).unwrap();
        assert_eq!(ObjectId::from_u64(o.to_u64()), o);
        let x = Xid::decode(&mut Reader::new(&b), 16 + 1 + rng.below(8)).unwrap();
        let mut w = Writer::new();
        x.encode(&mut w).unwrap();
        assert_eq!(w.as_slice(), &b[..x.size()]);
        let mut e = b[..32].to_vec();
        e[0] = 0x87;
        let eph = EphemeralEntryId::decode(&mut Reader::new(&e)).unwrap();
        let mut w = Writer::new();
        eph.encode(&mut w);
        assert_eq!(w.as_slice(), &e[..]);
    }
}

/// Every known request RopId decodes from generated bytes at least once, and
/// each decoded request re-encodes canonically.
#[test]
fn every_rop_request_round_trips() {
    let mut rng = Rng::new(6);
    for id in 0..=255u8 {
        let Some(name) = rop_name(id) else { continue };
        if matches!(name, "Notify" | "Pending" | "Backoff" | "BufferTooSmall") {
            continue;
        }
        let mut ok = 0;
        for i in 0..4000 {
            let mut ctx = RopContext::default();
            ctx.set_public(0, i % 2 == 0);
            let mut b = vec![id];
            b.extend(rng.biased_bytes(80));
            let mut r = Reader::new(&b);
            let Ok(rop) = RopRequest::decode(&mut r, &ctx) else {
                continue;
            };
            assert_eq!(rop.rop_id(), id);
            let mut w = Writer::new();
            rop.encode(&mut w).unwrap();
            let first = w.into_vec();
            let mut r2 = Reader::new(&first);
            let again = RopRequest::decode(&mut r2, &ctx).unwrap_or_else(|e| panic!("{name}: {e} {first:02x?}"));
            assert!(r2.is_empty(), "{name}");
            let mut w = Writer::new();
            again.encode(&mut w).unwrap();
            assert_eq!(first, w.into_vec(), "{name}");
            ok += 1;
        }
        assert!(ok > 0, "request {name} ({id:#04x}) never decoded");
    }
}

struct Cols;
impl ColumnSource for Cols {
    fn columns(&self, _: u8, _: u8) -> Option<Vec<PropTag>> {
        Some(vec![PropTag(0x0FFF0102), PropTag(0x3001001F), PropTag(0x30010000)])
    }
}

/// Every response layout decodes from generated bytes at least once and re-encodes canonically.
#[test]
fn every_rop_response_round_trips() {
    let mut rng = Rng::new(7);
    for id in 0..=255u8 {
        let Some(name) = rop_name(id) else { continue };
        if name == "Release" {
            continue;
        }
        let mut ok = 0;
        for i in 0..4000 {
            let mut b = vec![id];
            if !matches!(name, "Notify" | "Pending" | "Backoff" | "BufferTooSmall") {
                b.push(rng.byte());
                let rv: u32 = if i % 8 == 0 { [1, 0x478, 0x503, 0x480][rng.below(4)] } else { 0 };
                b.extend(rv.to_le_bytes());
            }
            b.extend(rng.biased_bytes(80));
            let mut r = Reader::new(&b);
            let Ok(resp) = RopResponse::decode(&mut r, &Cols) else {
                continue;
            };
            let mut w = Writer::new();
            resp.encode(&mut w).unwrap_or_else(|e| panic!("{name}: {e} {resp:?}"));
            let first = w.into_vec();
            let mut r2 = Reader::new(&first);
            let again = RopResponse::decode(&mut r2, &Cols).unwrap_or_else(|e| panic!("{name}: {e} {first:02x?}"));
            assert!(r2.is_empty(), "{name}");
            let mut w = Writer::new();
            again.encode(&mut w).unwrap();
            assert_eq!(first, w.into_vec(), "{name}");
            ok += 1;
        }
        assert!(ok > 0, "response {name} ({id:#04x}) never decoded");
    }
}

#[test]
fn rop_buffers_round_trip() {
    let mut rng = Rng::new(8);
    let ctx = RopContext::default();
    let mut seen = 0;
    for _ in 0..3000 {
        let mut list = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let id = [0x01u8, 0x02, 0x04, 0x07, 0x12, 0x15, 0x27, 0x7B, 0xFE][rng.below(9)];
            list.push(id);
            list.extend(rng.biased_bytes(24));
        }
        let mut b = ((list.len() + 2) as u16).to_le_bytes().to_vec();
        b.extend(&list);
        for _ in 0..rng.below(3) {
            b.extend((rng.next_u64() as u32).to_le_bytes());
        }
        let Ok(buf) = RopRequestBuffer::decode(&b, &ctx) else {
            continue;
        };
        if buf.stopped.is_some() {
            continue;
        }
        seen += 1;
        check_bytes(buf.encode().unwrap(), |x| RopRequestBuffer::decode_strict(x, &ctx).unwrap().encode().unwrap());
    }
    assert!(seen > 10);
    let resp = RopResponseBuffer {
        rops: vec![RopResponse::error(0x02, 1, 0x8004010F), RopResponse::Pending { session_index: 3 }],
        handles: vec![0xFFFF_FFFF, 7],
    };
    let b = resp.encode().unwrap();
    assert_eq!(RopResponseBuffer::decode(&b, &()).unwrap(), resp);
}

macro_rules! body_round_trips {
    ($test:ident, seed $seed:expr, requests [$($req:ty),* $(,)?], responses [$($resp:ty),* $(,)?]) => {
        #[test]
        fn $test() {
            let mut rng = Rng::new($seed);
            $({
                let mut ok = 0;
                for _ in 0..3000 {
                    let b = rng.biased_bytes(64);
                    let Ok(x) = <$req>::from_bytes(&b) else { continue };
                    let first = x.to_bytes().unwrap();
                    let y = <$req>::from_bytes(&first).unwrap();
                    assert_eq!(first, y.to_bytes().unwrap(), stringify!($req));
                    ok += 1;
                }
                assert!(ok > 0, concat!(stringify!($req), " never decoded"));
            })*
            $({
                let mut ok = 0;
                for i in 0..3000 {
                    let mut b = if i % 10 == 0 { vec![5, 0, 0, 0] } else { vec![0, 0, 0, 0] };
                    b.extend(rng.biased_bytes(64));
                    let Ok(x) = mapihttp::Response::<$resp>::decode(&b) else { continue };
                    let first = x.encode().unwrap();
                    let y = mapihttp::Response::<$resp>::decode(&first).unwrap();
                    assert_eq!(first, y.encode().unwrap(), stringify!($resp));
                    ok += 1;
                }
                assert!(ok > 0, concat!(stringify!($resp), " never decoded"));
            })*
        }
    };
}

body_round_trips!(emsmdb_bodies_round_trip, seed 9,
    requests [emsmdb::ConnectRequest, emsmdb::ExecuteRequest, emsmdb::DisconnectRequest, emsmdb::NotificationWaitRequest],
    responses [emsmdb::ConnectResponse, emsmdb::ExecuteResponse, emsmdb::DisconnectResponse, emsmdb::NotificationWaitResponse]);

body_round_trips!(nspi_bodies_round_trip, seed 10,
    requests [nspi::BindRequest, nspi::UnbindRequest, nspi::CompareMIdsRequest, nspi::DnToMIdRequest, nspi::GetMatchesRequest,
        nspi::GetPropListRequest, nspi::GetPropsRequest, nspi::GetSpecialTableRequest, nspi::GetTemplateInfoRequest,
        nspi::ModLinkAttRequest, nspi::ModPropsRequest, nspi::QueryColumnsRequest, nspi::QueryRowsRequest,
        nspi::ResolveNamesRequest, nspi::ResortRestrictionRequest, nspi::SeekEntriesRequest, nspi::UpdateStatRequest,
        nspi::GetMailboxUrlRequest, nspi::GetAddressBookUrlRequest],
    responses [nspi::BindResponse, nspi::UnbindResponse, nspi::CompareMIdsResponse, nspi::DnToMIdResponse,
        nspi::GetMatchesResponse, nspi::GetPropListResponse, nspi::GetPropsResponse, nspi::GetSpecialTableResponse,
        nspi::GetTemplateInfoResponse, nspi::ModLinkAttResponse, nspi::ModPropsResponse, nspi::QueryColumnsResponse,
        nspi::QueryRowsResponse, nspi::ResolveNamesResponse, nspi::ResortRestrictionResponse, nspi::SeekEntriesResponse,
        nspi::UpdateStatResponse, nspi::GetMailboxUrlResponse, nspi::GetAddressBookUrlResponse]);

#[test]
fn address_book_values_round_trip() {
    let mut rng = Rng::new(11);
    for _ in 0..500 {
        let ty = loop {
            let t = gen_type(&mut rng, 9);
            if !matches!(t, PropType::Restriction | PropType::Null) {
                break t;
            }
        };
        let value = if ab::has_value_byte(ty) && rng.below(3) == 0 { None } else { Some(gen_value(&mut rng, ty, 9)) };
        let v = ab::AbTaggedValue { tag: PropTag::new(0x3001, ty.as_u16()), value };
        let mut w = Writer::new();
        v.encode(&mut w).unwrap();
        let b = w.into_vec();
        let mut r = Reader::new(&b);
        assert_eq!(ab::AbTaggedValue::decode(&mut r).unwrap(), v);
        assert!(r.is_empty());
    }
}

#[test]
fn idsets_round_trip() {
    let mut rng = Rng::new(12);
    for _ in 0..500 {
        let mut set = RangeSet::new();
        for _ in 0..rng.below(8) {
            let base = rng.next_u64() & 0xFFFF_FFFF_FFFF;
            let len = [0u64, 1, 5, 300, 70_000][rng.below(5)];
            set.insert_range(base, (base + len).min(0xFFFF_FFFF_FFFF));
        }
        let mut w = Writer::new();
        encode_globset(&mut w, &set).unwrap();
        let mut r = Reader::new(w.as_slice());
        assert_eq!(decode_globset(&mut r).unwrap(), set);
        assert!(r.is_empty());
        let ids = IdSet { entries: vec![(Replica::Id(1), set.clone()), (Replica::Id(2), RangeSet::new())] };
        assert_eq!(IdSet::decode(&ids.encode().unwrap(), ReplicaForm::ReplId).unwrap(), ids);
    }
    // Random programs that decode re-encode to the same set.
    for _ in 0..5000 {
        let b = rng.biased_bytes(40);
        if let Ok(set) = decode_globset(&mut Reader::new(&b)) {
            let mut w = Writer::new();
            encode_globset(&mut w, &set).unwrap();
            assert_eq!(decode_globset(&mut Reader::new(w.as_slice())).unwrap(), set);
        }
    }
}

#[test]
fn rpc_chains_and_aux_round_trip() {
    let mut rng = Rng::new(13);
    for _ in 0..300 {
        let segs: Vec<Vec<u8>> = (0..1 + rng.below(3)).map(|_| rng.biased_bytes(3000)).collect();
        let refs: Vec<&[u8]> = segs.iter().map(|s| s.as_slice()).collect();
        let opts = rpc::EncodeOptions { compress: rng.below(2) == 0, xor: rng.below(2) == 0 };
        let buf = rpc::encode_chain(&refs, opts).unwrap();
        let dec = rpc::decode_chain(&buf).unwrap();
        assert_eq!(dec.iter().map(|s| s.payload.clone()).collect::<Vec<_>>(), segs);
        let data = rng.biased_bytes(5000);
        assert_eq!(lz77::decompress(&lz77::compress(&data), data.len()).unwrap(), data);
        let blocks: Vec<aux::AuxBlock> = (0..rng.below(4))
            .map(|_| aux::AuxBlock { version: 1, aux_type: rng.byte(), payload: rng.uniform_bytes(12) })
            .collect();
        let b = aux::encode_aux_buffer(&blocks, opts).unwrap();
        assert_eq!(aux::decode_aux_buffer(&b).unwrap(), blocks);
    }
}

#[test]
fn recipient_rows_round_trip() {
    let mut rng = Rng::new(14);
    let cols = [PropTag(0x0C150003), PropTag(0x3001001F), PropTag(0x0FFF0102)];
    let mut ok = 0;
    for _ in 0..20000 {
        let mut b = rng.biased_bytes(48);
        if b.len() >= 2 && rng.below(2) == 0 {
            // Give the flags a realistic shape: a type plus a few presence bits.
            let flags = (rng.below(8) as u16) | [0u16, 0x0008, 0x0010, 0x0218, 0x0400, 0x8000][rng.below(6)];
            b[..2].copy_from_slice(&flags.to_le_bytes());
        }
        let Ok(row) = RecipientRow::from_bytes(&b, &cols) else {
            continue;
        };
        let first = row.to_bytes(&cols).unwrap();
        let again = RecipientRow::from_bytes(&first, &cols).unwrap();
        assert_eq!(first, again.to_bytes(&cols).unwrap());
        ok += 1;
    }
    assert!(ok > 50, "{ok}");
}
