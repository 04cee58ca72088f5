//! Errors of the parser, verifier and binary decoder: clear, located, and
//! never a panic on bad input.

use visa::visa::text::{parse_module, print_module};
use visa::visa::{Block, Builder, Env, Imm, IntCC, MemFlags, Opcode, Type, Value, codec, verify};

const SAMPLE: &str = "\
slot %a: i64 @ 0
slot %f: i1 @ 8
helper @add3(i64, i64, i64) -> (i64) pure

block 0x1000 {
  guest 0x1000, 4
    v0 = get.i64 %a
    v1 = const.i64 0x12345678
    v2 = call @add3(v0, v1, v0)
    v3 = icmp.i64 ult v2, v1
    set.i1 %f, v3
    v4 = load.v128 aligned v0
    v5 = vextract.i32x4 v4, 3
    v6 = const.f64 -0.5
    v7 = fadd.f64 rtz v6, v6
    store.f64 v7, v0
    branch v3, 0x2000, 0x1004
}
";

fn parse_err(src: &str) -> String {
    match parse_module(src) {
        Ok(_) => panic!("parsed:\n{src}"),
        Err(e) => e.to_string(),
    }
}

fn verify_err(src: &str) -> String {
    let m = parse_module(src).unwrap();
    verify(&m.env, &m.blocks[0]).unwrap_err().to_string()
}

#[test]
fn sample_round_trips_through_text_and_binary() {
    let m = parse_module(SAMPLE).unwrap();
    verify(&m.env, &m.blocks[0]).unwrap();
    let printed = print_module(&m);
    assert_eq!(printed, SAMPLE);
    let bytes = codec::encode(&m.env, &m.blocks[0]);
    assert_eq!(codec::decode(&m.env, &bytes).unwrap(), m.blocks[0]);
}

#[test]
fn parse_errors_say_where_and_what() {
    let head = "slot %a: i64 @ 0\nblock 0x0 {\n";
    assert_eq!(parse_err(&format!("{head}    v0 = frob.i64 %a\n}}")), "line 3, column 10: unknown opcode `frob`");
    assert_eq!(
        parse_err(&format!("{head}    set.i64 %a, v9\n}}")),
        "line 3, column 17: v9 is used before it is defined"
    );
    assert!(parse_err(&format!("{head}    v0, v1 = get.i64 %a\n}}")).contains("has 1 results, 2 named"));
    assert!(parse_err(&format!("{head}    v0 = iadd.f64 v1, v1\n}}")).contains("does not take type f64"));
    assert!(parse_err(&format!("{head}    v0 = const.i8 300\n}}")).contains("does not fit in i8"));
    assert!(parse_err(&format!("{head}    v0 = get.i64 %nope\n}}")).contains("undeclared slot %nope"));
    assert!(parse_err(&format!("{head}    jump 0x10\n")).contains("expected `}`"));
    assert!(parse_err("slot %a: i8x16 @ 0").contains("lane shape"));
    assert!(parse_err("slot %a: i64 @ 0\nslot %a: i64 @ 8").contains("declared twice"));
    assert!(parse_err("block 0x0 { $ }").contains("unexpected character `$`"));
    assert!(parse_err(&format!("{head}    v0 = const.i8 -129\n}}")).contains("does not fit in i8"));
    assert!(parse_err("helper @h() -> () impure").contains("expected `pure`"));
    assert!(parse_err("helper @h(i32x4) -> ()").contains("lane shape"));
}

#[test]
fn verifier_errors_name_the_instruction() {
    let head = "slot %a: i64 @ 0\nslot %b: i32 @ 8\nblock 0x10 {\n";
    assert_eq!(
        verify_err(&format!(
            "{head}    v0 = get.i64 %a\n    v1 = get.i32 %b\n    v2 = iadd.i64 v0, v1\n    jump 0\n}}"
        )),
        "block 0x10, instruction 2 `v2 = iadd.i64 v0, v1`: operand 2 has type i32, expected i64"
    );
    assert!(verify_err(&format!("{head}    v0 = get.i64 %a\n}}")).contains("does not end in a terminator"));
    assert!(verify_err(&format!("{head}    jump 0\n    jump 1\n}}")).contains("terminator must be the last"));
    assert!(verify_err(&format!("{head}}}")).contains("empty"));
    assert!(
        verify_err(&format!("{head}    v0 = get.i64 %a\n    v1 = zext.i64 v0\n    jump 0\n}}")).contains("narrower")
    );
    assert!(verify_err(&format!("{head}    v0 = get.i64 %a\n    set.i32 %a, v0\n    jump 0\n}}")).contains("i64"));
}

#[test]
fn verifier_rejects_use_before_definition() {
    let mut env = Env::new();
    let a = env.slot("a", Type::I64, 0);
    let mut block = Block::new(0);
    block.push(Opcode::Iadd, Some(Type::I64), Imm::None, &[Value(1), Value(1)], &[Type::I64]);
    block.push(Opcode::Get, Some(Type::I64), Imm::Slot(a), &[], &[Type::I64]);
    block.push(Opcode::Jump, None, Imm::Target(0), &[], &[]);
    let e = verify(&env, &block).unwrap_err();
    assert_eq!(e.inst, Some(0));
    assert!(e.msg.contains("not defined before its use"), "{e}");
}

#[test]
fn builder_output_verifies() {
    let mut env = Env::new();
    let a = env.slot("a", Type::I64, 0);
    let mut b = Builder::new(&env, 0x40);
    b.guest(0x40, 3);
    let x = b.get(a);
    let one = b.iconst(Type::I64, 1);
    let sum = b.op(Opcode::Iadd, &[x, one]);
    let c = b.icmp(IntCC::Eq, sum, one);
    let narrow = b.zext_or_trunc(Type::I32, sum);
    let wide = b.zext_or_trunc(Type::I64, narrow);
    let v = b.select(c, wide, x);
    b.store(v, x, MemFlags::default());
    b.set(a, v);
    b.branch(c, 0x50, 0x43);
    let block = b.finish();
    verify(&env, &block).unwrap();
    assert_eq!(block.guest_count(), 1);
}

#[test]
fn builder_folds_constants_as_it_builds() {
    let mut env = Env::new();
    let a = env.slot("a", Type::I64, 0);
    let mut b = Builder::new(&env, 0x40);
    let two = b.iconst(Type::I64, 2);
    let three = b.iconst(Type::I64, 3);
    let again = b.iconst(Type::I64, 2);
    assert_eq!(two, again, "an equal constant is the same value");
    let five = b.op(Opcode::Iadd, &[two, three]);
    let x = b.get(a);
    let sum = b.op(Opcode::Iadd, &[x, five]);
    // A division by zero is left to trap when it runs.
    let zero = b.iconst(Type::I64, 0);
    let quotient = b.op(Opcode::Udiv, &[five, zero]);
    let carry_in = b.iconst(Type::I1, 1);
    let carry = b.ins_multi(Opcode::IaddCarry, Some(Type::I64), Imm::None, &[three, five, carry_in]);
    assert_eq!(carry.len(), 3);
    b.set(a, sum);
    b.set(a, quotient);
    b.set(a, carry[0]);
    b.jump(0x50);
    let block = b.finish();
    verify(&env, &block).unwrap();
    let text = visa::visa::text::print_block(&env, &block);
    let ops: Vec<_> = block.insts.iter().map(|i| i.op).collect();
    assert_eq!(
        ops.iter().filter(|&&o| o == Opcode::Const).count(),
        7,
        "2, 3, 5, 0, true, 9 and the carry's false, each once:\n{text}"
    );
    assert!(!ops.contains(&Opcode::IaddCarry), "{text}");
    assert_eq!(ops.iter().filter(|&&o| o == Opcode::Iadd).count(), 1, "{text}");
    assert!(ops.contains(&Opcode::Udiv), "{text}");
    // What building an instruction folds, the pass finds nothing more to fold in.
    assert_eq!(visa::visa::opt::fold_constants(&block), block);
}

#[test]
fn decoder_rejects_damaged_bytes_without_panicking() {
    let m = parse_module(SAMPLE).unwrap();
    let bytes = codec::encode(&m.env, &m.blocks[0]);
    for len in 0..bytes.len() {
        assert!(codec::decode(&m.env, &bytes[..len]).is_err(), "prefix of {len} bytes decoded");
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..5000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut damaged = bytes.clone();
        let at = (seed as usize) % damaged.len();
        damaged[at] ^= (seed >> 32) as u8 | 1;
        if let Ok(block) = codec::decode(&m.env, &damaged) {
            // A damaged encoding may still decode; it must then be judged by the verifier, not crash it.
            let _ = verify(&m.env, &block);
        }
    }
    let other = Env::new();
    assert!(codec::decode(&other, &bytes).unwrap_err().msg.contains("different declarations"));
}
