//! The initial process stack: argument and environment strings, the
//! auxiliary vector, and the pointer arrays, laid out as the Linux kernel
//! lays them out for an x86-64 process.

use super::loader::Image;
use super::mm::STACK_TOP;
use super::syscall::host::int_call;
use crate::machine::{GuestMemory, cpuid};

const AT_NULL: u64 = 0;
const AT_PHDR: u64 = 3;
const AT_PHENT: u64 = 4;
const AT_PHNUM: u64 = 5;
const AT_PAGESZ: u64 = 6;
const AT_BASE: u64 = 7;
const AT_FLAGS: u64 = 8;
const AT_ENTRY: u64 = 9;
const AT_UID: u64 = 11;
const AT_EUID: u64 = 12;
const AT_GID: u64 = 13;
const AT_EGID: u64 = 14;
const AT_PLATFORM: u64 = 15;
const AT_HWCAP: u64 = 16;
const AT_CLKTCK: u64 = 17;
const AT_SECURE: u64 = 23;
const AT_RANDOM: u64 = 25;
const AT_HWCAP2: u64 = 26;
/// AT_HWCAP2's bit for "the FSGSBASE instructions are enabled" (Linux 5.9).
const HWCAP2_FSGSBASE: u64 = 1 << 1;
const AT_EXECFN: u64 = 31;

/// Writes bytes below `sp` and returns their address.
fn push_bytes(mem: &mut GuestMemory, sp: &mut u64, bytes: &[u8]) -> Result<u64, String> {
    *sp -= bytes.len() as u64;
    mem.write_bytes(*sp, bytes).map_err(|e| format!("the initial stack does not fit: {e}"))?;
    Ok(*sp)
}

fn push_cstr(mem: &mut GuestMemory, sp: &mut u64, s: &[u8]) -> Result<u64, String> {
    let mut z = s.to_vec();
    z.push(0);
    push_bytes(mem, sp, &z)
}

/// What the auxiliary vector tells of the machine: AT_RANDOM's bytes and
/// the processor model (AT_HWCAP, AT_HWCAP2).
pub struct Machine {
    pub random: [u8; 16],
    pub model: cpuid::Model,
}

/// Builds the stack below `STACK_TOP` for a program `image` and the dynamic
/// linker `interp` that starts it, if any; returns the initial RSP
/// (pointing at argc) and the auxiliary vector's bytes.
pub fn build(
    mem: &mut GuestMemory,
    image: &Image,
    interp: Option<&Image>,
    execfn: &[u8],
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    machine: Machine,
) -> Result<(u64, Vec<u8>), String> {
    let Machine { random, model } = machine;
    let mut sp = STACK_TOP;
    let execfn_at = push_cstr(mem, &mut sp, execfn)?;
    let argv_at = argv.iter().map(|a| push_cstr(mem, &mut sp, a)).collect::<Result<Vec<_>, _>>()?;
    let envp_at = envp.iter().map(|e| push_cstr(mem, &mut sp, e)).collect::<Result<Vec<_>, _>>()?;
    let platform_at = push_cstr(mem, &mut sp, b"x86_64")?;
    let random_at = push_bytes(mem, &mut sp, &random)?;
    let ids = (
        int_call!(libc::getuid()) as u64,
        int_call!(libc::geteuid()) as u64,
        int_call!(libc::getgid()) as u64,
        int_call!(libc::getegid()) as u64,
    );
    let auxv = [
        (AT_PHDR, image.phdr),
        (AT_PHENT, image.phent),
        (AT_PHNUM, image.phnum),
        (AT_PAGESZ, 4096),
        (AT_BASE, interp.map_or(0, |i| i.bias)),
        (AT_FLAGS, 0),
        (AT_ENTRY, image.entry),
        (AT_UID, ids.0),
        (AT_EUID, ids.1),
        (AT_GID, ids.2),
        (AT_EGID, ids.3),
        (AT_PLATFORM, platform_at),
        (AT_HWCAP, cpuid::cpuid(model, 1, 0)[3] as u64),
        (AT_HWCAP2, if model.has("fsgsbase") { HWCAP2_FSGSBASE } else { 0 }),
        (AT_CLKTCK, 100),
        (AT_SECURE, 0),
        (AT_RANDOM, random_at),
        (AT_EXECFN, execfn_at),
        (AT_NULL, 0),
    ];
    // Everything from here down is 8-byte words; argc must end 16-aligned.
    let words = 1 + argv.len() + 1 + envp.len() + 1 + 2 * auxv.len();
    sp &= !15;
    if words % 2 == 1 {
        sp -= 8;
    }
    let mut table: Vec<u64> = Vec::with_capacity(words);
    table.push(argv.len() as u64);
    table.extend(&argv_at);
    table.push(0);
    table.extend(&envp_at);
    table.push(0);
    for (k, v) in auxv {
        table.extend([k, v]);
    }
    let bytes: Vec<u8> = table.iter().flat_map(|w| w.to_le_bytes()).collect();
    let rsp = push_bytes(mem, &mut sp, &bytes)?;
    debug_assert_eq!(rsp % 16, 0);
    let auxv = bytes[bytes.len() - 16 * auxv.len()..].to_vec();
    Ok((rsp, auxv))
}
