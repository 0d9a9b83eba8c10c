#![no_main]
//! ROP request buffers: never panic; whatever decodes re-encodes canonically.
use libfuzzer_sys::fuzz_target;
use mapi_codec::rops::{RopContext, RopRequestBuffer};

fuzz_target!(|data: &[u8]| {
    let mut ctx = RopContext::default();
    if let Some(&b) = data.first() {
        ctx.set_public(0, b & 1 == 1);
    }
    if let Ok(buf) = RopRequestBuffer::decode(data, &ctx) {
        if let Ok(first) = buf.encode() {
            let again = RopRequestBuffer::decode(&first, &ctx).expect("re-decode");
            assert_eq!(again.encode().expect("re-encode"), first);
        }
    }
});
