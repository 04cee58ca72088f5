//! Oracle case setup for the forms of `frontend::x86::bits`: a register bit
//! offset into memory (BT BTS BTR BTC) is kept so the access stays inside
//! the scratch data, sources get edge values (zero above all, which the
//! scans and counts treat specially), and BEXTR BZHI controls sit around
//! the operand width.

use iced_x86::{Instruction, Mnemonic, OpKind, Register};

use super::cases::{DATA_LEN, Rng, value};
use super::native::{DATA, Regs};
use super::setup::Case;

/// The mnemonics this setup owns.
const FAMILY: &[Mnemonic] = {
    use Mnemonic::*;
    &[
        Bt, Bts, Btr, Btc, Bsf, Bsr, Lzcnt, Tzcnt, Popcnt, Andn, Blsi, Blsr, Blsmsk, Bextr, Bzhi, Pdep, Pext, Sarx,
        Shlx, Shrx, Rorx, Mulx, Adcx, Adox,
    ]
};

fn is_bit_test(m: Mnemonic) -> bool {
    matches!(m, Mnemonic::Bt | Mnemonic::Bts | Mnemonic::Btr | Mnemonic::Btc)
}

/// Sets the low `reg.size()` bytes of a (non-high-byte) register, keeping the rest.
fn set_low(regs: &mut Regs, reg: Register, v: u64) {
    let i = reg.full_register() as usize - Register::RAX as usize;
    let mask = match reg.size() {
        8 => u64::MAX,
        n => (1u64 << (n * 8)) - 1,
    };
    regs.gpr[i] = (regs.gpr[i] & !mask) | (v & mask);
}

/// Bit values around the width `bits`, or any byte.
fn around_width(rng: &mut Rng, bits: u64) -> u64 {
    match rng.below(4) {
        0 => rng.below(256),
        _ => (bits as i64 + rng.below(7) as i64 - 3).max(0) as u64 & 0xff,
    }
}

/// Adjusts a case of this family; returns false for forms it does not own.
pub fn adjust(Case { code, insn, regs, data, mem, rng }: Case) -> bool {
    let m = code.mnemonic();
    if !FAMILY.contains(&m) {
        return false;
    }
    let bytes = match insn.op_kind(0) {
        OpKind::Register => insn.op0_register().size(),
        _ => insn.memory_size().size(),
    };
    let bits = bytes as u64 * 8;
    let used = match mem {
        Some(_) => [insn.memory_base(), insn.memory_index()],
        None => [Register::None; 2],
    };
    let addressing = move |r: Register| used.contains(&r.full_register());
    // Source registers: edge values of the operand width, unless they form the address.
    for i in 1..insn.op_count() {
        if insn.op_kind(i) == OpKind::Register && !addressing(insn.op_register(i)) && rng.chance(50) {
            set_low(regs, insn.op_register(i), value(rng, bits as u32));
        }
    }
    if m == Mnemonic::Mulx && !addressing(Register::RDX) && rng.chance(50) {
        regs.gpr[2] = value(rng, 64);
    }
    match (mem, is_bit_test(m)) {
        (Some(target), true) if insn.op_kind(1) == OpKind::Register => {
            bit_offset(insn, regs, target, bytes, rng, &addressing);
        }
        (Some(target), false) if rng.chance(50) => {
            let at = (target - DATA) as usize;
            data[at..at + bytes].copy_from_slice(&value(rng, bits as u32).to_le_bytes()[..bytes]);
        }
        _ => {}
    }
    if matches!(m, Mnemonic::Bextr | Mnemonic::Bzhi) && !addressing(insn.op_register(2)) {
        let start = around_width(rng, bits);
        let len = around_width(rng, bits);
        let upper = rng.next_u64() & !0xffff;
        set_low(regs, insn.op_register(2), upper | len << 8 | start);
    }
    true
}

/// Picks the bit offset register of a memory BT form (not one the address
/// uses) and a signed offset that keeps the operand-sized access inside the
/// scratch data.
fn bit_offset(
    insn: &mut Instruction,
    regs: &mut Regs,
    target: u64,
    bytes: usize,
    rng: &mut Rng,
    addressing: &dyn Fn(Register) -> bool,
) {
    let mut reg = insn.op_register(1);
    if reg.full_register() == Register::RSP || addressing(reg) {
        let first = match bytes {
            2 => Register::AX,
            4 => Register::EAX,
            _ => Register::RAX,
        };
        let start = rng.below(16) as u32;
        reg = (0..16)
            .map(|k| first + (start + k) % 16)
            .find(|r| r.full_register() != Register::RSP && !addressing(*r))
            .expect("a register the address does not use");
    }
    insn.set_op_register(1, reg);
    // Operand-sized units before and after the target that stay in the data.
    let bytes = bytes as i64;
    let before = (target - DATA) as i64 / bytes;
    let after = (DATA + DATA_LEN as u64 - target) as i64 / bytes - 1;
    // A 16-bit offset reaches 2048 words either way.
    let (lo, hi) = match bytes {
        2 => (-before.min(2048), after.min(2047)),
        _ => (-before, after),
    };
    let unit = if rng.chance(50) { rng.below(5) as i64 - 2 } else { lo + rng.below((hi - lo + 1) as u64) as i64 };
    let any = rng.below(bytes as u64 * 8) as i64;
    let bit = rng.pick(&[0, 1, bytes * 8 - 1, any]);
    set_low(regs, reg, (unit * bytes * 8 + bit) as u64);
}
