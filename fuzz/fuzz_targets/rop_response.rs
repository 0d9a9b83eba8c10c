#![no_main]
//! ROP responses (with a fixed column set for row-bearing responses).
use libfuzzer_sys::fuzz_target;
use mapi_codec::oxcdata::PropTag;
use mapi_codec::rops::{RopResponse, RopResponseBuffer};
use mapi_codec::{Reader, Writer};

fuzz_target!(|data: &[u8]| {
    let cols = |_: u8, _: u8| Some(vec![PropTag(0x0FFF0102), PropTag(0x3001001F), PropTag(0x30010000)]);
    let _ = RopResponseBuffer::decode(data, &cols);
    if let Ok(r) = RopResponse::decode(&mut Reader::new(data), &cols) {
        let mut w = Writer::new();
        if r.encode(&mut w).is_ok() {
            let again = RopResponse::decode(&mut Reader::new(w.as_slice()), &cols).expect("re-decode");
            let mut w2 = Writer::new();
            again.encode(&mut w2).expect("re-encode");
            assert_eq!(w.as_slice(), w2.as_slice());
        }
    }
});
