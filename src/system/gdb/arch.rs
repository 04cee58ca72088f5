//! The x86-64 target as gdb sees it: the register file (general-purpose,
//! RIP, EFLAGS, segments, x87, SSE, FS and GS bases) in the order of the
//! target description visa sends, and its conversion from and to
//! `CpuState`.

use gdbstub::arch::{Arch, Registers};

use crate::machine::CpuState;

/// The architecture for gdbstub.
pub enum X86_64 {}

impl Arch for X86_64 {
    type Usize = u64;
    type Registers = Regs;
    type BreakpointKind = usize;
    type RegId = ();

    fn target_description_xml() -> Option<&'static str> {
        Some(TARGET_XML)
    }
}

/// The target description: gdb's i386 core, SSE and segment-base features,
/// registers numbered in the order `Regs` serialises them.
const TARGET_XML: &str = r#"<?xml version="1.0"?>
<!DOCTYPE target SYSTEM "gdb-target.dtd">
<target version="1.0">
  <architecture>i386:x86-64</architecture>
  <feature name="org.gnu.gdb.i386.core">
    <flags id="i386_eflags" size="4">
      <field name="CF" start="0" end="0"/><field name="" start="1" end="1"/>
      <field name="PF" start="2" end="2"/><field name="AF" start="4" end="4"/>
      <field name="ZF" start="6" end="6"/><field name="SF" start="7" end="7"/>
      <field name="TF" start="8" end="8"/><field name="IF" start="9" end="9"/>
      <field name="DF" start="10" end="10"/><field name="OF" start="11" end="11"/>
      <field name="NT" start="14" end="14"/><field name="RF" start="16" end="16"/>
      <field name="VM" start="17" end="17"/><field name="AC" start="18" end="18"/>
      <field name="VIF" start="19" end="19"/><field name="VIP" start="20" end="20"/>
      <field name="ID" start="21" end="21"/>
    </flags>
    <reg name="rax" bitsize="64" type="int64"/><reg name="rbx" bitsize="64" type="int64"/>
    <reg name="rcx" bitsize="64" type="int64"/><reg name="rdx" bitsize="64" type="int64"/>
    <reg name="rsi" bitsize="64" type="int64"/><reg name="rdi" bitsize="64" type="int64"/>
    <reg name="rbp" bitsize="64" type="data_ptr"/><reg name="rsp" bitsize="64" type="data_ptr"/>
    <reg name="r8" bitsize="64" type="int64"/><reg name="r9" bitsize="64" type="int64"/>
    <reg name="r10" bitsize="64" type="int64"/><reg name="r11" bitsize="64" type="int64"/>
    <reg name="r12" bitsize="64" type="int64"/><reg name="r13" bitsize="64" type="int64"/>
    <reg name="r14" bitsize="64" type="int64"/><reg name="r15" bitsize="64" type="int64"/>
    <reg name="rip" bitsize="64" type="code_ptr"/>
    <reg name="eflags" bitsize="32" type="i386_eflags"/>
    <reg name="cs" bitsize="32" type="int32"/><reg name="ss" bitsize="32" type="int32"/>
    <reg name="ds" bitsize="32" type="int32"/><reg name="es" bitsize="32" type="int32"/>
    <reg name="fs" bitsize="32" type="int32"/><reg name="gs" bitsize="32" type="int32"/>
    <reg name="st0" bitsize="80" type="i387_ext"/><reg name="st1" bitsize="80" type="i387_ext"/>
    <reg name="st2" bitsize="80" type="i387_ext"/><reg name="st3" bitsize="80" type="i387_ext"/>
    <reg name="st4" bitsize="80" type="i387_ext"/><reg name="st5" bitsize="80" type="i387_ext"/>
    <reg name="st6" bitsize="80" type="i387_ext"/><reg name="st7" bitsize="80" type="i387_ext"/>
    <reg name="fctrl" bitsize="32" type="int" group="float"/>
    <reg name="fstat" bitsize="32" type="int" group="float"/>
    <reg name="ftag" bitsize="32" type="int" group="float"/>
    <reg name="fiseg" bitsize="32" type="int" group="float"/>
    <reg name="fioff" bitsize="32" type="int" group="float"/>
    <reg name="foseg" bitsize="32" type="int" group="float"/>
    <reg name="fooff" bitsize="32" type="int" group="float"/>
    <reg name="fop" bitsize="32" type="int" group="float"/>
  </feature>
  <feature name="org.gnu.gdb.i386.sse">
    <vector id="v8bf16" type="bfloat16" count="8"/>
    <vector id="v4f" type="ieee_single" count="4"/>
    <vector id="v2d" type="ieee_double" count="2"/>
    <vector id="v16i8" type="int8" count="16"/>
    <vector id="v8i16" type="int16" count="8"/>
    <vector id="v4i32" type="int32" count="4"/>
    <vector id="v2i64" type="int64" count="2"/>
    <union id="vec128">
      <field name="v8_bfloat16" type="v8bf16"/><field name="v4_float" type="v4f"/>
      <field name="v2_double" type="v2d"/><field name="v16_int8" type="v16i8"/>
      <field name="v8_int16" type="v8i16"/><field name="v4_int32" type="v4i32"/>
      <field name="v2_int64" type="v2i64"/><field name="uint128" type="uint128"/>
    </union>
    <flags id="i386_mxcsr" size="4">
      <field name="IE" start="0" end="0"/><field name="DE" start="1" end="1"/>
      <field name="ZE" start="2" end="2"/><field name="OE" start="3" end="3"/>
      <field name="UE" start="4" end="4"/><field name="PE" start="5" end="5"/>
      <field name="DAZ" start="6" end="6"/><field name="IM" start="7" end="7"/>
      <field name="DM" start="8" end="8"/><field name="ZM" start="9" end="9"/>
      <field name="OM" start="10" end="10"/><field name="UM" start="11" end="11"/>
      <field name="PM" start="12" end="12"/><field name="FZ" start="15" end="15"/>
    </flags>
    <reg name="xmm0" bitsize="128" type="vec128"/><reg name="xmm1" bitsize="128" type="vec128"/>
    <reg name="xmm2" bitsize="128" type="vec128"/><reg name="xmm3" bitsize="128" type="vec128"/>
    <reg name="xmm4" bitsize="128" type="vec128"/><reg name="xmm5" bitsize="128" type="vec128"/>
    <reg name="xmm6" bitsize="128" type="vec128"/><reg name="xmm7" bitsize="128" type="vec128"/>
    <reg name="xmm8" bitsize="128" type="vec128"/><reg name="xmm9" bitsize="128" type="vec128"/>
    <reg name="xmm10" bitsize="128" type="vec128"/><reg name="xmm11" bitsize="128" type="vec128"/>
    <reg name="xmm12" bitsize="128" type="vec128"/><reg name="xmm13" bitsize="128" type="vec128"/>
    <reg name="xmm14" bitsize="128" type="vec128"/><reg name="xmm15" bitsize="128" type="vec128"/>
    <reg name="mxcsr" bitsize="32" type="i386_mxcsr" group="vector"/>
  </feature>
  <feature name="org.gnu.gdb.i386.segments">
    <reg name="fs_base" bitsize="64" type="int"/>
    <reg name="gs_base" bitsize="64" type="int"/>
  </feature>
</target>
"#;

/// The registers gdb reads and writes, in the description's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Regs {
    pub gpr: [u64; 16],
    pub rip: u64,
    pub eflags: u32,
    /// CS, SS, DS, ES, FS, GS.
    pub seg: [u32; 6],
    /// ST(0)..ST(7), 80 bits each.
    pub st: [u128; 8],
    /// fctrl, fstat, ftag (the full tag word), fiseg, fioff, foseg, fooff, fop.
    pub fpu: [u32; 8],
    pub xmm: [u128; 16],
    pub mxcsr: u32,
    pub fs_base: u64,
    pub gs_base: u64,
}

/// Size of the serialised register file.
const SIZE: usize = 16 * 8 + 8 + 4 + 6 * 4 + 8 * 10 + 8 * 4 + 16 * 16 + 4 + 2 * 8;

impl Registers for Regs {
    type ProgramCounter = u64;

    fn pc(&self) -> u64 {
        self.rip
    }

    fn gdb_serialize(&self, mut write_byte: impl FnMut(Option<u8>)) {
        let mut put = |bytes: &[u8]| bytes.iter().for_each(|b| write_byte(Some(*b)));
        self.gpr.iter().for_each(|r| put(&r.to_le_bytes()));
        put(&self.rip.to_le_bytes());
        put(&self.eflags.to_le_bytes());
        self.seg.iter().for_each(|s| put(&s.to_le_bytes()));
        self.st.iter().for_each(|s| put(&s.to_le_bytes()[..10]));
        self.fpu.iter().for_each(|f| put(&f.to_le_bytes()));
        self.xmm.iter().for_each(|x| put(&x.to_le_bytes()));
        put(&self.mxcsr.to_le_bytes());
        put(&self.fs_base.to_le_bytes());
        put(&self.gs_base.to_le_bytes());
    }

    fn gdb_deserialize(&mut self, bytes: &[u8]) -> Result<(), ()> {
        if bytes.len() < SIZE {
            return Err(());
        }
        let mut at = 0;
        let mut take = |n: usize| {
            let mut v = [0u8; 16];
            v[..n].copy_from_slice(&bytes[at..at + n]);
            at += n;
            u128::from_le_bytes(v)
        };
        self.gpr.iter_mut().for_each(|r| *r = take(8) as u64);
        self.rip = take(8) as u64;
        self.eflags = take(4) as u32;
        self.seg.iter_mut().for_each(|s| *s = take(4) as u32);
        self.st.iter_mut().for_each(|s| *s = take(10));
        self.fpu.iter_mut().for_each(|f| *f = take(4) as u32);
        self.xmm.iter_mut().for_each(|x| *x = take(16));
        self.mxcsr = take(4) as u32;
        self.fs_base = take(8) as u64;
        self.gs_base = take(8) as u64;
        Ok(())
    }
}

/// `CpuState::seg` is in encoding order (ES CS SS DS FS GS); gdb's is
/// CS SS DS ES FS GS.
const SEG_ORDER: [usize; 6] = [1, 2, 3, 0, 4, 5];

/// The full x87 tag of an 80-bit value: valid 0, zero 1, special 2.
fn tag_of(v: u128) -> u32 {
    let exponent = (v >> 64) as u16 & 0x7fff;
    let significand = v as u64;
    match exponent {
        0 if significand == 0 => 1,
        0 | 0x7fff => 2,
        _ if significand >> 63 == 0 => 2,
        _ => 0,
    }
}

impl Regs {
    pub fn of(cpu: &CpuState) -> Regs {
        // The full tag word from FXSAVE's abridged one (a bit per register, 1 valid).
        let ftag = (0..8).fold(0u32, |acc, r| {
            let tag = if cpu.ftw >> r & 1 == 0 { 3 } else { tag_of(cpu.st[r]) };
            acc | tag << (2 * r)
        });
        Regs {
            gpr: cpu.gpr,
            rip: cpu.rip,
            eflags: cpu.rflags() as u32,
            seg: SEG_ORDER.map(|i| cpu.seg[i] as u32),
            st: std::array::from_fn(|i| cpu.st(i)),
            fpu: [cpu.fcw as u32, cpu.fsw as u32, ftag, 0, cpu.fip as u32, 0, cpu.fdp as u32, cpu.fop as u32],
            xmm: cpu.xmm,
            mxcsr: cpu.mxcsr,
            fs_base: cpu.fs_base,
            gs_base: cpu.gs_base,
        }
    }

    /// Writes the registers into `cpu` (EFLAGS keeps its upper half).
    pub fn apply(&self, cpu: &mut CpuState) {
        cpu.gpr = self.gpr;
        cpu.rip = self.rip;
        cpu.set_rflags((cpu.rflags() & !0xffff_ffff) | self.eflags as u64);
        for (k, i) in SEG_ORDER.iter().enumerate() {
            cpu.seg[*i] = self.seg[k] as u16;
        }
        cpu.fcw = self.fpu[0] as u16;
        cpu.fsw = self.fpu[1] as u16;
        cpu.ftw = (0..8).fold(0u8, |acc, r| acc | (((self.fpu[2] >> (2 * r)) & 3 != 3) as u8) << r);
        cpu.fop = self.fpu[7] as u16 & 0x7ff;
        let top = cpu.x87_top();
        for (i, v) in self.st.iter().enumerate() {
            cpu.st[(top + i) & 7] = *v;
        }
        cpu.xmm = self.xmm;
        cpu.mxcsr = self.mxcsr;
        cpu.fs_base = self.fs_base;
        cpu.gs_base = self.gs_base;
    }
}
