//! Deterministic generators shared by the integration tests (no dependencies).
#![allow(dead_code)]

/// xorshift64* PRNG with a fixed seed: reproducible test inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next_u64() % n as u64) as usize }
    }
    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }
    /// Bytes biased towards small values (zeros terminate strings, small
    /// counts keep lists short) so that random input often decodes.
    pub fn biased_bytes(&mut self, max_len: usize) -> Vec<u8> {
        let n = self.below(max_len + 1);
        // Half of the inputs are very zero-heavy so long runs of small length
        // fields (and empty counts) are common too.
        let zeros = if self.below(2) == 0 { 5 } else { 17 };
        (0..n)
            .map(|_| {
                let k = self.below(zeros + 5);
                if k < zeros {
                    0
                } else if k < zeros + 3 {
                    1 + self.below(4) as u8
                } else {
                    self.byte()
                }
            })
            .collect()
    }
    pub fn uniform_bytes(&mut self, max_len: usize) -> Vec<u8> {
        let n = self.below(max_len + 1);
        (0..n).map(|_| self.byte()).collect()
    }
    /// A mutated copy of `seed`: flips, truncations, insertions, duplications.
    pub fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut v = seed.to_vec();
        for _ in 0..1 + self.below(4) {
            match self.below(6) {
                0 if !v.is_empty() => {
                    let i = self.below(v.len());
                    v[i] ^= 1 << self.below(8);
                }
                1 if !v.is_empty() => {
                    let i = self.below(v.len());
                    v[i] = self.byte();
                }
                2 => {
                    let n = self.below(v.len() + 1);
                    v.truncate(n);
                }
                3 => {
                    let i = self.below(v.len() + 1);
                    v.insert(i, self.byte());
                }
                4 if !v.is_empty() => {
                    let i = self.below(v.len());
                    v[i] = [0x00, 0xFF, 0x7F, 0x80, 0xFE][self.below(5)];
                }
                _ => {
                    let i = self.below(v.len() + 1);
                    let extra = self.biased_bytes(8);
                    v.splice(i..i, extra);
                }
            }
        }
        v
    }
    pub fn ascii(&mut self, max: usize) -> String {
        let n = self.below(max + 1);
        (0..n).map(|_| (b'a' + self.below(26) as u8) as char).collect()
    }
    pub fn unicode(&mut self, max: usize) -> String {
        let n = self.below(max + 1);
        (0..n)
            .map(|_| match self.below(4) {
                0 => 'é',
                1 => '日',
                2 => '😀',
                _ => (b'A' + self.below(26) as u8) as char,
            })
            .collect()
    }
}

/// Parses whitespace-separated hex.
pub fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace().map(|h| u8::from_str_radix(h, 16).expect("hex")).collect()
}
