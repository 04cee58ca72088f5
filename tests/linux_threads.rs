//! Guest threads under `visa run`: the test program
//! `guests/linux/bin/vtthreads` (one test per subject) runs natively and
//! under every engine, three times each (the tiered engine with its
//! compiler thread and without), and must print the same and end
//! the same way. The subjects synchronise with joins, barriers and
//! semaphores only, so their output never depends on timing.

mod linux_run;

use linux_run::*;

/// Runs `vtthreads SUBJECT` natively, then three times under each engine,
/// and compares; gives the native run's output.
fn check_threads(subject: &str) -> String {
    check_threads_with(subject, None)
}

/// `check_threads` with an environment.
fn check_threads_with(subject: &str, env: Env) -> String {
    let expected = native(&vtthreads(), &[subject], env, None);
    assert!(!expected.stdout.is_empty(), "vtthreads {subject} printed nothing natively: {}", expected.stderr);
    assert!(!text(&expected).contains("FAILED"), "vtthreads {subject} fails natively: {}", text(&expected));
    for engine in [Interp, Jit, Tiered] {
        // The tiered engine's runs: compiling on the compiler thread as by
        // default, then with blocks hot after ten runs, on the compiler
        // thread and on the guest's threads.
        let rounds: [&[&str]; 3] = match engine {
            Tiered => [&[], &["--threshold", "10"], &["--threshold", "10", "--sync-compile"]],
            _ => [&[], &[], &[]],
        };
        for (round, options) in rounds.iter().enumerate() {
            let got = visa(engine, options, &vtthreads(), &[subject], env, None);
            let what = format!("vtthreads {subject} under {} {options:?}, run {}", engine.name(), round + 1);
            assert_same(&what, &expected, &got);
        }
    }
    text(&expected)
}

#[test]
fn threads_are_created_and_joined_with_their_return_values() {
    let out = check_threads("create");
    assert!(out.contains("tids distinct from each other and the process: yes"), "{out}");
}

#[test]
fn mutexes_and_condition_variables_exclude() {
    let out = check_threads("mutex");
    assert!(out.contains("counter under a mutex: 400000 (expected 400000)"), "{out}");
}

#[test]
fn barriers_hold_threads_together() {
    check_threads("barrier");
}

#[test]
fn atomic_operations_are_atomic_across_threads() {
    let out = check_threads("atomics");
    assert!(out.contains("lock xadd: 400000") && out.contains("xchg spinlock: 400000"), "{out}");
}

#[test]
fn thread_local_storage_is_per_thread() {
    check_threads("tls");
}

#[test]
fn detached_threads_run_and_go() {
    check_threads("detached");
}

#[test]
fn exit_in_a_thread_ends_the_process() {
    check_threads("exit");
}

#[test]
fn pthread_exit_in_main_leaves_the_others_running() {
    check_threads("pthread_exit");
}

#[test]
fn a_signal_sent_to_a_thread_is_handled_there() {
    let out = check_threads("signal");
    assert!(!out.contains(": no"), "{out}");
}

/// Few units of the parallel workload, for the tests.
const SMALL_WORKLOAD: Env = Some(&[("VT_UNITS", "3000")]);

#[test]
fn a_parallel_workload_gives_the_same_total_on_1_2_and_4_threads() {
    let one = check_threads_with("parallel1", SMALL_WORKLOAD);
    assert_eq!(check_threads_with("parallel2", SMALL_WORKLOAD), one);
    assert_eq!(check_threads_with("parallel4", SMALL_WORKLOAD), one);
}

/// `--stats-json` of a run of `vtthreads SUBJECT` (compared with the native run).
fn thread_stats(engine: Engine, subject: &str) -> serde_json::Value {
    let scratch = Scratch::new(&format!("threads-stats-{subject}-{}", engine.name()));
    let path = scratch.0.join("stats.json");
    let expected = native(&vtthreads(), &[subject], SMALL_WORKLOAD, None);
    // Compiling on the guest's threads: the counts compared are then
    // reproducible (on a compiler thread, how many blocks it has compiled
    // by the end depends on timing).
    let options = ["--sync-compile", "--stats-json", path.to_str().unwrap()];
    let got = visa(engine, &options, &vtthreads(), &[subject], SMALL_WORKLOAD, None);
    assert_same(&format!("vtthreads {subject} under {}", engine.name()), &expected, &got);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// The threads of a process share one translation cache and its compiled
/// code: four threads running the same code translate and compile it once,
/// as two do (with a cache per thread, each would make its own). Two, not
/// one: the first thread created drops the code compiled before (for
/// fences on some hosts, for software permission checks on x86-64 Linux),
/// so the code that creates a thread is compiled again once a second
/// thread is created, and only then.
#[test]
fn threads_share_translations_and_compiled_code() {
    for engine in [Jit, Tiered] {
        let two = thread_stats(engine, "parallel2");
        let four = thread_stats(engine, "parallel4");
        for counter in ["blocks_translated", "jit_compiled"] {
            let (a, b) = (two[counter].as_u64().unwrap(), four[counter].as_u64().unwrap());
            assert!(a > 100, "{counter} under {}: {a} for two threads", engine.name());
            assert!(b <= a + a / 20, "{counter} under {}: {a} for two threads, {b} for four", engine.name());
        }
        // Every thread's instructions are counted.
        assert!(four["guest_insts"].as_u64().unwrap() >= two["guest_insts"].as_u64().unwrap());
    }
}

/// A thread that starts after another has ended runs the code the first
/// made, and gets the same results.
#[test]
fn a_later_thread_runs_what_an_earlier_one_compiled() {
    let out = check_threads_with("handoff", SMALL_WORKLOAD);
    assert!(out.contains("same sums"), "{out}");
    let stats = thread_stats(Jit, "handoff");
    let one = thread_stats(Jit, "parallel1");
    let (a, b) = (one["blocks_translated"].as_u64().unwrap(), stats["blocks_translated"].as_u64().unwrap());
    assert!(b <= a + a / 20, "blocks translated: {a} for one thread, {b} for two in turn");
}

#[test]
fn code_written_by_one_thread_runs_in_another() {
    let out = check_threads("smc");
    assert!(out.contains("60 of 60"), "{out}");
}

/// With no system call between the write and the call (the threads spin on
/// atomic flags), only the writer's request brings the runner's compiled
/// code back to its dispatcher to see the new code.
#[test]
fn code_written_by_one_thread_runs_in_another_that_spins() {
    let out = check_threads("smc_spin");
    assert!(out.contains("60 of 60"), "{out}");
}

#[test]
fn fork_continues_only_the_calling_thread() {
    let out = check_threads("fork");
    assert!(out.contains("not here: yes") && out.contains("returned 42"), "{out}");
}

#[test]
fn futex_requeues_and_wakes_by_operation() {
    let out = check_threads("futex");
    assert!(out.contains("cmp_requeue moved 1 waiter") && out.contains("set the second word to 5"), "{out}");
}

/// A thread that ends holding a robust mutex leaves it to the next locker
/// (waiting already or not) with EOWNERDEAD: its robust list is walked at
/// its exit; lists made by hand (a loop, a bad pointer, an entry pending)
/// are walked as Linux walks them.
#[test]
fn robust_mutexes_of_a_dead_thread_report_eownerdead() {
    let out = check_threads("robust");
    for line in [
        "main thread's robust list: registered 1, length 24",
        "lock after its owner ended: EOWNERDEAD\nconsistent: 0",
        "a waiter's lock when the owner ended: EOWNERDEAD",
        "lock then: ENOTRECOVERABLE",
        "looped entry's word: 0x40000000",
        "pending entry's word: 0x40000000",
        "another thread's word left: 1",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
}

/// posix_spawn from several threads at once: each vfork child shares the
/// memory while the other threads (and children) run.
#[test]
fn posix_spawn_from_several_threads() {
    let out = check_threads("spawn");
    assert_eq!(out.matches("5 of 5 children exited as asked").count(), 4, "{out}");
}

/// clone3 called directly: its refusals (sizes, trailing bytes, flags,
/// exit signals, stacks, set_tid, bad pointers) and the children and the
/// thread it makes (each size of its arguments, a stack as base and size,
/// CLONE_CLEAR_SIGHAND, CLONE_PIDFD, the tid words).
#[test]
fn clone3_makes_children_and_threads_and_refuses_as_linux() {
    let out = check_threads("clone3");
    for line in [
        "size 96, byte 90 set: E2BIG\n",
        "set_tid of this pid: EPERM\n",
        "child of size 88: waited 1, exited 1 status 11\n",
        "child on base + size: waited 1, exited 1 status 13\n",
        "child with CLONE_CLEAR_SIGHAND: SIGUSR1 default, SIGUSR2 ignored, SIGUSR1's mask kept 0\n",
        "pidfd given: 1, close-on-exec: 1\n",
        "it ran in this process: 1, as the thread made: 1, within a page of its stack's top: 1\n",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
}

/// Builds the Go test program (guests/linux/go) with Debian's golang-go,
/// for x86-64 whatever the host, static.
fn go_program() -> std::path::PathBuf {
    let go = std::path::Path::new("/usr/bin/go");
    assert!(go.is_file(), "/usr/bin/go is missing: install Debian's golang-go (apt-get install golang-go)");
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("go");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("gotest");
    let source = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests/linux/go/main.go");
    let built = std::process::Command::new(go)
        .args(["build", "-o"])
        .arg(&out)
        .arg(&source)
        .env("GOARCH", "amd64")
        .env("GOOS", "linux")
        .env("CGO_ENABLED", "0")
        .env("GOCACHE", dir.join("cache"))
        .env("GOPATH", dir.join("path"))
        .env("GO111MODULE", "off")
        .output()
        .expect("go build runs");
    assert!(built.status.success(), "go build: {}", String::from_utf8_lossy(&built.stderr));
    out
}

#[test]
fn go_program_with_goroutines_timers_and_a_tcp_echo() {
    let program = go_program();
    let expected = native(&program, &[], None, None);
    assert_eq!(expected.ending, Ending::Exit(0), "natively: {}", expected.stderr);
    let out = text(&expected);
    for line in ["goroutines: 163199825 shared: 120\n", "ping-pong: 999000\n", "timers: ticks 3 timer fired\n"] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
    assert!(out.ends_with("echo: message 0\necho: message 1\necho: message 2\n"), "{out}");
    for engine in [Interp, Jit, Tiered] {
        for round in 1..=3 {
            let got = visa(engine, &[], &program, &[], None, None);
            assert_same(&format!("the Go program under {}, run {round}", engine.name()), &expected, &got);
        }
    }
}
