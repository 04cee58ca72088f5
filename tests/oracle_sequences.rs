//! Random multi-instruction sequences under the oracle. The default run is
//! short and covers both tiers; the long run (`cargo test --release --test
//! oracle_sequences -- --ignored`) executes `VISA_ORACLE_LONG` instructions
//! (default 10 million) on the tier `VISA_ORACLE_TIER` names (`interp`, the
//! default, or `jit`, which compiles every case's blocks and is slower).
#![cfg(target_arch = "x86_64")]

use visa::oracle::{Tier, long_run, run_sequences};

/// Runs the sequences under each tier; returns the instructions run per tier.
fn run(count: usize, len: usize, seed: u64, tiers: &[Tier]) -> u64 {
    let mut insns = 0;
    for &tier in tiers {
        let report = run_sequences(count, len, seed, tier, 3);
        let failures = &report.failures;
        assert!(failures.is_empty(), "{tier:?}: {} failing sequences:\n{}", failures.len(), failures.join("\n\n"));
        insns = report.instructions;
    }
    insns
}

#[test]
fn random_sequences() {
    let insns = run(2_000, 12, 0x5e9, &[Tier::Interp, Tier::Jit]);
    assert!(insns >= 20_000, "only {insns} instructions ran");
}

#[test]
#[ignore]
fn long_random_sequences() {
    let (total, tier) = long_run(10_000_000);
    let (len, batch) = (16, 10_000);
    let mut done = 0;
    let mut seed = 1;
    while done < total {
        done += run(batch, len, seed, &[tier]);
        seed += 1;
        eprintln!("oracle long run: {done} / {total} instructions, no mismatch");
    }
}
