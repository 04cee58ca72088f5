//! The crypto extensions as one pure runtime helper: AES-NI (AESENC
//! AESENCLAST AESDEC AESDECLAST AESIMC AESKEYGENASSIST), PCLMULQDQ and SHA
//! (SHA1RNDS4 SHA1NEXTE SHA1MSG1 SHA1MSG2 SHA256RNDS2 SHA256MSG1
//! SHA256MSG2), computed from their definitions in portable code (tables
//! built at compile time, no host instruction), so every host gives the
//! same bits. Operands are 128-bit values as the XMM registers hold them
//! (byte 0 is the low byte).

use crate::abi::HelperCtx;
use crate::visa::TrapCode;

/// The operation the `crypto` helper computes; the frontend passes it as
/// the first argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum CryptoOp {
    AesEnc,
    AesEncLast,
    AesDec,
    AesDecLast,
    AesImc,
    AesKeygenAssist,
    Pclmulqdq,
    Sha1Rnds4,
    Sha1Nexte,
    Sha1Msg1,
    Sha1Msg2,
    Sha256Rnds2,
    Sha256Msg1,
    Sha256Msg2,
}

impl CryptoOp {
    const ALL: [CryptoOp; 14] = [
        CryptoOp::AesEnc,
        CryptoOp::AesEncLast,
        CryptoOp::AesDec,
        CryptoOp::AesDecLast,
        CryptoOp::AesImc,
        CryptoOp::AesKeygenAssist,
        CryptoOp::Pclmulqdq,
        CryptoOp::Sha1Rnds4,
        CryptoOp::Sha1Nexte,
        CryptoOp::Sha1Msg1,
        CryptoOp::Sha1Msg2,
        CryptoOp::Sha256Rnds2,
        CryptoOp::Sha256Msg1,
        CryptoOp::Sha256Msg2,
    ];

    fn from_code(code: u32) -> Option<CryptoOp> {
        CryptoOp::ALL.get(code as usize).copied()
    }

    /// One of the SHA extensions' operations.
    pub fn is_sha(self) -> bool {
        self as u32 >= CryptoOp::Sha1Rnds4 as u32
    }
}

/// The runtime helper: `(op, a, b, c, imm8) -> result`, where `a` is the
/// destination's value, `b` the source's and `c` XMM0 (SHA256RNDS2's
/// implicit operand).
pub fn helper(_: HelperCtx<'_>, args: &[u128], results: &mut [u128]) -> Result<(), TrapCode> {
    // A hand-written block may pass anything: an unknown operation is #UD.
    let op = CryptoOp::from_code(args[0] as u32).ok_or(TrapCode::User(6))?;
    results[0] = compute(op, args[1], args[2], args[3], args[4] as u8);
    Ok(())
}

/// The result of `op` on the destination `a`, the source `b`, XMM0 `c`
/// and the immediate.
pub fn compute(op: CryptoOp, a: u128, b: u128, c: u128, imm: u8) -> u128 {
    use CryptoOp::*;
    match op {
        AesEnc => mix_columns(sub_bytes(shift_rows(a), &SBOX)) ^ b,
        AesEncLast => sub_bytes(shift_rows(a), &SBOX) ^ b,
        AesDec => inv_mix_columns(sub_bytes(inv_shift_rows(a), &INV_SBOX)) ^ b,
        AesDecLast => sub_bytes(inv_shift_rows(a), &INV_SBOX) ^ b,
        AesImc => inv_mix_columns(b),
        AesKeygenAssist => keygen_assist(b, imm),
        Pclmulqdq => clmul((a >> (64 * (imm & 1) as u32)) as u64, (b >> (64 * (imm >> 4 & 1) as u32)) as u64),
        Sha1Rnds4 => sha1_rnds4(a, b, imm),
        Sha1Nexte => {
            let e = dword(a, 3).rotate_left(30);
            b & !(0xffff_ffff << 96) | (dword(b, 3).wrapping_add(e) as u128) << 96
        }
        Sha1Msg1 => {
            let w = |i: usize| dword(a, 3 - i);
            let (w4, w5) = (dword(b, 3), dword(b, 2));
            dwords([w(3) ^ w5, w(2) ^ w4, w(3) ^ w(1), w(2) ^ w(0)])
        }
        Sha1Msg2 => {
            let (w13, w14, w15) = (dword(b, 2), dword(b, 1), dword(b, 0));
            let w16 = (dword(a, 3) ^ w13).rotate_left(1);
            let w17 = (dword(a, 2) ^ w14).rotate_left(1);
            let w18 = (dword(a, 1) ^ w15).rotate_left(1);
            let w19 = (dword(a, 0) ^ w16).rotate_left(1);
            dwords([w19, w18, w17, w16])
        }
        Sha256Rnds2 => sha256_rnds2(a, b, c),
        Sha256Msg1 => {
            let w = |i: usize| if i == 4 { dword(b, 0) } else { dword(a, i) };
            dwords(std::array::from_fn(|i| w(i).wrapping_add(small_sigma0(w(i + 1)))))
        }
        Sha256Msg2 => {
            let w16 = dword(a, 0).wrapping_add(small_sigma1(dword(b, 2)));
            let w17 = dword(a, 1).wrapping_add(small_sigma1(dword(b, 3)));
            let w18 = dword(a, 2).wrapping_add(small_sigma1(w16));
            let w19 = dword(a, 3).wrapping_add(small_sigma1(w17));
            dwords([w16, w17, w18, w19])
        }
    }
}

/// Dword `i` (0 the lowest) of a vector.
fn dword(v: u128, i: usize) -> u32 {
    (v >> (32 * i)) as u32
}

/// A vector of four dwords, the lowest first.
fn dwords(d: [u32; 4]) -> u128 {
    d.iter().enumerate().fold(0, |acc, (i, &x)| acc | (x as u128) << (32 * i))
}

// ---- AES ----

/// Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1.
const fn gmul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0;
    while b != 0 {
        if b & 1 != 0 {
            p ^= a;
        }
        a = (a << 1) ^ if a & 0x80 != 0 { 0x1b } else { 0 };
        b >>= 1;
    }
    p
}

/// The AES S-box: the multiplicative inverse (0 for 0) through the affine map.
const SBOX: [u8; 256] = {
    let mut s = [0u8; 256];
    let mut x = 0;
    while x < 256 {
        // x^254 is the inverse of x (and 0 for 0).
        let mut inv = 1u8;
        let mut k = 0;
        while k < 254 {
            inv = gmul(inv, x as u8);
            k += 1;
        }
        if x == 0 {
            inv = 0;
        }
        s[x] = inv ^ inv.rotate_left(1) ^ inv.rotate_left(2) ^ inv.rotate_left(3) ^ inv.rotate_left(4) ^ 0x63;
        x += 1;
    }
    s
};

const INV_SBOX: [u8; 256] = {
    let mut inv = [0u8; 256];
    let mut x = 0;
    while x < 256 {
        inv[SBOX[x] as usize] = x as u8;
        x += 1;
    }
    inv
};

fn bytes(v: u128) -> [u8; 16] {
    v.to_le_bytes()
}

/// The state with byte `r + 4c` (row r, column c) taken from column
/// `c + dir * r`: ShiftRows for `dir` 1, InvShiftRows for 3.
fn rotate_rows(v: u128, dir: usize) -> u128 {
    let s = bytes(v);
    u128::from_le_bytes(std::array::from_fn(|i| {
        let (r, c) = (i % 4, i / 4);
        s[r + 4 * ((c + dir * r) % 4)]
    }))
}

fn shift_rows(v: u128) -> u128 {
    rotate_rows(v, 1)
}

fn inv_shift_rows(v: u128) -> u128 {
    rotate_rows(v, 3)
}

fn sub_bytes(v: u128, table: &[u8; 256]) -> u128 {
    u128::from_le_bytes(bytes(v).map(|b| table[b as usize]))
}

/// Each column times the circulant matrix whose first row is `row`.
fn mix(v: u128, row: [u8; 4]) -> u128 {
    let s = bytes(v);
    u128::from_le_bytes(std::array::from_fn(|i| {
        let (r, c) = (i % 4, i / 4);
        (0..4).fold(0, |acc, k| acc ^ gmul(row[(k + 4 - r) % 4], s[4 * c + k]))
    }))
}

fn mix_columns(v: u128) -> u128 {
    mix(v, [2, 3, 1, 1])
}

fn inv_mix_columns(v: u128) -> u128 {
    mix(v, [14, 11, 13, 9])
}

fn sub_word(w: u32) -> u32 {
    u32::from_le_bytes(w.to_le_bytes().map(|b| SBOX[b as usize]))
}

fn keygen_assist(src: u128, rcon: u8) -> u128 {
    let (x1, x3) = (sub_word(dword(src, 1)), sub_word(dword(src, 3)));
    dwords([x1, x1.rotate_right(8) ^ rcon as u32, x3, x3.rotate_right(8) ^ rcon as u32])
}

// ---- PCLMULQDQ ----

/// The carry-less product of two 64-bit polynomials.
fn clmul(a: u64, b: u64) -> u128 {
    (0..64).filter(|i| b >> i & 1 != 0).fold(0, |acc, i| acc ^ (a as u128) << i)
}

// ---- SHA ----

fn sha1_rnds4(a: u128, b: u128, imm: u8) -> u128 {
    const K: [u32; 4] = [0x5a82_7999, 0x6ed9_eba1, 0x8f1b_bcdc, 0xca62_c1d6];
    let round = imm & 3;
    let f = |b: u32, c: u32, d: u32| match round {
        0 => (b & c) ^ (!b & d),
        2 => (b & c) ^ (b & d) ^ (c & d),
        _ => b ^ c ^ d,
    };
    let [mut d0, mut c0, mut b0, mut a0] = [dword(a, 0), dword(a, 1), dword(a, 2), dword(a, 3)];
    // The first round's E is already added into W0 (SHA1NEXTE's result).
    let mut e0 = 0;
    for i in 0..4 {
        let w = dword(b, 3 - i);
        let next = f(b0, c0, d0)
            .wrapping_add(a0.rotate_left(5))
            .wrapping_add(w)
            .wrapping_add(e0)
            .wrapping_add(K[round as usize]);
        (e0, d0, c0, b0, a0) = (d0, c0, b0.rotate_left(30), a0, next);
    }
    dwords([d0, c0, b0, a0])
}

fn sha256_rnds2(a: u128, b: u128, wk: u128) -> u128 {
    let (mut aa, mut bb, mut ee, mut ff) = (dword(b, 3), dword(b, 2), dword(b, 1), dword(b, 0));
    let (mut cc, mut dd, mut gg, mut hh) = (dword(a, 3), dword(a, 2), dword(a, 1), dword(a, 0));
    for i in 0..2 {
        let ch = (ee & ff) ^ (!ee & gg);
        let maj = (aa & bb) ^ (aa & cc) ^ (bb & cc);
        let s1 = ee.rotate_right(6) ^ ee.rotate_right(11) ^ ee.rotate_right(25);
        let s0 = aa.rotate_right(2) ^ aa.rotate_right(13) ^ aa.rotate_right(22);
        let t1 = ch.wrapping_add(s1).wrapping_add(dword(wk, i)).wrapping_add(hh);
        (hh, gg, ff, ee) = (gg, ff, ee, t1.wrapping_add(dd));
        (dd, cc, bb, aa) = (cc, bb, aa, t1.wrapping_add(maj).wrapping_add(s0));
    }
    dwords([ff, ee, bb, aa])
}

fn small_sigma0(x: u32) -> u32 {
    x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3)
}

fn small_sigma1(x: u32) -> u32 {
    x.rotate_right(17) ^ x.rotate_right(19) ^ (x >> 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbox_is_the_standards() {
        assert_eq!((SBOX[0], SBOX[1], SBOX[0x53], SBOX[0xff]), (0x63, 0x7c, 0xed, 0x16));
        assert!((0..256).all(|x| INV_SBOX[SBOX[x] as usize] == x as u8));
    }

    /// FIPS-197 appendix C.1: AES-128 of 00112233...ff under 000102...0f,
    /// key schedule by AESKEYGENASSIST, rounds by AESENC, and back.
    #[test]
    fn aes128_known_answer() {
        let key = u128::from_le_bytes(std::array::from_fn(|i| i as u8));
        let plain = u128::from_le_bytes(std::array::from_fn(|i| (i as u8) * 0x11));
        let mut keys = vec![key];
        for rcon in [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36] {
            let k = *keys.last().unwrap();
            let t = dword(compute(CryptoOp::AesKeygenAssist, 0, k, 0, rcon), 3);
            let mut w = [dword(k, 0), dword(k, 1), dword(k, 2), dword(k, 3)];
            w[0] ^= t;
            for i in 1..4 {
                w[i] ^= w[i - 1];
            }
            keys.push(dwords(w));
        }
        let mut s = plain ^ keys[0];
        for k in &keys[1..10] {
            s = compute(CryptoOp::AesEnc, s, *k, 0, 0);
        }
        s = compute(CryptoOp::AesEncLast, s, keys[10], 0, 0);
        assert_eq!(
            s.to_be_bytes().iter().rev().copied().collect::<Vec<u8>>(),
            [0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30, 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5, 0x5a]
        );
        // The equivalent inverse cipher: round keys through AESIMC.
        let mut d = s ^ keys[10];
        for k in keys[1..10].iter().rev() {
            d = compute(CryptoOp::AesDec, d, compute(CryptoOp::AesImc, 0, *k, 0, 0), 0, 0);
        }
        assert_eq!(compute(CryptoOp::AesDecLast, d, keys[0], 0, 0), plain);
    }

    #[test]
    fn clmul_multiplies_polynomials() {
        assert_eq!(clmul(0b101, 0b11), 0b1111);
        assert_eq!(clmul(u64::MAX, 1 << 63), (u64::MAX as u128) << 63);
    }
}
