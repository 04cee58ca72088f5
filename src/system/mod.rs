//! The systems: each drives the engine over a machine (CPU state, guest
//! memory, devices) and owns its run loop. `board` runs bare-metal guests
//! on a small PC-like board; `linux` runs x86-64 Linux programs as host
//! processes. `machine/` holds the data they share; the engine knows
//! neither.

pub mod board;
pub mod gdb;
pub mod host_fds;
pub mod linux;
pub mod symbols;
