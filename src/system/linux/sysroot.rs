//! The guest's root directory, as qemu-user's `-L`: the dynamic linker and
//! every absolute path the guest names are looked up under it first, and
//! at the host path when it has no such file. On an x86-64 host the host's
//! own files are the guest's (the root is `/`); elsewhere the default is
//! where a distribution's x86-64 cross packages install the C library.

use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The environment variable naming the guest root (`--sysroot` wins).
pub const ENV: &str = "VISA_SYSROOT";

/// Where x86-64 C libraries for other hosts are installed, in the order
/// tried, with the package that provides them.
pub const CANDIDATES: &[(&str, &str)] = &[
    ("/usr/x86_64-linux-gnu", "Debian and Ubuntu: libc6-amd64-cross"),
    ("/usr/x86_64-linux-gnu/sys-root", "Fedora: the x86_64-linux-gnu cross toolchain's sysroot"),
];

/// A guest root: `None` is the host's own root.
#[derive(Clone, Debug, Default)]
pub struct Sysroot {
    dir: Option<PathBuf>,
}

impl Sysroot {
    /// The root a user named, else the host's default (see the module doc).
    pub fn choose(named: Option<&Path>) -> Result<Sysroot, String> {
        if let Some(dir) = named {
            if !dir.is_dir() {
                return Err(format!("the guest root {} is not a directory", dir.display()));
            }
            return Ok(Sysroot::at(dir));
        }
        if cfg!(target_arch = "x86_64") {
            return Ok(Sysroot::default());
        }
        match CANDIDATES.iter().find(|(dir, _)| Path::new(dir).is_dir()) {
            Some((dir, _)) => Ok(Sysroot::at(Path::new(dir))),
            None => Ok(Sysroot { dir: None }),
        }
    }

    fn at(dir: &Path) -> Sysroot {
        let dir = std::fs::canonicalize(dir).unwrap_or(dir.to_path_buf());
        // The root `/` is the host's root: nothing to look up.
        Sysroot { dir: (dir != Path::new("/")).then_some(dir) }
    }

    /// The guest root, unless it is the host's.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The host path of a guest path: under the root when the root has it.
    pub fn lookup(&self, path: &[u8]) -> Vec<u8> {
        match &self.dir {
            Some(dir) if path.starts_with(b"/") => {
                let inside = [dir.as_os_str().as_bytes(), path].concat();
                // A dangling symbolic link counts: it is the guest's file.
                if std::fs::symlink_metadata(OsStr::from_bytes(&inside)).is_ok() {
                    return inside;
                }
                path.to_vec()
            }
            _ => path.to_vec(),
        }
    }

    /// `lookup` as a C string (a path has no NUL inside).
    pub fn lookup_c(&self, path: &CString) -> CString {
        match &self.dir {
            None => path.clone(),
            Some(_) => CString::new(self.lookup(path.as_bytes())).expect("no NUL in a path"),
        }
    }

    /// The error for a dynamic program whose linker is nowhere to be found.
    pub fn missing_linker(&self, interp: &[u8]) -> String {
        let interp = String::from_utf8_lossy(interp);
        match &self.dir {
            Some(dir) => format!("its dynamic linker {interp} is neither under {} nor on the host", dir.display()),
            None if cfg!(target_arch = "x86_64") => {
                format!("its dynamic linker {interp} is not installed (or name a guest root with --sysroot DIR)")
            }
            None => {
                let tried: Vec<String> = CANDIDATES.iter().map(|(d, pkg)| format!("{d} ({pkg})")).collect();
                format!(
                    "its dynamic linker {interp} needs an x86-64 guest root: install one of {}, or pass --sysroot DIR \
                     (or set {ENV})",
                    tried.join(", ")
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_the_root_win_and_others_fall_back_to_the_host() {
        let dir = std::env::temp_dir().join(format!("visa-sysroot-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(dir.join("etc/only-in-root"), b"x").unwrap();
        let root = Sysroot::choose(Some(&dir)).unwrap();
        let inside = root.lookup(b"/etc/only-in-root");
        assert_eq!(inside, dir.join("etc/only-in-root").as_os_str().as_bytes());
        assert_eq!(root.lookup(b"/etc/passwd-not-in-root"), b"/etc/passwd-not-in-root");
        assert_eq!(root.lookup(b"relative/path"), b"relative/path");
        assert!(Sysroot::choose(Some(&dir.join("etc/only-in-root"))).is_err(), "a file is not a root");
        assert!(Sysroot::choose(Some(Path::new("/"))).unwrap().dir().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
