//! Sockets and event system calls under `visa run`: each subject of the
//! test program `guests/linux/bin/vtnet` (C sources in `guests/linux/net/`)
//! runs natively and under every engine, and must print the same standard
//! output and end the same way. The subjects print facts only (never
//! ports, process ids or times), so no test depends on timing.

mod linux_run;

use std::path::PathBuf;

use linux_run::*;

fn vtnet() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests/linux/bin/vtnet")
}

/// Runs `vtnet SUBJECT` natively and under each engine, compares, and
/// checks the native output holds each of `lines`.
fn check(subject: &str, lines: &[&str]) {
    let expected = native(&vtnet(), &[subject], None, None);
    assert_eq!(expected.ending, Ending::Exit(0), "vtnet {subject} natively: {}", expected.stderr);
    let out = text(&expected);
    for line in lines {
        assert!(out.contains(line), "vtnet {subject} natively lacks {line:?}:\n{out}");
    }
    for engine in [Interp, Jit, Tiered] {
        let got = visa(engine, &[], &vtnet(), &[subject], None, None);
        assert_same(&format!("vtnet {subject} under {}", engine.name()), &expected, &got);
    }
}

#[test]
fn tcp_over_loopback_with_epoll() {
    check(
        "tcp",
        &[
            "accept: length 16, family 2, rest untouched 1",
            "server got ping",
            "client got pong",
            "SO_RCVTIMEO: 1.500000",
        ],
    );
}

#[test]
fn unix_sockets_pass_descriptors_and_credentials() {
    check(
        "unix",
        &["pipe says: through the passed descriptor", "truncated: 1", "pid mine 1, uid mine 1", "own name is b: 1"],
    );
}

#[test]
fn udp_datagrams_one_and_several_at_a_time() {
    check(
        "udp",
        &["got \"hello udp\" from x: 1", "message 2: 5 bytes \"three\", from x 1", "gathered \"sc\" \"attered\""],
    );
}

#[test]
fn socket_calls_with_bad_pointers_and_lengths() {
    check("fault", &["bind(fd, bad, sizeof a) = -1 EFAULT", "sendmsg(fd, &m, 0) = -1 EMSGSIZE"]);
}

#[test]
fn netlink_route_dump_and_getaddrinfo() {
    check("netlink", &["dump: done 1, sequence right 1, loopback address seen 1", "getaddrinfo: 0, family 2, port 80"]);
}

#[test]
fn eventfd_counters_and_semaphores() {
    check("eventfd", &["semaphore read 3: -11, value 0", "counter read: 12", "full counter: readable 1, writable 0"]);
}

#[test]
fn timerfd_expiries() {
    check("timerfd", &["expired >= 1: 1", "epoll: events 0x1, data 0x1122334455667788", "old interval 1ms: 1"]);
}

#[test]
fn epoll_events_and_interrupted_waits() {
    check(
        "epoll",
        &[
            "ready: 0x6",
            "one event: data 0xabcdef0000000001",
            "epoll_wait with SA_RESTART: -1 EINTR, handler ran: yes",
            "epoll_pwait with SA_RESTART: -1 EINTR, handler ran: yes",
        ],
    );
}

/// ppoll, pselect6 and epoll_pwait wait under the mask they are given.
#[test]
fn waits_apply_their_signal_mask() {
    check(
        "sigmask",
        &[
            "ppoll with SIGUSR1 pending: -1 EINTR, handler ran 1, blocked after: 1",
            "pselect with SIGUSR1 pending: -1 EINTR, handler ran 1, blocked after: 1",
            "epoll_pwait with SIGUSR1 pending: -1 EINTR, handler ran 1, blocked after: 1",
            "after waits that timed out: handler ran 0, blocked: 1",
            "syscall(SYS_ppoll, NULL, 0, &moment, &none, 4) = -1 EINVAL",
        ],
    );
}

/// signalfd reads the signals of its mask that are pending (raised, killed,
/// queued, a child's exit; several at once; from a blocking read in another
/// thread; by readv across buffers), and poll and epoll see it ready while
/// one is for the polling thread or the process (not for another thread).
#[test]
fn signalfd_reads_pending_signals() {
    check(
        "signalfd",
        &[
            "poll: revents 0x1",
            "SIGUSR1 pending after the read: 0",
            "signal 36 (Real-time signal 2), code SI_QUEUE, sender right 1, uid right 1, int 42, ptr 0x2a, status 0",
            "epoll: events 0x1, data 7\nread: 256 bytes",
            "code CLD_EXITED, sender right 1, uid right 1, int 0, ptr 0, status 7",
            "code CLD_EXITED, sender right 1, uid right 1, int 0, ptr 0, status 3",
            "read(fd, bad, sizeof(struct signalfd_siginfo)) = -1 EFAULT\nread: -1 EAGAIN",
            "signalfd(ep, &mask, 0) = -1 EINVAL",
            "readv(fd, iov, 3) = 256\nreadv: signals 10 and 12, SIGUSR2 from us 1\nreadv(fd, iov, 3) = -1 EAGAIN",
            "pread(fd, two, sizeof two, 0) = -1 ESPIPE\nlseek(fd, 5, SEEK_SET) = 0",
            "readv(fd, &short_iov, 1) = -1 EINVAL\nread: 128 bytes\n  signal 10",
            "pthread_kill(other, SIGUSR1) = 0\npoll(&p, 1, 0) = 0\nepoll_wait(ep, &e, 1, 0) = 0\nread: -1 EAGAIN",
            "poll in the thread: revents 0x1\nepoll_wait(ep, &e, 1, 0) = 1\nread: 128 bytes\n  signal 10",
        ],
    );
}

/// sigwaitinfo and sigtimedwait take pending signals of their set (one a
/// thread sends while the other waits too) or time out.
#[test]
fn sigtimedwait_takes_pending_signals() {
    check(
        "sigwait",
        &[
            "sigtimedwait(&usr1, &si, &moment) = -1 EAGAIN",
            "sigwaitinfo(&usr1, &si) = 10",
            "siginfo: code SI_QUEUE 1, value 7",
            "sigwait: 0, signal 12",
            "sigtimedwait(&usr1, nowhere, &zero) = -1 EFAULT\nsigtimedwait(&usr1, NULL, &zero) = -1 EAGAIN",
        ],
    );
}

#[test]
fn posix_timers_deliver_signals() {
    check(
        "timer",
        &[
            "signal SIGRTMIN+1, SI_TIMER 1, value right 1, fired 1",
            "signal SIGALRM, SI_TIMER 1, value right 1, fired 1",
        ],
    );
}

#[test]
fn strace_names_socket_calls() {
    let got = visa(Interp, &["--strace"], &vtnet(), &["udp"], None, None);
    assert_eq!(got.ending, Ending::Exit(0), "{}", got.stderr);
    for call in ["socket(2, 0x2, 0)", "bind(3, ", "sendto(3, ", "recvfrom(4, ", "sendmmsg(3, ", "recvmmsg(4, "] {
        assert!(got.stderr.contains(call), "--strace lacks {call:?}:\n{}", got.stderr);
    }
}
