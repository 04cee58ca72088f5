//! The control and debug registers as MOV to and from them sees them at
//! CPL 0, and the model-specific registers RDMSR and WRMSR reach (lifted
//! code reaches this only on the board: at CPL 3 the frontend raises #GP
//! itself). One helper, `sysreg(op, value) -> value`, reads or writes CR0
//! CR2 CR3 CR4 CR8, DR0-DR7 or the MSR in ECX (EDX:EAX) with the manual's
//! checks: #UD for a register the processor lacks (#GP for an MSR), #GP
//! for reserved bits and for the changes 64-bit mode forbids. The registers are stored; what visa
//! does with each bit is in `CR0_DEFINED`, `cr4_allowed` and README.

use crate::abi::HelperCtx;
use crate::machine::cpuid::Model;
use crate::machine::{CR4_FSGSBASE, CR4_OSXSAVE, CpuState, DR6_INIT, DR7_INIT};
use crate::visa::TrapCode;

const GP: TrapCode = TrapCode::User(13);
const UD: TrapCode = TrapCode::User(6);

/// `op` bits: the register number (0-15), a debug register, a write.
pub const DEBUG: u32 = 1 << 4;
pub const WRITE: u32 = 1 << 5;
/// RDMSR or WRMSR (with `WRITE`): the MSR in ECX, the value in EDX:EAX.
pub const MSR: u32 = 1 << 6;

/// The MSRs visa has: IA32_XSS, IA32_EFER, IA32_FS_BASE, IA32_GS_BASE.
const IA32_XSS: u32 = 0xda0;
const IA32_EFER: u32 = 0xc000_0080;
const IA32_FS_BASE: u32 = 0xc000_0100;
const IA32_GS_BASE: u32 = 0xc000_0101;
/// EFER.SCE (stored), LME and LMA (64-bit mode: they stay set).
const EFER_SCE: u64 = 1;
const EFER_LONG: u64 = 0x500;

const CR0_PE: u64 = 1;
const CR0_ET: u64 = 1 << 4;
const CR0_NW: u64 = 1 << 29;
const CR0_CD: u64 = 1 << 30;
const CR0_PG: u64 = 1 << 31;
/// CR0's defined bits: PE MP EM TS ET NE WP AM NW CD PG. Writes to the
/// other bits of the low half are ignored (they read as 0), as processors
/// do; ET reads as 1.
const CR0_DEFINED: u64 = 0xe005_003f;

const CR4_TSD: u64 = 1 << 2;
const CR4_PAE: u64 = 1 << 5;
const CR4_PCE: u64 = 1 << 8;
const CR4_OSFXSR: u64 = 1 << 9;
const CR4_OSXMMEXCPT: u64 = 1 << 10;

/// Physical address bits (CPUID 0x80000008 EAX[7:0]): CR3's bits from
/// here up are reserved.
const MAXPHYADDR: u32 = 40;

/// DR6's bits a write sets (B0-B3, BD, BS, BT); the others read fixed.
const DR6_WRITABLE: u64 = 0xe00f;
/// DR7's bits a write sets (L0-G3, LE, GE, GD, the R/W and LEN fields);
/// bit 10 reads 1, bits 11, 12, 14, 15 read 0.
const DR7_WRITABLE: u64 = 0xffff_23ff;

/// CR4's bits a model accepts: the ones of features it reports (TSD with
/// the TSC, OSFXSR and OSXMMEXCPT with FXSR and SSE, FSGSBASE, OSXSAVE
/// with XSAVE), PAE (long mode needs it) and PCE; the rest are reserved.
pub fn cr4_allowed(model: Model) -> u64 {
    let mut bits = CR4_TSD | CR4_PAE | CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    if model.has("fsgsbase") {
        bits |= CR4_FSGSBASE;
    }
    if model.has("xsave") {
        bits |= CR4_OSXSAVE;
    }
    bits
}

/// Reads control register `n`.
fn read_cr(cpu: &CpuState, n: u32) -> Result<u64, TrapCode> {
    Ok(match n {
        0 => cpu.cr0,
        2 => cpu.cr2,
        3 => cpu.cr3,
        4 => cpu.cr4,
        8 => cpu.cr8,
        _ => return Err(UD),
    })
}

/// Writes control register `n` (the processor is in 64-bit mode).
fn write_cr(cpu: &mut CpuState, n: u32, v: u64) -> Result<(), TrapCode> {
    match n {
        0 => {
            // 64-bit mode cannot leave paging, and paging needs PE.
            let bad = v >> 32 != 0 || v & CR0_PG == 0 || v & CR0_PE == 0 || (v & CR0_NW != 0 && v & CR0_CD == 0);
            if bad {
                return Err(GP);
            }
            cpu.cr0 = v & CR0_DEFINED | CR0_ET;
        }
        2 => cpu.cr2 = v,
        3 => {
            if v >> MAXPHYADDR != 0 {
                return Err(GP);
            }
            cpu.cr3 = v;
        }
        4 => {
            if v & !cr4_allowed(Model::from_code(cpu.cpu_model)) != 0 || v & CR4_PAE == 0 {
                return Err(GP);
            }
            cpu.cr4 = v;
        }
        8 => {
            if v >> 4 != 0 {
                return Err(GP);
            }
            cpu.cr8 = v;
        }
        _ => return Err(UD),
    }
    Ok(())
}

/// The debug register `n` names: DR4 and DR5 are DR6 and DR7 (CR4.DE,
/// which would make them #UD, is reserved); DR8-DR15 do not exist.
fn debug_index(n: u32) -> Result<usize, TrapCode> {
    match n {
        0..4 | 6 | 7 => Ok(n as usize),
        4 | 5 => Ok(n as usize + 2),
        _ => Err(UD),
    }
}

fn write_dr(cpu: &mut CpuState, n: usize, v: u64) -> Result<(), TrapCode> {
    if n >= 6 && v >> 32 != 0 {
        return Err(GP);
    }
    cpu.dr[n] = match n {
        6 => v & DR6_WRITABLE | DR6_INIT,
        7 => v & DR7_WRITABLE | DR7_INIT,
        _ => v,
    };
    Ok(())
}

fn canonical(v: u64) -> bool {
    ((v as i64) << 16 >> 16) as u64 == v
}

/// RDMSR (EDX:EAX from the MSR in ECX) or WRMSR; any other MSR is #GP.
fn msr(cpu: &mut CpuState, write: bool) -> Result<(), TrapCode> {
    let (index, v) = (cpu.gpr[1] as u32, (cpu.gpr[2] & 0xffff_ffff) << 32 | (cpu.gpr[0] & 0xffff_ffff));
    if !write {
        let v = match index {
            IA32_XSS => cpu.xss,
            IA32_EFER => cpu.efer,
            IA32_FS_BASE => cpu.fs_base,
            IA32_GS_BASE => cpu.gs_base,
            _ => return Err(GP),
        };
        (cpu.gpr[0], cpu.gpr[2]) = (v & 0xffff_ffff, v >> 32);
        return Ok(());
    }
    match index {
        IA32_XSS if v & !crate::machine::xsave::XSS_SUPPORTED == 0 => cpu.xss = v,
        // LMA is read-only; LME cannot change while paging is on.
        IA32_EFER if v & !(EFER_SCE | EFER_LONG) == 0 && v & 0x100 != 0 => cpu.efer = v & EFER_SCE | EFER_LONG,
        IA32_FS_BASE if canonical(v) => cpu.fs_base = v,
        IA32_GS_BASE if canonical(v) => cpu.gs_base = v,
        _ => return Err(GP),
    }
    Ok(())
}

/// Runs one register move on `cpu`: returns what a read gives (0 for a
/// write or an MSR access, which writes EDX:EAX itself). On an error
/// `cpu` is unchanged.
pub fn execute(cpu: &mut CpuState, op: u32, value: u64) -> Result<u64, TrapCode> {
    if op & MSR != 0 {
        let mut new = cpu.clone();
        msr(&mut new, op & WRITE != 0)?;
        *cpu = new;
        return Ok(0);
    }
    let n = op & 15;
    match (op & DEBUG != 0, op & WRITE != 0) {
        (false, false) => read_cr(cpu, n),
        (false, true) => write_cr(cpu, n, value).map(|_| 0),
        (true, false) => Ok(cpu.dr[debug_index(n)?]),
        (true, true) => write_dr(cpu, debug_index(n)?, value).map(|_| 0),
    }
}

/// The runtime helper: `(op, value) -> value read`.
pub fn helper(ctx: HelperCtx<'_>, args: &[u128], results: &mut [u128]) -> Result<(), TrapCode> {
    let size = std::mem::size_of::<CpuState>();
    assert!(ctx.state.len() >= size, "sysreg helper: state record too small");
    // SAFETY: the state record holds a CpuState (repr(C), integers only, so
    // any bytes are a valid value); read and written unaligned.
    let mut cpu = unsafe { std::ptr::read_unaligned(ctx.state.as_ptr() as *const CpuState) };
    results[0] = execute(&mut cpu, args[0] as u32, args[1] as u64)? as u128;
    // SAFETY: as above.
    unsafe { std::ptr::write_unaligned(ctx.state.as_mut_ptr() as *mut CpuState, cpu) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board() -> CpuState {
        CpuState::long_mode(0)
    }

    #[test]
    fn cr0_keeps_long_mode_and_defined_bits() {
        let mut cpu = board();
        assert_eq!(execute(&mut cpu, WRITE, 0x8005_0033 | 0x40), Ok(0));
        assert_eq!(cpu.cr0, 0x8005_0033, "bit 6 is ignored");
        for bad in [0x8005_0033 | 1 << 32, 0x0005_0033, 0x8005_0032, 0x8005_0033 | CR0_NW] {
            assert_eq!(execute(&mut cpu, WRITE, bad), Err(GP), "{bad:#x}");
        }
        assert_eq!(execute(&mut cpu, WRITE, 0x8000_0001), Ok(0));
        assert_eq!(execute(&mut cpu, 0, 0), Ok(0x8000_0011), "ET reads 1");
    }

    #[test]
    fn cr4_reserved_bits_and_models() {
        let mut cpu = board();
        let cr4 = cpu.cr4;
        assert_eq!(execute(&mut cpu, WRITE | 4, cr4 | CR4_FSGSBASE), Ok(0));
        assert_eq!(execute(&mut cpu, WRITE | 4, cr4 | 1 << 12), Err(GP), "LA57");
        assert_eq!(execute(&mut cpu, WRITE | 4, 0x600), Err(GP), "clearing PAE");
        cpu.cpu_model = Model::V3 as u8;
        assert_eq!(execute(&mut cpu, WRITE | 4, 0x4_0620 | CR4_FSGSBASE), Err(GP), "v3 has no FSGSBASE");
    }

    #[test]
    fn cr3_cr8_and_missing_registers() {
        let mut cpu = board();
        assert_eq!(execute(&mut cpu, WRITE | 3, 1 << 39 | 0x1018), Ok(0));
        assert_eq!(execute(&mut cpu, 3, 0), Ok(1 << 39 | 0x1018));
        assert_eq!(execute(&mut cpu, WRITE | 3, 1 << 40), Err(GP));
        assert_eq!(execute(&mut cpu, WRITE | 8, 0xf), Ok(0));
        assert_eq!(execute(&mut cpu, WRITE | 8, 0x10), Err(GP));
        for n in [1, 5, 6, 7, 9, 15] {
            assert_eq!(execute(&mut cpu, n, 0), Err(UD), "CR{n}");
        }
    }

    #[test]
    fn model_specific_registers() {
        let mut cpu = board();
        let access = |cpu: &mut CpuState, index: u32, write: Option<u64>| {
            cpu.gpr[1] = index as u64;
            if let Some(v) = write {
                (cpu.gpr[0], cpu.gpr[2]) = (v & 0xffff_ffff, v >> 32);
            }
            let r = execute(cpu, MSR | if write.is_some() { WRITE } else { 0 }, 0);
            r.map(|_| cpu.gpr[2] << 32 | cpu.gpr[0])
        };
        assert_eq!(access(&mut cpu, IA32_EFER, None), Ok(0x501));
        assert_eq!(access(&mut cpu, IA32_EFER, Some(0x100)), Ok(0x100));
        assert_eq!(cpu.efer, 0x500, "SCE cleared, LMA kept");
        assert_eq!(access(&mut cpu, IA32_EFER, Some(0x801)), Err(GP), "NXE is reserved");
        assert_eq!(access(&mut cpu, IA32_EFER, Some(0x1)), Err(GP), "clearing LME");
        assert_eq!(access(&mut cpu, IA32_XSS, Some(0)), Ok(0));
        assert_eq!(access(&mut cpu, IA32_XSS, Some(1 << 8)), Err(GP), "no supervisor component");
        assert_eq!(access(&mut cpu, IA32_GS_BASE, Some(0xffff_8000_0000_0000)), Ok(0xffff_8000_0000_0000));
        assert_eq!(cpu.gs_base, 0xffff_8000_0000_0000);
        assert_eq!(access(&mut cpu, IA32_FS_BASE, Some(1 << 47)), Err(GP), "non-canonical");
        assert_eq!(access(&mut cpu, 0x10, None), Err(GP), "an MSR visa lacks");
    }

    #[test]
    fn debug_registers() {
        let mut cpu = board();
        assert_eq!(execute(&mut cpu, DEBUG | 6, 0), Ok(0xffff_0ff0));
        assert_eq!(execute(&mut cpu, DEBUG | 7, 0), Ok(0x400));
        assert_eq!(execute(&mut cpu, DEBUG | WRITE | 7, 0xffff_ffff), Ok(0));
        assert_eq!(execute(&mut cpu, DEBUG | 5, 0), Ok(0xffff_27ff), "DR5 is DR7");
        assert_eq!(execute(&mut cpu, DEBUG | WRITE | 4, 0), Ok(0));
        assert_eq!(execute(&mut cpu, DEBUG | 6, 0), Ok(0xffff_0ff0), "DR4 is DR6");
        assert_eq!(execute(&mut cpu, DEBUG | WRITE | 6, 1 << 32), Err(GP));
        assert_eq!(execute(&mut cpu, DEBUG | WRITE | 2, u64::MAX), Ok(0));
        assert_eq!(cpu.dr[2], u64::MAX);
        assert_eq!(execute(&mut cpu, DEBUG | 8, 0), Err(UD));
    }
}
