//! Guest symbols from an ELF image's symbol table, to name guest code in
//! profiles and execution logs: functions by address, with the offset into
//! them. Both systems name their guest's code through this.

use std::path::Path;
use std::sync::Arc;

use object::{Object, ObjectKind, ObjectSection, ObjectSymbol, SectionKind, SymbolKind};

use crate::engine::{Log, Namer, Profile};

/// Function symbols, sorted by address.
#[derive(Clone, Debug, Default)]
pub struct Symbols {
    funcs: Vec<(u64, u64, String)>,
}

impl Symbols {
    /// The function symbols of an ELF image (none if it is not one or has
    /// none); a position-independent executable's are moved to `pie_base`.
    pub fn of_elf(bytes: &[u8], pie_base: u64) -> Symbols {
        let Ok(file) = object::File::parse(bytes) else { return Symbols::default() };
        let bias = if file.kind() == ObjectKind::Dynamic { pie_base } else { 0 };
        let mut funcs: Vec<(u64, u64, String)> = file
            .symbols()
            .filter(|s| s.address() != 0 && is_code(&file, s))
            .filter_map(|s| Some((s.address() + bias, s.size(), s.name().ok()?.to_string())))
            .collect();
        funcs.sort();
        funcs.dedup_by_key(|f| f.0);
        Symbols { funcs }
    }

    /// `name` or `name+0xOFF` for the function holding `addr`.
    pub fn name(&self, addr: u64) -> Option<String> {
        let i = self.funcs.partition_point(|f| f.0 <= addr).checked_sub(1)?;
        let (start, size, name) = &self.funcs[i];
        let off = addr - start;
        if *size != 0 && off >= *size {
            return None;
        }
        Some(if off == 0 { name.clone() } else { format!("{name}+{off:#x}") })
    }

    /// `log`, naming guest code by these symbols (when there are any).
    pub fn name_in(self: &Arc<Self>, log: Log) -> Log {
        if self.funcs.is_empty() {
            return log;
        }
        let symbols = self.clone();
        let namer: Namer = Arc::new(move |addr| symbols.name(addr));
        log.naming(namer)
    }

    /// Writes `profile` (`--profile`) to `path`, each block named by these
    /// symbols: as JSON when the file's name ends in `.json`, else as text.
    pub fn write_profile(&self, path: &Path, profile: &Profile) -> Result<(), String> {
        let name = |addr| self.name(addr);
        let report = match path.extension() {
            Some(ext) if ext == "json" => crate::report::profile_json(profile, &name).to_string(),
            _ => crate::report::profile(profile, &name),
        };
        std::fs::write(path, report).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// A function, or an untyped label in code (an assembly entry point such
/// as `_start`).
fn is_code(file: &object::File, s: &object::Symbol) -> bool {
    let in_text = || {
        s.section_index().and_then(|i| file.section_by_index(i).ok()).is_some_and(|sec| sec.kind() == SectionKind::Text)
    };
    match s.kind() {
        SymbolKind::Text => true,
        SymbolKind::Unknown => s.is_global() && in_text(),
        _ => false,
    }
}
