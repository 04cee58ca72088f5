//! A 16550-compatible UART at I/O port 0x3F8: transmit to an output sink,
//! receive from an input source, line status that is always ready to send.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::mpsc::Receiver;

pub const BASE: u16 = 0x3f8;
pub const PORTS: u16 = 8;

const LSR_DATA_READY: u8 = 0x01;
const LSR_THR_EMPTY: u8 = 0x20;
const LSR_IDLE: u8 = 0x40;
const LCR_DLAB: u8 = 0x80;

/// Where received bytes come from.
pub enum Input {
    None,
    Bytes(VecDeque<u8>),
    /// Fed by a reader thread (standard input), so polling never blocks.
    Channel(Receiver<u8>),
}

pub struct Uart {
    out: Box<dyn Write>,
    input: Input,
    pending: Option<u8>,
    ier: u8,
    lcr: u8,
    mcr: u8,
    scr: u8,
    divisor: u16,
}

impl Uart {
    pub fn new(out: Box<dyn Write>, input: Input) -> Uart {
        Uart { out, input, pending: None, ier: 0, lcr: 0, mcr: 0, scr: 0, divisor: 1 }
    }

    fn poll(&mut self) -> Option<u8> {
        if self.pending.is_none() {
            self.pending = match &mut self.input {
                Input::None => None,
                Input::Bytes(q) => q.pop_front(),
                Input::Channel(rx) => rx.try_recv().ok(),
            };
        }
        self.pending
    }

    pub fn read(&mut self, offset: u16) -> u8 {
        let dlab = self.lcr & LCR_DLAB != 0;
        match offset {
            0 if dlab => self.divisor as u8,
            0 => {
                let b = self.poll().unwrap_or(0);
                self.pending = None;
                b
            }
            1 if dlab => (self.divisor >> 8) as u8,
            1 => self.ier,
            // No interrupt pending; FIFOs reported enabled.
            2 => 0xc1,
            3 => self.lcr,
            4 => self.mcr,
            5 => LSR_THR_EMPTY | LSR_IDLE | if self.poll().is_some() { LSR_DATA_READY } else { 0 },
            // CTS, DSR and DCD asserted.
            6 => 0xb0,
            _ => self.scr,
        }
    }

    pub fn write(&mut self, offset: u16, value: u8) {
        let dlab = self.lcr & LCR_DLAB != 0;
        match offset {
            0 if dlab => self.divisor = (self.divisor & 0xff00) | value as u16,
            0 => {
                // A closed output (a pipe whose reader left) drops the byte, as a real line would.
                let _ = self.out.write_all(&[value]);
                if value == b'\n' {
                    let _ = self.out.flush();
                }
            }
            1 if dlab => self.divisor = (self.divisor & 0x00ff) | (value as u16) << 8,
            1 => self.ier = value & 0x0f,
            3 => self.lcr = value,
            4 => self.mcr = value & 0x1f,
            7 => self.scr = value,
            _ => {}
        }
    }

    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }
}
