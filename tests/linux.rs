//! `visa run` against the host: the multi-call test program
//! `guests/linux/bin/vt` (one test per subject) and busybox applets run
//! natively and under visa's engines, and must print the same standard
//! output and end the same way (exit status, or the signal that killed
//! them). Also what visa reports itself: programs it cannot run (exit
//! status 125), unknown system calls, and `--strace`.

mod linux_run;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use linux_run::*;
use visa::system::linux::{SYSROOT_CANDIDATES, SYSROOT_ENV};

/// Runs `vt ARGS` natively and under each engine and compares. With
/// `fresh_dir`, each run gets an empty directory as its last argument.
fn check_vt(args: &[&str], engines: &[Engine], env: Env, fresh_dir: bool) -> Run {
    compare_vt(args, engines, env, fresh_dir, assert_same)
}

/// `check_vt` comparing each engine's run with the native one by `same`;
/// the engines must agree exactly among themselves.
fn compare_vt(args: &[&str], engines: &[Engine], env: Env, fresh_dir: bool, same: fn(&str, &Run, &Run)) -> Run {
    let scratch = Scratch::new(&format!("vt-{}", args.join("-")));
    let with_dir = |name: &str| -> Vec<String> {
        let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        if fresh_dir {
            a.push(scratch.fresh(name).to_string_lossy().into_owned());
        }
        a
    };
    let native_args = with_dir("native");
    let expected = native(&vt(), &native_args.iter().map(|s| s.as_str()).collect::<Vec<_>>(), env, None);
    assert!(!expected.stdout.is_empty(), "vt {args:?} printed nothing natively: {}", expected.stderr);
    let mut first: Option<(Engine, Run)> = None;
    for engine in engines {
        let a = with_dir(engine.name());
        let got = visa(*engine, &[], &vt(), &a.iter().map(|s| s.as_str()).collect::<Vec<_>>(), env, None);
        let what = format!("vt {} under {}", args.join(" "), engine.name());
        same(&what, &expected, &got);
        match &first {
            Some((by, run)) => assert_same(&format!("{what}, against {}", by.name()), run, &got),
            None => first = Some((*engine, got)),
        }
    }
    expected
}

// ---- the vt subjects ----

#[test]
fn hello_echoes_arguments_environment_and_status() {
    let env: &[(&str, &str)] = &[("VT_A", "1"), ("VT_B", "two words"), ("EMPTY", ""), ("LC_ALL", "C")];
    let run = check_vt(&["hello", "7", "x y", "", "-z"], &[Interp, Jit, Tiered], Some(env), false);
    assert_eq!(run.ending, Ending::Exit(7));
    assert!(text(&run).contains("argv[3]=x y\nargv[4]=\nargv[5]=-z\n"), "{}", text(&run));
    for line in ["env VT_A=1\n", "env VT_B=two words\n", "env EMPTY=\n"] {
        assert!(text(&run).contains(line), "{line:?} missing from:\n{}", text(&run));
    }
}

#[test]
fn files_and_descriptors() {
    let run = check_vt(&["files"], &[Interp, Jit, Tiered], None, true);
    let out = text(&run);
    for line in ["readv: \"hello \" \"WORLD\n", "exited 1, status 42", "basename: vt, absolute: 1", "mtime 1234567890"]
    {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
}

#[test]
fn memory_mappings_and_faults() {
    let run = check_vt(&["mem"], &[Interp, Jit, Tiered], None, false);
    let out = text(&run);
    for line in [
        "PROT_NONE page: read faults: signal 11 SEGV_ACCERR",
        "MREMAP_FIXED: at target",
        "mremap grow: ok, moved 1",
        "hot store, then a faulting load: page+24, at function+6, slot -9",
        "hot counter, then a faulting load: page+24, at function+4, count 100003",
        "hot loop, then a faulting load: page+4096, round 511",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
}

/// A fault in compiled code, where its block may be run again, gives the
/// block up for the interpreter to run from its start (`replays`); what the
/// guest sees is as natively (a store before the faulting load made once,
/// the handler's instruction address the load's).
#[test]
fn faults_in_compiled_code_give_the_block_up_to_the_interpreter() {
    let expected = native(&vt(), &["mem"], None, None);
    for engine in [Jit, Tiered] {
        let scratch = Scratch::new(&format!("vt-mem-replays-{}", engine.name()));
        let path = scratch.0.join("stats.json");
        let options = ["--sync-compile", "--stats-json", path.to_str().unwrap()];
        let got = visa(engine, &options, &vt(), &["mem"], None, None);
        assert_same(&format!("vt mem under {}", engine.name()), &expected, &got);
        let stats: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let replays = stats["replays"].as_u64().unwrap();
        // The three faults of the hot store-then-load (the hot counter's
        // loads come after a store that may overwrite what was read), and
        // the hot loop's, in a later round (each round may be run again).
        assert!(replays >= 4, "{replays} replays under {}", engine.name());
    }
}

#[test]
fn signals_handlers_masks_and_faults() {
    let run = check_vt(&["signals"], &[Interp, Jit, Tiered], None, false);
    let out = text(&run);
    for line in [
        "after unblocking: 3 handler run(s): 12 10 1",
        "stack overflow: signal 11, handled on the alternate stack 1",
        "xmm8 restored 1",
        "misaligned movaps: signal 11",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
}

#[test]
fn floating_point_through_libc() {
    let run = check_vt(&["float"], &[Interp, Jit, Tiered], None, false);
    assert!(text(&run).contains("long double 0.333333 "), "{}", text(&run));
}

/// MXCSR's exception flags as fenv.h reads them, glibc's software fmaf
/// (chosen with `--cpu x86-64-v2`, whose CPUID has no FMA; it rounds to odd
/// from the inexact flag) in upward rounding, and an unmasked division by
/// zero caught as SIGFPE with FPE_FLTDIV.
#[test]
fn floating_point_exception_flags() {
    let expected = native(&vt(), &["fenv"], None, None);
    let out = text(&expected);
    for line in [
        "1/3 = 0x1.5555555555555p-2: invalid 0 divbyzero 0 overflow 0 underflow 0 inexact 1",
        "upward: fmaf(1, 1, 2^-80) = 0x1.000002p+0",
        "si_code 3 (FPE_FLTDIV 3)",
    ] {
        assert!(out.contains(line), "{line:?} missing natively:\n{out}");
    }
    for engine in [Interp, Jit, Tiered] {
        let got = visa(engine, &["--cpu", "x86-64-v2"], &vt(), &["fenv"], None, None);
        assert_same(&format!("vt fenv under {}", engine.name()), &expected, &got);
    }
}

#[test]
fn self_modifying_code() {
    let run = check_vt(&["smc"], &[Interp, Jit, Tiered], None, false);
    let out = text(&run);
    for line in ["add 1000: f(5) = 1005", "mul 5 (RX again): 55", "patch ahead: 42"] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
}

#[test]
fn exec_replaces_the_program() {
    let run = check_vt(&["exec"], &[Interp, Jit, Tiered], None, false);
    assert_eq!(run.ending, Ending::Exit(9));
    let out = text(&run);
    for line in ["argv[0]=vt-child", "probe: fd 11 EBADF", "child killed by 11", "= -1 ENOENT", "argv[0]=vt-last"] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
}

/// A vfork child (vfork, posix_spawn) shares its parent's memory: what it
/// writes before _exit or execve, the parent sees, and posix_spawn learns of
/// a failed exec from its child that way.
#[test]
fn vfork_children_share_memory() {
    let run = check_vt(&["vfork"], &[Interp, Jit, Tiered], None, false);
    let out = text(&run);
    for line in [
        "vfork: child wrote 101, its stack variable 7, its pid is the one returned 1, not ours 1",
        "after the child closed it: write end open 1, child wrote -1",
        "before its execve the child wrote 42",
        "the spawned child printed: argv[3]=spawned",
        "posix_spawn of a missing program: ENOENT",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
}

/// A CLONE_VM child without CLONE_VFORK runs beside its parent on the same
/// memory (a futex ping-pong, a mapping it makes), with the tid words, TLS
/// and exit signal it is given, and ends by exit, signal or execve as on
/// Linux; with CLONE_SIGHAND (beside or vfork) parent and child share one
/// set of dispositions, host-ignored signals included. Run three times
/// under each engine: both sides run at once.
#[test]
fn clone_vm_children_run_beside_their_parent() {
    for _ in 0..3 {
        let run = check_vt(&["clonevm"], &[Interp, Jit, Tiered], None, false);
        let out = text(&run);
        for line in [
            "ball passed 100 times each way, ends at 200",
            "its mapping seen here: 4242",
            "the child read 0x5151 through FS",
            "clone child without __WCLONE: waitpid -1 ECHILD",
            "child tid word cleared at its exit: 1, the child saw its pid there: 1",
            "SIGUSR1 pending after its end: 1",
            "child killed by its parent: waited 1, exited 0 status 0, signalled 1 signal 12",
            "child tid word cleared at its execve: 1",
            "sighand child: saw our SIGUSR1 handler 1, its SIG_IGN for SIGUSR2 is ours 1",
            "sighand vfork child: saw our SIGUSR1 handler 1, its SIG_IGN for SIGUSR2 is ours 1",
            "child without sighand: saw our SIGUSR1 handler 1, its SIG_IGN for SIGUSR2 is ours 0",
        ] {
            assert!(out.contains(line), "{line:?} missing from:\n{out}");
        }
    }
}

/// close_range closes and marks ranges of the guest's descriptors (with
/// Linux's errors), unshares a thread's table, and passes over visa's own
/// descriptors: a signalfd's private pipe ends, and the `-D` log, which
/// goes on being written after the guest closed everything above 2. A
/// dup2 onto the number of one of them moves it out of the way, and none
/// takes a number the guest would get natively.
#[test]
fn close_range_closes_the_guests_descriptors_only() {
    let run = check_vt(&["fds"], &[Interp, Jit, Tiered], None, false);
    let out = text(&run);
    for line in [
        "after closing the middle two: open open closed closed open open",
        "close_range_(lo, lo, 1U << 3) = -1 EINVAL",
        "in main after the thread's close: open cloexec",
        "signalfd read after the close_range: 128 bytes, signal 10",
        "dup2 onto every number from 3 to 600 but two: 596",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
    let scratch = Scratch::new("vt-fds-log");
    let log = scratch.fresh("log").join("int.log");
    let log_arg = log.to_string_lossy().into_owned();
    for engine in [Interp, Tiered] {
        let got = visa(engine, &["-d", "int", "-D", &log_arg], &vt(), &["fds"], None, None);
        assert_same(&format!("vt fds with a log under {}", engine.name()), &run, &got);
        let logged = std::fs::read_to_string(&log).unwrap();
        assert!(logged.contains("system call exit_group"), "the log stopped early:\n{logged}");
    }
}

#[test]
fn time_and_sleep() {
    let run = check_vt(&["time"], &[Interp, Jit, Tiered], None, false);
    assert!(text(&run).contains("nanosleep 1ms: at least 1ms 1"), "{}", text(&run));
}

#[test]
fn crashes_and_exits() {
    let cases: &[(&[&str], Ending, bool)] = &[
        (&["segv"], Ending::Signal(libc::SIGSEGV), true),
        (&["abort"], Ending::Signal(libc::SIGABRT), true),
        (&["exit", "42"], Ending::Exit(42), true),
        (&["overflow"], Ending::Signal(libc::SIGSEGV), false),
        (&["usr1"], Ending::Signal(libc::SIGUSR1), false),
        (&["kill"], Ending::Signal(libc::SIGKILL), false),
        (&["_exit", "3"], Ending::Exit(3), false),
    ];
    for (how, ending, with_jit) in cases {
        let args: Vec<&str> = ["crash"].iter().chain(how.iter()).copied().collect();
        let engines: &[Engine] = if *with_jit { &[Interp, Jit, Tiered] } else { &[Interp, Tiered] };
        let run = check_vt(&args, engines, None, false);
        assert_eq!(run.ending, *ending, "vt {args:?}");
        assert!(text(&run).starts_with("before the end\n"), "vt {args:?}: {}", text(&run));
    }
}

#[test]
fn unknown_syscall_is_reported_and_fails_with_enosys() {
    let expected = check_vt(&["nosys"], &[Interp, Jit, Tiered], None, false);
    assert!(text(&expected).contains("syscall(9999, 1, 2, 3) = -1 ENOSYS\n"), "{}", text(&expected));
    let got = visa(Interp, &[], &vt(), &["nosys"], None, None);
    assert_eq!(got.stderr.matches("unknown syscall 9999").count(), 1, "reported once:\n{}", got.stderr);
}

#[test]
fn strace_shows_system_calls() {
    let expected = native(&vt(), &["hello", "0", "traced"], None, None);
    let got = visa(Interp, &["--strace"], &vt(), &["hello", "0", "traced"], None, None);
    assert_same("vt hello --strace", &expected, &got);
    let lines: Vec<&str> = got.stderr.lines().filter(|l| l.starts_with("[visa strace] ")).collect();
    assert!(lines.iter().any(|l| l.contains("write(1, ") && l.ends_with(" = 0xf")), "{}", got.stderr);
    assert!(lines.iter().any(|l| l.contains("brk(")), "{}", got.stderr);
    assert!(lines.last().is_some_and(|l| l.contains("exit_group(0)")), "{}", got.stderr);
    let failed = visa(Interp, &["--strace"], &vt(), &["nosys"], None, None);
    assert!(failed.stderr.contains("syscall_9999(0x1, 0x2, 0x3, ...) = -1 "), "{}", failed.stderr);
}

// ---- programs visa cannot run ----

/// visa refuses the file with its error status and a message naming it.
fn assert_refused(program: &Path, says: &str) {
    let got = visa(Interp, &[], program, &[], None, None);
    assert_eq!(got.ending, Ending::Exit(ERROR_STATUS), "{}: {}", program.display(), got.stderr);
    assert!(got.stdout.is_empty(), "{}", program.display());
    assert!(got.stderr.starts_with("visa: "), "{}: {}", program.display(), got.stderr);
    assert!(got.stderr.contains(says), "{}: {:?} not in {:?}", program.display(), says, got.stderr);
    assert!(!got.stderr.contains("panicked"), "{}", got.stderr);
}

/// How visa's refusal of a dynamic linker found nowhere goes on, which
/// depends on the guest root (src/system/linux/sysroot.rs): with one (named
/// by VISA_SYSROOT, or on a host that is not x86-64 the first installed of
/// SYSROOT_CANDIDATES) it looked there and on the host; without one an
/// x86-64 host's own files are the guest's, and any other host needs a root.
fn missing_linker_says() -> &'static str {
    let installed = || SYSROOT_CANDIDATES.iter().any(|(dir, _)| Path::new(dir).is_dir());
    if std::env::var_os(SYSROOT_ENV).is_some() || (!cfg!(target_arch = "x86_64") && installed()) {
        "is neither under"
    } else if cfg!(target_arch = "x86_64") {
        "is not installed"
    } else {
        "needs an x86-64 guest root"
    }
}

#[test]
fn programs_visa_cannot_run_are_refused() {
    let scratch = Scratch::new("refused");
    let dir = &scratch.0;
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let image = std::fs::read(vt()).unwrap();
    assert_refused(&dir.join("missing"), "No such file");
    assert_refused(dir, "Is a directory");
    assert_refused(&write("text", b"just text\n"), "not an ELF64 file");
    assert_refused(&write("garbage.elf", b"\x7fELF\x02\x01\x01\0garbage"), "not an ELF64 file");
    assert_refused(&write("truncated.elf", &image[..200]), "program headers");
    let mut arm = image.clone();
    arm[18..20].copy_from_slice(&183u16.to_le_bytes());
    assert_refused(&write("aarch64.elf", &arm), "is not x86-64");
    let mut elf32 = image.clone();
    elf32[4] = 1;
    assert_refused(&write("elf32", &elf32), "not an ELF64 file");
    assert_refused(&write("script", b"#!/nonexistent/interpreter\necho hi\n"), "/nonexistent/interpreter");
    let mut no_linker = std::fs::read(dynvt()).unwrap();
    let at = no_linker.windows(27).position(|w| w == b"/lib64/ld-linux-x86-64.so.2").expect("vtdyn's PT_INTERP");
    no_linker[at..at + 27].copy_from_slice(b"/nonexistent/linker-x86.so2");
    let missing = format!("dynamic linker /nonexistent/linker-x86.so2 {}", missing_linker_says());
    assert_refused(&write("no-linker", &no_linker), &missing);
    let missing_root = dir.join("no-such-root");
    let got = visa(Interp, &["--sysroot", missing_root.to_str().unwrap()], &dynvt(), &[], None, None);
    assert_eq!(got.ending, Ending::Exit(ERROR_STATUS), "{}", got.stderr);
    assert!(got.stderr.contains("is not a directory"), "{}", got.stderr);
}

// ---- busybox ----

const BUSYBOX: &str = "/usr/bin/busybox";

/// The host's busybox; without it the tests fail, unless VISA_NO_BUSYBOX=1
/// says to leave them out (then None, and the caller says so).
fn busybox() -> Option<PathBuf> {
    if std::env::var("VISA_NO_BUSYBOX").is_ok_and(|v| v == "1") {
        eprintln!("VISA_NO_BUSYBOX=1: the busybox tests do not run");
        return None;
    }
    let path = PathBuf::from(BUSYBOX);
    assert!(
        path.is_file(),
        "{BUSYBOX} is missing: install the static busybox (apt-get install busybox-static), \
         or set VISA_NO_BUSYBOX=1 to leave these tests out"
    );
    Some(path)
}

/// What every busybox case starts from.
fn fixture(dir: &Path) {
    let put = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    put("words.txt", b"banana\napple\ncherry\nbanana\nApple\ndate\napple\nbanana\nelder berry\n");
    put("nums.txt", b"3\n10\n2\n33\n-1\n2\n");
    put("table.csv", b"name:age:city\nann:31:oslo\nbob:25:rome\ncy:40:oslo\n");
    let big: String = (1..=2000).map(|i| format!("line {i} of the big text\n")).collect();
    put("big.txt", big.as_bytes());
    put("sub/inner.txt", b"inner file\n");
    put("sub/deeper/x.bin", &(0..=255u8).collect::<Vec<u8>>());
    put("empty", b"");
}

/// busybox scripts, each run with `sh -c` in its own copy of the fixture.
const CASES: &[(&str, &str)] = &[
    ("sh pipes", "cat words.txt | sort | uniq -c | sort -rn | head -3; echo a b c | wc -w | tr -d ' '"),
    (
        "sh subshells and arithmetic",
        r#"x=outer; (x=inner; echo $x); echo $x; echo "$(echo nested $(echo deeper))"
           echo $(( (3+4)*5 % 7 )) $((1<<10)) $((-7/2)) $((0x1f)) $((10 > 3)) $((2**10))
           y=5; y=$((y*y+1)); echo $y; echo `echo backquotes`"#,
    ),
    (
        "sh control",
        r#"f() { echo "f got $# args: $*"; return 3; }; f a "b c"; echo "f returned $?"
           for i in 1 2 3; do printf "%s," $i; done; echo
           n=0; while [ $n -lt 5 ]; do n=$((n+1)); done; echo n=$n
           case hello.c in *.h) echo header;; *.c) echo source;; esac
           cat <<EOF
here $n
EOF
           while IFS=: read a b c; do echo "$c|$b|$a"; done < table.csv
           false || echo or-branch; true && echo and-branch
           set -- x y z; shift; echo "$@ $#"; echo ${UNSET:-default} ${#n}
           v=abc.tar.gz; echo ${v%.gz} ${v%%.*} ${v#*.}"#,
    ),
    (
        "sh redirections",
        r#"echo out > o.txt; echo more >> o.txt; cat o.txt
           ls nonexistent 2>/dev/null || echo "ls failed $?"
           { echo a; echo b; } | wc -l
           exec 3>fd3.txt; echo via3 >&3; exec 3>&-; cat fd3.txt
           cat < table.csv | head -1 > first.txt; cat first.txt; echo err 1>&2"#,
    ),
    (
        "sh traps and jobs",
        r#"sh -c 'trap "echo got USR1" USR1; kill -USR1 $$; echo after kill'
           (sleep 0.05; echo background) & wait; echo "waited $?"
           sh -c 'exit 7'; echo "child status $?"
           sh -c 'kill -TERM $$'; echo "killed child status $?"
           trap 'echo bye' EXIT"#,
    ),
    (
        "scripts",
        r#"printf '#!%s\necho "script $0 args: $*"\nexit 3\n' "$(which sh)" > s.sh; chmod +x s.sh; ./s.sh a 'b c'
           echo "status $?"; printf 'echo no interpreter line $1\n' > n.sh; chmod +x n.sh; ./n.sh x; echo "status $?"
           ./missing.sh; echo "status $?"; chmod -x s.sh; ./s.sh; echo "status $?""#,
    ),
    ("ls", "ls -1; ls -1 sub; ls -a; ls -la | awk 'NR > 1 && $NF != \"..\" {print $1, $2, $5, $NF}'; ls -R sub"),
    ("cat", "cat -n table.csv; cat sub/inner.txt - < nums.txt; cat empty missing; echo \"status $?\""),
    (
        "sort",
        "sort words.txt; sort -n nums.txt; sort -rn nums.txt; sort -t: -k2,2n table.csv; sort -u words.txt; \
         sort -f words.txt | head -3; sort -r big.txt | head -2",
    ),
    ("uniq", "sort words.txt | uniq -c; sort words.txt | uniq -d; sort words.txt | uniq -u; uniq -i words.txt"),
    ("wc", "wc -l words.txt; wc -w < words.txt; wc -c big.txt; wc big.txt table.csv; wc -L words.txt"),
    (
        "sed",
        r#"sed 's/o/0/g' table.csv; sed -n '2,3p' table.csv; sed '/bob/d' table.csv
           sed -e 'y/abc/ABC/' -e '1i\
header' table.csv; sed -n '$=' big.txt; sed 's/\(line\) \([0-9]*\)/\2 \1/' big.txt | tail -2
           printf 'one\ntwo\n' > s.txt; sed -i 's/two/TWO/' s.txt; cat s.txt"#,
    ),
    (
        "awk",
        r#"awk -F: 'NR>1 {sum += $2; n++; city[$3]++} END {printf "avg %.3f\n", sum/n; print city["oslo"], city["rome"]}' table.csv
           awk 'BEGIN {print 2^10, int(-3.7), substr("hello", 2, 3), length("abc"), toupper("x"), 1/3, 2.5 * 4.1
                x = sprintf("%5.2f|%-4d|%x|%e", 3.14159, 42, 255, 12345.6789); print x
                n = split("a,b,c", arr, ","); print n, arr[3]; print index("hello", "ll"), 7 % 3, -7 % 3}'
           awk '{s += $1} END {print NR, s, s / NR}' nums.txt; awk 'length > 12' words.txt big.txt | head -3
           awk '{ gsub(/a/, "A"); print }' words.txt | head -2"#,
    ),
    (
        "grep",
        r#"grep -c an words.txt; grep -v a words.txt; grep -i APPLE words.txt; grep -E '^(b|c)' words.txt
           grep -o an words.txt | wc -l; grep -n oslo table.csv; grep -r inner . ; grep -l apple *.txt
           grep nothing words.txt; echo "grep status $?"; grep -w date words.txt; grep -x apple words.txt"#,
    ),
    (
        "tr",
        "tr a-z A-Z < table.csv; echo 'hello   world' | tr -s ' '; echo hello | tr -d l; echo abc | tr abc xyz; \
         echo hello | tr -c 'lo\\n' '_'",
    ),
    ("cut", "cut -d: -f1,3 table.csv; cut -c1-3 words.txt; echo a,b,c | cut -d, -f2-; cut -b 2- nums.txt"),
    (
        "head and tail",
        "head -n 3 big.txt; tail -n 2 big.txt; tail -c 20 big.txt; head -c 10 big.txt; echo; tail -n +1999 big.txt; \
         head -n -1998 big.txt | tail -1",
    ),
    (
        "multi-megabyte checksums",
        r#"yes 'a line of the multi-megabyte file' | head -n 60000 > m.txt; ls -l m.txt | awk '{print $5, $NF}'
           sha256sum m.txt; md5sum m.txt; cat m.txt m.txt | sha256sum"#,
    ),
    (
        "bzip2",
        r#"seq 1 30000 > n.txt; bzip2 -c n.txt > n.bz2; wc -c < n.bz2; bunzip2 -c n.bz2 | cmp - n.txt && echo round trip
           bzcat n.bz2 | tail -1; bzip2 -c words.txt | bzip2 -dc; bzip2 -dc words.txt; echo "status $?""#,
    ),
    ("checksums", "md5sum words.txt big.txt sub/deeper/x.bin; sha256sum table.csv; sha1sum empty; md5sum < big.txt"),
    ("od", "od -A x -t x1z sub/deeper/x.bin | head -4; echo hello | od -c; od -A d -t d2 -N 8 sub/deeper/x.bin"),
    (
        "printf",
        r#"printf '%d %5d %-5d| %x %o %X %c %s\n' 42 42 42 255 8 3054 A str
           printf '%.2f %e %g %10.3f %G\n' 3.14159 12345.678 0.0001 2.5 1e-10
           printf '%s\n' a b c; printf '%b\n' 'tab\there'; printf '%05.1f|%+d|%%\n' 2.25 7"#,
    ),
    (
        "expr",
        r#"expr 3 + 4 \* 5; expr 17 / 5; expr 17 % 5; expr length hello; expr substr hello 2 3
           expr index hello l; expr abc : 'a\(.*\)'; expr 5 \> 3; expr 0 + 0; echo "status $?"; expr -3 \* 4"#,
    ),
    ("seq", "seq 3; seq 2 3 12; seq -s, 5; seq 5 -2 0; seq -w 8 11; seq 1.5 0.5 3"),
    (
        "find",
        r#"find . | sort; find . -name '*.txt' | sort; find . -type d | sort; find . -size +1k | sort
           find . -type f -name '*.txt' -exec wc -l {} \; | sort; find sub -maxdepth 1 | sort"#,
    ),
    (
        "mkdir rm cp mv ln",
        r#"mkdir -p a/b/c; cp table.csv a/b/; cp -r sub a/; mv a/b a/z; ls -R a
           rmdir a/sub/deeper; rm -r a/z; rm -rf a; ls -1 | grep -c '^a$'
           ln -s table.csv link; readlink link; head -1 link; touch newfile; ls -1 newfile
           ln table.csv hard; cat hard | wc -l; mv hard moved; ls -1 moved hard"#,
    ),
    (
        "tar",
        r#"tar cf t.tar sub table.csv; tar tf t.tar | sort; mkdir out; tar xf t.tar -C out
           cmp table.csv out/table.csv && echo same; cmp sub/deeper/x.bin out/sub/deeper/x.bin && echo same
           tar czf t.tgz sub; tar tzf t.tgz | sort; tar xzf t.tgz -O sub/inner.txt"#,
    ),
    (
        "gzip and gunzip",
        r#"gzip -c big.txt > big.gz; gunzip -c big.gz | md5sum; md5sum < big.txt
           gzip -9 -c < big.txt | wc -c; cp big.txt b2.txt; gzip b2.txt; ls -1 b2*
           gunzip b2.txt.gz; cmp b2.txt big.txt && echo round trip; zcat big.gz | tail -1
           echo corrupt > bad.gz; gunzip -c bad.gz; echo "status $?""#,
    ),
    (
        "date",
        "date -d @0 -u; date -u -d @1234567890 '+%Y-%m-%d %H:%M:%S %A %j %s'; date -u -d '2001-02-03 04:05:06' +%s",
    ),
    ("env", "env | sort; env -i A=1 B=2 env; env -u HOME env | grep -c HOME; A=scoped env | grep A="),
    (
        "basename and dirname",
        "basename /a/b/c.txt; basename /a/b/c.txt .txt; dirname /a/b/c.txt; dirname c.txt; basename /",
    ),
    (
        "test",
        r#"[ 3 -lt 4 ] && echo lt; [ abc = abc ] && echo eq; [ -f table.csv ] && echo file; [ -d sub ] && echo dir
           [ -e missing ] || echo missing; test -z "" && echo empty; [ -s empty ] || echo "zero size"
           [ 5 -ge 5 -a 2 -ne 3 ] && echo and; test 1 -eq 2; echo "status $?"; [ ! -L table.csv ] && echo "not a link"
           [ table.csv -nt missing ] ; echo "nt $?"; test abc \< abd && echo less"#,
    ),
    (
        "xargs",
        r#"seq 1 10 | xargs -n 3 echo; echo a b c | xargs -n 1 echo item; printf 'x\ny\n' | xargs -I{} echo "<{}>"
           find sub -type f | sort | xargs wc -c"#,
    ),
    ("yes and head", "yes | head -n 3; yes hello | head -c 20; echo; yes | head -n 1000 | wc -l"),
    ("sleep", "sleep 0.1 && echo slept; usleep 1000; echo \"status $?\"; timeout 1 sleep 0.01; echo \"timeout $?\""),
    (
        "more applets",
        "echo hello | rev; tac nums.txt; nl nums.txt | head -2; cmp words.txt words.txt; echo $?; \
         diff nums.txt nums.txt && echo no difference; echo 'aaa bbb ccc' | fold -w 4; stat -c '%s %F %a' table.csv sub; \
         realpath -s sub/../table.csv | xargs basename; echo 'x:y' | cut -d: -f2; printf 'b\\na\\n' | sort -c; echo \"sorted $?\"; \
         id -u | grep -c '^[0-9]*$'; uname -m; echo 12 | factor",
    ),
];

/// Cases the JIT runs as well: it compiles every block of every program
/// busybox starts before running it, so all of them would take minutes.
const JIT_CASES: &[&str] = &["sh pipes", "sed", "awk", "checksums", "gzip and gunzip", "bzip2"];

/// One shell script running the chosen cases, each in its directory
/// (`cN` for case N), introduced by a `== NAME` line and followed by its
/// exit status.
fn combined_script(chosen: &[usize]) -> String {
    chosen
        .iter()
        .map(|&i| {
            let (name, script) = CASES[i];
            format!("echo '== {name}'; cd c{i} && ( {script}\n ) 2>&1; echo \"[exit $?]\"; cd ..\n")
        })
        .collect()
}

/// A directory of links named after every applet, for PATH: what busybox
/// runs by name (tar runs gzip, xargs runs echo) is busybox too, natively
/// and under visa.
fn applet_links(busybox: &Path, dir: &Path) {
    let list = native(busybox, &["--list"], None, None);
    assert_eq!(list.ending, Ending::Exit(0), "busybox --list: {}", list.stderr);
    std::fs::create_dir_all(dir).unwrap();
    for name in text(&list).lines().filter(|n| !n.is_empty() && !n.contains('/')) {
        std::os::unix::fs::symlink(busybox, dir.join(name)).unwrap();
    }
}

/// Output split into cases by their `== NAME` lines.
fn sections(out: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(out);
    let mut result: Vec<(String, String)> = Vec::new();
    for line in text.split_inclusive('\n') {
        match line.strip_prefix("== ") {
            Some(name) => result.push((name.trim_end().to_string(), String::new())),
            None => match result.last_mut() {
                Some((_, body)) => body.push_str(line),
                None => result.push((String::new(), line.to_string())),
            },
        }
    }
    result
}

/// The busybox cases (all, or those named) under one engine: the same
/// script natively and under visa, in fixtures at the same path, so that
/// PWD agrees.
fn busybox_cases(engine: Engine, only: Option<&[&str]>) {
    let Some(busybox) = busybox() else { return };
    let chosen: Vec<usize> =
        (0..CASES.len()).filter(|i| only.is_none_or(|names| names.contains(&CASES[*i].0))).collect();
    assert_eq!(chosen.len(), only.map_or(CASES.len(), |n| n.len()), "unknown case names in {only:?}");
    let scratch = Scratch::new(&format!("busybox-{}", engine.name()));
    let bin = scratch.0.join("bin");
    applet_links(&busybox, &bin);
    let path = bin.to_string_lossy().into_owned();
    let env: &[(&str, &str)] = &[("PATH", &path), ("HOME", "/nonexistent"), ("LC_ALL", "C"), ("TZ", "UTC")];
    let script = combined_script(&chosen);
    let run = |under: Option<Engine>| -> Run {
        let root = scratch.fresh("work");
        for i in &chosen {
            fixture(&root.join(format!("c{i}")));
        }
        match under {
            None => native(&busybox, &["sh", "-c", &script], Some(env), Some(&root)),
            Some(e) => {
                let extra: &[&str] = if e == Tiered && emulated_host() { &["--sync-compile"] } else { &[] };
                visa(e, extra, &busybox, &["sh", "-c", &script], Some(env), Some(&root))
            }
        }
    };
    let expected = run(None);
    let got = run(Some(engine));
    let (want, have) = (sections(&expected.stdout), sections(&got.stdout));
    assert_eq!(want.len(), chosen.len(), "native sections:\n{}", text(&expected));
    let mut failures = Vec::new();
    for (name, body) in &want {
        assert!(body.contains("[exit "), "case {name} did not finish natively: {body}");
        match have.iter().find(|(n, _)| n == name) {
            Some((_, b)) if b == body => {}
            Some((_, b)) => {
                failures.push(format!("case {name:?}: {}", first_difference(body.as_bytes(), b.as_bytes())))
            }
            None => failures.push(format!("case {name:?}: no output under visa")),
        }
    }
    assert!(
        failures.is_empty(),
        "busybox under {}: {} of {} cases differ:\n{}\nvisa's stderr:\n{}",
        engine.name(),
        failures.len(),
        chosen.len(),
        failures.join("\n"),
        got.stderr
    );
    assert_same(&format!("busybox cases under {}", engine.name()), &expected, &got);
}

/// VISA_EMULATED_HOST=1 (set by `ci/cross.sh`): visa runs on a host that
/// qemu-user emulates. The interpreter and the tiered engine then run only
/// the busybox cases the JIT runs (all of them take past the ten-minute
/// limit there), and the tiered engine compiles on the guest's thread:
/// qemu-user 7.2 aborts a forked child that starts a thread (its plugin
/// hook's assertion), and the shell's forked children are visa processes.
fn emulated_host() -> bool {
    std::env::var("VISA_EMULATED_HOST").is_ok_and(|v| v == "1")
}

/// The cases the interpreter and the tiered engine run (see `emulated_host`).
fn busybox_chosen() -> Option<&'static [&'static str]> {
    emulated_host().then_some(JIT_CASES)
}

#[test]
fn busybox_applets_interpreted() {
    busybox_cases(Interp, busybox_chosen());
}

#[test]
fn busybox_applets_compiled() {
    busybox_cases(Jit, Some(JIT_CASES));
}

#[test]
fn busybox_applets_tiered() {
    busybox_cases(Tiered, busybox_chosen());
}

// ---- hostile input: wild addresses, lengths and images ----

/// visa's guest address space (64 GiB).
const GUEST_SPACE: u64 = 1 << 36;

/// A minimal static x86-64 ELF executable: one RWX PT_LOAD segment at
/// `vaddr` holding the headers and `code` (entered at `entry`, default the
/// code), `memsz` bytes in memory.
fn tiny_elf(vaddr: u64, code: &[u8], memsz: Option<u64>, entry: Option<u64>) -> Vec<u8> {
    const HEADERS: u64 = 64 + 56;
    let filesz = HEADERS + code.len() as u64;
    let mut f = Vec::new();
    f.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    f.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    f.extend_from_slice(&1u32.to_le_bytes());
    f.extend_from_slice(&entry.unwrap_or(vaddr + HEADERS).to_le_bytes());
    f.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    f.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    f.extend_from_slice(&0u32.to_le_bytes());
    for v in [64u16, 56, 1, 64, 0, 0] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    f.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    f.extend_from_slice(&7u32.to_le_bytes()); // RWX
    for v in [0, vaddr, vaddr, filesz, memsz.unwrap_or(filesz), 0x1000] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    f.extend_from_slice(code);
    f
}

/// exit_group(0).
const EXIT_0: &[u8] = b"\xb8\xe7\x00\x00\x00\x31\xff\x0f\x05";

/// Runs visa with these arguments; returns how it ended, its stderr and
/// its peak resident size in KiB.
fn visa_rss(args: &[&str]) -> (Ending, String, i64) {
    let scratch = Scratch::new(&format!("rss-{}", args.len()));
    let err_path = scratch.0.join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_visa"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    // SAFETY: `rusage` is plain integers, for which all zeros is valid.
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: waiting for our own child, with its resource usage.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 on visa {args:?}");
    let _ = child.try_wait();
    let ending = if libc::WIFEXITED(status) {
        Ending::Exit(libc::WEXITSTATUS(status))
    } else {
        Ending::Signal(libc::WTERMSIG(status))
    };
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    assert!(!stderr.contains("panicked"), "visa {args:?} panicked: {stderr}");
    (ending, stderr, usage.ru_maxrss)
}

/// How much more than the same run without a zero tail (or booting a
/// page) a run may take, in KiB. The bound is relative: under an emulator
/// (qemu-user) the emulator's own bookkeeping of visa's reserved guest space
/// adds some 400 MiB to every run.
const RSS_ALLOWANCE: i64 = 100 << 10;

/// The peak resident size of a run that must succeed, in KiB.
fn peak_rss(args: &[&str]) -> i64 {
    let (ending, stderr, rss) = visa_rss(args);
    assert_eq!(ending, Ending::Exit(0), "{args:?}: {stderr}");
    rss
}

#[test]
fn item4_execution_at_end_of_guest_space_is_sigsegv() {
    let run = check_vt(&["wild", "end", "handle"], &[Interp, Jit, Tiered], None, false);
    assert!(text(&run).contains("signal 11 code 1 at the end of the space"), "{}", text(&run));
    let run = check_vt(&["wild", "end"], &[Interp, Jit, Tiered], None, false);
    assert_eq!(run.ending, Ending::Signal(libc::SIGSEGV));
    // An executable entered at the end of the space, or far past it.
    let scratch = Scratch::new("item4");
    for entry in [GUEST_SPACE, GUEST_SPACE - 1, GUEST_SPACE + 0x1000, 0x7fff_ffff_f000, u64::MAX - 7] {
        let path = scratch.0.join(format!("entry-{entry:x}"));
        std::fs::write(&path, tiny_elf(0x40_0000, EXIT_0, None, Some(entry))).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        for engine in [Interp, Jit] {
            let got = visa(engine, &[], &path, &[], None, None);
            assert!(!got.stderr.contains("panicked"), "entry {entry:#x}: {}", got.stderr);
            assert_eq!(got.ending, Ending::Signal(libc::SIGSEGV), "entry {entry:#x}: {}", got.stderr);
        }
        if entry < 0x7fff_ffff_f000 {
            assert_eq!(native(&path, &[], None, None).ending, Ending::Signal(libc::SIGSEGV), "natively");
        }
    }
    // The board: an entry at or past the end of RAM is a #PF crash (142).
    let hlt = scratch.0.join("hlt.bin");
    std::fs::write(&hlt, b"\xf4").unwrap();
    let load = format!("{}@0", hlt.display());
    for entry in ["0x8000000", "0x7ffffff", "0x100000000000", "0xffffffffffffffff"] {
        for engine in ["interp", "jit"] {
            let args = ["boot", "--ram", "128M", "--engine", engine, "--load", &load, "--entry", entry];
            let (ending, stderr, _) = visa_rss(&args);
            assert_eq!(ending, Ending::Exit(142), "boot at {entry}: {stderr}");
            assert!(stderr.contains("#PF"), "boot at {entry}: {stderr}");
        }
    }
}

#[test]
fn item5_wild_memory_syscalls_match_linux() {
    let run = check_vt(&["wild", "mem"], &[Interp, Jit, Tiered], None, true);
    let out = text(&run);
    for line in [
        "SYS_madvise(SPACE, PAGE, MADV_DONTNEED) = -1 ENOMEM",
        "SYS_mremap(-PAGE, 2 * PAGE, PAGE, 0, 0) = -1 EFAULT",
        "SYS_msync(SPACE, PAGE, MS_SYNC) = -1 ENOMEM",
        "mincore vec: 1 1 9",
        "mmap 30 GiB file: head ... tail, middle 0",
        "anonymous memory where the file was reads zero: 1",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
}

#[test]
fn item6_loaders_zero_fill_lazily_and_refuse_what_does_not_fit() {
    let scratch = Scratch::new("item6");
    let dir = &scratch.0;
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    // Zero tails of 1 GiB and 60 GiB cost no memory: the guest exits at once,
    // in as much memory as without a tail.
    let plain = write("plain", &tiny_elf(0x40_0000, EXIT_0, None, None));
    for engine in ["interp", "jit"] {
        let base = peak_rss(&["run", "--engine", engine, plain.to_str().unwrap()]);
        for (name, memsz) in [("bss-1g", 1u64 << 30), ("bss-60g", 60 << 30)] {
            let path = write(name, &tiny_elf(0x40_0000, EXIT_0, Some(memsz), None));
            let (ending, stderr, rss) = visa_rss(&["run", "--engine", engine, path.to_str().unwrap()]);
            assert_eq!(ending, Ending::Exit(0), "{name}: {stderr}");
            assert!(rss < base + RSS_ALLOWANCE, "{name} under {engine}: peak RSS {rss} KiB, {base} KiB without it");
        }
    }
    // Segments that do not fit the guest space (or wrap) are refused.
    for (name, vaddr, memsz) in [
        ("bss-100g", 0x40_0000, 100u64 << 30),
        ("at-end", GUEST_SPACE - 0x1000, 0x2000),
        ("wraps", 0x40_0000, u64::MAX - 0x1000),
    ] {
        assert_refused(&write(name, &tiny_elf(vaddr, EXIT_0, Some(memsz), None)), "outside the guest address space");
    }
    // Files that are not regular, or too large, are refused, not read.
    assert_refused(Path::new("/dev/zero"), "not a regular file");
    let huge = write("huge", b"");
    std::fs::File::options().write(true).open(&huge).unwrap().set_len((1 << 30) + 1).unwrap();
    assert_refused(&huge, "larger than the 1024 MiB visa loads");
    let script = write("script", format!("#!{}\n", huge.display()).as_bytes());
    assert_refused(&script, "larger than the 1024 MiB visa loads");
    // The board: the same for images and --load, and a lazy zero tail.
    let hlt_plain = write("hlt-plain.elf", &tiny_elf(0x10_0000, b"\xf4", None, None));
    let base = peak_rss(&["boot", "--ram", "2G", "--engine", "interp", hlt_plain.to_str().unwrap()]);
    let hlt_elf = write("hlt.elf", &tiny_elf(0x10_0000, b"\xf4", Some(1 << 30), None));
    let (ending, stderr, rss) = visa_rss(&["boot", "--ram", "2G", "--engine", "interp", hlt_elf.to_str().unwrap()]);
    assert_eq!(ending, Ending::Exit(0), "{stderr}");
    assert!(rss < base + RSS_ALLOWANCE, "boot with a 1 GiB zero tail: peak RSS {rss} KiB, {base} KiB without it");
    let big = write("big.elf", &tiny_elf(0x10_0000, b"\xf4", Some(3 << 30), None));
    let huge_load = format!("{}@0", huge.display());
    let dev_load = "/dev/zero@0".to_string();
    for (args, says) in [
        (vec!["boot", "/dev/zero"], "not a regular file"),
        (vec!["boot", "--ram", "2G", big.to_str().unwrap()], "does not fit"),
        (vec!["boot", "--load", &dev_load, "--entry", "0"], "not a regular file"),
        (vec!["boot", "--load", &huge_load, "--entry", "0"], "larger than the 1024 MiB visa loads"),
    ] {
        let (ending, stderr, rss) = visa_rss(&args);
        assert_eq!(ending, Ending::Exit(ERROR_STATUS), "{args:?}: {stderr}");
        assert!(stderr.starts_with("visa: ") && stderr.contains(says), "{args:?}: {says:?} not in {stderr:?}");
        assert!(rss < base + RSS_ALLOWANCE, "{args:?}: peak RSS {rss} KiB, {base} KiB booting a page");
    }
}

/// Whether the host's system calls refuse a buffer they cannot read before
/// doing what they are asked, as qemu's user-mode emulation does (it checks
/// or copies every buffer first). Linux's /dev/null never reads the buffer
/// written to it.
fn host_checks_buffers_up_front() -> bool {
    use std::os::fd::AsRawFd;
    let null = std::fs::File::options().write(true).open("/dev/null").unwrap();
    // SAFETY: a fresh anonymous mapping of one inaccessible page.
    let page = unsafe {
        libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
    };
    assert_ne!(page, libc::MAP_FAILED);
    // SAFETY: the kernel may read the page or refuse it; nothing else does.
    let n = unsafe { libc::write(null.as_raw_fd(), page, 10) };
    // SAFETY: the page mapped above, referred to by nothing.
    unsafe { libc::munmap(page, 4096) };
    n != 10
}

/// `assert_same` where the host checks buffers up front. Each line `CALL =
/// RESULT` of Linux's may instead show the call refused (`-1 EFAULT`) or,
/// where Linux gives a count or EFAULT, a count of what the host did before
/// the bad buffer (then the line starts with the bytes the call wrote); the
/// calls, their order and all other lines must be Linux's.
fn assert_same_but_refused_up_front(what: &str, native: &Run, got: &Run) {
    assert!(!got.stderr.contains("panicked"), "{what}: visa panicked:\n{}", got.stderr);
    assert_eq!(got.ending, native.ending, "{what}: ending differs; visa's stderr:\n{}", got.stderr);
    let (want, have) = (text(native), text(got));
    let diff = || first_difference(&native.stdout, &got.stdout);
    assert_eq!(want.lines().count(), have.lines().count(), "{what}: {}", diff());
    let count = |r: &str| r.parse::<u64>().is_ok();
    for (w, h) in want.lines().zip(have.lines()) {
        let host_did = match (w.rsplit_once(" = "), h.rsplit_once(" = ")) {
            (Some((call, linux)), Some((written_and_call, r))) if written_and_call.ends_with(call) => {
                (r == "-1 EFAULT" && written_and_call == call) || (count(r) && (count(linux) || linux == "-1 EFAULT"))
            }
            _ => false,
        };
        assert!(w == h || host_did, "{what}: {h:?} under visa, {w:?} natively");
    }
}

#[test]
fn item7_bad_buffers_and_arguments_match_linux() {
    // Under qemu-user the host's answers to bad buffers are qemu's, not
    // Linux's: visa passes the guest's buffers to the host as they are.
    let same = if host_checks_buffers_up_front() { assert_same_but_refused_up_front } else { assert_same };
    let run = compare_vt(&["wild", "io"], &[Interp, Jit, Tiered], None, true, same);
    let out = text(&run);
    for line in [
        "SYS_write(null, bad, 10) = 10",
        "SYS_writev(null, iov, 2) = 10",
        "SYS_read(fd, m, 1L << 62) = -1 EFAULT",
        "SYS_getrandom(m + 2 * PAGE - 16, 100, 0) = 16",
        "SYS_getdents64(fd, bad, 100) = -1 ENOTDIR",
        "SYS_getrlimit(RLIMIT_NOFILE, 0) = -1 EFAULT",
        "SYS_poll(bad, 1L << 20, 0) = -1 EINVAL",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
}
