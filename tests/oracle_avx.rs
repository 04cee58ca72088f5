//! The differential oracle on the VEX forms of the SSE instructions (AVX,
//! AVX2): every form that has an SSE counterpart, 128- and 256-bit, under
//! the interpreter and the JIT, YMM upper halves compared.
#![cfg(target_arch = "x86_64")]

use iced_x86::{Code, CpuidFeature};
use visa::frontend::x86::vex;
use visa::oracle;

fn has(feature: &str) -> bool {
    match feature {
        "avx" => std::arch::is_x86_feature_detected!("avx"),
        _ => std::arch::is_x86_feature_detected!("avx2"),
    }
}

/// The VEX forms lifted through their SSE forms, of one CPUID feature.
fn sse_like(feature: CpuidFeature) -> Vec<Code> {
    oracle::cases::forms_where(|c| vex::lifted_through_sse(c) && c.cpuid_features() == [feature])
}

#[test]
fn avx_forms_of_sse_instructions() {
    let codes = sse_like(CpuidFeature::AVX);
    assert!(codes.len() > 200, "{} forms", codes.len());
    oracle::assert_lifted_blocks_verify(&codes);
    if has("avx") {
        oracle::assert_codes(&codes);
    }
}

#[test]
fn avx2_forms_of_sse_instructions() {
    let codes = sse_like(CpuidFeature::AVX2);
    assert!(codes.len() > 50, "{} forms", codes.len());
    oracle::assert_lifted_blocks_verify(&codes);
    if has("avx2") {
        oracle::assert_codes(&codes);
    }
}

/// The forms of one CPUID feature lifted on their own (`avx`).
fn own(feature: CpuidFeature) -> Vec<Code> {
    let lifted: Vec<_> = visa::frontend::x86::lifted_mnemonics().collect();
    oracle::cases::forms_where(|c| {
        !vex::lifted_through_sse(c) && c.cpuid_features() == [feature] && lifted.contains(&c.mnemonic())
    })
}

#[test]
fn avx_forms_of_their_own() {
    let codes = own(CpuidFeature::AVX);
    assert!(codes.len() > 30, "{} forms", codes.len());
    oracle::assert_lifted_blocks_verify(&codes);
    if has("avx") {
        oracle::assert_codes(&codes);
    }
}

#[test]
fn avx2_forms_of_their_own() {
    let codes = own(CpuidFeature::AVX2);
    assert!(codes.len() > 30, "{} forms", codes.len());
    oracle::assert_lifted_blocks_verify(&codes);
    if has("avx2") {
        oracle::assert_codes(&codes);
    }
}

/// A masked move whose selected elements run past the end of the mapped
/// data into an unmapped page: visa faults before writing any element, the
/// ones in the mapped page included, as this host (an AMD EPYC) does; with
/// only elements
/// in the mapped page selected, nothing faults and those are written (or
/// read); with only elements past the end selected, it faults. Every
/// VMASKMOV and VPMASKMOV form, 128- and 256-bit, loads and stores.
#[test]
fn masked_moves_across_the_end_of_memory_fault_before_writing_anything() {
    use iced_x86::code_asm::CodeAssembler;
    use iced_x86::{Instruction, MemoryOperand, Register};
    use visa::oracle::native::{CODE, DATA, DATA_SIZE, END, Native, Regs};
    use visa::oracle::{Case, Tier, check};
    if !has("avx2") {
        return;
    }
    // Each form's 256- and 128-bit stores, then loads, and its element bytes.
    let forms: [([Code; 4], u64); 4] = [
        (
            [
                Code::VEX_Vmaskmovps_m256_ymm_ymm,
                Code::VEX_Vmaskmovps_m128_xmm_xmm,
                Code::VEX_Vmaskmovps_ymm_ymm_m256,
                Code::VEX_Vmaskmovps_xmm_xmm_m128,
            ],
            4,
        ),
        (
            [
                Code::VEX_Vmaskmovpd_m256_ymm_ymm,
                Code::VEX_Vmaskmovpd_m128_xmm_xmm,
                Code::VEX_Vmaskmovpd_ymm_ymm_m256,
                Code::VEX_Vmaskmovpd_xmm_xmm_m128,
            ],
            8,
        ),
        (
            [
                Code::VEX_Vpmaskmovd_m256_ymm_ymm,
                Code::VEX_Vpmaskmovd_m128_xmm_xmm,
                Code::VEX_Vpmaskmovd_ymm_ymm_m256,
                Code::VEX_Vpmaskmovd_xmm_xmm_m128,
            ],
            4,
        ),
        (
            [
                Code::VEX_Vpmaskmovq_m256_ymm_ymm,
                Code::VEX_Vpmaskmovq_m128_xmm_xmm,
                Code::VEX_Vpmaskmovq_ymm_ymm_m256,
                Code::VEX_Vpmaskmovq_xmm_xmm_m128,
            ],
            8,
        ),
    ];
    // The first 8 bytes of the access lie in the mapped data, the rest past it.
    let at = DATA + DATA_SIZE - 8;
    let (mut faults, mut partial) = (0, 0);
    for (codes, elem) in forms {
        for (k, code_of) in codes.into_iter().enumerate() {
            let (store, wide) = (k < 2, k % 2 == 0);
            let (mask, data) = if wide { (Register::YMM1, Register::YMM2) } else { (Register::XMM1, Register::XMM2) };
            let mem = MemoryOperand::with_base(Register::RDI);
            let insn = if store {
                Instruction::with3(code_of, mem, mask, data)
            } else {
                let dest = if wide { Register::YMM3 } else { Register::XMM3 };
                Instruction::with3(code_of, dest, mask, mem)
            };
            let code = {
                let mut a = CodeAssembler::new(64).unwrap();
                a.add_instruction(insn.unwrap()).unwrap();
                a.jmp(END).unwrap();
                a.assemble(CODE).unwrap()
            };
            let inside = 8 / elem;
            let count = if wide { 32 / elem } else { 16 / elem };
            for (what, select) in [("all", 0..count), ("inside", 0..inside), ("outside", inside..count)] {
                let mut bytes = [0u8; 32];
                for i in select {
                    bytes[(i * elem) as usize..((i + 1) * elem) as usize].fill(0xff);
                }
                let half = |h: usize| u128::from_le_bytes(bytes[16 * h..16 * h + 16].try_into().unwrap());
                let (mask, high) = (half(0), half(1));
                let mut regs = Regs { rflags: 0x202, ..Default::default() };
                regs.gpr[7] = at;
                regs.fx.set_xmm(1, mask);
                regs.ymmh[1] = high;
                regs.fx.set_xmm(2, 0x1111_1111_2222_2222_3333_3333_4444_4444);
                regs.ymmh[2] = 0x5555_5555_6666_6666_7777_7777_8888_8888;
                let mut data = vec![0u8; DATA_SIZE as usize];
                data[DATA_SIZE as usize - 8..].copy_from_slice(&0x0102_0304_0506_0708u64.to_le_bytes());
                // The manual leaves the order of a masked store's element
                // writes to the processor: one that writes those below the
                // boundary before faulting is reported, not compared.
                let (_, host_data, _) = Native::lock().as_mut().expect("executor").run(&code, &data, &regs);
                if host_data != data && what == "all" && store {
                    eprintln!("{code_of:?}: this host writes elements before the fault; visa writes none");
                    partial += 1;
                    continue;
                }
                let case = Case { code: code.clone(), regs, data, undefined_flags: 0, undefined_before: Vec::new() };
                for tier in [Tier::Interp, Tier::Jit] {
                    match check(&case, tier) {
                        Ok(visa::oracle::Stop::Fault { vector: 14, .. }) => faults += 1,
                        Ok(_) => {}
                        Err(e) => panic!("{code_of:?}, {what} selected, {tier:?}: {e}"),
                    }
                }
            }
        }
    }
    // "all" and "outside" fault in every form, both tiers.
    assert_eq!(faults + 2 * partial, 4 * 4 * 2 * 2, "faulting cases");
}
