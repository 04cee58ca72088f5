//! Guest symbols from an ELF image's symbol table, to name guest code in
//! profiles: functions by address, with the offset into them.

use object::{Object, ObjectKind, ObjectSymbol, SymbolKind};

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
            .filter(|s| s.kind() == SymbolKind::Text && s.address() != 0)
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
}
