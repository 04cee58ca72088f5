//! The x86 runtime helpers every machine shares: what lifted code calls for
//! instructions that are not worth inlining (CPUID, RDTSC, RDRAND, and the
//! families listed in `IMPLEMENTED`). Port I/O is the one thing a machine
//! adds (the board's devices); without devices ports read all ones and
//! writes go nowhere. The frontend declares the helpers (names and
//! signatures); this module binds the names to code.

use std::sync::OnceLock;
use std::time::Instant;

use crate::abi::{HelperCtx, Helpers};
use crate::frontend::x86::X86Env;
use crate::machine::cpuid;
use crate::visa::{Helper, TrapCode};

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

/// Helpers that need no device, by the name the frontend declares.
const IMPLEMENTED: &[(&str, HelperFn)] = &[];

/// The implementation of each of the Env's helpers, by helper index.
fn implementations() -> &'static [Option<HelperFn>] {
    static TABLE: OnceLock<Vec<Option<HelperFn>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let env = &X86Env::get().env;
        env.helpers.iter().map(|h| IMPLEMENTED.iter().find(|(name, _)| *name == h.name).map(|(_, f)| *f)).collect()
    })
}

/// The shared helpers, with a port bus.
pub struct X86Runtime<P: Ports> {
    pub ports: P,
    started: Instant,
    rand_state: u64,
}

impl<P: Ports> X86Runtime<P> {
    pub fn new(ports: P) -> X86Runtime<P> {
        X86Runtime { ports, started: Instant::now(), rand_state: 0x2545_f491_4f6c_dd1d }
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
        let x = X86Env::get();
        if helper == x.cpuid {
            let r = cpuid::cpuid(args[0] as u32, args[1] as u32);
            for (out, v) in results.iter_mut().zip(r) {
                *out = v as u128;
            }
        } else if helper == x.rdtsc {
            // A 1 GHz counter from power-on.
            results[0] = self.started.elapsed().as_nanos() as u64 as u128;
        } else if helper == x.port_in {
            results[0] = self.ports.port_in(args[0] as u16, args[1] as u32) as u128;
        } else if helper == x.port_out {
            self.ports.port_out(args[0] as u16, args[1] as u32, args[2] as u32);
        } else if helper == x.rdrand {
            self.rand_state ^= self.rand_state << 13;
            self.rand_state ^= self.rand_state >> 7;
            self.rand_state ^= self.rand_state << 17;
            results[0] = self.rand_state as u128;
        } else if let Some(f) = implementations().get(helper.0 as usize).copied().flatten() {
            return f(ctx, args, results);
        } else {
            unreachable!("helper #{} has no implementation", helper.0);
        }
        Ok(())
    }

    fn stop_requested(&self) -> bool {
        self.ports.stop_requested()
    }
}
