//! The x86-64 guest as a V-ISA environment: every `CpuState` field that
//! lifted code touches, declared as a state slot, and the runtime helpers
//! lifted code may call.

use std::sync::OnceLock;

use crate::machine::{CpuState, FLAGS, GPR_NAMES};
use crate::visa::{Env, Helper, Slot, Type};

/// Slots and helpers of the x86-64 environment, by role.
pub struct X86Env {
    pub env: Env,
    pub gpr: [Slot; 16],
    /// CF PF AF ZF SF OF DF (the order of `machine::flag`).
    pub flags: [Slot; 7],
    pub rflags_rest: Slot,
    pub fs_base: Slot,
    pub gs_base: Slot,
    /// The segment selectors ES CS SS DS FS GS.
    pub seg: [Slot; 6],
    /// CR0 (SMSW reads it).
    pub cr0: Slot,
    /// GDTR and IDTR (LGDT and LIDT write them).
    pub gdtr_base: Slot,
    pub gdtr_limit: Slot,
    pub idtr_base: Slot,
    pub idtr_limit: Slot,
    pub xmm: [Slot; 16],
    /// The upper halves (bits 128-255) of YMM0-YMM15.
    pub ymmh: [Slot; 16],
    pub mxcsr: Slot,
    /// The slots `Mode::of` reads (`Frontend::mode_slots`).
    pub mode_slots: [Slot; 2],
    /// MM0-MM7: the significands (bits 0-63) of the x87 registers R0-R7.
    pub mm: [Slot; 8],
    /// The sign and exponent (bits 64-79) of R0-R7, all ones after an MMX
    /// write.
    pub fpr_exp: [Slot; 8],
    /// x87 FSW (TOP in bits 11-13) and the abridged tag word, which MMX
    /// instructions and EMMS set.
    pub fsw: Slot,
    pub ftw: Slot,
    /// The deferred flags' operation and operands (`CpuState::cc_op`,
    /// `cc_a`, `cc_b`; see `machine::deferred`).
    pub cc_op: Slot,
    pub cc_a: Slot,
    pub cc_b: Slot,
    pub cpuid: Helper,
    pub rdtsc: Helper,
    pub port_in: Helper,
    pub port_out: Helper,
    pub rdrand: Helper,
    /// A segment register load: (`machine::segments::Load`, selector,
    /// CPL) -> the selector loaded, or #GP (#UD into 32-bit code).
    pub segment: Helper,
    /// SGDT (0) and SIDT (1): (which) -> (base, limit).
    pub descriptor_table: Helper,
    /// MOV to and from CR0 CR2 CR3 CR4 CR8 and DR0-DR7: (op, value) ->
    /// value read; see `machine::control`.
    pub sysreg: Helper,
    /// PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM: (xmm1, xmm2/m128, length 1,
    /// length 2, control) -> (XMM0 mask, index | flags << 8).
    pub pcmpstr: Helper,
    /// AES-NI, PCLMULQDQ and SHA: (`machine::crypto::CryptoOp`, dst, src,
    /// XMM0, imm8) -> result.
    pub crypto: Helper,
    /// VCVTPH2PS VCVTPS2PH: (`machine::f16c::F16cOp`, four lanes,
    /// rounding and control bits) -> (four converted lanes, MXCSR flags).
    pub f16c: Helper,
    /// The x87 FPU: (encoded `x87_op::X87Op`, memory address,
    /// instruction address) -> ().
    pub x87: Helper,
    /// XSAVE XSAVEOPT XSAVEC XRSTOR XGETBV XSETBV: (encoded
    /// `xsave::XOp`, memory address) -> ().
    pub xsave: Helper,
    /// VMASKMOV VPMASKMOV: (op, address, mask lo, mask hi, data lo, data
    /// hi) -> (loaded lo, loaded hi); see `machine::vector_mem`.
    pub maskmov: Helper,
    /// VGATHER VPGATHER: (op, base, index lo, index hi, mask lo, mask hi,
    /// destination lo, destination hi) -> (destination lo, hi).
    pub gather: Helper,
}

const XMM_NAMES: [&str; 16] = [
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
    "xmm14", "xmm15",
];

const SEG_NAMES: [&str; 6] = ["es", "cs", "ss", "ds", "fs", "gs"];
const YMMH_NAMES: [&str; 16] = [
    "ymmh0", "ymmh1", "ymmh2", "ymmh3", "ymmh4", "ymmh5", "ymmh6", "ymmh7", "ymmh8", "ymmh9", "ymmh10", "ymmh11",
    "ymmh12", "ymmh13", "ymmh14", "ymmh15",
];

const MM_NAMES: [&str; 8] = ["mm0", "mm1", "mm2", "mm3", "mm4", "mm5", "mm6", "mm7"];

const FPR_EXP_NAMES: [&str; 8] =
    ["fpr0_exp", "fpr1_exp", "fpr2_exp", "fpr3_exp", "fpr4_exp", "fpr5_exp", "fpr6_exp", "fpr7_exp"];

impl X86Env {
    fn build() -> X86Env {
        let mut env = Env::new();
        let gpr = std::array::from_fn(|i| env.slot(GPR_NAMES[i], Type::I64, (CpuState::GPR_OFFSET + 8 * i) as u32));
        let flags = std::array::from_fn(|i| env.slot(FLAGS[i].0, Type::I1, (CpuState::FLAGS_OFFSET + i) as u32));
        let rflags_rest = env.slot("rflags_rest", Type::I64, CpuState::RFLAGS_REST_OFFSET as u32);
        let fs_base = env.slot("fs_base", Type::I64, CpuState::FS_BASE_OFFSET as u32);
        let gs_base = env.slot("gs_base", Type::I64, CpuState::GS_BASE_OFFSET as u32);
        let seg = std::array::from_fn(|i| env.slot(SEG_NAMES[i], Type::I16, (CpuState::SEG_OFFSET + 2 * i) as u32));
        let cr0 = env.slot("cr0", Type::I64, CpuState::CR0_OFFSET as u32);
        let gdtr_base = env.slot("gdtr_base", Type::I64, CpuState::GDTR_BASE_OFFSET as u32);
        let gdtr_limit = env.slot("gdtr_limit", Type::I16, CpuState::GDTR_LIMIT_OFFSET as u32);
        let idtr_base = env.slot("idtr_base", Type::I64, CpuState::IDTR_BASE_OFFSET as u32);
        let idtr_limit = env.slot("idtr_limit", Type::I16, CpuState::IDTR_LIMIT_OFFSET as u32);
        let xmm = std::array::from_fn(|i| env.slot(XMM_NAMES[i], Type::V128, (CpuState::XMM_OFFSET + 16 * i) as u32));
        let ymmh =
            std::array::from_fn(|i| env.slot(YMMH_NAMES[i], Type::V128, (CpuState::YMMH_OFFSET + 16 * i) as u32));
        let mxcsr = env.slot("mxcsr", Type::I32, CpuState::MXCSR_OFFSET as u32);
        let mm = std::array::from_fn(|i| env.slot(MM_NAMES[i], Type::I64, CpuState::mm_offset(i) as u32));
        let fpr_exp =
            std::array::from_fn(|i| env.slot(FPR_EXP_NAMES[i], Type::I16, CpuState::st_exponent_offset(i) as u32));
        let fsw = env.slot("fsw", Type::I16, CpuState::FSW_OFFSET as u32);
        let ftw = env.slot("ftw", Type::I8, CpuState::FTW_OFFSET as u32);
        let cc_op = env.slot("cc_op", Type::I8, CpuState::CC_OP_OFFSET as u32);
        let cc_a = env.slot("cc_a", Type::I64, CpuState::CC_A_OFFSET as u32);
        let cc_b = env.slot("cc_b", Type::I64, CpuState::CC_B_OFFSET as u32);
        let cpuid = env.helper(
            "cpuid",
            &[Type::I32, Type::I32, Type::I8],
            &[Type::I32, Type::I32, Type::I32, Type::I32],
            false,
        );
        let rdtsc = env.helper("rdtsc", &[], &[Type::I64], false);
        let port_in = env.helper("port_in", &[Type::I16, Type::I8], &[Type::I32], false);
        let port_out = env.helper("port_out", &[Type::I16, Type::I8, Type::I32], &[], false);
        let rdrand = env.helper("rdrand", &[], &[Type::I64], false);
        let segment = env.helper("segment", &[Type::I8, Type::I16, Type::I8], &[Type::I16], false);
        let descriptor_table = env.helper("descriptor_table", &[Type::I8], &[Type::I64, Type::I16], false);
        let sysreg = env.helper("sysreg", &[Type::I32, Type::I64], &[Type::I64], false);
        let pcmpstr = env.helper(
            "pcmpstr",
            &[Type::V128, Type::V128, Type::I64, Type::I64, Type::I32],
            &[Type::V128, Type::I32],
            true,
        );
        let crypto =
            env.helper("crypto", &[Type::I32, Type::V128, Type::V128, Type::V128, Type::I32], &[Type::V128], true);
        let f16c = env.helper("f16c", &[Type::I32, Type::V128, Type::I32], &[Type::V128, Type::I32], true);
        let x87 = env.helper("x87", &[Type::I64, Type::I64, Type::I64], &[], false);
        let xsave = env.helper("xsave", &[Type::I64, Type::I64], &[], false);
        let v = Type::V128;
        let maskmov = env.helper("maskmov", &[Type::I64, Type::I64, v, v, v, v], &[v, v], false);
        let gather = env.helper("gather", &[Type::I64, Type::I64, v, v, v, v, v, v], &[v, v], false);
        X86Env {
            env,
            gpr,
            flags,
            rflags_rest,
            fs_base,
            gs_base,
            seg,
            cr0,
            gdtr_base,
            gdtr_limit,
            idtr_base,
            idtr_limit,
            xmm,
            ymmh,
            mxcsr,
            mode_slots: [seg[1], mxcsr],
            mm,
            fpr_exp,
            fsw,
            ftw,
            cc_op,
            cc_a,
            cc_b,
            cpuid,
            rdtsc,
            port_in,
            port_out,
            rdrand,
            segment,
            descriptor_table,
            sysreg,
            pcmpstr,
            crypto,
            f16c,
            x87,
            xsave,
            maskmov,
            gather,
        }
    }

    /// The one x86-64 environment.
    pub fn get() -> &'static X86Env {
        static ENV: OnceLock<X86Env> = OnceLock::new();
        ENV.get_or_init(X86Env::build)
    }
}
