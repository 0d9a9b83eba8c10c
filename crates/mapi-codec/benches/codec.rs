//! Dependency-free throughput benchmark for the hot paths: LZ77 (compress and
//! decompress), RPC_HEADER_EXT chains, ROP request buffer parsing and
//! property-row encoding. Run with `cargo bench -p mapi-codec`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use mapi_codec::cursor::CountWidth;
use mapi_codec::oxcdata::{PropTag, PropValue, PropertyRow, RowValue};
use mapi_codec::rops::request as rq;
use mapi_codec::rops::{RopContext, RopRequest, RopRequestBuffer};
use mapi_codec::{Writer, lz77, rpc};

fn bench(name: &str, bytes: usize, mut f: impl FnMut()) {
    // Warm up, then run for about half a second.
    f();
    let start = Instant::now();
    let mut iters = 0u32;
    while start.elapsed() < Duration::from_millis(500) {
        f();
        iters += 1;
    }
    let per = start.elapsed() / iters;
    let mbps = bytes as f64 / per.as_secs_f64() / 1e6;
    println!("{name:<40} {per:>12.2?}/iter {mbps:>10.1} MB/s");
}

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
    ];
    let mut v = Vec::with_capacity(n);
    let mut x = 0x2545_F491u32;
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.extend_from_slice(words[(x % words.len() as u32) as usize].as_bytes());
    }
    v.truncate(n);
    v
}

fn main() {
    let data = text(1 << 20);
    let compressed = lz77::compress(&data);
    println!(
        "lz77 ratio on 1 MiB of text: {:.2}",
        compressed.len() as f64 / data.len() as f64
    );
    bench("lz77::compress 1 MiB", data.len(), || {
        black_box(lz77::compress(black_box(&data)));
    });
    bench("lz77::decompress 1 MiB", data.len(), || {
        black_box(lz77::decompress(black_box(&compressed), data.len()).unwrap());
    });

    let chunk = &data[..32 * 1024 - 8];
    let chain = rpc::encode_chain(
        &[chunk],
        rpc::EncodeOptions {
            compress: true,
            xor: true,
        },
    )
    .unwrap();
    bench("rpc::decode_chain 32 KiB (lz77+xor)", chunk.len(), || {
        black_box(rpc::decode_chain(black_box(&chain)).unwrap());
    });

    let mut rops = Vec::new();
    for i in 0..800u16 {
        rops.push(RopRequest::SetColumns(rq::SetColumns {
            logon_id: 0,
            input_handle_index: (i % 8) as u8,
            set_columns_flags: 0,
            property_tags: vec![
                PropTag(0x0037001F),
                PropTag(0x0E060040),
                PropTag(0x0E080003),
            ],
        }));
    }
    let buf = RopRequestBuffer {
        rops,
        handles: vec![0; 8],
        stopped: None,
    }
    .encode()
    .unwrap();
    let ctx = RopContext::default();
    bench("RopRequestBuffer::decode (800 ROPs)", buf.len(), || {
        black_box(RopRequestBuffer::decode(black_box(&buf), &ctx).unwrap());
    });

    let cols = [
        PropTag(0x0037001F),
        PropTag(0x0E060040),
        PropTag(0x0E080003),
        PropTag(0x0FFF0102),
    ];
    let row = PropertyRow::from_values(vec![
        RowValue::Value(PropValue::String(
            "Quarterly report for the Viaduc project".into(),
        )),
        RowValue::Value(PropValue::Time(0x01DB_0000_0000_0000)),
        RowValue::Value(PropValue::Integer32(12345)),
        RowValue::Value(PropValue::Binary(vec![7; 70])),
    ]);
    let mut probe = Writer::new();
    row.encode(&mut probe, &cols, CountWidth::U16).unwrap();
    let row_len = probe.len();
    bench("PropertyRow::encode x1000", row_len * 1000, || {
        let mut w = Writer::with_capacity(row_len * 1000);
        for _ in 0..1000 {
            row.encode(&mut w, &cols, CountWidth::U16).unwrap();
        }
        black_box(w);
    });
}
