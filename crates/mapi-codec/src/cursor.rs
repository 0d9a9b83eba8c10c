//! Little-endian byte reader with bounds checks, and a matching writer.
//!
//! All multi-byte integers on the MAPI wire are little-endian. The [`Reader`]
//! never panics: every read checks the remaining length first and returns
//! [`Error::Truncated`] otherwise. Counts read from the wire should be checked
//! with [`Reader::check_count`] before allocating, so a hostile count cannot
//! make the decoder allocate more than the input could possibly describe.

use crate::error::{Error, Result};

/// Largest single string (in bytes, terminator included) accepted by the decoders.
pub const MAX_STRING_BYTES: usize = 16 * 1024 * 1024;

/// The COUNT context (MS-OXCDATA 2.11.1.1). In ROP buffers byte counts
/// (PtypBinary, PtypServerId) and standard-rule counts (restriction counts,
/// RuleAction NoOfActions/ActionLength) are 16-bit, while value counts of
/// PtypMultiple* are always 32-bit; in extended rules and in MAPI/HTTP
/// (address book) bodies every COUNT is 32-bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountWidth {
    /// ROP-buffer context: 2-byte byte counts and rule counts (multi-value counts stay 4 bytes).
    U16,
    /// 4-byte counts everywhere (extended rules, MAPI/HTTP address book).
    U32,
}

/// A bounds-checked little-endian reader over a borrowed byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Creates a reader positioned at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    /// Current offset from the start of the buffer.
    pub fn position(&self) -> usize {
        self.pos
    }
    /// True when every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
    /// The unread part of the buffer, without consuming it.
    pub fn peek_rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }
    /// Returns the next byte without consuming it.
    pub fn peek_u8(&self) -> Result<u8> {
        self.buf.get(self.pos).copied().ok_or(Error::Truncated { needed: 1, remaining: 0 })
    }
    /// Fails with [`Error::TrailingBytes`] unless the reader is exhausted.
    pub fn finish(&self) -> Result<()> {
        if self.is_empty() { Ok(()) } else { Err(Error::TrailingBytes(self.remaining())) }
    }
    /// Consumes `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Error::Truncated { needed: n, remaining: self.remaining() });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    /// Consumes everything that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }
    /// Consumes `n` bytes and returns a reader over them.
    pub fn sub(&mut self, n: usize) -> Result<Reader<'a>> {
        Ok(Reader::new(self.bytes(n)?))
    }
    /// Consumes a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.bytes(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub fn i16(&mut self) -> Result<i16> {
        Ok(i16::from_le_bytes(self.array()?))
    }
    pub fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    pub fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_le_bytes(self.array()?))
    }
    pub fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }
    /// A one-byte boolean; any non-zero value is true.
    pub fn bool8(&mut self) -> Result<bool> {
        Ok(self.u8()? != 0)
    }
    /// A COUNT field of the given width.
    pub fn count(&mut self, w: CountWidth) -> Result<usize> {
        Ok(match w {
            CountWidth::U16 => self.u16()? as usize,
            CountWidth::U32 => self.u32()? as usize,
        })
    }
    /// Checks that `count` elements of at least `min_size` bytes each could fit in
    /// what is left of the input. Call before `Vec::with_capacity(count)`.
    pub fn check_count(&self, what: &'static str, count: usize, min_size: usize) -> Result<()> {
        let need = count.saturating_mul(min_size.max(1));
        if need > self.remaining() {
            return Err(Error::TooLarge { what, len: count, max: self.remaining() / min_size.max(1) });
        }
        Ok(())
    }
    /// A NUL-terminated UTF-16LE string (terminator consumed, not returned).
    pub fn utf16z(&mut self) -> Result<String> {
        let rest = self.peek_rest();
        let mut units = Vec::new();
        let mut i = 0;
        loop {
            if i + 2 > rest.len() {
                return Err(Error::Truncated { needed: i + 2, remaining: rest.len() });
            }
            if i >= MAX_STRING_BYTES {
                return Err(Error::TooLarge { what: "UTF-16 string", len: i, max: MAX_STRING_BYTES });
            }
            let u = u16::from_le_bytes([rest[i], rest[i + 1]]);
            i += 2;
            if u == 0 {
                break;
            }
            units.push(u);
        }
        self.pos += i;
        String::from_utf16(&units).map_err(|_| Error::InvalidUtf16)
    }
    /// A UTF-16LE string of exactly `nbytes` bytes (no terminator handling).
    pub fn utf16_fixed(&mut self, nbytes: usize) -> Result<String> {
        if !nbytes.is_multiple_of(2) {
            return Err(Error::Invalid { what: "UTF-16 byte length", value: nbytes as u64 });
        }
        let b = self.bytes(nbytes)?;
        let units: Vec<u16> = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        String::from_utf16(&units).map_err(|_| Error::InvalidUtf16)
    }
    /// A NUL-terminated 8-bit string (terminator consumed, not returned). The
    /// bytes are returned raw: their code page is not known at this layer.
    pub fn str8z(&mut self) -> Result<Vec<u8>> {
        let rest = self.peek_rest();
        match rest.iter().position(|&b| b == 0) {
            Some(n) => {
                if n > MAX_STRING_BYTES {
                    return Err(Error::TooLarge { what: "8-bit string", len: n, max: MAX_STRING_BYTES });
                }
                self.pos += n + 1;
                Ok(rest[..n].to_vec())
            }
            None => Err(Error::Truncated { needed: rest.len() + 1, remaining: rest.len() }),
        }
    }
    /// A NUL-terminated ASCII string decoded as (lossless) Latin-1 into a `String`
    /// only when every byte is ASCII; otherwise an error.
    pub fn asciiz(&mut self) -> Result<String> {
        let b = self.str8z()?;
        if !b.is_ascii() {
            return Err(Error::Invalid { what: "ASCII string byte", value: 0x80 });
        }
        // Cannot fail: checked ASCII.
        String::from_utf8(b).map_err(|_| Error::Invalid { what: "ASCII string", value: 0 })
    }
}

/// A little-endian writer appending to an owned buffer.
#[derive(Debug, Clone, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Writer { buf: Vec::new() }
    }
    pub fn with_capacity(n: usize) -> Self {
        Writer { buf: Vec::with_capacity(n) }
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn i16(&mut self, v: i16) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn i32(&mut self, v: i32) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn f32(&mut self, v: f32) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn f64(&mut self, v: f64) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn bool8(&mut self, v: bool) {
        self.u8(v as u8);
    }
    /// Writes a COUNT field; fails if `n` does not fit the width.
    pub fn count(&mut self, w: CountWidth, n: usize, what: &'static str) -> crate::Result<()> {
        match w {
            CountWidth::U16 => self.u16(u16::try_from(n).map_err(|_| Error::EncodeOverflow { what, len: n })?),
            CountWidth::U32 => self.u32(u32::try_from(n).map_err(|_| Error::EncodeOverflow { what, len: n })?),
        }
        Ok(())
    }
    /// A u16 length field; fails if `n` does not fit.
    pub fn len16(&mut self, n: usize, what: &'static str) -> crate::Result<()> {
        self.count(CountWidth::U16, n, what)
    }
    /// A u32 length field; fails if `n` does not fit.
    pub fn len32(&mut self, n: usize, what: &'static str) -> crate::Result<()> {
        self.count(CountWidth::U32, n, what)
    }
    /// A NUL-terminated UTF-16LE string.
    pub fn utf16z(&mut self, s: &str) {
        for u in s.encode_utf16() {
            self.u16(u);
        }
        self.u16(0);
    }
    /// A NUL-terminated 8-bit string. Embedded NULs would truncate the string on
    /// decode; callers should not pass them.
    pub fn str8z(&mut self, s: &[u8]) {
        self.bytes(s);
        self.u8(0);
    }
    /// Overwrites a previously written u16 at `at` (for back-patched sizes).
    pub fn patch_u16(&mut self, at: usize, v: u16) {
        if let Some(s) = self.buf.get_mut(at..at + 2) {
            s.copy_from_slice(&v.to_le_bytes());
        }
    }
    /// Overwrites a previously written u32 at `at`.
    pub fn patch_u32(&mut self, at: usize, v: u32) {
        if let Some(s) = self.buf.get_mut(at..at + 4) {
            s.copy_from_slice(&v.to_le_bytes());
        }
    }
}

/// Number of UTF-16 code units needed for `s`, terminator included, times two.
pub fn utf16z_len(s: &str) -> usize {
    (s.encode_utf16().count() + 1) * 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_bounds() {
        let mut r = Reader::new(&[1, 2, 3, 4, 5]);
        assert_eq!(r.u16().unwrap(), 0x0201);
        assert_eq!(r.u16().unwrap(), 0x0403);
        assert!(matches!(r.u16(), Err(Error::Truncated { .. })));
        assert_eq!(r.u8().unwrap(), 5);
        assert!(r.finish().is_ok());
    }

    #[test]
    fn strings() {
        let mut w = Writer::new();
        w.utf16z("hé");
        w.str8z(b"abc");
        let v = w.into_vec();
        let mut r = Reader::new(&v);
        assert_eq!(r.utf16z().unwrap(), "hé");
        assert_eq!(r.str8z().unwrap(), b"abc");
        assert!(r.is_empty());
        assert!(Reader::new(&[0x41, 0]).utf16z().is_err());
        assert!(Reader::new(&[0x00, 0xD8, 0, 0]).utf16z().is_err());
    }

    #[test]
    fn count_check() {
        let r = Reader::new(&[0; 10]);
        assert!(r.check_count("x", 5, 2).is_ok());
        assert!(r.check_count("x", 6, 2).is_err());
        assert!(r.check_count("x", usize::MAX, 8).is_err());
    }
}
