//! "Fuzz smoke" on stable: many deterministic random and mutated inputs into
//! every decoder; the only assertion is that nothing panics (and that nothing
//! allocates absurdly, which would abort the test process).

mod common;

use common::Rng;
use mapi_codec::cursor::CountWidth;
use mapi_codec::idset::{IdSet, ReplicaForm, decode_globset};
use mapi_codec::mapihttp::{Response, ab, emsmdb, nspi};
use mapi_codec::oxcdata::*;
use mapi_codec::rops::response::ColumnSource;
use mapi_codec::rops::{RopContext, RopRequest, RopRequestBuffer, RopResponse, RopResponseBuffer};
use mapi_codec::{Reader, aux, lz77, rpc};

/// Iterations per decoder family; override with MAPI_CODEC_FUZZ_ITER for a longer run.
fn iters() -> usize {
    std::env::var("MAPI_CODEC_FUZZ_ITER").ok().and_then(|v| v.parse().ok()).unwrap_or(4000)
}

struct Cols;
impl ColumnSource for Cols {
    fn columns(&self, _: u8, _: u8) -> Option<Vec<PropTag>> {
        Some(vec![PropTag(0x0FFF0102), PropTag(0x3001001F), PropTag(0x30010000), PropTag(0x10010003)])
    }
}

/// Runs `f` over random, biased and mutated inputs derived from `seeds`.
fn feed(seed: u64, seeds: &[Vec<u8>], mut f: impl FnMut(&[u8])) {
    let mut rng = Rng::new(seed);
    for i in 0..iters() {
        let input = match i % 3 {
            0 => rng.uniform_bytes(96),
            1 => rng.biased_bytes(96),
            _ if !seeds.is_empty() => {
                let s = &seeds[rng.below(seeds.len())];
                rng.mutate(s)
            }
            _ => rng.biased_bytes(32),
        };
        f(&input);
    }
}

fn valid_rop_requests() -> Vec<Vec<u8>> {
    vec![
        common::hex(
            "0A 00 00 24 00 02 00 1F 00 3D 00 00 00 1F 00 1D 0E 48 00 65 00 6C 00 6C 00 6F 00 20 00 57 00 6F 00 72 00 6C 00 64 00 00 00",
        ),
        common::hex("FE 00 00 01 00 00 00 01 00 00 00 00 05 00 2F 6F 3D 61 00"),
        common::hex("02 00 00 01 01 00 00 00 00 00 00 01 00"),
        common::hex("12 00 01 00 02 00 1F 00 01 30 03 00 08 0E"),
        common::hex("14 00 01 00 0D 00 04 04 1F 00 37 00 1F 00 37 00 68 00 00 00"),
        common::hex("15 00 01 00 01 32 00"),
    ]
}

#[test]
fn rop_decoders_never_panic() {
    let seeds = valid_rop_requests();
    let mut ctx = RopContext::default();
    feed(100, &seeds, |b| {
        let _ = RopRequest::decode(&mut Reader::new(b), &ctx);
        let _ = RopResponse::decode(&mut Reader::new(b), &Cols);
        let _ = RopResponse::decode(&mut Reader::new(b), &());
        let mut framed = ((b.len() + 2) as u16).to_le_bytes().to_vec();
        framed.extend_from_slice(b);
        let _ = RopRequestBuffer::decode(&framed, &ctx);
        let _ = RopResponseBuffer::decode(&framed, &Cols);
        let _ = RopRequestBuffer::decode(b, &ctx);
        ctx.set_public(0, b.len() % 2 == 0);
    });
    // Every RopId with random tails, including unknown ones.
    let mut rng = Rng::new(101);
    for id in 0..=255u8 {
        for _ in 0..60 {
            let mut b = vec![id];
            b.extend(rng.biased_bytes(48));
            let _ = RopRequest::decode(&mut Reader::new(&b), &ctx);
            let _ = RopResponse::decode(&mut Reader::new(&b), &Cols);
        }
    }
}

#[test]
fn oxcdata_decoders_never_panic() {
    feed(200, &[], |b| {
        for &ty in PropType::ALL {
            for w in [CountWidth::U16, CountWidth::U32] {
                let _ = PropValue::decode(&mut Reader::new(b), ty, w);
            }
        }
        let _ = TypedPropertyValue::decode(&mut Reader::new(b), CountWidth::U16);
        let _ = TaggedPropertyValue::decode(&mut Reader::new(b), CountWidth::U32);
        let _ = Restriction::decode(&mut Reader::new(b), CountWidth::U16);
        let _ = Restriction::decode(&mut Reader::new(b), CountWidth::U32);
        let _ = PropertyRow::decode(&mut Reader::new(b), &Cols.columns(0, 0).unwrap_or_default(), CountWidth::U16);
        let _ = PropertyName::decode(&mut Reader::new(b));
        let _ = SortOrderSet::decode(&mut Reader::new(b));
        let _ = decode_tag_array(&mut Reader::new(b));
        let _ = decode_problems(&mut Reader::new(b));
        let _ = FolderEntryId::from_bytes(b);
        let _ = MessageEntryId::from_bytes(b);
        let _ = StoreObjectEntryId::from_bytes(b);
        let _ = OneOffEntryId::from_bytes(b);
        let _ = AddressBookEntryId::decode(&mut Reader::new(b));
        let _ = ServerId::from_bytes(b);
        let _ = Xid::decode(&mut Reader::new(b), b.len().min(24));
        let _ = LongTermId::decode(&mut Reader::new(b));
        let _ = RecipientRow::from_bytes(b, &Cols.columns(0, 0).unwrap_or_default());
    });
}

#[test]
fn rpc_lz77_aux_idset_never_panic() {
    let seeds = vec![
        common::hex("ff ff ff 1f 61 62 63 17 00 0f ff 26 01"),
        rpc::encode_chain(&[b"hello hello hello hello", b"x"], rpc::EncodeOptions { compress: true, xor: true })
            .unwrap(),
        common::hex("05 00 00 00 00 01 42 02 05 50 52 00 00 00 00 03 00 00 00 00 00 03 10 00"),
    ];
    feed(300, &seeds, |b| {
        let _ = lz77::decompress(b, 1 << 16);
        let _ = lz77::decompress(b, 0);
        let _ = rpc::decode_chain(b);
        let _ = aux::decode_aux_buffer(b);
        let _ = aux::decode_aux_blocks(b);
        let _ = decode_globset(&mut Reader::new(b));
        let _ = IdSet::decode(b, ReplicaForm::ReplId);
        let _ = IdSet::decode(b, ReplicaForm::ReplGuid);
    });
}

#[test]
fn mapihttp_decoders_never_panic() {
    feed(400, &[], |b| {
        let _ = emsmdb::ConnectRequest::from_bytes(b);
        let _ = emsmdb::ExecuteRequest::from_bytes(b);
        let _ = emsmdb::DisconnectRequest::from_bytes(b);
        let _ = emsmdb::NotificationWaitRequest::from_bytes(b);
        let _ = Response::<emsmdb::ConnectResponse>::decode(b);
        let _ = Response::<emsmdb::ExecuteResponse>::decode(b);
        let _ = Response::<emsmdb::NotificationWaitResponse>::decode(b);
        let _ = nspi::BindRequest::from_bytes(b);
        let _ = nspi::CompareMIdsRequest::from_bytes(b);
        let _ = nspi::DnToMIdRequest::from_bytes(b);
        let _ = nspi::GetMatchesRequest::from_bytes(b);
        let _ = nspi::GetPropListRequest::from_bytes(b);
        let _ = nspi::GetPropsRequest::from_bytes(b);
        let _ = nspi::GetSpecialTableRequest::from_bytes(b);
        let _ = nspi::GetTemplateInfoRequest::from_bytes(b);
        let _ = nspi::ModLinkAttRequest::from_bytes(b);
        let _ = nspi::ModPropsRequest::from_bytes(b);
        let _ = nspi::QueryColumnsRequest::from_bytes(b);
        let _ = nspi::QueryRowsRequest::from_bytes(b);
        let _ = nspi::ResolveNamesRequest::from_bytes(b);
        let _ = nspi::ResortRestrictionRequest::from_bytes(b);
        let _ = nspi::SeekEntriesRequest::from_bytes(b);
        let _ = nspi::UpdateStatRequest::from_bytes(b);
        let _ = nspi::GetMailboxUrlRequest::from_bytes(b);
        let _ = nspi::GetAddressBookUrlRequest::from_bytes(b);
        let _ = Response::<nspi::BindResponse>::decode(b);
        let _ = Response::<nspi::GetMatchesResponse>::decode(b);
        let _ = Response::<nspi::GetPropsResponse>::decode(b);
        let _ = Response::<nspi::GetSpecialTableResponse>::decode(b);
        let _ = Response::<nspi::QueryRowsResponse>::decode(b);
        let _ = Response::<nspi::ResolveNamesResponse>::decode(b);
        let _ = Response::<nspi::SeekEntriesResponse>::decode(b);
        let _ = Response::<nspi::UpdateStatResponse>::decode(b);
        let _ = mapi_codec::mapihttp::framing::split_response(b);
        let _ = ab::AbRowSet::decode(&mut Reader::new(b));
        let _ = ab::AbTaggedValue::decode(&mut Reader::new(b));
        let _ = ab::decode_ab_value_list(&mut Reader::new(b));
    });
}

/// Hostile lengths and counts must fail fast instead of allocating.
#[test]
fn hostile_counts_fail_fast() {
    let big = [0xFFu8; 64];
    for &ty in PropType::ALL {
        let _ = PropValue::decode(&mut Reader::new(&big), ty, CountWidth::U32);
    }
    assert!(lz77::decompress(&common::hex("ff ff ff ff 00 00 ff ff ff ff ff ff ff ff ff ff"), 1 << 20).is_err());
    let mut b = vec![0u8, 0, 0, 0, 0, 0, 0, 0, 0xFF];
    b.extend([0xFF; 4]);
    assert!(Response::<nspi::QueryRowsResponse>::decode(&b).is_err());
    // A deeply nested restriction hits the depth cap.
    let deep = vec![0x02u8; 100_000];
    assert!(Restriction::decode(&mut Reader::new(&deep), CountWidth::U16).is_err());
}
