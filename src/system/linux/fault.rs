//! The signal a processor fault raises, as the kernel reports it: signal
//! number, si_code and si_addr, and for the frame's sigcontext the trap
//! number and the page-fault error code (present, write, user, fetch),
//! whose write bit comes from decoding the faulting instruction.

use iced_x86::{Decoder, DecoderOptions, InstructionInfoFactory, OpAccess, Register};

use super::process::Process;
use super::signals::{self, SIGILL, SIGSEGV, SigInfo};
use crate::engine::Fault;
use crate::machine::CpuState;

/// Page-fault error code bits.
const PF_PRESENT: u64 = 1;
const PF_WRITE: u64 = 2;
const PF_USER: u64 = 4;
const PF_FETCH: u64 = 0x10;

/// The value of a register an address uses (64-bit mode: only FS and GS
/// have a segment base).
fn register_value(cpu: &CpuState, reg: Register) -> Option<u64> {
    match reg {
        Register::FS => Some(cpu.fs_base),
        Register::GS => Some(cpu.gs_base),
        Register::ES | Register::CS | Register::SS | Register::DS => Some(0),
        r if r.is_gpr() => Some(cpu.gpr[r.full_register().number()]),
        _ => None,
    }
}

/// Does the access that faulted at `addr` write memory? Decides from the
/// memory operands of the instruction at RIP; when none of them covers
/// `addr`, from the page: on a readable page only a write faults.
fn is_write(p: &Process, f: &Fault, addr: u64) -> bool {
    let mut bytes = [0u8; 15];
    let n = (0..bytes.len())
        .take_while(|i| p.mem.read_bytes(f.rip.wrapping_add(*i as u64), &mut bytes[*i..*i + 1]).is_ok())
        .count();
    let insn = Decoder::with_ip(64, &bytes[..n], f.rip, DecoderOptions::NONE).decode();
    let mut factory = InstructionInfoFactory::new();
    let info = factory.info(&insn);
    for m in info.used_memory() {
        let Some(start) = m.virtual_address(0, |reg, _, _| register_value(&p.cpu, reg)) else { continue };
        let size = m.memory_size().size().max(1) as u64;
        if addr.wrapping_sub(start) < size {
            return matches!(
                m.access(),
                OpAccess::Write | OpAccess::CondWrite | OpAccess::ReadWrite | OpAccess::ReadCondWrite
            );
        }
    }
    p.mem.perms_at(addr) & crate::machine::PERM_R != 0
}

/// The si_code of #XM, as Linux picks it: from the flags MXCSR has set and
/// unmasked, invalid first, then divide by zero, overflow, underflow or
/// denormal, and inexact.
fn simd_fpe_code(mxcsr: u32) -> i32 {
    let raised = mxcsr & !(mxcsr >> 7) & 0x3f;
    [
        (0x01, signals::FPE_FLTINV),
        (0x04, signals::FPE_FLTDIV),
        (0x08, signals::FPE_FLTOVF),
        (0x12, signals::FPE_FLTUND),
        (0x20, signals::FPE_FLTRES),
    ]
    .iter()
    .find(|(bits, _)| raised & bits != 0)
    .map_or(0, |(_, code)| *code)
}

/// The signal a guest fault raises.
pub fn signal_for(p: &Process, f: &Fault) -> SigInfo {
    let mut err = 0;
    let (signo, code, addr) = match f.vector {
        0 => (signals::SIGFPE, signals::FPE_INTDIV, f.rip),
        19 => (signals::SIGFPE, simd_fpe_code(p.cpu.mxcsr), f.rip),
        6 => (SIGILL, signals::ILL_ILLOPN, f.rip),
        14 | 17 => {
            let addr = f.addr.unwrap_or(f.rip);
            // A page of a mapping, even one with no access (PROT_NONE).
            let mapped = p.space().covers(addr, 1);
            let fetch = addr.wrapping_sub(f.rip) < 15;
            err = PF_USER
                | if mapped { PF_PRESENT } else { 0 }
                | if fetch {
                    PF_FETCH
                } else if is_write(p, f, addr) {
                    PF_WRITE
                } else {
                    0
                };
            (SIGSEGV, if mapped { signals::SEGV_ACCERR } else { signals::SEGV_MAPERR }, addr)
        }
        3 => (signals::SIGTRAP, signals::SI_KERNEL, 0),
        // #GP and the rest.
        _ => (SIGSEGV, signals::SI_KERNEL, 0),
    };
    SigInfo { signo, code, addr, trap: Some((f.vector as u64, err)), ..SigInfo::default() }
}
