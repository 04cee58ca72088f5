//! The `visa` command line: a thin layer over the library.

mod cli;

fn main() {
    // Die quietly on a closed pipe (`visa opcodes | head`), as Unix tools do.
    #[cfg(unix)]
    // SAFETY: SIG_DFL is not a handler, so no code of ours runs on a
    // signal; no other thread exists yet to race the change.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(cli::main());
}
