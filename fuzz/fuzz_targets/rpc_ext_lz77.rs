#![no_main]
//! RPC_HEADER_EXT chains, LZ77 decompression and AUX buffers; LZ77 round trip.
use libfuzzer_sys::fuzz_target;
use mapi_codec::{aux, lz77, rpc};

fuzz_target!(|data: &[u8]| {
    let _ = rpc::decode_chain(data);
    let _ = aux::decode_aux_buffer(data);
    let _ = lz77::decompress(data, 1 << 16);
    let c = lz77::compress(data);
    assert_eq!(lz77::decompress(&c, data.len()).expect("round trip"), data);
});
