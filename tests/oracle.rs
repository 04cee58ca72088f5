//! The differential oracle over every lifted instruction form: random and
//! edge operands, run natively and under visa, compared. Host x86-64 only.
//! `VISA_ORACLE_CASES=N` sets the cases per form (default 200).
#![cfg(target_arch = "x86_64")]

use iced_x86::Mnemonic;
use visa::oracle::assert_forms as run;

#[test]
fn alu() {
    use Mnemonic::*;
    run(&[Add, Adc, Sub, Sbb, Cmp, And, Or, Xor, Test, Inc, Dec, Neg, Not]);
}

#[test]
fn moves() {
    use Mnemonic::*;
    run(&[Mov, Movzx, Movsx, Movsxd, Xchg, Bswap, Lea, Cbw, Cwde, Cdqe, Cwd, Cdq, Cqo]);
}

#[test]
fn conditions() {
    use Mnemonic::*;
    run(&[
        Cmovo, Cmovno, Cmovb, Cmovae, Cmove, Cmovne, Cmovbe, Cmova, Cmovs, Cmovns, Cmovp, Cmovnp, Cmovl, Cmovge,
        Cmovle, Cmovg, Seto, Setno, Setb, Setae, Sete, Setne, Setbe, Seta, Sets, Setns, Setp, Setnp, Setl, Setge,
        Setle, Setg,
    ]);
}

#[test]
fn control() {
    use Mnemonic::*;
    run(&[
        Jmp, Jo, Jno, Jb, Jae, Je, Jne, Jbe, Ja, Js, Jns, Jp, Jnp, Jl, Jge, Jle, Jg, Call, Ret, Loop, Loope, Loopne,
        Jrcxz, Jecxz,
    ]);
}

#[test]
fn stack() {
    use Mnemonic::*;
    run(&[Push, Pop, Pushf, Pushfq, Popf, Popfq, Leave, Enter]);
}

#[test]
fn flag_instructions() {
    use Mnemonic::*;
    run(&[Clc, Stc, Cmc, Cld, Std, Lahf, Sahf, Nop]);
}

#[test]
fn hints_fences_and_breakpoints() {
    use Mnemonic::*;
    run(&[Pause, Mfence, Lfence, Sfence, Prefetchnta, Prefetcht0, Prefetcht1, Prefetcht2, Prefetchw, Endbr64, Int3]);
}

/// In user mode, as the host runs them, these raise #GP.
#[test]
fn privileged_instructions_fault_in_user_mode() {
    use Mnemonic::*;
    run(&[Hlt, Cli, Sti, In, Out]);
}
