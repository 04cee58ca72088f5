//! CPUID: the processor visa presents. It reports exactly the features the
//! frontend lifts, so software that dispatches on CPUID (glibc's ifuncs,
//! compilers' runtime checks) picks code visa runs.

/// A register of a CPUID leaf.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reg {
    /// Leaf 0xD subleaf 1's (XSAVES), set by `xsave::cpuid_leaf`.
    Eax,
    Ebx,
    Ecx,
    Edx,
}

/// A processor model visa can present (`--cpu`): the x86-64 psABI levels,
/// and `max`, everything visa lifts. A model shows the features of its
/// level and below; the instructions of a feature it hides raise #UD. The
/// discriminant is what `CpuState::cpu_model` holds (0, a zeroed state, is
/// `max`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Model {
    V1 = 1,
    V2 = 2,
    V3 = 3,
    #[default]
    Max = 0,
}

impl Model {
    /// Every model by name, the smallest first.
    pub const NAMES: [(&'static str, Model); 4] =
        [("x86-64-v1", Model::V1), ("x86-64-v2", Model::V2), ("x86-64-v3", Model::V3), ("max", Model::Max)];

    pub fn from_name(name: &str) -> Option<Model> {
        Model::NAMES.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }

    pub fn name(self) -> &'static str {
        Model::NAMES.iter().find(|(_, m)| *m == self).map(|(n, _)| *n).expect("named model")
    }

    /// The model a `CpuState::cpu_model` byte names (an unknown value is `max`).
    pub fn from_code(code: u8) -> Model {
        Model::NAMES.iter().map(|(_, m)| *m).find(|m| *m as u8 == code).unwrap_or(Model::Max)
    }

    /// Its place in the order v1 < v2 < v3 < max.
    fn rank(self) -> u8 {
        if self == Model::Max { u8::MAX } else { self as u8 }
    }

    /// Does the model show the feature (a name of `feature_names`)? Names
    /// visa does not report are not features a model can hide: true.
    pub fn has(self, feature: &str) -> bool {
        FEATURES.iter().find(|f| f.0 == feature).is_none_or(|f| self.rank() >= f.4.rank())
    }
}

/// Reported features: name (as Linux's /proc/cpuinfo says it), leaf,
/// register, bit, and the smallest model that shows it (its x86-64 psABI
/// level; `Max` for what no level requires).
const FEATURES: &[(&str, u32, Reg, u32, Model)] = &[
    ("fpu", 1, Reg::Edx, 0, Model::V1),
    ("tsc", 1, Reg::Edx, 4, Model::V1),
    ("cx8", 1, Reg::Edx, 8, Model::V1),
    ("cmov", 1, Reg::Edx, 15, Model::V1),
    ("clflush", 1, Reg::Edx, 19, Model::V1),
    ("mmx", 1, Reg::Edx, 23, Model::V1),
    ("fxsr", 1, Reg::Edx, 24, Model::V1),
    ("sse", 1, Reg::Edx, 25, Model::V1),
    ("sse2", 1, Reg::Edx, 26, Model::V1),
    ("pni", 1, Reg::Ecx, 0, Model::V2),
    ("pclmulqdq", 1, Reg::Ecx, 1, Model::Max),
    ("ssse3", 1, Reg::Ecx, 9, Model::V2),
    ("fma", 1, Reg::Ecx, 12, Model::V3),
    ("cx16", 1, Reg::Ecx, 13, Model::V2),
    ("sse4_1", 1, Reg::Ecx, 19, Model::V2),
    ("sse4_2", 1, Reg::Ecx, 20, Model::V2),
    ("movbe", 1, Reg::Ecx, 22, Model::V3),
    ("popcnt", 1, Reg::Ecx, 23, Model::V2),
    ("aes", 1, Reg::Ecx, 25, Model::Max),
    ("f16c", 1, Reg::Ecx, 29, Model::V3),
    ("rdrand", 1, Reg::Ecx, 30, Model::Max),
    ("xsave", 1, Reg::Ecx, 26, Model::V3),
    ("osxsave", 1, Reg::Ecx, 27, Model::V3),
    ("avx", 1, Reg::Ecx, 28, Model::V3),
    ("xsaves", 0xd, Reg::Eax, 3, Model::Max),
    ("fsgsbase", 7, Reg::Ebx, 0, Model::Max),
    ("bmi1", 7, Reg::Ebx, 3, Model::V3),
    ("avx2", 7, Reg::Ebx, 5, Model::V3),
    ("bmi2", 7, Reg::Ebx, 8, Model::V3),
    ("rdseed", 7, Reg::Ebx, 18, Model::Max),
    ("adx", 7, Reg::Ebx, 19, Model::Max),
    ("clflushopt", 7, Reg::Ebx, 23, Model::Max),
    ("clwb", 7, Reg::Ebx, 24, Model::Max),
    ("sha_ni", 7, Reg::Ebx, 29, Model::Max),
    ("syscall", 0x8000_0001, Reg::Edx, 11, Model::V1),
    ("rdtscp", 0x8000_0001, Reg::Edx, 27, Model::Max),
    ("lm", 0x8000_0001, Reg::Edx, 29, Model::V1),
    ("lahf_lm", 0x8000_0001, Reg::Ecx, 0, Model::V2),
    ("abm", 0x8000_0001, Reg::Ecx, 5, Model::V3),
];

/// Vendor string: Intel's, because software reads the feature leaves only
/// for vendors it knows (glibc gives any other vendor no leaf-1 features,
/// and then refuses its own x86-64-baseline libraries), and the other
/// leaves (family 6, leaf 4 caches) describe an Intel part. The brand
/// string says what the processor is.
const VENDOR: [u8; 12] = *b"GenuineIntel";
const BRAND: &[u8; 48] = b"visa dynamic binary translator (x86-64 guest)\0\0\0";

/// The features a model reports, by name.
pub fn feature_names(model: Model) -> impl Iterator<Item = &'static str> {
    FEATURES.iter().filter(move |f| model.has(f.0)).map(|f| f.0)
}

/// The bits of a leaf's register that a model shows.
fn bits(model: Model, leaf: u32, reg: Reg) -> u32 {
    FEATURES.iter().filter(|f| f.1 == leaf && f.2 == reg && model.has(f.0)).fold(0, |acc, f| acc | 1 << f.3)
}

/// The caches visa describes (a typical x86-64 part, so C libraries size
/// their copy strategies sensibly): level, type (1 data, 2 instruction,
/// 3 unified), size in KiB, ways. Lines are 64 bytes.
const CACHES: [(u32, u32, u32, u32); 4] = [(1, 1, 32, 8), (1, 2, 32, 8), (2, 3, 256, 8), (3, 3, 8192, 16)];
const LINE: u32 = 64;

/// Leaf 4 (deterministic cache parameters) for one subleaf; zeros past the last cache.
fn cache_leaf(subleaf: u32) -> [u32; 4] {
    let Some(&(level, kind, kib, ways)) = CACHES.get(subleaf as usize) else { return [0; 4] };
    let sets = kib * 1024 / (ways * LINE);
    [kind | level << 5 | 1 << 8, (ways - 1) << 22 | (LINE - 1), sets - 1, 0]
}

/// AMD's associativity code of leaves 0x80000006 for a number of ways.
fn amd_ways(ways: u32) -> u32 {
    match ways {
        1 => 1,
        2 => 2,
        4 => 4,
        8 => 6,
        16 => 8,
        _ => 0xf,
    }
}

fn le(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes.try_into().expect("four bytes"))
}

/// EAX, EBX, ECX, EDX for a leaf and subleaf, as a model shows them.
pub fn cpuid(model: Model, leaf: u32, subleaf: u32) -> [u32; 4] {
    let bits = |leaf, reg| bits(model, leaf, reg);
    match leaf {
        0 => [0xd, le(&VENDOR[0..4]), le(&VENDOR[8..12]), le(&VENDOR[4..8])],
        // Family 6, model 0x3a, stepping 9; CLFLUSH line 8 qwords; one logical CPU.
        1 => [0x0003_06a9, 0x0001_0800, bits(1, Reg::Ecx), bits(1, Reg::Edx)],
        4 => cache_leaf(subleaf),
        7 if subleaf == 0 => [0, bits(7, Reg::Ebx), bits(7, Reg::Ecx), bits(7, Reg::Edx)],
        0xd if model.has("xsave") => super::xsave::cpuid_leaf(model, subleaf),
        0x8000_0000 => [0x8000_0008, 0, 0, 0],
        0x8000_0001 => [0, 0, bits(0x8000_0001, Reg::Ecx), bits(0x8000_0001, Reg::Edx)],
        0x8000_0002..=0x8000_0004 => {
            let at = (leaf - 0x8000_0002) as usize * 16;
            let b = &BRAND[at..at + 16];
            [le(&b[0..4]), le(&b[4..8]), le(&b[8..12]), le(&b[12..16])]
        }
        // L1 data and instruction caches: KiB, ways, lines per tag, line size.
        0x8000_0005 => {
            let l1 = |(_, _, kib, ways): (u32, u32, u32, u32)| kib << 24 | ways << 16 | 1 << 8 | LINE;
            [0, 0, l1(CACHES[0]), l1(CACHES[1])]
        }
        // L2 (KiB) and L3 (512 KiB units).
        0x8000_0006 => {
            let (_, _, l2, l2_ways) = CACHES[2];
            let (_, _, l3, l3_ways) = CACHES[3];
            [
                0,
                0,
                l2 << 16 | amd_ways(l2_ways) << 12 | 1 << 8 | LINE,
                (l3 / 512) << 18 | amd_ways(l3_ways) << 12 | LINE,
            ]
        }
        // 48-bit virtual, 40-bit physical addresses.
        0x8000_0008 => [0x3028, 0, 0, 0],
        _ => [0; 4],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_and_features() {
        let [max, b, c, d] = cpuid(Model::Max, 0, 0);
        assert_eq!(max, 0xd);
        let vendor: Vec<u8> = [b, d, c].iter().flat_map(|r| r.to_le_bytes()).collect();
        assert_eq!(vendor, VENDOR);
        assert_eq!(cpuid(Model::Max, 1, 0)[3] & (1 << 15), 1 << 15, "cmov");
        // The x86-64 baseline (glibc checks it before loading libc.so.6).
        for (bit, name) in [(0, "fpu"), (8, "cx8"), (15, "cmov"), (23, "mmx"), (24, "fxsr"), (25, "sse"), (26, "sse2")]
        {
            assert_eq!(cpuid(Model::Max, 1, 0)[3] >> bit & 1, 1, "{name}");
        }
        assert_eq!(cpuid(Model::Max, 0x8000_0001, 0)[3] & (1 << 29), 1 << 29, "long mode");
        assert_eq!(cpuid(Model::Max, 0x4000_0000, 0), [0; 4]);
    }

    #[test]
    fn models_nest() {
        let v2_only = ["pni", "ssse3", "cx16", "sse4_1", "sse4_2", "popcnt", "lahf_lm"];
        assert!(v2_only.iter().all(|f| Model::V2.has(f) && !Model::V1.has(f)));
        assert!(["movbe", "bmi1", "bmi2", "abm", "fma", "f16c"].iter().all(|f| Model::V3.has(f) && !Model::V2.has(f)));
        assert!(["aes", "sha_ni", "rdseed", "fsgsbase"].iter().all(|f| Model::Max.has(f) && !Model::V3.has(f)));
        let count = |m| feature_names(m).count();
        assert!(count(Model::V1) < count(Model::V2) && count(Model::V2) < count(Model::V3));
        assert!(count(Model::V3) < count(Model::Max) && count(Model::Max) == FEATURES.len());
        assert_eq!(cpuid(Model::V1, 7, 0), [0; 4]);
        assert_eq!(cpuid(Model::V2, 1, 0)[2] >> 22 & 1, 0, "no movbe in v2");
        for (name, model) in Model::NAMES {
            assert_eq!((Model::from_name(name), Model::from_code(model as u8).name()), (Some(model), name));
        }
    }

    #[test]
    fn cache_leaves_agree() {
        // Leaf 4: size = ways * partitions * line * sets, per level; then a null entry.
        let size = |sub: u32| {
            let [a, b, c, _] = cpuid(Model::Max, 4, sub);
            assert_ne!(a & 0x1f, 0, "subleaf {sub} describes a cache");
            ((b >> 22) + 1) * (((b >> 12) & 0x3ff) + 1) * ((b & 0xfff) + 1) * (c + 1) / 1024
        };
        assert_eq!([size(0), size(1), size(2), size(3)], [32, 32, 256, 8192]);
        assert_eq!(cpuid(Model::Max, 4, 4)[0] & 0x1f, 0);
        let [_, _, l1d, l1i] = cpuid(Model::Max, 0x8000_0005, 0);
        assert_eq!((l1d >> 24, l1i >> 24, l1d & 0xff), (32, 32, 64));
        let [_, _, l2, l3] = cpuid(Model::Max, 0x8000_0006, 0);
        assert_eq!((l2 >> 16, (l3 >> 18) * 512), (256, 8192));
    }
}
