//! ConvertId (MS-OXWSCONVID 3.1.4.1): converts item and folder ids between formats. Viaduc issues one
//! encoding (see src/ids), so EwsId, EwsLegacyId, OwaId and StoreId are the same base64 text, EntryId is the
//! same bytes in base64 and HexEntryId the same bytes in hex. Each AlternateId gets its own response message.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{Ctx, Fail};
use crate::ews::soap::ResponseMessage;
use crate::ews::store::MailStore;
use crate::ews::xml::{Element, XmlWriter};
use crate::ids::IdCodec;

/// `IdFormatType` values (MS-OXWSCONVID 2.2.5.1).
const FORMATS: &[&str] = &["EwsLegacyId", "EwsId", "EntryId", "HexEntryId", "StoreId", "OwaId"];

fn decode(format: &str, text: &str) -> Option<Vec<u8>> {
    match format {
        "HexEntryId" => {
            let t = text.trim();
            if !t.len().is_multiple_of(2) || t.len() > 2 * crate::ids::MAX_ID_LEN {
                return None;
            }
            (0..t.len()).step_by(2).map(|i| u8::from_str_radix(t.get(i..i + 2)?, 16).ok()).collect()
        }
        _ => IdCodec::raw(text).ok(),
    }
}

fn encode(format: &str, raw: &[u8]) -> String {
    match format {
        "HexEntryId" => raw.iter().map(|b| format!("{b:02X}")).collect(),
        _ => STANDARD.encode(raw),
    }
}

pub async fn convert_id<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let dest = op.attr("DestinationFormat").unwrap_or("");
    if !FORMATS.contains(&dest) {
        return vec![ResponseMessage::error("ErrorInvalidRequest", format!("Unknown DestinationFormat '{dest}'."))];
    }
    let Some(sources) = op.m("SourceIds") else {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "SourceIds is required.")];
    };
    let mut out = Vec::new();
    for src in &sources.children {
        let format = src.attr("Format").unwrap_or("");
        let id = src.attr("Id").unwrap_or("");
        if !FORMATS.contains(&format) {
            out.push(ResponseMessage::error("ErrorInvalidRequest", format!("Unknown Format '{format}'.")));
            continue;
        }
        let Some(any) = decode(format, id).and_then(|raw| cx.ids.classify(&raw).map(|a| (a, raw))) else {
            out.push(Fail::id(crate::ids::IdError::Malformed).message());
            continue;
        };
        let (any, raw) = any;
        if let Err(f) = cx.check_mailbox(any.mailbox()) {
            out.push(f.message());
            continue;
        }
        let mut w = XmlWriter::new();
        let text = encode(dest, &raw);
        w.empty(
            "m:AlternateId",
            &[("xsi:type", "t:AlternateIdType"), ("Format", dest), ("Id", &text), ("Mailbox", any.mailbox())],
        );
        out.push(ResponseMessage::ok(w.finish()));
    }
    if out.is_empty() {
        out.push(ResponseMessage::error("ErrorInvalidRequest", "SourceIds is empty."));
    }
    out
}
