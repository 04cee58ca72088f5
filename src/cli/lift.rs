//! `visa lift`: show what guest code becomes. For each block, reached from
//! the start address through direct jumps and branches, the guest
//! disassembly and its V-ISA text.

use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;

use clap::Args;
use visa::frontend::x86::{Mode, X86Env, disassemble, lift_block};
use visa::machine::GuestMemory;
use visa::system::board;
use visa::visa::{text, verify};

use super::boot::parse_number;

#[derive(Args)]
pub struct LiftArgs {
    /// An ELF64 image, loaded at its physical addresses.
    image: Option<PathBuf>,
    /// Load a raw file at a guest address: FILE@ADDR (repeatable).
    #[arg(long = "load", value_name = "FILE@ADDR", value_parser = super::boot::parse_load)]
    loads: Vec<(PathBuf, u64)>,
    /// First block (default: the image's entry point).
    #[arg(long, value_parser = parse_number)]
    at: Option<u64>,
    /// How many blocks to show.
    #[arg(long, default_value = "8")]
    count: usize,
    /// Also print the slot and helper declarations the blocks use.
    #[arg(long)]
    declarations: bool,
    /// Also print each block optimised, and the host code the JIT makes of it.
    #[arg(long)]
    host: bool,
    /// Translate as user-mode code (CPL 3, page permissions checked), as `visa run` does.
    #[arg(long)]
    user: bool,
    /// Translate for this MXCSR (its rounding, exception masks, DAZ, FTZ
    /// and the exception flags already set are part of a translation's mode).
    #[arg(long, value_parser = parse_number, default_value = "0x1f80")]
    mxcsr: u64,
}

/// Direct successors of a block (side exit, jump and branch targets).
fn successors(block: &visa::visa::Block) -> Vec<u64> {
    block.insts.iter().flat_map(|i| i.direct_targets()).collect()
}

pub fn lift(args: LiftArgs) -> Result<i32, String> {
    let (mem, entry) = load(&args)?;
    let start = args.at.or(entry).ok_or("no start address: give an ELF image or --at ADDR")?;
    let env = &X86Env::get().env;
    if args.declarations {
        println!("{}", text::print_env(env));
    }
    let mut queue = VecDeque::from([start]);
    let mut seen = BTreeSet::new();
    let mut shown = 0;
    while let Some(addr) = queue.pop_front() {
        if shown == args.count || !seen.insert(addr) {
            continue;
        }
        let mxcsr = u32::try_from(args.mxcsr).map_err(|_| format!("--mxcsr {:#x}: MXCSR is 32 bits", args.mxcsr))?;
        let mode = Mode { user: args.user, ..Mode::from_mxcsr(mxcsr) };
        let lifted = match lift_block(&mem, addr, mode) {
            Ok(l) => l,
            Err(e) => {
                println!("; {addr:#x}: no code there ({e:?})\n");
                continue;
            }
        };
        shown += 1;
        let bytes: u64 = lifted.ranges.iter().map(|r| r.1).sum();
        println!("; guest block {addr:#x}, {bytes} bytes, {} instructions", lifted.block.guest_count());
        for (i, &(at, len)) in lifted.ranges.iter().enumerate() {
            if i > 0 {
                println!(";   ... continued at {at:#x}");
            }
            for line in disassemble(&mem, at, len) {
                println!(";   {line}");
            }
        }
        verify(env, &lifted.block).map_err(|e| format!("internal error: the lifted block does not verify: {e}"))?;
        println!("{}", text::print_block(env, &lifted.block));
        if args.host {
            let mut optimized = lifted.block.clone();
            visa::visa::opt::optimize_built(env, &mut optimized);
            println!("; optimised\n{}", text::print_block(env, &optimized));
            // User mode as a single-threaded process has it on this host.
            let host_perms = args.user && visa::machine::host_mirrors_permissions();
            match visa::jit::disassemble(env, &optimized, args.user, host_perms) {
                Ok(code) => println!("; host code\n{code}"),
                Err(e) => println!("; no host code: {e}"),
            }
        }
        queue.extend(successors(&lifted.block));
    }
    Ok(0)
}

fn load(args: &LiftArgs) -> Result<(GuestMemory, Option<u64>), String> {
    let read = |p: &PathBuf| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let image = args.image.as_ref().map(read).transpose()?;
    let extent =
        args.loads.iter().map(|(f, a)| std::fs::metadata(f).map(|m| a + m.len()).unwrap_or(0)).max().unwrap_or(0);
    let mut mem = GuestMemory::new((128u64 << 20).max(extent.next_power_of_two())).map_err(|e| e.to_string())?;
    let entry = match (&args.image, image) {
        (Some(path), Some(bytes)) => {
            Some(board::load_elf(&mut mem, &bytes).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        _ => None,
    };
    for (file, addr) in &args.loads {
        board::load_raw(&mut mem, *addr, &read(file)?).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    Ok((mem, entry))
}
