//! The environment a block is written against: the guest-state slots a
//! frontend declares and the runtime helpers blocks may call.
//!
//! The V-ISA knows no guest: a frontend describes its registers here as named,
//! typed slots at byte offsets of one state record, and the runtime binds the
//! helper names to host functions.

use super::types::Type;

/// The largest state record: every slot lies in its first 1 MiB, so slot
/// offsets fit the signed 32-bit displacements of host code and sizes
/// never wrap.
pub const MAX_STATE_BYTES: u32 = 1 << 20;

/// A guest-state slot: a named, typed field of the state record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SlotDecl {
    pub name: String,
    pub ty: Type,
    /// Byte offset in the state record.
    pub offset: u32,
}

/// A runtime helper's signature.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HelperDecl {
    pub name: String,
    pub args: Vec<Type>,
    pub results: Vec<Type>,
    /// A pure helper reads and writes neither guest state nor memory and
    /// never traps; any other helper may do all of these.
    pub pure: bool,
}

/// Whether a slot of type `ty` at `offset` lies inside `MAX_STATE_BYTES`.
pub fn slot_fits(ty: Type, offset: u32) -> bool {
    offset.checked_add(ty.bytes()).is_some_and(|end| end <= MAX_STATE_BYTES)
}

/// Slots and helpers, looked up by index from instructions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Env {
    pub slots: Vec<SlotDecl>,
    pub helpers: Vec<HelperDecl>,
}

impl Env {
    pub fn new() -> Env {
        Env::default()
    }

    /// Declares a slot and returns its index. The slot must lie inside
    /// `MAX_STATE_BYTES` (`slot_fits` says whether it does).
    pub fn slot(&mut self, name: &str, ty: Type, offset: u32) -> super::Slot {
        assert!(ty.is_value_type(), "slot {name} of lane shape {ty}");
        assert!(slot_fits(ty, offset), "slot {name} at {offset} lies beyond the state record's limit");
        self.slots.push(SlotDecl { name: name.to_string(), ty, offset });
        super::Slot(self.slots.len() as u16 - 1)
    }

    /// Declares a helper and returns its index.
    pub fn helper(&mut self, name: &str, args: &[Type], results: &[Type], pure: bool) -> super::Helper {
        assert!(args.iter().chain(results).all(|t| t.is_value_type()), "helper {name} names a lane shape");
        self.helpers.push(HelperDecl { name: name.to_string(), args: args.to_vec(), results: results.to_vec(), pure });
        super::Helper(self.helpers.len() as u16 - 1)
    }

    pub fn slot_by_name(&self, name: &str) -> Option<super::Slot> {
        self.slots.iter().position(|s| s.name == name).map(|i| super::Slot(i as u16))
    }

    pub fn helper_by_name(&self, name: &str) -> Option<super::Helper> {
        self.helpers.iter().position(|h| h.name == name).map(|i| super::Helper(i as u16))
    }

    pub fn slot_decl(&self, slot: super::Slot) -> Option<&SlotDecl> {
        self.slots.get(slot.0 as usize)
    }

    pub fn helper_decl(&self, helper: super::Helper) -> Option<&HelperDecl> {
        self.helpers.get(helper.0 as usize)
    }

    /// Bytes of state record the slots cover (at most `MAX_STATE_BYTES`).
    pub fn state_size(&self) -> u32 {
        self.slots.iter().map(|s| s.offset + s.ty.bytes()).max().unwrap_or(0)
    }

    /// A 64-bit fingerprint of the declarations (FNV-1a over names, type codes, offsets and purity), so a
    /// binary block can tell whether it is being decoded against its own Env.
    pub fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |bytes: &[u8]| {
            for b in bytes {
                h = (h ^ *b as u64).wrapping_mul(0x100_0000_01b3);
            }
        };
        for s in &self.slots {
            feed(s.name.as_bytes());
            feed(&[0, s.ty.code()]);
            feed(&s.offset.to_le_bytes());
        }
        for helper in &self.helpers {
            feed(helper.name.as_bytes());
            feed(&[1, helper.pure as u8]);
            // 0xff is no type code: it separates arguments from results.
            let args = helper.args.iter().map(|t| t.code());
            let codes: Vec<u8> = args.chain([0xff]).chain(helper.results.iter().map(|t| t.code())).collect();
            feed(&codes);
        }
        h
    }
}
