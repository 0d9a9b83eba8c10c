//! XML for the Autodiscover bodies: the shared bounded reader and writer of [`crate::xml`] with limits sized for
//! Autodiscover requests, and answers written indented (`XmlWriter::indented`), as Exchange's are.

pub use crate::xml::{Element, XmlError, XmlWriter, escape};

/// Largest body accepted (Autodiscover requests are a few kilobytes; exchangelib's is about 4 KiB).
pub const MAX_INPUT: usize = 256 * 1024;
/// Deepest element nesting accepted.
pub const MAX_DEPTH: usize = 32;
/// Most elements accepted in one document.
pub const MAX_ELEMENTS: usize = 20_000;

const LIMITS: crate::xml::Limits =
    crate::xml::Limits { max_input: MAX_INPUT, max_depth: MAX_DEPTH, max_elements: MAX_ELEMENTS };

/// Parses an Autodiscover request body into its root element.
pub fn parse(input: &[u8]) -> Result<Element, XmlError> {
    crate::xml::parse(input, &LIMITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autodiscover_limits_apply() {
        assert!(parse(&vec![b' '; MAX_INPUT + 1]).is_err());
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes()).is_err());
    }
}
