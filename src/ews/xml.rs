//! A bounded XML reader and a compact writer for EWS SOAP bodies (sans-IO).
//!
//! Reading builds a namespace-resolved element tree with quick-xml's [`NsReader`]. It is strict and bounded:
//! UTF-8 only, no DTD (a `<!DOCTYPE` is an error, so no entity can ever be declared or expanded), only the five
//! predefined entities and character references are resolved, and input size, nesting depth and element count
//! are limited. Writing is string building in which every text and attribute value is escaped; no indentation is
//! added, because EWS text content (bodies, MIME) is significant.

pub use crate::xml::{Element, XmlError, XmlWriter, escape};

/// SOAP 1.1 envelope namespace.
pub const NS_SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.2 envelope namespace (accepted on input; answered in 1.1 like Exchange does for EWS).
pub const NS_SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
/// EWS messages namespace (`m:`).
pub const NS_M: &str = crate::xml::NS_EWS_MESSAGES;
/// EWS types namespace (`t:`).
pub const NS_T: &str = crate::xml::NS_EWS_TYPES;

/// Largest document accepted. The HTTP layer enforces its own body limit first; this is the codec's own bound
/// (CreateItem with MimeContent carries whole messages, base64-encoded).
pub const MAX_INPUT: usize = 64 * 1024 * 1024;
/// Deepest element nesting accepted (restrictions nest; 64 is far beyond what clients send).
pub const MAX_DEPTH: usize = 64;
/// Most elements accepted in one document.
pub const MAX_ELEMENTS: usize = 200_000;

const LIMITS: crate::xml::Limits =
    crate::xml::Limits { max_input: MAX_INPUT, max_depth: MAX_DEPTH, max_elements: MAX_ELEMENTS };

/// Parses an EWS document into its root element (see [`crate::xml`] for what is refused).
pub fn parse(input: &[u8]) -> Result<Element, XmlError> {
    crate::xml::parse(input, &LIMITS)
}

/// Parses an `xs:boolean` (XML Schema Part 2, 3.2.2.1: `true`, `false`, `1`, `0`, surrounding whitespace
/// collapsed).
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ews_limits_apply() {
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes()).is_err());
        let ok = "<a>".repeat(MAX_DEPTH) + &"</a>".repeat(MAX_DEPTH);
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool(" 1 "), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("true"), Some(true));
        assert_eq!(parse_bool("false"), Some(false));
        assert_eq!(parse_bool("True"), None);
        assert_eq!(parse_bool("yes"), None);
    }
}
