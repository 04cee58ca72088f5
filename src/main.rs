//! The `visa` command line: a thin layer over the library.

mod cli;

fn main() {
    // Die quietly on a closed pipe (`visa opcodes | head`), as Unix tools do.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(cli::main());
}
