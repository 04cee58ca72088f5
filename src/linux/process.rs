//! A guest process: its CPU state, memory and address space, signal state,
//! and the checked accessors syscalls use to read and write guest memory
//! (a bad guest pointer is EFAULT, never a host access; an empty buffer is
//! not checked, as the kernel accepts any pointer with a length of 0).

use std::collections::HashSet;
use std::ffi::CString;

use super::errno::{EFAULT, ENAMETOOLONG, Errno};
use super::mm::AddressSpace;
use super::signals::SignalState;
use crate::machine::{CpuState, GuestMemory};

/// Longest path a syscall reads.
pub const PATH_MAX: usize = 4096;

pub struct Process {
    pub cpu: CpuState,
    pub mem: GuestMemory,
    pub space: AddressSpace,
    pub signals: SignalState,
    /// Log every syscall to standard error.
    pub strace: bool,
    /// Set when the guest has exited: its status.
    pub exit: Option<i32>,
    /// Unknown syscall numbers already reported.
    pub reported: HashSet<u64>,
    /// The guest program's path (what /proc/self/exe names).
    pub exe: Vec<u8>,
    /// How to run a program that the guest execs: visa's own arguments
    /// before the program (`run --engine ...`).
    pub exec_prefix: Vec<CString>,
    /// With `--max-insns`: the guest instructions left, which a program the
    /// guest execs may still run.
    pub insns_left: Option<u64>,
}

impl Process {
    pub fn read(&self, addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
        let mut buf = vec![0u8; len];
        if len == 0 {
            return Ok(buf);
        }
        self.mem.read_bytes(addr, &mut buf).map_err(|_| EFAULT)?;
        Ok(buf)
    }

    pub fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), Errno> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.mem.write_bytes(addr, bytes).map_err(|_| EFAULT)
    }

    /// A guest input buffer, in place.
    pub fn buf(&self, addr: u64, len: usize) -> Result<&[u8], Errno> {
        if len == 0 {
            return Ok(&[]);
        }
        self.mem.bytes(addr, len).map_err(|_| EFAULT)
    }

    /// A guest output buffer, in place.
    pub fn buf_mut(&mut self, addr: u64, len: usize) -> Result<&mut [u8], Errno> {
        if len == 0 {
            return Ok(&mut []);
        }
        self.mem.bytes_mut(addr, len).map_err(|_| EFAULT)
    }

    pub fn read_u64(&self, addr: u64) -> Result<u64, Errno> {
        Ok(u64::from_le_bytes(self.read(addr, 8)?.try_into().expect("8 bytes")))
    }

    pub fn write_u64(&mut self, addr: u64, v: u64) -> Result<(), Errno> {
        self.write(addr, &v.to_le_bytes())
    }

    pub fn write_u32(&mut self, addr: u64, v: u32) -> Result<(), Errno> {
        self.write(addr, &v.to_le_bytes())
    }

    /// A NUL-terminated guest string (without the NUL).
    pub fn read_cstr(&self, addr: u64) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut at = addr;
        loop {
            // Read up to the end of the page, so a string at the end of a
            // mapping does not fault on the bytes past it.
            let chunk = (4096 - (at % 4096)) as usize;
            let bytes = self.read(at, chunk)?;
            match bytes.iter().position(|b| *b == 0) {
                Some(n) => {
                    out.extend_from_slice(&bytes[..n]);
                    return Ok(out);
                }
                None => out.extend_from_slice(&bytes),
            }
            if out.len() > PATH_MAX * 32 {
                return Err(ENAMETOOLONG);
            }
            at += chunk as u64;
        }
    }

    /// A guest path as a host C string.
    pub fn read_path(&self, addr: u64) -> Result<CString, Errno> {
        let p = self.read_cstr(addr)?;
        if p.len() >= PATH_MAX {
            return Err(ENAMETOOLONG);
        }
        Ok(CString::new(p).expect("no NUL inside"))
    }

    /// A NULL-terminated array of guest strings (argv, envp).
    pub fn read_str_array(&self, addr: u64) -> Result<Vec<Vec<u8>>, Errno> {
        let mut out = Vec::new();
        if addr == 0 {
            return Ok(out);
        }
        for i in 0.. {
            let p = self.read_u64(addr + 8 * i)?;
            if p == 0 {
                break;
            }
            out.push(self.read_cstr(p)?);
        }
        Ok(out)
    }
}
