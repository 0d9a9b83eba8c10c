//! Criterion benchmarks for the hot paths: LZ77 (compress and decompress, text
//! and binary, 4 KiB and 64 KiB), RPC_HEADER_EXT chains, parsing a realistic
//! Outlook ROP request buffer and property-row encoding.
//!
//! `cargo bench -p mapi-codec -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mapi_codec::cursor::CountWidth;
use mapi_codec::oxcdata::{ObjectId, PropTag, PropValue, PropertyRow, RowValue};
use mapi_codec::rops::request as rq;
use mapi_codec::rops::{RopContext, RopRequest, RopRequestBuffer};
use mapi_codec::{Writer, lz77, rpc};

fn xorshift(seed: u32) -> impl FnMut() -> u32 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    }
}

/// Mail-like text (headers, HTML fragments, repeated words).
fn text(n: usize) -> Vec<u8> {
    let words = [
        "Subject: ",
        "Re: ",
        "meeting ",
        "tomorrow ",
        "the ",
        "quarterly ",
        "report ",
        "<div>",
        "</div>\r\n",
        "Viaduc ",
        "From: ",
        "<span style=\"color:#1f497d\">",
    ];
    let mut next = xorshift(0x2545_F491);
    let mut v = Vec::with_capacity(n + 32);
    while v.len() < n {
        v.extend_from_slice(words[(next() % words.len() as u32) as usize].as_bytes());
    }
    v.truncate(n);
    v
}

/// Binary-like input: property rows with ids, times and counters — some
/// structure but few long matches.
fn binary(n: usize) -> Vec<u8> {
    let mut next = xorshift(0x9E37_79B9);
    let mut v = Vec::with_capacity(n + 32);
    while v.len() < n {
        let r = next();
        v.extend_from_slice(&[0x01, 0x00]);
        v.extend_from_slice(&r.to_le_bytes());
        v.extend_from_slice(&[0x00, 0x00, 0x40, 0x00, 0x06, 0x0E]);
        v.extend_from_slice(&next().to_le_bytes());
        v.push((r >> 24) as u8);
    }
    v.truncate(n);
    v
}

fn lz77_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("lz77");
    for (kind, make) in [("text", text as fn(usize) -> Vec<u8>), ("binary", binary)] {
        for size in [4 * 1024, 64 * 1024] {
            let data = make(size);
            let compressed = lz77::compress(&data);
            let id = format!("{kind}/{}KiB", size / 1024);
            g.throughput(Throughput::Bytes(size as u64));
            g.bench_with_input(BenchmarkId::new("compress", &id), &data, |b, d| {
                b.iter(|| lz77::compress(black_box(d)))
            });
            g.bench_with_input(BenchmarkId::new("decompress", &id), &compressed, |b, cmp| {
                b.iter(|| lz77::decompress(black_box(cmp), size).unwrap())
            });
        }
    }
    g.finish();
}

fn rpc_chain(c: &mut Criterion) {
    // Two segments of an Execute response: 32 KiB compressed + XOR, 8 KiB XOR only.
    let data = text(40 * 1024);
    let mut w = Writer::new();
    let both = rpc::EncodeOptions { compress: true, xor: true };
    let xor_only = rpc::EncodeOptions { compress: false, xor: true };
    rpc::encode_segment(&mut w, &data[..32 * 1024], both, false).unwrap();
    rpc::encode_segment(&mut w, &data[32 * 1024..], xor_only, true).unwrap();
    let chain = w.into_vec();
    assert_eq!(rpc::decode_chain(&chain).unwrap().len(), 2);
    let mut g = c.benchmark_group("rpc_header_ext");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("decode_chain/40KiB lz77+xor", |b| b.iter(|| rpc::decode_chain(black_box(&chain)).unwrap()));
    g.finish();
}

/// The ROP buffer Outlook sends at session start: Logon, OpenFolder (Inbox),
/// GetHierarchyTable, SetColumns, QueryRows.
fn outlook_execute_buffer() -> Vec<u8> {
    let cols = vec![
        PropTag(0x6748_0014), // PidTagFolderId
        PropTag(0x3001_001F), // PidTagDisplayName
        PropTag(0x3602_0003), // PidTagContentCount
        PropTag(0x3603_0003), // PidTagContentUnreadCount
        PropTag(0x360A_000B), // PidTagSubfolders
        PropTag(0x3613_001F), // PidTagContainerClass
        PropTag(0x0E08_0003), // PidTagMessageSize
        PropTag(0x65E2_0102), // PidTagChangeKey
    ];
    let rops = vec![
        RopRequest::Logon(rq::Logon {
            logon_id: 0,
            output_handle_index: 0,
            logon_flags: 0x01,
            open_flags: 0x0100_0C04,
            store_state: 0,
            essdn: Some("/o=Viaduc/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=alice".into()),
        }),
        RopRequest::OpenFolder(rq::OpenFolder {
            logon_id: 0,
            input_handle_index: 0,
            output_handle_index: 1,
            folder_id: ObjectId::new(1, 0x0000_0000_0002),
            open_mode_flags: 0,
        }),
        RopRequest::GetHierarchyTable(rq::GetTable {
            logon_id: 0,
            input_handle_index: 1,
            output_handle_index: 2,
            table_flags: 0x04,
        }),
        RopRequest::SetColumns(rq::SetColumns {
            logon_id: 0,
            input_handle_index: 2,
            set_columns_flags: 0,
            property_tags: cols,
        }),
        RopRequest::QueryRows(rq::QueryRows {
            logon_id: 0,
            input_handle_index: 2,
            query_rows_flags: 0,
            forward_read: true,
            row_count: 0x7F,
        }),
    ];
    RopRequestBuffer { rops, handles: vec![0xFFFF_FFFF; 3], stopped: None }.encode().unwrap()
}

fn rop_buffer(c: &mut Criterion) {
    let buf = outlook_execute_buffer();
    let ctx = RopContext::default();
    assert_eq!(RopRequestBuffer::decode(&buf, &ctx).unwrap().rops.len(), 5);
    let mut g = c.benchmark_group("rop_request_buffer");
    g.throughput(Throughput::Bytes(buf.len() as u64));
    g.bench_function("decode/logon+openfolder+hierarchy+setcolumns+queryrows", |b| {
        b.iter(|| RopRequestBuffer::decode(black_box(&buf), &ctx).unwrap())
    });
    g.finish();
}

fn property_rows(c: &mut Criterion) {
    let cols = [PropTag(0x0037_001F), PropTag(0x0E06_0040), PropTag(0x0E08_0003), PropTag(0x0FFF_0102)];
    let row = PropertyRow::from_values(vec![
        RowValue::Value(PropValue::String("Quarterly report for the Viaduc project".into())),
        RowValue::Value(PropValue::Time(0x01DB_0000_0000_0000)),
        RowValue::Value(PropValue::Integer32(12345)),
        RowValue::Value(PropValue::Binary(vec![7; 70])),
    ]);
    let mut probe = Writer::new();
    row.encode(&mut probe, &cols, CountWidth::U16).unwrap();
    let row_len = probe.len();
    let mut g = c.benchmark_group("property_row");
    g.throughput(Throughput::Bytes(row_len as u64 * 100));
    g.bench_function("encode/100 rows x 4 columns", |b| {
        b.iter(|| {
            let mut w = Writer::with_capacity(row_len * 100);
            for _ in 0..100 {
                black_box(&row).encode(&mut w, &cols, CountWidth::U16).unwrap();
            }
            w
        })
    });
    g.finish();
}

criterion_group!(benches, lz77_benches, rpc_chain, rop_buffer, property_rows);
criterion_main!(benches);
