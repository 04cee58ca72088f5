//! AVX's masked and gathered memory accesses as the runtime executes them:
//! VMASKMOVPS/PD and VPMASKMOVD/Q (`maskmov`), VGATHER* and VPGATHER*
//! (`gather`). An element whose mask lane has its sign bit clear is not
//! accessed, so it cannot fault; the others are. A masked access that
//! faults changes nothing (a masked store first rewrites every selected
//! element with its own bytes, so it faults before writing anything). A
//! gather works from the lowest element up, as the manual orders its
//! faults: when one faults, the elements below it are complete, and the
//! helper writes the destination and mask registers into the state record
//! as the host leaves them (`fault_state`).

use crate::abi::HelperCtx;
use crate::visa::TrapCode;

/// The encoded operation of `maskmov`: element bytes (4 or 8), element
/// count, and whether it stores.
pub fn maskmov_op(elem: u32, count: u32, store: bool) -> u64 {
    elem as u64 | (count as u64) << 8 | (store as u64) << 16
}

/// A gather's operands: element bytes, index bytes (4 or 8), element
/// count, scale, the numbers of its destination and mask registers, and
/// whether it works at 256 bits (its destination or index is a YMM
/// register).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GatherOp {
    pub elem: u32,
    pub index: u32,
    pub count: u32,
    pub scale: u32,
    pub dest: u32,
    pub mask: u32,
    pub wide: bool,
}

impl GatherOp {
    pub fn encode(self) -> u64 {
        let fields = [self.elem, self.index, self.count, self.scale, self.dest, self.mask, self.wide as u32];
        fields.iter().enumerate().fold(0, |acc, (i, &f)| acc | (f as u64 & 0xff) << (8 * i))
    }

    fn decode(v: u64) -> GatherOp {
        let f = |i: u32| (v >> (8 * i) & 0xff) as u32;
        GatherOp { elem: f(0), index: f(1), count: f(2), scale: f(3), dest: f(4), mask: f(5), wide: f(6) != 0 }
    }
}

/// Writes YMM register `n` (both halves) into the state record.
fn write_ymm(state: &mut [u8], n: usize, v: [u128; 2]) {
    use crate::machine::CpuState;
    for (at, half) in [(CpuState::XMM_OFFSET + 16 * n, v[0]), (CpuState::YMMH_OFFSET + 16 * n, v[1])] {
        state[at..at + 16].copy_from_slice(&half.to_ne_bytes());
    }
}

fn read_ymm(state: &[u8], n: usize) -> [u128; 2] {
    use crate::machine::CpuState;
    let at = |off: usize| u128::from_ne_bytes(state[off + 16 * n..off + 16 * n + 16].try_into().expect("16 bytes"));
    [at(CpuState::XMM_OFFSET), at(CpuState::YMMH_OFFSET)]
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

/// The registers of a gather whose element `first` faulted, as the host (an
/// Intel processor) leaves them. The gather works at 256 bits when its
/// destination or index register is a YMM one (`wide`), else at 128. The
/// elements below `first` are complete (the destination holds them, their
/// mask elements are clear); every other mask element of that width, past
/// the element count too, is its sign bit replicated (all ones where it
/// selects an element); at 128 bits, bits 128-255 of the mask are zero,
/// and those of the destination too once an element has been gathered
/// into it (as a VEX.128 write leaves them).
fn fault_state(state: &mut [u8], op: GatherOp, first: usize, loaded: &[u128; 2]) {
    let bytes = op.elem as usize;
    let (dest, mask_reg) = (op.dest as usize, op.mask as usize);
    let mask = read_ymm(state, mask_reg);
    let lanes = if op.wide { 32 } else { 16 } / bytes;
    let mut new_mask = [0u128; 2];
    for j in first..lanes {
        let ones = if selected(&mask, bytes, j) { u64::MAX } else { 0 };
        set_lane(&mut new_mask, bytes, j, ones);
    }
    let mut partial = read_ymm(state, dest);
    (0..first).for_each(|j| set_lane(&mut partial, bytes, j, lane(loaded, bytes, j)));
    if !op.wide && (0..first).any(|j| selected(&mask, bytes, j)) {
        partial[1] = 0;
    }
    write_ymm(state, dest, partial);
    write_ymm(state, mask_reg, new_mask);
}

/// `gather(op, base, index lo, index hi, mask lo, mask hi, dest lo, dest
/// hi) -> (lo, hi)`: the destination with each selected element loaded
/// from `base + sign-extended index * scale`, zero past the last element.
pub fn gather(ctx: HelperCtx<'_>, args: &[u128], results: &mut [u128]) -> Result<(), TrapCode> {
    let op = GatherOp::decode(args[0] as u64);
    let (bytes, index_bytes, count) = (op.elem as usize, op.index as usize, op.count as usize);
    let registers_fit = op.dest < 16 && op.mask < 16;
    let state_fits = ctx.state.len() >= std::mem::size_of::<crate::machine::CpuState>();
    if !matches!(bytes, 4 | 8)
        || !matches!(index_bytes, 4 | 8)
        || count * bytes.max(index_bytes) > 32
        || !registers_fit
        || !state_fits
    {
        return Err(TrapCode::User(6));
    }
    let base = args[1] as u64;
    let (index, mask) = ([args[2], args[3]], [args[4], args[5]]);
    let mut out = [args[6], args[7]];
    let mut buf = [0u8; 8];
    for i in (0..count).filter(|&i| selected(&mask, bytes, i)) {
        let raw = lane(&index, index_bytes, i);
        let idx = if index_bytes == 4 { raw as u32 as i32 as i64 as u64 } else { raw };
        if let Err(fault) = ctx.mem.read(base.wrapping_add(idx.wrapping_mul(op.scale as u64)), &mut buf[..bytes]) {
            fault_state(ctx.state, op, i, &out);
            return Err(fault);
        }
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
