//! A 128-bit hash whose value is fixed by this file alone (unlike std's
//! hashers, which may change between Rust releases): it names cache
//! entries and checks their contents. It guards against accidents (a
//! changed input, a damaged file), not against an adversary, who could
//! write the cache directory anyway.

/// Two lanes of multiply-rotate mixing over 8-byte words, finished with
/// the length and a full avalanche of each lane.
#[derive(Clone)]
pub struct Hasher {
    a: u64,
    b: u64,
    len: u64,
    /// Bytes not yet making a whole word.
    tail: [u8; 8],
    tail_len: usize,
}

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const K3: u64 = 0x1656_67B1_9E37_79F9;

/// The finaliser of SplitMix64: every input bit reaches every output bit.
fn avalanche(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Default for Hasher {
    fn default() -> Hasher {
        Hasher { a: K1, b: K2, len: 0, tail: [0; 8], tail_len: 0 }
    }
}

impl Hasher {
    fn word(&mut self, w: u64) {
        self.a = (self.a ^ w).wrapping_mul(K2).rotate_left(29).wrapping_add(self.b);
        self.b = (self.b ^ w.rotate_left(32)).wrapping_mul(K3).rotate_left(31) ^ self.a;
    }

    pub fn bytes(&mut self, mut data: &[u8]) -> &mut Hasher {
        self.len += data.len() as u64;
        if self.tail_len > 0 {
            let take = (8 - self.tail_len).min(data.len());
            self.tail[self.tail_len..self.tail_len + take].copy_from_slice(&data[..take]);
            self.tail_len += take;
            data = &data[take..];
            if self.tail_len < 8 {
                return self;
            }
            self.word(u64::from_le_bytes(self.tail));
            self.tail_len = 0;
        }
        let mut words = data.chunks_exact(8);
        for w in &mut words {
            self.word(u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        let rest = words.remainder();
        self.tail[..rest.len()].copy_from_slice(rest);
        self.tail_len = rest.len();
        self
    }

    /// A field of variable length, kept apart from the next.
    pub fn field(&mut self, data: &[u8]) -> &mut Hasher {
        self.u64(data.len() as u64).bytes(data)
    }

    pub fn u64(&mut self, v: u64) -> &mut Hasher {
        self.bytes(&v.to_le_bytes())
    }

    pub fn finish128(&self) -> [u8; 16] {
        let mut h = self.clone();
        let mut last = [0u8; 8];
        last[..h.tail_len].copy_from_slice(&h.tail[..h.tail_len]);
        h.word(u64::from_le_bytes(last) ^ (h.tail_len as u64) << 56);
        h.word(h.len);
        let a = avalanche(h.a ^ h.b.rotate_left(17));
        let b = avalanche(h.b.wrapping_add(a).wrapping_mul(K1));
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&a.to_le_bytes());
        out[8..].copy_from_slice(&b.to_le_bytes());
        out
    }

    pub fn finish64(&self) -> u64 {
        u64::from_le_bytes(self.finish128()[..8].try_into().expect("8 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::Hasher;

    #[test]
    fn the_split_of_the_input_does_not_matter_and_every_byte_counts() {
        let data: Vec<u8> = (0..100u8).collect();
        let whole = Hasher::default().bytes(&data).finish128();
        let mut parts = Hasher::default();
        for chunk in data.chunks(3) {
            parts.bytes(chunk);
        }
        assert_eq!(parts.finish128(), whole);
        let mut seen = std::collections::HashSet::new();
        seen.insert(whole);
        for i in 0..data.len() {
            let mut flipped = data.clone();
            flipped[i] ^= 1;
            assert!(seen.insert(Hasher::default().bytes(&flipped).finish128()), "byte {i}");
        }
        // A trailing zero byte is not the same input.
        assert!(seen.insert(Hasher::default().bytes(&data[..99]).bytes(&[0]).bytes(&[0]).finish128()));
        assert!(seen.insert(Hasher::default().bytes(&data[..99]).finish128()));
    }
}
