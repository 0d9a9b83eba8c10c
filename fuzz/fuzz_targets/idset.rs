#![no_main]
//! IDSET / GLOBSET decoding; decoded sets re-encode to the same set.
use libfuzzer_sys::fuzz_target;
use mapi_codec::idset::{IdSet, ReplicaForm};

fuzz_target!(|data: &[u8]| {
    for form in [ReplicaForm::ReplId, ReplicaForm::ReplGuid] {
        if let Ok(s) = IdSet::decode(data, form) {
            let b = s.encode().expect("encode");
            assert_eq!(IdSet::decode(&b, form).expect("re-decode"), s);
        }
    }
});
