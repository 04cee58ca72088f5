//! Host calls that take integers only, without an `unsafe` block at each
//! call: `int_call!(libc::close(fd))` calls the C library function
//! `close` after checking, at compile time, that the function is one of a
//! listed set that take integer arguments only and that every argument is
//! an integer (never a pointer, so no memory can be passed).

/// An integer type: the only argument type `int_call!` passes. Sealed, so
/// no pointer type can implement it.
pub trait IntArg: Copy + sealed::Sealed {}

mod sealed {
    pub trait Sealed {}
}

macro_rules! int_arg {
    ($($t:ty),*) => { $(impl sealed::Sealed for $t {} impl IntArg for $t {})* };
}

int_arg!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

/// The argument itself, once the compiler has seen it is an integer.
#[inline(always)]
pub fn int<T: IntArg>(v: T) -> T {
    v
}

/// Calls a C library function that takes integers only:
/// `int_call!(libc::dup2(a[0] as i32, a[1] as i32))`. The arguments are
/// evaluated (outside any `unsafe` block) and checked to be integers
/// first; a function that is not in the list below does not compile.
///
/// The listed functions take descriptor numbers, ids, lengths, flags,
/// modes or seconds. A descriptor number the guest names may be one visa
/// holds (a `--perf-map` file): the guest can then disturb that file, as a
/// native program can its own, but no memory is touched.
macro_rules! int_call {
    (libc::$f:ident($($arg:expr),* $(,)?)) => {{
        $crate::system::linux::syscall::host::int_call!(@listed $f);
        $crate::system::linux::syscall::host::int_call!(@bind $f [] $($arg,)*)
    }};
    // Each argument is bound to its own variable (hygiene keeps the
    // `v`s of the expansions apart).
    (@bind $f:ident [$($done:ident)*] $next:expr, $($rest:expr,)*) => {{
        let v = $crate::system::linux::syscall::host::int($next);
        $crate::system::linux::syscall::host::int_call!(@bind $f [$($done)* v] $($rest,)*)
    }};
    (@bind $f:ident [$($done:ident)*]) => {
        // SAFETY: `$f` is one of the functions listed below, which take
        // integers only and hand them to the kernel, which checks them;
        // every argument is an `IntArg`, so no pointer reaches the call and
        // no memory of visa's is read or written (on descriptors visa
        // holds, see the macro's documentation).
        unsafe { libc::$f($($done),*) }
    };
    // The functions that take integers only and touch no memory of the
    // caller. (Not here: fcntl, ioctl, prctl and syscall, whose integer
    // argument may be a pointer; fork; anything that ends the process.)
    (@listed alarm) => {};
    (@listed close) => {};
    (@listed dup) => {};
    (@listed dup2) => {};
    (@listed dup3) => {};
    (@listed fallocate) => {};
    (@listed fchdir) => {};
    (@listed fchmod) => {};
    (@listed fchown) => {};
    (@listed fdatasync) => {};
    (@listed flock) => {};
    (@listed fsync) => {};
    (@listed ftruncate) => {};
    (@listed getegid) => {};
    (@listed geteuid) => {};
    (@listed getgid) => {};
    (@listed getpgid) => {};
    (@listed getpgrp) => {};
    (@listed getppid) => {};
    (@listed getsid) => {};
    (@listed gettid) => {};
    (@listed getuid) => {};
    (@listed kill) => {};
    (@listed lseek) => {};
    (@listed posix_fadvise) => {};
    (@listed sched_yield) => {};
    (@listed setgid) => {};
    (@listed setpgid) => {};
    (@listed setpriority) => {};
    (@listed setregid) => {};
    (@listed setresgid) => {};
    (@listed setresuid) => {};
    (@listed setreuid) => {};
    (@listed setsid) => {};
    (@listed setuid) => {};
    (@listed sync) => {};
    (@listed umask) => {};
    (@listed unshare) => {};
    (@listed $other:ident) => {
        compile_error!(concat!("int_call!: libc::", stringify!($other), " is not listed as taking integers only"))
    };
}

pub(crate) use int_call;

#[cfg(test)]
mod tests {
    #[test]
    fn int_call_passes_integers_and_returns_the_result() {
        // An invalid descriptor: the C library's -1 and EBADF.
        assert_eq!(int_call!(libc::close(-1)), -1);
        assert_eq!(std::io::Error::last_os_error().raw_os_error(), Some(libc::EBADF));
        let fd = int_call!(libc::dup(2));
        assert!(fd > 2);
        assert_eq!(int_call!(libc::close(fd)), 0);
    }
}
