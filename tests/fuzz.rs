//! Each fuzz target of `fuzz/` on a short, seeded stream of inputs, so the
//! bodies stay compiled and a regression of what fuzzing found shows in
//! `cargo test`. Inputs are random bytes and mutations of the project's own
//! files (filetests, guest images, encoded blocks). `VISA_FUZZ_ROUNDS`
//! scales the number of inputs (default 1).

#[path = "../fuzz/src/lib.rs"]
mod targets;

use visa::frontend::x86::{Mode, X86Env, lift_block};
use visa::machine::GuestMemory;
use visa::visa::{codec, opt};

/// A small xorshift generator: the same inputs on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// A copy of `seed` with a few bytes flipped, replaced, inserted or
    /// removed, or a number replaced by an edge value.
    fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut out = seed.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = self.below(out.len());
            match self.below(6) {
                0 if !out.is_empty() => out[at] ^= 1 << self.below(8),
                1 if !out.is_empty() => out[at] = self.next() as u8,
                2 => out.insert(at, self.next() as u8),
                3 if !out.is_empty() => {
                    out.remove(at);
                }
                4 => {
                    const EDGES: [&str; 8] = [
                        "0",
                        "4294967295",
                        "4294967290",
                        "18446744073709551615",
                        "-1",
                        "65535",
                        "1048576",
                        "0x7fffffff",
                    ];
                    let edge = EDGES[self.below(EDGES.len())].as_bytes();
                    // Replace the run of digits at or after `at`, if any.
                    if let Some(start) = out[at..].iter().position(u8::is_ascii_digit).map(|p| at + p) {
                        let end = out[start..]
                            .iter()
                            .position(|b| !b.is_ascii_alphanumeric())
                            .map_or(out.len(), |p| start + p);
                        out.splice(start..end, edge.iter().copied());
                    }
                }
                _ => {
                    // Copy a stretch of the input over another place.
                    let len = self.below(16).min(out.len() - at.min(out.len()));
                    let from = self.below(out.len());
                    let piece: Vec<u8> = out[from..(from + len).min(out.len())].to_vec();
                    let end = (at + piece.len()).min(out.len());
                    out.splice(at..end, piece);
                }
            }
        }
        out
    }
}

fn rounds(n: usize) -> usize {
    let scale = std::env::var("VISA_FUZZ_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    n * scale
}

fn filetests() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/visa");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn guest(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/guests/bin/{name}.elf", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Code of a guest image: its first loadable segment's bytes.
fn guest_code(name: &str) -> Vec<u8> {
    let mut mem = GuestMemory::new(16 << 20).unwrap();
    let entry = visa::system::board::load_elf(&mut mem, &guest(name)).unwrap();
    let mut code = vec![0u8; 4096];
    mem.read_bytes(entry, &mut code).unwrap();
    code
}

#[test]
fn fuzz_lift_random_code() {
    let mut rng = Rng(0x5eed_0001);
    let seeds = [guest_code("sha256"), guest_code("sort")];
    for i in 0..rounds(24_000) {
        let input = if i % 2 == 0 {
            let len = 1 + rng.below(64);
            rng.bytes(len)
        } else {
            rng.mutate(&seeds[i % seeds.len()])
        };
        targets::lift(&input);
    }
}

#[test]
fn fuzz_visa_text() {
    let mut rng = Rng(0x5eed_0002);
    let seeds = filetests();
    // Whole filetests run every tier on every line: mutate one block's
    // worth of text to keep the run short.
    let small: Vec<Vec<u8>> = seeds
        .iter()
        .map(|s| {
            let text = String::from_utf8_lossy(s);
            let first_run = text.lines().position(|l| l.starts_with("; run:")).unwrap_or(0);
            let lines: Vec<&str> = text.lines().take(first_run + 2).collect();
            lines.join("\n").into_bytes()
        })
        .collect();
    for i in 0..rounds(10_000) {
        let input = rng.mutate(&small[i % small.len()]);
        targets::visa_text(&input);
    }
}

#[test]
fn fuzz_visa_binary() {
    let mut rng = Rng(0x5eed_0003);
    let env = &X86Env::get().env;
    let mem = {
        let mut m = GuestMemory::new(1 << 20).unwrap();
        m.write_bytes(0x1000, &guest_code("sha256")).unwrap();
        m
    };
    let mut seeds = Vec::new();
    let mut addr = 0x1000;
    while seeds.len() < 8 {
        let lifted = lift_block(&mem, addr, Mode::default()).unwrap();
        addr += lifted.ranges[0].1.max(1);
        seeds.push(codec::encode(env, &opt::optimize(env, &lifted.block)));
    }
    for i in 0..rounds(16_000) {
        let input = rng.mutate(&seeds[i % seeds.len()]);
        targets::visa_binary(&input);
    }
}

#[test]
fn fuzz_board_code() {
    let mut rng = Rng(0x5eed_0004);
    let seeds = [guest_code("crc32"), guest_code("bytecode")];
    for i in 0..rounds(250) {
        let input = if i % 2 == 0 {
            let len = 16 + rng.below(256);
            rng.bytes(len)
        } else {
            rng.mutate(&seeds[i % seeds.len()])
        };
        targets::board_code(&input);
    }
}

#[test]
fn fuzz_elf_boot() {
    let mut rng = Rng(0x5eed_0005);
    let seeds = [guest("hello"), guest("fault_ud")];
    for i in 0..rounds(5_000) {
        let input = rng.mutate(&seeds[i % seeds.len()]);
        targets::elf_boot(&input);
    }
}

#[test]
fn fuzz_elf_run() {
    let mut rng = Rng(0x5eed_0006);
    let vt = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/guests/linux/bin/vt")).unwrap();
    let seeds = [vt, guest("hello")];
    for i in 0..rounds(3_000) {
        let input = rng.mutate(&seeds[i % seeds.len()]);
        targets::elf_run(&input);
    }
}
