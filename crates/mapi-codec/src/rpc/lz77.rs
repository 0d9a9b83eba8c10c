//! MS-XCA "Plain LZ77" compression (MS-XCA 2.3 compression, 2.4 decompression),
//! the algorithm MS-OXCRPC 3.1.4.1.1.2 uses for RPC_HEADER_EXT payloads.
//!
//! The stream is a sequence of 32-bit little-endian flag words, each followed by
//! up to 32 symbols. Flag bits are consumed from the most significant end: a 0
//! bit is a literal byte, a 1 bit a 16-bit match word (distance-1 in the high
//! 13 bits, length-3 in the low 3 bits, with escapes through a shared half-byte,
//! a byte, a 16-bit and a 32-bit length). A 1 bit with no input left ends the
//! stream; the compressor fills unused flag bits with 1s.

use crate::error::{Error, Result};

/// Largest back-reference distance the format can express.
const MAX_DISTANCE: usize = 8192;
const MIN_MATCH: usize = 3;
const HASH_BITS: u32 = 13;

/// Decompresses `input`, refusing to produce more than `max_output` bytes.
pub fn decompress(input: &[u8], max_output: usize) -> Result<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(max_output.min(input.len().saturating_mul(8)).min(1 << 20));
    let mut ip = 0usize;
    let mut flags: u32 = 0;
    let mut flag_count: u32 = 0;
    let mut half_byte_pos: Option<usize> = None;
    let byte = |ip: &mut usize| -> Result<u8> {
        let b = *input.get(*ip).ok_or(Error::Decompress("truncated match length"))?;
        *ip += 1;
        Ok(b)
    };
    loop {
        if flag_count == 0 {
            if ip == input.len() {
                return Ok(out);
            }
            let f = input.get(ip..ip + 4).ok_or(Error::Decompress("truncated flag word"))?;
            flags = u32::from_le_bytes([f[0], f[1], f[2], f[3]]);
            ip += 4;
            flag_count = 32;
        }
        flag_count -= 1;
        if flags & (1u32 << flag_count) == 0 {
            let Some(&b) = input.get(ip) else {
                return Ok(out);
            };
            ip += 1;
            if out.len() >= max_output {
                return Err(Error::TooLarge { what: "decompressed data", len: out.len() + 1, max: max_output });
            }
            out.push(b);
        } else {
            if ip == input.len() {
                return Ok(out);
            }
            let m = input.get(ip..ip + 2).ok_or(Error::Decompress("truncated match"))?;
            let m = u16::from_le_bytes([m[0], m[1]]) as usize;
            ip += 2;
            let distance = (m >> 3) + 1;
            let mut len = m & 7;
            if len == 7 {
                len = match half_byte_pos.take() {
                    None => {
                        let p = ip;
                        let b = byte(&mut ip)?;
                        half_byte_pos = Some(p);
                        (b & 0x0F) as usize
                    }
                    Some(p) => (input[p] >> 4) as usize,
                };
                if len == 15 {
                    len = byte(&mut ip)? as usize;
                    if len == 255 {
                        let b = input.get(ip..ip + 2).ok_or(Error::Decompress("truncated 16-bit length"))?;
                        len = u16::from_le_bytes([b[0], b[1]]) as usize;
                        ip += 2;
                        if len == 0 {
                            let b = input.get(ip..ip + 4).ok_or(Error::Decompress("truncated 32-bit length"))?;
                            len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
                            ip += 4;
                        }
                        if len < 15 + 7 {
                            return Err(Error::Decompress("invalid long match length"));
                        }
                        len -= 15 + 7;
                    }
                    len += 15;
                }
                len += 7;
            }
            len += MIN_MATCH;
            if distance > out.len() {
                return Err(Error::Decompress("match distance before start of output"));
            }
            if len > max_output - out.len() {
                return Err(Error::TooLarge {
                    what: "decompressed data",
                    len: out.len().saturating_add(len),
                    max: max_output,
                });
            }
            // Copy in chunks: each chunk's source lies entirely in output that is
            // already written, so overlapping matches (distance < len) repeat.
            let start = out.len() - distance;
            let mut copied = 0;
            while copied < len {
                let from = start + copied;
                let n = (len - copied).min(out.len() - from);
                out.extend_from_within(from..from + n);
                copied += n;
            }
        }
    }
}

fn hash3(d: &[u8], i: usize) -> usize {
    let v = (d[i] as u32) | ((d[i + 1] as u32) << 8) | ((d[i + 2] as u32) << 16);
    (v.wrapping_mul(2_654_435_761) >> (32 - HASH_BITS)) as usize
}

struct Enc {
    out: Vec<u8>,
    flag_pos: usize,
    flags: u32,
    flag_count: u32,
    half_byte_pos: Option<usize>,
}

impl Enc {
    fn push_flag(&mut self, bit: u32) {
        self.flags = (self.flags << 1) | bit;
        self.flag_count += 1;
        if self.flag_count == 32 {
            self.out[self.flag_pos..self.flag_pos + 4].copy_from_slice(&self.flags.to_le_bytes());
            self.flag_pos = self.out.len();
            self.out.extend_from_slice(&[0; 4]);
            self.flags = 0;
            self.flag_count = 0;
        }
    }
    fn literal(&mut self, b: u8) {
        self.out.push(b);
        self.push_flag(0);
    }
    fn matched(&mut self, distance: usize, len: usize) {
        let l = len - MIN_MATCH;
        let d = ((distance - 1) as u16) << 3;
        if l < 7 {
            self.out.extend_from_slice(&(d | l as u16).to_le_bytes());
        } else {
            self.out.extend_from_slice(&(d | 7).to_le_bytes());
            let rest = l - 7;
            let nib = rest.min(15) as u8;
            match self.half_byte_pos.take() {
                None => {
                    self.half_byte_pos = Some(self.out.len());
                    self.out.push(nib);
                }
                Some(p) => self.out[p] |= nib << 4,
            }
            if rest >= 15 {
                let rest = rest - 15;
                if rest < 255 {
                    self.out.push(rest as u8);
                } else {
                    self.out.push(255);
                    if l <= 0xFFFF {
                        self.out.extend_from_slice(&(l as u16).to_le_bytes());
                    } else {
                        self.out.extend_from_slice(&[0, 0]);
                        self.out.extend_from_slice(&(l as u32).to_le_bytes());
                    }
                }
            }
        }
        self.push_flag(1);
    }
}

/// Compresses `input` with plain LZ77 (greedy matching, 8 KB window).
/// Inputs longer than `u32::MAX` bytes are not supported by the format's
/// length fields; matches are capped accordingly.
pub fn compress(input: &[u8]) -> Vec<u8> {
    let mut e =
        Enc { out: Vec::with_capacity(input.len() / 2 + 8), flag_pos: 0, flags: 0, flag_count: 0, half_byte_pos: None };
    e.out.extend_from_slice(&[0; 4]);
    let mut table = vec![usize::MAX; 1 << HASH_BITS];
    let mut i = 0;
    let max_len = (u32::MAX as usize).saturating_add(MIN_MATCH);
    while i < input.len() {
        let mut best = 0;
        let mut dist = 0;
        if i + MIN_MATCH <= input.len() {
            let h = hash3(input, i);
            let cand = table[h];
            table[h] = i;
            if cand != usize::MAX && i - cand <= MAX_DISTANCE {
                let limit = (input.len() - i).min(max_len);
                let mut n = 0;
                while n < limit && input[cand + n] == input[i + n] {
                    n += 1;
                }
                if n >= MIN_MATCH {
                    best = n;
                    dist = i - cand;
                }
            }
        }
        if best >= MIN_MATCH {
            e.matched(dist, best);
            // Index a few positions inside the match so later data can refer to it.
            let end = i + best;
            let mut j = i + 1;
            while j < end && j + MIN_MATCH <= input.len() && j < i + 16 {
                table[hash3(input, j)] = j;
                j += 1;
            }
            i = end;
        } else {
            e.literal(input[i]);
            i += 1;
        }
    }
    // Fill the unused flag bits with 1s: a 1 bit with no input left ends the stream.
    let free = 32 - e.flag_count;
    let flags = if free == 32 { u32::MAX } else { (e.flags << free) | ((1u32 << free) - 1) };
    let p = e.flag_pos;
    e.out[p..p + 4].copy_from_slice(&flags.to_le_bytes());
    e.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace().map(|h| u8::from_str_radix(h, 16).unwrap()).collect()
    }

    /// MS-XCA 3.1 (Plain LZ77 examples).
    #[test]
    fn spec_examples() {
        let alpha = hex("3f 00 00 00 61 62 63 64 65 66 67 68 69 6a 6b 6c 6d 6e 6f 70 71 72 73 74 75 76 77 78 79 7a");
        assert_eq!(decompress(&alpha, 26).unwrap(), b"abcdefghijklmnopqrstuvwxyz");
        assert_eq!(compress(b"abcdefghijklmnopqrstuvwxyz"), alpha);
        let abc = hex("ff ff ff 1f 61 62 63 17 00 0f ff 26 01");
        assert_eq!(decompress(&abc, 300).unwrap(), b"abc".repeat(100));
        assert_eq!(compress(&b"abc".repeat(100)), abc);
        assert!(decompress(&abc, 299).is_err());
    }

    #[test]
    fn round_trips() {
        let mut seed = 0x1234_5678u32;
        for n in [0usize, 1, 2, 3, 31, 32, 33, 64, 1000, 70_000, 200_000] {
            let data: Vec<u8> = (0..n)
                .map(|i| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    if i % 7 < 3 { (seed & 3) as u8 } else { b"hello world"[i % 11] }
                })
                .collect();
            let c = compress(&data);
            assert_eq!(decompress(&c, n).unwrap(), data, "n={n}");
        }
        let zeros = vec![0u8; 100_000];
        let c = compress(&zeros);
        assert!(c.len() < 32);
        assert_eq!(decompress(&c, zeros.len()).unwrap(), zeros);
    }

    #[test]
    fn shares_half_bytes() {
        let mut data = b"0123456789".repeat(3);
        data.extend_from_slice(b"--");
        data.extend_from_slice(&b"abcdefghij".repeat(3));
        let c = compress(&data);
        assert_eq!(decompress(&c, data.len()).unwrap(), data);
    }
}
