//! The options that look inside a running guest, shared by `boot` and
//! `run`: the gdb stub, execution logs and the per-block profile.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use visa::engine::{Engine, LOG_ITEMS, Log, parse_filter, parse_items};
use visa::system::host_fds::OwnFd;
use visa::system::symbols::Symbols;

#[derive(Args, Clone, Debug)]
pub struct ObserveArgs {
    /// Listen for gdb on this TCP port of the loopback interface.
    #[arg(long, value_name = "PORT")]
    gdb: Option<u16>,
    /// With --gdb: wait for gdb and stop before the first instruction.
    #[arg(long, requires = "gdb")]
    gdb_wait: bool,
    /// Log items, comma-separated (in_asm, visa, opt, clif, out_asm, exec, cpu, int, tier).
    #[arg(short = 'd', value_name = "LIST", value_parser = check_items)]
    log: Option<String>,
    /// Write the log to this file (default: standard error).
    #[arg(short = 'D', value_name = "FILE", requires = "log")]
    log_file: Option<PathBuf>,
    /// Add to the -D file rather than start it afresh (how a program the
    /// guest execs logs to its caller's file).
    #[arg(long, requires = "log_file", hide = true)]
    log_append: bool,
    /// Log only blocks whose guest address is in ADDR or ADDR-ADDR (inclusive).
    #[arg(long, value_name = "ADDR[-ADDR]", value_parser = parse_filter, requires = "log")]
    log_filter: Option<(u64, u64)>,
    /// Write per-block execution counts, times and tiers to this file, hottest
    /// first (as JSON when its name ends in .json; a program the guest execs
    /// or forks writes FILE.PID).
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
}

/// `-d`'s value: a list of items, or `help`, which lists them and ends
/// visa with status 0 (as `--help` does, and QEMU's `-d help`), before any
/// other argument is checked.
fn check_items(s: &str) -> Result<String, String> {
    if s == "help" {
        println!("log items (-d ITEM,ITEM...):");
        for (name, _, what) in LOG_ITEMS {
            println!("  {name:<8} {what}");
        }
        std::process::exit(0);
    }
    parse_items(s).map(|_| s.to_string())
}

impl ObserveArgs {
    /// The gdb port and whether to wait for gdb.
    pub fn gdb(&self) -> Option<(u16, bool)> {
        self.gdb.map(|port| (port, self.gdb_wait))
    }

    /// The file for `--profile`, as an absolute path (the guest may change
    /// directory before a program it execs writes its own).
    pub fn profile(&self) -> Result<Option<PathBuf>, String> {
        self.profile.as_ref().map(|p| absolute(p)).transpose()
    }

    /// The execution log `-d` asks for. A `-D` file is written in append
    /// mode (once emptied, unless `--log-append`), so the processes of a
    /// guest (forked, or programs it execs) add their lines to it in turn.
    pub fn log(&self) -> Result<Option<Log>, String> {
        let Some(list) = &self.log else { return Ok(None) };
        let items = parse_items(list)?;
        let out: Box<dyn std::io::Write + Send> = match &self.log_file {
            Some(path) => {
                let fail = |e: std::io::Error| format!("{}: {e}", path.display());
                if !self.log_append {
                    std::fs::File::create(path).map_err(fail)?;
                }
                let file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(fail)?;
                // Kept out of the guest's way (see `system::host_fds`).
                Box::new(std::io::BufWriter::new(OwnFd::adopt(file.into()).map_err(fail)?))
            }
            None => Box::new(std::io::stderr()),
        };
        Ok(Some(Log::new(&items, self.log_filter, out)))
    }

    /// The options a program the guest execs is run with, so that it logs
    /// as its caller did (adding to the same `-D` file). `--profile` (a
    /// file per program) and `--gdb` (not carried over) are the Linux
    /// layer's to decide.
    pub fn exec_args(&self) -> Result<Vec<OsString>, String> {
        let mut args: Vec<OsString> = Vec::new();
        if let Some(list) = &self.log {
            args.extend(["-d".into(), list.into()]);
        }
        if let Some(path) = &self.log_file {
            args.extend(["-D".into(), absolute(path)?.into_os_string(), "--log-append".into()]);
        }
        if let Some((lo, hi)) = self.log_filter {
            args.extend(["--log-filter".into(), format!("{lo:#x}-{hi:#x}").into()]);
        }
        Ok(args)
    }

    /// Sets up an engine's log (naming guest code by `symbols`) and profile.
    pub fn apply(&self, engine: &mut Engine, symbols: &Arc<Symbols>) -> Result<(), String> {
        if let Some(log) = self.log()? {
            engine.set_log(symbols.name_in(log));
        }
        if self.profile.is_some() {
            engine.enable_profile();
        }
        Ok(())
    }
}

fn absolute(path: &Path) -> Result<PathBuf, String> {
    std::path::absolute(path).map_err(|e| format!("{}: {e}", path.display()))
}
