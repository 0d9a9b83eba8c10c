#![no_main]
//! Property values, restrictions, property rows and names.
use libfuzzer_sys::fuzz_target;
use mapi_codec::cursor::CountWidth;
use mapi_codec::oxcdata::*;
use mapi_codec::Reader;

fuzz_target!(|data: &[u8]| {
    let w = if data.first().is_some_and(|b| b & 1 == 1) { CountWidth::U32 } else { CountWidth::U16 };
    let _ = TaggedPropertyValue::decode(&mut Reader::new(data), w);
    let _ = TypedPropertyValue::decode(&mut Reader::new(data), w);
    let _ = Restriction::decode(&mut Reader::new(data), w);
    let _ = PropertyName::decode(&mut Reader::new(data));
    let _ = SortOrderSet::decode(&mut Reader::new(data));
    let cols = [PropTag(0x0FFF0102), PropTag(0x3001001F), PropTag(0x30010000)];
    let _ = PropertyRow::decode(&mut Reader::new(data), &cols, w);
});
