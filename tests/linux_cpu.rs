//! The processor a Linux program sees under `visa run`, and code that
//! depends on it: `vtisa cpuid` (CPUID, AT_HWCAP2, what glibc counts as
//! active and the string routines its ifuncs pick) under each `--cpu`
//! model, glibc's dynamic linker choosing its glibc-hwcaps directories by
//! model, `vtisa crypto` (AES-NI, SHA and PCLMULQDQ against plain C) and
//! OpenSSL's AES and SHA paths (Debian's `openssl`), natively and under
//! every engine: the same results, by the fast paths where the model has
//! them and by the fallbacks where it does not.

mod linux_run;

use std::path::Path;

use linux_run::*;
use visa::machine::cpuid::{self, Model};

fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix:?} line in:\n{out}"))
}

fn under(model: Model, engine: Engine, program: &Path, args: &[&str]) -> Run {
    let run = visa(engine, &["--cpu", model.name(), "--"], program, args, None, None);
    assert_eq!(run.ending, Ending::Exit(0), "{args:?} under {}: {}", model.name(), run.stderr);
    run
}

/// CPUID as the model says, under every engine; glibc's choices follow:
/// the SSE2 string routines under x86-64-v1, the SSE4.2 and SSSE3 ones
/// from x86-64-v2 up, and the AVX ones (memmove, strcasecmp) from
/// x86-64-v3 up, where AVX2 is active.
#[test]
fn cpuid_and_glibc_follow_the_model() {
    let mut routines = Vec::new();
    for (name, model) in Model::NAMES {
        let out = text(&under(model, Tiered, &vtisa(), &["cpuid"]));
        for engine in [Interp, Jit] {
            assert_eq!(text(&under(model, engine, &vtisa(), &["cpuid"])), out, "{name} under {}", engine.name());
        }
        let [_, _, c1, d1] = cpuid::cpuid(model, 1, 0);
        let [_, b7, c7, d7] = cpuid::cpuid(model, 7, 0);
        let [_, _, ce, de] = cpuid::cpuid(model, 0x8000_0001, 0);
        assert_eq!(line(&out, "leaf1 "), format!("leaf1 ecx={c1:08x} edx={d1:08x}"), "{name}");
        assert_eq!(line(&out, "leaf7 "), format!("leaf7 ebx={b7:08x} ecx={c7:08x} edx={d7:08x}"), "{name}");
        assert_eq!(line(&out, "ext "), format!("ext ecx={ce:08x} edx={de:08x}"), "{name}");
        assert!(line(&out, "hwcap=").ends_with(if model.has("fsgsbase") { "hwcap2=2" } else { "hwcap2=0" }));
        let active = line(&out, "glibc active:");
        for feature in ["sse3", "ssse3", "sse4_2", "popcnt", "movbe", "aes"] {
            let shown = if feature == "sse3" { "pni" } else { feature };
            assert_eq!(active.contains(&format!(" {feature}")), model.has(shown), "{name}: {active}");
        }
        assert_eq!(active.contains(" avx2"), model.has("avx2"), "{name}: {active}");
        routines.push(line(&out, "strspn=").to_string());
    }
    assert_ne!(routines[0], routines[1], "x86-64-v1 and v2 pick different routines");
    assert_ne!(routines[1], routines[2], "x86-64-v3 picks AVX routines (memmove, strcasecmp)");
    assert_eq!(routines[2], routines[3], "x86-64-v3 and max pick the same");
}

/// The dynamic linker searches the x86-64-v2 glibc-hwcaps directories
/// from x86-64-v2 up, and x86-64-v3's from x86-64-v3 up (AVX2, FMA, F16C,
/// BMI, MOVBE...).
#[test]
fn dynamic_linker_picks_hwcaps_by_model() {
    let ld = Path::new("/lib64/ld-linux-x86-64.so.2");
    for (name, model) in Model::NAMES {
        let out = text(&under(model, Tiered, ld, &["--help"]));
        let v2 = out.contains("x86-64-v2 (supported, searched)");
        assert_eq!(v2, model >= Model::V2 || model == Model::Max, "{name}:\n{out}");
        let v3 = out.contains("x86-64-v3 (supported, searched)");
        assert_eq!(v3, model.has("f16c"), "{name}:\n{out}");
    }
}

/// AES-NI, SHA and PCLMULQDQ agree with plain C and with the host, under
/// every engine; models without them take the fallbacks, with the same
/// digests.
#[test]
fn crypto_instructions_match_the_host() {
    let native = native(&vtisa(), &["crypto"], None, None);
    assert_eq!(native.ending, Ending::Exit(0));
    let expected = text(&native);
    if !expected.contains("aes-ni used, pclmulqdq used, sha used") {
        let note = "SKIPPED: the host lacks AES-NI, PCLMULQDQ or SHA; vtisa crypto not compared with it";
        assert!(std::env::var_os("CI").is_none(), "{note}");
        eprintln!("{note}");
        return;
    }
    for engine in [Interp, Jit, Tiered] {
        let got = under(Model::Max, engine, &vtisa(), &["crypto"]);
        assert_same(&format!("vtisa crypto under {}", engine.name()), &native, &got);
    }
    let digests =
        |out: &str| out.lines().filter(|l| !l.contains(':') && !l.contains(',')).map(String::from).collect::<Vec<_>>();
    for model in [Model::V1, Model::V3] {
        let out = text(&under(model, Tiered, &vtisa(), &["crypto"]));
        assert!(out.starts_with("aes-ni absent, pclmulqdq absent, sha absent"), "{out}");
        assert!(!out.contains("MISMATCH"), "{out}");
        assert_eq!(digests(&out), digests(&expected), "{}", model.name());
    }
}

/// Debian's OpenSSL (dynamically linked, dispatching on CPUID itself):
/// SHA-1, SHA-256 and AES-128-CBC of a file give the host's results under
/// `max` (its AES-NI and SHA paths) and under `x86-64-v1` (its plain
/// ones), and the AES-NI path runs far fewer guest instructions.
#[test]
fn openssl_fast_and_plain_paths() {
    let openssl = Path::new("/usr/bin/openssl");
    assert!(openssl.is_file(), "/usr/bin/openssl is missing: install Debian's openssl");
    let scratch = Scratch::new("openssl");
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let input = scratch.0.join("data");
    std::fs::write(&input, &data).unwrap();
    let input = input.to_str().unwrap();
    let out = scratch.0.join("out");
    let out = out.to_str().unwrap();
    let key = "000102030405060708090a0b0c0d0e0f";
    let jobs: [&[&str]; 3] = [
        &["dgst", "-sha256", input],
        &["dgst", "-sha1", input],
        &["enc", "-aes-128-cbc", "-K", key, "-iv", key, "-in", input, "-out", out],
    ];
    for args in jobs {
        let native_run = native(openssl, args, None, None);
        let native_bytes = std::fs::read(out).unwrap_or_default();
        let mut insns = Vec::new();
        for model in [Model::Max, Model::V1] {
            let stats = scratch.0.join(format!("stats-{}", model.name()));
            let stats_arg = stats.to_str().unwrap();
            let got = visa(Tiered, &["--cpu", model.name(), "--stats-json", stats_arg], openssl, args, None, None);
            assert_same(&format!("openssl {args:?} under {}", model.name()), &native_run, &got);
            assert_eq!(std::fs::read(out).unwrap_or_default(), native_bytes, "{args:?} under {}", model.name());
            let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
            insns.push(json["guest_insts"].as_u64().expect("guest_insts"));
        }
        assert!(
            insns[0] * 2 < insns[1],
            "{args:?}: {} guest instructions with AES-NI and SHA, {} without",
            insns[0],
            insns[1]
        );
    }
}
