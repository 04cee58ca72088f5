//! The XSAVE feature set as the runtime executes it: XCR0 (XGETBV, XSETBV),
//! XSAVE, XSAVEOPT and XSAVEC (standard and compacted formats), XRSTOR,
//! the supervisor forms XSAVES and XRSTORS (compacted, over XCR0 |
//! IA32_XSS, which holds no supervisor component here), and
//! the layout CPUID leaf 0xD describes. Lifted code calls one helper,
//! `xsave(op, addr)`, with the requested-feature bitmap in EDX:EAX of the
//! state record; it reads the whole area first and writes it in one access,
//! so a fault leaves memory and state unchanged.
//!
//! State components: 0 x87 and 1 SSE (in the 512-byte legacy region, the
//! FXSAVE image), 2 AVX (the upper halves of YMM0-YMM15, 256 bytes at 576
//! in both formats, the first extended component). A component is "in use"
//! (XINUSE) when it differs from its initial configuration; XSAVEOPT and
//! XSAVEC skip components not in use, XSAVE writes every requested one.
//! XSAVEOPT's modified optimisation (skipping what the last XRSTOR loaded)
//! is not made: hardware may always write.

use crate::abi::HelperCtx;
use crate::machine::{CR4_OSXSAVE, CpuState, XCR0_SUPPORTED};
use crate::visa::TrapCode;

const GP: TrapCode = TrapCode::User(13);
const UD: TrapCode = TrapCode::User(6);

/// The XSAVE header's offset, the AVX component's offset and size.
pub const HEADER: usize = 512;
pub const AVX_OFFSET: usize = 576;
pub const AVX_SIZE: usize = 256;

/// What the helper does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Xsave,
    Xsaveopt,
    Xsavec,
    Xrstor,
    Xgetbv,
    Xsetbv,
    /// The supervisor forms (CPL 0 only: the frontend makes them #GP at
    /// CPL 3): the compacted format over XCR0 | IA32_XSS.
    Xsaves,
    Xrstors,
}

/// An operation: its kind and whether it is the 64-bit form (XSAVE64...,
/// which writes the x87 pointers as 64-bit addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XOp {
    pub kind: Kind,
    pub wide: bool,
}

impl XOp {
    pub fn encode(self) -> u64 {
        self.kind as u64 | (self.wide as u64) << 8
    }

    pub fn decode(v: u64) -> Option<XOp> {
        use Kind::*;
        let kind =
            [Xsave, Xsaveopt, Xsavec, Xrstor, Xgetbv, Xsetbv, Xsaves, Xrstors].get((v & 0xff) as usize).copied()?;
        (v >> 9 == 0).then_some(XOp { kind, wide: v & 0x100 != 0 })
    }
}

/// Bytes of an XSAVE area (standard format) holding the components of `xcr0`.
pub fn area_size(xcr0: u64) -> u32 {
    if xcr0 & 4 != 0 { (AVX_OFFSET + AVX_SIZE) as u32 } else { AVX_OFFSET as u32 }
}

/// The IA32_XSS bits supported: none (visa has no supervisor state
/// component), so XSAVES and XRSTORS manage the XCR0 components only.
pub const XSS_SUPPORTED: u64 = 0;

/// CPUID leaf 0xD for a subleaf: 0 the supported components and sizes
/// (EBX, the size for the enabled ones, is the caller's to set from XCR0),
/// 1 the XSAVE extensions (XSAVEOPT, XSAVEC, and XSAVES with IA32_XSS
/// where the model has `xsaves`; EBX, the compacted size for XCR0 |
/// IA32_XSS, is the caller's; ECX:EDX the IA32_XSS bits supported), 2 the
/// AVX component.
pub fn cpuid_leaf(model: crate::machine::cpuid::Model, subleaf: u32) -> [u32; 4] {
    let max = area_size(XCR0_SUPPORTED);
    match subleaf {
        0 => [XCR0_SUPPORTED as u32, max, max, 0],
        1 => [if model.has("xsaves") { 0b1011 } else { 0b11 }, max, XSS_SUPPORTED as u32, (XSS_SUPPORTED >> 32) as u32],
        2 => [AVX_SIZE as u32, AVX_OFFSET as u32, 0, 0],
        _ => [0; 4],
    }
}

/// XINUSE: the components not in their initial configuration.
fn in_use(cpu: &CpuState) -> u64 {
    let x87 = cpu.fcw != 0x37f || cpu.fsw != 0 || cpu.ftw != 0 || cpu.fop != 0 || cpu.fip != 0 || cpu.fdp != 0;
    let sse = cpu.xmm.iter().any(|&x| x != 0) || cpu.mxcsr != 0x1f80;
    let avx = cpu.ymmh.iter().any(|&x| x != 0);
    x87 as u64 | (sse as u64) << 1 | (avx as u64) << 2
}

fn le64(buf: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(buf[at..at + 8].try_into().expect("8 bytes"))
}

/// The runtime helper: `(op, addr) -> ()`.
pub fn helper(ctx: HelperCtx<'_>, args: &[u128], _results: &mut [u128]) -> Result<(), TrapCode> {
    let op = XOp::decode(args[0] as u64).ok_or(UD)?;
    let size = std::mem::size_of::<CpuState>();
    assert!(ctx.state.len() >= size, "xsave helper: state record too small");
    // SAFETY: the state record holds a CpuState (repr(C), integers only, so
    // any bytes are a valid value); read and written unaligned.
    let mut cpu = unsafe { std::ptr::read_unaligned(ctx.state.as_ptr() as *const CpuState) };
    execute(&mut cpu, ctx.mem, op, args[1] as u64)?;
    // SAFETY: as above.
    unsafe { std::ptr::write_unaligned(ctx.state.as_mut_ptr() as *mut CpuState, cpu) };
    Ok(())
}

/// Runs one instruction on `cpu`; on an error nothing has been written to
/// memory (and the caller drops `cpu`).
pub fn execute(cpu: &mut CpuState, mem: &mut dyn crate::abi::HelperMemory, op: XOp, addr: u64) -> Result<(), TrapCode> {
    if cpu.cr4 & CR4_OSXSAVE == 0 {
        return Err(UD);
    }
    let edx_eax = (cpu.gpr[2] & 0xffff_ffff) << 32 | (cpu.gpr[0] & 0xffff_ffff);
    match op.kind {
        Kind::Xgetbv => {
            if cpu.gpr[1] as u32 != 0 {
                return Err(GP);
            }
            cpu.gpr[0] = cpu.xcr0 & 0xffff_ffff;
            cpu.gpr[2] = cpu.xcr0 >> 32;
            return Ok(());
        }
        Kind::Xsetbv => {
            let v = edx_eax;
            if cpu.gpr[1] as u32 != 0 || v & !XCR0_SUPPORTED != 0 || v & 1 == 0 || (v & 4 != 0 && v & 2 == 0) {
                return Err(GP);
            }
            cpu.xcr0 = v;
            return Ok(());
        }
        _ => {}
    }
    if addr & 63 != 0 {
        return Err(GP);
    }
    let supervisor = matches!(op.kind, Kind::Xsaves | Kind::Xrstors);
    let enabled = if supervisor { cpu.xcr0 | cpu.xss } else { cpu.xcr0 };
    let rfbm = enabled & edx_eax;
    let mut area = vec![0u8; area_size(rfbm) as usize];
    mem.read(addr, &mut area)?;
    if matches!(op.kind, Kind::Xrstor | Kind::Xrstors) {
        // XRSTORS takes the compacted format only.
        if supervisor && le64(&area, HEADER + 8) >> 63 == 0 {
            return Err(GP);
        }
        return restore(cpu, op.wide, rfbm, enabled, &area);
    }
    save(cpu, op.kind, op.wide, rfbm, &mut area);
    mem.write(addr, &area)
}

/// Writes the components of `rfbm` into `area` (at least `area_size(rfbm)`
/// bytes) as XSAVE, XSAVEOPT or XSAVEC does.
fn save(cpu: &CpuState, kind: Kind, wide: bool, rfbm: u64, area: &mut [u8]) {
    let compact = matches!(kind, Kind::Xsavec | Kind::Xsaves);
    let saved = match kind {
        Kind::Xsave => rfbm,
        _ => rfbm & in_use(cpu),
    };
    let legacy = legacy(cpu, wide);
    if saved & 1 != 0 {
        area[0..24].copy_from_slice(&legacy[0..24]);
        area[32..160].copy_from_slice(&legacy[32..160]);
    }
    if rfbm & 6 != 0 {
        area[24..32].copy_from_slice(&legacy[24..32]);
    }
    if saved & 2 != 0 {
        area[160..416].copy_from_slice(&legacy[160..416]);
    }
    if saved & 4 != 0 {
        for (i, h) in cpu.ymmh.iter().enumerate() {
            area[AVX_OFFSET + 16 * i..AVX_OFFSET + 16 * (i + 1)].copy_from_slice(&h.to_le_bytes());
        }
    }
    let bv = (le64(area, HEADER) & !rfbm) | (in_use(cpu) & rfbm);
    let bv = if compact { in_use(cpu) & rfbm } else { bv };
    area[HEADER..HEADER + 8].copy_from_slice(&bv.to_le_bytes());
    if compact {
        area[HEADER + 8..HEADER + 16].copy_from_slice(&(rfbm | 1 << 63).to_le_bytes());
    }
}

/// The standard-format XSAVE area of the components `rfbm` (64-bit
/// format, header cleared first), as Linux writes it in a signal frame.
pub fn save_image(cpu: &CpuState, rfbm: u64) -> Vec<u8> {
    let mut area = vec![0u8; area_size(rfbm) as usize];
    save(cpu, Kind::Xsave, true, rfbm, &mut area);
    area
}

/// XRSTOR (64-bit format) of the components `rfbm` from `area`: #GP for a
/// bad header or MXCSR, and then `cpu` is unchanged.
pub fn restore_image(cpu: &mut CpuState, rfbm: u64, area: &[u8]) -> Result<(), TrapCode> {
    if area.len() < area_size(rfbm) as usize {
        return Err(GP);
    }
    restore(cpu, true, rfbm, cpu.xcr0, area)
}

/// The FXSAVE image of the legacy region (FIP and FDP as FXSAVE writes them).
fn legacy(cpu: &CpuState, wide: bool) -> [u8; 512] {
    let mut buf = [0u8; 512];
    crate::machine::x87::legacy_region(&mut cpu.clone(), wide, &mut buf);
    buf
}

/// XRSTOR and XRSTORS: the requested components from the area, or their
/// initial configuration where XSTATE_BV says so; `enabled` is XCR0 (for
/// XRSTORS XCR0 | IA32_XSS), which XCOMP_BV must stay within.
fn restore(cpu: &mut CpuState, wide: bool, rfbm: u64, enabled: u64, area: &[u8]) -> Result<(), TrapCode> {
    let (bv, comp) = (le64(area, HEADER), le64(area, HEADER + 8));
    let compact = comp >> 63 != 0;
    let reserved_from = if compact { HEADER + 16 } else { HEADER + 8 };
    let reserved_clear = area[reserved_from..HEADER + 64].iter().all(|&b| b == 0);
    let bad = if compact { comp & !(1 << 63) & !enabled != 0 || bv & !comp != 0 } else { bv & !cpu.xcr0 != 0 };
    if bad || !reserved_clear {
        return Err(GP);
    }
    let mut new = cpu.clone();
    let mut legacy = legacy(&new, wide);
    // FXSAVE's image drops FIP and FDP while no exception is pending: keep them.
    legacy[8..16].copy_from_slice(&new.fip.to_le_bytes());
    legacy[16..24].copy_from_slice(&new.fdp.to_le_bytes());
    let loads = rfbm & bv;
    if loads & 1 != 0 {
        legacy[0..24].copy_from_slice(&area[0..24]);
        legacy[32..160].copy_from_slice(&area[32..160]);
    }
    let mxcsr_from_area = if compact { loads & 2 != 0 } else { rfbm & 6 != 0 };
    if mxcsr_from_area {
        legacy[24..28].copy_from_slice(&area[24..28]);
    }
    if loads & 2 != 0 {
        legacy[160..416].copy_from_slice(&area[160..416]);
    }
    crate::machine::x87::load_legacy_region(&mut new, wide, &legacy)?;
    if rfbm & 1 != 0 && loads & 1 == 0 {
        (new.fcw, new.fsw, new.ftw, new.fop, new.fip, new.fdp) = (0x37f, 0, 0, 0, 0, 0);
        new.st = [0; 8];
    }
    if rfbm & 2 != 0 && loads & 2 == 0 {
        new.xmm = [0; 16];
    }
    if rfbm & 4 != 0 {
        for (i, h) in new.ymmh.iter_mut().enumerate() {
            let at = AVX_OFFSET + 16 * i;
            *h = if loads & 4 != 0 { u128::from_le_bytes(area[at..at + 16].try_into().expect("16 bytes")) } else { 0 };
        }
    }
    *cpu = new;
    Ok(())
}
