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
    pub xmm: [Slot; 16],
    pub mxcsr: Slot,
    pub cpuid: Helper,
    pub rdtsc: Helper,
    pub port_in: Helper,
    pub port_out: Helper,
    pub rdrand: Helper,
    /// PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM: (xmm1, xmm2/m128, length 1,
    /// length 2, control) -> (XMM0 mask, index | flags << 8).
    pub pcmpstr: Helper,
    /// The x87 FPU: (encoded `x87_op::X87Op`, memory address,
    /// instruction address) -> ().
    pub x87: Helper,
}

const XMM_NAMES: [&str; 16] = [
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
    "xmm14", "xmm15",
];

impl X86Env {
    fn build() -> X86Env {
        let mut env = Env::new();
        let gpr = std::array::from_fn(|i| env.slot(GPR_NAMES[i], Type::I64, (CpuState::GPR_OFFSET + 8 * i) as u32));
        let flags = std::array::from_fn(|i| env.slot(FLAGS[i].0, Type::I1, (CpuState::FLAGS_OFFSET + i) as u32));
        let rflags_rest = env.slot("rflags_rest", Type::I64, CpuState::RFLAGS_REST_OFFSET as u32);
        let fs_base = env.slot("fs_base", Type::I64, CpuState::FS_BASE_OFFSET as u32);
        let gs_base = env.slot("gs_base", Type::I64, CpuState::GS_BASE_OFFSET as u32);
        let xmm = std::array::from_fn(|i| env.slot(XMM_NAMES[i], Type::V128, (CpuState::XMM_OFFSET + 16 * i) as u32));
        let mxcsr = env.slot("mxcsr", Type::I32, CpuState::MXCSR_OFFSET as u32);
        let cpuid = env.helper("cpuid", &[Type::I32, Type::I32], &[Type::I32, Type::I32, Type::I32, Type::I32], false);
        let rdtsc = env.helper("rdtsc", &[], &[Type::I64], false);
        let port_in = env.helper("port_in", &[Type::I16, Type::I8], &[Type::I32], false);
        let port_out = env.helper("port_out", &[Type::I16, Type::I8, Type::I32], &[], false);
        let rdrand = env.helper("rdrand", &[], &[Type::I64], false);
        let pcmpstr = env.helper(
            "pcmpstr",
            &[Type::V128, Type::V128, Type::I64, Type::I64, Type::I32],
            &[Type::V128, Type::I32],
            true,
        );
        let x87 = env.helper("x87", &[Type::I64, Type::I64, Type::I64], &[], false);
        X86Env {
            env,
            gpr,
            flags,
            rflags_rest,
            fs_base,
            gs_base,
            xmm,
            mxcsr,
            cpuid,
            rdtsc,
            port_in,
            port_out,
            rdrand,
            pcmpstr,
            x87,
        }
    }

    /// The one x86-64 environment.
    pub fn get() -> &'static X86Env {
        static ENV: OnceLock<X86Env> = OnceLock::new();
        ENV.get_or_init(X86Env::build)
    }
}
