//! The x86 runtime helpers every machine shares: what lifted code calls for
//! instructions that are not worth inlining (CPUID, RDTSC, RDRAND, segment
//! loads against the system's descriptor tables, SGDT and SIDT, control
//! and debug register moves (`machine::control`), and the
//! families listed in `IMPLEMENTED`). Port I/O is the one thing a machine
//! adds (the board's devices); without devices ports read all ones and
//! writes go nowhere. The frontend declares the helpers (names and
//! signatures) in its Env; a runtime binds the Env's helpers to code by
//! name when it is made.

use std::time::Instant;

use crate::abi::{HelperCtx, Helpers};
use crate::machine::segments::{self, Tables};
use crate::machine::{CR4_OSXSAVE, CpuState, cpuid};
use crate::visa::{Env, Helper, TrapCode};

/// Devices on the I/O port bus.
pub trait Ports {
    /// Reads `size` bytes (1, 2 or 4) from a port.
    fn port_in(&mut self, port: u16, size: u32) -> u32;
    /// Writes a port.
    fn port_out(&mut self, port: u16, size: u32, value: u32);
    /// True once a device has asked the machine to stop.
    fn stop_requested(&self) -> bool {
        false
    }
}

/// A bus with nothing on it.
pub struct NoPorts;

impl Ports for NoPorts {
    fn port_in(&mut self, _: u16, size: u32) -> u32 {
        u32::MAX >> (32 - 8 * size)
    }

    fn port_out(&mut self, _: u16, _: u32, _: u32) {}
}

/// A helper implementation: `(state, memory, args, results)`.
pub type HelperFn = fn(HelperCtx<'_>, &[u128], &mut [u128]) -> Result<(), TrapCode>;

/// What a declared helper runs.
#[derive(Clone, Copy)]
enum Binding {
    Cpuid,
    Rdtsc,
    PortIn,
    PortOut,
    Rdrand,
    Segment,
    DescriptorTable,
    /// A helper that needs nothing of the runtime.
    Plain(HelperFn),
}

/// The helpers this runtime implements, by the name the frontend declares.
const BINDINGS: &[(&str, Binding)] = &[
    ("cpuid", Binding::Cpuid),
    ("rdtsc", Binding::Rdtsc),
    ("port_in", Binding::PortIn),
    ("port_out", Binding::PortOut),
    ("rdrand", Binding::Rdrand),
    ("segment", Binding::Segment),
    ("descriptor_table", Binding::DescriptorTable),
    ("pcmpstr", Binding::Plain(pcmpstr)),
    ("crypto", Binding::Plain(crate::machine::crypto::helper)),
    ("f16c", Binding::Plain(crate::machine::f16c::helper)),
    ("x87", Binding::Plain(crate::machine::x87::helper)),
    ("xsave", Binding::Plain(crate::machine::xsave::helper)),
    ("sysreg", Binding::Plain(crate::machine::control::helper)),
    ("maskmov", Binding::Plain(crate::machine::vector_mem::maskmov)),
    ("gather", Binding::Plain(crate::machine::vector_mem::gather)),
];

/// The binding of each of an Env's helpers, by helper index.
fn bind(env: &Env) -> Vec<Option<Binding>> {
    env.helpers.iter().map(|h| BINDINGS.iter().find(|(name, _)| *name == h.name).map(|(_, b)| *b)).collect()
}

/// The shared helpers, with a port bus.
pub struct X86Runtime<P: Ports> {
    pub ports: P,
    started: Instant,
    /// RDRAND's source: a fixed xorshift sequence from this state, or
    /// (`None`) the host's randomness.
    rand_state: Option<u64>,
    /// What each of the Env's helpers runs, by helper index.
    bound: Vec<Option<Binding>>,
    /// The descriptor tables the system presents.
    tables: &'static Tables,
}

/// Where RDRAND's sequence starts in a reproducible runtime.
const RDRAND_SEED: u64 = 0x2545_f491_4f6c_dd1d;

impl<P: Ports> X86Runtime<P> {
    /// A runtime for the helpers `env` declares, reproducible: RDRAND gives
    /// the same pseudo-random sequence in every run (the board, tests,
    /// fuzzing), so engines can be compared.
    pub fn new(ports: P, env: &Env) -> X86Runtime<P> {
        X86Runtime {
            ports,
            started: Instant::now(),
            rand_state: Some(RDRAND_SEED),
            bound: bind(env),
            tables: &segments::BOARD,
        }
    }

    /// A runtime whose RDRAND returns the host's randomness (`getrandom`),
    /// different in every process and after fork, as a program expects.
    pub fn with_host_random(ports: P, env: &Env) -> X86Runtime<P> {
        X86Runtime { rand_state: None, ..X86Runtime::new(ports, env) }
    }

    /// The same, with a system's descriptor tables (the board's by default).
    pub fn with_tables(self, tables: &'static Tables) -> X86Runtime<P> {
        X86Runtime { tables, ..self }
    }

    fn rdrand(&mut self) -> u64 {
        match self.rand_state.as_mut() {
            Some(state) => {
                *state ^= *state << 13;
                *state ^= *state >> 7;
                *state ^= *state << 17;
                *state
            }
            None => {
                let mut bytes = [0u8; 8];
                // SAFETY: getrandom writes at most 8 bytes into our 8-byte buffer.
                let got = unsafe { libc::getrandom(bytes.as_mut_ptr() as *mut libc::c_void, 8, 0) };
                // Should the host ever fail to give 8 bytes, the xorshift of
                // whatever came keeps the result from being constant.
                if got != 8 {
                    bytes = (u64::from_le_bytes(bytes) ^ self.started.elapsed().as_nanos() as u64).to_le_bytes();
                }
                u64::from_le_bytes(bytes)
            }
        }
    }
}

impl<P: Ports> Helpers for X86Runtime<P> {
    fn call(
        &mut self,
        helper: Helper,
        ctx: HelperCtx<'_>,
        args: &[u128],
        results: &mut [u128],
    ) -> Result<(), TrapCode> {
        match self.bound.get(helper.0 as usize).copied().flatten() {
            Some(Binding::Cpuid) => {
                let model = cpuid::Model::from_code(args[2] as u8);
                let r = cpuid::cpuid(model, args[0] as u32, args[1] as u32);
                let r = os_dependent(r, args[0] as u32, args[1] as u32, ctx.state);
                for (out, v) in results.iter_mut().zip(r) {
                    *out = v as u128;
                }
            }
            // A 1 GHz counter from power-on.
            Some(Binding::Rdtsc) => results[0] = self.started.elapsed().as_nanos() as u64 as u128,
            Some(Binding::PortIn) => results[0] = self.ports.port_in(args[0] as u16, args[1] as u32) as u128,
            Some(Binding::PortOut) => self.ports.port_out(args[0] as u16, args[1] as u32, args[2] as u32),
            Some(Binding::Rdrand) => results[0] = self.rdrand() as u128,
            Some(Binding::Segment) => {
                let load = segments::Load::from_code(args[0] as u8).ok_or(TrapCode::User(6))?;
                let gdtr = descriptor_table(self.tables, ctx.state, true);
                results[0] = self.tables.load_with(load, args[1] as u16, args[2] as u8, gdtr, ctx.mem)? as u128;
            }
            Some(Binding::DescriptorTable) => {
                let (base, limit) = descriptor_table(self.tables, ctx.state, args[0] == 0);
                (results[0], results[1]) = (base as u128, limit as u128);
            }
            Some(Binding::Plain(f)) => return f(ctx, args, results),
            // A helper this runtime does not implement: as an instruction
            // the processor lacks, #UD.
            None => return Err(TrapCode::User(6)),
        }
        Ok(())
    }

    fn stop_requested(&self) -> bool {
        self.ports.stop_requested()
    }
}

/// What SGDT (`gdt`) or SIDT stores: at CPL 0 the register LGDT or LIDT
/// loaded, at CPL 3 what the system answers for user code (Linux's
/// emulation under UMIP).
fn descriptor_table(tables: &Tables, state: &[u8], gdt: bool) -> (u64, u16) {
    if state.len() < std::mem::size_of::<CpuState>() {
        return if gdt { tables.gdtr } else { tables.idtr };
    }
    let cs = u16::from_ne_bytes([state[CpuState::SEG_OFFSET + 2], state[CpuState::SEG_OFFSET + 3]]);
    if cs & 3 == 3 {
        return if gdt { tables.gdtr } else { tables.idtr };
    }
    let (base_at, limit_at) = if gdt {
        (CpuState::GDTR_BASE_OFFSET, CpuState::GDTR_LIMIT_OFFSET)
    } else {
        (CpuState::IDTR_BASE_OFFSET, CpuState::IDTR_LIMIT_OFFSET)
    };
    let base = u64::from_ne_bytes(state[base_at..base_at + 8].try_into().expect("8 bytes"));
    (base, u16::from_ne_bytes([state[limit_at], state[limit_at + 1]]))
}

/// The CPUID bits that follow the state the OS set: OSXSAVE (leaf 1 ECX
/// bit 27) mirrors CR4.OSXSAVE, and leaf 0xD's EBX is the XSAVE area size
/// of the components XCR0 enables.
fn os_dependent(mut r: [u32; 4], leaf: u32, subleaf: u32, state: &[u8]) -> [u32; 4] {
    if state.len() < std::mem::size_of::<CpuState>() {
        return r;
    }
    let at = |off: usize| u64::from_ne_bytes(state[off..off + 8].try_into().expect("8 bytes"));
    let (cr4, xcr0) = (at(CpuState::CR4_OFFSET), at(CpuState::XCR0_OFFSET));
    match (leaf, subleaf) {
        (1, _) if cr4 & CR4_OSXSAVE == 0 => r[2] &= !(1 << 27),
        (0xd, 0) if r[0] != 0 => r[1] = crate::machine::xsave::area_size(xcr0),
        (0xd, 1) if r[0] & 8 != 0 => {
            let xss = at(std::mem::offset_of!(CpuState, xss));
            r[1] = crate::machine::xsave::area_size(xcr0 | xss);
        }
        _ => {}
    }
    r
}

/// PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM (SSE4.2 string compares).
/// Arguments: `a` (xmm1), `b` (xmm2/m128), the explicit lengths of `a` and
/// `b` (signed 64-bit; their magnitude saturates at the element count) and
/// the control: imm8, plus bit 8 for explicit lengths (else an element is
/// valid up to the first null one). Results: the XMM0 value of the M forms
/// (IntRes2 as a bit mask or, with imm8[6], as element masks), and the index
/// of the I forms (lowest or, with imm8[6], highest set bit of IntRes2; the
/// element count if none) in bits 0-7 with CF ZF SF OF in bits 8-11.
fn pcmpstr(_: HelperCtx<'_>, args: &[u128], results: &mut [u128]) -> Result<(), TrapCode> {
    let (a, b, ctl) = (args[0], args[1], args[4] as u32);
    let (n, bits) = if ctl & 1 != 0 { (8, 16) } else { (16, 8) };
    let signed = ctl & 2 != 0;
    let elem = |v: u128, i: usize| {
        let x = (v >> (i * bits)) as u32 & ((1 << bits) - 1);
        if signed { ((x << (32 - bits)) as i32) >> (32 - bits) } else { x as i32 }
    };
    let len = |v: u128, explicit: u128| match ctl & 0x100 {
        0 => (0..n).find(|&i| elem(v, i) == 0).unwrap_or(n),
        _ => (explicit as u64 as i64).unsigned_abs().min(n as u64) as usize,
    };
    let (la, lb) = (len(a, args[2]), len(b, args[3]));
    // IntRes1 bit j, by the aggregation: j indexes `b` (the same index of
    // both for "equal each"); invalid elements force the comparisons.
    let hit = |j: usize| match (ctl >> 2) & 3 {
        0 => j < lb && (0..la).any(|i| elem(a, i) == elem(b, j)),
        1 => j < lb && (0..la / 2).any(|p| elem(a, 2 * p) <= elem(b, j) && elem(b, j) <= elem(a, 2 * p + 1)),
        2 => match (j < la, j < lb) {
            (true, true) => elem(a, j) == elem(b, j),
            (valid_a, valid_b) => !valid_a && !valid_b,
        },
        _ => (0..n - j).all(|k| k >= la || (j + k < lb && elem(a, k) == elem(b, j + k))),
    };
    let res1 = (0..n).filter(|&j| hit(j)).fold(0u32, |acc, j| acc | 1 << j);
    let res2 = match (ctl >> 4) & 3 {
        1 => !res1 & ((1 << n) - 1),
        3 => res1 ^ ((1 << lb) - 1),
        _ => res1,
    };
    let most = ctl & 0x40 != 0;
    let index = match res2 {
        0 => n as u32,
        _ if most => 31 - res2.leading_zeros(),
        _ => res2.trailing_zeros(),
    };
    results[0] = match most {
        true => (0..n).filter(|i| res2 >> i & 1 != 0).fold(0, |m, i| m | (u128::MAX >> (128 - bits)) << (i * bits)),
        false => res2 as u128,
    };
    let flags = (res2 != 0) as u32 | ((lb < n) as u32) << 1 | ((la < n) as u32) << 2 | (res2 & 1) << 3;
    results[1] = (index | flags << 8) as u128;
    Ok(())
}
