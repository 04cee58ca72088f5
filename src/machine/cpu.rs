//! `CpuState`: the architectural state of one x86-64 CPU, one `#[repr(C)]`
//! record shared by the frontend (which declares its fields as V-ISA state
//! slots), both execution tiers, the loaders and the debugger.
//!
//! The six arithmetic flags and DF are kept one per byte, so each is an
//! independent V-ISA slot that dead-flag elimination can reason about;
//! `rflags()` assembles the architectural RFLAGS.

use std::mem::offset_of;

/// General-purpose registers in x86 encoding order.
pub const GPR_NAMES: [&str; 16] =
    ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];

/// The flags kept one per byte, in `CpuState::flags` order, with their RFLAGS bit.
pub const FLAGS: [(&str, u32); 7] = [("cf", 0), ("pf", 2), ("af", 4), ("zf", 6), ("sf", 7), ("of", 11), ("df", 10)];

/// MXCSR bits the processor implements (FXSAVE's MXCSR_MASK): bits 0-15,
/// DAZ included.
pub const MXCSR_MASK: u32 = 0xffff;

/// CR4.FSGSBASE: RDFSBASE, RDGSBASE, WRFSBASE and WRGSBASE may run.
pub const CR4_FSGSBASE: u64 = 1 << 16;

/// CR4.OSXSAVE: the OS manages state with XSAVE (XGETBV and AVX allowed).
pub const CR4_OSXSAVE: u64 = 1 << 18;

/// The XCR0 bits visa implements: x87, SSE, AVX.
pub const XCR0_SUPPORTED: u64 = 7;

/// DR6 and DR7 at reset: their bits that read as 1.
pub const DR6_INIT: u64 = 0xffff_0ff0;
pub const DR7_INIT: u64 = 0x400;

/// RFLAGS bits kept in `CpuState::flags` rather than `rflags_rest`.
pub const SPLIT_FLAGS_MASK: u64 = 0x0cd5;

/// Index of each split flag in `CpuState::flags`.
pub mod flag {
    pub const CF: usize = 0;
    pub const PF: usize = 1;
    pub const AF: usize = 2;
    pub const ZF: usize = 3;
    pub const SF: usize = 4;
    pub const OF: usize = 5;
    pub const DF: usize = 6;
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[repr(C, align(16))]
pub struct CpuState {
    pub gpr: [u64; 16],
    pub rip: u64,
    /// RFLAGS without the split flags (bit 1 reads as 1; IF, TF, AC, ID...).
    pub rflags_rest: u64,
    pub fs_base: u64,
    pub gs_base: u64,
    /// CF PF AF ZF SF OF DF, each 0 or 1, then padding.
    pub flags: [u8; 8],
    pub mxcsr: u32,
    /// Segment selectors ES CS SS DS FS GS.
    pub seg: [u16; 6],
    /// The processor model presented (`cpuid::Model`'s code; 0 is `max`):
    /// what CPUID reports and which instructions raise #UD.
    pub cpu_model: u8,
    pub _pad: [u8; 7],
    pub xmm: [u128; 16],
    pub cr0: u64,
    pub cr2: u64,
    pub cr3: u64,
    pub cr4: u64,
    pub efer: u64,
    /// x87 control word, status word (TOP in bits 11-13), abridged tag
    /// word (bit i set: physical register i holds a value), last opcode.
    pub fcw: u16,
    pub fsw: u16,
    pub ftw: u8,
    pub _x87_pad: u8,
    pub fop: u16,
    /// Address of the last x87 instruction and of its memory operand.
    pub fip: u64,
    pub fdp: u64,
    /// The x87 data registers R0-R7 (physical order; ST(i) is
    /// R[(TOP + i) mod 8]), each an 80-bit value in the low bits. The MMX
    /// register MMi is the significand (bits 0-63) of Ri.
    pub st: [u128; 8],
    /// The upper halves (bits 128-255) of YMM0-YMM15; XMMi is the lower half.
    pub ymmh: [u128; 16],
    /// XCR0: the state components XSAVE manages and the OS enabled (bit 0
    /// x87, 1 SSE, 2 AVX); AVX instructions raise #UD unless CR4.OSXSAVE is
    /// set and bits 1 and 2 are.
    pub xcr0: u64,
    pub _xcr_pad: u64,
    /// GDTR and IDTR as LGDT and LIDT load them (what SGDT and SIDT store
    /// at CPL 0).
    pub gdtr_base: u64,
    pub idtr_base: u64,
    pub gdtr_limit: u16,
    pub idtr_limit: u16,
    pub _dtr_pad: u32,
    /// CR8: the task-priority register (bits 0-3).
    pub cr8: u64,
    /// DR0-DR7 (DR4 and DR5 unused: they name DR6 and DR7).
    pub dr: [u64; 8],
    /// IA32_XSS: the supervisor state components XSAVES and XRSTORS manage.
    pub xss: u64,
    pub _sys_pad: u64,
}

impl Default for CpuState {
    fn default() -> CpuState {
        CpuState {
            gpr: [0; 16],
            rip: 0,
            rflags_rest: 0x2,
            fs_base: 0,
            gs_base: 0,
            flags: [0; 8],
            mxcsr: 0x1f80,
            seg: [0; 6],
            cpu_model: 0,
            _pad: [0; 7],
            xmm: [0; 16],
            cr0: 0,
            cr2: 0,
            cr3: 0,
            cr4: 0,
            efer: 0,
            fcw: 0x037f,
            fsw: 0,
            ftw: 0,
            _x87_pad: 0,
            fop: 0,
            fip: 0,
            fdp: 0,
            st: [0; 8],
            ymmh: [0; 16],
            xcr0: 1,
            _xcr_pad: 0,
            gdtr_base: 0,
            idtr_base: 0,
            gdtr_limit: 0,
            idtr_limit: 0,
            _dtr_pad: 0,
            cr8: 0,
            dr: [0, 0, 0, 0, 0, 0, DR6_INIT, DR7_INIT],
            xss: 0,
            _sys_pad: 0,
        }
    }
}

// No implicit padding: every byte of the record belongs to a field.
const _: () = assert!(
    offset_of!(CpuState, xmm) == 192
        && offset_of!(CpuState, st) == 512
        && offset_of!(CpuState, ymmh) == 640
        && std::mem::size_of::<CpuState>() == 1024
);

impl CpuState {
    /// A CPU in 64-bit long mode at `rip`, with x87, SSE and AVX enabled
    /// (CR0: PE MP ET NE WP AM PG; CR4: PAE OSFXSR OSXMMEXCPT OSXSAVE; XCR0:
    /// x87 SSE AVX; EFER: LME LMA SCE); segments and the rest are the
    /// caller's.
    pub fn long_mode(rip: u64) -> CpuState {
        CpuState { rip, cr0: 0x8005_0033, cr4: 0x4_0620, efer: 0x0501, xcr0: XCR0_SUPPORTED, ..CpuState::default() }
    }

    /// AVX instructions may run: CR4.OSXSAVE and XCR0's SSE and AVX bits.
    pub fn avx_enabled(&self) -> bool {
        self.cr4 & CR4_OSXSAVE != 0 && self.xcr0 & 6 == 6
    }

    /// YMMi as its two 128-bit halves (low, high).
    pub fn ymm(&self, i: usize) -> [u128; 2] {
        [self.xmm[i], self.ymmh[i]]
    }

    pub const GPR_OFFSET: usize = offset_of!(CpuState, gpr);
    pub const RIP_OFFSET: usize = offset_of!(CpuState, rip);
    pub const RFLAGS_REST_OFFSET: usize = offset_of!(CpuState, rflags_rest);
    pub const FS_BASE_OFFSET: usize = offset_of!(CpuState, fs_base);
    pub const GS_BASE_OFFSET: usize = offset_of!(CpuState, gs_base);
    pub const FLAGS_OFFSET: usize = offset_of!(CpuState, flags);
    pub const MXCSR_OFFSET: usize = offset_of!(CpuState, mxcsr);
    pub const SEG_OFFSET: usize = offset_of!(CpuState, seg);
    pub const XMM_OFFSET: usize = offset_of!(CpuState, xmm);
    pub const CR0_OFFSET: usize = offset_of!(CpuState, cr0);
    pub const FCW_OFFSET: usize = offset_of!(CpuState, fcw);
    pub const FSW_OFFSET: usize = offset_of!(CpuState, fsw);
    pub const FTW_OFFSET: usize = offset_of!(CpuState, ftw);
    pub const ST_OFFSET: usize = offset_of!(CpuState, st);
    pub const YMMH_OFFSET: usize = offset_of!(CpuState, ymmh);
    pub const XCR0_OFFSET: usize = offset_of!(CpuState, xcr0);
    pub const CR4_OFFSET: usize = offset_of!(CpuState, cr4);
    pub const GDTR_BASE_OFFSET: usize = offset_of!(CpuState, gdtr_base);
    pub const IDTR_BASE_OFFSET: usize = offset_of!(CpuState, idtr_base);
    pub const GDTR_LIMIT_OFFSET: usize = offset_of!(CpuState, gdtr_limit);
    pub const IDTR_LIMIT_OFFSET: usize = offset_of!(CpuState, idtr_limit);

    /// Offset of MMi, the 64-bit significand (bits 0-63) of the x87
    /// register Ri, inside `st[i]` as the host orders a `u128`'s bytes.
    pub const fn mm_offset(i: usize) -> usize {
        Self::ST_OFFSET + 16 * i + if cfg!(target_endian = "big") { 8 } else { 0 }
    }

    /// Offset of the sign and exponent (bits 64-79) of the x87 register Ri.
    pub const fn st_exponent_offset(i: usize) -> usize {
        Self::ST_OFFSET + 16 * i + if cfg!(target_endian = "big") { 6 } else { 8 }
    }

    /// The x87 stack top (FSW bits 11-13).
    pub fn x87_top(&self) -> usize {
        ((self.fsw >> 11) & 7) as usize
    }

    /// ST(i): the 80-bit register i places down from the top.
    pub fn st(&self, i: usize) -> u128 {
        self.st[(self.x87_top() + i) & 7]
    }

    /// The 512-byte FXSAVE image (64-bit format) of the x87 and SSE state.
    pub fn fxsave_image(&self) -> [u8; 512] {
        let mut img = [0u8; 512];
        img[0..2].copy_from_slice(&self.fcw.to_le_bytes());
        img[2..4].copy_from_slice(&self.fsw.to_le_bytes());
        img[4] = self.ftw;
        img[6..8].copy_from_slice(&self.fop.to_le_bytes());
        img[8..16].copy_from_slice(&self.fip.to_le_bytes());
        img[16..24].copy_from_slice(&self.fdp.to_le_bytes());
        img[24..28].copy_from_slice(&self.mxcsr.to_le_bytes());
        img[28..32].copy_from_slice(&MXCSR_MASK.to_le_bytes());
        for i in 0..8 {
            img[32 + 16 * i..42 + 16 * i].copy_from_slice(&self.st(i).to_le_bytes()[..10]);
        }
        for (i, x) in self.xmm.iter().enumerate() {
            img[160 + 16 * i..176 + 16 * i].copy_from_slice(&x.to_le_bytes());
        }
        img
    }

    /// Loads the x87 and SSE state from a 512-byte FXSAVE image (64-bit
    /// format); MXCSR's reserved bits are the caller's to check.
    pub fn fxrstor_image(&mut self, img: &[u8; 512]) {
        let u16_at = |at: usize| u16::from_le_bytes([img[at], img[at + 1]]);
        let u64_at = |at: usize| u64::from_le_bytes(img[at..at + 8].try_into().unwrap());
        self.fcw = u16_at(0);
        self.fsw = u16_at(2);
        self.ftw = img[4];
        self.fop = u16_at(6) & 0x7ff;
        self.fip = u64_at(8);
        self.fdp = u64_at(16);
        self.mxcsr = u32::from_le_bytes(img[24..28].try_into().unwrap());
        let top = self.x87_top();
        for i in 0..8 {
            let mut v = [0u8; 16];
            v[..10].copy_from_slice(&img[32 + 16 * i..42 + 16 * i]);
            self.st[(top + i) & 7] = u128::from_le_bytes(v);
        }
        for (i, x) in self.xmm.iter_mut().enumerate() {
            *x = u128::from_le_bytes(img[160 + 16 * i..176 + 16 * i].try_into().unwrap());
        }
    }

    /// The architectural RFLAGS.
    pub fn rflags(&self) -> u64 {
        FLAGS
            .iter()
            .enumerate()
            .fold(self.rflags_rest | 0x2, |acc, (i, (_, bit))| acc | ((self.flags[i] as u64 & 1) << bit))
    }

    /// Sets RFLAGS, splitting out the flags kept per byte.
    pub fn set_rflags(&mut self, value: u64) {
        for (i, (_, bit)) in FLAGS.iter().enumerate() {
            self.flags[i] = ((value >> bit) & 1) as u8;
        }
        self.rflags_rest = (value & !SPLIT_FLAGS_MASK) | 0x2;
    }

    /// The state as bytes, for the V-ISA tiers (slots address it by offset).
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: CpuState is repr(C), made only of integers, with explicit
        // padding fields, so every byte is initialised and any byte pattern
        // is a valid value.
        unsafe { std::slice::from_raw_parts_mut(self as *mut CpuState as *mut u8, std::mem::size_of::<CpuState>()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rflags_round_trips_through_the_split_flags() {
        let mut s = CpuState::default();
        s.set_rflags(0x0000_0000_0024_0ed7);
        assert_eq!(s.flags[flag::CF], 1);
        assert_eq!(s.flags[flag::DF], 1);
        assert_eq!(s.flags[flag::OF], 1);
        assert_eq!(s.rflags(), 0x0024_0ed7);
        assert_eq!(std::mem::size_of::<CpuState>() % 16, 0);
        assert_eq!(CpuState::XMM_OFFSET % 16, 0);
    }

    #[test]
    fn mmx_registers_are_the_x87_significands() {
        let mut s = CpuState::default();
        s.st[3] = 0x1234_0123_4567_89ab_cdef;
        let bytes = s.as_bytes_mut();
        let mm = CpuState::mm_offset(3);
        let exp = CpuState::st_exponent_offset(3);
        assert_eq!(u64::from_ne_bytes(bytes[mm..mm + 8].try_into().unwrap()), 0x0123_4567_89ab_cdef);
        assert_eq!(u16::from_ne_bytes(bytes[exp..exp + 2].try_into().unwrap()), 0x1234);
    }
}
