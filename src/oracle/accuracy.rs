//! How far visa's x87 transcendental results are from the host's: random
//! arguments (`setup_x87`'s ranges) run natively and under visa with FCW
//! 0x37F (64-bit precision, round to nearest, all exceptions masked), and
//! the distance of every ST register counted in units in the last place of
//! the 80-bit format.

use iced_x86::Mnemonic;

use super::cases::{self, Rng};
use super::native::{End, FxImage, Native};
use super::{Tier, run_visa, ulps_apart};

/// What a run of one instruction found.
#[derive(Clone, Debug, Default)]
pub struct Accuracy {
    /// Cases that completed both natively and under visa.
    pub cases: usize,
    /// Cases whose worst ST register was 0, 1, 2 and more ulps away.
    pub histogram: [usize; 4],
    /// The largest distance, and the argument (ST0, ST1) that gave it.
    pub worst: u64,
    pub worst_input: (u128, u128),
}

fn st(img: &FxImage, i: usize) -> u128 {
    let mut b = [0u8; 16];
    b[..10].copy_from_slice(&img.0[32 + 16 * i..42 + 16 * i]);
    u128::from_le_bytes(b)
}

/// Measures `count` random cases of the instruction's one form.
pub fn transcendental(m: Mnemonic, count: usize, seed: u64) -> Accuracy {
    let code = cases::forms(&[m])[0];
    let mut rng = Rng::new(seed ^ code as u64);
    let mut out = Accuracy::default();
    for _ in 0..count * 4 {
        if out.cases == count {
            break;
        }
        let Some(mut case) = cases::case_for(code, &mut rng) else { continue };
        case.regs.fx.0[0..2].copy_from_slice(&0x37fu16.to_le_bytes());
        let (native, _, end) = {
            let mut guard = Native::lock();
            guard.as_mut().expect("executor mapped").run(&case.code, &case.data, &case.regs)
        };
        let Ok((cpu, _, stop)) = run_visa(&case, Tier::Interp) else { continue };
        if end != End::Completed || stop != super::Stop::Completed {
            continue;
        }
        let visa = FxImage(cpu.fxsave_image());
        let worst = (0..8).map(|i| ulps_apart(st(&native.fx, i), st(&visa, i))).max().unwrap_or(0);
        out.cases += 1;
        out.histogram[worst.min(3) as usize] += 1;
        if worst > out.worst || out.cases == 1 {
            out.worst = worst;
            out.worst_input = (st(&case.regs.fx, 0), st(&case.regs.fx, 1));
        }
    }
    out
}
