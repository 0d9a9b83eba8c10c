//! Known-answer tests from the byte examples of the Microsoft specifications,
//! stored under protocol-fixtures/mapi-codec/ (see its README for sources).

mod common;

use mapi_codec::oxcdata::{PropTag, PropValue};
use mapi_codec::rops::{RopContext, RopRequest};
use mapi_codec::{Reader, Writer, lz77};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../protocol-fixtures/mapi-codec/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    common::hex(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

#[test]
fn readme_lists_every_fixture() {
    let dir = format!(
        "{}/../../protocol-fixtures/mapi-codec",
        env!("CARGO_MANIFEST_DIR")
    );
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
    assert_eq!(
        lz77::decompress(&c, 26).unwrap(),
        b"abcdefghijklmnopqrstuvwxyz"
    );
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
    let RopRequest::SetProperties(sp) = &rop else {
        panic!("{rop:?}")
    };
    assert_eq!((sp.logon_id, sp.input_handle_index), (0, 0));
    assert_eq!(sp.property_values.len(), 2);
    assert_eq!(sp.property_values[0].tag, PropTag(0x003D001F));
    assert_eq!(
        sp.property_values[0].value,
        PropValue::String(String::new())
    );
    assert_eq!(sp.property_values[1].tag, PropTag(0x0E1D001F));
    assert_eq!(
        sp.property_values[1].value,
        PropValue::String("Hello World".into())
    );
    let mut w = Writer::new();
    rop.encode(&mut w).unwrap();
    assert_eq!(w.into_vec(), b);
}
