//! The persistent translation cache's options, shared by `run` and `boot`.

use std::path::PathBuf;

use clap::Args;

#[derive(Args)]
pub struct CacheArgs {
    /// Keep compiled code in DIR across runs (default: $XDG_CACHE_HOME/visa
    /// or ~/.cache/visa; `off` for none).
    #[arg(long, value_name = "DIR", env = visa::pcache::ENV)]
    cache: Option<PathBuf>,
    /// Keep no compiled code across runs (whatever --cache says).
    #[arg(long)]
    no_cache: bool,
    /// The most the cache directory holds (least recently used entries go
    /// first): bytes, or with a K, M or G suffix.
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = super::boot::size_with_suffix)]
    cache_size: u64,
}

impl CacheArgs {
    /// The directory and bound, or none.
    pub fn choice(&self) -> Option<(PathBuf, u64)> {
        if self.no_cache {
            return None;
        }
        let dir = match &self.cache {
            Some(dir) if dir.as_os_str() == "off" => return None,
            Some(dir) => dir.clone(),
            None => visa::pcache::DiskCache::default_dir()?,
        };
        Some((dir, self.cache_size))
    }

    /// The same choice as options of a visa that runs a program the guest execs.
    pub fn exec_args(&self) -> Vec<std::ffi::OsString> {
        match self.choice() {
            Some((dir, size)) => {
                vec!["--cache".into(), dir.into_os_string(), "--cache-size".into(), size.to_string().into()]
            }
            None => vec!["--no-cache".into()],
        }
    }
}
