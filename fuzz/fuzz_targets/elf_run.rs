#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| visa_fuzz::elf_run(data));
