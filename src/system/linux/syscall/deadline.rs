//! When a wait with a timeout must end, so that a call resumed after an
//! interruption the guest does not see waits only what is left. A timeout
//! too far in the future to be a time is none.

use std::time::{Duration, Instant};

use super::super::errno::{EINVAL, Errno};

pub struct Deadline(Option<Instant>);

impl Deadline {
    /// `timeout` from now (none: no deadline).
    pub fn after(timeout: Option<Duration>) -> Deadline {
        Deadline(timeout.and_then(|t| Instant::now().checked_add(t)))
    }

    /// From a guest `struct timespec` already read: a negative one is EINVAL.
    pub fn after_timespec(timeout: Option<libc::timespec>) -> Result<Deadline, Errno> {
        match timeout {
            Some(t) if t.tv_sec < 0 => Err(EINVAL),
            t => Ok(Deadline::after(t.map(|t| Duration::new(t.tv_sec as u64, t.tv_nsec as u32)))),
        }
    }

    /// The time left (none: no deadline).
    pub fn left(&self) -> Option<Duration> {
        self.0.map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The time left as a host timespec.
    pub fn left_timespec(&self) -> Option<libc::timespec> {
        self.left().map(|l| libc::timespec { tv_sec: l.as_secs() as i64, tv_nsec: l.subsec_nanos() as i64 })
    }

    /// Whole milliseconds left, rounded up so a wait is never short; -1
    /// without a deadline.
    pub fn left_ms(&self) -> i32 {
        self.left().map_or(-1, |l| l.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32)
    }

    /// Has it passed?
    pub fn passed(&self) -> bool {
        self.left().is_some_and(|l| l.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_and_negative_timeouts() {
        let far = libc::timespec { tv_sec: i64::MAX, tv_nsec: 999_999_999 };
        assert!(Deadline::after_timespec(Some(far)).unwrap().left().is_none(), "too far is none");
        assert_eq!(Deadline::after_timespec(Some(libc::timespec { tv_sec: -1, tv_nsec: 0 })).err(), Some(EINVAL));
        let now = Deadline::after(Some(Duration::ZERO));
        assert!(now.passed());
        assert_eq!(now.left_ms(), 0);
        assert_eq!(Deadline::after(None).left_ms(), -1);
    }
}
