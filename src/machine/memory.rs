//! Guest memory: a contiguous guest-physical range mapped onto one host
//! reservation. Every access is bounds-checked; an access outside the range
//! is a `MemFault`, never a host access. Guest memory is little-endian
//! whatever the host.

use memmap2::{MmapMut, MmapOptions};
use std::fmt;

/// An access the guest may not make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemFault {
    pub addr: u64,
    pub size: u32,
    pub write: bool,
}

impl fmt::Display for MemFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.write { "write" } else { "read" };
        write!(
            f,
            "{}-byte {what} at {:#x} is outside guest memory",
            self.size, self.addr
        )
    }
}

impl std::error::Error for MemFault {}

/// Guest RAM from address 0 to `size`, backed lazily: untouched pages cost
/// no host memory.
pub struct GuestMemory {
    map: MmapMut,
    size: u64,
}

impl GuestMemory {
    /// Reserves `size` bytes of zeroed guest memory.
    pub fn new(size: u64) -> std::io::Result<GuestMemory> {
        let len = usize::try_from(size.max(1))
            .map_err(|_| std::io::Error::other("guest memory larger than the host address space"))?;
        let map = MmapOptions::new().len(len).no_reserve_swap().map_anon()?;
        Ok(GuestMemory { map, size })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Host address of guest address 0 (for compiled code's inline accesses).
    pub fn host_base(&mut self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    #[inline]
    fn check(&self, addr: u64, size: usize, write: bool) -> Result<usize, MemFault> {
        match addr.checked_add(size as u64) {
            Some(end) if end <= self.size => Ok(addr as usize),
            _ => Err(MemFault {
                addr,
                size: size as u32,
                write,
            }),
        }
    }

    /// Reads `N` bytes at `addr`.
    #[inline]
    pub fn read<const N: usize>(&self, addr: u64) -> Result<[u8; N], MemFault> {
        let at = self.check(addr, N, false)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.map[at..at + N]);
        Ok(out)
    }

    /// Writes `N` bytes at `addr`.
    #[inline]
    pub fn write<const N: usize>(&mut self, addr: u64, bytes: [u8; N]) -> Result<(), MemFault> {
        let at = self.check(addr, N, true)?;
        self.map[at..at + N].copy_from_slice(&bytes);
        Ok(())
    }

    /// Reads a little-endian value of `size` bytes (1, 2, 4, 8 or 16), zero-extended.
    #[inline]
    pub fn read_le(&self, addr: u64, size: u32) -> Result<u128, MemFault> {
        Ok(match size {
            1 => self.read::<1>(addr)?[0] as u128,
            2 => u16::from_le_bytes(self.read(addr)?) as u128,
            4 => u32::from_le_bytes(self.read(addr)?) as u128,
            8 => u64::from_le_bytes(self.read(addr)?) as u128,
            _ => u128::from_le_bytes(self.read(addr)?),
        })
    }

    /// Writes the low `size` bytes (1, 2, 4, 8 or 16) of `value`, little-endian.
    #[inline]
    pub fn write_le(&mut self, addr: u64, size: u32, value: u128) -> Result<(), MemFault> {
        match size {
            1 => self.write(addr, [value as u8]),
            2 => self.write(addr, (value as u16).to_le_bytes()),
            4 => self.write(addr, (value as u32).to_le_bytes()),
            8 => self.write(addr, (value as u64).to_le_bytes()),
            _ => self.write(addr, value.to_le_bytes()),
        }
    }

    /// Copies guest bytes out.
    pub fn read_bytes(&self, addr: u64, out: &mut [u8]) -> Result<(), MemFault> {
        let at = self.check(addr, out.len(), false)?;
        out.copy_from_slice(&self.map[at..at + out.len()]);
        Ok(())
    }

    /// Copies bytes into guest memory.
    pub fn write_bytes(&mut self, addr: u64, data: &[u8]) -> Result<(), MemFault> {
        let at = self.check(addr, data.len(), true)?;
        self.map[at..at + data.len()].copy_from_slice(data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accesses_are_bounds_checked_and_little_endian() {
        let mut m = GuestMemory::new(4096).unwrap();
        m.write_le(8, 4, 0x1122_3344).unwrap();
        assert_eq!(m.read::<4>(8).unwrap(), [0x44, 0x33, 0x22, 0x11]);
        assert_eq!(m.read_le(8, 2).unwrap(), 0x3344);
        assert_eq!(m.read_le(4092, 4).unwrap(), 0);
        assert_eq!(
            m.read_le(4093, 4),
            Err(MemFault {
                addr: 4093,
                size: 4,
                write: false
            })
        );
        assert!(m.write_le(u64::MAX, 8, 0).is_err());
        assert!(m.write_bytes(4000, &[0; 97]).is_err());
    }

    #[test]
    fn large_reservations_cost_nothing_until_touched() {
        let mut m = GuestMemory::new(4 << 30).unwrap();
        m.write_le((4 << 30) - 8, 8, 7).unwrap();
        assert_eq!(m.read_le((4 << 30) - 8, 8).unwrap(), 7);
    }
}
