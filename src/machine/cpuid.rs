//! CPUID: the processor visa presents. It reports exactly the features the
//! frontend lifts, so software that dispatches on CPUID (glibc's ifuncs,
//! compilers' runtime checks) picks code visa runs.

/// A register of a CPUID leaf.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reg {
    Ebx,
    Ecx,
    Edx,
}

/// Reported features: name, leaf, register, bit.
const FEATURES: &[(&str, u32, Reg, u32)] = &[
    ("fpu", 1, Reg::Edx, 0),
    ("tsc", 1, Reg::Edx, 4),
    ("cx8", 1, Reg::Edx, 8),
    ("cmov", 1, Reg::Edx, 15),
    ("fxsr", 1, Reg::Edx, 24),
    ("sse", 1, Reg::Edx, 25),
    ("sse2", 1, Reg::Edx, 26),
    ("pni", 1, Reg::Ecx, 0),
    ("ssse3", 1, Reg::Ecx, 9),
    ("cx16", 1, Reg::Ecx, 13),
    ("sse4_1", 1, Reg::Ecx, 19),
    ("sse4_2", 1, Reg::Ecx, 20),
    ("popcnt", 1, Reg::Ecx, 23),
    ("rdrand", 1, Reg::Ecx, 30),
    ("bmi1", 7, Reg::Ebx, 3),
    ("bmi2", 7, Reg::Ebx, 8),
    ("adx", 7, Reg::Ebx, 19),
    ("syscall", 0x8000_0001, Reg::Edx, 11),
    ("lm", 0x8000_0001, Reg::Edx, 29),
    ("lahf_lm", 0x8000_0001, Reg::Ecx, 0),
    ("abm", 0x8000_0001, Reg::Ecx, 5),
];

/// Vendor string: "VisaDBTx8664".
const VENDOR: [u8; 12] = *b"VisaDBTx8664";
const BRAND: &[u8; 48] = b"visa dynamic binary translator (x86-64 guest)\0\0\0";

/// The features visa reports, by name.
pub fn feature_names() -> impl Iterator<Item = &'static str> {
    FEATURES.iter().map(|f| f.0)
}

fn bits(leaf: u32, reg: Reg) -> u32 {
    FEATURES.iter().filter(|f| f.1 == leaf && f.2 == reg).fold(0, |acc, f| acc | 1 << f.3)
}

fn le(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes.try_into().expect("four bytes"))
}

/// EAX, EBX, ECX, EDX for a leaf and subleaf.
pub fn cpuid(leaf: u32, subleaf: u32) -> [u32; 4] {
    match leaf {
        0 => [7, le(&VENDOR[0..4]), le(&VENDOR[8..12]), le(&VENDOR[4..8])],
        // Family 6, model 0x3a, stepping 9; CLFLUSH line 8 qwords; one logical CPU.
        1 => [0x0003_06a9, 0x0001_0800, bits(1, Reg::Ecx), bits(1, Reg::Edx)],
        7 if subleaf == 0 => [0, bits(7, Reg::Ebx), bits(7, Reg::Ecx), bits(7, Reg::Edx)],
        0x8000_0000 => [0x8000_0008, 0, 0, 0],
        0x8000_0001 => [0, 0, bits(0x8000_0001, Reg::Ecx), bits(0x8000_0001, Reg::Edx)],
        0x8000_0002..=0x8000_0004 => {
            let at = (leaf - 0x8000_0002) as usize * 16;
            let b = &BRAND[at..at + 16];
            [le(&b[0..4]), le(&b[4..8]), le(&b[8..12]), le(&b[12..16])]
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
        let [max, b, c, d] = cpuid(0, 0);
        assert_eq!(max, 7);
        let vendor: Vec<u8> = [b, d, c].iter().flat_map(|r| r.to_le_bytes()).collect();
        assert_eq!(vendor, VENDOR);
        assert_eq!(cpuid(1, 0)[3] & (1 << 15), 1 << 15, "cmov");
        assert_eq!(cpuid(0x8000_0001, 0)[3] & (1 << 29), 1 << 29, "long mode");
        assert_eq!(cpuid(0x4000_0000, 0), [0; 4]);
    }
}
