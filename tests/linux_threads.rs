//! Guest threads under `visa run`: the test program
//! `guests/linux/bin/vtthreads` (one test per subject) runs natively and
//! under every engine, three times each, and must print the same and end
//! the same way. The subjects synchronise with joins, barriers and
//! semaphores only, so their output never depends on timing.

mod linux_run;

use linux_run::*;

/// Runs `vtthreads SUBJECT` natively, then three times under each engine,
/// and compares; gives the native run's output.
fn check_threads(subject: &str) -> String {
    let expected = native(&vtthreads(), &[subject], None, None);
    assert!(!expected.stdout.is_empty(), "vtthreads {subject} printed nothing natively: {}", expected.stderr);
    assert!(!text(&expected).contains("FAILED"), "vtthreads {subject} fails natively: {}", text(&expected));
    for engine in [Interp, Jit, Tiered] {
        for round in 1..=3 {
            let got = visa(engine, &[], &vtthreads(), &[subject], None, None);
            assert_same(&format!("vtthreads {subject} under {}, run {round}", engine.name()), &expected, &got);
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
