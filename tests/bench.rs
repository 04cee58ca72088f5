//! `visa bench` in its short mode: every workload of the suite runs once
//! natively (on x86-64 hosts) and under each engine, and every result must
//! be the native one; the JSON and SVG reports are written.

use std::process::Command;

#[test]
fn the_suite_gives_correct_results_under_every_engine() {
    let dir = std::env::temp_dir().join(format!("visa-bench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, svg) = (dir.join("bench.json"), dir.join("bench.svg"));
    let out = Command::new(env!("CARGO_BIN_EXE_visa"))
        .args(["bench", "--quick", "--no-qemu", "--engines", "interp,jit,tiered", "--json"])
        .arg(&json)
        .arg("--svg")
        .arg(&svg)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "visa bench failed:\n{table}\n{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["all_correct"], true);
    let workloads = report["workloads"].as_array().unwrap();
    assert_eq!(workloads.len(), visa::bench::SUITE.len());
    let expected_modes: &[&str] = if visa::bench::host_runs_x86_64() {
        &["native", "interp", "jit", "tiered"]
    } else {
        &["interp", "jit", "tiered"]
    };
    for w in workloads {
        for mode in expected_modes {
            let m = &w["modes"][mode];
            assert_eq!(m["correct"], true, "{} under {mode}", w["name"]);
            assert!(m["median_s"].as_f64().unwrap() > 0.0);
            if *mode != "native" {
                assert!(m["stats"]["guest_insts"].as_u64().unwrap() > 1_000_000, "{} under {mode}", w["name"]);
            }
        }
    }
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(chart.starts_with("<svg") && chart.contains("tiered") && chart.contains("geomean"));
    for w in visa::bench::SUITE {
        assert!(table.contains(w.name), "{} missing from the table", w.name);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `visa bench --hot N`: each engine's N hottest blocks of a workload, from
/// a profiled run that must give the right result too, named by the
/// benchmark program's symbols, in the table and the JSON report.
#[test]
fn hot_blocks_of_a_workload() {
    let json = std::env::temp_dir().join(format!("visa-bench-hot-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_visa"))
        .args(["bench", "sieve", "--quick", "--no-qemu", "--no-native", "--engines", "interp,jit,tiered", "--hot", "3"])
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "visa bench failed:\n{table}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(table.contains("hottest blocks of sieve"), "{table}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    let sieve = &report["workloads"][0];
    assert_eq!(sieve["hot_correct"], true);
    for (engine, tier) in [("interp", &["interp"][..]), ("jit", &["jit"]), ("tiered", &["mixed", "jit", "interp"])] {
        let blocks = sieve["hot"][engine].as_array().unwrap();
        assert_eq!(blocks.len(), 3, "{engine}: {blocks:?}");
        let shares: Vec<f64> = blocks.iter().map(|b| b["share"].as_f64().unwrap()).collect();
        assert!(shares.windows(2).all(|w| w[0] >= w[1]), "{engine}: not hottest first: {shares:?}");
        // The sieve's loops take nearly all its time.
        assert!(shares.iter().sum::<f64>() > 80.0, "{engine}: {shares:?}");
        for b in blocks {
            let symbol = b["symbol"].as_str().unwrap();
            assert!(symbol.starts_with("sieve_main+0x"), "{engine}: {b}");
            assert!(tier.contains(&b["tier"].as_str().unwrap()), "{engine}: {b}");
            assert!(b["runs"].as_u64().unwrap() > 100_000, "{engine}: {b}");
            let addr = b["addr"].as_str().unwrap();
            assert!(table.contains(addr) && table.contains(symbol), "{engine}: {table}");
        }
    }
    assert_eq!(report["all_correct"], true);
}
