//! x87 state images in memory: FNSTENV/FLDENV (14- and 28-byte formats),
//! FNSAVE/FRSTOR (94 and 108 bytes), FXSAVE/FXRSTOR (32- and 64-bit
//! formats), as a 64-bit-mode processor writes them. FCS and FDS are written
//! as 0; reserved upper halves of the 28-byte format as ones (as hardware
//! does). FXSAVE writes FOP, FIP and FDP only while ES is set, and zeros
//! otherwise, as the host (AMD) does; it leaves bytes 416-511 alone.

use super::float::{self, Class};
use super::{B, ES, GP, Kind, Mem, X87Op};
use crate::machine::CpuState;
use crate::visa::TrapCode;

/// A control word as the FPU keeps it: reserved bits clear, bit 6 set.
pub fn control_word(v: u16) -> u16 {
    (v & 0x1f3f) | 0x40
}

/// Sets ES and B exactly when an unmasked exception flag is set (after
/// loading FCW or FSW).
pub fn update_es(cpu: &mut CpuState) {
    if cpu.fsw & !cpu.fcw & 0x3f != 0 {
        cpu.fsw |= ES | B;
    } else {
        cpu.fsw &= !(ES | B);
    }
}

/// The full tag word: two bits per physical register (valid, zero,
/// special, empty).
fn full_tags(cpu: &CpuState) -> u16 {
    (0..8).fold(0, |acc, r| {
        let tag = if cpu.ftw >> r & 1 == 0 {
            3
        } else {
            match float::class(cpu.st[r]) {
                Class::Normal => 0,
                Class::Zero => 1,
                _ => 2,
            }
        };
        acc | tag << (2 * r)
    })
}

fn put(buf: &mut [u8], at: usize, n: usize, v: u64) {
    super::put_le(buf, at, n, v);
}

/// Writes the environment; returns its size.
fn store_env(cpu: &CpuState, wide: bool, buf: &mut [u8]) -> usize {
    let tags = full_tags(cpu) as u64;
    if wide {
        put(buf, 0, 4, cpu.fcw as u64 | 0xffff_0000);
        put(buf, 4, 4, cpu.fsw as u64 | 0xffff_0000);
        put(buf, 8, 4, tags | 0xffff_0000);
        put(buf, 12, 4, cpu.fip & 0xffff_ffff);
        put(buf, 16, 4, (cpu.fop as u64 & 0x7ff) << 16);
        put(buf, 20, 4, cpu.fdp & 0xffff_ffff);
        put(buf, 24, 4, 0xffff_0000);
        28
    } else {
        for (k, v) in [cpu.fcw as u64, cpu.fsw as u64, tags, cpu.fip, 0, cpu.fdp, 0].into_iter().enumerate() {
            put(buf, 2 * k, 2, v & 0xffff);
        }
        14
    }
}

fn load_env(cpu: &mut CpuState, wide: bool, buf: &[u8]) -> usize {
    let at = |k: usize| if wide { 4 * k } else { 2 * k };
    let word = |k: usize| super::le(buf, at(k), 2) as u16;
    cpu.fcw = control_word(word(0));
    cpu.fsw = word(1);
    let tags = word(2);
    cpu.ftw = (0..8).fold(0, |acc, r| acc | (((tags >> (2 * r)) & 3 != 3) as u8) << r);
    let n = if wide { 4 } else { 2 };
    cpu.fip = super::le(buf, at(3), n);
    cpu.fdp = super::le(buf, at(5), n);
    cpu.fop = if wide { (super::le(buf, 18, 2) & 0x7ff) as u16 } else { 0 };
    update_es(cpu);
    if wide { 28 } else { 14 }
}

/// FNSTENV, FNSAVE, FXSAVE: fills `buf`; returns the bytes to store.
pub fn store(cpu: &mut CpuState, op: X87Op, buf: &mut [u8]) -> usize {
    match op.kind {
        Kind::Stenv | Kind::Save => {
            let mut n = store_env(cpu, op.mem == Mem::Env32 || op.mem == Mem::Save32, buf);
            if op.kind == Kind::Save {
                for i in 0..8 {
                    buf[n..n + 10].copy_from_slice(&cpu.st(i).to_le_bytes()[..10]);
                    n += 10;
                }
                (cpu.fcw, cpu.fsw, cpu.ftw, cpu.fip, cpu.fdp, cpu.fop) = (0x037f, 0, 0, 0, 0, 0);
            } else {
                // Every exception masked: none is pending any more.
                cpu.fcw |= 0x3f;
                update_es(cpu);
            }
            n
        }
        _ => {
            let img = cpu.fxsave_image();
            buf[..416].copy_from_slice(&img[..416]);
            if cpu.fsw & ES == 0 {
                buf[6..24].fill(0);
            } else if op.mem == Mem::Fx32 {
                put(buf, 8, 8, cpu.fip & 0xffff_ffff);
                put(buf, 16, 8, cpu.fdp & 0xffff_ffff);
            }
            416
        }
    }
}

/// FLDENV, FRSTOR, FXRSTOR from `buf`.
pub fn load(cpu: &mut CpuState, op: X87Op, buf: &[u8]) -> Result<(), TrapCode> {
    match op.kind {
        Kind::Ldenv | Kind::Rstor => {
            let mut n = load_env(cpu, op.mem == Mem::Env32 || op.mem == Mem::Save32, buf);
            if op.kind == Kind::Rstor {
                let top = cpu.x87_top();
                for i in 0..8 {
                    let mut v = [0u8; 16];
                    v[..10].copy_from_slice(&buf[n..n + 10]);
                    cpu.st[(top + i) & 7] = u128::from_le_bytes(v);
                    n += 10;
                }
            }
        }
        _ => {
            let img: &[u8; 512] = buf[..512].try_into().expect("512-byte image");
            let mxcsr = super::le(img, 24, 4) as u32;
            if mxcsr & !crate::machine::MXCSR_MASK != 0 {
                return Err(GP);
            }
            cpu.fxrstor_image(img);
            if op.mem == Mem::Fx32 {
                cpu.fip = super::le(img, 8, 4);
                cpu.fdp = super::le(img, 16, 4);
            }
            cpu.fcw = control_word(cpu.fcw);
            update_es(cpu);
        }
    }
    Ok(())
}
