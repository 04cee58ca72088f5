//! Command-line parsing and dispatch. Only this layer prints for a person.

mod bench;
mod boot;
mod cache;
mod lift;
mod observe;
mod run;
mod visa_files;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "visa", version, about = "A dynamic binary translator: x86-64 through a portable virtual ISA")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every V-ISA opcode with its types and meaning.
    Opcodes,
    /// Parse and verify V-ISA text files; print them in canonical form.
    Check {
        /// V-ISA text files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// Also print each block's binary encoding size.
        #[arg(long)]
        sizes: bool,
    },
    /// Run a bare-metal guest on the board (serial on stdin/stdout, exit port 0xF4).
    Boot(boot::BootArgs),
    /// Run an x86-64 Linux program, static or dynamic: visa run [OPTIONS] PROGRAM [ARGS]...
    Run(run::RunArgs),
    /// Benchmark the suite natively, under qemu-x86_64 and under each engine.
    Bench(bench::BenchArgs),
    /// List the Linux system calls `run` implements.
    Syscalls,
    /// Print guest blocks with their disassembly and V-ISA.
    Lift(lift::LiftArgs),
    /// Run filetests (V-ISA text with `; run:` lines) and report the results.
    Test {
        /// Filetest files or directories of `.visa` files.
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
        /// The tier to run them on.
        #[arg(long, value_enum, default_value = "interp")]
        tier: visa_files::TestTier,
    },
}

/// Exit status when visa itself cannot do what was asked (bad input, I/O).
pub const ERROR_STATUS: i32 = 125;

/// Runs the command line; returns the process exit status.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Opcodes => {
            visa_files::opcodes();
            Ok(0)
        }
        Command::Check { files, sizes } => visa_files::check(&files, sizes).map(|()| 0),
        Command::Test { paths, tier } => visa_files::test(&paths, tier),
        Command::Boot(args) => boot::boot(args),
        Command::Lift(args) => lift::lift(args),
        Command::Run(args) => run::run(args),
        Command::Bench(args) => bench::bench(args),
        Command::Syscalls => {
            for (nr, name) in visa::system::linux::implemented_syscalls() {
                println!("{nr:>4} {name}");
            }
            Ok(0)
        }
    };
    result.unwrap_or_else(|msg| {
        eprintln!("visa: {msg}");
        ERROR_STATUS
    })
}
