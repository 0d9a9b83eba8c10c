//! Small helpers over quick-xml's event API shared by every XML codec (EWS, Autodiscover, WebDAV):
//! resolving entity references into text. quick-xml reports `&amp;`-style references as separate
//! `GeneralRef` events; DTD-defined entities are never expanded (there is no DTD support at all).

use quick_xml::events::BytesRef;

/// The text a reference stands for: the five predefined entities (XML 1.0 section 4.6) and character
/// references. Anything else (an undeclared entity) is `None`, which callers treat as malformed input.
pub fn resolve_reference(r: &BytesRef<'_>) -> Option<String> {
    if r.is_char_ref() {
        return r.resolve_char_ref().ok().flatten().map(|c| c.to_string());
    }
    let name = r.clone().into_inner();
    let s = match name.as_ref() {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => return None,
    };
    Some(s.to_string())
}

/// Escapes text for use in element content or a double-quoted attribute.
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;
    use quick_xml::reader::Reader;

    fn text_of(xml: &str) -> Option<String> {
        let mut r = Reader::from_str(xml);
        let mut out = String::new();
        loop {
            match r.read_event().ok()? {
                Event::Text(t) => out.push_str(&t.into_inner()),
                Event::GeneralRef(g) => out.push_str(&resolve_reference(&g)?),
                Event::Eof => return Some(out),
                _ => {}
            }
        }
    }

    #[test]
    fn resolves_predefined_and_char_refs() {
        assert_eq!(text_of("<a>x &amp; y &lt;&#65;&#x42;&gt;</a>").as_deref(), Some("x & y <AB>"));
        assert_eq!(text_of("<a>&custom;</a>"), None);
    }
}
