//! Benchmark results: medians, correctness against the reference output,
//! the ratios the suite is judged by (slowdown against native, speed
//! against qemu-x86_64, JIT against interpreter), with geometric means over
//! the suite, as terminal tables and as JSON.

use std::time::Duration;

use super::{HotBlock, Mode, Sample, Workload};

/// Every sample of one workload, by mode (in `Results::modes` order).
pub struct WorkloadResult {
    pub workload: Workload,
    /// Repetitions inside each process.
    pub repeat: u32,
    pub samples: Vec<Vec<Sample>>,
    /// The hottest blocks under each engine profiled (`--hot`), and
    /// whether that run gave the reference result.
    pub hot: Vec<Hot>,
}

/// The hottest blocks of one workload under one engine.
pub struct Hot {
    pub engine: &'static str,
    pub blocks: Vec<HotBlock>,
    pub run: Sample,
}

pub struct Results {
    pub modes: Vec<Mode>,
    pub workloads: Vec<WorkloadResult>,
}

/// The median of some durations (the mean of the middle two for an even count).
pub fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    match d.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => d[n / 2],
        n => (d[n / 2 - 1] + d[n / 2]) / 2,
    }
}

fn geomean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp())
}

impl WorkloadResult {
    fn index(&self, modes: &[Mode], label: &str) -> Option<usize> {
        modes.iter().position(|m| m.label() == label).filter(|i| !self.samples[*i].is_empty())
    }

    /// Median wall time of a mode.
    pub fn time(&self, modes: &[Mode], label: &str) -> Option<Duration> {
        let i = self.index(modes, label)?;
        Some(median(self.samples[i].iter().map(|s| s.wall).collect()))
    }

    /// The output every run must give: the native one when there is one,
    /// else the first mode's.
    fn reference(&self, modes: &[Mode]) -> Option<&[u8]> {
        let i = self.index(modes, "native").or_else(|| (0..modes.len()).find(|i| !self.samples[*i].is_empty()))?;
        Some(&self.samples[i][0].stdout)
    }

    /// Did every run of a mode exit 0 with the reference output?
    pub fn correct(&self, modes: &[Mode], mode: usize) -> bool {
        self.samples[mode].iter().all(|s| self.matches(modes, s))
    }

    /// Did a run exit 0 with the reference output?
    fn matches(&self, modes: &[Mode], s: &Sample) -> bool {
        s.status == 0 && Some(s.stdout.as_slice()) == self.reference(modes)
    }

    /// Did the profiled runs (`--hot`) give the reference output?
    fn hot_correct(&self, modes: &[Mode]) -> bool {
        self.hot.iter().all(|h| self.matches(modes, &h.run))
    }

    /// `a`'s median time over `b`'s.
    pub fn ratio(&self, modes: &[Mode], a: &str, b: &str) -> Option<f64> {
        Some(self.time(modes, a)?.as_secs_f64() / self.time(modes, b)?.as_secs_f64().max(1e-9))
    }

    /// The statistics of the median run of a visa mode.
    fn stats(&self, modes: &[Mode], label: &str) -> Option<&serde_json::Value> {
        let i = self.index(modes, label)?;
        let mut runs: Vec<&Sample> = self.samples[i].iter().collect();
        runs.sort_by_key(|s| s.wall);
        runs[runs.len() / 2].stats.as_ref()
    }

    fn peak_rss_kb(&self, modes: &[Mode], label: &str) -> Option<u64> {
        let i = self.index(modes, label)?;
        self.samples[i].iter().map(|s| s.max_rss_kb).max()
    }
}

/// The ratios reported per workload and as geometric means: name, numerator, denominator.
pub const RATIOS: &[(&str, &str, &str)] = &[
    ("tiered/native", "tiered", "native"),
    ("jit/native", "jit", "native"),
    ("interp/native", "interp", "native"),
    ("qemu/tiered", "qemu", "tiered"),
    ("interp/jit", "interp", "jit"),
    ("interp/tiered", "interp", "tiered"),
];

impl Results {
    /// True when every run of every mode, profiled ones included, gave the
    /// reference result.
    pub fn all_correct(&self) -> bool {
        self.workloads
            .iter()
            .all(|w| (0..self.modes.len()).all(|m| w.correct(&self.modes, m)) && w.hot_correct(&self.modes))
    }

    /// Ratios that can be computed from the modes run.
    fn ratios(&self) -> Vec<(&'static str, &'static str, &'static str)> {
        let has = |l: &str| self.modes.iter().any(|m| m.label() == l);
        RATIOS.iter().copied().filter(|(_, a, b)| has(a) && has(b)).collect()
    }

    /// Geometric mean of a ratio over the workloads.
    pub fn geomean(&self, a: &str, b: &str) -> Option<f64> {
        geomean(&self.workloads.iter().filter_map(|w| w.ratio(&self.modes, a, b)).collect::<Vec<_>>())
    }

    /// The terminal report: times, ratios, and the engines' figures.
    pub fn table(&self) -> String {
        let labels: Vec<&str> = self.modes.iter().map(|m| m.label()).collect();
        let mut out = String::from("median wall time, ms (a mark after a time: wrong output or status)\n");
        out += &format!("{:<10}", "workload");
        for l in &labels {
            out += &format!("{l:>10}");
        }
        out += "\n";
        for w in &self.workloads {
            out += &format!("{:<10}", w.workload.name);
            for (i, l) in labels.iter().enumerate() {
                let t = w.time(&self.modes, l).map_or("-".into(), |t| format!("{:.1}", t.as_secs_f64() * 1e3));
                let mark = if w.correct(&self.modes, i) { " " } else { "!" };
                out += &format!("{t:>9}{mark}");
            }
            out += "\n";
        }
        let ratios = self.ratios();
        if !ratios.is_empty() {
            out += "\nratios of median times (x)\n";
            out += &format!("{:<10}", "workload");
            for (name, ..) in &ratios {
                out += &format!("{name:>15}");
            }
            out += "\n";
            for w in &self.workloads {
                out += &format!("{:<10}", w.workload.name);
                for (_, a, b) in &ratios {
                    out += &format!("{:>15}", w.ratio(&self.modes, a, b).map_or("-".into(), |r| format!("{r:.2}")));
                }
                out += "\n";
            }
            out += &format!("{:<10}", "geomean");
            for (_, a, b) in &ratios {
                out += &format!("{:>15}", self.geomean(a, b).map_or("-".into(), |r| format!("{r:.2}")));
            }
            out += "\n";
        }
        for engine in ["tiered", "jit", "interp"].into_iter().filter(|l| labels.contains(l)) {
            out += &self.engine_table(engine);
        }
        out + &self.hot_table()
    }

    /// The hottest blocks of each workload under each engine (`--hot`).
    fn hot_table(&self) -> String {
        let mut out = String::new();
        for w in self.workloads.iter().filter(|w| !w.hot.is_empty()) {
            let mark = if w.hot_correct(&self.modes) { "" } else { " (wrong output!)" };
            out += &format!("\nhottest blocks of {}, from one profiled run{mark}\n", w.workload.name);
            out += &format!("  {:<8}{:>12}{:>12}{:>8}  {:<7}symbol\n", "engine", "block", "runs", "time %", "tier");
            for h in &w.hot {
                for b in &h.blocks {
                    out += &format!(
                        "  {:<8}{:>12}{:>12}{:>8.1}  {:<7}{}\n",
                        h.engine,
                        b.addr,
                        b.runs,
                        b.share,
                        b.tier,
                        b.symbol.as_deref().unwrap_or("")
                    );
                }
            }
        }
        out
    }

    /// Per-workload figures of one engine.
    fn engine_table(&self, engine: &str) -> String {
        let mut out = format!(
            "\n{engine}: {:<10}{:>10}{:>12}{:>11}{:>10}{:>10}{:>9}{:>16}\n",
            "workload", "MIPS", "translate", "compile", "blocks", "code KB", "hits %", "RSS MB"
        );
        for w in &self.workloads {
            let Some(st) = w.stats(&self.modes, engine) else { continue };
            let num = |k: &str| st[k].as_f64().unwrap_or(0.0);
            let wall = w.time(&self.modes, engine).unwrap_or_default().as_secs_f64().max(1e-9);
            let blocks = num("blocks_run").max(1.0);
            let rss = w.peak_rss_kb(&self.modes, engine).unwrap_or(0) as f64 / 1024.0;
            let native = w.peak_rss_kb(&self.modes, "native").map(|n| n as f64 / 1024.0);
            let rss = match native {
                Some(n) => format!("{rss:.1} (+{:.1})", rss - n),
                None => format!("{rss:.1}"),
            };
            out += &format!(
                "{:<w$}{:<10}{:>10.0}{:>10.1}ms{:>9.1}ms{:>10}{:>10.0}{:>9.1}{:>16}\n",
                "",
                w.workload.name,
                num("guest_insts") / wall / 1e6,
                num("translate_s") * 1e3,
                (num("compile_s") + num("background_compile_s")) * 1e3,
                num("jit_compiled").max(num("blocks_translated")) as u64,
                num("jit_code_bytes") / 1024.0,
                100.0 * num("cache_hits") / blocks,
                rss,
                w = engine.len() + 2,
            );
        }
        out
    }

    /// Everything measured, as JSON.
    pub fn json(&self) -> serde_json::Value {
        let modes: Vec<&str> = self.modes.iter().map(|m| m.label()).collect();
        let workloads: Vec<serde_json::Value> = self
            .workloads
            .iter()
            .map(|w| {
                let mut per_mode = serde_json::Map::new();
                for (i, label) in modes.iter().enumerate() {
                    let s = &w.samples[i];
                    per_mode.insert(
                        label.to_string(),
                        serde_json::json!({
                            "median_s": w.time(&self.modes, label).map(|t| t.as_secs_f64()),
                            "wall_s": s.iter().map(|x| x.wall.as_secs_f64()).collect::<Vec<_>>(),
                            "cpu_s": s.iter().map(|x| x.cpu.as_secs_f64()).collect::<Vec<_>>(),
                            "max_rss_kb": s.iter().map(|x| x.max_rss_kb).collect::<Vec<_>>(),
                            "correct": w.correct(&self.modes, i),
                            "stats": w.stats(&self.modes, label),
                        }),
                    );
                }
                let ratios: serde_json::Map<String, serde_json::Value> = self
                    .ratios()
                    .iter()
                    .map(|(name, a, b)| (name.to_string(), serde_json::json!(w.ratio(&self.modes, a, b))))
                    .collect();
                let hot: serde_json::Map<String, serde_json::Value> = w
                    .hot
                    .iter()
                    .map(|h| {
                        let blocks: Vec<serde_json::Value> = h
                            .blocks
                            .iter()
                            .map(|b| {
                                serde_json::json!({
                                    "addr": b.addr, "symbol": b.symbol, "runs": b.runs,
                                    "share": b.share, "tier": b.tier,
                                })
                            })
                            .collect();
                        (h.engine.to_string(), serde_json::Value::from(blocks))
                    })
                    .collect();
                serde_json::json!({
                    "name": w.workload.name,
                    "about": w.workload.about,
                    "repeat": w.repeat,
                    "modes": per_mode,
                    "ratios": ratios,
                    "hot": hot,
                    "hot_correct": w.hot_correct(&self.modes),
                })
            })
            .collect();
        let geomeans: serde_json::Map<String, serde_json::Value> = self
            .ratios()
            .iter()
            .map(|(name, a, b)| (name.to_string(), serde_json::json!(self.geomean(a, b))))
            .collect();
        serde_json::json!({
            "modes": modes,
            "workloads": workloads,
            "geomean": geomeans,
            "all_correct": self.all_correct(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_geometric_means() {
        let ms = |v: &[u64]| v.iter().map(|x| Duration::from_millis(*x)).collect::<Vec<_>>();
        assert_eq!(median(ms(&[5, 1, 3])), Duration::from_millis(3));
        assert_eq!(median(ms(&[4, 1, 3, 2])), Duration::from_micros(2500));
        assert!((geomean(&[2.0, 8.0]).unwrap() - 4.0).abs() < 1e-12);
        assert_eq!(geomean(&[]), None);
    }

    fn sample(ms: u64, out: &str) -> Sample {
        Sample {
            wall: Duration::from_millis(ms),
            cpu: Duration::from_millis(ms),
            max_rss_kb: 1024,
            stdout: out.as_bytes().to_vec(),
            status: 0,
            stats: None,
        }
    }

    #[test]
    fn a_wrong_output_is_marked_and_ratios_use_medians() {
        let results = Results {
            modes: vec![Mode::Native, Mode::Visa("interp"), Mode::Visa("tiered")],
            workloads: vec![WorkloadResult {
                workload: crate::bench::SUITE[0],
                repeat: 1,
                samples: vec![
                    vec![sample(10, "ok"), sample(12, "ok"), sample(11, "ok")],
                    vec![sample(200, "ok"), sample(220, "ok"), sample(210, "ok")],
                    vec![sample(20, "ok"), sample(21, "bad"), sample(22, "ok")],
                ],
                hot: Vec::new(),
            }],
        };
        let w = &results.workloads[0];
        assert!(w.correct(&results.modes, 0) && w.correct(&results.modes, 1));
        assert!(!w.correct(&results.modes, 2));
        assert!(!results.all_correct());
        assert!((w.ratio(&results.modes, "interp", "native").unwrap() - 210.0 / 11.0).abs() < 1e-9);
        assert!((results.geomean("interp", "tiered").unwrap() - 10.0).abs() < 1e-9);
        assert!(results.table().contains("21.0!"), "{}", results.table());
        assert_eq!(results.json()["all_correct"], false);
    }
}
