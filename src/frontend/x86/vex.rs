//! VEX-encoded forms of the SSE instructions, lifted through the SSE
//! lifting rather than copied: a VEX form is its SSE form with another
//! merge source, another destination and another rule for the upper lanes.
//!
//! The SSE form (found by `build.rs`, by mnemonic without the V and operand
//! kinds without the VEX.vvvv one) is lifted on stand-in registers XMM16 and up
//! (`ctx::STAND_IN`), one for each of its vector operands, that read one
//! 128-bit half of the VEX operand: its first operand reads the VEX.vvvv
//! register (the non-destructive source) where there is one, and what is
//! written to it is the half of the VEX destination. A VEX.128 form then
//! zeroes bits 128-255 of its destination; a VEX.256 form is lifted twice,
//! on the low and on the high halves (its memory operand 16 bytes further
//! on the second time, a 128-bit shift count the same both times), which
//! is right for the forms whose 256-bit operation works on each 128-bit
//! lane apart, the only ones taken here (`per_lane`; the others are lifted
//! on their own in `avx`). Memory operands need no alignment except for the
//! aligned moves (32 bytes for their 256-bit forms).

use iced_x86::{Code, CpuidFeature, EncodingKind, Instruction, Mnemonic, OpCodeOperandKind as K, OpKind, Register};

use super::LiftFn;
use super::ctx::{Ctx, Flow, STAND_IN, VexFrame};
use crate::visa::{IntCC, Opcode, TrapCode, Type, Value};

/// Does the instruction need AVX enabled (a VEX form on vector registers,
/// not one of BMI's on general registers)?
pub fn needs_avx(insn: &Instruction) -> bool {
    insn.encoding() == EncodingKind::VEX
        && insn
            .cpuid_features()
            .iter()
            .any(|f| matches!(f, CpuidFeature::AVX | CpuidFeature::AVX2 | CpuidFeature::FMA | CpuidFeature::F16C))
}

/// A 64-bit VEX form as iced-x86's opcode tables give it (`build.rs`
/// makes `VEX_FORMS`; calling `Code::op_code()` here would build iced's
/// tables of every form at run time).
pub(super) struct VexForm {
    code: Code,
    kinds: &'static [K],
    /// Its memory operand is 32 bytes.
    mem32: bool,
    /// The SSE form it is lifted through, if any.
    sse: Option<Code>,
}

include!(concat!(env!("OUT_DIR"), "/vex_forms.rs"));

fn form(code: Code) -> Option<&'static VexForm> {
    VEX_FORMS.binary_search_by_key(&(code as u32), |f| f.code as u32).ok().map(|i| &VEX_FORMS[i])
}

/// The operand kinds of a VEX form (none for other forms).
fn kinds(code: Code) -> &'static [K] {
    form(code).map_or(&[], |f| f.kinds)
}

/// The SSE form a VEX form is lifted through, if any.
pub fn sse_form(code: Code) -> Option<Code> {
    form(code).and_then(|f| f.sse)
}

/// The VEX operands that the SSE form's operands are, in order (all but
/// VEX.vvvv and the /is4 register).
pub fn sse_operands(code: Code) -> Vec<u32> {
    let kinds = kinds(code);
    (0..kinds.len() as u32).filter(|&i| !is_vvvv(kinds[i as usize]) && !is_is4(kinds[i as usize])).collect()
}

fn is_vector_kind(k: K) -> bool {
    matches!(k, K::xmm_reg | K::ymm_reg | K::xmm_rm | K::ymm_rm | K::xmm_or_mem | K::ymm_or_mem)
}

fn is_vvvv(k: K) -> bool {
    matches!(k, K::xmm_vvvv | K::ymm_vvvv)
}

fn is_is4(k: K) -> bool {
    matches!(k, K::xmm_is4 | K::ymm_is4)
}

fn is_ymm_kind(k: K) -> bool {
    matches!(k, K::ymm_reg | K::ymm_rm | K::ymm_or_mem | K::ymm_vvvv | K::ymm_is4)
}

/// A 256-bit form whose operation works on each 128-bit lane apart: the
/// destination and every vector source are 256 bits (but a shift's count),
/// and it sets no flags from both lanes.
fn per_lane(code: Code) -> bool {
    use Mnemonic::*;
    let Some(form) = form(code) else { return false };
    let kinds = form.kinds;
    let last = kinds.len() - 1;
    let count_last = matches!(code.mnemonic(), Vpsllw | Vpslld | Vpsllq | Vpsrlw | Vpsrld | Vpsrlq | Vpsraw | Vpsrad)
        && kinds[last] != K::imm8;
    let dest_wide = is_ymm_kind(kinds[0]) || (kinds[0] == K::mem && form.mem32);
    let sources_wide = kinds.iter().enumerate().skip(1).all(|(i, k)| {
        let vector = is_vector_kind(*k) || is_vvvv(*k) || is_is4(*k);
        !vector || is_ymm_kind(*k) || (count_last && i == last)
    });
    dest_wide && sources_wide && code.mnemonic() != Vptest
}

/// Is the form computed by its SSE form's lifting: here, a pass per
/// 128-bit half (or, for VDPPS's 256-bit form, by `avx` through the SSE
/// dot product over both halves at once)?
pub fn lifted_through_sse(code: Code) -> bool {
    sse_form(code).is_some() && (!is_wide(code) || per_lane(code))
}

fn is_wide(code: Code) -> bool {
    kinds(code).iter().any(|k| is_ymm_kind(*k))
}

/// The imm8 of the high lane's pass: the forms that take one bit a lane
/// from imm8 give the high lane the next bits.
fn high_imm(m: Mnemonic, imm: u8) -> u8 {
    match m {
        Mnemonic::Vblendps => imm >> 4,
        Mnemonic::Vblendpd | Mnemonic::Vshufpd => imm >> 2,
        Mnemonic::Vmpsadbw => imm >> 3,
        _ => imm,
    }
}

fn is_aligned_move(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(m, Vmovaps | Vmovapd | Vmovdqa | Vmovntps | Vmovntpd | Vmovntdq | Vmovntdqa)
}

/// The register number (0-15) of an XMM or YMM register.
fn number(reg: Register) -> usize {
    if reg.is_ymm() { reg as usize - Register::YMM0 as usize } else { reg as usize - Register::XMM0 as usize }
}

/// Lifts a VEX form through its SSE form, or #UD when it has none here.
pub fn lift(cx: &mut Ctx) -> Flow {
    let vex = cx.insn;
    let Some(code) = sse_form(vex.code()) else { return Flow::Undefined };
    let Some(sse) = super::dispatch_table()[code.mnemonic() as usize] else { return Flow::Undefined };
    let wide = is_wide(vex.code());
    if wide && !per_lane(vex.code()) {
        return Flow::Undefined;
    }
    let kinds = kinds(vex.code());
    let vvvv = kinds.iter().position(|k| is_vvvv(*k));
    let is4 = kinds.iter().position(|k| is_is4(*k));
    // The VEX operand each SSE operand is.
    let map: Vec<u32> = (0..vex.op_count()).filter(|&i| Some(i as usize) != vvvv && Some(i as usize) != is4).collect();
    let aligned = is_aligned_move(vex.mnemonic());
    if wide && aligned && map.iter().any(|&i| vex.op_kind(i) == OpKind::Memory) {
        cx.insn = pass_instruction(&vex, code, &map, 0);
        let addr = cx.address();
        let k = cx.iconst(Type::I64, 31);
        let low = cx.op(Opcode::And, &[addr, k]);
        let bad = cx.icmp_imm(IntCC::Ne, low, 0);
        cx.b.trap_if(bad, TrapCode::User(13));
    }
    let mut results = [None, None];
    let mut flow = Flow::Next;
    for (half, result) in results.iter_mut().enumerate().take(if wide { 2 } else { 1 }) {
        let mut frame = VexFrame { unaligned: !aligned, probe_store: wide && half == 0, wide, ..VexFrame::default() };
        for (j, &i) in map.iter().enumerate() {
            if vex.op_kind(i) != OpKind::Register || !(vex.op_register(i).is_xmm() || vex.op_register(i).is_ymm()) {
                continue;
            }
            let source = match (j, vvvv) {
                (0, Some(v)) if v > 0 => vex.op_register(v as u32),
                _ => vex.op_register(i),
            };
            frame.reads[j] = Some(read_half(cx, source, half));
        }
        if let Some(i) = is4 {
            frame.reads[7] = Some(read_half(cx, vex.op_register(i as u32), half));
            frame.selector = Some(STAND_IN + 7);
        }
        let (f, written) = run_pass(cx, sse, pass_instruction(&vex, code, &map, half), frame);
        flow = f;
        if flow == Flow::Undefined {
            break;
        }
        *result = written;
    }
    cx.insn = vex;
    if flow != Flow::Undefined
        && let (Some(low), OpKind::Register) = (results[0], vex.op0_kind())
    {
        let n = number(vex.op0_register());
        let high = results[1].unwrap_or_else(|| cx.vconst(0));
        cx.set(cx.x.xmm[n], low);
        cx.set(cx.x.ymmh[n], high);
    }
    flow
}

/// Lifts `insn` (an SSE instruction on stand-ins) with `sse` in `frame`;
/// how it went, and what it wrote to its first operand.
fn run_pass(cx: &mut Ctx, sse: LiftFn, insn: Instruction, frame: VexFrame) -> (Flow, Option<Value>) {
    let outer = cx.insn;
    cx.insn = insn;
    cx.vex = Some(frame);
    let flow = sse(cx);
    let frame = cx.vex.take().expect("the frame set above");
    cx.insn = outer;
    (flow, frame.writes[0])
}

/// The result of the SSE instruction `code` (register operands only, and
/// an imm8 when given) on the values `args`, lifted by its SSE lifting: a
/// building block of the forms whose lanes cross (`avx`). `None` when the
/// SSE lifting gives #UD or writes no vector result.
pub fn sse_op(cx: &mut Ctx, code: Code, args: &[Value], imm: Option<u8>) -> Option<Value> {
    let sse = super::dispatch_table()[code.mnemonic() as usize]?;
    let mut insn = cx.insn;
    insn.set_code(code);
    let mut frame = VexFrame { unaligned: true, ..VexFrame::default() };
    for (j, v) in args.iter().enumerate() {
        insn.set_op_kind(j as u32, OpKind::Register);
        insn.set_op_register(j as u32, STAND_IN + j as u32);
        frame.reads[j] = Some(*v);
    }
    if let Some(imm) = imm {
        insn.set_op_kind(args.len() as u32, OpKind::Immediate8);
        insn.set_immediate8(imm);
    }
    match run_pass(cx, sse, insn, frame) {
        (Flow::Next, written) => written,
        _ => None,
    }
}

/// A 128-bit half of an XMM or YMM register (an XMM register's both times).
pub fn read_half(cx: &mut Ctx, reg: Register, half: usize) -> Value {
    let n = number(reg);
    if half == 1 && reg.is_ymm() { cx.get(cx.x.ymmh[n]) } else { cx.get(cx.x.xmm[n]) }
}

/// The SSE instruction one pass lifts: the VEX one's operands as `map`
/// picks them, vector registers as stand-ins, the memory operand 16 bytes on
/// in the high pass when it is 32 bytes, the imm8 of that pass.
fn pass_instruction(vex: &Instruction, code: Code, map: &[u32], half: usize) -> Instruction {
    let mut insn = *vex;
    insn.set_code(code);
    let wide_memory = vex.memory_size().size() == 32;
    for (j, &i) in map.iter().enumerate() {
        let kind = vex.op_kind(i);
        insn.set_op_kind(j as u32, kind);
        match kind {
            OpKind::Register => {
                let reg = vex.op_register(i);
                let reg = if reg.is_xmm() || reg.is_ymm() { STAND_IN + j as u32 } else { reg };
                insn.set_op_register(j as u32, reg);
            }
            OpKind::Memory if half == 1 && wide_memory => {
                insn.set_memory_displacement64(vex.memory_displacement64().wrapping_add(16));
            }
            OpKind::Immediate8 if half == 1 => insn.set_immediate8(high_imm(vex.mnemonic(), vex.immediate8())),
            _ => {}
        }
    }
    insn
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::EncodingKind;

    #[test]
    fn the_generated_vex_forms_are_iced_s() {
        let vex: Vec<Code> = Code::values()
            .filter(|c| {
                let op = c.op_code();
                op.is_instruction() && op.encoding() == EncodingKind::VEX && op.mode64()
            })
            .collect();
        assert_eq!(VEX_FORMS.iter().map(|f| f.code).collect::<Vec<_>>(), vex);
        for f in VEX_FORMS {
            let op = f.code.op_code();
            assert_eq!(f.kinds, op.op_kinds(), "{:?}", f.code);
            assert_eq!(f.mem32, op.memory_size().size() == 32, "{:?}", f.code);
            if let Some(sse) = f.sse {
                assert_eq!(sse.op_code().encoding(), EncodingKind::Legacy, "{:?}", f.code);
                assert_eq!(
                    format!("V{:?}", sse.mnemonic()).to_lowercase(),
                    format!("{:?}", f.code.mnemonic()).to_lowercase()
                );
            }
        }
        assert!(VEX_FORMS.iter().filter(|f| f.sse.is_some()).count() > 400);
    }
}
