//! The observation options across a guest's execve (visa runs itself again
//! for the new program): `-d` and `-D` carry over, every program adding
//! its lines to the same file, and `--profile FILE` gives each program a
//! file of its own (`FILE.PID`, from the file of the program it came from).
//! `vt exec` forks three children that exec (one crashes) and ends by
//! exec'ing in place; it must print and end as natively under every engine.
//! (`--gdb` across execve is in `tests/gdb.rs`.)

mod linux_run;

use std::collections::BTreeSet;

use linux_run::*;

/// The profile files in `dir`, by name.
fn profiles(dir: &std::path::Path) -> BTreeSet<String> {
    let names = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned());
    names.filter(|n| n.starts_with("prof")).collect()
}

#[test]
fn logs_and_profiles_follow_execve() {
    let expected = native(&vt(), &["exec"], None, None);
    assert_eq!(expected.ending, Ending::Exit(9));
    for engine in [Interp, Jit, Tiered] {
        let scratch = Scratch::new(&format!("observe-exec-{}", engine.name()));
        let log = scratch.0.join("log");
        // The first visa starts the log afresh.
        std::fs::write(&log, "stale line\n").unwrap();
        let prof = scratch.0.join("prof");
        let options = ["-d", "int", "-D", log.to_str().unwrap(), "--profile", prof.to_str().unwrap()];
        let got = visa(engine, &options, &vt(), &["exec"], None, None);
        assert_same(&format!("vt exec under {} with -d -D --profile", engine.name()), &expected, &got);

        let text = std::fs::read_to_string(&log).unwrap();
        assert!(!text.contains("stale line"), "{}: the log was not started afresh", engine.name());
        // Only the exec'd programs end with exit_group: the hello and probe
        // children, and the program the parent finally becomes (the crash
        // child dies of SIGSEGV). A log that did not follow execve has none.
        let exits = text.lines().filter(|l| l.starts_with("int: system call exit_group")).count();
        assert_eq!(exits, 3, "{}:\n{text}", engine.name());
        // The new programs' own lines: the last program prints its argv.
        assert!(text.lines().last().unwrap().starts_with("int: system call exit_group"), "{}", engine.name());

        // prof: the first program (written at its final execve) and
        // prof.M, the program it became; prof.C for each forked child (written
        // when it execs) and prof.C.C, the program the child became (the
        // crash child's written as it crashed).
        let files = profiles(&scratch.0);
        let parts: Vec<Vec<&str>> = files.iter().map(|f| f.split('.').skip(1).collect()).collect();
        assert_eq!(files.len(), 8, "{}: {files:?}", engine.name());
        assert_eq!(parts.iter().filter(|p| p.is_empty()).count(), 1, "{files:?}");
        let singles: BTreeSet<&str> = parts.iter().filter(|p| p.len() == 1).map(|p| p[0]).collect();
        let doubles: Vec<&Vec<&str>> = parts.iter().filter(|p| p.len() == 2).collect();
        assert_eq!(singles.len(), 4, "{files:?}");
        assert_eq!(doubles.len(), 3, "{files:?}");
        for d in doubles {
            assert!(d[0] == d[1] && singles.contains(d[0]), "{files:?}");
        }
        for f in &files {
            let p = std::fs::read_to_string(scratch.0.join(f)).unwrap();
            let blocks = p.lines().filter(|l| !l.starts_with('#')).count();
            assert!(p.starts_with("# visa profile") && blocks > 10, "{f}: {p}");
        }
    }
}
