//! Dynamically linked programs under `visa run`: the project's own
//! `vtdyn` (dlopen of a library it ships, /proc/self, the auxiliary vector,
//! the vsyscall page), Debian's programs (python3, perl, bash, coreutils,
//! gzip, xz, find, diff), scripts that run them, and the guest root
//! (`--sysroot`, `VISA_SYSROOT`), and `vtv3`, built for x86-64-v3 (AVX2
//! loops, the C library's AVX2 string routines, the AVX state in signal
//! frames, XSAVE in the lazy-binding trampoline). Each runs natively and under the
//! interpreter and the tiered engine, and must print the same standard
//! output and end the same way.

mod linux_run;

use std::path::{Path, PathBuf};

use linux_run::*;

/// The engines every program runs under.
const ENGINES: &[Engine] = &[Interp, Tiered];

/// A Debian program the tests run, which `.ci/run` installs.
fn program(path: &str, package: &str) -> PathBuf {
    let p = PathBuf::from(path);
    assert!(p.is_file(), "{path} is missing: install Debian's {package} (apt-get install {package})");
    p
}

/// A fixed environment, so that native and guest runs see the same.
fn env_in(home: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("PATH", "/usr/bin:/bin".into()),
        ("LC_ALL", "C".into()),
        ("TZ", "UTC".into()),
        ("HOME", home.to_string_lossy().into_owned()),
        ("PYTHONDONTWRITEBYTECODE", "1".into()),
    ]
}

/// Runs a program natively and under each engine, in `dir`, and compares.
fn check(what: &str, program: &Path, args: &[&str], dir: &Path) -> Run {
    let vars = env_in(dir);
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let expected = native(program, args, Some(&env), Some(dir));
    for engine in ENGINES {
        let got = visa(*engine, &[], program, args, Some(&env), Some(dir));
        assert_same(&format!("{what} under {}", engine.name()), &expected, &got);
    }
    expected
}

/// Asserts each line is in a run's output.
fn assert_lines(run: &Run, lines: &[&str]) {
    let out = text(run);
    for line in lines {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
}

/// Files with fixed contents and times for the programs to work on.
fn fixture(dir: &Path) {
    let put = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(when).unwrap();
    };
    let numbers: String = (1..=300).map(|i| format!("{}\n", (i * 7919) % 1009)).collect();
    put("numbers", numbers.as_bytes());
    put("words", b"pear apple\nfig banana\ncherry date\nkiwi lime\n");
    put("words2", b"pear apple\nfig BANANA\ncherry date\nmango\n");
    let text: String = (0..2000).map(|i| format!("line {i}: the quick brown fox {}\n", i * i % 97)).collect();
    put("text", text.as_bytes());
    put("tree/a/one.txt", b"1\n");
    put("tree/a/two.rs", b"fn main() {}\n");
    put("tree/b/c/three.txt", b"3\n");
}

#[test]
fn own_program_loads_a_library_and_sees_itself() {
    let scratch = Scratch::new("dyn-vtdyn");
    let run = check("vtdyn", &dynvt(), &[], &scratch.0);
    assert_eq!(run.ending, Ending::Exit(7));
    assert_lines(
        &run,
        &[
            "exe: vtdyn\n",
            "execfn: vtdyn\n",
            "at_base set: 1\n",
            "auxv file agrees: entry 1, phdr 1\n",
            "maps: program 1, stack 1, vsyscall 1\n",
            "plugin: constructor\nmaps: plugin 1\n",
            "plug_sum(100): 338350\n",
            "plugin thread-local: 42\n",
            "plugin: destructor\nmaps after dlclose: plugin 0\n",
            "vsyscall time close: 1\n",
            "vsyscall getcpu: 0, cpu set 1\n",
        ],
    );
}

const PYTHON_SCRIPT: &str = r#"
import json, hashlib, re, zlib, sqlite3, decimal, sys
d = {"a": [1, 2.5, None, True], "b": {"c": "x\u00e9"}}
s = json.dumps(d, sort_keys=True)
print(s, json.loads(s) == d)
print(hashlib.sha256(b"visa" * 1000).hexdigest(), hashlib.md5(b"x").hexdigest())
print(re.findall(r"(\w+)@(\w+)\.com", "a@b.com, c@d.com; e@f.org"))
z = zlib.compress(open("text", "rb").read(), 9)
print(len(z), zlib.crc32(zlib.decompress(z)))
db = sqlite3.connect(":memory:")
db.execute("create table t(x integer, s text)")
db.executemany("insert into t values (?, ?)", [(i, str(i * i)) for i in range(500)])
print(db.execute("select sum(x), avg(x), max(length(s)) from t where x % 3 = 1").fetchone())
decimal.getcontext().prec = 50
print(decimal.Decimal(1) / decimal.Decimal(7), decimal.Decimal(2).sqrt())
print(sorted(set(open("words").read().split())), sum(int(n) for n in open("numbers")))
print(f"{3.141592653589793:.10e} {2**100} {-7 // 2} {7.5 % -2}")
sys.exit(3)
"#;

#[test]
fn x86_64_v3_program_runs_as_natively() {
    // The native run needs AVX2 and BMI2 on the host.
    if !(std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("bmi2")) {
        assert!(std::env::var_os("CI").is_none(), "CI must run the x86-64-v3 program natively");
        eprintln!("SKIPPED: the host is not x86-64-v3; vtv3 not compared");
        return;
    }
    let scratch = Scratch::new("dyn-vtv3");
    let run = check("vtv3", &vtv3(), &[], &scratch.0);
    assert_lines(
        &run,
        &[
            "signal: magic 1 features 1\n",
            "ymm5 after the handler: 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 \
             aa ab ac ad ae af\n",
        ],
    );
}

#[test]
fn python3_runs_a_script_with_its_standard_library() {
    let python = program("/usr/bin/python3", "python3");
    let scratch = Scratch::new("dyn-python");
    fixture(&scratch.0);
    std::fs::write(scratch.0.join("script.py"), PYTHON_SCRIPT).unwrap();
    let run = check("python3 script.py", &python, &["script.py"], &scratch.0);
    assert_eq!(run.ending, Ending::Exit(3));
    assert_lines(&run, &["} True\n", "1267650600228229401496703205376"]);
}

#[test]
fn perl_runs_a_script() {
    let perl = program("/usr/bin/perl", "perl");
    let scratch = Scratch::new("dyn-perl");
    fixture(&scratch.0);
    let script = r#"
        my %count; open(my $f, "<", "text") or die; while (<$f>) { $count{$1}++ if /fox (\d+)/ } close $f;
        my @top = (sort { $count{$b} <=> $count{$a} || $a <=> $b } keys %count)[0..4];
        print "top: @top\n";
        printf("%.6f %s %d\n", atan2(1, 1) * 4, join(",", map { $_ ** 2 } 1..8), unpack("%32C*", "visa"));
        my $s = "The Quick Brown Fox"; (my $t = $s) =~ tr/a-z/A-Z/; print lc($s), " | $t | ", scalar reverse($s), "\n";
        print join(" ", sort { $a <=> $b } map { (split)[0] } `sort -n numbers | head -5`), "\n";
        exit 4;
    "#;
    let run = check("perl -e", &perl, &["-e", script], &scratch.0);
    assert_eq!(run.ending, Ending::Exit(4));
    assert_lines(&run, &["3.141593 1,4,9,16,25,36,49,64"]);
}

const PYTHON_THREADS: &str = r#"
import threading, queue, concurrent.futures, asyncio
lock = threading.Lock()
total = [0]
def work(n):
    s = sum(i * i for i in range(n * 200))
    with lock:
        total[0] += n
    return s
threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print("threads", total[0])
with concurrent.futures.ThreadPoolExecutor(4) as ex:
    print("pool", sum(ex.map(work, range(10))))
q = queue.Queue()
def producer():
    for i in range(100): q.put(i)
    q.put(None)
threading.Thread(target=producer).start()
got = 0
while (v := q.get()) is not None: got += v
print("queue", got)
async def main():
    async def tick(n):
        await asyncio.sleep(0.001 * n)
        return n
    print("asyncio", sum(await asyncio.gather(*(tick(i) for i in range(10)))))
asyncio.run(main())
"#;

#[test]
fn python3_threads_queues_and_asyncio() {
    let python = program("/usr/bin/python3", "python3");
    let scratch = Scratch::new("dyn-python-threads");
    std::fs::write(scratch.0.join("threads.py"), PYTHON_THREADS).unwrap();
    let run = check("python3 threads.py", &python, &["threads.py"], &scratch.0);
    assert_eq!(text(&run), "threads 28\npool 5394301500\nqueue 4950\nasyncio 45\n");
}

/// Threads that start children at once (subprocess: vfork children sharing
/// the interpreter's memory), posix_spawn with file actions, and the error
/// of a spawn that fails, which only a child sharing memory can report.
const PYTHON_SPAWN: &str = r#"import os, subprocess, sys, threading

results = [None] * 4
barrier = threading.Barrier(4)

def work(i):
    barrier.wait()
    out = subprocess.run(["/bin/echo", f"child {i}"], capture_output=True, text=True)
    total = sum(k * i for k in range(20000))
    results[i] = (out.returncode, out.stdout.strip(), total)

threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for r in results:
    print("thread:", *r)

r, w = os.pipe()
pid = os.posix_spawn("/bin/echo", ["echo", "posix_spawn", "output"], os.environ,
                     file_actions=[(os.POSIX_SPAWN_DUP2, w, 1), (os.POSIX_SPAWN_CLOSE, r)])
os.close(w)
print("spawned:", os.read(r, 100).decode().strip(), os.waitpid(pid, 0)[1])
try:
    os.posix_spawn("/nonexistent/program", ["x"], os.environ)
except OSError as e:
    print("missing program:", e.errno == 2)
code = subprocess.call(["/bin/sh", "-c", "exit 7"])
print("shell status:", code)
"#;

#[test]
fn python3_threads_start_children() {
    let python = program("/usr/bin/python3", "python3");
    let scratch = Scratch::new("dyn-python-spawn");
    std::fs::write(scratch.0.join("spawn.py"), PYTHON_SPAWN).unwrap();
    let run = check("python3 spawn.py", &python, &["spawn.py"], &scratch.0);
    assert_eq!(
        text(&run),
        "thread: 0 child 0 0\nthread: 0 child 1 199990000\nthread: 0 child 2 399980000\n\
         thread: 0 child 3 599970000\nspawned: posix_spawn output 0\nmissing program: True\nshell status: 7\n"
    );
}

const BASH_SCRIPT: &str = r#"#!/bin/bash
set -e
total=0
for i in $(seq 1 50); do total=$((total + i * i)); done
echo "sum of squares: $total"
f() { local x=$1; echo $((x * 2 + ${#x})); }
echo "function: $(f 12345)"
arr=(zero one two three); echo "array: ${arr[2]} ${#arr[@]} ${arr[*]:1:2}"
s="Hello, World"; echo "strings: ${s,,} ${s^^} ${s/World/visa} ${s:7}"
words=$(tr ' ' '\n' < words | sort | head -3 | tr '\n' ' '); echo "words: $words"
echo "numbers: $(sort -n numbers | uniq | wc -l) distinct, max $(sort -n numbers | tail -1)"
cat <<EOF | cut -d: -f2
a:here-doc
b:works
EOF
case "$(uname -m)" in x86_64) echo "machine: x86_64";; *) echo "machine: other";; esac
exit 5
"#;

#[test]
fn bash_script_runs_programs() {
    let bash = program("/bin/bash", "bash");
    let scratch = Scratch::new("dyn-bash");
    fixture(&scratch.0);
    let script = scratch.0.join("script.sh");
    std::fs::write(&script, BASH_SCRIPT).unwrap();
    let run = check("bash script.sh", &bash, &["script.sh"], &scratch.0);
    assert_eq!(run.ending, Ending::Exit(5));
    assert_lines(&run, &["sum of squares: 42925\n", "function: 24695\n", "here-doc\nworks\n", "machine: x86_64\n"]);
    // The same script run as a program: its `#!` interpreter is dynamic.
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let direct = check("./script.sh", &script, &[], &scratch.0);
    assert_eq!(direct.stdout, run.stdout);
}

#[test]
fn coreutils() {
    let scratch = Scratch::new("dyn-coreutils");
    fixture(&scratch.0);
    let dir = &scratch.0;
    let cases: &[(&str, &str, &[&str])] = &[
        ("/bin/ls", "coreutils", &["-l", "--time-style=+%F", "tree/a", "numbers", "words"]),
        ("/usr/bin/sort", "coreutils", &["-n", "-r", "numbers"]),
        ("/usr/bin/sha512sum", "coreutils", &["text", "numbers"]),
        ("/usr/bin/od", "coreutils", &["-A", "x", "-t", "x1z", "words"]),
        ("/usr/bin/cut", "coreutils", &["-d", " ", "-f", "2", "words"]),
        ("/usr/bin/tr", "coreutils", &["-s", "a-z", "A-Z"]),
        ("/usr/bin/seq", "coreutils", &["-w", "-s", ",", "5", "7", "100"]),
        ("/usr/bin/find", "findutils", &["tree", "-name", "*.txt", "-type", "f"]),
        ("/usr/bin/diff", "diffutils", &["-u", "words", "words2"]),
    ];
    for (path, package, args) in cases {
        let run = check(&format!("{path} {}", args.join(" ")), &program(path, package), args, dir);
        assert!(!run.stdout.is_empty() || *path == "/usr/bin/tr", "{path} printed nothing");
    }
}

#[test]
fn gzip_and_xz_round_trip() {
    let scratch = Scratch::new("dyn-compress");
    fixture(&scratch.0);
    let bash = program("/bin/bash", "bash");
    program("/bin/gzip", "gzip");
    program("/usr/bin/xz", "xz-utils");
    let pipeline = "gzip -9 -n -c text | tee text.gz | gzip -d | sha512sum; od -A d -t x1 text.gz | tail -3; \
                    xz -6 -c text | tee text.xz | xz -d | cmp - text && echo xz same; wc -c < text.xz";
    let run = check("gzip and xz", &bash, &["-c", pipeline], &scratch.0);
    assert_lines(&run, &["xz same\n"]);
}

#[test]
fn busybox_shell_runs_dynamic_programs() {
    let busybox = PathBuf::from("/usr/bin/busybox");
    assert!(busybox.is_file(), "install busybox-static");
    let scratch = Scratch::new("dyn-busybox");
    fixture(&scratch.0);
    let run = check(
        "busybox sh",
        &busybox,
        &["sh", "-c", "/usr/bin/seq 3 | /usr/bin/sort -r; /bin/ls tree; /usr/bin/env -i /bin/echo done"],
        &scratch.0,
    );
    assert_eq!(text(&run), "3\n2\n1\na\nb\ndone\n");
}

#[test]
fn the_guest_root_comes_first() {
    let scratch = Scratch::new("dyn-sysroot");
    let root = scratch.fresh("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/visa-marker"), b"from the guest root\n").unwrap();
    // The dynamic linker comes from the root too (a copy of the host's).
    std::fs::create_dir_all(root.join("lib64")).unwrap();
    std::fs::copy("/lib64/ld-linux-x86-64.so.2", root.join("lib64/ld-linux-x86-64.so.2")).unwrap();
    let cat = program("/bin/cat", "coreutils");
    let root_arg = root.to_str().unwrap();
    let by_option = visa(Tiered, &["--sysroot", root_arg], &cat, &["/etc/visa-marker", "/proc/self/maps"], None, None);
    assert_eq!(by_option.ending, Ending::Exit(0), "{}", by_option.stderr);
    let out = text(&by_option);
    assert!(out.starts_with("from the guest root\n"), "{out}");
    let linker_line = out.lines().find(|l| l.contains("ld-linux-x86-64.so.2")).expect("the linker's mapping");
    assert!(linker_line.ends_with(&format!("{root_arg}/lib64/ld-linux-x86-64.so.2")), "{linker_line}");
    // Paths the root does not have are the host's (libc.so.6 here).
    assert!(out.lines().any(|l| l.ends_with("/libc.so.6") && !l.contains(root_arg)), "{out}");

    let env: &[(&str, &str)] = &[("VISA_SYSROOT", root_arg), ("PATH", "/usr/bin:/bin")];
    let by_env = visa(Interp, &[], &cat, &["/etc/visa-marker"], Some(env), None);
    assert_eq!(text(&by_env), "from the guest root\n", "{}", by_env.stderr);
    // A program the guest runs gets the same root.
    let sh = program("/bin/bash", "bash");
    let nested = visa(Interp, &["--sysroot", root_arg], &sh, &["-c", "cat /etc/visa-marker"], Some(env), None);
    assert_eq!(text(&nested), "from the guest root\n", "{}", nested.stderr);
}
