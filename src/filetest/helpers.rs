//! Helpers that filetests may declare, bound by name.

use crate::abi::{HelperCtx, Helpers};
use crate::visa::{Env, Helper, TrapCode, Type};

type HelperImpl = fn(HelperCtx<'_>, &[u128], &mut [u128]) -> Result<(), TrapCode>;

/// A known helper: name, arguments, results, pure, implementation.
type Known = (&'static str, &'static [Type], &'static [Type], bool, HelperImpl);

const KNOWN: &[Known] = &[
    ("add3", &[Type::I64, Type::I64, Type::I64], &[Type::I64], true, |_, a, r| {
        r[0] = (a[0] as u64).wrapping_add(a[1] as u64).wrapping_add(a[2] as u64) as u128;
        Ok(())
    }),
    ("divmod", &[Type::I64, Type::I64], &[Type::I64, Type::I64], false, |_, a, r| {
        if a[1] == 0 {
            return Err(TrapCode::DivByZero);
        }
        r[0] = a[0] / a[1];
        r[1] = a[0] % a[1];
        Ok(())
    }),
    ("poke", &[Type::I64, Type::I64], &[], false, |ctx, a, _| ctx.mem.write(a[0] as u64, &(a[1] as u64).to_le_bytes())),
];

/// The known helpers, in the order of an Env's declarations.
pub struct TestHelpers {
    bound: Vec<HelperImpl>,
}

impl TestHelpers {
    /// Binds every helper the Env declares; each must be a known one with
    /// the same signature.
    pub fn bind(env: &Env) -> Result<TestHelpers, String> {
        let bound = env
            .helpers
            .iter()
            .map(|decl| {
                let known = KNOWN.iter().find(|k| k.0 == decl.name).ok_or_else(|| {
                    let names: Vec<_> = KNOWN.iter().map(|k| k.0).collect();
                    format!("no test helper @{} (known: {})", decl.name, names.join(", "))
                })?;
                if known.1 != decl.args.as_slice() || known.2 != decl.results.as_slice() || known.3 != decl.pure {
                    return Err(format!("@{} is declared with a different signature", decl.name));
                }
                Ok(known.4)
            })
            .collect::<Result<_, String>>()?;
        Ok(TestHelpers { bound })
    }
}

impl Helpers for TestHelpers {
    fn call(
        &mut self,
        helper: Helper,
        ctx: HelperCtx<'_>,
        args: &[u128],
        results: &mut [u128],
    ) -> Result<(), TrapCode> {
        (self.bound[helper.0 as usize])(ctx, args, results)
    }
}
