//! Guest memory accesses: bounds and page-permission checks (one check
//! for a group of accesses), host addresses, and the self-modifying-code
//! check on stores.

use super::*;

impl Lower<'_, '_> {
    /// The bytes of a map with one byte per `1 << shift` guest bytes for the
    /// first and last byte of an access: (AND, OR) of the two (one load
    /// when the access is a single byte).
    pub(super) fn map_bytes(
        &mut self,
        map: ir::Value,
        addr: ir::Value,
        size: u32,
        shift: u32,
    ) -> (ir::Value, ir::Value) {
        let flags = MemFlagsData::new().with_notrap();
        let first = self.b.ins().ushr_imm_u(addr, shift as i64);
        let p0 = self.b.ins().iadd(map, first);
        let f0 = self.b.ins().load(types::I8, flags, p0, 0);
        if size == 1 {
            return (f0, f0);
        }
        let last_byte = self.b.ins().iadd_imm_s(addr, size as i64 - 1);
        let last = self.b.ins().ushr_imm_u(last_byte, shift as i64);
        let p1 = self.b.ins().iadd(map, last);
        let f1 = self.b.ins().load(types::I8, flags, p1, 0);
        (self.b.ins().band(f0, f1), self.b.ins().bor(f0, f1))
    }

    /// Does the host's page protection check the permission of the access
    /// at instruction `at` (and for a store, that its page holds no
    /// translated code) (`Setup::host_perms`)?
    fn host_checked(&self, at: usize) -> bool {
        self.links.host_perms && replay::SUPPORTED && self.replayable[at]
    }

    /// Checks a guest access (unless an earlier one covers it, see
    /// `access::covered`) and returns its host address and the flags to
    /// access it with. A store to a line holding translated code leaves
    /// for the interpreter first (see `code_store_check`).
    pub(super) fn guest_address(
        &mut self,
        addr: ir::Value,
        size: u32,
        aligned: bool,
        write: bool,
    ) -> (ir::Value, MemFlagsData) {
        if aligned && size > 1 {
            let low = self.b.ins().band_imm_u(addr, (size - 1) as i64);
            self.trap_if(low, TrapCode::Misaligned, Some(addr));
        }
        if self.access_covered[self.at] {
            let flags = little().with_alias_region(Some(self.regions.guest));
            return (self.b.ins().iadd(self.mem_base, addr), flags);
        }
        match self.access_group[self.at] {
            Some(g) => self.group_check(g),
            None => self.check_access(addr, size, write),
        }
        let host_checked = self.host_checked(self.at);
        self.host_traps |= host_checked;
        let flags = if host_checked { little_faulting() } else { little() };
        (self.b.ins().iadd(self.mem_base, addr), flags.with_alias_region(Some(self.regions.guest)))
    }

    /// Checks a group's span at its first access, which dominates the
    /// others: every access in bounds, allowed, and (for a group that
    /// stores) on pages without translated code, or, when the host checks
    /// every member's permission, only in bounds. Where it fails, the block
    /// leaves before the first access's instruction (or gives up where
    /// `replayable` allows) for the interpreter to run on from there, which
    /// faults, or records a write to code, at the access that makes it; so
    /// no access of the group has a check of its own.
    pub(super) fn group_check(&mut self, g: usize) {
        if std::mem::replace(&mut self.group_checked[g], true) {
            return;
        }
        let group = self.groups[g];
        let perms = self.perms.expect("groups only with page permissions");
        let base = match group.base {
            Some(v) => self.val(v),
            None => self.iconst(types::I64, 0),
        };
        // In bounds, without wrapping: the first byte at most `span` below
        // the end of memory (when memory is larger than the span).
        let span = (group.hi - group.lo - 1) as i64;
        let first = self.b.ins().iadd_imm_s(base, group.lo as i64);
        let limit = self.b.ins().iadd_imm_s(self.mem_size, -1 - span);
        let above = self.b.ins().icmp(condcodes::IntCC::UnsignedGreaterThan, first, limit);
        let small = self.b.ins().icmp_imm_u(condcodes::IntCC::UnsignedLessThanOrEqual, self.mem_size, span);
        let outside = self.b.ins().bor(above, small);
        let leave = self.leave_if_shared(outside);
        let members = self.access_group.iter().enumerate().filter(|(_, m)| **m == Some(g));
        if members.map(|(i, _)| i).all(|i| self.host_checked(i)) {
            return;
        }
        // Both pages allow every access (and hold no translated code, for
        // a group that stores): no bit of `need` missing, no code bit.
        let last = self.b.ins().iadd_imm_s(first, span);
        let flags = MemFlagsData::new().with_notrap();
        let mut page = |at: ir::Value| {
            let index = self.b.ins().ushr_imm_u(at, crate::machine::PAGE_SHIFT as i64);
            let p = self.b.ins().iadd(perms, index);
            self.b.ins().load(types::I8, flags, p, 0)
        };
        let (p0, p1) = (page(first), page(last));
        let both = self.b.ins().band(p0, p1);
        let need = if group.write { crate::machine::PERM_R | crate::machine::PERM_W } else { crate::machine::PERM_R };
        let mut bad = self.b.ins().band_imm_u(both, need as i64);
        bad = self.b.ins().bxor_imm_u(bad, need as i64);
        if group.write {
            let either = self.b.ins().bor(p0, p1);
            let code = self.b.ins().band_imm_u(either, crate::machine::PERM_CODE as i64);
            bad = self.b.ins().bor(bad, code);
        }
        self.fail_if(bad, leave);
    }

    /// Checks one access: traps unless it is in bounds and allowed; a store
    /// that may hit translated code goes on to `code_store_check`.
    pub(super) fn check_access(&mut self, addr: ir::Value, size: u32, write: bool) {
        // Memory is never smaller than an access (`GuestMemory` refuses
        // sizes below `MIN_MEMORY`), so one compare bounds it.
        let limit = self.b.ins().iadd_imm_s(self.mem_size, -(size as i64));
        let beyond = self.b.ins().icmp(condcodes::IntCC::UnsignedGreaterThan, addr, limit);
        // Both checks fault the same way, through one cold block.
        let fault = self.trap_if_shared(beyond, TrapCode::MemFault, Some(addr));
        let code = if self.host_checked(self.at) {
            // The host faults where the guest may not read, or write (`replay`).
            None
        } else if let Some(perms) = self.perms {
            // The first and last byte's pages must both allow the access.
            let need = if write { crate::machine::PERM_W } else { crate::machine::PERM_R };
            let (both, either) = self.map_bytes(perms, addr, size, crate::machine::PAGE_SHIFT);
            let allowed = self.b.ins().band_imm_u(both, need as i64);
            let denied = self.b.ins().icmp_imm_s(condcodes::IntCC::Equal, allowed, 0);
            self.fail_if(denied, fault);
            write.then(|| self.b.ins().band_imm_u(either, crate::machine::PERM_CODE as i64))
        } else if write {
            Some(self.map_bytes(self.code_lines, addr, size, crate::machine::LINE_SHIFT).1)
        } else {
            None
        };
        if let Some(code) = code {
            self.code_store_check(code, addr, size);
        }
    }

    /// For a store that may hit translated code (`maybe` nonzero: its page
    /// holds some, or, without page permissions, its line does): when one of
    /// the lines it writes holds code, the block leaves before the store's
    /// guest instruction, the state as a trap there leaves it, for the
    /// interpreter to run the instruction and record the write. Compiled
    /// code thus never writes code itself, and its slow path makes no call,
    /// so the values of the block need not survive one (which took
    /// callee-saved registers, saved and restored by every block).
    pub(super) fn code_store_check(&mut self, maybe: ir::Value, addr: ir::Value, size: u32) {
        let (slow, next) = (self.b.create_block(), self.b.create_block());
        self.b.set_cold_block(slow);
        self.b.ins().brif(maybe, slow, &[], next, &[]);
        self.b.switch_to_block(slow);
        // With the host's protection mirrored, a page holding code is
        // read-only there: the store leaves whichever line it writes.
        if self.perms.is_some() && !self.links.host_perms {
            // The page holds code: the lines written?
            let (_, either) = self.map_bytes(self.code_lines, addr, size, crate::machine::LINE_SHIFT);
            let leave = self.b.create_block();
            self.b.set_cold_block(leave);
            self.b.ins().brif(either, leave, &[], next, &[]);
            self.b.switch_to_block(leave);
        }
        self.replay_or_exit_to_interpreter();
        self.b.switch_to_block(next);
    }
}
