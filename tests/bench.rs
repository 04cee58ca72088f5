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
