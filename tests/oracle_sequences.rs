//! Random multi-instruction sequences under the oracle. The default run is
//! short; the long run (`cargo test --release --test oracle_sequences --
//! --ignored`) executes `VISA_ORACLE_LONG` instructions (default 10 million).
#![cfg(target_arch = "x86_64")]

use visa::oracle::{Tier, run_sequences};

/// Runs the sequences under the interpreter and the JIT; returns the
/// instructions run per tier.
fn run(count: usize, len: usize, seed: u64) -> u64 {
    let mut insns = 0;
    for tier in [Tier::Interp, Tier::Jit] {
        let (n, failures) = run_sequences(count, len, seed, tier, 3);
        assert!(failures.is_empty(), "{tier:?}: {} failing sequences:\n{}", failures.len(), failures.join("\n\n"));
        insns = n;
    }
    insns
}

#[test]
fn random_sequences() {
    let insns = run(2_000, 12, 0x5e9);
    assert!(insns >= 20_000, "only {insns} instructions ran");
}

#[test]
#[ignore]
fn long_random_sequences() {
    let total: u64 = std::env::var("VISA_ORACLE_LONG").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let (len, batch) = (16, 10_000);
    let mut done = 0;
    let mut seed = 1;
    while done < total {
        done += run(batch, len, seed);
        seed += 1;
        eprintln!("oracle long run: {done} / {total} instructions, no mismatch");
    }
}
