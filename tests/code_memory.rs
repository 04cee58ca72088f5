//! The JIT's code memory on the host it runs on (x86-64, aarch64, s390x,
//! riscv64): both mappings run code written into them, run the new code
//! (not the old) after a flush refills an address, fill up, and never map a
//! page writable and executable.

use visa::jit::{CodeMemory, Mapping};

/// A host function taking nothing and returning `v`.
fn returns(v: u32) -> Vec<u8> {
    if cfg!(target_arch = "x86_64") {
        // mov eax, imm32; ret
        let mut code = vec![0xb8];
        code.extend_from_slice(&v.to_le_bytes());
        code.push(0xc3);
        code
    } else if cfg!(target_arch = "aarch64") {
        // movz w0, #lo; movk w0, #hi, lsl #16; ret
        let words = [0x5280_0000 | (v & 0xffff) << 5, 0x72a0_0000 | (v >> 16) << 5, 0xd65f_03c0];
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    } else if cfg!(target_arch = "s390x") {
        // llilf %r2, imm32; br %r14
        let mut code = vec![0xc0, 0x2f];
        code.extend_from_slice(&v.to_be_bytes());
        code.extend_from_slice(&[0x07, 0xfe]);
        code
    } else if cfg!(target_arch = "riscv64") {
        // lui a0, hi; addiw a0, a0, lo; ret
        let lo = (v & 0xfff) as i32;
        let lo = if lo >= 0x800 { lo - 0x1000 } else { lo };
        let hi = v.wrapping_sub(lo as u32) & 0xffff_f000;
        let words = [hi | 0x537, ((lo as u32) << 20) | 0x5051b, 0x0000_8067];
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    } else {
        panic!("no test code for this host")
    }
}

fn call(entry: *const u8) -> u32 {
    // SAFETY: every entry called here is `returns`' code, a C function
    // taking nothing.
    let f = unsafe { std::mem::transmute::<*const u8, extern "C" fn() -> u32>(entry) };
    f()
}

/// The mappings of this process as (permissions, name).
fn maps() -> Vec<(String, String)> {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[1].to_string(), f.get(5..).map(|n| n.join(" ")).unwrap_or_default())
        })
        .collect()
}

fn assert_w_xor_x(what: &str) {
    for (perms, name) in maps() {
        assert!(!(perms.contains('w') && perms.contains('x')), "{what}: {perms} {name}");
    }
}

#[test]
fn both_mappings_run_refill_and_stay_w_xor_x() {
    for mapping in [Mapping::Dual, Mapping::Toggle] {
        let mut mem = CodeMemory::with_mapping(3 * 65536, mapping).unwrap();
        assert_eq!(mem.mapping(), mapping);
        let a = mem.add(&returns(1)).unwrap();
        let b = mem.add(&returns(0x1234_5678)).unwrap();
        assert_eq!((call(a), call(b)), (1, 0x1234_5678), "{mapping:?}");
        assert_w_xor_x(&format!("{mapping:?}"));
        mem.clear();
        let c = mem.add(&returns(3)).unwrap();
        assert_eq!(c, a, "{mapping:?}: a flush reuses the region from its start");
        assert_eq!(call(c), 3, "{mapping:?}: the new code runs, not the old");
        let mut n = 1;
        while mem.add(&returns(4)).is_ok() {
            n += 1;
        }
        assert!(mem.used() <= mem.capacity() && n >= 3, "{mapping:?}: {n} blocks in {} bytes", mem.capacity());
        assert_w_xor_x(&format!("{mapping:?}, full"));
    }
}

/// The dual mapping is one file mapped read-write and read-execute.
#[test]
fn dual_views_are_read_write_and_read_execute() {
    let _mem = CodeMemory::with_mapping(1 << 20, Mapping::Dual).unwrap();
    let views: Vec<String> = maps().into_iter().filter(|(_, n)| n.contains("visa-code")).map(|(p, _)| p).collect();
    assert!(views.iter().any(|p| p == "rw-s"), "{views:?}");
    assert!(views.iter().any(|p| p == "r-xs"), "{views:?}");
}
