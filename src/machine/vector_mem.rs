//! AVX's masked and gathered memory accesses as the runtime executes them:
//! VMASKMOVPS/PD and VPMASKMOVD/Q (`maskmov`), VGATHER* and VPGATHER*
//! (`gather`). An element whose mask lane has its sign bit clear is not
//! accessed, so it cannot fault; the others are, and a fault leaves memory
//! and registers unchanged (a masked store first rewrites every selected
//! element with its own bytes, so it faults before writing anything). A
//! gather that faults therefore completes no element, where hardware may
//! have gathered (and cleared the mask of) the elements before the one
//! that faulted.

use crate::abi::HelperCtx;
use crate::visa::TrapCode;

/// The encoded operation of `maskmov`: element bytes (4 or 8), element
/// count, and whether it stores.
pub fn maskmov_op(elem: u32, count: u32, store: bool) -> u64 {
    elem as u64 | (count as u64) << 8 | (store as u64) << 16
}

/// The encoded operation of `gather`: element bytes, index bytes (4 or 8),
/// element count, scale.
pub fn gather_op(elem: u32, index: u32, count: u32, scale: u32) -> u64 {
    elem as u64 | (index as u64) << 8 | (count as u64) << 16 | (scale as u64) << 24
}

fn lane(v: &[u128; 2], bytes: usize, i: usize) -> u64 {
    let per = 16 / bytes;
    let word = v[i / per] >> (8 * bytes * (i % per));
    if bytes == 8 { word as u64 } else { word as u32 as u64 }
}

fn set_lane(v: &mut [u128; 2], bytes: usize, i: usize, x: u64) {
    let per = 16 / bytes;
    let shift = 8 * bytes * (i % per);
    let mask = (u128::MAX >> (128 - 8 * bytes)) << shift;
    v[i / per] = (v[i / per] & !mask) | ((x as u128) << shift & mask);
}

fn selected(mask: &[u128; 2], bytes: usize, i: usize) -> bool {
    lane(mask, bytes, i) >> (8 * bytes - 1) & 1 != 0
}

/// `maskmov(op, addr, mask lo, mask hi, data lo, data hi) -> (lo, hi)`: a
/// load gives the selected elements (zero elsewhere); a store writes them
/// and gives 0.
pub fn maskmov(ctx: HelperCtx<'_>, args: &[u128], results: &mut [u128]) -> Result<(), TrapCode> {
    let op = args[0] as u64;
    let (bytes, count, store) = ((op & 0xff) as usize, (op >> 8 & 0xff) as usize, op >> 16 & 1 != 0);
    if !matches!(bytes, 4 | 8) || count * bytes > 32 {
        return Err(TrapCode::User(6));
    }
    let addr = args[1] as u64;
    let (mask, data) = ([args[2], args[3]], [args[4], args[5]]);
    let at = |i: usize| addr.wrapping_add((i * bytes) as u64);
    let mut out = [0u128; 2];
    let mut buf = [0u8; 8];
    for i in (0..count).filter(|&i| selected(&mask, bytes, i)) {
        ctx.mem.read(at(i), &mut buf[..bytes])?;
        if store {
            ctx.mem.write(at(i), &buf[..bytes])?;
        } else {
            set_lane(&mut out, bytes, i, u64::from_le_bytes(buf));
        }
    }
    if store {
        for i in (0..count).filter(|&i| selected(&mask, bytes, i)) {
            ctx.mem.write(at(i), &lane(&data, bytes, i).to_le_bytes()[..bytes])?;
        }
    }
    results[0] = out[0];
    results[1] = out[1];
    Ok(())
}

/// `gather(op, base, index lo, index hi, mask lo, mask hi, dest lo, dest
/// hi) -> (lo, hi)`: the destination with each selected element loaded
/// from `base + sign-extended index * scale`, zero past the last element.
pub fn gather(ctx: HelperCtx<'_>, args: &[u128], results: &mut [u128]) -> Result<(), TrapCode> {
    let op = args[0] as u64;
    let (bytes, index_bytes) = ((op & 0xff) as usize, (op >> 8 & 0xff) as usize);
    let (count, scale) = ((op >> 16 & 0xff) as usize, op >> 24 & 0xff);
    if !matches!(bytes, 4 | 8) || !matches!(index_bytes, 4 | 8) || count * bytes.max(index_bytes) > 32 {
        return Err(TrapCode::User(6));
    }
    let base = args[1] as u64;
    let (index, mask) = ([args[2], args[3]], [args[4], args[5]]);
    let mut out = [args[6], args[7]];
    let mut buf = [0u8; 8];
    for i in (0..count).filter(|&i| selected(&mask, bytes, i)) {
        let raw = lane(&index, index_bytes, i);
        let idx = if index_bytes == 4 { raw as u32 as i32 as i64 as u64 } else { raw };
        ctx.mem.read(base.wrapping_add(idx.wrapping_mul(scale)), &mut buf[..bytes])?;
        set_lane(&mut out, bytes, i, u64::from_le_bytes(buf));
    }
    // Past the elements (a 64-bit-index form with 32-bit data): zero.
    for i in count..32 / bytes {
        set_lane(&mut out, bytes, i, 0);
    }
    results[0] = out[0];
    results[1] = out[1];
    Ok(())
}
